// The data set object: creation limits, accessors, targets view, subsets, splits, class mapping.
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "dptrain/dptrain.h"
#include "test_helpers.h"

Test(data, create_classification_is_zeroed_and_aligned)
{
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_dataset_create(DPT_TASK_CLASSIFY, 7, 3, 4, &ds), DPT_OK);
    cr_assert_eq(dpt_dataset_task(ds), DPT_TASK_CLASSIFY);
    cr_assert_eq(dpt_dataset_n(ds), 7);
    cr_assert_eq(dpt_dataset_n_in(ds), 3);
    cr_assert_eq(dpt_dataset_n_out(ds), 4);
    const float *x = dpt_dataset_x(ds);
    cr_assert_eq((uintptr_t)x % 64, 0);
    cr_assert_eq((uintptr_t)dpt_dataset_labels(ds) % 64, 0);
    for (size_t i = 0; i < 21; i++)
        cr_assert_eq(x[i], 0.0f);
    for (size_t i = 0; i < 7; i++)
        cr_assert_eq(dpt_dataset_labels(ds)[i], 0);
    cr_assert_null(dpt_dataset_targets(ds));
    struct dpt_targets t = dpt_dataset_targets_view(ds);
    cr_assert_eq(t.labels, dpt_dataset_labels(ds));
    cr_assert_null(t.values);
    cr_assert_geq(dpt_dataset_bytes(ds), 7 * 3 * sizeof(float) + 7 * sizeof(int32_t));
    cr_assert_eq(dpt_dataset_x_mut(ds), x);
    dpt_dataset_destroy(ds);
}

Test(data, create_regression_has_targets)
{
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_dataset_create(DPT_TASK_REGRESS, 5, 2, 3, &ds), DPT_OK);
    cr_assert_null(dpt_dataset_labels(ds));
    cr_assert_not_null(dpt_dataset_targets(ds));
    cr_assert_eq((uintptr_t)dpt_dataset_targets(ds) % 64, 0);
    struct dpt_targets t = dpt_dataset_targets_view(ds);
    cr_assert_null(t.labels);
    cr_assert_eq(t.values, dpt_dataset_targets(ds));
    dpt_dataset_targets_mut(ds)[14] = 2.5f;
    cr_assert_eq(dpt_dataset_targets(ds)[14], 2.5f);
    const int32_t *cl;
    size_t nc;
    cr_assert_eq(dpt_dataset_class_labels(ds, &cl, &nc), DPT_ERR_INVALID);
    dpt_dataset_destroy(ds);
}

Test(data, create_refuses_bad_sizes_before_allocating)
{
    struct dpt_dataset *ds = (struct dpt_dataset *)1;
    cr_assert_eq(dpt_dataset_create(DPT_TASK_CLASSIFY, 10, 0, 2, &ds), DPT_ERR_INVALID);
    cr_assert_null(ds);
    cr_assert_eq(dpt_dataset_create(DPT_TASK_CLASSIFY, 10, 3, 0, &ds), DPT_ERR_INVALID);
    cr_assert_eq(dpt_dataset_create((enum dpt_task)7, 10, 3, 2, &ds), DPT_ERR_INVALID);
    // n * n_in overflows size_t.
    cr_assert_eq(dpt_dataset_create(DPT_TASK_CLASSIFY, SIZE_MAX / 2, 3, 2, &ds), DPT_ERR_RANGE);
    cr_assert_null(ds);
    cr_assert_not_null(strstr(dpt_last_error(), "overflow"), "%s", dpt_last_error());
    // n * n_in * 4 overflows although n * n_in does not.
    cr_assert_eq(dpt_dataset_create(DPT_TASK_CLASSIFY, SIZE_MAX / 8, 2, 2, &ds), DPT_ERR_RANGE);
    // Representable but above DPT_DATA_MAX_BYTES: refused without trying to allocate it.
    cr_assert_eq(dpt_dataset_create(DPT_TASK_REGRESS, (size_t)1 << 30, 256, 1, &ds), DPT_ERR_RANGE);
    cr_assert_not_null(strstr(dpt_last_error(), "limit"), "%s", dpt_last_error());
    // The target block counts too.
    cr_assert_eq(dpt_dataset_create(DPT_TASK_REGRESS, (size_t)1 << 20, 1, (size_t)1 << 20, &ds),
                 DPT_ERR_RANGE);
    cr_assert_null(ds);
    // Below the limit but above this machine's memory (phys bytes / 4 floats of 1 input, twice):
    // refused before allocating, naming the memory.
    const double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    const size_t n_big = (size_t)(phys / 4.0 * 2.0);
    if ((double)n_big * 8.0 < (double)DPT_DATA_MAX_BYTES) {
        cr_assert_eq(dpt_dataset_create(DPT_TASK_REGRESS, n_big, 1, 1, &ds), DPT_ERR_RANGE);
        cr_assert_not_null(strstr(dpt_last_error(), "GiB of memory"), "%s", dpt_last_error());
        cr_assert_null(ds);
    }
    dpt_dataset_destroy(NULL);
}

// A classification set with x[i] = {i, 10 i} and label i % 3.
static struct dpt_dataset *make_seq(size_t n)
{
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_dataset_create(DPT_TASK_CLASSIFY, n, 2, 3, &ds), DPT_OK);
    for (size_t i = 0; i < n; i++) {
        dpt_dataset_x_mut(ds)[2 * i] = (float)i;
        dpt_dataset_x_mut(ds)[2 * i + 1] = 10.0f * (float)i;
        dpt_dataset_labels_mut(ds)[i] = (int32_t)(i % 3);
    }
    return ds;
}

Test(data, subset_copies_the_chosen_rows)
{
    struct dpt_dataset *ds = make_seq(10), *sub = NULL;
    size_t idx[4] = {9, 0, 4, 4};
    cr_assert_eq(dpt_dataset_subset(ds, idx, 4, &sub), DPT_OK);
    cr_assert_eq(dpt_dataset_n(sub), 4);
    cr_assert_eq(dpt_dataset_n_out(sub), 3);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(dpt_dataset_x(sub)[2 * i], (float)idx[i]);
        cr_assert_eq(dpt_dataset_x(sub)[2 * i + 1], 10.0f * (float)idx[i]);
        cr_assert_eq(dpt_dataset_labels(sub)[i], (int32_t)(idx[i] % 3));
    }
    // A copy: changing the subset leaves the original alone.
    dpt_dataset_x_mut(sub)[0] = -1.0f;
    cr_assert_eq(dpt_dataset_x(ds)[18], 9.0f);
    dpt_dataset_destroy(sub);

    size_t bad[2] = {1, 10};
    cr_assert_eq(dpt_dataset_subset(ds, bad, 2, &sub), DPT_ERR_INVALID);
    cr_assert_null(sub);
    cr_assert_not_null(strstr(dpt_last_error(), "idx[1] = 10"), "%s", dpt_last_error());
    dpt_dataset_destroy(ds);
}

Test(data, split_sizes_disjoint_and_deterministic)
{
    const size_t n = 101;
    struct dpt_dataset *ds = make_seq(n), *tr = NULL, *va = NULL, *tr2 = NULL, *va2 = NULL;
    cr_assert_eq(dpt_dataset_split(ds, 0.2, 42, &tr, &va), DPT_OK);
    cr_assert_eq(dpt_dataset_n(va), 20); // round(0.2 * 101) = 20
    cr_assert_eq(dpt_dataset_n(tr), 81);
    // Disjoint and complete: every original sample (identified by x0 = i) appears exactly once.
    int seen[101] = {0};
    for (size_t i = 0; i < dpt_dataset_n(tr); i++)
        seen[(size_t)dpt_dataset_x(tr)[2 * i]]++;
    for (size_t i = 0; i < dpt_dataset_n(va); i++)
        seen[(size_t)dpt_dataset_x(va)[2 * i]]++;
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(seen[i], 1, "sample %zu seen %d times", i, seen[i]);
    // Rows stay intact (x1 = 10 x0, label = x0 % 3).
    for (size_t i = 0; i < dpt_dataset_n(va); i++) {
        float x0 = dpt_dataset_x(va)[2 * i];
        cr_assert_eq(dpt_dataset_x(va)[2 * i + 1], 10.0f * x0);
        cr_assert_eq(dpt_dataset_labels(va)[i], (int32_t)((size_t)x0 % 3));
    }
    // Same seed: identical split; another seed: a different one.
    cr_assert_eq(dpt_dataset_split(ds, 0.2, 42, &tr2, &va2), DPT_OK);
    cr_assert_eq(memcmp(dpt_dataset_x(va), dpt_dataset_x(va2), 20 * 2 * sizeof(float)), 0);
    dpt_dataset_destroy(tr2);
    dpt_dataset_destroy(va2);
    cr_assert_eq(dpt_dataset_split(ds, 0.2, 43, &tr2, &va2), DPT_OK);
    cr_assert_neq(memcmp(dpt_dataset_x(va), dpt_dataset_x(va2), 20 * 2 * sizeof(float)), 0);
    dpt_dataset_destroy(tr2);
    dpt_dataset_destroy(va2);
    dpt_dataset_destroy(tr);
    dpt_dataset_destroy(va);
    dpt_dataset_destroy(ds);
}

Test(data, split_clamps_and_rejects)
{
    struct dpt_dataset *ds = make_seq(3), *tr = NULL, *va = NULL;
    // 0.01 * 3 rounds to 0: at least one validation sample.
    cr_assert_eq(dpt_dataset_split(ds, 0.01, 1, &tr, &va), DPT_OK);
    cr_assert_eq(dpt_dataset_n(va), 1);
    cr_assert_eq(dpt_dataset_n(tr), 2);
    dpt_dataset_destroy(tr);
    dpt_dataset_destroy(va);
    // 0.99 * 3 rounds to 3: at least one training sample.
    cr_assert_eq(dpt_dataset_split(ds, 0.99, 1, &tr, &va), DPT_OK);
    cr_assert_eq(dpt_dataset_n(va), 2);
    cr_assert_eq(dpt_dataset_n(tr), 1);
    dpt_dataset_destroy(tr);
    dpt_dataset_destroy(va);
    cr_assert_eq(dpt_dataset_split(ds, 0.0, 1, &tr, &va), DPT_ERR_INVALID);
    cr_assert_eq(dpt_dataset_split(ds, 1.0, 1, &tr, &va), DPT_ERR_INVALID);
    cr_assert_eq(dpt_dataset_split(ds, 0.0 / 0.0, 1, &tr, &va), DPT_ERR_INVALID);
    cr_assert_null(tr);
    cr_assert_null(va);
    dpt_dataset_destroy(ds);
    ds = make_seq(1);
    cr_assert_eq(dpt_dataset_split(ds, 0.5, 1, &tr, &va), DPT_ERR_INVALID);
    dpt_dataset_destroy(ds);
}

Test(data, class_labels_identity_is_null)
{
    struct dpt_dataset *ds = make_seq(4);
    const int32_t *cl = (const int32_t *)1;
    size_t nc = 0;
    cr_assert_eq(dpt_dataset_class_labels(ds, &cl, &nc), DPT_OK);
    cr_assert_null(cl);
    cr_assert_eq(nc, 3);
    dpt_dataset_destroy(ds);
}

Test(data, match_classes_renumbers_by_label_value, .init = tmp_setup, .fini = tmp_teardown)
{
    // Training labels {-1, 3, 7}; test labels {3, 7} only: loaded alone, the test set numbers its
    // classes 3 -> 0, 7 -> 1; matched, it must use the training numbering 3 -> 1, 7 -> 2.
    char p1[512], p2[512], spec[600];
    struct dpt_dataset *train = NULL, *test = NULL;
    snprintf(spec, sizeof spec, "csv:%s", write_text(p1, "train.csv", "-1,0.5\n3,1.5\n7,2.5\n"));
    cr_assert_eq(dpt_data_load(spec, 0, &train), DPT_OK, "%s", dpt_last_error());
    snprintf(spec, sizeof spec, "csv:%s", write_text(p2, "test.csv", "7,0.5\n3,1.5\n7,2.5\n"));
    cr_assert_eq(dpt_data_load(spec, 0, &test), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n_out(test), 2);
    cr_assert_eq(dpt_dataset_labels(test)[0], 1);
    cr_assert_eq(dpt_dataset_match_classes(test, train), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n_out(test), 3);
    cr_assert_eq(dpt_dataset_labels(test)[0], 2);
    cr_assert_eq(dpt_dataset_labels(test)[1], 1);
    cr_assert_eq(dpt_dataset_labels(test)[2], 2);
    const int32_t *cl;
    size_t nc;
    cr_assert_eq(dpt_dataset_class_labels(test, &cl, &nc), DPT_OK);
    cr_assert_eq(nc, 3);
    cr_assert_eq(cl[0], -1);
    cr_assert_eq(cl[1], 3);
    cr_assert_eq(cl[2], 7);

    // A label the reference lacks: an identity-mapped set holding label 5.
    struct dpt_dataset *odd = NULL;
    cr_assert_eq(dpt_dataset_create(DPT_TASK_CLASSIFY, 1, 1, 6, &odd), DPT_OK);
    dpt_dataset_labels_mut(odd)[0] = 5;
    cr_assert_eq(dpt_dataset_match_classes(odd, train), DPT_ERR_FORMAT);
    cr_assert_not_null(strstr(dpt_last_error(), "label 5"), "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_labels(odd)[0], 5); // unchanged on error
    cr_assert_eq(dpt_dataset_n_out(odd), 6);
    // Identity onto identity: labels within the reference's range keep their numbers.
    struct dpt_dataset *ref = NULL;
    cr_assert_eq(dpt_dataset_create(DPT_TASK_CLASSIFY, 1, 1, 10, &ref), DPT_OK);
    cr_assert_eq(dpt_dataset_match_classes(odd, ref), DPT_OK);
    cr_assert_eq(dpt_dataset_labels(odd)[0], 5);
    cr_assert_eq(dpt_dataset_n_out(odd), 10);
    dpt_dataset_destroy(ref);
    dpt_dataset_destroy(odd);
    dpt_dataset_destroy(train);
    dpt_dataset_destroy(test);
}
