// The data-parallel trainer: creation (gradient mode, step strategy, buffers first-touched by their
// workers), the epoch loop with the design's lockstep step shape, evaluation on the same team, and
// the stopping rules. How a step's work is shared is a step strategy (trainer_impl.h), one file
// each: step_private.c (private accumulators and the fixed-order reduction, and reproducible mode's
// micro-shards), step_sliced.c (gradient rows formed by their owners) and step_dynamic.c (the same
// as claimed items, for busy machines). The two shapes, in detail:
//
// One step (all workers run the epoch loop in lockstep, SPMD):
//   phase 1  worker t: forward + backprop of its shard into its private buffer grad[t]; the
//            mean reduction's 1/batch is applied to the output delta, so no pass is needed
//   barrier A
//   phase 2  worker t, for each chunk of its slice of the parameter vector:
//              grad[t][chunk] = sum_u grad[u][chunk] (u in fixed order)   <- reduce
//              [seam: a cross-process all-reduce of the summed chunk goes here]
//              schedule step on theta[chunk]                            <- update
//            (a schedule that needs the global norm gets one more barrier between the two;
//            with a single non-empty source, e.g. T = 1, the schedule reads it directly)
//   barrier B
// That is private mode. Sliced mode (the default when the batch is small next to the model, see
// enum dpt_grad_mode) keeps the barriers and changes what happens around them:
//   phase 1  worker t: forward, loss and backward deltas of its shard into its rows of one batch
//            workspace (inputs, activations and deltas of every sample of the step); when layer
//            1 is wide (split_first), layer 1 is computed by worker t's rows of W_1 over the whole
//            batch (at an epoch's first step here, followed by a barrier; at later steps at the
//            end of the previous phase 2), and the rest by samples; with split_all (few rows per
//            worker) every hidden layer's forward pass and delta by its rows as well, the output
//            layer by samples, a barrier after each layer (step_sliced.c)
//   barrier A
//   phase 2  worker t, for its rows j0..j1 of every layer (dpt_split_rows: about equal work each):
//              g[W_l rows] = Delta_l[:, j0:j1]^T A_(l-1) over the whole batch, g[b_l rows] too
//              schedule step on exactly those rows; a linear schedule (fixed-rate SGD) is folded
//              into the product instead: W_l rows += -rate Delta^T A, no gradient vector at all
//            split_first: then the next step's layer 1 for its rows of W_1, into the other of two
//              buffers (step parity), since nobody else reads or writes those rows
//   barrier B
// Nothing is reduced: each gradient row is formed once, by the worker that owns it, with K = the
// whole batch, so the per-step cost that grows with T x the parameter count disappears.
// Shared flags (stop, divergence) are written only in phase 2 by worker 0 and read by every
// worker after barrier B, so they need no atomics: the barriers order them. Divergence is
// detected from the step's loss: a non-finite gradient makes the next loss non-finite.
#include <inttypes.h>
#include <math.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <omp.h>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define DPT_HAVE_MXCSR 1
#elif defined(__aarch64__) && defined(__GNUC__)
#define DPT_HAVE_FPCR 1
#endif

#include "core/error_impl.h"
#include "core/gemm_bf16.h"
#include "core/gemm_impl.h"
#include "core/sliced_impl.h"
#include "pool_impl.h"
#include "trainer_impl.h"

#define DPT_CHUNK DPT_TRAINER_CHUNK
// Rows per evaluation block: a fixed size, so evaluation results do not depend on T.
#define DPT_EVAL_ROWS 256
// Micro-shards per batch in reproducible mode (fixed, independent of T).
#define DPT_REPRO_SHARDS DPT_REPRO_SHARDS_MAX
// Default cap on rows per GEMM block inside a shard.
#define DPT_MICRO_BATCH_MAX 256

double dpt_trainer_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---- names ----

const char *dpt_engine_name(enum dpt_engine e)
{
    return e == DPT_ENGINE_OPENMP ? "openmp" : "pthreads";
}

enum dpt_status dpt_engine_parse(const char *name, enum dpt_engine *out)
{
    if (name && strcmp(name, "pthreads") == 0)
        *out = DPT_ENGINE_PTHREADS;
    else if (name && strcmp(name, "openmp") == 0)
        *out = DPT_ENGINE_OPENMP;
    else
        return dpt_error(DPT_ERR_INVALID, "unknown engine '%s' (expected pthreads or openmp)",
                         name ? name : "(null)");
    return DPT_OK;
}

const char *dpt_grad_mode_name(enum dpt_grad_mode g)
{
    return g == DPT_GRAD_SLICED ? "sliced" : g == DPT_GRAD_PRIVATE ? "private" : "auto";
}

enum dpt_status dpt_grad_mode_parse(const char *name, enum dpt_grad_mode *out)
{
    if (name && strcmp(name, "auto") == 0)
        *out = DPT_GRAD_AUTO;
    else if (name && strcmp(name, "private") == 0)
        *out = DPT_GRAD_PRIVATE;
    else if (name && strcmp(name, "sliced") == 0)
        *out = DPT_GRAD_SLICED;
    else
        return dpt_error(DPT_ERR_INVALID,
                         "unknown gradient mode '%s' (expected auto, private or sliced)",
                         name ? name : "(null)");
    return DPT_OK;
}

struct dpt_train_params dpt_train_params_default(void)
{
    struct dpt_train_params p;
    memset(&p, 0, sizeof p);
    p.batch = 32;
    p.max_epochs = 10;
    p.target_loss = -INFINITY;
    p.seed = 1;
    p.engine = DPT_ENGINE_PTHREADS;
    p.pin = DPT_PIN_COMPACT;
    p.progress_every = 50;
    return p;
}

// ---- denormals ----

// Flush-to-zero and denormals-are-zero for the duration of a job: denormal operands in the
// backward pass can slow a GEMM by orders of magnitude. Returns the previous state to restore
// (the calling thread is worker 0 and belongs to the user). x86: MXCSR FTZ (bit 15) and DAZ
// (bit 6). arm64: FPCR.FZ (bit 24), which flushes denormal inputs and results alike, in scalar
// and Advanced SIMD arithmetic (the same effect as FTZ + DAZ); FPCR's bits 32-63 are reserved
// (zero), so the state fits an unsigned.
#define DPT_FPCR_FZ (1u << 24)

#ifdef DPT_HAVE_FPCR
static unsigned long long fpcr_get(void)
{
    unsigned long long v;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(v));
    return v;
}

static void fpcr_set(unsigned long long v)
{
    __asm__ __volatile__("msr fpcr, %0" : : "r"(v));
}
#endif

static unsigned ftz_enter(void)
{
#ifdef DPT_HAVE_MXCSR
    unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040u);
    return csr;
#elif defined(DPT_HAVE_FPCR)
    const unsigned fpcr = (unsigned)fpcr_get();
    fpcr_set(fpcr | DPT_FPCR_FZ);
    return fpcr;
#else
    return 0;
#endif
}

static void ftz_leave(unsigned csr)
{
#ifdef DPT_HAVE_MXCSR
    _mm_setcsr(csr);
#elif defined(DPT_HAVE_FPCR)
    fpcr_set(csr);
#else
    (void)csr;
#endif
}

// ---- set-up job: each worker allocates and first-touches its own buffers ----

// Sliced mode on a machine with several NUMA nodes: worker ith's rows of the parameters and of
// the gradient vector (the rows it forms and updates at every step, and nobody else writes) move
// to its own node (hwloc_set_area_membind with MIGRATE; the network's parameters were allocated,
// and first touched, by whoever created it). Page granular, so a page shared by two workers' rows
// goes to one of them; best effort: a refusal (no permission, no support) changes nothing else.
static void home_rows(struct dpt_trainer *tr, size_t ith)
{
    hwloc_topology_t hw = dpt_topo_hwloc(tr->topo);
    if (tr->pu[ith] < 0)
        return;
    hwloc_obj_t pu = hwloc_get_pu_obj_by_os_index(hw, (unsigned)tr->pu[ith]);
    if (!pu || !pu->nodeset)
        return;
    const struct dpt_net_spec *spec = dpt_net_spec(tr->net);
    const size_t L = spec->n_layers, page = (size_t)sysconf(_SC_PAGESIZE);
    float *const vecs[2] = {dpt_net_params(tr->net), tr->gsum};
    for (size_t l = 1; l <= L; l++) {
        const size_t lo = tr->row_lo[ith * (L + 1) + l], hi = tr->row_hi[ith * (L + 1) + l];
        size_t w;
        if (hi <= lo || dpt_net_layer_offsets(tr->net, l, &w, NULL) != DPT_OK)
            continue;
        for (size_t v = 0; v < 2; v++) {
            if (!vecs[v])
                continue;
            // The whole pages inside this worker's rows of W_l.
            uintptr_t a = (uintptr_t)(vecs[v] + w + lo * spec->sizes[l - 1]);
            uintptr_t e = (uintptr_t)(vecs[v] + w + hi * spec->sizes[l - 1]);
            a = (a + page - 1) / page * page;
            e = e / page * page;
            if (e > a)
                (void)hwloc_set_area_membind(hw, (void *)a, e - a, pu->nodeset, HWLOC_MEMBIND_BIND,
                                             HWLOC_MEMBIND_MIGRATE | HWLOC_MEMBIND_BYNODESET);
        }
    }
}

static void alloc_job(void *arg, size_t ith, size_t nth)
{
    struct dpt_trainer *tr = arg;
    struct worker_slot *slot = &tr->slots[ith];
    if (nth != tr->nth) {
        slot->status = DPT_ERR_SYSTEM;
        return;
    }
    slot->status = DPT_OK;
    // dpt_alloc_aligned zero-fills: the pages are first touched by this (pinned) thread, so on a
    // NUMA machine they live on its node.
    if (!tr->p.reproducible && !tr->sliced) {
        tr->grad[ith] = dpt_alloc_aligned(tr->n_params * sizeof(float));
        if (!tr->grad[ith])
            slot->status = DPT_ERR_NOMEM;
    }
    for (size_t k = 0; k < 2 && slot->status == DPT_OK && tr->split_first && !tr->xrows; k++) {
        tr->xbuf[2 * ith + k] =
            dpt_alloc_aligned(tr->p.batch * dpt_net_spec(tr->net)->sizes[0] * sizeof(float));
        if (!tr->xbuf[2 * ith + k])
            slot->status = DPT_ERR_NOMEM;
    }
    if (slot->status == DPT_OK &&
        dpt_workspace_create_prec(tr->net, tr->ws_rows, tr->p.precision, &tr->ws[ith]) != DPT_OK)
        slot->status = DPT_ERR_NOMEM;
    // DPT_TEST_HOME_ROWS=1 runs it on a single node too (tests/parallel/stress_train.c), where
    // it moves nothing but runs the same calls.
    if (tr->sliced && (tr->numa_nodes > 1 || tr->test_home_rows))
        home_rows(tr, ith);
}

// ---- the epoch job ----

// Loss and correct count of this step (this process's part), summed in a fixed order: per
// worker, or per micro-shard in reproducible mode (then the same for every T and every split
// across processes).
void dpt_trainer_step_loss(const struct dpt_trainer *tr, double *loss, double *correct)
{
    double l = 0.0, c = 0.0;
    if (tr->p.reproducible) {
        for (size_t j = 0; j < tr->step_shards; j++) {
            l += tr->shard_loss[j];
            c += tr->shard_correct[j];
        }
    } else {
        for (size_t t = 0; t < tr->nth; t++) {
            l += tr->slots[t].loss;
            c += (double)tr->slots[t].correct;
        }
    }
    *loss = l;
    *correct = c;
}

// Worker 0: is a stop requested (signal, progress callback)? *timed_out: the time limit passed.
int dpt_trainer_stop_flags(struct dpt_trainer *tr, size_t b, int *timed_out)
{
    int req = atomic_load_explicit(&tr->stop_request, memory_order_relaxed) != 0;
    if (tr->p.on_progress && tr->p.progress_every &&
        ((b + 1) % tr->p.progress_every == 0 || b + 1 == tr->n_batches))
        req |= tr->p.on_progress(tr->epoch, b + 1, tr->n_batches, tr->p.user) != 0;
    *timed_out = tr->p.max_seconds > 0 && dpt_trainer_now() - tr->fit_start >= tr->p.max_seconds;
    return req;
}

// Asks the memory system for the input rows perm[lo..hi) of the training set, one prefetch per
// cache line, into the outer caches. Issued at the start of phase 2 for the rows the worker will
// gather at the next step: the data set is far larger than the caches and its rows are visited
// in random order, so without this every gathered row starts with a miss to DRAM (measured: the
// gather was 15% of workload S's step at 2 threads); with it the misses overlap the
// weight-gradient products.
void dpt_trainer_prefetch_rows(const struct dpt_trainer *tr, size_t lo, size_t hi)
{
    const float *x = dpt_dataset_x(tr->ds);
    const size_t n0 = dpt_dataset_n_in(tr->ds);
    for (size_t i = lo; i < hi; i++) {
        const char *row = (const char *)(x + tr->perm[i] * n0);
        for (size_t off = 0; off < n0 * sizeof(float); off += 64)
            __builtin_prefetch(row + off, 0, 2);
    }
}

int dpt_prefetch_two_ahead(size_t batch, size_t n0)
{
    return batch * n0 * sizeof(float) <= DPT_PREFETCH_FAR_BYTES;
}

void dpt_trainer_prefetch_inputs(const struct dpt_trainer *tr, size_t b, size_t bs, size_t t)
{
    const size_t B = tr->p.batch, N = tr->epoch_samples;
    const size_t n0 = dpt_net_spec(tr->net)->sizes[0];
    if (!tr->split_first) { // this worker's shard of the next step's rows
        if (b + 1 < tr->n_batches) {
            const size_t nbs = bs + B, nm = N - nbs < B ? N - nbs : B;
            dpt_trainer_prefetch_rows(tr, nbs + dpt_split(nm, t, tr->nth),
                                      nbs + dpt_split(nm, t + 1, tr->nth));
        }
        return;
    }
    // split_first: every row of the batch. A step of a few rows (S at 16 threads: 2 per worker)
    // is too short to hide a miss to DRAM behind, so where the batch's inputs are small the rows
    // of the step after next are requested (at an epoch's first step the next step's too); the
    // order of the next epoch is not drawn yet, so nothing past this epoch.
    const int far = dpt_prefetch_two_ahead(B, n0);
    for (size_t ahead = far && b > 0 ? 2 : 1; ahead <= (far ? 2u : 1u); ahead++) {
        if (b + ahead >= tr->n_batches)
            break;
        const size_t nbs = bs + ahead * B, nm = N - nbs < B ? N - nbs : B;
        dpt_trainer_prefetch_rows(tr, nbs, nbs + nm);
    }
}

// The epoch job: every worker runs the epoch's steps. A strategy with its own step loop (the
// dynamic sliced step) runs them itself; the others have the design's lockstep shape:
//   phase 1 (the strategy: worker t's shard), barrier A, phase 2 (the strategy: worker t's
//   slice, formed or reduced, then updated), worker 0's bookkeeping, barrier B.
static void epoch_job(void *arg, size_t ith, size_t nth)
{
    struct dpt_trainer *tr = arg;
    if (nth != tr->nth) {
        // The OpenMP runtime gave fewer threads than asked: every thread sees the same count,
        // so all of them return here consistently.
        if (ith == 0)
            tr->job_status = DPT_ERR_SYSTEM;
        return;
    }
    const unsigned csr = ftz_enter();
    // This worker's GEMMs pack into its own workspace's buffer (sliced mode's products run on
    // the shared batch workspace, which has none).
    const struct dpt_gemm_pack pack = dpt_workspace_pack_use(tr->ws[ith]);
    const struct dpt_step_strategy *strat = tr->strategy;
    struct dpt_team *team = &tr->team;
    struct dpt_timing tm = {0};
    const int multi = tr->p.comm && tr->p.comm->size > 1;
    size_t b = tr->first_batch;
    if (strat->job) {
        strat->job(tr, ith, &tm);
    } else {
        tr->slots[ith].ready = 0;
        for (; b < tr->n_batches; b++) {
            struct dpt_step s;
            dpt_step_init(tr, b, &s);
            strat->phase1(tr, ith, &s, &tm);
            const double t1 = dpt_trainer_now();
            dpt_team_barrier(team); // A: every shard's results are complete
            tm.wait_s += dpt_trainer_now() - t1;
            strat->phase2(tr, ith, &s, &tm);
            if (ith == 0) {
                if (!multi) {
                    dpt_trainer_step_loss(tr, &tr->x_loss, &tr->x_correct);
                    tr->x_req = dpt_trainer_stop_flags(tr, b, &tr->x_time);
                }
                tr->epoch_loss += tr->x_loss;
                tr->epoch_correct += (size_t)tr->x_correct;
                tr->epoch_seen += s.m;
                tr->diverged = !isfinite(tr->x_loss) || tr->x_status != DPT_OK;
                tr->stop_requested = tr->x_req;
                tr->stop_now = tr->x_req || tr->x_time;
            }
            const double t3 = dpt_trainer_now();
            dpt_team_barrier(team); // B: the parameters are updated; flags are published
            tm.wait_s += dpt_trainer_now() - t3;
            if (tr->diverged) {
                if (ith == 0) {
                    tr->job_status = tr->x_status != DPT_OK ? tr->x_status : DPT_ERR_DIVERGED;
                    tr->diverged_step = b + 1; // 1-based within the epoch
                }
                b++;
                break;
            }
            if (tr->stop_now) {
                b++;
                break;
            }
        }
        if (ith == 0)
            tr->steps_done = b - tr->first_batch;
    }
    tr->wtime[ith] = tm;
    dpt_gemm_pack_use(pack.buf, pack.floats);
    ftz_leave(csr);
}

// ---- evaluation job ----

static void eval_job(void *arg, size_t ith, size_t nth)
{
    struct dpt_trainer *tr = arg;
    if (nth != tr->nth) {
        if (ith == 0)
            tr->job_status = DPT_ERR_SYSTEM;
        return;
    }
    const unsigned csr = ftz_enter();
    const struct dpt_dataset *ds = tr->eval_ds;
    const size_t n = dpt_dataset_n(ds), n_in = dpt_dataset_n_in(ds);
    const size_t n_blocks = (n + DPT_EVAL_ROWS - 1) / DPT_EVAL_ROWS;
    const float *x = dpt_dataset_x(ds);
    const struct dpt_targets tg = dpt_dataset_targets_view(ds);
    for (size_t k = dpt_split(n_blocks, ith, nth); k < dpt_split(n_blocks, ith + 1, nth); k++) {
        const size_t lo = k * DPT_EVAL_ROWS;
        const size_t cnt = n - lo < DPT_EVAL_ROWS ? n - lo : DPT_EVAL_ROWS;
        struct dpt_targets t = tg;
        if (t.labels)
            t.labels += lo;
        else
            t.values += lo * dpt_dataset_n_out(ds);
        struct dpt_block_stats st;
        dpt_net_evaluate(tr->net, tr->ws[ith], x + lo * n_in, NULL, cnt, &t, &st);
        tr->eval_loss[k] = st.loss_sum;
        tr->eval_correct[k] = st.correct;
    }
    ftz_leave(csr);
}

// ---- create / destroy ----

static void add_warning(struct dpt_trainer *tr, const char *fmt, size_t a, size_t b)
{
    size_t used = strlen(tr->warnings);
    if (used + 1 >= sizeof tr->warnings)
        return;
    if (used > 0)
        tr->warnings[used++] = '\n';
    snprintf(tr->warnings + used, sizeof tr->warnings - used, fmt, a, b);
}

// Refuses, before allocating anything big, a trainer whose buffers (T private gradients, the
// micro-shard gradients of reproducible mode, the sum buffer, T workspaces) would not fit in
// this machine's physical memory: the allocations could succeed lazily and the process would be
// killed mid-run instead of getting a status.
// split_first: whether the built-in kernels read the batch's inputs where they lie in the data set
// (tr->xrows: the row-pointer products, which gather the rows as they pack them), so no worker
// keeps copies of them (tr->xbuf); not at the generic level (the BLAS needs them gathered).
static int inputs_in_place(const struct dpt_trainer *tr)
{
    (void)tr;
    return dpt_gemm_rows_available();
}

// Bytes of split_first's per-worker copies of the inputs of this and the next step (none when
// they are read in place); SIZE_MAX on overflow.
static size_t input_copy_bytes(const struct dpt_trainer *tr)
{
    size_t b;
    if (inputs_in_place(tr))
        return 0;
    return dpt_mul_overflow(2 * tr->nth * tr->p.batch, dpt_net_spec(tr->net)->sizes[0], &b) ||
                   dpt_mul_overflow(b, sizeof(float), &b)
               ? SIZE_MAX
               : b;
}

static enum dpt_status check_memory(const struct dpt_trainer *tr)
{
    const size_t pbytes = tr->n_params * sizeof(float);
    size_t vectors = tr->nth, total = 0, t;
    const int multi = tr->p.comm && tr->p.comm->size > 1;
    if (tr->sliced)
        vectors = tr->fused ? 0 : 1;
    else if (tr->p.reproducible)
        vectors += DPT_REPRO_SHARDS + 1;
    else if (multi)
        vectors += 1;
    if (dpt_mul_overflow(pbytes, vectors, &total) ||
        dpt_add_overflow(total, tr->sliced ? dpt_batch_workspace_bytes(tr->net, tr->p.batch) : 0,
                         &total) ||
        (tr->split_first && dpt_add_overflow(total, input_copy_bytes(tr), &total)) ||
        dpt_mul_overflow(dpt_workspace_bytes(tr->net, tr->ws_rows), tr->nth, &t) ||
        dpt_add_overflow(total, t, &total))
        return dpt_error(DPT_ERR_RANGE, "the trainer's buffers' size overflows");
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return DPT_OK; // unknown: nothing to compare with
    const double phys = (double)pages * (double)page;
    if ((double)total > phys)
        return dpt_error(DPT_ERR_RANGE,
                         "%zu threads need %.1f GiB for gradients and workspaces, more "
                         "than this machine's %.1f GiB of memory (use fewer threads or a smaller "
                         "network)",
                         tr->nth, (double)total / 1073741824.0, phys / 1073741824.0);
    return DPT_OK;
}

// Resolves the gradient mode (see enum dpt_grad_mode). Auto picks sliced when the batch
// workspace is no larger than the T private gradients it replaces: then sliced mode also moves
// fewer bytes between cores per step (each worker reads the others' rows of the batch's
// activations and deltas instead of their slices of T full gradients).
static enum dpt_status choose_grad_mode(struct dpt_trainer *tr)
{
    const int multi = tr->p.comm && tr->p.comm->size > 1;
    const enum dpt_grad_mode g = tr->p.grad_mode;
    const struct dpt_net_spec *spec = dpt_net_spec(tr->net);
    if (g == DPT_GRAD_SLICED && (tr->p.reproducible || multi))
        return dpt_error(DPT_ERR_INVALID, "grad_mode: sliced cannot be combined with %s",
                         tr->p.reproducible ? "reproducible mode" : "several processes");
    // Layer 1 (a hidden layer) is split by output rows when every worker gets a piece of it
    // (dpt_split_first); each worker then needs the whole batch's inputs, for two steps at a time
    // (two copies, counted here, unless the kernels read them in place), and layer 1's
    // activations get a second buffer (pipelining, epoch_job).
    // Every hidden layer by output rows (split_all) includes layer 1, dealt out evenly.
    const int all = dpt_split_all(spec, tr->nth, tr->p.batch, dpt_split_all_env());
    int split = dpt_split_first(spec, tr->nth);
    if (all && !split)
        split = 2;
    size_t xbytes = 0, a1bytes = 0;
    if (split && (dpt_mul_overflow(tr->p.batch, spec->sizes[1], &a1bytes) ||
                  dpt_mul_overflow(a1bytes, sizeof(float), &a1bytes) ||
                  dpt_add_overflow(input_copy_bytes(tr), a1bytes, &xbytes)))
        xbytes = SIZE_MAX;
    size_t priv;
    if (dpt_mul_overflow(tr->nth, tr->n_params * sizeof(float), &priv))
        priv = SIZE_MAX;
    const enum dpt_grad_mode asked =
        g == DPT_GRAD_AUTO && (tr->p.reproducible || multi) ? DPT_GRAD_PRIVATE : g;
    dpt_choose_sliced(asked, split, dpt_batch_workspace_bytes(tr->net, tr->p.batch), xbytes, priv,
                      &tr->sliced, &tr->split_first);
    tr->split_all = tr->split_first && all;
    const unsigned f = tr->sched->flags;
    tr->fused = tr->sliced && (f & DPT_SCHEDULE_LINEAR) && !(f & DPT_SCHEDULE_NEEDS_NORM) &&
                tr->sched->rate != NULL;
    return DPT_OK;
}

// Sliced mode: splits the rows of every layer among the workers. A layer of at least 4 T units of
// 16 rows (one cache line of a bias vector, so no two workers write the same line of one) is split
// evenly in such units, to within 25%. A narrower layer is cut into about as many pieces as its
// share of the step's gradient work calls for (rows x fan-in, against the total over T workers), at
// most one piece per worker (deal_pieces), each going to the least-loaded worker so far (ties: the
// highest index, since worker 0 also publishes the step's flags). A small output layer thus goes
// whole to one worker, while a hidden layer narrower than 64 T rows is still shared by many.
// Before, whole 16-row units were dealt out and a layer of fewer than T units went whole to one
// worker: on workload S (8 units in layer 1) one worker did twice its share at T = 6 and all of
// layer 1 at T = 9..16, 0.6x the 1-thread rate on a 16-core machine (docs/benchmarks.md). Pieces
// may share a bias cache line, written once per step: far cheaper than idle workers.
// lo/hi: nth x (L + 1), row range of worker t in layer l; zero-filled on entry.
enum { SPLIT_UNIT = 16 };

// Total gradient work (rows x fan-in over every layer) per worker.
static double ideal_load(const struct dpt_net_spec *spec, size_t nth)
{
    double total = 0.0;
    for (size_t l = 1; l <= spec->n_layers; l++)
        total += (double)spec->sizes[l] * (double)spec->sizes[l - 1];
    return total / (double)nth;
}

// Pieces of a narrow layer l: as many as its share of the work calls for, at most one per worker
// and one per row.
static size_t narrow_pieces(const struct dpt_net_spec *spec, size_t l, size_t nth, double ideal)
{
    const size_t n = spec->sizes[l];
    const double want = (double)n * (double)spec->sizes[l - 1] / ideal + 0.5;
    size_t pieces = want < 1.0 ? 1 : (size_t)want;
    if (pieces > nth)
        pieces = nth;
    if (pieces > n)
        pieces = n;
    return pieces;
}

int dpt_split_first(const struct dpt_net_spec *spec, size_t nth)
{
    if (nth < 2 || spec->n_layers < 2)
        return 0;
    const size_t n = spec->sizes[1];
    if ((n + SPLIT_UNIT - 1) / SPLIT_UNIT >= 4 * nth)
        return 1; // whole units, at least 4 each
    // A narrow layer 1 that carries nearly all the work (one hidden layer and a small output
    // layer: S, the default network): a piece for every worker, or for all but one, which then
    // holds the later layers' rows. Any piece, down to one row, beats the alternative, where each
    // worker forwards its few samples through all of W_1 (the default network at 64 threads: 1
    // sample per worker and 59 MiB per step across the cores; docs/benchmarks.md).
    const size_t pieces = narrow_pieces(spec, 1, nth, ideal_load(spec, nth));
    return pieces >= 2 && pieces + 1 >= nth ? 2 : 0;
}

void dpt_choose_sliced(enum dpt_grad_mode asked, int split, size_t bws, size_t xbytes, size_t priv,
                       int *sliced, int *split_first)
{
    size_t need;
    const int fits = bws > 0 && bws <= priv;
    const int fits_split = bws > 0 && !dpt_add_overflow(bws, xbytes, &need) && need <= priv;
    if (asked == DPT_GRAD_SLICED) {
        *sliced = 1;
        *split_first = split != 0;
    } else if (asked == DPT_GRAD_AUTO && split == 1) {
        *sliced = fits_split;
        *split_first = *sliced;
    } else if (asked == DPT_GRAD_AUTO) {
        *sliced = fits;
        *split_first = split == 2 && fits_split;
    } else {
        *sliced = 0;
        *split_first = 0;
    }
}

// Layer l in `pieces` pieces, each to the least-loaded worker that holds none of it yet (ties:
// the highest index, since worker 0 also publishes the step's flags). Pieces of ceil(n / pieces)
// rows and a shorter last one (whose worker, least loaded, then takes a later layer's piece where
// every worker has one of this layer: S's output layer at 12 threads); where that would make
// fewer pieces (256 rows for 63 pieces: 52 pieces, 51 of 5 rows), as even as whole rows allow.
static void deal_pieces(const struct dpt_net_spec *spec, size_t l, size_t nth, size_t pieces,
                        size_t *lo, size_t *hi)
{
    const size_t L = spec->n_layers, L1 = L + 1, n = spec->sizes[l];
    const size_t rows = (n + pieces - 1) / pieces;
    const int even = (n + rows - 1) / rows < pieces;
    for (size_t q = 0; q < pieces; q++) {
        size_t best = nth;
        double best_load = 0.0;
        for (size_t t = nth; t-- > 0;) {
            if (hi[t * L1 + l] > 0)
                continue; // already holds a piece of this layer
            double load = 0.0;
            for (size_t k = 1; k <= L; k++)
                load += (double)(hi[t * L1 + k] - lo[t * L1 + k]) * (double)spec->sizes[k - 1];
            if (best == nth || load < best_load) {
                best = t;
                best_load = load;
            }
        }
        lo[best * L1 + l] = even ? dpt_split(n, q, pieces) : q * rows;
        hi[best * L1 + l] = even                 ? dpt_split(n, q + 1, pieces)
                            : (q + 1) * rows < n ? (q + 1) * rows
                                                 : n;
    }
}

// Layer l evenly in whole units of `unit` rows.
static void deal_units(const struct dpt_net_spec *spec, size_t l, size_t nth, size_t unit,
                       size_t *lo, size_t *hi)
{
    const size_t L1 = spec->n_layers + 1, n = spec->sizes[l], units = (n + unit - 1) / unit;
    for (size_t t = 0; t < nth; t++) {
        const size_t u0 = dpt_split(units, t, nth), u1 = dpt_split(units, t + 1, nth);
        lo[t * L1 + l] = u0 * unit < n ? u0 * unit : n;
        hi[t * L1 + l] = u1 * unit < n ? u1 * unit : n;
    }
}

void dpt_split_rows(const struct dpt_net_spec *spec, size_t nth, size_t *lo, size_t *hi)
{
    const double ideal = ideal_load(spec, nth);
    for (size_t l = 1; l <= spec->n_layers; l++) {
        if ((spec->sizes[l] + SPLIT_UNIT - 1) / SPLIT_UNIT >= 4 * nth)
            deal_units(spec, l, nth, SPLIT_UNIT, lo, hi);
        else
            deal_pieces(spec, l, nth, narrow_pieces(spec, l, nth, ideal), lo, hi);
    }
}

// ---- split_all: every hidden layer by output rows ----

// Rows per worker below which a shard's products stream the weights for too few rows: the packed
// GEMM pays from 64 rows on (dpt_gemm_packed_pays), under that every worker reads all of every
// W_l from the cache level that holds it, for each of its forward and delta products.
#define SPLIT_ALL_ROWS 64
#define SPLIT_ALL_UNIT 8 // half a cache line of the bias: at most two workers share a line

// Rows per worker below which a shard's products take no packed path at all (dpt_gemm_packed_pays:
// 16 rows for a transposed product, 64 otherwise): each worker streams every W_l through the small
// kernels for a handful of rows, at any T.
#define SPLIT_ALL_FEW 16

// A hidden layer of n rows that splits well enough among nth workers in units of 8 rows: at least
// 4 units each (balanced to within 25%), or the same whole number each; or, where the batch gives
// each worker fewer than 16 rows (`rows`), at least one unit each: the busiest worker may then hold
// up to twice the mean, which still beats every worker streaming all the weights (M, 128 rows a
// step, at 20, 24 and 40 threads: 16%, 11% and 4% of linear in the proxy by samples, 52%, 38% and
// 15% split so; docs/benchmarks.md, "split_all at any thread count").
static int splits_well(size_t n, size_t nth, size_t rows)
{
    const size_t units = (n + SPLIT_ALL_UNIT - 1) / SPLIT_ALL_UNIT;
    return units >= 4 * nth || (n % (SPLIT_ALL_UNIT * nth) == 0 && n >= SPLIT_ALL_UNIT * nth) ||
           (rows < SPLIT_ALL_FEW && units >= nth);
}

int dpt_split_all_env(void)
{
    const char *v = getenv("DPT_SPLIT_ALL");
    return v && strcmp(v, "0") == 0 ? 0 : v && strcmp(v, "1") == 0 ? 1 : -1;
}

int dpt_split_all(const struct dpt_net_spec *spec, size_t nth, size_t batch, int force)
{
    const size_t L = spec->n_layers;
    if (force == 0 || nth < 2 || L < 3)
        return 0;
    const size_t rows = (batch + nth - 1) / nth;
    for (size_t l = 1; l < L; l++)
        if (!splits_well(spec->sizes[l], nth, rows))
            return 0;
    return force == 1 || rows < SPLIT_ALL_ROWS;
}

void dpt_split_widest(size_t nth, size_t L, const size_t *lo, const size_t *hi, size_t *cols)
{
    for (size_t l = 0; l <= L; l++) {
        cols[l] = 0;
        for (size_t t = 0; t < nth; t++) {
            const size_t w = hi[t * (L + 1) + l] - lo[t * (L + 1) + l];
            cols[l] = w > cols[l] ? w : cols[l];
        }
    }
}

void dpt_split_rows_even(const struct dpt_net_spec *spec, size_t nth, size_t *lo, size_t *hi)
{
    const size_t L = spec->n_layers;
    for (size_t l = 1; l < L; l++)
        deal_units(spec, l, nth, SPLIT_ALL_UNIT, lo, hi);
    if ((spec->sizes[L] + SPLIT_UNIT - 1) / SPLIT_UNIT >= 4 * nth)
        deal_units(spec, L, nth, SPLIT_UNIT, lo, hi);
    else
        deal_pieces(spec, L, nth, narrow_pieces(spec, L, nth, ideal_load(spec, nth)), lo, hi);
}

enum dpt_status dpt_trainer_create(struct dpt_net *net, struct dpt_schedule *sched,
                                   const struct dpt_train_params *params, struct dpt_trainer **out)
{
    enum dpt_status st;
    struct dpt_trainer *tr = NULL;
    if (!out)
        return dpt_error(DPT_ERR_INVALID, "trainer: out is NULL");
    *out = NULL;
    if (!net || !sched || !params)
        return dpt_error(DPT_ERR_INVALID, "trainer: net, schedule or params is NULL");
    if (!sched->step)
        return dpt_error(DPT_ERR_INVALID, "schedule '%s' has no step function",
                         sched->name ? sched->name : "?");
    if (params->batch == 0)
        return dpt_error(DPT_ERR_INVALID, "batch: must be at least 1");
    if (params->batch > ((size_t)1 << 30))
        return dpt_error(DPT_ERR_RANGE, "batch: %zu is too large", params->batch);
    if ((unsigned)params->engine > DPT_ENGINE_OPENMP)
        return dpt_error(DPT_ERR_INVALID, "engine: invalid value %d", (int)params->engine);
    if ((unsigned)params->grad_mode > DPT_GRAD_SLICED)
        return dpt_error(DPT_ERR_INVALID, "grad_mode: invalid value %d", (int)params->grad_mode);
    if ((unsigned)params->precision > DPT_PRECISION_BF16)
        return dpt_error(DPT_ERR_INVALID, "precision: invalid value %d", (int)params->precision);
    if (dpt_precision_check(params->precision))
        return dpt_error(DPT_ERR_UNSUPPORTED, "precision: %s",
                         dpt_precision_check(params->precision));
    if ((unsigned)params->pin > DPT_PIN_NONE)
        return dpt_error(DPT_ERR_INVALID, "pin: invalid value %d", (int)params->pin);
    if (params->threads > 1024)
        return dpt_error(DPT_ERR_INVALID, "threads: %zu is more than 1024", params->threads);
    if (isnan(params->target_loss) || isnan(params->max_seconds))
        return dpt_error(DPT_ERR_INVALID, "target_loss and max_seconds must not be NaN");
    if (params->comm) {
        const struct dpt_comm *c = params->comm;
        if (c->size < 1 || c->rank < 0 || c->rank >= c->size)
            return dpt_error(DPT_ERR_INVALID, "comm: rank %d of %d processes is invalid", c->rank,
                             c->size);
        if (c->size > 1 &&
            (!c->allreduce_f32 || !c->allreduce_f64 || !c->allgather_f32 || !c->allgather_f64))
            return dpt_error(DPT_ERR_INVALID, "comm: a collective function is missing");
    }

    tr = dpt_calloc(1, sizeof *tr);
    if (!tr)
        return dpt_error(DPT_ERR_NOMEM, "out of memory allocating a trainer");
    tr->net = net;
    tr->sched = sched;
    tr->p = *params;
    atomic_init(&tr->stop_request, 0);
    tr->best_val = INFINITY;
    tr->n_params = dpt_net_n_params(net);
    tr->n_chunks = (tr->n_params + DPT_CHUNK - 1) / DPT_CHUNK;
    tr->mb = params->micro_batch
                 ? params->micro_batch
                 : (params->batch < DPT_MICRO_BATCH_MAX ? params->batch : DPT_MICRO_BATCH_MAX);
    if (tr->mb > ((size_t)1 << 20)) {
        st = dpt_error(DPT_ERR_RANGE, "micro_batch: %zu is too large", tr->mb);
        goto cleanup;
    }
    tr->ws_rows = tr->mb > DPT_EVAL_ROWS ? tr->mb : DPT_EVAL_ROWS;
    dpt_rng_seed(&tr->rng, params->seed);

    st = dpt_topo_create(&tr->topo);
    if (st != DPT_OK)
        goto cleanup;
    const size_t cores = dpt_topo_n_cores(tr->topo);
    tr->nth = params->threads ? params->threads : (cores ? cores : 1);
    tr->oversubscribed = tr->nth > cores;
    tr->numa_nodes = (size_t)hwloc_get_nbobjs_by_type(dpt_topo_hwloc(tr->topo), HWLOC_OBJ_NUMANODE);
    const char *home = getenv("DPT_TEST_HOME_ROWS");
    tr->test_home_rows = home && strcmp(home, "1") == 0;
    if (tr->nth > cores)
        add_warning(tr,
                    "%zu threads on %zu usable cores: oversubscribed (the barrier blocks instead "
                    "of spinning)",
                    tr->nth, cores);
    if ((st = choose_grad_mode(tr)) != DPT_OK || (st = check_memory(tr)) != DPT_OK)
        goto cleanup;
    tr->strategy = params->reproducible ? &dpt_step_reproducible : &dpt_step_private;
    tr->pu = dpt_calloc(tr->nth, sizeof *tr->pu);
    tr->slots = dpt_alloc_aligned(tr->nth * sizeof *tr->slots);
    tr->wtime = dpt_calloc(tr->nth, sizeof *tr->wtime);
    tr->grad = dpt_calloc(tr->nth, sizeof *tr->grad);
    tr->ws = dpt_calloc(tr->nth, sizeof *tr->ws);
    const int multi = params->comm && params->comm->size > 1;
    const int need_gsum = params->reproducible || multi || (tr->sliced && !tr->fused);
    if (need_gsum)
        tr->gsum = dpt_alloc_aligned(tr->n_params * sizeof(float));
    tr->chunk_sq = dpt_calloc(tr->n_chunks, sizeof *tr->chunk_sq);
    // Room for every source pointer of a step, padded to a cache line per worker.
    tr->srcs_stride = ((tr->nth > DPT_REPRO_SHARDS ? tr->nth : DPT_REPRO_SHARDS) + 7) & ~(size_t)7;
    tr->srcs = dpt_alloc_aligned(tr->nth * tr->srcs_stride * sizeof *tr->srcs);
    if (params->patience > 0)
        tr->best = dpt_alloc_aligned(tr->n_params * sizeof(float));
    if ((params->patience > 0 && !tr->best) || !tr->srcs || !tr->pu || !tr->slots || !tr->wtime ||
        !tr->grad || !tr->ws || (need_gsum && !tr->gsum) || !tr->chunk_sq) {
        st = dpt_error(DPT_ERR_NOMEM, "out of memory allocating the trainer's buffers");
        goto cleanup;
    }
    // The built-in kernels read the batch's rows where they lie: no copies of the inputs.
    if (tr->split_first && inputs_in_place(tr) &&
        !(tr->xrows = dpt_alloc_aligned(2 * tr->nth * tr->p.batch * sizeof *tr->xrows))) {
        st = dpt_error(DPT_ERR_NOMEM, "out of memory allocating the trainer's buffers");
        goto cleanup;
    }
    if (tr->split_first && !tr->xrows && !(tr->xbuf = dpt_calloc(2 * tr->nth, sizeof *tr->xbuf))) {
        st = dpt_error(DPT_ERR_NOMEM, "out of memory allocating the trainer's buffers");
        goto cleanup;
    }
    if (tr->sliced) {
        const size_t L = dpt_net_spec(net)->n_layers;
        tr->row_lo = dpt_calloc(tr->nth * (L + 1), sizeof *tr->row_lo);
        tr->row_hi = dpt_calloc(tr->nth * (L + 1), sizeof *tr->row_hi);
        if (!tr->row_lo || !tr->row_hi) {
            st = dpt_error(DPT_ERR_NOMEM, "out of memory allocating the trainer's buffers");
            goto cleanup;
        }
        if (tr->split_all)
            dpt_split_rows_even(dpt_net_spec(net), tr->nth, tr->row_lo, tr->row_hi);
        else
            dpt_split_rows(dpt_net_spec(net), tr->nth, tr->row_lo, tr->row_hi);
        // The dynamic step (step_dynamic.c) where threads can stand in for each other: the
        // pthreads engine (the OpenMP one keeps its barriers), and more than one thread; not
        // with split_all, whose step has a barrier per layer. DPT_STEP=barrier in the
        // environment keeps the barrier version (tests, benchmarks).
        const char *step_env = getenv("DPT_STEP");
        const int dynamic = params->engine == DPT_ENGINE_PTHREADS && tr->nth > 1 &&
                            !tr->split_all && !(step_env && strcmp(step_env, "barrier") == 0);
        tr->strategy = dynamic ? &dpt_step_dynamic : &dpt_step_sliced;
        if (dynamic) {
            tr->dyn = dpt_alloc_aligned(sizeof *tr->dyn);
            if (!tr->dyn ||
                !(tr->dyn->claim = dpt_alloc_aligned(tr->nth * sizeof *tr->dyn->claim)) ||
                !(tr->dyn->backoff = dpt_alloc_aligned(tr->nth * sizeof *tr->dyn->backoff)) ||
                !(tr->dyn->away = dpt_alloc_aligned(tr->nth * sizeof *tr->dyn->away)) ||
                !(tr->dyn->resume = dpt_alloc_aligned(tr->nth * sizeof *tr->dyn->resume)) ||
                !(tr->dyn->gdone = dpt_alloc_aligned(tr->nth * sizeof *tr->dyn->gdone)) ||
                !(tr->dyn->gsize = dpt_calloc(tr->nth, sizeof *tr->dyn->gsize))) {
                st = dpt_error(DPT_ERR_NOMEM, "out of memory allocating the trainer's buffers");
                goto cleanup;
            }
            atomic_init(&tr->dyn->retired, 0);
            atomic_init(&tr->dyn->merged, 0);
            atomic_init(&tr->dyn->merged_rows, 0);
        }
        if ((st = dpt_batch_workspace_create(net, params->batch, &tr->bws)) != DPT_OK)
            goto cleanup;
        dpt_workspace_set_precision(tr->bws, params->precision); // the twin copies it
        // split_all: the operands every worker multiplies by its own columns are packed once, by
        // the workers that computed them, and shared (made for the widest worker's products).
        if (tr->split_all) {
            size_t cols[DPT_MAX_LAYERS + 1];
            dpt_split_widest(tr->nth, L, tr->row_lo, tr->row_hi, cols);
            if ((st = dpt_batch_workspace_images(net, tr->bws, cols)) != DPT_OK)
                goto cleanup;
        }
        if (tr->split_first &&
            (st = dpt_batch_workspace_twin(net, tr->bws, 1, &tr->bws2)) != DPT_OK)
            goto cleanup;
    }
    if (params->reproducible) {
        // One block, so the micro-shard gradients can be gathered across processes in place.
        tr->rgrad_block = dpt_alloc_aligned(DPT_REPRO_SHARDS * tr->n_params * sizeof(float));
        if (!tr->rgrad_block) {
            st = dpt_error(DPT_ERR_NOMEM, "out of memory allocating %d micro-shard gradients",
                           DPT_REPRO_SHARDS);
            goto cleanup;
        }
        for (size_t j = 0; j < DPT_REPRO_SHARDS; j++)
            tr->rgrad[j] = tr->rgrad_block + j * tr->n_params;
    }
    if (params->comm && params->comm->size > 1) {
        tr->x_counts = dpt_calloc((size_t)params->comm->size, sizeof *tr->x_counts);
        tr->x_displs = dpt_calloc((size_t)params->comm->size, sizeof *tr->x_displs);
        if (!tr->x_counts || !tr->x_displs) {
            st = dpt_error(DPT_ERR_NOMEM, "out of memory for %d processes", params->comm->size);
            goto cleanup;
        }
    }
    if (params->engine == DPT_ENGINE_PTHREADS) {
        st = dpt_topo_place(tr->topo, params->pin, tr->nth, tr->pu);
        if (st != DPT_OK)
            goto cleanup;
    } else {
        for (size_t t = 0; t < tr->nth; t++)
            tr->pu[t] = -1;
        omp_set_dynamic(0);
    }
    // Our workers are the parallelism: a BLAS thread pool on top would oversubscribe the cores.
    dpt_blas_single_thread();

    tr->team.engine = params->engine;
    tr->team.nth = tr->nth;
    if (params->engine == DPT_ENGINE_PTHREADS) {
        // A two-level barrier where the workers span several L3s, NUMA nodes or packages (or
        // in runs of neighbours past 8 workers in one): each group's arrivals stay within its
        // cache, and only one thread per group crosses. The dynamic step counts its phases'
        // items in the same groups.
        tr->group_of = dpt_calloc(tr->nth, sizeof *tr->group_of);
        if (!tr->group_of) {
            st = dpt_error(DPT_ERR_NOMEM, "out of memory allocating the trainer's buffers");
            goto cleanup;
        }
        tr->n_groups = dpt_topo_groups(tr->topo, tr->pu, tr->nth, tr->group_of);
        st = dpt_pool_create(tr->nth, tr->topo, tr->pu,
                             tr->nth > cores ? DPT_BARRIER_SPIN_OVERSUBSCRIBED
                                             : DPT_BARRIER_SPIN_DEFAULT,
                             tr->n_groups, tr->group_of, &tr->pool);
        if (st != DPT_OK)
            goto cleanup;
        tr->team.pool = tr->pool;
    }
    dpt_team_run(&tr->team, alloc_job, tr);
    for (size_t t = 0; t < tr->nth; t++) {
        if (tr->slots[t].status == DPT_ERR_SYSTEM) {
            st = dpt_error(DPT_ERR_SYSTEM, "the OpenMP runtime did not provide %zu threads",
                           tr->nth);
            goto cleanup;
        }
        if (tr->slots[t].status != DPT_OK) {
            st = dpt_error(DPT_ERR_NOMEM, "out of memory allocating worker %zu's buffers", t);
            goto cleanup;
        }
    }
    if (tr->pool && dpt_pool_bind_failures(tr->pool) > 0)
        add_warning(tr, "could not bind %zu of %zu worker threads to their cores",
                    dpt_pool_bind_failures(tr->pool), tr->nth);
    // At the generic level every worker calls the BLAS, which maps its own buffer per calling
    // thread and, under a memory limit too tight for it, would retry forever (gemm_impl.h).
    size_t need, left;
    if (!dpt_gemm_rows_available() && !dpt_blas_headroom(tr->nth, &need, &left)) {
        st = dpt_error(DPT_ERR_NOMEM,
                       "out of memory: the BLAS needs about %zu MiB for %zu threads' buffers, "
                       "%zu MiB are left under the process's memory limit (ulimit -v / -d)",
                       need >> 20, tr->nth, left >> 20);
        goto cleanup;
    }
    st = dpt_schedule_init(sched, tr->n_params);
    if (st != DPT_OK)
        goto cleanup;
    *out = tr;
    return DPT_OK;
cleanup:
    dpt_trainer_destroy(tr);
    return st;
}

void dpt_trainer_destroy(struct dpt_trainer *tr)
{
    if (!tr)
        return;
    dpt_pool_destroy(tr->pool);
    for (size_t t = 0; tr->grad && t < tr->nth; t++)
        dpt_free_aligned(tr->grad[t]);
    for (size_t t = 0; tr->ws && t < tr->nth; t++)
        dpt_workspace_destroy(tr->ws[t]);
    dpt_free_aligned(tr->rgrad_block);
    dpt_workspace_destroy(tr->bws2);
    dpt_workspace_destroy(tr->bws);
    for (size_t t = 0; tr->xbuf && t < 2 * tr->nth; t++)
        dpt_free_aligned(tr->xbuf[t]);
    dpt_free(tr->xbuf);
    dpt_free_aligned((void *)tr->xrows);
    if (tr->dyn) {
        dpt_free_aligned(tr->dyn->claim);
        dpt_free_aligned(tr->dyn->backoff);
        dpt_free_aligned(tr->dyn->away);
        dpt_free_aligned(tr->dyn->resume);
        dpt_free_aligned(tr->dyn->gdone);
        dpt_free(tr->dyn->gsize);
    }
    dpt_free_aligned(tr->dyn);
    dpt_free(tr->row_lo);
    dpt_free(tr->row_hi);
    dpt_free(tr->x_counts);
    dpt_free(tr->x_displs);
    dpt_free(tr->grad);
    dpt_free(tr->ws);
    dpt_free(tr->pu);
    dpt_free(tr->group_of);
    dpt_free_aligned(tr->slots);
    dpt_free(tr->wtime);
    dpt_free_aligned(tr->gsum);
    dpt_free(tr->chunk_sq);
    dpt_free_aligned((void *)tr->srcs);
    dpt_free(tr->perm);
    dpt_free(tr->eval_loss);
    dpt_free(tr->eval_correct);
    dpt_free_aligned(tr->best);
    dpt_topo_destroy(tr->topo);
    dpt_free(tr);
}

size_t dpt_trainer_threads(const struct dpt_trainer *tr)
{
    return tr->nth;
}

enum dpt_grad_mode dpt_trainer_grad_mode(const struct dpt_trainer *tr)
{
    return tr->sliced ? DPT_GRAD_SLICED : DPT_GRAD_PRIVATE;
}

size_t dpt_trainer_barrier_groups(const struct dpt_trainer *tr)
{
    return tr->n_groups ? tr->n_groups : 1;
}

uint64_t dpt_trainer_stand_downs(const struct dpt_trainer *tr)
{
    return tr->dyn ? atomic_load_explicit(&tr->dyn->retired, memory_order_relaxed) : 0;
}

const char *dpt_trainer_step_name(const struct dpt_trainer *tr)
{
    return tr->strategy->name;
}

const char *dpt_trainer_decomposition(const struct dpt_trainer *tr)
{
    return tr->split_all     ? "hidden layers by features"
           : tr->split_first ? "layer 1 by features"
                             : "by samples";
}

enum dpt_precision dpt_trainer_precision(const struct dpt_trainer *tr)
{
    return tr->p.precision;
}

int dpt_trainer_fused_step(const struct dpt_trainer *tr)
{
    return tr->fused;
}

const char *dpt_trainer_warnings(const struct dpt_trainer *tr)
{
    return tr->warnings;
}

const int *dpt_trainer_placement(const struct dpt_trainer *tr)
{
    return tr->pu;
}

const struct dpt_timing *dpt_trainer_worker_timing(const struct dpt_trainer *tr)
{
    return tr->wtime;
}

uint64_t dpt_trainer_steps(const struct dpt_trainer *tr)
{
    return tr->steps;
}

void dpt_trainer_request_stop(struct dpt_trainer *tr)
{
    // relaxed: a lone flag; worker 0 samples it once per step and publishes it via barrier B.
    atomic_store_explicit(&tr->stop_request, 1, memory_order_relaxed);
}

// ---- data checks ----

static enum dpt_status check_data(const struct dpt_trainer *tr, const struct dpt_dataset *ds,
                                  const char *what)
{
    const struct dpt_net_spec *spec = dpt_net_spec(tr->net);
    const size_t n_out = spec->sizes[spec->n_layers];
    if (dpt_dataset_n_in(ds) != spec->sizes[0])
        return dpt_error(DPT_ERR_INVALID,
                         "%s data: %zu features per sample, but the input layer has %zu "
                         "(layers[0])",
                         what, dpt_dataset_n_in(ds), spec->sizes[0]);
    if (dpt_dataset_task(ds) == DPT_TASK_CLASSIFY) {
        const size_t k = dpt_dataset_n_out(ds);
        if (n_out == 1 ? k > 2 : k > n_out)
            return dpt_error(DPT_ERR_INVALID,
                             "%s data: %zu classes do not fit an output layer of %zu "
                             "(layers[%zu])",
                             what, k, n_out, spec->n_layers);
    } else if (dpt_dataset_n_out(ds) != n_out) {
        return dpt_error(DPT_ERR_INVALID,
                         "%s data: %zu targets per sample, but the output layer has %zu "
                         "(layers[%zu])",
                         what, dpt_dataset_n_out(ds), n_out, spec->n_layers);
    }
    return DPT_OK;
}

// ---- evaluation ----

enum dpt_status dpt_trainer_evaluate(struct dpt_trainer *tr, const struct dpt_dataset *ds,
                                     double *loss, double *acc)
{
    if (!tr || !ds)
        return dpt_error(DPT_ERR_INVALID, "evaluate: trainer or data set is NULL");
    enum dpt_status st = check_data(tr, ds, "evaluation");
    if (st != DPT_OK)
        return st;
    const size_t n = dpt_dataset_n(ds);
    if (n == 0)
        return dpt_error(DPT_ERR_INVALID, "evaluate: the data set is empty");
    const size_t n_blocks = (n + DPT_EVAL_ROWS - 1) / DPT_EVAL_ROWS;
    if (n_blocks > tr->eval_cap) {
        double *l = dpt_realloc(tr->eval_loss, n_blocks * sizeof *l);
        if (!l)
            return dpt_error(DPT_ERR_NOMEM, "out of memory for evaluation");
        tr->eval_loss = l;
        size_t *c = dpt_realloc(tr->eval_correct, n_blocks * sizeof *c);
        if (!c)
            return dpt_error(DPT_ERR_NOMEM, "out of memory for evaluation");
        tr->eval_correct = c;
        tr->eval_cap = n_blocks;
    }
    tr->eval_ds = ds;
    tr->job_status = DPT_OK;
    dpt_team_run(&tr->team, eval_job, tr);
    if (tr->job_status != DPT_OK)
        return dpt_error(tr->job_status,
                         "evaluate: the OpenMP runtime did not provide %zu "
                         "threads",
                         tr->nth);
    double l = 0.0;
    size_t c = 0;
    for (size_t k = 0; k < n_blocks; k++) { // fixed order: the same result for every T
        l += tr->eval_loss[k];
        c += tr->eval_correct[k];
    }
    if (loss)
        *loss = l / (double)n;
    if (acc)
        *acc = dpt_dataset_task(ds) == DPT_TASK_CLASSIFY ? (double)c / (double)n : NAN;
    return DPT_OK;
}

// ---- epochs ----

// The first layer (1-based) whose parameters hold a non-finite value, or 0.
static size_t first_bad_layer(const struct dpt_net *net)
{
    const struct dpt_net_spec *spec = dpt_net_spec(net);
    const float *p = dpt_net_params_const(net);
    for (size_t l = 1; l <= spec->n_layers; l++) {
        size_t w, b;
        dpt_net_layer_offsets(net, l, &w, &b);
        for (size_t i = 0; i < spec->sizes[l] * spec->sizes[l - 1]; i++)
            if (!isfinite(p[w + i]))
                return l;
        for (size_t i = 0; i < spec->sizes[l]; i++)
            if (!isfinite(p[b + i]))
                return l;
    }
    return 0;
}

enum dpt_status dpt_trainer_epoch(struct dpt_trainer *tr, const struct dpt_dataset *train,
                                  const struct dpt_dataset *val, const struct dpt_dataset *test,
                                  struct dpt_epoch_stats *st)
{
    enum dpt_status s;
    if (!tr || !train || !st)
        return dpt_error(DPT_ERR_INVALID, "epoch: trainer, data set or stats is NULL");
    s = check_data(tr, train, "training");
    if (s != DPT_OK)
        return s;
    const size_t n = dpt_dataset_n(train);
    if (n == 0)
        return dpt_error(DPT_ERR_INVALID, "training data: the data set is empty");
    if (tr->in_epoch && n != tr->epoch_n)
        return dpt_error(DPT_ERR_INVALID,
                         "training data: %zu samples, but the interrupted epoch had %zu", n,
                         tr->epoch_n);
    if (n > tr->perm_cap) {
        size_t *p = dpt_realloc(tr->perm, n * sizeof *p);
        if (!p)
            return dpt_error(DPT_ERR_NOMEM, "out of memory for a permutation of %zu samples", n);
        tr->perm = p;
        tr->perm_cap = n;
    }
    if (!tr->fit_running)
        tr->fit_start = dpt_trainer_now();
    // A fresh seeded permutation every epoch, partitioned into batches. An interrupted epoch
    // regenerates its permutation from the stream's state at its start and goes on from the next
    // batch, which makes a resumed run bitwise identical to an uninterrupted one.
    if (!tr->in_epoch) {
        tr->epoch_rng = tr->rng;
        tr->epoch++;
        tr->first_batch = 0;
        tr->epoch_loss = 0.0;
        tr->epoch_correct = 0;
        tr->epoch_seen = 0;
    } else {
        tr->rng = tr->epoch_rng;
        tr->first_batch = tr->next_batch;
    }
    for (size_t i = 0; i < n; i++)
        tr->perm[i] = i;
    dpt_rng_shuffle(&tr->rng, tr->perm, n);
    const size_t B = tr->p.batch;
    tr->epoch_samples = tr->p.drop_last && n >= B ? n - n % B : n;
    tr->n_batches = (tr->epoch_samples + B - 1) / B;
    tr->ds = train;
    tr->stop_now = 0;
    tr->stop_requested = 0;
    tr->diverged = 0;
    tr->job_status = DPT_OK;
    tr->x_status = DPT_OK;
    const size_t seen_before = tr->epoch_seen;

    if (tr->strategy->reset)
        tr->strategy->reset(tr);
    const double t0 = dpt_trainer_now();
    dpt_team_run(&tr->team, epoch_job, tr);
    const double secs = dpt_trainer_now() - t0;
    tr->steps += tr->steps_done;
    tr->next_batch = tr->first_batch + tr->steps_done;
    tr->in_epoch = tr->next_batch < tr->n_batches && tr->job_status == DPT_OK;
    tr->epoch_n = n;
    if (tr->stop_requested) // honoured: a later fit starts afresh
        atomic_store_explicit(&tr->stop_request, 0, memory_order_relaxed);

    memset(st, 0, sizeof *st);
    st->epoch = tr->epoch;
    st->steps = tr->steps;
    st->n_samples = tr->epoch_seen;
    st->partial = tr->in_epoch;
    st->seconds = secs;
    st->samples_per_s = secs > 0 ? (double)(tr->epoch_seen - seen_before) / secs : 0.0;
    st->train_loss = tr->epoch_seen ? tr->epoch_loss / (double)tr->epoch_seen : NAN;
    st->train_acc = dpt_dataset_task(train) == DPT_TASK_CLASSIFY && tr->epoch_seen
                        ? (double)tr->epoch_correct / (double)tr->epoch_seen
                        : NAN;
    for (size_t t = 0; t < tr->nth; t++) {
        st->time.compute_s += tr->wtime[t].compute_s / (double)tr->nth;
        st->time.wait_s += tr->wtime[t].wait_s / (double)tr->nth;
        st->time.reduce_s += tr->wtime[t].reduce_s / (double)tr->nth;
        st->time.update_s += tr->wtime[t].update_s / (double)tr->nth;
    }
    st->val_loss = st->val_acc = st->test_loss = st->test_acc = NAN;
    if (tr->job_status == DPT_ERR_DIVERGED) {
        const size_t layer = first_bad_layer(tr->net);
        char where[64] = "";
        if (layer)
            snprintf(where, sizeof where, "; first non-finite parameters in layer %zu", layer);
        return dpt_error(DPT_ERR_DIVERGED,
                         "training diverged: the loss became non-finite at epoch %llu, step %zu "
                         "of %zu%s",
                         (unsigned long long)tr->epoch, tr->diverged_step, tr->n_batches, where);
    }
    if (tr->job_status != DPT_OK && tr->x_status != DPT_OK)
        return dpt_error(tr->job_status,
                         "exchange between processes failed at epoch %llu, step %zu: %s",
                         (unsigned long long)tr->epoch, tr->diverged_step, tr->x_msg);
    if (tr->job_status != DPT_OK)
        return dpt_error(tr->job_status, "the OpenMP runtime did not provide %zu threads", tr->nth);
    if (st->partial)
        return DPT_OK;
    const double te = dpt_trainer_now();
    if (val) {
        s = dpt_trainer_evaluate(tr, val, &st->val_loss, &st->val_acc);
        if (s != DPT_OK)
            return s;
    }
    if (test) {
        s = dpt_trainer_evaluate(tr, test, &st->test_loss, &st->test_acc);
        if (s != DPT_OK)
            return s;
    }
    st->eval_s = dpt_trainer_now() - te;
    return DPT_OK;
}

// The rule that ended a run (tr->finished): the target loss, else patience.
static enum dpt_stop_reason finished_reason(const struct dpt_trainer *tr)
{
    return tr->p.patience > 0 && tr->since_best >= tr->p.patience ? DPT_STOP_PATIENCE
                                                                  : DPT_STOP_TARGET_LOSS;
}

enum dpt_status dpt_trainer_fit(struct dpt_trainer *tr, const struct dpt_dataset *train,
                                const struct dpt_dataset *val, const struct dpt_dataset *test,
                                struct dpt_epoch_stats *last)
{
    enum dpt_status s = DPT_OK;
    struct dpt_epoch_stats st;
    int failed = 0; // interrupted or failed: the best parameters are not restored
    if (!tr || !train)
        return dpt_error(DPT_ERR_INVALID, "fit: trainer or data set is NULL");
    tr->stop_reason = DPT_STOP_ERROR;
    if (tr->p.patience > 0 && !val)
        return dpt_error(DPT_ERR_INVALID, "patience: early stopping needs a validation set");
    if (tr->p.patience > 0 && !tr->best) {
        tr->best = dpt_alloc_aligned(tr->n_params * sizeof(float));
        if (!tr->best)
            return dpt_error(DPT_ERR_NOMEM, "out of memory for the best parameters");
    }
    tr->fit_start = dpt_trainer_now();
    tr->fit_running = 1;
    // No epoch run (max_epochs reached already, or 0): epoch 0, no figures.
    memset(&st, 0, sizeof st);
    st.train_loss = st.train_acc = st.val_loss = st.val_acc = NAN;
    st.test_loss = st.test_acc = NAN;
    st.steps = tr->steps;
    enum dpt_stop_reason why = tr->finished ? finished_reason(tr) : DPT_STOP_MAX_EPOCHS;
    while (!tr->finished && (tr->in_epoch || tr->epoch < tr->p.max_epochs)) {
        s = dpt_trainer_epoch(tr, train, val, test, &st);
        if (s != DPT_OK) {
            why = DPT_STOP_ERROR;
            failed = 1;
            break;
        }
        if (st.partial) {
            why = DPT_STOP_TIME_LIMIT; // the time limit ends training with the epoch open
            if (tr->stop_requested) {
                s = dpt_error(DPT_ERR_INTERRUPTED,
                              "training stopped at epoch %llu, step %zu of %zu",
                              (unsigned long long)tr->epoch, tr->next_batch, tr->n_batches);
                why = DPT_STOP_INTERRUPTED;
                failed = 1;
            }
            break;
        }
        if (tr->p.patience > 0) {
            if (st.val_loss < tr->best_val) {
                tr->best_val = st.val_loss;
                tr->since_best = 0;
                tr->has_best = 1;
                memcpy(tr->best, dpt_net_params(tr->net), tr->n_params * sizeof(float));
            } else {
                tr->since_best++;
            }
        }
        // The stopping rules are decided before the callback, so a checkpoint written from it
        // records whether the run is over.
        tr->finished = st.train_loss <= tr->p.target_loss ||
                       (tr->p.patience > 0 && tr->since_best >= tr->p.patience);
        if (tr->finished)
            why = st.train_loss <= tr->p.target_loss ? DPT_STOP_TARGET_LOSS : DPT_STOP_PATIENCE;
        if (tr->p.on_epoch && tr->p.on_epoch(&st, tr->p.user) != 0) {
            if (!tr->finished)
                why = DPT_STOP_CALLBACK;
            break;
        }
        if (tr->finished)
            break;
        if (tr->stop_now) { // a stop on the epoch's last step
            why = tr->epoch >= tr->p.max_epochs ? DPT_STOP_MAX_EPOCHS : DPT_STOP_TIME_LIMIT;
            if (tr->stop_requested) {
                s = dpt_error(DPT_ERR_INTERRUPTED, "training stopped after epoch %llu",
                              (unsigned long long)tr->epoch);
                why = DPT_STOP_INTERRUPTED;
                failed = 1;
            }
            break;
        }
        why = DPT_STOP_MAX_EPOCHS;
    }
    tr->fit_running = 0;
    tr->stop_reason = why;
    if (!failed && tr->has_best)
        memcpy(dpt_net_params(tr->net), tr->best, tr->n_params * sizeof(float));
    if (last)
        *last = st;
    return s;
}

const char *dpt_stop_reason_name(enum dpt_stop_reason r)
{
    switch (r) {
    case DPT_STOP_NONE:
        return "none";
    case DPT_STOP_MAX_EPOCHS:
        return "max_epochs";
    case DPT_STOP_TARGET_LOSS:
        return "target_loss";
    case DPT_STOP_PATIENCE:
        return "patience";
    case DPT_STOP_TIME_LIMIT:
        return "time_limit";
    case DPT_STOP_INTERRUPTED:
        return "interrupted";
    case DPT_STOP_CALLBACK:
        return "callback";
    case DPT_STOP_ERROR:
        return "error";
    }
    return "unknown";
}

enum dpt_stop_reason dpt_trainer_stop_reason(const struct dpt_trainer *tr)
{
    return tr ? tr->stop_reason : DPT_STOP_NONE;
}

uint64_t dpt_trainer_best_epoch(const struct dpt_trainer *tr)
{
    if (!tr || !tr->has_best)
        return 0;
    // since_best counts the completed epochs after the best one; an open epoch is not counted.
    const uint64_t done = tr->epoch - (tr->in_epoch ? 1 : 0);
    return done > tr->since_best ? done - tr->since_best : 0;
}

// ---- checkpoint state ----

void dpt_trainer_get_state(const struct dpt_trainer *tr, struct dpt_trainer_state *st)
{
    memset(st, 0, sizeof *st);
    st->epoch = tr->epoch;
    st->steps = tr->steps;
    st->in_epoch = tr->in_epoch;
    const struct dpt_rng *r = tr->in_epoch ? &tr->epoch_rng : &tr->rng;
    memcpy(st->rng, r->s, sizeof st->rng);
    if (tr->in_epoch) {
        st->next_batch = tr->next_batch;
        st->epoch_n = tr->epoch_n;
        st->epoch_loss = tr->epoch_loss;
        st->epoch_correct = tr->epoch_correct;
        st->epoch_seen = tr->epoch_seen;
    }
    st->best_val = tr->best_val;
    st->since_best = tr->since_best;
    st->has_best = tr->has_best;
    st->finished = tr->finished;
}

enum dpt_status dpt_trainer_set_state(struct dpt_trainer *tr, const struct dpt_trainer_state *st)
{
    if (!tr || !st)
        return dpt_error(DPT_ERR_INVALID, "set_state: trainer or state is NULL");
    if (st->in_epoch && (st->epoch == 0 || st->epoch_n == 0 || st->next_batch == 0 ||
                         st->epoch_seen > st->epoch_n || st->epoch_correct > st->epoch_seen))
        return dpt_error(DPT_ERR_INVALID, "trainer state: inconsistent interrupted epoch");
    // Counters beyond 2^53 cannot come from a run (a step a nanosecond for 100 days is 2^53) and
    // would wrap or lose exactness (the schedules' step count is a double): a corrupt state.
    const uint64_t max = (uint64_t)1 << 53;
    if (st->epoch > max || st->steps > max || st->since_best > st->epoch ||
        (st->in_epoch && (st->epoch_n > max || st->next_batch > st->epoch_n)))
        return dpt_error(DPT_ERR_INVALID,
                         "trainer state: counters out of range (epoch %" PRIu64 ", step %" PRIu64
                         ", epochs since best %" PRIu64 "; at most 2^53)",
                         st->epoch, st->steps, st->since_best);
    if ((st->rng[0] | st->rng[1] | st->rng[2] | st->rng[3]) == 0)
        return dpt_error(DPT_ERR_INVALID, "trainer state: the RNG state is all zero");
    if (st->has_best && tr->p.patience == 0)
        return dpt_error(DPT_ERR_INVALID,
                         "trainer state: has best parameters but early stopping is off");
    tr->epoch = st->epoch;
    tr->steps = st->steps;
    tr->in_epoch = st->in_epoch != 0;
    if (tr->in_epoch) {
        memcpy(tr->epoch_rng.s, st->rng, sizeof st->rng);
        tr->next_batch = (size_t)st->next_batch;
        tr->epoch_n = (size_t)st->epoch_n;
        tr->epoch_loss = st->epoch_loss;
        tr->epoch_correct = (size_t)st->epoch_correct;
        tr->epoch_seen = (size_t)st->epoch_seen;
    } else {
        memcpy(tr->rng.s, st->rng, sizeof st->rng);
    }
    tr->best_val = st->best_val;
    tr->since_best = (size_t)st->since_best;
    tr->has_best = st->has_best != 0;
    tr->finished = st->finished != 0;
    return DPT_OK;
}

const float *dpt_trainer_best_params(const struct dpt_trainer *tr)
{
    return tr->has_best ? tr->best : NULL;
}

enum dpt_status dpt_trainer_set_best_params(struct dpt_trainer *tr, const float *params, size_t n)
{
    if (!tr || !params || n != tr->n_params)
        return dpt_error(DPT_ERR_INVALID, "best parameters: expected %zu floats, got %zu",
                         tr ? tr->n_params : 0, n);
    if (!tr->best) {
        tr->best = dpt_alloc_aligned(tr->n_params * sizeof(float));
        if (!tr->best)
            return dpt_error(DPT_ERR_NOMEM, "out of memory for the best parameters");
    }
    memcpy(tr->best, params, n * sizeof(float));
    tr->has_best = 1;
    return DPT_OK;
}
