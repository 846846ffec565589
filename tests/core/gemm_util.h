// The GEMM tests' shared operands (test_gemm.c, test_gemm_bf16.c): random fills, C's starting
// values, and the scattered rows of the row-pointer products.
#ifndef DPT_TESTS_GEMM_UTIL_H
#define DPT_TESTS_GEMM_UTIL_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dptrain/dptrain.h"

// n values uniform in [-1, 1).
static inline void fill(float *v, size_t n, struct dpt_rng *r)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(2.0 * dpt_rng_uniform(r) - 1.0);
}

// C's starting values: c0 as filled, or NaN everywhere when beta = 0 (which must not read C); c is
// the copy the product overwrites, c0 the reference's.
static inline void start_c(float *c, float *c0, size_t len, float beta)
{
    if (beta == 0.0f)
        for (size_t i = 0; i < len; i++)
            c0[i] = NAN;
    memcpy(c, c0, len * sizeof *c);
}

// The operands of a row-pointer product (a batch's rows where they lie in the data set):
// tn = 0: C (m x n) = alpha A B^T + beta C with A's m rows at ptr[i] (k wide), B = o (n x k);
// tn = 1: C = alpha A^T B + beta C with A = o (k x m) and B's k rows at ptr[p] (n wide). The rows
// are drawn in random order, with repeats, from a pool larger than the batch; c starts as
// start_c leaves it.
struct scattered {
    float *pool, *o, *c, *c0;
    const float **ptr;
};

static inline struct scattered scattered_make(int tn, size_t m, size_t n, size_t k, float beta,
                                              uint64_t seed)
{
    struct dpt_rng r;
    dpt_rng_seed(&r, seed + m * 1000003 + n * 1009 + k + (size_t)tn);
    const size_t width = tn ? n : k, pool = 3 * (tn ? k : m) + 5, nrows = tn ? k : m;
    const size_t other = tn ? k * m : n * k;
    struct scattered s = {malloc(pool * width * sizeof(float)), malloc((other + 1) * sizeof(float)),
                          malloc((m * n + 1) * sizeof(float)), malloc((m * n + 1) * sizeof(float)),
                          malloc((nrows + 1) * sizeof(float *))};
    cr_assert(s.pool && s.o && s.c && s.c0 && s.ptr);
    fill(s.pool, pool * width, &r);
    fill(s.o, other, &r);
    fill(s.c0, m * n, &r);
    for (size_t i = 0; i < nrows; i++)
        s.ptr[i] = s.pool + (size_t)(dpt_rng_uniform(&r) * (double)pool) % pool * width;
    start_c(s.c, s.c0, m * n, beta);
    return s;
}

static inline void scattered_free(struct scattered *s)
{
    free(s->pool);
    free(s->o);
    free(s->c);
    free(s->c0);
    free(s->ptr);
}

#endif
