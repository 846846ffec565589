// The LIBSVM loader (through dpt_data_load): densifying, width, labels, comments, and the
// messages for every malformed entry.
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "dptrain/dptrain.h"
#include "test_helpers.h"

static enum dpt_status load_svm(char *path, const char *text, const char *opts,
                                struct dpt_dataset **out)
{
    write_text(path, "data.svm", text);
    char spec[700];
    snprintf(spec, sizeof spec, "libsvm:%s%s", path, opts);
    return dpt_data_load(spec, 0, out);
}

Test(data, libsvm_committed_fixture)
{
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_data_load("libsvm:" DPT_SOURCE_DIR "/tests/data/files/small.svm", 0, &ds),
                 DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n(ds), 3);
    cr_assert_eq(dpt_dataset_n_in(ds), 4); // the largest index
    cr_assert_eq(dpt_dataset_n_out(ds), 2);
    const float want[12] = {0.5f, 0, 1.5f, 0, 0, 2, 0, 0, -1, 0.25f, 0, 3};
    for (size_t i = 0; i < 12; i++)
        cr_assert_eq(dpt_dataset_x(ds)[i], want[i], "x[%zu] = %g", i, dpt_dataset_x(ds)[i]);
    // -1 -> class 0, +1 -> class 1.
    cr_assert_eq(dpt_dataset_labels(ds)[0], 1);
    cr_assert_eq(dpt_dataset_labels(ds)[1], 0);
    const int32_t *cl;
    size_t nc;
    cr_assert_eq(dpt_dataset_class_labels(ds, &cl, &nc), DPT_OK);
    cr_assert_eq(nc, 2);
    cr_assert_eq(cl[0], -1);
    cr_assert_eq(cl[1], 1);
    dpt_dataset_destroy(ds);
}

Test(data, libsvm_features_crlf_empty_rows_regression, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    struct dpt_dataset *ds = NULL;
    // CRLF, a sample with no features, tabs between entries, width forced to 6.
    cr_assert_eq(load_svm(p, "3 2:1\r\n1\r\n\r\n2\t1:4\t6:5 \r\n", ",features=6", &ds), DPT_OK,
                 "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n(ds), 3);
    cr_assert_eq(dpt_dataset_n_in(ds), 6);
    cr_assert_eq(dpt_dataset_x(ds)[1], 1.0f);
    for (size_t j = 0; j < 6; j++)
        cr_assert_eq(dpt_dataset_x(ds)[6 + j], 0.0f);
    cr_assert_eq(dpt_dataset_x(ds)[12], 4.0f);
    cr_assert_eq(dpt_dataset_x(ds)[17], 5.0f);
    cr_assert_eq(dpt_dataset_n_out(ds), 3); // labels {1, 2, 3}
    cr_assert_eq(dpt_dataset_labels(ds)[0], 2);
    dpt_dataset_destroy(ds);

    cr_assert_eq(load_svm(p, "0.5 1:1\n-2.25 2:1\n", ",target=regression", &ds), DPT_OK);
    cr_assert_eq(dpt_dataset_task(ds), DPT_TASK_REGRESS);
    cr_assert_eq(dpt_dataset_targets(ds)[1], -2.25f);
    dpt_dataset_destroy(ds);
}

Test(data, libsvm_malformed_entries, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    struct dpt_dataset *ds = NULL;
    struct {
        const char *text;
        const char *opts;
        const char *where;
        const char *what;
    } cases[] = {
        {"1 1:1\n0 3:1 2:1\n", "", "line 2, column 7", "indices must increase"},
        {"1 1:1 1:2\n", "", "line 1, column 7", "duplicate index 1"},
        {"1 0:1\n", "", "line 1, column 3", "index 0"},
        {"1 -2:1\n", "", "line 1, column 3", "negative index"},
        {"1 x:1\n", "", "line 1, column 3", "expected INDEX:VALUE"},
        {"1 2\n", "", "line 1, column 3", "expected INDEX:VALUE"},
        {"1 2:abc\n", "", "line 1, column 3", "bad value"},
        {"1 2:\n", "", "line 1, column 3", "bad value"},
        {"1 2: 3\n", "", "line 1, column 3", "bad value"},
        {"1 2:nan\n", "", "line 1, column 3", "non-finite"},
        {"1 2:1e-50\n", "", "line 1, column 3", "out-of-range"},
        {"abc 1:1\n", "", "line 1, column 1", "bad label"},
        {"1.5 1:1\n", "", "line 1, column 1", "not an integer"},
        {"1 5:1\n", ",features=4", "line 1, column 3", "exceeds features=4"},
        {"1 99999999999:1\n", "", "line 1, column 3", "too large"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ds = (struct dpt_dataset *)1;
        cr_assert_eq(load_svm(p, cases[c].text, cases[c].opts, &ds), DPT_ERR_FORMAT, "case %zu", c);
        cr_assert_null(ds);
        expect_msg(p, cases[c].where, cases[c].what);
    }
}

Test(data, libsvm_empty_and_featureless, .init = tmp_setup, .fini = tmp_teardown)
{
    char p[512];
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(load_svm(p, "", "", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "empty", NULL);
    cr_assert_eq(load_svm(p, "# only a comment\n\n", "", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "empty", NULL);
    // Labels but no features anywhere: the width must be given.
    cr_assert_eq(load_svm(p, "1\n0\n", "", &ds), DPT_ERR_FORMAT);
    expect_msg(p, "features=D", NULL);
    cr_assert_eq(load_svm(p, "1\n0\n", ",features=2", &ds), DPT_OK);
    cr_assert_eq(dpt_dataset_n_in(ds), 2);
    dpt_dataset_destroy(ds);
}
