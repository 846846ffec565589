// Normalisation: fitted statistics against hand-computed values, application, constant
// features, width checks.
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "dptrain/dptrain.h"

// Four samples of three features: a varying one, a constant one, and the first plus 999 (a
// large offset with the same spread).
static struct dpt_dataset *make_data(void)
{
    const float x[12] = {1, 5, 1000, 2, 5, 1001, 3, 5, 1002, 6, 5, 1005};
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_dataset_create(DPT_TASK_REGRESS, 4, 3, 1, &ds), DPT_OK);
    memcpy(dpt_dataset_x_mut(ds), x, sizeof x);
    return ds;
}

// Relative closeness for float results of double-precision statistics: a few float roundings.
static int rel_close(double a, double b)
{
    return fabs(a - b) <= 1e-6 * fmax(1.0, fabs(b));
}

Test(data, norm_minmax)
{
    struct dpt_dataset *ds = make_data();
    struct dpt_norm_stats st;
    cr_assert_eq(dpt_norm_fit(ds, DPT_NORM_MINMAX, &st), DPT_OK);
    cr_assert_eq(st.kind, DPT_NORM_MINMAX);
    cr_assert_eq(st.n_in, 3);
    cr_assert_eq(st.shift[0], 1.0f);
    cr_assert(rel_close(st.scale[0], 1.0 / 5.0));
    cr_assert_eq(st.scale[1], 0.0f); // constant feature
    cr_assert_eq(st.shift[2], 1000.0f);
    cr_assert(rel_close(st.scale[2], 1.0 / 5.0));
    cr_assert_eq(dpt_norm_apply(&st, ds), DPT_OK);
    const float *x = dpt_dataset_x(ds);
    const double want[12] = {0, 0, 0, 0.2, 0, 0.2, 0.4, 0, 0.4, 1, 0, 1};
    for (size_t i = 0; i < 12; i++)
        cr_assert(rel_close(x[i], want[i]), "x[%zu] = %.9g, want %.9g", i, x[i], want[i]);
    dpt_norm_cleanup(&st);
    cr_assert_null(st.shift);
    cr_assert_null(st.scale);
    dpt_norm_cleanup(&st); // twice is harmless
    dpt_norm_cleanup(NULL);
    dpt_dataset_destroy(ds);
}

Test(data, norm_standard)
{
    struct dpt_dataset *ds = make_data();
    struct dpt_norm_stats st;
    cr_assert_eq(dpt_norm_fit(ds, DPT_NORM_STANDARD, &st), DPT_OK);
    // Feature 0: mean 3, population variance (4 + 1 + 0 + 9) / 4 = 3.5.
    cr_assert_eq(st.shift[0], 3.0f);
    cr_assert(rel_close(st.scale[0], 1.0 / sqrt(3.5)));
    cr_assert_eq(st.shift[1], 5.0f);
    cr_assert_eq(st.scale[1], 0.0f);
    // Feature 2 is feature 0 shifted by 999: same spread (two-pass, no cancellation).
    cr_assert_eq(st.shift[2], 1002.0f);
    cr_assert(rel_close(st.scale[2], 1.0 / sqrt(3.5)));
    cr_assert_eq(dpt_norm_apply(&st, ds), DPT_OK);
    // After the transform: mean 0, variance 1 for varying features; 0 for the constant one.
    for (size_t j = 0; j < 3; j++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < 4; i++)
            m += dpt_dataset_x(ds)[3 * i + j] / 4.0;
        for (size_t i = 0; i < 4; i++)
            v += pow(dpt_dataset_x(ds)[3 * i + j] - m, 2) / 4.0;
        cr_assert(fabs(m) < 1e-6, "feature %zu mean %g", j, m);
        cr_assert(rel_close(v, j == 1 ? 0.0 : 1.0), "feature %zu variance %g", j, v);
    }
    dpt_norm_cleanup(&st);
    dpt_dataset_destroy(ds);
}

Test(data, norm_none_and_errors)
{
    struct dpt_dataset *ds = make_data(), *narrow = NULL;
    struct dpt_norm_stats st;
    cr_assert_eq(dpt_norm_fit(ds, DPT_NORM_NONE, &st), DPT_OK);
    cr_assert_eq(st.kind, DPT_NORM_NONE);
    cr_assert_eq(dpt_norm_apply(&st, ds), DPT_OK);
    cr_assert_eq(dpt_dataset_x(ds)[2], 1000.0f); // untouched
    dpt_norm_cleanup(&st);

    cr_assert_eq(dpt_norm_fit(ds, DPT_NORM_STANDARD, &st), DPT_OK);
    cr_assert_eq(dpt_dataset_create(DPT_TASK_REGRESS, 2, 2, 1, &narrow), DPT_OK);
    cr_assert_eq(dpt_norm_apply(&st, narrow), DPT_ERR_INVALID);
    cr_assert_not_null(strstr(dpt_last_error(), "3 features"), "%s", dpt_last_error());
    dpt_norm_cleanup(&st);
    cr_assert_eq(dpt_norm_fit(ds, (enum dpt_norm)9, &st), DPT_ERR_INVALID);
    dpt_dataset_destroy(narrow);

    struct dpt_dataset *empty = NULL;
    cr_assert_eq(dpt_dataset_create(DPT_TASK_REGRESS, 0, 2, 1, &empty), DPT_OK);
    cr_assert_eq(dpt_norm_fit(empty, DPT_NORM_MINMAX, &st), DPT_ERR_INVALID);
    cr_assert_null(st.shift);
    dpt_dataset_destroy(empty);
    dpt_dataset_destroy(ds);
}

Test(data, norm_fitted_on_train_applies_to_test)
{
    // Statistics from one set transform another with the same formula (no refit).
    struct dpt_dataset *train = make_data(), *test = NULL;
    cr_assert_eq(dpt_dataset_create(DPT_TASK_REGRESS, 1, 3, 1, &test), DPT_OK);
    const float t[3] = {11, 7, 995};
    memcpy(dpt_dataset_x_mut(test), t, sizeof t);
    struct dpt_norm_stats st;
    cr_assert_eq(dpt_norm_fit(train, DPT_NORM_MINMAX, &st), DPT_OK);
    cr_assert_eq(dpt_norm_apply(&st, test), DPT_OK);
    cr_assert(rel_close(dpt_dataset_x(test)[0], 2.0)); // (11 - 1) / 5: outside [0, 1] is fine
    cr_assert_eq(dpt_dataset_x(test)[1], 0.0f);        // constant in training: always 0
    cr_assert(rel_close(dpt_dataset_x(test)[2], -1.0));
    dpt_norm_cleanup(&st);
    dpt_dataset_destroy(train);
    dpt_dataset_destroy(test);
}
