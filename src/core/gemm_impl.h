// Private: the one GEMM shim over CBLAS. Row-major, single precision. Every matrix product of the
// forward and backward passes goes through dpt_gemm so a different BLAS (or a small-matrix kernel)
// can be swapped in at one place.
#ifndef DPT_GEMM_IMPL_H
#define DPT_GEMM_IMPL_H

#include <stddef.h>

// C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C, all row-major.
// ta/tb nonzero transpose A/B. Dimensions must fit in int (checked by dpt_net_spec_check).
void dpt_gemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
              const float *b, size_t ldb, float beta, float *c, size_t ldc);

// Row-major NT products (C = A B^T) with at most this many rows of A, and more than 2^20
// multiply-adds, go to the built-in AVX-512 kernel when the CPU has AVX-512 and the environment
// does not say DPT_GEMM=blas (gemm.c): the forward pass of a small shard.
#define DPT_NT_KERNEL_MAX_ROWS 48

// Turns the built-in small-batch kernel off (0) or back on (1, when the CPU supports it), for
// tests and benchmarks that compare it with the BLAS. Not thread-safe against running GEMMs.
void dpt_gemm_small_kernel(int on);
// Whether dpt_gemm currently uses the built-in kernel for small NT products.
int dpt_gemm_small_kernel_active(void);

// Makes the BLAS run single-threaded in the calling process: our workers are the parallelism,
// and a BLAS thread pool competing with them oversubscribes the cores.
void dpt_blas_single_thread(void);

// Name and version of the BLAS in use ("OpenBLAS 0.3.21 ...") for reports.
const char *dpt_blas_info(void);

#endif
