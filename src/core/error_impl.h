// Private: raising errors with a per-thread context message, and always-on internal asserts.
#ifndef DPT_ERROR_IMPL_H
#define DPT_ERROR_IMPL_H

#include "dptrain/core.h"

// Sets the calling thread's error message (printf-style) and returns status, so callers write
// `return dpt_error(DPT_ERR_INVALID, "sizes[%zu] is 0", i);`.
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
enum dpt_status
dpt_error(enum dpt_status status, const char *fmt, ...);

// Internal invariant check, on in every build: names file and line, then aborts. Only for
// programming errors, never for bad input.
void dpt_assert_fail(const char *expr, const char *file, int line);
#define DPT_ASSERT(e) ((e) ? (void)0 : dpt_assert_fail(#e, __FILE__, __LINE__))

// Checked size arithmetic: return nonzero on overflow.
static inline int dpt_mul_overflow(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > (size_t)-1 / a)
        return 1;
    *out = a * b;
    return 0;
}
static inline int dpt_add_overflow(size_t a, size_t b, size_t *out)
{
    if (b > (size_t)-1 - a)
        return 1;
    *out = a + b;
    return 0;
}

// 64-byte aligned allocation (zeroed), freed with dpt_free_aligned. NULL on failure or overflow.
void *dpt_alloc_aligned(size_t bytes);
void dpt_free_aligned(void *p);

// Library allocation goes through these (so tests can inject failures later). Same contracts as
// malloc/calloc/realloc/free; dpt_calloc also checks n * size for overflow.
void *dpt_malloc(size_t bytes);
// n strings copied into one dpt_malloc'd block (freed with one dpt_free): the n pointers, then the
// text they point to. *bytes (may be NULL) gets the block's size. NULL when out of memory.
char **dpt_strings_copy(const char *const *src, size_t n, size_t *bytes);
void *dpt_calloc(size_t n, size_t size);
void *dpt_realloc(void *p, size_t bytes);
void dpt_free(void *p);

// ---- allocation test hooks (tests only; not part of the public API) ----

// Makes the n-th allocation from now through the wrappers above fail (n = 0: the next one), once;
// a negative n disarms. Every wrapper call counts, from any thread (an atomic countdown), so a
// test can walk k = 0, 1, 2, ... through every allocation of a creation function.
void dpt_alloc_fail_after(long n);

// Nonzero when the failure armed by the last dpt_alloc_fail_after has happened (then the hook is
// disarmed). Lets a test tell "creation succeeded because it made fewer than k allocations" from
// "creation tolerated the failure".
int dpt_alloc_fail_fired(void);

// Allocations made through the wrappers and not yet freed, counted from any thread. Tests compare
// it before and after a call to find leaks in builds without a leak checker. Only meaningful
// when every pointer given to dpt_free / dpt_free_aligned came from these wrappers.
long dpt_alloc_outstanding(void);

// Number of floats rounded up to a whole 64-byte cache line.
static inline size_t dpt_round_floats(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

#endif
