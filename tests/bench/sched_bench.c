// The built-in schedules' steps at each vector level (src/optim/schedule_impl.h): the time of one
// step over n parameters, medians of the rounds, the levels alternating within each round.
//
//   build/release/tests/sched_bench [--rounds R] [N ...]
//
// N: parameters per step (default 42000, one worker's slice of workload M at 16 threads, and
// 669706, all of M). Each step runs hot (the vectors fit or stream as they would in training:
// every step reads and writes all of them).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "core/gemm_impl.h"
#include "dptrain/dptrain.h"

#define MAX_ROUNDS 99
#define REPS       20 // steps per timing; the best of them

static const char *const specs[] = {"fixed:lr=0.05,wd=1e-4", "momentum:lr=0.05", "adagrad:lr=0.1",
                                    "rmsprop:lr=0.01",       "adam:lr=1e-3",     "adamw:lr=1e-3"};
#define N_SPECS (sizeof specs / sizeof specs[0])

// The best of REPS steps of s over n parameters, in seconds.
static double time_step(struct dpt_schedule *s, float *theta, float *grad, size_t n, uint64_t *k)
{
    double best = 1e30;
    for (int r = 0; r < REPS; r++) {
        const struct dpt_step_ctx ctx = {
            .step = ++*k, .epoch = 1, .batch_size = 128, .grad_sq_norm = 1.0, .lr_mult = 1.0};
        const double t0 = now();
        dpt_schedule_step(s, &ctx, theta, grad, 0, n);
        const double t = now() - t0;
        best = t < best ? t : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    int rounds = 5, first = 1;
    if (argc > 2 && strcmp(argv[1], "--rounds") == 0) {
        rounds = atoi(argv[2]);
        first = 3;
    }
    if (rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: sched_bench [--rounds R (1-99)] [N ...]\n");
        return 2;
    }
    size_t sizes[16] = {42000, 669706}, n_sizes = 2;
    if (argc > first) {
        n_sizes = 0;
        for (int i = first; i < argc && n_sizes < 16; i++) {
            const long v = atol(argv[i]);
            if (v < 1) {
                fprintf(stderr, "sched_bench: '%s' is not a parameter count\n", argv[i]);
                return 2;
            }
            sizes[n_sizes++] = (size_t)v;
        }
    }
    const enum dpt_isa levels[] = {DPT_ISA_GENERIC, DPT_ISA_AVX2, DPT_ISA_AVX512, DPT_ISA_NEON};
    const char *const names[] = {"baseline", "avx2", "avx512", "neon"};
    const size_t n_levels = sizeof levels / sizeof levels[0];
    printf("# one step, us: medians of %d rounds (best of %d steps each)\n", rounds, REPS);
    printf("%-24s %8s", "schedule", "params");
    for (size_t l = 0; l < n_levels; l++)
        if (dpt_isa_supported(levels[l]))
            printf(" %9s", names[l]);
    printf("\n");
    for (size_t z = 0; z < n_sizes; z++) {
        const size_t n = sizes[z];
        float *theta = malloc(n * sizeof *theta), *grad = malloc(n * sizeof *grad);
        if (!theta || !grad) {
            fprintf(stderr, "sched_bench: out of memory\n");
            return 1;
        }
        for (size_t i = 0; i < n; i++) {
            theta[i] = 0.01f * (float)(i % 101) - 0.5f;
            grad[i] = 0.001f * (float)(i % 37) - 0.018f;
        }
        for (size_t sp = 0; sp < N_SPECS; sp++) {
            struct dpt_schedule *s = NULL;
            if (dpt_schedule_parse(specs[sp], &s) != DPT_OK || dpt_schedule_init(s, n) != DPT_OK) {
                fprintf(stderr, "sched_bench: %s: %s\n", specs[sp], dpt_last_error());
                return 1;
            }
            double t[4][MAX_ROUNDS];
            uint64_t k = 0;
            for (int r = 0; r < rounds; r++)
                for (size_t l = 0; l < n_levels; l++)
                    if (dpt_isa_force(levels[l]))
                        t[l][r] = time_step(s, theta, grad, n, &k);
            dpt_isa_reset();
            printf("%-24s %8zu", specs[sp], n);
            for (size_t l = 0; l < n_levels; l++)
                if (dpt_isa_supported(levels[l])) {
                    qsort(t[l], (size_t)rounds, sizeof(double), cmp_double);
                    printf(" %9.1f", 1e6 * t[l][rounds / 2]);
                }
            printf("\n");
            dpt_schedule_destroy(s);
        }
        free(theta);
        free(grad);
    }
    return 0;
}
