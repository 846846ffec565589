// `dptrain train`: prepare data and network (train_opts.c), run the parallel trainer with a
// progress bar and one line per epoch, write the JSON log, save the model with everything needed
// to transform data as training did.
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_impl.h"
#include "core/error_impl.h"
#ifdef DPT_HAVE_MPI
#include "dptrain/mpi.h"
#endif

static const char synopsis[] =
    "--data SPEC [options]\n\n"
    "Trains a network; every other flag has a default, so\n"
    "  dptrain train --data fashion-mnist --save model.st\n"
    "is a complete run. It prints a row per epoch (loss and accuracy of the training\n"
    "epoch, the validation and the test set; the rate when the schedule changes it;\n"
    "samples/s; seconds; c/w/r/u: the share of worker time spent computing, waiting,\n"
    "reducing and updating), why training stopped early, and the final result.";

// What the per-epoch and progress callbacks need.
struct run {
    FILE *log;     // JSON lines, or NULL
    int log_errno; // the first error writing the log (0: none so far)
    FILE *human;   // epoch lines: stdout, or stderr when the JSON log is stdout
    bool progress; // draw a progress bar on stderr
    int bar_len;   // characters of the bar now on the terminal (to clear it)
    bool quiet;
    size_t epochs;
    size_t batch;
    size_t threads;
    const char *engine;
    const char *grad; // the gradient mode in use: private or sliced
    double t_epoch;   // start of the current epoch's steps, for the bar's rate and ETA
    bool classify;
    bool has_val;
    bool has_test;
    bool show_lr;                     // the schedule changes the rate: a column for it
    bool header_done;                 // the epoch table's header is printed
    const struct dpt_schedule *sched; // the rate in force, for the log and the table
    const struct dpt_trainer *tr;     // for its counters (stand-downs) in the log
    uint64_t last_epoch;
    struct dpt_epoch_stats last_st; // the last complete epoch (NAN figures before the first)
    struct train_cmd *cmd;          // for checkpoints written between epochs
    bool ckpt_due;                  // the seconds-based checkpoint interval has passed
};

static int write_checkpoint(struct train_cmd *c);

static bool checkpoint_time_due(const struct train_cmd *c);

// Removes the progress bar from the terminal (nothing when none is drawn).
static void clear_bar(struct run *r)
{
    if (r->bar_len > 0)
        fprintf(stderr, "\r%*s\r", r->bar_len, "");
    r->bar_len = 0;
}

static int on_progress(uint64_t epoch, size_t step, size_t steps, void *user)
{
    struct run *r = user;
    // A seconds-based checkpoint: stop after this step; fit() writes it and carries on.
    if (checkpoint_time_due(r->cmd)) {
        r->ckpt_due = true;
        return 1;
    }
    if (!r->progress || steps == 0)
        return 0;
    const double el = cli_now() - r->t_epoch;
    const double frac = (double)step / (double)steps;
    const double eta = frac > 0 ? el * (1.0 - frac) / frac : 0.0;
    const double rate = el > 0 ? (double)step * (double)r->batch / el : 0.0;
    char bar[21];
    const size_t width = sizeof bar - 1, fill = (size_t)(frac * (double)width);
    for (size_t i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    // At most 79 columns, so that the terminal never wraps it (a wrapped bar cannot be redrawn).
    char line[80];
    int n = snprintf(line, sizeof line, "epoch %llu [%s] %zu/%zu steps  %.0f samples/s  ETA %.1fs",
                     (unsigned long long)epoch, bar, step, steps, rate, eta);
    n = n < 0 ? 0 : n >= (int)sizeof line ? (int)sizeof line - 1 : n;
    fprintf(stderr, "\r%s%*s", line, r->bar_len > n ? r->bar_len - n : 0, "");
    r->bar_len = r->bar_len > n ? r->bar_len : n;
    fflush(stderr);
    return 0;
}

// ---- the epoch table ----
//
// One row per epoch, under a header printed once, within 80 columns: the epoch; loss and (for
// classification) accuracy of the training epoch, then of the validation and test sets; the rate
// at the epoch's last step when the schedule changes it; samples/s; seconds; and the share of
// worker time spent computing, waiting at barriers, reducing and updating (c/w/r/u, percent).

enum { W_EPOCH = 5, W_LR = 7, W_RATE = 7, W_SECS = 4 };

// Width of one set's columns (loss, and accuracy for classification), without the separator.
static int set_width(const struct run *r)
{
    return r->classify ? 13 : 9;
}

// " --- label ---" centred in a set's columns.
static void group_label(FILE *f, const char *label, int width)
{
    const int len = (int)strlen(label) + 2, left = (width - len) / 2, right = width - len - left;
    fputc(' ', f);
    for (int i = 0; i < left; i++)
        fputc('-', f);
    fprintf(f, " %s ", label);
    for (int i = 0; i < right; i++)
        fputc('-', f);
}

static void human_header(struct run *r)
{
    FILE *f = r->human;
    const char *sets[3];
    size_t n_sets = 0;
    sets[n_sets++] = "train";
    if (r->has_val)
        sets[n_sets++] = "val";
    if (r->has_test)
        sets[n_sets++] = "test";
    fprintf(f, "%*s", W_EPOCH, "");
    for (size_t i = 0; i < n_sets; i++)
        group_label(f, sets[i], set_width(r));
    if (r->show_lr)
        fprintf(f, " %*s", W_LR, "");
    fprintf(f, " %*s %*s time %%\n", W_RATE, "samples", W_SECS, "");
    fprintf(f, "%*s", W_EPOCH, "epoch");
    for (size_t i = 0; i < n_sets; i++) {
        if (r->classify)
            fprintf(f, " %6s %6s", "loss", "acc");
        else
            fprintf(f, " %9s", "loss");
    }
    if (r->show_lr)
        fprintf(f, " %*s", W_LR, "lr");
    fprintf(f, " %*s %*s c/w/r/u\n", W_RATE, "per s", W_SECS, "secs");
}

static void human_set(const struct run *r, double loss, double acc)
{
    if (r->classify)
        fprintf(r->human, " %6.4f %6.4f", loss, acc);
    else
        fprintf(r->human, " %9.4g", loss);
}

static void human_epoch(struct run *r, const struct dpt_epoch_stats *st)
{
    if (!r->header_done)
        human_header(r);
    r->header_done = true;
    const double busy =
        st->time.compute_s + st->time.wait_s + st->time.reduce_s + st->time.update_s;
    const double pc = busy > 0 ? 100.0 / busy : 0.0;
    FILE *f = r->human;
    fprintf(f, "%*llu", W_EPOCH, (unsigned long long)st->epoch);
    human_set(r, st->train_loss, st->train_acc);
    if (r->has_val)
        human_set(r, st->val_loss, st->val_acc);
    if (r->has_test)
        human_set(r, st->test_loss, st->test_acc);
    if (r->show_lr)
        fprintf(f, " %*.1e", W_LR, dpt_schedule_rate(r->sched, st->steps));
    // Samples/s in 7 characters (millions above 9999999); seconds in 4: 0.01 .. 9.99, 10.0 ..
    // 99.9, then whole seconds.
    const double v = st->samples_per_s, s = st->seconds;
    if (v < 9999999.5)
        fprintf(f, " %*.0f", W_RATE, v);
    else
        fprintf(f, " %*.1fM", W_RATE - 1, v / 1e6);
    fprintf(f, " %*.*f %.0f/%.0f/%.0f/%.0f\n", W_SECS,
            s < 9.995   ? 2
            : s < 99.95 ? 1
                        : 0,
            s, st->time.compute_s * pc, st->time.wait_s * pc, st->time.reduce_s * pc,
            st->time.update_s * pc);
    fflush(f);
}

// Flushes the JSON log and keeps its first error (reported, with the path, when the run ends:
// a full disk or /dev/full must not pass for a complete log).
static void log_flush(struct run *r)
{
    errno = 0;
    if ((fflush(r->log) != 0 || ferror(r->log)) && !r->log_errno)
        r->log_errno = errno ? errno : EIO;
}

static void json_epoch(struct run *r, const struct dpt_epoch_stats *st)
{
    FILE *f = r->log;
    fprintf(f, "{\"event\":\"epoch\",\"epoch\":%llu", (unsigned long long)st->epoch);
    cli_json_num(f, "train_loss", st->train_loss);
    if (r->classify)
        cli_json_num(f, "train_acc", st->train_acc);
    if (isfinite(st->val_loss)) {
        cli_json_num(f, "val_loss", st->val_loss);
        if (r->classify)
            cli_json_num(f, "val_acc", st->val_acc);
    }
    if (r->has_test) {
        cli_json_num(f, "test_loss", st->test_loss);
        if (r->classify)
            cli_json_num(f, "test_acc", st->test_acc);
    }
    cli_json_num(f, "lr", dpt_schedule_rate(r->sched, st->steps));
    cli_json_num(f, "samples_per_s", st->samples_per_s);
    cli_json_num(f, "seconds", st->seconds);
    fprintf(f, ",\"steps\":%llu,\"threads\":%zu", (unsigned long long)st->steps, r->threads);
    cli_json_str(f, "engine", r->engine);
    cli_json_str(f, "grad", r->grad);
    cli_json_num(f, "compute_s", st->time.compute_s);
    cli_json_num(f, "wait_s", st->time.wait_s);
    cli_json_num(f, "reduce_s", st->time.reduce_s);
    cli_json_num(f, "update_s", st->time.update_s);
    if (r->tr)
        fprintf(f, ",\"stand_downs\":%llu", (unsigned long long)dpt_trainer_stand_downs(r->tr));
    fputs("}\n", f);
    log_flush(r);
}

static int write_checkpoint_if_due(struct train_cmd *c, uint64_t epoch);

static int on_epoch(const struct dpt_epoch_stats *st, void *user)
{
    struct run *r = user;
    clear_bar(r);
    if (!r->quiet)
        human_epoch(r, st);
    if (r->log)
        json_epoch(r, st);
    r->last_epoch = st->epoch;
    r->last_st = *st;
    r->t_epoch = cli_now();
    return write_checkpoint_if_due(r->cmd, st->epoch);
}

// Everything one `dptrain train` owns, so that each stage is a small function (and later stages,
// such as checkpoints, have one place to hook in).
struct train_cmd {
    struct cli_train_opts o;
    struct cli_train_data d;
    struct dpt_net *net;
    struct dpt_schedule *sched;
    struct dpt_trainer *tr;
    struct run run;
    const struct cli_flag *flags;
    struct dpt_comm *comm;    // several processes (mpirun), or NULL
    int rank;                 // 0 prints, logs, saves and writes checkpoints
    struct cli_checkpoint ck; // the checkpoint being resumed (--resume)
    const char *resume_path;
    const char *ckpt_path; // --checkpoint, or the --resume file
    uint64_t ckpt_every;   // epochs between checkpoints (0: off)
    double ckpt_every_s;   // seconds between checkpoints (0: off)
    double ckpt_last;      // when the last one was written
    unsigned ckpt_failed;  // checkpoint writes that failed (training goes on; reported at the end)
    char ckpt_err[512];    // what the last failure said
    int argc;              // the command line, for the log's config line
    char **argv;
};

static int write_checkpoint(struct train_cmd *c)
{
    int rc = 0;
    if (c->rank == 0) // every rank holds the same state; one writes it
        rc = cli_checkpoint_write(c->ckpt_err, sizeof c->ckpt_err, c->ckpt_path, c->net, c->sched,
                                  c->tr, &c->d.info, c->flags);
    c->ckpt_last = cli_now();
#ifdef DPT_HAVE_MPI
    // Only rank 0 knows whether the write worked: every rank learns it, so that all agree.
    if (c->comm && dpt_mpi_all_ok(c->comm, rc ? DPT_ERR_IO : DPT_OK) != DPT_OK && !rc) {
        snprintf(c->ckpt_err, sizeof c->ckpt_err, "the write on rank 0 failed");
        rc = CLI_USAGE;
    }
#endif
    // A failed checkpoint does not stop training: the model is still trained and saved, and the
    // failure is reported when the run ends (train's last line).
    c->ckpt_failed += rc != 0;
    return rc;
}

// Whether a signal stopped training, agreed by every rank (a signal may reach only some).
static bool interrupted(struct train_cmd *c)
{
    double why = cli_interrupted() ? 1.0 : 0.0;
#ifdef DPT_HAVE_MPI
    if (c->comm)
        c->comm->allreduce_f64(c->comm, &why, 1);
#else
    (void)c;
#endif
    return why > 0.0;
}

// Rank 0's clock decides; the trainer makes its stop global, and every rank then takes the
// checkpoint stop in fit().
static bool checkpoint_time_due(const struct train_cmd *c)
{
    return c && c->rank == 0 && c->ckpt_path && c->ckpt_every_s > 0 &&
           cli_now() - c->ckpt_last >= c->ckpt_every_s;
}

// Between epochs (called from the epoch callback, while no worker runs): every N epochs.
static int write_checkpoint_if_due(struct train_cmd *c, uint64_t epoch)
{
    if (!c || !c->ckpt_path || c->ckpt_every == 0 || epoch % c->ckpt_every != 0)
        return 0;
    write_checkpoint(c); // a failure is kept for the end; training goes on
    return 0;
}

// --checkpoint-every N (epochs) or Ns (seconds).
static int parse_every(const char *v, struct train_cmd *c)
{
    size_t len = strlen(v);
    if (len > 1 && v[len - 1] == 's') {
        char num[64];
        if (len - 1 >= sizeof num)
            return cli_error("--checkpoint-every: '%s' is too long", v);
        memcpy(num, v, len - 1);
        num[len - 1] = '\0';
        return cli_double("checkpoint-every", num, 1e-3, 1e9, &c->ckpt_every_s);
    }
    size_t n;
    if (cli_size("checkpoint-every", v, 1, (size_t)1 << 30, &n))
        return CLI_USAGE;
    c->ckpt_every = n;
    return 0;
}

// ---- the JSON log's first and last lines, the stop reason and the final result ----

static void json_bool(FILE *f, const char *key, bool v)
{
    fprintf(f, ",\"%s\":%s", key, v ? "true" : "false");
}

static void json_str_or_null(FILE *f, const char *key, const char *v)
{
    if (v)
        cli_json_str(f, key, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

// The log's first line: everything that decides the run, so that a log alone says how it was
// made (names as in the epoch and done lines).
static void json_config(struct train_cmd *c)
{
    FILE *f = c->run.log;
    const struct dpt_net_spec *sp = &c->d.spec;
    const struct dpt_train_params *p = &c->o.p;
    static const char *const norms[] = {"none", "minmax", "standard"};
    fputs("{\"event\":\"config\"", f);
    cli_json_str(f, "version", dpt_version());
    char *cmd = cli_command_line(c->argc, c->argv);
    json_str_or_null(f, "command", cmd);
    dpt_free(cmd);
    cli_json_str(f, "data", c->o.data_spec);
    json_str_or_null(f, "test",
                     c->d.test ? (c->o.test_spec ? c->o.test_spec : c->o.data_spec) : NULL);
    cli_json_num(f, "val_split", c->o.val_split);
    fprintf(f, ",\"n_train\":%zu,\"n_val\":%zu,\"n_test\":%zu", dpt_dataset_n(c->d.train),
            c->d.val ? dpt_dataset_n(c->d.val) : 0, c->d.test ? dpt_dataset_n(c->d.test) : 0);
    cli_json_str(f, "task", c->d.classify ? "classify" : "regress");
    if (c->d.classify)
        fprintf(f, ",\"classes\":%zu", c->d.info.n_classes);
    fputs(",\"layers\":[", f);
    for (size_t l = 0; l <= sp->n_layers; l++)
        fprintf(f, "%s%zu", l ? "," : "", sp->sizes[l]);
    fputs("],\"act\":[", f);
    for (size_t l = 0; l < sp->n_layers; l++)
        fprintf(f, "%s\"%s\"", l ? "," : "", dpt_act_name(sp->act[l]));
    fputc(']', f);
    cli_json_str(f, "loss", dpt_loss_name(sp->loss));
    cli_json_str(f, "reduction", dpt_reduction_name(sp->reduction));
    fprintf(f, ",\"params\":%zu", dpt_net_n_trainable(c->net));
    json_str_or_null(f, "init", c->o.init_path);
    cli_json_str(f, "normalize",
                 (unsigned)c->d.info.norm.kind < 3 ? norms[c->d.info.norm.kind] : "?");
    cli_json_str(f, "schedule", c->o.schedule);
    fprintf(f, ",\"batch\":%zu", p->batch);
    json_bool(f, "drop_last", p->drop_last);
    fprintf(f, ",\"epochs\":%zu", p->max_epochs);
    cli_json_num(f, "target_loss", p->target_loss); // null: off
    fprintf(f, ",\"patience\":%zu", p->patience);   // 0: off
    cli_json_num(f, "max_seconds", p->max_seconds > 0 ? p->max_seconds : NAN);
    fprintf(f, ",\"threads\":%zu", c->run.threads);
    cli_json_str(f, "engine", c->run.engine);
    cli_json_str(f, "pin", dpt_pin_name(p->pin));
    cli_json_str(f, "grad", c->run.grad);
    cli_json_str(f, "step", dpt_trainer_step_name(c->tr));
    cli_json_str(f, "split", dpt_trainer_decomposition(c->tr));
    fprintf(f, ",\"barrier_groups\":%zu", dpt_trainer_barrier_groups(c->tr));
    cli_json_str(f, "precision", dpt_precision_name(p->precision));
    fprintf(f, ",\"seed\":%llu", (unsigned long long)p->seed);
    json_bool(f, "reproducible", p->reproducible);
    fprintf(f, ",\"processes\":%d", c->comm ? c->comm->size : 1);
    json_str_or_null(f, "resume", c->resume_path);
    json_str_or_null(f, "checkpoint", c->ckpt_path);
    fputs("}\n", f);
    log_flush(&c->run);
}

// Batches in one epoch of the training set.
static uint64_t batches_per_epoch(const struct train_cmd *c)
{
    const size_t n = dpt_dataset_n(c->d.train), b = c->o.p.batch;
    const size_t used = c->o.p.drop_last && n >= b ? n - n % b : n;
    return (used + b - 1) / b;
}

// Whether the schedule's rate changes over this run (then the epoch table shows it): the rate at
// step 1 against steps 10, 100, ... and the last one.
static bool rate_changes(const struct train_cmd *c)
{
    const double r1 = dpt_schedule_rate(c->sched, 1);
    if (!isfinite(r1))
        return false;
    const uint64_t total = (uint64_t)c->o.p.max_epochs * batches_per_epoch(c);
    for (uint64_t t = 2; t <= total; t = t < 10 ? 10 : t * 10)
        if (dpt_schedule_rate(c->sched, t) != r1)
            return true;
    return total > 1 && dpt_schedule_rate(c->sched, total) != r1;
}

// Why training ended, for people: nothing when every epoch ran (the table shows it) or when a
// signal stopped it (that is said on standard error).
static void human_stop(struct train_cmd *c, enum dpt_stop_reason why)
{
    FILE *f = c->run.human;
    struct dpt_trainer_state ts;
    dpt_trainer_get_state(c->tr, &ts);
    const struct dpt_train_params *p = &c->o.p;
    const unsigned long long ep = ts.epoch, max = p->max_epochs;
    const bool ran = c->run.last_epoch > 0 || ts.in_epoch; // this command trained
    switch (why) {
    case DPT_STOP_TARGET_LOSS:
        if (ran)
            fprintf(f, "stopped after epoch %llu of %llu: training loss %.4f <= --target-loss %g\n",
                    ep, max, c->run.last_st.train_loss, p->target_loss);
        else
            fprintf(f, "nothing to train: the checkpoint's run had reached --target-loss %g\n",
                    p->target_loss);
        break;
    case DPT_STOP_PATIENCE:
        if (ran)
            fprintf(f,
                    "stopped after epoch %llu of %llu: no better validation loss in %zu epochs "
                    "(--patience)\n",
                    ep, max, p->patience);
        else
            fprintf(f, "nothing to train: the checkpoint's run had run out of --patience\n");
        fprintf(f, "kept the best parameters, from epoch %llu (validation loss %.4f)\n",
                (unsigned long long)dpt_trainer_best_epoch(c->tr), ts.best_val);
        break;
    case DPT_STOP_TIME_LIMIT:
        if (ts.in_epoch)
            fprintf(f,
                    "stopped by --max-seconds %g during epoch %llu of %llu (step %llu of %llu)\n",
                    p->max_seconds, ep, max, (unsigned long long)ts.next_batch,
                    (unsigned long long)batches_per_epoch(c));
        else
            fprintf(f, "stopped by --max-seconds %g after epoch %llu of %llu\n", p->max_seconds, ep,
                    max);
        break;
    case DPT_STOP_MAX_EPOCHS:
        if (p->max_epochs == 0)
            fprintf(f, "no training (--epochs 0): the parameters are the %s ones\n",
                    c->o.init_path ? "--init model's" : "initial");
        break;
    default:
        break;
    }
    fflush(f);
}

// The final evaluation: the test set, else the validation set, else the training set, with the
// parameters the run ends with (the best ones after early stopping).
struct final_eval {
    const char *set; // "test", "validation", "training"
    const char *key; // "test", "val", "train"
    double loss, acc;
};

static int evaluate_final(struct train_cmd *c, struct final_eval *fe)
{
    const struct dpt_dataset *ds = c->d.test ? c->d.test : c->d.val ? c->d.val : c->d.train;
    fe->set = c->d.test ? "test" : c->d.val ? "validation" : "training";
    fe->key = c->d.test ? "test" : c->d.val ? "val" : "train";
    fe->loss = fe->acc = NAN;
    enum dpt_status st = dpt_trainer_evaluate(c->tr, ds, &fe->loss, &fe->acc);
    return st == DPT_OK ? 0 : cli_fail(st, "evaluation");
}

// The last lines of a run: the JSON "done" event, why training stopped and the final result
// (the one line --quiet keeps).
static void report_done(struct train_cmd *c, const struct final_eval *fe, double seconds)
{
    struct run *r = &c->run;
    const struct dpt_epoch_stats *last = &r->last_st;
    const enum dpt_stop_reason why =
        cli_interrupted() ? DPT_STOP_INTERRUPTED : dpt_trainer_stop_reason(c->tr);
    if (r->log) {
        FILE *f = r->log;
        fprintf(f, "{\"event\":\"done\",\"epochs\":%llu,\"steps\":%llu",
                (unsigned long long)r->last_epoch, (unsigned long long)dpt_trainer_steps(c->tr));
        cli_json_num(f, "train_loss", last->train_loss);
        if (r->classify)
            cli_json_num(f, "train_acc", last->train_acc);
        if (r->has_test) {
            cli_json_num(f, "test_loss", fe->loss);
            if (r->classify)
                cli_json_num(f, "test_acc", fe->acc);
        }
        cli_json_str(f, "final_set", fe->key);
        cli_json_num(f, "final_loss", fe->loss);
        if (r->classify)
            cli_json_num(f, "final_acc", fe->acc);
        cli_json_str(f, "stop", dpt_stop_reason_name(why));
        if (dpt_trainer_best_epoch(c->tr))
            fprintf(f, ",\"best_epoch\":%llu", (unsigned long long)dpt_trainer_best_epoch(c->tr));
        cli_json_num(f, "seconds", seconds);
        fprintf(f, ",\"threads\":%zu", r->threads);
        cli_json_str(f, "engine", r->engine);
        cli_json_str(f, "grad", r->grad);
        json_bool(f, "interrupted", cli_interrupted());
        fputs("}\n", f);
        log_flush(r);
        if (r->log_errno) // the run fails with that error: its line stays the only one
            return;
    }
    if (!r->quiet)
        human_stop(c, why);
    if (r->classify)
        fprintf(r->human, "%s accuracy: %.4f (loss %.4f)\n", fe->set, fe->acc, fe->loss);
    else
        fprintf(r->human, "%s loss: %.6g\n", fe->set, fe->loss);
    fflush(r->human);
}

// Prints items separated by ", " after `lead`, starting a new line before an item that would pass
// column 78 (a line, its comma included, fits 79 columns).
static void print_wrapped(FILE *f, const char *lead, const char *const *items, size_t n)
{
    size_t col = (size_t)fprintf(f, "%s", lead);
    for (size_t i = 0; i < n; i++) {
        const size_t len = strlen(items[i]);
        if (i && col + 2 + len > 78) {
            fputs(",\n", f);
            col = 0;
        } else if (i) {
            fputs(", ", f);
            col += 2;
        }
        fputs(items[i], f);
        col += len;
    }
    fputc('\n', f);
}

// The lines before the epoch table: the data and the threads, then the network and how it is
// trained (each wrapped within 80 columns).
static void human_intro(struct train_cmd *c)
{
    char lead[64], train[64], val[48], test[48], threads[192], net[320], sched[300], batch[48],
        epochs[48];
    const char *items[4];
    size_t n = 0;
    snprintf(lead, sizeof lead, "dptrain %s: ", dpt_version());
    snprintf(train, sizeof train, "%zu training samples", dpt_dataset_n(c->d.train));
    items[n++] = train;
    if (c->d.val) {
        snprintf(val, sizeof val, "%zu validation", dpt_dataset_n(c->d.val));
        items[n++] = val;
    }
    if (c->d.test) {
        snprintf(test, sizeof test, "%zu test", dpt_dataset_n(c->d.test));
        items[n++] = test;
    }
    const int dynamic = strstr(dpt_trainer_step_name(c->tr), "dynamic") != NULL;
    const size_t groups = dpt_trainer_barrier_groups(c->tr);
    char barrier[48] = "";
    if (groups > 1)
        snprintf(barrier, sizeof barrier, ", barrier in %zu groups", groups);
    char split[48] = "";
    if (dpt_trainer_grad_mode(c->tr) == DPT_GRAD_SLICED && c->run.threads > 1)
        snprintf(split, sizeof split, ", %s", dpt_trainer_decomposition(c->tr));
    snprintf(threads, sizeof threads, "%zu thread%s (%s, %s gradients%s%s%s%s)", c->run.threads,
             c->run.threads == 1 ? "" : "s", c->run.engine, c->run.grad, split,
             dynamic ? ", dynamic steps" : "", barrier,
             c->o.p.precision == DPT_PRECISION_BF16 ? ", bf16 products" : "");
    items[n++] = threads;
    print_wrapped(c->run.human, lead, items, n);
    char l[256];
    cli_format_layers(&c->d.spec, l, sizeof l);
    snprintf(net, sizeof net, "layers %s (%zu parameters)", l, dpt_net_n_trainable(c->net));
    snprintf(sched, sizeof sched, "schedule %s", c->o.schedule);
    snprintf(batch, sizeof batch, "batch %zu", c->o.p.batch);
    snprintf(epochs, sizeof epochs, "%zu epoch%s", c->o.p.max_epochs,
             c->o.p.max_epochs == 1 ? "" : "s");
    const char *const items2[] = {net, batch, epochs, sched}; // the longest, if any, last
    print_wrapped(c->run.human, "", items2, 4);
    fflush(c->run.human);
}

// The network (fresh or from --init), the schedule, the trainer with the display callbacks, and
// the JSON log; prints the header line.
static int build_trainer(struct train_cmd *c)
{
    struct run *run = &c->run;
    enum dpt_status st;
    int rc;
    if ((rc = cli_train_new_net(&c->d, c->o.p.seed, &c->net)))
        return rc;
    if ((rc = cli_train_schedule(&c->o, &c->d, &c->sched)))
        return rc;

    run->quiet = c->o.quiet;
    run->human = stdout;
    if (c->o.log_path && strcmp(c->o.log_path, "-") == 0) {
        run->log = stdout;
        run->human = stderr;
    }
    run->progress = !run->quiet && cli_isatty_stderr();
    run->cmd = c;
    run->epochs = c->o.p.max_epochs;
    run->batch = c->o.p.batch;
    run->classify = c->d.classify;
    run->has_val = c->d.val != NULL;
    run->has_test = c->d.test != NULL;
    run->sched = c->sched;
    run->show_lr = rate_changes(c);
    memset(&run->last_st, 0, sizeof run->last_st);
    run->last_st.train_loss = run->last_st.train_acc = NAN;
    struct dpt_train_params p = c->o.p;
    p.on_epoch = on_epoch;
    p.on_progress = on_progress;
    p.progress_every = 10;
    p.user = run;
    if ((st = dpt_trainer_create(c->net, c->sched, &p, &c->tr)) != DPT_OK)
        return cli_fail(st, "trainer");
    run->tr = c->tr;
    if (c->resume_path && (rc = cli_checkpoint_restore(&c->ck, c->net, c->sched, c->tr)))
        return rc;

    // The log is opened last, so that a command refused for bad input leaves no file behind.
    if (c->o.log_path && !run->log && !(run->log = fopen(c->o.log_path, "w")))
        return cli_error("--log-json: cannot open '%s' for writing: %s", c->o.log_path,
                         strerror(errno));
    const char *w = dpt_trainer_warnings(c->tr);
    if (w[0] && !run->quiet)
        cli_warn("%s", w);
    run->threads = dpt_trainer_threads(c->tr);
    run->engine = dpt_engine_name(p.engine);
    run->grad = dpt_grad_mode_name(dpt_trainer_grad_mode(c->tr));
    if (run->log)
        json_config(c);
    if (!run->quiet)
        human_intro(c);
    return 0;
}

// Runs the epochs with Ctrl-C handling, evaluates the test set and writes the final lines. A
// stop we asked for (Ctrl-C) ends training between steps: the parameters are consistent, so the
// run is reported (and saved) like a finished one; cli_interrupted() then says so.
static int fit(struct train_cmd *c)
{
    struct run *run = &c->run;
    struct dpt_epoch_stats last;
    const double t0 = cli_now();
    run->t_epoch = t0;
    c->ckpt_last = t0;
    cli_interrupt_trainer(c->tr);
    enum dpt_status st;
    bool signalled = false;
    for (;;) {
        st = dpt_trainer_fit(c->tr, c->d.train, c->d.val, c->d.test, &last);
        // A stop nobody signalled is a seconds-based checkpoint (on other ranks too: the stop
        // flag is shared across processes).
        if (st != DPT_ERR_INTERRUPTED)
            break;
        if ((signalled = interrupted(c)) || !c->ckpt_path || c->ckpt_every_s <= 0)
            break;
        // Our own stop for a seconds-based checkpoint: write it and go on where we stopped.
        run->ckpt_due = false;
        write_checkpoint(c); // a failure is kept for the end; training goes on
    }
    cli_interrupt_trainer(NULL);
    clear_bar(run);
    if (st == DPT_ERR_INTERRUPTED && signalled) {
        st = DPT_OK;
        if (c->ckpt_path && write_checkpoint(c) == 0) {
            struct dpt_trainer_state ts;
            dpt_trainer_get_state(c->tr, &ts);
            if (c->rank == 0)
                fprintf(
                    stderr,
                    "dptrain: interrupted at epoch %llu, step %llu; checkpoint written to '%s'\n"
                    "dptrain: resume with: dptrain train --resume %s\n",
                    (unsigned long long)ts.epoch, (unsigned long long)ts.steps, c->ckpt_path,
                    c->ckpt_path);
        }
    }
    if (st != DPT_OK) {
        if (run->log) {
            // The log ends with a "done" event either way; a failed run says why.
            fprintf(run->log, "{\"event\":\"done\",\"epochs\":%llu,\"steps\":%llu",
                    (unsigned long long)run->last_epoch,
                    (unsigned long long)dpt_trainer_steps(c->tr));
            cli_json_str(run->log, "error", dpt_last_error());
            cli_json_str(run->log, "stop", dpt_stop_reason_name(DPT_STOP_ERROR));
            fputs(",\"interrupted\":false}\n", run->log);
            log_flush(run);
        }
        return cli_fail(st, "training");
    }
    struct final_eval fe;
    int rc = evaluate_final(c, &fe);
    if (rc)
        return rc;
    if (c->rank == 0)
        report_done(c, &fe, cli_now() - t0);
    // The final checkpoint (a later --resume with more --epochs continues from here).
    if (c->ckpt_path && !cli_interrupted())
        write_checkpoint(c);
    return 0;
}

// Saves the model with its data transformation and provenance (atomic: a failure leaves an
// existing file untouched).
static int save_model(struct train_cmd *c, int argc, char **argv)
{
    char *cmd = cli_command_line(argc, argv);
    size_t len = (cmd ? strlen(cmd) : 0) + 128;
    dpt_free(c->d.info.provenance);
    c->d.info.provenance = dpt_malloc(len);
    if (c->d.info.provenance)
        snprintf(c->d.info.provenance, len, "dptrain %s; seed %llu; %s", dpt_version(),
                 (unsigned long long)c->o.p.seed, cmd ? cmd : "");
    dpt_free(cmd);
    enum dpt_status st = dpt_model_save(c->o.save_path, c->net, &c->d.info);
    return st == DPT_OK ? 0 : cli_fail(st, "--save");
}

int cli_train(int argc, char **argv)
{
    struct cli_flag flags[40];
    cli_train_flags(flags, sizeof flags / sizeof flags[0], false);
    const char *pos[1];
    size_t n_pos = 0;
    int rc = cli_parse("train", synopsis, flags, argc, argv, 2, pos, 0, &n_pos);
    if (rc < 0)
        return CLI_OK;
    if (rc)
        return rc;

    struct train_cmd c;
    memset(&c, 0, sizeof c);
    dpt_model_info_init(&c.d.info);
    dpt_model_extra_out_init(&c.ck.extra);
    c.flags = flags;
    c.argc = argc;
    c.argv = argv;
    bool signals = false;
    const char *v;
    c.resume_path = cli_get(flags, "resume");
    if (c.resume_path && cli_get(flags, "init")) {
        rc = cli_error("--init and --resume contradict each other: a resumed run continues from "
                       "the checkpoint's parameters");
        goto cleanup;
    }
    // Resuming: the checkpoint's configuration fills in (and must agree with) the flags.
    if (c.resume_path && (rc = cli_checkpoint_load(c.resume_path, flags, &c.ck)))
        goto cleanup;
    c.ckpt_path = cli_get(flags, "checkpoint") ? cli_get(flags, "checkpoint") : c.resume_path;
    if ((v = cli_get(flags, "checkpoint-every"))) {
        if (!c.ckpt_path) {
            rc = cli_error("--checkpoint-every needs --checkpoint PATH");
            goto cleanup;
        }
        if ((rc = parse_every(v, &c)))
            goto cleanup;
    }
    if ((rc = cli_train_opts_get(flags, false, &c.o)))
        goto cleanup;
#ifdef DPT_HAVE_MPI
    // Under mpirun: one model trained by every rank; rank 0 alone prints, logs and saves.
    if (dpt_mpi_launched()) {
        enum dpt_status st = dpt_mpi_init(&argc, &argv);
        if (st == DPT_OK)
            st = dpt_mpi_comm_create(&c.comm);
        if (st != DPT_OK) {
            rc = cli_fail(st, "MPI");
            goto cleanup;
        }
        c.rank = c.comm->rank;
        c.o.p.comm = c.comm;
        if (c.rank != 0) {
            c.o.quiet = true;
            c.o.save_path = NULL;
            c.o.log_path = NULL;
        }
    }
#endif
    // Output paths are checked before the (possibly long) loading and training. No early exit
    // from here to the agreement below: a rank that left would leave the others waiting.
    if (c.ckpt_path && c.rank == 0)
        rc = cli_check_output("checkpoint", c.ckpt_path);
    if (!rc && c.o.save_path)
        rc = cli_check_output("save", c.o.save_path);
    if (!rc && c.o.log_path && strcmp(c.o.log_path, "-") != 0)
        rc = cli_check_output("log-json", c.o.log_path);
    // Two outputs on one file: the last written would replace the other (a model saved over the
    // checkpoint made a later --resume fail).
    {
        const char *flags[3] = {"checkpoint", "save", "log-json"};
        const char *paths[3] = {c.rank == 0 ? c.ckpt_path : NULL, c.o.save_path,
                                c.o.log_path && strcmp(c.o.log_path, "-") != 0 ? c.o.log_path
                                                                               : NULL};
        for (int i = 0; i < 3 && !rc; i++)
            for (int j = i + 1; j < 3 && !rc; j++)
                if (paths[i] && paths[j] && cli_same_file(paths[i], paths[j]))
                    rc = cli_error("--%s and --%s name the same file ('%s' and '%s')", flags[i],
                                   flags[j], paths[i], paths[j]);
    }
    if (!rc)
        rc = cli_train_prepare(&c.o, true, &c.d);
    if (!rc)
        rc = build_trainer(&c);
#ifdef DPT_HAVE_MPI
    // Every rank stops together when one failed (else the others would wait in a collective).
    if (c.comm && dpt_mpi_all_ok(c.comm, rc ? DPT_ERR_INVALID : DPT_OK) != DPT_OK && !rc)
        rc = cli_fail(DPT_ERR_INVALID, "MPI");
#endif
    if (rc)
        goto cleanup;
    cli_interrupt_begin();
    signals = true;
    if ((rc = fit(&c)))
        goto cleanup;
    if (c.o.save_path && (rc = save_model(&c, argc, argv)))
        goto cleanup;
    if (c.ckpt_failed && c.rank == 0) {
        rc = cli_error(
            "--checkpoint: %u write%s to '%s' failed, the last: %s; training went on%s%s%s",
            c.ckpt_failed, c.ckpt_failed == 1 ? "" : "s", c.ckpt_path, c.ckpt_err,
            c.o.save_path ? " and the model was saved to '"
                          : " (no --save: the model "
                            "is not kept)",
            c.o.save_path ? c.o.save_path : "", c.o.save_path ? "'" : "");
        goto cleanup;
    }
    if (cli_interrupted()) {
        if (!c.ckpt_path)
            cli_warn("interrupted after epoch %llu%s", (unsigned long long)c.run.last_epoch,
                     c.o.save_path ? "; the model was saved" : "");
        rc = CLI_INTERRUPTED;
    }
cleanup:
    if (signals)
        cli_interrupt_end();
    if (c.run.log) {
        // Every error writing the log is reported (unless the run already failed with its own
        // line): a log cut short by a full disk must not pass for a complete one.
        log_flush(&c.run);
        if (c.run.log != stdout && fclose(c.run.log) != 0 && !c.run.log_errno)
            c.run.log_errno = errno ? errno : EIO;
        if (c.run.log_errno && rc == CLI_OK)
            rc = c.run.log == stdout ? cli_error("--log-json: error writing to standard output: %s",
                                                 strerror(c.run.log_errno))
                                     : cli_error("--log-json: error writing '%s': %s", c.o.log_path,
                                                 strerror(c.run.log_errno));
    }
    dpt_trainer_destroy(c.tr);
    dpt_schedule_destroy(c.sched);
    dpt_net_destroy(c.net);
    cli_train_data_cleanup(&c.d);
    cli_checkpoint_cleanup(&c.ck);
#ifdef DPT_HAVE_MPI
    if (c.comm) {
        dpt_mpi_comm_destroy(c.comm);
        dpt_mpi_finalize();
    }
#endif
    return rc;
}
