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

// A near miss names what was meant, on the one error line (exit 2): the nearest command or flag,
// or dptrain's name for another tool's (PyTorch, Keras, scikit-learn).
Test(cli, unknown_names_suggest_what_was_meant, CLI_FIXTURE)
{
    expect_usage_error(run("trian", NULL), "'trian'", "did you mean 'dptrain train'?");
    expect_usage_error(run("predcit", "--model", "m.st", NULL), "did you mean 'dptrain predict'?",
                       NULL);
    expect_usage_error(run("fit", NULL), "did you mean 'dptrain train'?", NULL);
    expect_usage_error(run("versoin", NULL), "did you mean 'dptrain version'?", NULL);
    expect_usage_error(run("-v", NULL), "did you mean 'dptrain --version'?", NULL);
    expect_usage_error(run("--data", "synth:xor", NULL), "'--data'", "dptrain train --data");
    // Nothing close: no guess.
    struct cli_result r = run("frobnicate", NULL);
    cr_expect(!strstr(r.err, "did you mean"), "%s", r.err);
    expect_usage_error(r, "frobnicate", NULL);

    const char *d = "synth:xor,n=50";
    expect_usage_error(run("train", "--data", d, "--epoch", "3", NULL), "'--epoch'",
                       "did you mean '--epochs 3'?");
    expect_usage_error(run("train", "--data", d, "--bacth", "8", NULL), "did you mean '--batch 8'?",
                       NULL);
    expect_usage_error(run("train", "--data", d, "--batch-size", "32", NULL), "'--batch-size'",
                       "did you mean '--batch 32'?");
    expect_usage_error(run("train", "--data", d, "--batch_size=32", NULL),
                       "did you mean '--batch 32'?", NULL);
    expect_usage_error(run("train", "--data", d, "--max", "5", NULL),
                       "did you mean '--max-seconds 5'?", NULL);
    expect_usage_error(run("train", "--data", d, "--early-stopping", "3", NULL),
                       "did you mean '--patience 3'?", NULL);
    expect_usage_error(run("train", "--data", d, "--silent", NULL), "did you mean '--quiet'?",
                       NULL);
    expect_usage_error(run("predict", "--output", "p.csv", NULL), "did you mean '--out p.csv'?",
                       NULL);
    expect_usage_error(run("train", "--data", d, "--output", "m.st", NULL),
                       "did you mean '--save m.st'?", NULL);
    // The rate, weight decay and momentum are keys of the schedule: the hint is a --schedule
    // string, built on the one given (before or after) or the default adam:lr=1e-3.
    expect_usage_error(run("train", "--data", d, "--lr", "0.01", NULL), "'--lr'",
                       "did you mean '--schedule adam:lr=0.01'?");
    expect_usage_error(run("train", "--data", d, "--learning_rate=0.5", NULL),
                       "did you mean '--schedule adam:lr=0.5'?", NULL);
    expect_usage_error(run("train", "--data", d, "--lr", "0.1", "--schedule", "sgd", NULL),
                       "did you mean '--schedule sgd:lr=0.1'?", NULL);
    expect_usage_error(
        run("train", "--data", d, "--schedule", "cosine(adam:lr=1e-3),t=100", "--lr", "0.02", NULL),
        "did you mean '--schedule cosine(adam:lr=0.02),t=100'?", NULL);
    expect_usage_error(run("train", "--data", d, "--weight-decay", "1e-4", NULL),
                       "did you mean '--schedule adam:lr=1e-3,wd=1e-4'?", NULL);
    expect_usage_error(run("train", "--data", d, "--momentum", "0.8", NULL),
                       "did you mean '--schedule momentum:lr=0.01,mu=0.8'?", NULL);
    expect_usage_error(run("train", "--data", d, "--optimizer", "SGD", NULL),
                       "did you mean '--schedule sgd'?", NULL);
    expect_usage_error(run("scale", "--data", d, "-lr", "0.3", NULL),
                       "did you mean '--schedule adam:lr=0.3'?", NULL);
    // Only flags the command has: import trains nothing.
    r = run("import", "--lr", "0.1", NULL);
    cr_expect(!strstr(r.err, "schedule"), "%s", r.err);
    expect_usage_error(r, "'--lr'", NULL);
}

// `dptrain help CMD` is `dptrain CMD --help` (and -h), for every command, version included.
Test(cli, help_command_prints_that_commands_help, CLI_FIXTURE)
{
    static const char *const cmds[] = {"train", "eval", "predict", "scale",  "bench",  "plot",
                                       "topo",  "info", "export",  "import", "version"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        struct cli_result a = expect_ok(run("help", cmds[i], NULL));
        struct cli_result b = expect_ok(run(cmds[i], "--help", NULL));
        struct cli_result c = expect_ok(run(cmds[i], "-h", NULL));
        char want[64];
        snprintf(want, sizeof want, "usage: dptrain %s", cmds[i]);
        cr_expect_eq(strncmp(a.out, want, strlen(want)), 0, "help %s: %s", cmds[i], a.out);
        cr_expect_str_eq(a.out, b.out, "help %s differs from %s --help", cmds[i], cmds[i]);
        cr_expect_str_eq(b.out, c.out, "%s -h differs from %s --help", cmds[i], cmds[i]);
        cr_expect(strstr(a.out, "--help"), "%s", a.out);
        result_free(&a);
        result_free(&b);
        result_free(&c);
    }
    // help alone (and help help) is the command list; help for nothing known is an error.
    struct cli_result top = expect_ok(run("--help", NULL));
    struct cli_result h = expect_ok(run("help", NULL));
    cr_expect_str_eq(h.out, top.out);
    cr_expect(strstr(top.out, "dptrain help COMMAND") && strstr(top.out, "-V"), "%s", top.out);
    result_free(&h);
    h = expect_ok(run("help", "help", NULL));
    cr_expect_str_eq(h.out, top.out);
    result_free(&h);
    result_free(&top);
    expect_usage_error(run("help", "trian", NULL), "did you mean 'dptrain train'?", NULL);
}

Test(cli, version_flags_and_version_help, CLI_FIXTURE)
{
    struct cli_result v = expect_ok(run("version", NULL));
    cr_expect_eq(strncmp(v.out, "dptrain ", 8), 0, "%s", v.out);
    static const char *const forms[] = {"-V", "--version"};
    for (size_t i = 0; i < 2; i++) {
        struct cli_result r = expect_ok(run(forms[i], NULL));
        cr_expect_str_eq(r.out, v.out, "%s", forms[i]);
        result_free(&r);
    }
    // version --help explains the command and does not print the version.
    struct cli_result h = expect_ok(run("version", "--help", NULL));
    cr_expect_eq(strncmp(h.out, "usage: dptrain version\n", 23), 0, "%s", h.out);
    cr_expect(!strstr(h.out, dpt_build_info()), "%s", h.out);
    result_free(&h);
    h = expect_ok(run("--version", "--help", NULL));
    cr_expect_eq(strncmp(h.out, "usage: dptrain version\n", 23), 0, "%s", h.out);
    result_free(&h);
    expect_usage_error(run("version", "--bogus", NULL), "--bogus", NULL);
    result_free(&v);
}
