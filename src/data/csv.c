// The CSV loader: numeric cells separated by commas, one label (or regression target) column,
// optional header row, CRLF line ends and a UTF-8 byte-order mark tolerated. Every problem is
// reported as "PATH: line L, column C: ...".
#include <string.h>

#include "core/error_impl.h"
#include "data/data_impl.h"

struct csv {
    const char *name;
    const struct dpt_text_options *opt;
    struct dpt_dataset *ds;
    size_t ncols;     // cells per row, fixed by the first row (header or data)
    size_t ref_line;  // the line that fixed ncols
    size_t label_col; // 0-based
};

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

// Trims spaces and tabs around the NUL-terminated cell in place.
static char *trim(char *s)
{
    while (is_blank(*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && is_blank(s[len - 1]))
        s[--len] = '\0';
    return s;
}

// Number of cells of a line (commas + 1).
static size_t count_cells(const char *line)
{
    size_t n = 1;
    for (; *line; line++)
        n += *line == ',';
    return n;
}

// A first row is a header when none of its cells is a number. A row with some numbers is data,
// so a typo in the first data row is reported instead of silently dropping the row.
static int is_header(char *line)
{
    char *c = line;
    for (;;) {
        char *comma = strchr(c, ',');
        if (comma)
            *comma = '\0';
        char *cell = c;
        while (is_blank(*cell))
            cell++;
        // Trailing blanks end strtod's number, so they need no trimming to tell number from text,
        // but "1 " must count as a number: check what follows the parse.
        size_t len = strlen(cell);
        while (len > 0 && is_blank(cell[len - 1]))
            len--;
        char saved = cell[len];
        cell[len] = '\0';
        double v;
        int number = dpt_data_parse_number(cell, &v) != DPT_NUM_BAD;
        cell[len] = saved;
        if (comma)
            *comma = ',';
        if (number)
            return 0;
        if (!comma)
            return 1;
        c = comma + 1;
    }
}

// Parses one data line into sample `row` (label raw, mapped to classes at the end).
static enum dpt_status csv_row(struct csv *c, char *line, size_t line_no, size_t row)
{
    struct dpt_dataset *ds = c->ds;
    float *xr = ds->x + row * ds->n_in;
    size_t col = 0, fi = 0;
    char *p = line;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        col++;
        if (col > c->ncols)
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: line %zu, column %zu: extra cell: expected %zu columns as on "
                             "line %zu",
                             c->name, line_no, col, c->ncols, c->ref_line);
        char *cell = trim(p);
        double v = 0.0;
        switch (dpt_data_parse_number(cell, &v)) {
        case DPT_NUM_OK:
            break;
        case DPT_NUM_BAD:
            if (*cell == '\0')
                return dpt_error(DPT_ERR_FORMAT, "%s: line %zu, column %zu: empty cell", c->name,
                                 line_no, col);
            return dpt_error(DPT_ERR_FORMAT, "%s: line %zu, column %zu: not a number: '%.40s'",
                             c->name, line_no, col, cell);
        case DPT_NUM_NONFINITE:
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: line %zu, column %zu: not a finite number: '%.40s'", c->name,
                             line_no, col, cell);
        case DPT_NUM_FLOATRANGE:
            return dpt_error(
                DPT_ERR_FORMAT,
                "%s: line %zu, column %zu: beyond float range (a float holds magnitudes "
                "from 1.4e-45 to 3.4e38; smaller ones would become 0): '%.40s'",
                c->name, line_no, col, cell);
        }
        if (col - 1 == c->label_col) {
            if (ds->task == DPT_TASK_REGRESS) {
                ds->targets[row] = (float)v;
            } else {
                if (!dpt_data_is_label(v))
                    return dpt_error(DPT_ERR_FORMAT,
                                     "%s: line %zu, column %zu: label is not an integer: '%.40s' "
                                     "(use target=regression for real-valued targets)",
                                     c->name, line_no, col, cell);
                ds->labels[row] = (int32_t)v;
            }
        } else {
            xr[fi++] = (float)v;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    if (col < c->ncols)
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: line %zu, column %zu: missing cell: expected %zu columns as on line "
                         "%zu, found %zu",
                         c->name, line_no, col + 1, c->ncols, c->ref_line, col);
    return DPT_OK;
}

// Fixes the label column and creates the data set once the column count is known. `lines` bounds
// the rows by line count, `rest` is the number of bytes from the first data row to the end.
static enum dpt_status csv_setup(struct csv *c, size_t lines, size_t rest, size_t line_no)
{
    if (c->ncols < 2)
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: line %zu: 1 column; need at least one feature column and a label "
                         "column",
                         c->name, line_no);
    if (c->opt->label_col == DPT_CSV_LABEL_LAST) {
        c->label_col = c->ncols - 1;
    } else if (c->opt->label_col >= c->ncols) {
        return dpt_error(DPT_ERR_FORMAT, "%s: line %zu: label column %zu, but the rows have %zu",
                         c->name, line_no, c->opt->label_col + 1, c->ncols);
    } else {
        c->label_col = c->opt->label_col;
    }
    // Every row that parses has ncols non-empty cells and ncols - 1 commas, and a newline before
    // the next row: row r is only reached after r rows of at least 2 * ncols bytes each, so
    // r <= (rest - 1) / (2 * ncols). Counting lines alone would let blank lines multiply a wide
    // first row: 70 KB of text (10000 columns, then 50000 empty lines) asked for 2 GB.
    size_t by_bytes = (rest - 1) / (2 * c->ncols) + 1;
    return dpt_dataset_create(c->opt->task, lines < by_bytes ? lines : by_bytes, c->ncols - 1, 1,
                              &c->ds);
}

enum dpt_status dpt_data_load_csv(const char *path, const struct dpt_text_options *opt,
                                  struct dpt_dataset **out)
{
    *out = NULL;
    struct csv c;
    memset(&c, 0, sizeof c);
    c.name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    c.opt = opt;
    char *buf = NULL;
    size_t len = 0;
    enum dpt_status st = dpt_data_read_all(path, c.name, &buf, &len);
    if (st != DPT_OK)
        goto cleanup;
    char *p = buf, *end = buf + len;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    // Upper bound on the rows, so the data set is allocated once and filled in place (csv_setup
    // tightens it by the bytes a row needs).
    size_t lines = 1;
    for (const char *q = p; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++)
        lines++;

    size_t line_no = 0, header_line = 0, rows = 0;
    while (p < end) {
        line_no++;
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl ? nl : end;
        char *next = nl ? nl + 1 : end;
        if (line_end > p && line_end[-1] == '\r')
            line_end--;
        *line_end = '\0';
        char *line = p;
        p = next;
        while (is_blank(*line))
            line++;
        if (*line == '\0')
            continue; // blank lines are skipped
        if (c.ncols == 0) {
            c.ncols = count_cells(line);
            c.ref_line = line_no;
            if (is_header(line)) {
                header_line = line_no;
                continue;
            }
        }
        if (!c.ds) {
            st = csv_setup(&c, lines, (size_t)(end - line), line_no);
            if (st != DPT_OK)
                goto cleanup;
        }
        DPT_ASSERT(rows < c.ds->cap); // the bounds of csv_setup hold for every row reached
        st = csv_row(&c, line, line_no, rows);
        if (st != DPT_OK)
            goto cleanup;
        rows++;
    }
    if (rows == 0) {
        if (header_line)
            st = dpt_error(DPT_ERR_FORMAT, "%s: line %zu: only a header row, no data rows", c.name,
                           header_line);
        else
            st = dpt_error(DPT_ERR_FORMAT, "%s: empty file (no data rows)", c.name);
        goto cleanup;
    }
    dpt_data_shrink(c.ds, rows);
    if (opt->task == DPT_TASK_CLASSIFY) {
        st = dpt_data_map_labels(c.ds);
        if (st != DPT_OK)
            goto cleanup;
    }
    *out = c.ds;
    c.ds = NULL;
cleanup:
    dpt_dataset_destroy(c.ds);
    dpt_free(buf);
    return st;
}
