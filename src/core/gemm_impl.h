// Private: the one GEMM shim over CBLAS. Row-major, single precision. Every matrix product of the
// forward and backward passes goes through dpt_gemm so a different BLAS (or a small-matrix kernel)
// can be swapped in at one place.
#ifndef DPT_GEMM_IMPL_H
#define DPT_GEMM_IMPL_H

#include <stddef.h>

// The built-in AVX-512 kernels (gemm.c, gemm_packed.c) are compiled where GCC-style target
// attributes exist; whether they run is decided at run time (the CPU, DPT_GEMM).
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define DPT_HAVE_NT_KERNEL 1
#endif

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

// Products with one operand given as row pointers (the rows of a batch where they lie in the data
// set), computed by the AVX-512 kernels without gathering the batch. Only when
// dpt_gemm_rows_available() said yes (it says no without AVX-512 or with DPT_GEMM=blas; then
// gather the rows and use dpt_gemm); the answer is fixed for the process unless a test calls
// dpt_gemm_small_kernel. Any sizes; k = 0 gives C = beta C.
int dpt_gemm_rows_available(void);
// C (m x n) = alpha * A B^T + beta * C, A's m rows at a_rows[i] (k wide), B n x k (ldb).
void dpt_gemm_nt_rows(size_t m, size_t n, size_t k, float alpha, const float *const *a_rows,
                      const float *b, size_t ldb, float beta, float *c, size_t ldc);
// C (m x n) = alpha * A^T B + beta * C, A k x m (lda), B's k rows at b_rows[p] (n wide).
void dpt_gemm_tn_rows(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                      const float *const *b_rows, float beta, float *c, size_t ldc);

// ---- the packed GEMM (gemm_packed.c) ----
//
// Large products (dpt_gemm_packed_pays: at least 32 columns, 16 rows and 16 deep, 2^20
// multiply-adds; NN products from 64 rows) run in a blocked, packing AVX-512 GEMM that is faster
// than OpenBLAS on the training shapes. It needs a packing buffer of dpt_gemm_pack_floats()
// floats, 64-byte aligned, owned by the calling thread: a thread without one (or with
// DPT_GEMM=blas, or without AVX-512) gets the BLAS.
struct dpt_gemm_pack {
    float *buf;
    size_t floats;
};
// Floats of a packing buffer (about 2.3 MiB), or 0 where the kernel is not compiled in.
size_t dpt_gemm_pack_floats(void);
// Whether op(A) op(B) (m x k times k x n) is large enough for the packed GEMM to beat the BLAS
// and the small kernels (measured: docs/architecture.md); the one place that rule lives.
int dpt_gemm_packed_pays(int ta, int tb, size_t m, size_t n, size_t k);
// Makes buf (floats long; NULL: none) the calling thread's packing buffer and returns the previous
// one, to be restored with another call when the caller is done.
struct dpt_gemm_pack dpt_gemm_pack_use(float *buf, size_t floats);
// The product through the packed GEMM when the calling thread has a buffer (1), else nothing (0).
// Does not check the CPU: dpt_gemm does.
int dpt_gemm_packed(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);
// The same for C = alpha A^T B + beta C with B's k rows at b_rows[p] (n wide): the packing
// gathers them (dpt_gemm_tn_rows takes this path for large enough products).
int dpt_gemm_packed_tn_rows(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                            const float *const *b_rows, float beta, float *c, size_t ldc);

// Makes the BLAS run single-threaded in the calling process: our workers are the parallelism,
// and a BLAS thread pool competing with them oversubscribes the cores.
void dpt_blas_single_thread(void);

// Name and version of the BLAS in use ("OpenBLAS 0.3.21 ...") for reports.
const char *dpt_blas_info(void);

#endif
