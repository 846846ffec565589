// `dptrain bench --proxy`: the scaling proxy on a tiny network at T = 1, 2, 16; its CSV (columns,
// run and median rows, the 1-thread prediction equal to the measured step, efficiency in (0, 1]
// and never rising with T), its JSON lines, and one-line errors for bad flags.
#include "cli_test.h"

// The index of column `name` in a CSV header line, or -1.
static int column(const char *header, const char *name)
{
    char buf[4096];
    const char *f[64];
    const size_t n = csv_split(header, buf, sizeof buf, f, 64);
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i], name) == 0)
            return (int)i;
    return -1;
}

Test(cli, proxy_predicts_from_one_core_and_writes_csv, CLI_FIXTURE)
{
    struct cli_result r =
        expect_ok(run("bench", "--proxy", "--layers", "16,48,24,4", "--batch", "16",
                      "--threads-list", "2,16", "--samples", "256", "--steps", "3", "--repeat", "2",
                      "--barrier-ns", "40", "--csv", P("p.csv"), NULL));
    // The table: one row per thread count, 1 added.
    cr_expect(strstr(r.out, "bench --proxy"), "%s", r.out);
    cr_expect(strstr(r.out, "40 ns (--barrier-ns)"), "%s", r.out);
    size_t rows = 0;
    for (const char *p = strstr(r.out, "\nnet "); p; p = strstr(p + 1, "\nnet "))
        rows++;
    cr_expect_eq(rows, 3u, "T = 1, 2, 16: %s", r.out);
    cr_expect(strstr(r.err, "net at 16 threads, run 2/2"), "%s", r.err);
    result_free(&r);

    char *csv = read_text(P("p.csv"));
    cr_assert(csv, "no CSV");
    cr_expect(strstr(csv, "# dptrain bench --proxy\n"), "no title");
    cr_expect(strstr(csv, "# cpu: ") && strstr(csv, "# command: ") && strstr(csv, "# model: "));
    char *line = strtok(csv, "\n");
    while (line && line[0] == '#')
        line = strtok(NULL, "\n");
    cr_assert(line, "no header");
    static const char *const cols[] = {
        "kind",       "workload",      "layers",     "batch",      "grad",       "threads",
        "repeat",     "samples_per_s", "speedup",    "efficiency", "step_s",     "compute_s",
        "phase1_s",   "phase2_s",      "memory_s",   "barrier_s",  "envelope_s", "barriers",
        "cold_bytes", "imbalance",     "mem_bw_gbs", "line_ns"};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        cr_expect_geq(column(line, cols[i]), 0, "column %s missing", cols[i]);
    const int c_kind = column(line, "kind"), c_t = column(line, "threads"),
              c_sps = column(line, "samples_per_s"), c_sp = column(line, "speedup"),
              c_eff = column(line, "efficiency"), c_step = column(line, "step_s"),
              c_comp = column(line, "compute_s"), c_p1 = column(line, "phase1_s"),
              c_p2 = column(line, "phase2_s"), c_bar = column(line, "barrier_s"),
              c_layers = column(line, "layers"), c_line = column(line, "line_ns");
    size_t runs = 0, medians = 0;
    double eff_prev = INFINITY;
    const size_t want_t[] = {1, 2, 16};
    while ((line = strtok(NULL, "\n"))) {
        char buf[4096];
        const char *f[64];
        cr_assert_geq(csv_split(line, buf, sizeof buf, f, 64), 30u, "short row: %s", line);
        cr_expect_str_eq(f[c_layers], "16-48-24-4");
        cr_expect_eq(strtod(f[c_line], NULL), 40.0);
        const size_t t = (size_t)strtoul(f[c_t], NULL, 10);
        const double sps = strtod(f[c_sps], NULL), step = strtod(f[c_step], NULL);
        const double eff = strtod(f[c_eff], NULL), sp = strtod(f[c_sp], NULL);
        cr_expect(fabs(sps - 16.0 / step) <= 1e-6 * sps, "%s", line);
        cr_expect(eff > 0 && eff <= 1.0 + 1e-9, "efficiency %g at T %zu", eff, t);
        cr_expect(fabs(sp - eff * (double)t) <= 1e-6 * sp, "%s", line);
        if (strcmp(f[c_kind], "run") == 0) {
            cr_expect_eq(t, want_t[runs % 3], "run rows out of order: %s", line);
            runs++;
        } else {
            cr_assert_str_eq(f[c_kind], "median");
            cr_expect_eq(t, want_t[medians], "median rows out of order: %s", line);
            medians++;
        }
        if (t == 1) {
            // Model consistency: the 1-thread prediction is the proxy's own measured step.
            const double comp = strtod(f[c_comp], NULL);
            cr_expect(fabs(step - comp) <= 1e-6 * comp, "%s", line);
            cr_expect(fabs(comp - strtod(f[c_p1], NULL) - strtod(f[c_p2], NULL)) <= 1e-6 * comp);
            cr_expect_eq(strtod(f[c_bar], NULL), 0.0);
            cr_expect_eq(sp, 1.0);
            eff_prev = INFINITY;
        } else {
            cr_expect(eff <= eff_prev * (1 + 1e-9), "efficiency rose to %g at T %zu", eff, t);
            cr_expect(strtod(f[c_bar], NULL) > 0);
        }
        eff_prev = eff;
    }
    cr_expect_eq(runs, 6u, "2 repeats x 3 thread counts");
    cr_expect_eq(medians, 3u);
    free(csv);
}

Test(cli, proxy_prints_json_lines, CLI_FIXTURE)
{
    struct cli_result r =
        expect_ok(run("bench", "--proxy", "--layers", "12,32,3", "--batch", "8", "--threads-list",
                      "4", "--samples", "64", "--steps", "2", "--repeat", "1", "--grad", "private",
                      "--mem-bw", "50", "--node-cores", "2", "--json", NULL));
    cr_expect(strstr(r.out, "{\"type\":\"proxy_model\""), "%s", r.out);
    cr_expect_eq(num_after(r.out, "\"mem_bw_gbs\":"), 50.0);
    cr_expect_eq(num_after(r.out, "\"node_cores\":"), 2.0);
    const char *t4 = strstr(r.out, "\"threads\":4,");
    cr_assert(t4, "%s", r.out);
    cr_expect(strstr(r.out, "\"grad\":\"private\""), "%s", r.out);
    cr_expect_eq(num_after(t4, "\"nodes\":"), 2.0, "4 threads on nodes of 2 cores");
    cr_expect(num_after(t4, "\"efficiency\":") > 0 && num_after(t4, "\"efficiency\":") <= 1.0);
    size_t lines = 0;
    for (const char *p = r.out; *p; p++)
        lines += *p == '\n';
    cr_expect_eq(lines, 3u, "model + 2 thread counts: %s", r.out);
    result_free(&r);
}

Test(cli, proxy_rejects_bad_flags, CLI_FIXTURE)
{
    const char *net[] = {"--layers", "8,16,4", "--samples", "64", "--steps", "1"};
#define PROXY(...)                                                                                 \
    run("bench", "--proxy", net[0], net[1], net[2], net[3], net[4], net[5], __VA_ARGS__, NULL)
    expect_usage_error(PROXY("--steps", "0"), "--steps", NULL);
    expect_usage_error(PROXY("--mem-bw", "-5"), "--mem-bw", NULL);
    expect_usage_error(PROXY("--mem-bw", "fast"), "--mem-bw", NULL);
    expect_usage_error(PROXY("--barrier-ns", "-1"), "--barrier-ns", NULL);
    expect_usage_error(PROXY("--numa-factor", "0.5"), "--numa-factor", NULL);
    expect_usage_error(PROXY("--allcore-speed", "2"), "--allcore-speed", NULL);
    expect_usage_error(PROXY("--node-cores", "0"), "--node-cores", NULL);
    expect_usage_error(PROXY("--threads-list", "0,2"), "--threads-list", NULL);
    expect_usage_error(PROXY("--grad", "mixed"), "--grad", NULL);
    expect_usage_error(PROXY("--schedule", "adam:lr="), "--schedule", NULL);
    expect_usage_error(PROXY("--batch", "0"), "--batch", NULL);
    expect_usage_error(PROXY("--batch", "100"), "samples", "batch"); // 64 samples < batch 100
    expect_usage_error(PROXY("--workload", "S"), "--layers", "--workload");
    expect_usage_error(PROXY("--warmup", "10"), "--warmup", "--proxy");
    expect_usage_error(PROXY("--engine", "openmp"), "--engine", "--proxy");
    expect_usage_error(PROXY("--csv", P("nodir/p.csv")), "--csv", NULL);
    cr_expect_not(file_exists(P("nodir")));
#undef PROXY
    expect_usage_error(run("bench", "--proxy", "--layers", "8", NULL), "--layers", NULL);
    expect_usage_error(run("bench", "--proxy", "--batch", "8", NULL), "--batch", "--layers");
    expect_usage_error(run("bench", "--csv", P("b.csv"), NULL), "--csv", "--proxy");
    expect_usage_error(run("bench", "--mem-bw", "10", NULL), "--mem-bw", "--proxy");
    cr_expect_not(file_exists(P("b.csv")));
}
