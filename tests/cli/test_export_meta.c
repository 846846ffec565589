// `dptrain export` / `import` carry the whole model: normalisation (norm_shift.npy,
// norm_scale.npy), class labels, task, architecture and provenance (dptrain.json). A round trip of
// a normalised model with labels -1/+1 predicts bitwise the same; an export without dptrain.json
// (older dptrain) still imports with --layers and a one-line warning; hostile files give one-line
// errors naming the file.
#include "cli_test.h"

// Two features on very different scales, labels -1 and +1: the model needs its normalisation and
// its labels to be evaluated at all.
static void write_data(const char *name)
{
    FILE *f = fopen(P(name), "w");
    cr_assert_not_null(f);
    fputs("price,weight,label\n", f);
    uint64_t x = 12345;
    for (int i = 0; i < 200; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const double a = (double)(x % 100000) / 100.0; // 0..1000
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const double b = (double)(x % 1000) / 100.0 - 5.0; // -5..5
        fprintf(f, "%.2f,%.2f,%d\n", a, b, a / 1000.0 + b / 10.0 > 0.5 ? 1 : -1);
    }
    cr_assert_eq(fclose(f), 0);
}

static char *predict(const char *model)
{
    struct cli_result r = expect_ok(
        run("predict", "--model", model, "--data", SPEC("csv:", "d.csv", ",label=last"), NULL));
    char *out = r.out;
    r.out = NULL;
    result_free(&r);
    return out;
}

static void train_model(void)
{
    write_data("d.csv");
    struct cli_result r =
        expect_ok(run("train", "--data", SPEC("csv:", "d.csv", ",label=last"), "--layers", "2,6,2",
                      "--act", "tanh,softmax", "--normalize", "standard", "--epochs", "3",
                      "--threads", "1", "--quiet", "--save", P("m.st"), NULL));
    result_free(&r);
}

Test(cli, export_import_keeps_normalisation_and_labels, CLI_FIXTURE)
{
    train_model();
    struct cli_result r = expect_ok(run("export", "--model", P("m.st"), "--npy", P("ex"), NULL));
    cr_expect_str_eq(r.err, "", "export warned: %s", r.err);
    result_free(&r);
    static const char *const files[] = {"ex/W1.npy",      "ex/b1.npy",         "ex/W2.npy",
                                        "ex/b2.npy",      "ex/norm_shift.npy", "ex/norm_scale.npy",
                                        "ex/dptrain.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        cr_expect(file_exists(P(files[i])), "%s missing", files[i]);
    char *meta = read_text(P("ex/dptrain.json"));
    cr_expect(strstr(meta, "\"class_labels\":\t\"-1,1\""), "%s", meta);
    cr_expect(strstr(meta, "\"norm\":\t\"standard\""), "%s", meta);
    cr_expect(strstr(meta, "\"act\":\t\"tanh,softmax\""), "%s", meta);
    free(meta);

    // No architecture flags needed: dptrain.json has it.
    r = expect_ok(run("import", "--npy", P("ex"), "--out", P("m2.st"), NULL));
    cr_expect_str_eq(r.err, "", "import warned: %s", r.err);
    result_free(&r);

    // The same model: parameters, normalisation arrays and labels bitwise, hence the same
    // predictions (and the same evaluation, which needs the labels -1/+1).
    struct dpt_net *a = NULL, *b = NULL;
    struct dpt_model_info ia, ib;
    cr_assert_eq(dpt_model_load(P("m.st"), &a, &ia), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_model_load(P("m2.st"), &b, &ib), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_net_n_params(a), dpt_net_n_params(b));
    cr_expect(memcmp(dpt_net_params(a), dpt_net_params(b), dpt_net_n_params(a) * sizeof(float)) ==
              0);
    cr_assert_eq(ib.norm.kind, DPT_NORM_STANDARD);
    cr_assert_eq(ib.norm.n_in, 2u);
    cr_expect(memcmp(ia.norm.shift, ib.norm.shift, 2 * sizeof(float)) == 0);
    cr_expect(memcmp(ia.norm.scale, ib.norm.scale, 2 * sizeof(float)) == 0);
    cr_assert_eq(ib.n_classes, 2u);
    cr_assert_not_null(ib.class_labels);
    cr_expect(ib.class_labels[0] == -1 && ib.class_labels[1] == 1);
    cr_expect_eq(ib.task, DPT_TASK_CLASSIFY);
    cr_expect(strstr(ib.provenance, "dptrain import") && strstr(ib.provenance, "--normalize"),
              "provenance: %s", ib.provenance);
    dpt_net_destroy(a);
    dpt_net_destroy(b);
    dpt_model_info_cleanup(&ia);
    dpt_model_info_cleanup(&ib);
    char *pa = predict(P("m.st")), *pb = predict(P("m2.st"));
    cr_expect(strncmp(pa, "class,p0,p1\n", 12) == 0, "%s", pa);
    cr_expect_str_eq(pa, pb, "predictions differ after the round trip");
    free(pa);
    free(pb);
    r = expect_ok(run("eval", "--model", P("m2.st"), "--data", SPEC("csv:", "d.csv", ",label=last"),
                      "--json", NULL));
    cr_expect(strstr(r.out, "\"classes\":[-1,1]"), "%s", r.out);
    result_free(&r);

    // Flags that agree with dptrain.json are fine; flags that do not are refused, naming both.
    r = expect_ok(run("import", "--npy", P("ex"), "--layers", "2,6,2", "--act", "tanh,softmax",
                      "--out", P("m3.st"), NULL));
    result_free(&r);
    expect_usage_error(
        run("import", "--npy", P("ex"), "--layers", "2,6,2", "--out", P("bad.st"), NULL),
        "dptrain.json: act is tanh,softmax", "relu,softmax was given");
    expect_usage_error(run("import", "--npy", P("ex"), "--layers", "2,6,2", "--act", "tanh,softmax",
                           "--reduction", "sum", "--out", P("bad.st"), NULL),
                       "reduction is mean", NULL);
    expect_usage_error(
        run("import", "--npy", P("ex"), "--act", "tanh,softmax", "--out", P("bad.st"), NULL),
        "need --layers", NULL);
    cr_expect(!file_exists(P("bad.st")));
}

Test(cli, import_of_an_export_without_metadata, CLI_FIXTURE)
{
    train_model();
    struct cli_result r = expect_ok(run("export", "--model", P("m.st"), "--npy", P("old"), NULL));
    result_free(&r);
    // What dptrain 0.1 wrote: the tensors only.
    cr_assert_eq(unlink(P("old/dptrain.json")), 0);
    cr_assert_eq(unlink(P("old/norm_shift.npy")), 0);
    cr_assert_eq(unlink(P("old/norm_scale.npy")), 0);
    expect_usage_error(run("import", "--npy", P("old"), "--out", P("o.st"), NULL), "dptrain.json",
                       "--layers");
    r = expect_ok(run("import", "--npy", P("old"), "--layers", "2,6,2", "--act", "tanh,softmax",
                      "--out", P("o.st"), NULL));
    cr_expect(strncmp(r.err, "dptrain: warning: ", 18) == 0 && strstr(r.err, "no normalisation"),
              "%s", r.err);
    const char *nl = strchr(r.err, '\n');
    cr_expect(nl && nl[1] == '\0', "not one warning line: %s", r.err);
    result_free(&r);
    struct dpt_net *a = NULL, *b = NULL;
    struct dpt_model_info ib;
    cr_assert_eq(dpt_model_load(P("m.st"), &a, NULL), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_model_load(P("o.st"), &b, &ib), DPT_OK, "%s", dpt_last_error());
    cr_expect(memcmp(dpt_net_params(a), dpt_net_params(b), dpt_net_n_params(a) * sizeof(float)) ==
              0);
    cr_expect_eq(ib.norm.kind, DPT_NORM_NONE);
    cr_expect_null(ib.class_labels);
    dpt_net_destroy(a);
    dpt_net_destroy(b);
    dpt_model_info_cleanup(&ib);
}

Test(cli, export_of_a_checkpoint_warns, CLI_FIXTURE)
{
    struct cli_result r =
        expect_ok(run("train", "--data", "synth:xor,n=64", "--layers", "2,4,2", "--epochs", "1",
                      "--threads", "1", "--quiet", "--checkpoint", P("c.ckpt"), NULL));
    result_free(&r);
    r = expect_ok(run("export", "--model", P("c.ckpt"), "--npy", P("ck"), NULL));
    cr_expect(strncmp(r.err, "dptrain: warning: ", 18) == 0 && strstr(r.err, "checkpoint") &&
                  strstr(r.err, "not exported"),
              "%s", r.err);
    result_free(&r);
    cr_expect(file_exists(P("ck/dptrain.json")));
}

// Replaces dptrain.json of a fresh export with text; the import must fail with one line holding
// both needles.
static void hostile_meta(const char *text, const char *n1, const char *n2)
{
    write_text(P("ex/dptrain.json"), text);
    expect_usage_error(run("import", "--npy", P("ex"), "--out", P("bad.st"), NULL), n1, n2);
    cr_expect(!file_exists(P("bad.st")));
}

Test(cli, import_refuses_hostile_exports, CLI_FIXTURE)
{
    train_model();
    struct cli_result r = expect_ok(run("export", "--model", P("m.st"), "--npy", P("ex"), NULL));
    result_free(&r);
    char *good = read_text(P("ex/dptrain.json"));

    // Normalisation arrays of the wrong shape, dtype or content, or missing.
    const float three[3] = {1, 2, 3}, two[2] = {1, NAN};
    write_npy(P("ex/norm_shift.npy"), three, 3, 0, 0);
    expect_usage_error(run("import", "--npy", P("ex"), "--out", P("bad.st"), NULL),
                       "norm_shift.npy", "shape (3,), expected (2,)");
    write_npy(P("ex/norm_shift.npy"), three, 1, 2, 0);
    expect_usage_error(run("import", "--npy", P("ex"), "--out", P("bad.st"), NULL),
                       "norm_shift.npy", "shape (1, 2), expected (2,)");
    write_npy(P("ex/norm_shift.npy"), two, 2, 0, 0);
    expect_usage_error(run("import", "--npy", P("ex"), "--out", P("bad.st"), NULL),
                       "norm_shift.npy", "not finite");
    cr_assert_eq(unlink(P("ex/norm_shift.npy")), 0);
    expect_usage_error(run("import", "--npy", P("ex"), "--out", P("bad.st"), NULL),
                       "norm_shift.npy", "cannot open");
    write_npy(P("ex/norm_shift.npy"), three, 2, 0, 0);

    // dptrain.json: labels, architecture, structure.
    hostile_meta("{", "dptrain.json", "not valid JSON");
    hostile_meta("[1, 2]", "dptrain.json", "not a JSON object");
    hostile_meta("{\"format\": 1}", "dptrain.json: format is not a string", NULL);
    hostile_meta("{\"format\": \"dptrain\", \"format_version\": \"9\"}", "format version 9",
                 "newer");
    static const struct {
        const char *from, *to, *n1, *n2;
    } edits[] = {
        {"\"-1,1\"", "\"1,1\"", "class_labels: label 1 appears twice", NULL},
        {"\"-1,1\"", "\"-1,1,2\"", "class_labels has 3 labels for 2 classes", NULL},
        {"\"-1,1\"", "\"-1,x\"", "class_labels: label 1 is not an integer", NULL},
        {"\"-1,1\"", "\"-1,99999999999\"", "class_labels: label 1 is not an integer", NULL},
        {"\"2,6,2\"", "\"3,6,2\"", "W1.npy", "shape (6, 2), expected (6, 3)"},
        {"\"2,6,2\"", "\"2,6,3\"", "n_classes is 2 but the network has 3 outputs", NULL},
        {"\"tanh,softmax\"", "\"tanh,tanh\"", "xent needs a softmax output", NULL},
        {"\"standard\"", "\"zscore\"", "norm 'zscore' is not", NULL},
        {"\"classify\"", "\"regress\"", "given for a regression model", NULL},
        {"\"format\":", "\"norm_shift\":\t\"0,0\",\n\t\"format\":", "'norm_shift' does not belong",
         "norm_shift.npy"},
        {"\"format\":", "\"format\": \"x\", \"format\":", "format appears twice", NULL},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        const char *at = strstr(good, edits[i].from);
        cr_assert_not_null(at, "%s not in %s", edits[i].from, good);
        char text[4096];
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - good), good, edits[i].to,
                 at + strlen(edits[i].from));
        hostile_meta(text, edits[i].n1, edits[i].n2);
    }
    // The untouched export still imports.
    write_text(P("ex/dptrain.json"), good);
    r = expect_ok(run("import", "--npy", P("ex"), "--out", P("ok.st"), NULL));
    result_free(&r);
    free(good);
    expect_usage_error(run("import", "--npy", P("nothere"), "--out", P("bad.st"), NULL), "nothere",
                       NULL);
}
