// Data as people have it (issue 15), through the command line: CSV with quoted headers, text class
// labels chosen by header name (kept in the model and printed by info, eval and predict), other
// delimiters, the warning for a pandas index column, NumPy arrays, single-class data, and
// `--part test` where the data has no test part; each malformed input is one line naming the file
// and position.
#include "cli_test.h"

static const char *const animals[3] = {"bird, small", "cat", "dog \"rex\""};

// Three well-separated clusters in 2-D named by animals[], `per` rows each, with a header whose
// first name holds a comma. `skip` (0..2, or -1) leaves one class out.
static void write_animals(const char *path, size_t per, int skip, const char *delim)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fprintf(f, "\"price, usd\"%sx%sspecies\n", delim, delim);
    static const double cx[] = {-2.0, 2.0, 0.0}, cy[] = {-1.0, -1.0, 2.0};
    for (size_t i = 0; i < 3 * per; i++) {
        const int k = (int)(i % 3);
        if (k == skip)
            continue;
        const double x = cx[k] + 0.3 * sin(1.7 * (double)i), y = cy[k] + 0.3 * cos(2.3 * (double)i);
        // RFC 4180: the names with a comma or a quote are quoted, inner quotes doubled.
        fprintf(f, "%.5f%s%.5f%s%s\n", x, delim, y, delim,
                k == 0   ? "\"bird, small\""
                : k == 1 ? "cat"
                         : "\"dog \"\"rex\"\"\"");
    }
    cr_assert_eq(fclose(f), 0);
}

static void train_quiet(const char *data, const char *save)
{
    const char *args[] = {"train",   "--data",  data,         "--epochs",     "25",
                          "--batch", "16",      "--schedule", "adam:lr=0.05", "--threads",
                          "1",       "--quiet", "--save",     save,           NULL};
    struct cli_result r = cli_runv(args, NULL, NULL);
    cr_assert_eq(r.code, 0, "train --data %s: exit %d: %s", data, r.code, r.err);
    cr_expect_str_empty(r.err);
    result_free(&r);
}

Test(cli, text_labels_by_header_name_survive_train_eval_predict, CLI_FIXTURE)
{
    write_animals(P("a.csv"), 40, -1, ",");
    const char *spec = SPEC("csv:", "a.csv", ",label=species");
    train_quiet(spec, P("m.st"));

    // The model keeps the names; info prints them as CSV cells.
    struct cli_result r = expect_ok(run("info", P("m.st"), NULL));
    cr_expect(strstr(r.out, "3 classes, labels \"bird, small\",cat,\"dog \"\"rex\"\"\""), "%s",
              r.out);
    result_free(&r);

    // eval names them, in text and JSON.
    r = expect_ok(run("eval", "--model", P("m.st"), "--data", spec, "--json", NULL));
    cr_expect(strstr(r.out, "\"classes\":[\"bird, small\",\"cat\",\"dog \\\"rex\\\"\"]"), "%s",
              r.out);
    cr_expect_gt(num_after(r.out, "\"accuracy\":"), 0.95, "%s", r.out);
    result_free(&r);
    r = expect_ok(run("eval", "--model", P("m.st"), "--data", spec, NULL));
    cr_expect(strstr(r.out, "bird, small") && strstr(r.out, "dog \"rex\""), "%s", r.out);
    result_free(&r);

    // predict's first column is the name, quoted where CSV needs it; it matches the file's label.
    r = expect_ok(run("predict", "--model", P("m.st"), "--data", spec, NULL));
    cr_assert_eq(strncmp(r.out, "class,p0,p1,p2\n", 15), 0, "%s", r.out);
    size_t rows = 0, right = 0;
    for (const char *line = strchr(r.out, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        char buf[256];
        const char *fields[8];
        cr_assert_eq(csv_split(line, buf, sizeof buf, fields, 8), 4u, "%s", line);
        int k = -1;
        for (int j = 0; j < 3; j++)
            if (strcmp(fields[0], animals[j]) == 0)
                k = j;
        cr_assert_geq(k, 0, "unknown class '%s'", fields[0]);
        right += k == (int)(rows % 3);
        rows++;
    }
    cr_expect_eq(rows, 120u);
    cr_expect_gt((double)right / (double)rows, 0.95);
    result_free(&r);

    // A test set with two of the three names is matched by name, in training and in eval.
    write_animals(P("b.csv"), 20, 0, ",");
    const char *spec_b = SPEC("csv:", "b.csv", ",label=species");
    r = expect_ok(run("train", "--data", spec, "--test", spec_b, "--epochs", "25", "--batch", "16",
                      "--schedule", "adam:lr=0.05", "--threads", "1", NULL));
    const char *fin = strstr(r.out, "test accuracy: ");
    cr_assert(fin, "%s", r.out);
    cr_expect_gt(strtod(fin + 15, NULL), 0.95, "%s", r.out);
    result_free(&r);
    r = expect_ok(run("eval", "--model", P("m.st"), "--data", spec_b, "--json", NULL));
    cr_expect(strstr(r.out, "\"support\":[0,20,20]"), "%s", r.out);
    result_free(&r);

    // export and import carry the names (dptrain.json), so the imported model evaluates the same.
    r = expect_ok(run("export", "--model", P("m.st"), "--npy", P("ex"), NULL));
    result_free(&r);
    char *meta = read_text(P("ex/dptrain.json"));
    cr_assert_not_null(meta);
    cr_expect(strstr(meta, "\"class_names\":"), "%s", meta);
    free(meta);
    r = expect_ok(run("import", "--npy", P("ex"), "--out", P("m2.st"), NULL));
    result_free(&r);
    r = expect_ok(run("eval", "--model", P("m2.st"), "--data", spec, "--json", NULL));
    cr_expect(strstr(r.out, "\"classes\":[\"bird, small\",\"cat\",\"dog \\\"rex\\\"\"]"), "%s",
              r.out);
    cr_expect_gt(num_after(r.out, "\"accuracy\":"), 0.95, "%s", r.out);
    result_free(&r);

    // A name the model lacks; numbers where the model has names: one line each.
    write_text(P("eel.csv"), "a,b,species\n0,0,cat\n1,1,eel\n");
    expect_usage_error(run("eval", "--model", P("m.st"), "--data",
                           SPEC("csv:", "eel.csv", ",label=species"), NULL),
                       "label 'eel' is not one of the model's 3 classes", NULL);
    write_text(P("num.csv"), "a,b,species\n0,0,1\n1,1,2\n");
    expect_usage_error(run("eval", "--model", P("m.st"), "--data",
                           SPEC("csv:", "num.csv", ",label=species"), NULL),
                       "the data's class labels are numbers, but the model's are text", NULL);
    expect_usage_error(run("train", "--data", SPEC("csv:", "num.csv", ",label=species"), "--init",
                           P("m.st"), NULL),
                       "numbers", "text");
}

Test(cli, pandas_index_column_warns_in_one_line, CLI_FIXTURE)
{
    // DataFrame.to_csv() without index=False: an unnamed first column of row numbers.
    FILE *f = fopen(P("pd.csv"), "wb");
    cr_assert_not_null(f);
    fprintf(f, ",x,y,label\n");
    for (int i = 0; i < 40; i++)
        fprintf(f, "%d,%.3f,%.3f,%d\n", i, sin(i), cos(i), i % 2);
    cr_assert_eq(fclose(f), 0);
    const char *spec = SPEC("csv:", "pd.csv", ",label=label");
    struct cli_result r =
        expect_ok(run("train", "--data", spec, "--epochs", "1", "--threads", "1", NULL));
    cr_expect_eq(strncmp(r.err, "dptrain: warning: --data: ", 26), 0, "%s", r.err);
    const char *nl = strchr(r.err, '\n');
    cr_expect(nl && nl[1] == '\0', "not one line: %s", r.err);
    cr_expect(strstr(r.err, "pd.csv: line 1, column 1") && strstr(r.err, "unnamed") &&
                  strstr(r.err, "a feature") && strstr(r.err, "index=False"),
              "%s", r.err);
    result_free(&r);
    // --quiet: nothing but the result.
    r = expect_ok(run("train", "--data", spec, "--epochs", "1", "--threads", "1", "--quiet", NULL));
    cr_expect_str_empty(r.err);
    result_free(&r);
    // eval warns the same way about its data.
    r = expect_ok(run("train", "--data", spec, "--epochs", "1", "--threads", "1", "--quiet",
                      "--save", P("m.st"), NULL));
    result_free(&r);
    r = expect_ok(run("eval", "--model", P("m.st"), "--data", spec, NULL));
    cr_expect(strstr(r.err, "dptrain: warning: --data: ") && strstr(r.err, "unnamed"), "%s", r.err);
    result_free(&r);
}

Test(cli, delimiters_and_malformed_csv_are_one_line, CLI_FIXTURE)
{
    // The same data tab-separated and semicolon-separated (sep= is delim='s other name).
    write_animals(P("t.tsv"), 40, -1, "\t");
    train_quiet(SPEC("csv:", "t.tsv", ",delim=tab,label=species"), P("t.st"));
    write_animals(P("s.csv"), 40, -1, ";");
    struct cli_result r =
        expect_ok(run("eval", "--model", P("t.st"), "--data",
                      SPEC("csv:", "s.csv", ",sep=;,label=species"), "--json", NULL));
    cr_expect_gt(num_after(r.out, "\"accuracy\":"), 0.95, "%s", r.out);
    result_free(&r);

    struct {
        const char *text, *opts, *n1, *n2;
    } cases[] = {
        {"a,b,y\n1,2,\"cat\n3,4,dog\n", ",label=y", "bad.csv: line 2, column 3",
         "unterminated quoted cell"},
        {"a,b,y\n1,2,ca\"t\"\n", ",label=y", "bad.csv: line 2, column 3", "quote inside"},
        {"a,b,y\n1,2,\"cat\"s\n", ",label=y", "bad.csv: line 2, column 3", "after the closing"},
        {"a,b,y\n1,2,cat\n", ",label=species", "bad.csv: line 1: label=species", "no such column"},
        {"a,y,y\n1,2,3\n", ",label=y", "bad.csv: line 1: label=y", "columns 2 and 3"},
        {"1,2,3\n", ",label=y", "bad.csv: line 1: label=y", "no header row"},
        {"a,b,y\n1,2,3\n", ",delim=xy", "delim=xy", "expected one character"},
        {"a,b,y\n1,2,3\n", ",delim=.", "delim=.", "expected one character"},
        {"a,b,y\n1,2,cat\n3,4,5\n", ",label=y", "bad.csv: line 3, column 3",
         "integers or names, not both"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        write_text(P("bad.csv"), cases[c].text);
        expect_usage_error(
            run("train", "--data", SPEC("csv:", "bad.csv", cases[c].opts), "--epochs", "1", NULL),
            cases[c].n1, cases[c].n2);
    }
}

Test(cli, single_class_data_says_so, CLI_FIXTURE)
{
    write_text(P("one.csv"), "y,a,b\n3,0.5,1\n3,1.5,2\n3,2.5,3\n");
    expect_usage_error(run("train", "--data", SPEC("csv:", "one.csv", NULL), "--epochs", "1", NULL),
                       "the data has only one class (label 3 in all 3 samples)", "at least two");
    expect_usage_error(run("train", "--data", SPEC("csv:", "one.csv", NULL), "--loss", "bce",
                           "--epochs", "1", NULL),
                       "only one class", NULL);
    expect_usage_error(run("scale", "--data", SPEC("csv:", "one.csv", NULL), "--threads-list", "1",
                           "--csv", P("s.csv"), NULL),
                       "only one class", NULL);
    write_text(P("cat.csv"), "a,b,y\n0.5,1,cat\n1.5,2,cat\n");
    expect_usage_error(run("train", "--data", SPEC("csv:", "cat.csv", ",label=y"), NULL),
                       "only one class (label 'cat'", NULL);
    // As regression targets the same column is fine.
    struct cli_result r =
        expect_ok(run("train", "--data", SPEC("csv:", "one.csv", ",target=regression"), "--epochs",
                      "1", "--threads", "1", "--quiet", NULL));
    result_free(&r);
}

Test(cli, part_test_needs_a_test_part, CLI_FIXTURE)
{
    write_text(P("d.csv"), "y,a\n0,0.5\n1,1.5\n0,2.5\n1,3.5\n");
    const char *spec = SPEC("csv:", "d.csv", NULL);
    struct cli_result r = expect_ok(run("train", "--data", spec, "--epochs", "1", "--threads", "1",
                                        "--quiet", "--save", P("m.st"), NULL));
    result_free(&r);
    expect_usage_error(run("eval", "--model", P("m.st"), "--data", spec, "--part", "test", NULL),
                       "--part test", "has no test part");
    expect_usage_error(run("predict", "--model", P("m.st"), "--data", spec, "--part", "test", NULL),
                       "--part test", "has no test part");
    // Where there is one, it is used: a synthetic set's test part is a fresh draw.
    r = expect_ok(run("train", "--data", "synth:xor,n=200", "--epochs", "1", "--threads", "1",
                      "--quiet", "--save", P("x.st"), NULL));
    result_free(&r);
    r = expect_ok(run("eval", "--model", P("x.st"), "--data", "synth:xor,n=200", "--part", "test",
                      "--json", NULL));
    struct cli_result t =
        expect_ok(run("eval", "--model", P("x.st"), "--data", "synth:xor,n=200", "--json", NULL));
    cr_expect_neq(num_after(r.out, "\"loss\":"), num_after(t.out, "\"loss\":"));
    result_free(&r);
    result_free(&t);
}

// An NPY file of int64 labels (write_npy in cli_test.h writes floats only).
static void write_npy_i64(const char *path, const int64_t *v, size_t n)
{
    char dict[128];
    snprintf(dict, sizeof dict, "{'descr': '<i8', 'fortran_order': False, 'shape': (%zu,), }", n);
    size_t hlen = strlen(dict) + 1;
    while ((10 + hlen) % 64)
        hlen++;
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc((int)(hlen & 0xff), f);
    fputc((int)(hlen >> 8), f);
    fputs(dict, f);
    for (size_t i = strlen(dict); i + 1 < hlen; i++)
        fputc(' ', f);
    fputc('\n', f);
    fwrite(v, sizeof *v, n, f);
    cr_assert_eq(fclose(f), 0);
}

Test(cli, npy_arrays_train_and_evaluate, CLI_FIXTURE)
{
    enum { N = 150 };
    float x[N * 2], t[N];
    int64_t y[N];
    for (size_t i = 0; i < N; i++) {
        const int k = (int)(i % 3);
        x[2 * i] = (float)((k - 1) * 2.0 + 0.3 * sin(1.7 * (double)i));
        x[2 * i + 1] = (float)((k == 2 ? 2.0 : -1.0) + 0.3 * cos(2.3 * (double)i));
        y[i] = 10 * (k + 1);
        t[i] = x[2 * i] - x[2 * i + 1];
    }
    write_npy(P("X.npy"), x, N, 2, 0);
    write_npy_i64(P("y.npy"), y, N);
    write_npy(P("t.npy"), t, N, 0, 1);
    char spec[1200];
    snprintf(spec, sizeof spec, "npy:%s,%s", P("X.npy"), P("y.npy"));
    train_quiet(spec, P("m.st"));
    struct cli_result r = expect_ok(run("info", P("m.st"), NULL));
    cr_expect(strstr(r.out, "3 classes, labels 10,20,30"), "%s", r.out);
    result_free(&r);
    r = expect_ok(run("eval", "--model", P("m.st"), "--data", spec, "--json", NULL));
    cr_expect_gt(num_after(r.out, "\"accuracy\":"), 0.95, "%s", r.out);
    result_free(&r);
    // Float targets: a regression model.
    snprintf(spec, sizeof spec, "npy:%s,%s", P("X.npy"), P("t.npy"));
    r = expect_ok(run("train", "--data", spec, "--epochs", "2", "--threads", "1", "--quiet",
                      "--save", P("r.st"), NULL));
    result_free(&r);
    r = expect_ok(run("info", P("r.st"), NULL));
    cr_expect(strstr(r.out, "task: regression, 1 outputs"), "%s", r.out);
    result_free(&r);

    // A cut file, and labels of the wrong length: one line naming the file and the place.
    char *whole = read_text(P("X.npy"));
    write_file(P("cut.npy"), whole, 128 + 100); // the header is 128 bytes
    free(whole);
    snprintf(spec, sizeof spec, "npy:%s,%s", P("cut.npy"), P("y.npy"));
    expect_usage_error(run("train", "--data", spec, NULL), "cut.npy: byte offset 128: truncated",
                       "1200 bytes of data, but the file has 100");
    write_npy_i64(P("y5.npy"), y, 5);
    snprintf(spec, sizeof spec, "npy:%s,%s", P("X.npy"), P("y5.npy"));
    expect_usage_error(run("train", "--data", spec, NULL), "y5.npy: Y has shape (5,)",
                       "one row per row of X");
}
