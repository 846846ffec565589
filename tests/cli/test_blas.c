// The BLAS kernels: dptrain restarts itself once with the OPENBLAS_CORETYPE that suits the CPU
// where OpenBLAS did not recognise it, respects the user's own OPENBLAS_CORETYPE (warning once, at
// the end of a successful run that trains), and `version` names the kernels in use. Each test
// builds the child's environment from this one, so they hold with or without OPENBLAS_CORETYPE
// set around the suite. Where OpenBLAS recognises the CPU (as here), DPT_TEST_BLAS_CORENAME
// stands for a core OpenBLAS picked by itself (src/core/blas_check.c).
#include "cli_test.h"

// This environment without the variables in `drop` (names, NULL-terminated), plus `add`
// ("NAME=value" entries, NULL-terminated). Returns a NULL-terminated array; the strings are
// borrowed from environ and `add`; free the array only.
static char **env_with(const char *const *drop, const char *const *add)
{
    size_t n = 0, n_add = 0;
    while (environ[n])
        n++;
    while (add[n_add])
        n_add++;
    char **env = malloc((n + n_add + 1) * sizeof *env);
    cr_assert_not_null(env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool keep = true;
        for (size_t d = 0; drop[d] && keep; d++) {
            const size_t len = strlen(drop[d]);
            keep = !(strncmp(environ[i], drop[d], len) == 0 && environ[i][len] == '=');
        }
        if (keep)
            env[k++] = environ[i];
    }
    for (size_t i = 0; i < n_add; i++)
        env[k++] = (char *)add[i];
    env[k] = NULL;
    return env;
}

static const char *const dptrain_vars[] = {
    "OPENBLAS_CORETYPE", "DPT_BLAS_REEXEC", "DPT_TEST_BLAS_CORENAME", "DPT_ISA", "DPT_GEMM", NULL};

// Not --quiet: that silences the warning, as it does the trainer's.
static const char *const train_args[] = {"train", "--data", "synth:xor", "--epochs", "1", NULL};
static const char *const quiet_train_args[] = {"train", "--data",  "synth:xor", "--epochs",
                                               "1",     "--quiet", NULL};
static const char *const bad_train_args[] = {"train",    "--data", "synth:xor",
                                             "--epochs", "-1",     NULL};

// `dptrain version` in env: it must succeed with nothing on stderr; the result to check further.
static struct cli_result run_version(char **env)
{
    const char *const version[] = {"version", NULL};
    struct cli_result r = cli_runv(version, NULL, env);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect_str_empty(r.err);
    return r;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

// The OPENBLAS_CORETYPE that suits this CPU, or NULL (with the test skipped) where dptrain has
// nothing to fix: not x86 with AVX2 and FMA, or not an OpenBLAS built with DYNAMIC_ARCH.
static const char *cpu_coretype_or_skip(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    const char *info = dpt_build_info();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") ||
        !strstr(info, "OpenBLAS") || !strstr(info, "DYNAMIC_ARCH")) {
        cr_skip_test("needs AVX2 and FMA, and a DYNAMIC_ARCH OpenBLAS");
        return NULL;
    }
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")
               ? "SkylakeX"
               : "Haswell";
#else
    cr_skip_test("x86 only");
    return NULL;
#endif
}

// No OPENBLAS_CORETYPE: the kernels in use suit the CPU (OpenBLAS's own pick, or dptrain's after
// restarting), and nothing is said on stderr.
Test(cli, blas_kernels_suit_the_cpu_without_the_variable, CLI_FIXTURE)
{
    const char *const none[] = {NULL};
    char **env = env_with(dptrain_vars, none);
    struct cli_result r = run_version(env);
    cr_expect(strstr(r.out, "\nBLAS kernels: "), "%s", r.out);
    cr_expect(!strstr(r.out, "BLAS note:"), "%s", r.out);
    if (strstr(dpt_build_info(), "OpenBLAS"))
        cr_expect(strstr(r.out, "BLAS kernels: OpenBLAS '"), "%s", r.out);
    result_free(&r);
    r = cli_runv(train_args, NULL, env);
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_empty(r.err);
    result_free(&r);
    free(env);
}

// A valid OPENBLAS_CORETYPE, in any case (OpenBLAS ignores it), is used as set and reported.
Test(cli, blas_kernels_follow_a_valid_coretype, CLI_FIXTURE)
{
    const char *want = cpu_coretype_or_skip();
    const char *const add[] = {strcmp(want, "SkylakeX") == 0 ? "OPENBLAS_CORETYPE=skylakex"
                                                             : "OPENBLAS_CORETYPE=haswell",
                               NULL};
    char **env = env_with(dptrain_vars, add);
    struct cli_result r = run_version(env);
    char line[128];
    snprintf(line, sizeof line, "BLAS kernels: OpenBLAS '%s' (%s)\n", want, add[0]);
    cr_expect(strstr(r.out, line), "'%s' not in: %s", line, r.out);
    cr_expect(!strstr(r.out, "BLAS note:"), "%s", r.out);
    result_free(&r);
    free(env);
}

// The user's own OPENBLAS_CORETYPE with slow kernels is kept (no restart); `version` names them
// and the fix; where the BLAS does the products (DPT_ISA=generic) a successful training run ends
// with exactly one warning line, and a failing one prints only its error; at the CPU's own level,
// and with --quiet or --help, nothing is said.
Test(cli, slow_user_coretype_is_kept_and_warned_once, CLI_FIXTURE)
{
    const char *want = cpu_coretype_or_skip();
    const char *const add[] = {"OPENBLAS_CORETYPE=Prescott", NULL};
    char **env = env_with(dptrain_vars, add);
    char fix[64];
    snprintf(fix, sizeof fix, "OPENBLAS_CORETYPE=%s", want);

    struct cli_result r = run_version(env);
    cr_expect(strstr(r.out, "BLAS kernels: OpenBLAS 'Prescott' (OPENBLAS_CORETYPE=Prescott)\n"),
              "%s", r.out);
    cr_expect(strstr(r.out, "BLAS note: OPENBLAS_CORETYPE=Prescott selects") && strstr(r.out, fix),
              "%s", r.out);
    result_free(&r);

    // At the CPU's own level the built-in kernels take every product: the BLAS's kernels change
    // nothing, and nothing is said.
    r = cli_runv(train_args, NULL, env);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect_str_empty(r.err);
    result_free(&r);

    // At the generic level every product goes to the BLAS: one warning line, at the end.
    const char *const add_generic[] = {"OPENBLAS_CORETYPE=Prescott", "DPT_ISA=generic", NULL};
    char **env_generic = env_with(dptrain_vars, add_generic);
    r = cli_runv(train_args, NULL, env_generic);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect_eq(strncmp(r.err, "dptrain: warning: OPENBLAS_CORETYPE=Prescott selects", 52), 0,
                 "%s", r.err);
    cr_expect(strstr(r.err, fix), "%s", r.err);
    cr_expect_eq(count_lines(r.err), 1u, "one line: %s", r.err);
    result_free(&r);
    expect_usage_error(cli_runv(bad_train_args, NULL, env_generic), "--epochs", NULL);
    free(env_generic);

    r = cli_runv(quiet_train_args, NULL, env);
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_empty(r.err);
    result_free(&r);

    expect_usage_error(cli_runv(bad_train_args, NULL, env), "--epochs", NULL);

    const char *const help[] = {"train", "--help", NULL};
    r = cli_runv(help, NULL, env);
    cr_expect_eq(r.code, 0);
    cr_expect_str_empty(r.err);
    result_free(&r);
    free(env);
}

// OpenBLAS picked generic kernels by itself (DPT_TEST_BLAS_CORENAME=Prescott) and
// OPENBLAS_CORETYPE is unset: dptrain restarts itself with the right value, says so in `version`,
// and trains with nothing on stderr; a failing command still prints exactly its error.
Test(cli, unrecognised_cpu_restarts_with_the_right_coretype, CLI_FIXTURE)
{
    const char *want = cpu_coretype_or_skip();
    const char *const add[] = {"DPT_TEST_BLAS_CORENAME=Prescott", NULL};
    char **env = env_with(dptrain_vars, add);

    struct cli_result r = run_version(env);
    char line[256];
    snprintf(line, sizeof line,
             "BLAS kernels: OpenBLAS '%s' (OPENBLAS_CORETYPE=%s, chosen by dptrain: OpenBLAS "
             "picked 'Prescott' for this CPU by itself)\n",
             want, want);
    cr_expect(strstr(r.out, line), "'%s' not in: %s", line, r.out);
    cr_expect(!strstr(r.out, "BLAS note:"), "%s", r.out);
    cr_expect_eq(count_lines(r.out), 4u, "%s", r.out);
    result_free(&r);

    r = cli_runv(train_args, NULL, env);
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect_str_empty(r.err);
    result_free(&r);

    expect_usage_error(cli_runv(bad_train_args, NULL, env), "--epochs", NULL);
    free(env);
}

// The restart happens once: a process that dptrain started (DPT_BLAS_REEXEC set) never restarts,
// even when its kernels are still slow (as after a failed restart); it then trains, and where the
// BLAS does the products (DPT_ISA=generic) ends with exactly one warning line naming the fix.
Test(cli, restart_guard_stops_a_second_restart, CLI_FIXTURE)
{
    const char *want = cpu_coretype_or_skip();
    const char *const add[] = {"DPT_TEST_BLAS_CORENAME=Prescott", "DPT_BLAS_REEXEC=Prescott", NULL};
    char **env = env_with(dptrain_vars, add);
    char fix[64];
    snprintf(fix, sizeof fix, "OPENBLAS_CORETYPE=%s", want);

    struct cli_result r = run_version(env);
    cr_expect(
        strstr(r.out, "BLAS kernels: OpenBLAS 'Prescott' (chosen by OpenBLAS for this CPU)\n"),
        "%s", r.out);
    cr_expect(strstr(r.out, "BLAS note: OpenBLAS does not recognise this CPU") &&
                  strstr(r.out, fix),
              "%s", r.out);
    result_free(&r);

    r = cli_runv(train_args, NULL, env);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect_str_empty(r.err); // the built-in kernels take every product
    result_free(&r);

    const char *const add_generic[] = {"DPT_TEST_BLAS_CORENAME=Prescott",
                                       "DPT_BLAS_REEXEC=Prescott", "DPT_ISA=generic", NULL};
    char **env_generic = env_with(dptrain_vars, add_generic);
    r = cli_runv(train_args, NULL, env_generic);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_expect_eq(strncmp(r.err, "dptrain: warning: OpenBLAS does not recognise this CPU", 54), 0,
                 "%s", r.err);
    cr_expect(strstr(r.err, fix), "%s", r.err);
    cr_expect_eq(count_lines(r.err), 1u, "one line: %s", r.err);
    result_free(&r);
    free(env_generic);

    expect_usage_error(cli_runv(bad_train_args, NULL, env), "--epochs", NULL);
    free(env);
}

// The built-in kernels' level: `version` names it (chosen for the CPU, or forced by DPT_ISA); a
// DPT_ISA that names no level, or one this CPU cannot run, is a usage error of one line.
Test(cli, kernel_level_is_reported_and_checked, CLI_FIXTURE)
{
    const char *const none[] = {NULL};
    char **env = env_with(dptrain_vars, none);
    const char *const version[] = {"version", NULL};
    struct cli_result r = expect_ok(cli_runv(version, NULL, env));
    cr_expect(strstr(r.out, "\nkernels: "), "%s", r.out);
    result_free(&r);
    free(env);

    const char *const add_generic[] = {"DPT_ISA=generic", NULL};
    env = env_with(dptrain_vars, add_generic);
    r = expect_ok(cli_runv(version, NULL, env));
    cr_expect(strstr(r.out, "\nkernels: generic (DPT_ISA=generic)\n"), "%s", r.out);
    result_free(&r);
    r = expect_ok(cli_runv(train_args, NULL, env));
    result_free(&r);
    free(env);

    const char *const add_bad[] = {"DPT_ISA=sse9", NULL};
    env = env_with(dptrain_vars, add_bad);
#if defined(__aarch64__)
    const char *levels = "neon, generic"; // the levels this build has
#else
    const char *levels = "avx512, avx2, generic";
#endif
    expect_usage_error(cli_runv(train_args, NULL, env), "DPT_ISA='sse9'", levels);
    free(env);
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) {
        const char *const add_512[] = {"DPT_ISA=avx512", NULL};
        env = env_with(dptrain_vars, add_512);
        expect_usage_error(cli_runv(version, NULL, env), "DPT_ISA=avx512", "cannot run");
        free(env);
    }
#endif
}
