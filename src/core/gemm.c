// The GEMM shim over CBLAS (OpenBLAS by default; any CBLAS through the DPT_BLAS CMake option).
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "gemm_impl.h"

#ifdef DPT_HAVE_OPENBLAS_SET_NUM_THREADS
// cblas.h of OpenBLAS declares these.
#endif

// ---- the small-batch forward kernel ----
//
// The forward product of a few samples, C (m x n) = A (m x k) B^T with m small (a shard of a
// small batch) and B the weight matrix (n x k, row-major), is where a packing BLAS loses most:
// OpenBLAS copies all of B into its panel format on every call, which for 16-32 rows costs about
// as much as the multiply-adds (measured: 52-65 GFLOP/s for 16-32 x 128 x 784 against ~100 on
// large products). Both operands are already contiguous along k, so this kernel computes 4 x 4
// blocks of C as dot products along k straight from them: 16 vector accumulators, 8 loads per 16
// fused multiply-adds, and one transpose-and-add network per 4 accumulators at the end. AVX-512
// only, chosen at run time; everything else goes to the BLAS.
//
// When it is used (measured on the 2-core Zen 4 development machine, best of 7, GFLOP/s kernel /
// OpenBLAS 0.3.21): 12-48 rows beat the BLAS (16x128x784 83/61, 32x128x784 90/70, 48x128x784
// 99/88, 32x1024x1024 87/53); at 64 rows they tie; products of at most 2^20 multiply-adds
// (8x128x784, 16x64x784, 16x128x128) are faster in OpenBLAS's own unpacked small-matrix path.

#ifdef DPT_HAVE_NT_KERNEL
#include <immintrin.h>

// Sum of each of v0..v3 (16 lanes each) as the 4 lanes of one 128-bit vector.
__attribute__((target("avx512f"))) static inline __m128 sum4(__m512 v0, __m512 v1, __m512 v2,
                                                             __m512 v3)
{
    // Within each 128-bit lane: pairwise interleave and add, twice, leaving lane l of the result
    // holding [part of v0, v1, v2, v3]; then add the four 128-bit lanes.
    const __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(v0, v1), _mm512_unpackhi_ps(v0, v1));
    const __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(v2, v3), _mm512_unpackhi_ps(v2, v3));
    const __m512 u = _mm512_add_ps(
        _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))),
        _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))));
    const __m256 h =
        _mm256_add_ps(_mm512_castps512_ps256(u),
                      _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(u), 1)));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// C[i][j] = alpha * dot(A row i, B row j) + beta * C[i][j] for a block of mr x nr (<= 4 x 4)
// rows. Rows past mr / nr repeat the last valid row (computed, never stored), so the inner loop
// is always the full 4 x 4.
// A's rows are given as pointers (arows[0..mr)), so the rows of a batch can be read where they
// lie in the data set.
__attribute__((target("avx512f"))) static void nt_block(size_t mr, size_t nr, size_t k, float alpha,
                                                        const float *const *arows, const float *b,
                                                        size_t ldb, float beta, float *c,
                                                        size_t ldc)
{
    const float *ar[4], *br[4];
    for (size_t i = 0; i < 4; i++) {
        ar[i] = arows[i < mr ? i : mr - 1];
        br[i] = b + (i < nr ? i : nr - 1) * ldb;
    }
    __m512 acc[4][4];
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++)
            acc[i][j] = _mm512_setzero_ps();
    size_t p = 0;
    for (; p + 16 <= k; p += 16) {
        const __m512 b0 = _mm512_loadu_ps(br[0] + p), b1 = _mm512_loadu_ps(br[1] + p);
        const __m512 b2 = _mm512_loadu_ps(br[2] + p), b3 = _mm512_loadu_ps(br[3] + p);
        for (size_t i = 0; i < 4; i++) {
            const __m512 x = _mm512_loadu_ps(ar[i] + p);
            acc[i][0] = _mm512_fmadd_ps(x, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(x, b1, acc[i][1]);
            acc[i][2] = _mm512_fmadd_ps(x, b2, acc[i][2]);
            acc[i][3] = _mm512_fmadd_ps(x, b3, acc[i][3]);
        }
    }
    if (p < k) {
        const __mmask16 mk = (__mmask16)((1u << (k - p)) - 1u);
        const __m512 b0 = _mm512_maskz_loadu_ps(mk, br[0] + p);
        const __m512 b1 = _mm512_maskz_loadu_ps(mk, br[1] + p);
        const __m512 b2 = _mm512_maskz_loadu_ps(mk, br[2] + p);
        const __m512 b3 = _mm512_maskz_loadu_ps(mk, br[3] + p);
        for (size_t i = 0; i < 4; i++) {
            const __m512 x = _mm512_maskz_loadu_ps(mk, ar[i] + p);
            acc[i][0] = _mm512_fmadd_ps(x, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(x, b1, acc[i][1]);
            acc[i][2] = _mm512_fmadd_ps(x, b2, acc[i][2]);
            acc[i][3] = _mm512_fmadd_ps(x, b3, acc[i][3]);
        }
    }
    for (size_t i = 0; i < mr; i++) {
        float s[4];
        _mm_storeu_ps(s, sum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
        float *restrict cr = c + i * ldc;
        for (size_t j = 0; j < nr; j++)
            cr[j] = beta == 0.0f ? alpha * s[j] : alpha * s[j] + beta * cr[j];
    }
}

__attribute__((target("avx512f"))) static void gemm_nt_rows(size_t m, size_t n, size_t k,
                                                            float alpha, const float *const *arows,
                                                            const float *b, size_t ldb, float beta,
                                                            float *c, size_t ldc)
{
    // Output blocks outer: the 4 rows of B (the weights) stay in L1 while every row block of A
    // passes by.
    for (size_t j = 0; j < n; j += 4)
        for (size_t i = 0; i < m; i += 4)
            nt_block(m - i < 4 ? m - i : 4, n - j < 4 ? n - j : 4, k, alpha, arows + i, b + j * ldb,
                     ldb, beta, c + i * ldc + j, ldc);
}

// A strided A (m <= DPT_NT_KERNEL_MAX_ROWS): its row pointers, then the same kernel.
__attribute__((target("avx512f"))) static void gemm_nt_small(size_t m, size_t n, size_t k,
                                                             float alpha, const float *a,
                                                             size_t lda, const float *b, size_t ldb,
                                                             float beta, float *c, size_t ldc)
{
    const float *arows[DPT_NT_KERNEL_MAX_ROWS];
    for (size_t i = 0; i < m; i++)
        arows[i] = a + i * lda;
    gemm_nt_rows(m, n, k, alpha, arows, b, ldb, beta, c, ldc);
}

// ---- the small-batch weight-gradient kernel ----
//
// The weight gradient of layer 1 over a small batch, C (m x n) = alpha A^T B + beta C with A
// (k x m) the deltas of m output rows and B (k x n) the batch's inputs, k = the batch: a 4 x 64
// block of C lives in 16 vector accumulators while the k rows of B stream past, each multiplied
// by A's 4 entries of that row. B's rows are pointers, so the inputs are read where they lie in
// the data set and never gathered (about as fast as OpenBLAS on the gathered matrix, measured on
// S's shapes, and the gather, duplicated by every worker, is gone).

// C row = alpha * (v0 v1 v2 v3) + beta * C row, 64 columns under the masks; beta = 0 must not
// read C.
__attribute__((target("avx512f"))) static inline void tn_store(float *cr, const __mmask16 mk[4],
                                                               float alpha, float beta, __m512 v0,
                                                               __m512 v1, __m512 v2, __m512 v3)
{
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    const __m512 v[4] = {v0, v1, v2, v3};
    for (size_t q = 0; q < 4; q++) {
        __m512 r = _mm512_mul_ps(va, v[q]);
        if (beta != 0.0f)
            r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk[q], cr + 16 * q), r);
        _mm512_mask_storeu_ps(cr + 16 * q, mk[q], r);
    }
}

// A 4 x 64 block of C (mr <= 4 rows stored), columns j.. of B. Named accumulators: with an
// array, gcc 12 kept a copy of all 16 in memory and stored them on every iteration (2.5x
// slower).
__attribute__((target("avx512f"))) static void
tn_block(size_t mr, size_t k, float alpha, const float *a, size_t lda, const float *const *brows,
         size_t j, float beta, float *c, size_t ldc, const __mmask16 mk[4])
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
    __m512 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    __m512 c20 = c00, c21 = c00, c22 = c00, c23 = c00;
    __m512 c30 = c00, c31 = c00, c32 = c00, c33 = c00;
    // Rows of C past mr repeat the last valid column of A (computed, never stored).
    const size_t i1 = mr > 1 ? 1 : 0, i2 = mr > 2 ? 2 : mr - 1, i3 = mr > 3 ? 3 : mr - 1;
    const __mmask16 m0 = mk[0], m1 = mk[1], m2 = mk[2], m3 = mk[3];
    for (size_t p = 0; p < k; p++) {
        const float *br = brows[p] + j, *ar = a + p * lda;
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, br);
        const __m512 b1 = _mm512_maskz_loadu_ps(m1, br + 16);
        const __m512 b2 = _mm512_maskz_loadu_ps(m2, br + 32);
        const __m512 b3 = _mm512_maskz_loadu_ps(m3, br + 48);
        // One row of the block: its 4 accumulators += A's entry of row p x the 64 columns of B.
#define DPT_TN_ROW(ai, r0, r1, r2, r3)                                                             \
    do {                                                                                           \
        const __m512 x = _mm512_set1_ps(ai);                                                       \
        r0 = _mm512_fmadd_ps(x, b0, r0);                                                           \
        r1 = _mm512_fmadd_ps(x, b1, r1);                                                           \
        r2 = _mm512_fmadd_ps(x, b2, r2);                                                           \
        r3 = _mm512_fmadd_ps(x, b3, r3);                                                           \
    } while (0)
        DPT_TN_ROW(ar[0], c00, c01, c02, c03);
        DPT_TN_ROW(ar[i1], c10, c11, c12, c13);
        DPT_TN_ROW(ar[i2], c20, c21, c22, c23);
        DPT_TN_ROW(ar[i3], c30, c31, c32, c33);
#undef DPT_TN_ROW
    }
    tn_store(c, mk, alpha, beta, c00, c01, c02, c03);
    if (mr > 1)
        tn_store(c + ldc, mk, alpha, beta, c10, c11, c12, c13);
    if (mr > 2)
        tn_store(c + 2 * ldc, mk, alpha, beta, c20, c21, c22, c23);
    if (mr > 3)
        tn_store(c + 3 * ldc, mk, alpha, beta, c30, c31, c32, c33);
}

__attribute__((target("avx512f"))) static void gemm_tn_rows(size_t m, size_t n, size_t k,
                                                            float alpha, const float *a, size_t lda,
                                                            const float *const *brows, float beta,
                                                            float *c, size_t ldc)
{
    // Column blocks outer: the k x 64 slice of B (8 KB for k = 32) stays in L1 while every row
    // block of C passes by.
    for (size_t j = 0; j < n; j += 64) {
        __mmask16 mk[4];
        for (size_t q = 0; q < 4; q++) {
            const size_t c0 = j + 16 * q, left = c0 < n ? n - c0 : 0;
            mk[q] = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        }
        for (size_t i = 0; i < m; i += 4)
            tn_block(m - i < 4 ? m - i : 4, k, alpha, a + i, lda, brows, j, beta, c + i * ldc + j,
                     ldc, mk);
    }
}

// -1: not decided yet; 0: use the BLAS; 1: use the kernel. Worker threads may decide it at the
// same time: relaxed atomics, and every thread decides the same value.
static atomic_int nt_kernel_state = -1;

static int nt_kernel_on(void)
{
    int s = atomic_load_explicit(&nt_kernel_state, memory_order_relaxed);
    if (s < 0) {
        // DPT_GEMM=blas sends everything to the BLAS (for side-by-side benchmarks).
        const char *env = getenv("DPT_GEMM");
        s = __builtin_cpu_supports("avx512f") && !(env && strcmp(env, "blas") == 0) ? 1 : 0;
        atomic_store_explicit(&nt_kernel_state, s, memory_order_relaxed);
    }
    return s;
}
#endif

void dpt_gemm_small_kernel(int on)
{
#ifdef DPT_HAVE_NT_KERNEL
    atomic_store_explicit(&nt_kernel_state, on && __builtin_cpu_supports("avx512f") ? 1 : 0,
                          memory_order_relaxed);
#else
    (void)on;
#endif
}

int dpt_gemm_small_kernel_active(void)
{
#ifdef DPT_HAVE_NT_KERNEL
    return nt_kernel_on();
#else
    return 0;
#endif
}

void dpt_gemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
              const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    if (m == 0 || n == 0)
        return;
#ifdef DPT_HAVE_NT_KERNEL
    if (!ta && tb && m <= DPT_NT_KERNEL_MAX_ROWS && (double)m * (double)n * (double)k > 1048576.0 &&
        nt_kernel_on()) {
        gemm_nt_small(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    // Large products: the packed GEMM (gemm_packed.c), when this thread has a packing buffer.
    if (dpt_gemm_packed_pays(ta, tb, m, n, k) && nt_kernel_on() &&
        dpt_gemm_packed(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))
        return;
#endif
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

int dpt_gemm_rows_available(void)
{
#ifdef DPT_HAVE_NT_KERNEL
    return nt_kernel_on();
#else
    return 0;
#endif
}

void dpt_gemm_nt_rows(size_t m, size_t n, size_t k, float alpha, const float *const *a_rows,
                      const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
#ifdef DPT_HAVE_NT_KERNEL
    if (m > 0 && n > 0 && __builtin_cpu_supports("avx512f"))
        gemm_nt_rows(m, n, k, alpha, a_rows, b, ldb, beta, c, ldc);
#else
    (void)m, (void)n, (void)k, (void)alpha, (void)a_rows, (void)b, (void)ldb, (void)beta, (void)c,
        (void)ldc;
#endif
}

void dpt_gemm_tn_rows(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                      const float *const *b_rows, float beta, float *c, size_t ldc)
{
#ifdef DPT_HAVE_NT_KERNEL
    if (m == 0 || n == 0 || !__builtin_cpu_supports("avx512f"))
        return;
    // Large products go to the packed GEMM, which gathers the rows while packing; the rest (and a
    // thread without a packing buffer) to the 4 x 64 kernel above.
    if (!(dpt_gemm_packed_pays(1, 0, m, n, k) &&
          dpt_gemm_packed_tn_rows(m, n, k, alpha, a, lda, b_rows, beta, c, ldc)))
        gemm_tn_rows(m, n, k, alpha, a, lda, b_rows, beta, c, ldc);
#else
    (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b_rows, (void)beta, (void)c,
        (void)ldc;
#endif
}

void dpt_blas_single_thread(void)
{
#ifdef DPT_HAVE_OPENBLAS_SET_NUM_THREADS
    openblas_set_num_threads(1);
#endif
}

const char *dpt_blas_info(void)
{
#ifdef DPT_HAVE_OPENBLAS_SET_NUM_THREADS
    return openblas_get_config();
#else
    return "CBLAS";
#endif
}
