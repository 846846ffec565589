// `dptrain bench`: the reference workloads of docs/benchmarks.md (S, M, L on Fashion-MNIST),
// one epoch each after a warm-up, at each thread count. Reports samples/s, effective GFLOP/s,
// percent of the machine's sgemm limit (the BLAS's own sgemm on 2048 x 2048 at the same thread
// count, measured in the same run), test accuracy, peak RSS against a memory model, and the time
// breakdown of the trainer.
//
// Every (workload, threads, repeat) runs in a fresh child process (fork + exec of this binary with
// an internal flag) so that its peak RSS is its own and no run inherits another's heap, pages or
// BLAS buffers. The child reads its peak from VmHWM, which is per address space and so starts
// afresh at exec (ru_maxrss would carry over the parent's resident size from fork). The parent
// never loads the data and only measures the sgemm limit.
#include <cblas.h>
#include <errno.h>
#include <hwloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_impl.h"

static const char synopsis[] =
    "[--workload S|M|L|all] [--threads-list T,...] [--json] [options]\n"
    "       dptrain bench --proxy [--workload W,... | --layers N0,...,NL [--batch B]\n"
    "              [--schedule SPEC]] [--threads-list T,...] [--mem-bw GB/s] [--barrier-ns NS]\n"
    "              [--node-cores C] [--numa-factor F] [--csv FILE] [--json]\n\n"
    "--proxy predicts the rate at each thread count T from one core: it runs the work of each\n"
    "worker of a T-thread step with the data it would read cold evicted first, times the\n"
    "busiest, and adds a memory and a barrier term (docs/benchmarks.md, \"Scaling proxy\").";

// ---- workloads ----

struct workload {
    const char *name;
    size_t n_layers;
    size_t sizes[4];
    size_t batch;
    const char *schedule;
};

// docs/benchmarks.md and issue 4: ReLU hidden layers, softmax + cross-entropy (mean), plain SGD
// at lr 0.05 for S and L, Adam at lr 1e-3 for M. scripts/compare_pytorch.py mirrors this table.
static const struct workload workloads[] = {
    {"S", 2, {784, 128, 10, 0}, 32, "fixed:lr=0.05"},
    {"M", 3, {784, 512, 512, 10}, 128, "adam:lr=1e-3"},
    {"L", 3, {784, 1024, 1024, 10}, 256, "fixed:lr=0.05"},
};
#define N_WORKLOADS (sizeof workloads / sizeof workloads[0])

// Rows of each worker's workspace: the trainer sizes it for max(micro-batch, evaluation block),
// both capped at 256 rows (DPT_MICRO_BATCH_MAX and DPT_EVAL_ROWS in src/parallel/trainer.c).
#define BENCH_WS_ROWS 256

// Weights of a workload (biases excluded: they add no multiply-adds worth counting).
static size_t n_weights(const struct workload *w)
{
    size_t p = 0;
    for (size_t l = 1; l <= w->n_layers; l++)
        p += w->sizes[l - 1] * w->sizes[l];
    return p;
}

// Training FLOPs per sample (docs/benchmarks.md): forward 2P, weight gradients 2P, input deltas 2P
// except for the first layer, whose input delta is never needed.
static double flops_per_sample(const struct workload *w)
{
    const double p = (double)n_weights(w);
    return 2.0 * p + 2.0 * p + 2.0 * (p - (double)(w->sizes[0] * w->sizes[1]));
}

// "784-128-10" into buf (len bytes).
static void layers_text(const struct workload *w, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t l = 0; l <= w->n_layers && used < len; l++)
        used += (size_t)snprintf(buf + used, len - used, "%s%zu", l ? "-" : "", w->sizes[l]);
}

// The workload named "S", "M" or "L" (either case), or NULL.
static const struct workload *find_workload(const char *name)
{
    for (size_t i = 0; i < N_WORKLOADS; i++)
        if ((name[0] == workloads[i].name[0] || name[0] == workloads[i].name[0] + ('a' - 'A')) &&
            name[1] == '\0')
            return &workloads[i];
    return NULL;
}

// ---- small helpers ----

// Monotonic wall-clock seconds.
static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// CPU time of the whole process (every thread), seconds.
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// qsort order for doubles (finite values only: median() filters the rest out first).
static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Median of the finite values among v[0..n) (NAN when there is none); v is reordered in place.
static double median(double *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            v[k++] = v[i];
    if (k == 0)
        return NAN;
    qsort(v, k, sizeof *v, cmp_double);
    return k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
}

// A "Key:   123 kB" line of /proc/self/status in bytes, or 0 when unavailable.
static uint64_t proc_status_bytes(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    uint64_t v = 0;
    const size_t klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0) {
            v = (uint64_t)strtoull(line + klen, NULL, 10) * 1024u;
            break;
        }
    }
    fclose(f);
    return v;
}

// Peak resident set of this address space: VmHWM, else ru_maxrss (KiB on Linux).
static uint64_t peak_rss_bytes(void)
{
    uint64_t v = proc_status_bytes("VmHWM:");
    if (v == 0) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0)
            v = (uint64_t)ru.ru_maxrss * 1024u;
    }
    return v;
}

// Writes `,"key":v`, or null when v is not finite (JSON has no NaN).
static void json_num(FILE *f, const char *key, double v)
{
    if (isfinite(v))
        fprintf(f, ",\"%s\":%.9g", key, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

// Writes s as a JSON string (quotes, backslashes and control characters escaped).
static void json_str(FILE *f, const char *key, const char *s)
{
    fprintf(f, ",\"%s\":\"", key);
    for (; *s; s++) {
        const unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

// ---- the sgemm limit ----

// Sets the BLAS's own thread count (OpenBLAS only; other CBLAS builds keep theirs).
static void blas_threads(size_t nth)
{
#ifdef OPENBLAS_VERSION
    openblas_set_num_threads((int)nth);
#else
    (void)nth;
#endif
}

// GFLOP/s of the BLAS's sgemm on n x n matrices with nth BLAS threads: the best of `reps` timed
// calls after one untimed call (which starts the BLAS's threads and faults in its buffers). The
// BLAS goes back to one thread afterwards, as the trainer wants it. Returns NAN when out of memory.
static double sgemm_gflops(size_t n, size_t nth, size_t reps)
{
    float *a = malloc(n * n * sizeof *a), *b = malloc(n * n * sizeof *b);
    float *c = calloc(n * n, sizeof *c);
    double best = INFINITY;
    if (!a || !b || !c)
        goto cleanup;
    struct dpt_rng rng;
    dpt_rng_seed(&rng, 7);
    for (size_t i = 0; i < n * n; i++) {
        a[i] = (float)(2.0 * dpt_rng_uniform(&rng) - 1.0);
        b[i] = (float)(2.0 * dpt_rng_uniform(&rng) - 1.0);
    }
    blas_threads(nth);
    const int ni = (int)n;
    for (size_t r = 0; r <= reps; r++) {
        const double t0 = mono_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, ni, ni, 1.0f, a, ni, b, ni, 0.0f,
                    c, ni);
        const double dt = mono_s() - t0;
        if (r > 0 && dt < best)
            best = dt;
    }
    blas_threads(1);
cleanup:
    free(a);
    free(b);
    free(c);
    return isfinite(best) && best > 0 ? 2.0 * (double)n * (double)n * (double)n / best * 1e-9 : NAN;
}

// ---- one run (child process) ----

#define RESULT_MAGIC 0x44505442u // "DPTB"

// What a child sends back through its pipe: a plain struct, since both ends are this binary.
struct run_result {
    uint32_t magic;
    uint32_t threads;
    uint32_t truncated;         // cut short by --max-seconds
    double samples_per_s;       // over the steps after the warm-up
    double seconds;             // their wall time
    double warm_s;              // wall time of the warm-up steps
    double epoch_samples_per_s; // over the whole epoch, warm-up included
    double cpu_share;           // process CPU time / (seconds x threads) over the timed steps
    double train_loss;
    double test_loss;
    double test_acc;
    struct dpt_timing time;
    uint64_t samples;       // the epoch's
    uint64_t timed_samples; // after the warm-up
    uint64_t warm_steps;
    uint64_t peak_rss;    // bytes, VmHWM at the end of the run
    uint64_t base_rss;    // bytes resident before the data were loaded (code, libraries)
    uint64_t data_bytes;  // training set as loaded + test set
    uint64_t param_bytes; // one parameter vector, padding included
    uint64_t state_vecs;  // the schedule's per-parameter state vectors
    uint64_t ws_bytes;    // one worker's workspace
    char warnings[256];
};

// The warm-up is the first `warm_steps` steps of the measured epoch itself: the rate is taken over
// the steps after it, between progress callbacks at the same point of a step (worker 0, after its
// update, before the step's last barrier). So the model trains exactly one epoch (the accuracy
// check compares one epoch with one epoch), no partial epoch is left in the trainer, and nothing
// is allocated for the warm-up that would show in the peak RSS. compare_pytorch.py times the same
// steps. The callback runs after every step (a clock read: negligible next to a step) so that a
// run cut short by --max-seconds still has an exact rate. The process CPU time over the same
// interval, divided by wall time x threads, says what share of its cores the run really got: on a
// shared machine a low share explains a low rate.
struct step_clock {
    size_t warm_steps;  // the callback at this step starts the clock
    double max_seconds; // cut the epoch this long after the clock started; 0: never
    double t_start;     // time at the end of step warm_steps (or the epoch's start)
    double t_last;      // time at the end of the latest step
    size_t step_last;   // that step (1-based)
    double cpu_start;   // process CPU time at t_start
    double cpu_end;     // process CPU time at the end of the last step timed
    int truncated;      // the epoch was cut short
};

// The trainer's progress callback (every step): reads the clocks, cuts the epoch at max_seconds.
static int step_progress(uint64_t epoch, size_t step, size_t steps, void *user)
{
    struct step_clock *c = user;
    (void)epoch;
    const double t = mono_s();
    if (step == c->warm_steps) {
        c->t_start = t;
        c->cpu_start = cpu_s();
    }
    c->t_last = t;
    c->step_last = step;
    if (step == steps)
        c->cpu_end = cpu_s();
    if (c->max_seconds > 0 && step > c->warm_steps && step < steps &&
        t - c->t_start >= c->max_seconds) {
        c->truncated = 1;
        c->cpu_end = cpu_s();
        return 1;
    }
    return 0;
}

// Loads the data, builds workload w and trains it for one epoch with nth threads, then evaluates
// the test set. Fills *res; prints errors.
static int run_workload(const struct workload *w, size_t nth, size_t warmup, size_t samples,
                        double max_seconds, uint64_t seed, const char *dir, enum dpt_engine engine,
                        enum dpt_pin pin, enum dpt_grad_mode grad, enum dpt_precision prec,
                        struct run_result *res)
{
    struct dpt_dataset *train = NULL, *test = NULL, *sub = NULL;
    struct dpt_net *net = NULL;
    struct dpt_schedule *sched = NULL;
    struct dpt_trainer *tr = NULL;
    enum dpt_status st;
    int rc = CLI_FAILED;

    res->base_rss = proc_status_bytes("VmRSS:");
    if ((st = dpt_load_fashion_mnist(dir, 0, &train)) != DPT_OK ||
        (st = dpt_load_fashion_mnist(dir, 1, &test)) != DPT_OK) {
        rc = cli_fail(st, "bench: loading Fashion-MNIST");
        goto cleanup;
    }
    res->data_bytes = dpt_dataset_bytes(train) + dpt_dataset_bytes(test);
    if (samples > 0 && samples < dpt_dataset_n(train)) {
        // The first `samples` samples: a quick run. The full set stays counted in data_bytes,
        // because it was resident when loaded.
        size_t *idx = malloc(samples * sizeof *idx);
        if (!idx) {
            rc = cli_error("bench: out of memory");
            goto cleanup;
        }
        for (size_t i = 0; i < samples; i++)
            idx[i] = i;
        st = dpt_dataset_subset(train, idx, samples, &sub);
        free(idx);
        if (st != DPT_OK) {
            rc = cli_fail(st, "bench: --samples");
            goto cleanup;
        }
        dpt_dataset_destroy(train);
        train = sub;
        sub = NULL;
    }

    struct dpt_net_spec spec = dpt_net_spec_default();
    spec.n_layers = w->n_layers;
    for (size_t l = 0; l <= w->n_layers; l++)
        spec.sizes[l] = w->sizes[l];
    for (size_t l = 0; l < w->n_layers; l++)
        spec.act[l] = l + 1 == w->n_layers ? DPT_ACT_SOFTMAX : DPT_ACT_RELU;
    spec.loss = DPT_LOSS_XENT;
    spec.reduction = DPT_REDUCTION_MEAN;
    if ((st = dpt_net_create(&spec, &net)) != DPT_OK ||
        (st = dpt_net_init(net, DPT_INIT_AUTO, 0.0f, seed)) != DPT_OK) {
        rc = cli_fail(st, "bench: network");
        goto cleanup;
    }
    if ((st = dpt_schedule_parse(w->schedule, &sched)) != DPT_OK) {
        rc = cli_fail(st, "bench: schedule");
        goto cleanup;
    }

    // At least one measured step after the warm-up.
    const size_t n = dpt_dataset_n(train);
    const size_t steps_per_epoch = (n + w->batch - 1) / w->batch;
    size_t warm_steps = (warmup + w->batch - 1) / w->batch;
    if (warm_steps >= steps_per_epoch)
        warm_steps = steps_per_epoch - 1;
    struct step_clock clock = {.warm_steps = warm_steps, .max_seconds = max_seconds};
    struct dpt_train_params p = dpt_train_params_default();
    p.batch = w->batch;
    p.threads = nth;
    p.seed = seed;
    p.max_epochs = 1;
    p.engine = engine;
    p.pin = pin;
    p.grad_mode = grad;
    p.precision = prec;
    p.on_progress = step_progress;
    p.progress_every = 1;
    p.user = &clock;
    if ((st = dpt_trainer_create(net, sched, &p, &tr)) != DPT_OK) {
        rc = cli_fail(st, "bench: trainer");
        goto cleanup;
    }
    snprintf(res->warnings, sizeof res->warnings, "%s", dpt_trainer_warnings(tr));

    struct dpt_epoch_stats es;
    clock.t_start = mono_s();
    clock.cpu_start = cpu_s();
    if ((st = dpt_trainer_epoch(tr, train, NULL, test, &es)) != DPT_OK) {
        rc = cli_fail(st, "bench: training");
        goto cleanup;
    }
    if (!clock.truncated && clock.step_last != steps_per_epoch) {
        rc = cli_error("bench: the epoch stopped after %zu of %zu steps", clock.step_last,
                       steps_per_epoch);
        goto cleanup;
    }
    res->epoch_samples_per_s = es.samples_per_s;
    res->truncated = (uint32_t)clock.truncated;
    const size_t done = clock.step_last * w->batch < n ? clock.step_last * w->batch : n;
    res->timed_samples = done - warm_steps * w->batch;
    res->seconds = clock.t_last - clock.t_start;
    res->warm_s = es.seconds - res->seconds;
    res->samples_per_s = res->seconds > 0 ? (double)res->timed_samples / res->seconds : NAN;
    res->cpu_share = res->seconds > 0 ? (clock.cpu_end - clock.cpu_start) /
                                            (res->seconds * (double)dpt_trainer_threads(tr))
                                      : NAN;
    if (clock.truncated) // not one epoch: no accuracy to compare
        es.test_acc = es.test_loss = NAN;

    res->magic = RESULT_MAGIC;
    res->threads = (uint32_t)dpt_trainer_threads(tr);
    res->train_loss = es.train_loss;
    res->test_loss = es.test_loss;
    res->test_acc = es.test_acc;
    res->time = es.time;
    res->samples = n;
    res->warm_steps = warm_steps;
    res->param_bytes = dpt_net_n_params(net) * sizeof(float);
    res->state_vecs = dpt_schedule_state_len(sched) / dpt_net_n_params(net);
    res->ws_bytes = dpt_workspace_bytes(net, BENCH_WS_ROWS);
    res->peak_rss = peak_rss_bytes();
    rc = CLI_OK;
cleanup:
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
    dpt_dataset_destroy(sub);
    dpt_dataset_destroy(train);
    dpt_dataset_destroy(test);
    return rc;
}

// The child: `dptrain bench --internal-child FD W T WARMUP SAMPLES MAX_SECONDS SEED DIR ENGINE
// PIN GRAD PRECISION`. Writes one struct run_result to FD. Not a user interface: the parent builds
// these arguments.
static int child_main(int argc, char **argv)
{
    if (argc != 15)
        return cli_error("bench: --internal-child: expected 12 arguments");
    const int fd = atoi(argv[3]);
    const struct workload *w = find_workload(argv[4]);
    const size_t nth = (size_t)strtoull(argv[5], NULL, 10);
    const size_t warmup = (size_t)strtoull(argv[6], NULL, 10);
    const size_t samples = (size_t)strtoull(argv[7], NULL, 10);
    const double max_seconds = strtod(argv[8], NULL);
    const uint64_t seed = (uint64_t)strtoull(argv[9], NULL, 10);
    const char *dir = strcmp(argv[10], "-") == 0 ? NULL : argv[10];
    enum dpt_engine engine;
    enum dpt_pin pin;
    enum dpt_grad_mode grad;
    enum dpt_precision prec;
    if (fd < 0 || !w || nth == 0 || !(max_seconds >= 0) ||
        dpt_engine_parse(argv[11], &engine) != DPT_OK || dpt_pin_parse(argv[12], &pin) != DPT_OK ||
        dpt_grad_mode_parse(argv[13], &grad) != DPT_OK ||
        dpt_precision_parse(argv[14], &prec) != DPT_OK)
        return cli_error("bench: --internal-child: bad arguments");
    struct run_result res;
    memset(&res, 0, sizeof res);
    int rc = run_workload(w, nth, warmup, samples, max_seconds, seed, dir, engine, pin, grad, prec,
                          &res);
    if (rc != CLI_OK)
        return rc;
    const char *p = (const char *)&res;
    for (size_t done = 0; done < sizeof res;) {
        ssize_t k = write(fd, p + done, sizeof res - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return cli_error("bench: writing the result to the parent: %s", strerror(errno));
        done += (size_t)k;
    }
    close(fd);
    return CLI_OK;
}

struct bench_opts {
    size_t warmup;
    size_t samples;
    double max_seconds; // 0: no limit
    uint64_t seed;      // of the first run; run r uses seed + r
    const char *dir;    // "-" for the default directory
    const char *engine;
    const char *pin;
    const char *grad;
};

// Runs one configuration in a fresh process and collects its result. Returns CLI_OK or an exit
// code after printing why.
static int run_child(const struct bench_opts *o, const struct workload *w, size_t nth,
                     const char *prec, uint64_t seed, struct run_result *res)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return cli_error("bench: pipe: %s", strerror(errno));
    char a_fd[24], a_nth[24], a_warm[24], a_samples[24], a_max[40], a_seed[24];
    snprintf(a_fd, sizeof a_fd, "%d", pfd[1]);
    snprintf(a_nth, sizeof a_nth, "%zu", nth);
    snprintf(a_warm, sizeof a_warm, "%zu", o->warmup);
    snprintf(a_samples, sizeof a_samples, "%zu", o->samples);
    snprintf(a_max, sizeof a_max, "%.17g", o->max_seconds);
    snprintf(a_seed, sizeof a_seed, "%llu", (unsigned long long)seed);
    char *args[] = {"dptrain",
                    "bench",
                    "--internal-child",
                    a_fd,
                    (char *)w->name,
                    a_nth,
                    a_warm,
                    a_samples,
                    a_max,
                    a_seed,
                    (char *)o->dir,
                    (char *)o->engine,
                    (char *)o->pin,
                    (char *)o->grad,
                    (char *)prec,
                    NULL};
    fflush(NULL);
    const pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return cli_error("bench: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(pfd[0]);
        // /proc/self/exe: this very binary, even if the file was rebuilt meanwhile. DPTRAIN_SELF
        // overrides it where that is a loader, not dptrain (scripts/bundle.sh's wrapper sets it).
        const char *self = getenv("DPTRAIN_SELF");
        if (!self || !*self)
            self = "/proc/self/exe";
        execv(self, args);
        fprintf(stderr, "dptrain: error: bench: exec %s: %s\n", self, strerror(errno));
        _exit(CLI_FAILED);
    }
    close(pfd[1]);
    memset(res, 0, sizeof *res);
    char *p = (char *)res;
    size_t got = 0;
    while (got < sizeof *res) {
        ssize_t k = read(pfd[0], p + got, sizeof *res - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(pfd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != sizeof *res ||
        res->magic != RESULT_MAGIC) {
        if (WIFSIGNALED(status))
            return cli_error("bench: workload %s, %zu thread(s): killed by signal %d", w->name, nth,
                             WTERMSIG(status));
        cli_error("bench: workload %s, %zu thread(s): failed (see above)", w->name, nth);
        return WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status) : CLI_FAILED;
    }
    return CLI_OK;
}

// ---- report ----

// What is known about the machine and the software, for the header and the JSON "machine" line.
struct machine {
    char cpu[128];
    size_t cores;
    char topo[256];
    char blas[256];
    char hwloc[32];
    char compiler[64];
    char date[32];
};

// Fills *m: CPU model (/proc/cpuinfo), cores and topology (hwloc), BLAS, hwloc and compiler
// versions, the UTC date.
static void machine_info(struct machine *m, const struct dpt_topo *topo)
{
    memset(m, 0, sizeof *m);
    cli_cpu_model(m->cpu, sizeof m->cpu);
    m->cores = dpt_topo_n_cores(topo);
    dpt_topo_describe(topo, m->topo, sizeof m->topo);
#ifdef OPENBLAS_VERSION
    snprintf(m->blas, sizeof m->blas, "%s", openblas_get_config());
#else
    snprintf(m->blas, sizeof m->blas, "CBLAS");
#endif
    size_t len = strlen(m->blas);
    while (len > 0 && (m->blas[len - 1] == ' ' || m->blas[len - 1] == '\n'))
        m->blas[--len] = '\0';
#ifdef HWLOC_VERSION
    snprintf(m->hwloc, sizeof m->hwloc, "%s", HWLOC_VERSION);
#else
    const unsigned hv = hwloc_get_api_version();
    snprintf(m->hwloc, sizeof m->hwloc, "API %u.%u.%u", hv >> 16, (hv >> 8) & 0xffu, hv & 0xffu);
#endif
#if defined(__clang__)
    snprintf(m->compiler, sizeof m->compiler, "clang %s", __clang_version__);
#elif defined(__GNUC__)
    snprintf(m->compiler, sizeof m->compiler, "gcc %s", __VERSION__);
#else
    snprintf(m->compiler, sizeof m->compiler, "unknown");
#endif
    time_t now = time(NULL);
    struct tm tmv;
    if (gmtime_r(&now, &tmv))
        strftime(m->date, sizeof m->date, "%Y-%m-%dT%H:%M:%SZ", &tmv);
}

// Medians over the repeats of one (workload, threads) configuration.
struct summary {
    double samples_per_s, gflops, pct_limit, seconds, epoch_samples_per_s, test_acc, train_loss;
    double cpu_share;
    double peak_rss, model_rss;
    int truncated; // some run was cut short by --max-seconds
    double compute_pct, wait_pct, reduce_pct, update_pct;
};

// tmp: scratch for n doubles.
static void summarise(const struct workload *w, const struct run_result *runs, size_t n,
                      double limit, struct summary *s, double *tmp)
{
    for (size_t r = 0; r < n; r++)
        tmp[r] = runs[r].samples_per_s;
    s->samples_per_s = median(tmp, n);
    s->truncated = 0;
    for (size_t r = 0; r < n; r++)
        s->truncated |= runs[r].truncated != 0;
    s->gflops = s->samples_per_s * flops_per_sample(w) * 1e-9;
    s->pct_limit = isfinite(limit) && limit > 0 ? 100.0 * s->gflops / limit : NAN;
    for (size_t r = 0; r < n; r++)
        tmp[r] = runs[r].seconds;
    s->seconds = median(tmp, n);
    for (size_t r = 0; r < n; r++)
        tmp[r] = runs[r].epoch_samples_per_s;
    s->epoch_samples_per_s = median(tmp, n);
    for (size_t r = 0; r < n; r++)
        tmp[r] = runs[r].cpu_share;
    s->cpu_share = median(tmp, n);
    for (size_t r = 0; r < n; r++)
        tmp[r] = runs[r].test_acc;
    s->test_acc = median(tmp, n);
    for (size_t r = 0; r < n; r++)
        tmp[r] = runs[r].train_loss;
    s->train_loss = median(tmp, n);
    for (size_t r = 0; r < n; r++)
        tmp[r] = (double)runs[r].peak_rss;
    s->peak_rss = median(tmp, n);
    const struct run_result *r0 = &runs[0];
    s->model_rss = (double)r0->data_bytes +
                   (double)(r0->threads + 1 + r0->state_vecs) * (double)r0->param_bytes +
                   (double)r0->threads * (double)r0->ws_bytes;
    double *pc[4] = {&s->compute_pct, &s->wait_pct, &s->reduce_pct, &s->update_pct};
    for (size_t k = 0; k < 4; k++) {
        for (size_t r = 0; r < n; r++) {
            const struct dpt_timing *t = &runs[r].time;
            const double busy = t->compute_s + t->wait_s + t->reduce_s + t->update_s;
            const double part = k == 0   ? t->compute_s
                                : k == 1 ? t->wait_s
                                : k == 2 ? t->reduce_s
                                         : t->update_s;
            tmp[r] = busy > 0 ? 100.0 * part / busy : NAN;
        }
        *pc[k] = median(tmp, n);
    }
}

// The table's header: machine, versions, limits, method, column names.
static void print_header(FILE *f, const struct machine *m, const size_t *threads, size_t n_threads,
                         const double *limit, size_t sgemm_n, size_t repeat,
                         const struct bench_opts *o)
{
    fprintf(f, "dptrain %s bench, %s\n", dpt_version(), m->date);
    fprintf(f, "machine: %s; %s\n", m->cpu, m->topo);
    fprintf(f, "software: %s; hwloc %s; %s\n", m->blas, m->hwloc, m->compiler);
    fprintf(f, "sgemm %zux%zu limit (best of runs before and after):", sgemm_n, sgemm_n);
    for (size_t i = 0; i < n_threads; i++)
        fprintf(f, "%s T=%zu %.1f GFLOP/s", i ? "," : "", threads[i], limit[i]);
    fprintf(f, "\n");
    fprintf(f,
            "medians of %zu run%s, each a fresh process training 1 epoch (%s); samples/s timed "
            "after the first %zu samples (warm-up); engine %s, pin %s, gradients %s\n\n",
            repeat, repeat == 1 ? "" : "s", o->samples ? "--samples given" : "60000 samples",
            o->warmup, o->engine, o->pin, o->grad);
    fprintf(f, "%-4s %-17s %5s %-14s %3s %4s %10s %8s %7s %5s %8s %9s %9s %8s %5s %6s %6s\n",
            "work", "layers", "batch", "schedule", "T", "prec", "samples/s", "GFLOP/s", "%limit",
            "cpu", "test acc", "peak RSS", "model", "compute", "wait", "reduce", "update");
}

// One table row (a workload at one thread count; medians over the repeats).
static void print_row(FILE *f, const struct workload *w, size_t nth, const char *prec,
                      const struct summary *s)
{
    char layers[64];
    layers_text(w, layers, sizeof layers);
    const double mib = 1.0 / (1024.0 * 1024.0);
    fprintf(f,
            "%-4s %-17s %5zu %-14s %3zu %4s %10.0f%c %7.1f %6.1f%% %4.0f%% %8.4f %5.0f MiB %5.0f "
            "MiB %7.0f%% %4.0f%% %5.0f%% %5.0f%%\n",
            w->name, layers, w->batch, w->schedule, nth, prec, s->samples_per_s,
            s->truncated ? '*' : ' ', s->gflops, s->pct_limit, 100.0 * s->cpu_share, s->test_acc,
            s->peak_rss * mib, s->model_rss * mib, s->compute_pct, s->wait_pct, s->reduce_pct,
            s->update_pct);
}

// The "machine" JSON line: versions, topology and the options every result depends on.
static void json_machine(FILE *f, const struct machine *m, const struct bench_opts *o,
                         size_t repeat)
{
    fprintf(f, "{\"type\":\"machine\"");
    json_str(f, "dptrain", dpt_version());
    json_str(f, "date", m->date);
    json_str(f, "cpu", m->cpu);
    fprintf(f, ",\"cores\":%zu", m->cores);
    json_str(f, "topology", m->topo);
    json_str(f, "blas", m->blas);
    json_str(f, "hwloc", m->hwloc);
    json_str(f, "compiler", m->compiler);
    json_str(f, "engine", o->engine);
    json_str(f, "pin", o->pin);
    json_str(f, "grad", o->grad);
    fprintf(f, ",\"repeat\":%zu,\"warmup_samples\":%zu,\"samples_limit\":%zu,\"seed\":%llu}\n",
            repeat, o->warmup, o->samples, (unsigned long long)o->seed);
}

// The "result" JSON line of a workload at one thread count: medians, each run's rate and accuracy,
// the memory model's terms and the time breakdown. Names are stable: scripts/bench.sh reads them.
static void json_row(FILE *f, const struct workload *w, size_t nth, const char *prec,
                     const struct summary *s, const struct run_result *runs, size_t n, double limit)
{
    char layers[64];
    layers_text(w, layers, sizeof layers);
    const struct run_result *r0 = &runs[0];
    fprintf(f, "{\"type\":\"result\"");
    json_str(f, "workload", w->name);
    json_str(f, "layers", layers);
    fprintf(f, ",\"batch\":%zu", w->batch);
    json_str(f, "schedule", w->schedule);
    json_str(f, "precision", prec);
    fprintf(f,
            ",\"threads\":%zu,\"repeat\":%zu,\"samples\":%llu,\"warmup_steps\":%llu,"
            "\"timed_samples\":%llu",
            nth, n, (unsigned long long)r0->samples, (unsigned long long)r0->warm_steps,
            (unsigned long long)r0->timed_samples);
    json_num(f, "flops_per_sample", flops_per_sample(w));
    json_num(f, "samples_per_s", s->samples_per_s);
    fprintf(f, ",\"samples_per_s_runs\":[");
    for (size_t r = 0; r < n; r++)
        fprintf(f, "%s%.9g", r ? "," : "", runs[r].samples_per_s);
    fprintf(f, "]");
    fprintf(f, ",\"test_acc_runs\":[");
    for (size_t r = 0; r < n; r++)
        fprintf(f, isfinite(runs[r].test_acc) ? "%s%.9g" : "%snull", r ? "," : "",
                runs[r].test_acc);
    fprintf(f, "]");
    fprintf(f, ",\"truncated\":%s", s->truncated ? "true" : "false");
    json_num(f, "seconds", s->seconds);
    json_num(f, "epoch_samples_per_s", s->epoch_samples_per_s);
    json_num(f, "cpu_share", s->cpu_share);
    json_num(f, "gflops", s->gflops);
    json_num(f, "sgemm_gflops", limit);
    json_num(f, "pct_limit", s->pct_limit);
    json_num(f, "train_loss", s->train_loss);
    json_num(f, "test_acc", s->test_acc);
    json_num(f, "peak_rss_bytes", s->peak_rss);
    json_num(f, "model_rss_bytes", s->model_rss);
    json_num(f, "rss_ratio", s->model_rss > 0 ? s->peak_rss / s->model_rss : NAN);
    fprintf(f,
            ",\"base_rss_bytes\":%llu,\"data_bytes\":%llu,\"param_bytes\":%llu,"
            "\"state_vectors\":%llu,\"workspace_bytes\":%llu",
            (unsigned long long)r0->base_rss, (unsigned long long)r0->data_bytes,
            (unsigned long long)r0->param_bytes, (unsigned long long)r0->state_vecs,
            (unsigned long long)r0->ws_bytes);
    json_num(f, "compute_pct", s->compute_pct);
    json_num(f, "wait_pct", s->wait_pct);
    json_num(f, "reduce_pct", s->reduce_pct);
    json_num(f, "update_pct", s->update_pct);
    fprintf(f, "}\n");
}

// With two precisions: per workload and thread count, the second's speed over the first's, as
// the median of the per-round ratios (each round ran both back to back, with the same seed) and
// as the ratio of the medians.
static void print_ratios(FILE *f, const struct workload *const *wl, size_t n_wl,
                         const size_t *threads, size_t n_threads, const char *const *precs,
                         const struct run_result *runs, size_t repeat, double *tmp)
{
    fprintf(f, "%s / %s, samples/s (median of the per-round ratios; ratio of the medians):\n",
            precs[1], precs[0]);
    for (size_t iw = 0; iw < n_wl; iw++)
        for (size_t it = 0; it < n_threads; it++) {
            const struct run_result *a = &runs[((iw * n_threads + it) * 2 + 0) * repeat];
            const struct run_result *b = &runs[((iw * n_threads + it) * 2 + 1) * repeat];
            for (size_t r = 0; r < repeat; r++)
                tmp[r] = b[r].samples_per_s / a[r].samples_per_s;
            const double per_round = median(tmp, repeat);
            for (size_t r = 0; r < repeat; r++)
                tmp[r] = a[r].samples_per_s;
            const double ma = median(tmp, repeat);
            for (size_t r = 0; r < repeat; r++)
                tmp[r] = b[r].samples_per_s;
            fprintf(f, "  %s at %zu thread%s: %.2fx (%.2fx)\n", wl[iw]->name, threads[it],
                    threads[it] == 1 ? "" : "s", per_round, median(tmp, repeat) / ma);
        }
    fprintf(f, "\n");
}

// ---- the command ----

// Parses "S,L" / "all" into a list of workloads (in the order given, no duplicates).
static int parse_workloads(const char *text, const struct workload **out, size_t *n)
{
    *n = 0;
    if (strcmp(text, "all") == 0) {
        for (size_t i = 0; i < N_WORKLOADS; i++)
            out[(*n)++] = &workloads[i];
        return 0;
    }
    char *buf = NULL;
    const char *parts[N_WORKLOADS + 1];
    int k = cli_split(text, &buf, parts, N_WORKLOADS);
    if (k < 0) {
        free(buf);
        return cli_error("--workload: '%s': expected S, M, L, a comma list of them, or all", text);
    }
    for (int i = 0; i < k; i++) {
        const struct workload *w = find_workload(parts[i]);
        if (!w) {
            cli_error("--workload: unknown workload '%s' (expected S, M, L or all)", parts[i]);
            free(buf);
            return CLI_USAGE;
        }
        for (size_t j = 0; j < *n; j++)
            if (out[j] == w) {
                cli_error("--workload: '%s' is listed twice", parts[i]);
                free(buf);
                return CLI_USAGE;
            }
        out[(*n)++] = w;
    }
    free(buf);
    return 0;
}

#define BENCH_MAX_THREADS 1024

// Thread counts "1,2,4" (at most 64 entries; each 1..1024); default 1..cores.
static int parse_threads(const char *text, size_t cores, size_t **out, size_t *n)
{
    size_t cap = text ? 64 : (cores ? cores : 1);
    if (cap > BENCH_MAX_THREADS)
        cap = BENCH_MAX_THREADS;
    *out = malloc(cap * sizeof **out);
    if (!*out)
        return cli_error("bench: out of memory");
    if (!text) {
        for (size_t i = 0; i < cap; i++)
            (*out)[i] = i + 1;
        *n = cap;
        return 0;
    }
    char *buf = NULL;
    const char *parts[65];
    int k = cli_split(text, &buf, parts, 64);
    if (k < 0) {
        free(buf);
        return cli_error("--threads-list: '%s' has more than 64 entries", text);
    }
    for (int i = 0; i < k; i++) {
        if (cli_size("threads-list", parts[i], 1, BENCH_MAX_THREADS, &(*out)[i]) != 0) {
            free(buf);
            return CLI_USAGE;
        }
    }
    *n = (size_t)k;
    free(buf);
    return 0;
}

// ---- the scaling proxy (proxy.c) ----

// Flags only the proxy reads, and flags of the runs that do not apply to it.
static const char *const proxy_only[] = {
    "layers",      "batch",      "schedule", "steps",         "mem-bw", "barrier-ns", "node-cores",
    "numa-factor", "core-speed", "rate1",    "allcore-speed", "cores",  "no-flush",   "csv"};
static const char *const not_proxy[] = {"warmup", "max-seconds", "data",
                                        "engine", "pin",         "sgemm-n"};

// `dptrain bench --proxy`: the networks (the workloads, or --layers), the thread counts (default
// 1, 2, 4, ..., 64) and the repeats, then cli_proxy_run.
static int bench_proxy(const struct cli_flag *flags, int argc, char **argv)
{
    struct cli_proxy_work works[N_WORKLOADS];
    size_t n_works = 0, n_threads = 0, repeat = 3, *threads = NULL;
    const char *v;
    for (size_t i = 0; i < sizeof not_proxy / sizeof not_proxy[0]; i++)
        if (cli_get(flags, not_proxy[i]))
            return cli_error("--%s does not apply to --proxy (it trains nothing)", not_proxy[i]);
    if ((v = cli_get(flags, "repeat")) && cli_size("repeat", v, 1, 1000, &repeat))
        return CLI_USAGE;
    if ((v = cli_get(flags, "layers"))) {
        if (cli_get(flags, "workload"))
            return cli_error("--layers and --workload exclude each other (--layers names the "
                             "network to predict for)");
        struct cli_proxy_work *w = &works[n_works++];
        const struct cli_net_flags nf = {.layers = v};
        const struct cli_net_needs needs = {.classify = 1};
        if (cli_build_spec(&nf, &needs, &w->spec))
            return CLI_USAGE;
        w->name = "net";
        w->batch = 64;
        w->schedule = "adam:lr=1e-3";
        if ((v = cli_get(flags, "batch")) && cli_size("batch", v, 1, (size_t)1 << 20, &w->batch))
            return CLI_USAGE;
        if ((v = cli_get(flags, "schedule"))) {
            struct dpt_schedule *sched = NULL;
            enum dpt_status st = dpt_schedule_parse(v, &sched);
            dpt_schedule_destroy(sched);
            if (st != DPT_OK)
                return cli_fail(st, "--schedule");
            w->schedule = v;
        }
    } else {
        if (cli_get(flags, "batch") || cli_get(flags, "schedule"))
            return cli_error("--%s needs --layers (the workloads S, M and L fix their own)",
                             cli_get(flags, "batch") ? "batch" : "schedule");
        const struct workload *wl[N_WORKLOADS];
        if (parse_workloads((v = cli_get(flags, "workload")) ? v : "all", wl, &n_works))
            return CLI_USAGE;
        for (size_t i = 0; i < n_works; i++) {
            struct dpt_net_spec spec = dpt_net_spec_default();
            spec.n_layers = wl[i]->n_layers;
            for (size_t l = 0; l <= wl[i]->n_layers; l++)
                spec.sizes[l] = wl[i]->sizes[l];
            for (size_t l = 0; l < wl[i]->n_layers; l++)
                spec.act[l] = l + 1 == wl[i]->n_layers ? DPT_ACT_SOFTMAX : DPT_ACT_RELU;
            spec.loss = DPT_LOSS_XENT;
            spec.reduction = DPT_REDUCTION_MEAN;
            works[i] = (struct cli_proxy_work){wl[i]->name, spec, wl[i]->batch, wl[i]->schedule};
        }
    }
    if (parse_threads((v = cli_get(flags, "threads-list")) ? v : "1,2,4,8,16,32,64", 0, &threads,
                      &n_threads)) {
        free(threads);
        return CLI_USAGE;
    }
    const int rc = cli_proxy_run(works, n_works, threads, n_threads, repeat, flags, argc, argv);
    free(threads);
    return rc;
}

// `dptrain bench`: measures the sgemm limit, runs every (repeat, workload, threads) in a child
// process, measures the limit again, then prints the table or the JSON lines. Also the entry point
// of those children (--internal-child).
int cli_bench(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[2], "--internal-child") == 0)
        return child_main(argc, argv);
    struct cli_flag flags[] = {
        {"workload", "W,...", "S, M, L, a comma list of them, or all (default all)", 0},
        {"threads-list", "T,...",
         "thread counts to run (default 1..usable cores; --proxy: 1,2,4,...,64)", 0},
        {"repeat", "R",
         "runs of each configuration, each in a fresh process; medians (3; --proxy: sweeps)", 0},
        {"warmup", "N", "samples at the start of the epoch left out of the timing (6000)", 0},
        {"samples", "N",
         "train on the first N samples only, for quick runs (default all; --proxy: rows of its "
         "synthetic data set, 60000)",
         0},
        {"max-seconds", "S", "cut a run's epoch S seconds after the warm-up (default: never)", 0},
        {"seed", "S",
         "initialisation and shuffling seed of run 1; run r uses S + r - 1 (1; --proxy: of every "
         "sweep)",
         0},
        {"data", "DIR", "Fashion-MNIST directory (default " DPT_FASHION_MNIST_DIR ")", 0},
        {"engine", "E", "pthreads (default) or openmp", 0},
        {"pin", "P", "compact (default), scatter or none", 0},
        {"grad", "G", "gradient mode: auto (default), private or sliced", 0},
        {"precision", "P,...",
         "fp32 (default), bf16, or fp32,bf16: both, interleaved, with a speed ratio", 0},
        {"sgemm-n", "N", "size of the square sgemm that measures the limit (default 2048)", 0},
        {"json", NULL, "print one JSON object per line instead of the table", 0},
        {"proxy", NULL, "predict the rate at each T from one core (the scaling proxy)", 0},
        {"layers", "N0,...,NL", "--proxy: this network (ReLU, softmax, xent), not a workload", 0},
        {"batch", "B", "--proxy with --layers: samples per step (64)", 0},
        {"schedule", "SPEC", "--proxy with --layers: update schedule (adam:lr=1e-3)", 0},
        {"steps", "N", "--proxy: timed steps per thread count and repeat, medians (20)", 0},
        {"mem-bw", "GB/s", "--proxy: memory bandwidth of one NUMA node (100)", 0},
        {"barrier-ns", "NS",
         "--proxy: one cache-line transfer between cores (default: measured here, which on a "
         "virtual machine depends on where the host runs its CPUs: give it to compare runs)",
         0},
        {"node-cores", "C", "--proxy: cores per NUMA node (default: all on one node)", 0},
        {"numa-factor", "F", "--proxy: a transfer between NUMA nodes in local ones (3)", 0},
        {"core-speed", "F", "--proxy: the target's cores are F times this one's (1)", 0},
        {"rate1", "R,...",
         "--proxy: the target's 1-thread samples/s, per network: sets the core speed", 0},
        {"allcore-speed", "F", "--proxy: a core's speed with all cores busy, in one's (1)", 0},
        {"cores", "C", "--proxy: the target's cores, for --allcore-speed (largest T)", 0},
        {"no-flush", NULL, "--proxy: evict nothing (to see what cold data costs)", 0},
        {"csv", "FILE", "--proxy: also write every repeat and the medians as CSV (atomic)", 0},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    size_t n_pos = 0;
    int rc = cli_parse("bench", synopsis, flags, argc, argv, 2, pos, 0, &n_pos);
    if (rc < 0)
        return CLI_OK;
    if (rc)
        return rc;
    if (cli_get(flags, "proxy"))
        return bench_proxy(flags, argc, argv);
    for (size_t i = 0; i < sizeof proxy_only / sizeof proxy_only[0]; i++)
        if (cli_get(flags, proxy_only[i]))
            return cli_error("--%s needs --proxy", proxy_only[i]);

    struct dpt_topo *topo = NULL;
    size_t *threads = NULL;
    double *limit = NULL, *limit_before = NULL, *tmp = NULL;
    struct run_result *runs = NULL;
    const struct workload *wl[N_WORKLOADS];
    size_t n_wl = 0, n_threads = 0, repeat = 3, sgemm_n = 2048;
    const char *precs[2] = {"fp32", NULL};
    size_t n_prec = 1;
    struct bench_opts o = {.warmup = 6000,
                           .samples = 0,
                           .seed = 1,
                           .dir = "-",
                           .engine = "pthreads",
                           .pin = "compact",
                           .grad = "auto"};
    const bool json = cli_get(flags, "json") != NULL;
    enum dpt_status st;
    const char *v;
    rc = CLI_USAGE;

    if (parse_workloads((v = cli_get(flags, "workload")) ? v : "all", wl, &n_wl))
        goto cleanup;
    if ((v = cli_get(flags, "repeat")) && cli_size("repeat", v, 1, 1000, &repeat))
        goto cleanup;
    if ((v = cli_get(flags, "warmup")) && cli_size("warmup", v, 0, (size_t)1 << 30, &o.warmup))
        goto cleanup;
    if ((v = cli_get(flags, "samples")) && cli_size("samples", v, 1, (size_t)1 << 30, &o.samples))
        goto cleanup;
    if ((v = cli_get(flags, "max-seconds")) &&
        cli_double("max-seconds", v, 0.0, 1e9, &o.max_seconds))
        goto cleanup;
    if ((v = cli_get(flags, "seed")) && cli_u64("seed", v, &o.seed))
        goto cleanup;
    if ((v = cli_get(flags, "sgemm-n")) && cli_size("sgemm-n", v, 16, 16384, &sgemm_n))
        goto cleanup;
    if ((v = cli_get(flags, "data"))) {
        if (!v[0] || strcmp(v, "-") == 0) {
            rc = cli_error("--data: expected a directory, got '%s'", v);
            goto cleanup;
        }
        o.dir = v;
    }
    enum dpt_engine engine;
    enum dpt_pin pin;
    if ((v = cli_get(flags, "engine"))) {
        if (dpt_engine_parse(v, &engine) != DPT_OK) {
            rc = cli_fail(DPT_ERR_INVALID, "--engine");
            goto cleanup;
        }
        o.engine = dpt_engine_name(engine);
    }
    if ((v = cli_get(flags, "pin"))) {
        if (dpt_pin_parse(v, &pin) != DPT_OK) {
            rc = cli_fail(DPT_ERR_INVALID, "--pin");
            goto cleanup;
        }
        o.pin = dpt_pin_name(pin);
    }
    enum dpt_grad_mode grad;
    if ((v = cli_get(flags, "grad"))) {
        if (dpt_grad_mode_parse(v, &grad) != DPT_OK) {
            rc = cli_fail(DPT_ERR_INVALID, "--grad");
            goto cleanup;
        }
        o.grad = dpt_grad_mode_name(grad);
    }
    if ((v = cli_get(flags, "precision"))) {
        char *buf = NULL;
        const char *parts[3];
        const int k = cli_split(v, &buf, parts, 2);
        enum dpt_precision pr[2];
        int bad = k < 1;
        for (int i = 0; i < k && !bad; i++)
            bad = dpt_precision_parse(parts[i], &pr[i]) != DPT_OK;
        if (!bad && k == 2 && pr[0] == pr[1]) {
            free(buf);
            rc = cli_error("--precision: '%s' lists %s twice", v, dpt_precision_name(pr[0]));
            goto cleanup;
        }
        free(buf);
        if (bad) {
            rc = cli_error("--precision: '%s': expected fp32, bf16 or fp32,bf16", v);
            goto cleanup;
        }
        n_prec = (size_t)k;
        for (size_t i = 0; i < n_prec; i++) {
            precs[i] = dpt_precision_name(pr[i]);
            if (dpt_precision_check(pr[i])) {
                rc = cli_error("--precision %s: %s", precs[i], dpt_precision_check(pr[i]));
                goto cleanup;
            }
        }
    }
    if ((st = dpt_topo_create(&topo)) != DPT_OK) {
        rc = cli_fail(st, "bench: topology");
        goto cleanup;
    }
    if (parse_threads(cli_get(flags, "threads-list"), dpt_topo_n_cores(topo), &threads, &n_threads))
        goto cleanup;
    rc = CLI_FAILED;
    limit = calloc(n_threads, sizeof *limit);
    limit_before = calloc(n_threads, sizeof *limit_before);
    tmp = calloc(repeat, sizeof *tmp);
    runs = calloc(n_wl * n_threads * n_prec * repeat, sizeof *runs);
    if (!limit || !limit_before || !tmp || !runs) {
        rc = cli_error("bench: out of memory");
        goto cleanup;
    }
    struct machine m;
    machine_info(&m, topo);

    // The limit is measured before and after the runs, and the better figure kept: on a shared
    // machine either one may have been disturbed, and the limit is what the hardware can do.
    const size_t sgemm_reps = 5;
    for (size_t i = 0; i < n_threads; i++)
        limit_before[i] = sgemm_gflops(sgemm_n, threads[i], sgemm_reps);

    // Precisions innermost: both see the same stretch of a shared machine, and run r of each uses
    // the same seed (the same initial weights and batches).
    for (size_t r = 0; r < repeat; r++) {
        for (size_t iw = 0; iw < n_wl; iw++) {
            for (size_t it = 0; it < n_threads; it++) {
                for (size_t ip = 0; ip < n_prec; ip++) {
                    struct run_result *res =
                        &runs[((iw * n_threads + it) * n_prec + ip) * repeat + r];
                    // Run r uses seed + r: the repeats' accuracies then sample the seed-to-seed
                    // spread (about 2 points on M after one epoch) instead of repeating one value.
                    int crc = run_child(&o, wl[iw], threads[it], precs[ip], o.seed + r, res);
                    if (crc != CLI_OK) {
                        rc = crc;
                        goto cleanup;
                    }
                    if (res->warnings[0] && r == 0)
                        cli_warn("%s at %zu threads: %s", wl[iw]->name, threads[it], res->warnings);
                    fprintf(stderr,
                            "bench: %s at %zu thread%s, %s, run %zu/%zu: %.0f samples/s (CPU share "
                            "%.0f%%), test acc %.4f%s\n",
                            wl[iw]->name, threads[it], threads[it] == 1 ? "" : "s", precs[ip],
                            r + 1, repeat, res->samples_per_s, 100.0 * res->cpu_share,
                            res->test_acc, res->truncated ? " (cut short by --max-seconds)" : "");
                }
            }
        }
    }

    for (size_t i = 0; i < n_threads; i++) {
        const double after = sgemm_gflops(sgemm_n, threads[i], sgemm_reps);
        limit[i] = isfinite(after) && !(after < limit_before[i]) ? after : limit_before[i];
        if (json) {
            fprintf(stdout, "{\"type\":\"sgemm\",\"threads\":%zu,\"n\":%zu", threads[i], sgemm_n);
            json_num(stdout, "gflops", limit[i]);
            json_num(stdout, "gflops_before", limit_before[i]);
            json_num(stdout, "gflops_after", after);
            fprintf(stdout, "}\n");
        }
    }
    if (json)
        json_machine(stdout, &m, &o, repeat);
    else
        print_header(stdout, &m, threads, n_threads, limit, sgemm_n, repeat, &o);
    int any_cut = 0;
    for (size_t iw = 0; iw < n_wl; iw++) {
        for (size_t it = 0; it < n_threads; it++) {
            for (size_t ip = 0; ip < n_prec; ip++) {
                const struct run_result *rr = &runs[((iw * n_threads + it) * n_prec + ip) * repeat];
                struct summary s;
                summarise(wl[iw], rr, repeat, limit[it], &s, tmp);
                any_cut |= s.truncated;
                if (json)
                    json_row(stdout, wl[iw], threads[it], precs[ip], &s, rr, repeat, limit[it]);
                else
                    print_row(stdout, wl[iw], threads[it], precs[ip], &s);
            }
        }
    }
    if (!json) {
        fprintf(stdout, "\n");
        if (n_prec == 2)
            print_ratios(stdout, wl, n_wl, threads, n_threads, precs, runs, repeat, tmp);
        if (any_cut)
            fprintf(stdout, "* a run was cut short by --max-seconds: the rate covers the steps it "
                            "did; no accuracy\n");
        fprintf(stdout, "cpu = process CPU time / (wall time x T) over the timed steps: the share "
                        "of its cores the run got\n"
                        "model = data set + (T + 1 + schedule state vectors) x parameter bytes + "
                        "T x workspace; GFLOP/s counts 6P - 2 n0 n1 FLOPs per sample\n"
                        "%%limit: against the fp32 sgemm limit, also for bf16 rows\n");
    }
    fflush(stdout);
    rc = CLI_OK;
cleanup:
    dpt_topo_destroy(topo);
    free(threads);
    free(limit);
    free(limit_before);
    free(tmp);
    free(runs);
    return rc;
}
