// Private: the bf16 GEMM kernel (isa/avx512bf16/kernels.c), the one kernel behind
// DPT_PRECISION_BF16 (gemm_bf16.c dispatches to it). Products take bf16 operands and accumulate
// in fp32: op(A) and op(B) are rounded to bf16 (round to nearest even, vcvtne2ps2bf16) while they
// are packed, so the conversion costs no pass of its own, and the micro-kernel multiplies pairs
// of them with vdpbf16ps (two bf16 products added to each fp32 lane per instruction: twice the
// multiply-adds of an fp32 FMA). C, alpha and beta stay fp32.
#ifndef DPT_ISA_BF16_H
#define DPT_ISA_BF16_H

#include <stddef.h>

#include "isa.h"

// The packed panels hold pairs of bf16 values along k (one 32-bit word each), so a k block of kc
// values takes kc / 2 words per row or column: the same bytes as kc / 2 floats.
//
// C (m x n) = alpha op(A) op(B) + beta C (beta = 0 does not read C), m, n, k >= 1, through panels
// in buf (dpt_bf16_pack_words(bl, vl) 32-bit words, 64-byte aligned). bl->kc counts k values (a
// multiple of 32), bl->nc columns (a multiple of 32). A's rows may be pointers (arows, ta = 0:
// row i of A at arows[i], k wide), B's too (brows, tb = 0: row p of B at brows[p], n wide); NULL
// reads a and b with their leading dimensions.
void dpt_bf16_packed(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                     size_t lda, const float *const *arows, const float *b, size_t ldb,
                     const float *const *brows, float beta, float *c, size_t ldc, void *buf,
                     const struct dpt_gemm_blocking *bl);

// The micro-tile: rows of A's panels, columns of B's; the vector width in 32-bit words.
#define DPT_BF16_MR 12
#define DPT_BF16_NR 32
#define DPT_BF16_VL 16

// 32-bit words of the packing buffer for blocking bl: B's block (kc / 2 x nc), A's block
// (ma x kc / 2) and one vector of slack (a transposed panel row is written a whole vector wide).
static inline size_t dpt_bf16_pack_words(const struct dpt_gemm_blocking *bl)
{
    return bl->kc / 2 * bl->nc + bl->ma * (bl->kc / 2) + DPT_BF16_VL;
}

#endif
