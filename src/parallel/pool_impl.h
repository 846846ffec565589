// Private: the persistent worker pool and the team abstraction the trainer runs on.
//
// A job is one function run by all nth workers at once (SPMD, as in ggml): the calling thread is
// worker 0, pool threads are workers 1..nth-1. Inside a job, workers synchronise with
// dpt_team_barrier. The pthreads engine uses our barrier and hwloc-pinned threads; the OpenMP
// engine runs the same job inside one `omp parallel` region and uses `omp barrier`.
#ifndef DPT_POOL_IMPL_H
#define DPT_POOL_IMPL_H

#include <stdatomic.h>
#include <stddef.h>

#include "barrier_impl.h"
#include "dptrain/parallel.h"

typedef void (*dpt_job_fn)(void *arg, size_t ith, size_t nth);

struct dpt_pool;

// Starts nth - 1 threads; worker t binds itself to pu[t] (-1: unbound) through topo. Binding
// failures are counted, not fatal. spin_limit configures the barrier; with n_groups > 1 it is
// two-level, worker t in group group_of[t] (borrowed for the pool's lifetime; barrier_impl.h).
enum dpt_status dpt_pool_create(size_t nth, const struct dpt_topo *topo, const int *pu,
                                unsigned spin_limit, size_t n_groups, const unsigned *group_of,
                                struct dpt_pool **out);
// Joins the threads. NULL is a no-op. Must not be called from inside a job.
void dpt_pool_destroy(struct dpt_pool *pool);
// Runs fn on all workers (the caller is worker 0) and returns when every worker has finished.
void dpt_pool_run(struct dpt_pool *pool, dpt_job_fn fn, void *arg);
// The barrier of the pool's workers; call from inside a job only.
void dpt_pool_barrier(struct dpt_pool *pool);
// Number of workers whose binding failed (read after the first run).
size_t dpt_pool_bind_failures(const struct dpt_pool *pool);

// A team: whichever engine runs the job. Barrier dispatches on the engine.
struct dpt_team {
    enum dpt_engine engine;
    struct dpt_pool *pool; // pthreads engine only
    size_t nth;
};

void dpt_team_run(struct dpt_team *team, dpt_job_fn fn, void *arg);
void dpt_team_barrier(struct dpt_team *team);

#endif
