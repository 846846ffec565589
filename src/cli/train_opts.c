// The training options shared by `dptrain train` and `dptrain scale`: the flag table, reading it
// into struct cli_train_opts, and preparing a run (the --init model, the data sets with their
// split, classes and normalisation, the network spec and what a saved model will carry).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_impl.h"
#include "core/error_impl.h"

// Flags that scale does not take: it sweeps threads/engines/pins itself, evaluates nothing and
// writes no model or log.
enum { BOTH = 0, TRAIN_ONLY = 1 };

static const struct {
    struct cli_flag flag;
    int scope;
} table[] = {
    {{"data", "SPEC",
      "training data (required): fashion-mnist, csv:PATH, npy:X,Y, ...; docs/formats.md", 0},
     BOTH},
    {{"test", "SPEC", "test data (default: t10k for fashion-mnist, else none)", 0}, TRAIN_ONLY},
    {{"val-split", "F", "hold out this fraction of the training data for validation (0)", 0},
     TRAIN_ONLY},
    {{"layers", "N0,...,NL", "layer sizes, input and output included (default IN,256,OUT)", 0},
     BOTH},
    {{"act", "A,...", "one activation per non-input layer, or HIDDEN,OUTPUT (relu,softmax)", 0},
     BOTH},
    {{"loss", "L", "squared, xent or bce (default xent; squared for regression)", 0}, BOTH},
    {{"reduction", "R", "mean (default) or sum of per-sample losses in a batch's gradient", 0},
     BOTH},
    {{"schedule", "SPEC", "update schedule (default adam:lr=1e-3); see docs/schedules.md", 0},
     BOTH},
    {{"batch", "B", "samples per step (default 64)", 0}, BOTH},
    {{"drop-last", NULL, "drop the last, smaller batch of each epoch", 0}, BOTH},
    {{"epochs", "E", "maximum epochs (default 10; train: 0 saves the initial model)", 0}, BOTH},
    {{"target-loss", "X", "stop when an epoch's training loss is <= X (default: off)", 0},
     TRAIN_ONLY},
    {{"patience", "P", "stop after P epochs without validation improvement (needs --val-split)", 0},
     TRAIN_ONLY},
    {{"max-seconds", "S", "stop training after S seconds (default: no limit)", 0}, TRAIN_ONLY},
    {{"threads", "T", "worker threads (default: one per usable core)", 0}, TRAIN_ONLY},
    {{"engine", "E", "pthreads (default) or openmp", 0}, TRAIN_ONLY},
    {{"pin", "P", "thread placement: compact (default), scatter or none", 0}, TRAIN_ONLY},
    {{"grad", "G", "gradient mode: auto (default), private or sliced (docs/architecture.md)", 0},
     BOTH},
    {{"precision", "P",
      "products in fp32 (default) or bf16 (bf16 operands, fp32 sums; CPUs with AVX512_BF16)", 0},
     BOTH},
    {{"seed", "S", "seed for initialisation, shuffling and --val-split (default 1)", 0}, BOTH},
    {{"reproducible", NULL, "bitwise identical results for every thread count (slower)", 0}, BOTH},
    {{"normalize", "N", "none (default), minmax or standard, fitted on the training data", 0},
     BOTH},
    {{"init", "MODEL", "start from this model's parameters (and normalisation, classes)", 0}, BOTH},
    {{"save", "MODEL", "write the trained model here (safetensors, atomic)", 0}, TRAIN_ONLY},
    {{"checkpoint", "PATH", "write checkpoints here (atomic), at the end and on Ctrl-C", 0},
     TRAIN_ONLY},
    {{"checkpoint-every", "N|Ns", "also every N epochs, or every N seconds with 's' (off)", 0},
     TRAIN_ONLY},
    {{"resume", "PATH", "continue the run saved in this checkpoint (bitwise identical)", 0},
     TRAIN_ONLY},
    {{"log-json", "FILE|-", "write one JSON line per epoch and a final one (- = stdout)", 0},
     TRAIN_ONLY},
    {{"quiet", NULL, "print only the result: no progress bar, epoch table or warnings", 0}, BOTH},
};

size_t cli_train_flags(struct cli_flag *flags, size_t cap, bool for_scale)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (for_scale && table[i].scope == TRAIN_ONLY)
            continue;
        if (n + 1 >= cap)
            break;
        flags[n++] = table[i].flag;
    }
    flags[n] = (struct cli_flag){NULL, NULL, NULL, NULL};
    return n;
}

int cli_train_opts_get(const struct cli_flag *flags, bool for_scale, struct cli_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->p = dpt_train_params_default();
    o->p.batch = 64;
    o->p.max_epochs = for_scale ? 1 : 10;
    o->p.threads = 0; // every usable core
    o->data_spec = cli_get(flags, "data");
    o->test_spec = cli_get(flags, "test");
    o->net.layers = cli_get(flags, "layers");
    o->net.act = cli_get(flags, "act");
    o->net.loss = cli_get(flags, "loss");
    o->net.reduction = cli_get(flags, "reduction");
    o->schedule = cli_get(flags, "schedule");
    if (!o->schedule)
        o->schedule = "adam:lr=1e-3";
    o->init_path = cli_get(flags, "init");
    o->save_path = cli_get(flags, "save");
    o->log_path = cli_get(flags, "log-json");
    o->quiet = cli_get(flags, "quiet") != NULL;

    struct dpt_train_params *p = &o->p;
    const char *v;
    if ((v = cli_get(flags, "batch")) && cli_size("batch", v, 1, (size_t)1 << 24, &p->batch))
        return CLI_USAGE;
    // train --epochs 0 saves (and evaluates) the initial parameters; scale must measure something.
    if ((v = cli_get(flags, "epochs")) &&
        cli_size("epochs", v, for_scale ? 1 : 0, (size_t)1 << 30, &p->max_epochs))
        return CLI_USAGE;
    if ((v = cli_get(flags, "threads")) && cli_size("threads", v, 1, 1024, &p->threads))
        return CLI_USAGE;
    if ((v = cli_get(flags, "patience")) &&
        cli_size("patience", v, 1, (size_t)1 << 30, &p->patience))
        return CLI_USAGE;
    if ((v = cli_get(flags, "seed")) && cli_u64("seed", v, &p->seed))
        return CLI_USAGE;
    if ((v = cli_get(flags, "target-loss")) &&
        cli_double("target-loss", v, -INFINITY, INFINITY, &p->target_loss))
        return CLI_USAGE;
    if ((v = cli_get(flags, "max-seconds")) &&
        cli_double("max-seconds", v, 1e-6, 1e12, &p->max_seconds))
        return CLI_USAGE;
    if ((v = cli_get(flags, "val-split")) && cli_double("val-split", v, 0.0, 0.99, &o->val_split))
        return CLI_USAGE;
    if ((v = cli_get(flags, "engine")) && dpt_engine_parse(v, &p->engine) != DPT_OK)
        return cli_fail(DPT_ERR_INVALID, "--engine");
    if ((v = cli_get(flags, "pin")) && dpt_pin_parse(v, &p->pin) != DPT_OK)
        return cli_fail(DPT_ERR_INVALID, "--pin");
    if ((v = cli_get(flags, "grad")) && dpt_grad_mode_parse(v, &p->grad_mode) != DPT_OK)
        return cli_fail(DPT_ERR_INVALID, "--grad");
    if ((v = cli_get(flags, "precision"))) {
        if (dpt_precision_parse(v, &p->precision) != DPT_OK)
            return cli_fail(DPT_ERR_INVALID, "--precision");
        // Refused before any data is loaded: one line saying why (and what to use instead).
        if (dpt_precision_check(p->precision))
            return cli_error("--precision %s: %s", v, dpt_precision_check(p->precision));
    }
    if ((v = cli_get(flags, "normalize"))) {
        static const char *const names[] = {"none", "minmax", "standard"};
        int k;
        if (cli_choice("normalize", v, names, 3, &k))
            return CLI_USAGE;
        o->norm = (enum dpt_norm)k;
        o->norm_given = true;
    }
    p->drop_last = cli_get(flags, "drop-last") != NULL;
    p->reproducible = cli_get(flags, "reproducible") != NULL;
    if (!o->data_spec)
        return cli_error("--data is required (e.g. --data fashion-mnist or --data synth:spirals)");
    if (p->patience > 0 && o->val_split <= 0.0)
        return cli_error("--patience needs a validation set: add --val-split F");
    // Check the schedule now, so a typo is reported before the data is loaded (epoch counts are
    // converted at a stand-in of one step per epoch; cli_train_schedule knows the real number).
    struct dpt_schedule *s = NULL;
    enum dpt_status st = dpt_schedule_parse_epochs(o->schedule, 1, &s);
    dpt_schedule_destroy(s);
    if (st != DPT_OK)
        return cli_fail(st, "--schedule");
    return 0;
}

// ---- preparing a run ----

static int apply_norm(const struct dpt_norm_stats *ns, struct dpt_dataset *ds, const char *what)
{
    if (!ds)
        return 0;
    enum dpt_status st = dpt_norm_apply(ns, ds);
    return st == DPT_OK ? 0 : cli_fail(st, what);
}

// Copies the training set's class labels or names into the info (owned by the info, so
// dpt_malloc).
static int take_class_labels(const struct dpt_dataset *train, struct dpt_model_info *info)
{
    const int32_t *labels = NULL;
    size_t k = 0;
    if (dpt_dataset_class_labels(train, &labels, &k) != DPT_OK)
        return cli_fail(DPT_ERR_INVALID, "--data");
    info->n_classes = k;
    if (labels) {
        info->class_labels = dpt_malloc(k * sizeof *labels);
        if (!info->class_labels)
            return cli_error("out of memory");
        memcpy(info->class_labels, labels, k * sizeof *labels);
    }
    const char *const *names = dpt_dataset_class_names(train);
    enum dpt_status st;
    if (names && (st = dpt_model_info_set_class_names(info, names, k)) != DPT_OK)
        return cli_fail(st, "--data");
    return 0;
}

// A classifier needs two classes at least: say so in the data's terms, before the network's
// checks say it in theirs ("softmax needs at least 2 outputs").
static int check_classes(const char *spec, const struct dpt_dataset *ds)
{
    if (dpt_dataset_n_out(ds) >= 2)
        return 0;
    const int32_t *values = NULL;
    size_t k;
    const char *const *names = dpt_dataset_class_names(ds);
    char label[64];
    dpt_dataset_class_labels(ds, &values, &k);
    if (names)
        snprintf(label, sizeof label, "'%.50s'", names[0]);
    else
        snprintf(label, sizeof label, "%d", values ? (int)values[0] : 0);
    return cli_error("--data %s: the data has only one class (label %s in all %zu samples); a "
                     "classifier needs at least two (target=regression for a numeric target)",
                     spec, label, dpt_dataset_n(ds));
}

int cli_train_prepare(const struct cli_train_opts *o, bool want_test, struct cli_train_data *d)
{
    memset(d, 0, sizeof *d);
    dpt_model_info_init(&d->info);
    struct dpt_dataset *all = NULL;
    struct dpt_model_info init_info;
    dpt_model_info_init(&init_info);
    enum dpt_status st;
    int rc;

    if (o->init_path && (rc = cli_load_model("init", o->init_path, &d->init_net, &init_info)))
        goto cleanup;
    if ((rc = cli_load_data("data", o->data_spec, 0, o->quiet, &all)))
        goto cleanup;
    if (want_test) {
        if (o->test_spec)
            rc = cli_load_data("test", o->test_spec, 1, o->quiet, &d->test);
        else if (strncmp(o->data_spec, "fashion-mnist", 13) == 0)
            rc = cli_load_data("data", o->data_spec, 1, o->quiet, &d->test);
        if (rc)
            goto cleanup;
    }
    d->classify = dpt_dataset_task(all) == DPT_TASK_CLASSIFY;
    if (d->test && (dpt_dataset_task(d->test) == DPT_TASK_CLASSIFY) != d->classify) {
        rc = cli_error("--test %s: the training data is %s but the test data is not", o->test_spec,
                       d->classify ? "classification" : "regression");
        goto cleanup;
    }
    if (d->test && dpt_dataset_n_in(d->test) != dpt_dataset_n_in(all)) {
        rc = cli_error("--test %s: %zu features per sample, but the training data has %zu",
                       o->test_spec ? o->test_spec : o->data_spec, dpt_dataset_n_in(d->test),
                       dpt_dataset_n_in(all));
        goto cleanup;
    }
    if (d->test && !d->classify && dpt_dataset_n_out(d->test) != dpt_dataset_n_out(all)) {
        rc = cli_error("--test %s: %zu targets per sample, but the training data has %zu",
                       o->test_spec, dpt_dataset_n_out(d->test), dpt_dataset_n_out(all));
        goto cleanup;
    }
    if (d->init_net && (init_info.task == DPT_TASK_CLASSIFY) != d->classify) {
        rc = cli_error("--init %s: a %s model cannot be trained on %s data", o->init_path,
                       init_info.task == DPT_TASK_CLASSIFY ? "classification" : "regression",
                       d->classify ? "classification" : "regression");
        goto cleanup;
    }

    // Classes: the --init model's classes rule; otherwise the training set's, and the test set
    // is renumbered to them by label value.
    d->info.task = d->classify ? DPT_TASK_CLASSIFY : DPT_TASK_REGRESS;
    if (d->classify && d->init_net) {
        char what[300];
        snprintf(what, sizeof what, "--data %s", o->data_spec);
        if ((rc = cli_map_classes(all, init_info.n_classes, init_info.class_labels,
                                  init_info.class_names, what)))
            goto cleanup;
        snprintf(what, sizeof what, "--test %s", o->test_spec ? o->test_spec : o->data_spec);
        if (d->test && (rc = cli_map_classes(d->test, init_info.n_classes, init_info.class_labels,
                                             init_info.class_names, what)))
            goto cleanup;
        d->info.n_classes = init_info.n_classes;
        d->info.class_labels = init_info.class_labels; // moved
        init_info.class_labels = NULL;
        d->info.class_names = init_info.class_names; // moved
        init_info.class_names = NULL;
    } else if (d->classify) {
        if ((rc = check_classes(o->data_spec, all)))
            goto cleanup;
        if (d->test && (st = dpt_dataset_match_classes(d->test, all)) != DPT_OK) {
            char ctx[300];
            snprintf(ctx, sizeof ctx, "--test %s", o->test_spec ? o->test_spec : o->data_spec);
            rc = cli_fail(st, ctx);
            goto cleanup;
        }
        if ((rc = take_class_labels(all, &d->info)))
            goto cleanup;
    }

    if (o->val_split > 0.0) {
        if ((st = dpt_dataset_split(all, o->val_split, o->p.seed, &d->train, &d->val)) != DPT_OK) {
            rc = cli_fail(st, "--val-split");
            goto cleanup;
        }
    } else {
        d->train = all;
        all = NULL;
    }

    // Normalisation: fitted on the training part only; an --init model's own statistics are
    // kept unless --normalize asks for new ones (its weights expect that transformation).
    if (o->norm_given) {
        if ((st = dpt_norm_fit(d->train, o->norm, &d->info.norm)) != DPT_OK) {
            rc = cli_fail(st, "--normalize");
            goto cleanup;
        }
    } else if (d->init_net) {
        d->info.norm = init_info.norm; // moved
        memset(&init_info.norm, 0, sizeof init_info.norm);
        init_info.norm.kind = DPT_NORM_NONE;
    }
    if (d->info.norm.kind != DPT_NORM_NONE && d->info.norm.n_in != dpt_dataset_n_in(d->train)) {
        rc = cli_error("--init %s: the model's normalisation is for %zu features, the data has %zu",
                       o->init_path, d->info.norm.n_in, dpt_dataset_n_in(d->train));
        goto cleanup;
    }
    if ((rc = apply_norm(&d->info.norm, d->train, "--normalize")) ||
        (rc = apply_norm(&d->info.norm, d->val, "--normalize")) ||
        (rc = apply_norm(&d->info.norm, d->test, "--normalize")))
        goto cleanup;

    // The network.
    struct cli_net_needs needs = {
        .n_in = dpt_dataset_n_in(d->train),
        .n_out = d->classify && d->init_net ? d->info.n_classes : dpt_dataset_n_out(d->train),
        .classify = d->classify,
        .base = d->init_net ? dpt_net_spec(d->init_net) : NULL,
    };
    if ((rc = cli_build_spec(&o->net, &needs, &d->spec)))
        goto cleanup;
    if (d->init_net) {
        const struct dpt_net_spec *m = dpt_net_spec(d->init_net);
        bool same = m->n_layers == d->spec.n_layers;
        for (size_t l = 0; same && l <= m->n_layers; l++)
            same = m->sizes[l] == d->spec.sizes[l];
        if (!same) {
            char a[256], b[256];
            cli_format_layers(m, a, sizeof a);
            cli_format_layers(&d->spec, b, sizeof b);
            rc = cli_error("--layers: %s does not match the --init model's layers %s", b, a);
            goto cleanup;
        }
    }
    if (d->classify) {
        // A one-output network (sigmoid + bce) has two classes; a network cannot have more
        // outputs than the data has classes (build_spec checked), so n_classes is settled.
        const size_t n_out = d->spec.sizes[d->spec.n_layers];
        if (!d->info.class_labels && !d->info.class_names)
            d->info.n_classes = n_out == 1 ? 2 : n_out;
    } else {
        d->info.n_classes = 0;
    }
    rc = 0;
cleanup:
    dpt_dataset_destroy(all);
    dpt_model_info_cleanup(&init_info);
    if (rc)
        cli_train_data_cleanup(d);
    return rc;
}

int cli_train_schedule(const struct cli_train_opts *o, const struct cli_train_data *d,
                       struct dpt_schedule **out)
{
    // The trainer's epoch: every sample once, in batches of B, the last one smaller unless
    // --drop-last drops it (when there is at least one full batch).
    const size_t n = dpt_dataset_n(d->train), b = o->p.batch;
    const size_t used = o->p.drop_last && n >= b ? n - n % b : n;
    const uint64_t steps = (uint64_t)((used + b - 1) / b);
    enum dpt_status st = dpt_schedule_parse_epochs(o->schedule, steps ? steps : 1, out);
    return st == DPT_OK ? 0 : cli_fail(st, "--schedule");
}

int cli_train_new_net(const struct cli_train_data *d, uint64_t seed, struct dpt_net **out)
{
    struct dpt_net *net = NULL;
    enum dpt_status st = dpt_net_create(&d->spec, &net);
    if (st == DPT_OK) {
        if (d->init_net)
            memcpy(dpt_net_params(net), dpt_net_params_const(d->init_net),
                   dpt_net_n_params(net) * sizeof(float));
        else
            st = dpt_net_init(net, DPT_INIT_AUTO, 0.0f, seed);
    }
    if (st != DPT_OK) {
        dpt_net_destroy(net);
        *out = NULL;
        return cli_fail(st, "network");
    }
    *out = net;
    return 0;
}

void cli_train_data_cleanup(struct cli_train_data *d)
{
    dpt_dataset_destroy(d->train);
    dpt_dataset_destroy(d->val);
    dpt_dataset_destroy(d->test);
    dpt_net_destroy(d->init_net);
    dpt_model_info_cleanup(&d->info);
    memset(d, 0, sizeof *d);
    dpt_model_info_init(&d->info);
}
