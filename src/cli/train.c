// `dptrain train`: load data, build the network and schedule, run the parallel trainer, show
// progress and per-epoch lines, write the JSON log and the model.
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_impl.h"

static const char synopsis[] = "--data SPEC [options]";

// The trainer of the running command, for the signal handler.
static struct dpt_trainer *volatile g_trainer;
static volatile sig_atomic_t g_signals;

static void on_signal(int sig)
{
    if (g_signals++ > 0) {
        // Second signal: leave at once (no file is open for writing at that point in a way that
        // could leave it corrupt: models are written atomically).
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    if (g_trainer)
        dpt_trainer_request_stop(g_trainer);
}

struct run {
    FILE *log;     // JSON lines or NULL
    bool progress; // draw a progress bar on stderr
    bool quiet;
    FILE *human; // where epoch lines go (stdout, or stderr when the JSON log is stdout)
    size_t epochs;
    size_t threads;
    const char *engine;
    double t_start_step; // for the bar's rate
    bool classify;
    bool has_test;
};

static void json_num(FILE *f, const char *key, double v)
{
    if (isfinite(v))
        fprintf(f, ",\"%s\":%.9g", key, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int on_progress(uint64_t epoch, size_t step, size_t steps, void *user)
{
    struct run *r = user;
    if (!r->progress)
        return 0;
    const double el = mono_s() - r->t_start_step;
    const double frac = (double)step / (double)steps;
    const double eta = frac > 0 ? el * (1.0 - frac) / frac : 0.0;
    char bar[31];
    size_t fill = (size_t)(frac * 30.0);
    for (size_t i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\repoch %llu [%s] %zu/%zu steps  ETA %.1fs ", (unsigned long long)epoch, bar,
            step, steps, eta);
    fflush(stderr);
    return 0;
}

static int on_epoch(const struct dpt_epoch_stats *st, void *user)
{
    struct run *r = user;
    if (r->progress)
        fprintf(stderr, "\r%*s\r", 79, "");
    if (!r->quiet) {
        const double busy =
            st->time.compute_s + st->time.wait_s + st->time.reduce_s + st->time.update_s;
        const double pc = busy > 0 ? 100.0 / busy : 0.0;
        fprintf(r->human, "epoch %3llu/%zu  train loss %.4f", (unsigned long long)st->epoch,
                r->epochs, st->train_loss);
        if (r->classify)
            fprintf(r->human, " acc %.4f", st->train_acc);
        if (isfinite(st->val_loss)) {
            fprintf(r->human, "  val loss %.4f", st->val_loss);
            if (r->classify)
                fprintf(r->human, " acc %.4f", st->val_acc);
        }
        if (isfinite(st->test_loss)) {
            fprintf(r->human, "  test loss %.4f", st->test_loss);
            if (r->classify)
                fprintf(r->human, " acc %.4f", st->test_acc);
        }
        fprintf(r->human,
                "  %.0f samples/s  %.2fs  [compute %.0f%% wait %.0f%% reduce %.0f%% update "
                "%.0f%%]\n",
                st->samples_per_s, st->seconds, st->time.compute_s * pc, st->time.wait_s * pc,
                st->time.reduce_s * pc, st->time.update_s * pc);
        fflush(r->human);
    }
    if (r->log) {
        fprintf(r->log, "{\"event\":\"epoch\",\"epoch\":%llu", (unsigned long long)st->epoch);
        json_num(r->log, "train_loss", st->train_loss);
        if (r->classify)
            json_num(r->log, "train_acc", st->train_acc);
        if (isfinite(st->val_loss)) {
            json_num(r->log, "val_loss", st->val_loss);
            if (r->classify)
                json_num(r->log, "val_acc", st->val_acc);
        }
        if (r->has_test) {
            json_num(r->log, "test_loss", st->test_loss);
            if (r->classify)
                json_num(r->log, "test_acc", st->test_acc);
        }
        json_num(r->log, "samples_per_s", st->samples_per_s);
        json_num(r->log, "seconds", st->seconds);
        fprintf(r->log, ",\"steps\":%llu,\"threads\":%zu,\"engine\":\"%s\"",
                (unsigned long long)st->steps, r->threads, r->engine);
        json_num(r->log, "compute_s", st->time.compute_s);
        json_num(r->log, "wait_s", st->time.wait_s);
        json_num(r->log, "reduce_s", st->time.reduce_s);
        json_num(r->log, "update_s", st->time.update_s);
        fputs("}\n", r->log);
        fflush(r->log);
    }
    r->t_start_step = mono_s();
    return 0;
}

// Parses "--data synth:..." style flags into a data set; errors name the flag.
static int load(const char *flag, const char *spec, int test, struct dpt_dataset **out)
{
    enum dpt_status st = dpt_data_load(spec, test, out);
    if (st != DPT_OK) {
        char ctx[300];
        snprintf(ctx, sizeof ctx, "--%s %s", flag, spec);
        return cli_fail(st, ctx);
    }
    return 0;
}

int cli_train(int argc, char **argv)
{
    struct cli_flag flags[] = {
        {"data", "SPEC", "training data: fashion-mnist, synth:xor|spirals|blobs[,n=N,...], ...", 0},
        {"test", "SPEC", "test data (default: the t10k set for fashion-mnist, else none)", 0},
        {"val-split", "F", "hold out this fraction of the training data for validation (0)", 0},
        {"layers", "N0,...,NL", "layer sizes incl. input and output (default: in,256,out)", 0},
        {"act", "A,...", "one activation per non-input layer, or HIDDEN,OUTPUT (relu,softmax)", 0},
        {"loss", "L", "squared, xent or bce (default xent for classification)", 0},
        {"reduction", "R", "mean (default) or sum over the batch", 0},
        {"schedule", "SPEC", "update schedule, e.g. adam:lr=1e-3 (default), fixed:lr=0.05", 0},
        {"batch", "B", "samples per step (default 64)", 0},
        {"drop-last", NULL, "drop the last, smaller batch of each epoch", 0},
        {"epochs", "E", "maximum epochs (default 10)", 0},
        {"target-loss", "X", "stop when the training loss reaches X", 0},
        {"patience", "P",
         "early stopping: epochs without validation improvement (needs "
         "--val-split)",
         0},
        {"max-seconds", "S", "stop training after S seconds", 0},
        {"threads", "T", "worker threads (default: one per usable core)", 0},
        {"engine", "E", "pthreads (default) or openmp", 0},
        {"pin", "P", "compact (default), scatter or none", 0},
        {"reproducible", NULL, "bitwise identical results for every thread count", 0},
        {"seed", "S", "seed for initialisation and shuffling (default 1)", 0},
        {"init", "MODEL", "start from this model's parameters", 0},
        {"save", "MODEL", "write the trained model (safetensors) here", 0},
        {"log-json", "FILE|-", "write one JSON object per epoch (and a final one) here", 0},
        {"quiet", NULL, "print only the final result", 0},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    size_t n_pos = 0;
    int rc = cli_parse("train", synopsis, flags, argc, argv, 2, pos, 0, &n_pos);
    if (rc < 0)
        return CLI_OK;
    if (rc)
        return rc;

    struct dpt_dataset *train = NULL, *test = NULL, *val = NULL, *all = NULL;
    struct dpt_net *net = NULL;
    struct dpt_schedule *sched = NULL;
    struct dpt_trainer *tr = NULL;
    struct run run = {0};
    char *act_buf = NULL;
    enum dpt_status st;
    rc = CLI_USAGE;

    const char *data_spec = cli_get(flags, "data");
    if (!data_spec) {
        rc = cli_error("train: --data is required (e.g. --data fashion-mnist)");
        goto cleanup;
    }
    struct dpt_train_params p = dpt_train_params_default();
    p.batch = 64;
    double val_split = 0.0;
    const char *v;
    if ((v = cli_get(flags, "batch")) && cli_size("batch", v, 1, (size_t)1 << 24, &p.batch))
        goto cleanup;
    if ((v = cli_get(flags, "epochs")) && cli_size("epochs", v, 1, (size_t)1 << 30, &p.max_epochs))
        goto cleanup;
    if ((v = cli_get(flags, "threads")) && cli_size("threads", v, 1, 1024, &p.threads))
        goto cleanup;
    if ((v = cli_get(flags, "patience")) &&
        cli_size("patience", v, 1, (size_t)1 << 30, &p.patience))
        goto cleanup;
    if ((v = cli_get(flags, "seed")) && cli_u64("seed", v, &p.seed))
        goto cleanup;
    if ((v = cli_get(flags, "target-loss")) &&
        cli_double("target-loss", v, -INFINITY, INFINITY, &p.target_loss))
        goto cleanup;
    if ((v = cli_get(flags, "max-seconds")) &&
        cli_double("max-seconds", v, 1e-9, 1e12, &p.max_seconds))
        goto cleanup;
    if ((v = cli_get(flags, "val-split")) && cli_double("val-split", v, 0.0, 0.99, &val_split))
        goto cleanup;
    if ((v = cli_get(flags, "engine")) && dpt_engine_parse(v, &p.engine) != DPT_OK) {
        rc = cli_fail(DPT_ERR_INVALID, "--engine");
        goto cleanup;
    }
    if ((v = cli_get(flags, "pin")) && dpt_pin_parse(v, &p.pin) != DPT_OK) {
        rc = cli_fail(DPT_ERR_INVALID, "--pin");
        goto cleanup;
    }
    p.drop_last = cli_get(flags, "drop-last") != NULL;
    p.reproducible = cli_get(flags, "reproducible") != NULL;
    if (p.patience > 0 && val_split <= 0.0) {
        rc = cli_error("--patience needs a validation set: add --val-split F");
        goto cleanup;
    }
    if (cli_get(flags, "init")) {
        rc = cli_error("--init: loading models is not available in this build yet");
        goto cleanup;
    }

    // ---- data ----
    if ((rc = load("data", data_spec, 0, &all)) != 0)
        goto cleanup;
    rc = CLI_USAGE;
    const char *test_spec = cli_get(flags, "test");
    if (test_spec) {
        if ((rc = load("test", test_spec, 1, &test)) != 0)
            goto cleanup;
    } else if (strncmp(data_spec, "fashion-mnist", 13) == 0) {
        if ((rc = load("data", data_spec, 1, &test)) != 0)
            goto cleanup;
    }
    rc = CLI_USAGE;
    if (val_split > 0.0) {
        st = dpt_dataset_split(all, val_split, p.seed, &train, &val);
        if (st != DPT_OK) {
            rc = cli_fail(st, "--val-split");
            goto cleanup;
        }
    } else {
        train = all;
        all = NULL;
    }
    const bool classify = dpt_dataset_task(train) == DPT_TASK_CLASSIFY;
    const size_t n_in = dpt_dataset_n_in(train);
    const size_t n_out = classify && dpt_dataset_n_out(train) == 2 && cli_get(flags, "loss") &&
                                 strcmp(cli_get(flags, "loss"), "bce") == 0
                             ? 1
                             : dpt_dataset_n_out(train);

    // ---- network spec ----
    struct dpt_net_spec spec = dpt_net_spec_default();
    if ((v = cli_get(flags, "loss")) && dpt_loss_parse(v, &spec.loss) != DPT_OK) {
        rc = cli_fail(DPT_ERR_INVALID, "--loss");
        goto cleanup;
    }
    if (!cli_get(flags, "loss"))
        spec.loss = classify ? DPT_LOSS_XENT : DPT_LOSS_SQUARED;
    if ((v = cli_get(flags, "reduction")) && dpt_reduction_parse(v, &spec.reduction) != DPT_OK) {
        rc = cli_fail(DPT_ERR_INVALID, "--reduction");
        goto cleanup;
    }
    size_t n_sizes = 0;
    if ((v = cli_get(flags, "layers"))) {
        if (cli_size_list("layers", v, spec.sizes, DPT_MAX_LAYERS + 1, &n_sizes))
            goto cleanup;
        if (n_sizes < 2) {
            rc = cli_error("--layers: '%s' needs at least an input and an output size", v);
            goto cleanup;
        }
        if (spec.sizes[0] != n_in) {
            rc = cli_error("--layers: the input size %zu does not match the data's %zu features",
                           spec.sizes[0], n_in);
            goto cleanup;
        }
    } else {
        spec.sizes[0] = n_in;
        spec.sizes[1] = 256;
        spec.sizes[2] = n_out;
        n_sizes = 3;
    }
    spec.n_layers = n_sizes - 1;
    const enum dpt_act out_act = spec.loss == DPT_LOSS_XENT  ? DPT_ACT_SOFTMAX
                                 : spec.loss == DPT_LOSS_BCE ? DPT_ACT_SIGMOID
                                                             : DPT_ACT_IDENTITY;
    for (size_t l = 0; l < spec.n_layers; l++)
        spec.act[l] = l + 1 == spec.n_layers ? out_act : DPT_ACT_RELU;
    if ((v = cli_get(flags, "act"))) {
        const char *parts[DPT_MAX_LAYERS + 1];
        int k = cli_split(v, &act_buf, parts, DPT_MAX_LAYERS);
        if (k < 0 || !((size_t)k == spec.n_layers || k == 2)) {
            rc = cli_error("--act: '%s' must give one activation per non-input layer (%zu) or "
                           "two (hidden,output)",
                           v, spec.n_layers);
            goto cleanup;
        }
        for (size_t l = 0; l < spec.n_layers; l++) {
            const char *name = (size_t)k == spec.n_layers ? parts[l]
                               : l + 1 == spec.n_layers   ? parts[1]
                                                          : parts[0];
            if (dpt_act_parse(name, &spec.act[l]) != DPT_OK) {
                rc = cli_fail(DPT_ERR_INVALID, "--act");
                goto cleanup;
            }
        }
    }
    if ((st = dpt_net_create(&spec, &net)) != DPT_OK) {
        rc = cli_fail(st, "network (--layers/--act/--loss)");
        goto cleanup;
    }
    dpt_net_init(net, DPT_INIT_AUTO, 0.0f, p.seed);

    // ---- schedule ----
    const char *sched_spec = cli_get(flags, "schedule");
    if (!sched_spec)
        sched_spec = "adam:lr=1e-3";
    if ((st = dpt_schedule_parse(sched_spec, &sched)) != DPT_OK) {
        rc = cli_fail(st, "--schedule");
        goto cleanup;
    }

    // ---- output ----
    const char *log_path = cli_get(flags, "log-json");
    run.quiet = cli_get(flags, "quiet") != NULL;
    run.human = stdout;
    if (log_path) {
        if (strcmp(log_path, "-") == 0) {
            run.log = stdout;
            run.human = stderr;
        } else if (!(run.log = fopen(log_path, "w"))) {
            rc = cli_error("--log-json: cannot open '%s' for writing", log_path);
            goto cleanup;
        }
    }
    run.progress = !run.quiet && cli_isatty_stderr();
    run.epochs = p.max_epochs;
    run.classify = classify;
    run.has_test = test != NULL;
    p.on_epoch = on_epoch;
    p.on_progress = on_progress;
    p.progress_every = 20;
    p.user = &run;

    if ((st = dpt_trainer_create(net, sched, &p, &tr)) != DPT_OK) {
        rc = cli_fail(st, "trainer");
        goto cleanup;
    }
    const char *w = dpt_trainer_warnings(tr);
    if (w[0])
        cli_warn("%s", w);
    run.threads = dpt_trainer_threads(tr);
    run.engine = dpt_engine_name(p.engine);
    if (!run.quiet)
        fprintf(run.human,
                "dptrain %s: %zu training samples, %zu -> %zu, %zu parameters, %zu threads (%s), "
                "schedule %s, batch %zu\n",
                dpt_version(), dpt_dataset_n(train), n_in, spec.sizes[spec.n_layers],
                dpt_net_n_trainable(net), run.threads, run.engine, sched_spec, p.batch);

    g_trainer = tr;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    struct dpt_epoch_stats last;
    run.t_start_step = mono_s();
    st = dpt_trainer_fit(tr, train, val, test, &last);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    g_trainer = NULL;
    if (st != DPT_OK) {
        rc = cli_fail(st, "training");
        goto cleanup;
    }
    double test_loss = NAN, test_acc = NAN;
    if (test && (st = dpt_trainer_evaluate(tr, test, &test_loss, &test_acc)) != DPT_OK) {
        rc = cli_fail(st, "evaluation");
        goto cleanup;
    }
    if (run.log) {
        fprintf(run.log, "{\"event\":\"done\",\"epochs\":%llu,\"steps\":%llu",
                (unsigned long long)last.epoch, (unsigned long long)dpt_trainer_steps(tr));
        json_num(run.log, "train_loss", last.train_loss);
        if (test) {
            json_num(run.log, "test_loss", test_loss);
            if (classify)
                json_num(run.log, "test_acc", test_acc);
        }
        fprintf(run.log, ",\"interrupted\":%s}\n", g_signals ? "true" : "false");
        fflush(run.log);
    }
    if (test) {
        if (classify)
            fprintf(run.human, "test accuracy: %.4f (loss %.4f)\n", test_acc, test_loss);
        else
            fprintf(run.human, "test loss: %.6g\n", test_loss);
    }
    const char *save = cli_get(flags, "save");
    if (save) {
        st = dpt_model_save(save, net, NULL);
        if (st != DPT_OK) {
            rc = cli_fail(st, "--save");
            goto cleanup;
        }
    }
    rc = g_signals ? CLI_INTERRUPTED : CLI_OK;
cleanup:
    if (run.log && run.log != stdout)
        fclose(run.log);
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
    dpt_dataset_destroy(all);
    dpt_dataset_destroy(train);
    dpt_dataset_destroy(val);
    dpt_dataset_destroy(test);
    free(act_buf);
    return rc;
}
