// The products of DPT_PRECISION_BF16 (gemm_bf16.h): every product of a bf16 training step, large
// or small, through the bf16 packed GEMM (isa/avx512bf16/kernels.c), which rounds both operands
// to bf16 while packing them and accumulates in fp32. Also the precision's names and the check
// that this CPU runs it.
#include <stdio.h>
#include <string.h>

#include "dptrain/core.h"
#include "error_impl.h"
#include "gemm_bf16.h"
#include "gemm_impl.h"
#include "isa/bf16.h"

// DPT_HAVE_BF16_KERNELS: the build compiled isa/avx512bf16 (CMakeLists.txt).

static const char *const precision_names[] = {"fp32", "bf16"};

const char *dpt_precision_name(enum dpt_precision p)
{
    return (unsigned)p <= DPT_PRECISION_BF16 ? precision_names[p] : "?";
}

enum dpt_status dpt_precision_parse(const char *name, enum dpt_precision *out)
{
    for (int p = DPT_PRECISION_FP32; name && p <= DPT_PRECISION_BF16; p++)
        if (strcmp(name, precision_names[p]) == 0) {
            *out = (enum dpt_precision)p;
            return DPT_OK;
        }
    return dpt_error(DPT_ERR_INVALID, "unknown precision '%s' (expected fp32 or bf16)",
                     name ? name : "(null)");
}

// Whether the CPU has the instructions (whatever level is in use).
static int cpu_has_bf16(void)
{
#ifdef DPT_HAVE_BF16_KERNELS
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

int dpt_bf16_supported(void)
{
    return cpu_has_bf16() && dpt_isa_level() == DPT_ISA_AVX512;
}

static _Thread_local char precision_msg[160];

const char *dpt_precision_check(enum dpt_precision p)
{
    if (p == DPT_PRECISION_FP32)
        return NULL;
    if ((unsigned)p > DPT_PRECISION_BF16) {
        snprintf(precision_msg, sizeof precision_msg, "precision %d is not fp32 or bf16", (int)p);
        return precision_msg;
    }
#ifndef DPT_HAVE_BF16_KERNELS
    snprintf(precision_msg, sizeof precision_msg,
             "bf16 needs the AVX512_BF16 kernels, which this build does not have (x86-64 with gcc "
             "or clang only); use fp32");
    return precision_msg;
#else
    if (!cpu_has_bf16()) {
        snprintf(precision_msg, sizeof precision_msg,
                 "bf16 needs a CPU with AVX512_BF16 (vdpbf16ps), and this one has none; use fp32");
        return precision_msg;
    }
    if (dpt_isa_level() != DPT_ISA_AVX512) {
        snprintf(precision_msg, sizeof precision_msg,
                 "bf16 needs the avx512 kernel level, and the %s level is in use (DPT_ISA); use "
                 "fp32 or unset DPT_ISA",
                 dpt_isa_name());
        return precision_msg;
    }
    return NULL;
#endif
}

struct dpt_gemm_blocking dpt_gemm_bf16_blocking(void)
{
    struct dpt_gemm_blocking bl = dpt_gemm_blocking(DPT_ISA_AVX512);
    bl.kc *= 2;
    return bl;
}

#ifdef DPT_HAVE_BF16_KERNELS
// The product through the bf16 kernel, with the calling thread's packing buffer (a bf16 step
// always has one: an invariant, not an input).
static void packed(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                   size_t lda, const float *const *arows, const float *b, size_t ldb,
                   const float *const *brows, float beta, float *c, size_t ldc)
{
    const struct dpt_gemm_pack cur = dpt_gemm_pack_use(NULL, 0);
    dpt_gemm_pack_use(cur.buf, cur.floats);
    const struct dpt_gemm_blocking bl = dpt_gemm_bf16_blocking();
    DPT_ASSERT(cur.buf && cur.floats >= dpt_bf16_pack_words(&bl) && dpt_bf16_supported());
    dpt_bf16_packed(ta, tb, m, n, k, alpha, a, lda, arows, b, ldb, brows, beta, c, ldc, cur.buf,
                    &bl);
}
#else
static void packed(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                   size_t lda, const float *const *arows, const float *b, size_t ldb,
                   const float *const *brows, float beta, float *c, size_t ldc)
{
    (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)arows;
    (void)b, (void)ldb, (void)brows, (void)beta, (void)c, (void)ldc;
    DPT_ASSERT(!"bf16 products in a build without the bf16 kernel");
}
#endif

// C = beta C, for products with k = 0 (beta = 0 does not read C).
static void scale_c(size_t m, size_t n, float beta, float *c, size_t ldc)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

void dpt_gemm_bf16(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                   size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    if (m == 0 || n == 0)
        return;
    if (k == 0)
        scale_c(m, n, beta, c, ldc);
    else
        packed(ta, tb, m, n, k, alpha, a, lda, NULL, b, ldb, NULL, beta, c, ldc);
}

void dpt_gemm_bf16_nt_rows(size_t m, size_t n, size_t k, float alpha, const float *const *a_rows,
                           const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    if (m == 0 || n == 0)
        return;
    if (k == 0)
        scale_c(m, n, beta, c, ldc);
    else
        packed(0, 1, m, n, k, alpha, NULL, 0, a_rows, b, ldb, NULL, beta, c, ldc);
}

void dpt_gemm_bf16_tn_rows(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                           const float *const *b_rows, float beta, float *c, size_t ldc)
{
    if (m == 0 || n == 0)
        return;
    if (k == 0)
        scale_c(m, n, beta, c, ldc);
    else
        packed(1, 0, m, n, k, alpha, a, lda, NULL, NULL, 0, b_rows, beta, c, ldc);
}
