// `dptrain plot`: loss and accuracy curves per epoch (train, validation and test) from one or
// more JSON logs written by `dptrain train --log-json`, drawn by gnuplot.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_impl.h"

static const char synopsis[] =
    "LOG.jsonl [LOG.jsonl ...] --out FILE.svg|FILE.png [--title TEXT]\n\n"
    "Draws the loss (and accuracy, for classification) of every epoch of each log:\n"
    "one curve per log and set (train, val, test).";

// The columns of an epoch event that are plotted, in data-file order after the epoch.
static const char *const keys[] = {"train_loss", "train_acc", "val_loss",
                                   "val_acc",    "test_loss", "test_acc"};
enum { N_KEYS = sizeof keys / sizeof keys[0] };

struct series {
    const char *path;
    char data[128];   // data file in the plot directory
    bool has[N_KEYS]; // a column with at least one value
    size_t n_epochs;
};

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
            for (size_t j = 0; j < N_KEYS; j++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, keys[j]);
                if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
                    fprintf(out, " %.9g", v->valuedouble);
                    s->has[j] = true;
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

// One panel: the columns key_lo, key_lo + 2, key_lo + 4 (train, val, test) of every log.
// Returns the number of curves.
static size_t panel(FILE *g, const struct series *s, size_t n, size_t key_lo, const char *what)
{
    static const char *const sets[] = {"train", "val", "test"};
    static const int dash[] = {1, 3, 2};
    fprintf(g, "set title '%s'\nset xlabel 'epoch'\nset ylabel '%s'\nplot ", what, what);
    size_t curves = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < 3; k++) {
            const size_t j = key_lo + 2 * k;
            if (!s[i].has[j])
                continue;
            char title[300];
            if (n > 1)
                snprintf(title, sizeof title, "%s %s", base_name(s[i].path), sets[k]);
            else
                snprintf(title, sizeof title, "%s", sets[k]);
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

int cli_plot(int argc, char **argv)
{
    struct cli_flag flags[] = {
        {"out", "FILE", "the image: FILE.svg or FILE.png (required)", 0},
        {"title", "TEXT", "a title above the plots (default: none)", 0},
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
    if ((rc = cli_plot_begin(&pl, out, "out", 1200, 480)))
        return rc;
    for (size_t i = 0; i < n_pos && !rc; i++) {
        s[i].path = pos[i];
        rc = read_log(&s[i], &pl);
        any_acc = any_acc || s[i].has[1] || s[i].has[3] || s[i].has[5];
    }
    if (rc) {
        cli_plot_abort(&pl);
        return rc;
    }
    FILE *g = pl.script;
    const char *title = cli_get(flags, "title");
    fputs("set key below\n", g);
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
    if (panel(g, s, n_pos, 0, "loss") == 0) {
        cli_plot_abort(&pl);
        return cli_error("plot: the logs hold no finite training loss to draw");
    }
    if (any_acc) {
        panel(g, s, n_pos, 1, "accuracy");
    }
    return cli_plot_finish(&pl);
}
