// The packed AVX-512 GEMM: C = alpha op(A) op(B) + beta C for the large products of training
// (workloads M and L: 64-1024 rows, 512-1024 wide), where OpenBLAS 0.3.21 reaches 88% of the
// core's peak on its own 2048^3 product and less on these shapes.
//
// The classic blocking (Goto; BLIS's loop order): for each chunk of up to 1024 rows and each
// KC-deep block of k, op(A) is packed once into MR-tall panels; for each NC-wide block of
// columns, op(B) is packed into NR-wide panels (KC x NC floats, in L2); the micro-kernel then
// keeps a 12 x 32 tile of C in 24 vector registers while k runs: per step of k, two loads of B's
// panel, twelve broadcasts of A's panel and 24 fused multiply-adds. Alone on packed data it runs
// at 98% of the core's peak (115 of 117 GFLOP/s on the Zen 4 development machine); the packing
// is vectorised (16 x 16 transposes for the operands stored along k, row copies for the others).
// With the packing it is 5-22% faster than OpenBLAS on the workloads' products (medians of
// tests/bench/gemm_bench; the figures are in docs/architecture.md). Narrow products (n < 32,
// S's output layer) stay with the BLAS, which is faster there.
//
// The packing buffers belong to the calling thread (dpt_gemm_pack_use): each worker passes its
// own, carved from its workspace, so nothing is allocated per call and the pages stay on the
// worker's NUMA node.
#include <stddef.h>

#include "gemm_impl.h"

enum {
    MR = 12,   // rows of the C tile (broadcasts of A)
    NR = 32,   // columns of the C tile (two vectors of B)
    KC = 384,  // deepest k block: A's panel 12 x 384 floats = 18 KB in L1
    NC = 512,  // widest column block: B's block 384 x 512 floats = 768 KB in L2 (1 MiB on Zen 4)
    MA = 1024, // rows of A packed at a time (A's k block is packed once for all column blocks)
};

// Floats of a packing buffer: B's block, A's block, and 16 floats of slack (a 12-wide row of a
// panel is written as a 16-wide vector; the next row overwrites the extra four).
#define PACK_FLOATS ((size_t)KC * NC + (size_t)MA * KC + 16)

static _Thread_local struct dpt_gemm_pack pack_cur;

int dpt_gemm_packed_pays(int ta, int tb, size_t m, size_t n, size_t k)
{
    // Narrower products waste most of a 32-column tile (S's output layer: the BLAS is faster);
    // NN products under 64 rows tie or lose (32 x 784 x 128: 84 vs 90 GFLOP/s); below 2^20
    // multiply-adds the packing does not pay for itself.
    return n >= 32 && m >= (ta || tb ? 16u : 64u) && k >= 16 &&
           (double)m * (double)n * (double)k >= 1048576.0;
}

struct dpt_gemm_pack dpt_gemm_pack_use(float *buf, size_t floats)
{
    const struct dpt_gemm_pack prev = pack_cur;
    pack_cur.buf = buf;
    pack_cur.floats = buf ? floats : 0;
    return prev;
}

#if defined(DPT_HAVE_NT_KERNEL)
#include <immintrin.h>

size_t dpt_gemm_pack_floats(void)
{
    return PACK_FLOATS;
}

// ---- the micro-kernel ----
//
// C tile (mr <= R rows, columns under m0 / m1) = alpha * sum_p A[., p] B[p, .] + beta * C, with
// A's panel (MR floats per p, R of them used) and B's panel (NR floats per p, 64-byte aligned).
// beta = 0 does not read C. The accumulators are named variables: in an array, gcc 12 keeps a
// copy in memory and stores it every iteration.

#define DPT_ACC(i) __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = _mm512_setzero_ps();
#define DPT_FMA(i)                                                                                 \
    do {                                                                                           \
        const __m512 x = _mm512_set1_ps(ap[i]);                                                    \
        c##i##0 = _mm512_fmadd_ps(x, b0, c##i##0);                                                 \
        c##i##1 = _mm512_fmadd_ps(x, b1, c##i##1);                                                 \
    } while (0);
#define DPT_STORE(i)                                                                               \
    if (i < mr) {                                                                                  \
        float *cr = c + (size_t)(i)*ldc;                                                           \
        __m512 r0 = _mm512_mul_ps(va, c##i##0), r1 = _mm512_mul_ps(va, c##i##1);                   \
        if (beta != 0.0f) {                                                                        \
            r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cr), r0);                           \
            r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16), r1);                      \
        }                                                                                          \
        _mm512_mask_storeu_ps(cr, m0, r0);                                                         \
        _mm512_mask_storeu_ps(cr + 16, m1, r1);                                                    \
    }
#define DPT_KERNEL(name, ACCS, FMAS, STORES)                                                       \
    __attribute__((target("avx512f"))) static void name(                                           \
        size_t kc, const float *restrict ap, const float *restrict bp, float *c, size_t ldc,       \
        size_t mr, __mmask16 m0, __mmask16 m1, float alpha, float beta)                            \
    {                                                                                              \
        ACCS for (size_t i = 0; i < mr; i++)                                                       \
        {                                                                                          \
            _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);                                \
            _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);                           \
        }                                                                                          \
        for (size_t p = 0; p < kc; p++) {                                                          \
            const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);                    \
            _mm_prefetch((const char *)(bp + 8 * NR), _MM_HINT_T0);                                \
            FMAS ap += MR;                                                                         \
            bp += NR;                                                                              \
        }                                                                                          \
        const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);                        \
        STORES                                                                                     \
    }

// 12 rows (the full tile), and 8 and 4 for the last panel of a chunk (256 rows = 21 x 12 + 4).
DPT_KERNEL(kernel12,
           DPT_ACC(0) DPT_ACC(1) DPT_ACC(2) DPT_ACC(3) DPT_ACC(4) DPT_ACC(5) DPT_ACC(6) DPT_ACC(7)
               DPT_ACC(8) DPT_ACC(9) DPT_ACC(10) DPT_ACC(11),
           DPT_FMA(0) DPT_FMA(1) DPT_FMA(2) DPT_FMA(3) DPT_FMA(4) DPT_FMA(5) DPT_FMA(6) DPT_FMA(7)
               DPT_FMA(8) DPT_FMA(9) DPT_FMA(10) DPT_FMA(11),
           DPT_STORE(0) DPT_STORE(1) DPT_STORE(2) DPT_STORE(3) DPT_STORE(4) DPT_STORE(5)
               DPT_STORE(6) DPT_STORE(7) DPT_STORE(8) DPT_STORE(9) DPT_STORE(10) DPT_STORE(11))
DPT_KERNEL(kernel8,
           DPT_ACC(0) DPT_ACC(1) DPT_ACC(2) DPT_ACC(3) DPT_ACC(4) DPT_ACC(5) DPT_ACC(6) DPT_ACC(7),
           DPT_FMA(0) DPT_FMA(1) DPT_FMA(2) DPT_FMA(3) DPT_FMA(4) DPT_FMA(5) DPT_FMA(6) DPT_FMA(7),
           DPT_STORE(0) DPT_STORE(1) DPT_STORE(2) DPT_STORE(3) DPT_STORE(4) DPT_STORE(5)
               DPT_STORE(6) DPT_STORE(7))
DPT_KERNEL(kernel4, DPT_ACC(0) DPT_ACC(1) DPT_ACC(2) DPT_ACC(3),
           DPT_FMA(0) DPT_FMA(1) DPT_FMA(2) DPT_FMA(3),
           DPT_STORE(0) DPT_STORE(1) DPT_STORE(2) DPT_STORE(3))

#undef DPT_ACC
#undef DPT_FMA
#undef DPT_STORE
#undef DPT_KERNEL

// ---- packing ----

// Transposes the 16 x 16 block r[0..16) in place: afterwards r[q] holds column q.
__attribute__((target("avx512f"))) static inline void transpose16(__m512 r[16])
{
    __m512 t[16];
    // Interleave pairs of rows: per 128-bit lane l, t[2i] = rows 2i, 2i+1 at columns 4l, 4l+1.
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // r[4i + q], lane l: rows 4i..4i+3 at column 4l + q.
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    // Gather the 128-bit lanes: t[q] = rows 0-3 and 4-7 at columns q and 8 + q, and so on.
    for (int q = 0; q < 4; q++) {
        t[q] = _mm512_shuffle_f32x4(r[q], r[4 + q], 0x88);
        t[q + 4] = _mm512_shuffle_f32x4(r[q], r[4 + q], 0xDD);
        t[q + 8] = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0x88);
        t[q + 12] = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0xDD);
    }
    for (int q = 0; q < 4; q++) {
        r[q] = _mm512_shuffle_f32x4(t[q], t[q + 8], 0x88);
        r[q + 8] = _mm512_shuffle_f32x4(t[q], t[q + 8], 0xDD);
        r[q + 4] = _mm512_shuffle_f32x4(t[q + 4], t[q + 12], 0x88);
        r[q + 12] = _mm512_shuffle_f32x4(t[q + 4], t[q + 12], 0xDD);
    }
}

// out[p * stride + j] = s[j * ld + p] for p < kc and j < 16, zero for j >= rows (rows <= 16):
// up to 16 rows stored along k become kc rows of 16. Writes 16 floats per p.
__attribute__((target("avx512f"))) static void
pack_transposed(const float *s, size_t ld, size_t rows, size_t kc, float *out, size_t stride)
{
    for (size_t p = 0; p < kc; p += 16) {
        const size_t pn = kc - p < 16 ? kc - p : 16;
        const __mmask16 mk = pn == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << pn) - 1u);
        __m512 r[16];
        for (size_t j = 0; j < 16; j++)
            r[j] = j < rows ? _mm512_maskz_loadu_ps(mk, s + j * ld + p) : _mm512_setzero_ps();
        transpose16(r);
        for (size_t q = 0; q < pn; q++)
            _mm512_storeu_ps(out + (p + q) * stride, r[q]);
    }
}

static inline __mmask16 cols_mask(size_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

// Panels of w (MR or NR) floats per row from an operand stored along them: storage row p0 + p
// (x + (p0 + p) ld, or rows[p0 + p] when rows is non-NULL) from column j0 on, nc columns, into
// panels at out + jr * kc, row p of a panel at + p * w, zero past the last column. Eight rows at a
// time into each panel: each storage row is read in contiguous runs, and each panel written 8 rows
// at a time (measured 0.37 cycles per float on B; 0.66 row by row over all panels, 0.49 panel by
// panel; 1.7x slower row by row on A). Only the last panel can be partial; its rows are written
// 16 (w = MR) or 32 floats wide, into the next row or the buffer's slack.
__attribute__((target("avx512f"))) static inline void pack_rows(const float *x, size_t ld,
                                                                const float *const *rows, size_t p0,
                                                                size_t kc, size_t j0, size_t nc,
                                                                size_t w, float *out)
{
    for (size_t pb = 0; pb < kc; pb += 8) {
        const size_t pe = pb + 8 < kc ? pb + 8 : kc;
        for (size_t jr = 0; jr < nc; jr += w) {
            const size_t valid = nc - jr < w ? nc - jr : w;
            const __mmask16 m0 = cols_mask(valid), m1 = valid > 16 ? cols_mask(valid - 16) : 0;
            float *o = out + jr * kc;
            for (size_t p = pb; p < pe; p++) {
                const float *s = (rows ? rows[p0 + p] : x + (p0 + p) * ld) + j0 + jr;
                if (valid == w && w == NR) {
                    _mm512_storeu_ps(o + p * w, _mm512_loadu_ps(s));
                    _mm512_storeu_ps(o + p * w + 16, _mm512_loadu_ps(s + 16));
                } else if (valid == w && w == MR) {
                    _mm256_storeu_ps(o + p * w, _mm256_loadu_ps(s));
                    _mm_storeu_ps(o + p * w + 8, _mm_loadu_ps(s + 8));
                } else {
                    _mm512_storeu_ps(o + p * w, _mm512_maskz_loadu_ps(m0, s));
                    if (w > 16)
                        _mm512_storeu_ps(o + p * w + 16, _mm512_maskz_loadu_ps(m1, s + 16));
                }
            }
        }
    }
}

// Rows [i0, i0 + mc) of op(A), k in [p0, p0 + kc), as MR-tall panels at out + ir * kc: panel
// row p holds the MR values of column p (zero past the last row).
__attribute__((target("avx512f"))) static void pack_a(int ta, const float *a, size_t lda, size_t i0,
                                                      size_t mc, size_t p0, size_t kc, float *out)
{
    if (ta) // A is stored k x m: storage row p holds op(A)'s column p
        pack_rows(a, lda, NULL, p0, kc, i0, mc, MR, out);
    else
        for (size_t ir = 0; ir < mc; ir += MR)
            pack_transposed(a + (i0 + ir) * lda + p0, lda, mc - ir < MR ? mc - ir : MR, kc,
                            out + ir * kc, MR);
}

// Columns [j0, j0 + nc) of op(B), k in [p0, p0 + kc), as NR-wide panels at out + jr * kc: panel
// row p holds the NR values of row p of op(B) (zero past the last column).
// With brows non-NULL (tb = 0 only), row p of op(B) is brows[p] (n wide) instead of b + p ldb:
// the rows of a batch where they lie in the data set, gathered by the packing itself.
__attribute__((target("avx512f"))) static void pack_b(int tb, const float *b, size_t ldb,
                                                      const float *const *brows, size_t p0,
                                                      size_t kc, size_t j0, size_t nc, float *out)
{
    if (!tb) { // B is stored k x n
        pack_rows(b, ldb, brows, p0, kc, j0, nc, NR, out);
        return;
    }
    // B is stored n x k: each panel is two 16-column transposes.
    for (size_t jr = 0; jr < nc; jr += NR) {
        const size_t nr = nc - jr < NR ? nc - jr : NR;
        const float *s = b + (j0 + jr) * ldb + p0;
        pack_transposed(s, ldb, nr < 16 ? nr : 16, kc, out + jr * kc, NR);
        pack_transposed(s + 16 * ldb, ldb, nr > 16 ? nr - 16 : 0, kc, out + jr * kc + 16, NR);
    }
}

// ---- the blocked product ----

// C (mc x nc, ldc) = alpha * packed A (mc x kc) packed B (kc x nc) + beta * C, tile by tile: A's
// panel stays in L1 while B's panels stream past from L2.
__attribute__((target("avx512f"))) static void macro_tile(size_t mc, size_t nc, size_t kc,
                                                          const float *abuf, const float *bbuf,
                                                          float alpha, float beta, float *c,
                                                          size_t ldc)
{
    for (size_t ir = 0; ir < mc; ir += MR) {
        const size_t mr = mc - ir < MR ? mc - ir : MR;
        void (*kern)(size_t, const float *restrict, const float *restrict, float *, size_t, size_t,
                     __mmask16, __mmask16, float, float) = mr > 8   ? kernel12
                                                           : mr > 4 ? kernel8
                                                                    : kernel4;
        for (size_t jr = 0; jr < nc; jr += NR) {
            const size_t nr = nc - jr < NR ? nc - jr : NR;
            kern(kc, abuf + ir * kc, bbuf + jr * kc, c + ir * ldc + jr, ldc, mr, cols_mask(nr),
                 nr > 16 ? cols_mask(nr - 16) : 0, alpha, beta);
        }
    }
}

__attribute__((target("avx512f"))) static void gemm_packed(int ta, int tb, size_t m, size_t n,
                                                           size_t k, float alpha, const float *a,
                                                           size_t lda, const float *b, size_t ldb,
                                                           const float *const *brows, float beta,
                                                           float *c, size_t ldc, float *buf)
{
    // Even blocks: k = 784 runs as 3 blocks of 272, 272, 240 rather than 384, 384, 16.
    const size_t nkb = (k + KC - 1) / KC, nnb = (n + NC - 1) / NC;
    size_t kcb = (k + nkb - 1) / nkb, ncb = (n + nnb - 1) / nnb;
    kcb = (kcb + 15) / 16 * 16;
    ncb = (ncb + NR - 1) / NR * NR;
    kcb = kcb < KC ? kcb : KC;
    ncb = ncb < NC ? ncb : NC;
    float *bbuf = buf, *abuf = buf + (size_t)KC * NC;
    for (size_t ic = 0; ic < m; ic += MA) {
        const size_t mc = m - ic < MA ? m - ic : MA;
        for (size_t pc = 0; pc < k; pc += kcb) {
            const size_t kc = k - pc < kcb ? k - pc : kcb;
            const float be = pc == 0 ? beta : 1.0f; // later k blocks add to the first's result
            pack_a(ta, a, lda, ic, mc, pc, kc, abuf);
            for (size_t jc = 0; jc < n; jc += ncb) {
                const size_t nc = n - jc < ncb ? n - jc : ncb;
                pack_b(tb, b, ldb, brows, pc, kc, jc, nc, bbuf);
                macro_tile(mc, nc, kc, abuf, bbuf, alpha, be, c + ic * ldc + jc, ldc);
            }
        }
    }
}

// Whether the calling thread has a packing buffer large enough.
static int have_buffer(void)
{
    return pack_cur.buf && pack_cur.floats >= PACK_FLOATS;
}

int dpt_gemm_packed(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    if (!have_buffer() || m == 0 || n == 0 || k == 0)
        return 0;
    gemm_packed(ta, tb, m, n, k, alpha, a, lda, b, ldb, NULL, beta, c, ldc, pack_cur.buf);
    return 1;
}

int dpt_gemm_packed_tn_rows(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                            const float *const *b_rows, float beta, float *c, size_t ldc)
{
    if (!have_buffer() || m == 0 || n == 0 || k == 0)
        return 0;
    gemm_packed(1, 0, m, n, k, alpha, a, lda, NULL, 0, b_rows, beta, c, ldc, pack_cur.buf);
    return 1;
}

#else

size_t dpt_gemm_pack_floats(void)
{
    return 0;
}

int dpt_gemm_packed(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b,
        (void)ldb, (void)beta, (void)c, (void)ldc;
    return 0;
}

int dpt_gemm_packed_tn_rows(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                            const float *const *b_rows, float beta, float *c, size_t ldc)
{
    (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b_rows, (void)beta, (void)c,
        (void)ldc;
    return 0;
}

#endif
