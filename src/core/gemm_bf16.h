// Private: the products of DPT_PRECISION_BF16 (gemm_bf16.c): bf16 operands, fp32 accumulation,
// through the bf16 packed GEMM (isa/bf16.h). The same calls as dpt_gemm and its row-pointer
// variants (gemm_impl.h), for kernel.c to issue when its workspace says bf16.
#ifndef DPT_GEMM_BF16_H
#define DPT_GEMM_BF16_H

#include <stddef.h>

#include "dptrain/core.h"

// Whether bf16 products run here: a build with the kernel, a CPU with AVX512_BF16 (and AVX-512
// BW), and the avx512 level in use (DPT_ISA forcing a lower level turns them off too). When not,
// dpt_precision_check says why in one line.
int dpt_bf16_supported(void);

// As dpt_gemm (C = alpha op(A) op(B) + beta C, row-major, any sizes; k = 0 gives C = beta C),
// with op(A) and op(B) rounded to bf16 (nearest even) and the products accumulated in fp32. Only
// where dpt_bf16_supported(), on a thread with a packing buffer of dpt_gemm_pack_floats() floats
// (dpt_gemm_pack_use): a bf16 workspace always has one.
void dpt_gemm_bf16(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                   size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);
// As dpt_gemm_nt_rows and dpt_gemm_tn_rows, in bf16.
void dpt_gemm_bf16_nt_rows(size_t m, size_t n, size_t k, float alpha, const float *const *a_rows,
                           const float *b, size_t ldb, float beta, float *c, size_t ldc);
void dpt_gemm_bf16_tn_rows(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                           const float *const *b_rows, float beta, float *c, size_t ldc);

// The bf16 GEMM's blocking: the avx512 level's (from the caches, or forced by
// dpt_gemm_blocking_force) with its k blocks twice as deep, which takes the same bytes in bf16;
// so the buffer of dpt_gemm_pack_floats() floats is large enough for it.
struct dpt_gemm_blocking dpt_gemm_bf16_blocking(void);

// Private workspace set-up for the trainer: an ordinary workspace whose products run in
// precision p (bf16: it always has a packing buffer), and the precision of a batch workspace's
// products (its products use the calling thread's buffer). dpt_net_evaluate and dpt_net_forward
// always run in fp32, whatever the workspace says.
enum dpt_status dpt_workspace_create_prec(const struct dpt_net *net, size_t max_rows,
                                          enum dpt_precision p, struct dpt_workspace **out);
void dpt_workspace_set_precision(struct dpt_workspace *ws, enum dpt_precision p);

#endif
