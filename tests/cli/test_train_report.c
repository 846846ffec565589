// What `dptrain train` says about a run (issue 15): why it stopped (text and the JSON log's last
// line), the log's first line with the configuration, the rate in force on every epoch line, the
// final result line (also with --quiet, also without a test set), an epoch table within 80
// columns, and --epochs 0 saving the initial model.
#include <cjson/cJSON.h>

#include "cli_test.h"

// The line of text starting with prefix (a malloc'd copy without the newline), or NULL.
static char *line_with(const char *text, const char *prefix)
{
    for (const char *p = text; p && *p;) {
        const size_t len = strcspn(p, "\n");
        if (strncmp(p, prefix, strlen(prefix)) == 0) {
            char *l = malloc(len + 1);
            memcpy(l, p, len);
            l[len] = '\0';
            return l;
        }
        p += len + (p[len] != '\0');
    }
    return NULL;
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

// The longest line of text.
static size_t longest_line(const char *text)
{
    size_t best = 0;
    for (const char *p = text; *p;) {
        const size_t len = strcspn(p, "\n");
        best = len > best ? len : best;
        p += len + (p[len] != '\0');
    }
    return best;
}

// The JSON log's lines, parsed; *n gets the count. Every line must be a JSON object.
static cJSON **read_log(const char *path, size_t *n)
{
    char *text = read_text(path);
    cr_assert(text, "no log at %s", path);
    cJSON **v = calloc(count_lines(text) + 1, sizeof *v);
    *n = 0;
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        cr_assert(nl, "the log's last line has no newline: %s", p);
        *nl = '\0';
        v[*n] = cJSON_Parse(p);
        cr_assert(v[*n] && cJSON_IsObject(v[*n]), "not a JSON object: %s", p);
        (*n)++;
        p = nl + 1;
    }
    free(text);
    return v;
}

static void free_log(cJSON **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(v[i]);
    free(v);
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

Test(cli, train_says_why_it_stopped, CLI_FIXTURE)
{
    // A target loss the first epoch reaches.
    struct cli_result r =
        expect_ok(run("train", "--data", "synth:xor,n=200", "--layers", "2,8,2", "--epochs", "50",
                      "--target-loss", "100", "--threads", "1", "--log-json", P("t.jsonl"), NULL));
    cr_expect(strstr(r.out, "stopped after epoch 1 of 50: training loss ") &&
                  strstr(r.out, "<= --target-loss 100\n"),
              "%s", r.out);
    result_free(&r);
    size_t n;
    cJSON **log = read_log(P("t.jsonl"), &n);
    cr_assert_geq(n, 3u);
    cr_expect_str_eq(str_of(log[n - 1], "event"), "done");
    cr_expect_str_eq(str_of(log[n - 1], "stop"), "target_loss");
    cr_expect_eq(num_of(log[n - 1], "epochs"), 1.0);
    free_log(log, n);

    // Early stopping: a rate too small to change anything never betters epoch 1's validation
    // loss, so patience 2 ends the run after epoch 3 and epoch 1's parameters are kept.
    r = expect_ok(run("train", "--data", "synth:xor,n=200", "--layers", "2,8,2", "--epochs", "40",
                      "--val-split", "0.25", "--patience", "2", "--schedule", "fixed:lr=1e-30",
                      "--threads", "1", "--log-json", P("p.jsonl"), NULL));
    cr_expect(strstr(r.out, "stopped after epoch 3 of 40: no better validation loss in 2 epochs "
                            "(--patience)\n"),
              "%s", r.out);
    const char *kept = strstr(r.out, "kept the best parameters, from epoch 1 (validation loss ");
    cr_expect(kept, "%s", r.out);
    result_free(&r);
    log = read_log(P("p.jsonl"), &n);
    cr_expect_str_eq(str_of(log[n - 1], "stop"), "patience");
    cr_expect_eq(num_of(log[n - 1], "best_epoch"), 1.0);
    // The final result is the restored parameters' validation loss: epoch 1's.
    cr_expect_str_eq(str_of(log[n - 1], "final_set"), "val");
    cr_expect_eq(num_of(log[n - 1], "final_loss"), num_of(log[1], "val_loss"));
    free_log(log, n);

    // A time limit, mid-epoch (a large epoch, a tiny limit).
    r = expect_ok(run("train", "--data", "synth:spirals,n=20000", "--layers", "2,32,2", "--batch",
                      "16", "--epochs", "100000", "--max-seconds", "0.05", "--threads", "1",
                      "--log-json", P("s.jsonl"), NULL));
    cr_expect(strstr(r.out, "stopped by --max-seconds 0.05 during epoch ") ||
                  strstr(r.out, "stopped by --max-seconds 0.05 after epoch "),
              "%s", r.out);
    cr_expect(strstr(r.out, " of 100000"), "%s", r.out);
    result_free(&r);
    log = read_log(P("s.jsonl"), &n);
    cr_expect_str_eq(str_of(log[n - 1], "stop"), "time_limit");
    free_log(log, n);

    // Every epoch run: no "stopped" line; the log says max_epochs.
    r = expect_ok(run("train", "--data", "synth:xor,n=200", "--layers", "2,8,2", "--epochs", "2",
                      "--threads", "1", "--log-json", P("m.jsonl"), NULL));
    cr_expect(!strstr(r.out, "stopped"), "%s", r.out);
    result_free(&r);
    log = read_log(P("m.jsonl"), &n);
    cr_expect_str_eq(str_of(log[n - 1], "stop"), "max_epochs");
    cr_expect(!cJSON_GetObjectItemCaseSensitive(log[n - 1], "best_epoch"));
    free_log(log, n);
}

Test(cli, train_log_starts_with_the_configuration, CLI_FIXTURE)
{
    struct cli_result r = expect_ok(run(
        "train", "--data", "synth:blobs,n=300,classes=3", "--test", "synth:blobs,n=90,classes=3",
        "--val-split", "0.2", "--layers", "2,16,3", "--act", "tanh,softmax", "--schedule",
        "cosine(adam:lr=0.01),t=50", "--batch", "20", "--epochs", "3", "--threads", "2", "--seed",
        "9", "--normalize", "standard", "--log-json", P("l.jsonl"), NULL));
    result_free(&r);
    size_t n;
    cJSON **log = read_log(P("l.jsonl"), &n);
    cr_assert_eq(n, 5u, "config, 3 epochs, done");
    const cJSON *c = log[0];
    cr_expect_str_eq(str_of(c, "event"), "config");
    cr_expect_str_eq(str_of(c, "version"), dpt_version());
    cr_expect_str_eq(str_of(c, "data"), "synth:blobs,n=300,classes=3");
    cr_expect_str_eq(str_of(c, "test"), "synth:blobs,n=90,classes=3");
    cr_expect_eq(num_of(c, "val_split"), 0.2);
    cr_expect_eq(num_of(c, "n_train"), 240.0);
    cr_expect_eq(num_of(c, "n_val"), 60.0);
    cr_expect_eq(num_of(c, "n_test"), 90.0);
    cr_expect_str_eq(str_of(c, "task"), "classify");
    cr_expect_eq(num_of(c, "classes"), 3.0);
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(c, "layers");
    cr_assert(cJSON_IsArray(layers) && cJSON_GetArraySize(layers) == 3);
    cr_expect_eq(cJSON_GetArrayItem(layers, 1)->valuedouble, 16.0);
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(c, "act");
    cr_assert(cJSON_IsArray(act) && cJSON_GetArraySize(act) == 2);
    cr_expect_str_eq(cJSON_GetArrayItem(act, 0)->valuestring, "tanh");
    cr_expect_str_eq(cJSON_GetArrayItem(act, 1)->valuestring, "softmax");
    cr_expect_str_eq(str_of(c, "loss"), "xent");
    cr_expect_str_eq(str_of(c, "reduction"), "mean");
    cr_expect_eq(num_of(c, "params"), 2 * 16 + 16 + 16 * 3 + 3.0);
    cr_expect_str_eq(str_of(c, "normalize"), "standard");
    cr_expect_str_eq(str_of(c, "schedule"), "cosine(adam:lr=0.01),t=50");
    cr_expect_eq(num_of(c, "batch"), 20.0);
    cr_expect_eq(num_of(c, "epochs"), 3.0);
    cr_expect_eq(num_of(c, "threads"), 2.0);
    cr_expect_str_eq(str_of(c, "engine"), "pthreads");
    cr_expect_str_eq(str_of(c, "pin"), "compact");
    cr_expect(str_of(c, "grad") && (strcmp(str_of(c, "grad"), "private") == 0 ||
                                    strcmp(str_of(c, "grad"), "sliced") == 0));
    // The step strategy goes with the mode: sliced runs as items on the pthreads engine at T = 2.
    cr_expect_str_eq(str_of(c, "step"),
                     strcmp(str_of(c, "grad"), "sliced") == 0 ? "sliced (dynamic)" : "private");
    cr_expect_eq(num_of(c, "seed"), 9.0);
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(c, "reproducible")));
    cr_expect(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(c, "target_loss")), "off is null");
    cr_expect(strstr(str_of(c, "command"), "--seed 9"), "%s", str_of(c, "command"));

    // Every epoch line carries the rate of its last step: the schedule's own rate there.
    struct dpt_schedule *s = NULL;
    cr_assert_eq(dpt_schedule_parse("cosine(adam:lr=0.01),t=50", &s), DPT_OK);
    double prev = INFINITY;
    for (size_t i = 1; i <= 3; i++) {
        cr_expect_str_eq(str_of(log[i], "event"), "epoch");
        const double lr = num_of(log[i], "lr"), steps = num_of(log[i], "steps");
        cr_expect_eq(steps, 12.0 * (double)i, "240 samples in batches of 20");
        const double want = dpt_schedule_rate(s, (uint64_t)steps);
        cr_expect(fabs(lr - want) <= 1e-8 * want, "epoch %zu: lr %.9g, schedule %.9g", i, lr, want);
        cr_expect_lt(lr, prev, "cosine decays");
        prev = lr;
    }
    dpt_schedule_destroy(s);
    free_log(log, n);

    // `dptrain plot` reads such a log (the config and done lines are not epochs).
    r = run("plot", P("l.jsonl"), "--out", P("l.svg"), NULL);
    if (r.code == 0)
        cr_expect(file_exists(P("l.svg")));
    else
        cr_expect(strstr(r.err, "gnuplot"), "plot failed on a train log: %s", r.err);
    result_free(&r);
}

Test(cli, train_final_line_also_quiet_and_without_a_test_set, CLI_FIXTURE)
{
    // No test set, no validation: the final parameters on the training set, the one line --quiet
    // prints.
    struct cli_result r = expect_ok(run("train", "--data", "synth:xor,n=200", "--layers", "2,8,2",
                                        "--epochs", "2", "--threads", "1", "--quiet", "--save",
                                        P("m.st"), "--log-json", P("l.jsonl"), NULL));
    cr_expect_eq(count_lines(r.out), 1u, "%s", r.out);
    cr_expect_eq(strncmp(r.out, "training accuracy: ", 19), 0, "%s", r.out);
    cr_expect_eq(r.err[0], '\0', "%s", r.err);
    const double acc = strtod(r.out + 19, NULL);
    const double loss = num_after(r.out, "(loss ");
    result_free(&r);
    // It is the saved model's accuracy and loss on that data (eval computes them on its own).
    r = expect_ok(run("eval", "--model", P("m.st"), "--data", "synth:xor,n=200", "--json", NULL));
    cr_expect(fabs(num_after(r.out, "\"accuracy\":") - acc) <= 0.5e-4 + 1e-12, "%s", r.out);
    cr_expect(fabs(num_after(r.out, "\"loss\":") - loss) <= 0.5e-4 + 1e-6, "%s", r.out);
    result_free(&r);
    size_t n;
    cJSON **log = read_log(P("l.jsonl"), &n);
    cr_expect_str_eq(str_of(log[n - 1], "final_set"), "train");
    cr_expect(fabs(num_of(log[n - 1], "final_acc") - acc) <= 0.5e-4 + 1e-12);
    free_log(log, n);

    // With a validation split: the validation set.
    r = expect_ok(run("train", "--data", "synth:xor,n=200", "--layers", "2,8,2", "--epochs", "1",
                      "--val-split", "0.3", "--threads", "1", "--quiet", NULL));
    cr_expect_eq(count_lines(r.out), 1u, "%s", r.out);
    cr_expect_eq(strncmp(r.out, "validation accuracy: ", 21), 0, "%s", r.out);
    result_free(&r);

    // Regression: a loss.
    char text[2048] = "y,x\n";
    for (int i = 0; i < 30; i++) {
        char line[64];
        snprintf(line, sizeof line, "%.4f,%.4f\n", 0.5 * i / 30.0, i / 30.0);
        strcat(text, line);
    }
    write_text(P("r.csv"), text);
    r = expect_ok(run("train", "--data", SPEC("csv:", "r.csv", ",target=regression"), "--layers",
                      "1,1", "--act", "identity", "--epochs", "1", "--threads", "1", "--quiet",
                      NULL));
    cr_expect_eq(count_lines(r.out), 1u, "%s", r.out);
    cr_expect_eq(strncmp(r.out, "training loss: ", 15), 0, "%s", r.out);
    result_free(&r);
}

// --reduction sum scales the gradient, not the figures: the logged training loss stays the mean
// per-sample loss (README). With a rate too small to move anything, both reductions log the same.
Test(cli, train_logs_the_mean_loss_under_either_reduction, CLI_FIXTURE)
{
    double loss[2];
    const char *red[2] = {"mean", "sum"};
    for (int k = 0; k < 2; k++) {
        struct cli_result r =
            expect_ok(run("train", "--data", "synth:xor,n=200", "--layers", "2,8,2", "--epochs",
                          "1", "--schedule", "fixed:lr=1e-30", "--reduction", red[k], "--batch",
                          "50", "--threads", "1", "--quiet", "--log-json", P("l.jsonl"), NULL));
        result_free(&r);
        char *log = read_text(P("l.jsonl"));
        loss[k] = num_after(strstr(log, "\"event\":\"epoch\""), "\"train_loss\":");
        free(log);
    }
    cr_expect(isfinite(loss[0]) && loss[0] > 0.1 && loss[0] < 10, "%g", loss[0]);
    cr_expect(fabs(loss[1] - loss[0]) <= 1e-6 * loss[0], "sum %.9g, mean %.9g", loss[1], loss[0]);
}

Test(cli, train_epoch_table_fits_80_columns, CLI_FIXTURE)
{
    static const char *const extra[][8] = {
        {NULL},
        {"--test", "synth:spirals,seed=2", NULL},
        {"--threads", "2", "--test", "synth:spirals,seed=2", NULL},
        // The widest table: validation and test sets and a changing rate (its own column).
        {"--threads", "2", "--val-split", "0.2", "--test", "synth:spirals,seed=2", "--schedule",
         "warmup(cosine(adam:lr=1e-3),t=40),t=10"},
    };
    for (size_t k = 0; k < sizeof extra / sizeof extra[0]; k++) {
        const char *args[24] = {"train", "--data", "synth:spirals", "--epochs", "3"};
        size_t n = 5;
        for (size_t j = 0; j < 8 && extra[k][j]; j++)
            args[n++] = extra[k][j];
        args[n] = NULL;
        struct cli_result r = expect_ok(cli_runv(args, NULL, NULL));
        cr_expect_leq(longest_line(r.out), 80u, "case %zu:\n%s", k, r.out);
        char *header = line_with(r.out, "epoch ");
        cr_assert(header, "no table header: %s", r.out);
        const char *again = strstr(strstr(r.out, header) + 1, "\nepoch ");
        cr_expect(!again, "the header is printed once: %s", r.out);
        cr_expect_eq(strstr(header, " lr ") != NULL, k == 3,
                     "an lr column only when it changes: %s", header);
        free(header);
        result_free(&r);
    }
}

Test(cli, train_epochs_0_saves_the_initial_model, CLI_FIXTURE)
{
    struct cli_result r =
        expect_ok(run("train", "--data", "synth:xor,n=100", "--test", "synth:xor,n=100,seed=3",
                      "--layers", "2,8,2", "--epochs", "0", "--seed", "5", "--threads", "1",
                      "--save", P("m.st"), "--log-json", P("l.jsonl"), NULL));
    cr_expect(strstr(r.out, "no training (--epochs 0)"), "%s", r.out);
    cr_expect(strstr(r.out, "test accuracy: "), "the test set is still evaluated: %s", r.out);
    result_free(&r);
    char *log = read_text(P("l.jsonl"));
    cr_expect(strstr(log, "{\"event\":\"done\",\"epochs\":0,\"steps\":0,"), "%s", log);
    cr_expect(!strstr(log, "\"event\":\"epoch\""), "%s", log);
    free(log);
    // The saved parameters are exactly a fresh initialisation with that seed.
    struct dpt_net *saved = NULL, *fresh = NULL;
    cr_assert_eq(dpt_model_load(P("m.st"), &saved, NULL), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_net_create(dpt_net_spec(saved), &fresh), DPT_OK);
    cr_assert_eq(dpt_net_init(fresh, DPT_INIT_AUTO, 0.0f, 5), DPT_OK);
    cr_assert_eq(dpt_net_n_params(saved), dpt_net_n_params(fresh));
    cr_expect_eq(memcmp(dpt_net_params(saved), dpt_net_params(fresh),
                        dpt_net_n_params(saved) * sizeof(float)),
                 0, "the saved model is not the seed's initialisation");
    dpt_net_destroy(saved);
    dpt_net_destroy(fresh);
    // It evaluates like any model.
    r = expect_ok(run("eval", "--model", P("m.st"), "--data", "synth:xor,n=100,seed=3", NULL));
    result_free(&r);
    // scale still needs an epoch to measure.
    expect_usage_error(run("scale", "--data", "synth:xor,n=100", "--threads-list", "1", "--epochs",
                           "0", "--csv", P("s.csv"), NULL),
                       "--epochs", NULL);
}
