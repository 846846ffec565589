// `dptrain scale`: a scaling experiment. Runs every configuration (engine x placement x gradient
// mode x thread count) R times on a fresh network with the same seed, under strong scaling (the
// batch fixed) or weak scaling (the batch per thread fixed), measures training throughput from the
// trainer's epoch statistics (evaluation excluded), and reports medians with their spread over the
// repeats, speedup over one thread, parallel efficiency, the Karp-Flatt serial fraction, the
// per-worker imbalance, the time breakdown and, with --target-acc, the time, steps and epochs to a
// test accuracy: a table on stdout, a CSV with every raw run and the machine and versions in its
// header, and a plot.
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cli_impl.h"

static const char synopsis[] =
    "--data SPEC --threads-list 1,2,4 [--scaling strong|weak] [--grad G,...]\n"
    "              [--engines pthreads,openmp] [--pins compact,scatter] [--repeat R]\n"
    "              [--target-acc A [--test SPEC]] --csv FILE [--plot FILE.svg|FILE.png]\n"
    "              [train options]\n\n"
    "Trains --epochs (default 1) epochs per run, R runs per configuration, each on a fresh\n"
    "network with the same seed. Strong scaling keeps --batch for every thread count; weak\n"
    "scaling runs --batch samples per thread (a global batch of B x T). The openmp engine\n"
    "ignores --pins (it places threads by OMP_PROC_BIND/OMP_PLACES): it runs once per thread\n"
    "count, placement 'omp'. With --target-acc every run is evaluated on the test set after\n"
    "each epoch and stops at the first epoch that reaches the accuracy (at most --epochs,\n"
    "default 10 then).";

enum {
    MAX_THREADS_LIST = 64,
    MAX_ENGINES = 2,
    MAX_PINS = 3,
    MAX_GRADS = 3,
    MAX_SERIES = MAX_ENGINES * MAX_PINS * MAX_GRADS,
    MAX_WORKERS = 1024, // the largest thread count --threads-list takes
    TARGET_EPOCHS = 10, // the default --epochs with --target-acc
};

// The default --spread-warn: a configuration whose fastest repeat is 1.25x its slowest or more
// was measured on a machine busy enough to doubt its median.
static const double SPREAD_WARN = 1.25;

enum scaling { STRONG = 0, WEAK = 1 };
static const char *const scaling_names[] = {"strong", "weak"};

struct config {
    enum dpt_engine engine;
    enum dpt_pin pin;
    const char *pin_name;    // "compact", ..., or "omp" for the openmp engine
    enum dpt_grad_mode grad; // as asked with --grad (auto is resolved per run)
    size_t threads;
    size_t batch; // the global batch: --batch (strong), or --batch x threads (weak)
    size_t base;  // index of the 1-thread configuration of the same series
    bool oversubscribed;
};

struct result {
    size_t samples;
    double seconds;
    double sps;
    struct dpt_timing t;
    double imbalance; // max / mean over the workers of their compute time
    double train_loss;
    double test_acc; // after the last epoch (--target-acc only), else NAN
    bool reached;    // the test accuracy reached --target-acc
    double target_s; // training time (evaluation excluded) up to that epoch's end
    uint64_t target_steps;
    size_t target_epochs;
    size_t threads_used;
    const char *grad; // the gradient mode in use ("private" or "sliced")
    char placement[256];
};

// Medians over the repeats of one configuration, with the throughput's extremes.
struct summary {
    double sps, sps_min, sps_max, seconds, train_loss, imbalance, test_acc;
    double predicted_sps; // the scaling proxy's prediction (--predict), else NAN
    struct dpt_timing t;
    size_t reached;                               // repeats that reached --target-acc
    double target_s, target_steps, target_epochs; // INFINITY when the median run did not reach it
};

// What the experiment is, besides the training options.
struct experiment {
    const struct cli_train_opts *o;
    const struct cli_train_data *d;
    char layers[256], acts[256];
    enum scaling scaling;
    double target_acc; // NAN without --target-acc
    double spread_warn;
    size_t repeat;
    size_t cores; // usable cores (0: unknown)
    size_t n_engines, n_pins, n_grads;
    // Test hook: DPT_TEST_SCALE_SECONDS=S1,S2,... replaces the measured training time of run k
    // (in run order, repeats outermost) by S(k mod n), so the tests can check speedups, spreads
    // and the caveats on numbers they choose. The CSV says so when it is in effect.
    double fake_s[16];
    size_t n_fake;
    bool predict;                 // --predict: the scaling proxy's rate beside each measured one
    struct cli_proxy_model model; // its model of this machine
};

// ---- statistics ----

// The median of one double field of n results (each measured quantity separately).
static double median_field(const struct result *x, size_t n, size_t offset, double *tmp)
{
    for (size_t r = 0; r < n; r++)
        memcpy(&tmp[r], (const char *)&x[r] + offset, sizeof *tmp);
    return cli_median(tmp, n);
}

// Karp-Flatt experimentally determined serial fraction e = (1/S - 1/T) / (1 - 1/T). It assumes a
// fixed amount of work, so it has no meaning under weak scaling (NAN there).
static double karp_flatt(const struct experiment *x, double speedup, size_t threads)
{
    if (x->scaling != STRONG || threads < 2 || !(speedup > 0))
        return NAN;
    const double t = (double)threads;
    return (1.0 / speedup - 1.0 / t) / (1.0 - 1.0 / t);
}

static double pct(double part, const struct dpt_timing *t)
{
    const double sum = t->compute_s + t->wait_s + t->reduce_s + t->update_s;
    return sum > 0 ? 100.0 * part / sum : NAN;
}

// --predict: the scaling proxy's rate (bench --proxy, on one core of this machine) for every
// configuration, into predicted_sps, beside the measured one in the CSV, the table and the plot.
// A strong series is one sweep of its thread counts; under weak scaling the batch changes with T,
// so each thread count is a sweep of its own from 1 thread at that batch. The proxy models the
// pthreads engine with compact placement; other engines and placements get the same prediction.
// Returns 0, or -1 with dpt_last_error() set (the predictions made so far stay).
static int predict_all(const struct experiment *x, const struct config *cfg, size_t n_cfg,
                       struct summary *sum)
{
    const struct cli_train_opts *o = x->o;
    const size_t n = dpt_dataset_n(x->d->train);
    size_t threads[MAX_THREADS_LIST + 1];
    double sps[MAX_THREADS_LIST + 1];
    for (size_t i = 0; i < n_cfg; i++) {
        const struct config *c = &cfg[i];
        if (x->scaling == STRONG && c->base != i)
            continue; // predicted with its series' 1-thread configuration
        size_t k = 0;
        threads[k++] = 1;
        if (x->scaling == STRONG) {
            for (size_t j = 0; j < n_cfg; j++)
                if (cfg[j].base == i && j != i)
                    threads[k++] = cfg[j].threads;
        } else if (c->threads > 1)
            threads[k++] = c->threads;
        for (size_t a = 2; a < k; a++) // ascending, as the model needs (1 is first already)
            for (size_t b = a; b > 1 && threads[b - 1] > threads[b]; b--) {
                const size_t t = threads[b];
                threads[b] = threads[b - 1];
                threads[b - 1] = t;
            }
        const size_t used = o->p.drop_last && n >= c->batch ? n - n % c->batch : n;
        const uint64_t epoch_steps = (uint64_t)((used + c->batch - 1) / c->batch);
        const struct cli_proxy_work w = {"net", x->d->spec, c->batch, o->schedule};
        if (!o->quiet)
            fprintf(stderr, "scale: predicting %s%s%zu thread%s at batch %zu with the proxy\n",
                    x->n_grads > 1 ? dpt_grad_mode_name(c->grad) : "", x->n_grads > 1 ? " " : "",
                    threads[k - 1], threads[k - 1] == 1 ? "" : "s", c->batch);
        if (cli_proxy_predict(&x->model, &w, c->grad, epoch_steps ? epoch_steps : 1, threads, k,
                              sps) != DPT_OK)
            return -1;
        if (x->scaling == WEAK) {
            sum[i].predicted_sps = sps[k - 1];
            continue;
        }
        for (size_t j = 0; j < n_cfg; j++)
            if (cfg[j].base == i)
                for (size_t t = 0; t < k; t++)
                    if (threads[t] == cfg[j].threads)
                        sum[j].predicted_sps = sps[t];
    }
    return 0;
}

// ---- one run ----

static void placement_text(const int *pu, size_t nth, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t t = 0; t < nth && used + 1 < len; t++) {
        if (pu[t] < 0)
            used += (size_t)snprintf(buf + used, len - used, "%s-", t ? ";" : "");
        else
            used += (size_t)snprintf(buf + used, len - used, "%s%d", t ? ";" : "", pu[t]);
    }
    if (used >= len && len > 4)
        memcpy(buf + len - 4, "...", 4); // very long lists are cut, visibly
}

static int run_one(const struct experiment *x, const struct config *c, size_t k, struct result *r,
                   char *warned, size_t warned_len)
{
    const struct cli_train_opts *o = x->o;
    const struct cli_train_data *d = x->d;
    struct dpt_net *net = NULL;
    struct dpt_schedule *sched = NULL;
    struct dpt_trainer *tr = NULL;
    enum dpt_status st;
    int rc;
    memset(r, 0, sizeof *r);
    r->test_acc = NAN;
    if ((rc = cli_train_new_net(d, o->p.seed, &net)))
        goto cleanup;
    if ((rc = cli_train_schedule(o, d, &sched)))
        goto cleanup;
    struct dpt_train_params p = o->p;
    p.threads = c->threads;
    p.engine = c->engine;
    p.pin = c->pin;
    p.grad_mode = c->grad;
    p.batch = c->batch;
    p.on_epoch = NULL;
    p.on_progress = NULL;
    if ((st = dpt_trainer_create(net, sched, &p, &tr)) != DPT_OK) {
        rc = cli_fail(st, "trainer");
        goto cleanup;
    }
    // Each distinct warning once (the same oversubscription note would repeat every run).
    const char *w = dpt_trainer_warnings(tr);
    if (w[0] && !o->quiet && strcmp(w, warned) != 0) {
        cli_warn("%s", w);
        snprintf(warned, warned_len, "%s", w);
    }
    r->threads_used = dpt_trainer_threads(tr);
    r->grad = dpt_grad_mode_name(dpt_trainer_grad_mode(tr));
    placement_text(dpt_trainer_placement(tr), r->threads_used, r->placement, sizeof r->placement);
    double compute[MAX_WORKERS] = {0}; // per worker, summed over the epochs
    const size_t nth = r->threads_used < MAX_WORKERS ? r->threads_used : MAX_WORKERS;
    cli_interrupt_trainer(tr);
    for (size_t e = 0; e < o->p.max_epochs && !cli_interrupted(); e++) {
        struct dpt_epoch_stats es;
        // No validation or test evaluation inside the epoch: only training steps are timed.
        if ((st = dpt_trainer_epoch(tr, d->train, NULL, NULL, &es)) != DPT_OK) {
            cli_interrupt_trainer(NULL);
            rc = cli_fail(st, "training");
            goto cleanup;
        }
        r->samples += es.n_samples;
        r->seconds += es.seconds;
        r->t.compute_s += es.time.compute_s;
        r->t.wait_s += es.time.wait_s;
        r->t.reduce_s += es.time.reduce_s;
        r->t.update_s += es.time.update_s;
        r->train_loss = es.train_loss;
        const struct dpt_timing *wt = dpt_trainer_worker_timing(tr);
        for (size_t t = 0; t < nth; t++)
            compute[t] += wt[t].compute_s;
        if (es.partial)
            break;
        if (isnan(x->target_acc))
            continue;
        double loss, acc;
        if ((st = dpt_trainer_evaluate(tr, d->test, &loss, &acc)) != DPT_OK) {
            cli_interrupt_trainer(NULL);
            rc = cli_fail(st, "evaluation");
            goto cleanup;
        }
        r->test_acc = acc;
        if (acc >= x->target_acc) {
            r->reached = true;
            r->target_s = r->seconds;
            r->target_steps = dpt_trainer_steps(tr);
            r->target_epochs = e + 1;
            break;
        }
    }
    cli_interrupt_trainer(NULL);
    double sum = 0, max = 0;
    for (size_t t = 0; t < nth; t++) {
        sum += compute[t];
        max = compute[t] > max ? compute[t] : max;
    }
    r->imbalance = sum > 0 ? max / (sum / (double)nth) : NAN;
    if (x->n_fake > 0 && r->seconds > 0) {
        const double fake = x->fake_s[k % x->n_fake];
        r->target_s *= fake / r->seconds;
        r->seconds = fake;
    }
    r->sps = r->seconds > 0 ? (double)r->samples / r->seconds : 0.0;
    rc = 0;
cleanup:
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
    return rc;
}

static void summarise(const struct experiment *x, const struct result *res, struct summary *s,
                      double *tmp)
{
    const size_t n = x->repeat;
    s->sps = median_field(res, n, offsetof(struct result, sps), tmp);
    s->sps_min = tmp[0]; // cli_median() sorted tmp
    s->sps_max = tmp[n - 1];
    s->seconds = median_field(res, n, offsetof(struct result, seconds), tmp);
    s->train_loss = median_field(res, n, offsetof(struct result, train_loss), tmp);
    s->imbalance = median_field(res, n, offsetof(struct result, imbalance), tmp);
    s->test_acc = median_field(res, n, offsetof(struct result, test_acc), tmp);
    s->t.compute_s = median_field(res, n, offsetof(struct result, t.compute_s), tmp);
    s->t.wait_s = median_field(res, n, offsetof(struct result, t.wait_s), tmp);
    s->t.reduce_s = median_field(res, n, offsetof(struct result, t.reduce_s), tmp);
    s->t.update_s = median_field(res, n, offsetof(struct result, t.update_s), tmp);
    s->predicted_sps = NAN; // predict_all() fills it with --predict
    // A run that did not reach the target counts as infinitely slow: the median reached it only
    // when more than half of the repeats did.
    s->reached = 0;
    for (size_t r = 0; r < n; r++)
        s->reached += res[r].reached;
    for (size_t r = 0; r < n; r++)
        tmp[r] = res[r].reached ? res[r].target_s : INFINITY;
    s->target_s = cli_median(tmp, n);
    for (size_t r = 0; r < n; r++)
        tmp[r] = res[r].reached ? (double)res[r].target_steps : INFINITY;
    s->target_steps = cli_median(tmp, n);
    for (size_t r = 0; r < n; r++)
        tmp[r] = res[r].reached ? (double)res[r].target_epochs : INFINITY;
    s->target_epochs = cli_median(tmp, n);
}

// ---- the CSV ----

static void cpu_model(char *buf, size_t len)
{
    cli_cpu_model(buf, len);
    struct utsname u;
    if (uname(&u) == 0) {
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, " (%s, %s %s)", u.machine, u.sysname, u.release);
    }
}

// Comment lines first: what a later reader needs to reproduce and compare the numbers.
static void csv_header(FILE *f, const struct experiment *x, int argc, char **argv)
{
    char cpu[512], desc[512] = "(topology unavailable)", host[256] = "";
    cpu_model(cpu, sizeof cpu);
    struct dpt_topo *topo = NULL;
    if (dpt_topo_create(&topo) == DPT_OK)
        dpt_topo_describe(topo, desc, sizeof desc);
    dpt_topo_destroy(topo);
    gethostname(host, sizeof host - 1);
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *cmd = cli_command_line(argc, argv);
    fprintf(f, "# dptrain scale\n");
    fprintf(f, "# date: %s\n", date);
    fprintf(f, "# host: %s\n", host);
    fprintf(f, "# cpu: %s\n", cpu);
    fprintf(f, "# topology: %s\n", desc);
    fprintf(f, "# allowed cores: %zu\n", x->cores);
    fprintf(f, "# versions: %s\n", dpt_build_info());
    fprintf(f, "# command: %s\n", cmd ? cmd : "");
    free(cmd);
    if (x->scaling == WEAK)
        fprintf(f,
                "# weak scaling: %zu samples per thread and step, so batch = %zu x threads; "
                "karp_flatt is empty (it assumes a fixed amount of work)\n",
                x->o->p.batch, x->o->p.batch);
    else
        fprintf(f,
                "# strong scaling: batch %zu at every thread count; karp_flatt above 1 means a "
                "speedup below 1, below 0 a speedup above threads: outside [0, 1] it is no "
                "serial fraction\n",
                x->o->p.batch);
    fprintf(f,
            "# kind=run rows are single runs, kind=median rows the medians over the %zu "
            "repeats (samples_per_s_min/max: the slowest and fastest repeat); speedup is over "
            "the median of 1 thread in the same series (engine, pin, grad_flag)\n",
            x->repeat);
    if (x->predict)
        fprintf(f,
                "# predicted_samples_per_s (--predict): the scaling proxy (dptrain bench --proxy) "
                "on one core of this machine, for the pthreads engine with compact placement; "
                "model: memory bandwidth %.4g GB/s per NUMA node, one node, line transfer %.4g ns "
                "(%s)\n",
                x->model.m.mem_bw * 1e-9, x->model.m.line_s * 1e9, x->model.line_source);
    else
        fprintf(f, "# predicted_samples_per_s is empty: run with --predict to fill it\n");
    if (!isnan(x->target_acc))
        fprintf(f,
                "# target: test accuracy %.9g after an epoch; time_to_target_s is training "
                "time (evaluation excluded); empty where it was not reached (a median: by "
                "half of the repeats or more)\n",
                x->target_acc);
    if (x->n_fake > 0)
        fprintf(f, "# test hook DPT_TEST_SCALE_SECONDS in effect: seconds were not measured\n");
    fputs("kind,scaling,engine,pin,grad_flag,threads,oversubscribed,repeat,placement,data,n_train,"
          "layers,act,loss,reduction,schedule,batch,epochs,seed,reproducible,grad,normalize,init,"
          "samples,seconds,samples_per_s,samples_per_s_min,samples_per_s_max,"
          "predicted_samples_per_s,speedup,speedup_min,speedup_max,efficiency,karp_flatt,"
          "imbalance,compute_s,wait_s,reduce_s,update_s,compute_pct,wait_pct,reduce_pct,"
          "update_pct,train_loss,test_acc,target_acc,target_reached,time_to_target_s,"
          "steps_to_target,epochs_to_target\n",
          f);
}

// One row's values; the configuration's come from struct config and the experiment.
struct row {
    const char *kind, *repeat, *placement, *grad;
    size_t samples;
    double seconds, sps, sps_min, sps_max, predicted, base_sps, imbalance, train_loss, test_acc;
    struct dpt_timing t;
    double reached; // fraction of the runs that reached the target (NAN: no target)
    double target_s, target_steps, target_epochs;
};

static void csv_row(FILE *f, const struct experiment *x, const struct config *c,
                    const struct row *v)
{
    static const char *const norms[] = {"none", "minmax", "standard"};
    const struct cli_train_opts *o = x->o;
    const struct dpt_net_spec *spec = &x->d->spec;
    cli_csv_field(f, v->kind, false);
    cli_csv_field(f, scaling_names[x->scaling], true);
    cli_csv_field(f, dpt_engine_name(c->engine), true);
    cli_csv_field(f, c->pin_name, true);
    cli_csv_field(f, dpt_grad_mode_name(c->grad), true);
    fprintf(f, ",%zu,%d", c->threads, c->oversubscribed ? 1 : 0);
    cli_csv_field(f, v->repeat, true);
    cli_csv_field(f, v->placement, true);
    cli_csv_field(f, o->data_spec, true);
    fprintf(f, ",%zu", dpt_dataset_n(x->d->train));
    cli_csv_field(f, x->layers, true);
    cli_csv_field(f, x->acts, true);
    cli_csv_field(f, dpt_loss_name(spec->loss), true);
    cli_csv_field(f, dpt_reduction_name(spec->reduction), true);
    cli_csv_field(f, o->schedule, true);
    fprintf(f, ",%zu,%zu,%llu,%d", c->batch, o->p.max_epochs, (unsigned long long)o->p.seed,
            o->p.reproducible ? 1 : 0);
    cli_csv_field(f, v->grad, true);
    cli_csv_field(f, norms[x->d->info.norm.kind], true);
    cli_csv_field(f, o->init_path ? o->init_path : "", true);
    fprintf(f, ",%zu", v->samples);
    cli_csv_num(f, v->seconds);
    cli_csv_num(f, v->sps);
    cli_csv_num(f, v->sps_min);
    cli_csv_num(f, v->sps_max);
    cli_csv_num(f, v->predicted);
    const double b = v->base_sps > 0 ? v->base_sps : NAN;
    const double speedup = v->sps / b;
    cli_csv_num(f, speedup);
    cli_csv_num(f, v->sps_min / b);
    cli_csv_num(f, v->sps_max / b);
    cli_csv_num(f, speedup / (double)c->threads);
    cli_csv_num(f, karp_flatt(x, speedup, c->threads));
    cli_csv_num(f, v->imbalance);
    cli_csv_num(f, v->t.compute_s);
    cli_csv_num(f, v->t.wait_s);
    cli_csv_num(f, v->t.reduce_s);
    cli_csv_num(f, v->t.update_s);
    cli_csv_num(f, pct(v->t.compute_s, &v->t));
    cli_csv_num(f, pct(v->t.wait_s, &v->t));
    cli_csv_num(f, pct(v->t.reduce_s, &v->t));
    cli_csv_num(f, pct(v->t.update_s, &v->t));
    cli_csv_num(f, v->train_loss);
    cli_csv_num(f, v->test_acc);
    cli_csv_num(f, x->target_acc);
    cli_csv_num(f, v->reached);
    cli_csv_num(f, v->target_s);
    cli_csv_num(f, v->target_steps);
    cli_csv_num(f, v->target_epochs);
    fputc('\n', f);
}

static void write_csv(FILE *f, const struct experiment *x, const struct config *cfg, size_t n_cfg,
                      const struct result *res, const struct summary *sum, int argc, char **argv)
{
    const bool target = !isnan(x->target_acc);
    csv_header(f, x, argc, argv);
    for (size_t i = 0; i < n_cfg; i++) {
        for (size_t r = 0; r < x->repeat; r++) {
            const struct result *y = &res[i * x->repeat + r];
            char rep[32];
            snprintf(rep, sizeof rep, "%zu", r + 1);
            const struct row v = {
                .kind = "run",
                .repeat = rep,
                .placement = y->placement,
                .grad = y->grad,
                .samples = y->samples,
                .seconds = y->seconds,
                .sps = y->sps,
                .sps_min = NAN,
                .sps_max = NAN,
                .predicted = NAN,
                .base_sps = sum[cfg[i].base].sps,
                .imbalance = y->imbalance,
                .train_loss = y->train_loss,
                .test_acc = y->test_acc,
                .t = y->t,
                .reached = target ? (double)y->reached : NAN,
                .target_s = y->reached ? y->target_s : NAN,
                .target_steps = y->reached ? (double)y->target_steps : NAN,
                .target_epochs = y->reached ? (double)y->target_epochs : NAN,
            };
            csv_row(f, x, &cfg[i], &v);
        }
    }
    for (size_t i = 0; i < n_cfg; i++) {
        const struct result *y = &res[i * x->repeat];
        const struct summary *s = &sum[i];
        const struct row v = {
            .kind = "median",
            .repeat = "median",
            .placement = y->placement,
            .grad = y->grad,
            .samples = y->samples,
            .seconds = s->seconds,
            .sps = s->sps,
            .sps_min = s->sps_min,
            .sps_max = s->sps_max,
            .predicted = s->predicted_sps,
            .base_sps = sum[cfg[i].base].sps,
            .imbalance = s->imbalance,
            .train_loss = s->train_loss,
            .test_acc = s->test_acc,
            .t = s->t,
            .reached = target ? (double)s->reached / (double)x->repeat : NAN,
            .target_s = s->target_s,
            .target_steps = s->target_steps,
            .target_epochs = s->target_epochs,
        };
        csv_row(f, x, &cfg[i], &v);
    }
}

// ---- the plot ----

// A series' legend name: the parts of the configuration that vary between series.
static void series_name(const struct experiment *x, const struct config *c, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    if (x->n_engines > 1)
        used += (size_t)snprintf(buf + used, len - used, "%s", dpt_engine_name(c->engine));
    if (x->n_pins > 1 && used < len)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? "/" : "", c->pin_name);
    if (x->n_grads > 1 && used < len)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? "/" : "",
                                 dpt_grad_mode_name(c->grad));
    if (!buf[0])
        snprintf(buf, len, "measured");
}

// The thread counts beyond the cores, shaded from halfway between the last measured count within
// them and the first beyond, in the panels that follow (until unset), and named in the x label.
static void cores_marker(FILE *g, const struct experiment *x, const struct config *cfg,
                         size_t n_cfg, size_t max_threads, double hi)
{
    if (x->cores == 0 || max_threads <= x->cores) {
        fputs("set xlabel 'threads'\n", g);
        return;
    }
    size_t below = 1, above = max_threads;
    for (size_t i = 0; i < n_cfg; i++) {
        if (cfg[i].threads <= x->cores && cfg[i].threads > below)
            below = cfg[i].threads;
        if (cfg[i].threads > x->cores && cfg[i].threads < above)
            above = cfg[i].threads;
    }
    fprintf(g,
            "set object 1 rect from %g, graph 0 to %g, graph 1 behind fc rgb '#ebebeb' "
            "fs solid noborder\n"
            "set xlabel 'threads (shaded: more than the %zu cores, oversubscribed)'\n",
            0.5 * (double)(below + above), hi, x->cores);
}

static int write_plot(const char *path, const struct experiment *x, const struct config *cfg,
                      size_t n_cfg, const struct summary *sum)
{
    const bool target = !isnan(x->target_acc);
    struct cli_plot pl;
    int rc = cli_plot_begin(&pl, path, "plot", target ? 1300 : 1600, target ? 900 : 500);
    if (rc)
        return rc;
    // One data file per series: threads, samples/s (median, min, max), efficiency (median, min,
    // max), predicted samples/s, time to the target ('?' where missing).
    char files[MAX_SERIES][128];
    size_t first[MAX_SERIES], n_series = 0, max_threads = 0;
    bool predicted = false, any_reached = false;
    double best_base = 0;
    for (size_t i = 0; i < n_cfg; i++) {
        max_threads = cfg[i].threads > max_threads ? cfg[i].threads : max_threads;
        if (cfg[i].base != i)
            continue;
        FILE *f = cli_plot_file(&pl, files[n_series], sizeof files[n_series]);
        if (!f) {
            cli_plot_abort(&pl);
            return cli_error("--plot: cannot write a temporary data file");
        }
        const double b = sum[i].sps;
        best_base = b > best_base ? b : best_base;
        for (size_t j = 0; j < n_cfg; j++) {
            if (cfg[j].base != i)
                continue;
            const double t = (double)cfg[j].threads;
            fprintf(f, "%zu %.9g %.9g %.9g %.9g %.9g %.9g", cfg[j].threads, sum[j].sps,
                    sum[j].sps_min, sum[j].sps_max, sum[j].sps / b / t, sum[j].sps_min / b / t,
                    sum[j].sps_max / b / t);
            if (isfinite(sum[j].predicted_sps)) {
                fprintf(f, " %.9g", sum[j].predicted_sps);
                predicted = true;
            } else {
                fputs(" ?", f);
            }
            if (isfinite(sum[j].target_s)) {
                fprintf(f, " %.9g\n", sum[j].target_s);
                any_reached = true;
            } else {
                fputs(" ?\n", f);
            }
        }
        fclose(f);
        first[n_series++] = i;
    }
    // The time breakdown: one bar per configuration.
    char bd[128];
    FILE *f = cli_plot_file(&pl, bd, sizeof bd);
    if (!f) {
        cli_plot_abort(&pl);
        return cli_error("--plot: cannot write a temporary data file");
    }
    for (size_t i = 0; i < n_cfg; i++) {
        char name[96];
        series_name(x, &cfg[i], name, sizeof name);
        if (n_series > 1)
            fprintf(f, "\"%s %zu\"", name, cfg[i].threads);
        else
            fprintf(f, "\"%zu thread%s\"", cfg[i].threads, cfg[i].threads == 1 ? "" : "s");
        fprintf(f, " %.6g %.6g %.6g %.6g\n", pct(sum[i].t.compute_s, &sum[i].t),
                pct(sum[i].t.wait_s, &sum[i].t), pct(sum[i].t.reduce_s, &sum[i].t),
                pct(sum[i].t.update_s, &sum[i].t));
    }
    fclose(f);

    FILE *g = pl.script;
    const struct cli_train_opts *o = x->o;
    char title[700];
    if (x->scaling == WEAK)
        snprintf(title, sizeof title,
                 "dptrain scale, weak scaling: %s, layers %s, batch %zu per thread, %s",
                 o->data_spec, x->layers, o->p.batch, o->schedule);
    else
        snprintf(title, sizeof title, "dptrain scale, strong scaling: %s, layers %s, batch %zu, %s",
                 o->data_spec, x->layers, o->p.batch, o->schedule);
    fprintf(g, "set multiplot layout %s title ", target ? "2,2" : "1,3");
    cli_gp_quote(g, title);
    // Tics at the measured thread counts (those of the first series; all series share them).
    fputs("\nset xtics (", g);
    for (size_t j = 0; j < n_cfg && cfg[j].base == cfg[0].base; j++)
        fprintf(g, "%s%zu", j ? ", " : "", cfg[j].threads);
    // A margin of 4% each side, so that the error bars at the ends show.
    const double pad = max_threads > 1 ? 0.04 * (double)(max_threads - 1) : 0.5;
    fprintf(g, ")\nset xrange [%g:%g]\n", 1.0 - pad, (double)max_threads + pad);
    fputs("set key top left Left reverse\nset yrange [0:*]\nset format y '%.1s%c'\n", g);
    cores_marker(g, x, cfg, n_cfg, max_threads, (double)max_threads + pad);
    // Throughput: medians with the spread as error bars, one shared ideal line.
    char name[96];
    fprintf(g,
            "set title 'throughput (median; bars: slowest to fastest of %zu runs)'\n"
            "set ylabel 'samples/s'\nplot ",
            x->repeat);
    // Series at the same thread count are drawn a little apart, so that their bars stay apart.
    const double dodge = 0.012 * (max_threads > 1 ? (double)(max_threads - 1) : 1.0);
    for (size_t s = 0; s < n_series; s++) {
        series_name(x, &cfg[first[s]], name, sizeof name);
        fputs(s ? ", " : "", g);
        cli_gp_quote(g, files[s]);
        fprintf(g, " using ($1 + %g):2:3:4 with yerrorlines lc %zu pt 7 ps 0.8 title ",
                dodge * ((double)s - 0.5 * (double)(n_series - 1)), s + 1);
        cli_gp_quote(g, name);
        if (predicted) {
            char pname[128];
            snprintf(pname, sizeof pname, "%s, predicted", name);
            fputs(", ", g);
            cli_gp_quote(g, files[s]);
            fprintf(g, " using ($1 + %g):8 with linespoints lc %zu dt 3 pt 6 title ",
                    dodge * ((double)s - 0.5 * (double)(n_series - 1)), s + 1);
            cli_gp_quote(g, pname);
        }
    }
    // The ideal: linear in the threads from the best 1-thread median, at the measured counts.
    fputs(", ", g);
    cli_gp_quote(g, files[0]);
    fprintf(g, " using 1:($1 * %.9g) with lines lc rgb 'black' dt 2 title '%s'\n", best_base,
            n_series > 1 ? "ideal: linear from the best 1-thread rate" : "ideal (linear)");
    // Parallel efficiency, one shared ideal line at 1.
    fputs("set title 'parallel efficiency (speedup / threads)'\nset ylabel 'efficiency'\n"
          "set format y '%g'\nset yrange [0:1.1<*]\nset key bottom left Left reverse\nplot ",
          g);
    for (size_t s = 0; s < n_series; s++) {
        series_name(x, &cfg[first[s]], name, sizeof name);
        fputs(s ? ", " : "", g);
        cli_gp_quote(g, files[s]);
        fprintf(g, " using ($1 + %g):5:6:7 with yerrorlines lc %zu pt 7 ps 0.8 title ",
                dodge * ((double)s - 0.5 * (double)(n_series - 1)), s + 1);
        cli_gp_quote(g, name);
    }
    fputs(", 1 with lines lc rgb 'black' dt 2 title 'ideal'\n", g);
    if (target) {
        fprintf(g,
                "set title 'time to test accuracy %g (median; training time)'\n"
                "set ylabel 'seconds'\nset yrange [0:*]\nset key top left Left reverse\n",
                x->target_acc);
        if (!any_reached)
            fprintf(g,
                    "set label 2 'not reached in any configuration (%zu epochs at most)' at "
                    "graph 0.5, graph 0.5 center\nset yrange [0:1]\n",
                    o->p.max_epochs);
        fputs("plot ", g);
        for (size_t s = 0; s < n_series; s++) {
            series_name(x, &cfg[first[s]], name, sizeof name);
            // The thread counts where the median run did not reach the target, in the legend.
            char miss[160] = "";
            size_t used = 0;
            for (size_t j = 0; j < n_cfg && used < sizeof miss; j++)
                if (cfg[j].base == first[s] && !isfinite(sum[j].target_s))
                    used += (size_t)snprintf(miss + used, sizeof miss - used, "%s%zu",
                                             used ? ", " : " (not reached at ", cfg[j].threads);
            if (used && used < sizeof miss - 1)
                strcat(miss, ")");
            char t2[280];
            snprintf(t2, sizeof t2, "%s%s", name, miss);
            fputs(s ? ", " : "", g);
            if (any_reached) {
                cli_gp_quote(g, files[s]);
                fprintf(g, " using 1:9 with linespoints lc %zu pt 7 ps 0.8 title ", s + 1);
            } else {
                fprintf(g, "NaN with linespoints lc %zu pt 7 title ", s + 1);
            }
            cli_gp_quote(g, t2);
        }
        fputs("\nunset label 2\n", g);
    }
    fputs("unset object 1\n", g);
    // One bar per configuration, named under it (by its thread count alone when there is one
    // series); no axis label, which the legend below would overlap.
    fprintf(g, "set title 'time breakdown (median run)'\nunset xlabel\nset xtics %s autofreq\n",
            n_series > 1 ? "rotate by 45 right" : "norotate");
    fputs("set ylabel 'percent of worker time'\nset yrange [0:100]\nset xrange [*:*]\n"
          "set key outside bottom center horizontal noreverse Right\nset style data histograms\n"
          "set style histogram rowstacked\nset style fill solid 0.8 border -1\n"
          "set boxwidth 0.75\nplot ",
          g);
    cli_gp_quote(g, bd);
    fputs(" using 2:xtic(1) title 'compute', '' using 3 title 'wait', '' using 4 title 'reduce', "
          "'' using 5 title 'update'\n",
          g);
    return cli_plot_finish(&pl);
}

// ---- the command ----

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int parse_engine(const char *name, int *out)
{
    enum dpt_engine e;
    enum dpt_status st = dpt_engine_parse(name, &e);
    *out = (int)e;
    return st;
}

static int parse_pin(const char *name, int *out)
{
    enum dpt_pin p;
    enum dpt_status st = dpt_pin_parse(name, &p);
    *out = (int)p;
    return st;
}

static int parse_grad(const char *name, int *out)
{
    enum dpt_grad_mode g;
    enum dpt_status st = dpt_grad_mode_parse(name, &g);
    *out = (int)g;
    return st;
}

// A comma-separated list of names (--engines, --pins, --grad) into out[]: each parsed by
// `parse`, none twice. Returns the count, or -1 after printing an error naming the flag.
static int name_list(const char *v, const char *flag, const char *dflt, int max, const char *all,
                     int (*parse)(const char *, int *), int *out)
{
    char *buf = NULL;
    const char *parts[8];
    int k = cli_split(v ? v : dflt, &buf, parts, (size_t)max);
    if (k < 0) {
        free(buf);
        cli_error("--%s: '%s': at most %s", flag, v, all);
        return -1;
    }
    for (int i = 0; i < k; i++) {
        if (parse(parts[i], &out[i]) != DPT_OK) {
            free(buf);
            char ctx[32];
            snprintf(ctx, sizeof ctx, "--%s", flag);
            cli_fail(DPT_ERR_INVALID, ctx);
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (out[i] == out[j]) {
                cli_error("--%s: '%s' is listed twice", flag, parts[i]);
                free(buf);
                return -1;
            }
    }
    free(buf);
    return k;
}

struct lists {
    size_t threads[MAX_THREADS_LIST], n_threads;
    enum dpt_engine engines[MAX_ENGINES];
    size_t n_engines;
    enum dpt_pin pins[MAX_PINS];
    size_t n_pins;
    enum dpt_grad_mode grads[MAX_GRADS];
    size_t n_grads;
};

static int parse_lists(const struct cli_flag *flags, const char *grad, bool reproducible,
                       struct lists *l)
{
    const char *v = cli_get(flags, "threads-list");
    if (!v)
        return cli_error("scale: --threads-list is required (e.g. --threads-list 1,2,4)");
    if (cli_size_list("threads-list", v, 1, MAX_WORKERS, l->threads, MAX_THREADS_LIST - 1,
                      &l->n_threads))
        return CLI_USAGE;
    for (size_t i = 0; i < l->n_threads; i++)
        for (size_t j = 0; j < i; j++)
            if (l->threads[i] == l->threads[j])
                return cli_error("--threads-list: %zu is listed twice", l->threads[i]);
    // Speedups are over one thread: add the baseline when it is missing.
    bool has_one = false;
    for (size_t i = 0; i < l->n_threads; i++)
        has_one = has_one || l->threads[i] == 1;
    if (!has_one) {
        memmove(l->threads + 1, l->threads, l->n_threads * sizeof *l->threads);
        l->threads[0] = 1;
        l->n_threads++;
        cli_warn("scale: adding 1 to --threads-list: speedups are measured over one thread");
    }

    int vals[MAX_PINS];
    int k = name_list(cli_get(flags, "engines"), "engines", "pthreads", MAX_ENGINES,
                      "pthreads,openmp", parse_engine, vals);
    if (k < 0)
        return CLI_USAGE;
    for (int i = 0; i < k; i++)
        l->engines[i] = (enum dpt_engine)vals[i];
    l->n_engines = (size_t)k;
    k = name_list(cli_get(flags, "pins"), "pins", "compact", MAX_PINS, "compact,scatter,none",
                  parse_pin, vals);
    if (k < 0)
        return CLI_USAGE;
    for (int i = 0; i < k; i++)
        l->pins[i] = (enum dpt_pin)vals[i];
    l->n_pins = (size_t)k;
    k = name_list(grad, "grad", "auto", MAX_GRADS, "auto,private,sliced", parse_grad, vals);
    if (k < 0)
        return CLI_USAGE;
    for (int i = 0; i < k; i++) {
        l->grads[i] = (enum dpt_grad_mode)vals[i];
        if (l->grads[i] == DPT_GRAD_SLICED && reproducible)
            return cli_error("--grad: sliced cannot be combined with --reproducible (which "
                             "always uses private gradients)");
    }
    l->n_grads = (size_t)k;
    return 0;
}

// The gradient mode column of the table: the mode in use, after the one asked for when that was
// auto and several were asked for (so the series stay apart).
static void grad_text(const struct experiment *x, const struct config *c, const char *used,
                      char *buf, size_t len)
{
    if (x->n_grads > 1 && c->grad == DPT_GRAD_AUTO)
        snprintf(buf, len, "auto:%s", used);
    else
        snprintf(buf, len, "%s", used);
}

// The width of the grad column: its longest entry.
static int grad_width(const struct experiment *x, const struct config *cfg, size_t n_cfg,
                      const struct result *res)
{
    size_t w = 4;
    for (size_t i = 0; i < n_cfg; i++) {
        char grad[32];
        grad_text(x, &cfg[i], res[i * x->repeat].grad, grad, sizeof grad);
        w = strlen(grad) > w ? strlen(grad) : w;
    }
    return (int)w;
}

static void print_table(const struct experiment *x, const struct config *cfg, size_t n_cfg,
                        const struct result *res, const struct summary *sum)
{
    bool predicted = false;
    for (size_t i = 0; i < n_cfg; i++)
        predicted = predicted || isfinite(sum[i].predicted_sps);
    const int gw = grad_width(x, cfg, n_cfg, res);
    printf("%-8s %-7s %-*s %7s %7s %11s", "engine", "pin", gw, "grad", "threads", "batch",
           "samples/s");
    if (predicted)
        printf(" %11s", "predicted");
    printf(" %6s %7s %6s %7s %6s  %7s %6s %6s %6s  %s\n", "spread", "speedup", "effic.", "serial",
           "imbal.", "compute", "wait", "reduce", "update", "notes");
    bool oversub = false, slower = false, superlinear = false;
    for (size_t i = 0; i < n_cfg; i++) {
        const struct config *c = &cfg[i];
        const struct summary *s = &sum[i];
        const double b = sum[c->base].sps;
        const double sp = b > 0 ? s->sps / b : NAN;
        const double kf = karp_flatt(x, sp, c->threads);
        char grad[32];
        grad_text(x, c, res[i * x->repeat].grad, grad, sizeof grad);
        printf("%-8s %-7s %-*s %7zu %7zu %11.0f", dpt_engine_name(c->engine), c->pin_name, gw, grad,
               c->threads, c->batch, s->sps);
        if (predicted && isfinite(s->predicted_sps))
            printf(" %11.0f", s->predicted_sps);
        else if (predicted)
            printf(" %11s", "-");
        if (x->repeat > 1)
            printf(" %5.2fx", s->sps_max / s->sps_min);
        else
            printf(" %6s", "-");
        printf(" %7.2f %6.2f ", sp, sp / (double)c->threads);
        if (isfinite(kf))
            printf("%7.3f", kf);
        else
            printf("%7s", "-");
        const struct dpt_timing *t = &s->t;
        printf(" %6.2f  %6.1f%% %5.1f%% %5.1f%% %5.1f%%", s->imbalance, pct(t->compute_s, t),
               pct(t->wait_s, t), pct(t->reduce_s, t), pct(t->update_s, t));
        const char *sep = "  ";
        if (c->oversubscribed) {
            printf("%soversubscribed", sep);
            sep = ", ";
            oversub = true;
        }
        if (kf > 1) {
            printf("%sslower than 1 thread", sep);
            slower = true;
        } else if (kf < 0) {
            printf("%ssuperlinear", sep);
            superlinear = true;
        }
        putchar('\n');
    }
    // What the notes mean, once each.
    if (oversub)
        printf("oversubscribed: more threads than the %zu usable cores; workers take turns on the\n"
               "  cores, so these rows measure time-sharing, not parallel speedup.\n",
               x->cores);
    if (slower)
        printf("slower than 1 thread: the speedup is below 1, so the Karp-Flatt serial fraction\n"
               "  is above 1. It reads as a serial share only between 0 and 1; above 1 it says\n"
               "  that costs growing with the threads (barriers, shared cores, memory traffic)\n"
               "  outweigh the parallel work.\n");
    if (superlinear)
        printf("superlinear: the speedup is above the thread count, so the serial fraction is\n"
               "  negative: more of the working set fits in the caches of more cores, or the\n"
               "  1-thread runs were disturbed (see spread).\n");
    if (x->scaling == WEAK)
        printf("weak scaling: the batch grows with the threads (%zu per thread), so there is no\n"
               "  serial fraction: Karp-Flatt assumes a fixed amount of work.\n",
               x->o->p.batch);
    fflush(stdout);
}

static void print_target_table(const struct experiment *x, const struct config *cfg, size_t n_cfg,
                               const struct result *res, const struct summary *sum)
{
    printf("\ntime to test accuracy %g (median of %zu run%s; training time, evaluation "
           "excluded; at most %zu epoch%s):\n",
           x->target_acc, x->repeat, x->repeat == 1 ? "" : "s", x->o->p.max_epochs,
           x->o->p.max_epochs == 1 ? "" : "s");
    const int gw = grad_width(x, cfg, n_cfg, res);
    printf("%-8s %-7s %-*s %7s %7s %10s %9s %7s %8s %8s\n", "engine", "pin", gw, "grad", "threads",
           "batch", "seconds", "steps", "epochs", "reached", "test acc");
    for (size_t i = 0; i < n_cfg; i++) {
        const struct config *c = &cfg[i];
        const struct summary *s = &sum[i];
        char grad[32];
        grad_text(x, c, res[i * x->repeat].grad, grad, sizeof grad);
        printf("%-8s %-7s %-*s %7zu %7zu ", dpt_engine_name(c->engine), c->pin_name, gw, grad,
               c->threads, c->batch);
        if (isfinite(s->target_s))
            printf("%10.4g %9.0f %7.0f", s->target_s, s->target_steps, s->target_epochs);
        else
            printf("%28s", "not reached");
        printf(" %4zu/%-3zu %8.4f\n", s->reached, x->repeat, s->test_acc);
    }
    fflush(stdout);
}

// One warning line when the repeats of a configuration disagree by the threshold or more.
static void warn_spread(const struct experiment *x, const struct config *cfg, size_t n_cfg,
                        const struct result *res, const struct summary *sum)
{
    if (x->repeat < 2)
        return;
    size_t n_over = 0, worst = 0;
    double worst_ratio = 0;
    for (size_t i = 0; i < n_cfg; i++) {
        const double ratio = sum[i].sps_min > 0 ? sum[i].sps_max / sum[i].sps_min : INFINITY;
        if (ratio >= x->spread_warn)
            n_over++;
        if (ratio > worst_ratio) {
            worst_ratio = ratio;
            worst = i;
        }
    }
    if (n_over == 0)
        return;
    cli_warn("scale: repeats disagree: in %zu of %zu configurations the fastest run is %.2fx the "
             "slowest or more (--spread-warn); worst %.2fx (%s %s %s, %zu thread%s): the machine "
             "was busy or the runs too short, so trust the medians less (spread columns in the "
             "CSV)",
             n_over, n_cfg, x->spread_warn, worst_ratio, dpt_engine_name(cfg[worst].engine),
             cfg[worst].pin_name, res[worst * x->repeat].grad, cfg[worst].threads,
             cfg[worst].threads == 1 ? "" : "s");
}

// The test hook DPT_TEST_SCALE_SECONDS (see struct experiment).
static int fake_seconds(struct experiment *x)
{
    const char *v = getenv("DPT_TEST_SCALE_SECONDS");
    if (!v || !*v)
        return 0;
    char *buf = NULL;
    const char *parts[16];
    int k = cli_split(v, &buf, parts, 16);
    for (int i = 0; i < k; i++) {
        char *end;
        x->fake_s[i] = strtod(parts[i], &end);
        if (*end || !(x->fake_s[i] > 0) || !isfinite(x->fake_s[i]))
            k = -1;
    }
    free(buf);
    if (k <= 0)
        return cli_error("DPT_TEST_SCALE_SECONDS: '%s' is not a list of positive seconds", v);
    x->n_fake = (size_t)k;
    return 0;
}

static size_t usable_cores(void)
{
    struct dpt_topo *topo = NULL;
    size_t cores = 0;
    if (dpt_topo_create(&topo) == DPT_OK)
        cores = dpt_topo_n_cores(topo);
    dpt_topo_destroy(topo);
    return cores;
}

int cli_scale(int argc, char **argv)
{
    struct cli_flag flags[52];
    size_t nf = cli_train_flags(flags, 36, true);
    const struct cli_flag extra[] = {
        {"threads-list", "T,...", "thread counts to run (required; 1 is added if missing)", 0},
        {"scaling", "MODE", "strong (default: --batch at every T) or weak (--batch per thread)", 0},
        {"engines", "E,...", "engines: pthreads (default), openmp, or both", 0},
        {"pins", "P,...", "placements for pthreads: compact (default), scatter, none", 0},
        {"repeat", "R", "runs per configuration; medians are reported (default 3)", 0},
        {"spread-warn", "X",
         "warn when a configuration's fastest run is X times its slowest (1.25)", 0},
        {"target-acc", "A", "also measure time, steps and epochs to test accuracy A (0..1]", 0},
        {"test", "SPEC", "test data for --target-acc (default: t10k for fashion-mnist)", 0},
        {"csv", "FILE", "write every run and the medians here (required; atomic)", 0},
        {"plot", "FILE", "also draw FILE.svg or FILE.png with gnuplot (skipped if missing)", 0},
        {"predict", NULL,
         "also predict every configuration's rate with the scaling proxy (bench --proxy) and "
         "draw it beside the measured one",
         0},
        {NULL, NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        flags[nf + i] = extra[i];
    for (size_t i = 0; flags[i].name; i++) {
        if (strcmp(flags[i].name, "epochs") == 0)
            flags[i].help = "epochs per run (default 1); with --target-acc at most (default 10)";
        else if (strcmp(flags[i].name, "grad") == 0) {
            flags[i].arg = "G,...";
            flags[i].help = "gradient modes to compare: auto (default), private, sliced";
        }
    }
    const char *pos[1];
    size_t n_pos = 0;
    int rc = cli_parse("scale", synopsis, flags, argc, argv, 2, pos, 0, &n_pos);
    if (rc < 0)
        return CLI_OK;
    if (rc)
        return rc;

    struct cli_train_opts o;
    struct cli_train_data d;
    memset(&d, 0, sizeof d);
    dpt_model_info_init(&d.info);
    struct config *cfg = NULL;
    struct result *res = NULL;
    struct summary *sum = NULL;
    double *tmp = NULL;
    struct cli_out out = {0};
    struct lists l;
    memset(&l, 0, sizeof l);
    struct experiment x = {
        .o = &o, .d = &d, .target_acc = NAN, .spread_warn = SPREAD_WARN, .repeat = 3};
    const char *v;

    // --grad takes a list here: the training options read a single mode, so it is taken out.
    const char *grad = NULL;
    for (size_t i = 0; flags[i].name; i++)
        if (strcmp(flags[i].name, "grad") == 0) {
            grad = flags[i].value;
            flags[i].value = NULL;
        }
    if ((rc = cli_train_opts_get(flags, true, &o)))
        goto cleanup;
    if ((rc = parse_lists(flags, grad, o.p.reproducible, &l)))
        goto cleanup;
    x.n_engines = l.n_engines;
    x.n_pins = l.n_pins;
    x.n_grads = l.n_grads;
    if ((v = cli_get(flags, "scaling"))) {
        int k;
        if ((rc = cli_choice("scaling", v, scaling_names, 2, &k)))
            goto cleanup;
        x.scaling = (enum scaling)k;
    }
    x.predict = cli_get(flags, "predict") != NULL;
    if (x.predict && o.p.precision != DPT_PRECISION_FP32) {
        rc = cli_error("--predict: the scaling proxy runs fp32 products; it cannot predict "
                       "--precision %s",
                       dpt_precision_name(o.p.precision));
        goto cleanup;
    }
    if ((v = cli_get(flags, "repeat")) && (rc = cli_size("repeat", v, 1, 1000, &x.repeat)))
        goto cleanup;
    if ((v = cli_get(flags, "spread-warn")) &&
        (rc = cli_double("spread-warn", v, 1.0, 1e9, &x.spread_warn)))
        goto cleanup;
    if ((v = cli_get(flags, "target-acc"))) {
        if ((rc = cli_double("target-acc", v, 0.0, 1.0, &x.target_acc)))
            goto cleanup;
        if (!(x.target_acc > 0)) {
            rc = cli_error("--target-acc: %s is not in (0, 1]", v);
            goto cleanup;
        }
        if (!cli_get(flags, "epochs"))
            o.p.max_epochs = TARGET_EPOCHS;
    } else if (o.test_spec) {
        rc = cli_error("--test: only --target-acc evaluates a test set (scale times training "
                       "steps only)");
        goto cleanup;
    }
    if (x.scaling == WEAK && o.p.batch * l.threads[l.n_threads - 1] > ((size_t)1 << 24)) {
        rc = cli_error("--batch: %zu per thread x %zu threads is more than %zu samples per step",
                       o.p.batch, l.threads[l.n_threads - 1], (size_t)1 << 24);
        goto cleanup;
    }
    const char *csv_path = cli_get(flags, "csv"), *plot_path = cli_get(flags, "plot");
    if (!csv_path) {
        rc = cli_error("scale: --csv FILE is required");
        goto cleanup;
    }
    if (plot_path && !ends_with(plot_path, ".svg") && !ends_with(plot_path, ".png")) {
        rc = cli_error("--plot: '%s' must end in .svg or .png", plot_path);
        goto cleanup;
    }
    if (plot_path && (rc = cli_check_output("plot", plot_path)))
        goto cleanup;
    if ((rc = fake_seconds(&x)))
        goto cleanup;
    const bool target = !isnan(x.target_acc);
    if ((rc = cli_train_prepare(&o, target, &d)))
        goto cleanup;
    if (target && !d.classify) {
        rc = cli_error("--target-acc: the data is a regression task; accuracy needs classes");
        goto cleanup;
    }
    if (target && !d.test) {
        rc = cli_error("--target-acc needs a test set: add --test SPEC (fashion-mnist has its "
                       "t10k part by default)");
        goto cleanup;
    }
    // The CSV's temporary file is made now, so a bad path is reported before the runs; it is
    // renamed into place only when everything is written.
    if ((rc = cli_out_open(&out, csv_path, "csv")))
        goto cleanup;
    x.cores = usable_cores();

    // Configurations in table order: engine, placement, gradient mode, threads.
    size_t n_cfg = 0;
    cfg = calloc(MAX_SERIES * MAX_THREADS_LIST, sizeof *cfg);
    if (!cfg) {
        rc = cli_error("out of memory");
        goto cleanup;
    }
    size_t n_series = 0, n_big = 0;
    for (size_t e = 0; e < l.n_engines; e++) {
        const bool omp = l.engines[e] == DPT_ENGINE_OPENMP;
        for (size_t q = 0; q < (omp ? 1 : l.n_pins); q++) {
            for (size_t gm = 0; gm < l.n_grads; gm++, n_series++) {
                const size_t base = n_cfg;
                for (size_t t = 0; t < l.n_threads; t++) {
                    struct config *c = &cfg[n_cfg++];
                    c->engine = l.engines[e];
                    c->pin = omp ? DPT_PIN_NONE : l.pins[q];
                    c->pin_name = omp ? "omp" : dpt_pin_name(l.pins[q]);
                    c->grad = l.grads[gm];
                    c->threads = l.threads[t];
                    c->batch = x.scaling == WEAK ? o.p.batch * c->threads : o.p.batch;
                    c->oversubscribed = x.cores > 0 && c->threads > x.cores;
                    if (c->batch > dpt_dataset_n(d.train))
                        n_big++;
                    if (c->threads == 1)
                        for (size_t j = base; j < base + l.n_threads; j++)
                            cfg[j].base = n_cfg - 1;
                }
            }
        }
    }
    if (n_big > 0 && x.scaling == WEAK)
        cli_warn("scale: --scaling weak: at %zu threads the batch of %zu is more than the %zu "
                 "training samples, so the work per thread no longer stays fixed",
                 l.threads[l.n_threads - 1], o.p.batch * l.threads[l.n_threads - 1],
                 dpt_dataset_n(d.train));
    res = calloc(n_cfg * x.repeat, sizeof *res);
    sum = calloc(n_cfg, sizeof *sum);
    tmp = calloc(x.repeat, sizeof *tmp);
    if (!res || !sum || !tmp) {
        rc = cli_error("out of memory");
        goto cleanup;
    }

    // Repeats outermost, so slow drift of the machine spreads over every configuration.
    char warned[1024] = "";
    const size_t n_runs = n_cfg * x.repeat;
    cli_interrupt_begin();
    for (size_t r = 0, k = 0; r < x.repeat && !rc; r++) {
        for (size_t i = 0; i < n_cfg && !rc; i++, k++) {
            struct result *y = &res[i * x.repeat + r];
            rc = run_one(&x, &cfg[i], k, y, warned, sizeof warned);
            if (!rc && cli_interrupted())
                rc = CLI_INTERRUPTED;
            if (!rc && !o.quiet) {
                fprintf(stderr, "scale: run %zu/%zu: %s %s %s %zu thread%s: %.0f samples/s (%.3fs)",
                        k + 1, n_runs, dpt_engine_name(cfg[i].engine), cfg[i].pin_name, y->grad,
                        cfg[i].threads, cfg[i].threads == 1 ? "" : "s", y->sps, y->seconds);
                if (target && y->reached)
                    fprintf(stderr, ", test accuracy %.4f after %zu epoch%s", y->test_acc,
                            y->target_epochs, y->target_epochs == 1 ? "" : "s");
                else if (target)
                    fprintf(stderr, ", test accuracy %.4f: target not reached", y->test_acc);
                fputc('\n', stderr);
            }
        }
    }
    cli_interrupt_end();
    if (rc == CLI_INTERRUPTED)
        cli_warn("scale: interrupted; no CSV written");
    if (rc)
        goto cleanup;

    for (size_t i = 0; i < n_cfg; i++)
        summarise(&x, &res[i * x.repeat], &sum[i], tmp);
    if (x.predict) {
        // The runs are done and measured: a prediction that fails costs a warning, not the CSV.
        cli_proxy_model_here(&x.model);
        if (predict_all(&x, cfg, n_cfg, sum) != 0)
            cli_warn("--predict: the scaling proxy failed (%s); the configurations after it have "
                     "no prediction",
                     dpt_last_error());
    }
    print_table(&x, cfg, n_cfg, res, sum);
    if (target)
        print_target_table(&x, cfg, n_cfg, res, sum);
    warn_spread(&x, cfg, n_cfg, res, sum);

    cli_format_layers(&d.spec, x.layers, sizeof x.layers);
    cli_format_acts(&d.spec, x.acts, sizeof x.acts);
    write_csv(out.f, &x, cfg, n_cfg, res, sum, argc, argv);
    if ((rc = cli_out_commit(&out)))
        goto cleanup;
    if (!o.quiet)
        fprintf(stderr, "scale: wrote %s\n", csv_path);
    if (plot_path) {
        if (!cli_gnuplot_path())
            cli_warn("--plot: gnuplot not found on PATH (install gnuplot-nox); no plot drawn, the "
                     "CSV is complete");
        else if ((rc = write_plot(plot_path, &x, cfg, n_cfg, sum)) == 0 && !o.quiet)
            fprintf(stderr, "scale: wrote %s\n", plot_path);
    }
cleanup:
    if (out.f || out.tmp)
        cli_out_abort(&out);
    free(cfg);
    free(res);
    free(sum);
    free(tmp);
    cli_train_data_cleanup(&d);
    return rc;
}
