// The scaling proxy (proxy_impl.h): one T-thread training step run worker by worker on one core,
// the cold data of each timed worker evicted first, and the model that turns its times into a
// T-thread rate.
//
// What each worker reads cold (another core wrote it since this worker last read it):
//   sliced  phase 1: the other workers' rows of W_l and b_l (they updated them in the last step),
//                    with split_first the other workers' columns of layer 1's activations of its
//                    shard; the batch's rows of the data set it gathers (no cache holds them)
//           phase 2: the other shards' rows of Delta_l[:, its rows] and of A_(l-1) (written in
//                    phase 1 by their workers), and of the gathered inputs for layer 1
//   private phase 1: the parameters outside its slice (updated by the other workers); its rows
//                    of the data set
//           phase 2: its slice of every other worker's private gradient
// The proxy evicts exactly these ranges (clflush) before it times a worker's phase, and counts
// them, for every worker, as the step's cold bytes. Everything else a worker touches is its own
// (its rows of the parameters and of the schedule state, its workspace, its shard's rows) and is
// left where this core's caches hold it. The data set's rows are left alone: the data set is far
// larger than the caches (60000 rows by default) and batches draw its rows at random, so they
// are cold by themselves, after the same prefetch the trainer issues.
#include <math.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__SSE2__) || defined(__x86_64__)
#include <emmintrin.h>
#include <xmmintrin.h>
#define DPT_PROXY_X86 1
#elif defined(__aarch64__) && defined(__GNUC__)
#define DPT_PROXY_ARM64 1 // DC CIVAC, DMB and FPCR.FZ in place of CLFLUSH, MFENCE and MXCSR
#endif

#include "core/error_impl.h"
#include "core/net_impl.h"
#include "core/sliced_impl.h"
#include "pool_impl.h"
#include "proxy_impl.h"
#include "trainer_impl.h"

// The trainer's constants (src/parallel/trainer.c): floats per reduce/update chunk, and the cap
// on rows per GEMM block inside a shard.
#define PROXY_CHUNK     4096
#define PROXY_MICRO_MAX 256

struct dpt_proxy {
    struct dpt_net *net;
    struct dpt_schedule *sched;
    struct dpt_proxy_params p;
    size_t n0, n_params;
    float *x;        // samples x n0, the synthetic data set
    int32_t *labels; // samples
    size_t *perm[2]; // this epoch's and the next epoch's order of the rows
    size_t epoch_step, steps_per_epoch;
    struct dpt_rng rng;
    struct dpt_workspace *ws; // every simulated worker's own workspace (one core)
    uint64_t step;            // schedule steps taken
    double clock_s;           // what reading the thread's CPU clock adds to a timed interval
};

// One thread count's buffers: what the trainer allocates for T workers, once each (the simulated
// workers run one after another on this core, so the buffers that are each worker's own copy of
// the same data, such as split_first's inputs, are shared).
struct run {
    size_t T, L, m;
    int sliced, split_first, split_all, fused, in_place, needs_norm;
    size_t *row_lo, *row_hi;          // sliced: T x (L + 1)
    struct dpt_workspace *bws, *bws2; // sliced: the batch workspace and its twin (split_first)
    float *xbuf[2];                   // split_first, inputs not read in place: by step parity
    const float **xrows;              // split_first, in place: 2 x batch row pointers
    float *gsum;                      // sliced, unfused: the gradient rows
    float **grad;                     // private: T private gradients
    int *has_grad;                    // private: the shard of worker t was non-empty
    const float **srcs;               // private: T source pointers
    double *chunk_sq;                 // private: per-chunk squared norms
    double *sq;                       // sliced: per-worker squared norms
    size_t n_chunks;
    size_t *kind;  // T: the kind of each worker
    size_t *rep;   // kinds: the worker timed for each kind
    size_t *count; // kinds: workers of each kind
    size_t n_kinds;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// CPU time of the calling thread: a worker's phase is timed by it, so that the time other
// processes take this core from the proxy (on a shared machine, most of the spread of wall-clock
// times) is not counted as the worker's. The model assumes a core per worker. Reading this clock
// is a system call (about 1 us in a KVM guest), so what it adds to an interval is measured once
// (clock_cost) and taken off every phase.
static double thread_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return now_s();
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline size_t split(size_t n, size_t t, size_t nth)
{
    return (size_t)(((unsigned long long)n * t) / nth);
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Median of v[0..n) (n >= 1), reordered in place.
static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The median of what an empty interval measures on the thread's CPU clock.
static double clock_cost(void)
{
    enum { N = 63 };
    double v[N];
    for (size_t i = 0; i < N; i++) {
        const double a = thread_s();
        v[i] = thread_s() - a;
    }
    return median(v, N);
}

struct dpt_proxy_params dpt_proxy_params_default(void)
{
    struct dpt_proxy_params p;
    memset(&p, 0, sizeof p);
    p.batch = 64;
    p.grad_mode = DPT_GRAD_AUTO;
    p.samples = 60000;
    p.warmup = 3;
    p.steps = 20;
    p.seed = 1;
    p.flush = 1;
    return p;
}

// ---- the proxy object ----

void dpt_proxy_destroy(struct dpt_proxy *px)
{
    if (!px)
        return;
    dpt_workspace_destroy(px->ws);
    dpt_free(px->perm[0]);
    dpt_free(px->perm[1]);
    dpt_free(px->labels);
    dpt_free_aligned(px->x);
    dpt_schedule_destroy(px->sched);
    dpt_net_destroy(px->net);
    dpt_free(px);
}

enum dpt_status dpt_proxy_create(const struct dpt_net_spec *spec, const char *schedule,
                                 const struct dpt_proxy_params *p, struct dpt_proxy **out)
{
    if (!out)
        return dpt_error(DPT_ERR_INVALID, "proxy: out is NULL");
    *out = NULL;
    if (!spec || !schedule || !p)
        return dpt_error(DPT_ERR_INVALID, "proxy: spec, schedule or params is NULL");
    if (p->batch == 0 || p->batch > ((size_t)1 << 20))
        return dpt_error(DPT_ERR_INVALID, "batch: %zu is not in 1..2^20", p->batch);
    if (p->samples < p->batch || p->samples > ((size_t)1 << 30))
        return dpt_error(DPT_ERR_INVALID,
                         "samples: %zu must be at least the batch (%zu) and at most 2^30",
                         p->samples, p->batch);
    if (p->steps == 0 || p->steps > 100000 || p->warmup > 100000)
        return dpt_error(DPT_ERR_INVALID, "steps: must be in 1..100000, warmup at most 100000");
    if ((unsigned)p->grad_mode > DPT_GRAD_SLICED)
        return dpt_error(DPT_ERR_INVALID, "proxy: grad_mode: invalid value %d", (int)p->grad_mode);
    enum dpt_status st;
    struct dpt_proxy *px = dpt_calloc(1, sizeof *px);
    if (!px)
        return dpt_error(DPT_ERR_NOMEM, "out of memory allocating the proxy");
    px->p = *p;
    if ((st = dpt_net_create(spec, &px->net)) != DPT_OK ||
        (st = dpt_net_init(px->net, DPT_INIT_AUTO, 0.0f, p->seed)) != DPT_OK ||
        (st = p->epoch_steps ? dpt_schedule_parse_epochs(schedule, p->epoch_steps, &px->sched)
                             : dpt_schedule_parse(schedule, &px->sched)) != DPT_OK)
        goto fail;
    px->n0 = spec->sizes[0];
    px->n_params = dpt_net_n_params(px->net);
    if ((st = dpt_schedule_init(px->sched, px->n_params)) != DPT_OK)
        goto fail;
    size_t floats;
    if (dpt_mul_overflow(p->samples, px->n0, &floats) || floats > ((size_t)1 << 34)) {
        st = dpt_error(DPT_ERR_RANGE, "samples: %zu of %zu features are too many", p->samples,
                       px->n0);
        goto fail;
    }
    px->x = dpt_alloc_aligned(floats * sizeof(float));
    px->labels = dpt_calloc(p->samples, sizeof *px->labels);
    px->perm[0] = dpt_calloc(p->samples, sizeof *px->perm[0]);
    px->perm[1] = dpt_calloc(p->samples, sizeof *px->perm[1]);
    if (!px->x || !px->labels || !px->perm[0] || !px->perm[1]) {
        st = dpt_error(DPT_ERR_NOMEM, "out of memory allocating the proxy's data set (%zu MiB)",
                       floats * sizeof(float) >> 20);
        goto fail;
    }
    dpt_rng_seed(&px->rng, p->seed);
    for (size_t i = 0; i < floats; i++)
        px->x[i] = (float)dpt_rng_uniform(&px->rng);
    const size_t n_out = spec->sizes[spec->n_layers], classes = n_out > 1 ? n_out : 2;
    for (size_t i = 0; i < p->samples; i++)
        px->labels[i] = (int32_t)dpt_rng_below(&px->rng, classes);
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < p->samples; i++)
            px->perm[k][i] = i;
        dpt_rng_shuffle(&px->rng, px->perm[k], p->samples);
    }
    px->steps_per_epoch = p->samples / p->batch;
    dpt_blas_single_thread(); // as the trainer: one BLAS thread per worker
    px->clock_s = clock_cost();
    const size_t mb = p->batch < PROXY_MICRO_MAX ? p->batch : PROXY_MICRO_MAX;
    if ((st = dpt_workspace_create(px->net, mb, &px->ws)) != DPT_OK)
        goto fail;
    *out = px;
    return DPT_OK;
fail:
    dpt_proxy_destroy(px);
    return st;
}

// The rows of batch k steps ahead (0: this step, 1: the next), an endless stream of epochs in
// full batches: two shuffled orders, the next one reshuffled when an epoch begins.
static const size_t *batch_rows(const struct dpt_proxy *px, size_t ahead)
{
    size_t s = px->epoch_step + ahead;
    const size_t *perm = px->perm[0];
    if (s >= px->steps_per_epoch) {
        s -= px->steps_per_epoch;
        perm = px->perm[1];
    }
    return perm + s * px->p.batch;
}

static void next_step(struct dpt_proxy *px)
{
    if (++px->epoch_step < px->steps_per_epoch)
        return;
    px->epoch_step = 0;
    size_t *t = px->perm[0];
    px->perm[0] = px->perm[1];
    px->perm[1] = t;
    dpt_rng_shuffle(&px->rng, px->perm[1], px->p.samples);
}

// ---- one thread count's set-up ----

static void run_free(struct run *r)
{
    dpt_free(r->row_lo);
    dpt_free(r->row_hi);
    dpt_workspace_destroy(r->bws2);
    dpt_workspace_destroy(r->bws);
    dpt_free_aligned(r->xbuf[0]);
    dpt_free_aligned(r->xbuf[1]);
    dpt_free((void *)r->xrows);
    dpt_free_aligned(r->gsum);
    for (size_t t = 0; r->grad && t < r->T; t++)
        dpt_free_aligned(r->grad[t]);
    dpt_free(r->grad);
    dpt_free(r->has_grad);
    dpt_free((void *)r->srcs);
    dpt_free(r->chunk_sq);
    dpt_free(r->sq);
    dpt_free(r->kind);
    dpt_free(r->rep);
    dpt_free(r->count);
    memset(r, 0, sizeof *r);
}

// The trainer's choice of gradient mode for T threads in one process without reproducible mode
// (choose_grad_mode and inputs_in_place in trainer.c): sliced when the batch workspace, plus
// split_first's second layer-1 buffer and input copies, is no larger than T private gradients;
// layer 1 split by rows as dpt_split_first says.
static void choose_mode(const struct dpt_proxy *px, struct run *r)
{
    const struct dpt_net_spec *spec = dpt_net_spec(px->net);
    const size_t T = r->T, B = px->p.batch;
    r->in_place = dpt_gemm_rows_available();
    const int all = dpt_split_all(spec, T, B, dpt_split_all_env());
    int split = dpt_split_first(spec, T);
    if (all && !split)
        split = 2;
    size_t xbytes = 0, a1bytes = 0, copies = 0;
    if (split && (dpt_mul_overflow(B, spec->sizes[1], &a1bytes) ||
                  dpt_mul_overflow(a1bytes, sizeof(float), &a1bytes) ||
                  (!r->in_place && (dpt_mul_overflow(2 * T * B, px->n0, &copies) ||
                                    dpt_mul_overflow(copies, sizeof(float), &copies))) ||
                  dpt_add_overflow(copies, a1bytes, &xbytes)))
        xbytes = SIZE_MAX;
    size_t priv;
    if (dpt_mul_overflow(T, px->n_params * sizeof(float), &priv))
        priv = SIZE_MAX;
    dpt_choose_sliced(px->p.grad_mode, split, dpt_batch_workspace_bytes(px->net, B), xbytes, priv,
                      &r->sliced, &r->split_first);
    r->split_all = r->split_first && all;
    const unsigned f = px->sched->flags;
    r->needs_norm = (f & DPT_SCHEDULE_NEEDS_NORM) != 0;
    r->fused = r->sliced && (f & DPT_SCHEDULE_LINEAR) && !r->needs_norm && px->sched->rate != NULL;
}

// Floats of worker t's slice of the parameter vector in private mode (whole chunks, the last one
// short).
static size_t slice_floats(const struct run *r, size_t n_params, size_t t)
{
    const size_t lo = split(r->n_chunks, t, r->T) * PROXY_CHUNK,
                 hi = split(r->n_chunks, t + 1, r->T) * PROXY_CHUNK;
    return (hi < n_params ? hi : n_params) - (lo < n_params ? lo : n_params);
}

// Groups the workers into kinds with the same amount of work in each phase: the same shard size,
// and the same rows of every layer (sliced) or the same slice length (private).
static enum dpt_status find_kinds(const struct dpt_proxy *px, struct run *r)
{
    const size_t T = r->T, L1 = r->L + 1, m = r->m;
    r->kind = dpt_calloc(T, sizeof *r->kind);
    r->rep = dpt_calloc(T, sizeof *r->rep);
    r->count = dpt_calloc(T, sizeof *r->count);
    if (!r->kind || !r->rep || !r->count)
        return dpt_error(DPT_ERR_NOMEM, "out of memory in the proxy");
    r->n_kinds = 0;
    for (size_t t = 0; t < T; t++) {
        size_t k;
        for (k = 0; k < r->n_kinds; k++) {
            const size_t u = r->rep[k];
            int same = split(m, t + 1, T) - split(m, t, T) == split(m, u + 1, T) - split(m, u, T);
            if (r->sliced) {
                for (size_t l = 1; l <= r->L && same; l++)
                    same = r->row_hi[t * L1 + l] - r->row_lo[t * L1 + l] ==
                           r->row_hi[u * L1 + l] - r->row_lo[u * L1 + l];
            } else {
                same = same && slice_floats(r, px->n_params, t) == slice_floats(r, px->n_params, u);
            }
            if (same)
                break;
        }
        if (k == r->n_kinds)
            r->rep[r->n_kinds++] = t;
        r->kind[t] = k;
        r->count[k]++;
    }
    return DPT_OK;
}

// Refuses, before allocating, buffers for T workers larger than this machine's memory (as the
// trainer's check_memory does).
static enum dpt_status check_memory(const struct dpt_proxy *px, const struct run *r)
{
    const size_t pbytes = px->n_params * sizeof(float);
    size_t total = 0;
    if (r->sliced
            ? dpt_add_overflow(2 * dpt_batch_workspace_bytes(px->net, px->p.batch), pbytes, &total)
            : dpt_mul_overflow(pbytes, r->T, &total))
        return dpt_error(DPT_ERR_RANGE, "the buffers of %zu threads overflow", r->T);
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0 && (double)total > (double)pages * (double)page)
        return dpt_error(DPT_ERR_RANGE,
                         "%zu threads need %.1f GiB of gradients and workspaces, more than this "
                         "machine's memory",
                         r->T, (double)total / 1073741824.0);
    return DPT_OK;
}

static enum dpt_status run_setup(struct dpt_proxy *px, size_t T, struct run *r)
{
    const struct dpt_net_spec *spec = dpt_net_spec(px->net);
    const size_t B = px->p.batch;
    enum dpt_status st;
    memset(r, 0, sizeof *r);
    r->T = T;
    r->L = spec->n_layers;
    r->m = B;
    r->n_chunks = (px->n_params + PROXY_CHUNK - 1) / PROXY_CHUNK;
    choose_mode(px, r);
    if ((st = check_memory(px, r)) != DPT_OK)
        return st;
    if (r->sliced) {
        r->row_lo = dpt_calloc(T * (r->L + 1), sizeof *r->row_lo);
        r->row_hi = dpt_calloc(T * (r->L + 1), sizeof *r->row_hi);
        r->sq = dpt_calloc(T, sizeof *r->sq);
        if (!r->row_lo || !r->row_hi || !r->sq)
            return dpt_error(DPT_ERR_NOMEM, "out of memory in the proxy");
        if (r->split_all)
            dpt_split_rows_even(spec, T, r->row_lo, r->row_hi);
        else
            dpt_split_rows(spec, T, r->row_lo, r->row_hi);
        if ((st = dpt_batch_workspace_create(px->net, B, &r->bws)) != DPT_OK)
            return st;
        if (r->split_all) {
            size_t cols[DPT_MAX_LAYERS + 1];
            dpt_split_widest(T, r->L, r->row_lo, r->row_hi, cols);
            if ((st = dpt_batch_workspace_images(px->net, r->bws, cols)) != DPT_OK)
                return st;
        }
        if (r->split_first) {
            if ((st = dpt_batch_workspace_twin(px->net, r->bws, 1, &r->bws2)) != DPT_OK)
                return st;
            if (r->in_place) {
                if (!(r->xrows = dpt_calloc(2 * B, sizeof *r->xrows)))
                    return dpt_error(DPT_ERR_NOMEM, "out of memory in the proxy");
            } else {
                for (size_t k = 0; k < 2; k++)
                    if (!(r->xbuf[k] = dpt_alloc_aligned(B * px->n0 * sizeof(float))))
                        return dpt_error(DPT_ERR_NOMEM, "out of memory in the proxy");
            }
        }
        if (!r->fused && !(r->gsum = dpt_alloc_aligned(px->n_params * sizeof(float))))
            return dpt_error(DPT_ERR_NOMEM, "out of memory in the proxy");
    } else {
        r->grad = dpt_calloc(T, sizeof *r->grad);
        r->has_grad = dpt_calloc(T, sizeof *r->has_grad);
        r->srcs = dpt_calloc(T, sizeof *r->srcs);
        r->chunk_sq = dpt_calloc(r->n_chunks, sizeof *r->chunk_sq);
        if (!r->grad || !r->has_grad || !r->srcs || !r->chunk_sq)
            return dpt_error(DPT_ERR_NOMEM, "out of memory in the proxy");
        for (size_t t = 0; t < T; t++)
            if (!(r->grad[t] = dpt_alloc_aligned(px->n_params * sizeof(float))))
                return dpt_error(DPT_ERR_NOMEM,
                                 "out of memory allocating %zu private gradients of %zu bytes", T,
                                 px->n_params * sizeof(float));
    }
    return find_kinds(px, r);
}

// ---- the cold ranges ----

// Called for every range a worker reads cold; home: -1 for buffers of the creating thread, else
// the worker whose own buffer it is.
typedef void (*range_fn)(void *ctx, const void *p, size_t bytes, long home);

// The parts of rows [0, n) x cols [0, w) of a row-major matrix outside columns [j0, j1), for rows
// [i0, i1).
static void outside_cols(const float *a, size_t w, size_t i0, size_t i1, size_t j0, size_t j1,
                         range_fn fn, void *ctx)
{
    for (size_t i = i0; i < i1; i++) {
        const float *row = a + i * w;
        if (j0 > 0)
            fn(ctx, row, j0 * sizeof(float), -1);
        if (j1 < w)
            fn(ctx, row + j1, (w - j1) * sizeof(float), -1);
    }
}

// Rows [0, m) but [r0, r1) of columns [j0, j1) of a row-major matrix of width w.
static void other_rows(const float *a, size_t w, size_t m, size_t r0, size_t r1, size_t j0,
                       size_t j1, range_fn fn, void *ctx)
{
    if (j1 <= j0)
        return;
    for (size_t i = 0; i < m; i++)
        if (i < r0 || i >= r1)
            fn(ctx, a + i * w + j0, (j1 - j0) * sizeof(float), -1);
}

// split_all's shared operand images (kernel.c, gemm_impl.h): what worker u reads of an image
// instead of the operand, where the product reads it (kernel.c's rule: the image exists, it is
// filled for the widest worker's product, and this worker's product takes the packed GEMM).
struct image_ctx {
    range_fn fn;
    void *ctx;
};

static void image_range(void *c, const float *p, size_t floats)
{
    const struct image_ctx *ic = c;
    ic->fn(ic->ctx, p, floats * sizeof(float), -1);
}

static int reads_image(const float *img, const struct dpt_workspace *ws, size_t l, size_t w, int ta,
                       int tb, size_t m, size_t n, size_t k)
{
    if (!img || w == 0)
        return 0;
    // Filled for the widest worker's product (ws->cols[l]), read by any whose own product packs.
    const size_t c = ws->cols[l];
    const int filled =
        ta ? dpt_gemm_image_pays(ta, tb, c, n, k) : dpt_gemm_image_pays(ta, tb, m, c, k);
    return filled && dpt_gemm_image_pays(ta, tb, m, n, k);
}

// The parts of an image the writer of columns [lo, hi) did not write.
static void image_outside(int of_a, size_t rows, size_t k, size_t lo, size_t hi, const float *img,
                          range_fn fn, void *ctx)
{
    struct image_ctx ic = {fn, ctx};
    dpt_gemm_image_outside(of_a, rows, k, lo, hi, img, image_range, &ic);
}

// split_all's phase 1 is 2L - 2 parts between barriers: the forward pass of hidden layers 2 ..
// L - 1 by columns, the output layer by samples, the deltas of hidden layers L - 1 .. 1 by
// columns (layer 1's forward pass by columns comes at the end of the previous phase 2).
static size_t phase1_parts(const struct run *r)
{
    return r->split_all ? 2 * r->L - 2 : 1;
}

// What worker u reads cold in part k of split_all's phase 1 (phase1_parts).
static void cold_split_all(const struct dpt_proxy *px, const struct run *r, size_t u, size_t k,
                           const struct dpt_workspace *ws, range_fn fn, void *ctx)
{
    const struct dpt_net_spec *spec = dpt_net_spec(px->net);
    const size_t T = r->T, L = r->L, L1 = L + 1, m = r->m;
    const size_t r0 = split(m, u, T), r1 = split(m, u + 1, T);
    const size_t *lo = r->row_lo + u * L1, *hi = r->row_hi + u * L1;
    const float *theta = dpt_net_params_const(px->net);
    if (k + 2 < L) { // forward of layer k + 2: the others' columns of layer k + 1 (or its image)
        const size_t l = k + 2, w = hi[l] - lo[l];
        if (reads_image(ws->ia[l - 1], ws, l, w, 0, 1, m, w, spec->sizes[l - 1]))
            image_outside(1, m, spec->sizes[l - 1], lo[l - 1], hi[l - 1], ws->ia[l - 1], fn, ctx);
        else
            outside_cols(ws->a[l - 1], spec->sizes[l - 1], 0, m, lo[l - 1], hi[l - 1], fn, ctx);
    } else if (k + 2 == L) { // the output layer for rows r0 .. r1
        if (r1 == r0)
            return;
        outside_cols(ws->a[L - 1], spec->sizes[L - 1], r0, r1, lo[L - 1], hi[L - 1], fn, ctx);
        size_t w, b;
        dpt_net_layer_offsets(px->net, L, &w, &b);
        const size_t n_in = spec->sizes[L - 1];
        outside_cols(theta + w, spec->sizes[L] * n_in, 0, 1, lo[L] * n_in, hi[L] * n_in, fn, ctx);
        outside_cols(theta + b, spec->sizes[L], 0, 1, lo[L], hi[L], fn, ctx);
    } else { // delta of layer l: Delta_(l+1) but what this worker wrote, W_(l+1)[:, lo:hi]
        const size_t l = 2 * L - 2 - k, n = spec->sizes[l], n_next = spec->sizes[l + 1];
        if (hi[l] <= lo[l])
            return;
        const size_t cw = hi[l] - lo[l];
        if (l + 1 == L)
            other_rows(ws->dl[L], n_next, m, r0, r1, 0, n_next, fn, ctx);
        else if (reads_image(ws->id[l + 1], ws, l, cw, 0, 0, m, cw, n_next))
            image_outside(1, m, n_next, lo[l + 1], hi[l + 1], ws->id[l + 1], fn, ctx);
        else
            outside_cols(ws->dl[l + 1], n_next, 0, m, lo[l + 1], hi[l + 1], fn, ctx);
        size_t w;
        dpt_net_layer_offsets(px->net, l + 1, &w, NULL);
        for (size_t i = 0; i < n_next; i++)
            if (i < lo[l + 1] || i >= hi[l + 1])
                fn(ctx, theta + w + i * n + lo[l], (hi[l] - lo[l]) * sizeof(float), -1);
    }
}

// Everything worker u reads cold in phase `phase` (1 or 2; part k of phase 1, phase1_parts) of a
// step whose batch workspace is ws.
static void cold_ranges(const struct dpt_proxy *px, const struct run *r, size_t u, int phase,
                        size_t k, const struct dpt_workspace *ws, range_fn fn, void *ctx)
{
    const struct dpt_net_spec *spec = dpt_net_spec(px->net);
    const size_t T = r->T, L1 = r->L + 1, m = r->m;
    const size_t r0 = split(m, u, T), r1 = split(m, u + 1, T);
    const float *theta = dpt_net_params_const(px->net);
    if (T == 1)
        return;
    if (r->split_all && phase == 1) {
        cold_split_all(px, r, u, k, ws, fn, ctx);
    } else if (r->split_all) {
        // Its own columns of every hidden delta are its own; the output delta's other rows and
        // the others' columns of the activations (or of their images) are cold (they were read
        // in phase 1, but by now much else has passed through this core's caches).
        for (size_t l = 1; l <= r->L; l++) {
            const size_t lo = r->row_lo[u * L1 + l], hi = r->row_hi[u * L1 + l];
            if (hi <= lo)
                continue;
            if (l == r->L)
                other_rows(ws->dl[l], spec->sizes[l], m, r0, r1, lo, hi, fn, ctx);
            const size_t plo = r->row_lo[u * L1 + l - 1], phi = r->row_hi[u * L1 + l - 1];
            if (l >= 2 &&
                reads_image(ws->ib[l - 1], ws, l, hi - lo, 1, 0, hi - lo, spec->sizes[l - 1], m))
                image_outside(0, spec->sizes[l - 1], m, plo, phi, ws->ib[l - 1], fn, ctx);
            else if (l >= 2)
                outside_cols(ws->a[l - 1], spec->sizes[l - 1], 0, m, plo, phi, fn, ctx);
        }
    } else if (r->sliced && phase == 1) {
        if (r1 == r0)
            return;
        const size_t from = r->split_first ? 2 : 1;
        for (size_t l = from; l <= r->L; l++) {
            size_t w, b;
            dpt_net_layer_offsets(px->net, l, &w, &b);
            const size_t n_in = spec->sizes[l - 1], lo = r->row_lo[u * L1 + l],
                         hi = r->row_hi[u * L1 + l];
            outside_cols(theta + w, spec->sizes[l] * n_in, 0, 1, lo * n_in, hi * n_in, fn, ctx);
            outside_cols(theta + b, spec->sizes[l], 0, 1, lo, hi, fn, ctx);
        }
        if (r->split_first)
            outside_cols(ws->a[1], spec->sizes[1], r0, r1, r->row_lo[u * L1 + 1],
                         r->row_hi[u * L1 + 1], fn, ctx);
    } else if (r->sliced) {
        for (size_t l = 1; l <= r->L; l++) {
            const size_t lo = r->row_lo[u * L1 + l], hi = r->row_hi[u * L1 + l];
            if (hi <= lo)
                continue;
            other_rows(ws->dl[l], spec->sizes[l], m, r0, r1, lo, hi, fn, ctx);
            if (l >= 2)
                other_rows(ws->a[l - 1], spec->sizes[l - 1], m, r0, r1, 0, spec->sizes[l - 1], fn,
                           ctx);
            else if (!r->split_first)
                other_rows(ws->x, px->n0, m, r0, r1, 0, px->n0, fn, ctx);
        }
    } else if (phase == 1) {
        if (r1 == r0)
            return;
        const size_t lo = split(r->n_chunks, u, T) * PROXY_CHUNK,
                     hi = split(r->n_chunks, u + 1, T) * PROXY_CHUNK;
        outside_cols(theta, px->n_params, 0, 1, lo < px->n_params ? lo : px->n_params,
                     hi < px->n_params ? hi : px->n_params, fn, ctx);
    } else {
        const size_t lo = split(r->n_chunks, u, T) * PROXY_CHUNK,
                     hi = split(r->n_chunks, u + 1, T) * PROXY_CHUNK;
        const size_t h = hi < px->n_params ? hi : px->n_params;
        for (size_t v = 0; v < T && h > lo; v++)
            if (v != u && r->has_grad[v])
                fn(ctx, r->grad[v] + lo, (h - lo) * sizeof(float), (long)v);
    }
}

static void flush_range(void *ctx, const void *p, size_t bytes, long home)
{
    (void)ctx;
    (void)home;
#ifdef DPT_PROXY_X86
    const char *c = (const char *)((uintptr_t)p & ~(uintptr_t)63);
    const char *end = (const char *)p + bytes;
    for (; c < end; c += 64)
        _mm_clflush(c);
#elif defined(DPT_PROXY_ARM64)
    // Clean and invalidate to the point of coherence, line by line (Linux lets user space do
    // it); the smallest data cache line from CTR_EL0.DminLine.
    unsigned long ctr;
    __asm__ __volatile__("mrs %0, ctr_el0" : "=r"(ctr));
    const uintptr_t line = (uintptr_t)4 << ((ctr >> 16) & 0xf);
    const char *c = (const char *)((uintptr_t)p & ~(line - 1));
    const char *end = (const char *)p + bytes;
    for (; c < end; c += line)
        __asm__ __volatile__("dc civac, %0" : : "r"(c) : "memory");
    __asm__ __volatile__("dsb ish" : : : "memory");
#else
    (void)p;
    (void)bytes;
#endif
}

struct byte_count {
    double shared, priv;
};

static void count_range(void *ctx, const void *p, size_t bytes, long home)
{
    struct byte_count *c = ctx;
    (void)p;
    if (home < 0)
        c->shared += (double)bytes;
    else
        c->priv += (double)bytes;
}

// ---- the phases, as trainer.c's epoch_job runs them ----

static void prefetch_rows(const struct dpt_proxy *px, const size_t *rows, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++) {
        const char *row = (const char *)(px->x + rows[i] * px->n0);
        for (size_t off = 0; off < px->n0 * sizeof(float); off += 64)
            __builtin_prefetch(row + off, 0, 2);
    }
}

// split_first: worker u's rows of layer 1 for the batch `rows` into parity p's workspace.
static void first_layer(const struct dpt_proxy *px, struct run *r, size_t u, size_t p,
                        const size_t *rows)
{
    struct dpt_workspace *ws = p ? r->bws2 : r->bws;
    const size_t L1 = r->L + 1, j0 = r->row_lo[u * L1 + 1], j1 = r->row_hi[u * L1 + 1];
    if (r->in_place) {
        const float **xr = r->xrows + p * px->p.batch;
        for (size_t i = 0; i < r->m; i++)
            xr[i] = px->x + rows[i] * px->n0;
        dpt_net_forward_cols(px->net, ws, 1, NULL, xr, r->m, j0, j1);
    } else {
        dpt_batch_gather(px->net, r->xbuf[p], px->x, rows, r->m);
        dpt_net_forward_cols(px->net, ws, 1, r->xbuf[p], NULL, r->m, j0, j1);
    }
}

// Part k of worker u's phase 1 (phase1_parts), as step_sliced.c's split_all_phase1 runs it.
static void phase1_split_all(struct dpt_proxy *px, struct run *r, size_t u, size_t k,
                             const size_t *rows, float scale)
{
    const struct dpt_targets tg = {.labels = px->labels, .values = NULL};
    const size_t L = r->L, L1 = L + 1, m = r->m;
    const size_t *lo = r->row_lo + u * L1, *hi = r->row_hi + u * L1;
    struct dpt_workspace *ws = (px->step & 1) ? r->bws2 : r->bws;
    struct dpt_block_stats st;
    if (k + 2 < L) {
        dpt_net_forward_cols(px->net, ws, k + 2, NULL, NULL, m, lo[k + 2], hi[k + 2]);
    } else if (k + 2 == L) {
        const size_t r0 = split(m, u, r->T), r1 = split(m, u + 1, r->T);
        dpt_net_output_deltas(px->net, ws, rows + r0, r0, r1 - r0, &tg, scale, &st);
    } else {
        const size_t l = 2 * L - 2 - k;
        dpt_net_backward_cols(px->net, ws, l, m, lo[l], hi[l]);
    }
}

static void phase1(struct dpt_proxy *px, struct run *r, size_t u, size_t k, const size_t *rows)
{
    const struct dpt_targets tg = {.labels = px->labels, .values = NULL};
    const size_t T = r->T, m = r->m;
    const size_t lo = split(m, u, T), hi = split(m, u + 1, T);
    const size_t mb = px->p.batch < PROXY_MICRO_MAX ? px->p.batch : PROXY_MICRO_MAX;
    const float scale =
        dpt_net_spec(px->net)->reduction == DPT_REDUCTION_MEAN ? 1.0f / (float)m : 1.0f;
    struct dpt_block_stats st;
    if (r->split_all) {
        phase1_split_all(px, r, u, k, rows, scale);
    } else if (r->sliced) {
        struct dpt_workspace *ws = r->split_first && (px->step & 1) ? r->bws2 : r->bws;
        for (size_t s = lo; s < hi; s += mb)
            dpt_net_deltas(px->net, ws, r->split_first ? 2 : 1, px->x, rows + s, s,
                           hi - s < mb ? hi - s : mb, &tg, scale, &st);
    } else {
        for (size_t s = lo; s < hi; s += mb)
            dpt_net_backprop(px->net, px->ws, px->x, rows + s, hi - s < mb ? hi - s : mb, &tg,
                             scale, r->grad[u], s != lo, &st);
        r->has_grad[u] = hi > lo;
    }
}

static void phase2(struct dpt_proxy *px, struct run *r, size_t u, const size_t *next)
{
    const struct dpt_net_spec *spec = dpt_net_spec(px->net);
    const size_t T = r->T, m = r->m, L1 = r->L + 1;
    float *theta = dpt_net_params(px->net);
    const struct dpt_step_ctx ctx = {
        .step = px->step + 1,
        .epoch = 1,
        .batch_size = m,
        .grad_sq_norm = 1.0,
        .lr_mult = 1.0,
    };
    if (r->sliced) {
        // The rows this worker reads at a later step, as dpt_trainer_prefetch_inputs asks for
        // them: with split_first all of the next step's, or of the step after next's where the
        // batch's inputs are small; else its shard of the next step's.
        if (r->split_first) {
            const int far = dpt_prefetch_two_ahead(px->p.batch, px->n0);
            const size_t es = px->epoch_step;
            for (size_t ahead = far && es > 0 ? 2 : 1; ahead <= (far ? 2u : 1u); ahead++)
                if (es + ahead < px->steps_per_epoch)
                    prefetch_rows(px, batch_rows(px, ahead), 0, m);
        } else
            prefetch_rows(px, next, split(m, u, T), split(m, u + 1, T));
        const size_t p = r->split_first ? (size_t)(px->step & 1) : 0;
        const struct dpt_workspace *ws = p ? r->bws2 : r->bws;
        const float *xb = r->split_first && !r->in_place ? r->xbuf[p] : NULL;
        const float *const *xr = r->split_first && r->in_place ? r->xrows + p * px->p.batch : NULL;
        const float alpha = r->fused ? -(float)dpt_schedule_rate(px->sched, ctx.step) : 1.0f;
        float *dst = r->fused ? theta : r->gsum;
        const size_t *lo = r->row_lo + u * L1, *hi = r->row_hi + u * L1;
        for (size_t l = 1; l <= r->L; l++) {
            size_t w, b;
            dpt_net_layer_offsets(px->net, l, &w, &b);
            dpt_net_layer_grad(px->net, ws, l, xb, xr, lo[l], hi[l], m, alpha,
                               r->fused ? 1.0f : 0.0f, dst + w + lo[l] * spec->sizes[l - 1],
                               dst + b + lo[l]);
        }
        if (!r->fused) {
            struct dpt_step_ctx c = ctx;
            if (r->needs_norm) {
                double sq = 0.0;
                for (size_t l = 1; l <= r->L; l++) {
                    size_t w, b;
                    dpt_net_layer_offsets(px->net, l, &w, &b);
                    const size_t n_in = spec->sizes[l - 1];
                    sq += dpt_sq_norm(r->gsum, w + lo[l] * n_in, w + hi[l] * n_in);
                    sq += dpt_sq_norm(r->gsum, b + lo[l], b + hi[l]);
                }
                r->sq[u] = sq;
                double total = 0.0; // (after a barrier in the trainer)
                for (size_t t = 0; t < T; t++)
                    total += r->sq[t];
                c.grad_sq_norm = total;
            }
            for (size_t l = 1; l <= r->L; l++) {
                size_t w, b;
                dpt_net_layer_offsets(px->net, l, &w, &b);
                const size_t n_in = spec->sizes[l - 1];
                if (hi[l] > lo[l]) {
                    dpt_schedule_step(px->sched, &c, theta, r->gsum, w + lo[l] * n_in,
                                      w + hi[l] * n_in);
                    dpt_schedule_step(px->sched, &c, theta, r->gsum, b + lo[l], b + hi[l]);
                }
            }
        }
        if (r->split_first)
            first_layer(px, r, u, p ^ 1, next);
        return;
    }
    prefetch_rows(px, next, split(m, u, T), split(m, u + 1, T));
    const size_t c_lo = split(r->n_chunks, u, T), c_hi = split(r->n_chunks, u + 1, T);
    size_t n_src = 0;
    for (size_t v = 0; v < T; v++)
        if (r->has_grad[v])
            r->srcs[n_src++] = r->grad[v];
    float *g = n_src == 1 ? (float *)r->srcs[0] : r->grad[u];
    struct dpt_step_ctx c = ctx;
    for (size_t k = c_lo; k < c_hi; k++) {
        const size_t lo = k * PROXY_CHUNK;
        const size_t hi = lo + PROXY_CHUNK < px->n_params ? lo + PROXY_CHUNK : px->n_params;
        if (n_src > 1)
            dpt_trainer_reduce_chunk(g, r->srcs, n_src, lo, hi);
        if (r->needs_norm)
            r->chunk_sq[k] = dpt_sq_norm(g, lo, hi);
        else
            dpt_schedule_step(px->sched, &c, theta, g, lo, hi);
    }
    if (r->needs_norm) {
        double total = 0.0; // (after a barrier in the trainer)
        for (size_t k = 0; k < r->n_chunks; k++)
            total += r->chunk_sq[k];
        c.grad_sq_norm = total;
        for (size_t k = c_lo; k < c_hi; k++) {
            const size_t lo = k * PROXY_CHUNK;
            const size_t hi = lo + PROXY_CHUNK < px->n_params ? lo + PROXY_CHUNK : px->n_params;
            dpt_schedule_step(px->sched, &c, theta, g, lo, hi);
        }
    }
}

// ---- the measurement ----

static void fence(void)
{
#ifdef DPT_PROXY_X86
    _mm_mfence();
#elif defined(DPT_PROXY_ARM64)
    __asm__ __volatile__("dsb ish" : : : "memory");
#endif
}

void dpt_proxy_evict(const void *p, size_t bytes)
{
    flush_range(NULL, p, bytes, -1);
    fence();
}

// One step of T workers, serially: every worker's phase 1, then every worker's phase 2. The
// representative of each kind is timed (t1, t2: per kind) after its cold ranges are flushed.
static void one_step(struct dpt_proxy *px, struct run *r, double *t1, double *t2)
{
    const size_t *rows = batch_rows(px, 0), *next = batch_rows(px, 1);
    const int flush = px->p.flush;
    const struct dpt_workspace *ws = r->split_first && (px->step & 1) ? r->bws2 : r->bws;
    // Phase 1 part by part (split_all: all workers' part k before any part k + 1, as the
    // barriers between them order it); a kind's time is the sum over the parts.
    for (size_t k = 0; t1 && k < r->n_kinds; k++)
        t1[k] = 0.0;
    for (size_t k = 0; k < phase1_parts(r); k++) {
        for (size_t u = 0; u < r->T; u++) {
            const int timed = t1 && r->rep[r->kind[u]] == u;
            if (timed && flush) {
                cold_ranges(px, r, u, 1, k, ws, flush_range, NULL);
                fence();
            }
            const double a = timed ? thread_s() : 0.0;
            phase1(px, r, u, k, rows);
            if (timed)
                t1[r->kind[u]] += fmax(thread_s() - a - px->clock_s, 0.0);
        }
    }
    for (size_t u = 0; u < r->T; u++) {
        const int timed = t2 && r->rep[r->kind[u]] == u;
        if (timed && flush) {
            cold_ranges(px, r, u, 2, 0, ws, flush_range, NULL);
            fence();
        }
        const double a = timed ? thread_s() : 0.0;
        phase2(px, r, u, next);
        if (timed)
            t2[r->kind[u]] = fmax(thread_s() - a - px->clock_s, 0.0);
    }
    px->step++;
    next_step(px);
}

enum dpt_status dpt_proxy_measure(struct dpt_proxy *px, size_t threads, struct dpt_proxy_meas *out)
{
    if (!px || !out)
        return dpt_error(DPT_ERR_INVALID, "proxy: px or out is NULL");
    if (threads == 0 || threads > 1024)
        return dpt_error(DPT_ERR_INVALID, "proxy: threads %zu is not in 1..1024", threads);
    memset(out, 0, sizeof *out);
    struct run r;
    enum dpt_status st = run_setup(px, threads, &r);
    const size_t S = px->p.steps;
    double *t1 = NULL, *t2 = NULL, *tmp = NULL;
    if (st == DPT_OK) {
        t1 = dpt_calloc(S * r.n_kinds, sizeof *t1);
        t2 = dpt_calloc(S * r.n_kinds, sizeof *t2);
        tmp = dpt_calloc(S, sizeof *tmp);
        if (!t1 || !t2 || !tmp)
            st = dpt_error(DPT_ERR_NOMEM, "out of memory in the proxy");
    }
    if (st != DPT_OK) {
        dpt_free(t1);
        dpt_free(t2);
        dpt_free(tmp);
        run_free(&r);
        return st;
    }
#ifdef DPT_PROXY_X86
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040u); // flush denormals, as the trainer's jobs do
#elif defined(DPT_PROXY_ARM64)
    unsigned long fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    __asm__ __volatile__("msr fpcr, %0" : : "r"(fpcr | (1ul << 24))); // FZ, as the trainer's jobs
#endif
    const struct dpt_gemm_pack pack = dpt_workspace_pack_use(px->ws);
    // split_first: the first step's layer 1 (the trainer's epoch start, before a barrier).
    if (r.split_first)
        for (size_t u = 0; u < r.T; u++)
            first_layer(px, &r, u, px->step & 1, batch_rows(px, 0));
    for (size_t s = 0; s < px->p.warmup; s++)
        one_step(px, &r, NULL, NULL);
    for (size_t s = 0; s < S; s++)
        one_step(px, &r, t1 + s * r.n_kinds, t2 + s * r.n_kinds);
    dpt_gemm_pack_use(pack.buf, pack.floats);
#ifdef DPT_PROXY_X86
    _mm_setcsr(csr);
#elif defined(DPT_PROXY_ARM64)
    __asm__ __volatile__("msr fpcr, %0" : : "r"(fpcr));
#endif

    out->threads = threads;
    out->sliced = r.sliced;
    out->split_first = r.split_first;
    out->split_all = r.split_all;
    out->fused = r.fused;
    out->kinds = r.n_kinds;
    out->barriers = (r.needs_norm ? 3 : 2) + phase1_parts(&r) - 1;
    out->shard_rows = (px->p.batch + threads - 1) / threads;
    double sum = 0.0;
    for (size_t k = 0; k < r.n_kinds; k++) {
        for (size_t s = 0; s < S; s++)
            tmp[s] = t1[s * r.n_kinds + k];
        const double p1 = median(tmp, S);
        for (size_t s = 0; s < S; s++)
            tmp[s] = t2[s * r.n_kinds + k];
        const double p2 = median(tmp, S);
        out->phase1_s = p1 > out->phase1_s ? p1 : out->phase1_s;
        out->phase2_s = p2 > out->phase2_s ? p2 : out->phase2_s;
        out->max_s = p1 + p2 > out->max_s ? p1 + p2 : out->max_s;
        sum += (double)r.count[k] * (p1 + p2);
    }
    out->mean_s = sum / (double)threads;
    // Cold bytes of every worker (not only the timed ones), plus the batch's rows of the data set,
    // read once from memory per step whoever reads them.
    struct byte_count bc = {0.0, 0.0};
    for (size_t u = 0; u < r.T; u++) {
        for (size_t k = 0; k < phase1_parts(&r); k++)
            cold_ranges(px, &r, u, 1, k, r.bws, count_range, &bc);
        cold_ranges(px, &r, u, 2, 0, r.bws, count_range, &bc);
    }
    bc.shared += (double)px->p.batch * (double)px->n0 * sizeof(float);
    out->cold_shared_bytes = bc.shared;
    out->cold_private_bytes = bc.priv;
    dpt_free(t1);
    dpt_free(t2);
    dpt_free(tmp);
    run_free(&r);
    return DPT_OK;
}

// ---- the model ----

enum dpt_status dpt_proxy_predict(const struct dpt_proxy_model *m, size_t batch,
                                  const struct dpt_proxy_meas *meas, size_t n,
                                  struct dpt_proxy_pred *out)
{
    if (!m || !meas || !out || n == 0 || batch == 0)
        return dpt_error(DPT_ERR_INVALID, "proxy model: nothing to predict");
    if (!(m->mem_bw > 0) || !(m->line_s >= 0) || !(m->numa_factor >= 1) || !(m->core_speed > 0) ||
        !(m->allcore > 0 && m->allcore <= 1) || !isfinite(m->mem_bw) || !isfinite(m->line_s) ||
        !isfinite(m->numa_factor) || !isfinite(m->core_speed))
        return dpt_error(DPT_ERR_INVALID,
                         "proxy model: bandwidth and core speed must be > 0, line transfer >= 0, "
                         "NUMA factor >= 1, all-core speed in (0, 1]");
    if (meas[0].threads != 1)
        return dpt_error(DPT_ERR_INVALID, "proxy model: the first measurement must be at 1 thread");
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && meas[i].threads <= meas[i - 1].threads)
            return dpt_error(DPT_ERR_INVALID,
                             "proxy model: thread counts must increase (%zu after %zu)",
                             meas[i].threads, meas[i - 1].threads);
        if (!(meas[i].phase1_s + meas[i].phase2_s > 0))
            return dpt_error(DPT_ERR_INVALID, "proxy model: no time measured at %zu threads",
                             meas[i].threads);
    }
    const size_t cores = m->cores ? m->cores : meas[n - 1].threads;
    for (size_t i = 0; i < n; i++) {
        const struct dpt_proxy_meas *x = &meas[i];
        struct dpt_proxy_pred *y = &out[i];
        const size_t T = x->threads;
        const size_t per_node = m->node_cores ? m->node_cores : T;
        y->threads = T;
        y->nodes = (T + per_node - 1) / per_node;
        const double busy = (double)(T < cores ? T : cores);
        const double speed =
            m->core_speed *
            (cores > 1 ? 1.0 - (1.0 - m->allcore) * (busy - 1.0) / (double)(cores - 1) : 1.0);
        y->compute_s = (x->phase1_s + x->phase2_s) / speed;
        // Node 0 holds every buffer the creating thread allocated and its workers' own buffers;
        // it serves the most bytes.
        const double on0 = (double)(T < per_node ? T : per_node) / (double)T;
        y->memory_s = (x->cold_shared_bytes + on0 * x->cold_private_bytes) / m->mem_bw;
        // One node: T arrivals on one counter and the release, or past DPT_BARRIER_FLAT_MAX the
        // trainer's runs of neighbours (dpt_topo_groups): a run's arrivals on its counter (the
        // runs in parallel), one per run on the top counter, the release. Several nodes: the
        // same two levels with the nodes as the groups, the top counter and the release across
        // nodes. The dynamic step (the default) counts each phase's items in the same groups.
        const size_t run = dpt_barrier_run(T), runs = (T + run - 1) / run;
        const double transfers = y->nodes > 1 ? (double)(T < per_node ? T : per_node) +
                                                    (double)(y->nodes + 1) * m->numa_factor
                                 : runs > 1 ? (double)(run + runs + 1)
                                            : (double)(T + 1);
        y->barrier_s = T > 1 ? (double)x->barriers * transfers * m->line_s : 0.0;
        const double raw = (y->compute_s > y->memory_s ? y->compute_s : y->memory_s) + y->barrier_s;
        double floor_s = raw;
        for (size_t j = 0; j < i; j++) {
            if (T % out[j].threads != 0)
                continue;
            const double f = out[j].step_s * (double)out[j].threads / (double)T;
            floor_s = f > floor_s ? f : floor_s;
        }
        y->step_s = floor_s;
        y->envelope_s = floor_s - raw;
        y->samples_per_s = (double)batch / y->step_s;
        y->speedup = y->samples_per_s / out[0].samples_per_s;
        y->efficiency = y->speedup / (double)T;
        y->imbalance = x->mean_s > 0 ? x->max_s / x->mean_s : 1.0;
    }
    return DPT_OK;
}

// ---- the barrier's round on 2 cores ----

struct barrier_bench {
    struct dpt_pool *pool;
    size_t rounds, batches;
    double *times;
};

static void barrier_job(void *arg, size_t ith, size_t nth)
{
    struct barrier_bench *bb = arg;
    (void)nth;
    for (size_t k = 0; k < bb->batches; k++) {
        dpt_pool_barrier(bb->pool);
        const double t0 = now_s();
        for (size_t i = 0; i < bb->rounds; i++)
            dpt_pool_barrier(bb->pool);
        if (ith == 0)
            bb->times[k] = (now_s() - t0) / (double)bb->rounds;
    }
}

enum dpt_status dpt_proxy_barrier_round(size_t rounds, size_t batches, double *seconds)
{
    if (!seconds || rounds == 0 || batches == 0)
        return dpt_error(DPT_ERR_INVALID, "proxy barrier: rounds and batches must be >= 1");
    struct dpt_topo *topo = NULL;
    enum dpt_status st = dpt_topo_create(&topo);
    if (st != DPT_OK)
        return st;
    struct barrier_bench bb = {.rounds = rounds, .batches = batches};
    int pu[2];
    if (dpt_topo_n_cores(topo) < 2) {
        dpt_topo_destroy(topo);
        return dpt_error(DPT_ERR_UNSUPPORTED, "proxy barrier: fewer than 2 usable cores");
    }
    bb.times = dpt_calloc(batches, sizeof *bb.times);
    if (!bb.times)
        st = dpt_error(DPT_ERR_NOMEM, "out of memory in the proxy");
    if (st == DPT_OK)
        st = dpt_topo_place(topo, DPT_PIN_COMPACT, 2, pu);
    if (st == DPT_OK)
        st = dpt_pool_create(2, topo, pu, DPT_BARRIER_SPIN_DEFAULT, 1, NULL, &bb.pool);
    if (st == DPT_OK) {
        dpt_pool_run(bb.pool, barrier_job, &bb);
        *seconds = median(bb.times, batches);
    }
    dpt_pool_destroy(bb.pool);
    dpt_free(bb.times);
    dpt_topo_destroy(topo);
    return st;
}
