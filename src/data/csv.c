// The CSV loader: RFC 4180 cells (quoted cells may hold the delimiter, doubled quotes and line
// breaks) separated by ',' or a chosen delimiter, one label (or regression target) column chosen
// by position or header name, numeric features, integer or text class labels, an optional header
// row, CRLF line ends and a UTF-8 byte-order mark tolerated. Every problem is reported as
// "PATH: line L, column C: ...". The whole file is in memory (NUL-terminated, without NUL bytes:
// dpt_data_read_all), and cells are unquoted and terminated in place, so nothing is allocated per
// cell; plain numbers take a fast path that never copies them at all.
#include <stdlib.h>
#include <string.h>

#include "core/error_impl.h"
#include "data/data_impl.h"

// The distinct text labels seen so far, by first appearance (id), with a hash index. The strings
// point into the file buffer.
struct names {
    const char **str; // str[id]
    size_t n, cap;
    size_t *slots; // open addressing: id + 1, 0 = empty; nslots a power of two
    size_t nslots;
};

enum label_kind { LABELS_UNKNOWN, LABELS_NUMBERS, LABELS_TEXT };

struct csv {
    const char *name;
    const struct dpt_text_options *opt;
    struct dpt_dataset *ds;
    char delim;
    int tab_is_blank; // tabs around cells are ignored unless the delimiter is a tab
    char *p, *end;    // the parse position and the end of the text (*end == '\0')
    size_t line;      // line number at p
    size_t ncols;     // cells per row, fixed by the first row (header or data)
    size_t ref_line;  // the line that fixed ncols
    size_t label_col; // 0-based
    enum label_kind kind;
    size_t kind_line; // the first label cell, for the message when numbers and text mix
    struct names names;
};

// How a cell ended: the delimiter (another cell follows), the end of the row or of the input.
enum cell_end { END_DELIM, END_ROW, END_INPUT };

static int is_blank(const struct csv *c, char ch)
{
    return ch == ' ' || (ch == '\t' && c->tab_is_blank);
}

// Whether p is at a line end ("\n", "\r\n", or a final "\r").
static int at_eol(const char *p)
{
    return *p == '\n' || (*p == '\r' && (p[1] == '\n' || p[1] == '\0'));
}

// Moves past the terminator at p (the delimiter, a line end or the end of the input), counting
// the line, and says which it was.
static enum cell_end take_end(struct csv *c, char *p)
{
    if (*p == '\0') {
        c->p = p;
        return END_INPUT;
    }
    if (*p == c->delim) {
        c->p = p + 1;
        return END_DELIM;
    }
    p += *p == '\r';
    if (*p == '\n')
        p++;
    c->p = p;
    c->line++;
    return END_ROW;
}

// Trims spaces (and tabs, unless they delimit) around the NUL-terminated cell in place.
static char *trim(const struct csv *c, char *s)
{
    while (is_blank(c, *s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && is_blank(c, s[len - 1]))
        s[--len] = '\0';
    return s;
}

// Reads the cell at c->p into a NUL-terminated string made in place: blanks around an unquoted
// cell are dropped, a quoted cell loses its quotes and its doubled quotes become one. *line_out
// gets the line the cell starts on (a quoted cell may span several).
static enum dpt_status read_cell(struct csv *c, size_t col, char **cell, int *quoted,
                                 enum cell_end *how, size_t *line_out)
{
    char *p = c->p;
    while (is_blank(c, *p))
        p++;
    const size_t line0 = c->line;
    *line_out = line0;
    *quoted = *p == '"';
    if (!*quoted) {
        char *s = p;
        while (*p != c->delim && *p != '\0' && !at_eol(p)) {
            if (*p == '"')
                return dpt_error(DPT_ERR_FORMAT,
                                 "%s: line %zu, column %zu: a quote inside an unquoted cell "
                                 "(quote the whole cell and double the quote: \"a \"\"b\"\"\")",
                                 c->name, line0, col);
            p++;
        }
        char *e = p;
        while (e > s && is_blank(c, e[-1]))
            e--;
        *how = take_end(c, p);
        *e = '\0';
        *cell = s;
        return DPT_OK;
    }
    char *w = ++p, *s = w;
    for (;;) {
        char *q = memchr(p, '"', (size_t)(c->end - p));
        if (!q)
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: line %zu, column %zu: unterminated quoted cell (no closing "
                             "quote before the end of the file)",
                             c->name, line0, col);
        for (const char *nl = p; (nl = memchr(nl, '\n', (size_t)(q - nl))) != NULL; nl++)
            c->line++;
        if (w != p)
            memmove(w, p, (size_t)(q - p));
        w += q - p;
        if (q[1] != '"') {
            p = q + 1;
            break;
        }
        *w++ = '"';
        p = q + 2;
    }
    while (is_blank(c, *p))
        p++;
    if (*p != c->delim && *p != '\0' && !at_eol(p))
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: line %zu, column %zu: '%c' after the closing quote (a quote inside "
                         "a quoted cell is written twice: \"\")",
                         c->name, c->line, col, *p >= 0x20 && *p < 0x7f ? *p : '?');
    *how = take_end(c, p);
    *w = '\0';
    *cell = s;
    return DPT_OK;
}

// The fast path for a plain unquoted number: parses it where it stands, without finding the
// cell's end first or terminating it. Returns 0 (nothing consumed) when the cell needs the general
// path: quoted, not a plain number, beyond float range, or followed by anything but blanks and a
// terminator.
static int fast_cell(struct csv *c, double *v, enum cell_end *how)
{
    const char *p = c->p, *e;
    while (is_blank(c, *p))
        p++;
    if (!dpt_data_fast_number(p, &e, v) || dpt_data_classify(*v) != DPT_NUM_OK)
        return 0;
    while (is_blank(c, *e))
        e++;
    if (*e != c->delim && *e != '\0' && !at_eol(e))
        return 0;
    *how = take_end(c, (char *)e);
    return 1;
}

// ---- text labels ----

static size_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; // FNV-1a
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 32));
}

// The id of name, added when new; -1 when out of memory.
static long intern(struct names *t, const char *name)
{
    if (2 * (t->n + 1) > t->nslots) {
        const size_t nslots = t->nslots ? 2 * t->nslots : 64;
        size_t *slots = dpt_calloc(nslots, sizeof *slots);
        if (!slots)
            return -1;
        for (size_t i = 0; i < t->nslots; i++) {
            if (!t->slots[i])
                continue;
            size_t h = hash_str(t->str[t->slots[i] - 1]) & (nslots - 1);
            while (slots[h])
                h = (h + 1) & (nslots - 1);
            slots[h] = t->slots[i];
        }
        dpt_free(t->slots);
        t->slots = slots;
        t->nslots = nslots;
    }
    size_t h = hash_str(name) & (t->nslots - 1);
    for (; t->slots[h]; h = (h + 1) & (t->nslots - 1))
        if (strcmp(t->str[t->slots[h] - 1], name) == 0)
            return (long)(t->slots[h] - 1);
    if (t->n == t->cap) {
        const size_t cap = t->cap ? 2 * t->cap : 16;
        const char **str = dpt_realloc(t->str, cap * sizeof *str);
        if (!str)
            return -1;
        t->str = str;
        t->cap = cap;
    }
    t->str[t->n] = name;
    t->slots[h] = t->n + 1;
    return (long)t->n++;
}

struct ranked {
    const char *name;
    size_t id;
};

static int cmp_ranked(const void *a, const void *b)
{
    return strcmp(((const struct ranked *)a)->name, ((const struct ranked *)b)->name);
}

// Renumbers the text labels (ids by first appearance) to classes in byte-wise sorted order of
// their names and gives the data set the names.
static enum dpt_status finish_names(struct csv *c)
{
    const size_t k = c->names.n;
    struct ranked *r = dpt_malloc(k * sizeof *r);
    int32_t *remap = dpt_malloc(k * sizeof *remap);
    const char **sorted = dpt_malloc(k * sizeof *sorted);
    enum dpt_status st = DPT_OK;
    if (!r || !remap || !sorted) {
        st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory", c->name);
        goto cleanup;
    }
    for (size_t i = 0; i < k; i++)
        r[i] = (struct ranked){c->names.str[i], i};
    qsort(r, k, sizeof *r, cmp_ranked);
    for (size_t i = 0; i < k; i++) {
        remap[r[i].id] = (int32_t)i;
        sorted[i] = r[i].name;
    }
    for (size_t i = 0; i < c->ds->n; i++)
        c->ds->labels[i] = remap[c->ds->labels[i]];
    c->ds->n_out = k;
    st = dpt_data_set_names(c->ds, sorted, k);
cleanup:
    dpt_free(r);
    dpt_free(remap);
    dpt_free(sorted);
    return st;
}

// ---- cells and rows ----

// Whether cell is a number written with a decimal comma (as in much of Europe: "1,5", "-0,25e3"):
// digits, one comma, digits, an optional exponent, and nothing else.
static int decimal_comma(const char *cell)
{
    const char *p = cell + (*cell == '-' || *cell == '+');
    size_t before = 0, after = 0;
    while (*p >= '0' && *p <= '9')
        p++, before++;
    if (*p++ != ',')
        return 0;
    while (*p >= '0' && *p <= '9')
        p++, after++;
    if (before == 0 || after == 0)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p += 1 + (p[1] == '-' || p[1] == '+');
        if (!(*p >= '0' && *p <= '9'))
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

#define DECIMAL_COMMA_HINT                                                                         \
    "dptrain reads decimal points; convert the file first, for example with sed 's/,/./g' where "  \
    "',' is not the delimiter"

static enum dpt_status number_error(const struct csv *c, enum dpt_num_result r, const char *cell,
                                    size_t line, size_t col)
{
    if (r == DPT_NUM_BAD && *cell == '\0')
        return dpt_error(DPT_ERR_FORMAT, "%s: line %zu, column %zu: empty cell", c->name, line,
                         col);
    return dpt_error(DPT_ERR_FORMAT, "%s: line %zu, column %zu: %s: '%.40s'%s", c->name, line, col,
                     r == DPT_NUM_BAD         ? "not a number"
                     : r == DPT_NUM_NONFINITE ? "not a finite number"
                                              : "beyond float range (a float holds magnitudes "
                                                "from 1.4e-45 to 3.4e38; smaller ones would "
                                                "become 0)",
                     cell,
                     r == DPT_NUM_BAD && decimal_comma(cell)
                         ? " (a decimal comma: " DECIMAL_COMMA_HINT ")"
                         : "");
}

// A class label cell: an integer, or text (blanks around it dropped, also inside quotes); a
// column must not mix the two.
static enum dpt_status label_cell(struct csv *c, char *cell, int quoted, size_t line, size_t col,
                                  size_t row)
{
    char *num = quoted ? trim(c, cell) : cell;
    if (*num == '\0')
        return dpt_error(DPT_ERR_FORMAT, "%s: line %zu, column %zu: empty cell", c->name, line,
                         col);
    double v = 0.0;
    enum dpt_num_result r = dpt_data_parse_number(num, &v);
    // An unquoted "1,5" is a number with a decimal comma far more often than a class name: it
    // would be read as text and make a class of every value. Quoted, or in a column already
    // holding names, it is a name.
    if (r == DPT_NUM_BAD && !quoted && c->kind != LABELS_TEXT && decimal_comma(num))
        return dpt_error(
            DPT_ERR_FORMAT,
            "%s: line %zu, column %zu: label '%.40s' has a decimal comma: " DECIMAL_COMMA_HINT
            " (real-valued targets also need target=regression), or quote it (\"%.40s\") if it is "
            "a class name",
            c->name, line, col, num, num);
    const enum label_kind kind = r == DPT_NUM_BAD ? LABELS_TEXT : LABELS_NUMBERS;
    if (c->kind != LABELS_UNKNOWN && kind != c->kind)
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: line %zu, column %zu: label '%.40s' is %s, but the label on line "
                         "%zu is %s (a label column holds integers or names, not both)",
                         c->name, line, col, num, kind == LABELS_TEXT ? "text" : "a number",
                         c->kind_line, kind == LABELS_TEXT ? "a number" : "text");
    if (c->kind == LABELS_UNKNOWN) {
        c->kind = kind;
        c->kind_line = line;
    }
    if (kind == LABELS_NUMBERS) {
        if (r != DPT_NUM_OK)
            return number_error(c, r, num, line, col);
        if (!dpt_data_is_label(v))
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: line %zu, column %zu: label is not an integer: '%.40s' (use "
                             "target=regression for real-valued targets)",
                             c->name, line, col, num);
        c->ds->labels[row] = (int32_t)v;
        return DPT_OK;
    }
    const char *why = dpt_data_name_problem(num);
    if (why)
        return dpt_error(DPT_ERR_FORMAT, "%s: line %zu, column %zu: the label holds %s", c->name,
                         line, col, why);
    long id = intern(&c->names, num);
    if (id < 0)
        return dpt_error(DPT_ERR_NOMEM, "%s: out of memory", c->name);
    if ((size_t)id > INT32_MAX)
        return dpt_error(DPT_ERR_RANGE, "%s: line %zu: more than %d distinct labels", c->name, line,
                         INT32_MAX);
    c->ds->labels[row] = (int32_t)id;
    return DPT_OK;
}

// One cell of data row `row`, read by read_cell. *fi counts the features written.
static enum dpt_status data_cell(struct csv *c, char *cell, int quoted, size_t line, size_t col0,
                                 size_t row, size_t *fi)
{
    const size_t col = col0 + 1;
    struct dpt_dataset *ds = c->ds;
    if (col0 == c->label_col && ds->task == DPT_TASK_CLASSIFY)
        return label_cell(c, cell, quoted, line, col, row);
    char *num = quoted ? trim(c, cell) : cell;
    double v = 0.0;
    enum dpt_num_result r = dpt_data_parse_number(num, &v);
    if (r != DPT_NUM_OK)
        return number_error(c, r, num, line, col);
    if (col0 == c->label_col)
        ds->targets[row] = (float)v;
    else
        ds->x[row * ds->n_in + (*fi)++] = (float)v;
    return DPT_OK;
}

static enum dpt_status extra_cell(const struct csv *c, size_t line, size_t col)
{
    return dpt_error(DPT_ERR_FORMAT,
                     "%s: line %zu, column %zu: extra cell: expected %zu columns as on line %zu",
                     c->name, line, col, c->ncols, c->ref_line);
}

// Parses the data row at c->p into sample `row`.
static enum dpt_status data_row(struct csv *c, size_t row)
{
    float *xr = c->ds->x + row * c->ds->n_in;
    size_t fi = 0, col = 0, line = c->line;
    enum cell_end how;
    enum dpt_status st;
    do {
        if (col == c->ncols)
            return extra_cell(c, line, col + 1);
        double v;
        line = c->line;
        if (col != c->label_col && fast_cell(c, &v, &how)) {
            xr[fi++] = (float)v;
        } else {
            char *cell;
            int quoted;
            if ((st = read_cell(c, col + 1, &cell, &quoted, &how, &line)) != DPT_OK ||
                (st = data_cell(c, cell, quoted, line, col, row, &fi)) != DPT_OK)
                return st;
        }
        col++;
    } while (how == END_DELIM);
    if (col < c->ncols)
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: line %zu, column %zu: missing cell: expected %zu columns as on line "
                         "%zu, found %zu",
                         c->name, line, col + 1, c->ncols, c->ref_line, col);
    return DPT_OK;
}

// The first row, read whole: the header, or the first data row. cells[i] point into the buffer.
struct first_row {
    char **cells;
    unsigned char *quoted;
    size_t n, cap;
    size_t line;
};

static enum dpt_status read_first_row(struct csv *c, struct first_row *fr)
{
    enum cell_end how;
    fr->line = c->line;
    do {
        if (fr->n == fr->cap) {
            const size_t cap = fr->cap ? 2 * fr->cap : 64;
            char **cells = dpt_realloc(fr->cells, cap * sizeof *cells);
            if (cells)
                fr->cells = cells;
            unsigned char *quoted = cells ? dpt_realloc(fr->quoted, cap) : NULL;
            if (!quoted)
                return dpt_error(DPT_ERR_NOMEM, "%s: out of memory", c->name);
            fr->quoted = quoted;
            fr->cap = cap;
        }
        int quoted;
        size_t line;
        enum dpt_status st = read_cell(c, fr->n + 1, &fr->cells[fr->n], &quoted, &how, &line);
        if (st != DPT_OK)
            return st;
        fr->quoted[fr->n++] = (unsigned char)quoted;
    } while (how == END_DELIM);
    return DPT_OK;
}

// A first row is a header when none of its cells is a number. A row with some numbers is data,
// so a typo in the first data row is reported instead of silently dropping the row.
static int is_header(const struct csv *c, const struct first_row *fr)
{
    for (size_t i = 0; i < fr->n; i++) {
        // A quoted cell may hold blanks inside its quotes: parse it without them (and put the
        // byte after the number back: the cell is a header name if the row is a header).
        char *s = fr->cells[i];
        while (is_blank(c, *s))
            s++;
        size_t len = strlen(s);
        while (len > 0 && is_blank(c, s[len - 1]))
            len--;
        const char saved = s[len];
        s[len] = '\0';
        double v;
        const int number = dpt_data_parse_number(s, &v) != DPT_NUM_BAD;
        s[len] = saved;
        if (number)
            return 0;
    }
    return 1;
}

// label=NAME: the column of the header cell NAME.
static enum dpt_status find_label_name(struct csv *c, const struct first_row *fr, int header)
{
    const char *want = c->opt->label_name;
    if (!header)
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: line %zu: label=%s names a column, but the file has no header row "
                         "(its first row holds numbers); choose the column by number",
                         c->name, fr->line, want);
    size_t found = 0, at = 0;
    for (size_t i = 0; i < fr->n; i++) {
        if (strcmp(fr->cells[i], want) != 0)
            continue;
        if (found++)
            return dpt_error(
                DPT_ERR_FORMAT,
                "%s: line %zu: label=%s: columns %zu and %zu of the header both have that name; "
                "choose the column by number (label=%zu)",
                c->name, fr->line, want, at + 1, i + 1, at + 1);
        at = i;
    }
    if (!found) {
        char list[200];
        size_t used = 0;
        list[0] = '\0';
        for (size_t i = 0; i < fr->n && used + 1 < sizeof list; i++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s'%s'", i ? ", " : "",
                                     fr->cells[i]);
        if (used >= sizeof list)
            memcpy(list + sizeof list - 4, "...", 4);
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: line %zu: label=%s: no such column in the header (%s)", c->name,
                         fr->line, want, list);
    }
    c->label_col = at;
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
    if (c->opt->label_name) {
        // resolved from the header already
    } else if (c->opt->label_col == DPT_CSV_LABEL_LAST) {
        c->label_col = c->ncols - 1;
    } else if (c->opt->label_col >= c->ncols) {
        return dpt_error(DPT_ERR_FORMAT, "%s: line %zu: label column %zu, but the rows have %zu",
                         c->name, line_no, c->opt->label_col + 1, c->ncols);
    } else {
        c->label_col = c->opt->label_col;
    }
    // Every row that parses has ncols non-empty cells (a quoted one is longer, an empty one is an
    // error) and ncols - 1 delimiters, and a line end before the next row: row r is only reached
    // after r rows of at least 2 * ncols bytes each, so r <= (rest - 1) / (2 * ncols). Counting
    // lines alone would let blank lines multiply a wide first row: 70 KB of text (10000 columns,
    // then 50000 empty lines) asked for 2 GB.
    size_t by_bytes = (rest - 1) / (2 * c->ncols) + 1;
    return dpt_dataset_create(c->opt->task, lines < by_bytes ? lines : by_bytes, c->ncols - 1, 1,
                              &c->ds);
}

// Skips blank lines (blanks only) at c->p; returns 0 at the end of the input.
static int skip_blank_lines(struct csv *c)
{
    for (;;) {
        char *q = c->p;
        while (is_blank(c, *q))
            q++;
        if (*q == '\0') {
            c->p = q;
            return 0;
        }
        if (!at_eol(q))
            return 1;
        take_end(c, q);
    }
}

enum dpt_status dpt_data_load_csv(const char *path, const struct dpt_text_options *opt,
                                  struct dpt_dataset **out)
{
    *out = NULL;
    struct csv c;
    memset(&c, 0, sizeof c);
    c.name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    c.opt = opt;
    c.delim = opt->delim ? opt->delim : ',';
    c.tab_is_blank = c.delim != '\t';
    struct first_row fr;
    memset(&fr, 0, sizeof fr);
    char *buf = NULL;
    size_t len = 0;
    enum dpt_status st = dpt_data_read_all(path, c.name, &buf, &len);
    if (st != DPT_OK)
        goto cleanup;
    c.p = buf;
    c.end = buf + len;
    c.line = 1;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        c.p += 3;
    // Upper bound on the rows, so the data set is allocated once and filled in place (csv_setup
    // tightens it by the bytes a row needs).
    size_t lines = 1;
    for (const char *q = c.p; (q = memchr(q, '\n', (size_t)(c.end - q))) != NULL; q++)
        lines++;

    // The first row: the header, or data.
    if (!skip_blank_lines(&c)) {
        st = dpt_error(DPT_ERR_FORMAT, "%s: empty file (no data rows)", c.name);
        goto cleanup;
    }
    char *first = c.p;
    if ((st = read_first_row(&c, &fr)) != DPT_OK)
        goto cleanup;
    c.ncols = fr.n;
    c.ref_line = fr.line;
    const int header = is_header(&c, &fr);
    if (opt->label_name && (st = find_label_name(&c, &fr, header)) != DPT_OK)
        goto cleanup;
    size_t rows = 0;
    if (!header) {
        if ((st = csv_setup(&c, lines, (size_t)(c.end - first), fr.line)) != DPT_OK)
            goto cleanup;
        size_t fi = 0;
        for (size_t i = 0; i < fr.n; i++)
            if ((st = data_cell(&c, fr.cells[i], fr.quoted[i], fr.line, i, 0, &fi)) != DPT_OK)
                goto cleanup;
        rows = 1;
    }
    while (skip_blank_lines(&c)) {
        if (!c.ds && (st = csv_setup(&c, lines, (size_t)(c.end - c.p), c.line)) != DPT_OK)
            goto cleanup;
        DPT_ASSERT(rows < c.ds->cap); // the bounds of csv_setup hold for every row reached
        if ((st = data_row(&c, rows)) != DPT_OK)
            goto cleanup;
        rows++;
    }
    if (rows == 0) {
        st = dpt_error(DPT_ERR_FORMAT, "%s: line %zu: only a header row, no data rows", c.name,
                       fr.line);
        goto cleanup;
    }
    dpt_data_shrink(c.ds, rows);
    if (opt->task == DPT_TASK_CLASSIFY) {
        st = c.kind == LABELS_TEXT ? finish_names(&c) : dpt_data_map_labels(c.ds);
        if (st != DPT_OK)
            goto cleanup;
    }
    // pandas writes its index as a first column with an empty name (DataFrame.to_csv without
    // index=False): row numbers, which would be learnt from as if they meant something.
    if (header && fr.cells[0][0] == '\0')
        dpt_data_warn(c.ds,
                      "%s: line %zu, column 1: the header leaves column 1 unnamed, as in the index "
                      "column pandas writes: it is read as %s (write the file with "
                      "to_csv(index=False), or drop the column)",
                      c.name, fr.line, c.label_col == 0 ? "the label" : "a feature");
    *out = c.ds;
    c.ds = NULL;
cleanup:
    dpt_dataset_destroy(c.ds);
    dpt_free(fr.cells);
    dpt_free(fr.quoted);
    dpt_free(c.names.str);
    dpt_free(c.names.slots);
    dpt_free(buf);
    return st;
}
