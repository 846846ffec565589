// `dptrain plot`'s gnuplot script, read through a stand-in gnuplot that keeps it (so it is
// checked with or without the real one): whole-epoch tics, the loss on a log scale, the legend
// below the axis label (issue 15 "Pictures").
#include "cli_test.h"

// The environment with the NAME=VALUE entries of `set` replacing or joining this one's.
static char **env_plus(const char *const *set)
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (set[m])
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
    cr_assert(env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < m; j++) {
            const size_t len = strcspn(set[j], "=") + 1;
            replaced = replaced || strncmp(environ[i], set[j], len) == 0;
        }
        if (!replaced)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        env[k++] = (char *)set[j];
    return env;
}

// dptrain with args (NULL-terminated) in this environment plus `set`.
static struct cli_result run_env(const char *const *set, const char *const *args)
{
    char **env = env_plus(set);
    struct cli_result r = cli_runv(args, NULL, env);
    free(env);
    return r;
}

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
