// The persistent pinned worker pool (pthreads engine) and the team dispatch shared with the
// OpenMP engine.
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>

#include "core/error_impl.h"
#include "pool_impl.h"
#include "topo_impl.h"

struct dpt_pool;

struct worker {
    struct dpt_pool *pool;
    size_t ith;
    int pu;
    pthread_t thread;
};

struct dpt_pool {
    size_t nth;
    const struct dpt_topo *topo;
    struct worker *workers; // nth entries; workers[0] is the caller and has no thread
    size_t n_started;
    struct dpt_barrier barrier;
    // The current job: written by worker 0 before the start barrier, read after it.
    dpt_job_fn fn;
    void *arg;
    int quit; // set by worker 0 before the start barrier; read after it
    atomic_size_t bind_failures;
    // The caller's binding before it became worker 0, given back at destroy.
    struct dpt_topo_binding *caller_binding;
};

// The calling thread's worker index in the pool it works for (0: the caller of dpt_pool_run),
// for two-level barriers.
static _Thread_local unsigned worker_index;

static void *worker_main(void *p)
{
    struct worker *w = p;
    struct dpt_pool *pool = w->pool;
    worker_index = (unsigned)w->ith;
    if (w->pu >= 0 && dpt_topo_bind_self(pool->topo, w->pu) != DPT_OK)
        // relaxed: a statistic read after a later barrier.
        atomic_fetch_add_explicit(&pool->bind_failures, 1, memory_order_relaxed);
    for (;;) {
        dpt_barrier_wait_as(&pool->barrier, worker_index); // start of a job (or quit)
        if (pool->quit)
            break;
        pool->fn(pool->arg, w->ith, pool->nth);
        dpt_barrier_wait_as(&pool->barrier, worker_index); // end of the job
    }
    return NULL;
}

enum dpt_status dpt_pool_create(size_t nth, const struct dpt_topo *topo, const int *pu,
                                unsigned spin_limit, size_t n_groups, const unsigned *group_of,
                                struct dpt_pool **out)
{
    enum dpt_status st = DPT_OK;
    *out = NULL;
    if (nth == 0 || nth > 4096)
        return dpt_error(DPT_ERR_INVALID, "threads: %zu is not in 1..4096", nth);
    struct dpt_pool *pool = dpt_calloc(1, sizeof *pool);
    if (!pool)
        return dpt_error(DPT_ERR_NOMEM, "out of memory allocating a pool");
    pool->nth = nth;
    pool->topo = topo;
    atomic_init(&pool->bind_failures, 0);
    pool->workers = dpt_calloc(nth, sizeof *pool->workers);
    if (!pool->workers) {
        dpt_free(pool);
        return dpt_error(DPT_ERR_NOMEM, "out of memory allocating %zu workers", nth);
    }
    if (dpt_barrier_init(&pool->barrier, (unsigned)nth, spin_limit,
                         spin_limit <= DPT_BARRIER_SPIN_OVERSUBSCRIBED) != 0) {
        dpt_free(pool->workers);
        dpt_free(pool);
        return dpt_error(DPT_ERR_SYSTEM, "cannot create the pool's barrier");
    }
    // Two levels before any thread waits on the barrier (the threads wait for jobs on it).
    if (n_groups > 1 &&
        dpt_barrier_set_groups(&pool->barrier, (unsigned)nth, (unsigned)n_groups, group_of) != 0) {
        dpt_barrier_cleanup(&pool->barrier);
        dpt_free(pool->workers);
        dpt_free(pool);
        return dpt_error(DPT_ERR_NOMEM, "out of memory for the barrier's %zu groups", n_groups);
    }
    for (size_t t = 0; t < nth; t++) {
        pool->workers[t].pool = pool;
        pool->workers[t].ith = t;
        pool->workers[t].pu = pu ? pu[t] : -1;
    }
    if (pool->workers[0].pu >= 0) {
        // The caller is worker 0: remember its binding so destroy can give it back (a failure
        // to save only means we cannot restore; not fatal).
        if (dpt_topo_binding_save(topo, &pool->caller_binding) != DPT_OK)
            pool->caller_binding = NULL;
        if (dpt_topo_bind_self(topo, pool->workers[0].pu) != DPT_OK)
            atomic_fetch_add_explicit(&pool->bind_failures, 1, memory_order_relaxed);
    }
    for (size_t t = 1; t < nth; t++) {
        if (pthread_create(&pool->workers[t].thread, NULL, worker_main, &pool->workers[t]) != 0) {
            st = dpt_error(DPT_ERR_SYSTEM, "cannot start worker thread %zu of %zu", t, nth);
            break;
        }
        pool->n_started++;
    }
    if (st != DPT_OK) {
        dpt_pool_destroy(pool);
        return st;
    }
    *out = pool;
    return DPT_OK;
}

void dpt_pool_destroy(struct dpt_pool *pool)
{
    if (!pool)
        return;
    if (pool->n_started + 1 == pool->nth) {
        pool->quit = 1;
        dpt_barrier_wait(&pool->barrier);
        for (size_t t = 1; t < pool->nth; t++)
            pthread_join(pool->workers[t].thread, NULL);
    } else if (pool->n_started > 0) {
        // Partial start: stand in for the threads that never started so the started ones get
        // their quit round.
        pool->quit = 1;
        for (size_t t = pool->n_started + 1; t < pool->nth; t++)
            dpt_barrier_arrive(&pool->barrier, (unsigned)t);
        dpt_barrier_wait(&pool->barrier);
        for (size_t t = 1; t <= pool->n_started; t++)
            pthread_join(pool->workers[t].thread, NULL);
    }
    if (pool->caller_binding) {
        dpt_topo_binding_restore(pool->topo, pool->caller_binding);
        dpt_topo_binding_destroy(pool->caller_binding);
    }
    dpt_barrier_cleanup(&pool->barrier);
    dpt_free(pool->workers);
    dpt_free(pool);
}

void dpt_pool_run(struct dpt_pool *pool, dpt_job_fn fn, void *arg)
{
    pool->fn = fn;
    pool->arg = arg;
    const unsigned saved = worker_index; // the caller may be a worker of another pool
    worker_index = 0;
    dpt_barrier_wait_as(&pool->barrier, 0);
    fn(arg, 0, pool->nth);
    dpt_barrier_wait_as(&pool->barrier, 0);
    worker_index = saved;
}

void dpt_pool_barrier(struct dpt_pool *pool)
{
    dpt_barrier_wait_as(&pool->barrier, worker_index);
}

size_t dpt_pool_bind_failures(const struct dpt_pool *pool)
{
    return atomic_load_explicit(&pool->bind_failures, memory_order_relaxed);
}

// ---- team ----

void dpt_team_run(struct dpt_team *team, dpt_job_fn fn, void *arg)
{
    if (team->engine == DPT_ENGINE_OPENMP) {
        const int nth = (int)team->nth;
#pragma omp parallel num_threads(nth)
        fn(arg, (size_t)omp_get_thread_num(), (size_t)omp_get_num_threads());
    } else {
        dpt_pool_run(team->pool, fn, arg);
    }
}

void dpt_team_barrier(struct dpt_team *team)
{
    if (team->engine == DPT_ENGINE_OPENMP) {
#pragma omp barrier
    } else {
        dpt_pool_barrier(team->pool);
    }
}
