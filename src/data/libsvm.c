// The LIBSVM / SVMlight loader: "label index:value ..." per line with 1-based, strictly
// increasing indices, densified into rows of `features` floats (absent entries are 0). Two passes
// over the text: the first validates and finds the width and row count, the second fills the
// data set, so nothing is allocated per entry.
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_impl.h"
#include "data/data_impl.h"

struct svm {
    const char *name;
    const struct dpt_text_options *opt;
    size_t max_index; // largest index seen (pass 1)
};

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

// Parses a number spanning exactly [s, e) of a NUL-terminated buffer (strtod stops at the blank,
// '#', '\r' or '\n' that ends a token, so no copy is needed).
static enum dpt_num_result parse_span(const char *s, const char *e, double *v)
{
    if (s == e || is_blank(*s))
        return DPT_NUM_BAD;
    const char *fast_end;
    if (!dpt_data_fast_number(s, &fast_end, v) || fast_end != e) {
        char *end;
        *v = strtod(s, &end);
        if (end != e)
            return DPT_NUM_BAD;
    }
    return dpt_data_classify(*v);
}

// Parses line [line, end) (line_no for messages). Pass 1 (ds NULL) validates and tracks the
// largest index; pass 2 writes sample `row`.
static enum dpt_status svm_line(struct svm *c, const char *line, const char *end, size_t line_no,
                                struct dpt_dataset *ds, size_t row)
{
    const char *p = line;
    // The label.
    const char *tok = p;
    while (p < end && !is_blank(*p))
        p++;
    double v;
    enum dpt_num_result r = parse_span(tok, p, &v);
    if (r != DPT_NUM_OK)
        return dpt_error(DPT_ERR_FORMAT, "%s: line %zu, column %zu: %s label: '%.*s'", c->name,
                         line_no, (size_t)(tok - line) + 1,
                         r == DPT_NUM_BAD ? "bad" : "non-finite or out-of-range",
                         (int)(p - tok < 40 ? p - tok : 40), tok);
    if (c->opt->task == DPT_TASK_CLASSIFY && !dpt_data_is_label(v))
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: line %zu, column %zu: label is not an integer: '%.*s' (use "
                         "target=regression for real-valued targets)",
                         c->name, line_no, (size_t)(tok - line) + 1,
                         (int)(p - tok < 40 ? p - tok : 40), tok);
    if (ds) {
        if (ds->task == DPT_TASK_CLASSIFY)
            ds->labels[row] = (int32_t)v;
        else
            ds->targets[row] = (float)v;
    }
    // The index:value pairs.
    size_t prev = 0;
    for (;;) {
        while (p < end && is_blank(*p))
            p++;
        if (p == end)
            break;
        tok = p;
        size_t col = (size_t)(tok - line) + 1;
        while (p < end && !is_blank(*p))
            p++;
        int toklen = (int)(p - tok < 40 ? p - tok : 40);
        if (*tok == '-')
            return dpt_error(DPT_ERR_FORMAT, "%s: line %zu, column %zu: negative index in '%.*s'",
                             c->name, line_no, col, toklen, tok);
        if (!isdigit((unsigned char)*tok))
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: line %zu, column %zu: expected INDEX:VALUE, found '%.*s'",
                             c->name, line_no, col, toklen, tok);
        char *colon;
        errno = 0;
        unsigned long long idx = strtoull(tok, &colon, 10);
        if (colon >= p || *colon != ':')
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: line %zu, column %zu: expected INDEX:VALUE, found '%.*s'",
                             c->name, line_no, col, toklen, tok);
        if (errno == ERANGE || idx > (unsigned long long)INT32_MAX)
            return dpt_error(DPT_ERR_FORMAT, "%s: line %zu, column %zu: index too large: '%.*s'",
                             c->name, line_no, col, toklen, tok);
        if (idx == 0)
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: line %zu, column %zu: index 0 (indices start at 1)", c->name,
                             line_no, col);
        if (idx == prev)
            return dpt_error(DPT_ERR_FORMAT, "%s: line %zu, column %zu: duplicate index %llu",
                             c->name, line_no, col, idx);
        if (idx < prev)
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: line %zu, column %zu: index %llu after %zu (indices must "
                             "increase)",
                             c->name, line_no, col, idx, prev);
        if (c->opt->features && idx > c->opt->features)
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: line %zu, column %zu: index %llu exceeds features=%zu", c->name,
                             line_no, col, idx, c->opt->features);
        r = parse_span(colon + 1, p, &v);
        if (r != DPT_NUM_OK)
            return dpt_error(DPT_ERR_FORMAT, "%s: line %zu, column %zu: %s value in '%.*s'",
                             c->name, line_no, col,
                             r == DPT_NUM_BAD ? "bad" : "non-finite or out-of-range", toklen, tok);
        prev = (size_t)idx;
        if (prev > c->max_index)
            c->max_index = prev;
        if (ds)
            ds->x[row * ds->n_in + (prev - 1)] = (float)v;
    }
    return DPT_OK;
}

// Runs one pass over the text; returns the number of data lines in *rows.
static enum dpt_status svm_pass(struct svm *c, char *text, char *end, struct dpt_dataset *ds,
                                size_t *rows)
{
    size_t line_no = 0, row = 0;
    for (char *p = text; p < end;) {
        line_no++;
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl ? nl : end;
        char *next = nl ? nl + 1 : end;
        char *hash = memchr(p, '#', (size_t)(line_end - p));
        if (hash)
            line_end = hash; // a comment runs to the end of the line
        while (line_end > p && (is_blank(line_end[-1]) || line_end[-1] == '\r'))
            line_end--;
        char *line = p;
        p = next;
        while (line < line_end && is_blank(*line))
            line++;
        if (line == line_end)
            continue;
        enum dpt_status st = svm_line(c, line, line_end, line_no, ds, row);
        if (st != DPT_OK)
            return st;
        row++;
    }
    *rows = row;
    return DPT_OK;
}

enum dpt_status dpt_data_load_libsvm(const char *path, const struct dpt_text_options *opt,
                                     struct dpt_dataset **out)
{
    *out = NULL;
    struct svm c;
    memset(&c, 0, sizeof c);
    c.name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    c.opt = opt;
    char *buf = NULL;
    size_t len = 0, rows = 0;
    struct dpt_dataset *ds = NULL;
    enum dpt_status st = dpt_data_read_all(path, c.name, &buf, &len);
    if (st != DPT_OK)
        goto cleanup;
    char *text = buf;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        text += 3;
    st = svm_pass(&c, text, buf + len, NULL, &rows);
    if (st != DPT_OK)
        goto cleanup;
    if (rows == 0) {
        st = dpt_error(DPT_ERR_FORMAT, "%s: empty file (no data lines)", c.name);
        goto cleanup;
    }
    size_t width = opt->features ? opt->features : c.max_index;
    if (width == 0) {
        st =
            dpt_error(DPT_ERR_FORMAT,
                      "%s: no feature appears in any line; give the width with features=D", c.name);
        goto cleanup;
    }
    st = dpt_dataset_create(opt->task, rows, width, 1, &ds);
    if (st != DPT_OK)
        goto cleanup;
    st = svm_pass(&c, text, buf + len, ds, &rows);
    if (st != DPT_OK)
        goto cleanup;
    if (opt->task == DPT_TASK_CLASSIFY) {
        st = dpt_data_map_labels(ds);
        if (st != DPT_OK)
            goto cleanup;
    }
    *out = ds;
    ds = NULL;
cleanup:
    dpt_dataset_destroy(ds);
    dpt_free(buf);
    return st;
}
