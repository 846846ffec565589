// Status names, the per-thread error message, the allocation wrappers (with their test hooks:
// injected failures, a count of live allocations) and the internal assert.
#define _DEFAULT_SOURCE // madvise(MADV_HUGEPAGE) on Linux
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "error_impl.h"

#ifndef DPT_VERSION_STRING
#define DPT_VERSION_STRING "0.0.0"
#endif

static _Thread_local char last_error[512];

const char *dpt_status_str(enum dpt_status status)
{
    switch (status) {
    case DPT_OK:
        return "ok";
    case DPT_ERR_INVALID:
        return "invalid argument";
    case DPT_ERR_NOMEM:
        return "out of memory";
    case DPT_ERR_IO:
        return "i/o error";
    case DPT_ERR_FORMAT:
        return "malformed input";
    case DPT_ERR_RANGE:
        return "size out of range";
    case DPT_ERR_UNSUPPORTED:
        return "unsupported";
    case DPT_ERR_DIVERGED:
        return "training diverged";
    case DPT_ERR_INTERRUPTED:
        return "interrupted";
    case DPT_ERR_SYSTEM:
        return "system error";
    }
    return "unknown status";
}

const char *dpt_last_error(void)
{
    return last_error;
}

void dpt_error_clear(void)
{
    last_error[0] = '\0';
}

const char *dpt_version(void)
{
    return DPT_VERSION_STRING;
}

enum dpt_status dpt_error(enum dpt_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

void dpt_assert_fail(const char *expr, const char *file, int line)
{
    // An internal invariant broke: a bug in dptrain, not bad input. The one place that prints.
    fprintf(stderr, "dptrain: internal error: %s:%d: assertion '%s' failed\n", file, line, expr);
    abort();
}

// ---- allocation ----

// Countdown to an injected failure: the allocation that finds it at 0 fails; negative means
// disarmed (the normal state, one relaxed load per allocation). Relaxed order suffices: the
// fetch_sub itself is atomic, so exactly one allocation takes the counter from 0 to -1, whatever
// thread it runs on, and no other memory is published through it.
static _Atomic long fail_countdown = -1;
// Set when the armed failure happened; read by the test after the call under test returned.
static _Atomic int fail_fired;
// Live allocations through the wrappers (tests only; a relaxed counter on a rare path).
static _Atomic long outstanding;

void dpt_alloc_fail_after(long n)
{
    atomic_store_explicit(&fail_fired, 0, memory_order_relaxed);
    atomic_store_explicit(&fail_countdown, n < 0 ? -1 : n, memory_order_relaxed);
}

int dpt_alloc_fail_fired(void)
{
    return atomic_load_explicit(&fail_fired, memory_order_relaxed);
}

long dpt_alloc_outstanding(void)
{
    return atomic_load_explicit(&outstanding, memory_order_relaxed);
}

// Nonzero when this allocation is the injected failure.
static int inject_failure(void)
{
    if (atomic_load_explicit(&fail_countdown, memory_order_relaxed) < 0)
        return 0;
    // Several threads may race past the check above; the decrement decides which one fails.
    // Counters that go further below -1 are harmless: any negative value means disarmed.
    if (atomic_fetch_sub_explicit(&fail_countdown, 1, memory_order_relaxed) != 0)
        return 0;
    atomic_store_explicit(&fail_fired, 1, memory_order_relaxed);
    return 1;
}

static void *counted(void *p)
{
    if (p)
        atomic_fetch_add_explicit(&outstanding, 1, memory_order_relaxed);
    return p;
}

static void uncount(void *p)
{
    if (p)
        atomic_fetch_sub_explicit(&outstanding, 1, memory_order_relaxed);
}

void *dpt_alloc_aligned(size_t bytes)
{
    size_t rounded;
    if (dpt_add_overflow(bytes, 63, &rounded) || inject_failure())
        return NULL;
    rounded &= ~(size_t)63;
    if (rounded == 0)
        rounded = 64;
#ifdef MADV_HUGEPAGE
    // Big buffers (a data set visited in random row order, the parameters and gradients streamed
    // every step) on transparent huge pages where the system allows them on request: one TLB entry
    // per 2 MiB instead of per 4 KiB. Advised before the zero-fill touches the pages.
    enum { HUGE = 2u << 20 };
    if (rounded >= 2 * (size_t)HUGE && rounded <= SIZE_MAX - HUGE) {
        const size_t huge = (rounded + HUGE - 1) & ~(size_t)(HUGE - 1);
        void *p = aligned_alloc(HUGE, huge);
        if (p) {
            (void)madvise(p, huge, MADV_HUGEPAGE); // advice only: failure changes nothing
            memset(p, 0, huge);
        }
        return counted(p);
    }
#endif
    void *p = aligned_alloc(64, rounded);
    if (p)
        memset(p, 0, rounded);
    return counted(p);
}

void dpt_free_aligned(void *p)
{
    uncount(p);
    free(p);
}

void *dpt_malloc(size_t bytes)
{
    if (inject_failure())
        return NULL;
    return counted(malloc(bytes ? bytes : 1));
}

void *dpt_calloc(size_t n, size_t size)
{
    if (inject_failure())
        return NULL;
    return counted(calloc(n ? n : 1, size ? size : 1));
}

void *dpt_realloc(void *p, size_t bytes)
{
    if (inject_failure())
        return NULL; // like a failed realloc: p stays valid and owned by the caller
    void *q = realloc(p, bytes ? bytes : 1);
    if (q && !p)
        counted(q);
    return q;
}

void dpt_free(void *p)
{
    uncount(p);
    free(p);
}

char **dpt_strings_copy(const char *const *src, size_t n, size_t *bytes)
{
    size_t total = n * sizeof(char *);
    for (size_t i = 0; i < n; i++)
        total += strlen(src[i]) + 1;
    char **names = dpt_malloc(total ? total : 1);
    if (!names)
        return NULL;
    char *text = (char *)(names + n);
    for (size_t i = 0; i < n; i++) {
        const size_t len = strlen(src[i]) + 1;
        memcpy(text, src[i], len);
        names[i] = text;
        text += len;
    }
    if (bytes)
        *bytes = total;
    return names;
}
