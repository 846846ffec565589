// The CSV loader as people write files (issue 15): RFC 4180 quoting (the delimiter, doubled quotes
// and line breaks inside quotes), label=NAME by header name, text class labels, other delimiters,
// the warning for a pandas index column, and every malformed form of these with its line and
// column.
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "dptrain/dptrain.h"
#include "test_helpers.h"

// Loads `text` written to data.csv via "csv:PATH<opts>"; returns the status, *out the data set.
static enum dpt_status load_csv(char *path, const char *text, const char *opts,
                                struct dpt_dataset **out)
{
    write_text(path, "data.csv", text);
    char spec[700];
    snprintf(spec, sizeof spec, "csv:%s%s", path, opts);
    return dpt_data_load(spec, 0, out);
}

static void expect_x(const struct dpt_dataset *ds, const float *want, size_t n)
{
    cr_assert_eq(dpt_dataset_n(ds) * dpt_dataset_n_in(ds), n);
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(dpt_dataset_x(ds)[i], want[i], "x[%zu] = %g, want %g", i, dpt_dataset_x(ds)[i],
                     want[i]);
}

Test(data, csv_quoted_cells_follow_rfc4180, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    struct dpt_dataset *ds = NULL;
    // The header of the issue: a comma inside a quoted name used to read as two cells ("missing
    // cell"). Quoted numbers are numbers; blanks inside the quotes of a number are dropped; a
    // header name may hold doubled quotes and a line break; CRLF inside and outside quotes.
    const char *text = "label,\"price, usd\",\"the \"\"x\"\"\r\ncolumn\"\r\n"
                       "1,\"2.5\",3\r\n"
                       "0, \" -4 \" ,\"5e1\"\r\n"
                       "1,6,7";
    cr_assert_eq(load_csv(p, text, "", &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n(ds), 3);
    cr_assert_eq(dpt_dataset_n_in(ds), 2);
    const float want[] = {2.5f, 3.0f, -4.0f, 50.0f, 6.0f, 7.0f};
    expect_x(ds, want, 6);
    cr_assert_eq(dpt_dataset_labels(ds)[1], 0);
    cr_assert_str_empty(dpt_dataset_warnings(ds));
    dpt_dataset_destroy(ds);

    // The same header chosen by name, quoted in the spec because of its comma.
    cr_assert_eq(load_csv(p, text, ",label=\"price, usd\",target=regression", &ds), DPT_OK, "%s",
                 dpt_last_error());
    cr_assert_eq(dpt_dataset_task(ds), DPT_TASK_REGRESS);
    cr_assert_eq(dpt_dataset_targets(ds)[1], -4.0f);
    cr_assert_eq(dpt_dataset_x(ds)[0], 1.0f); // label moved to the features, in file order
    cr_assert_eq(dpt_dataset_x(ds)[1], 3.0f);
    dpt_dataset_destroy(ds);
    // A name with quotes and a line break, written with doubled quotes in the spec.
    cr_assert_eq(load_csv(p, text, ",label=\"the \"\"x\"\"\r\ncolumn\",target=regression", &ds),
                 DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_targets(ds)[1], 50.0f);
    dpt_dataset_destroy(ds);

    // A quoted cell spanning lines: the lines after it keep their numbers in messages.
    cr_assert_eq(load_csv(p, "name,x,y\n\"a\nb\nc\",1,2\nq,x,3\n", ",label=first", &ds),
                 DPT_ERR_FORMAT);
    expect_msg(p, "line 2, column 1", "control character");
    cr_assert_eq(load_csv(p, "\"h\n1\",x,y\n1,2,3\n0,2,z\n", "", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "line 4, column 3", "not a number: 'z'");
}

Test(data, csv_malformed_quotes_name_line_and_column, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    struct dpt_dataset *ds = NULL;
    struct {
        const char *text;
        const char *where;
        const char *what;
    } cases[] = {
        // Unterminated: the message names where the quote opened, not the end of the file.
        {"1,2,3\n0,\"2,3\n1,2,3\n", "line 2, column 2", "unterminated quoted cell"},
        {"a,b,\"c\n", "line 1, column 3", "unterminated quoted cell"},
        // A quote inside an unquoted cell.
        {"1,2,3\n0,2\"5,3\n", "line 2, column 2", "a quote inside an unquoted cell"},
        {"a,b\"c,d\n1,2,3\n", "line 1, column 2", "a quote inside an unquoted cell"},
        // Text after the closing quote.
        {"1,2,3\n0,\"2\"5,3\n", "line 2, column 2", "'5' after the closing quote"},
        {"1,2,3\n0,\"2\" \"3\",3\n", "line 2, column 2", "after the closing quote"},
        // Empty quoted cells are empty cells.
        {"1,2,3\n0,\"\",3\n", "line 2, column 2", "empty cell"},
        {"1,2,3\n\"\",2,3\n", "line 2, column 1", "empty cell"},
        {"1,2,3\n\"  \",2,3\n", "line 2, column 1", "empty cell"},
        // A quoted cell still counts one cell: too many or too few are found.
        {"a,b,c\n\"x,y\",2,3,4\n", "line 2, column 4", "extra cell"},
        {"1,2,3\n0,\"1\"\n", "line 2, column 3", "missing cell"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ds = (struct dpt_dataset *)1;
        cr_assert_eq(load_csv(p, cases[c].text, "", &ds), DPT_ERR_FORMAT, "case %zu: %s", c,
                     dpt_last_error());
        cr_assert_null(ds);
        expect_msg(p, cases[c].where, cases[c].what);
    }
}

Test(data, csv_label_by_header_name, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    struct dpt_dataset *ds = NULL;
    const char *text = "a,species,b\n1,7,2\n3,9,4\n";
    cr_assert_eq(load_csv(p, text, ",label=species", &ds), DPT_OK, "%s", dpt_last_error());
    const float want[] = {1.0f, 2.0f, 3.0f, 4.0f};
    expect_x(ds, want, 4);
    const int32_t *cl;
    size_t nc;
    cr_assert_eq(dpt_dataset_class_labels(ds, &cl, &nc), DPT_OK);
    cr_assert_eq(nc, 2);
    cr_assert_eq(cl[1], 9);
    dpt_dataset_destroy(ds);

    // Keywords and numbers keep their meaning; quoted, they are names.
    const char *odd = "first,last,x\n1,0,5\n2,1,6\n";
    cr_assert_eq(load_csv(p, odd, ",label=\"last\"", &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_x(ds)[0], 1.0f); // column 2 ("last") is the label
    cr_assert_eq(dpt_dataset_x(ds)[1], 5.0f);
    dpt_dataset_destroy(ds);
    cr_assert_eq(load_csv(p, odd, ",label=last,target=regression", &ds), DPT_OK);
    cr_assert_eq(dpt_dataset_targets(ds)[1], 6.0f); // column 3, the last one
    dpt_dataset_destroy(ds);
    // The last repeated key counts, names and numbers alike.
    cr_assert_eq(load_csv(p, text, ",label=species,label=1,target=regression", &ds), DPT_OK);
    cr_assert_eq(dpt_dataset_targets(ds)[1], 3.0f);
    dpt_dataset_destroy(ds);

    // Not found, found twice, no header to look in.
    cr_assert_eq(load_csv(p, text, ",label=kind", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "line 1: label=kind: no such column", "('a', 'species', 'b')");
    cr_assert_eq(load_csv(p, "x,y,x\n1,2,3\n", ",label=x", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "label=x: columns 1 and 3", "label=1");
    cr_assert_eq(load_csv(p, "1,2,3\n4,5,6\n", ",label=y", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "line 1: label=y", "no header row");
    // Names match exactly: case and blanks inside quotes count.
    cr_assert_eq(load_csv(p, "A,\" b \",c\n1,2,3\n", ",label=a", &ds), DPT_ERR_FORMAT);
    cr_assert_eq(load_csv(p, "A,\" b \",c\n1,2,3\n", ",label=b", &ds), DPT_ERR_FORMAT);
    cr_assert_eq(load_csv(p, "A,\" b \",c\n1,2,3\n4,5,3\n", ",label=\" b \"", &ds), DPT_OK, "%s",
                 dpt_last_error());
    cr_assert_eq(dpt_dataset_x(ds)[1], 3.0f);
    dpt_dataset_destroy(ds);
}

Test(data, csv_text_labels_become_sorted_named_classes, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    struct dpt_dataset *ds = NULL;
    // First seen: dog, cat, "bird, small", café; sorted byte-wise: "bird, small", café, cat,
    // dog. Blanks
    // around a label, quoted or not, are dropped; UTF-8 is kept.
    const char *text = "x,y,animal\n"
                       "1,2,dog\n"
                       "3,4, cat \n"
                       "5,6,\"bird, small\"\n"
                       "7,8,\" dog\"\n"
                       "9,10,caf\xC3\xA9\n";
    cr_assert_eq(load_csv(p, text, ",label=animal", &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n_out(ds), 4);
    const char *const *names = dpt_dataset_class_names(ds);
    cr_assert_not_null(names);
    cr_assert_str_eq(names[0], "bird, small");
    cr_assert_str_eq(names[1], "caf\xC3\xA9"); // "caf" sorts before "cat"
    cr_assert_str_eq(names[2], "cat");
    cr_assert_str_eq(names[3], "dog");
    const int32_t want[] = {3, 2, 0, 3, 1};
    for (size_t i = 0; i < 5; i++)
        cr_expect_eq(dpt_dataset_labels(ds)[i], want[i], "row %zu", i);
    const int32_t *cl;
    size_t nc;
    cr_assert_eq(dpt_dataset_class_labels(ds, &cl, &nc), DPT_OK);
    cr_assert_null(cl);
    cr_assert_eq(nc, 4);
    dpt_dataset_destroy(ds);

    // Numbers and text do not mix, in either order; the message names both lines.
    cr_assert_eq(load_csv(p, "1,2,cat\n3,4,dog\n5,6,7\n", ",label=last", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "line 3, column 3: label '7' is a number", "line 1 is text");
    cr_assert_eq(load_csv(p, "1,2,7\n3,4,1O\n", ",label=last", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "line 2, column 3: label '1O' is text", "line 1 is a number");
    // A non-integer number stays what it was: not a class label.
    cr_assert_eq(load_csv(p, "1,2,cat\n3,4,2.5\n", ",label=last", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "line 2, column 3", "is a number");
    // Control characters and broken UTF-8 are no labels.
    cr_assert_eq(load_csv(p, "1,2,c\x1b[2Jat\n3,4,dog\n", ",label=last", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "line 1, column 3", "control character");
    cr_assert_eq(load_csv(p, "1,2,c\xC3\n3,4,dog\n", ",label=last", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "line 1, column 3", "not valid UTF-8");
    cr_assert_eq(load_csv(p, "1,2,\xED\xA0\x80\n3,4,dog\n", ",label=last", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "line 1, column 3", "not valid UTF-8"); // a UTF-16 surrogate
    // As a regression target, text is not a number.
    cr_assert_eq(load_csv(p, "1,2,cat\n", ",label=last,target=regression", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "line 1, column 3", "not a number: 'cat'");
    // One name, one class.
    cr_assert_eq(load_csv(p, "1,2,cat\n3,4,cat\n", ",label=last", &ds), DPT_OK);
    cr_assert_eq(dpt_dataset_n_out(ds), 1);
    cr_assert_str_eq(dpt_dataset_class_names(ds)[0], "cat");
    dpt_dataset_destroy(ds);
}

Test(data, csv_text_labels_through_subsets_and_test_sets, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    struct dpt_dataset *train = NULL, *test = NULL, *a = NULL, *b = NULL;
    cr_assert_eq(load_csv(p, "1,2,ant\n3,4,bee\n5,6,cow\n7,8,bee\n", ",label=last", &train),
                 DPT_OK);
    // A split keeps the names.
    cr_assert_eq(dpt_dataset_split(train, 0.5, 3, &a, &b), DPT_OK, "%s", dpt_last_error());
    cr_assert_str_eq(dpt_dataset_class_names(a)[2], "cow");
    cr_assert_str_eq(dpt_dataset_class_names(b)[0], "ant");
    dpt_dataset_destroy(a);
    dpt_dataset_destroy(b);

    // A test set with fewer names is renumbered to the training set's classes by name.
    cr_assert_eq(load_csv(p, "1,1,cow\n2,2,bee\n", ",label=last", &test), DPT_OK);
    cr_assert_eq(dpt_dataset_labels(test)[0], 1); // cow, bee -> 1, 0 on its own
    cr_assert_eq(dpt_dataset_match_classes(test, train), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n_out(test), 3);
    cr_assert_eq(dpt_dataset_labels(test)[0], 2);
    cr_assert_eq(dpt_dataset_labels(test)[1], 1);
    cr_assert_str_eq(dpt_dataset_class_names(test)[0], "ant");
    dpt_dataset_destroy(test);
    // A name the training set lacks, and numbers against names, are refused; test is unchanged.
    cr_assert_eq(load_csv(p, "1,1,cow\n2,2,eel\n", ",label=last", &test), DPT_OK);
    cr_assert_eq(dpt_dataset_match_classes(test, train), DPT_ERR_FORMAT);
    expect_msg("label 'eel'", "3 classes", NULL);
    cr_assert_str_eq(dpt_dataset_class_names(test)[1], "eel");
    dpt_dataset_destroy(test);
    cr_assert_eq(load_csv(p, "1,1,0\n2,2,1\n", ",label=last", &test), DPT_OK);
    cr_assert_eq(dpt_dataset_match_classes(test, train), DPT_ERR_FORMAT);
    expect_msg("numbers here but text", NULL, NULL);
    cr_assert_eq(dpt_dataset_match_classes(train, test), DPT_ERR_FORMAT);
    expect_msg("text here but numbers", NULL, NULL);
    dpt_dataset_destroy(test);
    dpt_dataset_destroy(train);
}

Test(data, csv_other_delimiters, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    struct dpt_dataset *ds = NULL;
    const float want[] = {1.5f, 2.0f, 3.0f, 4.0f};
    // Semicolons (Excel in many locales), with a quoted cell holding one.
    cr_assert_eq(load_csv(p, "\"a;b\";c;y\n1.5;2;0\n3;4;1\n", ",delim=;,label=last", &ds), DPT_OK,
                 "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_labels(ds)[1], 1);
    dpt_dataset_destroy(ds);
    cr_assert_eq(load_csv(p, "\"a;b\";c;y\n1.5;2;0\n3;4;1\n", ",sep=semicolon,label=y", &ds),
                 DPT_OK, "%s", dpt_last_error());
    expect_x(ds, want, 4);
    dpt_dataset_destroy(ds);
    // Tabs: a tab delimits (so two tabs make an empty cell), spaces around cells still go.
    cr_assert_eq(load_csv(p, "a\tb\ty\n1.5\t 2 \t0\n3\t4\t1\n", ",delim=tab,label=last", &ds),
                 DPT_OK, "%s", dpt_last_error());
    expect_x(ds, want, 4);
    dpt_dataset_destroy(ds);
    cr_assert_eq(load_csv(p, "1\t\t0\n", ",delim=\\t", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "line 1, column 2", "empty cell");
    // Pipes; and commas are then ordinary characters.
    cr_assert_eq(load_csv(p, "1.5|2|0\n3|4|1\n", ",delim=|,label=last", &ds), DPT_OK);
    expect_x(ds, want, 4);
    dpt_dataset_destroy(ds);
    cr_assert_eq(load_csv(p, "1,5|2|0\n", ",delim=|,label=last", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "line 1, column 1", "not a number: '1,5'");
    // delim=comma is the default spelled out.
    cr_assert_eq(load_csv(p, "1.5,2,0\n3,4,1\n", ",delim=comma,label=last", &ds), DPT_OK);
    dpt_dataset_destroy(ds);

    // Bad delimiter options are refused before the file is read.
    static const char *const bad[] = {
        "delim=",  "delim=ab",       "delim=x", "delim=7",        "delim=.",
        "delim=-", "delim=\"\"\"\"", "sep= ",   "delim=\xC3\xA9", "delim=space"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char spec[700];
        snprintf(spec, sizeof spec, "csv:%s/none.csv,%s", tmp_dir, bad[i]);
        ds = (struct dpt_dataset *)1;
        cr_assert_eq(dpt_data_load(spec, 0, &ds), DPT_ERR_INVALID, "%s: %s", bad[i],
                     dpt_last_error());
        cr_assert_null(ds);
        expect_msg("expected one character", NULL, NULL);
    }
}

Test(data, csv_unnamed_first_column_warns, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    struct dpt_dataset *ds = NULL;
    // What pandas writes with DataFrame.to_csv(): the index as an unnamed first column.
    const char *text = ",x,y,label\n0,0.5,1.5,1\n1,2.5,3.5,0\n2,4.5,5.5,1\n";
    cr_assert_eq(load_csv(p, text, ",label=label", &ds), DPT_OK, "%s", dpt_last_error());
    const char *w = dpt_dataset_warnings(ds);
    cr_expect(strstr(w, p) && strstr(w, "line 1, column 1") && strstr(w, "unnamed") &&
                  strstr(w, "pandas") && strstr(w, "a feature") && !strchr(w, '\n'),
              "%s", w);
    cr_assert_eq(dpt_dataset_n_in(ds), 3); // still read: a warning, not a refusal
    dpt_dataset_destroy(ds);
    // With the default label=first the index is taken as the label: the warning says so.
    cr_assert_eq(load_csv(p, "\"\",x,y\n0,0.5,1.5\n1,2.5,3.5\n", "", &ds), DPT_OK);
    cr_expect(strstr(dpt_dataset_warnings(ds), "as the label"), "%s", dpt_dataset_warnings(ds));
    dpt_dataset_destroy(ds);
    // A named first column, an unnamed later one, no header at all: no warning.
    static const char *const quiet[] = {"i,x,y\n0,1,2\n", "i,,y\n0,1,2\n", "0,1,2\n1,1,2\n"};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(load_csv(p, quiet[i], "", &ds), DPT_OK, "%s", dpt_last_error());
        cr_expect_str_empty(dpt_dataset_warnings(ds), "case %zu", i);
        dpt_dataset_destroy(ds);
    }
    // A subset carries no warnings of its own.
    cr_assert_eq(load_csv(p, text, ",label=last", &ds), DPT_OK);
    struct dpt_dataset *tr = NULL, *va = NULL;
    cr_assert_eq(dpt_dataset_split(ds, 0.5, 1, &tr, &va), DPT_OK);
    cr_expect_str_empty(dpt_dataset_warnings(tr));
    cr_expect_str_empty(dpt_dataset_warnings(NULL));
    dpt_dataset_destroy(tr);
    dpt_dataset_destroy(va);
    dpt_dataset_destroy(ds);
}

Test(data, data_spec_test_parts)
{
    cr_assert(dpt_data_has_test_part("fashion-mnist"));
    cr_assert(dpt_data_has_test_part("fashion-mnist:/some/dir"));
    cr_assert(dpt_data_has_test_part("synth:xor,n=10"));
    cr_assert_not(dpt_data_has_test_part("csv:a.csv"));
    cr_assert_not(dpt_data_has_test_part("npy:x.npy,y.npy"));
    cr_assert_not(dpt_data_has_test_part("synthetic:xor"));
    cr_assert_not(dpt_data_has_test_part("fashion-mnist2"));
    cr_assert_not(dpt_data_has_test_part(NULL));
}
