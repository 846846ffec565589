// Private: the table of built-in kernels one instruction-set level provides, chosen once at
// start-up (gemm.c: dpt_isa_kernels). Each level's kernels are the same source, isa/kernels.inc,
// compiled in its own folder over that level's vector layer (isa/<level>/simd.h: the vector width,
// masks, transposes and block shapes as parameters): isa/avx512/kernels.c and isa/avx2/kernels.c
// on x86-64, isa/neon/kernels.c on arm64.
// The generic level has no table: every product goes to the BLAS, which is also the reference the
// tests hold the kernels to.
#ifndef DPT_ISA_H
#define DPT_ISA_H

#include <stddef.h>

// The packed GEMM's blocking (gemm.c derives it from the cache sizes hwloc reports).
struct dpt_gemm_blocking {
    size_t kc; // depth of a k block: A's micro-panel (mr x kc) stays in L1
    size_t nc; // width of a column block: B's packed block (kc x nc) stays in L2
    size_t ma; // rows of A packed at a time (bounds the buffer, not a cache)
};

struct dpt_isa_kernels {
    const char *name; // "avx512", "avx2", "neon"
    size_t mr, nr;    // the packed micro-tile (rows of A's panels, columns of B's)
    size_t vl;        // floats a vector
    size_t nt_mr;     // rows of A in a block of the nt kernel (x 4 rows of B)
    size_t bc_cols;   // columns of C in a block of the broadcast kernel (x 4 rows)
    // C (m x n) = alpha A B^T + beta C; A's rows at arows[i] (k wide), B n x k (ldb). Any sizes.
    void (*nt_rows)(size_t m, size_t n, size_t k, float alpha, const float *const *arows,
                    const float *b, size_t ldb, float beta, float *c, size_t ldc);
    // C (m x n) = alpha A B + beta C with A's entry (i, p) at a[i rsa + p csa] (TN: rsa = 1,
    // csa = lda; NN: rsa = lda, csa = 1) and B's row p at brows[p] or, with brows NULL,
    // b + p ldb. Any sizes; unpacked, for products too small to pay for packing.
    void (*bcast)(size_t m, size_t n, size_t k, float alpha, const float *a, size_t rsa, size_t csa,
                  const float *b, size_t ldb, const float *const *brows, float beta, float *c,
                  size_t ldc);
    // C = alpha op(A) op(B) + beta C through packed panels in buf (dpt_isa_pack_floats floats,
    // 64-byte aligned), blocked by bl; brows as for bcast (tb = 0 only), arows likewise A's rows
    // (ta = 0 only). m, n, k >= 1. apre, bpre: op(A)'s and op(B)'s images (below) to use instead
    // of packing them, or NULL; apre needs m <= bl->ma.
    void (*packed)(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                   size_t lda, const float *const *arows, const float *b, size_t ldb,
                   const float *const *brows, const float *apre, const float *bpre, float beta,
                   float *c, size_t ldc, float *buf, const struct dpt_gemm_blocking *bl);
    // Images: an operand packed once, as packed() packs it, for products that share it.
    // pack_a_image writes columns [p0, p1) of A (m x k, stored along k: ta = 0) into op(A)'s
    // image (round_up(m, mr) k floats); pack_b_image columns [j0, j1) of B (k x n, stored k x n:
    // tb = 0) into op(B)'s (round_up(n, nr) k floats). Each stores exactly those entries (and
    // B's padding with j1 = n), so threads may fill disjoint ranges of one image at once.
    void (*pack_a_image)(size_t m, size_t k, const float *a, size_t lda, size_t p0, size_t p1,
                         float *img, const struct dpt_gemm_blocking *bl);
    void (*pack_b_image)(size_t k, size_t n, const float *b, size_t ldb, size_t j0, size_t j1,
                         float *img, const struct dpt_gemm_blocking *bl);
};

// The depth of the k blocks of a product of depth k (the last may be shallower): even blocks, so
// that k = 784 runs as 272, 272, 240 rather than 384, 384, 16. The packed GEMM, the operand
// images and the places that walk an image (gemm.c) all cut k this way.
static inline size_t dpt_isa_k_block(size_t k, const struct dpt_gemm_blocking *bl)
{
    const size_t nkb = (k + bl->kc - 1) / bl->kc;
    size_t kcb = (k + nkb - 1) / nkb;
    kcb = (kcb + 15) / 16 * 16;
    return kcb < bl->kc ? kcb : bl->kc;
}

// Floats of a packing buffer for the blocking bl with a vector of vl floats: B's block, A's block
// and one vector of slack (a transposed panel row is written a whole vector wide).
static inline size_t dpt_isa_pack_floats(const struct dpt_gemm_blocking *bl, size_t vl)
{
    return bl->kc * bl->nc + bl->ma * bl->kc + vl;
}

// DPT_HAVE_X86_KERNELS: the build compiled isa/avx512 and isa/avx2 (CMakeLists.txt).
#ifdef DPT_HAVE_X86_KERNELS
extern const struct dpt_isa_kernels dpt_isa_avx512, dpt_isa_avx2;
#endif
// DPT_HAVE_NEON_KERNELS: the build compiled isa/neon (arm64).
#ifdef DPT_HAVE_NEON_KERNELS
extern const struct dpt_isa_kernels dpt_isa_neon;
#endif

#endif
