// dptrain's CSV loader against one built on Debian's libcsv (libcsv-dev), for the choice recorded
// in docs/formats.md ("CSV: own parser or libcsv"). Not a test, and not part of the CMake build
// (the project takes no dependency on libcsv): scripts/csv_bench.sh compiles it with gcc against
// build/release/libdptrain.a and -lcsv, and runs it.
//
//   csv_bench make FILE.csv int|float [DIR]  Fashion-MNIST's 60000 training samples as a CSV
//                                           (header label,pixel1..pixel784; label first; pixels
//                                           as integers 0..255 like Kaggle's copy, or as %.6g
//                                           floats in [0, 1]) from DIR or Debian's copy
//   csv_bench time FILE.csv [R]              R interleaved rounds (default 7) of: reading the file
//                                           only, dptrain's loader, the libcsv loader; medians
//   csv_bench huge CELL_MB                   one quoted label cell of CELL_MB MB (hostile input):
//                                           seconds and peak extra memory of both loaders
//   csv_bench cases                          malformed and RFC 4180 inputs through both: verdict
//                                           and message
//
// The libcsv loader does what dptrain's does, through libcsv's callbacks: the file read whole
// (dpt_data_read_all: its NUL-byte and size rules), the rows bounded by the line count, one zeroed
// data set, a header row told by having no number, each field converted by the same number parser
// (dpt_data_parse_number), the label column first and mapped to classes; libcsv in strict mode
// (CSV_STRICT | CSV_STRICT_FINI), fields NUL-terminated (CSV_APPEND_NULL).
#define _GNU_SOURCE
#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error_impl.h"
#include "data/data_impl.h"
#include "dptrain/dptrain.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// ---- the libcsv loader ----

struct lc {
    struct dpt_dataset *ds; // made at the end of the first row, which fixes the width
    char **first;           // the first row's fields (copies), to tell a header
    size_t n_first, cap_first;
    size_t lines, ncols, col, row;
    int started, err;
    char msg[256];
};

static void lc_store(struct lc *c, const char *s)
{
    double v;
    enum dpt_num_result r = s ? dpt_data_parse_number(s, &v) : DPT_NUM_BAD;
    if (r != DPT_NUM_OK) {
        snprintf(c->msg, sizeof c->msg, "row %zu, field %zu: not a number: '%.40s'", c->row + 1,
                 c->col + 1, s ? s : "");
        c->err = 1;
        return;
    }
    float *x = dpt_dataset_x_mut(c->ds);
    if (c->col == 0) {
        if (!dpt_data_is_label(v)) {
            snprintf(c->msg, sizeof c->msg, "row %zu: label is not an integer", c->row + 1);
            c->err = 1;
            return;
        }
        dpt_dataset_labels_mut(c->ds)[c->row] = (int32_t)v;
    } else {
        x[c->row * (c->ncols - 1) + c->col - 1] = (float)v;
    }
}

static void cb_field(void *s, size_t len, void *data)
{
    struct lc *c = data;
    (void)len;
    if (c->err)
        return;
    if (!c->started) { // the first row: kept until its end tells header from data
        if (c->n_first == c->cap_first) {
            c->cap_first = c->cap_first ? 2 * c->cap_first : 1024;
            c->first = realloc(c->first, c->cap_first * sizeof *c->first);
        }
        c->first[c->n_first++] = strdup(s ? (const char *)s : "");
        return;
    }
    if (c->row >= c->lines) { // cannot happen with the bound above; never write past it
        snprintf(c->msg, sizeof c->msg, "more rows than line ends");
        c->err = 1;
        return;
    }
    if (c->col >= c->ncols) {
        snprintf(c->msg, sizeof c->msg, "row %zu: extra field", c->row + 1);
        c->err = 1;
        return;
    }
    lc_store(c, s);
    c->col++;
}

static void cb_row(int ch, void *data)
{
    struct lc *c = data;
    (void)ch;
    if (c->err)
        return;
    if (!c->started) {
        c->started = 1;
        c->ncols = c->n_first;
        if (c->ncols < 2 ||
            dpt_dataset_create(DPT_TASK_CLASSIFY, c->lines, c->ncols - 1, 1, &c->ds) != DPT_OK) {
            snprintf(c->msg, sizeof c->msg, "%zu fields: %s", c->ncols, dpt_last_error());
            c->err = 1;
            return;
        }
        int header = 1;
        for (size_t i = 0; i < c->n_first && header; i++) {
            double v;
            header = dpt_data_parse_number(c->first[i], &v) == DPT_NUM_BAD;
        }
        if (!header) {
            for (c->col = 0; c->col < c->ncols && !c->err; c->col++)
                lc_store(c, c->first[c->col]);
            c->row++;
        }
        c->col = 0;
        return;
    }
    if (c->col != c->ncols) {
        snprintf(c->msg, sizeof c->msg, "row %zu: %zu fields, expected %zu", c->row + 1, c->col,
                 c->ncols);
        c->err = 1;
    }
    c->col = 0;
    c->row++;
}

// Loads path with libcsv; *msg gets the error (or "") and the status says whether it worked.
static enum dpt_status load_libcsv(const char *path, struct dpt_dataset **out, char *msg,
                                   size_t msg_len)
{
    *out = NULL;
    msg[0] = '\0';
    char *buf;
    size_t len;
    enum dpt_status st = dpt_data_read_all(path, path, &buf, &len);
    if (st != DPT_OK) {
        snprintf(msg, msg_len, "%s", dpt_last_error());
        return st;
    }
    struct lc c;
    memset(&c, 0, sizeof c);
    // libcsv ends a row at a CR as well as at an LF: both bound the rows.
    c.lines = 1;
    for (const char *q = buf; (q = memchr(q, '\n', (size_t)(buf + len - q))) != NULL; q++)
        c.lines++;
    for (const char *q = buf; (q = memchr(q, '\r', (size_t)(buf + len - q))) != NULL; q++)
        c.lines++;
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        snprintf(msg, msg_len, "libcsv: csv_init failed");
        st = DPT_ERR_NOMEM;
    } else {
        size_t done = csv_parse(&p, buf, len, cb_field, cb_row, &c);
        if (done != len) {
            size_t line = 1;
            for (size_t i = 0; i < done; i++)
                line += buf[i] == '\n';
            snprintf(msg, msg_len, "libcsv: %s at byte %zu (line %zu)", csv_strerror(csv_error(&p)),
                     done, line);
            st = DPT_ERR_FORMAT;
        } else if (csv_fini(&p, cb_field, cb_row, &c) != 0) {
            snprintf(msg, msg_len, "libcsv: %s at the end of the file",
                     csv_strerror(csv_error(&p)));
            st = DPT_ERR_FORMAT;
        } else if (c.err) {
            snprintf(msg, msg_len, "%s", c.msg);
            st = DPT_ERR_FORMAT;
        } else if (!c.ds || c.row == 0) {
            snprintf(msg, msg_len, "no data rows");
            st = DPT_ERR_FORMAT;
        }
        csv_free(&p);
    }
    if (st == DPT_OK) {
        dpt_data_shrink(c.ds, c.row);
        st = dpt_data_map_labels(c.ds);
    }
    for (size_t i = 0; i < c.n_first; i++)
        free(c.first[i]);
    free(c.first);
    dpt_free(buf);
    if (st == DPT_OK)
        *out = c.ds;
    else
        dpt_dataset_destroy(c.ds);
    return st;
}

// ---- modes ----

static int make(const char *path, const char *kind, const char *dir)
{
    struct dpt_dataset *ds = NULL;
    if (dpt_load_fashion_mnist(dir, 0, &ds) != DPT_OK) {
        fprintf(stderr, "csv_bench: %s\n", dpt_last_error());
        return 1;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    const int floats = strcmp(kind, "float") == 0;
    fputs("label", f);
    for (int j = 1; j <= 784; j++)
        fprintf(f, ",pixel%d", j);
    fputc('\n', f);
    const float *x = dpt_dataset_x(ds);
    for (size_t i = 0; i < dpt_dataset_n(ds); i++) {
        fprintf(f, "%d", (int)dpt_dataset_labels(ds)[i]);
        for (size_t j = 0; j < 784; j++) {
            if (floats)
                fprintf(f, ",%.6g", (double)x[i * 784 + j]);
            else
                fprintf(f, ",%d", (int)(x[i * 784 + j] * 255.0f + 0.5f));
        }
        fputc('\n', f);
    }
    dpt_dataset_destroy(ds);
    return fclose(f) != 0;
}

static int time_loaders(const char *path, int rounds)
{
    double t[3][64];
    size_t rows[2] = {0, 0};
    char spec[4200], msg[512];
    snprintf(spec, sizeof spec, "csv:%s", path);
    if (rounds < 1 || rounds > 64)
        rounds = 7;
    for (int r = 0; r < rounds; r++) {
        // Rotated order, so a drifting load on a shared machine hits each alike.
        for (int k = 0; k < 3; k++) {
            const int which = (k + r) % 3;
            struct dpt_dataset *ds = NULL;
            char *buf;
            size_t len;
            double t0 = now();
            enum dpt_status st;
            if (which == 0) {
                st = dpt_data_read_all(path, path, &buf, &len);
                if (st == DPT_OK)
                    dpt_free(buf);
            } else if (which == 1) {
                st = dpt_data_load(spec, 0, &ds);
            } else {
                st = load_libcsv(path, &ds, msg, sizeof msg);
            }
            t[which][r] = now() - t0;
            if (st != DPT_OK) {
                fprintf(stderr, "csv_bench: %s\n", which == 2 ? msg : dpt_last_error());
                return 1;
            }
            if (which)
                rows[which - 1] = dpt_dataset_n(ds);
            dpt_dataset_destroy(ds);
        }
    }
    for (int k = 0; k < 3; k++)
        qsort(t[k], (size_t)rounds, sizeof t[k][0], cmp_double);
    printf("| file | rows | read only (s) | dptrain (s) | libcsv (s) | runs |\n");
    printf("| --- | --- | --- | --- | --- | --- |\n");
    printf("| %s | %zu / %zu | %.3f | %.3f | %.3f | %d, median (min %.3f / %.3f / %.3f) |\n",
           strrchr(path, '/') ? strrchr(path, '/') + 1 : path, rows[0], rows[1], t[0][rounds / 2],
           t[1][rounds / 2], t[2][rounds / 2], rounds, t[0][0], t[1][0], t[2][0]);
    return 0;
}

// Peak resident memory so far, MB (ru_maxrss is in KB on Linux).
static double peak_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static int huge(size_t mb)
{
    // A 3-column file whose one label cell is `mb` MB of quoted text: what a corrupt or hostile
    // file can hold. Written to a temporary file.
    char path[] = "/tmp/csv_bench_huge_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f)
        return 1;
    fputs("label,a,b\n1,2,3\n\"", f);
    static char block[1 << 20];
    memset(block, 'x', sizeof block);
    for (size_t i = 0; i < mb; i++)
        fwrite(block, 1, sizeof block, f);
    fputs("\",2,3\n", f);
    fclose(f);
    char spec[4200], msg[512];
    snprintf(spec, sizeof spec, "csv:%s", path);
    // Each loader in its own child process, so the peak memory is its own.
    for (int which = 1; which <= 2; which++) {
        fflush(stdout);
        if (fork() == 0) {
            struct dpt_dataset *ds = NULL;
            const double m0 = peak_mb(), t0 = now();
            enum dpt_status st =
                which == 1 ? dpt_data_load(spec, 0, &ds) : load_libcsv(path, &ds, msg, sizeof msg);
            printf("%-8s %zu MB cell: %.3f s, peak +%.0f MB: %s\n",
                   which == 1 ? "dptrain" : "libcsv", mb, now() - t0, peak_mb() - m0,
                   st == DPT_OK ? "loaded"
                   : which == 1 ? dpt_last_error()
                                : msg);
            fflush(stdout);
            _exit(0);
        }
        int status;
        wait(&status);
    }
    unlink(path);
    return 0;
}

static int cases(void)
{
    static const struct {
        const char *what, *text;
    } c[] = {
        {"comma in a quoted header", "\"price, usd\",x,y\n1,2,3\n4,5,6\n"},
        {"doubled quotes, quoted numbers", "\"a \"\"b\"\"\",x,y\n1,\"2\",3\n4,5,\"6\"\n"},
        {"line break inside quotes", "\"a\nb\",x,y\n1,2,3\n4,5,6\n"},
        {"blanks around a quoted cell", "1, \"2\" ,3\n4,5,6\n"},
        {"unterminated quote", "1,2,3\n4,\"5,6\n7,8,9\n"},
        {"quote inside an unquoted cell", "1,2,3\n4,5\"5,6\n"},
        {"text after a closing quote", "1,2,3\n4,\"5\"5,6\n"},
        {"lone CR as a line end", "1,2,3\r4,5,6\r"},
        {"CRLF line ends", "1,2,3\r\n4,5,6\r\n"},
        {"ragged row", "1,2,3\n4,5\n"},
        {"empty quoted cell", "1,2,3\n4,\"\",6\n"},
    };
    char path[] = "/tmp/csv_bench_case_XXXXXX", spec[4200], msg[512];
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    close(fd);
    snprintf(spec, sizeof spec, "csv:%s", path);
    printf("| input | dptrain | libcsv (strict) |\n| --- | --- | --- |\n");
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        FILE *f = fopen(path, "w");
        fputs(c[i].text, f);
        fclose(f);
        struct dpt_dataset *a = NULL, *b = NULL;
        enum dpt_status sa = dpt_data_load(spec, 0, &a);
        char da[300];
        snprintf(da, sizeof da, "%s", sa == DPT_OK ? "" : strstr(dpt_last_error(), ": ") + 2);
        enum dpt_status sb = load_libcsv(path, &b, msg, sizeof msg);
        for (char *q = da; *q; q++) // a CR in a message would garble the table
            *q = *q == '\r' ? '?' : *q;
        printf("| %s | %s%s | %s%s |\n", c[i].what, sa == DPT_OK ? "loaded" : "error: ", da,
               sb == DPT_OK ? "loaded" : "error: ", sb == DPT_OK ? "" : msg);
        if (sa == DPT_OK && sb == DPT_OK && dpt_dataset_n(a) != dpt_dataset_n(b))
            printf("|   (rows: dptrain %zu, libcsv %zu) | | |\n", dpt_dataset_n(a),
                   dpt_dataset_n(b));
        dpt_dataset_destroy(a);
        dpt_dataset_destroy(b);
    }
    unlink(path);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "make") == 0)
        return make(argv[2], argv[3], argc > 4 ? argv[4] : NULL);
    if (argc >= 3 && strcmp(argv[1], "time") == 0)
        return time_loaders(argv[2], argc > 3 ? atoi(argv[3]) : 7);
    if (argc == 3 && strcmp(argv[1], "huge") == 0)
        return huge((size_t)atol(argv[2]));
    if (argc == 2 && strcmp(argv[1], "cases") == 0)
        return cases();
    fprintf(stderr, "usage: csv_bench make FILE int|float [DIR] | time FILE [R] | huge MB | "
                    "cases\n");
    return 2;
}
