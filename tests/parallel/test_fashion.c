// Learning checks on Fashion-MNIST (the workloads of docs/benchmarks.md): accuracy bars, not
// timings. Skipped when the data set is not installed (scripts/setup.sh installs it).
#include <criterion/criterion.h>
#include <math.h>

#include "dptrain/dptrain.h"

static double train_and_test(const size_t *sizes, size_t n_layers, const char *schedule,
                             size_t batch, size_t epochs)
{
    struct dpt_dataset *train = NULL, *test = NULL;
    if (dpt_load_fashion_mnist(NULL, 0, &train) != DPT_OK ||
        dpt_load_fashion_mnist(NULL, 1, &test) != DPT_OK)
        cr_skip_test("Fashion-MNIST is not installed: %s", dpt_last_error());
    struct dpt_net_spec spec = dpt_net_spec_default();
    spec.n_layers = n_layers;
    for (size_t l = 0; l <= n_layers; l++)
        spec.sizes[l] = sizes[l];
    for (size_t l = 0; l < n_layers; l++)
        spec.act[l] = l + 1 == n_layers ? DPT_ACT_SOFTMAX : DPT_ACT_RELU;
    spec.loss = DPT_LOSS_XENT;
    spec.reduction = DPT_REDUCTION_MEAN;
    struct dpt_net *net;
    cr_assert_eq(dpt_net_create(&spec, &net), DPT_OK);
    dpt_net_init(net, DPT_INIT_AUTO, 0, 1);
    struct dpt_schedule *sched;
    cr_assert_eq(dpt_schedule_parse(schedule, &sched), DPT_OK);
    struct dpt_train_params p = dpt_train_params_default();
    p.batch = batch;
    p.max_epochs = epochs;
    struct dpt_trainer *tr;
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_trainer_fit(tr, train, NULL, NULL, NULL), DPT_OK, "%s", dpt_last_error());
    double loss, acc;
    cr_assert_eq(dpt_trainer_evaluate(tr, test, &loss, &acc), DPT_OK);
    cr_assert(isfinite(loss));
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
    dpt_dataset_destroy(train);
    dpt_dataset_destroy(test);
    return acc;
}

// Workload S: 784-128-10, ReLU, softmax + cross-entropy, batch 32, plain SGD rate 0.05, mean
// reduction, 1 epoch.
Test(fashion, workload_s_one_epoch_reaches_80_percent)
{
    const size_t sizes[] = {784, 128, 10};
    const double acc = train_and_test(sizes, 2, "fixed:lr=0.05", 32, 1);
    cr_assert(acc >= 0.80, "test accuracy %.4f < 0.80", acc);
}

// 784-256-10 with Adam (rate 1e-3, batch 64), 5 epochs.
Test(fashion, adam_five_epochs_reaches_87_percent)
{
    const size_t sizes[] = {784, 256, 10};
    const double acc = train_and_test(sizes, 2, "adam:lr=1e-3", 64, 5);
    cr_assert(acc >= 0.87, "test accuracy %.4f < 0.87", acc);
}
