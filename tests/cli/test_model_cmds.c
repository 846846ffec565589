// Model files from the command line: info, export to NumPy, import from NumPy (identical
// tensors both ways), and training from imported weights, checked against a gradient step
// computed by hand and one computed with the library's own gradient.
#include "cli_test.h"

static float *load_params(const char *path, struct dpt_net **keep)
{
    struct dpt_net *net = NULL;
    cr_assert_eq(dpt_model_load(path, &net, NULL), DPT_OK, "%s", dpt_last_error());
    *keep = net;
    return dpt_net_params(net);
}

Test(cli, info_describes_a_model, CLI_FIXTURE)
{
    write_text(P("d.csv"), "5,0,0\n7,1,1\n5,0.1,0\n7,0.9,1\n9,3,3\n9,3.1,2.9\n");
    struct cli_result r =
        expect_ok(run("train", "--data", SPEC("csv:", "d.csv", NULL), "--layers", "2,5,3", "--act",
                      "leaky_relu,softmax", "--normalize", "minmax", "--epochs", "1", "--seed",
                      "42", "--threads", "1", "--quiet", "--save", P("m.st"), NULL));
    result_free(&r);
    r = expect_ok(run("info", P("m.st"), NULL));
    static const char *const want[] = {"model: ",
                                       "layers: 2,5,3 (2 weight layers, 33 trainable parameters)",
                                       "activations: leaky_relu,softmax",
                                       "loss: xent (mean",
                                       "leaky slope: 0.00999999978",
                                       "task: classification, 3 classes, labels 5,7,9",
                                       "normalisation: minmax (2 features)",
                                       "provenance: dptrain ",
                                       "seed 42"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect(strstr(r.out, want[i]), "'%s' not in:\n%s", want[i], r.out);
    result_free(&r);
    expect_usage_error(run("info", NULL), "info", NULL);
    expect_usage_error(run("info", P("m.st"), P("m.st"), NULL), "unexpected", NULL);
    expect_usage_error(run("info", P("none.st"), NULL), "none.st", NULL);
}

Test(cli, export_import_round_trip_is_exact, CLI_FIXTURE)
{
    struct cli_result r =
        expect_ok(run("train", "--data", "synth:spirals,n=100,classes=3", "--layers", "2,7,5,3",
                      "--act", "tanh,relu,softmax", "--epochs", "2", "--threads", "1", "--quiet",
                      "--save", P("m.st"), NULL));
    result_free(&r);
    r = expect_ok(run("export", "--model", P("m.st"), "--npy", P("npy"), NULL));
    result_free(&r);
    static const char *const files[] = {"npy/W1.npy", "npy/b1.npy", "npy/W2.npy",
                                        "npy/b2.npy", "npy/W3.npy", "npy/b3.npy"};
    for (size_t i = 0; i < 6; i++)
        cr_expect(file_exists(P(files[i])), "%s missing", files[i]);
    char *w1 = read_text(P("npy/W1.npy"));
    cr_expect(strstr(w1 + 10, "'shape': (7, 2)"), "W1 is n_1 x n_0: %s", w1 + 10);
    free(w1);

    r = expect_ok(run("import", "--npy", P("npy"), "--layers", "2,7,5,3", "--act",
                      "tanh,relu,softmax", "--out", P("m2.st"), NULL));
    result_free(&r);
    struct dpt_net *a = NULL, *b = NULL;
    const float *pa = load_params(P("m.st"), &a), *pb = load_params(P("m2.st"), &b);
    cr_assert_eq(dpt_net_n_params(a), dpt_net_n_params(b));
    cr_expect_eq(memcmp(pa, pb, dpt_net_n_params(a) * sizeof *pa), 0, "tensors changed");
    dpt_net_destroy(a);
    dpt_net_destroy(b);
    r = expect_ok(run("info", P("m2.st"), NULL));
    cr_expect(strstr(r.out, "tanh,relu,softmax") && strstr(r.out, "3 classes"), "%s", r.out);
    cr_expect(strstr(r.out, "dptrain import"), "provenance names the import: %s", r.out);
    result_free(&r);

    // Exporting the imported model gives the same files, byte for byte.
    r = expect_ok(run("export", "--model", P("m2.st"), "--npy", P("npy2"), NULL));
    result_free(&r);
    for (size_t i = 0; i < 6; i++) {
        char other[64];
        snprintf(other, sizeof other, "npy2/%s", files[i] + 4);
        FILE *f1 = fopen(P(files[i]), "rb"), *f2 = fopen(P(other), "rb");
        cr_assert(f1 && f2);
        int c1, c2;
        do {
            c1 = fgetc(f1);
            c2 = fgetc(f2);
        } while (c1 == c2 && c1 != EOF);
        cr_expect_eq(c1, c2, "%s and %s differ", files[i], other);
        fclose(f1);
        fclose(f2);
    }

    // Import errors name the file or the flag; nothing is written.
    expect_usage_error(run("import", "--npy", P("npy"), "--layers", "2,8,5,3", "--act",
                           "tanh,relu,softmax", "--out", P("bad.st"), NULL),
                       "dptrain.json: layers is 2,7,5,3", "2,8,5,3 was given");
    expect_usage_error(
        run("import", "--npy", P("nothere"), "--layers", "2,7,5,3", "--out", P("bad.st"), NULL),
        "nothere", NULL);
    cr_assert_eq(unlink(P("npy/dptrain.json")), 0); // as an older dptrain exported it
    expect_usage_error(run("import", "--npy", P("npy"), "--out", P("bad.st"), NULL), "--layers",
                       NULL);
    expect_usage_error(run("import", "--npy", P("npy"), "--layers", "2,8,5,3", "--act",
                           "tanh,relu,softmax", "--out", P("bad.st"), NULL),
                       "W1.npy", "shape");
    expect_usage_error(run("import", "--npy", P("npy"), "--layers", "2,7,5,3", NULL), "--out",
                       NULL);
    cr_expect(!file_exists(P("bad.st")));
    expect_usage_error(run("export", "--model", P("m.st"), NULL), "--npy", NULL);
    expect_usage_error(run("export", "--model", P("none.st"), "--npy", P("x"), NULL), "none.st",
                       NULL);
}

// A linear model y = W x + b with the squared loss, one full-batch step of plain SGD, computed by
// hand: C = (1/n) sum_k (a_k - y_k)^2, dC/dW = (2/n) sum_k (a_k - y_k) x_k, dC/db likewise.
Test(cli, training_from_imported_weights_matches_a_hand_computed_step, CLI_FIXTURE)
{
    static const double x[4][2] = {{1.0, 2.0}, {-0.5, 1.0}, {2.0, -1.0}, {0.0, 0.5}};
    static const double y[4] = {1.0, -2.0, 0.5, 3.0};
    const float w0[2] = {0.5f, -0.25f}, b0[1] = {0.125f};
    const double lr = 0.1;
    cr_assert_eq(mkdir(P("w"), 0700), 0);
    write_npy(P("w/W1.npy"), w0, 1, 2, 0);
    write_npy(P("w/b1.npy"), b0, 1, 0, 1); // float64: converted on import
    write_text(P("d.csv"), "y,x1,x2\n1,1,2\n-2,-0.5,1\n0.5,2,-1\n3,0,0.5\n");

    struct cli_result r =
        expect_ok(run("import", "--npy", P("w"), "--layers", "2,1", "--act", "identity", "--loss",
                      "squared", "--out", P("init.st"), NULL));
    result_free(&r);
    r = expect_ok(run("train", "--data", SPEC("csv:", "d.csv", ",target=regression"), "--init",
                      P("init.st"), "--schedule", "fixed:lr=0.1", "--batch", "4", "--epochs", "1",
                      "--threads", "1", "--quiet", "--save", P("after.st"), NULL));
    result_free(&r);
    r = expect_ok(run("export", "--model", P("after.st"), "--npy", P("out"), NULL));
    result_free(&r);

    double gw[2] = {0, 0}, gb = 0;
    for (int k = 0; k < 4; k++) {
        const double a = w0[0] * x[k][0] + w0[1] * x[k][1] + b0[0];
        const double e = a - y[k];
        gw[0] += 2.0 * e * x[k][0] / 4.0;
        gw[1] += 2.0 * e * x[k][1] / 4.0;
        gb += 2.0 * e / 4.0;
    }
    float w[2], b[1];
    cr_assert_eq(read_npy_f32(P("out/W1.npy"), w, 2), 2u);
    cr_assert_eq(read_npy_f32(P("out/b1.npy"), b, 1), 1u);
    // float arithmetic on values of order 1 (a handful of roundings of 6e-8 each): 1e-6.
    cr_expect_lt(fabs(w[0] - (w0[0] - lr * gw[0])), 1e-6, "W[0] %.9g", (double)w[0]);
    cr_expect_lt(fabs(w[1] - (w0[1] - lr * gw[1])), 1e-6, "W[1] %.9g", (double)w[1]);
    cr_expect_lt(fabs(b[0] - (b0[0] - lr * gb)), 1e-6, "b %.9g", (double)b[0]);
    // The step did something: the hand-computed gradient is far from zero.
    cr_expect_gt(fabs(gw[0]) + fabs(gw[1]) + fabs(gb), 0.5);
}

// A hidden layer, softmax and cross-entropy: the step from imported weights equals
// theta - lr * dpt_net_gradient(theta) on the same six samples.
Test(cli, training_from_imported_weights_matches_the_library_gradient, CLI_FIXTURE)
{
    static const float w1[3 * 2] = {0.3f, -0.2f, 0.5f, 0.4f, -0.6f, 0.1f};
    static const float b1[3] = {0.05f, -0.1f, 0.2f};
    static const float w2[2 * 3] = {0.7f, -0.3f, 0.2f, -0.4f, 0.6f, 0.1f};
    static const float b2[2] = {0.0f, 0.1f};
    static const float xs[6 * 2] = {0.5f, 1.0f, -1.0f,  0.25f, 2.0f,  -0.5f,
                                    0.0f, 0.0f, -0.75f, -1.5f, 1.25f, 0.5f};
    static const int32_t ys[6] = {1, 0, 1, 0, 0, 1};
    cr_assert_eq(mkdir(P("w"), 0700), 0);
    write_npy(P("w/W1.npy"), w1, 3, 2, 0);
    write_npy(P("w/b1.npy"), b1, 3, 0, 0);
    write_npy(P("w/W2.npy"), w2, 2, 3, 0);
    write_npy(P("w/b2.npy"), b2, 2, 0, 0);
    char csv[512] = "";
    for (int k = 0; k < 6; k++) {
        char line[64];
        snprintf(line, sizeof line, "%d,%.9g,%.9g\n", ys[k], (double)xs[2 * k],
                 (double)xs[2 * k + 1]);
        strcat(csv, line);
    }
    write_text(P("d.csv"), csv);
    struct cli_result r = expect_ok(run("import", "--npy", P("w"), "--layers", "2,3,2", "--act",
                                        "tanh,softmax", "--out", P("init.st"), NULL));
    result_free(&r);
    r = expect_ok(run("train", "--data", SPEC("csv:", "d.csv", NULL), "--init", P("init.st"),
                      "--schedule", "fixed:lr=0.5", "--batch", "6", "--epochs", "1", "--threads",
                      "1", "--quiet", "--save", P("after.st"), NULL));
    result_free(&r);

    struct dpt_net *net = NULL, *after = NULL;
    float *theta = load_params(P("init.st"), &net);
    const float *got = load_params(P("after.st"), &after);
    const size_t n = dpt_net_n_params(net);
    float *g = calloc(n, sizeof *g);
    struct dpt_targets t = {ys, NULL};
    double loss;
    cr_assert_eq(dpt_net_gradient(net, xs, 6, &t, g, &loss), DPT_OK, "%s", dpt_last_error());
    double gnorm = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double want = theta[i] - 0.5 * g[i];
        // The trainer sums the same six per-sample gradients in its shuffled order: float
        // rounding of a few ulps on values below 1.
        cr_expect_lt(fabs(got[i] - want), 1e-6 + 1e-6 * fabs(want), "param %zu: %.9g vs %.9g", i,
                     (double)got[i], want);
        gnorm += (double)g[i] * g[i];
    }
    cr_expect_gt(gnorm, 1e-4, "a step that changes nothing proves nothing");
    free(g);
    dpt_net_destroy(net);
    dpt_net_destroy(after);
}

Test(cli, init_keeps_the_models_transformation_and_checks_shapes, CLI_FIXTURE)
{
    write_text(P("d.csv"), "10,0,0\n20,4,4\n10,0.2,0\n20,3.8,4.1\n10,0.1,0.3\n20,4.2,3.9\n");
    struct cli_result r = expect_ok(run("train", "--data", SPEC("csv:", "d.csv", NULL), "--layers",
                                        "2,4,2", "--normalize", "standard", "--epochs", "3",
                                        "--threads", "1", "--quiet", "--save", P("a.st"), NULL));
    result_free(&r);
    // Fine-tuning: the model's normalisation and class labels carry over.
    r = expect_ok(run("train", "--data", SPEC("csv:", "d.csv", NULL), "--init", P("a.st"),
                      "--epochs", "1", "--threads", "1", "--quiet", "--save", P("b.st"), NULL));
    result_free(&r);
    r = expect_ok(run("info", P("b.st"), NULL));
    cr_expect(strstr(r.out, "normalisation: standard"), "%s", r.out);
    cr_expect(strstr(r.out, "labels 10,20"), "%s", r.out);
    cr_expect(strstr(r.out, "layers: 2,4,2"), "%s", r.out);
    result_free(&r);
    // Zero epochs of change: an --init run with a rate too small to move reproduces the model.
    r = expect_ok(run("train", "--data", SPEC("csv:", "d.csv", NULL), "--init", P("a.st"),
                      "--schedule", "fixed:lr=1e-30", "--epochs", "1", "--threads", "1", "--quiet",
                      "--save", P("c.st"), NULL));
    result_free(&r);
    struct dpt_net *na = NULL, *nc = NULL;
    const float *pa = load_params(P("a.st"), &na), *pc = load_params(P("c.st"), &nc);
    cr_expect_eq(memcmp(pa, pc, dpt_net_n_params(na) * sizeof *pa), 0);
    dpt_net_destroy(na);
    dpt_net_destroy(nc);

    expect_usage_error(run("train", "--data", SPEC("csv:", "d.csv", NULL), "--init", P("a.st"),
                           "--layers", "2,5,2", NULL),
                       "--layers", "2,4,2");
    write_text(P("e.csv"), "10,0,0\n30,1,1\n");
    expect_usage_error(
        run("train", "--data", SPEC("csv:", "e.csv", NULL), "--init", P("a.st"), NULL), "label 30",
        NULL);
    expect_usage_error(run("train", "--data", SPEC("csv:", "d.csv", ",target=regression"), "--init",
                           P("a.st"), NULL),
                       "--init", "regression");
}

// Control bytes from data and model files (an ESC sequence in a CSV cell, in a model's provenance
// or extra metadata) are printed escaped as \xHH in messages and `info` output, never raw: they
// could drive the terminal, and a newline would make a second line (issue 14, class 6).
Test(cli, control_bytes_from_files_are_escaped, CLI_FIXTURE)
{
    write_text(P("esc.csv"), "label,a\n1,2\n0,\x1b[31mred\n");
    struct cli_result r =
        run("train", "--data", SPEC("csv:", "esc.csv", ""), "--epochs", "1", "--quiet", NULL);
    cr_expect_eq(r.code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "\\x1b[31mred"), "%s", r.err);
    cr_expect(!strchr(r.err, '\x1b'), "a raw ESC in: %s", r.err);
    const char *nl = strchr(r.err, '\n');
    cr_expect(nl && nl[1] == '\0', "not one line: %s", r.err);
    result_free(&r);

    struct dpt_net *net = NULL;
    struct dpt_net_spec spec = dpt_net_spec_default();
    spec.n_layers = 1;
    spec.sizes[0] = 2;
    spec.sizes[1] = 2;
    spec.act[0] = DPT_ACT_SOFTMAX;
    spec.loss = DPT_LOSS_XENT;
    cr_assert_eq(dpt_net_create(&spec, &net), DPT_OK, "%s", dpt_last_error());
    struct dpt_model_info info;
    dpt_model_info_init(&info);
    info.task = DPT_TASK_CLASSIFY;
    info.provenance = "made by \x1b]0;pwned\x07 a tool\nsecond line";
    cr_assert_eq(dpt_model_save(P("esc.st"), net, &info), DPT_OK, "%s", dpt_last_error());
    dpt_net_destroy(net);
    r = expect_ok(run("info", P("esc.st"), NULL));
    cr_expect(strstr(r.out, "provenance: made by \\x1b]0;pwned\\x07 a tool\\x0asecond line\n"),
              "%s", r.out);
    cr_expect(!strchr(r.out, '\x1b') && !strchr(r.out, '\x07'), "raw control bytes: %s", r.out);
    result_free(&r);
}
