// Private: the trainer's state, shared by the trainer and (later) checkpointing.
#ifndef DPT_TRAINER_IMPL_H
#define DPT_TRAINER_IMPL_H

#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

#include "dptrain/parallel.h"
#include "pool_impl.h"
#include "topo_impl.h"

#define DPT_REPRO_SHARDS_MAX 16

// Per-worker results of a step. Each worker writes only its own slot, on its own cache lines;
// the barriers order every cross-thread read (see the top of trainer.c).
struct worker_slot {
    alignas(64) double loss; // loss sum of this step's shard
    size_t correct;
    int has_grad; // the shard was non-empty, so grad[t] holds this step's gradient
    double sq;    // sliced mode: squared norm of this worker's rows of the gradient
    int ready;    // split_first: layer 1 of the next step is computed (in phase 2)
    enum dpt_status status;
};

// The dynamic sliced step (step_dynamic.c): the step's work as fixed items, claimed by whichever
// thread gets to them first, and phase completion counted in items rather than thread arrivals.
struct dpt_dyn_claim {
    alignas(64) atomic_ulong seq; // 1 + the last phase this item was claimed for; 0: never
};
struct dpt_dyn_resume {
    alignas(64) double at; // seconds of dpt_trainer_now; 0: none
};
struct dpt_dyn {
    // Items completed in the running job; with the barrier's groups (tr->n_groups > 1), groups
    // whose items of a phase all completed, summed over the job's phases (step_dynamic.c).
    alignas(64) atomic_ulong done;
    alignas(64) atomic_ulong steps; // 2 x the steps completed in the running job, + 1 once a step
                                    // ended it (set by the step's last item)
    alignas(64) atomic_uint active; // threads taking items
    atomic_ulong retired;           // times a thread stood down (statistics, and the tests)
    atomic_ulong merged;            // phase-1 items run together with another (the tests)
    atomic_ulong merged_rows;       // phase-2 items run together with another (the tests)
    int force_stand_down;           // test hook: the last thread stands down at every check
    int merge; // a stood-down thread's items may run with another's (not DPT_MERGE_SHARDS=0)
    struct dpt_dyn_claim *claim;   // nth: one per logical worker's item
    struct dpt_dyn_claim *backoff; // nth: each thread's next stand-down in microseconds (0: the
                                   // shortest), kept across epochs; only its thread touches it
    struct dpt_dyn_claim *away;    // nth: 1 while thread t stands down (its logical worker's
                                   // shard may then be run with the one before it)
    struct dpt_dyn_resume *resume; // nth: where a job ended while thread t stood down, when its
                                   // back-off ends, so that it sits out the next job until then;
                                   // only its thread touches it, between jobs
    struct dpt_dyn_claim *gdone;   // nth: items of barrier group g completed in the running job
                                   // (groups only), each on its own line
    unsigned long *gsize;          // nth: logical workers (items a phase) in group g
};

// Whether a thread that ran cpu_s seconds of a window of span_s seconds of wall time was kept off
// its core long enough to stand down (step_dynamic.c: more than 5 ms within 20 ms, or a quarter
// of a longer window).
int dpt_dyn_off_core(double span_s, double cpu_s);

struct dpt_trainer {
    struct dpt_net *net;        // borrowed
    struct dpt_schedule *sched; // borrowed
    struct dpt_train_params p;
    size_t nth;
    struct dpt_topo *topo;
    int *pu;            // nth PU OS indexes (-1 unbound)
    unsigned *group_of; // nth: each worker's barrier group (pthreads engine)
    size_t n_groups;    // barrier groups: 1 = a flat barrier
    size_t numa_nodes;  // in the topology
    int test_home_rows; // test hook: home_rows on one NUMA node too
    struct dpt_pool *pool;
    struct dpt_team team;
    char warnings[1024];

    size_t n_params, n_chunks;
    size_t mb;                          // rows per GEMM block inside a shard
    size_t ws_rows;                     // rows of each workspace
    float **grad;                       // nth private accumulators (normal mode)
    float *rgrad[DPT_REPRO_SHARDS_MAX]; // micro-shard accumulators (reproducible mode)
    struct dpt_workspace **ws;          // nth
    struct worker_slot *slots;          // nth
    struct dpt_timing *wtime;           // nth, last epoch
    float *gsum;                        // the reduced gradient (reproducible mode, processes),
                                        // or the sliced gradient (sliced mode, unfused)
    int sliced;                         // DPT_GRAD_SLICED in use
    int fused;                  // sliced, and the schedule's step is folded into the product
    struct dpt_workspace *bws;  // sliced: the step's batch workspace (every row of the batch)
    struct dpt_workspace *bws2; // split_first: bws's twin with its own layer-1 activations
    size_t *row_lo, *row_hi;    // sliced: nth x (L + 1) row ranges of each worker in each layer
    int split_first;            // sliced: layer 1's forward is split by output rows too
    int split_all; // split_first, and every hidden layer's forward and delta by output rows
    float **xbuf;  // split_first: 2 per worker, copies of the inputs of this and the next step
    // split_first with the built-in kernels (dpt_gemm_rows_available): instead of xbuf, pointers
    // to the rows of this and the next step's inputs in the data set, 2 x batch per worker
    // (worker t, parity p at (2 t + p) x batch)
    const float **xrows;
    double *chunk_sq;   // per-chunk squared norms
    const float **srcs; // per-worker scratch: srcs_stride source pointers each
    size_t srcs_stride;
    float *rgrad_block; // the micro-shard buffers, contiguous
    double shard_loss[DPT_REPRO_SHARDS_MAX];
    double shard_correct[DPT_REPRO_SHARDS_MAX]; // double so it can be gathered like the loss
    size_t step_shards;

    // epoch state
    struct dpt_rng rng; // shuffling stream
    size_t *perm;
    size_t perm_cap;
    const struct dpt_dataset *ds;
    size_t epoch_samples, n_batches, steps_done, diverged_step;
    uint64_t steps, epoch;
    double epoch_loss;
    size_t epoch_correct, epoch_seen;
    int stop_now, diverged, fit_running;
    int stop_requested;       // the last stop came from a request (not the time limit)
    int in_epoch;             // the current epoch was stopped part-way
    size_t first_batch;       // first batch of the running epoch job
    size_t next_batch;        // first batch still to run in an open epoch
    size_t epoch_n;           // samples of the open epoch's data set
    struct dpt_rng epoch_rng; // shuffling stream at the start of the current epoch
    double best_val;          // early stopping
    size_t since_best;
    int has_best;
    int finished;                     // a stopping rule ended the run (target loss, patience)
    enum dpt_stop_reason stop_reason; // why the last fit returned
    double fit_start;
    enum dpt_status job_status;
    // The step's global results, written by worker 0 in phase 2 (after the exchange between
    // processes, or from this process's sums) and read by worker 0 at the step's end.
    double x_loss, x_correct;
    int x_req, x_time;
    enum dpt_status x_status; // a failed exchange between processes
    char x_msg[256];
    size_t x_batch;
    size_t *x_counts, *x_displs; // per process, for gathers
    // Stop requests from signal handlers or other threads.
    atomic_int stop_request;

    // evaluation
    const struct dpt_dataset *eval_ds;
    double *eval_loss;
    size_t *eval_correct;
    size_t eval_cap;

    float *best; // best parameters for early stopping

    const struct dpt_step_strategy *strategy; // how a step's work is shared (step_*.c)
    int oversubscribed;                       // more threads than usable cores
    struct dpt_dyn *dyn;                      // its shared state
};

// Sliced mode's split of every layer's rows among nth workers (trainer.c); lo and hi are
// nth x (L + 1), zero-filled on entry: worker t owns rows lo[t (L + 1) + l] .. hi[...] - 1 of
// layer l. Exposed for the tests.
void dpt_split_rows(const struct dpt_net_spec *spec, size_t nth, size_t *lo, size_t *hi);

// Whether sliced mode can compute layer 1 by output rows (split_first): 1 where dpt_split_rows
// deals layer 1 out in whole 16-row units, at least 4 per worker; 2 where it cuts a narrower
// layer 1 into one piece for every worker, or for all but one (which then holds rows of the later
// layers), down to one row each; 0 otherwise (a layer 1 whose share of the work calls for fewer
// pieces, such as M's at 16 threads). Each worker's piece of W_1 then stays in its own cache from
// its gradient rows to the next step's forward rows, instead of every worker reading all of W_1
// for its few samples (at T = 16, workload S's 32 samples are 2 per worker; at T = 64, the
// default network's 64 are 1 each).
int dpt_split_first(const struct dpt_net_spec *spec, size_t nth);

// Whether the sliced step splits every hidden layer by output rows, forward and backward
// (split_all; step_sliced.c): at least two hidden layers, each splitting well enough in units of 8
// rows (balanced to within 25%, or at least one unit a worker where the batch gives each fewer
// than 16 rows), and fewer than 64 batch rows per worker (where a shard's products would stream
// every weight matrix for a few rows). force: -1 decide, 0 never, 1 wherever the layers allow.
int dpt_split_all(const struct dpt_net_spec *spec, size_t nth, size_t batch, int force);
// DPT_SPLIT_ALL in the environment: "0" (0), "1" (1), else -1 (tests, benchmarks).
int dpt_split_all_env(void);
// split_all's row split: every hidden layer as evenly as whole units of 8 rows allow, the output
// layer as dpt_split_rows deals it. Worker t's rows of a layer are also the columns of that layer's
// activations and deltas it computes.
void dpt_split_rows_even(const struct dpt_net_spec *spec, size_t nth, size_t *lo, size_t *hi);
// cols[l] = the most rows of layer l (l = 0 .. L) any of the nth workers holds in lo/hi (as
// dpt_split_rows_even fills them): the width split_all's shared images are made for.
void dpt_split_widest(size_t nth, size_t L, const size_t *lo, const size_t *hi, size_t *cols);

// The choice of sliced mode and split_first (trainer and proxy alike) from the mode asked (auto
// only where it may choose: DPT_GRAD_PRIVATE otherwise), dpt_split_first's answer, the bytes of
// the batch workspace, of split_first's extra buffers and of T private gradients. Explicit
// sliced: split_first wherever possible. Auto: sliced when the workspace (plus split_first's
// buffers for whole units) is no larger than the private gradients; a narrow split_first only
// where its buffers fit under the same bound as well.
void dpt_choose_sliced(enum dpt_grad_mode asked, int split, size_t bws, size_t xbytes, size_t priv,
                       int *sliced, int *split_first);

// ---- step strategies (one file each: step_private.c, step_sliced.c, step_dynamic.c) ----

// Floats per reduce/update chunk of private mode (16 KiB): small enough that the summed chunk is
// still in L1/L2 when the schedule updates it, and a fixed grid so per-chunk norm partial sums do
// not depend on the thread count.
#define DPT_TRAINER_CHUNK 4096

// One step, as the epoch loop hands it to a strategy's phases.
struct dpt_step {
    size_t b, bs, m;         // batch index in the epoch, its first row in the permutation, its rows
    float scale;             // the mean reduction's 1/m, else 1
    struct dpt_step_ctx ctx; // what the schedule step gets
};

// How a step's work is shared among the workers. A lockstep strategy gives its two phases and
// trainer.c's epoch loop runs the design's step shape around them: phase 1 (worker ith's shard),
// barrier A, phase 2 (worker ith's slice of the gradient, formed or reduced, and its update),
// worker 0's bookkeeping (loss, stop flags), barrier B; each phase accounts its own time in tm. A
// strategy with a step shape of its own gives `job` instead, which runs every step of the epoch
// job and does the bookkeeping itself (see step_dynamic.c). `reset` (optional) runs before each
// epoch job, on the calling thread.
struct dpt_step_strategy {
    const char *name;
    void (*phase1)(struct dpt_trainer *tr, size_t ith, const struct dpt_step *s,
                   struct dpt_timing *tm);
    void (*phase2)(struct dpt_trainer *tr, size_t ith, struct dpt_step *s, struct dpt_timing *tm);
    void (*job)(struct dpt_trainer *tr, size_t ith, struct dpt_timing *tm);
    void (*reset)(struct dpt_trainer *tr);
};
extern const struct dpt_step_strategy dpt_step_private;      // private accumulators, reduction
extern const struct dpt_step_strategy dpt_step_reproducible; // fixed micro-shards
extern const struct dpt_step_strategy dpt_step_sliced;       // gradient rows by owner, barriers
extern const struct dpt_step_strategy dpt_step_dynamic;      // the same, as claimed items

// ---- shared by trainer.c and the step files ----

static inline void dpt_block_stats_add(struct dpt_block_stats *acc, const struct dpt_block_stats *b)
{
    acc->loss_sum += b->loss_sum;
    acc->correct += b->correct;
    acc->n += b->n;
}

static inline double dpt_sq_norm(const float *restrict g, size_t lo, size_t hi)
{
    float sq = 0.0f;
#pragma omp simd reduction(+ : sq)
    for (size_t i = lo; i < hi; i++)
        sq += g[i] * g[i];
    return (double)sq;
}

// Step b of the running epoch.
static inline void dpt_step_init(const struct dpt_trainer *tr, size_t b, struct dpt_step *s)
{
    const size_t B = tr->p.batch, N = tr->epoch_samples;
    s->b = b;
    s->bs = b * B;
    s->m = N - s->bs < B ? N - s->bs : B;
    s->scale = dpt_net_spec(tr->net)->reduction == DPT_REDUCTION_MEAN ? 1.0f / (float)s->m : 1.0f;
    memset(&s->ctx, 0, sizeof s->ctx);
    s->ctx.step = tr->steps + (b - tr->first_batch) + 1;
    s->ctx.epoch = tr->epoch;
    s->ctx.batch_size = s->m;
    s->ctx.lr_mult = 1.0;
}

// Sliced mode: the batch workspace of step b (split_first alternates two by step parity: one
// step's inputs and layer-1 activations are read while the next step's are computed).
static inline struct dpt_workspace *dpt_step_workspace(const struct dpt_trainer *tr, size_t b)
{
    return tr->split_first && (b & 1) ? tr->bws2 : tr->bws;
}

double dpt_trainer_now(void);
// Balanced contiguous split: part t of n items over nth parts (sizes differ by at most one).
static inline size_t dpt_split(size_t n, size_t t, size_t nth)
{
    return (size_t)(((unsigned long long)n * t) / nth);
}
// Sliced mode: forward from layer `from`, loss and deltas of batch rows [lo, hi) (batch starting
// at bs) into the batch workspace ws, in blocks of the micro-batch.
void dpt_trainer_shard_deltas(struct dpt_trainer *tr, struct dpt_workspace *ws, size_t from,
                              const size_t *perm, size_t bs, size_t lo, size_t hi, float scale,
                              struct dpt_block_stats *acc);
// split_first: logical worker t's rows of layer 1 for batch rows perm[0..m) at step parity p.
void dpt_trainer_first_layer(struct dpt_trainer *tr, size_t t, size_t p, const size_t *perm,
                             size_t m);
// Sliced phase 2: the gradient rows of logical workers t0 .. t1 - 1 (fused: the update itself;
// adjacent workers' rows in one product where that changes no bit, dpt_net_layer_grad_merges),
// logical worker t's squared norm, and the schedule step on its rows.
void dpt_trainer_sliced_grad(struct dpt_trainer *tr, const struct dpt_workspace *ws,
                             const float *xb, const float *const *xr, size_t t0, size_t t1,
                             const struct dpt_step_ctx *ctx, size_t m, struct dpt_timing *tm);
double dpt_trainer_sliced_sq(const struct dpt_trainer *tr, size_t t);
void dpt_trainer_sliced_update(struct dpt_trainer *tr, size_t t, const struct dpt_step_ctx *ctx);
// dst[lo, hi) = the sum of the n_src >= 2 sources in fixed order, through a block in L1, so dst
// may be one of the sources (private mode's reduction; the proxy runs it too).
void dpt_trainer_reduce_chunk(float *dst, const float *const *srcs, size_t n_src, size_t lo,
                              size_t hi);
// Prefetches the input rows perm[lo..hi) of the training set.
void dpt_trainer_prefetch_rows(const struct dpt_trainer *tr, size_t lo, size_t hi);
// The input rows logical worker t will read at a later step, asked for in phase 2 of step b
// (batch starting at bs): its shard of the next step's rows, or with split_first every row of the
// next step's batch, or of the step after next's where dpt_prefetch_two_ahead says so.
void dpt_trainer_prefetch_inputs(const struct dpt_trainer *tr, size_t b, size_t bs, size_t t);
// split_first: whether a batch's inputs (batch x n0 floats) are few enough to be requested two
// steps ahead: at most DPT_PREFETCH_FAR_BYTES, so that two steps' inputs sit beside a step's
// work in any L2 of 512 KiB or more (S's 32 x 784 inputs, 100 KB, are; M's and L's are not).
#define DPT_PREFETCH_FAR_BYTES ((size_t)128 << 10)
int dpt_prefetch_two_ahead(size_t batch, size_t n0);
// The step's loss and correct count, summed over the logical workers in fixed order.
void dpt_trainer_step_loss(const struct dpt_trainer *tr, double *loss, double *correct);
// Is a stop requested (signal, progress callback) after batch b? *timed_out: the time limit.
int dpt_trainer_stop_flags(struct dpt_trainer *tr, size_t b, int *timed_out);

#endif
