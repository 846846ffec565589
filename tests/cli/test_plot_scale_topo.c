// `dptrain plot`, `dptrain scale` and `dptrain topo`: images drawn when gnuplot is installed (a
// warning or an error when it is not), the scale CSV's header, rows and derived columns, and the
// placement table.
#include "cli_test.h"

static bool have_gnuplot(void)
{
    const char *path = getenv("PATH");
    char buf[1024];
    while (path && *path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, sizeof buf, "%.*s/gnuplot", (int)n, path);
        if (access(buf, X_OK) == 0)
            return true;
        path += n + (path[n] == ':');
    }
    return false;
}

// The environment with PATH pointing nowhere, so gnuplot cannot be found.
static char **env_without_path(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "PATH=", 5) != 0)
            env[k++] = environ[i];
    env[k++] = (char *)"PATH=/nonexistent-dptrain-test";
    env[k] = NULL;
    return env;
}

static const char log_a[] =
    "{\"event\":\"epoch\",\"epoch\":1,\"train_loss\":0.9,\"train_acc\":0.6,\"val_loss\":0.95,"
    "\"val_acc\":0.55,\"test_loss\":1.0,\"test_acc\":0.5,\"samples_per_s\":1000}\n"
    "\n"
    "{\"event\":\"epoch\",\"epoch\":2,\"train_loss\":0.5,\"train_acc\":0.8,\"val_loss\":0.6,"
    "\"val_acc\":0.75,\"test_loss\":0.7,\"test_acc\":0.7}\n"
    "{\"event\":\"done\",\"epochs\":2}\n";
static const char log_b[] =
    "{\"event\":\"epoch\",\"epoch\":1,\"train_loss\":2.5}\n"
    "{\"event\":\"epoch\",\"epoch\":2,\"train_loss\":1.5,\"test_loss\":null}\n";

Test(cli, plot_draws_svg_and_png, CLI_FIXTURE)
{
    if (!have_gnuplot())
        cr_skip_test("gnuplot is not installed");
    write_text(P("a.jsonl"), log_a);
    write_text(P("b.jsonl"), log_b);
    struct cli_result r = expect_ok(
        run("plot", P("a.jsonl"), P("b.jsonl"), "--out", P("c.svg"), "--title", "two runs", NULL));
    result_free(&r);
    char *svg = read_text(P("c.svg"));
    cr_assert(svg, "no image");
    cr_expect(strstr(svg, "<svg"), "not SVG");
    cr_expect(strstr(svg, "accuracy") && strstr(svg, "loss"), "panels missing");
    cr_expect(strstr(svg, "a.jsonl test") && strstr(svg, "b.jsonl train"), "series missing");
    free(svg);
    // A regression-only log: one panel, as PNG, the loss on a log scale.
    r = expect_ok(run("plot", P("b.jsonl"), "--out", P("d.png"), "--log-y", NULL));
    result_free(&r);
    char *png = read_text(P("d.png"));
    cr_assert(png);
    cr_expect_eq(memcmp(png, "\x89PNG", 4), 0, "not PNG");
    free(png);
    cr_expect_eq(count_prefixed(tdir, "c.svg."), 0u);
    cr_expect_eq(count_prefixed(tdir, "d.png."), 0u);
}

Test(cli, plot_errors_leave_no_image, CLI_FIXTURE)
{
    write_text(P("a.jsonl"), log_a);
    write_text(P("bad.jsonl"), "{\"event\":\"epoch\",\"epoch\":1,\"train_loss\":1}\n{oops\n");
    write_text(P("none.jsonl"), "{\"event\":\"done\"}\n");
    if (have_gnuplot()) {
        expect_usage_error(run("plot", P("bad.jsonl"), "--out", P("x.svg"), NULL), "bad.jsonl",
                           "line 2");
        expect_usage_error(run("plot", P("none.jsonl"), "--out", P("x.svg"), NULL), "none.jsonl",
                           "epoch");
        expect_usage_error(run("plot", P("missing.jsonl"), "--out", P("x.svg"), NULL),
                           "missing.jsonl", NULL);
        expect_usage_error(run("plot", P("a.jsonl"), "--out", P("x.pdf"), NULL), ".svg", NULL);
        expect_usage_error(run("plot", "--out", P("x.svg"), NULL), "log", NULL);
        expect_usage_error(run("plot", P("a.jsonl"), NULL), "--out", NULL);
        cr_expect(!file_exists(P("x.svg")));
        cr_expect_eq(count_prefixed(tdir, "x.svg"), 0u);
    }
    const char *args[] = {"plot", P("a.jsonl"), "--out", P("y.svg"), NULL};
    char **env = env_without_path();
    struct cli_result r = cli_runv(args, NULL, env);
    free(env);
    expect_usage_error(r, "gnuplot", NULL);
    cr_expect(!file_exists(P("y.svg")));
}

// ---- scale ----

enum { COLS = 50 };

struct row {
    char buf[2048];
    const char *f[COLS + 2];
    size_t n;
};

static const char *scol(const struct row *r, const char *const *names, const char *name)
{
    for (size_t i = 0; i < COLS; i++)
        if (strcmp(names[i], name) == 0)
            return r->f[i];
    cr_assert_fail("no column %s", name);
    return NULL;
}

static double col(const struct row *r, const char *const *names, const char *name)
{
    const char *s = scol(r, names, name);
    return s[0] ? strtod(s, NULL) : NAN;
}

Test(cli, scale_writes_runs_medians_and_the_machine, CLI_FIXTURE)
{
    struct cli_result r = expect_ok(
        run("scale", "--data", "synth:xor,n=256", "--layers", "2,8,2", "--batch", "32",
            "--schedule", "fixed:lr=0.05", "--threads-list", "1,2", "--engines", "pthreads,openmp",
            "--pins", "compact,scatter", "--repeat", "2", "--csv", P("s.csv"), "--quiet", NULL));
    // The table: a header and one line per configuration (2 placements + openmp, x 2 counts),
    // then notes explaining a speedup below 1 where the machine gave one.
    size_t lines = 0;
    for (const char *p = r.out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        lines += strncmp(p, "pthreads ", 9) == 0 || strncmp(p, "openmp ", 7) == 0;
    cr_expect_eq(lines, 6u, "%s", r.out);
    cr_expect_eq(strncmp(r.out, "engine ", 7), 0, "%s", r.out);
    cr_expect(strstr(r.out, "samples/s") && strstr(r.out, "speedup"), "%s", r.out);
    result_free(&r);

    char *csv = read_text(P("s.csv"));
    cr_assert(csv);
    static const char *const comments[] = {"# date: ",
                                           "# cpu: ",
                                           "# topology: ",
                                           "# allowed cores: ",
                                           "# versions: dptrain ",
                                           "# command: dptrain scale "};
    for (size_t i = 0; i < sizeof comments / sizeof comments[0]; i++)
        cr_expect(strstr(csv, comments[i]), "'%s' missing", comments[i]);
    const char *v = strstr(csv, "# versions: ");
    cr_expect(v && strstr(v, "BLAS") && strstr(v, "hwloc") &&
                  (strstr(v, "gcc") || strstr(v, "clang")),
              "versions: %.200s", v);

    // Column names, then rows.
    const char *p = csv;
    while (*p == '#')
        p = strchr(p, '\n') + 1;
    struct row head;
    head.n = csv_split(p, head.buf, sizeof head.buf, head.f, COLS + 2);
    cr_assert_eq(head.n, (size_t)COLS, "columns: %zu", head.n);
    cr_expect_str_eq(head.f[0], "kind");
    size_t runs = 0, medians = 0;
    for (p = strchr(p, '\n') + 1; *p; p = strchr(p, '\n') + 1) {
        struct row x;
        x.n = csv_split(p, x.buf, sizeof x.buf, x.f, COLS + 2);
        cr_assert_eq(x.n, (size_t)COLS, "row: %.120s", p);
        // The full configuration on every row.
        cr_expect_str_eq(scol(&x, head.f, "data"), "synth:xor,n=256");
        cr_expect_str_eq(scol(&x, head.f, "layers"), "2,8,2");
        cr_expect_str_eq(scol(&x, head.f, "schedule"), "fixed:lr=0.05");
        cr_expect_str_eq(scol(&x, head.f, "scaling"), "strong");
        cr_expect_str_eq(scol(&x, head.f, "grad_flag"), "auto");
        // The gradient mode in use: auto picks private here, because the batch workspace of
        // 32 rows x (2 + 2 x 8 + 2 x 2) floats is larger than 1 or 2 gradients of 42 parameters.
        cr_expect_str_eq(scol(&x, head.f, "grad"), "private");
        cr_expect_eq(col(&x, head.f, "batch"), 32.0);
        cr_expect_eq(col(&x, head.f, "epochs"), 1.0, "one epoch unless told");
        cr_expect_eq(col(&x, head.f, "samples"), 256.0);
        const double t = col(&x, head.f, "threads"), sp = col(&x, head.f, "speedup");
        cr_expect(t == 1.0 || t == 2.0);
        cr_expect_gt(col(&x, head.f, "samples_per_s"), 0.0);
        // Efficiency and the Karp-Flatt fraction follow from the speedup.
        cr_expect_lt(fabs(col(&x, head.f, "efficiency") - sp / t), 1e-6 * sp / t);
        if (t == 1.0) {
            cr_expect(isnan(col(&x, head.f, "karp_flatt")), "no serial fraction at 1 thread");
        } else {
            // Both columns are written with 9 significant digits, each off by at most 5e-9 of
            // itself: the speedup's error reaches kf through d kf / d sp = -1 / (sp^2 (1 - 1/t))
            // (a speedup near t, where kf is near 0, still moves kf by ~2.5e-9), kf's own adds
            // 5e-9 |kf|; twice both, for the arithmetic here.
            const double kf = (1.0 / sp - 1.0 / t) / (1.0 - 1.0 / t);
            const double tol = 2.0 * (5e-9 / (sp * (1.0 - 1.0 / t)) + 5e-9 * fabs(kf));
            cr_expect_leq(fabs(col(&x, head.f, "karp_flatt") - kf), tol, "sp %.9g kf %.9g", sp, kf);
        }
        const double pc = col(&x, head.f, "compute_pct") + col(&x, head.f, "wait_pct") +
                          col(&x, head.f, "reduce_pct") + col(&x, head.f, "update_pct");
        cr_expect_lt(fabs(pc - 100.0), 1e-3, "breakdown sums to %g", pc);
        if (strcmp(x.f[0], "run") == 0) {
            runs++;
        } else {
            cr_expect_str_eq(x.f[0], "median");
            medians++;
            if (t == 1.0)
                cr_expect_eq(sp, 1.0, "the median 1-thread run is the baseline");
        }
        const char *engine = scol(&x, head.f, "engine"), *pin = scol(&x, head.f, "pin");
        cr_expect(strcmp(pin, "omp") == 0 ? strcmp(engine, "openmp") == 0
                                          : strcmp(engine, "pthreads") == 0,
                  "engine %s with pin %s", engine, pin);
    }
    cr_expect_eq(runs, 12u);
    cr_expect_eq(medians, 6u);
    free(csv);
}

Test(cli, scale_plot_or_a_warning_without_gnuplot, CLI_FIXTURE)
{
    if (have_gnuplot()) {
        struct cli_result r = expect_ok(
            run("scale", "--data", "synth:xor,n=128", "--layers", "2,4,2", "--threads-list", "2",
                "--repeat", "1", "--csv", P("s.csv"), "--plot", P("s.svg"), "--quiet", NULL));
        // 1 is added to the list: speedups need it.
        cr_expect(strstr(r.err, "adding 1"), "%s", r.err);
        result_free(&r);
        char *svg = read_text(P("s.svg"));
        cr_assert(svg, "no plot");
        cr_expect(strstr(svg, "<svg") && strstr(svg, "efficiency") && strstr(svg, "ideal"));
        cr_expect(strstr(svg, "compute") && strstr(svg, "wait"), "breakdown bars");
        free(svg);
    }
    const char *args[] = {"scale",          "--data", "synth:xor,n=128", "--layers", "2,4,2",
                          "--threads-list", "1",      "--repeat",        "1",        "--csv",
                          P("t.csv"),       "--plot", P("t.png"),        "--quiet",  NULL};
    char **env = env_without_path();
    struct cli_result r = cli_runv(args, NULL, env);
    free(env);
    cr_expect_eq(r.code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "warning") && strstr(r.err, "gnuplot"), "%s", r.err);
    result_free(&r);
    cr_expect(file_exists(P("t.csv")), "the CSV is written anyway");
    cr_expect(!file_exists(P("t.png")));
}

Test(cli, scale_rejects_bad_flags_and_writes_nothing, CLI_FIXTURE)
{
    const char *d = "synth:xor,n=64";
    expect_usage_error(run("scale", "--data", d, "--csv", P("s.csv"), NULL), "--threads-list",
                       NULL);
    expect_usage_error(run("scale", "--data", d, "--threads-list", "1", NULL), "--csv", NULL);
    expect_usage_error(
        run("scale", "--data", d, "--threads-list", "1,0", "--csv", P("s.csv"), NULL),
        "--threads-list", NULL);
    expect_usage_error(
        run("scale", "--data", d, "--threads-list", "1,1", "--csv", P("s.csv"), NULL), "twice",
        NULL);
    expect_usage_error(run("scale", "--data", d, "--threads-list", "1", "--engines", "tbb", "--csv",
                           P("s.csv"), NULL),
                       "--engines", "tbb");
    expect_usage_error(run("scale", "--data", d, "--threads-list", "1", "--pins", "far", "--csv",
                           P("s.csv"), NULL),
                       "--pins", NULL);
    expect_usage_error(run("scale", "--data", d, "--threads-list", "1", "--repeat", "0", "--csv",
                           P("s.csv"), NULL),
                       "--repeat", NULL);
    expect_usage_error(run("scale", "--data", d, "--threads", "2", "--threads-list", "1", "--csv",
                           P("s.csv"), NULL),
                       "--threads", NULL);
    expect_usage_error(run("scale", "--data", d, "--threads-list", "1", "--csv", P("s.csv"),
                           "--plot", P("s.gif"), NULL),
                       "--plot", NULL);
    expect_usage_error(
        run("scale", "--data", "synth:nope", "--threads-list", "1", "--csv", P("s.csv"), NULL),
        "nope", NULL);
    expect_usage_error(run("scale", "--data", d, "--threads-list", "1", "--repeat", "1", "--quiet",
                           "--csv", P("no/dir/s.csv"), NULL),
                       "--csv", NULL);
    cr_expect(!file_exists(P("s.csv")));
    cr_expect_eq(count_prefixed(tdir, "s.csv"), 0u);
}

// ---- topo ----

Test(cli, topo_shows_the_machine_and_each_placement, CLI_FIXTURE)
{
    struct cli_result r = expect_ok(run("topo", NULL));
    cr_expect(strstr(r.out, "topology: ") && strstr(r.out, "allowed PUs"), "%s", r.out);
    cr_expect(strstr(r.out, "usable cores: "), "%s", r.out);
    cr_expect(strstr(r.out, "compact") && strstr(r.out, "scatter") && strstr(r.out, "none"), "%s",
              r.out);
    cr_expect(strstr(r.out, "\nBLAS kernels: "), "%s", r.out);
    result_free(&r);

    // Two packages of two cores: compact fills a package first, scatter alternates packages.
    r = expect_ok(run("topo", "--synthetic", "pack:2 core:2 pu:1", "--threads", "4", NULL));
    cr_expect(strstr(r.out, "2 packages"), "%s", r.out);
    const char *t = strstr(r.out, "worker  compact");
    cr_assert(t, "%s", r.out);
    int pus[4][2];
    t = strchr(t, '\n') + 1;
    for (int i = 0; i < 4; i++) {
        int w;
        char none[8];
        cr_assert_eq(sscanf(t, "%d %d %d %7s", &w, &pus[i][0], &pus[i][1], none), 4, "%s", t);
        cr_expect_eq(w, i);
        cr_expect_str_eq(none, "-");
        t = strchr(t, '\n') + 1;
    }
    static const int compact[4] = {0, 1, 2, 3}, scatter[4] = {0, 2, 1, 3};
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(pus[i][0], compact[i], "compact worker %d", i);
        cr_expect_eq(pus[i][1], scatter[i], "scatter worker %d", i);
    }
    // The barrier: two levels, one group per package, when bound; flat when not.
    cr_expect(strstr(r.out, "\nbarrier of the pthreads engine: compact 2 groups, scatter 2 groups, "
                            "none flat\n"),
              "%s", r.out);
    result_free(&r);
    // One package of 16 cores: runs of 4 workers past 8; up to 8, flat.
    r = expect_ok(run("topo", "--synthetic", "pack:1 core:16 pu:1", "--threads", "16", NULL));
    cr_expect(strstr(r.out, "barrier of the pthreads engine: compact 4 groups, scatter 4 groups, "
                            "none flat\n"),
              "%s", r.out);
    result_free(&r);
    r = expect_ok(run("topo", "--synthetic", "pack:1 core:16 pu:1", "--threads", "8", NULL));
    cr_expect(strstr(r.out, "barrier of the pthreads engine: compact flat, scatter flat, none "
                            "flat\n"),
              "%s", r.out);
    result_free(&r);

    // More workers than cores wrap around, with a note.
    r = expect_ok(run("topo", "--synthetic", "pack:1 core:2 pu:1", "--threads", "3", NULL));
    cr_expect(strstr(r.out, "oversubscribed"), "%s", r.out);
    result_free(&r);
    expect_usage_error(run("topo", "--synthetic", "nonsense", NULL), "--synthetic", NULL);
    expect_usage_error(run("topo", "--threads", "0", NULL), "--threads", NULL);
}
