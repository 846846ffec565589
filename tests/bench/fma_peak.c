// The FMA peak of this machine: chains of independent fused multiply-adds on AVX-512 (zmm, 16
// floats) and AVX2 (ymm, 8 floats) registers, single precision, 2 flops per lane per FMA; and
// where the CPU has AVX512_BF16, chains of vdpbf16ps (zmm: two bf16 products added to each of 16
// fp32 lanes, 4 flops per lane), the limit of the bf16 GEMM. Not a test, not part of the CMake
// build (scripts/libs_bench.sh compiles it; plain C11 + pthreads, no -march flags: the kernels
// carry target attributes and run only where the CPU has the ISA).
//
//   fma_peak [--rounds R] [--threads-max T | --threads-list T,...]
//
// For each ISA and chain count (8 to 24 zmm, 8 or 12 ymm: AVX2 has 16 registers) it times R rounds
// (default 7) of ~0.1 s on 1 thread, then on 2..T threads (default: 2), or on each thread count of
// the list, pinned to cores 0..T-1 and started together; it prints the median and the best round's
// GFLOP/s, of all threads together and per thread (on a shared machine the best round is the closer
// estimate of the peak).
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

// N accumulators acc = acc * x + y, all independent: the loop is bound by FMA throughput as long
// as N >= pipes x latency. Returns a sum so the work cannot be dropped.
#define FMA_LOOP(NAME, TARGET, VEC, SET1, FMA, ADD, STORE, LANES, N)                               \
    __attribute__((target(TARGET), noinline)) static float NAME(long iters, float seed)            \
    {                                                                                              \
        VEC acc[N];                                                                                \
        const VEC x = SET1(0.999999f), y = SET1(1e-7f);                                            \
        for (int j = 0; j < N; j++)                                                                \
            acc[j] = SET1(seed + (float)j);                                                        \
        for (long i = 0; i < iters; i++) {                                                         \
            _Pragma("GCC unroll 32") for (int j = 0; j < N; j++) acc[j] = FMA(acc[j], x, y);       \
        }                                                                                          \
        for (int j = 1; j < N; j++)                                                                \
            acc[0] = ADD(acc[0], acc[j]);                                                          \
        float out[LANES];                                                                          \
        STORE(out, acc[0]);                                                                        \
        return out[0];                                                                             \
    }

FMA_LOOP(zmm8, "avx512f", __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps,
         16, 8)
FMA_LOOP(zmm12, "avx512f", __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps,
         16, 12)
FMA_LOOP(zmm16, "avx512f", __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps,
         16, 16)
FMA_LOOP(zmm24, "avx512f", __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps,
         16, 24)
FMA_LOOP(ymm8, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_storeu_ps,
         8, 8)
FMA_LOOP(ymm12, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps,
         _mm256_storeu_ps, 8, 12)

// N accumulators acc += x . y (vdpbf16ps: per fp32 lane, two bf16 products), all independent.
// x and y are bf16 pairs (1 - 2^-8, 2^-20): the accumulators grow slowly and never overflow.
#define DP_LOOP(NAME, N)                                                                           \
    __attribute__((target("avx512f,avx512bf16"), noinline)) static float NAME(long iters,          \
                                                                              float seed)          \
    {                                                                                              \
        __m512 acc[N];                                                                             \
        const __m512bh x = (__m512bh)_mm512_set1_epi32(0x3F7F3F7F),                                \
                       y = (__m512bh)_mm512_set1_epi32(0x35803580);                                \
        for (int j = 0; j < N; j++)                                                                \
            acc[j] = _mm512_set1_ps(seed + (float)j);                                              \
        for (long i = 0; i < iters; i++) {                                                         \
            _Pragma("GCC unroll 32") for (int j = 0; j < N; j++) acc[j] =                          \
                _mm512_dpbf16_ps(acc[j], x, y);                                                    \
        }                                                                                          \
        for (int j = 1; j < N; j++)                                                                \
            acc[0] = _mm512_add_ps(acc[0], acc[j]);                                                \
        float out[16];                                                                             \
        _mm512_storeu_ps(out, acc[0]);                                                             \
        return out[0];                                                                             \
    }

DP_LOOP(bf8, 8)
DP_LOOP(bf12, 12)
DP_LOOP(bf16, 16)
DP_LOOP(bf24, 24)

enum isa { ISA_AVX2, ISA_AVX512, ISA_BF16 };

struct kernel {
    const char *isa;
    int chains, lanes;
    float (*fn)(long, float);
    enum isa need;
    int flops; // per lane and instruction: 2 for an FMA, 4 for vdpbf16ps
};

static const struct kernel kernels[] = {
    {"AVX-512 zmm", 8, 16, zmm8, ISA_AVX512, 2},
    {"AVX-512 zmm", 12, 16, zmm12, ISA_AVX512, 2},
    {"AVX-512 zmm", 16, 16, zmm16, ISA_AVX512, 2},
    {"AVX-512 zmm", 24, 16, zmm24, ISA_AVX512, 2},
    {"AVX2 ymm", 8, 8, ymm8, ISA_AVX2, 2},
    {"AVX2 ymm", 12, 8, ymm12, ISA_AVX2, 2},
    {"AVX512_BF16 zmm (vdpbf16ps)", 8, 16, bf8, ISA_BF16, 4},
    {"AVX512_BF16 zmm (vdpbf16ps)", 12, 16, bf12, ISA_BF16, 4},
    {"AVX512_BF16 zmm (vdpbf16ps)", 16, 16, bf16, ISA_BF16, 4},
    {"AVX512_BF16 zmm (vdpbf16ps)", 24, 16, bf24, ISA_BF16, 4},
};

static int has[3];

struct job {
    const struct kernel *k;
    long iters;
    int cpu;
    pthread_barrier_t *start;
    double seconds;
    float sink;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(j->cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set); // best effort
    j->k->fn(j->iters / 16 + 1, 1.0f);                        // warm-up (clock, AVX-512 state)
    pthread_barrier_wait(j->start);
    const double t = now();
    j->sink = j->k->fn(j->iters, (float)j->cpu);
    j->seconds = now() - t;
    return NULL;
}

// GFLOP/s of T threads together: all flops over the slowest thread's time.
static double run(const struct kernel *k, long iters, int threads)
{
    pthread_t tid[64];
    struct job jobs[64];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){.k = k, .iters = iters, .cpu = i, .start = &start};
        if (pthread_create(&tid[i], NULL, worker, &jobs[i]) != 0) {
            fprintf(stderr, "fma_peak: pthread_create failed\n");
            exit(1);
        }
    }
    double worst = 0.0;
    float sink = 0.0f;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        worst = jobs[i].seconds > worst ? jobs[i].seconds : worst;
        sink += jobs[i].sink;
    }
    pthread_barrier_destroy(&start);
    if (sink == 12345.678f) // never: keeps the results alive
        printf("%g\n", sink);
    return (double)k->flops * k->lanes * k->chains * (double)iters * threads / worst * 1e-9;
}

int main(int argc, char **argv)
{
    int rounds = 7, threads_max = 2, list[64], n_list = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--rounds") == 0) {
            rounds = atoi(argv[++i]);
        } else if (i + 1 < argc && strcmp(argv[i], "--threads-max") == 0) {
            threads_max = atoi(argv[++i]);
        } else if (i + 1 < argc && strcmp(argv[i], "--threads-list") == 0) {
            // Thread counts, comma-separated, each 1-64.
            for (char *p = argv[++i]; *p && !bad;) {
                char *end;
                const long t = strtol(p, &end, 10);
                bad = end == p || t < 1 || t > 64 || n_list == 64 || (*end && *end != ',');
                if (!bad)
                    list[n_list++] = (int)t;
                p = *end ? end + 1 : end;
            }
            bad |= n_list == 0;
        } else {
            bad = 1;
        }
    }
    if (bad) {
        fprintf(stderr, "usage: fma_peak [--rounds R] [--threads-max T | --threads-list T,...]\n");
        return 2;
    }
    if (rounds < 1 || rounds > 99 || threads_max < 1 || threads_max > 64) {
        fprintf(stderr, "fma_peak: --rounds 1-99, --threads-max 1-64\n");
        return 2;
    }
    if (n_list == 0)
        for (int t = 1; t <= threads_max; t++)
            list[n_list++] = t;
    __builtin_cpu_init();
    has[ISA_AVX512] = __builtin_cpu_supports("avx512f");
    has[ISA_AVX2] = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    has[ISA_BF16] = has[ISA_AVX512] && __builtin_cpu_supports("avx512bf16");
    printf("# CPU: avx512f %s, avx2+fma %s, avx512_bf16 %s; %d rounds, medians; fp32 FMA: 2 flops "
           "x lanes, vdpbf16ps: 4 flops x lanes\n",
           has[ISA_AVX512] ? "yes" : "no", has[ISA_AVX2] ? "yes" : "no",
           has[ISA_BF16] ? "yes" : "no", rounds);
    printf("| ISA | chains | threads | median GFLOP/s | per thread | best round GFLOP/s | "
           "per thread |\n|---|---:|---:|---:|---:|---:|---:|\n");
    const int n_kernels = (int)(sizeof kernels / sizeof kernels[0]);
    for (int li = 0; li < n_list; li++) {
        const int threads = list[li];
        double gf[16][99];
        long iters[16];
        for (int q = 0; q < n_kernels; q++) {
            const struct kernel *k = &kernels[q];
            if (!has[k->need])
                continue;
            // ~0.1 s at a guessed 4 GHz x 1 FMA per cycle; rescaled after one try.
            iters[q] = 400000000L / k->chains;
            const double g = run(k, iters[q] / 10, 1);
            iters[q] = (long)(0.1 * g * 1e9 / ((double)k->flops * k->lanes * k->chains));
        }
        // Rounds outermost, so every kernel sees the same stretch of a noisy machine.
        for (int r = 0; r < rounds; r++)
            for (int q = 0; q < n_kernels; q++)
                if (has[kernels[q].need])
                    gf[q][r] = run(&kernels[q], iters[q], threads);
        for (int q = 0; q < n_kernels; q++) {
            const struct kernel *k = &kernels[q];
            if (!has[k->need]) {
                printf("| %s | %d | %d | not supported | | | |\n", k->isa, k->chains, threads);
                continue;
            }
            qsort(gf[q], (size_t)rounds, sizeof(double), cmp_double);
            const double med = gf[q][rounds / 2], best = gf[q][rounds - 1];
            printf("| %s | %d | %d | %.1f | %.1f | %.1f | %.1f |\n", k->isa, k->chains, threads,
                   med, med / threads, best, best / threads);
        }
        fflush(stdout);
    }
    return 0;
}
