// The GEMM shim: the built-in small-batch NT kernel against a double-precision reference, over
// the shapes it takes (tails in every dimension, strided operands, alpha and beta), and the same
// calls through the BLAS.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "core/gemm_impl.h"
#include "dptrain/dptrain.h"
#include "fp_bound.h"

static void fill(float *v, size_t n, struct dpt_rng *r)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(2.0 * dpt_rng_uniform(r) - 1.0);
}

// C's starting values: c0 as filled, or NaN everywhere when beta = 0 (which must not read C); c is
// the copy the product overwrites, c0 the reference's.
static void start_c(float *c, float *c0, size_t len, float beta)
{
    if (beta == 0.0f)
        for (size_t i = 0; i < len; i++)
            c0[i] = NAN;
    for (size_t i = 0; i < len; i++)
        c[i] = c0[i];
}

// C = alpha op(A) op(B) + beta C0 (op(A) m x k, op(B) k x n, strided by pad), through dpt_gemm
// (packed = 0) or dpt_gemm_packed (1), checked entry by entry against a double reference. Bound
// (fp_bound.h, dpt_gemm_entry_bound): each entry is a k-term dot product plus beta C0, in any
// order and blocking, with or without FMA, so |C_ij - exact| <= gamma_{k+2} (|alpha| sum_p
// |a_p b_p| + |beta C0_ij|) (about 6e-8 (k + 2) relative), while a dropped or doubled term
// (|a_p b_p| ~ 0.25 on average) is far larger.
static void check_product(int packed, int ta, int tb, size_t m, size_t n, size_t k, float alpha,
                          float beta, size_t pad)
{
    struct dpt_rng r;
    dpt_rng_seed(&r, 91 + m * 1000003 + n * 1009 + k * 7 + (size_t)(2 * ta + tb));
    // op(A) is m x k: stored k x m when transposed; op(B) is k x n: stored n x k when transposed.
    const size_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    const size_t lda = ac + pad, ldb = bc + 2 * pad, ldc = n + pad;
    float *a = malloc(ar * lda * sizeof *a), *b = malloc(br * ldb * sizeof *b);
    float *c = malloc(m * ldc * sizeof *c), *c0 = malloc(m * ldc * sizeof *c0);
    fill(a, ar * lda, &r);
    fill(b, br * ldb, &r);
    fill(c0, m * ldc, &r);
    start_c(c, c0, m * ldc, beta);
    if (packed)
        cr_assert(dpt_gemm_packed(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc),
                  "the packed GEMM declined a call with a buffer");
    else
        dpt_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double dot = 0.0, mag = 0.0;
            for (size_t p = 0; p < k; p++) {
                const double t = (double)(ta ? a[p * lda + i] : a[i * lda + p]) *
                                 (double)(tb ? b[j * ldb + p] : b[p * ldb + j]);
                dot += t;
                mag += fabs(t);
            }
            const double c_old = beta == 0.0f ? 0.0 : (double)c0[i * ldc + j];
            const double want = alpha * dot + beta * c_old;
            const double tol = dpt_gemm_entry_bound(k, alpha, mag, beta, c_old);
            cr_assert(fabs(c[i * ldc + j] - want) <= tol,
                      "%s ta=%d tb=%d m=%zu n=%zu k=%zu alpha=%g beta=%g: C[%zu][%zu] = %.9g, "
                      "want %.9g",
                      packed ? "packed" : "dpt_gemm", ta, tb, m, n, k, alpha, beta, i, j,
                      c[i * ldc + j], want);
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

// C = alpha A B^T + beta C0 through dpt_gemm: the forward product, which the small-batch kernel
// takes for few rows.
static void check_nt(size_t m, size_t n, size_t k, float alpha, float beta, size_t pad)
{
    check_product(0, 0, 1, m, n, k, alpha, beta, pad);
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

// The row-pointer products of small batches (split_first reads a batch's inputs where they lie
// in the data set): C = alpha A B^T + beta C with A's rows scattered, and C = alpha A^T B + beta C
// with B's rows scattered, against a double reference with the bound of check_product (k-term dot
// products). Rows are drawn in random order, with repeats, from a pool larger than the batch.
static void check_rows(int tn, size_t m, size_t n, size_t k, float alpha, float beta)
{
    struct dpt_rng r;
    dpt_rng_seed(&r, 77 + m * 1000003 + n * 1009 + k + (size_t)tn);
    const size_t width = tn ? n : k, pool = 3 * (tn ? k : m) + 5;
    const size_t nrows = tn ? k : m;
    float *rows = malloc(pool * width * sizeof *rows);
    const float **ptr = malloc((nrows ? nrows : 1) * sizeof *ptr);
    const size_t other = tn ? k * m : n * k; // A (k x m) for TN, B (n x k) for NT
    float *o = malloc((other ? other : 1) * sizeof *o);
    float *c = malloc(m * n * sizeof *c), *c0 = malloc(m * n * sizeof *c0);
    fill(rows, pool * width, &r);
    fill(o, other, &r);
    fill(c0, m * n, &r);
    for (size_t i = 0; i < nrows; i++)
        ptr[i] = rows + (size_t)(dpt_rng_uniform(&r) * (double)pool) % pool * width;
    start_c(c, c0, m * n, beta);
    if (tn)
        dpt_gemm_tn_rows(m, n, k, alpha, o, m, ptr, beta, c, n);
    else
        dpt_gemm_nt_rows(m, n, k, alpha, ptr, o, k, beta, c, n);
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double dot = 0.0, mag = 0.0;
            for (size_t p = 0; p < k; p++) {
                const double t =
                    tn ? (double)o[p * m + i] * ptr[p][j] : (double)ptr[i][p] * o[j * k + p];
                dot += t;
                mag += fabs(t);
            }
            const double c_old = beta == 0.0f ? 0.0 : (double)c0[i * n + j];
            const double want = alpha * dot + beta * c_old;
            const double tol = dpt_gemm_entry_bound(k, alpha, mag, beta, c_old);
            cr_assert(fabs(c[i * n + j] - want) <= tol,
                      "%s m=%zu n=%zu k=%zu alpha=%g beta=%g: C[%zu][%zu] = %.9g, want %.9g",
                      tn ? "tn" : "nt", m, n, k, alpha, beta, i, j, c[i * n + j], want);
        }
    }
    free(rows);
    free(ptr);
    free(o);
    free(c);
    free(c0);
}

// Every tail: m of the 4-row blocks (1..7), n of the 4-column (nt) and 64-column (tn) blocks with
// their 16-lane masks (1, 15, 17, 63, 65, 784), k of the 16-lane vectors (nt: 1, 17, 784) or any
// batch (tn: 1, 10, 32, 64), the fused step (alpha = -rate, beta = 1), and k = 0 (C = beta C).
Test(gemm, row_pointer_kernels_match_a_double_reference)
{
    if (!dpt_gemm_rows_available())
        cr_skip_test("no AVX-512 (or DPT_GEMM=blas): the trainer gathers instead");
    static const size_t ms[] = {1, 2, 3, 4, 5, 7, 64};
    static const size_t ns[] = {1, 15, 17, 63, 65, 784};
    static const size_t ks[] = {1, 10, 17, 32, 64, 784};
    for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
        for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++)
            for (size_t c = 0; c < sizeof ks / sizeof ks[0]; c++)
                for (int tn = 0; tn < 2; tn++)
                    check_rows(tn, ms[a], ns[b], ks[c], 1.0f, 0.0f);
    check_rows(0, 32, 64, 784, -0.05f, 1.0f);
    check_rows(1, 64, 784, 32, -0.05f, 1.0f);
    check_rows(1, 13, 130, 7, 2.0f, 0.5f);
    check_rows(0, 6, 9, 0, 1.0f, 0.5f);
    check_rows(1, 6, 9, 0, 1.0f, 0.5f);
}

// The packed GEMM (gemm_packed.c) in all four transposition cases against the double reference
// of check_product. The shapes cross every block edge: m over its 12-row panels (tails of 1, 4, 5,
// 8, 9 rows: each row kernel) and, past 1024 rows, its 1024-row chunks, n over its 32-column panels
// (tails 1, 16, 17) and 512-column blocks, k over its 16-deep transposes (tails 1, 15) and
// 384-deep blocks (k = 785: 3 blocks, the later ones adding to the first's result); strided
// operands; alpha and beta, beta = 0 not reading C.
static void check_packed(int ta, int tb, size_t m, size_t n, size_t k, float alpha, float beta,
                         size_t pad)
{
    check_product(1, ta, tb, m, n, k, alpha, beta, pad);
}

Test(gemm, packed_gemm_matches_a_double_reference)
{
    if (!dpt_gemm_rows_available())
        cr_skip_test("no AVX-512 (or DPT_GEMM=blas): every product goes to the BLAS");
    cr_assert(!dpt_gemm_packed(0, 1, 64, 64, 64, 1.0f, NULL, 64, NULL, 64, 0.0f, NULL, 64),
              "without a buffer the packed GEMM must decline");
    const size_t floats = dpt_gemm_pack_floats();
    cr_assert(floats > 0);
    float *buf = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    cr_assert(buf);
    const struct dpt_gemm_pack prev = dpt_gemm_pack_use(buf, floats - 1);
    cr_assert(!dpt_gemm_packed(0, 1, 64, 64, 64, 1.0f, NULL, 64, NULL, 64, 0.0f, NULL, 64),
              "a buffer too small must be declined");
    dpt_gemm_pack_use(buf, floats);
    static const size_t mnk[][3] = {
        {1, 1, 1},      {4, 33, 15},    {5, 48, 16},    {8, 17, 17},
        {9, 64, 47},    {12, 32, 785},  {100, 65, 40},  {97, 530, 129},
        {37, 1040, 31}, {256, 96, 400}, {1030, 33, 17},
    };
    for (int t = 0; t < 4; t++)
        for (size_t i = 0; i < sizeof mnk / sizeof mnk[0]; i++)
            check_packed(t >> 1, t & 1, mnk[i][0], mnk[i][1], mnk[i][2], 1.0f, 0.0f,
                         i % 3 == 1 ? 3 : 0);
    check_packed(1, 0, 100, 530, 64, -0.05f, 1.0f, 0); // the fused SGD step of the trainer
    check_packed(0, 1, 29, 70, 785, 2.0f, 0.5f, 5);
    check_packed(0, 0, 66, 47, 33, -1.0f, 1.0f, 1);
    // The row-pointer weight gradient takes the packed path (gathering the rows as it packs) for
    // large enough products once the thread has a buffer: S's layer 1 at 2 threads and tails.
    check_rows(1, 64, 784, 32, -0.05f, 1.0f);
    check_rows(1, 97, 530, 33, 1.0f, 0.0f);
    check_rows(1, 16, 1040, 64, 2.0f, 0.5f);
    dpt_gemm_pack_use(prev.buf, prev.floats);
    free(buf);
}
