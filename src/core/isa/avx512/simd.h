// The AVX-512 vector layer for isa/kernels.inc: 16 floats a vector, masks as __mmask16. Only
// AVX-512F instructions (and AVX/FMA ones): every AVX-512 CPU runs them. Included by
// avx512/kernels.c alone, which is compiled with -mavx512f (CMakeLists.txt).
#ifndef DPT_ISA_AVX512_SIMD_H
#define DPT_ISA_AVX512_SIMD_H

#include <immintrin.h>
#include <stddef.h>

#define DPT_ISA_NAME  "avx512"
#define DPT_ISA_TABLE dpt_isa_avx512

enum {
    VL = 16,        // floats a vector
    NT_MR = 4,      // dot-product kernel: rows of A a block (x 4 rows of B: 16 accumulators)
    NT_WIDE_NR = 8, // 1 or 2 rows left over: x 8 rows of B (8 or 16 accumulators)
    BC_NV = 4,      // broadcast kernel: vectors a row of C (x 4 rows: 16 accumulators, 64 columns)
    PK_MR = 12,     // packed micro-kernel: rows of the C tile (x 2 vectors: 24 accumulators)
};
// The packed kernel's row counts for a tile's tail rows: full, middle and low variants.
#define PK_ROWS_FULL(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define PK_ROWS_MID(X)  X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define PK_ROWS_LOW(X)  X(0) X(1) X(2) X(3)
#define PK_MID          8
#define PK_LOW          4

typedef __m512 vf;
typedef __mmask16 vmask;

#define v_zero()          _mm512_setzero_ps()
#define v_load(p)         _mm512_loadu_ps(p)
#define v_loada(p)        _mm512_load_ps(p)
#define v_store(p, v)     _mm512_storeu_ps((p), (v))
#define v_set1(x)         _mm512_set1_ps(x)
#define v_fma(a, b, c)    _mm512_fmadd_ps((a), (b), (c))
#define v_mul(a, b)       _mm512_mul_ps((a), (b))
#define v_mload(m, p)     _mm512_maskz_loadu_ps((m), (p))
#define v_mstore(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))

// The first n lanes (all of them for n >= VL).
static inline vmask v_mask(size_t n)
{
    return n >= VL ? (vmask)0xFFFF : (vmask)((1u << n) - 1u);
}

// Exactly the first PK_MR (12) floats of v at p.
static inline void v_store_mr(float *p, vf v)
{
    _mm256_storeu_ps(p, _mm512_castps512_ps256(v));
    _mm_storeu_ps(p + 8, _mm512_extractf32x4_ps(v, 2));
}

// s[q] = the sum of v_q's lanes, q = 0..3.
static inline void v_sum4(vf v0, vf v1, vf v2, vf v3, float s[4])
{
    // Within each 128-bit lane: pairwise interleave and add, twice, leaving lane l holding
    // [part of v0, v1, v2, v3]; then add the four 128-bit lanes.
    const __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(v0, v1), _mm512_unpackhi_ps(v0, v1));
    const __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(v2, v3), _mm512_unpackhi_ps(v2, v3));
    const __m512 u = _mm512_add_ps(
        _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))),
        _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))));
    const __m256 h =
        _mm256_add_ps(_mm512_castps512_ps256(u),
                      _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(u), 1)));
    _mm_storeu_ps(s, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
}

// Transposes the 16 x 16 block r[0..16) in place: afterwards r[q] holds column q.
static inline void v_transpose(vf r[VL])
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

#endif
