// The BLAS check: whether the BLAS runs kernels made for this CPU's vector instructions, and the
// OPENBLAS_CORETYPE value that makes a multi-CPU OpenBLAS (DYNAMIC_ARCH) pick them when it does
// not recognise the CPU. Known only for OpenBLAS on x86 built with GCC-style CPU builtins;
// elsewhere every answer is "nothing known to be wrong".
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cblas.h>

#include "dptrain/core.h"
#include "gemm_impl.h"

// The value of `key` (in kB) in /proc/self/status, in bytes, or 0 where unknown.
static size_t proc_status_bytes(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    size_t kb = 0;
    const size_t len = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, len) == 0 && line[len] == ':') {
            kb = strtoull(line + len + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kb > SIZE_MAX / 1024 ? 0 : kb * 1024;
}

int dpt_blas_headroom(size_t callers, size_t *need, size_t *left)
{
#ifdef DPT_HAVE_OPENBLAS_SET_NUM_THREADS
    static const struct {
        int res;
        const char *key;
    } limits[] = {{RLIMIT_AS, "VmSize"}, {RLIMIT_DATA, "VmData"}};
    const size_t want =
        callers > SIZE_MAX / DPT_BLAS_BUFFER_BYTES ? SIZE_MAX : callers * DPT_BLAS_BUFFER_BYTES;
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        struct rlimit rl;
        if (getrlimit(limits[i].res, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
            continue;
        const size_t used = proc_status_bytes(limits[i].key);
        if (used == 0)
            continue; // unknown
        const size_t room = rl.rlim_cur > used ? (size_t)(rl.rlim_cur - used) : 0;
        if (room < want) {
            *need = want;
            *left = room;
            return 0;
        }
    }
#else
    (void)callers;
#endif
    *need = *left = 0;
    return 1;
}

#if defined(DPT_HAVE_OPENBLAS_SET_NUM_THREADS) && (defined(__x86_64__) || defined(__i386__)) &&    \
    defined(__GNUC__)
// cblas.h of OpenBLAS declares openblas_get_corename and openblas_get_config.

// OpenBLAS's kernel sets that use AVX2 and FMA (or AVX-512); every other name is older or generic.
// Excavator's kernels are the Bulldozer family's (FMA3), but OpenBLAS picks them only for that
// CPU (AMD family 15h), where they are the right ones. OpenBLAS matches OPENBLAS_CORETYPE against
// these names ignoring case (dynamic.c, strncasecmp), so the comparison ignores case too.
static int blas_core_is_modern(const char *core)
{
    static const char *const modern[] = {"Haswell",        "Zen",      "SkylakeX", "Cooperlake",
                                         "SapphireRapids", "Excavator"};
    for (size_t i = 0; i < sizeof modern / sizeof modern[0]; i++) {
        const char *a = core, *b = modern[i];
        while (*a && *b && (*a | 0x20) == (*b | 0x20))
            a++, b++;
        if (*b == '\0')
            return 1;
    }
    return 0;
}

static int env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

// The core OpenBLAS runs. Test hook, for the dptrain command's tests: DPT_TEST_BLAS_CORENAME
// stands for what OpenBLAS's own detection picked, so it counts only while OPENBLAS_CORETYPE is
// unset (with it set, OpenBLAS's answer is the real one). Nothing but this file reads it.
static const char *blas_core(void)
{
    const char *fake = getenv("DPT_TEST_BLAS_CORENAME");
    if (fake && *fake && !env_set("OPENBLAS_CORETYPE"))
        return fake;
    const char *core = openblas_get_corename();
    return core ? core : "";
}

// 2 when the CPU runs AVX-512 F/BW/DQ/VL (OpenBLAS's SkylakeX kernels), 1 with AVX2 and FMA
// (Haswell), 0 otherwise (the generic kernels may be the right ones).
static int cpu_level(void)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return 0;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return 2;
    return 1;
}

static int blas_dynamic(void)
{
    const char *config = openblas_get_config();
    return config && strstr(config, "DYNAMIC_ARCH") != NULL;
}

const char *dpt_blas_kernels(void)
{
    return blas_core();
}

const char *dpt_blas_coretype_fix(void)
{
    const int level = cpu_level();
    if (level == 0 || !blas_dynamic() || blas_core_is_modern(blas_core()))
        return NULL;
    return level == 2 ? "SkylakeX" : "Haswell";
}

static _Thread_local char check_buf[400];

const char *dpt_blas_check(void)
{
    const int level = cpu_level();
    const char *core = blas_core();
    if (level == 0 || blas_core_is_modern(core))
        return NULL;
    const char *cpu = level == 2 ? "AVX-512" : "AVX2";
    const char *want = level == 2 ? "SkylakeX" : "Haswell";
    const char *env = getenv("OPENBLAS_CORETYPE");
    if (!blas_dynamic())
        snprintf(check_buf, sizeof check_buf,
                 "OpenBLAS was built for '%s' kernels, several times slower than this CPU (%s) "
                 "allows: use an OpenBLAS built with DYNAMIC_ARCH or for this CPU",
                 core, cpu);
    else if (env && *env)
        snprintf(check_buf, sizeof check_buf,
                 "OPENBLAS_CORETYPE=%s selects OpenBLAS's '%s' kernels, several times slower "
                 "than this CPU (%s) allows; OPENBLAS_CORETYPE=%s selects the right ones",
                 env, core, cpu, want);
    else
        snprintf(check_buf, sizeof check_buf,
                 "OpenBLAS does not recognise this CPU and runs its generic '%s' kernels, several "
                 "times slower than the CPU (%s) allows; OPENBLAS_CORETYPE=%s in the environment "
                 "of the process, before OpenBLAS loads, selects the right ones",
                 core, cpu, want);
    return check_buf;
}
#else
const char *dpt_blas_check(void)
{
    return NULL; // not OpenBLAS, or not x86: nothing known to check
}

const char *dpt_blas_coretype_fix(void)
{
    return NULL;
}

const char *dpt_blas_kernels(void)
{
#ifdef DPT_HAVE_OPENBLAS_SET_NUM_THREADS
    const char *core = openblas_get_corename();
    return core ? core : "";
#else
    return ""; // a CBLAS that does not say
#endif
}
#endif
