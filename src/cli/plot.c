// `dptrain plot`: loss and accuracy curves per epoch (train, validation and test) from one or
// more JSON logs written by `dptrain train --log-json`, drawn by gnuplot.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_impl.h"

static const char synopsis[] =
    "LOG.jsonl [LOG.jsonl ...] --out FILE.svg|FILE.png [--title TEXT] [--log-y]\n\n"
    "Draws the loss (and accuracy, for classification) of every epoch of each log:\n"
    "one curve per log and set (train, val, test), the legend below each panel.";

// The columns of an epoch event that are plotted, in data-file order after the epoch.
static const char *const keys[] = {"train_loss", "train_acc", "val_loss",
                                   "val_acc",    "test_loss", "test_acc"};
enum { N_KEYS = sizeof keys / sizeof keys[0] };

struct series {
    const char *path;
    char data[128];   // data file in the plot directory
    bool has[N_KEYS]; // a column with at least one value
    size_t n_epochs;
    double first, last; // the smallest and largest epoch number
    bool positive_loss; // a loss above 0 (something to draw on a logarithmic axis)
};

static const char *const sets[] = {"train", "val", "test"};

// The image: 1200 x 480 pixels for up to two rows of legend below each panel, taller for more.
enum { WIDTH = 1200, HEIGHT = 480, KEY_ROW_PX = 16 };

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

// Reads one log into a data file: "epoch v1 .. v6", '?' for missing values.
static int read_log(struct series *s, struct cli_plot *pl)
{
    FILE *in = fopen(s->path, "r");
    if (!in)
        return cli_error("%s: cannot open the log", s->path);
    FILE *out = cli_plot_file(pl, s->data, sizeof s->data);
    if (!out) {
        fclose(in);
        return cli_error("cannot write a temporary data file");
    }
    int rc = 0;
    size_t line_no = 0, cap = 0;
    char *line = NULL;
    ssize_t len;
    while ((len = getline(&line, &cap, in)) >= 0) {
        line_no++;
        size_t k = strspn(line, " \t\r\n");
        if ((ssize_t)k == len)
            continue;
        cJSON *obj = cJSON_Parse(line);
        if (!obj || !cJSON_IsObject(obj)) {
            cJSON_Delete(obj);
            rc = cli_error("%s: line %zu: not a JSON object", s->path, line_no);
            break;
        }
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(obj, "event");
        if (cJSON_IsString(ev) && strcmp(ev->valuestring, "epoch") == 0) {
            const cJSON *ep = cJSON_GetObjectItemCaseSensitive(obj, "epoch");
            if (!cJSON_IsNumber(ep)) {
                cJSON_Delete(obj);
                rc = cli_error("%s: line %zu: an epoch event without a numeric \"epoch\"", s->path,
                               line_no);
                break;
            }
            fprintf(out, "%.9g", ep->valuedouble);
            if (s->n_epochs == 0 || ep->valuedouble < s->first)
                s->first = ep->valuedouble;
            if (s->n_epochs == 0 || ep->valuedouble > s->last)
                s->last = ep->valuedouble;
            for (size_t j = 0; j < N_KEYS; j++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, keys[j]);
                if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
                    fprintf(out, " %.9g", v->valuedouble);
                    s->has[j] = true;
                    s->positive_loss = s->positive_loss || (j % 2 == 0 && v->valuedouble > 0);
                } else {
                    fputs(" ?", out);
                }
            }
            fputc('\n', out);
            s->n_epochs++;
        }
        cJSON_Delete(obj);
    }
    free(line);
    if (!rc && ferror(in))
        rc = cli_error("%s: read error", s->path);
    if (!rc && s->n_epochs == 0)
        rc = cli_error("%s: no epoch events (write one with dptrain train --log-json FILE)",
                       s->path);
    fclose(in);
    if (fclose(out) != 0 && !rc)
        rc = cli_error("cannot write a temporary data file");
    return rc;
}

// A curve's legend title: the set, after the log's file name when there are several logs.
static void curve_title(const struct series *s, size_t n, size_t k, char *buf, size_t len)
{
    if (n > 1)
        snprintf(buf, len, "%s %s", base_name(s->path), sets[k]);
    else
        snprintf(buf, len, "%s", sets[k]);
}

// Legend columns that fit below a panel of the image: entries of the longest title (about 7
// pixels a character at these fonts, plus the line sample), in the width of one panel's plot
// area, at most 4.
static size_t key_columns(const struct series *s, size_t n, size_t panels)
{
    size_t longest = 0;
    char title[300];
    for (size_t i = 0; i < n; i++) {
        curve_title(&s[i], n, 0, title, sizeof title); // "train", the longest set name
        longest = strlen(title) > longest ? strlen(title) : longest;
    }
    const size_t area = WIDTH / panels - 120, entry = (longest + 9) * 7;
    size_t cols = area / entry;
    return cols < 1 ? 1 : cols > 4 ? 4 : cols;
}

// Curves in the panel of the columns key_lo, key_lo + 2, key_lo + 4 (train, val, test).
static size_t n_curves(const struct series *s, size_t n, size_t key_lo)
{
    size_t curves = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < 3; k++)
            curves += s[i].has[key_lo + 2 * k];
    return curves;
}

// One panel: the columns key_lo, key_lo + 2, key_lo + 4 (train, val, test) of every log.
// Returns the number of curves.
static size_t panel(FILE *g, const struct series *s, size_t n, size_t key_lo, const char *what,
                    const char *note)
{
    static const int dash[] = {1, 3, 2};
    fprintf(g, "set title '%s%s'\nset xlabel 'epoch'\nset ylabel '%s'\nplot ", what, note, what);
    size_t curves = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < 3; k++) {
            const size_t j = key_lo + 2 * k;
            if (!s[i].has[j])
                continue;
            char title[300];
            curve_title(&s[i], n, k, title, sizeof title);
            fprintf(g, "%s", curves ? ", " : "");
            cli_gp_quote(g, s[i].data);
            fprintf(g, " using 1:%zu with linespoints lc %zu dt %d pt 7 ps 0.6 title ", j + 2,
                    i + 1, dash[k]);
            cli_gp_quote(g, title);
            curves++;
        }
    }
    fputc('\n', g);
    return curves;
}

// Tics on whole epochs: every 1, 2, 5, 10, 20, 50, ... epochs, at most about 10 of them.
static void epoch_tics(FILE *g, const struct series *s, size_t n)
{
    double first = s[0].first, last = s[0].last;
    for (size_t i = 1; i < n; i++) {
        first = s[i].first < first ? s[i].first : first;
        last = s[i].last > last ? s[i].last : last;
    }
    double step = 1;
    for (int k = 0; (last - first) / step > 10; k++)
        step *= k % 3 == 1 ? 2.5 : 2; // 1, 2, 5, 10, 20, 50, ...
    fprintf(g, "set xtics %g\nset mxtics 1\nset format x '%%.0f'\n", step);
    if (last == first) // a single epoch: gnuplot's autoscale would complain of an empty range
        fprintf(g, "set xrange [%.9g:%.9g]\n", first - 1, first + 1);
}

int cli_plot(int argc, char **argv)
{
    struct cli_flag flags[] = {
        {"out", "FILE", "the image: FILE.svg or FILE.png (required)", 0},
        {"title", "TEXT", "a title above the plots (default: none)", 0},
        {"log-y", NULL, "loss on a log scale (losses <= 0 left out; accuracy stays linear)", 0},
        {NULL, NULL, NULL, NULL},
    };
    enum { MAX_LOGS = 32 };
    const char *pos[MAX_LOGS];
    size_t n_pos = 0;
    int rc = cli_parse("plot", synopsis, flags, argc, argv, 2, pos, MAX_LOGS, &n_pos);
    if (rc < 0)
        return CLI_OK;
    if (rc)
        return rc;
    const char *out = cli_get(flags, "out");
    if (n_pos == 0)
        return cli_error("plot: give at least one JSON log (dptrain plot LOG.jsonl --out F.svg)");
    if (!out)
        return cli_error("plot: --out FILE.svg|FILE.png is required");
    if (!cli_gnuplot_path())
        return cli_error("plot: gnuplot not found on PATH (install gnuplot-nox)");

    struct series s[MAX_LOGS];
    memset(s, 0, sizeof s);
    struct cli_plot pl;
    bool any_acc = false;
    // The height leaves room for the legend's rows below each panel (as many as the logs could
    // fill: three sets each).
    for (size_t i = 0; i < n_pos; i++)
        s[i].path = pos[i];
    const size_t cols_2 = key_columns(s, n_pos, 2), rows_max = (3 * n_pos + cols_2 - 1) / cols_2;
    const int height = HEIGHT + KEY_ROW_PX * (rows_max > 2 ? (int)rows_max - 2 : 0);
    if ((rc = cli_plot_begin(&pl, out, "out", WIDTH, height)))
        return rc;
    for (size_t i = 0; i < n_pos && !rc; i++) {
        rc = read_log(&s[i], &pl);
        any_acc = any_acc || s[i].has[1] || s[i].has[3] || s[i].has[5];
    }
    if (rc) {
        cli_plot_abort(&pl);
        return rc;
    }
    FILE *g = pl.script;
    const char *title = cli_get(flags, "title");
    // The legend below each panel, under the axis label: gnuplot leaves the label no room of
    // its own in a multiplot unless the bottom margin is set, so it is, from the legend's rows
    // (about one character height each) plus the tic labels and the axis label.
    const size_t panels = any_acc ? 2 : 1, cols = key_columns(s, n_pos, panels);
    size_t curves = n_curves(s, n_pos, 0);
    if (any_acc && n_curves(s, n_pos, 1) > curves)
        curves = n_curves(s, n_pos, 1);
    const size_t rows = (curves + cols - 1) / cols;
    fprintf(g, "set key below Left reverse maxcols %zu\nset bmargin %.1f\n", cols,
            4.5 + 1.05 * (double)rows);
    epoch_tics(g, s, n_pos);
    if (any_acc) {
        fputs("set multiplot layout 1,2", g);
        if (title) {
            fputs(" title ", g);
            cli_gp_quote(g, title);
        }
        fputc('\n', g);
    } else if (title) {
        fputs("set multiplot layout 1,1 title ", g);
        cli_gp_quote(g, title);
        fputc('\n', g);
    }
    const bool log_y = cli_get(flags, "log-y") != NULL;
    bool positive = false;
    for (size_t i = 0; i < n_pos; i++)
        positive = positive || s[i].positive_loss;
    if (log_y && !positive) {
        cli_plot_abort(&pl);
        return cli_error("plot: --log-y: the logs hold no loss above 0 to draw on a log scale");
    }
    if (log_y)
        fputs("set logscale y\nset format y '%g'\n", g);
    if (panel(g, s, n_pos, 0, "loss", log_y ? " (log scale)" : "") == 0) {
        cli_plot_abort(&pl);
        return cli_error("plot: the logs hold no finite training loss to draw");
    }
    if (any_acc) {
        if (log_y)
            fputs("unset logscale y\n", g);
        panel(g, s, n_pos, 1, "accuracy", "");
    }
    return cli_plot_finish(&pl);
}
