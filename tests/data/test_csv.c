// The CSV loader (through dpt_data_load): header detection, line ends, BOM, label columns,
// regression, label mapping, and every malformed-input message with its line and column.
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "dptrain/dptrain.h"
#include "test_helpers.h"

// Loads `text` written to NAME via "csv:PATH<opts>"; returns the status, *out the data set.
static enum dpt_status load_csv(char *path, const char *text, const char *opts,
                                struct dpt_dataset **out)
{
    write_text(path, "data.csv", text);
    char spec[700];
    snprintf(spec, sizeof spec, "csv:%s%s", path, opts);
    return dpt_data_load(spec, 0, out);
}

Test(data, csv_plain_label_first, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(load_csv(p, "1,0.5,2\n0,-1.5,3e2\n1, 7 ,\t8\n", "", &ds), DPT_OK, "%s",
                 dpt_last_error());
    cr_assert_eq(dpt_dataset_task(ds), DPT_TASK_CLASSIFY);
    cr_assert_eq(dpt_dataset_n(ds), 3);
    cr_assert_eq(dpt_dataset_n_in(ds), 2);
    cr_assert_eq(dpt_dataset_n_out(ds), 2);
    const float want[6] = {0.5f, 2.0f, -1.5f, 300.0f, 7.0f, 8.0f};
    for (size_t i = 0; i < 6; i++)
        cr_assert_eq(dpt_dataset_x(ds)[i], want[i], "x[%zu] = %g", i, dpt_dataset_x(ds)[i]);
    cr_assert_eq(dpt_dataset_labels(ds)[0], 1);
    cr_assert_eq(dpt_dataset_labels(ds)[1], 0);
    const int32_t *cl;
    size_t nc;
    cr_assert_eq(dpt_dataset_class_labels(ds, &cl, &nc), DPT_OK);
    cr_assert_null(cl); // labels 0, 1 already are the classes
    dpt_dataset_destroy(ds);
}

Test(data, csv_header_crlf_bom_blank_lines, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    struct dpt_dataset *ds = NULL;
    const char *text = "\xEF\xBB\xBF"
                       "label,x1,x2\r\n"
                       "2,1,2\r\n"
                       "\r\n"
                       "0,3,4\r\n"
                       "2,5,6";
    cr_assert_eq(load_csv(p, text, "", &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n(ds), 3);
    cr_assert_eq(dpt_dataset_n_in(ds), 2);
    cr_assert_eq(dpt_dataset_x(ds)[5], 6.0f);
    // Labels {0, 2} become classes {0, 1}; the mapping keeps the original values.
    cr_assert_eq(dpt_dataset_n_out(ds), 2);
    cr_assert_eq(dpt_dataset_labels(ds)[0], 1);
    cr_assert_eq(dpt_dataset_labels(ds)[1], 0);
    const int32_t *cl;
    size_t nc;
    cr_assert_eq(dpt_dataset_class_labels(ds, &cl, &nc), DPT_OK);
    cr_assert_eq(nc, 2);
    cr_assert_eq(cl[0], 0);
    cr_assert_eq(cl[1], 2);
    dpt_dataset_destroy(ds);
}

Test(data, csv_label_last_and_numbered, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    struct dpt_dataset *ds = NULL;
    const char *text = "0.5,1.5,-3\n2.5,3.5,10\n4.5,5.5,-3\n";
    cr_assert_eq(load_csv(p, text, ",label=last", &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n_in(ds), 2);
    cr_assert_eq(dpt_dataset_x(ds)[3], 3.5f);
    cr_assert_eq(dpt_dataset_labels(ds)[0], 0); // -3 -> class 0, 10 -> class 1
    cr_assert_eq(dpt_dataset_labels(ds)[1], 1);
    const int32_t *cl;
    size_t nc;
    cr_assert_eq(dpt_dataset_class_labels(ds, &cl, &nc), DPT_OK);
    cr_assert_eq(cl[0], -3);
    cr_assert_eq(cl[1], 10);
    dpt_dataset_destroy(ds);

    // label=3 is the same column counted from 1; label=2 takes the middle one.
    cr_assert_eq(load_csv(p, text, ",label=3", &ds), DPT_OK);
    cr_assert_eq(dpt_dataset_x(ds)[1], 1.5f);
    dpt_dataset_destroy(ds);
    cr_assert_eq(load_csv(p, "0.5,1,9\n2.5,3,8\n", ",label=2", &ds), DPT_OK);
    cr_assert_eq(dpt_dataset_x(ds)[0], 0.5f);
    cr_assert_eq(dpt_dataset_x(ds)[1], 9.0f);
    cr_assert_eq(dpt_dataset_labels(ds)[1], 1);
    dpt_dataset_destroy(ds);

    cr_assert_eq(load_csv(p, text, ",label=4", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "label column 4", NULL);
    cr_assert_eq(load_csv(p, text, ",label=0", &ds), DPT_ERR_INVALID);
    expect_msg("label=0", NULL, NULL);
}

Test(data, csv_regression, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    struct dpt_dataset *ds = NULL;
    const char *text = "x,y,target\n1,2,0.25\n3,4,-7.5\n";
    cr_assert_eq(load_csv(p, text, ",label=last,target=regression", &ds), DPT_OK, "%s",
                 dpt_last_error());
    cr_assert_eq(dpt_dataset_task(ds), DPT_TASK_REGRESS);
    cr_assert_eq(dpt_dataset_n_out(ds), 1);
    cr_assert_null(dpt_dataset_labels(ds));
    cr_assert_eq(dpt_dataset_targets(ds)[0], 0.25f);
    cr_assert_eq(dpt_dataset_targets(ds)[1], -7.5f);
    struct dpt_targets t = dpt_dataset_targets_view(ds);
    cr_assert_eq(t.values, dpt_dataset_targets(ds));
    dpt_dataset_destroy(ds);
    // The same file as classification: 0.25 is no class label.
    cr_assert_eq(load_csv(p, text, ",label=last", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "line 2, column 3", "not an integer");
}

Test(data, csv_malformed_cells_name_line_and_column, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    struct dpt_dataset *ds = NULL;
    struct {
        const char *text;
        const char *where;
        const char *what;
    } cases[] = {
        {"1,2,3\n0,abc,3\n", "line 2, column 2", "not a number: 'abc'"},
        {"1,2,3\n0,,3\n", "line 2, column 2", "empty cell"},
        {"1,2,3\n0,2, \n", "line 2, column 3", "empty cell"},
        {"1,2,3\n0,nan,3\n", "line 2, column 2", "not a finite number"},
        {"1,2,3\n0,2,-inf\n", "line 2, column 3", "not a finite number"},
        {"1,2,3\n0,2,1e999\n", "line 2, column 3", "not a finite number"},
        {"1,2,3\n0,2,1e39\n", "line 2, column 3", "float range"},
        {"1,2,3\n0,1e-50,3\n", "line 2, column 2", "smaller ones would become 0"},
        {"1,2,3\n0,2\n", "line 2, column 3", "missing cell"},
        {"1,2,3\n0,2,3,4\n", "line 2, column 4", "extra cell"},
        {"a,b,c\n1,2,3\n\n1,2\n", "line 4, column 3", "as on line 1"},
        {"1,2,3\r\n0,2,3x\r\n", "line 2, column 3", "not a number: '3x'"},
        {"1.5,2,3\n", "line 1, column 1", "not an integer"},
        {"1,2,3\n0, 2 3 ,3\n", "line 2, column 2", "not a number"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ds = (struct dpt_dataset *)1;
        cr_assert_eq(load_csv(p, cases[c].text, "", &ds), DPT_ERR_FORMAT, "case %zu", c);
        cr_assert_null(ds);
        expect_msg(p, cases[c].where, cases[c].what);
    }
}

// A file written with decimal commas (delim=; as a European spreadsheet saves it): a feature or
// a regression target "0,25" is an error that says why, and so is an unquoted label "1,5", which
// would otherwise become a class of its own; quoted, or after a name, "1,5" is a class name.
// Cells that only look similar ("1,2,3", ",5", "5,") keep their usual message or meaning.
Test(data, csv_decimal_commas_are_named, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    struct dpt_dataset *ds = NULL;
    struct {
        const char *text, *opts, *where, *what;
    } cases[] = {
        {"y;a\n1;0,25\n", ",delim=;", "line 2, column 2", "'0,25' (a decimal comma"},
        {"y;a\n1;-3,5e-2\n", ",delim=;", "line 2, column 2", "(a decimal comma"},
        {"y;a\n1,5;2\n", ",delim=;", "line 2, column 1", "label '1,5' has a decimal comma"},
        {"y;a\n2;1\n+0,5;2\n", ",delim=;", "line 3, column 1", "has a decimal comma"},
        {"y;a\n1,5;2\n", ",delim=;,target=regression", "line 2, column 1", "(a decimal comma"},
        {"1\t0,25\n", ",delim=tab", "line 1, column 2", "(a decimal comma"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ds = (struct dpt_dataset *)1;
        cr_assert_eq(load_csv(p, cases[c].text, cases[c].opts, &ds), DPT_ERR_FORMAT, "case %zu", c);
        cr_assert_null(ds);
        expect_msg(p, cases[c].where, cases[c].what);
    }
    // Not decimal commas: no hint.
    const char *plain[] = {"y;a\n1;1,2,3\n", "y;a\n1;,5\n", "y;a\n1;5,\n", "y;a\n1;1,5x\n",
                           "y;a\n1;1x5\n"};
    for (size_t c = 0; c < sizeof plain / sizeof plain[0]; c++) {
        cr_assert_eq(load_csv(p, plain[c], ",delim=;", &ds), DPT_ERR_FORMAT, "plain %zu", c);
        cr_assert_null(strstr(dpt_last_error(), "decimal comma"), "plain %zu: %s", c,
                       dpt_last_error());
    }
    // Quoted, "1,5" is a name; so is text that merely holds a comma.
    cr_assert_eq(load_csv(p, "y;a\n\"1,5\";1\nsmall,red;2\n\"1,5\";3\n", ",delim=;", &ds), DPT_OK,
                 "%s", dpt_last_error());
    const char *const *names = dpt_dataset_class_names(ds);
    cr_assert_not_null(names);
    cr_assert_eq(dpt_dataset_n_out(ds), 2);
    cr_assert_str_eq(names[0], "1,5");
    cr_assert_str_eq(names[1], "small,red");
    cr_assert_eq(dpt_dataset_labels(ds)[0], dpt_dataset_labels(ds)[2]);
    dpt_dataset_destroy(ds);
    // After a name, an unquoted "1,5" is a name too.
    cr_assert_eq(load_csv(p, "y;a\ncat;1\n1,5;2\n", ",delim=;", &ds), DPT_OK, "%s",
                 dpt_last_error());
    names = dpt_dataset_class_names(ds);
    cr_assert_not_null(names);
    cr_assert_str_eq(names[0], "1,5");
    cr_assert_str_eq(names[1], "cat");
    dpt_dataset_destroy(ds);
}

Test(data, csv_empty_and_header_only, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(load_csv(p, "", "", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "empty file", NULL);
    cr_assert_eq(load_csv(p, "\n\r\n  \n", "", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "empty file", NULL);
    cr_assert_eq(load_csv(p, "label,a,b\n", "", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "line 1", "only a header");
    cr_assert_eq(load_csv(p, "\xEF\xBB\xBF", "", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "empty file", NULL);
    cr_assert_eq(load_csv(p, "1\n2\n", "", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "line 1", "1 column");
    // A real NUL byte inside the file (a binary file given as CSV).
    write_bytes(tmp_path(p, "bin.csv"), "1,2\n\0\0", 6, 0);
    char spec[600];
    snprintf(spec, sizeof spec, "csv:%s", p);
    cr_assert_eq(dpt_data_load(spec, 0, &ds), DPT_ERR_FORMAT);
    expect_msg(p, "byte offset 4", "NUL");
}

// Inputs that cannot be text and never end (issue 14, class 3: csv:/dev/zero grew to 24 GB until
// the kernel killed it): the first NUL byte ends the read, in the first block, for every text
// format; endless streams without one are bounded by a quarter of the machine's memory (not
// tested: it would take that much memory).
Test(data, endless_binary_inputs_fail_at_once)
{
    static const char *const specs[] = {"csv:/dev/zero", "libsvm:/dev/zero", "csv:/dev/urandom",
                                        "libsvm:/dev/urandom"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        struct dpt_dataset *ds = NULL;
        cr_assert_eq(dpt_data_load(specs[i], 0, &ds), DPT_ERR_FORMAT, "%s", specs[i]);
        cr_expect(strstr(dpt_last_error(), "NUL byte"), "%s: %s", specs[i], dpt_last_error());
        cr_assert_null(ds);
    }
}

Test(data, csv_single_class_and_big_labels, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(load_csv(p, "5,1\n5,2\n", "", &ds), DPT_OK);
    cr_assert_eq(dpt_dataset_n_out(ds), 1); // one distinct label, one class
    const int32_t *cl;
    size_t nc;
    cr_assert_eq(dpt_dataset_class_labels(ds, &cl, &nc), DPT_OK);
    cr_assert_eq(cl[0], 5);
    dpt_dataset_destroy(ds);
    cr_assert_eq(load_csv(p, "2147483647,1\n-2147483648,2\n", "", &ds), DPT_OK);
    cr_assert_eq(dpt_dataset_labels(ds)[0], 1);
    dpt_dataset_destroy(ds);
    cr_assert_eq(load_csv(p, "2147483648,1\n", "", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "line 1, column 1", "not an integer");
}

Test(data, csv_missing_file)
{
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_data_load("csv:/nonexistent/dir/x.csv", 0, &ds), DPT_ERR_IO);
    expect_msg("/nonexistent/dir/x.csv", "cannot open", NULL);
}

Test(data, csv_from_stdin, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    write_text(p, "in.csv", "1,2,3\n0,4,5\n");
    cr_assert_not_null(freopen(p, "r", stdin));
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_data_load("csv:-", 0, &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n(ds), 2);
    cr_assert_eq(dpt_dataset_x(ds)[3], 5.0f);
    dpt_dataset_destroy(ds);
    write_text(p, "bad.csv", "1,2,3\n0,x,5\n");
    cr_assert_not_null(freopen(p, "r", stdin));
    cr_assert_eq(dpt_data_load("csv:-", 0, &ds), DPT_ERR_FORMAT);
    expect_msg("<stdin>: line 2, column 2", NULL, NULL);
}

Test(data, csv_committed_fixture)
{
    // tests/data/files/iris_head.csv: a header, label last, CRLF line ends.
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(
        dpt_data_load("csv:" DPT_SOURCE_DIR "/tests/data/files/iris_head.csv,label=last", 0, &ds),
        DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n(ds), 6);
    cr_assert_eq(dpt_dataset_n_in(ds), 4);
    cr_assert_eq(dpt_dataset_n_out(ds), 3);
    cr_assert_eq(dpt_dataset_x(ds)[0], 5.1f);
    cr_assert_eq(dpt_dataset_labels(ds)[5], 2);
    dpt_dataset_destroy(ds);
}
