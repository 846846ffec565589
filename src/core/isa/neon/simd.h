// The NEON (Advanced SIMD) vector layer for isa/kernels.inc: 4 floats a vector (float32x4_t), FMA
// as FMLA, masks as lane counts (NEON has no masked loads or stores: a partial vector is moved
// lane by lane, in the tails only). Included by neon/kernels.c alone. Every arm64 CPU has these
// instructions. 32 vector registers: the blocks below keep 16 to 24 accumulators in them.
#ifndef DPT_ISA_NEON_SIMD_H
#define DPT_ISA_NEON_SIMD_H

#include <arm_neon.h>
#include <stddef.h>

#define DPT_ISA_NAME  "neon"
#define DPT_ISA_TABLE dpt_isa_neon

enum {
    VL = 4,         // floats a vector
    NT_MR = 4,      // dot-product kernel: rows of A a block (x 4 rows of B: 16 accumulators)
    NT_WIDE_NR = 8, // 1 or 2 rows left over: x 8 rows of B (8 or 16 accumulators)
    BC_NV = 4,      // broadcast kernel: vectors a row of C (x 4 rows: 16 accumulators, 16 columns)
    PK_MR = 8,      // packed micro-kernel: rows of the C tile (x 2 vectors: 16 accumulators)
};
// The packed kernel's row counts for a tile's tail rows: full, middle and low variants.
#define PK_ROWS_FULL(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define PK_ROWS_MID(X)  X(0) X(1) X(2) X(3)
#define PK_ROWS_LOW(X)  X(0) X(1)
#define PK_MID          4
#define PK_LOW          2

// The 8 x 8 tile (PK_MR = NR = 2 VL) per step of k: A's panel as two vectors, each row's value
// taken by lane, so that v_fma becomes FMLA by element (Vd.4S, Vn.4S, Vm.S[lane]): 4 vector loads
// (2 of A, 2 of B) per 16 FMLA, and 20 of the 32 registers. Panels of A as tall as those of B
// are packed like them (kernels.inc: pack_rows, pack_a).
#define PK_A_LOAD(ap) const float32x4_t pk_a0_ = vld1q_f32(ap), pk_a1_ = vld1q_f32((ap) + 4);
#define PK_A(ap, i)   vdupq_laneq_f32((i) < 4 ? pk_a0_ : pk_a1_, (i)&3)

typedef float32x4_t vf;
typedef size_t vmask; // the number of leading lanes, 0..VL

#define v_zero()       vdupq_n_f32(0.0f)
#define v_load(p)      vld1q_f32(p)
#define v_loada(p)     vld1q_f32(p)
#define v_store(p, v)  vst1q_f32((p), (v))
#define v_set1(x)      vdupq_n_f32(x)
#define v_fma(a, b, c) vfmaq_f32((c), (a), (b))
#define v_mul(a, b)    vmulq_f32((a), (b))

// The first n lanes (all of them for n >= VL).
static inline vmask v_mask(size_t n)
{
    return n >= VL ? VL : n;
}

// The first m lanes from p, zero in the others; nothing past them is read.
static inline vf v_mload(vmask m, const float *p)
{
    if (m >= VL)
        return vld1q_f32(p);
    vf v = vdupq_n_f32(0.0f);
    switch (m) {
    case 3:
        v = vld1q_lane_f32(p + 2, v, 2);
        /* fall through */
    case 2:
        v = vld1q_lane_f32(p + 1, v, 1);
        /* fall through */
    case 1:
        v = vld1q_lane_f32(p, v, 0);
        /* fall through */
    default:
        break;
    }
    return v;
}

// The first m lanes of v to p; nothing past them is written.
static inline void v_mstore(float *p, vmask m, vf v)
{
    if (m >= VL) {
        vst1q_f32(p, v);
        return;
    }
    switch (m) {
    case 3:
        vst1q_lane_f32(p + 2, v, 2);
        /* fall through */
    case 2:
        vst1q_lane_f32(p + 1, v, 1);
        /* fall through */
    case 1:
        vst1q_lane_f32(p, v, 0);
        /* fall through */
    default:
        break;
    }
}

// kernels.inc stores a PK_MR-wide panel row from one vector only where PK_MR < NR; here
// PK_MR = NR, so A's panels are packed two vectors a row like B's and this is never called.
_Static_assert(PK_MR == 2 * VL, "the NEON layer packs A's panels as two vectors a row");
static inline void v_store_mr(float *p, vf v)
{
    vst1q_f32(p, v);
}

// s[q] = the sum of v_q's lanes, q = 0..3: two pairwise additions (FADDP).
static inline void v_sum4(vf v0, vf v1, vf v2, vf v3, float s[4])
{
    vst1q_f32(s, vpaddq_f32(vpaddq_f32(v0, v1), vpaddq_f32(v2, v3)));
}

// Transposes the 4 x 4 block r[0..4) in place: afterwards r[q] holds column q.
static inline void v_transpose(vf r[VL])
{
    const float32x4_t t0 = vtrn1q_f32(r[0], r[1]), t1 = vtrn2q_f32(r[0], r[1]);
    const float32x4_t t2 = vtrn1q_f32(r[2], r[3]), t3 = vtrn2q_f32(r[2], r[3]);
    const float64x2_t d0 = vreinterpretq_f64_f32(t0), d1 = vreinterpretq_f64_f32(t1);
    const float64x2_t d2 = vreinterpretq_f64_f32(t2), d3 = vreinterpretq_f64_f32(t3);
    r[0] = vreinterpretq_f32_f64(vtrn1q_f64(d0, d2));
    r[1] = vreinterpretq_f32_f64(vtrn1q_f64(d1, d3));
    r[2] = vreinterpretq_f32_f64(vtrn2q_f64(d0, d2));
    r[3] = vreinterpretq_f32_f64(vtrn2q_f64(d1, d3));
}

#endif
