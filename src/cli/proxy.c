// `dptrain bench --proxy`: the scaling proxy (src/parallel/proxy_impl.h). For each workload and
// thread count T it runs, on one core, the work each worker of a T-thread step does, with the data
// that worker finds in other cores' caches evicted first, times the busiest worker, and predicts
// the T-thread rate with the model (compute, memory, barrier) for a machine described by flags.
// Prints a table (or JSON lines) and, with --csv, every repeat and the medians as CSV, for
// `dptrain scale` to draw beside its measurements.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cli_impl.h"
#include "parallel/proxy_impl.h"
#include "core/error_impl.h"
#include "parallel/topo_impl.h"

// Defaults of the machine model: a NUMA node of a typical server socket (8 channels of DDR4-3200
// give 205 GB/s in theory, about 150 measured with all cores streaming; half that per node when a
// socket is split in two nodes), and a remote cache-line transfer about 3 times a local one.
#define PROXY_MEM_BW_GBS   100.0
#define PROXY_NUMA_FACTOR  3.0
#define PROXY_LINE_NS_NONE 50.0 // where the barrier cannot be measured (one usable core)

static int cmp_size(const void *a, const void *b)
{
    const size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

// Everything about one workload's sweep: measurements per repeat and thread count.
struct sweep {
    const struct cli_proxy_work *w;
    char layers[256];
    size_t n_threads, repeat;
    struct dpt_proxy_meas *meas; // repeat x n_threads
    double core_speed;           // the model's, for this network (--rate1 sets it per network)
};

// The median over the repeats of every measured quantity at thread index i.
static void median_meas(const struct sweep *s, size_t i, double *tmp, struct dpt_proxy_meas *out)
{
    *out = s->meas[i];
    const size_t R = s->repeat;
    double *fields[] = {&out->phase1_s, &out->phase2_s,          &out->max_s,
                        &out->mean_s,   &out->cold_shared_bytes, &out->cold_private_bytes};
    const size_t offs[] = {offsetof(struct dpt_proxy_meas, phase1_s),
                           offsetof(struct dpt_proxy_meas, phase2_s),
                           offsetof(struct dpt_proxy_meas, max_s),
                           offsetof(struct dpt_proxy_meas, mean_s),
                           offsetof(struct dpt_proxy_meas, cold_shared_bytes),
                           offsetof(struct dpt_proxy_meas, cold_private_bytes)};
    for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
        for (size_t r = 0; r < R; r++)
            memcpy(&tmp[r], (const char *)&s->meas[r * s->n_threads + i] + offs[k], sizeof *tmp);
        *fields[k] = cli_median(tmp, R);
    }
}

static void csv_header(FILE *f, const struct cli_proxy_model *mi, int argc, char **argv)
{
    char cpu[256], desc[512] = "(topology unavailable)", date[64] = "";
    cli_cpu_model(cpu, sizeof cpu);
    struct utsname u;
    if (uname(&u) == 0) {
        size_t n = strlen(cpu);
        snprintf(cpu + n, sizeof cpu - n, " (%s, %s %s)", u.machine, u.sysname, u.release);
    }
    struct dpt_topo *topo = NULL;
    if (dpt_topo_create(&topo) == DPT_OK)
        dpt_topo_describe(topo, desc, sizeof desc);
    dpt_topo_destroy(topo);
    time_t now = time(NULL);
    struct tm tmv;
    if (gmtime_r(&now, &tmv))
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    char *cmd = cli_command_line(argc, argv);
    fprintf(f, "# dptrain bench --proxy\n");
    fprintf(f, "# date: %s\n", date);
    fprintf(f, "# cpu: %s\n", cpu);
    fprintf(f, "# topology: %s\n", desc);
    fprintf(f, "# kernels: %s\n", dpt_isa_name());
    fprintf(f, "# versions: %s\n", dpt_build_info());
    fprintf(f, "# command: %s\n", cmd ? cmd : "");
    fprintf(f,
            "# model: step = max(compute, memory) + barriers x (T + 1) x line (on one node past 8 "
            "threads, r + ceil(T / r) + 1 lines for runs of r = ceil(sqrt T); over N nodes of C "
            "cores: C + (N + 1) x NUMA factor lines); memory = cold "
            "bytes / %.4g GB/s per NUMA node; line %.4g ns (%s); %zu cores per NUMA node "
            "(0: one node); NUMA factor %.4g; core speed in the core_speed column; all-core "
            "speed %.4g at %zu cores (0: the largest T)\n",
            mi->m.mem_bw * 1e-9, mi->m.line_s * 1e9, mi->line_source, mi->m.node_cores,
            mi->m.numa_factor, mi->m.allcore, mi->m.cores);
    fprintf(f, "# kind=run rows apply the model to one repeat's measurements, kind=median rows to "
               "the medians over the repeats; speedup is over the 1-thread prediction\n");
    free(cmd);
    fputs("kind,workload,layers,batch,schedule,grad,split_first,split_all,fused,threads,nodes,"
          "repeat,"
          "samples_per_s,speedup,efficiency,step_s,compute_s,phase1_s,phase2_s,memory_s,"
          "barrier_s,envelope_s,barriers,cold_bytes,imbalance,kinds,shard_rows,mem_bw_gbs,line_ns,"
          "node_cores,numa_factor,core_speed,allcore_speed,cores\n",
          f);
}

static void csv_row(FILE *f, const struct sweep *s, const struct cli_proxy_model *mi,
                    const char *kind, const char *repeat, const struct dpt_proxy_meas *x,
                    const struct dpt_proxy_pred *y)
{
    char num[32];
    cli_csv_field(f, kind, false);
    cli_csv_field(f, s->w->name, true);
    cli_csv_field(f, s->layers, true);
    snprintf(num, sizeof num, "%zu", s->w->batch);
    cli_csv_field(f, num, true);
    cli_csv_field(f, s->w->schedule, true);
    cli_csv_field(f, x->sliced ? "sliced" : "private", true);
    fprintf(f, ",%d,%d,%d,%zu,%zu", x->split_first, x->split_all, x->fused, y->threads, y->nodes);
    cli_csv_field(f, repeat, true);
    cli_csv_num(f, y->samples_per_s);
    cli_csv_num(f, y->speedup);
    cli_csv_num(f, y->efficiency);
    cli_csv_num(f, y->step_s);
    cli_csv_num(f, y->compute_s);
    cli_csv_num(f, x->phase1_s);
    cli_csv_num(f, x->phase2_s);
    cli_csv_num(f, y->memory_s);
    cli_csv_num(f, y->barrier_s);
    cli_csv_num(f, y->envelope_s);
    fprintf(f, ",%zu", x->barriers);
    cli_csv_num(f, x->cold_shared_bytes + x->cold_private_bytes);
    cli_csv_num(f, y->imbalance);
    fprintf(f, ",%zu,%zu", x->kinds, x->shard_rows);
    cli_csv_num(f, mi->m.mem_bw * 1e-9);
    cli_csv_num(f, mi->m.line_s * 1e9);
    fprintf(f, ",%zu", mi->m.node_cores);
    cli_csv_num(f, mi->m.numa_factor);
    cli_csv_num(f, mi->m.core_speed);
    cli_csv_num(f, mi->m.allcore);
    fprintf(f, ",%zu\n", mi->m.cores);
}

static void print_row(FILE *f, const struct sweep *s, const struct dpt_proxy_meas *x,
                      const struct dpt_proxy_pred *y)
{
    fprintf(f,
            "%-4s %-17s %5zu %-14s %-7s %3zu %10.0f %7.2f %4.0f%% %9.1f %8.1f %8.1f %9.1f %6.2f "
            "%8.2f\n",
            s->w->name, s->layers, s->w->batch, s->w->schedule,
            x->sliced ? (x->split_all     ? "slicedH"
                         : x->split_first ? "sliced1"
                                          : "sliced")
                      : "private",
            y->threads, y->samples_per_s, y->speedup, 100.0 * y->efficiency, y->compute_s * 1e6,
            y->memory_s * 1e6, y->barrier_s * 1e6, y->step_s * 1e6, y->imbalance,
            (x->cold_shared_bytes + x->cold_private_bytes) / 1048576.0);
}

static void json_row(FILE *f, const struct sweep *s, const struct dpt_proxy_meas *x,
                     const struct dpt_proxy_pred *y)
{
    fprintf(f, "{\"type\":\"proxy\"");
    cli_json_str(f, "workload", s->w->name);
    cli_json_str(f, "layers", s->layers);
    fprintf(f, ",\"batch\":%zu", s->w->batch);
    cli_json_str(f, "schedule", s->w->schedule);
    cli_json_str(f, "grad", x->sliced ? "sliced" : "private");
    fprintf(f, ",\"split_first\":%s,\"split_all\":%s", x->split_first ? "true" : "false",
            x->split_all ? "true" : "false");
    fprintf(f, ",\"fused\":%s,\"threads\":%zu,\"nodes\":%zu,\"repeats\":%zu",
            x->fused ? "true" : "false", y->threads, y->nodes, s->repeat);
    cli_json_num(f, "samples_per_s", y->samples_per_s);
    cli_json_num(f, "speedup", y->speedup);
    cli_json_num(f, "efficiency", y->efficiency);
    cli_json_num(f, "step_s", y->step_s);
    cli_json_num(f, "compute_s", y->compute_s);
    cli_json_num(f, "phase1_s", x->phase1_s);
    cli_json_num(f, "phase2_s", x->phase2_s);
    cli_json_num(f, "memory_s", y->memory_s);
    cli_json_num(f, "barrier_s", y->barrier_s);
    cli_json_num(f, "envelope_s", y->envelope_s);
    fprintf(f, ",\"barriers\":%zu", x->barriers);
    cli_json_num(f, "cold_bytes", x->cold_shared_bytes + x->cold_private_bytes);
    cli_json_num(f, "imbalance", y->imbalance);
    cli_json_num(f, "core_speed", s->core_speed);
    fprintf(f, ",\"kinds\":%zu,\"shard_rows\":%zu}\n", x->kinds, x->shard_rows);
}

// The line transfer measured here: the project's barrier with 2 workers on 2 cores, a round is 3
// line transfers (two arrivals on the counter, the release read by the waiter).
static void measure_line(struct cli_proxy_model *mi)
{
    double round_s;
    if (dpt_proxy_barrier_round(2000, 15, &round_s) == DPT_OK) {
        mi->m.line_s = round_s / 3.0;
        snprintf(mi->line_source, sizeof mi->line_source,
                 "measured here: a barrier round of 2 threads on 2 cores took %.3g us, / 3",
                 round_s * 1e6);
    } else {
        mi->m.line_s = PROXY_LINE_NS_NONE * 1e-9;
        snprintf(mi->line_source, sizeof mi->line_source,
                 "assumed: fewer than 2 usable cores to measure the barrier on");
    }
}

// Parses the proxy's own flags into the parameters and the model; measures the line transfer
// unless --barrier-ns gives it.
static int proxy_flags(const struct cli_flag *flags, struct dpt_proxy_params *p,
                       struct cli_proxy_model *mi)
{
    const char *v;
    double gbs = PROXY_MEM_BW_GBS, ns = -1.0;
    mi->m.numa_factor = PROXY_NUMA_FACTOR;
    mi->m.node_cores = 0;
    if ((v = cli_get(flags, "steps")) && cli_size("steps", v, 1, 100000, &p->steps))
        return CLI_USAGE;
    if ((v = cli_get(flags, "samples")) && cli_size("samples", v, 1, (size_t)1 << 30, &p->samples))
        return CLI_USAGE;
    if ((v = cli_get(flags, "mem-bw")) && cli_double("mem-bw", v, 1e-3, 1e6, &gbs))
        return CLI_USAGE;
    if ((v = cli_get(flags, "barrier-ns")) && cli_double("barrier-ns", v, 0.0, 1e6, &ns))
        return CLI_USAGE;
    if ((v = cli_get(flags, "node-cores")) && cli_size("node-cores", v, 1, 1024, &mi->m.node_cores))
        return CLI_USAGE;
    if ((v = cli_get(flags, "numa-factor")) &&
        cli_double("numa-factor", v, 1.0, 1000.0, &mi->m.numa_factor))
        return CLI_USAGE;
    mi->m.core_speed = 1.0;
    if ((v = cli_get(flags, "core-speed")) &&
        cli_double("core-speed", v, 1e-3, 1e3, &mi->m.core_speed))
        return CLI_USAGE;
    mi->m.allcore = 1.0;
    mi->m.cores = 0;
    if ((v = cli_get(flags, "allcore-speed")) &&
        cli_double("allcore-speed", v, 1e-3, 1.0, &mi->m.allcore))
        return CLI_USAGE;
    if ((v = cli_get(flags, "cores")) && cli_size("cores", v, 1, 4096, &mi->m.cores))
        return CLI_USAGE;
    if ((v = cli_get(flags, "grad")) && dpt_grad_mode_parse(v, &p->grad_mode) != DPT_OK)
        return cli_fail(DPT_ERR_INVALID, "--grad");
    if ((v = cli_get(flags, "seed")) && cli_u64("seed", v, &p->seed))
        return CLI_USAGE;
    p->flush = cli_get(flags, "no-flush") == NULL;
    mi->m.mem_bw = gbs * 1e9;
    if (ns >= 0) {
        mi->m.line_s = ns * 1e-9;
        snprintf(mi->line_source, sizeof mi->line_source, "--barrier-ns");
        return 0;
    }
    measure_line(mi);
    return 0;
}

void cli_proxy_model_here(struct cli_proxy_model *mi)
{
    memset(mi, 0, sizeof *mi);
    mi->m.mem_bw = PROXY_MEM_BW_GBS * 1e9;
    mi->m.numa_factor = PROXY_NUMA_FACTOR;
    mi->m.core_speed = 1.0;
    mi->m.allcore = 1.0;
    measure_line(mi);
}

enum dpt_status cli_proxy_predict(const struct cli_proxy_model *mi, const struct cli_proxy_work *w,
                                  enum dpt_grad_mode grad, uint64_t epoch_steps,
                                  const size_t *threads, size_t n, double *sps)
{
    struct dpt_proxy_params p = dpt_proxy_params_default();
    p.batch = w->batch;
    p.grad_mode = grad;
    p.epoch_steps = epoch_steps;
    // The synthetic rows only need to hold a few batches: each timed phase evicts them anyway.
    p.samples = w->batch * 4 > 8192 ? w->batch * 4 : 8192;
    struct dpt_proxy *px = NULL;
    struct dpt_proxy_meas *meas = calloc(n, sizeof *meas);
    struct dpt_proxy_pred *pred = calloc(n, sizeof *pred);
    struct dpt_topo *topo = NULL;
    struct dpt_topo_binding *saved = NULL;
    enum dpt_status st = DPT_ERR_NOMEM;
    if (!meas || !pred)
        st = dpt_error(DPT_ERR_NOMEM, "out of memory in the proxy");
    else
        st = dpt_proxy_create(&w->spec, w->schedule, &p, &px);
    if (st != DPT_OK)
        goto done;
    // On one core, so its caches stay its own between the phases; the caller's binding is given
    // back afterwards (the trainer's threads inherit it when unpinned).
    int pu = -1;
    if (dpt_topo_create(&topo) == DPT_OK && dpt_topo_binding_save(topo, &saved) == DPT_OK &&
        dpt_topo_place(topo, DPT_PIN_COMPACT, 1, &pu) == DPT_OK)
        (void)dpt_topo_bind_self(topo, pu); // unbound, the measurement may move between cores
    for (size_t i = 0; i < n && st == DPT_OK; i++)
        st = dpt_proxy_measure(px, threads[i], &meas[i]);
    if (st == DPT_OK)
        st = dpt_proxy_predict(&mi->m, w->batch, meas, n, pred);
    for (size_t i = 0; i < n && st == DPT_OK; i++)
        sps[i] = pred[i].samples_per_s;
done:
    if (saved && dpt_topo_binding_restore(topo, saved) != DPT_OK)
        cli_warn("the proxy could not restore this thread's CPU binding");
    dpt_topo_binding_destroy(saved);
    dpt_topo_destroy(topo);
    dpt_proxy_destroy(px);
    free(meas);
    free(pred);
    return st;
}

int cli_proxy_run(const struct cli_proxy_work *works, size_t n_works, const size_t *threads_in,
                  size_t n_threads_in, size_t repeat, const struct cli_flag *flags, int argc,
                  char **argv)
{
    struct dpt_proxy_params p = dpt_proxy_params_default();
    struct cli_proxy_model mi;
    memset(&mi, 0, sizeof mi);
    int rc = proxy_flags(flags, &p, &mi);
    if (rc)
        return rc;
    const bool json = cli_get(flags, "json") != NULL;
    const char *csv_path = cli_get(flags, "csv");
    double rate1[8];
    size_t n_rate1 = 0;
    const char *v = cli_get(flags, "rate1");
    if (v) {
        char *buf = NULL;
        const char *parts[9];
        const int k = cli_split(v, &buf, parts, 8);
        for (int i = 0; i < k; i++)
            if (cli_double("rate1", parts[i], 1e-9, 1e15, &rate1[n_rate1++])) {
                free(buf);
                return CLI_USAGE;
            }
        free(buf);
        if (k < 0 || (size_t)k != n_works)
            return cli_error("--rate1: '%s': expected one measured 1-thread rate per network (%zu)",
                             v, n_works);
        if (cli_get(flags, "core-speed"))
            return cli_error("--rate1 and --core-speed exclude each other (--rate1 sets the core "
                             "speed from a measured rate)");
    }
    struct cli_out out = {0};
    if (csv_path && (rc = cli_check_output("csv", csv_path)))
        return rc;

    // The thread counts, ascending, without repeats, 1 first (the model's reference).
    size_t n_threads = 0, *threads = malloc((n_threads_in + 1) * sizeof *threads);
    struct sweep *sw = calloc(n_works, sizeof *sw);
    struct dpt_proxy_pred *pred = NULL;
    double *tmp = calloc(repeat, sizeof *tmp);
    struct dpt_topo *topo = NULL;
    rc = CLI_FAILED;
    if (!threads || !sw || !tmp) {
        rc = cli_error("bench --proxy: out of memory");
        goto cleanup;
    }
    threads[n_threads++] = 1;
    for (size_t i = 0; i < n_threads_in; i++)
        threads[n_threads++] = threads_in[i];
    qsort(threads, n_threads, sizeof *threads, cmp_size);
    size_t k = 0;
    for (size_t i = 0; i < n_threads; i++)
        if (k == 0 || threads[i] != threads[k - 1])
            threads[k++] = threads[i];
    n_threads = k;
    if (!(pred = calloc(n_threads, sizeof *pred))) {
        rc = cli_error("bench --proxy: out of memory");
        goto cleanup;
    }

    // The measuring thread stays on one core, so its caches stay its own between the phases.
    enum dpt_status st = dpt_topo_create(&topo);
    int pu = -1;
    if (st == DPT_OK && dpt_topo_place(topo, DPT_PIN_COMPACT, 1, &pu) == DPT_OK &&
        dpt_topo_bind_self(topo, pu) != DPT_OK)
        cli_warn("bench --proxy: could not bind to PU %d; the measurements may move between "
                 "cores",
                 pu);

    for (size_t iw = 0; iw < n_works; iw++) {
        struct sweep *s = &sw[iw];
        s->w = &works[iw];
        s->n_threads = n_threads;
        s->repeat = repeat;
        cli_format_layers(&s->w->spec, s->layers, sizeof s->layers);
        for (char *c = s->layers; *c; c++)
            if (*c == ',')
                *c = '-';
        if (!(s->meas = calloc(repeat * n_threads, sizeof *s->meas))) {
            rc = cli_error("bench --proxy: out of memory");
            goto cleanup;
        }
        struct dpt_proxy *px = NULL;
        p.batch = s->w->batch;
        if (p.samples < p.batch) {
            rc = cli_error("--samples: %zu rows are fewer than %s's batch of %zu", p.samples,
                           s->w->name, p.batch);
            goto cleanup;
        }
        if ((st = dpt_proxy_create(&s->w->spec, s->w->schedule, &p, &px)) != DPT_OK) {
            rc = cli_fail(st, "bench --proxy");
            goto cleanup;
        }
        // Each repeat takes the thread counts in another order, so that a slow spell of a shared
        // machine does not always fall on the same ones.
        for (size_t r = 0; r < repeat; r++) {
            for (size_t j = 0; j < n_threads; j++) {
                const size_t it = (j + r) % n_threads;
                struct dpt_proxy_meas *x = &s->meas[r * n_threads + it];
                if ((st = dpt_proxy_measure(px, threads[it], x)) != DPT_OK) {
                    dpt_proxy_destroy(px);
                    rc = cli_fail(st, "bench --proxy");
                    goto cleanup;
                }
                fprintf(stderr,
                        "bench --proxy: %s at %zu thread%s, run %zu/%zu: busiest worker %.1f us "
                        "per step (%s)\n",
                        s->w->name, threads[it], threads[it] == 1 ? "" : "s", r + 1, repeat,
                        x->max_s * 1e6, x->sliced ? "sliced" : "private");
            }
        }
        dpt_proxy_destroy(px);
    }

    if (csv_path) {
        if ((rc = cli_out_open(&out, csv_path, "csv")))
            goto cleanup;
        csv_header(out.f, &mi, argc, argv);
    }
    if (json) {
        fprintf(stdout, "{\"type\":\"proxy_model\"");
        cli_json_num(stdout, "mem_bw_gbs", mi.m.mem_bw * 1e-9);
        cli_json_num(stdout, "line_ns", mi.m.line_s * 1e9);
        cli_json_str(stdout, "line_source", mi.line_source);
        fprintf(stdout, ",\"node_cores\":%zu", mi.m.node_cores);
        cli_json_num(stdout, "numa_factor", mi.m.numa_factor);
        cli_json_num(stdout, "core_speed", mi.m.core_speed);
        cli_json_num(stdout, "allcore_speed", mi.m.allcore);
        fprintf(stdout, ",\"cores\":%zu", mi.m.cores);
        cli_json_str(stdout, "kernels", dpt_isa_name());
        fprintf(stdout, ",\"steps\":%zu,\"warmup_steps\":%zu,\"samples\":%zu,\"flush\":%s}\n",
                p.steps, p.warmup, p.samples, p.flush ? "true" : "false");
    } else {
        char cpu[128], desc[256] = "(topology unavailable)";
        cli_cpu_model(cpu, sizeof cpu);
        if (topo)
            dpt_topo_describe(topo, desc, sizeof desc);
        fprintf(stdout, "dptrain %s bench --proxy: predicted rates from one core\n", dpt_version());
        fprintf(stdout, "machine measured: %s; %s; kernels %s\n", cpu, desc, dpt_isa_name());
        fprintf(stdout,
                "model: step = max(compute, memory) + barriers x (T + 1) x line transfer\n"
                "  (past 8 threads on one node, the barrier in runs of r = ceil(sqrt T): r + "
                "ceil(T / r) + 1;\n"
                "   over N NUMA nodes of C cores, the two-level barrier: C + (N + 1) x the NUMA "
                "factor)\n"
                "  memory bandwidth %.4g GB/s per NUMA node; line transfer %.4g ns (%s)\n",
                mi.m.mem_bw * 1e-9, mi.m.line_s * 1e9, mi.line_source);
        if (mi.m.node_cores)
            fprintf(stdout, "  NUMA nodes of %zu cores, filled in order", mi.m.node_cores);
        else
            fprintf(stdout, "  one NUMA node");
        fprintf(stdout, "; a transfer between NUMA nodes costs %.4g local ones\n",
                mi.m.numa_factor);
        if (n_rate1)
            fprintf(stdout, "  the target's core speed set per network by --rate1 (below)\n");
        else if (mi.m.core_speed != 1.0)
            fprintf(stdout, "  the target's cores run %.4g x this one's\n", mi.m.core_speed);
        if (mi.m.allcore != 1.0) {
            char cores[32] = "the largest T";
            if (mi.m.cores)
                snprintf(cores, sizeof cores, "%zu", mi.m.cores);
            fprintf(stdout,
                    "  a core's speed falls linearly to %.4g of its 1-core speed with %s cores "
                    "busy\n",
                    mi.m.allcore, cores);
        }
        fprintf(
            stdout,
            "medians of %zu repeat%s x %zu timed steps (after %zu warm-up steps), one core%s\n\n",
            repeat, repeat == 1 ? "" : "s", p.steps, p.warmup,
            p.flush ? ", each worker's cold data evicted first" : ", nothing evicted");
        fprintf(stdout, "%-4s %-17s %5s %-14s %-7s %3s %10s %7s %5s %9s %8s %8s %9s %6s %8s\n",
                "work", "layers", "batch", "schedule", "grad", "T", "samples/s", "speedup", "eff",
                "compute", "memory", "barrier", "step", "imbal", "cold MiB");
        fprintf(stdout, "%-4s %-17s %5s %-14s %-7s %3s %10s %7s %5s %9s %8s %8s %9s %6s %8s\n", "",
                "", "", "", "", "", "", "", "", "us", "us", "us", "us", "", "/step");
    }
    st = DPT_OK;
    const struct dpt_proxy_model given = mi.m;
    struct dpt_proxy_meas *med = calloc(n_threads, sizeof *med);
    if (!med) {
        rc = cli_error("bench --proxy: out of memory");
        goto cleanup;
    }
    for (size_t iw = 0; iw < n_works; iw++) {
        struct sweep *s = &sw[iw];
        for (size_t it = 0; it < n_threads; it++)
            median_meas(s, it, tmp, &med[it]);
        // --rate1: the target core's speed such that the 1-thread prediction is its measured rate.
        mi.m.core_speed =
            n_rate1 ? (med[0].phase1_s + med[0].phase2_s) * rate1[iw] / (double)s->w->batch
                    : given.core_speed;
        s->core_speed = mi.m.core_speed;
        for (size_t r = 0; r < repeat && csv_path; r++) {
            if ((st = dpt_proxy_predict(&mi.m, s->w->batch, s->meas + r * n_threads, n_threads,
                                        pred)) != DPT_OK)
                break;
            char rep[24];
            snprintf(rep, sizeof rep, "%zu", r + 1);
            for (size_t it = 0; it < n_threads; it++)
                csv_row(out.f, s, &mi, "run", rep, &s->meas[r * n_threads + it], &pred[it]);
        }
        if (st == DPT_OK)
            st = dpt_proxy_predict(&mi.m, s->w->batch, med, n_threads, pred);
        if (st != DPT_OK) {
            free(med);
            rc = cli_fail(st, "bench --proxy");
            goto cleanup;
        }
        for (size_t it = 0; it < n_threads; it++) {
            if (csv_path)
                csv_row(out.f, s, &mi, "median", "median", &med[it], &pred[it]);
            if (json)
                json_row(stdout, s, &med[it], &pred[it]);
            else
                print_row(stdout, s, &med[it], &pred[it]);
        }
    }
    free(med);
    if (!json)
        fprintf(stdout,
                "\ngrad: sliced1 = sliced with layer 1 split by rows, slicedH = every hidden layer "
                "split "
                "by rows;\ncompute = the busiest worker's "
                "phase 1 + phase 2;\nmemory = cold MiB/step at the memory bandwidth; imbal = "
                "busiest / mean worker\n");
    for (size_t iw = 0; iw < n_rate1 && !json; iw++)
        fprintf(stdout,
                "--rate1 %s: %.9g samples/s at 1 thread: the target's core speed is %.4g x "
                "this one's\n",
                sw[iw].w->name, rate1[iw], sw[iw].core_speed);
    fflush(stdout);
    if (csv_path) {
        if ((rc = cli_out_commit(&out)))
            goto cleanup;
        fprintf(stderr, "bench --proxy: wrote %s\n", csv_path);
    }
    rc = CLI_OK;
cleanup:
    if (rc != CLI_OK)
        cli_out_abort(&out);
    for (size_t iw = 0; sw && iw < n_works; iw++)
        free(sw[iw].meas);
    free(sw);
    free(threads);
    free(pred);
    free(tmp);
    dpt_topo_destroy(topo);
    return rc;
}
