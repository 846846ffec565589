// The GEMM shim: the built-in small-batch NT kernel against a double-precision reference, over
// the shapes it takes (tails in every dimension, strided operands, alpha and beta), and the same
// calls through the BLAS.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "core/gemm_impl.h"
#include "dptrain/dptrain.h"

static void fill(float *v, size_t n, struct dpt_rng *r)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(2.0 * dpt_rng_uniform(r) - 1.0);
}

// C = alpha A B^T + beta C0 for m x k A (lda), n x k B (ldb), checked entry by entry against a
// double reference. Bound: each entry is a k-term dot product of values in [-1, 1], so float
// rounding is at most about k * 2^-24 * sum |a_p b_p| <= k^2 * 6e-8; 1e-6 * k (sum |terms| <= k)
// relative to sum |a_p b_p| + |C0| leaves a factor of ~10 for k <= 1024, while a dropped or
// doubled term (|a_p b_p| ~ 0.25 on average) is far larger.
static void check_nt(size_t m, size_t n, size_t k, float alpha, float beta, size_t pad)
{
    struct dpt_rng r;
    dpt_rng_seed(&r, m * 1000003 + n * 1009 + k);
    const size_t lda = k + pad, ldb = k + 2 * pad, ldc = n + pad;
    float *a = malloc(m * lda * sizeof *a), *b = malloc(n * ldb * sizeof *b);
    float *c = malloc(m * ldc * sizeof *c), *c0 = malloc(m * ldc * sizeof *c0);
    fill(a, m * lda, &r);
    fill(b, n * ldb, &r);
    fill(c0, m * ldc, &r);
    if (beta == 0.0f)
        for (size_t i = 0; i < m * ldc; i++)
            c0[i] = NAN; // beta = 0 must not read C
    for (size_t i = 0; i < m * ldc; i++)
        c[i] = c0[i];
    dpt_gemm(0, 1, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double dot = 0.0, mag = 0.0;
            for (size_t p = 0; p < k; p++) {
                dot += (double)a[i * lda + p] * b[j * ldb + p];
                mag += fabs((double)a[i * lda + p] * b[j * ldb + p]);
            }
            const double c_old = beta == 0.0f ? 0.0 : (double)c0[i * ldc + j];
            const double want = alpha * dot + beta * c_old;
            const double tol = 1e-6 * (double)k * (fabs(alpha) * mag + fabs(beta * c_old)) + 1e-30;
            cr_assert(fabs(c[i * ldc + j] - want) <= tol,
                      "m=%zu n=%zu k=%zu alpha=%g beta=%g: C[%zu][%zu] = %.9g, want %.9g", m, n, k,
                      alpha, beta, i, j, c[i * ldc + j], want);
        }
        for (size_t j = n; j < ldc; j++) // the padding between rows is left alone
            cr_assert(isnan(c[i * ldc + j]) ? isnan(c0[i * ldc + j])
                                            : c[i * ldc + j] == c0[i * ldc + j]);
    }
    free(a);
    free(b);
    free(c);
    free(c0);
}

static void nt_shapes(void)
{
    // The kernel takes at most DPT_NT_KERNEL_MAX_ROWS rows and products of more than 2^20
    // multiply-adds: every m tail of its 4 x 4 blocks (1-7 rows), n tails (1401..1404 mod 4),
    // k tails of its 16-lane vectors (799, 17, 31, 15 = masked only), the reference workloads'
    // shard shapes, strided operands, alpha and beta; then shapes that go to the BLAS.
    static const size_t mnk[][3] = {
        {1, 1403, 799}, {2, 1401, 799}, {3, 1402, 799}, {4, 1404, 799}, {5, 1403, 784},
        {7, 1401, 790}, {16, 128, 784}, {32, 128, 784}, {12, 131, 790}, {48, 130, 784},
        {48, 1401, 17}, {48, 1402, 31}, {48, 1500, 15},
    };
    for (size_t i = 0; i < sizeof mnk / sizeof mnk[0]; i++)
        check_nt(mnk[i][0], mnk[i][1], mnk[i][2], 1.0f, 0.0f, 0);
    check_nt(13, 4099, 45, -0.25f, 1.0f, 3);
    check_nt(9, 2049, 64, 2.0f, 0.5f, 5);
    check_nt(DPT_NT_KERNEL_MAX_ROWS + 1, 9, 33, 1.0f, 0.0f, 1); // too many rows: the BLAS
    check_nt(5, 5, 8, 1.0f, 1.0f, 0);                           // too small: the BLAS
}

Test(gemm, small_nt_kernel_matches_a_double_reference)
{
    dpt_gemm_small_kernel(1);
    nt_shapes();
}

Test(gemm, blas_path_matches_the_same_reference)
{
    dpt_gemm_small_kernel(0);
    cr_assert(!dpt_gemm_small_kernel_active());
    nt_shapes();
    dpt_gemm_small_kernel(1);
}
