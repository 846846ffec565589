// Layer 1 of a narrow network split among T workers by output rows (what the trainer's split_first
// does) or by input columns (an alternative, not built into the trainer): one worker's share of a
// step, timed on one core with what other cores would have written evicted first, as the proxy
// does (docs/benchmarks.md, "What bounds S at 16 threads").
//
//   split_bench [--threads T] [--batch M] [--hidden N1] [--steps S] [--rounds R]
//
// Layer 1 is N1 x 784 (default 128: workload S, batch 32, T = 16). Per step, worker 0:
//   rows   phase 2: its N1 / T rows of the gradient of W_1 over the batch (fused SGD step: W_1 rows
//          += -lr Delta_1[:, rows]^T X), then the next step's layer 1 for those rows over the
//          whole next batch (X_next W_1[rows]^T); the inputs of the step after next are prefetched
//          whole (the trainer's dpt_trainer_prefetch_inputs). Phase 1: its samples' layer-1
//          activations (the other workers' columns, evicted).
//   cols   phase 2: its 784 / T columns of the same gradient (W_1[:, cols] += -lr Delta_1^T
//          X[:, cols]: all of Delta_1, evicted), then a partial product of the next batch over
//          its columns (P_0 = X_next[:, cols] W_1[:, cols]^T, batch x N1); only its columns of
//          the inputs are prefetched. Phase 1: its samples' rows of the T partial products summed
//          (the other workers' evicted), the sum a real step would take before the bias and the
//          activation.
//   cols+pf as cols, with Delta_1 and the partial products prefetched before they are read.
// Worker 0's columns are the first 784 / T, so its pieces of the inputs and of W_1 start where the
// rows do. The inputs are rows drawn at random from 60000 (no cache holds them), read in place
// through row pointers, as the trainer reads them with the built-in kernels. Each round runs the
// three variants one after another; the medians over the steps of each round, then the median and
// the range over the rounds, are printed in microseconds. Not a test; built with the tests.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "core/gemm_impl.h"
#include "parallel/proxy_impl.h"

#define N0      784
#define SAMPLES 60000
#define LR      0.05f

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void prefetch(const void *p, size_t bytes)
{
    for (size_t off = 0; off < bytes; off += 64)
        __builtin_prefetch((const char *)p + off, 0, 2);
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

enum variant { ROWS, COLS, COLS_PF, N_VARIANTS };
static const char *const variant_name[N_VARIANTS] = {"rows", "cols", "cols+pf"};

struct bench {
    size_t T, m, n1, rows, cols;
    float *x, *w, *delta, *a1, *part, *sum;
    const float **xr[4]; // row pointers of 4 batches (this step, next, the step after next)
};

// One step of worker 0 in variant v (batch slot s of 4); adds its phase times to p1, p2.
static void step(struct bench *b, enum variant v, size_t s, double *p1, double *p2)
{
    const size_t m = b->m, n1 = b->n1, T = b->T, own = m / T ? m / T : 1;
    const float *const *cur = b->xr[s & 3], *const *next = b->xr[(s + 1) & 3];
    const float **far = b->xr[(s + 2) & 3];
    for (size_t i = 0; i < m; i++)
        far[i] = b->x + (rnd() % SAMPLES) * N0;
    // What the other workers wrote since worker 0 last read it.
    dpt_proxy_evict(b->delta, m * n1 * sizeof(float));
    if (v == ROWS)
        dpt_proxy_evict(b->a1, m * n1 * sizeof(float));
    else
        dpt_proxy_evict(b->part + m * n1, (T - 1) * m * n1 * sizeof(float));
    const double t0 = cpu_now();
    if (v == ROWS) {
        for (size_t r = 0; r < own; r++)
            memcpy(b->sum + r * n1, b->a1 + r * n1, n1 * sizeof(float));
    } else {
        if (v == COLS_PF)
            for (size_t t = 0; t < T; t++)
                prefetch(b->part + t * m * n1, own * n1 * sizeof(float));
        memset(b->sum, 0, own * n1 * sizeof(float));
        for (size_t t = 0; t < T; t++)
            for (size_t i = 0; i < own * n1; i++)
                b->sum[i] += b->part[t * m * n1 + i];
    }
    const double t1 = cpu_now();
    if (v == ROWS) {
        for (size_t i = 0; i < m; i++)
            prefetch(far[i], N0 * sizeof(float));
        dpt_gemm_tn_rows(b->rows, N0, m, -LR, b->delta, n1, cur, 1.0f, b->w, N0);
        dpt_gemm_nt_rows(m, b->rows, N0, 1.0f, next, b->w, N0, 0.0f, b->a1, n1);
    } else {
        if (v == COLS_PF)
            prefetch(b->delta, m * n1 * sizeof(float));
        for (size_t i = 0; i < m; i++)
            prefetch(far[i], b->cols * sizeof(float));
        dpt_gemm_tn_rows(n1, b->cols, m, -LR, b->delta, n1, cur, 1.0f, b->w, N0);
        dpt_gemm_nt_rows(m, n1, b->cols, 1.0f, next, b->w, N0, 0.0f, b->part, n1);
    }
    const double t2 = cpu_now();
    *p1 = t1 - t0;
    *p2 = t2 - t1;
}

static size_t arg(int argc, char **argv, const char *name, size_t def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) {
            const long v = strtol(argv[i + 1], NULL, 10);
            if (v < 1) {
                fprintf(stderr, "split_bench: %s must be a positive integer\n", name);
                exit(2);
            }
            return (size_t)v;
        }
    return def;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            puts("usage: split_bench [--threads T] [--batch M] [--hidden N1] [--steps S] "
                 "[--rounds R]\n(defaults 16, 32, 128, 2000, 5: workload S at 16 threads)");
            return 0;
        }
    struct bench b = {.T = arg(argc, argv, "--threads", 16),
                      .m = arg(argc, argv, "--batch", 32),
                      .n1 = arg(argc, argv, "--hidden", 128)};
    const size_t steps = arg(argc, argv, "--steps", 2000), rounds = arg(argc, argv, "--rounds", 5);
    if (b.T > b.n1 || b.T > N0) {
        fprintf(stderr, "split_bench: --threads must be at most --hidden and 784\n");
        return 2;
    }
    if (!dpt_gemm_rows_available()) {
        fprintf(stderr, "split_bench: needs the built-in kernels (this CPU or DPT_ISA runs the "
                        "BLAS)\n");
        return 77;
    }
    b.rows = b.n1 / b.T;
    b.cols = (N0 + b.T - 1) / b.T;
    const size_t pack = dpt_gemm_pack_floats();
    float *packbuf = aligned_alloc(64, (pack + 16) * sizeof(float));
    b.x = aligned_alloc(64, (size_t)SAMPLES * N0 * sizeof(float));
    b.w = aligned_alloc(64, b.n1 * N0 * sizeof(float));
    b.delta = aligned_alloc(64, b.m * b.n1 * sizeof(float));
    b.a1 = aligned_alloc(64, b.m * b.n1 * sizeof(float));
    b.part = aligned_alloc(64, b.T * b.m * b.n1 * sizeof(float));
    b.sum = aligned_alloc(64, b.m * b.n1 * sizeof(float));
    double *t1 = malloc(steps * sizeof(double)), *t2 = malloc(steps * sizeof(double));
    double *t3 = malloc(steps * sizeof(double));
    double *med[N_VARIANTS][3];
    int ok = packbuf && b.x && b.w && b.delta && b.a1 && b.part && b.sum && t1 && t2 && t3;
    for (int v = 0; v < N_VARIANTS; v++)
        for (int k = 0; k < 3; k++)
            ok = ok && (med[v][k] = malloc(rounds * sizeof(double))) != NULL;
    for (int k = 0; k < 4; k++)
        ok = ok && (b.xr[k] = malloc(b.m * sizeof *b.xr[k])) != NULL;
    if (!ok) {
        fprintf(stderr, "split_bench: out of memory\n");
        return 1;
    }
    dpt_gemm_pack_use(packbuf, pack);
    for (size_t i = 0; i < (size_t)SAMPLES * N0; i++)
        b.x[i] = (float)(rnd() % 1000) * 1e-3f;
    for (size_t i = 0; i < b.n1 * N0; i++)
        b.w[i] = (float)((int)(rnd() % 2001) - 1000) * 1e-5f;
    for (size_t i = 0; i < b.m * b.n1; i++)
        b.delta[i] = 1e-4f;
    memset(b.a1, 0, b.m * b.n1 * sizeof(float));
    memset(b.part, 0, b.T * b.m * b.n1 * sizeof(float));
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < b.m; i++)
            b.xr[k][i] = b.x + (rnd() % SAMPLES) * N0;
    for (size_t r = 0; r < rounds; r++)
        for (int v = 0; v < N_VARIANTS; v++) {
            for (size_t s = 0; s < 20; s++) // warm-up
                step(&b, (enum variant)v, s, &t1[0], &t2[0]);
            for (size_t s = 0; s < steps; s++)
                step(&b, (enum variant)v, s, &t1[s], &t2[s]);
            for (size_t s = 0; s < steps; s++)
                t3[s] = t1[s] + t2[s];
            qsort(t1, steps, sizeof(double), cmp_double);
            qsort(t2, steps, sizeof(double), cmp_double);
            qsort(t3, steps, sizeof(double), cmp_double);
            med[v][0][r] = t1[steps / 2];
            med[v][1][r] = t2[steps / 2];
            med[v][2][r] = t3[steps / 2];
        }
    printf("split_bench: one worker of %zu, batch %zu, layer 1 %zu x %d (%zu rows or %zu columns "
           "each), %zu steps x %zu rounds; microseconds, median (range) over the rounds\n",
           b.T, b.m, b.n1, N0, b.rows, b.cols, steps, rounds);
    printf("%-8s %-22s %-22s %-22s\n", "variant", "phase 1", "phase 2", "step");
    for (int v = 0; v < N_VARIANTS; v++) {
        printf("%-8s", variant_name[v]);
        for (int k = 0; k < 3; k++) {
            qsort(med[v][k], rounds, sizeof(double), cmp_double);
            char cell[64];
            snprintf(cell, sizeof cell, "%.2f (%.2f-%.2f)", 1e6 * med[v][k][rounds / 2],
                     1e6 * med[v][k][0], 1e6 * med[v][k][rounds - 1]);
            printf(" %-22s", cell);
        }
        printf("\n");
    }
    return 0;
}
