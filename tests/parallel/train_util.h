// The training tests' shared set-up (test_trainer.c, test_bf16.c): a network and data set
// description, data loading (Fashion-MNIST parts skip the test where the data set is not
// installed) and network construction.
#ifndef DPT_TESTS_TRAIN_UTIL_H
#define DPT_TESTS_TRAIN_UTIL_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dptrain/dptrain.h"

struct setup {
    const char *data; // synth spec, or "fashion" for a Fashion-MNIST subset
    size_t sizes[5];
    size_t n_layers;
    enum dpt_act hidden;
    const char *schedule;
    size_t batch;
};

// Samples lo .. lo + n of Fashion-MNIST's training (test = 0) or test set (1).
static inline struct dpt_dataset *fashion_part(int test, size_t lo, size_t n)
{
    struct dpt_dataset *all = NULL, *sub = NULL;
    if (dpt_load_fashion_mnist(NULL, test, &all) != DPT_OK)
        cr_skip_test("Fashion-MNIST is not installed (scripts/setup.sh installs it)");
    size_t *idx = malloc(n * sizeof *idx);
    cr_assert(idx);
    for (size_t i = 0; i < n; i++)
        idx[i] = lo + i;
    cr_assert_eq(dpt_dataset_subset(all, idx, n, &sub), DPT_OK);
    free(idx);
    dpt_dataset_destroy(all);
    return sub;
}

// A setup's data: "fashion" is the first 2000 training samples of Fashion-MNIST.
static inline struct dpt_dataset *load(const char *spec)
{
    if (strcmp(spec, "fashion") == 0)
        return fashion_part(0, 0, 2000);
    struct dpt_dataset *ds;
    cr_assert_eq(dpt_data_load(spec, 0, &ds), DPT_OK, "%s", dpt_last_error());
    return ds;
}

// A setup's network (hidden activation, softmax output), initialised from seed.
static inline struct dpt_net *make_net(const struct setup *s, uint64_t seed)
{
    struct dpt_net_spec spec = dpt_net_spec_default();
    spec.n_layers = s->n_layers;
    for (size_t l = 0; l <= s->n_layers; l++)
        spec.sizes[l] = s->sizes[l];
    for (size_t l = 0; l < s->n_layers; l++)
        spec.act[l] = l + 1 == s->n_layers ? DPT_ACT_SOFTMAX : s->hidden;
    struct dpt_net *net;
    cr_assert_eq(dpt_net_create(&spec, &net), DPT_OK, "%s", dpt_last_error());
    dpt_net_init(net, DPT_INIT_AUTO, 0, seed);
    return net;
}

#endif
