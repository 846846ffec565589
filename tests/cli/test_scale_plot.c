// The pictures and the scaling experiment as a researcher uses them (issue 15 "Pictures", issue 16
// point 4). `dptrain plot`'s and `dptrain scale`'s gnuplot scripts, read through a stand-in
// gnuplot that keeps them (so they are checked with or without the real one); `dptrain scale`:
// weak against strong scaling, the gradient modes as an axis, the spread over repeats and the
// warning when they disagree, the Karp-Flatt caveat, oversubscription and time to a target test
// accuracy. DPT_TEST_SCALE_SECONDS (a test hook of src/cli/scale.c) replaces the measured time of
// run k by the k-th of its values, so speedups and spreads are numbers the tests choose.
#include "cli_test.h"

enum { COLS = 50, MAX_ROWS = 64 };

struct row {
    char buf[2048];
    const char *f[COLS + 2];
    size_t n;
};

// The CSV: its comment lines (returned, malloc) and its header and rows, each of COLS fields.
struct table {
    struct row head;
    struct row rows[MAX_ROWS];
    size_t n;
};

static char *read_table(const char *path, struct table *t)
{
    char *csv = read_text(path);
    cr_assert(csv, "no CSV at %s", path);
    const char *p = csv;
    while (*p == '#')
        p = strchr(p, '\n') + 1;
    t->head.n = csv_split(p, t->head.buf, sizeof t->head.buf, t->head.f, COLS + 2);
    cr_assert_eq(t->head.n, (size_t)COLS, "columns: %zu", t->head.n);
    t->n = 0;
    for (p = strchr(p, '\n') + 1; *p; p = strchr(p, '\n') + 1) {
        cr_assert_lt(t->n, (size_t)MAX_ROWS);
        struct row *x = &t->rows[t->n++];
        x->n = csv_split(p, x->buf, sizeof x->buf, x->f, COLS + 2);
        cr_assert_eq(x->n, (size_t)COLS, "row: %.160s", p);
    }
    return csv;
}

static const char *str(const struct table *t, const struct row *r, const char *name)
{
    for (size_t i = 0; i < COLS; i++)
        if (strcmp(t->head.f[i], name) == 0)
            return r->f[i];
    cr_assert_fail("no column %s", name);
    return NULL;
}

static double num(const struct table *t, const struct row *r, const char *name)
{
    const char *s = str(t, r, name);
    return s[0] ? strtod(s, NULL) : NAN;
}

static bool is_median(const struct table *t, const struct row *r)
{
    return strcmp(str(t, r, "kind"), "median") == 0;
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

// ---- strong and weak scaling ----

Test(cli, scale_weak_scaling_grows_the_batch_with_the_threads, CLI_FIXTURE)
{
    static const char *const scalings[] = {"strong", "weak"};
    for (int w = 0; w < 2; w++) {
        const char *args[] = {
            "scale", "--data",    "synth:xor,n=256", "--layers",       "2,8,2", "--batch",
            "16",    "--scaling", scalings[w],       "--threads-list", "1,2,3", "--repeat",
            "1",     "--csv",     P("s.csv"),        "--quiet",        NULL};
        struct cli_result r = expect_ok(cli_runv(args, NULL, NULL));
        // The table shows each configuration's global batch.
        cr_expect(strstr(r.out, w ? "  48 " : "  16 "), "%s", r.out);
        cr_expect_eq(strstr(r.out, "weak scaling: the batch grows") != NULL, w == 1, "%s", r.out);
        result_free(&r);
        struct table t;
        char *csv = read_table(P("s.csv"), &t);
        cr_expect(strstr(csv, w ? "# weak scaling: 16 samples per thread" : "# strong scaling"),
                  "%.600s", csv);
        cr_expect_eq(t.n, 6u);
        for (size_t i = 0; i < t.n; i++) {
            const struct row *x = &t.rows[i];
            const double th = num(&t, x, "threads");
            cr_expect_str_eq(str(&t, x, "scaling"), scalings[w]);
            cr_expect_eq(num(&t, x, "batch"), w ? 16 * th : 16.0, "batch at %g threads", th);
            cr_expect_eq(num(&t, x, "samples"), 256.0, "one epoch of the same data");
            // Karp-Flatt assumes a fixed amount of work: none under weak scaling.
            if (th > 1)
                cr_expect_eq(isnan(num(&t, x, "karp_flatt")), w == 1);
        }
        free(csv);
    }
    expect_usage_error(run("scale", "--data", "synth:xor,n=64", "--threads-list", "1", "--scaling",
                           "medium", "--csv", P("s.csv"), NULL),
                       "--scaling", "weak");
}

// ---- --precision ----

// scale runs bf16 products where the CPU has them (the CSV's command line says so), and refuses
// them elsewhere with one line; --predict with bf16 is refused everywhere (the proxy runs fp32).
Test(cli, scale_runs_bf16_products_but_predicts_only_fp32, CLI_FIXTURE)
{
    const char *d = "synth:xor,n=256";
    if (dpt_precision_check(DPT_PRECISION_BF16)) {
        expect_usage_error(run("scale", "--data", d, "--threads-list", "1,2", "--precision", "bf16",
                               "--repeat", "1", "--csv", P("s.csv"), "--quiet", NULL),
                           "--precision", "bf16");
    } else {
        struct cli_result r =
            expect_ok(run("scale", "--data", d, "--threads-list", "1,2", "--precision", "bf16",
                          "--repeat", "1", "--csv", P("s.csv"), "--quiet", NULL));
        result_free(&r);
        struct table t;
        char *csv = read_table(P("s.csv"), &t);
        cr_expect(strstr(csv, "--precision bf16"), "%.800s", csv);
        cr_expect_eq(t.n, 4u, "2 runs and 2 medians");
        free(csv);
    }
    expect_usage_error(run("scale", "--data", d, "--threads-list", "1,2", "--precision", "bf16",
                           "--predict", "--csv", P("p.csv"), "--quiet", NULL),
                       "bf16", NULL);
    cr_expect(!file_exists(P("p.csv")));
}

// ---- the gradient modes as an axis ----

Test(cli, scale_compares_gradient_modes_in_one_table, CLI_FIXTURE)
{
    struct cli_result r =
        expect_ok(run("scale", "--data", "synth:xor,n=256", "--layers", "2,8,2", "--batch", "32",
                      "--grad", "private,sliced", "--threads-list", "1,2", "--repeat", "1", "--csv",
                      P("s.csv"), "--quiet", NULL));
    // Header plus one line per mode and thread count, the mode in use on each.
    const char *rows = strchr(r.out, '\n') + 1;
    cr_expect_eq(count(rows, " private "), 2u, "%s", r.out);
    cr_expect_eq(count(rows, " sliced "), 2u, "%s", r.out);
    result_free(&r);
    struct table t;
    char *csv = read_table(P("s.csv"), &t);
    bool seen[2][2] = {{false}};
    for (size_t i = 0; i < t.n; i++) {
        const struct row *x = &t.rows[i];
        const char *asked = str(&t, x, "grad_flag");
        // An explicit mode is the one in use.
        cr_expect_str_eq(str(&t, x, "grad"), asked);
        const int g = strcmp(asked, "sliced") == 0, th = (int)num(&t, x, "threads");
        cr_assert(g || strcmp(asked, "private") == 0, "%s", asked);
        cr_assert(th == 1 || th == 2);
        seen[g][th - 1] = true;
        // Each mode's speedup is over its own 1-thread median.
        if (is_median(&t, x) && th == 1)
            cr_expect_eq(num(&t, x, "speedup"), 1.0);
    }
    for (int g = 0; g < 2; g++)
        for (int th = 0; th < 2; th++)
            cr_expect(seen[g][th], "mode %d at %d threads missing", g, th + 1);
    free(csv);
    unlink(P("s.csv"));

    const char *d = "synth:xor,n=64";
    expect_usage_error(run("scale", "--data", d, "--threads-list", "1", "--grad", "sliced",
                           "--reproducible", "--csv", P("s.csv"), NULL),
                       "--grad", "--reproducible");
    expect_usage_error(run("scale", "--data", d, "--threads-list", "1", "--grad", "private,private",
                           "--csv", P("s.csv"), NULL),
                       "--grad", "twice");
    expect_usage_error(run("scale", "--data", d, "--threads-list", "1", "--grad", "fast", "--csv",
                           P("s.csv"), NULL),
                       "--grad", NULL);
    cr_expect(!file_exists(P("s.csv")));
}

// ---- the spread over repeats ----

Test(cli, scale_csv_spread_and_imbalance_are_consistent, CLI_FIXTURE)
{
    struct cli_result r =
        expect_ok(run("scale", "--data", "synth:xor,n=256", "--layers", "2,8,2", "--threads-list",
                      "1,2", "--repeat", "3", "--csv", P("s.csv"), "--quiet", NULL));
    result_free(&r);
    struct table t;
    char *csv = read_table(P("s.csv"), &t);
    size_t medians = 0;
    for (size_t i = 0; i < t.n; i++) {
        const struct row *x = &t.rows[i];
        const double th = num(&t, x, "threads"), imb = num(&t, x, "imbalance");
        // The slowest worker's compute time over the mean: 1 with one worker, never below.
        if (th == 1)
            cr_expect_eq(imb, 1.0);
        else
            cr_expect_geq(imb, 1.0 - 1e-12);
        // The proxy model's column is there, empty without --predict.
        cr_expect_str_eq(str(&t, x, "predicted_samples_per_s"), "");
        if (!is_median(&t, x)) {
            cr_expect_str_eq(str(&t, x, "samples_per_s_min"), "");
            continue;
        }
        medians++;
        const double lo = num(&t, x, "samples_per_s_min"), mid = num(&t, x, "samples_per_s"),
                     hi = num(&t, x, "samples_per_s_max");
        cr_expect(lo <= mid && mid <= hi, "%g %g %g", lo, mid, hi);
        const double sp = num(&t, x, "speedup"), splo = num(&t, x, "speedup_min"),
                     sphi = num(&t, x, "speedup_max");
        cr_expect(splo <= sp && sp <= sphi, "%g %g %g", splo, sp, sphi);
        // The extremes are the slowest and fastest of the configuration's run rows.
        double rlo = INFINITY, rhi = 0;
        for (size_t j = 0; j < t.n; j++)
            if (!is_median(&t, &t.rows[j]) && num(&t, &t.rows[j], "threads") == th) {
                const double v = num(&t, &t.rows[j], "samples_per_s");
                rlo = v < rlo ? v : rlo;
                rhi = v > rhi ? v : rhi;
            }
        cr_expect_lt(fabs(lo - rlo), 1e-6 * rlo);
        cr_expect_lt(fabs(hi - rhi), 1e-6 * rhi);
    }
    cr_expect_eq(medians, 2u);
    cr_expect(strstr(csv, "predicted_samples_per_s is empty: run with --predict"), "%.800s", csv);
    free(csv);
}

Test(cli, scale_warns_once_when_repeats_disagree, CLI_FIXTURE)
{
    // Two repeats timed at 1 s and 2 s: the fastest is exactly 2x the slowest.
    const char *const hook[] = {"DPT_TEST_SCALE_SECONDS=1,2", NULL};
    const char *args[] = {"scale",    "--data",   "synth:xor,n=128",
                          "--layers", "2,4,2",    "--threads-list",
                          "1",        "--repeat", "2",
                          "--csv",    P("s.csv"), "--quiet",
                          NULL,       NULL,       NULL};
    struct cli_result r = expect_ok(run_env(hook, args));
    cr_expect_eq(count(r.err, "dptrain: warning: "), 1u, "%s", r.err);
    cr_expect_eq(count(r.err, "\n"), 1u, "one line: %s", r.err);
    cr_expect(strstr(r.err, "repeats disagree") && strstr(r.err, "2.00x") &&
                  strstr(r.err, "1.25x") && strstr(r.err, "--spread-warn"),
              "%s", r.err);
    cr_expect(strstr(r.out, " 2.00x "), "%s", r.out);
    result_free(&r);
    struct table t;
    char *csv = read_table(P("s.csv"), &t);
    cr_expect(strstr(csv, "# test hook DPT_TEST_SCALE_SECONDS"), "the CSV says so");
    const struct row *m = &t.rows[t.n - 1];
    cr_assert(is_median(&t, m));
    cr_expect_eq(num(&t, m, "samples_per_s_max"), 128.0);
    cr_expect_eq(num(&t, m, "samples_per_s_min"), 64.0);
    cr_expect_eq(num(&t, m, "samples_per_s"), 96.0);
    free(csv);

    // Below the threshold: no warning.
    args[12] = "--spread-warn";
    args[13] = "2.5";
    r = expect_ok(run_env(hook, args));
    cr_expect_eq(r.err[0], '\0', "%s", r.err);
    result_free(&r);
    // A threshold of 1 flags any two repeats, whatever the machine did.
    r = expect_ok(run("scale", "--data", "synth:xor,n=128", "--layers", "2,4,2", "--threads-list",
                      "1", "--repeat", "2", "--spread-warn", "1", "--csv", P("s.csv"), "--quiet",
                      NULL));
    cr_expect_eq(count(r.err, "repeats disagree"), 1u, "%s", r.err);
    result_free(&r);
    expect_usage_error(run("scale", "--data", "synth:xor,n=64", "--threads-list", "1",
                           "--spread-warn", "0.5", "--csv", P("s.csv"), NULL),
                       "--spread-warn", NULL);
}

// ---- the Karp-Flatt caveat ----

Test(cli, scale_explains_a_serial_fraction_outside_0_1, CLI_FIXTURE)
{
    static const struct {
        const char *seconds;
        double kf;
        const char *note;
    } cases[] = {
        // 2 threads 10x slower: speedup 0.1, e = (10 - 1/2) / (1 - 1/2) = 19.
        {"DPT_TEST_SCALE_SECONDS=1,10", 19.0, "slower than 1 thread"},
        // 4x faster on 2 threads: e = (1/4 - 1/2) / (1/2) = -0.5.
        {"DPT_TEST_SCALE_SECONDS=1,0.25", -0.5, "superlinear"},
        // 1.6667x: e = (0.6 - 0.5) / 0.5 = 0.2, a serial fraction: no note.
        {"DPT_TEST_SCALE_SECONDS=1,0.6", 0.2, NULL},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *const hook[] = {cases[c].seconds, NULL};
        const char *args[] = {"scale",    "--data",   "synth:xor,n=128",
                              "--layers", "2,4,2",    "--threads-list",
                              "1,2",      "--repeat", "1",
                              "--csv",    P("s.csv"), "--quiet",
                              NULL};
        struct cli_result r = expect_ok(run_env(hook, args));
        if (cases[c].note) {
            // The note on the row, then once what it means.
            cr_expect_eq(count(r.out, cases[c].note), 2u, "%s", r.out);
            cr_expect(strstr(r.out, "serial fraction"), "%s", r.out);
        } else {
            cr_expect(!strstr(r.out, "slower than 1 thread") && !strstr(r.out, "superlinear"), "%s",
                      r.out);
        }
        result_free(&r);
        struct table t;
        char *csv = read_table(P("s.csv"), &t);
        const struct row *m = &t.rows[t.n - 1];
        cr_assert(is_median(&t, m) && num(&t, m, "threads") == 2.0);
        cr_expect_lt(fabs(num(&t, m, "karp_flatt") - cases[c].kf), 1e-9, "%s: %g", cases[c].seconds,
                     num(&t, m, "karp_flatt"));
        cr_expect(strstr(csv, "outside [0, 1] it is no serial fraction"), "header note");
        free(csv);
    }
}

// ---- time to a target accuracy ----

Test(cli, scale_time_to_target_accuracy, CLI_FIXTURE)
{
    // Well separated blobs: 90% test accuracy within a few epochs, at either thread count.
    struct cli_result r = expect_ok(
        run("scale", "--data", "synth:blobs,n=300", "--test", "synth:blobs,n=300", "--layers",
            "2,16,3", "--schedule", "adam:lr=0.01", "--batch", "32", "--threads-list", "1,2",
            "--repeat", "1", "--target-acc", "0.9", "--csv", P("s.csv"), "--quiet", NULL));
    cr_expect(strstr(r.out, "time to test accuracy 0.9"), "%s", r.out);
    cr_expect(!strstr(r.out, "not reached"), "%s", r.out);
    result_free(&r);
    struct table t;
    char *csv = read_table(P("s.csv"), &t);
    for (size_t i = 0; i < t.n; i++) {
        const struct row *x = &t.rows[i];
        const double ep = num(&t, x, "epochs_to_target");
        cr_expect_eq(num(&t, x, "target_acc"), 0.9);
        cr_expect_eq(num(&t, x, "target_reached"), 1.0);
        cr_expect_geq(num(&t, x, "test_acc"), 0.9);
        cr_expect(ep >= 1 && ep <= 10, "epochs %g (at most 10 by default)", ep);
        // 300 samples in batches of 32: 10 steps an epoch; the run stops at the target.
        cr_expect_eq(num(&t, x, "steps_to_target"), 10 * ep);
        cr_expect_eq(num(&t, x, "samples"), 300 * ep);
        cr_expect_eq(num(&t, x, "epochs"), 10.0, "the cap");
        const double s = num(&t, x, "time_to_target_s");
        cr_expect(s > 0 && s <= num(&t, x, "seconds") * (1 + 1e-9), "%g", s);
    }
    free(csv);

    // Out of reach: every test point right after two epochs of a tiny rate.
    r = expect_ok(run("scale", "--data", "synth:xor,n=256", "--test", "synth:xor,n=256", "--layers",
                      "2,4,2", "--schedule", "fixed:lr=1e-6", "--threads-list", "1", "--repeat",
                      "2", "--epochs", "2", "--target-acc", "1", "--csv", P("s.csv"), "--quiet",
                      NULL));
    cr_expect(strstr(r.out, "not reached") && strstr(r.out, "0/2"), "%s", r.out);
    result_free(&r);
    csv = read_table(P("s.csv"), &t);
    for (size_t i = 0; i < t.n; i++) {
        const struct row *x = &t.rows[i];
        cr_expect_eq(num(&t, x, "target_reached"), 0.0);
        cr_expect_str_eq(str(&t, x, "time_to_target_s"), "");
        cr_expect_str_eq(str(&t, x, "steps_to_target"), "");
        cr_expect_str_eq(str(&t, x, "epochs_to_target"), "");
        cr_expect_eq(num(&t, x, "samples"), 512.0, "both epochs ran");
        cr_expect_lt(num(&t, x, "test_acc"), 1.0);
    }
    free(csv);

    // Without a target there is no evaluation: the accuracy columns stay empty.
    r = expect_ok(run("scale", "--data", "synth:xor,n=64", "--threads-list", "1", "--repeat", "1",
                      "--csv", P("s.csv"), "--quiet", NULL));
    cr_expect(!strstr(r.out, "time to test accuracy"), "%s", r.out);
    result_free(&r);
    csv = read_table(P("s.csv"), &t);
    cr_expect_str_eq(str(&t, &t.rows[0], "test_acc"), "");
    cr_expect_str_eq(str(&t, &t.rows[0], "target_reached"), "");
    free(csv);
    unlink(P("s.csv"));

    const char *d = "synth:xor,n=64";
    expect_usage_error(run("scale", "--data", d, "--threads-list", "1", "--target-acc", "0.8",
                           "--csv", P("s.csv"), NULL),
                       "--target-acc", "--test");
    expect_usage_error(
        run("scale", "--data", d, "--test", d, "--threads-list", "1", "--csv", P("s.csv"), NULL),
        "--test", "--target-acc");
    expect_usage_error(run("scale", "--data", d, "--test", d, "--threads-list", "1", "--target-acc",
                           "0", "--csv", P("s.csv"), NULL),
                       "--target-acc", NULL);
    expect_usage_error(run("scale", "--data", d, "--test", d, "--threads-list", "1", "--target-acc",
                           "1.5", "--csv", P("s.csv"), NULL),
                       "--target-acc", NULL);
    char text[1024] = "y,x\n";
    for (int i = 0; i < 20; i++) {
        char line[32];
        snprintf(line, sizeof line, "%d.5,%d\n", i, i);
        strcat(text, line);
    }
    write_text(P("r.csv"), text);
    const char *reg = SPEC("csv:", "r.csv", ",target=regression");
    expect_usage_error(run("scale", "--data", reg, "--test", reg, "--layers", "1,1",
                           "--threads-list", "1", "--target-acc", "0.5", "--csv", P("s.csv"), NULL),
                       "--target-acc", "regression");
    cr_expect(!file_exists(P("s.csv")));
}

// ---- oversubscription ----

Test(cli, scale_flags_thread_counts_beyond_the_cores, CLI_FIXTURE)
{
    struct cli_result r =
        expect_ok(run("scale", "--data", "synth:xor,n=128", "--layers", "2,4,2", "--threads-list",
                      "1,5", "--repeat", "1", "--csv", P("s.csv"), "--quiet", NULL));
    struct table t;
    char *csv = read_table(P("s.csv"), &t);
    const char *c = strstr(csv, "# allowed cores: ");
    cr_assert(c);
    const double cores = strtod(c + 17, NULL);
    cr_assert_gt(cores, 0.0);
    for (size_t i = 0; i < t.n; i++)
        cr_expect_eq(num(&t, &t.rows[i], "oversubscribed"),
                     num(&t, &t.rows[i], "threads") > cores ? 1.0 : 0.0);
    // On this machine's core count: the row and the note that explains it, or neither.
    cr_expect_eq(count(r.out, "oversubscribed"), cores < 5 ? 2u : 0u, "%s", r.out);
    result_free(&r);
    free(csv);
}

// ---- the plot's script ----

// A stand-in for gnuplot in DIR/bin: keeps the script and the data files in DIR/gp and writes a
// placeholder image where the script says.
static void fake_gnuplot(void)
{
    mkdir(P("bin"), 0755);
    mkdir(P("gp"), 0755);
    write_text(P("bin/gnuplot"), "#!/bin/sh\n"
                                 "cp \"$1\" \"$FAKE_GNUPLOT_OUT/plot.gp\" || exit 1\n"
                                 "cp \"$(dirname \"$1\")\"/*.dat \"$FAKE_GNUPLOT_OUT/\" || exit 1\n"
                                 "out=$(sed -n \"s/^set output '\\(.*\\)'$/\\1/p\" \"$1\")\n"
                                 "printf 'image' > \"$out\"\n");
    chmod(P("bin/gnuplot"), 0755);
}

static struct cli_result run_fake_gnuplot(const char *const *args)
{
    char path[600], out[600];
    snprintf(path, sizeof path, "PATH=%s:/usr/bin:/bin", P("bin"));
    snprintf(out, sizeof out, "FAKE_GNUPLOT_OUT=%s", P("gp"));
    const char *const set[] = {path, out, NULL};
    return run_env(set, args);
}

Test(cli, scale_plot_draws_spread_one_ideal_line_and_the_target, CLI_FIXTURE)
{
    fake_gnuplot();
    const char *args[] = {"scale",
                          "--data",
                          "synth:blobs,n=200",
                          "--test",
                          "synth:blobs,n=200",
                          "--layers",
                          "2,8,3",
                          "--schedule",
                          "adam:lr=0.01",
                          "--grad",
                          "private,sliced",
                          "--threads-list",
                          "1,2",
                          "--repeat",
                          "3",
                          "--target-acc",
                          "0.8",
                          "--csv",
                          P("s.csv"),
                          "--plot",
                          P("s.png"),
                          "--quiet",
                          NULL};
    struct cli_result r = expect_ok(run_fake_gnuplot(args));
    result_free(&r);
    char *img = read_text(P("s.png"));
    cr_expect(img && strcmp(img, "image") == 0, "the image is where it belongs");
    free(img);
    char *gp = read_text(P("gp/plot.gp"));
    cr_assert(gp, "no script kept");
    // Medians with the spread as error bars, in throughput and efficiency; a legend entry per
    // series and one shared ideal line per panel.
    cr_expect_eq(count(gp, "with yerrorlines"), 4u, "%s", gp);
    cr_expect_eq(count(gp, "title 'private'"), 3u, "%s", gp);
    cr_expect_eq(count(gp, "title 'sliced'"), 3u, "%s", gp);
    cr_expect_eq(count(gp, "ideal: linear from the best 1-thread rate"), 1u, "%s", gp);
    cr_expect_eq(count(gp, "title 'ideal'"), 1u, "%s", gp);
    cr_expect(!strstr(gp, "notitle"), "%s", gp);
    // No --predict: no series for it.
    cr_expect(!strstr(gp, "predicted"), "%s", gp);
    cr_expect(strstr(gp, "time to test accuracy 0.8") && strstr(gp, "layout 2,2"), "%s", gp);
    cr_expect(strstr(gp, "time breakdown"), "%s", gp);
    free(gp);
    // Each series' data: threads, samples/s median, min, max, ... with min <= median <= max.
    size_t files = 0;
    for (int k = 0; k < 2; k++) {
        char name[32];
        snprintf(name, sizeof name, "gp/data%d.dat", k);
        char *dat = read_text(P(name));
        cr_assert(dat, "%s", name);
        files++;
        for (const char *p = dat; *p; p = strchr(p, '\n') + 1) {
            double th, mid, lo, hi;
            cr_assert_eq(sscanf(p, "%lf %lf %lf %lf", &th, &mid, &lo, &hi), 4, "%s", p);
            cr_expect(lo <= mid && mid <= hi, "%s", p);
        }
        free(dat);
    }
    cr_expect_eq(files, 2u);
}

Test(cli, plot_script_has_whole_epochs_a_log_scale_and_room_for_the_key, CLI_FIXTURE)
{
    fake_gnuplot();
    char log[8192] = "";
    for (int e = 1; e <= 30; e++) {
        char line[160];
        snprintf(line, sizeof line,
                 "{\"event\":\"epoch\",\"epoch\":%d,\"train_loss\":%g,\"train_acc\":0.5,"
                 "\"test_loss\":%g}\n",
                 e, 1.0 / e, 1.5 / e);
        strcat(log, line);
    }
    write_text(P("a.jsonl"), log);
    const char *args[] = {"plot", P("a.jsonl"), "--out", P("a.svg"), "--log-y", NULL};
    struct cli_result r = expect_ok(run_fake_gnuplot(args));
    result_free(&r);
    char *gp = read_text(P("gp/plot.gp"));
    cr_assert(gp);
    // 30 epochs: a tic every 5, printed as whole numbers.
    cr_expect(strstr(gp, "set xtics 5\n") && strstr(gp, "set format x '%.0f'"), "%s", gp);
    // The loss on a log scale, the accuracy back on a linear one.
    const char *lg = strstr(gp, "set logscale y"),
               *loss = strstr(gp, "set title 'loss (log scale)'"),
               *unlog = strstr(gp, "unset logscale y"), *acc = strstr(gp, "set title 'accuracy'");
    cr_expect(lg && loss && unlog && acc && lg < loss && loss < unlog && unlog < acc, "%s", gp);
    // The legend below the panels, with a bottom margin set so that it clears the axis label.
    cr_expect(strstr(gp, "set key below") && strstr(gp, "set bmargin "), "%s", gp);
    free(gp);

    // Without --log-y: linear; two epochs: a tic on each.
    write_text(P("b.jsonl"), "{\"event\":\"epoch\",\"epoch\":1,\"train_loss\":2}\n"
                             "{\"event\":\"epoch\",\"epoch\":2,\"train_loss\":1}\n");
    args[1] = P("b.jsonl");
    args[4] = NULL;
    r = expect_ok(run_fake_gnuplot(args));
    result_free(&r);
    gp = read_text(P("gp/plot.gp"));
    cr_assert(gp);
    cr_expect(!strstr(gp, "logscale"), "%s", gp);
    cr_expect(strstr(gp, "set xtics 1\n"), "%s", gp);
    free(gp);

    // Nothing above 0 to draw on a log scale: an error, not gnuplot's.
    write_text(P("z.jsonl"), "{\"event\":\"epoch\",\"epoch\":1,\"train_loss\":0}\n");
    const char *zargs[] = {"plot", P("z.jsonl"), "--out", P("z.png"), "--log-y", NULL};
    expect_usage_error(run_fake_gnuplot(zargs), "--log-y", NULL);
    cr_expect(!file_exists(P("z.png")));
}

// --predict: the scaling proxy's rate on every median row (strong: one sweep per series, thread
// counts in any order; weak: one per thread count at its batch), in the table and the plot; a
// schedule counted in epochs works as in training.
Test(cli, scale_predict_fills_the_proxy_column, CLI_FIXTURE)
{
    static const char *const scalings[] = {"strong", "weak"};
    fake_gnuplot();
    for (int w = 0; w < 2; w++) {
        const char *args[] = {"scale",
                              "--data",
                              "synth:xor,n=256",
                              "--layers",
                              "2,8,2",
                              "--batch",
                              "16",
                              "--grad",
                              "private,sliced",
                              "--scaling",
                              scalings[w],
                              "--schedule",
                              "cosine(adam:lr=1e-3),t_epochs=2",
                              "--threads-list",
                              "3,1,2",
                              "--repeat",
                              "2",
                              "--predict",
                              "--csv",
                              P("s.csv"),
                              "--plot",
                              P("s.png"),
                              "--quiet",
                              NULL};
        struct cli_result r = expect_ok(run_fake_gnuplot(args));
        cr_expect(strstr(r.out, "predicted"), "%s", r.out);
        result_free(&r);
        struct table t;
        char *csv = read_table(P("s.csv"), &t);
        cr_expect(strstr(csv, "# predicted_samples_per_s (--predict): the scaling proxy"), "%.800s",
                  csv);
        size_t medians = 0;
        for (size_t i = 0; i < t.n; i++) {
            const struct row *x = &t.rows[i];
            if (!is_median(&t, x)) {
                cr_expect_str_eq(str(&t, x, "predicted_samples_per_s"), "");
                continue;
            }
            medians++;
            const double th = num(&t, x, "threads"), pr = num(&t, x, "predicted_samples_per_s");
            cr_expect(isfinite(pr) && pr > 0, "%g threads: predicted %g", th, pr);
            if (w == 1)
                continue;
            // Strong scaling: the model credits no superlinear speed-up over its own 1 thread.
            // Where that bound binds, the two rates are exactly T apart before the CSV rounds
            // each to 9 significant digits (%.9g: a relative error of at most 5e-9 each), hence
            // the 1e-8.
            for (size_t j = 0; j < t.n; j++) {
                const struct row *y = &t.rows[j];
                if (is_median(&t, y) && num(&t, y, "threads") == 1 &&
                    strcmp(str(&t, y, "grad_flag"), str(&t, x, "grad_flag")) == 0)
                    cr_expect_leq(pr, th * num(&t, y, "predicted_samples_per_s") * (1 + 1e-8),
                                  "%g threads: %g", th, pr);
            }
        }
        cr_expect_eq(medians, 6u);
        free(csv);
        char *gp = read_text(P("gp/plot.gp"));
        cr_assert(gp, "no script kept");
        cr_expect_eq(count(gp, "predicted"), 2u, "one predicted series per gradient mode: %s", gp);
        free(gp);
    }
}
