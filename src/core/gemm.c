// The GEMM shim: every matrix product of the forward and backward passes goes through here, to the
// built-in kernels of the CPU's vector level (isa/: AVX-512 or AVX2 + FMA on x86-64, NEON on arm64,
// one source compiled per level) or to the CBLAS (OpenBLAS by default; any CBLAS through the
// DPT_BLAS CMake option), which is the fallback on other CPUs and the reference.
//
// The level is chosen once, from the CPU's features; DPT_ISA=avx512|avx2|neon|generic in the
// environment forces one (generic: the BLAS only), for tests and benchmarks. Which product takes
// which kernel (figures in docs/architecture.md and docs/benchmarks.md):
//   large products (dpt_gemm_packed_pays) with a packing buffer  the packed GEMM
//   NT (forward) otherwise                                       nt, dot products from the rows
//   TN (weight gradient) and NN (deltas) otherwise               bcast, unpacked
//   TT (never issued by the trainer)                             the BLAS
// At the avx2, avx512 and neon levels the trainer never calls the BLAS: a thread without a packing
// buffer runs the unpacked kernels.
#include <hwloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "dptrain/core.h"
#include "gemm_impl.h"
#include "isa/isa.h"

// ---- the level ----

int dpt_isa_supported(enum dpt_isa level)
{
    switch (level) {
    case DPT_ISA_GENERIC:
        return 1;
#ifdef DPT_HAVE_X86_KERNELS
    case DPT_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case DPT_ISA_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && dpt_isa_supported(DPT_ISA_AVX2);
#endif
#ifdef DPT_HAVE_NEON_KERNELS
    case DPT_ISA_NEON: // Advanced SIMD is part of the arm64 base architecture
        return 1;
#endif
    default:
        return 0;
    }
}

static const char *const level_names[] = {"generic", "avx2", "avx512", "neon"};

static enum dpt_isa best_level(void)
{
    if (dpt_isa_supported(DPT_ISA_NEON))
        return DPT_ISA_NEON;
    return dpt_isa_supported(DPT_ISA_AVX512) ? DPT_ISA_AVX512
           : dpt_isa_supported(DPT_ISA_AVX2) ? DPT_ISA_AVX2
                                             : DPT_ISA_GENERIC;
}

// The level the environment asks for (the best one when it asks for none, or for one this CPU
// cannot run: dpt_isa_check says so), and the check's message.
static enum dpt_isa env_level(char *msg, size_t len)
{
    const char *isa = getenv("DPT_ISA"), *gemm = getenv("DPT_GEMM");
    if (msg)
        msg[0] = '\0';
    if (isa && *isa) {
        for (int l = DPT_ISA_GENERIC; l <= DPT_ISA_LAST; l++)
            if (strcmp(isa, level_names[l]) == 0) {
                if (dpt_isa_supported((enum dpt_isa)l))
                    return (enum dpt_isa)l;
                if (msg)
                    snprintf(msg, len, "DPT_ISA=%s: this CPU cannot run the %s kernels", isa, isa);
                return best_level();
            }
        if (msg)
            snprintf(msg, len, "DPT_ISA='%.40s' is not one of %s", isa,
#ifdef DPT_HAVE_NEON_KERNELS
                     "neon, generic"
#else
                     "avx512, avx2, generic"
#endif
            );
        return best_level();
    }
    // The older spelling of DPT_ISA=generic.
    if (gemm && strcmp(gemm, "blas") == 0)
        return DPT_ISA_GENERIC;
    return best_level();
}

// -1: not decided yet. Worker threads may decide it at the same time: relaxed atomics, and every
// thread decides the same value.
static atomic_int isa_level = -1;

enum dpt_isa dpt_isa_level(void)
{
    int l = atomic_load_explicit(&isa_level, memory_order_relaxed);
    if (l < 0) {
        l = (int)env_level(NULL, 0);
        atomic_store_explicit(&isa_level, l, memory_order_relaxed);
    }
    return (enum dpt_isa)l;
}

int dpt_isa_force(enum dpt_isa level)
{
    if (!dpt_isa_supported(level))
        return 0;
    atomic_store_explicit(&isa_level, (int)level, memory_order_relaxed);
    return 1;
}

void dpt_isa_reset(void)
{
    atomic_store_explicit(&isa_level, (int)env_level(NULL, 0), memory_order_relaxed);
}

const char *dpt_isa_name(void)
{
    return level_names[dpt_isa_level()];
}

static _Thread_local char isa_msg[128];

const char *dpt_isa_check(void)
{
    env_level(isa_msg, sizeof isa_msg);
    return isa_msg[0] ? isa_msg : NULL;
}

static const struct dpt_isa_kernels *kernels_of(enum dpt_isa level)
{
#ifdef DPT_HAVE_X86_KERNELS
    if (level == DPT_ISA_AVX512)
        return &dpt_isa_avx512;
    if (level == DPT_ISA_AVX2)
        return &dpt_isa_avx2;
#endif
#ifdef DPT_HAVE_NEON_KERNELS
    if (level == DPT_ISA_NEON)
        return &dpt_isa_neon;
#endif
    (void)level;
    return NULL;
}

// ---- the packed GEMM's blocking, from the caches ----
//
// A's micro-panel (mr x kc floats) takes 3/8 of the L1 data cache, leaving room for B's panel
// streaming past and the C tile; B's packed block (kc x nc) takes 3/4 of the L2. kc is a multiple
// of 16 in 64..512, nc a multiple of nr in nr..4096. On the 48 KiB / 1 MiB caches of the Zen 5
// development machine this gives kc = 384, nc = 512 for AVX-512 (12 rows), the sizes measured
// best there. ma bounds the buffer (A is packed in chunks of ma rows), not a cache.
// Where hwloc reports no cache, 32 KiB and 512 KiB are assumed.

static struct {
    size_t l1, l2;
} caches;
static pthread_once_t caches_once = PTHREAD_ONCE_INIT;

static void read_caches(void)
{
    caches.l1 = 32768;
    caches.l2 = 524288;
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0)
        return;
    if (hwloc_topology_load(topo) == 0) {
        const hwloc_obj_t l1 = hwloc_get_obj_by_type(topo, HWLOC_OBJ_L1CACHE, 0);
        const hwloc_obj_t l2 = hwloc_get_obj_by_type(topo, HWLOC_OBJ_L2CACHE, 0);
        if (l1 && l1->attr && l1->attr->cache.size >= 8192)
            caches.l1 = (size_t)l1->attr->cache.size;
        if (l2 && l2->attr && l2->attr->cache.size >= 65536)
            caches.l2 = (size_t)l2->attr->cache.size;
    }
    hwloc_topology_destroy(topo);
}

static size_t clamp_down(size_t v, size_t step, size_t lo, size_t hi)
{
    v = v / step * step;
    return v < lo ? lo : v > hi ? hi : v;
}

struct dpt_gemm_blocking dpt_gemm_blocking_from(size_t l1, size_t l2, size_t mr, size_t nr)
{
    struct dpt_gemm_blocking bl;
    bl.kc = clamp_down(l1 * 3 / 8 / (mr * sizeof(float)), 16, 64, 512);
    bl.nc = clamp_down(l2 * 3 / 4 / (bl.kc * sizeof(float)), nr, nr, 4096 / nr * nr);
    bl.ma = 1024;
    return bl;
}

static struct dpt_gemm_blocking blocking_forced; // kc = 0: none

void dpt_gemm_blocking_force(size_t kc, size_t nc)
{
    blocking_forced.kc = kc;
    blocking_forced.nc = nc;
    blocking_forced.ma = 1024;
}

struct dpt_gemm_blocking dpt_gemm_blocking(enum dpt_isa level)
{
    const struct dpt_isa_kernels *kr = kernels_of(level);
    if (!kr)
        return (struct dpt_gemm_blocking){0, 0, 0};
    if (blocking_forced.kc)
        return blocking_forced;
    pthread_once(&caches_once, read_caches);
    return dpt_gemm_blocking_from(caches.l1, caches.l2, kr->mr, kr->nr);
}

size_t dpt_gemm_level_pack_floats(enum dpt_isa level)
{
    const struct dpt_isa_kernels *kr = kernels_of(level);
    if (!kr)
        return 0;
    const struct dpt_gemm_blocking bl = dpt_gemm_blocking(level);
    return dpt_isa_pack_floats(&bl, kr->vl);
}

size_t dpt_gemm_pack_floats(void)
{
    // Large enough for every level this CPU can run, so that a test or benchmark may switch.
    size_t f = 0;
    for (int l = DPT_ISA_GENERIC + 1; l <= DPT_ISA_LAST; l++)
        if (dpt_isa_supported((enum dpt_isa)l) && dpt_gemm_level_pack_floats((enum dpt_isa)l) > f)
            f = dpt_gemm_level_pack_floats((enum dpt_isa)l);
    return f;
}

// ---- the calling thread's packing buffer ----

static _Thread_local struct dpt_gemm_pack pack_cur;

struct dpt_gemm_pack dpt_gemm_pack_use(float *buf, size_t floats)
{
    const struct dpt_gemm_pack prev = pack_cur;
    pack_cur.buf = buf;
    pack_cur.floats = buf ? floats : 0;
    return prev;
}

int dpt_gemm_packed_pays(int ta, int tb, size_t m, size_t n, size_t k)
{
    // Narrower products waste most of a tile (S's output layer: the small kernels are faster);
    // NN products under 64 rows tie or lose (32 x 784 x 128); below 2^20 multiply-adds the
    // packing does not pay for itself.
    return n >= 32 && m >= (ta || tb ? 16u : 64u) && k >= 16 &&
           (double)m * (double)n * (double)k >= 1048576.0;
}

// The deepest forward product whose nt blocks keep their rows in L1 at this level: a block holds 4
// rows of B and nt_mr rows of A, k floats each, for the whole k loop (32 KiB and 4 x 4 rows: 1024;
// 48 KiB: 1536). Deeper, the rows stream from L2 for every block and the packed GEMM, which blocks
// k, is faster from 33 rows on (docs/benchmarks.md, "Forward products of at most 64 rows").
size_t dpt_gemm_nt_max_depth(void)
{
    const struct dpt_isa_kernels *kr = kernels_of(dpt_isa_level());
    pthread_once(&caches_once, read_caches);
    return kr ? caches.l1 / ((4 + kr->nt_mr) * sizeof(float)) : 0;
}

// The rule of dpt_gemm_takes_packed, with the column rule (at most DPT_NT_KERNEL_MAX_COLS
// columns) or without it (cols = 0).
static int takes_packed(int ta, int tb, size_t m, size_t n, size_t k, int cols)
{
    if ((ta && tb) || !dpt_gemm_packed_pays(ta, tb, m, n, k))
        return 0;
    if (ta || !tb) // TN and NN: nothing else
        return 1;
    return !(m <= DPT_NT_KERNEL_ANY_DEPTH_ROWS ||
             ((m <= DPT_NT_KERNEL_MAX_ROWS || (cols && n <= DPT_NT_KERNEL_MAX_COLS)) &&
              k <= dpt_gemm_nt_max_depth()));
}

int dpt_gemm_takes_packed(int ta, int tb, size_t m, size_t n, size_t k)
{
    return takes_packed(ta, tb, m, n, k, 1);
}

int dpt_gemm_shared_takes_packed(int tb, size_t m, size_t n, size_t k)
{
    return takes_packed(0, tb, m, n, k, 0);
}

// The current level's kernels (NULL at generic) and, where there are some, their blocking in *bl.
static const struct dpt_isa_kernels *level_kernels(struct dpt_gemm_blocking *bl)
{
    const struct dpt_isa_kernels *kr = kernels_of(dpt_isa_level());
    if (kr)
        *bl = dpt_gemm_blocking(dpt_isa_level());
    return kr;
}

// The packed GEMM at the current level when the calling thread has a buffer large enough (1), or
// nothing (0). arows, brows: A's rows (ta = 0) or B's (tb = 0) as pointers, or NULL; apre, bpre:
// op(A)'s or op(B)'s image (operand images, below), or NULL.
static int try_packed(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                      size_t lda, const float *const *arows, const float *b, size_t ldb,
                      const float *const *brows, const float *apre, const float *bpre, float beta,
                      float *c, size_t ldc)
{
    struct dpt_gemm_blocking bl;
    const struct dpt_isa_kernels *kr = level_kernels(&bl);
    if (!kr || !pack_cur.buf || m == 0 || n == 0 || k == 0 ||
        pack_cur.floats < dpt_isa_pack_floats(&bl, kr->vl))
        return 0;
    kr->packed(ta, tb, m, n, k, alpha, a, lda, arows, b, ldb, brows, apre, bpre, beta, c, ldc,
               pack_cur.buf, &bl);
    return 1;
}

int dpt_gemm_packed(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    return try_packed(ta, tb, m, n, k, alpha, a, lda, NULL, b, ldb, NULL, NULL, NULL, beta, c, ldc);
}

int dpt_gemm_rows_merge(int ta, int tb, size_t m_piece, size_t m_all, size_t n, size_t k)
{
    struct dpt_gemm_blocking bl;
    const struct dpt_isa_kernels *kr = level_kernels(&bl);
    // dpt_gemm_takes_packed grows with m: the smallest piece and the whole are the two ends. (A
    // row-pointer gradient product of at most 32 rows may take the broadcast kernel instead, with
    // the same bits: tn_rows_in_place.)
    return kr && pack_cur.buf && pack_cur.floats >= dpt_isa_pack_floats(&bl, kr->vl) &&
           m_piece >= 1 && m_piece <= m_all && dpt_gemm_takes_packed(ta, tb, m_piece, n, k) &&
           dpt_gemm_takes_packed(ta, tb, m_all, n, k);
}

// ---- the products ----

// C = alpha A B^T + beta C through the nt kernel, with A strided: its row pointers, a chunk at a
// time.
static void nt_strided(const struct dpt_isa_kernels *kr, size_t m, size_t n, size_t k, float alpha,
                       const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                       size_t ldc)
{
    enum { CHUNK = 64 };
    const float *rows[CHUNK];
    for (size_t i0 = 0; i0 < m; i0 += CHUNK) {
        const size_t mc = m - i0 < CHUNK ? m - i0 : CHUNK;
        for (size_t i = 0; i < mc; i++)
            rows[i] = a + (i0 + i) * lda;
        kr->nt_rows(mc, n, k, alpha, rows, b, ldb, beta, c + i0 * ldc, ldc);
    }
}

void dpt_gemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
              const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    if (m == 0 || n == 0)
        return;
    const struct dpt_isa_kernels *kr = kernels_of(dpt_isa_level());
    if (kr && k > 0 && !(ta && tb)) {
        if (dpt_gemm_takes_packed(ta, tb, m, n, k) &&
            try_packed(ta, tb, m, n, k, alpha, a, lda, NULL, b, ldb, NULL, NULL, NULL, beta, c,
                       ldc))
            return;
        // A thread without a packing buffer uses the unpacked kernels too, never the BLAS: the
        // BLAS allocates its own buffers on first use, and OpenBLAS 0.3.21 retries forever when it
        // cannot (a memory limit), so a built-in level must not depend on it.
        if (tb)
            nt_strided(kr, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        else if (ta)
            kr->bcast(m, n, k, alpha, a, 1, lda, b, ldb, NULL, beta, c, ldc);
        else
            kr->bcast(m, n, k, alpha, a, lda, 1, b, ldb, NULL, beta, c, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

// ---- operand images ----

int dpt_gemm_image_pays(int ta, int tb, size_t m, size_t n, size_t k)
{
    const struct dpt_isa_kernels *kr = kernels_of(dpt_isa_level());
    return kr &&
           (ta ? dpt_gemm_takes_packed(ta, tb, m, n, k)
               : dpt_gemm_shared_takes_packed(tb, m, n, k)) &&
           m <= dpt_gemm_blocking(dpt_isa_level()).ma;
}

size_t dpt_gemm_image_floats(size_t rows, size_t k)
{
    // rows rounded up to any level's mr or nr (at most 32), and a vector of slack.
    return (rows + 32) * k + 16;
}

void dpt_gemm_pack_a_image(size_t m, size_t k, const float *a, size_t lda, size_t p0, size_t p1,
                           float *img)
{
    struct dpt_gemm_blocking bl;
    const struct dpt_isa_kernels *kr = level_kernels(&bl);
    if (kr && p1 > p0 && m > 0)
        kr->pack_a_image(m, k, a, lda, p0, p1, img, &bl);
}

void dpt_gemm_pack_b_image(size_t k, size_t n, const float *b, size_t ldb, size_t j0, size_t j1,
                           float *img)
{
    struct dpt_gemm_blocking bl;
    const struct dpt_isa_kernels *kr = level_kernels(&bl);
    if (kr && j1 > j0 && k > 0)
        kr->pack_b_image(k, n, b, ldb, j0, j1, img, &bl);
}

void dpt_gemm_image_outside(int of_a, size_t rows, size_t k, size_t lo, size_t hi, const float *img,
                            void (*fn)(void *ctx, const float *p, size_t floats), void *ctx)
{
    struct dpt_gemm_blocking bl;
    const struct dpt_isa_kernels *kr = level_kernels(&bl);
    if (!kr || rows == 0 || k == 0)
        return;
    const size_t kcb = dpt_isa_k_block(k, &bl);
    const size_t u = of_a ? kr->mr : kr->nr, rp = (rows + u - 1) / u * u;
    for (size_t pc = 0; pc < k; pc += kcb) {
        const size_t kc = k - pc < kcb ? k - pc : kcb;
        const float *blk = img + pc * rp;
        if (of_a) { // A: panels of u rows; the writer has k rows [lo, hi) of each
            const size_t q0 = lo < pc ? 0 : lo - pc > kc ? kc : lo - pc;
            const size_t q1 = hi < pc ? 0 : hi - pc > kc ? kc : hi - pc;
            for (size_t ir = 0; ir < rp; ir += u) {
                const float *panel = blk + ir * kc;
                if (q1 <= q0) {
                    fn(ctx, panel, kc * u);
                    continue;
                }
                if (q0 > 0)
                    fn(ctx, panel, q0 * u);
                if (q1 < kc)
                    fn(ctx, panel + q1 * u, (kc - q1) * u);
            }
        } else { // B: panels of u columns; the writer has columns [lo, hi), and the padding
            const size_t he = hi >= rows ? rp : hi;
            for (size_t jp = 0; jp < rp; jp += u) {
                const float *panel = blk + jp * kc;
                const size_t c0 = lo < jp ? 0 : lo - jp > u ? u : lo - jp;
                const size_t c1 = he < jp ? 0 : he - jp > u ? u : he - jp;
                if (c1 <= c0) {
                    fn(ctx, panel, kc * u);
                    continue;
                }
                for (size_t p = 0; p < kc; p++) {
                    if (c0 > 0)
                        fn(ctx, panel + p * u, c0);
                    if (c1 < u)
                        fn(ctx, panel + p * u + c1, u - c1);
                }
            }
        }
    }
}

void dpt_gemm_image(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *a,
                    size_t lda, const float *aimg, const float *b, size_t ldb, const float *bimg,
                    float beta, float *c, size_t ldc)
{
    if (!((aimg || bimg) && dpt_gemm_image_pays(ta, tb, m, n, k) &&
          try_packed(ta, tb, m, n, k, alpha, a, lda, NULL, b, ldb, NULL, ta ? NULL : aimg,
                     tb ? NULL : bimg, beta, c, ldc)))
        dpt_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void dpt_gemm_shared(int tb, size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                     const float *aimg, const float *b, size_t ldb, float beta, float *c,
                     size_t ldc)
{
    if (aimg && !dpt_gemm_image_pays(0, tb, m, n, k))
        aimg = NULL; // never filled: an image is packed only where it pays
    if (!(dpt_gemm_shared_takes_packed(tb, m, n, k) &&
          try_packed(0, tb, m, n, k, alpha, a, lda, NULL, b, ldb, NULL, aimg, NULL, beta, c, ldc)))
        dpt_gemm(0, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

int dpt_gemm_rows_available(void)
{
    return kernels_of(dpt_isa_level()) != NULL;
}

// C = beta C, for products with k = 0 (beta = 0 does not read C).
static void scale_c(size_t m, size_t n, float beta, float *c, size_t ldc)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

// Rows of A per call of the nt kernel from row pointers. The kernel streams all of A once per 4
// rows of B; where A is larger than half of L2 it would come from L3 every time (NT 256x64x784,
// split_all's layer 1 for L at 16 threads: 10-14% slower hot, 16-20% cold, docs/benchmarks.md), so
// A goes in chunks of as many rows as fit in half of L2 beside B (half of that half where B alone
// does not fit; at least 32 rows, a multiple of the kernel's row block), each chunk staying in L2
// while B passes by. Each entry of C is one dot product along k whatever the chunk, so the bits
// are the same.
static size_t nt_chunk_rows(const struct dpt_isa_kernels *kr, size_t m, size_t n, size_t k)
{
    pthread_once(&caches_once, read_caches);
    const size_t row = k * sizeof(float), half = caches.l2 / 2, bb = n * row;
    if (m * row <= half)
        return m;
    const size_t fit = (bb < half / 2 ? half - bb : half / 2) / row, rows = fit > 32 ? fit : 32;
    return rows / kr->nt_mr * kr->nt_mr;
}

void dpt_gemm_nt_rows(size_t m, size_t n, size_t k, float alpha, const float *const *a_rows,
                      const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    const struct dpt_isa_kernels *kr = kernels_of(dpt_isa_level());
    if (!kr || m == 0 || n == 0)
        return;
    if (k == 0) {
        scale_c(m, n, beta, c, ldc);
        return;
    }
    // As dpt_gemm decides for a contiguous A: large products (but a shard's few rows) go to the
    // packed GEMM, which gathers the rows while packing, so the result is bitwise that of
    // dpt_gemm on a gathered copy; the rest to the dot-product kernel.
    if (dpt_gemm_takes_packed(0, 1, m, n, k) &&
        try_packed(0, 1, m, n, k, alpha, NULL, 0, a_rows, b, ldb, NULL, NULL, NULL, beta, c, ldc))
        return;
    const size_t chunk = nt_chunk_rows(kr, m, n, k);
    for (size_t i0 = 0; i0 < m; i0 += chunk)
        kr->nt_rows(m - i0 < chunk ? m - i0 : chunk, n, k, alpha, a_rows + i0, b, ldb, beta,
                    c + i0 * ldc, ldc);
}

// Whether a row-pointer TN product of m rows and depth k (a worker's rows of layer 1's gradient
// over a batch of k) takes the broadcast kernel although the packed GEMM would pay: where C has
// at most 32 rows and the kernel's block of B (k rows of bc_cols floats, beside a line of A's
// entries a row of B) stays in L1. There the kernel runs as fast as the packed GEMM with its
// operands hot (TN 32x784x128: 206 against 204 GFLOP/s; AVX2 16x784x128: 132 against 107) and
// reads B's rows where they lie, while the packed GEMM writes a copy of them as large as the
// batch's inputs (400 KiB for M), which pushes the next step's inputs out of L2 (M at 16
// threads: docs/benchmarks.md, "Layer 1's gradient rows read the inputs in place"). Not at 64
// rows: S's at 2 threads ran 8-15% slower in real 2-thread runs whenever this host ran the two
// threads slowly, though faster alone. The depth must fit one k block as well: then the two
// compute each entry as the same chain of fused multiply-adds with the same alpha and beta, so
// the bits do not depend on which kernel ran (what dpt_gemm_rows_merge relies on).
static int tn_rows_in_place(size_t m, size_t k)
{
    struct dpt_gemm_blocking bl;
    const struct dpt_isa_kernels *kr = level_kernels(&bl);
    if (!kr || m > 32 || dpt_isa_k_block(k, &bl) < k)
        return 0;
    pthread_once(&caches_once, read_caches);
    return k * (kr->bc_cols * sizeof(float) + 64) <= caches.l1;
}

void dpt_gemm_tn_rows(size_t m, size_t n, size_t k, float alpha, const float *a, size_t lda,
                      const float *const *b_rows, float beta, float *c, size_t ldc)
{
    const struct dpt_isa_kernels *kr = kernels_of(dpt_isa_level());
    if (!kr || m == 0 || n == 0)
        return;
    if (k == 0) {
        scale_c(m, n, beta, c, ldc);
        return;
    }
    // Large products go to the packed GEMM, which gathers the rows while packing; the rest (and a
    // thread without a packing buffer) to the broadcast kernel, and so do thin ones whose block
    // of B stays in L1 (tn_rows_in_place).
    if (!(!tn_rows_in_place(m, k) && dpt_gemm_takes_packed(1, 0, m, n, k) &&
          try_packed(1, 0, m, n, k, alpha, a, lda, NULL, NULL, 0, b_rows, NULL, NULL, beta, c,
                     ldc)))
        kr->bcast(m, n, k, alpha, a, 1, lda, NULL, 0, b_rows, beta, c, ldc);
}

void dpt_blas_single_thread(void)
{
#ifdef DPT_HAVE_OPENBLAS_SET_NUM_THREADS
    openblas_set_num_threads(1);
#endif
}

const char *dpt_blas_info(void)
{
#ifdef DPT_HAVE_OPENBLAS_SET_NUM_THREADS
    return openblas_get_config();
#else
    return "CBLAS";
#endif
}
