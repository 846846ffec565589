// Private: the one barrier of dptrain. Spins with a pause, then blocks on a condition variable
// when spinning runs long or threads outnumber cores (spin_limit 0 blocks at once).
#ifndef DPT_BARRIER_IMPL_H
#define DPT_BARRIER_IMPL_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>

struct dpt_barrier_group {
    alignas(64) atomic_uint arrived;
    unsigned n; // threads in the group
};

struct dpt_barrier {
    // Arrivals in the current round; reset by the last arriver before it releases the others.
    alignas(64) atomic_uint arrived;
    // Round number: waiters spin (or sleep) until it changes. Its own cache line so spinning
    // readers do not fight the arrival RMWs.
    alignas(64) atomic_uint generation;
    // Threads blocked (or about to block) on cv; the releaser takes the mutex only when nonzero.
    alignas(64) atomic_uint sleepers;
    alignas(64) unsigned n; // threads, or groups when grouped
    // Two levels (dpt_barrier_set_groups): each group's arrivals are counted on its own line;
    // the last arriver of a group arrives for it at the top level (`arrived`, n = groups).
    struct dpt_barrier_group *groups; // NULL: flat
    const unsigned *group_of;         // per thread
    unsigned n_groups;
    unsigned spin_limit;
    int yield; // spin with sched_yield instead of pause
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

// Prepares a barrier for n threads; 0 on success, an errno value on failure.
int dpt_barrier_init(struct dpt_barrier *b, unsigned n, unsigned spin_limit, int yield);
void dpt_barrier_cleanup(struct dpt_barrier *b);

// Blocks until all n threads have called it. Everything a thread wrote before the call is
// visible to every thread after it returns.
void dpt_barrier_wait(struct dpt_barrier *b);

// Makes the barrier two-level: thread t belongs to group group_of[t] (0..n_groups-1, every group
// nonempty; the array is borrowed for the barrier's lifetime). Call when no thread is waiting;
// from then on every thread waits with dpt_barrier_wait_as. 0 on success, ENOMEM.
int dpt_barrier_set_groups(struct dpt_barrier *b, unsigned n_threads, unsigned n_groups,
                           const unsigned *group_of);
// dpt_barrier_wait for thread t (its group's counter first on a two-level barrier).
void dpt_barrier_wait_as(struct dpt_barrier *b, unsigned t);

// Arrives without waiting, standing in for thread t, which does not exist; the caller must arrive
// (with dpt_barrier_wait) after all its stand-ins, so a stand-in is never the last arriver.
void dpt_barrier_arrive(struct dpt_barrier *b, unsigned t);

// Spin budget before blocking: short but enough for a balanced step (each pause is ~36 ns on the
// development machine, so 2000 spins ~ 70 us) when every thread has its own core; yielding when
// oversubscribed. Measured on 2 cores, 10^5 rounds (tests/parallel/stress_barrier): T=8 blocking
// at once ~60 us/round, yielding 64 times first ~8-20 us/round; T=2 spinning ~0.15 us/round. A
// longer budget wastes the core when the partner thread was descheduled by another process.
#define DPT_BARRIER_SPIN_DEFAULT        2000u
#define DPT_BARRIER_SPIN_OVERSUBSCRIBED 64u

// A flat round costs a cache-line transfer per arrival on the one counter (they queue for it when
// the workers arrive together, as in a balanced step) and one for the release: T + 1. Where more
// than DPT_BARRIER_FLAT_MAX workers share one cache domain (one L3 of 16-60 cores on a mesh), the
// trainer groups them in runs of dpt_barrier_run(T) = ceil(sqrt(T)) neighbours, a two-level
// combining tree: the groups count their arrivals in parallel, so a round is run + groups + 1
// transfers (16 threads: 4 + 4 + 1 = 9 instead of 17; 64: 17 instead of 65), at the price of one
// more transfer for a lone last arriver.
// DPT_BARRIER_RUNS=0 in the environment keeps such a domain flat (to measure one against the
// other); dpt_barrier_run then returns n.
#define DPT_BARRIER_FLAT_MAX 8u
size_t dpt_barrier_run(size_t n);

#endif
