// The spin-then-block barrier (an arrival counter plus a generation counter, as in ggml, with a
// condition-variable fallback so oversubscribed runs do not collapse).
//
// Memory ordering, written for weakly ordered CPUs (arm64) and not only x86's: every ordering the
// barrier relies on is an explicit acquire, release or seq_cst in the C11 model, none comes from
// x86's strong ordering. A thread's writes before the barrier reach the last arriver through the
// acq_rel increments of `arrived` (a release sequence), and every waiter through the last
// arriver's release store of `generation` and the waiter's acquire load of it; the reset of
// `arrived` is ordered before that store, so no thread of the next round can increment before the
// reset. With groups, each group's acq_rel counter carries its members' writes to its last
// arriver, which arrives at the top level for them after resetting the group's counter. The
// sleepers handshake puts a seq_cst fence between the write and the read on both
// sides (release-acquire alone would let each read pass the other side's write). It used seq_cst
// operations without fences, which is as correct in C11 and on arm64 hardware (STLR then LDAR are
// ordered), but qemu-user on an x86-64 host translates STLR;LDAR without a fence between them: the
// releaser's read of sleepers passed its write of the generation, a waiter went to sleep unseen
// and the barrier hung (under the arm64 preset: 2 of 19 runs of the resume tests). A fence is a DMB
// there, which qemu honours; on x86-64 it costs what the seq_cst store's XCHG did.
// ThreadSanitizer (preset tsan) checks the rest: it tracks C11 happens-before, so a missing
// acquire or release shows as a data race whatever the CPU. stress_barrier, stress_train and the
// parallel suite also run the arm64 build under qemu-user (preset arm64); on an x86-64 host the
// emulated CPU keeps the host's ordering, so that checks the arm64 code (LDAR/STLR, LDADDAL,
// DMB, YIELD), not arm64's weaker reorderings.
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "barrier_impl.h"
#include "core/error_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax(void)
{
    _mm_pause();
}
#elif defined(__aarch64__)
static inline void cpu_relax(void)
{
    __asm__ __volatile__("yield"); // the spin-wait hint (as in step_dynamic.c)
}
#else
static inline void cpu_relax(void) {}
#endif

int dpt_barrier_init(struct dpt_barrier *b, unsigned n, unsigned spin_limit, int yield)
{
    int rc;
    atomic_init(&b->arrived, 0);
    atomic_init(&b->generation, 0);
    atomic_init(&b->sleepers, 0);
    b->n = n;
    b->groups = NULL;
    b->group_of = NULL;
    b->n_groups = 0;
    b->spin_limit = spin_limit;
    b->yield = yield;
    rc = pthread_mutex_init(&b->mu, NULL);
    if (rc != 0)
        return rc;
    rc = pthread_cond_init(&b->cv, NULL);
    if (rc != 0)
        pthread_mutex_destroy(&b->mu);
    return rc;
}

void dpt_barrier_cleanup(struct dpt_barrier *b)
{
    dpt_free_aligned(b->groups);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
}

int dpt_barrier_set_groups(struct dpt_barrier *b, unsigned n_threads, unsigned n_groups,
                           const unsigned *group_of)
{
    struct dpt_barrier_group *g = dpt_alloc_aligned(n_groups * sizeof *g);
    if (!g)
        return ENOMEM;
    for (unsigned i = 0; i < n_groups; i++) {
        atomic_init(&g[i].arrived, 0);
        g[i].n = 0;
    }
    for (unsigned t = 0; t < n_threads; t++)
        g[group_of[t]].n++;
    dpt_free_aligned(b->groups);
    b->groups = g;
    b->group_of = group_of;
    b->n_groups = n_groups;
    b->n = n_groups;
    return 0;
}

void dpt_barrier_wait(struct dpt_barrier *b)
{
    dpt_barrier_wait_as(b, 0);
}

void dpt_barrier_wait_as(struct dpt_barrier *b, unsigned t)
{
    // Read the round before arriving: it cannot advance until this thread has arrived.
    const unsigned gen = atomic_load_explicit(&b->generation, memory_order_relaxed);
    int top = 1; // this thread arrives at the top level
    if (b->groups) {
        // The group's last arriver goes on to the top level for the whole group; the RMW chain
        // on the group's counter (acq_rel) carries every member's writes to it. The reset is
        // ordered before any next-round arrival, which needs the new generation first.
        struct dpt_barrier_group *g = &b->groups[b->group_of[t]];
        top = atomic_fetch_add_explicit(&g->arrived, 1, memory_order_acq_rel) == g->n - 1;
        if (top)
            atomic_store_explicit(&g->arrived, 0, memory_order_relaxed);
    } else if (b->n <= 1) {
        return;
    }
    // acq_rel: publishes this thread's writes to the last arriver and, through the release
    // sequence on `arrived`, lets the last arriver acquire everyone's writes.
    if (top && atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) == b->n - 1) {
        // Nobody can arrive for the next round before seeing the new generation, so the reset
        // is ordered before any later increment.
        atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
        // Release: waiters that see the new generation see every thread's writes. Then a
        // Dekker-style handshake with a waiter that increments sleepers and re-reads the
        // generation: store; seq_cst fence; load on both sides, so at least one of the two loads
        // sees the other side's write.
        atomic_store_explicit(&b->generation, gen + 1, memory_order_release);
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&b->sleepers, memory_order_relaxed) != 0) {
            pthread_mutex_lock(&b->mu);
            pthread_cond_broadcast(&b->cv);
            pthread_mutex_unlock(&b->mu);
        }
        return;
    }
    for (unsigned i = 0; i < b->spin_limit; i++) {
        // acquire: pairs with the releaser's store, making all pre-barrier writes visible.
        if (atomic_load_explicit(&b->generation, memory_order_acquire) != gen)
            return;
        if (b->yield)
            sched_yield(); // oversubscribed: let a thread that still works have the core
        else
            cpu_relax();
    }
    pthread_mutex_lock(&b->mu);
    // Increment, seq_cst fence, load (the other half of the handshake above): either the
    // releaser sees sleepers != 0 and broadcasts (it must take the mutex, so it cannot slip
    // between our check and our wait), or we see the new generation here and never sleep.
    atomic_fetch_add_explicit(&b->sleepers, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    while (atomic_load_explicit(&b->generation, memory_order_acquire) == gen)
        pthread_cond_wait(&b->cv, &b->mu);
    atomic_fetch_sub_explicit(&b->sleepers, 1, memory_order_relaxed);
    pthread_mutex_unlock(&b->mu);
}

size_t dpt_barrier_run(size_t n)
{
    if (n <= DPT_BARRIER_FLAT_MAX) // flat, as one run
        return n > 0 ? n : 1;
    const char *env = getenv("DPT_BARRIER_RUNS");
    if (env && strcmp(env, "0") == 0)
        return n;
    size_t c = 1;
    while (c * c < n)
        c++;
    return c;
}

void dpt_barrier_arrive(struct dpt_barrier *b, unsigned t)
{
    if (b->groups) {
        // The group's last arriver arrives at the top level for the group.
        struct dpt_barrier_group *g = &b->groups[b->group_of[t]];
        if (atomic_fetch_add_explicit(&g->arrived, 1, memory_order_acq_rel) != g->n - 1)
            return;
        atomic_store_explicit(&g->arrived, 0, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel);
}
