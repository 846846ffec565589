// The GEMM shim: every product at every vector level this CPU runs (the built-in kernels of
// isa/ and, at the generic level, the BLAS) against a double-precision reference, over the shapes
// each kernel takes (tails in every dimension, strided operands, alpha and beta); the level's
// choice and DPT_ISA; the packed GEMM's blocking rule.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gemm_impl.h"
#include "dptrain/dptrain.h"
#include "fp_bound.h"
#include "gemm_util.h"

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

// The levels this CPU runs, generic (the BLAS) first; each test runs its shapes at every one.
static size_t levels(enum dpt_isa out[DPT_ISA_LAST + 1])
{
    size_t n = 0;
    for (int l = DPT_ISA_GENERIC; l <= DPT_ISA_LAST; l++)
        if (dpt_isa_supported((enum dpt_isa)l))
            out[n++] = (enum dpt_isa)l;
    return n;
}

// Every product dpt_gemm takes, in all four transposition cases, with no packing buffer on the
// thread (so the small kernels or, for large products, the BLAS): every m tail of the blocks
// (nt: 4 x 4 or 2 x 4; bcast: 4 rows), n tails of the nt blocks and of bcast's 16- to 64-column
// blocks and their masks, k tails of the vectors (4, 8 or 16 lanes; 15, 17, 31 masked), the 1-8-row
// shards of an oversubscribed run (S: 784-128-10, batch 64 over 8-64 workers), strided operands,
// alpha and beta (beta = 0 never reads C).
static void all_products(void)
{
    static const size_t mnk[][3] = {
        {1, 1403, 799}, {2, 1401, 799}, {3, 1402, 799}, {4, 1404, 799}, {5, 1403, 784},
        {7, 1401, 790}, {16, 128, 784}, {32, 128, 784}, {12, 131, 790}, {48, 130, 784},
        {48, 1401, 17}, {48, 1402, 31}, {48, 1500, 15}, {49, 9, 33},    {5, 5, 8},
        {1, 128, 784},  {2, 10, 128},   {8, 784, 128},  {8, 128, 8},    {10, 128, 1},
        {128, 784, 4},  {300, 10, 128}, {3, 25, 7},     {1, 1, 1},
    };
    for (int t = 0; t < 4; t++)
        for (size_t i = 0; i < sizeof mnk / sizeof mnk[0]; i++)
            check_product(0, t >> 1, t & 1, mnk[i][0], mnk[i][1], mnk[i][2], 1.0f, 0.0f,
                          i % 3 == 1 ? 3 : 0);
    check_product(0, 0, 1, 13, 4099, 45, -0.25f, 1.0f, 3);
    check_product(0, 0, 1, 9, 2049, 64, 2.0f, 0.5f, 5);
    check_product(0, 1, 0, 10, 1030, 64, -0.05f, 1.0f, 0); // the fused SGD step of the trainer
    check_product(0, 0, 0, 7, 130, 10, 2.0f, 0.5f, 2);
}

Test(gemm, every_level_matches_a_double_reference)
{
    enum dpt_isa lv[DPT_ISA_LAST + 1];
    const size_t n = levels(lv);
    for (size_t i = 0; i < n; i++) {
        cr_assert(dpt_isa_force(lv[i]));
        cr_assert_eq(dpt_isa_level(), lv[i]);
        cr_assert_eq(dpt_gemm_rows_available(), lv[i] != DPT_ISA_GENERIC);
        all_products();
    }
    dpt_isa_reset();
}

Test(gemm, level_choice_and_the_environment)
{
    cr_assert(dpt_isa_supported(DPT_ISA_GENERIC));
    cr_assert(!dpt_isa_supported((enum dpt_isa)7));
    cr_assert(!dpt_isa_force((enum dpt_isa)7), "an unknown level is refused");
    // A level the CPU lacks is refused and changes nothing.
    if (!dpt_isa_supported(DPT_ISA_AVX512)) {
        const enum dpt_isa before = dpt_isa_level();
        cr_assert(!dpt_isa_force(DPT_ISA_AVX512));
        cr_assert_eq(dpt_isa_level(), before);
    }
    const char *saved = getenv("DPT_ISA");
    char keep[32] = "";
    if (saved)
        snprintf(keep, sizeof keep, "%s", saved);
    setenv("DPT_ISA", "sse9", 1);
    cr_assert(dpt_isa_check() && strstr(dpt_isa_check(), "DPT_ISA='sse9'"), "%s",
              dpt_isa_check() ? dpt_isa_check() : "(null)");
    setenv("DPT_ISA", "generic", 1);
    cr_assert_null(dpt_isa_check());
    dpt_isa_reset();
    cr_assert_eq(dpt_isa_level(), DPT_ISA_GENERIC);
    cr_assert_str_eq(dpt_isa_name(), "generic");
    if (!dpt_isa_supported(DPT_ISA_AVX512)) {
        setenv("DPT_ISA", "avx512", 1);
        cr_assert(dpt_isa_check() && strstr(dpt_isa_check(), "cannot run"));
    }
    if (saved)
        setenv("DPT_ISA", keep, 1);
    else
        unsetenv("DPT_ISA");
    dpt_isa_reset();
}

// Under ctest core_qemu_haswell (tests/isa/run_qemu.sh sets DPT_TEST_EMULATED_CPU) every test of
// this suite must run on the emulated CPU, not on the host's: criterion runs each test in a
// process it starts anew, which the host's kernel would run natively unless the emulation follows
// it. The emulated Haswell has AVX2 and FMA and no AVX-512, so the level is avx2.
Test(gemm, an_emulated_cpu_is_the_one_the_tests_run_on)
{
    const char *cpu = getenv("DPT_TEST_EMULATED_CPU");
    if (!cpu || strcmp(cpu, "Haswell") != 0)
        cr_skip_test("not under qemu-x86_64 -cpu Haswell");
    cr_assert(!dpt_isa_supported(DPT_ISA_AVX512), "AVX-512 under an emulated Haswell: this test "
                                                  "process runs natively");
    cr_assert(dpt_isa_supported(DPT_ISA_AVX2));
    cr_assert_str_eq(dpt_isa_name(), "avx2");
}

// The blocking rule (gemm.c): A's micro-panel in 3/8 of L1, B's block in 3/4 of L2, clamped.
Test(gemm, blocking_follows_the_caches)
{
    // 48 KiB / 1 MiB (Zen 5), 12 x 32 tile: 384 deep, 512 wide.
    struct dpt_gemm_blocking b = dpt_gemm_blocking_from(49152, 1048576, 12, 32);
    cr_assert_eq(b.kc, 384);
    cr_assert_eq(b.nc, 512);
    // 32 KiB / 2 MiB (Sapphire Rapids' L1 is 48 KiB; this is Skylake-SP's 32 KiB with 2 MiB L2
    // scaled), 6 x 16 tile (AVX2): 512 deep (clamped), 768 wide.
    b = dpt_gemm_blocking_from(32768, 2097152, 6, 16);
    cr_assert_eq(b.kc, 512);
    cr_assert_eq(b.nc, 768);
    // A small L2 never gives fewer than one panel; a huge one stops at 4096 columns.
    b = dpt_gemm_blocking_from(4096, 65536, 12, 32);
    cr_assert_eq(b.kc, 64);
    cr_assert(b.nc >= 32 && b.nc % 32 == 0);
    b = dpt_gemm_blocking_from(65536, (size_t)1 << 30, 12, 32);
    cr_assert(b.nc <= 4096 && b.nc % 32 == 0);
    // What this machine's caches give, at every level it runs: multiples of 16 and of nr.
    enum dpt_isa lv[DPT_ISA_LAST + 1];
    const size_t n = levels(lv);
    for (size_t i = 0; i < n; i++) {
        b = dpt_gemm_blocking(lv[i]);
        if (lv[i] == DPT_ISA_GENERIC) {
            cr_assert_eq(b.kc, 0);
            continue;
        }
        cr_assert(b.kc >= 64 && b.kc <= 512 && b.kc % 16 == 0, "kc %zu", b.kc);
        cr_assert(b.nc >= 16 && b.nc % 16 == 0, "nc %zu", b.nc);
    }
}

// The row-pointer products of small batches (split_first reads a batch's inputs where they lie
// in the data set): C = alpha A B^T + beta C with A's rows scattered, and C = alpha A^T B + beta C
// with B's rows scattered, against a double reference with the bound of check_product (k-term dot
// products). Rows are drawn in random order, with repeats, from a pool larger than the batch.
static void check_rows(int tn, size_t m, size_t n, size_t k, float alpha, float beta)
{
    struct scattered s = scattered_make(tn, m, n, k, beta, 77);
    const size_t width = tn ? n : k, nrows = tn ? k : m;
    const float *const *ptr = s.ptr, *o = s.o;
    float *c = s.c;
    if (tn)
        dpt_gemm_tn_rows(m, n, k, alpha, o, m, ptr, beta, c, n);
    else
        dpt_gemm_nt_rows(m, n, k, alpha, ptr, o, k, beta, c, n);
    // The same product on a gathered copy of the rows through dpt_gemm: bitwise the same (the
    // row-pointer products take the same kernel for the same shape, gathering as they pack).
    float *g = malloc((nrows * width + 1) * sizeof *g), *cg = malloc((m * n + 1) * sizeof *cg);
    cr_assert(g && cg);
    for (size_t i = 0; i < nrows; i++)
        memcpy(g + i * width, ptr[i], width * sizeof *g);
    start_c(cg, s.c0, m * n, beta);
    if (tn)
        dpt_gemm(1, 0, m, n, k, alpha, o, m, g, n, beta, cg, n);
    else
        dpt_gemm(0, 1, m, n, k, alpha, g, k, o, k, beta, cg, n);
    for (size_t i = 0; k > 0 && i < m * n; i++)
        cr_assert(memcmp(&c[i], &cg[i], sizeof(float)) == 0,
                  "%s m=%zu n=%zu k=%zu: C[%zu] = %a from the rows, %a from a gathered copy",
                  tn ? "tn" : "nt", m, n, k, i, (double)c[i], (double)cg[i]);
    free(g);
    free(cg);
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double dot = 0.0, mag = 0.0;
            for (size_t p = 0; p < k; p++) {
                const double t =
                    tn ? (double)o[p * m + i] * ptr[p][j] : (double)ptr[i][p] * o[j * k + p];
                dot += t;
                mag += fabs(t);
            }
            const double c_old = beta == 0.0f ? 0.0 : (double)s.c0[i * n + j];
            const double want = alpha * dot + beta * c_old;
            const double tol = dpt_gemm_entry_bound(k, alpha, mag, beta, c_old);
            cr_assert(fabs(c[i * n + j] - want) <= tol,
                      "%s m=%zu n=%zu k=%zu alpha=%g beta=%g: C[%zu][%zu] = %.9g, want %.9g",
                      tn ? "tn" : "nt", m, n, k, alpha, beta, i, j, c[i * n + j], want);
        }
    }
    scattered_free(&s);
}

// Every tail: m of the 4-row blocks (1..7), n of the 4-column (nt) and 64-column (tn) blocks with
// their 16-lane masks (1, 15, 17, 63, 65, 784), k of the 16-lane vectors (nt: 1, 17, 784) or any
// batch (tn: 1, 10, 32, 64), the fused step (alpha = -rate, beta = 1), and k = 0 (C = beta C).
static void rows_shapes(void)
{
    static const size_t ms[] = {1, 2, 3, 4, 5, 7, 64};
    static const size_t ns[] = {1, 15, 17, 63, 65, 784};
    static const size_t ks[] = {1, 10, 17, 32, 64, 784};
    for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
        for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++)
            for (size_t c = 0; c < sizeof ks / sizeof ks[0]; c++)
                for (int tn = 0; tn < 2; tn++)
                    check_rows(tn, ms[a], ns[b], ks[c], 1.0f, 0.0f);
    check_rows(0, 32, 64, 784, -0.05f, 1.0f);
    // Past the nt kernel's chunk of rows (what fits in half of L2 beside B: 96 rows of 784 with 64
    // of B and 1 MiB of L2), with a tail: layer 1 of L at 16 threads, and a partial batch.
    check_rows(0, 256, 64, 784, 1.0f, 0.0f);
    check_rows(0, 250, 40, 784, -0.05f, 1.0f);
    check_rows(1, 64, 784, 32, -0.05f, 1.0f);
    check_rows(1, 13, 130, 7, 2.0f, 0.5f);
    check_rows(0, 6, 9, 0, 1.0f, 0.5f);
    check_rows(1, 6, 9, 0, 1.0f, 0.5f);
}

// Runs fn at every built-in kernel level this CPU runs (0 where it runs none), then goes back to
// the environment's level.
static size_t at_kernel_levels(void (*fn)(void))
{
    enum dpt_isa lv[DPT_ISA_LAST + 1];
    const size_t n = levels(lv);
    for (size_t i = 1; i < n; i++) { // lv[0] is generic
        cr_assert(dpt_isa_force(lv[i]));
        fn();
    }
    dpt_isa_reset();
    return n - 1;
}

Test(gemm, row_pointer_kernels_match_a_double_reference)
{
    if (at_kernel_levels(rows_shapes) == 0)
        cr_skip_test("no built-in kernel level on this CPU: the trainer gathers instead");
}

// The packed GEMM (isa/kernels.inc) in all four transposition cases against the double reference
// of check_product, at every level, with the caches' blocking and with small forced blocks. The
// shapes cross every block edge: m over its 12- or 6-row panels (tails of 1, 2, 4, 5, 8, 9 rows:
// each row kernel) and, past 1024 rows, its 1024-row chunks, n over its 32- or 16-column panels
// (tails 1, 8, 16, 17) and column blocks, k over its 16- or 8-deep transposes (tails 1, 15) and
// k blocks (k = 785: 3 blocks or more, the later ones adding to the first's result); strided
// operands; alpha and beta, beta = 0 not reading C.
static void check_packed(int ta, int tb, size_t m, size_t n, size_t k, float alpha, float beta,
                         size_t pad)
{
    check_product(1, ta, tb, m, n, k, alpha, beta, pad);
}

static void packed_shapes(void)
{
    cr_assert(!dpt_gemm_packed(0, 1, 64, 64, 64, 1.0f, NULL, 64, NULL, 64, 0.0f, NULL, 64),
              "without a buffer the packed GEMM must decline");
    const size_t floats = dpt_gemm_pack_floats();
    cr_assert(floats > 0);
    float *buf = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    cr_assert(buf);
    const size_t need = dpt_gemm_level_pack_floats(dpt_isa_level());
    cr_assert(need > 0 && need <= floats);
    const struct dpt_gemm_pack prev = dpt_gemm_pack_use(buf, need - 1);
    cr_assert(!dpt_gemm_packed(0, 1, 64, 64, 64, 1.0f, NULL, 64, NULL, 64, 0.0f, NULL, 64),
              "a buffer too small must be declined");
    dpt_gemm_pack_use(buf, floats);
    static const size_t mnk[][3] = {
        {1, 1, 1},      {4, 33, 15},   {5, 48, 16},    {8, 17, 17},    {9, 64, 47},
        {12, 32, 785},  {100, 65, 40}, {97, 530, 129}, {37, 1040, 31}, {256, 96, 400},
        {1030, 33, 17}, {2, 8, 9},     {6, 16, 8},
    };
    for (int t = 0; t < 4; t++)
        for (size_t i = 0; i < sizeof mnk / sizeof mnk[0]; i++)
            check_packed(t >> 1, t & 1, mnk[i][0], mnk[i][1], mnk[i][2], 1.0f, 0.0f,
                         i % 3 == 1 ? 3 : 0);
    check_packed(1, 0, 100, 530, 64, -0.05f, 1.0f, 0); // the fused SGD step of the trainer
    check_packed(0, 1, 29, 70, 785, 2.0f, 0.5f, 5);
    check_packed(0, 0, 66, 47, 33, -1.0f, 1.0f, 1);
    // The row-pointer products take the packed path (gathering the rows as they pack) for large
    // enough products once the thread has a buffer: the weight gradient of S's layer 1 at 2
    // threads and tails; the forward product of layer 1's rows over a batch of 256 (L with layer
    // 1 split by rows at 8 threads) and tails of the 12-row panels and 32-column panels. At up
    // to 64 columns the forward product takes the nt kernel (L's 64 rows at 16 threads, M's 32,
    // a tail): the same bits as dpt_gemm either way. A gradient product of at most 32 rows whose
    // depth fits one k block and the broadcast kernel's block in L1 takes that kernel where
    // dpt_gemm packs (M's 32 rows over a batch of 128 at 16 threads, with the fused step; 16 rows
    // with alpha and beta): the same bits too, and with the small blocks below (k = 64 and 128
    // over several k blocks) both pack.
    check_rows(1, 64, 784, 32, -0.05f, 1.0f);
    check_rows(1, 97, 530, 33, 1.0f, 0.0f);
    check_rows(1, 16, 1040, 64, 2.0f, 0.5f);
    check_rows(1, 32, 784, 128, -0.05f, 1.0f);
    check_rows(0, 256, 128, 784, 1.0f, 0.0f);
    check_rows(0, 133, 79, 300, 2.0f, 0.5f);
    check_rows(0, 256, 64, 784, 1.0f, 0.0f);
    check_rows(0, 128, 32, 784, 1.0f, 0.0f);
    check_rows(0, 133, 47, 300, 2.0f, 0.5f);
    dpt_gemm_pack_use(prev.buf, prev.floats);
    free(buf);
}

// With the blocking of this machine's caches, then with small blocks (many k and column blocks
// per product).
static void packed_blockings(void)
{
    packed_shapes();
    dpt_gemm_blocking_force(32, 64);
    packed_shapes();
    dpt_gemm_blocking_force(0, 0);
}

Test(gemm, packed_gemm_matches_a_double_reference)
{
    if (at_kernel_levels(packed_blockings) == 0)
        cr_skip_test("no built-in kernel level on this CPU: every product goes to the BLAS");
}

// dpt_gemm_image_outside's callback: counts the calls that cover each float of the image.
struct cover {
    const float *img;
    unsigned char *n;
    size_t len;
};

static void count_cover(void *ctx, const float *p, size_t floats)
{
    struct cover *cv = ctx;
    cr_assert(p >= cv->img && (size_t)(p - cv->img) + floats <= cv->len, "a range past the image");
    for (size_t i = 0; i < floats; i++)
        cv->n[(size_t)(p - cv->img) + i]++;
}

// Columns [lo, hi) of A's image (of_a) or B's into piece, NaN everywhere else.
static void pack_piece(int of_a, size_t m, size_t n, size_t k, const float *a, size_t lda,
                       const float *b, size_t ldb, size_t lo, size_t hi, float *piece,
                       size_t floats)
{
    for (size_t i = 0; i < floats; i++)
        piece[i] = NAN;
    if (of_a)
        dpt_gemm_pack_a_image(m, k, a, lda, lo, hi, piece);
    else
        dpt_gemm_pack_b_image(k, n, b, ldb, lo, hi, piece);
}

// C = alpha op(A) op(B) + beta C through dpt_gemm_image, op(A)'s image (ta = 0) or op(B)'s
// (tb = 0) filled in pieces as split_all's workers fill them (disjoint column ranges in units of
// `unit`, written in reverse order), against dpt_gemm on the same operands: bitwise equal, since
// the image holds exactly the panels dpt_gemm would pack. Each piece is written into an image
// whose other entries are NaN, and then copied over only where the piece wrote: a writer that
// strayed outside its range would leave NaN (or overwrite another piece's entries) and show up
// as a mismatch.
static void check_image(int ta, int tb, size_t m, size_t n, size_t k, float alpha, float beta,
                        size_t unit)
{
    struct dpt_rng r;
    dpt_rng_seed(&r, 7 + m + n + k);
    const size_t lda = ta ? m : k, ldb = tb ? k : n;
    float *a = malloc(m * k * sizeof *a), *b = malloc(k * n * sizeof *b);
    float *c = malloc(m * n * sizeof *c), *c0 = malloc(m * n * sizeof *c0);
    const size_t rows = ta ? n : m, depth = k, img_f = dpt_gemm_image_floats(rows, depth);
    const size_t img_bytes = (img_f * sizeof(float) + 63) / 64 * 64;
    float *img = aligned_alloc(64, img_bytes), *piece = aligned_alloc(64, img_bytes);
    cr_assert(a && b && c && c0 && img && piece);
    fill(a, m * k, &r);
    fill(b, k * n, &r);
    fill(c0, m * n, &r);
    // The image is of A (ta = 0: m x k, split by its columns p) or else of B (tb = 0: k x n,
    // split by its columns j).
    const int of_a = !ta;
    const size_t width = of_a ? k : n;
    for (size_t i = 0; i < img_f; i++)
        img[i] = NAN;
    for (size_t hi = width; hi > 0;) {
        const size_t lo = hi > unit ? (hi - 1) / unit * unit : 0;
        pack_piece(of_a, m, n, k, a, lda, b, ldb, lo, hi, piece, img_f);
        for (size_t i = 0; i < img_f; i++)
            if (!isnan(piece[i])) {
                cr_assert(isnan(img[i]), "pieces %zu..%zu and an earlier one both wrote float %zu",
                          lo, hi, i);
                img[i] = piece[i];
            }
        hi = lo;
    }
    // What each piece does not write of the image is exactly what dpt_gemm_image_outside names,
    // once each, and nothing past the image.
    unsigned char *cnt = malloc(img_f);
    cr_assert(cnt);
    for (size_t hi = width; hi > 0;) {
        const size_t lo = hi > unit ? (hi - 1) / unit * unit : 0;
        pack_piece(of_a, m, n, k, a, lda, b, ldb, lo, hi, piece, img_f);
        memset(cnt, 0, img_f);
        struct cover cv = {piece, cnt, img_f};
        dpt_gemm_image_outside(of_a, of_a ? m : n, k, lo, hi, piece, count_cover, &cv);
        for (size_t i = 0; i < img_f; i++)
            cr_assert_eq(cnt[i] + !isnan(piece[i]), !isnan(img[i]),
                         "piece %zu..%zu: float %zu written %d, named outside %d times", lo, hi, i,
                         !isnan(piece[i]), cnt[i]);
        hi = lo;
    }
    free(cnt);
    start_c(c, c0, m * n, beta);
    float *want = malloc(m * n * sizeof *want);
    cr_assert(want);
    memcpy(want, c, m * n * sizeof *want);
    if (of_a && tb) {
        // A forward product of split_all (dpt_gemm_shared): the packed GEMM's bits, with the
        // image and without it (packing A itself), at any width it pays.
        float *self = malloc(m * n * sizeof *self);
        cr_assert(self);
        memcpy(self, c, m * n * sizeof *self);
        cr_assert(dpt_gemm_packed(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, want, n));
        dpt_gemm_shared(tb, m, n, k, alpha, a, lda, NULL, b, ldb, beta, self, n);
        dpt_gemm_shared(tb, m, n, k, alpha, a, lda, img, b, ldb, beta, c, n);
        cr_assert(memcmp(self, want, m * n * sizeof *self) == 0,
                  "%zux%zux%zu: dpt_gemm_shared without the image is not the packed GEMM", m, n, k);
        free(self);
    } else {
        dpt_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, want, n);
        dpt_gemm_image(ta, tb, m, n, k, alpha, a, lda, of_a ? img : NULL, b, ldb, of_a ? NULL : img,
                       beta, c, n);
    }
    cr_assert(dpt_gemm_image_pays(ta, tb, m, n, k), "%zux%zux%zu should read the image", m, n, k);
    for (size_t i = 0; i < m * n; i++)
        cr_assert(memcmp(&c[i], &want[i], sizeof(float)) == 0,
                  "ta %d tb %d %zux%zux%zu unit %zu: C[%zu] = %a, dpt_gemm gives %a", ta, tb, m, n,
                  k, unit, i, (double)c[i], (double)want[i]);
    free(a);
    free(b);
    free(c);
    free(c0);
    free(want);
    free(img);
    free(piece);
}

// split_all's three products with a shared operand (forward NT and delta NN: A's image; weight
// gradient TN: B's), at the shapes of L and M over 4-16 workers and with tails: m past the panels
// (256 = 21 x 12 + 4, 250, 100), k over several k blocks (784, 1024, 1000) and pieces that cross
// them, n past B's panels (784 = 24.5 x 32, 1000; the forward products 128, 72, 64 and 32 columns
// wide, the last two under the nt kernel's column rule, which shared products do not follow),
// pieces of 8 rows (narrower than a vector or a panel) and of 64.
static void image_shapes(void)
{
    const size_t floats = dpt_gemm_pack_floats();
    float *buf = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    cr_assert(buf);
    const struct dpt_gemm_pack prev = dpt_gemm_pack_use(buf, floats);
    check_image(0, 1, 256, 128, 1024, 1.0f, 0.0f, 64);
    check_image(0, 1, 250, 72, 784, 1.0f, 0.0f, 8);
    check_image(0, 1, 256, 64, 1024, 1.0f, 0.0f, 64);
    check_image(0, 1, 128, 32, 512, 1.0f, 0.0f, 8);
    check_image(0, 0, 256, 64, 1024, 1.0f, 0.0f, 8);
    check_image(0, 0, 100, 40, 1000, 1.0f, 0.0f, 24);
    check_image(1, 0, 64, 784, 256, 1.0f, 0.0f, 8);
    check_image(1, 0, 64, 1000, 250, -0.05f, 1.0f, 64); // the fused SGD step
    check_image(1, 0, 32, 512, 128, 1.0f, 0.0f, 16);
    dpt_gemm_pack_use(prev.buf, prev.floats);
    free(buf);
}

static void image_blockings(void)
{
    image_shapes();
    dpt_gemm_blocking_force(32, 64);
    image_shapes();
    dpt_gemm_blocking_force(0, 0);
}

Test(gemm, shared_operand_images_give_the_packed_gemm_bitwise)
{
    if (at_kernel_levels(image_blockings) == 0)
        cr_skip_test("no built-in kernel level on this CPU: every product goes to the BLAS");
}

// dpt_gemm_rows_merge's promise: where it says yes, every row of one product over all the rows
// is bitwise that row of the products over pieces of them. The dynamic step runs several shards
// (ta = 0) and several workers' gradient rows (ta = 1) as one piece of work on it
// (src/parallel/step_dynamic.c). Shapes: forward (NT) and delta (NN) products of shards past the
// 64-row forward kernel, and gradient (TN) products whose depth is a batch (32, 256); pieces whose
// edges fall inside the 12- or 6-row panels (65 = 5 x 12 + 5, 78, 107); k over several k blocks
// (800), n over a partial panel (40 for NN, 72 for NT); and the sizes the predicate must refuse (a
// piece under the packed GEMM's threshold, a forward product of at most 64 rows or at most 64
// columns, a gradient product too small to pack).
static void merge_case(int ta, int tb, size_t n, size_t k, const size_t *cut, size_t np, int want)
{
    const size_t m = cut[np];
    size_t small = m;
    for (size_t i = 0; i < np; i++)
        small = cut[i + 1] - cut[i] < small ? cut[i + 1] - cut[i] : small;
    want = want && dpt_gemm_rows_available(); // never at generic (the BLAS)
    cr_assert_eq(dpt_gemm_rows_merge(ta, tb, small, m, n, k), want,
                 "ta %d tb %d, %zu of %zu x %zu x %zu", ta, tb, small, m, n, k);
    struct dpt_rng r;
    dpt_rng_seed(&r, m * 31 + n * 7 + k);
    float *a = malloc(m * k * sizeof(float)), *b = malloc(n * k * sizeof(float));
    float *c1 = malloc(m * n * sizeof(float)), *c2 = malloc(m * n * sizeof(float));
    cr_assert(a && b && c1 && c2);
    fill(a, m * k, &r);
    fill(b, n * k, &r);
    // op(A) row i: A's row i (lda = k) or, transposed, A's column i (A is k x m, lda = m).
    const size_t lda = ta ? m : k, ldb = tb ? k : n;
    dpt_gemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c1, n);
    for (size_t i = 0; i < np; i++)
        dpt_gemm(ta, tb, cut[i + 1] - cut[i], n, k, 1.0f, a + cut[i] * (ta ? 1 : k), lda, b, ldb,
                 0.0f, c2 + cut[i] * n, n);
    if (want)
        cr_assert(memcmp(c1, c2, m * n * sizeof(float)) == 0,
                  "ta %d tb %d, %zu x %zu x %zu: a merged row differs from its piece's", ta, tb, m,
                  n, k);
    free(a);
    free(b);
    free(c1);
    free(c2);
}

static void merge_shapes(void)
{
    const size_t floats = dpt_gemm_pack_floats();
    float *buf = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    cr_assert(buf);
    const struct dpt_gemm_pack prev = dpt_gemm_pack_use(NULL, 0);
    const size_t halves[] = {0, 128, 256}, thirds[] = {0, 65, 143, 250}, deep[] = {0, 70, 141, 256};
    const size_t thin[] = {0, 40, 256}, at64[] = {0, 64, 256}, s2[] = {0, 64, 128};
    const size_t s3[] = {0, 43, 85, 128}, tiny[] = {0, 5, 10};
    merge_case(0, 1, 128, 160, halves, 2, 0); // no packing buffer: the small kernels
    merge_case(1, 0, 784, 32, s2, 2, 0);
    dpt_gemm_pack_use(buf, floats);
    for (int tb = 0; tb <= 1; tb++) {
        merge_case(0, tb, 128, 160, halves, 2, 1);
        merge_case(0, tb, 128, 160, thirds, 3, 1);
        merge_case(0, tb, tb ? 72 : 40, 800, deep, 3, 1);
        merge_case(0, tb, 128, 160, thin, 2, 0);   // 40 rows: under the threshold
        merge_case(0, tb, 128, 160, at64, 2, !tb); // NT with a 64-row piece: the nt kernel
        merge_case(0, tb, 40, 800, deep, 3, !tb);  // NT with 40 columns: the nt kernel
        merge_case(0, tb, 10, 1024, halves, 2, 0); // an output layer of 10: the small kernels
    }
    // Gradient rows (TN): S's layer 1 at 2 and 3 threads (784 inputs, a batch of 32), L's
    // hidden layer at 2 threads (batch 256), pieces inside the panels over several k blocks; S's
    // output layer (10 rows in pieces of 5) and a 40-row piece under the threshold, refused.
    merge_case(1, 0, 784, 32, s2, 2, 1);
    merge_case(1, 0, 784, 32, s3, 3, 1);
    merge_case(1, 0, 1024, 256, halves, 2, 1);
    merge_case(1, 0, 200, 800, thirds, 3, 1);
    merge_case(1, 0, 128, 32, tiny, 2, 0);
    merge_case(1, 0, 784, 32, thin, 2, 0);
    dpt_gemm_pack_use(prev.buf, prev.floats);
    free(buf);
}

// The forward products' rule (gemm_impl.h): the nt kernel for at most 32 rows at any depth, and
// for at most 64 rows or 64 columns as deep as its rows fit in L1 (1024 floats with a 32 KiB L1;
// at least 256 with the smallest L1 gemm.c accepts from hwloc, 8 KiB); the packed GEMM one float
// deeper, for wider products, and for every NN and TN product that pays.
Test(gemm, forward_products_take_the_nt_kernel_as_deep_as_its_rows_fit_l1)
{
    enum dpt_isa lv[DPT_ISA_LAST + 1];
    const size_t nl = levels(lv);
    for (size_t i = 0; i < nl; i++) {
        cr_assert(dpt_isa_force(lv[i]));
        const size_t d = dpt_gemm_nt_max_depth();
        if (lv[i] == DPT_ISA_GENERIC) {
            cr_assert_eq(d, 0);
            continue;
        }
        cr_assert_geq(d, 256, "%s: %zu", dpt_isa_name(), d);
        cr_assert(!dpt_gemm_takes_packed(0, 1, 32, 4096, 4 * d));
        cr_assert(!dpt_gemm_takes_packed(0, 1, 64, 1024, d));
        cr_assert(dpt_gemm_takes_packed(0, 1, 64, 1024, d + 1));
        cr_assert(!dpt_gemm_takes_packed(0, 1, 256, 64, d));
        cr_assert(dpt_gemm_takes_packed(0, 1, 256, 64, d + 1));
        // A shared op(A) (split_all's forward products): the row rules only.
        cr_assert(dpt_gemm_shared_takes_packed(1, 256, 64, d) &&
                  dpt_gemm_shared_takes_packed(1, 128, 32, 512));
        cr_assert(!dpt_gemm_shared_takes_packed(1, 64, 1024, d) &&
                  dpt_gemm_shared_takes_packed(1, 64, 1024, d + 1));
        cr_assert(!dpt_gemm_shared_takes_packed(1, 32, 4096, 4 * d));
        cr_assert(!dpt_gemm_shared_takes_packed(1, 256, 16, 784)); // under the packed GEMM's size
        cr_assert(dpt_gemm_takes_packed(0, 1, 65, 65, 784));
        cr_assert(dpt_gemm_takes_packed(0, 0, 64, 1024, d) &&
                  dpt_gemm_takes_packed(1, 0, 64, 1024, d));
        cr_assert(!dpt_gemm_takes_packed(1, 1, 1024, 1024, 1024)); // TT: the BLAS
    }
    dpt_isa_reset();
}

Test(gemm, merged_rows_are_bitwise_the_pieces_rows)
{
    enum dpt_isa lv[DPT_ISA_LAST + 1];
    const size_t n = levels(lv);
    for (size_t i = 0; i < n; i++) {
        cr_assert(dpt_isa_force(lv[i]));
        merge_shapes();
    }
    dpt_isa_reset();
}
