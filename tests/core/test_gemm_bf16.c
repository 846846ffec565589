// The bf16 products (DPT_PRECISION_BF16, gemm_bf16.c over isa/avx512bf16/kernels.c): every
// transposition case and both row-pointer variants against double references, with the error
// bound bf16 rounding implies for the shape (tests/fp_bound.h, "bf16 products"); the names, the
// parser and the check that says where bf16 cannot run.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gemm_bf16.h"
#include "core/gemm_impl.h"
#include "core/isa/bf16.h"
#include "dptrain/dptrain.h"
#include "fp_bound.h"
#include "gemm_util.h"

// Entry (i, j) of the product, checked twice:
// - against the exact product of the operands as given, within dpt_gemm_bf16_entry_bound:
//   |C - exact| <= |alpha| (2 u_b + u_b^2) sum|a b| + gamma_{k+2} (|alpha| (1 + u_b)^2 sum|a b|
//   + |beta c_old|), u_b = 2^-8: the bound bf16 rounding of both operands implies;
// - against the exact product of the operands rounded to bf16 (nearest even), within the fp32
//   accumulation bound alone, gamma_{k+2} (|alpha| sum|a^ b^| + |beta c_old|): about 6e-8 (k + 2)
//   of the magnitudes, where a wrong rounding (2^-9 of a term), one term dropped or doubled, or an
//   fp32 product would be orders of magnitude off.
// ai(p) and bj(p) give op(A)[i][p] and op(B)[p][j].
#define CHECK_ENTRY(ai, bj, what)                                                                  \
    do {                                                                                           \
        double dot = 0.0, mag = 0.0, dotr = 0.0, magr = 0.0;                                       \
        for (size_t p = 0; p < k; p++) {                                                           \
            const float x = (ai), y = (bj);                                                        \
            dot += (double)x * y;                                                                  \
            mag += fabs((double)x * y);                                                            \
            const double t = (double)dpt_bf16_round(x) * dpt_bf16_round(y);                        \
            dotr += t;                                                                             \
            magr += fabs(t);                                                                       \
        }                                                                                          \
        const double c_old = beta == 0.0f ? 0.0 : (double)c0[i * ldc + j];                         \
        const double got = c[i * ldc + j];                                                         \
        const double want = alpha * dot + beta * c_old, wantr = alpha * dotr + beta * c_old;       \
        cr_assert(fabs(got - want) <= dpt_gemm_bf16_entry_bound(k, alpha, mag, beta, c_old),       \
                  "%s m=%zu n=%zu k=%zu alpha=%g beta=%g: C[%zu][%zu] = %.9g, exact %.9g", what,   \
                  m, n, k, alpha, beta, i, j, got, want);                                          \
        cr_assert(fabs(got - wantr) <= dpt_gemm_entry_bound(k, alpha, magr, beta, c_old),          \
                  "%s m=%zu n=%zu k=%zu alpha=%g beta=%g: C[%zu][%zu] = %.9g, with the operands "  \
                  "rounded to bf16 %.9g",                                                          \
                  what, m, n, k, alpha, beta, i, j, got, wantr);                                   \
    } while (0)

// C's starting values: c0 as filled, or NaN everywhere when beta = 0 (which must not read C).

// C = alpha op(A) op(B) + beta C0 through dpt_gemm_bf16, op(A) m x k and op(B) k x n strided by
// pad; the padding between C's rows must stay as it was.
static void check_product(int ta, int tb, size_t m, size_t n, size_t k, float alpha, float beta,
                          size_t pad)
{
    struct dpt_rng r;
    dpt_rng_seed(&r, 5 + m * 1000003 + n * 1009 + k * 7 + (size_t)(2 * ta + tb));
    const size_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    const size_t lda = ac + pad, ldb = bc + 2 * pad, ldc = n + pad;
    float *a = malloc(ar * lda * sizeof *a), *b = malloc(br * ldb * sizeof *b);
    float *c = malloc(m * ldc * sizeof *c), *c0 = malloc(m * ldc * sizeof *c0);
    cr_assert(a && b && c && c0);
    fill(a, ar * lda, &r);
    fill(b, br * ldb, &r);
    fill(c0, m * ldc, &r);
    start_c(c, c0, m * ldc, beta);
    dpt_gemm_bf16(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    char what[16];
    snprintf(what, sizeof what, "%c%c", ta ? 'T' : 'N', tb ? 'T' : 'N');
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++)
            CHECK_ENTRY(ta ? a[p * lda + i] : a[i * lda + p], tb ? b[j * ldb + p] : b[p * ldb + j],
                        what);
        for (size_t j = n; j < ldc; j++)
            cr_assert(isnan(c[i * ldc + j]) ? isnan(c0[i * ldc + j])
                                            : c[i * ldc + j] == c0[i * ldc + j]);
    }
    free(a);
    free(b);
    free(c);
    free(c0);
}

// The row-pointer products: C = alpha A B^T + beta C with A's m rows scattered (nt), and
// C = alpha A^T B + beta C with B's k rows scattered (tn), drawn in random order with repeats
// from a pool larger than the batch.
static void check_rows(int tn, size_t m, size_t n, size_t k, float alpha, float beta)
{
    struct scattered s = scattered_make(tn, m, n, k, beta, 19);
    const float *const *ptr = s.ptr, *o = s.o, *c0 = s.c0;
    float *c = s.c;
    const size_t ldc = n;
    if (tn)
        dpt_gemm_bf16_tn_rows(m, n, k, alpha, o, m, ptr, beta, c, n);
    else
        dpt_gemm_bf16_nt_rows(m, n, k, alpha, ptr, o, k, beta, c, n);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            if (tn)
                CHECK_ENTRY(o[p * m + i], ptr[p][j], "tn_rows");
            else
                CHECK_ENTRY(ptr[i][p], o[j * k + p], "nt_rows");
        }
    scattered_free(&s);
}

// Shapes across every edge of the kernel: m over its 12-row panels (tails of 1-11 rows: each row
// kernel) and, past 1024 rows, its 1024-row chunks; n over its 32-column panels and their two
// 16-lane masks (1, 10, 16, 17, 33, 65) and over column blocks; k over the 32 values of one
// conversion and transpose, odd k (the last pair half zero) and k blocks (785 and 1031: two or
// more blocks, the later ones adding to the first's result); the products of workloads S, M and L
// (10-wide output layers, 784 inputs); strided operands; alpha and beta, beta = 0 not reading C.
static void bf16_shapes(void)
{
    static const size_t mnk[][3] = {
        {1, 1, 1},      {2, 10, 128},   {3, 25, 7},     {4, 33, 15},    {5, 48, 16},
        {8, 17, 17},    {9, 64, 47},    {11, 16, 33},   {12, 32, 785},  {13, 65, 64},
        {100, 65, 40},  {97, 530, 129}, {37, 1040, 31}, {16, 128, 784}, {64, 10, 1031},
        {256, 96, 400}, {1030, 33, 17},
    };
    for (int t = 0; t < 4; t++)
        for (size_t i = 0; i < sizeof mnk / sizeof mnk[0]; i++)
            check_product(t >> 1, t & 1, mnk[i][0], mnk[i][1], mnk[i][2], 1.0f, 0.0f,
                          i % 3 == 1 ? 3 : 0);
    check_product(1, 0, 100, 530, 64, -0.05f, 1.0f, 0); // the trainer's fused SGD step
    check_product(0, 1, 29, 70, 785, 2.0f, 0.5f, 5);
    check_product(0, 0, 66, 47, 33, -1.0f, 1.0f, 1);
    check_product(1, 1, 7, 40, 50, 0.5f, -2.0f, 2);
    // Row pointers: split_first's forward product (nt) and layer 1's gradient (tn) of a small
    // batch, with the fused step, tails, and k = 0 (C = beta C).
    static const size_t rmnk[][3] = {
        {1, 1, 1}, {5, 17, 33}, {13, 65, 784}, {32, 128, 784}, {64, 784, 32}, {128, 784, 64},
    };
    for (size_t i = 0; i < sizeof rmnk / sizeof rmnk[0]; i++)
        for (int tn = 0; tn < 2; tn++)
            check_rows(tn, rmnk[i][0], rmnk[i][1], rmnk[i][2], 1.0f, 0.0f);
    check_rows(0, 32, 64, 784, -0.05f, 1.0f);
    check_rows(1, 64, 784, 32, -0.05f, 1.0f);
    check_rows(0, 6, 9, 0, 1.0f, 0.5f);
    check_rows(1, 6, 9, 0, 1.0f, 0.5f);
}

Test(gemm_bf16, products_match_a_double_reference_within_the_bf16_bound)
{
    if (!dpt_bf16_supported())
        cr_skip_test("no bf16 products here: %s", dpt_precision_check(DPT_PRECISION_BF16));
    const size_t floats = dpt_gemm_pack_floats();
    float *buf = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    cr_assert(buf);
    const struct dpt_gemm_pack prev = dpt_gemm_pack_use(buf, floats);
    // The caches' blocking (k blocks twice the fp32 depth), then small blocks: many k blocks
    // (64 deep) and column blocks (64 wide) per product.
    const struct dpt_gemm_blocking bl = dpt_gemm_bf16_blocking();
    cr_assert(bl.kc >= 128 && bl.kc % 32 == 0 && bl.nc % 32 == 0, "kc %zu nc %zu", bl.kc, bl.nc);
    cr_assert(dpt_bf16_pack_words(&bl) <= floats, "the fp32 buffer holds the bf16 panels");
    bf16_shapes();
    dpt_gemm_blocking_force(32, 64);
    cr_assert_eq(dpt_gemm_bf16_blocking().kc, 64);
    bf16_shapes();
    dpt_gemm_blocking_force(0, 0);
    dpt_gemm_pack_use(prev.buf, prev.floats);
    free(buf);
}

// Ties and the rounding itself: values exactly halfway between two bf16 values round to the even
// one, so a product of such values is exactly predictable (and differs from truncation).
Test(gemm_bf16, operands_round_to_nearest_even)
{
    if (!dpt_bf16_supported())
        cr_skip_test("no bf16 products here: %s", dpt_precision_check(DPT_PRECISION_BF16));
    const size_t floats = dpt_gemm_pack_floats();
    float *buf = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    cr_assert(buf);
    const struct dpt_gemm_pack prev = dpt_gemm_pack_use(buf, floats);
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: rounds to 1 (even). 1 + 3 2^-8 is halfway
    // between 1 + 2^-7 and 1 + 2^-6: rounds up to 1 + 2^-6 (even). 1 + 2^-8 + 2^-20 rounds up.
    const float a[3] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 1.0f + 0x1p-8f + 0x1p-20f};
    const float b[3] = {1.0f, 1.0f, 1.0f};
    float c[3];
    for (int i = 0; i < 3; i++)
        dpt_gemm_bf16(0, 1, 1, 1, 1, 1.0f, &a[i], 1, &b[i], 1, 0.0f, &c[i], 1);
    cr_assert_eq(c[0], 1.0f);
    cr_assert_eq(c[1], 1.0f + 0x1p-6f);
    cr_assert_eq(c[2], 1.0f + 0x1p-7f);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(c[i], dpt_bf16_round(a[i]), "the test's rounding is the hardware's");
    dpt_gemm_pack_use(prev.buf, prev.floats);
    free(buf);
}

Test(gemm_bf16, names_and_where_bf16_runs)
{
    cr_assert_str_eq(dpt_precision_name(DPT_PRECISION_FP32), "fp32");
    cr_assert_str_eq(dpt_precision_name(DPT_PRECISION_BF16), "bf16");
    cr_assert_str_eq(dpt_precision_name((enum dpt_precision)9), "?");
    enum dpt_precision p = DPT_PRECISION_FP32;
    cr_assert_eq(dpt_precision_parse("bf16", &p), DPT_OK);
    cr_assert_eq(p, DPT_PRECISION_BF16);
    cr_assert_eq(dpt_precision_parse("fp32", &p), DPT_OK);
    cr_assert_eq(p, DPT_PRECISION_FP32);
    cr_assert_eq(dpt_precision_parse("fp16", &p), DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "'fp16'") && strstr(dpt_last_error(), "fp32 or bf16"), "%s",
              dpt_last_error());
    cr_assert_eq(dpt_precision_parse(NULL, &p), DPT_ERR_INVALID);
    cr_assert_null(dpt_precision_check(DPT_PRECISION_FP32), "fp32 runs everywhere");
    cr_assert_not_null(dpt_precision_check((enum dpt_precision)9));
    if (!dpt_bf16_supported()) {
        const char *why = dpt_precision_check(DPT_PRECISION_BF16);
        cr_assert(why && (strstr(why, "AVX512_BF16") || strstr(why, "avx512")), "%s",
                  why ? why : "(null)");
        return;
    }
    cr_assert_null(dpt_precision_check(DPT_PRECISION_BF16));
    // A lower level forced (as DPT_ISA does) turns bf16 off, and the check says so.
    cr_assert(dpt_isa_force(DPT_ISA_AVX2));
    cr_assert(!dpt_bf16_supported());
    const char *why = dpt_precision_check(DPT_PRECISION_BF16);
    cr_assert(why && strstr(why, "avx2") && strstr(why, "DPT_ISA"), "%s", why ? why : "(null)");
    dpt_isa_reset();
    cr_assert(dpt_bf16_supported());
}

// dpt_net_backprop on a bf16 workspace (the trainer's private mode in bf16): every gradient entry
// and the loss against the double reference with the bounds of bf16 products (fp_bound.h,
// dpt_ref_run_prec: each product's bound grows from gamma_k to (2 u_b + u_b^2) + gamma_k (1 +
// u_b)^2 of its magnitudes, and the errors propagate through the layers as in fp32). Then:
// the gradient is not the fp32 one (some entry is outside the fp32 reference's bound, so the bf16
// path really ran), and dpt_net_evaluate on the bf16 workspace is bitwise the fp32 workspace's
// (evaluation stays fp32).
Test(gemm_bf16, backprop_matches_a_double_reference_within_the_bf16_bounds)
{
    if (!dpt_bf16_supported())
        cr_skip_test("no bf16 products here: %s", dpt_precision_check(DPT_PRECISION_BF16));
    struct dpt_net_spec s = dpt_net_spec_default();
    s.n_layers = 3;
    const size_t sizes[] = {70, 48, 36, 10};
    memcpy(s.sizes, sizes, sizeof sizes);
    // tanh hidden layers: smooth, so no mask can flip (with relu, the pre-activations within
    // the bf16 bound of 0, about 2^-7 of their magnitudes, take their whole entry as the bound,
    // which would leave much of the check without teeth).
    s.act[0] = s.act[1] = DPT_ACT_TANH;
    s.act[2] = DPT_ACT_SOFTMAX;
    struct dpt_net *net;
    cr_assert_eq(dpt_net_create(&s, &net), DPT_OK);
    cr_assert_eq(dpt_net_init(net, DPT_INIT_AUTO, 0.0f, 3), DPT_OK);
    enum { N = 40 };
    float *x = malloc(N * 70 * sizeof *x);
    int32_t lab[N];
    struct dpt_rng r;
    dpt_rng_seed(&r, 17);
    fill(x, N * 70, &r);
    for (size_t i = 0; i < N; i++)
        lab[i] = (int32_t)dpt_rng_below(&r, 10);
    const struct dpt_targets t = {.labels = lab};
    const size_t np = dpt_net_n_params(net);
    float *g = calloc(np, sizeof *g), *g32 = calloc(np, sizeof *g32);
    struct dpt_workspace *ws, *ws32;
    cr_assert_eq(dpt_workspace_create_prec(net, N, DPT_PRECISION_BF16, &ws), DPT_OK, "%s",
                 dpt_last_error());
    cr_assert_eq(dpt_workspace_create(net, N, &ws32), DPT_OK);
    struct dpt_block_stats st, st32;
    dpt_net_backprop(net, ws, x, NULL, N, &t, 1.0f / N, g, 0, &st);
    dpt_net_backprop(net, ws32, x, NULL, N, &t, 1.0f / N, g32, 0, &st32);
    struct dpt_ref ref, ref32;
    dpt_ref_run_prec(net, x, NULL, N, &t, 1.0f / N, 1, 1, &ref);
    dpt_ref_run(net, x, NULL, N, &t, 1.0f / N, 1, &ref32);
    cr_assert_eq(ref.kinks, 0);
    size_t outside32 = 0;
    for (size_t i = 0; i < np; i++) {
        cr_assert(fabs(g[i] - ref.grad[i]) <= ref.grad_err[i],
                  "param %zu: bf16 %.9g, reference %.9g (bound %g)", i, g[i], ref.grad[i],
                  ref.grad_err[i]);
        outside32 += fabs(g[i] - ref32.grad[i]) > ref32.grad_err[i];
    }
    cr_assert(outside32 > 0, "the bf16 gradient is within the fp32 bounds everywhere");
    cr_assert(fabs(st.loss_sum - ref.loss) <= ref.loss_err, "loss %.17g, reference %.17g (%g)",
              st.loss_sum, ref.loss, ref.loss_err);
    float *out = malloc(N * 10 * sizeof *out), *out32 = malloc(N * 10 * sizeof *out32);
    cr_assert_eq(dpt_net_forward(net, ws, x, NULL, N, out), DPT_OK);
    cr_assert_eq(dpt_net_forward(net, ws32, x, NULL, N, out32), DPT_OK);
    cr_assert(memcmp(out, out32, N * 10 * sizeof *out) == 0, "forward runs in fp32");
    struct dpt_block_stats e, e32;
    cr_assert_eq(dpt_net_evaluate(net, ws, x, NULL, N, &t, &e), DPT_OK);
    cr_assert_eq(dpt_net_evaluate(net, ws32, x, NULL, N, &t, &e32), DPT_OK);
    cr_assert(e.loss_sum == e32.loss_sum && e.correct == e32.correct, "evaluation runs in fp32");
    dpt_ref_free(&ref);
    dpt_ref_free(&ref32);
    free(out);
    free(out32);
    free(g);
    free(g32);
    free(x);
    dpt_workspace_destroy(ws);
    dpt_workspace_destroy(ws32);
    dpt_net_destroy(net);
}

// Where bf16 cannot run, a bf16 workspace is refused (DPT_ERR_UNSUPPORTED, the check's line).
Test(gemm_bf16, a_bf16_workspace_needs_the_instructions)
{
    struct dpt_net_spec s = dpt_net_spec_default();
    s.n_layers = 1;
    s.sizes[0] = 4;
    s.sizes[1] = 3;
    s.act[0] = DPT_ACT_SOFTMAX;
    struct dpt_net *net;
    cr_assert_eq(dpt_net_create(&s, &net), DPT_OK);
    struct dpt_workspace *ws = NULL;
    if (dpt_bf16_supported()) {
        // A net with no layer of 32 units still gets a packing buffer in bf16.
        cr_assert_eq(dpt_workspace_create_prec(net, 8, DPT_PRECISION_BF16, &ws), DPT_OK);
        cr_assert(dpt_workspace_bytes(net, 8) < 4096 && ws);
        dpt_workspace_destroy(ws);
        cr_assert(dpt_isa_force(DPT_ISA_AVX2));
    }
    ws = (struct dpt_workspace *)&s; // must be reset to NULL
    cr_assert_eq(dpt_workspace_create_prec(net, 8, DPT_PRECISION_BF16, &ws), DPT_ERR_UNSUPPORTED);
    cr_assert_null(ws);
    cr_assert(strstr(dpt_last_error(), "bf16"), "%s", dpt_last_error());
    dpt_isa_reset();
    dpt_net_destroy(net);
}
