// `dptrain eval` and `dptrain predict`: a saved model transforms and scores data exactly as
// training did; predictions agree with an independent forward pass; metrics agree with the
// predictions; outputs are written atomically.
#include "cli_test.h"
#include "fp_bound.h"

// Parses the CSV text of predict into rows x cols numbers (after the header); returns rows.
static size_t parse_predictions(const char *text, double *v, size_t cap, size_t *cols)
{
    const char *p = strchr(text, '\n');
    cr_assert(p, "no header: %s", text);
    *cols = 1;
    for (const char *q = text; q < p; q++)
        *cols += *q == ',';
    size_t n = 0;
    p++;
    while (*p) {
        char *end;
        for (size_t j = 0; j < *cols; j++) {
            cr_assert_lt(n, cap);
            v[n++] = strtod(p, &end);
            cr_assert(end != p, "bad number at: %.40s", p);
            p = end;
            if (*p == ',')
                p++;
        }
        cr_assert_eq(*p, '\n');
        p++;
    }
    return n / *cols;
}

Test(cli, eval_reproduces_the_training_test_score, CLI_FIXTURE)
{
    struct cli_result r =
        expect_ok(run("train", "--data", "synth:blobs,n=300,classes=4", "--test",
                      "synth:blobs,n=200,classes=4", "--layers", "2,16,4", "--normalize",
                      "standard", "--epochs", "5", "--schedule", "adam:lr=0.02", "--threads", "2",
                      "--log-json", P("l.jsonl"), "--quiet", "--save", P("m.st"), NULL));
    result_free(&r);
    char *log = read_text(P("l.jsonl"));
    const char *done = strstr(log, "\"event\":\"done\"");
    cr_assert(done, "%s", log);
    const double acc = num_after(done, "\"test_acc\":"), loss = num_after(done, "\"test_loss\":");
    free(log);

    r = expect_ok(run("eval", "--model", P("m.st"), "--data", "synth:blobs,n=200,classes=4",
                      "--part", "test", "--json", NULL));
    // Same samples, same normalisation, same parameters: the losses differ only by the float
    // rounding of the products (one thread here, two in training: other blocks, other kernels).
    // Both are within the bound fp_bound.h derives for these shapes and values of the exact
    // (double) loss, so within twice that of each other, plus the %.9g of the two printouts. The
    // counts of correct answers are equal unless a row is a near tie within its bounds.
    struct dpt_net *net = NULL;
    struct dpt_model_info info;
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_model_load(P("m.st"), &net, &info), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_data_load("synth:blobs,n=200,classes=4", 1, &ds), DPT_OK);
    cr_assert_eq(dpt_norm_apply(&info.norm, ds), DPT_OK);
    const struct dpt_targets t = dpt_dataset_targets_view(ds);
    struct dpt_ref ref;
    dpt_ref_run(net, dpt_dataset_x(ds), NULL, 200, &t, 1.0f, 0, &ref);
    const double mean_err = ref.loss_err / 200;
    cr_expect_leq(fabs(loss - ref.loss / 200), mean_err + 1e-8 * loss, "training's test loss");
    const double eval_loss = num_after(r.out, "\"loss\":");
    cr_expect_leq(fabs(eval_loss - loss), 2 * mean_err + 2e-8 * loss,
                  "eval %.9g, training %.9g (bound %g): %s", eval_loss, loss, 2 * mean_err, r.out);
    cr_expect_leq(fabs(num_after(r.out, "\"accuracy\":") - acc), (double)ref.ties / 200.0, "%s",
                  r.out);
    dpt_ref_free(&ref);
    dpt_dataset_destroy(ds);
    dpt_net_destroy(net);
    dpt_model_info_cleanup(&info);
    cr_expect(strstr(r.out, "\"task\":\"classify\""), "%s", r.out);
    cr_expect(strstr(r.out, "\"classes\":[0,1,2,3]"), "%s", r.out);
    // The confusion matrix: rows are true classes (support), the diagonal is what was correct.
    const char *c = strstr(r.out, "\"confusion\":[[");
    cr_assert(c, "%s", r.out);
    c += 13;
    size_t diag = 0, total = 0;
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(*c, '[');
        c++;
        size_t row = 0;
        for (size_t j = 0; j < 4; j++) {
            char *end;
            const size_t v = strtoul(c, &end, 10);
            c = end + 1;
            row += v;
            diag += i == j ? v : 0;
        }
        cr_expect_eq(row, 50u, "blobs are interleaved: 50 of each class in 200");
        total += row;
        c++;
    }
    cr_expect_eq(total, 200u);
    cr_expect_eq((double)diag / 200.0, acc);
    result_free(&r);

    // The text form shows the same numbers with a per-class table and the matrix.
    r = expect_ok(run("eval", "--model", P("m.st"), "--data", "synth:blobs,n=200,classes=4",
                      "--part", "test", NULL));
    cr_expect(strstr(r.out, "precision") && strstr(r.out, "recall"), "%s", r.out);
    cr_expect(strstr(r.out, "confusion matrix"), "%s", r.out);
    char want[64];
    snprintf(want, sizeof want, "accuracy: %.4f (%zu/200)", acc, diag);
    cr_expect(strstr(r.out, want), "'%s' not in %s", want, r.out);
    result_free(&r);
}

Test(cli, predict_matches_an_independent_forward_pass, CLI_FIXTURE)
{
    const char *data = "synth:spirals,n=150,classes=3";
    struct cli_result r = expect_ok(run("train", "--data", data, "--layers", "2,12,3", "--act",
                                        "tanh,softmax", "--normalize", "minmax", "--epochs", "3",
                                        "--threads", "1", "--quiet", "--save", P("m.st"), NULL));
    result_free(&r);
    r = expect_ok(run("predict", "--model", P("m.st"), "--data", data, "--out", P("a.csv"), NULL));
    cr_expect_eq(r.out[0], '\0', "--out: nothing on stdout");
    result_free(&r);
    r = expect_ok(run("predict", "--model", P("m.st"), "--data", data, NULL));
    char *a = read_text(P("a.csv"));
    cr_expect_str_eq(a, r.out, "two predictions of the same data differ");
    cr_expect_eq(strncmp(a, "class,p0,p1,p2\n", 15), 0, "%s", a);
    result_free(&r);

    // Independently: load the model and the data with the library, normalise with the model's
    // statistics, run the forward pass.
    struct dpt_net *net = NULL;
    struct dpt_model_info info;
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_model_load(P("m.st"), &net, &info), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(info.norm.kind, DPT_NORM_MINMAX);
    cr_assert_eq(dpt_data_load(data, 0, &ds), DPT_OK);
    cr_assert_eq(dpt_norm_apply(&info.norm, ds), DPT_OK);
    const size_t n = dpt_dataset_n(ds);
    float *out = malloc(n * 3 * sizeof *out);
    struct dpt_workspace *ws = NULL;
    cr_assert_eq(dpt_workspace_create(net, n, &ws), DPT_OK);
    cr_assert_eq(dpt_net_forward(net, ws, dpt_dataset_x(ds), NULL, n, out), DPT_OK);
    const struct dpt_targets t = dpt_dataset_targets_view(ds);
    struct dpt_ref ref; // the exact logits and their float bounds
    dpt_ref_run(net, dpt_dataset_x(ds), NULL, n, &t, 1.0f, 0, &ref);
    double *v = malloc(n * 4 * sizeof *v);
    size_t cols;
    cr_assert_eq(parse_predictions(a, v, n * 4, &cols), n);
    cr_assert_eq(cols, 4u);
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        double sum = 0.0, sum_bound = 0.0;
        for (size_t j = 0; j < 3; j++) {
            // Block sizes may change the products' rounding. fp_bound.h gives the exact
            // probability p and a bound E_p on the float one, as dpt_net_evaluate computes it,
            // which contains p (expm1(2e)), e the row's largest logit bound (softmax moves by at
            // most a factor exp(2e)); the forward pass's own softmax (max, w subtractions, expf,
            // a w-term sum, a division) adds at most a factor 1 + theta, theta =
            // gamma_(w + 4 + 2 DPT_LIBM_ULPS). Both results are within E_p + (p + E_p) theta of
            // p, so within twice that of each other, plus the %.9g printout's 5e-9 relative.
            const double want = out[i * 3 + j], got = v[i * 4 + 1 + j];
            const double p = ref.out[i * 3 + j], ep = ref.out_err[i * 3 + j];
            const double pb = ep + (p + ep) * dpt_gamma(3 + 4 + 2 * (size_t)DPT_LIBM_ULPS);
            cr_expect_leq(fabs(want - p), pb, "row %zu p%zu: forward", i, j);
            cr_expect_leq(fabs(got - want), 2 * pb + 5e-9 * fabs(got), "row %zu p%zu", i, j);
            sum_bound += pb + 5e-9 * fabs(got);
            best = out[i * 3 + j] > out[i * 3 + best] ? j : best;
            sum += got;
        }
        cr_expect_eq(v[i * 4], (double)best, "row %zu: class", i);
        // The exact probabilities sum to 1: the printed ones within the sum of their bounds.
        cr_expect_leq(fabs(sum - 1.0), sum_bound + 4 * DPT_U, "softmax rows sum to 1");
    }
    dpt_ref_free(&ref);
    free(v);
    free(out);
    free(a);
    dpt_workspace_destroy(ws);
    dpt_dataset_destroy(ds);
    dpt_net_destroy(net);
    dpt_model_info_cleanup(&info);
}

Test(cli, regression_metrics_agree_with_the_predictions, CLI_FIXTURE)
{
    // Two targets from three features.
    char text[8192] = "";
    for (int i = 0; i < 60; i++) {
        const double a = sin(0.3 * i), b = cos(0.7 * i), c = (i % 5) / 5.0;
        char line[128];
        snprintf(line, sizeof line, "%.5f,%.5f,%.5f,%.5f\n", a + 2 * b - c, a, b, c);
        strcat(text, line);
    }
    write_text(P("r.csv"), text);
    const char *spec = SPEC("csv:", "r.csv", ",target=regression");
    struct cli_result r =
        expect_ok(run("train", "--data", spec, "--layers", "3,8,1", "--act", "tanh,identity",
                      "--epochs", "5", "--threads", "1", "--quiet", "--save", P("m.st"), NULL));
    result_free(&r);
    r = expect_ok(run("predict", "--model", P("m.st"), "--data", spec, NULL));
    cr_expect_eq(strncmp(r.out, "y0\n", 3), 0, "%s", r.out);
    double *v = malloc(60 * sizeof *v);
    size_t cols;
    cr_assert_eq(parse_predictions(r.out, v, 60, &cols), 60u);
    result_free(&r);
    double sq = 0.0, ab = 0.0;
    const char *p = text;
    for (int i = 0; i < 60; i++) {
        const double y = strtod(p, NULL);
        sq += (v[i] - y) * (v[i] - y);
        ab += fabs(v[i] - y);
        p = strchr(p, '\n') + 1;
    }
    free(v);
    r = expect_ok(run("eval", "--model", P("m.st"), "--data", spec, "--json", NULL));
    cr_expect(strstr(r.out, "\"task\":\"regress\""), "%s", r.out);
    // Predictions are printed to 9 digits and the targets to 5: 1e-5 relative is ample.
    const double rmse = sqrt(sq / 60), mae = ab / 60;
    cr_expect_lt(fabs(num_after(r.out, "\"rmse\":") - rmse), 1e-5 * rmse, "%s", r.out);
    cr_expect_lt(fabs(num_after(r.out, "\"mae\":") - mae), 1e-5 * mae, "%s", r.out);
    // The squared loss per sample is the squared error (one output): loss = rmse^2.
    cr_expect_lt(fabs(num_after(r.out, "\"loss\":") - rmse * rmse), 1e-4 * rmse * rmse, "%s",
                 r.out);
    result_free(&r);
    r = expect_ok(run("eval", "--model", P("m.st"), "--data", spec, NULL));
    cr_expect(strstr(r.out, "rmse: ") && strstr(r.out, "mae: "), "%s", r.out);
    result_free(&r);
}

Test(cli, predict_single_sigmoid_output_shows_both_classes, CLI_FIXTURE)
{
    struct cli_result r =
        expect_ok(run("train", "--data", "synth:xor,n=100", "--loss", "bce", "--layers", "2,8,1",
                      "--epochs", "1", "--threads", "1", "--quiet", "--save", P("m.st"), NULL));
    result_free(&r);
    r = expect_ok(run("predict", "--model", P("m.st"), "--data", "synth:xor,n=100", NULL));
    cr_expect_eq(strncmp(r.out, "class,p0,p1\n", 12), 0, "%s", r.out);
    double v[300];
    size_t cols;
    cr_assert_eq(parse_predictions(r.out, v, 300, &cols), 100u);
    for (size_t i = 0; i < 100; i++) {
        cr_expect_lt(fabs(v[3 * i + 1] + v[3 * i + 2] - 1.0), 1e-6);
        cr_expect_eq(v[3 * i], v[3 * i + 2] >= 0.5 ? 1.0 : 0.0, "row %zu", i);
    }
    result_free(&r);
    r = expect_ok(run("eval", "--model", P("m.st"), "--data", "synth:xor,n=100", "--json", NULL));
    cr_expect(strstr(r.out, "\"classes\":[0,1]"), "%s", r.out);
    result_free(&r);
}

Test(cli, predict_output_is_atomic_and_errors_are_one_line, CLI_FIXTURE)
{
    struct cli_result r =
        expect_ok(run("train", "--data", "synth:xor,n=50", "--layers", "2,4,2", "--epochs", "1",
                      "--threads", "1", "--quiet", "--save", P("m.st"), NULL));
    result_free(&r);
    write_text(P("p.csv"), "precious\n");
    // A failing run leaves an existing output untouched and no temporary behind.
    expect_usage_error(
        run("predict", "--model", P("m.st"), "--data", "synth:xor,n=0", "--out", P("p.csv"), NULL),
        "--data", NULL);
    char *t = read_text(P("p.csv"));
    cr_expect_str_eq(t, "precious\n");
    free(t);
    cr_expect_eq(count_prefixed(tdir, "p.csv."), 0u);
    // A successful one replaces it.
    r = expect_ok(
        run("predict", "--model", P("m.st"), "--data", "synth:xor,n=5", "--out", P("p.csv"), NULL));
    result_free(&r);
    t = read_text(P("p.csv"));
    cr_expect_eq(strncmp(t, "class,p0,p1\n", 12), 0, "%s", t);
    free(t);
    cr_expect_eq(count_prefixed(tdir, "p.csv."), 0u);

    write_text(P("junk.st"), "this is not a model file at all");
    expect_usage_error(run("eval", "--model", P("junk.st"), "--data", "synth:xor", NULL), "junk.st",
                       NULL);
    expect_usage_error(run("predict", "--model", P("junk.st"), "--data", "synth:xor", NULL),
                       "junk.st", NULL);
    expect_usage_error(run("eval", "--data", "synth:xor", NULL), "--model", NULL);
    expect_usage_error(run("predict", "--model", P("m.st"), NULL), "--data", NULL);
    expect_usage_error(
        run("eval", "--model", P("m.st"), "--data", "synth:xor", "--part", "dev", NULL), "--part",
        "dev");
    expect_usage_error(run("predict", "--model", P("m.st"), "--data", "synth:xor", "--out",
                           P("nodir/p.csv"), NULL),
                       "--out", NULL);
    expect_usage_error(
        run("predict", "--model", P("m.st"), "--data", "synth:xor", "--out", tdir, NULL), "--out",
        "directory");
}
