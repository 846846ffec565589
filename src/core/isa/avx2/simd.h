// The AVX2 + FMA vector layer for isa/kernels.inc: 8 floats a vector, masks as vectors of 32-bit
// lanes (vmaskmovps). Included by avx2/kernels.c alone, which is compiled with -mavx2 -mfma
// (CMakeLists.txt). 16 vector registers: the blocks below leave room for the operands.
#ifndef DPT_ISA_AVX2_SIMD_H
#define DPT_ISA_AVX2_SIMD_H

#include <immintrin.h>
#include <stddef.h>

#define DPT_ISA_NAME  "avx2"
#define DPT_ISA_TABLE dpt_isa_avx2

enum {
    VL = 8,         // floats a vector
    NT_MR = 3,      // dot-product kernel: rows of A a block (x 4 rows of B: 12 accumulators)
    NT_WIDE_NR = 8, // 1 row left over: x 8 rows of B (8 accumulators)
    BC_NV = 3,      // broadcast kernel: vectors a row of C (x 4 rows: 12 accumulators, 24 columns)
    PK_MR = 6,      // packed micro-kernel: rows of the C tile (x 2 vectors: 12 accumulators)
};
#define PK_ROWS_FULL(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define PK_ROWS_MID(X)  X(0) X(1) X(2) X(3)
#define PK_ROWS_LOW(X)  X(0) X(1)
#define PK_MID          4
#define PK_LOW          2

typedef __m256 vf;
typedef __m256i vmask;

#define v_zero()          _mm256_setzero_ps()
#define v_load(p)         _mm256_loadu_ps(p)
#define v_loada(p)        _mm256_load_ps(p)
#define v_store(p, v)     _mm256_storeu_ps((p), (v))
#define v_set1(x)         _mm256_set1_ps(x)
#define v_fma(a, b, c)    _mm256_fmadd_ps((a), (b), (c))
#define v_mul(a, b)       _mm256_mul_ps((a), (b))
#define v_mload(m, p)     _mm256_maskload_ps((p), (m))
#define v_mstore(p, m, v) _mm256_maskstore_ps((p), (m), (v))

// The first n lanes (all of them for n >= VL).
static inline vmask v_mask(size_t n)
{
    const int k = n >= VL ? VL : (int)n;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Exactly the first PK_MR (6) floats of v at p.
static inline void v_store_mr(float *p, vf v)
{
    _mm_storeu_ps(p, _mm256_castps256_ps128(v));
    _mm_storel_pi((__m64 *)(void *)(p + 4), _mm256_extractf128_ps(v, 1));
}

// s[q] = the sum of v_q's lanes, q = 0..3.
static inline void v_sum4(vf v0, vf v1, vf v2, vf v3, float s[4])
{
    // hadd twice leaves, per 128-bit half, [v0, v1, v2, v3] partial sums; then add the halves.
    const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1), _mm256_hadd_ps(v2, v3));
    _mm_storeu_ps(s, _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
}

// Transposes the 8 x 8 block r[0..8) in place: afterwards r[q] holds column q.
static inline void v_transpose(vf r[VL])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    // u[q] (q < 4): rows 0-3 at columns q and 4 + q; u[4 + q]: rows 4-7 at the same columns.
    for (int q = 0; q < 4; q++) {
        r[q] = _mm256_permute2f128_ps(u[q], u[4 + q], 0x20);
        r[q + 4] = _mm256_permute2f128_ps(u[q], u[4 + q], 0x31);
    }
}

#endif
