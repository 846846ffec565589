// Build description: the versions a result depends on (dptrain, the BLAS, hwloc, the compiler),
// so that benchmark files can record them.
#include <hwloc.h>
#include <stdio.h>
#include <string.h>

#include "dptrain/core.h"
#include "gemm_impl.h"

#if defined(__clang__)
#define DPT_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define DPT_COMPILER "gcc " __VERSION__
#else
#define DPT_COMPILER "unknown compiler"
#endif

#ifdef HWLOC_VERSION
#define DPT_HWLOC_BUILD HWLOC_VERSION
#else
#define DPT_HWLOC_BUILD "?"
#endif

// A per-thread buffer keeps the function thread-safe without locks or one-time initialisation.
static _Thread_local char info_buf[512];

const char *dpt_build_info(void)
{
    const unsigned api = hwloc_get_api_version();
    // OpenBLAS's config string ends with a space; trim trailing blanks so the line stays tidy.
    char blas[256];
    snprintf(blas, sizeof blas, "%s", dpt_blas_info());
    size_t len = strlen(blas);
    while (len > 0 && (blas[len - 1] == ' ' || blas[len - 1] == '\n'))
        blas[--len] = '\0';
    snprintf(info_buf, sizeof info_buf, "dptrain %s; BLAS %s; hwloc %s (runtime API %u.%u.%u); %s",
             dpt_version(), blas, DPT_HWLOC_BUILD, (api >> 16) & 0xffu, (api >> 8) & 0xffu,
             api & 0xffu, DPT_COMPILER);
    return info_buf;
}
