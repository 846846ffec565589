// Other GEMM libraries against OpenBLAS and dpt_gemm on the products dptrain issues: single
// precision, row-major, one thread, hot operands. Not a test, and not part of the CMake build:
// scripts/libs_bench.sh compiles it with whichever libraries are installed (HAVE_BLIS,
// HAVE_XSMM, HAVE_DNNL, HAVE_DPT; OpenBLAS is always needed) and runs it.
//
//   libs_bench [--rounds R] [--set L1,L2,S] [--seconds S] [--bf16] [SHAPE ...]
//
// --bf16: the bf16 products instead (bf16 operands, fp32 accumulation; a CPU with AVX512_BF16):
// dpt_gemm (fp32, the baseline of the ratios), dpt_gemm_bf16 (converts while packing), oneDNN's
// bf16 matmul primitive (operands already bf16; and with the conversion pass of both operands
// that a step would need before it), the LIBXSMM bf16 JIT kernel (operands already bf16 in the
// layout it needs: A pairs interleaved along k, "VNNI"; a step would need a conversion and
// re-layout pass, at least as long as the plain conversion pass, which is timed on its own).
//
// SHAPE is op(A) op(B) and m x n x k, as in gemm_bench: NT:256x1024x784 is C = A B^T with A
// 256 x 784. For each shape every library runs R rounds (default 7) of as many calls as take
// about S seconds (default 0.04) at its own speed, the libraries in a rotated order
// each round; it prints the median GFLOP/s (2mnk / t) of each and its ratio to OpenBLAS's median,
// as a Markdown table. Every library's result is checked against OpenBLAS's.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
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
#include "core/gemm_bf16.h"
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
    libxsmm_bsmmfunction bjit;
#endif
    // --bf16: the operands in bf16, in the layout the library takes.
    uint16_t *a16, *b16;
#ifdef HAVE_DNNL
    dnnl_primitive_t mm;
    dnnl_memory_t am, bm, cm;
#endif
};

typedef void (*gemm_fn)(const struct operands *op);

struct library {
    const char *name;
    gemm_fn run;
    // Whether it can compute this shape (else the cell says n/a); NULL: always.
    int (*can)(struct operands *op);
    // Frees what can set up; NULL: nothing.
    void (*fini)(struct operands *op);
    int no_result; // computes no C (the conversion pass): not checked
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
    if (dpt_gemm_takes_packed(s->ta, s->tb, m, n, k))
        return "packed";
    return s->tb ? "nt" : "bcast";
}
#endif

// ---- bf16 (--bf16) ----

// float -> bf16, round to nearest even (vcvtne2ps2bf16), n values: the conversion pass a library
// taking bf16 operands needs before each product whose operands changed (every product of a
// training step: the weights change every step, the activations and deltas are new).
__attribute__((target("avx512f,avx512bf16"))) static void cvt_bf16(const float *s, size_t n,
                                                                   uint16_t *d)
{
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        _mm512_storeu_si512(d + i, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + i + 16),
                                                                _mm512_loadu_ps(s + i)));
    for (; i < n; i++) {
        uint32_t u;
        memcpy(&u, &s[i], 4);
        d[i] = (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
    }
}

static uint16_t bf16_of(float x)
{
    uint16_t h;
    cvt_bf16(&x, 1, &h);
    return h;
}

static size_t elems_a(const struct shape *s)
{
    return (size_t)s->m * (size_t)s->k;
}

static size_t elems_b(const struct shape *s)
{
    return (size_t)s->n * (size_t)s->k;
}

// Plain bf16 copies of A and B as stored (the layout dpt's and oneDNN's calls describe).
static int alloc_plain16(struct operands *o)
{
    o->a16 = aligned_alloc(64, (elems_a(o->sh) * 2 + 63) / 64 * 64);
    o->b16 = aligned_alloc(64, (elems_b(o->sh) * 2 + 63) / 64 * 64);
    if (!o->a16 || !o->b16)
        return 0;
    cvt_bf16(o->a, elems_a(o->sh), o->a16);
    cvt_bf16(o->b, elems_b(o->sh), o->b16);
    return 1;
}

static void free16(struct operands *o)
{
    free(o->a16);
    free(o->b16);
    o->a16 = o->b16 = NULL;
}

static void run_cvt(const struct operands *o)
{
    cvt_bf16(o->a, elems_a(o->sh), o->a16);
    cvt_bf16(o->b, elems_b(o->sh), o->b16);
}

#ifdef HAVE_DPT
static int can_dpt_bf16(struct operands *o)
{
    (void)o;
    return dpt_bf16_supported();
}

static void run_dpt_bf16(const struct operands *o)
{
    const struct shape *s = o->sh;
    dpt_gemm_bf16(s->ta, s->tb, (size_t)s->m, (size_t)s->n, (size_t)s->k, 1.0f, o->a,
                  (size_t)o->lda, o->b, (size_t)o->ldb, 0.0f, o->c, (size_t)o->ldc);
}
#endif

#ifdef HAVE_DNNL
static dnnl_engine_t dnnl_eng;
static dnnl_stream_t dnnl_str;

// A matmul primitive C (f32, m x n) = op(A) op(B) with bf16 A and B in their stored layouts
// (strides describe the transpositions), on the plain bf16 copies.
static int can_dnnl_bf16(struct operands *o)
{
    const struct shape *s = o->sh;
    if (!dnnl_eng &&
        (dnnl_engine_create(&dnnl_eng, dnnl_cpu, 0) != dnnl_success ||
         dnnl_stream_create(&dnnl_str, dnnl_eng, dnnl_stream_default_flags) != dnnl_success))
        return 0;
    if (!alloc_plain16(o))
        return 0;
    dnnl_memory_desc_t amd, bmd, cmd;
    const dnnl_dims_t ad = {s->m, s->k}, bd = {s->k, s->n}, cd = {s->m, s->n};
    const dnnl_dims_t as = {s->ta ? 1 : o->lda, s->ta ? o->lda : 1};
    const dnnl_dims_t bs = {s->tb ? 1 : o->ldb, s->tb ? o->ldb : 1};
    const dnnl_dims_t cs = {o->ldc, 1};
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd;
    if (dnnl_memory_desc_init_by_strides(&amd, 2, ad, dnnl_bf16, as) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&bmd, 2, bd, dnnl_bf16, bs) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&cmd, 2, cd, dnnl_f32, cs) != dnnl_success ||
        dnnl_matmul_desc_init(&md, &amd, &bmd, NULL, &cmd) != dnnl_success ||
        dnnl_primitive_desc_create(&pd, &md, NULL, dnnl_eng, NULL) != dnnl_success)
        return 0;
    const char *impl = "?";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    static char seen[256];
    if (!strstr(seen, impl) && strlen(seen) + strlen(impl) + 3 < sizeof seen) {
        fprintf(stderr, "libs_bench: oneDNN bf16 matmul implementation: %s (%s)\n", impl, s->name);
        strcat(seen, impl);
        strcat(seen, ";");
    }
    const int ok = dnnl_primitive_create(&o->mm, pd) == dnnl_success &&
                   dnnl_memory_create(&o->am, &amd, dnnl_eng, o->a16) == dnnl_success &&
                   dnnl_memory_create(&o->bm, &bmd, dnnl_eng, o->b16) == dnnl_success &&
                   dnnl_memory_create(&o->cm, &cmd, dnnl_eng, o->c) == dnnl_success;
    dnnl_primitive_desc_destroy(pd);
    return ok;
}

static void fini_dnnl_bf16(struct operands *o)
{
    if (o->mm)
        dnnl_primitive_destroy(o->mm);
    if (o->am)
        dnnl_memory_destroy(o->am);
    if (o->bm)
        dnnl_memory_destroy(o->bm);
    if (o->cm)
        dnnl_memory_destroy(o->cm);
    o->mm = NULL;
    o->am = o->bm = o->cm = NULL;
    free16(o);
}

static void run_dnnl_bf16(const struct operands *o)
{
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC, o->am}, {DNNL_ARG_WEIGHTS, o->bm}, {DNNL_ARG_DST, o->cm}};
    if (dnnl_primitive_execute(o->mm, dnnl_str, 3, args) != dnnl_success ||
        dnnl_stream_wait(dnnl_str) != dnnl_success) {
        fprintf(stderr, "libs_bench: the oneDNN bf16 matmul failed on %s\n", o->sh->name);
        exit(1);
    }
}

static void run_dnnl_bf16_cvt(const struct operands *o)
{
    run_cvt(o);
    run_dnnl_bf16(o);
}
#endif

#ifdef HAVE_XSMM
// LIBXSMM (column-major) computes C^T = op(B)^T op(A)^T: its A is op(B)^T (n x k), which bf16
// kernels take in VNNI layout (pairs along k interleaved: word (q, j) = (op(B)[2q][j],
// op(B)[2q + 1][j])), its B is op(A)^T (k x m, leading dimension k). The layouts are made here,
// untimed (scalar code); k must be even.
static int can_xsmm_bf16(struct operands *o)
{
    const struct shape *s = o->sh;
    if (s->k % 2)
        return 0;
    const size_t m = (size_t)s->m, n = (size_t)s->n, k = (size_t)s->k;
    o->a16 = aligned_alloc(64, (n * k * 2 + 63) / 64 * 64); // LIBXSMM's A: op(B) in VNNI
    o->b16 = aligned_alloc(64, (m * k * 2 + 63) / 64 * 64); // LIBXSMM's B: op(A)^T
    if (!o->a16 || !o->b16)
        return 0;
    for (size_t q = 0; q < k / 2; q++)
        for (size_t j = 0; j < n; j++)
            for (size_t h = 0; h < 2; h++) {
                const size_t p = 2 * q + h;
                const float v = s->tb ? o->b[j * (size_t)o->ldb + p] : o->b[p * (size_t)o->ldb + j];
                o->a16[(q * n + j) * 2 + h] = bf16_of(v);
            }
    for (size_t i = 0; i < m; i++)
        for (size_t p = 0; p < k; p++)
            o->b16[i * k + p] =
                bf16_of(s->ta ? o->a[p * (size_t)o->lda + i] : o->a[i * (size_t)o->lda + p]);
    const libxsmm_blasint lda = s->n, ldb = s->k, ldc = o->ldc;
    const float one = 1.0f, zero = 0.0f;
    const int flags = LIBXSMM_GEMM_FLAG_VNNI_A, prefetch = LIBXSMM_GEMM_PREFETCH_NONE;
    o->bjit =
        libxsmm_bsmmdispatch(s->n, s->m, s->k, &lda, &ldb, &ldc, &one, &zero, &flags, &prefetch);
    return o->bjit != NULL;
}

static void fini_xsmm_bf16(struct operands *o)
{
    free16(o);
}

static void run_xsmm_bf16(const struct operands *o)
{
    o->bjit((const libxsmm_bfloat16 *)o->a16, (const libxsmm_bfloat16 *)o->b16, o->c);
}
#endif

static int can_cvt(struct operands *o)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && alloc_plain16(o);
}

static const struct library libraries_fp32[] = {
    {"OpenBLAS", run_openblas, NULL, NULL, 0},
#ifdef HAVE_BLIS
    {"BLIS", run_blis, NULL, NULL, 0},
#endif
#ifdef HAVE_XSMM
    {"libxsmm_sgemm", run_xsmm_sgemm, NULL, NULL, 0},
    {"libxsmm JIT", run_xsmm_jit, can_xsmm_jit, NULL, 0},
#endif
#ifdef HAVE_DNNL
    {"oneDNN", run_dnnl, NULL, NULL, 0},
#endif
#ifdef HAVE_DPT
    {"dpt_gemm", run_dpt, NULL, NULL, 0},
#endif
};

// --bf16: the first is the baseline of the ratios and of the result check.
static const struct library libraries_bf16[] = {
#ifdef HAVE_DPT
    {"dpt_gemm (fp32)", run_dpt, NULL, NULL, 0},
    {"dpt_gemm_bf16", run_dpt_bf16, can_dpt_bf16, NULL, 0},
#else
    {"OpenBLAS (fp32)", run_openblas, NULL, NULL, 0},
#endif
#ifdef HAVE_DNNL
    {"oneDNN bf16", run_dnnl_bf16, can_dnnl_bf16, fini_dnnl_bf16, 0},
    {"oneDNN bf16 + conversion", run_dnnl_bf16_cvt, can_dnnl_bf16, fini_dnnl_bf16, 0},
#endif
#ifdef HAVE_XSMM
    {"libxsmm bf16 JIT", run_xsmm_bf16, can_xsmm_bf16, fini_xsmm_bf16, 0},
#endif
    {"conversion pass", run_cvt, can_cvt, free16, 1},
};

static const struct library *libraries = libraries_fp32;
static int N_LIBS = (int)(sizeof libraries_fp32 / sizeof libraries_fp32[0]);

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
    int rounds = 7, bf16 = 0;
    double seconds = 0.04;
    const char *sets = "L1,L2,S";
    int first = 1;
    while (first < argc && argv[first][0] == '-') {
        if (strcmp(argv[first], "--bf16") == 0) {
            bf16 = 1;
            first++;
            continue;
        }
        if (first + 1 < argc && strcmp(argv[first], "--rounds") == 0)
            rounds = atoi(argv[first + 1]);
        else if (first + 1 < argc && strcmp(argv[first], "--seconds") == 0)
            seconds = atof(argv[first + 1]);
        else if (first + 1 < argc && strcmp(argv[first], "--set") == 0)
            sets = argv[first + 1];
        else {
            fprintf(stderr, "usage: libs_bench [--rounds R] [--seconds S] [--set L1,L2,S] [--bf16] "
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

    if (bf16) {
        __builtin_cpu_init();
        if (!__builtin_cpu_supports("avx512bf16")) {
            fprintf(stderr, "libs_bench: --bf16: this CPU has no AVX512_BF16\n");
            return 2;
        }
        libraries = libraries_bf16;
        N_LIBS = (int)(sizeof libraries_bf16 / sizeof libraries_bf16[0]);
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
    if (bf16)
        printf("- bf16 products (fp32 accumulation); 'conversion pass': converting both operands "
               "to bf16 (vcvtne2ps2bf16), GFLOP/s of the product it precedes\n");
    printf("- %d rounds, libraries in a rotated order each round; cells: median GFLOP/s "
           "(ratio to %s)\n\n",
           rounds, libraries[0].name);

    // --bf16: LIBXSMM's kernel and the conversion pass are timed separately; their sum is the
    // least a step through LIBXSMM would take (its re-layout costs at least the plain pass).
    int xsmm = -1, cvt = -1;
    for (int l = 0; bf16 && l < N_LIBS; l++) {
        if (strstr(libraries[l].name, "libxsmm"))
            xsmm = l;
        if (libraries[l].no_result)
            cvt = l;
    }
    printf("| shape |");
    for (int l = 0; l < N_LIBS; l++)
        printf(" %s |", libraries[l].name);
    if (xsmm >= 0 && cvt >= 0)
        printf(" libxsmm bf16 + conversion (at least) |");
#ifdef HAVE_DPT
    if (!bf16)
        printf(" dpt_gemm path |");
#endif
    printf("\n|---|");
    for (int l = 0; l < N_LIBS; l++)
        printf("---:|");
    if (xsmm >= 0 && cvt >= 0)
        printf("---:|");
#ifdef HAVE_DPT
    if (!bf16)
        printf("---|");
#endif
    printf("\n");
    fflush(stdout);

    int bad = 0;
    if (N_LIBS > 16) {
        fprintf(stderr, "libs_bench: too many libraries\n");
        return 2;
    }
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
        float *c[16];
        struct operands op[16];
        int ok[16];
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
        // Every result against library 0's (OpenBLAS, or dpt_gemm in fp32 with --bf16: then the
        // tolerance is bf16's, 2^-8 relative per operand, which a wrong layout far exceeds).
        for (int l = 1; l < N_LIBS; l++) {
            if (!ok[l] || libraries[l].no_result)
                continue;
            double err = 0.0, ref = 0.0;
            for (size_t i = 0; i < nc; i++) {
                err = fmax(err, fabs((double)c[l][i] - (double)c[0][i]));
                ref = fmax(ref, fabs((double)c[0][i]));
            }
            if (!(err <= (bf16 ? 2e-2 : 1e-4 * sqrt((double)sh.k)) * (ref + 1e-30))) {
                fprintf(stderr, "libs_bench: %s on %s differs from %s by %g (max |C| %g)\n",
                        libraries[l].name, sh.name, libraries[0].name, err, ref);
                bad = 1;
            }
        }
        // Calls per measurement: about `seconds` at each library's own speed.
        int calls[16];
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
        double med[16];
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
        if (xsmm >= 0 && cvt >= 0) {
            if (ok[xsmm] && ok[cvt])
                printf(" %.1f (%.2fx) |", flop / (med[xsmm] + med[cvt]) * 1e-9,
                       med[0] / (med[xsmm] + med[cvt]));
            else
                printf(" n/a |");
        }
#ifdef HAVE_DPT
        if (!bf16)
            printf(" %s |", dpt_path(&sh));
#endif
        printf("\n");
        fflush(stdout);
        for (int l = 0; l < N_LIBS; l++) {
            if (libraries[l].fini)
                libraries[l].fini(&op[l]);
            free(c[l]);
        }
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
