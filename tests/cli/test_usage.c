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

// The BLAS kernels (the restart with the right OPENBLAS_CORETYPE, the warning for a slow one the
// user chose): test_blas.c.

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
