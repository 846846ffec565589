// The dynamic sliced step: sliced mode (see the top of trainer.c) with the work of each phase
// handed out as items instead of tied to threads, so that a thread another process has taken the
// core from does not hold the others up.
//
// The decomposition is exactly the barrier version's: logical worker t's shard of the batch in
// phase 1, its rows of every layer in phase 2. Each logical worker's work in a phase is one item.
// A thread first claims its own item (so on an idle machine every thread does what it did with
// barriers, with the same cache locality), then any item nobody has claimed yet. A phase ends when
// all its items are complete, counted in items, not in thread arrivals: a thread that was
// descheduled before it claimed anything holds nobody up, and when it comes back it finds its
// items done and catches up. The items are counted as the barrier counts arrivals: on one counter,
// or in the barrier's groups (complete()), so a phase's end costs what a barrier round does. Which
// thread runs an item never changes what the item computes, so the results are bitwise those of the
// barrier version with the same thread count.
//
// A thread that another process keeps taking its core from (5 ms within 20 ms, or a quarter of a
// longer window, by its CPU time, CLOCK_THREAD_CPUTIME_ID, against the wall time: it was
// runnable all along, since it never blocks, but not running) stands down for a while: it claims
// nothing and sleeps, so that it is never descheduled in the middle of an item the others then
// wait for, and comes back after a back-off that grows while the preemption goes on (at least one
// thread always stays). While it stands down, the thread that claims the item next to its own
// claims its item too and runs both as one piece of work: in phase 1 (run_shards) each product
// once over both shards' rows, so the weights are packed once per product as in a run with fewer
// threads; in phase 2 (run_rows) each layer's gradient rows of both in one product, so the batch's
// inputs and activations are packed once. Products are merged only where the kernels give every
// row the same bits either way, and the loss is still summed shard by shard, so the results stay
// bitwise those of the barrier version.
//
// The phases of one step, numbered from the start of the job (seq):
//   prologue   split_first, once per job: every logical worker's rows of layer 1, first step
//   phase 1    shard t: forward, loss and deltas
//   phase 2    rows t: gradient (fused: the update); when the schedule needs no norm, their
//              update; split_first: the next step's layer 1 for rows t
//   phase 3    schedules that need the norm: rows t updated with the global norm; split_first:
//              as above
// The thread completing a step's last item does the step's bookkeeping (worker 0's part in the
// barrier version) and publishes the step; the next step starts when it is published.
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

#include "core/gemm_impl.h"
#include "core/sliced_impl.h"
#include "trainer_impl.h"

// How a thread judges its share of its core: every CHECK_S at least (a check is a system call) it
// compares the time it spent not running since its window began with OFF_CPU_MAX of the window,
// counted as WINDOW_S while the window is shorter, and begins a new window once WINDOW_S has
// passed. So it stands down after 5 ms off its core within any 20 ms, or a quarter of a longer
// window: a core shared with a busy process (about half: one of its time slices of 6-12 ms under
// Linux's CFS, two or three of EEVDF's 1.5-3 ms) is seen at once, while one short interruption (a
// kernel thread, a hypervisor taking the virtual CPU for a millisecond or two) is not. Judged
// over 2 ms alone, as at first, a 1 ms interruption read as half and stood idle threads down (M
// at 2 threads on an idle 2-core VM: 2-5 stand-downs an epoch; docs/benchmarks.md).
#define CHECK_S     0.002
#define WINDOW_S    0.02
#define OFF_CPU_MAX 0.25
// Steps between two forced stand-downs (the test hook).
#define FORCED_EVERY 8
// The first stand-down, the factor of each next one while the preemption goes on, and the
// longest. A stand-down costs at most its length of one thread's work where the core was free
// after all; coming back costs one wait for an item the thread may be preempted in.
#define BACKOFF_MIN_S  0.05
#define BACKOFF_GROWTH 4
#define BACKOFF_MAX_S  1.0
// The most items one thread runs as one piece of work (run_shards, run_rows).
#define MERGE_MAX 16

int dpt_dyn_off_core(double span_s, double cpu_s)
{
    return span_s - cpu_s > OFF_CPU_MAX * (span_s > WINDOW_S ? span_s : WINDOW_S);
}

// Spins with a pause, then yields, until (*v >> shift) >= want (acquire).
static void wait_at_least(atomic_ulong *v, int shift, unsigned long want, int oversubscribed)
{
    for (unsigned spins = 0; atomic_load_explicit(v, memory_order_acquire) >> shift < want;
         spins++) {
        if (oversubscribed || spins > 2000)
            sched_yield();
        else
            cpu_relax();
    }
}

// This thread's CPU time in seconds (0 where unknown: then it never stands down).
static double thread_cpu_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0.0;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// What one step's items need to know: the step, and its batch workspace and parity.
struct step {
    struct dpt_step st;
    size_t parity;
    struct dpt_workspace *ws;
};

static void step_init(const struct dpt_trainer *tr, size_t b, struct step *s)
{
    dpt_step_init(tr, b, &s->st);
    s->parity = b & 1;
    s->ws = dpt_step_workspace(tr, b);
}

enum phase { PROLOGUE, SHARD, ROWS, UPDATE };

// Runs logical worker t's item of a phase; for ROWS, the items of workers t .. t1 - 1 (run_rows),
// else t1 = t + 1.
static void run_item(struct dpt_trainer *tr, enum phase ph, size_t t, size_t t1, struct step *s,
                     struct dpt_timing *tm)
{
    const size_t T = tr->nth, B = tr->p.batch, N = tr->epoch_samples;
    const int needs_norm = (tr->sched->flags & DPT_SCHEDULE_NEEDS_NORM) && !tr->fused;
    const int last = ph == UPDATE || (ph == ROWS && !needs_norm);
    double t0 = dpt_trainer_now();
    switch (ph) {
    case PROLOGUE:
        dpt_trainer_first_layer(tr, t, s->parity, tr->perm + s->st.bs, s->st.m);
        tm->compute_s += dpt_trainer_now() - t0;
        return;
    case SHARD: {
        struct dpt_block_stats acc;
        dpt_trainer_shard_deltas(tr, s->ws, tr->split_first ? 2 : 1, tr->perm, s->st.bs,
                                 s->st.bs + dpt_split(s->st.m, t, T),
                                 s->st.bs + dpt_split(s->st.m, t + 1, T), s->st.scale, &acc);
        tr->slots[t].loss = acc.loss_sum;
        tr->slots[t].correct = acc.correct;
        tm->compute_s += dpt_trainer_now() - t0;
        return;
    }
    case ROWS: {
        // As the barrier version (with split_first every worker asks for the same rows).
        for (size_t u = t; u < (tr->split_first ? t + 1 : t1); u++)
            dpt_trainer_prefetch_inputs(tr, s->st.b, s->st.bs, u);
        // Every worker's copy of the batch's inputs (or row pointers) holds the same rows.
        const float *xb = tr->split_first && !tr->xrows ? tr->xbuf[2 * t + s->parity] : NULL;
        const float *const *xr = tr->xrows ? tr->xrows + (2 * t + s->parity) * B : NULL;
        dpt_trainer_sliced_grad(tr, s->ws, xb, xr, t, t1, &s->st.ctx, s->st.m, tm);
        t0 = dpt_trainer_now();
        for (size_t u = t; u < t1; u++) {
            if (needs_norm)
                tr->slots[u].sq = dpt_trainer_sliced_sq(tr, u);
            else if (!tr->fused)
                dpt_trainer_sliced_update(tr, u, &s->st.ctx);
        }
        tm->update_s += dpt_trainer_now() - t0;
        break;
    }
    case UPDATE: {
        double total = 0.0;
        for (size_t u = 0; u < T; u++) // fixed order: the same sum whoever runs the item
            total += tr->slots[u].sq;
        struct dpt_step_ctx ctx = s->st.ctx;
        ctx.grad_sq_norm = total;
        dpt_trainer_sliced_update(tr, t, &ctx);
        tm->update_s += dpt_trainer_now() - t0;
        break;
    }
    }
    if (last && tr->split_first && s->st.b + 1 < tr->n_batches) {
        // The next step's layer 1 for these workers' rows: only those rows of W_1, just updated
        // by this item.
        const double tn0 = dpt_trainer_now();
        const size_t nbs = s->st.bs + B, nm = N - nbs < B ? N - nbs : B;
        for (size_t u = t; u < t1; u++)
            dpt_trainer_first_layer(tr, u, (s->st.b + 1) & 1, tr->perm + nbs, nm);
        tm->compute_s += dpt_trainer_now() - tn0;
    }
}

// The step's bookkeeping, by the thread that completed its last item: the barrier version's
// worker 0 part. Publishes the step (release), after which every thread may start the next one.
static void finish_step(struct dpt_trainer *tr, const struct step *s, unsigned long done_steps)
{
    struct dpt_dyn *d = tr->dyn;
    dpt_trainer_step_loss(tr, &tr->x_loss, &tr->x_correct);
    tr->x_req = dpt_trainer_stop_flags(tr, s->st.b, &tr->x_time);
    tr->epoch_loss += tr->x_loss;
    tr->epoch_correct += (size_t)tr->x_correct;
    tr->epoch_seen += s->st.m;
    tr->diverged = !isfinite(tr->x_loss);
    tr->stop_requested = tr->x_req;
    tr->stop_now = tr->x_req || tr->x_time;
    if (tr->diverged) {
        tr->job_status = DPT_ERR_DIVERGED;
        tr->diverged_step = s->st.b + 1; // 1-based within the epoch
    }
    const int end = tr->diverged || tr->stop_now || s->st.b + 1 >= tr->n_batches;
    if (end)
        tr->steps_done = done_steps;
    // Steps done and the end flag in one word, so that no thread sees one without the other.
    atomic_store_explicit(&d->steps, done_steps << 1 | (unsigned long)end, memory_order_release);
}

// Claims item u of phase seq for the calling thread: 1 when it was not claimed yet.
static int claim(struct dpt_dyn *d, size_t u, unsigned long seq)
{
    unsigned long cur = atomic_load_explicit(&d->claim[u].seq, memory_order_relaxed);
    return cur <= seq &&
           atomic_compare_exchange_strong_explicit(&d->claim[u].seq, &cur, seq + 1,
                                                   memory_order_relaxed, memory_order_relaxed);
}

// With item t of phase seq claimed, claims the items on either side whose threads stand down
// (DPT_MERGE_SHARDS=0: none), as long as the items [a, b) claimed, at most MERGE_MAX, stay within
// `rows` rows of the batch in phase 1 (rows = 0: any number): the items [*a, *b) to run as one,
// the items added to *count.
static void claim_away(struct dpt_trainer *tr, size_t t, unsigned long seq, const struct step *s,
                       size_t rows, atomic_ulong *count, size_t *pa, size_t *pb)
{
    struct dpt_dyn *d = tr->dyn;
    const size_t T = tr->nth, m = s->st.m;
#define FITS(a, b) (rows == 0 || dpt_split(m, (b), T) - dpt_split(m, (a), T) <= rows)
    size_t a = t, b = t + 1;
    if (d->merge && FITS(a, b)) {
        while (b < T && b - a < MERGE_MAX &&
               atomic_load_explicit(&d->away[b].seq, memory_order_relaxed) && FITS(a, b + 1) &&
               claim(d, b, seq))
            b++;
        while (a > 0 && b - a < MERGE_MAX &&
               atomic_load_explicit(&d->away[a - 1].seq, memory_order_relaxed) && FITS(a - 1, b) &&
               claim(d, a - 1, seq))
            a--;
    }
#undef FITS
    *pa = a;
    *pb = b;
    if (b - a > 1)
        atomic_fetch_add_explicit(count, b - a - 1, memory_order_relaxed);
}

// Phase 1 with item t claimed: also claims the shards next to it whose threads stand down (as
// long as they are one block of the micro-batch each and all of them together no more than one),
// and runs them as one piece of work: each product over all their rows once, where the kernels
// give the same rows either way (dpt_net_deltas_pieces), so the weights are packed once instead
// of once per shard. The results are bitwise those of the items run one by one. The items run:
// [*pa, *pb).
static void run_shards(struct dpt_trainer *tr, size_t t, unsigned long seq, struct step *s,
                       struct dpt_timing *tm, size_t *pa, size_t *pb)
{
    const size_t T = tr->nth, m = s->st.m;
    size_t a, b; // items [a, b)
    claim_away(tr, t, seq, s, tr->mb, &tr->dyn->merged, &a, &b);
    *pa = a;
    *pb = b;
    if (b - a == 1) {
        run_item(tr, SHARD, t, t + 1, s, tm);
        return;
    }
    const double t0 = dpt_trainer_now();
    size_t cut[MERGE_MAX + 1];
    struct dpt_block_stats st[MERGE_MAX];
    const size_t r0 = dpt_split(m, a, T);
    for (size_t u = a; u <= b; u++)
        cut[u - a] = dpt_split(m, u, T) - r0;
    const struct dpt_targets tg = dpt_dataset_targets_view(tr->ds);
    dpt_net_deltas_pieces(tr->net, s->ws, tr->split_first ? 2 : 1, dpt_dataset_x(tr->ds),
                          tr->perm + s->st.bs + r0, r0, cut, b - a, &tg, s->st.scale, st);
    for (size_t u = a; u < b; u++) {
        tr->slots[u].loss = st[u - a].loss_sum;
        tr->slots[u].correct = st[u - a].correct;
    }
    tm->compute_s += dpt_trainer_now() - t0;
}

// Phase 2 with item t claimed: also claims the items next to it whose threads stand down and
// runs them as one piece of work: each layer's gradient rows of all of them in one product where
// the kernels give every row the same bits either way (dpt_trainer_sliced_grad), so the batch's
// inputs and activations are packed once instead of once per item. The items run: [*pa, *pb).
static void run_rows(struct dpt_trainer *tr, size_t t, unsigned long seq, struct step *s,
                     struct dpt_timing *tm, size_t *pa, size_t *pb)
{
    claim_away(tr, t, seq, s, 0, &tr->dyn->merged_rows, pa, pb);
    run_item(tr, ROWS, *pa, *pb, s, tm);
}

// Counts items [a, b) of phase seq as complete and returns the value it brought d->done to (0
// where it did not add to it). Where the barrier is flat, on d->done itself, in items: a phase's
// T items queue for one cache line, T + 1 line transfers with the waiters' read. With the
// barrier's groups (its runs of neighbours past 8 workers, or the L3s, NUMA nodes or packages the
// workers span: tr->group_of), each item on its group's counter, and the item that completes its
// group's share of the phase adds 1 to d->done: the groups count at once, so a phase costs what
// a round of the barrier does (run + groups + 1 transfers; 9 instead of 17 at 16 threads). The
// counters grow over the job ((seq + 1) times a group's items when its phase seq is complete):
// no thread starts a phase before the one before it is complete, so a counter never holds two
// phases' counts. The acq_rel chain (each item's add, its group's, the top's) carries every
// item's results to whoever sees the phase complete, as in the barrier.
static unsigned long complete(struct dpt_trainer *tr, size_t a, size_t b, unsigned long seq)
{
    struct dpt_dyn *d = tr->dyn;
    if (tr->n_groups <= 1)
        return atomic_fetch_add_explicit(&d->done, b - a, memory_order_acq_rel) + (b - a);
    unsigned long n = 0;
    for (size_t u = a; u < b;) { // a merged run may cross groups: each group's part at once
        const unsigned g = tr->group_of[u];
        size_t v = u + 1;
        while (v < b && tr->group_of[v] == g)
            v++;
        const unsigned long want = (seq + 1) * d->gsize[g];
        if (atomic_fetch_add_explicit(&d->gdone[g].seq, v - u, memory_order_acq_rel) + (v - u) ==
            want)
            n = atomic_fetch_add_explicit(&d->done, 1, memory_order_acq_rel) + 1;
        u = v;
    }
    return n;
}

// Claims and runs the items of phase seq, own item first; then waits until all are complete.
// The thread completing the step's last item (last_of_step) finishes the step. Returns 1 when
// this thread finished the step.
static int run_phase(struct dpt_trainer *tr, size_t ith, enum phase ph, unsigned long seq,
                     struct step *s, int last_of_step, unsigned long done_steps,
                     struct dpt_timing *tm, int oversubscribed)
{
    struct dpt_dyn *d = tr->dyn;
    const size_t T = tr->nth;
    const unsigned long target = (seq + 1) * (tr->n_groups > 1 ? tr->n_groups : T);
    int finished = 0;
    for (size_t k = 0; k < T; k++) {
        const size_t t = (ith + k) % T;
        if (!claim(d, t, seq))
            continue;
        size_t a = t, b = t + 1; // the items run
        if (ph == SHARD)
            run_shards(tr, t, seq, s, tm, &a, &b);
        else if (ph == ROWS)
            run_rows(tr, t, seq, s, tm, &a, &b);
        else
            run_item(tr, ph, t, t + 1, s, tm);
        if (complete(tr, a, b, seq) == target) {
            // The phase's last item: nothing is left to claim, so the thread goes on without
            // reading the other items' claims (the other threads wait for this one).
            if (last_of_step) {
                finish_step(tr, s, done_steps);
                finished = 1;
            }
            break;
        }
    }
    const double w0 = dpt_trainer_now();
    if (last_of_step)
        wait_at_least(&d->steps, 1, done_steps, oversubscribed);
    else
        wait_at_least(&d->done, 0, target, oversubscribed);
    tm->wait_s += dpt_trainer_now() - w0;
    return finished;
}

static void dynamic_reset(struct dpt_trainer *tr)
{
    struct dpt_dyn *d = tr->dyn;
    atomic_store_explicit(&d->done, 0, memory_order_relaxed);
    for (size_t g = 0; g < tr->nth; g++) {
        atomic_store_explicit(&d->gdone[g].seq, 0, memory_order_relaxed);
        d->gsize[g] = 0;
    }
    for (size_t t = 0; tr->n_groups > 1 && t < tr->nth; t++)
        d->gsize[tr->group_of[t]]++;
    atomic_store_explicit(&d->steps, 0, memory_order_relaxed);
    atomic_store_explicit(&d->active, (unsigned)tr->nth, memory_order_relaxed);
    for (size_t t = 0; t < tr->nth; t++) {
        atomic_store_explicit(&d->claim[t].seq, 0, memory_order_relaxed);
        atomic_store_explicit(&d->away[t].seq, 0, memory_order_relaxed);
    }
    tr->steps_done = 0;
    // Test hook (tests/parallel/stress_train.c): DPT_TEST_STAND_DOWN=1 makes the last thread
    // stand down at every check, for 0.5 ms, as if it were preempted, and sit out the first
    // 0.5 ms of every job, so the stand-down, late-start and rejoin paths run under the
    // sanitizers and their results can be compared.
    const char *force = getenv("DPT_TEST_STAND_DOWN");
    d->force_stand_down = force && strcmp(force, "1") == 0;
    // DPT_MERGE_SHARDS=0 runs every phase-1 item on its own (benchmarks of run_shards).
    const char *merge = getenv("DPT_MERGE_SHARDS");
    d->merge = !(merge && strcmp(merge, "0") == 0);
}

// A stood-down thread: sleeps until its back-off ends or the job does. Returns 0 when the job
// ended meanwhile.
static int stand_down(struct dpt_trainer *tr, double until, struct dpt_timing *tm)
{
    struct dpt_dyn *d = tr->dyn;
    const double t0 = dpt_trainer_now();
    const struct timespec nap = {0, 1000000}; // 1 ms
    int alive = 1;
    for (;;) {
        if (atomic_load_explicit(&d->steps, memory_order_acquire) & 1) { // the job has ended
            alive = 0;
            break;
        }
        if (dpt_trainer_now() >= until)
            break;
        nanosleep(&nap, NULL);
    }
    tm->wait_s += dpt_trainer_now() - t0;
    return alive;
}

// Stands the calling thread down until `until` (dpt_trainer_now's clock) or the job's end, unless
// it is the last thread taking items (one always stays). Returns 0 when it did not stand down, 1
// when it is back and the job goes on, -1 when the job ended meanwhile.
static int sit_out(struct dpt_trainer *tr, size_t ith, double until, struct dpt_timing *tm)
{
    struct dpt_dyn *d = tr->dyn;
    unsigned n = atomic_load_explicit(&d->active, memory_order_relaxed);
    if (n < 2 || !atomic_compare_exchange_strong_explicit(
                     &d->active, &n, n - 1, memory_order_relaxed, memory_order_relaxed))
        return 0;
    atomic_store_explicit(&d->away[ith].seq, 1, memory_order_relaxed);
    const int alive = stand_down(tr, until, tm);
    atomic_store_explicit(&d->away[ith].seq, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&d->active, 1, memory_order_relaxed);
    return alive ? 1 : -1;
}

// The step a thread back from sitting out joins, in *k: the one being run now (earlier ones are
// published and done). 0 when a step has ended the job since the thread last looked (the epoch's
// end, or a stop or divergence before it), after which no thread may run another step.
static int rejoin(const struct dpt_dyn *d, unsigned long *k)
{
    const unsigned long st = atomic_load_explicit(&d->steps, memory_order_acquire);
    if (st & 1)
        return 0;
    *k = st >> 1;
    return 1;
}

static void dynamic_job(struct dpt_trainer *tr, size_t ith, struct dpt_timing *tm)
{
    struct dpt_dyn *d = tr->dyn;
    const int needs_norm = (tr->sched->flags & DPT_SCHEDULE_NEEDS_NORM) && !tr->fused;
    const unsigned long per_step = needs_norm ? 3 : 2;
    const unsigned long base = tr->split_first ? 1 : 0;
    const int oversubscribed = tr->oversubscribed;
    const int forced = d->force_stand_down && ith + 1 == tr->nth;
    const double backoff_min = forced ? 0.0005 : BACKOFF_MIN_S;
    // The back-off carries over from the previous epoch: a machine that was busy then is
    // likely busy now.
    atomic_ulong *saved = &d->backoff[ith].seq;
    const unsigned long saved_us = atomic_load_explicit(saved, memory_order_relaxed);
    double backoff = saved_us && !forced ? 1e-6 * (double)saved_us : backoff_min;
    double wall0 = dpt_trainer_now(), cpu0 = thread_cpu_s(), clean_since = wall0;
    unsigned long k = 0; // steps of this job this thread has gone through
    struct step s;
    // A stand-down that the previous job's end cut short goes on into this job until its back-off
    // ends, as it would have had the job gone on (not counted again in d->retired): a thread would
    // otherwise come back at every epoch's start, and be caught out again within a few steps,
    // each time holding the others up for as long as another process keeps its core. Its items
    // are run by the others meanwhile; the prologue's it still claims when it comes back if
    // nobody has (the threads' sit-outs may follow one another, so that each was away while the
    // others were not). The test hook sits out every job's start for the shortest back-off, so
    // that this path runs under the tests.
    double *resume = &d->resume[ith].at;
    const double until = forced ? wall0 + backoff_min : *resume;
    *resume = 0.0;
    const int late = until > wall0 ? sit_out(tr, ith, until, tm) : 0; // sat out the job's start
    int go = late >= 0; // the job goes on for this thread
    if (!go)
        *resume = until;
    if (go && tr->split_first) { // a late thread too: each may have been late in turn
        step_init(tr, tr->first_batch, &s);
        run_phase(tr, ith, PROLOGUE, 0, &s, 0, 0, tm, oversubscribed);
    }
    if (go && late > 0) { // join the step being run, as after a stand-down below
        go = rejoin(d, &k);
        wall0 = clean_since = dpt_trainer_now();
        cpu0 = thread_cpu_s();
    }
    while (go) {
        const size_t b = tr->first_batch + k;
        if (b >= tr->n_batches)
            break;
        const double wall = dpt_trainer_now();
        if (forced ? k % FORCED_EVERY == FORCED_EVERY - 1 : wall - wall0 >= CHECK_S) {
            const double cpu = thread_cpu_s(), span = wall - wall0;
            const int preempted = forced || (cpu0 > 0.0 && dpt_dyn_off_core(span, cpu - cpu0));
            const double back = wall + backoff;
            const int sat = preempted ? sit_out(tr, ith, back, tm) : 0;
            if (sat != 0) {
                atomic_fetch_add_explicit(&d->retired, 1, memory_order_relaxed);
                backoff = backoff * BACKOFF_GROWTH < BACKOFF_MAX_S ? backoff * BACKOFF_GROWTH
                                                                   : BACKOFF_MAX_S;
                if (sat < 0) {
                    *resume = back;
                    break;
                }
                if (!rejoin(d, &k))
                    break;
                wall0 = clean_since = dpt_trainer_now();
                cpu0 = thread_cpu_s();
                continue;
            }
            // The back-off falls back to its shortest only after the thread has kept its core
            // for as long as it last stood down: a thread coming back from a stand-down runs at
            // once (the scheduler owes it time), which says nothing about the other process.
            if (preempted)
                clean_since = wall;
            else if (wall - clean_since >= backoff)
                backoff = backoff_min;
            if (preempted || span >= WINDOW_S) { // a new window
                wall0 = wall;
                cpu0 = cpu;
            }
        }
        step_init(tr, b, &s);
        const unsigned long seq = base + k * per_step;
        run_phase(tr, ith, SHARD, seq, &s, 0, 0, tm, oversubscribed);
        run_phase(tr, ith, ROWS, seq + 1, &s, !needs_norm, k + 1, tm, oversubscribed);
        if (needs_norm)
            run_phase(tr, ith, UPDATE, seq + 2, &s, 1, k + 1, tm, oversubscribed);
        k++;
        // Once a step ends the job no later step is run: every thread stops here.
        if (atomic_load_explicit(&d->steps, memory_order_acquire) & 1)
            break;
    }
    atomic_store_explicit(saved, (unsigned long)(backoff * 1e6), memory_order_relaxed);
}

const struct dpt_step_strategy dpt_step_dynamic = {
    .name = "sliced (dynamic)", .job = dynamic_job, .reset = dynamic_reset};
