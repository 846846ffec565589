// Other GEMM libraries against OpenBLAS and dpt_gemm on the products dptrain issues: single
// precision, row-major, one thread, hot operands. Not a test, and not part of the CMake build:
// scripts/libs_bench.sh compiles it with whichever libraries are installed (HAVE_BLIS,
// HAVE_XSMM, HAVE_DNNL, HAVE_DPT; OpenBLAS is always needed) and runs it.
//
//   libs_bench [--rounds R] [--set L1,L2,S] [--seconds S] [SHAPE ...]
//
// SHAPE is op(A) op(B) and m x n x k, as in gemm_bench: NT:256x1024x784 is C = A B^T with A
// 256 x 784. For each shape every library runs R rounds (default 7) of as many calls as take
// about S seconds (default 0.04) at its own speed, the libraries in a rotated order
// each round; it prints the median GFLOP/s (2mnk / t) of each and its ratio to OpenBLAS's median,
// as a Markdown table. Every library's result is checked against OpenBLAS's.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#ifdef HAVE_BLIS
#include <blis.h>
#endif
#ifdef HAVE_XSMM
#include <libxsmm.h>
#endif
#ifdef HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif
#ifdef HAVE_DPT
#include "core/gemm_impl.h"
#endif

#include "bench_util.h"

// OpenBLAS's own extensions (not in every cblas.h).
char *openblas_get_corename(void);
char *openblas_get_config(void);
void openblas_set_num_threads(int n);

struct shape {
    int ta, tb;
    int m, n, k;
    const char *name;
};

struct operands {
    const struct shape *sh;
    const float *a, *b;
    float *c;
    int lda, ldb, ldc;
#ifdef HAVE_XSMM
    libxsmm_smmfunction jit;
#endif
};

typedef void (*gemm_fn)(const struct operands *op);

struct library {
    const char *name;
    gemm_fn run;
    // Whether it can compute this shape (else the cell says n/a); NULL: always.
    int (*can)(struct operands *op);
};

static void run_openblas(const struct operands *o)
{
    const struct shape *s = o->sh;
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans,
                s->m, s->n, s->k, 1.0f, o->a, o->lda, o->b, o->ldb, 0.0f, o->c, o->ldc);
}

#ifdef HAVE_BLIS
// The typed API takes a row stride and a column stride for each operand: row-major is (ld, 1).
static void run_blis(const struct operands *o)
{
    const struct shape *s = o->sh;
    float one = 1.0f, zero = 0.0f;
    bli_sgemm(s->ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
              s->tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, s->m, s->n, s->k, &one, (float *)o->a,
              o->lda, 1, (float *)o->b, o->ldb, 1, &zero, o->c, o->ldc, 1);
}
#endif

#ifdef HAVE_XSMM
// LIBXSMM is column-major: row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T,
// i.e. the column-major product with A and B (and their transpositions) swapped, m and n swapped.
static void run_xsmm_sgemm(const struct operands *o)
{
    const struct shape *s = o->sh;
    const char ta = s->tb ? 'T' : 'N', tb = s->ta ? 'T' : 'N';
    const libxsmm_blasint m = s->n, n = s->m, k = s->k, lda = o->ldb, ldb = o->lda, ldc = o->ldc;
    const float one = 1.0f, zero = 0.0f;
    libxsmm_sgemm(&ta, &tb, &m, &n, &k, &one, o->b, &lda, o->a, &ldb, &zero, o->c, &ldc);
}

// The JIT kernel itself (libxsmm_smmdispatch), whatever the size: libxsmm_sgemm only uses one
// up to LIBXSMM_MAX_MNK (64^3 in Debian's build) and hands larger products to the BLAS.
static int can_xsmm_jit(struct operands *o)
{
    const struct shape *s = o->sh;
    const libxsmm_blasint lda = o->ldb, ldb = o->lda, ldc = o->ldc;
    const float one = 1.0f, zero = 0.0f;
    const int flags =
        (s->tb ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) | (s->ta ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
    const int prefetch = LIBXSMM_GEMM_PREFETCH_NONE;
    o->jit =
        libxsmm_smmdispatch(s->n, s->m, s->k, &lda, &ldb, &ldc, &one, &zero, &flags, &prefetch);
    return o->jit != NULL;
}

static void run_xsmm_jit(const struct operands *o)
{
    o->jit(o->b, o->a, o->c);
}
#endif

#ifdef HAVE_DNNL
static void run_dnnl(const struct operands *o)
{
    const struct shape *s = o->sh;
    if (dnnl_sgemm(s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->m, s->n, s->k, 1.0f, o->a, o->lda, o->b,
                   o->ldb, 0.0f, o->c, o->ldc) != dnnl_success) {
        fprintf(stderr, "libs_bench: dnnl_sgemm failed on %s\n", s->name);
        exit(1);
    }
}
#endif

#ifdef HAVE_DPT
static void run_dpt(const struct operands *o)
{
    const struct shape *s = o->sh;
    dpt_gemm(s->ta, s->tb, (size_t)s->m, (size_t)s->n, (size_t)s->k, 1.0f, o->a, (size_t)o->lda,
             o->b, (size_t)o->ldb, 0.0f, o->c, (size_t)o->ldc);
}

// Which of dpt_gemm's paths a shape takes (gemm.c's rules; the packed GEMM needs the buffer).
static const char *dpt_path(const struct shape *s)
{
    const size_t m = (size_t)s->m, n = (size_t)s->n, k = (size_t)s->k;
    if (!dpt_gemm_rows_available())
        return "BLAS";
    const int small_nt = !s->ta && s->tb && m <= DPT_NT_KERNEL_MAX_ROWS;
    if (dpt_gemm_packed_pays(s->ta, s->tb, m, n, k) && !small_nt)
        return "packed";
    return s->tb ? "nt" : "bcast";
}
#endif

static const struct library libraries[] = {
    {"OpenBLAS", run_openblas, NULL},
#ifdef HAVE_BLIS
    {"BLIS", run_blis, NULL},
#endif
#ifdef HAVE_XSMM
    {"libxsmm_sgemm", run_xsmm_sgemm, NULL},
    {"libxsmm JIT", run_xsmm_jit, can_xsmm_jit},
#endif
#ifdef HAVE_DNNL
    {"oneDNN", run_dnnl, NULL},
#endif
#ifdef HAVE_DPT
    {"dpt_gemm", run_dpt, NULL},
#endif
};
#define N_LIBS ((int)(sizeof libraries / sizeof libraries[0]))

// The products of the reference workloads (docs/benchmarks.md): forward NT (m = rows of the
// shard, n = units out, k = units in), weight gradient TN (m = units out, n = units in, k = rows),
// input deltas NN (m = rows, n = units in, k = units out; none for the first layer).
static const char *set_l1[] = {
    // L (784-1024-1024-10), batch 256 at 1 thread.
    "NT:256x1024x784",  "NT:256x1024x1024", "NT:256x10x1024",   "TN:1024x784x256",
    "TN:1024x1024x256", "TN:10x1024x256",   "NN:256x1024x1024", "NN:256x1024x10",
};
static const char *set_l2[] = {
    // L at 2 threads: each worker's half batch (128 rows) and, in sliced mode, its half of a
    // weight gradient's rows over the whole batch.
    "NT:128x1024x784", "NT:128x1024x1024", "NN:128x1024x1024", "TN:512x784x256", "TN:512x1024x256",
};
static const char *set_s[] = {
    // S (784-128-10, batch 32) split into small shards: 1-16 rows, gradients over 8-16 rows.
    "NT:1x128x784", "NT:2x128x784",  "NT:4x128x784", "NT:8x128x784", "NT:16x128x784",
    "NT:1x10x128",  "NT:2x10x128",   "NT:4x10x128",  "NT:8x10x128",  "NT:16x10x128",
    "NN:1x128x10",  "NN:2x128x10",   "NN:4x128x10",  "NN:8x128x10",  "NN:16x128x10",
    "TN:128x784x8", "TN:128x784x16", "TN:10x128x8",  "TN:10x128x16",
};

static int parse(const char *str, struct shape *sh)
{
    char t[3];
    if (sscanf(str, "%2[NT]:%dx%dx%d", t, &sh->m, &sh->n, &sh->k) != 4 || strlen(t) != 2 ||
        sh->m <= 0 || sh->n <= 0 || sh->k <= 0 ||
        (double)sh->m * (double)sh->n * (double)sh->k > (double)(1 << 30))
        return -1;
    sh->ta = t[0] == 'T';
    sh->tb = t[1] == 'T';
    sh->name = str;
    return 0;
}

// The file that provides a symbol as the process resolves it (the BLIS and OpenBLAS libraries
// both export cblas_sgemm and sgemm_: the first one loaded wins).
static const char *lib_file(const char *symbol)
{
    Dl_info info;
    void *addr = dlsym(RTLD_DEFAULT, symbol);
    return addr && dladdr(addr, &info) && info.dli_fname ? info.dli_fname : "?";
}

static void print_header(void)
{
    printf("- OpenBLAS: %s, core %s (cblas_sgemm from %s)\n", openblas_get_config(),
           openblas_get_corename(), lib_file("cblas_sgemm"));
    printf("- Fortran sgemm_ (libxsmm's fallback) from %s\n", lib_file("sgemm_"));
#ifdef HAVE_BLIS
    printf("- BLIS %s, sub-configuration %s, %s (from %s)\n", bli_info_get_version_str(),
           bli_arch_string(bli_arch_query_id()),
           bli_info_get_enable_threading() ? "threading enabled" : "no threading",
           lib_file("bli_sgemm"));
#endif
#ifdef HAVE_XSMM
    printf("- LIBXSMM %s, target %s (LIBXSMM_MAX_MNK %d; libxsmm_sgemm above it: the BLAS)\n",
           LIBXSMM_VERSION, libxsmm_get_target_arch(), LIBXSMM_MAX_MNK);
#endif
#ifdef HAVE_DNNL
    const dnnl_version_t *v = dnnl_version();
    printf("- oneDNN %d.%d.%d (%s), CPU runtime %u, effective ISA 0x%x (from %s)\n", v->major,
           v->minor, v->patch, v->hash, v->cpu_runtime, (unsigned)dnnl_get_effective_cpu_isa(),
           lib_file("dnnl_sgemm"));
#endif
#ifdef HAVE_DPT
    printf("- dpt_gemm from this tree's static library (%s)\n",
           dpt_gemm_rows_available() ? "AVX-512 kernels on" : "BLAS only");
#endif
}

int main(int argc, char **argv)
{
    int rounds = 7;
    double seconds = 0.04;
    const char *sets = "L1,L2,S";
    int first = 1;
    while (first < argc && argv[first][0] == '-') {
        if (first + 1 < argc && strcmp(argv[first], "--rounds") == 0)
            rounds = atoi(argv[first + 1]);
        else if (first + 1 < argc && strcmp(argv[first], "--seconds") == 0)
            seconds = atof(argv[first + 1]);
        else if (first + 1 < argc && strcmp(argv[first], "--set") == 0)
            sets = argv[first + 1];
        else {
            fprintf(stderr, "usage: libs_bench [--rounds R] [--seconds S] [--set L1,L2,S] "
                            "[NT:MxNxK ...]\n");
            return 2;
        }
        first += 2;
    }
    if (rounds < 1 || rounds > 99 || !(seconds > 0.0 && seconds < 10.0)) {
        fprintf(stderr, "libs_bench: --rounds 1-99, --seconds (0, 10)\n");
        return 2;
    }

    const char *names[64];
    int n_shapes = 0;
    if (first < argc) {
        for (int i = first; i < argc && n_shapes < 64; i++)
            names[n_shapes++] = argv[i];
    } else {
        const struct {
            const char *tag;
            const char **list;
            int n;
        } all[] = {
            {"L1", set_l1, (int)(sizeof set_l1 / sizeof *set_l1)},
            {"L2", set_l2, (int)(sizeof set_l2 / sizeof *set_l2)},
            {"S", set_s, (int)(sizeof set_s / sizeof *set_s)},
        };
        for (int j = 0; j < 3; j++) {
            const char *p = strstr(sets, all[j].tag);
            const size_t len = strlen(all[j].tag);
            if (p && (p[len] == ',' || p[len] == '\0'))
                for (int i = 0; i < all[j].n; i++)
                    names[n_shapes++] = all[j].list[i];
        }
    }

    openblas_set_num_threads(1);
#ifdef HAVE_XSMM
    libxsmm_init();
#endif
#ifdef HAVE_DPT
    const size_t floats = dpt_gemm_pack_floats();
    float *pack = floats ? aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64) : NULL;
    dpt_gemm_pack_use(pack, floats);
    dpt_blas_single_thread();
#endif
    print_header();
    printf("- %d rounds, libraries in a rotated order each round; cells: median GFLOP/s "
           "(ratio to OpenBLAS)\n\n",
           rounds);

    printf("| shape |");
    for (int l = 0; l < N_LIBS; l++)
        printf(" %s |", libraries[l].name);
#ifdef HAVE_DPT
    printf(" dpt_gemm path |");
#endif
    printf("\n|---|");
    for (int l = 0; l < N_LIBS; l++)
        printf("---:|");
#ifdef HAVE_DPT
    printf("---|");
#endif
    printf("\n");
    fflush(stdout);

    int bad = 0;
    for (int s = 0; s < n_shapes; s++) {
        struct shape sh;
        if (parse(names[s], &sh) != 0) {
            fprintf(stderr, "libs_bench: '%s' is not a shape like NT:256x1024x784\n", names[s]);
            return 2;
        }
        const size_t na = (size_t)sh.m * (size_t)sh.k, nb = (size_t)sh.n * (size_t)sh.k,
                     nc = (size_t)sh.m * (size_t)sh.n;
        float *a = aligned_alloc(64, (na * sizeof(float) + 63) / 64 * 64);
        float *b = aligned_alloc(64, (nb * sizeof(float) + 63) / 64 * 64);
        float *c[N_LIBS];
        struct operands op[N_LIBS];
        int ok[N_LIBS];
        double *t = malloc((size_t)N_LIBS * (size_t)rounds * sizeof *t);
        if (!a || !b || !t) {
            fprintf(stderr, "libs_bench: out of memory\n");
            return 1;
        }
        for (size_t i = 0; i < na; i++)
            a[i] = (float)rand() / (float)RAND_MAX - 0.5f;
        for (size_t i = 0; i < nb; i++)
            b[i] = (float)rand() / (float)RAND_MAX - 0.5f;
        for (int l = 0; l < N_LIBS; l++) {
            c[l] = aligned_alloc(64, (nc * sizeof(float) + 63) / 64 * 64);
            if (!c[l]) {
                fprintf(stderr, "libs_bench: out of memory\n");
                return 1;
            }
            memset(c[l], 0, nc * sizeof(float));
            op[l] = (struct operands){.sh = &sh,
                                      .a = a,
                                      .b = b,
                                      .c = c[l],
                                      .lda = sh.ta ? sh.m : sh.k,
                                      .ldb = sh.tb ? sh.k : sh.n,
                                      .ldc = sh.n};
            ok[l] = !libraries[l].can || libraries[l].can(&op[l]);
            if (ok[l])
                libraries[l].run(&op[l]); // warm-up: JIT, first-call set-up, caches
        }
        // Every result against OpenBLAS's (library 0).
        for (int l = 1; l < N_LIBS; l++) {
            if (!ok[l])
                continue;
            double err = 0.0, ref = 0.0;
            for (size_t i = 0; i < nc; i++) {
                err = fmax(err, fabs((double)c[l][i] - (double)c[0][i]));
                ref = fmax(ref, fabs((double)c[0][i]));
            }
            if (!(err <= 1e-4 * (ref + 1e-30) * sqrt((double)sh.k))) {
                fprintf(stderr, "libs_bench: %s on %s differs from OpenBLAS by %g (max |C| %g)\n",
                        libraries[l].name, sh.name, err, ref);
                bad = 1;
            }
        }
        // Calls per measurement: about `seconds` at each library's own speed.
        int calls[N_LIBS];
        for (int l = 0; l < N_LIBS; l++) {
            calls[l] = 1;
            while (ok[l]) {
                const double t0 = now();
                for (int q = 0; q < calls[l]; q++)
                    libraries[l].run(&op[l]);
                const double dt = now() - t0;
                if (dt > 0.005 || calls[l] > (1 << 24)) {
                    calls[l] = (int)fmax(1.0, calls[l] * seconds / dt);
                    break;
                }
                calls[l] *= 4;
            }
        }
        for (int r = 0; r < rounds; r++)
            for (int j = 0; j < N_LIBS; j++) {
                const int l = (j + r) % N_LIBS;
                if (!ok[l])
                    continue;
                const double t0 = now();
                for (int q = 0; q < calls[l]; q++)
                    libraries[l].run(&op[l]);
                t[l * rounds + r] = (now() - t0) / calls[l]; // per call
            }
        const double flop = 2.0 * sh.m * (double)sh.n * sh.k;
        double med[N_LIBS];
        printf("| %s |", sh.name);
        for (int l = 0; l < N_LIBS; l++) {
            if (!ok[l]) {
                printf(" n/a |");
                continue;
            }
            qsort(t + l * rounds, (size_t)rounds, sizeof *t, cmp_double);
            med[l] = t[l * rounds + rounds / 2];
            if (l == 0)
                printf(" %.1f |", flop / med[l] * 1e-9);
            else
                printf(" %.1f (%.2fx) |", flop / med[l] * 1e-9, med[0] / med[l]);
        }
#ifdef HAVE_DPT
        printf(" %s |", dpt_path(&sh));
#endif
        printf("\n");
        fflush(stdout);
        for (int l = 0; l < N_LIBS; l++)
            free(c[l]);
        free(a);
        free(b);
        free(t);
    }
#ifdef HAVE_DPT
    dpt_gemm_pack_use(NULL, 0);
    free(pack);
#endif
#ifdef HAVE_XSMM
    libxsmm_finalize();
#endif
    return bad;
}
