// Status names, the per-thread error message, aligned allocation and the internal assert.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void *dpt_alloc_aligned(size_t bytes)
{
    size_t rounded;
    if (dpt_add_overflow(bytes, 63, &rounded))
        return NULL;
    rounded &= ~(size_t)63;
    if (rounded == 0)
        rounded = 64;
    void *p = aligned_alloc(64, rounded);
    if (p)
        memset(p, 0, rounded);
    return p;
}

void dpt_free_aligned(void *p)
{
    free(p);
}

void *dpt_malloc(size_t bytes)
{
    return malloc(bytes ? bytes : 1);
}

void *dpt_calloc(size_t n, size_t size)
{
    return calloc(n ? n : 1, size ? size : 1);
}

void *dpt_realloc(void *p, size_t bytes)
{
    return realloc(p, bytes ? bytes : 1);
}

void dpt_free(void *p)
{
    free(p);
}
