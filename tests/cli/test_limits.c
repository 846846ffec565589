// Memory limits (issue 14, class 2): under `ulimit -v` OpenBLAS 0.3.21's own thread pool, started
// when the library loads, retried its 128 MiB buffer forever and dptrain hung at 100% CPU (or at
// exit); below about 50 MB the pool could not start and OpenBLAS raised SIGINT before main. Now
// the dptrain executable restarts itself before any library initialises (a .preinit_array entry,
// src/cli/blas.c) with OPENBLAS_NUM_THREADS=1 where that is unset: no pool. The built-in kernels
// never call the BLAS; at the generic level (every product in OpenBLAS, one 128 MiB buffer per
// calling worker) the trainer checks the room left under the limit first and ends with one
// "out of memory" line where the buffers cannot fit. Each run here is a child with RLIMIT_AS set
// and OPENBLAS_NUM_THREADS removed from its environment; it must end, within a CPU time limit,
// either trained (exit 0) or with exactly one "dptrain: error:" line and exit 2.
//
// Not covered: below about 45 MB the dynamic loader cannot map the libraries at all (exit 127,
// "error while loading shared libraries"), before any of dptrain's code runs.
#include "cli_test.h"

// Runs `train` under each limit (MiB); counts the runs that trained and that failed cleanly.
static void run_limits(const size_t *limits, size_t n, size_t *passed, size_t *failed)
{
    *passed = *failed = 0;
    for (size_t i = 0; i < n; i++) {
        static const char *const args[] = {"train",    "--data",  "synth:spirals,n=5000",
                                           "--epochs", "1",       "--threads",
                                           "2",        "--quiet", NULL};
        const int code = cli_run_limited(RLIMIT_AS, (rlim_t)limits[i] << 20, args, P("err.txt"));
        char *err = read_text(P("err.txt"));
        cr_assert(code == 0 || code == 2, "%zu MiB: exit %d, stderr: %s", limits[i], code, err);
        if (code == 2) {
            ++*failed;
            cr_expect_eq(strncmp(err, "dptrain: error: ", 16), 0, "%zu MiB: %s", limits[i], err);
            cr_expect(strstr(err, "memory") != NULL || strstr(err, "thread") != NULL, "%zu MiB: %s",
                      limits[i], err);
            const char *nl = strchr(err, '\n');
            cr_expect(nl && nl[1] == '\0', "%zu MiB: not one line: %s", limits[i], err);
        } else {
            ++*passed;
        }
        free(err);
    }
}

Test(cli, memory_limits_end_with_one_line, CLI_FIXTURE)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    cr_skip_test("sanitizer builds reserve terabytes of address space: no RLIMIT_AS");
#endif
    static const size_t limits[] = {50, 60, 80, 100, 150, 200, 300, 600};
    size_t failed, passed;
    run_limits(limits, sizeof limits / sizeof limits[0], &passed, &failed);
    // The limits span both outcomes: some too small to train, the largest enough.
    cr_expect(failed > 0 && passed > 0, "%zu failed, %zu trained", failed, passed);
}

// The generic level sends every product to OpenBLAS, whose first call in each worker maps 128 MiB:
// limits that leave less than that end with the "out of memory" line instead of a hang.
Test(cli, memory_limits_at_the_generic_level, CLI_FIXTURE)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    cr_skip_test("sanitizer builds reserve terabytes of address space: no RLIMIT_AS");
#endif
    static const size_t limits[] = {150, 250, 300, 400, 450, 1500};
    size_t failed, passed;
    cr_assert_eq(setenv("DPT_ISA", "generic", 1), 0);
    run_limits(limits, sizeof limits / sizeof limits[0], &passed, &failed);
    unsetenv("DPT_ISA");
    cr_expect(failed > 0 && passed > 0, "%zu failed, %zu trained", failed, passed);
}
