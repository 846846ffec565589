// `dptrain train` end to end: learning with defaults, the per-epoch lines and the JSON log, the
// model it saves, stopping rules, determinism flags, bad flags, divergence and interruption.
#include "cli_test.h"

// Counts lines of text that start with prefix.
static size_t count_lines(const char *text, const char *prefix)
{
    size_t n = 0;
    for (const char *p = text; p && *p;) {
        n += strncmp(p, prefix, strlen(prefix)) == 0;
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return n;
}

// Counts the rows of the epoch table: lines that start with spaces and an epoch number.
static size_t count_rows(const char *text)
{
    size_t n = 0;
    for (const char *p = text; p && *p;) {
        const char *q = p + strspn(p, " ");
        n += q > p && *q >= '0' && *q <= '9';
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return n;
}

// Loads a model's parameters into a malloc'd copy (*n floats).
static float *model_params(const char *path, size_t *n)
{
    struct dpt_net *net = NULL;
    cr_assert_eq(dpt_model_load(path, &net, NULL), DPT_OK, "%s", dpt_last_error());
    *n = dpt_net_n_params(net);
    float *p = malloc(*n * sizeof *p);
    memcpy(p, dpt_net_params(net), *n * sizeof *p);
    dpt_net_destroy(net);
    return p;
}

Test(cli, train_learns_and_logs_every_epoch, CLI_FIXTURE)
{
    struct cli_result r =
        expect_ok(run("train", "--data", "synth:xor,n=400", "--test", "synth:xor,n=400", "--epochs",
                      "6", "--threads", "2", "--schedule", "adam:lr=0.02", "--log-json",
                      P("log.jsonl"), "--save", P("m.st"), NULL));
    // Human output: the run's description, the table's header once, one row per epoch with the
    // time breakdown, the final result.
    cr_expect_eq(count_lines(r.out, "epoch "), 1u, "one table header: %s", r.out);
    cr_expect_eq(count_rows(r.out), 6u, "%s", r.out);
    cr_expect(strstr(r.out, "--- test ---"), "%s", r.out);
    cr_expect(strstr(r.out, "samples") && strstr(r.out, "per s"), "%s", r.out);
    cr_expect(strstr(r.out, "c/w/r/u"), "time breakdown in the table: %s", r.out);
    const char *fin = strstr(r.out, "test accuracy: ");
    cr_assert(fin, "%s", r.out);
    const double acc_line = strtod(fin + 15, NULL);
    cr_expect(!strchr(r.err, '\r'), "no progress bar when stderr is not a terminal");

    char *log = read_text(P("log.jsonl"));
    cr_assert(log);
    cr_expect_eq(count_lines(log, "{\"event\":\"epoch\""), 6u, "%s", log);
    cr_expect_eq(count_lines(log, "{\"event\":\"done\""), 1u, "%s", log);
    static const char *const keys[] = {
        "\"epoch\":",     "\"train_loss\":",     "\"train_acc\":",
        "\"test_loss\":", "\"test_acc\":",       "\"samples_per_s\":",
        "\"seconds\":",   "\"threads\":2",       "\"engine\":\"pthreads\"",
        "\"compute_s\":", "\"wait_s\":",         "\"reduce_s\":",
        "\"update_s\":",  "\"grad\":\"private\""}; // 64 rows of 2-256-2 outweigh 2 gradients
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_expect(strstr(log, keys[i]), "%s missing from the log", keys[i]);
    // The loss falls and the network learns XOR (a 2-256-2 ReLU net with Adam at 0.02 reaches
    // well over 90% in 6 epochs; 0.8 leaves a wide margin for seeds and thread counts).
    const double first = num_after(log, "\"train_loss\":");
    const char *done = strstr(log, "{\"event\":\"done\"");
    cr_assert(done);
    cr_expect_lt(num_after(done, "\"train_loss\":"), first);
    const double acc = num_after(done, "\"test_acc\":");
    cr_expect_gt(acc, 0.8);
    cr_expect_lt(fabs(acc - acc_line), 0.5e-4 + 1e-12, "final line %.4f vs log %.9g", acc_line,
                 acc);
    cr_expect(strstr(done, "\"interrupted\":false"));
    free(log);
    result_free(&r);

    // The model carries what eval and predict need.
    r = expect_ok(run("info", P("m.st"), NULL));
    cr_expect(strstr(r.out, "layers: 2,256,2"), "default hidden layer: %s", r.out);
    cr_expect(strstr(r.out, "relu,softmax"), "%s", r.out);
    cr_expect(strstr(r.out, "classification, 2 classes"), "%s", r.out);
    cr_expect(strstr(r.out, "seed 1"), "provenance: %s", r.out);
    cr_expect(strstr(r.out, "--log-json"), "provenance has the command line: %s", r.out);
    result_free(&r);
}

Test(cli, train_quiet_and_json_to_stdout, CLI_FIXTURE)
{
    struct cli_result r =
        expect_ok(run("train", "--data", "synth:blobs,n=300", "--test", "synth:blobs,n=100",
                      "--layers", "2,8,3", "--epochs", "2", "--threads", "1", "--quiet", NULL));
    cr_expect_eq(count_lines(r.out, "test accuracy: "), 1u, "%s", r.out);
    cr_expect_eq(count_lines(r.out, "epoch"), 0u, "--quiet prints only the result: %s", r.out);
    cr_expect_eq(r.err[0], '\0', "%s", r.err);
    result_free(&r);

    r = expect_ok(run("train", "--data", "synth:blobs,n=300", "--layers", "2,8,3", "--epochs", "2",
                      "--threads", "1", "--log-json", "-", NULL));
    // stdout holds only JSON lines; the human lines moved to stderr. No test set: no test keys.
    for (const char *p = r.out; *p;) {
        cr_expect_eq(*p, '{', "not JSON: %s", p);
        p = strchr(p, '\n');
        cr_assert(p);
        p++;
    }
    cr_expect_eq(count_lines(r.out, "{\"event\":\"epoch\""), 2u);
    cr_expect(!strstr(r.out, "test_loss"), "%s", r.out);
    cr_expect_eq(count_rows(r.err), 2u, "%s", r.err);
    result_free(&r);
}

// How a sliced step splits its products, in the intro line and the JSON run record: by samples
// (one narrow hidden layer), every hidden layer by features (two hidden layers of 16 at 2 threads,
// 4 rows per worker), or forced off with DPT_SPLIT_ALL=0 (layer 1, of little work next to layer
// 2, is then not split either).
Test(cli, train_prints_how_the_step_is_split, CLI_FIXTURE)
{
    static const struct {
        const char *layers, *env, *want;
    } cases[] = {
        {"2,8,3", NULL, "by samples"},
        {"2,16,16,3", NULL, "hidden layers by features"},
        {"2,16,16,3", "off", "by samples"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[] = {
            "train",    "--data", "synth:blobs,n=64", "--layers",   cases[i].layers,
            "--epochs", "1",      "--threads",        "2",          "--batch",
            "8",        "--grad", "sliced",           "--log-json", P("log.json"),
            NULL};
        if (cases[i].env)
            setenv("DPT_SPLIT_ALL", "0", 1);
        struct cli_result r = expect_ok(cli_runv(args, NULL, NULL));
        unsetenv("DPT_SPLIT_ALL");
        char want[96];
        snprintf(want, sizeof want, "sliced gradients, %s", cases[i].want);
        cr_expect(strstr(r.err, want) || strstr(r.out, want), "%s: %s%s", cases[i].layers, r.out,
                  r.err);
        result_free(&r);
        char *log = read_text(P("log.json"));
        cr_assert(log);
        snprintf(want, sizeof want, "\"split\":\"%s\"", cases[i].want);
        cr_expect(strstr(log, want), "%s: %.400s", cases[i].layers, log);
        free(log);
    }
}

Test(cli, train_regression_log_has_no_accuracy, CLI_FIXTURE)
{
    // y = x1 - 2 x2 + 0.5 on a small grid.
    char text[4096] = "y,x1,x2\n";
    for (int i = 0; i < 40; i++) {
        const double a = (i % 8) / 8.0, b = (i / 8) / 5.0;
        char line[64];
        snprintf(line, sizeof line, "%.6f,%.6f,%.6f\n", a - 2 * b + 0.5, a, b);
        strcat(text, line);
    }
    write_text(P("r.csv"), text);
    struct cli_result r =
        expect_ok(run("train", "--data", SPEC("csv:", "r.csv", ",target=regression"), "--test",
                      SPEC("csv:", "r.csv", ",target=regression"), "--layers", "2,1", "--act",
                      "identity", "--schedule", "fixed:lr=0.1", "--epochs", "60", "--batch", "8",
                      "--threads", "1", "--log-json", P("l.jsonl"), NULL));
    cr_expect(strstr(r.out, "test loss: "), "%s", r.out);
    cr_expect(!strstr(r.out, "acc"), "%s", r.out);
    char *log = read_text(P("l.jsonl"));
    cr_expect(!strstr(log, "_acc"), "%s", log);
    cr_expect(strstr(log, "\"test_loss\":"));
    // A linear model fits a linear target: the squared error falls by orders of magnitude.
    cr_expect_lt(num_after(strstr(log, "done"), "\"test_loss\":"),
                 1e-2 * num_after(log, "\"train_loss\":"), "%s", log);
    free(log);
    result_free(&r);
}

Test(cli, train_activation_forms_and_normalisation_reach_the_model, CLI_FIXTURE)
{
    struct cli_result r =
        expect_ok(run("train", "--data", "synth:spirals,n=200", "--layers", "2,6,5,2", "--act",
                      "tanh,softmax", "--normalize", "standard", "--epochs", "1", "--threads", "1",
                      "--quiet", "--save", P("a.st"), NULL));
    result_free(&r);
    r = expect_ok(run("info", P("a.st"), NULL));
    cr_expect(strstr(r.out, "activations: tanh,tanh,softmax"), "%s", r.out);
    cr_expect(strstr(r.out, "normalisation: standard (2 features)"), "%s", r.out);
    result_free(&r);

    r = expect_ok(run("train", "--data", "synth:spirals,n=200", "--layers", "2,6,5,2", "--act",
                      "sigmoid,leaky_relu,softmax", "--loss", "xent", "--reduction", "sum",
                      "--epochs", "1", "--threads", "1", "--quiet", "--save", P("b.st"), NULL));
    result_free(&r);
    r = expect_ok(run("info", P("b.st"), NULL));
    cr_expect(strstr(r.out, "activations: sigmoid,leaky_relu,softmax"), "%s", r.out);
    cr_expect(strstr(r.out, "xent (sum"), "%s", r.out);
    result_free(&r);

    // bce on two classes: one sigmoid output by default.
    r = expect_ok(run("train", "--data", "synth:xor,n=200", "--loss", "bce", "--epochs", "1",
                      "--threads", "1", "--quiet", "--save", P("c.st"), NULL));
    result_free(&r);
    r = expect_ok(run("info", P("c.st"), NULL));
    cr_expect(strstr(r.out, "layers: 2,256,1"), "%s", r.out);
    cr_expect(strstr(r.out, "relu,sigmoid"), "%s", r.out);
    cr_expect(strstr(r.out, "2 classes"), "%s", r.out);
    result_free(&r);
}

Test(cli, train_is_deterministic_and_reproducible_across_threads, CLI_FIXTURE)
{
    const char *common[] = {
        "train", "--data", "synth:spirals,n=300", "--layers", "2,16,2", "--epochs", "2", "--batch",
        "32",    "--quiet"};
    struct {
        const char *threads, *extra, *out;
    } runs[] = {{"1", "--reproducible", "r1.st"},
                {"2", "--reproducible", "r2.st"},
                {"2", "--drop-last", "s1.st"},
                {"2", "--drop-last", "s2.st"}};
    for (size_t i = 0; i < 4; i++) {
        const char *args[20];
        size_t n = 0;
        for (size_t j = 0; j < sizeof common / sizeof common[0]; j++)
            args[n++] = common[j];
        args[n++] = "--threads";
        args[n++] = runs[i].threads;
        args[n++] = runs[i].extra;
        args[n++] = "--save";
        args[n++] = P(runs[i].out);
        args[n] = NULL;
        struct cli_result r = expect_ok(cli_runv(args, NULL, NULL));
        result_free(&r);
    }
    size_t n1, n2;
    float *a = model_params(P("r1.st"), &n1), *b = model_params(P("r2.st"), &n2);
    cr_assert_eq(n1, n2);
    cr_expect_eq(memcmp(a, b, n1 * sizeof *a), 0, "--reproducible: 1 and 2 threads differ");
    free(a);
    free(b);
    a = model_params(P("s1.st"), &n1);
    b = model_params(P("s2.st"), &n2);
    cr_expect_eq(memcmp(a, b, n1 * sizeof *a), 0, "same seed and threads: results differ");
    free(a);
    free(b);

    struct cli_result r =
        expect_ok(run("train", "--data", "synth:spirals,n=300", "--layers", "2,16,2", "--epochs",
                      "2", "--batch", "32", "--quiet", "--threads", "2", "--drop-last", "--seed",
                      "7", "--save", P("s3.st"), NULL));
    result_free(&r);
    a = model_params(P("s1.st"), &n1);
    b = model_params(P("s3.st"), &n2);
    cr_expect_neq(memcmp(a, b, n1 * sizeof *a), 0, "--seed has no effect");
    free(a);
    free(b);
}

Test(cli, train_stopping_rules, CLI_FIXTURE)
{
    // A target loss any first epoch reaches stops after one epoch.
    struct cli_result r = expect_ok(run("train", "--data", "synth:xor,n=200", "--layers", "2,8,2",
                                        "--epochs", "50", "--target-loss", "100", "--threads", "1",
                                        "--log-json", P("t.jsonl"), "--quiet", NULL));
    char *log = read_text(P("t.jsonl"));
    cr_expect(strstr(log, "{\"event\":\"done\",\"epochs\":1,"), "%s", log);
    free(log);
    result_free(&r);

    // Early stopping on a validation split: a rate too small to improve stops after patience.
    r = expect_ok(run("train", "--data", "synth:xor,n=200", "--layers", "2,8,2", "--epochs", "40",
                      "--val-split", "0.25", "--patience", "2", "--schedule", "fixed:lr=1e-30",
                      "--threads", "1", "--log-json", P("p.jsonl"), "--quiet", NULL));
    log = read_text(P("p.jsonl"));
    cr_expect(strstr(log, "\"val_loss\":"), "%s", log);
    cr_expect(strstr(log, "{\"event\":\"done\",\"epochs\":3,"), "%s", log);
    free(log);
    result_free(&r);
}

Test(cli, train_rejects_bad_flags_with_one_line, CLI_FIXTURE)
{
    const char *d = "synth:xor,n=50";
    expect_usage_error(run("train", "--data", d, "--batch", "0", NULL), "--batch", NULL);
    expect_usage_error(run("train", "--data", d, "--threads", "0", NULL), "--threads", NULL);
    expect_usage_error(run("train", "--data", d, "--epochs", "-1", NULL), "--epochs", NULL);
    expect_usage_error(run("train", "--data", d, "--batch", "12x", NULL), "--batch", "12x");
    expect_usage_error(run("train", "--data", d, "--seed", "abc", NULL), "--seed", NULL);
    expect_usage_error(run("train", "--data", d, "--max-seconds", "-5", NULL), "--max-seconds",
                       NULL);
    expect_usage_error(run("train", "--data", d, "--target-loss", "nan", NULL), "--target-loss",
                       NULL);
    expect_usage_error(run("train", "--data", d, "--val-split", "1.5", NULL), "--val-split", NULL);
    expect_usage_error(run("train", "--data", d, "--patience", "3", NULL), "--patience",
                       "--val-split");
    expect_usage_error(run("train", "--data", d, "--engine", "cuda", NULL), "--engine", "cuda");
    expect_usage_error(run("train", "--data", d, "--pin", "middle", NULL), "--pin", NULL);
    expect_usage_error(run("train", "--data", d, "--grad", "shared", NULL), "--grad", "shared");
    expect_usage_error(run("train", "--data", d, "--grad", "sliced", "--reproducible", NULL),
                       "sliced", "reproducible");
    expect_usage_error(run("train", "--data", d, "--normalize", "zscore", NULL), "--normalize",
                       NULL);
    expect_usage_error(run("train", "--data", d, "--schedule", "adam:lr=-1", NULL), "--schedule",
                       NULL);
    expect_usage_error(run("train", "--data", d, "--loss", "hinge", NULL), "--loss", "hinge");
    expect_usage_error(run("train", "--data", d, "--reduction", "max", NULL), "--reduction", NULL);
    expect_usage_error(run("train", "--data", d, "--layers", "3,8,2", NULL), "--layers",
                       "2 features");
    expect_usage_error(run("train", "--data", d, "--layers", "2,8,5", NULL), "--layers",
                       "2 classes");
    expect_usage_error(run("train", "--data", d, "--layers", "2", NULL), "--layers", NULL);
    expect_usage_error(run("train", "--data", d, "--layers", "2,0,2", NULL), "--layers", NULL);
    expect_usage_error(run("train", "--data", d, "--act", "relu,tanh,softmax", NULL), "--act",
                       NULL);
    expect_usage_error(run("train", "--data", d, "--act", "relu,swish", NULL), "--act", "swish");
    expect_usage_error(run("train", "--data", d, "--act", "softmax,softmax", NULL), "network",
                       NULL);
    expect_usage_error(run("train", "--data", d, "--init", P("missing.st"), NULL), "--init",
                       "missing.st");
    expect_usage_error(run("train", "--data", d, "--save", P("no/such/dir/m.st"), NULL), "--save",
                       NULL);
    expect_usage_error(
        run("train", "--data", d, "--log-json", P("no/such/l.jsonl"), "--quiet", NULL),
        "--log-json", NULL);
    expect_usage_error(run("train", "--layers", "2,2", NULL), "--data", NULL);
}

Test(cli, train_divergence_exits_1_and_keeps_the_old_model, CLI_FIXTURE)
{
    struct cli_result r =
        expect_ok(run("train", "--data", "synth:xor,n=100", "--layers", "2,4,2", "--epochs", "1",
                      "--threads", "1", "--quiet", "--save", P("m.st"), NULL));
    result_free(&r);
    char *before = read_text(P("m.st"));
    struct stat sb;
    cr_assert_eq(stat(P("m.st"), &sb), 0);
    // Squared loss on an unbounded output with an absurd rate overflows within a few steps.
    r = run("train", "--data", "synth:xor,n=100", "--layers", "2,4,2", "--act", "relu,identity",
            "--loss", "squared", "--schedule", "fixed:lr=1e12", "--epochs", "5", "--threads", "1",
            "--quiet", "--save", P("m.st"), "--log-json", P("l.jsonl"), NULL);
    cr_expect_eq(r.code, 1, "exit %d: %s", r.code, r.err);
    cr_expect(strstr(r.err, "dptrain: error: ") && strstr(r.err, "diverged"), "%s", r.err);
    result_free(&r);
    char *log = read_text(P("l.jsonl"));
    cr_expect(log && strstr(log, "{\"event\":\"done\"") && strstr(log, "\"error\":\""),
              "the log ends with a done event naming the error: %s", log);
    free(log);
    char *after = read_text(P("m.st"));
    struct stat sa;
    cr_assert_eq(stat(P("m.st"), &sa), 0);
    cr_expect_eq(sa.st_size, sb.st_size);
    cr_expect_eq(memcmp(before, after, (size_t)sb.st_size), 0, "the old model was changed");
    cr_expect_eq(count_prefixed(tdir, "m.st.tmp"), 0u, "a temporary file was left behind");
    free(before);
    free(after);
}

Test(cli, train_interrupted_saves_and_exits_130, CLI_FIXTURE)
{
    const char *args[] = {"train",
                          "--data",
                          "synth:spirals,n=20000",
                          "--layers",
                          "2,64,64,2",
                          "--epochs",
                          "100000",
                          "--max-seconds",
                          "60",
                          "--threads",
                          "1",
                          "--log-json",
                          P("l.jsonl"),
                          "--save",
                          P("m.st"),
                          NULL};
    const int code = interrupt_after_first_epoch(args, P("l.jsonl"), P("err"));
    char *err = read_text(P("err"));
    cr_expect_eq(code, 130, "exit %d: %s", code, err);
    cr_expect(strstr(err, "interrupted"), "%s", err);
    free(err);
    char *log = read_text(P("l.jsonl"));
    cr_expect(strstr(log, "\"interrupted\":true"), "%s", log);
    cr_expect(strstr(log, "\"stop\":\"interrupted\""), "%s", log);
    free(log);
    struct dpt_net *net = NULL;
    cr_expect_eq(dpt_model_load(P("m.st"), &net, NULL), DPT_OK, "the model was not saved");
    dpt_net_destroy(net);
}

// Two outputs naming one file (issue 14, class 8: `--save X --checkpoint X` was accepted; the
// model replaced the checkpoint and a later --resume failed): refused before training, with one
// line, whether the names are equal, differ only in spelling, or are a hard or symbolic link.
Test(cli, outputs_naming_one_file_are_refused, CLI_FIXTURE)
{
    struct cli_result r = expect_ok(run("train", "--data", "synth:xor,n=60", "--epochs", "1",
                                        "--quiet", "--save", P("m.st"), NULL));
    result_free(&r);
    cr_assert_eq(link(P("m.st"), P("hard.st")), 0);
    cr_assert_eq(symlink(P("m.st"), P("soft.st")), 0);
    char dotted[600], hard[600], soft[600], model[600];
    snprintf(dotted, sizeof dotted, "%s/./new.st", tdir);
    snprintf(hard, sizeof hard, "%s", P("hard.st")); // P returns one static buffer
    snprintf(soft, sizeof soft, "%s", P("soft.st"));
    snprintf(model, sizeof model, "%s", P("m.st"));
    char x[600], nw[600];
    snprintf(x, sizeof x, "%s", P("x.st"));
    snprintf(nw, sizeof nw, "%s", P("new.st"));
    const char *pairs[][4] = {
        {"--save", x, "--checkpoint", x},
        {"--save", nw, "--log-json", dotted},
        {"--save", model, "--checkpoint", hard},
        {"--checkpoint", soft, "--save", model},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        expect_usage_error(run("train", "--data", "synth:xor,n=60", "--epochs", "1", "--quiet",
                               pairs[i][0], pairs[i][1], pairs[i][2], pairs[i][3], NULL),
                           "name the same file", NULL);
    cr_expect(!file_exists(P("x.st")) && !file_exists(P("new.st")), "nothing written");
    r = expect_ok(run("train", "--data", "synth:xor,n=60", "--epochs", "1", "--quiet", "--save",
                      P("a.st"), "--checkpoint", P("a.ckpt"), NULL));
    result_free(&r);
}
