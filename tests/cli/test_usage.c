// The command surface: top-level help and version, every subcommand's --help, unknown commands
// and flags.
#include "cli_test.h"

Test(cli, top_level_help_lists_every_command, CLI_FIXTURE)
{
    struct cli_result r = expect_ok(run("--help", NULL));
    static const char *const cmds[] = {"train", "eval", "predict", "scale",  "bench",
                                       "plot",  "topo", "info",    "export", "import"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        cr_expect(strstr(r.out, cmds[i]), "'%s' missing from --help", cmds[i]);
    cr_expect(strstr(r.out, "130"), "exit codes are documented");
    result_free(&r);
}

Test(cli, no_command_is_a_usage_error, CLI_FIXTURE)
{
    const char *none[] = {NULL};
    struct cli_result r = cli_runv(none, NULL, NULL);
    cr_expect_eq(r.code, 2);
    cr_expect(strstr(r.err, "usage: dptrain"));
    result_free(&r);
}

Test(cli, version_names_the_build, CLI_FIXTURE)
{
    struct cli_result r = expect_ok(run("version", NULL));
    cr_expect(strstr(r.out, dpt_version()), "%s", r.out);
    cr_expect(strstr(r.out, "BLAS"), "%s", r.out);
    cr_expect(strstr(r.out, "hwloc"), "%s", r.out);
    result_free(&r);
}

// A multi-CPU OpenBLAS that runs generic kernels on a CPU with AVX2 (here forced with
// OPENBLAS_CORETYPE=Prescott) makes the commands that train or measure warn once, naming the
// fix; the run itself goes on. Skipped where the CPU or the BLAS cannot show it.
Test(cli, slow_blas_kernels_are_named, CLI_FIXTURE)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    const char *info = dpt_build_info();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") ||
        !strstr(info, "OpenBLAS") || !strstr(info, "DYNAMIC_ARCH"))
        cr_skip_test("needs AVX2 and a DYNAMIC_ARCH OpenBLAS");
    char *env[] = {"OPENBLAS_CORETYPE=Prescott", "OPENBLAS_NUM_THREADS=1", NULL};
    const char *args[] = {"train", "--data", "synth:xor", "--epochs", "1", "--quiet", NULL};
    struct cli_result r = cli_runv(args, NULL, env);
    cr_assert_eq(r.code, 0, "%s", r.err);
    cr_assert(strstr(r.err, "dptrain: warning: OPENBLAS_CORETYPE=Prescott selects"), "%s", r.err);
    cr_assert(strstr(r.err, "use OPENBLAS_CORETYPE="), "%s", r.err);
    cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
    result_free(&r);
    const char *help[] = {"train", "--help", NULL};
    r = cli_runv(help, NULL, env);
    cr_assert_eq(r.code, 0);
    cr_assert(!strstr(r.err, "warning"), "%s", r.err);
    result_free(&r);
    if (!dpt_blas_check()) { // this process's kernels suit the CPU: no warning without the variable
        r = cli_runv(args, NULL, NULL);
        cr_assert_eq(r.code, 0, "%s", r.err);
        cr_assert(!strstr(r.err, "OPENBLAS_CORETYPE"), "%s", r.err);
        result_free(&r);
    }
#else
    cr_skip_test("x86 only");
#endif
}

Test(cli, every_command_explains_its_flags, CLI_FIXTURE)
{
    static const struct {
        const char *cmd;
        const char *flags[6];
    } cases[] = {
        {"train", {"--data", "--layers", "--act", "--schedule", "--normalize", "--log-json"}},
        {"eval", {"--model", "--data", "--json", "--part", NULL, NULL}},
        {"predict", {"--model", "--data", "--out", NULL, NULL, NULL}},
        {"scale", {"--threads-list", "--engines", "--pins", "--repeat", "--csv", "--plot"}},
        {"plot", {"--out", NULL, NULL, NULL, NULL, NULL}},
        {"topo", {"--threads", "--synthetic", NULL, NULL, NULL, NULL}},
        {"info", {"MODEL", NULL, NULL, NULL, NULL, NULL}},
        {"export", {"--model", "--npy", NULL, NULL, NULL, NULL}},
        {"import", {"--npy", "--layers", "--act", "--loss", "--out", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cli_result r = run(cases[i].cmd, "--help", NULL);
        cr_expect_eq(r.code, 0, "%s --help: exit %d", cases[i].cmd, r.code);
        for (size_t j = 0; j < 6 && cases[i].flags[j]; j++)
            cr_expect(strstr(r.out, cases[i].flags[j]), "%s --help lacks %s", cases[i].cmd,
                      cases[i].flags[j]);
        result_free(&r);
    }
    // Defaults are stated in the help.
    struct cli_result r = expect_ok(run("train", "--help", NULL));
    cr_expect(strstr(r.out, "default 64"), "batch default");
    cr_expect(strstr(r.out, "adam:lr=1e-3"), "schedule default");
    result_free(&r);
}

Test(cli, unknown_command_and_flags_name_themselves, CLI_FIXTURE)
{
    expect_usage_error(run("trian", NULL), "trian", NULL);
    expect_usage_error(run("train", "--data", "synth:xor", "--bogus", "1", NULL), "--bogus", NULL);
    expect_usage_error(run("eval", "-x", NULL), "-x", NULL);
    expect_usage_error(run("train", "--data", NULL), "--data", NULL);
    expect_usage_error(run("train", "--quiet=yes", "--data", "synth:xor", NULL), "--quiet", NULL);
    expect_usage_error(run("train", "stray", NULL), "stray", NULL);
}
