// The bf16 GEMM (isa/bf16.h): the packed GEMM of isa/kernels.inc with bf16 panels, over the
// AVX-512 vector layer, compiled with -mavx512f -mavx512bw -mavx512bf16 (CMakeLists.txt) and run
// only where the CPU has AVX512_BF16 (gemm_bf16.c checks).
//
// Panels hold pairs of bf16 values along k, one 32-bit word per pair, which is what vdpbf16ps
// multiplies: lane j of acc += x.bf16[2j] y.bf16[2j] + x.bf16[2j + 1] y.bf16[2j + 1]. So for
// each pair of k values q = (2q, 2q + 1):
//   A's panel   PK_MR words: word i = (A[i][2q], A[i][2q + 1])        broadcast to every lane
//   B's panel   NR words:    word j = (B[2q][j], B[2q + 1][j])         two vectors of 16
// and the micro-kernel is the fp32 one with k halved: per pair, two loads of B, PK_MR broadcasts
// of A, 2 PK_MR vdpbf16ps on a PK_MR x NR tile of fp32 accumulators (24 of the 32 registers).
//
// The conversion happens while packing, with vcvtne2ps2bf16 (round to nearest even, what the
// hardware does; NaN stays NaN): an operand stored along k (A in NT and NN, B in NT) is read a row
// at a time, 32 values become 16 pairs in one vector, and a 16 x 16 transpose of 32-bit words
// (the fp32 transpose) turns 16 rows into 16 panel rows; an operand stored across k (A in TN, B in
// NN and TN) is read two rows (2q and 2q + 1) at a time and interleaved by a word permute
// (vpermw). k past the end is packed as zeros, on both sides, so an odd k needs nothing more.
#include <stdint.h>

#include "core/isa/avx512/simd.h"
#include "core/isa/bf16.h"

enum { NR = 2 * VL };

_Static_assert(PK_MR == DPT_BF16_MR && NR == DPT_BF16_NR && VL == DPT_BF16_VL,
               "isa/bf16.h's tile is the AVX-512 layer's");

typedef uint32_t word; // a pair of bf16 values along k

#define DPT_UNROLL _Pragma("GCC unroll 16")

// 32 floats (x0: the first 16, x1: the next 16) as 16 pairs: word t = (x[2t], x[2t + 1]).
static inline __m512i pairs_along(__m512 x0, __m512 x1)
{
    return (__m512i)_mm512_cvtne2ps_pbh(x1, x0);
}

// Row r0 and row r1 (16 values each) as 16 pairs across them: word j = (r0[j], r1[j]).
static inline __m512i pairs_across(__m512 r0, __m512 r1)
{
    // Words 0-15: r0, words 16-31: r1; then word 2j <- word j, word 2j + 1 <- word 16 + j.
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24,
                                         8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(r1, r0));
}

// ---- the micro-kernel ----
//
// C tile (mr <= rows, nr <= NR columns) = alpha sum_q A[., q] . B[q, .] + beta C over kp pairs,
// with A's panel (PK_MR words per pair) and B's panel (NR words per pair, 64-byte aligned).
// beta = 0 does not read C. One kernel per row list, as in kernels.inc.

#define DPT_ACC(i) vf c##i##0 = v_zero(), c##i##1 = v_zero();
#define DPT_DOT(i)                                                                                 \
    {                                                                                              \
        const __m512bh x = (__m512bh)_mm512_set1_epi32((int)ap[i]);                                \
        c##i##0 = _mm512_dpbf16_ps(c##i##0, x, b0);                                                \
        c##i##1 = _mm512_dpbf16_ps(c##i##1, x, b1);                                                \
    }
#define DPT_STORE(i)                                                                               \
    if (i < mr) {                                                                                  \
        float *cr = c + (size_t)(i)*ldc;                                                           \
        vf r0 = v_mul(va, c##i##0), r1 = v_mul(va, c##i##1);                                       \
        if (beta != 0.0f) {                                                                        \
            r0 = v_fma(vb, v_mload(m0, cr), r0);                                                   \
            r1 = v_fma(vb, v_mload(m1, cr + VL), r1);                                              \
        }                                                                                          \
        v_mstore(cr, m0, r0);                                                                      \
        v_mstore(cr + VL, m1, r1);                                                                 \
    }
#define DPT_PREFETCH_C(i)                                                                          \
    if (i < mr) {                                                                                  \
        _mm_prefetch((const char *)(c + (size_t)(i)*ldc), _MM_HINT_T0);                            \
        _mm_prefetch((const char *)(c + (size_t)(i)*ldc + NR - 1), _MM_HINT_T0);                   \
    }
#define DPT_KERNEL(name, ROWS)                                                                     \
    static void name(size_t kp, const word *restrict ap, const word *restrict bp, float *c,        \
                     size_t ldc, size_t mr, size_t nr, float alpha, float beta)                    \
    {                                                                                              \
        ROWS(DPT_ACC)                                                                              \
        ROWS(DPT_PREFETCH_C)                                                                       \
        for (size_t q = 0; q < kp; q++) {                                                          \
            const __m512bh b0 = (__m512bh)_mm512_load_si512(bp),                                   \
                           b1 = (__m512bh)_mm512_load_si512(bp + VL);                              \
            _mm_prefetch((const char *)(bp + 8 * NR), _MM_HINT_T0);                                \
            ROWS(DPT_DOT)                                                                          \
            ap += PK_MR;                                                                           \
            bp += NR;                                                                              \
        }                                                                                          \
        const vmask m0 = v_mask(nr), m1 = v_mask(nr > VL ? nr - VL : 0);                           \
        const vf va = v_set1(alpha), vb = v_set1(beta);                                            \
        ROWS(DPT_STORE)                                                                            \
    }

DPT_KERNEL(kernel_full, PK_ROWS_FULL)
DPT_KERNEL(kernel_mid, PK_ROWS_MID)
DPT_KERNEL(kernel_low, PK_ROWS_LOW)

#undef DPT_ACC
#undef DPT_DOT
#undef DPT_STORE
#undef DPT_PREFETCH_C
#undef DPT_KERNEL

// ---- packing ----

// Up to VL rows stored along k, k values p0 .. p0 + kc of each (row j at rows[j], or s + j ld),
// as ceil(kc / 2) panel rows of VL words: out[q * stride + j] = (row j [p0 + 2q], row j
// [p0 + 2q + 1]), zero for j >= nrows and past kc. Writes VL words per panel row, in increasing q.
static void pack_along(const float *s, size_t ld, const float *const *rows, size_t nrows, size_t p0,
                       size_t kc, word *out, size_t stride)
{
    for (size_t p = 0; p < kc; p += 2 * VL) {
        const size_t pn = kc - p < 2 * VL ? kc - p : 2 * VL;
        const vmask m0 = v_mask(pn), m1 = v_mask(pn > VL ? pn - VL : 0);
        vf r[VL];
        for (size_t j = 0; j < VL; j++) {
            if (j < nrows) {
                const float *x = (rows ? rows[j] : s + j * ld) + p0 + p;
                r[j] = _mm512_castsi512_ps(pairs_along(v_mload(m0, x), v_mload(m1, x + VL)));
            } else {
                r[j] = v_zero();
            }
        }
        v_transpose(r);
        const size_t qn = (pn + 1) / 2;
        for (size_t q = 0; q < qn; q++)
            v_store((float *)(out + (p / 2 + q) * stride), r[q]);
    }
}

// Panels of w (PK_MR or NR) words per pair from an operand stored across k: storage row p0 + p
// (x + (p0 + p) ld, or rows[p0 + p]) from column j0 on, nc columns, into panels at
// out + jr * (kc / 2), pair q of a panel at + q * w, zero past the last column and past kc (kc is
// even except at the end of k). Four pairs (eight storage rows) at a time into each panel, as the
// fp32 packing does. Every pair is written exactly w words wide.
static void pack_across(const float *x, size_t ld, const float *const *rows, size_t p0, size_t kc,
                        size_t j0, size_t nc, size_t w, word *out)
{
    const size_t kp = (kc + 1) / 2;
    for (size_t qb = 0; qb < kp; qb += 4) {
        const size_t qe = qb + 4 < kp ? qb + 4 : kp;
        for (size_t jr = 0; jr < nc; jr += w) {
            const size_t valid = nc - jr < w ? nc - jr : w;
            const vmask m0 = v_mask(valid), m1 = v_mask(valid > VL ? valid - VL : 0);
            word *o = out + jr * kp;
            for (size_t q = qb; q < qe; q++) {
                const size_t p = 2 * q;
                const float *s0 = (rows ? rows[p0 + p] : x + (p0 + p) * ld) + j0 + jr;
                const float *s1 =
                    p + 1 < kc ? (rows ? rows[p0 + p + 1] : x + (p0 + p + 1) * ld) + j0 + jr : NULL;
                if (w == NR) {
                    const vf a0 = v_mload(m0, s0), a1 = v_mload(m1, s0 + VL);
                    const vf b0 = s1 ? v_mload(m0, s1) : v_zero();
                    const vf b1 = s1 ? v_mload(m1, s1 + VL) : v_zero();
                    _mm512_store_si512(o + q * w, pairs_across(a0, b0));
                    _mm512_store_si512(o + q * w + VL, pairs_across(a1, b1));
                } else {
                    const vf a0 = v_mload(m0, s0), b0 = s1 ? v_mload(m0, s1) : v_zero();
                    v_store_mr((float *)(o + q * w), _mm512_castsi512_ps(pairs_across(a0, b0)));
                }
            }
        }
    }
}

// Rows [i0, i0 + mc) of op(A), k in [p0, p0 + kc), as PK_MR-tall panels at out + ir * (kc / 2).
static void pack_a(int ta, const float *a, size_t lda, const float *const *arows, size_t i0,
                   size_t mc, size_t p0, size_t kc, word *out)
{
    const size_t kp = (kc + 1) / 2;
    if (ta) { // A is stored k x m: storage row p holds op(A)'s column p
        pack_across(a, lda, NULL, p0, kc, i0, mc, PK_MR, out);
        return;
    }
    for (size_t ir = 0; ir < mc; ir += PK_MR)
        pack_along(arows ? NULL : a + (i0 + ir) * lda, lda, arows ? arows + i0 + ir : NULL,
                   mc - ir < PK_MR ? mc - ir : PK_MR, p0, kc, out + ir * kp, PK_MR);
}

// Columns [j0, j0 + nc) of op(B), k in [p0, p0 + kc), as NR-wide panels at out + jr * (kc / 2).
static void pack_b(int tb, const float *b, size_t ldb, const float *const *brows, size_t p0,
                   size_t kc, size_t j0, size_t nc, word *out)
{
    const size_t kp = (kc + 1) / 2;
    if (!tb) { // B is stored k x n
        pack_across(b, ldb, brows, p0, kc, j0, nc, NR, out);
        return;
    }
    // B is stored n x k: each panel is two transposes of VL storage rows.
    for (size_t jr = 0; jr < nc; jr += NR) {
        const size_t nr = nc - jr < NR ? nc - jr : NR;
        const float *s = b + (j0 + jr) * ldb;
        pack_along(s, ldb, NULL, nr < VL ? nr : VL, p0, kc, out + jr * kp, NR);
        pack_along(s + VL * ldb, ldb, NULL, nr > VL ? nr - VL : 0, p0, kc, out + jr * kp + VL, NR);
    }
}

// ---- the blocked product ----

static void macro_tile(size_t mc, size_t nc, size_t kp, const word *abuf, const word *bbuf,
                       float alpha, float beta, float *c, size_t ldc)
{
    for (size_t ir = 0; ir < mc; ir += PK_MR) {
        const size_t mr = mc - ir < PK_MR ? mc - ir : PK_MR;
        void (*kern)(size_t, const word *restrict, const word *restrict, float *, size_t, size_t,
                     size_t, float, float) = mr > PK_MID   ? kernel_full
                                             : mr > PK_LOW ? kernel_mid
                                                           : kernel_low;
        for (size_t jr = 0; jr < nc; jr += NR)
            kern(kp, abuf + ir * kp, bbuf + jr * kp, c + ir * ldc + jr, ldc, mr,
                 nc - jr < NR ? nc - jr : NR, alpha, beta);
    }
}

void dpt_bf16_packed(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                     size_t lda, const float *const *arows, const float *b, size_t ldb,
                     const float *const *brows, float beta, float *c, size_t ldc, void *buf,
                     const struct dpt_gemm_blocking *bl)
{
    // Even blocks, as in kernels.inc; every block but the last is a multiple of 16 values deep,
    // so no pair straddles two blocks.
    const size_t nkb = (k + bl->kc - 1) / bl->kc, nnb = (n + bl->nc - 1) / bl->nc;
    size_t kcb = (k + nkb - 1) / nkb, ncb = (n + nnb - 1) / nnb;
    kcb = (kcb + 15) / 16 * 16;
    ncb = (ncb + NR - 1) / NR * NR;
    kcb = kcb < bl->kc ? kcb : bl->kc;
    ncb = ncb < bl->nc ? ncb : bl->nc;
    word *bbuf = buf, *abuf = bbuf + bl->kc / 2 * bl->nc;
    for (size_t ic = 0; ic < m; ic += bl->ma) {
        const size_t mc = m - ic < bl->ma ? m - ic : bl->ma;
        for (size_t pc = 0; pc < k; pc += kcb) {
            const size_t kc = k - pc < kcb ? k - pc : kcb, kp = (kc + 1) / 2;
            const float be = pc == 0 ? beta : 1.0f; // later k blocks add to the first's result
            pack_a(ta, a, lda, arows, ic, mc, pc, kc, abuf);
            for (size_t jc = 0; jc < n; jc += ncb) {
                const size_t nc = n - jc < ncb ? n - jc : ncb;
                pack_b(tb, b, ldb, brows, pc, kc, jc, nc, bbuf);
                macro_tile(mc, nc, kp, abuf, bbuf, alpha, be, c + ic * ldc + jc, ldc);
            }
        }
    }
}
