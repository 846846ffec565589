// `dptrain scale`: a scaling experiment. Runs every configuration (engine x placement x thread
// count) R times on a fresh network with the same seed, measures training throughput from the
// trainer's epoch statistics (evaluation excluded), and reports medians with speedup over one
// thread, parallel efficiency, the Karp-Flatt serial fraction and the time breakdown: a table on
// stdout, a CSV with every raw run and the machine and versions in its header, and a plot.
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cli_impl.h"

static const char synopsis[] =
    "--data SPEC --threads-list 1,2,4 [--engines pthreads,openmp] [--pins compact,scatter]\n"
    "              [--repeat R] --csv FILE [--plot FILE.svg|FILE.png] [train options]\n\n"
    "Trains --epochs (default 1) epochs per run, R runs per configuration, each on a fresh\n"
    "network with the same seed. The openmp engine ignores --pins (it places threads by\n"
    "OMP_PROC_BIND/OMP_PLACES): it runs once per thread count, placement 'omp'.";

enum { MAX_THREADS_LIST = 64, MAX_ENGINES = 2, MAX_PINS = 3 };

struct config {
    enum dpt_engine engine;
    enum dpt_pin pin;
    const char *pin_name; // "compact", ..., or "omp" for the openmp engine
    size_t threads;
    size_t base; // index of the 1-thread configuration of the same engine and placement
};

struct result {
    size_t samples;
    double seconds;
    double sps;
    struct dpt_timing t;
    double train_loss;
    size_t threads_used;
    const char *grad; // the gradient mode in use ("private" or "sliced")
    char placement[256];
};

// Medians over the repeats of one configuration.
struct summary {
    double sps, seconds, train_loss;
    struct dpt_timing t;
};

// ---- statistics ----

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The median of one double field of n results (each measured quantity separately).
static double median_field(const struct result *x, size_t n, size_t offset, double *tmp)
{
    for (size_t r = 0; r < n; r++)
        memcpy(&tmp[r], (const char *)&x[r] + offset, sizeof *tmp);
    return median(tmp, n);
}

// Karp-Flatt experimentally determined serial fraction e = (1/S - 1/T) / (1 - 1/T).
static double karp_flatt(double speedup, size_t threads)
{
    if (threads < 2 || !(speedup > 0))
        return NAN;
    const double t = (double)threads;
    return (1.0 / speedup - 1.0 / t) / (1.0 - 1.0 / t);
}

static double pct(double part, const struct dpt_timing *t)
{
    const double sum = t->compute_s + t->wait_s + t->reduce_s + t->update_s;
    return sum > 0 ? 100.0 * part / sum : NAN;
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

static int run_one(const struct cli_train_opts *o, const struct cli_train_data *d,
                   const struct config *c, struct result *r, char *warned, size_t warned_len)
{
    struct dpt_net *net = NULL;
    struct dpt_schedule *sched = NULL;
    struct dpt_trainer *tr = NULL;
    enum dpt_status st;
    int rc;
    memset(r, 0, sizeof *r);
    if ((rc = cli_train_new_net(d, o->p.seed, &net)))
        goto cleanup;
    if ((rc = cli_train_schedule(o, d, &sched)))
        goto cleanup;
    struct dpt_train_params p = o->p;
    p.threads = c->threads;
    p.engine = c->engine;
    p.pin = c->pin;
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
    cli_interrupt_trainer(tr);
    for (size_t e = 0; e < o->p.max_epochs && !cli_interrupted(); e++) {
        struct dpt_epoch_stats es;
        // No validation or test evaluation: only the training steps are measured.
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
    }
    cli_interrupt_trainer(NULL);
    r->sps = r->seconds > 0 ? (double)r->samples / r->seconds : 0.0;
    rc = 0;
cleanup:
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
    return rc;
}

// ---- the CSV ----

// One CSV field, quoted (RFC 4180) when it holds a comma, quote or line break.
static void csv_field(FILE *f, const char *s, bool comma)
{
    if (comma)
        fputc(',', f);
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, ",%.9g", v);
    else
        fputc(',', f);
}

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
static void csv_header(FILE *f, int argc, char **argv)
{
    char cpu[512], desc[512] = "(topology unavailable)", host[256] = "";
    cpu_model(cpu, sizeof cpu);
    struct dpt_topo *topo = NULL;
    size_t cores = 0;
    if (dpt_topo_create(&topo) == DPT_OK) {
        dpt_topo_describe(topo, desc, sizeof desc);
        cores = dpt_topo_n_cores(topo);
    }
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
    fprintf(f, "# allowed cores: %zu\n", cores);
    fprintf(f, "# versions: %s\n", dpt_build_info());
    fprintf(f, "# command: %s\n", cmd ? cmd : "");
    fprintf(f, "# kind=run rows are single runs, kind=median rows the medians over the repeats; "
               "speedup is over the median of 1 thread with the same engine and placement\n");
    free(cmd);
    fputs("kind,engine,pin,threads,repeat,placement,data,n_train,layers,act,loss,reduction,"
          "schedule,batch,epochs,seed,reproducible,grad,normalize,init,samples,seconds,"
          "samples_per_s,speedup,efficiency,karp_flatt,compute_s,wait_s,reduce_s,update_s,"
          "compute_pct,wait_pct,reduce_pct,update_pct,train_loss\n",
          f);
}

struct setup {
    const struct cli_train_opts *o;
    const struct cli_train_data *d;
    char layers[256], acts[256];
};

static void csv_row(FILE *f, const struct setup *su, const char *kind, const struct config *c,
                    const char *repeat, const char *placement, const char *grad, size_t samples,
                    double seconds, double sps, double base_sps, const struct dpt_timing *t,
                    double train_loss)
{
    static const char *const norms[] = {"none", "minmax", "standard"};
    const struct cli_train_opts *o = su->o;
    const struct dpt_net_spec *spec = &su->d->spec;
    char num[64];
    csv_field(f, kind, false);
    csv_field(f, dpt_engine_name(c->engine), true);
    csv_field(f, c->pin_name, true);
    fprintf(f, ",%zu", c->threads);
    csv_field(f, repeat, true);
    csv_field(f, placement, true);
    csv_field(f, o->data_spec, true);
    fprintf(f, ",%zu", dpt_dataset_n(su->d->train));
    csv_field(f, su->layers, true);
    csv_field(f, su->acts, true);
    csv_field(f, dpt_loss_name(spec->loss), true);
    csv_field(f, dpt_reduction_name(spec->reduction), true);
    csv_field(f, o->schedule, true);
    fprintf(f, ",%zu,%zu,%llu,%d", o->p.batch, o->p.max_epochs, (unsigned long long)o->p.seed,
            o->p.reproducible ? 1 : 0);
    csv_field(f, grad, true);
    csv_field(f, norms[su->d->info.norm.kind], true);
    csv_field(f, o->init_path ? o->init_path : "", true);
    snprintf(num, sizeof num, "%zu", samples);
    csv_field(f, num, true);
    csv_num(f, seconds);
    csv_num(f, sps);
    const double speedup = base_sps > 0 ? sps / base_sps : NAN;
    csv_num(f, speedup);
    csv_num(f, speedup / (double)c->threads);
    csv_num(f, karp_flatt(speedup, c->threads));
    csv_num(f, t->compute_s);
    csv_num(f, t->wait_s);
    csv_num(f, t->reduce_s);
    csv_num(f, t->update_s);
    csv_num(f, pct(t->compute_s, t));
    csv_num(f, pct(t->wait_s, t));
    csv_num(f, pct(t->reduce_s, t));
    csv_num(f, pct(t->update_s, t));
    csv_num(f, train_loss);
    fputc('\n', f);
}

// ---- the plot ----

static int write_plot(const char *path, const struct setup *su, const struct config *cfg,
                      size_t n_cfg, const struct summary *sum)
{
    struct cli_plot pl;
    int rc = cli_plot_begin(&pl, path, "plot", 1500, 480);
    if (rc)
        return rc;
    // One data file per series (engine + placement): threads, samples/s, efficiency, ideal.
    char files[MAX_ENGINES * MAX_PINS][128];
    size_t first[MAX_ENGINES * MAX_PINS], n_series = 0;
    for (size_t i = 0; i < n_cfg; i++) {
        if (cfg[i].base != i)
            continue;
        FILE *f = cli_plot_file(&pl, files[n_series], sizeof files[n_series]);
        if (!f) {
            cli_plot_abort(&pl);
            return cli_error("--plot: cannot write a temporary data file");
        }
        const double b = sum[i].sps;
        for (size_t j = 0; j < n_cfg; j++) {
            if (cfg[j].base != i)
                continue;
            const double sp = b > 0 ? sum[j].sps / b : NAN;
            fprintf(f, "%zu %.9g %.9g %.9g\n", cfg[j].threads, sum[j].sps,
                    sp / (double)cfg[j].threads, b * (double)cfg[j].threads);
        }
        fclose(f);
        first[n_series++] = i;
    }
    char bd[128];
    FILE *f = cli_plot_file(&pl, bd, sizeof bd);
    if (!f) {
        cli_plot_abort(&pl);
        return cli_error("--plot: cannot write a temporary data file");
    }
    for (size_t i = 0; i < n_cfg; i++)
        fprintf(f, "\"%s/%s/%zu\" %.6g %.6g %.6g %.6g\n", dpt_engine_name(cfg[i].engine),
                cfg[i].pin_name, cfg[i].threads, pct(sum[i].t.compute_s, &sum[i].t),
                pct(sum[i].t.wait_s, &sum[i].t), pct(sum[i].t.reduce_s, &sum[i].t),
                pct(sum[i].t.update_s, &sum[i].t));
    fclose(f);

    FILE *g = pl.script;
    char title[600];
    snprintf(title, sizeof title, "dptrain scale: %s, layers %s, batch %zu, %s", su->o->data_spec,
             su->layers, su->o->p.batch, su->o->schedule);
    fputs("set multiplot layout 1,3 title ", g);
    cli_gp_quote(g, title);
    // Tics at the measured thread counts (those of the first series; all series share them).
    fputs("\nset xtics (", g);
    for (size_t j = 0; j < n_cfg && cfg[j].base == cfg[0].base; j++)
        fprintf(g, "%s%zu", j ? ", " : "", cfg[j].threads);
    fputs(")\nset xlabel 'threads'\nset key top left\nset yrange [0:*]\n"
          "set title 'throughput'\nset ylabel 'samples/s'\nplot ",
          g);
    for (size_t s = 0; s < n_series; s++) {
        char name[64];
        snprintf(name, sizeof name, "%s/%s", dpt_engine_name(cfg[first[s]].engine),
                 cfg[first[s]].pin_name);
        fputs(s ? ", " : "", g);
        cli_gp_quote(g, files[s]);
        fprintf(g, " using 1:2 with linespoints lc %zu pt 7 title ", s + 1);
        cli_gp_quote(g, name);
        fputs(", ", g);
        cli_gp_quote(g, files[s]);
        fprintf(g, " using 1:4 with lines lc %zu dt 2 %s", s + 1,
                s == 0 ? "title 'ideal (linear)'" : "notitle");
    }
    fputs("\nset title 'parallel efficiency'\nset ylabel 'speedup / threads'\n"
          "set yrange [0:1.1<*]\nset key bottom left\nplot ",
          g);
    for (size_t s = 0; s < n_series; s++) {
        char name[64];
        snprintf(name, sizeof name, "%s/%s", dpt_engine_name(cfg[first[s]].engine),
                 cfg[first[s]].pin_name);
        fputs(s ? ", " : "", g);
        cli_gp_quote(g, files[s]);
        fprintf(g, " using 1:3 with linespoints lc %zu pt 7 title ", s + 1);
        cli_gp_quote(g, name);
    }
    fputs(", 1 with lines lc rgb 'black' dt 2 title 'ideal'\n", g);
    fputs("set title 'time breakdown (median run)'\nunset xlabel\nset ylabel 'percent of worker "
          "time'\nset yrange [0:100]\nset key outside bottom center horizontal\n"
          "set style data histograms\nset style histogram rowstacked\n"
          "set style fill solid 0.8 border -1\nset boxwidth 0.75\nset xtics rotate by -45\nplot ",
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

// A comma-separated list of names (--engines, --pins) into out[]: each parsed by `parse`, none
// twice. Returns the count, or -1 after printing an error naming the flag.
static int name_list(const struct cli_flag *flags, const char *flag, const char *dflt, int max,
                     const char *all, int (*parse)(const char *, int *), int *out)
{
    const char *v = cli_get(flags, flag);
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

static int parse_lists(const struct cli_flag *flags, size_t *threads, size_t *n_threads,
                       enum dpt_engine *engines, size_t *n_engines, enum dpt_pin *pins,
                       size_t *n_pins)
{
    const char *v = cli_get(flags, "threads-list");
    if (!v)
        return cli_error("scale: --threads-list is required (e.g. --threads-list 1,2,4)");
    if (cli_size_list("threads-list", v, 1, 1024, threads, MAX_THREADS_LIST - 1, n_threads))
        return CLI_USAGE;
    for (size_t i = 0; i < *n_threads; i++)
        for (size_t j = 0; j < i; j++)
            if (threads[i] == threads[j])
                return cli_error("--threads-list: %zu is listed twice", threads[i]);
    // Speedups are over one thread: add the baseline when it is missing.
    bool has_one = false;
    for (size_t i = 0; i < *n_threads; i++)
        has_one = has_one || threads[i] == 1;
    if (!has_one) {
        memmove(threads + 1, threads, *n_threads * sizeof *threads);
        threads[0] = 1;
        (*n_threads)++;
        cli_warn("scale: adding 1 to --threads-list: speedups are measured over one thread");
    }

    int vals[MAX_PINS];
    int k =
        name_list(flags, "engines", "pthreads", MAX_ENGINES, "pthreads,openmp", parse_engine, vals);
    if (k < 0)
        return CLI_USAGE;
    for (int i = 0; i < k; i++)
        engines[i] = (enum dpt_engine)vals[i];
    *n_engines = (size_t)k;
    k = name_list(flags, "pins", "compact", MAX_PINS, "compact,scatter,none", parse_pin, vals);
    if (k < 0)
        return CLI_USAGE;
    for (int i = 0; i < k; i++)
        pins[i] = (enum dpt_pin)vals[i];
    *n_pins = (size_t)k;
    return 0;
}

static void print_table(const struct config *cfg, size_t n_cfg, const struct summary *sum)
{
    printf("%-9s %-8s %7s %12s %8s %7s %8s  %7s %6s %6s %6s\n", "engine", "pin", "threads",
           "samples/s", "speedup", "effic.", "serial", "compute", "wait", "reduce", "update");
    for (size_t i = 0; i < n_cfg; i++) {
        const struct config *c = &cfg[i];
        const double b = sum[c->base].sps;
        const double sp = b > 0 ? sum[i].sps / b : NAN;
        const double kf = karp_flatt(sp, c->threads);
        printf("%-9s %-8s %7zu %12.0f %8.2f %7.2f ", dpt_engine_name(c->engine), c->pin_name,
               c->threads, sum[i].sps, sp, sp / (double)c->threads);
        if (isfinite(kf))
            printf("%8.3f", kf);
        else
            printf("%8s", "-");
        const struct dpt_timing *t = &sum[i].t;
        printf("  %6.1f%% %5.1f%% %5.1f%% %5.1f%%\n", pct(t->compute_s, t), pct(t->wait_s, t),
               pct(t->reduce_s, t), pct(t->update_s, t));
    }
    fflush(stdout);
}

int cli_scale(int argc, char **argv)
{
    struct cli_flag flags[48];
    size_t nf = cli_train_flags(flags, 40, true);
    const struct cli_flag extra[] = {
        {"threads-list", "T,...", "thread counts to run (required; 1 is added if missing)", 0},
        {"engines", "E,...", "engines: pthreads (default), openmp, or both", 0},
        {"pins", "P,...", "placements for pthreads: compact (default), scatter, none", 0},
        {"repeat", "R", "runs per configuration; medians are reported (default 3)", 0},
        {"csv", "FILE", "write every run and the medians here (required; atomic)", 0},
        {"plot", "FILE", "also draw FILE.svg or FILE.png with gnuplot (skipped if missing)", 0},
        {NULL, NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        flags[nf + i] = extra[i];
    for (size_t i = 0; flags[i].name; i++)
        if (strcmp(flags[i].name, "epochs") == 0)
            flags[i].help = "epochs per run (default 1)";
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
    size_t threads[MAX_THREADS_LIST], n_threads = 0, n_engines = 0, n_pins = 0, repeat = 3;
    enum dpt_engine engines[MAX_ENGINES];
    enum dpt_pin pins[MAX_PINS];
    const char *v;

    if ((rc = cli_train_opts_get(flags, true, &o)))
        goto cleanup;
    if ((rc = parse_lists(flags, threads, &n_threads, engines, &n_engines, pins, &n_pins)))
        goto cleanup;
    if ((v = cli_get(flags, "repeat")) && (rc = cli_size("repeat", v, 1, 1000, &repeat)))
        goto cleanup;
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
    if ((rc = cli_train_prepare(&o, false, &d)))
        goto cleanup;
    // The CSV's temporary file is made now, so a bad path is reported before the runs; it is
    // renamed into place only when everything is written.
    if ((rc = cli_out_open(&out, csv_path, "csv")))
        goto cleanup;

    // Configurations in table order: engine, placement, threads.
    size_t n_cfg = 0;
    cfg = calloc(MAX_ENGINES * MAX_PINS * MAX_THREADS_LIST, sizeof *cfg);
    if (!cfg) {
        rc = cli_error("out of memory");
        goto cleanup;
    }
    for (size_t e = 0; e < n_engines; e++) {
        const size_t np = engines[e] == DPT_ENGINE_OPENMP ? 1 : n_pins;
        for (size_t q = 0; q < np; q++) {
            const size_t base = n_cfg;
            for (size_t t = 0; t < n_threads; t++) {
                struct config *c = &cfg[n_cfg++];
                c->engine = engines[e];
                c->pin = engines[e] == DPT_ENGINE_OPENMP ? DPT_PIN_NONE : pins[q];
                c->pin_name = engines[e] == DPT_ENGINE_OPENMP ? "omp" : dpt_pin_name(pins[q]);
                c->threads = threads[t];
                c->base = base;
            }
            // The base is the 1-thread configuration of this series.
            for (size_t i = base; i < n_cfg; i++)
                if (cfg[i].threads == 1)
                    for (size_t j = base; j < n_cfg; j++)
                        cfg[j].base = i;
        }
    }
    res = calloc(n_cfg * repeat, sizeof *res);
    sum = calloc(n_cfg, sizeof *sum);
    tmp = calloc(repeat, sizeof *tmp);
    if (!res || !sum || !tmp) {
        rc = cli_error("out of memory");
        goto cleanup;
    }

    // Repeats outermost, so slow drift of the machine spreads over every configuration.
    char warned[1024] = "";
    const size_t n_runs = n_cfg * repeat;
    cli_interrupt_begin();
    for (size_t r = 0, k = 0; r < repeat && !rc; r++) {
        for (size_t i = 0; i < n_cfg && !rc; i++, k++) {
            struct result *x = &res[i * repeat + r];
            rc = run_one(&o, &d, &cfg[i], x, warned, sizeof warned);
            if (!rc && cli_interrupted())
                rc = CLI_INTERRUPTED;
            if (!rc && !o.quiet) {
                fprintf(stderr, "scale: run %zu/%zu: %s %s %zu thread%s: %.0f samples/s (%.3fs)\n",
                        k + 1, n_runs, dpt_engine_name(cfg[i].engine), cfg[i].pin_name,
                        cfg[i].threads, cfg[i].threads == 1 ? "" : "s", x->sps, x->seconds);
            }
        }
    }
    cli_interrupt_end();
    if (rc == CLI_INTERRUPTED)
        cli_warn("scale: interrupted; no CSV written");
    if (rc)
        goto cleanup;

    for (size_t i = 0; i < n_cfg; i++) {
        const struct result *x = &res[i * repeat];
        sum[i].sps = median_field(x, repeat, offsetof(struct result, sps), tmp);
        sum[i].seconds = median_field(x, repeat, offsetof(struct result, seconds), tmp);
        sum[i].train_loss = median_field(x, repeat, offsetof(struct result, train_loss), tmp);
        sum[i].t.compute_s = median_field(x, repeat, offsetof(struct result, t.compute_s), tmp);
        sum[i].t.wait_s = median_field(x, repeat, offsetof(struct result, t.wait_s), tmp);
        sum[i].t.reduce_s = median_field(x, repeat, offsetof(struct result, t.reduce_s), tmp);
        sum[i].t.update_s = median_field(x, repeat, offsetof(struct result, t.update_s), tmp);
    }
    print_table(cfg, n_cfg, sum);

    struct setup su = {&o, &d, "", ""};
    cli_format_layers(&d.spec, su.layers, sizeof su.layers);
    cli_format_acts(&d.spec, su.acts, sizeof su.acts);
    csv_header(out.f, argc, argv);
    for (size_t i = 0; i < n_cfg; i++) {
        const double b = sum[cfg[i].base].sps;
        for (size_t r = 0; r < repeat; r++) {
            const struct result *x = &res[i * repeat + r];
            char rep[32];
            snprintf(rep, sizeof rep, "%zu", r + 1);
            csv_row(out.f, &su, "run", &cfg[i], rep, x->placement, x->grad, x->samples, x->seconds,
                    x->sps, b, &x->t, x->train_loss);
        }
    }
    for (size_t i = 0; i < n_cfg; i++)
        csv_row(out.f, &su, "median", &cfg[i], "median", res[i * repeat].placement,
                res[i * repeat].grad, res[i * repeat].samples, sum[i].seconds, sum[i].sps,
                sum[cfg[i].base].sps, &sum[i].t, sum[i].train_loss);
    if ((rc = cli_out_commit(&out)))
        goto cleanup;
    if (!o.quiet)
        fprintf(stderr, "scale: wrote %s\n", csv_path);
    if (plot_path) {
        if (!cli_gnuplot_path())
            cli_warn("--plot: gnuplot not found on PATH (install gnuplot-nox); no plot drawn, the "
                     "CSV is complete");
        else if ((rc = write_plot(plot_path, &su, cfg, n_cfg, sum)) == 0 && !o.quiet)
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
