// Private: the one GEMM shim. Row-major, single precision. Every matrix product of the forward and
// backward passes goes through dpt_gemm (gemm.c), which sends it to the built-in kernels of the
// CPU's vector level (isa/) or to the CBLAS.
#ifndef DPT_GEMM_IMPL_H
#define DPT_GEMM_IMPL_H

#include <stddef.h>

#include "isa/isa.h"

// C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C, all row-major.
// ta/tb nonzero transpose A/B. Dimensions must fit in int (checked by dpt_net_spec_check).
void dpt_gemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
              const float *b, size_t ldb, float beta, float *c, size_t ldc);

// Which forward (NT, C = A B^T) products take the nt kernel, which reads both operands in place,
// even where the packed GEMM would pay (dpt_gemm_takes_packed): those of at most
// DPT_NT_KERNEL_ANY_DEPTH_ROWS rows, and those of at most DPT_NT_KERNEL_MAX_ROWS rows or at most
// DPT_NT_KERNEL_MAX_COLS columns whose depth k lets the kernel keep its rows in the L1 cache (4
// rows of B and one block of A's, from hwloc's L1 size). The packed GEMM would pack all of A (a
// batch's activations or inputs) for one or two panels of columns, or all of B (a layer's weights,
// just updated) for a few dozen rows (docs/benchmarks.md, "Narrow forward products" and "Forward
// products of at most 64 rows").
#define DPT_NT_KERNEL_ANY_DEPTH_ROWS 32
#define DPT_NT_KERNEL_MAX_ROWS       64
#define DPT_NT_KERNEL_MAX_COLS       64

// ---- the vector level ----
//
// Chosen once from the CPU's features (the best it runs), or by DPT_ISA=avx512|avx2|neon|generic in
// the environment (DPT_GEMM=blas is the older spelling of generic). generic sends every product to
// the BLAS. Levels are numbered 0..DPT_ISA_LAST; a build has the kernels of its architecture only.
// neon: arm64's Advanced SIMD, which every arm64 CPU has.
enum dpt_isa { DPT_ISA_GENERIC = 0, DPT_ISA_AVX2 = 1, DPT_ISA_AVX512 = 2, DPT_ISA_NEON = 3 };
#define DPT_ISA_LAST DPT_ISA_NEON
// Whether this CPU (and this build) runs the level's kernels.
int dpt_isa_supported(enum dpt_isa level);
// The level in use.
enum dpt_isa dpt_isa_level(void);
// For tests and benchmarks: use `level` from now on (0 where this CPU cannot run it; nothing
// changes then), or go back to the environment's choice. Not thread-safe against running GEMMs.
int dpt_isa_force(enum dpt_isa level);
void dpt_isa_reset(void);

// Elementwise loops outside the kernels (the schedules' steps: optim/schedule_impl.h) are
// compiled once per x86 level with these attributes (the features of isa/<level>/kernels.c) and
// the copy of dpt_isa_level() runs; the baseline copy at generic. DPT_LEVEL_COPIES says the build
// makes copies (x86-64 with GCC or clang; arm64's baseline is already its one vector width).
#if defined(DPT_HAVE_X86_KERNELS) && defined(__GNUC__)
#define DPT_LEVEL_COPIES  1
#define DPT_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define DPT_TARGET_AVX2   __attribute__((target("avx2,fma")))
#define DPT_ALWAYS_INLINE __attribute__((always_inline))
#else
#define DPT_ALWAYS_INLINE
#endif

// Products with one operand given as row pointers (the rows of a batch where they lie in the data
// set), computed by the built-in kernels without gathering the batch. Only when
// dpt_gemm_rows_available() said yes (it says no at the generic level: then gather the rows and
// use dpt_gemm); the answer is fixed for the process unless a test calls dpt_isa_force. Any sizes;
// k = 0 gives C = beta C.
int dpt_gemm_rows_available(void);
// C (m x n) = alpha * A B^T + beta * C, A's m rows at a_rows[i] (k wide), B n x k (ldb).
void dpt_gemm_nt_rows(size_t m, size_t n, size_t k, float alpha, const float *const *a_rows,
                      const float *b, size_t ldb, float beta, float *c, size_t ldc);
// C (m x n) = alpha * A^T B + beta * C, A k x m (lda), B's k rows at b_rows[p] (n wide).
void dpt_gemm_tn_rows(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                      const float *const *b_rows, float beta, float *c, size_t ldc);

// ---- the BLAS's own memory ----
//
// OpenBLAS maps a buffer of 128 MiB (0.3.21, x86-64) the first time a thread calls it, one per
// thread calling at the same time, and retries forever where the mapping fails (a memory limit:
// OpenBLAS issue 5289, fixed after 0.3.21). Before work that sends products to the BLAS from
// `callers` threads at once, this checks that the address space left under RLIMIT_AS and
// RLIMIT_DATA holds that many buffers: 1 when it does (or when nothing is known: no limit, not
// OpenBLAS, no /proc), else 0, with the bytes needed and left.
#define DPT_BLAS_BUFFER_BYTES ((size_t)130 << 20)
int dpt_blas_headroom(size_t callers, size_t *need, size_t *left);

// ---- the packed GEMM (isa/kernels.inc) ----
//
// Large products (dpt_gemm_packed_pays) run in a blocked, packing GEMM. It needs a packing buffer
// of dpt_gemm_pack_floats() floats, 64-byte aligned, owned by the calling thread: a thread without
// one (or at the generic level) gets the BLAS.
struct dpt_gemm_pack {
    float *buf;
    size_t floats;
};
// Floats of a packing buffer large enough for every level this CPU runs (a few MiB), or 0 where
// no built-in kernel runs.
size_t dpt_gemm_pack_floats(void);
// The floats the packed GEMM needs at `level` with its current blocking (0 at generic).
size_t dpt_gemm_level_pack_floats(enum dpt_isa level);
// Whether op(A) op(B) (m x k times k x n) is large enough for the packed GEMM to beat the small
// kernels (measured: docs/architecture.md); the one place that rule lives.
int dpt_gemm_packed_pays(int ta, int tb, size_t m, size_t n, size_t k);
// Whether dpt_gemm (and the row-pointer and image products) sends op(A) op(B) to the packed GEMM
// at a level with built-in kernels, given a packing buffer: it pays, it is not TT, and it is not a
// forward product for the nt kernel (above). Non-decreasing in m for fixed ta, tb, n and k.
int dpt_gemm_takes_packed(int ta, int tb, size_t m, size_t n, size_t k);
// dpt_gemm_takes_packed for a product whose op(A) (ta = 0) is an operand the workers of a step
// share (split_all's hidden-layer forward products, dpt_gemm_shared): the same rule without the
// nt kernel's column rule. There the packed GEMM reads op(A) from an image the workers filled,
// packing nothing of it, and with its prefetch leads the nt kernel by 18-43% (docs/benchmarks.md,
// "Shared forward products take the packed GEMM").
int dpt_gemm_shared_takes_packed(int tb, size_t m, size_t n, size_t k);
// The deepest forward product the nt kernel takes at the current level (0 at generic).
size_t dpt_gemm_nt_max_depth(void);
// Makes buf (floats long; NULL: none) the calling thread's packing buffer and returns the previous
// one, to be restored with another call when the caller is done.
struct dpt_gemm_pack dpt_gemm_pack_use(float *buf, size_t floats);
// The product through the packed GEMM of the current level when the calling thread has a buffer
// large enough (1), else nothing (0).
int dpt_gemm_packed(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc);
// Whether rows may be merged: each row of C = op(A) op(B) that dpt_gemm computes on the calling
// thread in one call over m_all rows is bitwise the row it computes in a call over any m_piece <=
// m_all of them (m_piece >= 1: the smallest piece), the rows of op(A) at any offset (ta = 0: rows
// of A, the shards of a forward or delta product; ta = 1: columns of A, the gradient rows of
// several workers). Yes where both sizes take the packed GEMM of a built-in level: it sums every
// element over k in the same blocks and order whatever the number of rows (its k blocks depend on
// k and the blocking only). No otherwise (the small kernels and the BLAS are not known to; they
// may block rows differently).
int dpt_gemm_rows_merge(int ta, int tb, size_t m_piece, size_t m_all, size_t n, size_t k);

// ---- operand images: an operand packed once and shared by the threads of a step ----
//
// Where T threads multiply the same operand by their own slices of another (split_all's products,
// src/parallel/step_sliced.c), the operand is packed once, as the packed GEMM packs it, into an
// image each thread fills in part (the columns it has just computed), and every product reads
// the image instead of packing the operand again. The results are bitwise those without it.
//
// Whether dpt_gemm_image (ta = 1) or dpt_gemm_shared (ta = 0) on a thread with a packing buffer
// would run op(A) op(B) (m x k times k x n) through the packed GEMM, and so read images: the rule
// of dpt_gemm (ta = 1) or dpt_gemm_shared_takes_packed (ta = 0), and m <= 1024.
int dpt_gemm_image_pays(int ta, int tb, size_t m, size_t n, size_t k);
// Floats of an image of an operand with `rows` rows (A: m; B: n) and depth k at any level, with
// slack. Images are 64-byte aligned.
size_t dpt_gemm_image_floats(size_t rows, size_t k);
// Columns [p0, p1) of A (m x k, row-major, lda) into the image of op(A) = A (ta = 0).
void dpt_gemm_pack_a_image(size_t m, size_t k, const float *a, size_t lda, size_t p0, size_t p1,
                           float *img);
// Columns [j0, j1) of B (k x n, row-major, ldb) into the image of op(B) = B (tb = 0); the writer
// of column n - 1 also writes the image's padding.
void dpt_gemm_pack_b_image(size_t k, size_t n, const float *b, size_t ldb, size_t j0, size_t j1,
                           float *img);
// The parts of an image (of A: of_a = 1, rows = m; of B: rows = n; depth k) that the writer of
// columns [lo, hi) does not write, as fn(ctx, first float, floats) calls: what a thread reads of
// the others' work (the scaling proxy evicts it).
void dpt_gemm_image_outside(int of_a, size_t rows, size_t k, size_t lo, size_t hi, const float *img,
                            void (*fn)(void *ctx, const float *p, size_t floats), void *ctx);
// dpt_gemm, reading op(A) from aimg (ta = 0 only) and op(B) from bimg (tb = 0 only) where they are
// non-NULL and the product takes the packed GEMM (dpt_gemm_image_pays and a packing buffer);
// otherwise exactly dpt_gemm. The images must hold the whole operand, packed at the current level.
void dpt_gemm_image(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *aimg, const float *b, size_t ldb, const float *bimg,
                    float beta, float *c, size_t ldc);
// C = alpha A op(B) + beta C where A is shared by the workers of a step: the packed GEMM where
// dpt_gemm_shared_takes_packed says so (reading A from aimg where it is non-NULL and
// dpt_gemm_image_pays, else packing it), dpt_gemm otherwise. The same bits with and without aimg.
void dpt_gemm_shared(int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                     const float *aimg, const float *b, size_t ldb, float beta, float *c,
                     size_t ldc);

// The blocking for a level: from the caches hwloc reports (gemm.c states the rule), or the one
// forced by dpt_gemm_blocking_force. All zero at the generic level.
struct dpt_gemm_blocking dpt_gemm_blocking(enum dpt_isa level);
// The rule itself, for caches of l1 and l2 bytes and an mr x nr micro-tile (for tests).
struct dpt_gemm_blocking dpt_gemm_blocking_from(size_t l1, size_t l2, size_t mr, size_t nr);
// For tests: block k by kc and n by nc (kc a multiple of 16, nc of 32) from now on; kc = 0 goes
// back to the caches' blocking. Buffers must then be at least dpt_gemm_pack_floats(). Not
// thread-safe against running GEMMs.
void dpt_gemm_blocking_force(size_t kc, size_t nc);

// Makes the BLAS run single-threaded in the calling process: our workers are the parallelism,
// and a BLAS thread pool competing with them oversubscribes the cores.
void dpt_blas_single_thread(void);

// Name and version of the BLAS in use ("OpenBLAS 0.3.21 ...") for reports.
const char *dpt_blas_info(void);

#endif
