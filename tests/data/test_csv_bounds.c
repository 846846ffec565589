// The CSV loader's row bound (found while fuzzing): the data set is allocated once for an upper
// bound on the rows, which used to be the line count, so blank lines multiplied a wide first row
// (70 KB of text asked for 2 GB). It is now also bounded by the bytes a row needs; these tests
// pin the bound from both sides: small for such files, and never too small (rows of the minimum
// length, with and without a final newline, fill it exactly; ASan and an always-on assert guard
// the writes).
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "test_helpers.h"

// Loads path as a regression CSV (target in the last column; every row has the same target, which
// classification would refuse as a single class).
static enum dpt_status load_csv(const char *path, struct dpt_dataset **ds)
{
    char spec[600];
    snprintf(spec, sizeof spec, "csv:%s,target=regression", path);
    return dpt_data_load(spec, 0, ds);
}

// Builds `rows` copies of `row` joined by '\n', with a final newline when `final_nl`.
static char *repeat_rows(const char *row, size_t rows, int final_nl)
{
    size_t len = strlen(row);
    char *s = malloc(rows * (len + 1) + 1), *p = s;
    cr_assert_not_null(s);
    for (size_t i = 0; i < rows; i++) {
        memcpy(p, row, len);
        p += len;
        if (i + 1 < rows || final_nl)
            *p++ = '\n';
    }
    *p = '\0';
    return s;
}

Test(data, csv_blank_lines_do_not_inflate_the_allocation, .init = tmp_setup, .fini = tmp_teardown)
{
    // One data row of 2000 cells, then 20000 blank lines: the line count would reserve
    // 20001 x 1999 floats (160 MB); the byte bound reserves one row.
    const size_t cols = 2000, blanks = 20000;
    char *text = malloc(2 * cols + blanks + 1), *p = text, path[512];
    cr_assert_not_null(text);
    for (size_t i = 0; i < cols; i++) {
        *p++ = '1';
        *p++ = i + 1 < cols ? ',' : '\n';
    }
    memset(p, '\n', blanks);
    p[blanks] = '\0';
    write_text(path, "wide.csv", text);
    free(text);
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(load_csv(path, &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n(ds), 1);
    cr_assert_eq(dpt_dataset_n_in(ds), cols - 1);
    // One row of 1999 floats and a label, plus the object: far below the 160 MB of before.
    cr_assert_lt(dpt_dataset_bytes(ds), (size_t)1 << 20, "%zu bytes", dpt_dataset_bytes(ds));
    dpt_dataset_destroy(ds);
}

Test(data, csv_rows_of_minimum_length_fill_the_bound, .init = tmp_setup, .fini = tmp_teardown)
{
    const char *rows[] = {"1,2", "1,2,3", "7,8,9,0,1"};
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        for (size_t n = 1; n <= 9; n++) {
            for (int final_nl = 0; final_nl <= 1; final_nl++) {
                char *text = repeat_rows(rows[r], n, final_nl), path[512];
                write_text(path, "min.csv", text);
                free(text);
                struct dpt_dataset *ds = NULL;
                cr_assert_eq(load_csv(path, &ds), DPT_OK, "'%s' x %zu: %s", rows[r], n,
                             dpt_last_error());
                cr_assert_eq(dpt_dataset_n(ds), n, "'%s' x %zu", rows[r], n);
                dpt_dataset_destroy(ds);
            }
        }
    }
}
