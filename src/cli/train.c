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

static const char synopsis[] = "--data SPEC [options]\n\n"
                               "Trains a network; every other flag has a default, so\n"
                               "  dptrain train --data fashion-mnist --save model.st\n"
                               "is a complete run.";

// What the per-epoch and progress callbacks need.
struct run {
    FILE *log;     // JSON lines, or NULL
    int log_errno; // the first error writing the log (0: none so far)
    FILE *human;   // epoch lines: stdout, or stderr when the JSON log is stdout
    bool progress; // draw a progress bar on stderr
    bool quiet;
    size_t epochs;
    size_t batch;
    size_t threads;
    const char *engine;
    const char *grad; // the gradient mode in use: private or sliced
    double t_epoch;   // start of the current epoch's steps, for the bar's rate and ETA
    bool classify;
    bool has_test;
    uint64_t last_epoch;
    struct train_cmd *cmd; // for checkpoints written between epochs
    bool ckpt_due;         // the seconds-based checkpoint interval has passed
};

static int write_checkpoint(struct train_cmd *c);

static bool checkpoint_time_due(const struct train_cmd *c);

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
    char bar[26];
    const size_t width = sizeof bar - 1, fill = (size_t)(frac * (double)width);
    for (size_t i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\repoch %llu [%s] %zu/%zu steps  %.0f samples/s  ETA %.1fs  ",
            (unsigned long long)epoch, bar, step, steps, rate, eta);
    fflush(stderr);
    return 0;
}

static void human_epoch(const struct run *r, const struct dpt_epoch_stats *st)
{
    const double busy =
        st->time.compute_s + st->time.wait_s + st->time.reduce_s + st->time.update_s;
    const double pc = busy > 0 ? 100.0 / busy : 0.0;
    FILE *f = r->human;
    fprintf(f, "epoch %3llu/%zu  train loss %.4f", (unsigned long long)st->epoch, r->epochs,
            st->train_loss);
    if (r->classify)
        fprintf(f, " acc %.4f", st->train_acc);
    if (isfinite(st->val_loss)) {
        fprintf(f, "  val loss %.4f", st->val_loss);
        if (r->classify)
            fprintf(f, " acc %.4f", st->val_acc);
    }
    if (isfinite(st->test_loss)) {
        fprintf(f, "  test loss %.4f", st->test_loss);
        if (r->classify)
            fprintf(f, " acc %.4f", st->test_acc);
    }
    fprintf(f,
            "  %.0f samples/s  %.2fs  [compute %.0f%% wait %.0f%% reduce %.0f%% update %.0f%%]\n",
            st->samples_per_s, st->seconds, st->time.compute_s * pc, st->time.wait_s * pc,
            st->time.reduce_s * pc, st->time.update_s * pc);
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
    cli_json_num(f, "samples_per_s", st->samples_per_s);
    cli_json_num(f, "seconds", st->seconds);
    fprintf(f, ",\"steps\":%llu,\"threads\":%zu", (unsigned long long)st->steps, r->threads);
    cli_json_str(f, "engine", r->engine);
    cli_json_str(f, "grad", r->grad);
    cli_json_num(f, "compute_s", st->time.compute_s);
    cli_json_num(f, "wait_s", st->time.wait_s);
    cli_json_num(f, "reduce_s", st->time.reduce_s);
    cli_json_num(f, "update_s", st->time.update_s);
    fputs("}\n", f);
    log_flush(r);
}

static int write_checkpoint_if_due(struct train_cmd *c, uint64_t epoch);

static int on_epoch(const struct dpt_epoch_stats *st, void *user)
{
    struct run *r = user;
    if (r->progress)
        fprintf(stderr, "\r%*s\r", 100, "");
    if (!r->quiet)
        human_epoch(r, st);
    if (r->log)
        json_epoch(r, st);
    r->last_epoch = st->epoch;
    r->t_epoch = cli_now();
    return write_checkpoint_if_due(r->cmd, st->epoch);
}

// The last lines of a run: the JSON "done" event and the final test result.
static void report_done(struct run *r, struct dpt_trainer *tr, const struct dpt_epoch_stats *last,
                        double test_loss, double test_acc, double seconds)
{
    if (r->log) {
        FILE *f = r->log;
        fprintf(f, "{\"event\":\"done\",\"epochs\":%llu,\"steps\":%llu",
                (unsigned long long)r->last_epoch, (unsigned long long)dpt_trainer_steps(tr));
        cli_json_num(f, "train_loss", last->train_loss);
        if (r->classify)
            cli_json_num(f, "train_acc", last->train_acc);
        if (r->has_test) {
            cli_json_num(f, "test_loss", test_loss);
            if (r->classify)
                cli_json_num(f, "test_acc", test_acc);
        }
        cli_json_num(f, "seconds", seconds);
        fprintf(f, ",\"threads\":%zu", r->threads);
        cli_json_str(f, "engine", r->engine);
        cli_json_str(f, "grad", r->grad);
        fprintf(f, ",\"interrupted\":%s}\n", cli_interrupted() ? "true" : "false");
        log_flush(r);
    }
    if (r->has_test) {
        if (r->classify)
            fprintf(r->human, "test accuracy: %.4f (loss %.4f)\n", test_acc, test_loss);
        else
            fprintf(r->human, "test loss: %.6g\n", test_loss);
        fflush(r->human);
    }
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
    run->has_test = c->d.test != NULL;
    struct dpt_train_params p = c->o.p;
    p.on_epoch = on_epoch;
    p.on_progress = on_progress;
    p.progress_every = 10;
    p.user = run;
    if ((st = dpt_trainer_create(c->net, c->sched, &p, &c->tr)) != DPT_OK)
        return cli_fail(st, "trainer");
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
    if (!run->quiet) {
        char layers[256];
        cli_format_layers(&c->d.spec, layers, sizeof layers);
        fprintf(run->human,
                "dptrain %s: %zu training samples, layers %s, %zu parameters, %zu threads (%s, "
                "%s gradients), schedule %s, batch %zu\n",
                dpt_version(), dpt_dataset_n(c->d.train), layers, dpt_net_n_trainable(c->net),
                run->threads, run->engine, run->grad, c->o.schedule, p.batch);
        fflush(run->human);
    }
    return 0;
}

// Runs the epochs with Ctrl-C handling, evaluates the test set and writes the final lines. A
// stop we asked for (Ctrl-C) ends training between steps: the parameters are consistent, so the
// run is reported (and saved) like a finished one; cli_interrupted() then says so.
static int fit(struct train_cmd *c)
{
    struct run *run = &c->run;
    struct dpt_epoch_stats last;
    memset(&last, 0, sizeof last);
    last.train_loss = last.train_acc = NAN;
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
    if (run->progress)
        fprintf(stderr, "\r%*s\r", 100, "");
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
            fputs(",\"interrupted\":false}\n", run->log);
            log_flush(run);
        }
        return cli_fail(st, "training");
    }
    double test_loss = NAN, test_acc = NAN;
    if (c->d.test && (st = dpt_trainer_evaluate(c->tr, c->d.test, &test_loss, &test_acc)) != DPT_OK)
        return cli_fail(st, "evaluation");
    if (c->rank == 0)
        report_done(run, c->tr, &last, test_loss, test_acc, cli_now() - t0);
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
