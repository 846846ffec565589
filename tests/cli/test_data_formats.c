// Every data SPEC form through the command line (CSV, CSV on stdin, LIBSVM, IDX raw and gzip'd,
// fashion-mnist:DIR, synthetic sets), class labels that are not 0..K-1, test sets with fewer
// classes, and the one-line errors for bad files.
#include <zlib.h>

#include "cli_test.h"

// Three well-separated clusters in 2-D with labels 10, 20, 30 (not 0..K-1), `per` rows each,
// as CSV with the label in column `label_col` (0 first, 2 last). `only` != 0 keeps one label out.
static void write_clusters(const char *path, size_t per, int label_col, int skip_label,
                           const char *header, const char *eol)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    if (header)
        fprintf(f, "%s%s", header, eol);
    static const double cx[] = {-2.0, 2.0, 0.0}, cy[] = {-1.0, -1.0, 2.0};
    for (size_t i = 0; i < 3 * per; i++) {
        const int k = (int)(i % 3), label = 10 * (k + 1);
        if (label == skip_label)
            continue;
        const double x = cx[k] + 0.3 * sin(1.7 * (double)i), y = cy[k] + 0.3 * cos(2.3 * (double)i);
        if (label_col == 0)
            fprintf(f, "%d,%.5f,%.5f%s", label, x, y, eol);
        else if (label_col == 1)
            fprintf(f, "%.5f,%d,%.5f%s", x, label, y, eol);
        else
            fprintf(f, "%.5f,%.5f,%d%s", x, y, label, eol);
    }
    cr_assert_eq(fclose(f), 0);
}

static void train_ok(const char *data, const char *test, const char *save)
{
    // 25 epochs of Adam at 0.05 on a few dozen rows: enough to separate far-apart clusters.
    const char *args[] = {
        "train",   "--data",  data,         "--epochs",     "25",
        "--batch", "16",      "--schedule", "adam:lr=0.05", "--threads",
        "1",       "--quiet", "--save",     save,           test ? "--test" : NULL,
        test,      NULL};
    struct cli_result r = cli_runv(args, NULL, NULL);
    cr_assert_eq(r.code, 0, "train --data %s: exit %d: %s", data, r.code, r.err);
    result_free(&r);
}

// Accuracy from `dptrain eval --json`.
static double eval_acc(const char *model, const char *data)
{
    struct cli_result r = expect_ok(run("eval", "--model", model, "--data", data, "--json", NULL));
    const double acc = num_after(r.out, "\"accuracy\":");
    result_free(&r);
    return acc;
}

Test(cli, csv_forms_and_original_labels, CLI_FIXTURE)
{
    // Header, label first, CRLF line ends and a byte-order mark.
    char path[512];
    snprintf(path, sizeof path, "%s", P("a.csv"));
    write_clusters(path, 40, 0, 0, "\xEF\xBB\xBFlabel,x,y", "\r\n");
    train_ok(SPEC("csv:", "a.csv", NULL), NULL, P("a.st"));
    struct cli_result r = expect_ok(run("info", P("a.st"), NULL));
    cr_expect(strstr(r.out, "3 classes, labels 10,20,30"), "%s", r.out);
    result_free(&r);
    // The clusters are far apart: a trained network separates them.
    cr_expect_gt(eval_acc(P("a.st"), SPEC("csv:", "a.csv", NULL)), 0.95);

    // label=last and label=N (1-based) read the same data.
    write_clusters(P("b.csv"), 40, 2, 0, NULL, "\n");
    write_clusters(P("c.csv"), 40, 1, 0, "x,label,y", "\n");
    cr_expect_gt(eval_acc(P("a.st"), SPEC("csv:", "b.csv", ",label=last")), 0.95);
    cr_expect_gt(eval_acc(P("a.st"), SPEC("csv:", "c.csv", ",label=2")), 0.95);

    // Predictions name the original labels.
    r = expect_ok(
        run("predict", "--model", P("a.st"), "--data", SPEC("csv:", "b.csv", ",label=last"), NULL));
    cr_expect_eq(strncmp(r.out, "class,p0,p1,p2\n", 15), 0, "%s", r.out);
    cr_expect(strstr(r.out, "\n10,") && strstr(r.out, "\n20,") && strstr(r.out, "\n30,"), "%s",
              r.out);
    result_free(&r);
}

Test(cli, test_set_with_fewer_classes_is_matched_by_label, CLI_FIXTURE)
{
    write_clusters(P("train.csv"), 40, 0, 0, NULL, "\n");
    // Only labels 20 and 30: on its own this file would number them 0 and 1.
    write_clusters(P("test.csv"), 20, 0, 10, NULL, "\n");
    struct cli_result r =
        expect_ok(run("train", "--data", SPEC("csv:", "train.csv", NULL), "--test",
                      SPEC("csv:", "test.csv", NULL), "--epochs", "25", "--batch", "16",
                      "--schedule", "adam:lr=0.05", "--threads", "1", "--save", P("m.st"), NULL));
    const char *fin = strstr(r.out, "test accuracy: ");
    cr_assert(fin, "%s", r.out);
    // With the classes mismatched (20 read as class 0) the accuracy would be near zero.
    cr_expect_gt(strtod(fin + 15, NULL), 0.95, "%s", r.out);
    result_free(&r);
    cr_expect_gt(eval_acc(P("m.st"), SPEC("csv:", "test.csv", NULL)), 0.95);
    r = expect_ok(run("eval", "--model", P("m.st"), "--data", SPEC("csv:", "test.csv", NULL),
                      "--json", NULL));
    cr_expect(strstr(r.out, "\"classes\":[10,20,30]"), "%s", r.out);
    cr_expect(strstr(r.out, "\"support\":[0,20,20]"), "%s", r.out);
    result_free(&r);

    // A label the training set lacks is an error naming it; so is a width mismatch.
    write_text(P("odd.csv"), "10,0,0\n40,1,1\n");
    expect_usage_error(run("train", "--data", SPEC("csv:", "train.csv", NULL), "--test",
                           SPEC("csv:", "odd.csv", NULL), "--epochs", "1", NULL),
                       "label 40", NULL);
    expect_usage_error(
        run("eval", "--model", P("m.st"), "--data", SPEC("csv:", "odd.csv", NULL), NULL),
        "label 40", NULL);
    write_text(P("wide.csv"), "10,0,0,0\n20,1,1,1\n");
    expect_usage_error(run("train", "--data", SPEC("csv:", "train.csv", NULL), "--test",
                           SPEC("csv:", "wide.csv", NULL), NULL),
                       "3 features", NULL);
    expect_usage_error(
        run("eval", "--model", P("m.st"), "--data", SPEC("csv:", "wide.csv", NULL), NULL),
        "3 features", "takes 2");
}

Test(cli, csv_from_stdin_and_regression_targets, CLI_FIXTURE)
{
    write_clusters(P("a.csv"), 30, 0, 0, NULL, "\n");
    const char *args[] = {"train", "--data",  "csv:-",  "--epochs", "2", "--threads",
                          "1",     "--quiet", "--save", P("m.st"),  NULL};
    struct cli_result r = expect_ok(cli_runv(args, P("a.csv"), NULL));
    result_free(&r);
    r = expect_ok(run("info", P("m.st"), NULL));
    cr_expect(strstr(r.out, "labels 10,20,30"), "%s", r.out);
    result_free(&r);

    // The label column read as a float target: a regression model (squared loss, 1 output).
    write_text(P("r.csv"), "y,x\n0.5,1\n1.5,2\n2.5,3\n3.5,4\n");
    r = expect_ok(run("train", "--data", SPEC("csv:", "r.csv", ",target=regression"), "--epochs",
                      "1", "--threads", "1", "--quiet", "--save", P("r.st"), NULL));
    result_free(&r);
    r = expect_ok(run("info", P("r.st"), NULL));
    cr_expect(strstr(r.out, "task: regression, 1 outputs"), "%s", r.out);
    cr_expect(strstr(r.out, "loss: squared"), "%s", r.out);
    result_free(&r);
    // A regression model refuses classification data, and the other way round.
    expect_usage_error(
        run("eval", "--model", P("r.st"), "--data", SPEC("csv:", "r.csv", NULL), NULL),
        "regression", NULL);
    expect_usage_error(run("eval", "--model", P("m.st"), "--data",
                           SPEC("csv:", "a.csv", ",target=regression"), NULL),
                       "regression", NULL);
}

Test(cli, libsvm_with_signed_labels, CLI_FIXTURE)
{
    // Two features, the second sometimes absent; labels -1 / +1.
    char text[8192] = "# a comment line\n";
    for (int i = 0; i < 120; i++) {
        const int pos = i % 2;
        char line[96];
        const double a = (pos ? 1.5 : -1.5) + 0.2 * sin((double)i);
        if (i % 3)
            snprintf(line, sizeof line, "%s 1:%.4f 2:%.4f\n", pos ? "+1" : "-1", a,
                     0.1 * cos((double)i));
        else
            snprintf(line, sizeof line, "%s 1:%.4f # trailing comment\n", pos ? "+1" : "-1", a);
        strcat(text, line);
    }
    write_text(P("d.svm"), text);
    train_ok(SPEC("libsvm:", "d.svm", NULL), SPEC("libsvm:", "d.svm", NULL), P("m.st"));
    struct cli_result r = expect_ok(run("info", P("m.st"), NULL));
    cr_expect(strstr(r.out, "labels -1,1"), "%s", r.out);
    cr_expect(strstr(r.out, "layers: 2,"), "%s", r.out);
    result_free(&r);
    r = expect_ok(
        run("predict", "--model", P("m.st"), "--data", SPEC("libsvm:", "d.svm", NULL), NULL));
    cr_expect(strstr(r.out, "\n-1,") && strstr(r.out, "\n1,"), "%s", r.out);
    result_free(&r);
    // features=D widens the data; a model trained on 2 features then refuses it.
    expect_usage_error(
        run("eval", "--model", P("m.st"), "--data", SPEC("libsvm:", "d.svm", ",features=5"), NULL),
        "5 features", NULL);
}

// ---- IDX ----

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

// n images of 2 x 3 u8 pixels (class k is bright in column k) and their labels, raw or gzip'd.
static void write_idx(const char *images, const char *labels, size_t n, int gz)
{
    size_t ilen = 16 + n * 6, llen = 8 + n;
    unsigned char *im = calloc(ilen, 1), *lb = calloc(llen, 1);
    im[2] = 0x08;
    im[3] = 3;
    be32(im + 4, (uint32_t)n);
    be32(im + 8, 2);
    be32(im + 12, 3);
    lb[2] = 0x08;
    lb[3] = 1;
    be32(lb + 4, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        const size_t k = i % 3;
        for (size_t j = 0; j < 6; j++)
            im[16 + i * 6 + j] = (unsigned char)(j % 3 == k ? 200 + i % 50 : i % 40);
        lb[8 + i] = (unsigned char)k;
    }
    for (int f = 0; f < 2; f++) {
        const char *path = f ? labels : images;
        const unsigned char *data = f ? lb : im;
        const size_t len = f ? llen : ilen;
        if (gz) {
            gzFile g = gzopen(path, "wb");
            cr_assert_not_null(g);
            cr_assert_eq(gzwrite(g, data, (unsigned)len), (int)len);
            cr_assert_eq(gzclose(g), Z_OK);
        } else {
            write_file(path, data, len);
        }
    }
    free(im);
    free(lb);
}

Test(cli, idx_raw_gzip_and_fashion_mnist_dir, CLI_FIXTURE)
{
    write_idx(P("img"), P("lab"), 90, 0);
    char spec[1200];
    snprintf(spec, sizeof spec, "idx:%s,%s", P("img"), P("lab"));
    train_ok(spec, spec, P("m.st"));
    struct cli_result r = expect_ok(run("info", P("m.st"), NULL));
    cr_expect(strstr(r.out, "layers: 6,256,3"), "2 x 3 images flatten to 6 inputs: %s", r.out);
    cr_expect(strstr(r.out, "labels 0..2"), "%s", r.out);
    result_free(&r);
    cr_expect_gt(eval_acc(P("m.st"), spec), 0.95);

    // fashion-mnist:DIR reads the four standard names (here small gzip'd files) and defaults the
    // test set to the t10k pair.
    cr_assert_eq(mkdir(P("fm"), 0700), 0);
    write_idx(P("fm/train-images-idx3-ubyte.gz"), P("fm/train-labels-idx1-ubyte.gz"), 60, 1);
    write_idx(P("fm/t10k-images-idx3-ubyte.gz"), P("fm/t10k-labels-idx1-ubyte.gz"), 30, 1);
    char fm[600];
    snprintf(fm, sizeof fm, "fashion-mnist:%s", P("fm"));
    r = expect_ok(run("train", "--data", fm, "--epochs", "2", "--threads", "1", "--log-json",
                      P("l.jsonl"), "--quiet", NULL));
    cr_expect(strstr(r.out, "test accuracy: "), "the t10k set is the default test set: %s", r.out);
    result_free(&r);
    r = expect_ok(
        run("eval", "--model", P("m.st"), "--data", fm, "--part", "test", "--json", NULL));
    cr_expect(strstr(r.out, "\"n\":30,"), "--part test loads t10k: %s", r.out);
    result_free(&r);

    // A truncated IDX file: the message names the file and the byte offset.
    unsigned char head[16] = {0, 0, 0x08, 3};
    be32(head + 4, 10);
    be32(head + 8, 2);
    be32(head + 12, 3);
    write_file(P("short"), head, sizeof head);
    snprintf(spec, sizeof spec, "idx:%s,%s", P("short"), P("lab"));
    expect_usage_error(run("train", "--data", spec, NULL), "short", NULL);
}

Test(cli, synthetic_sets_and_their_options, CLI_FIXTURE)
{
    static const char *const specs[] = {"synth:xor,n=64", "synth:spirals,n=60,classes=3",
                                        "synth:blobs,n=50,classes=5,seed=9"};
    static const char *const layers[] = {"layers: 2,256,2", "layers: 2,256,3", "layers: 2,256,5"};
    for (size_t i = 0; i < 3; i++) {
        struct cli_result r =
            expect_ok(run("train", "--data", specs[i], "--epochs", "1", "--threads", "1", "--quiet",
                          "--save", P("m.st"), NULL));
        result_free(&r);
        r = expect_ok(run("info", P("m.st"), NULL));
        cr_expect(strstr(r.out, layers[i]), "%s: %s", specs[i], r.out);
        result_free(&r);
        r = expect_ok(run("eval", "--model", P("m.st"), "--data", specs[i], "--json", NULL));
        const char *n = strstr(specs[i], "n=");
        char want[32];
        snprintf(want, sizeof want, "\"n\":%ld,", strtol(n + 2, NULL, 10));
        cr_expect(strstr(r.out, want), "%s: %s", specs[i], r.out);
        result_free(&r);
    }
}

Test(cli, bad_data_is_one_line_naming_file_and_position, CLI_FIXTURE)
{
    write_text(P("nan.csv"), "1,2,3\n0,NaN,1\n");
    expect_usage_error(run("train", "--data", SPEC("csv:", "nan.csv", NULL), NULL), "nan.csv",
                       "line 2");
    write_text(P("word.csv"), "1,2,3\n0,1,1\n1,x,2\n");
    expect_usage_error(run("train", "--data", SPEC("csv:", "word.csv", NULL), NULL), "line 3",
                       "column 2");
    write_text(P("ragged.csv"), "1,2,3\n0,1\n");
    expect_usage_error(run("train", "--data", SPEC("csv:", "ragged.csv", NULL), NULL), "ragged.csv",
                       "line 2");
    write_text(P("empty.csv"), "");
    expect_usage_error(run("train", "--data", SPEC("csv:", "empty.csv", NULL), NULL), "empty.csv",
                       NULL);
    write_text(P("frac.csv"), "1.5,2,3\n0,1,1\n");
    expect_usage_error(run("train", "--data", SPEC("csv:", "frac.csv", NULL), NULL), "frac.csv",
                       "line 1");
    write_text(P("bad.svm"), "1 2:1 1:3\n");
    expect_usage_error(run("train", "--data", SPEC("libsvm:", "bad.svm", NULL), NULL), "bad.svm",
                       "line 1");
    expect_usage_error(run("train", "--data", SPEC("csv:", "missing.csv", NULL), NULL),
                       "missing.csv", NULL);
    expect_usage_error(run("train", "--data", "parquet:x", NULL), "parquet", NULL);
    expect_usage_error(run("train", "--data", "synth:xor,n=10,colour=red", NULL), "colour", NULL);
    expect_usage_error(run("train", "--data", "synth:moons", NULL), "moons", NULL);
    expect_usage_error(run("train", "--data", "synth:xor,n=0", NULL), "synth", NULL);
    // The same rules hold for eval and predict, and a failed predict leaves no file.
    struct cli_result r = expect_ok(run("train", "--data", "synth:xor,n=40", "--epochs", "1",
                                        "--threads", "1", "--quiet", "--save", P("m.st"), NULL));
    result_free(&r);
    expect_usage_error(run("predict", "--model", P("m.st"), "--data",
                           SPEC("csv:", "word.csv", NULL), "--out", P("p.csv"), NULL),
                       "line 3", NULL);
    cr_expect(!file_exists(P("p.csv")));
    cr_expect_eq(count_prefixed(tdir, "p.csv"), 0u);
}
