// Training with bf16 products (train_params.precision = DPT_PRECISION_BF16): the loss curve
// follows fp32's within a stated band and reaches the same accuracy; the reproducibility
// guarantees hold within the precision (same seed and T: bitwise; --reproducible: bitwise for
// every T and engine); every gradient mode and path computes the same step; where the CPU cannot
// run bf16, the trainer refuses it with a status and one line.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/gemm_bf16.h"
#include "core/gemm_impl.h"
#include "dptrain/dptrain.h"
#include "train_util.h"

static void need_bf16(void)
{
    if (!dpt_bf16_supported())
        cr_skip_test("no bf16 products here: %s", dpt_precision_check(DPT_PRECISION_BF16));
}

#define MAX_EPOCHS 8

struct result {
    float *params;
    size_t n_params;
    struct dpt_epoch_stats last;
    double loss[MAX_EPOCHS + 1]; // training loss of each epoch (1-based)
    double test_acc[MAX_EPOCHS + 1];
};

static int record(const struct dpt_epoch_stats *st, void *user)
{
    struct result *r = user;
    if (st->epoch <= MAX_EPOCHS) {
        r->loss[st->epoch] = st->train_loss;
        r->test_acc[st->epoch] = st->test_acc;
    }
    return 0;
}

struct run {
    size_t threads;
    enum dpt_engine engine;
    bool reproducible;
    enum dpt_grad_mode grad;
    enum dpt_precision precision;
    size_t epochs;
};

static struct result train(const struct setup *s, struct dpt_dataset *ds, struct dpt_dataset *test,
                           const struct run *rn)
{
    struct dpt_net *net = make_net(s, 11);
    struct dpt_schedule *sched;
    cr_assert_eq(dpt_schedule_parse(s->schedule, &sched), DPT_OK, "%s", dpt_last_error());
    struct dpt_train_params p = dpt_train_params_default();
    p.batch = s->batch;
    p.max_epochs = rn->epochs;
    p.threads = rn->threads;
    p.engine = rn->engine;
    p.reproducible = rn->reproducible;
    p.grad_mode = rn->grad;
    p.precision = rn->precision;
    p.seed = 3;
    struct result r;
    memset(&r, 0, sizeof r);
    p.on_epoch = record;
    p.user = &r;
    struct dpt_trainer *tr;
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_trainer_precision(tr), rn->precision);
    cr_assert_eq(dpt_trainer_fit(tr, ds, NULL, test, &r.last), DPT_OK, "%s", dpt_last_error());
    r.n_params = dpt_net_n_params(net);
    r.params = malloc(r.n_params * sizeof(float));
    memcpy(r.params, dpt_net_params(net), r.n_params * sizeof(float));
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
    return r;
}

// ||a - b|| / ||b - p0||: the difference of two runs against how far training moved the
// parameters from their initial values p0.
static double rel_diff(const struct result *a, const struct result *b, const float *p0)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < a->n_params; i++) {
        const double d = (double)a->params[i] - b->params[i], m = (double)b->params[i] - p0[i];
        num += d * d;
        den += m * m;
    }
    return sqrt(num / den);
}

// The loss curve. 6000 Fashion-MNIST samples, 784-256-128-10 (every product but the output
// layer's takes the packed path, as in workloads M and L), plain SGD at 0.05, batch 64, 8 epochs,
// 2 threads: bf16 and fp32 from the same initial weights and batches.
// Band: each epoch's mean training loss within 3% of fp32's. Rounding the operands to bf16
// perturbs each product by up to 2^-7 of its magnitudes (fp_bound.h), a perturbation of the
// gradient of the same order and of random sign from step to step; SGD averages it out, so the
// curves should differ by far less than the loss moves between epochs (10-30% here early, 3-5%
// late) and than fp32's own spread over seeds. Measured when written: at most 0.4% (epoch by
// epoch), so 3% leaves room for other CPUs and compilers while a wrong delta, scale or product
// (a dropped term, operands paired wrongly) changes the curve by far more, and a diverging run
// fails at once. The test accuracy on 2000 held-out samples after the last epoch: within 1.5
// points of fp32's (one sample is 0.05 points; the seed-to-seed spread of this setup is about 1
// point).
Test(bf16, loss_curve_stays_within_3_percent_of_fp32)
{
    need_bf16();
    struct dpt_dataset *ds = fashion_part(0, 0, 6000);
    struct dpt_dataset *test = fashion_part(1, 0, 2000);
    const struct setup s = {"", {784, 256, 128, 10}, 3, DPT_ACT_RELU, "fixed:lr=0.05", 64};
    struct run rn = {.threads = 2, .epochs = MAX_EPOCHS};
    const struct result a = train(&s, ds, test, &rn);
    rn.precision = DPT_PRECISION_BF16;
    const struct result b = train(&s, ds, test, &rn);
    double worst = 0;
    for (size_t e = 1; e <= MAX_EPOCHS; e++) {
        const double rel = fabs(b.loss[e] - a.loss[e]) / a.loss[e];
        worst = fmax(worst, rel);
        cr_assert(rel <= 0.03, "epoch %zu: training loss %.6f in bf16, %.6f in fp32 (%.2f%%)", e,
                  b.loss[e], a.loss[e], 100 * rel);
    }
    cr_assert(a.loss[MAX_EPOCHS] < 0.8 * a.loss[1], "fp32 learns: %g -> %g", a.loss[1],
              a.loss[MAX_EPOCHS]);
    cr_assert(fabs(b.test_acc[MAX_EPOCHS] - a.test_acc[MAX_EPOCHS]) <= 0.015,
              "test accuracy %.4f in bf16, %.4f in fp32", b.test_acc[MAX_EPOCHS],
              a.test_acc[MAX_EPOCHS]);
    // bf16 really ran: the parameters are not fp32's.
    cr_assert_neq(memcmp(a.params, b.params, a.n_params * sizeof(float)), 0);
    cr_log_info("worst epoch: %.3f%% apart", 100 * worst);
    free(a.params);
    free(b.params);
    dpt_dataset_destroy(ds);
    dpt_dataset_destroy(test);
}

static const struct setup spirals = {
    "synth:spirals,n=600,seed=5", {2, 64, 64, 2}, 3, DPT_ACT_RELU, "adam:lr=0.01", 16};
static const struct setup fashion = {"fashion", {784, 64, 10}, 2, DPT_ACT_RELU, "fixed:lr=0.1", 32};

// Same seed, same T, same precision: bitwise identical parameters and losses, in every gradient
// mode and with both engines (sliced mode at T >= 2 on the pthreads engine is the dynamic step,
// whose items may run on any thread).
Test(bf16, same_seed_same_threads_is_bitwise_identical)
{
    need_bf16();
    const struct setup *setups[] = {&spirals, &fashion};
    for (size_t k = 0; k < 2; k++) {
        struct dpt_dataset *ds = load(setups[k]->data);
        for (size_t T = 1; T <= 3; T++)
            for (int g = DPT_GRAD_PRIVATE; g <= DPT_GRAD_SLICED; g++)
                for (int e = 0; e < 2; e++) {
                    const struct run rn = {
                        T, (enum dpt_engine)e, false, (enum dpt_grad_mode)g, DPT_PRECISION_BF16, 2};
                    struct result a = train(setups[k], ds, NULL, &rn);
                    struct result b = train(setups[k], ds, NULL, &rn);
                    cr_assert_eq(memcmp(a.params, b.params, a.n_params * sizeof(float)), 0,
                                 "%s T=%zu %s %s", setups[k]->data, T,
                                 dpt_grad_mode_name((enum dpt_grad_mode)g),
                                 dpt_engine_name((enum dpt_engine)e));
                    cr_assert_eq(memcmp(&a.last.train_loss, &b.last.train_loss, sizeof(double)), 0);
                    free(a.params);
                    free(b.params);
                }
        dpt_dataset_destroy(ds);
    }
}

// --reproducible in bf16: bitwise identical parameters and losses for every thread count and
// both engines (the micro-shards' products have the same shapes whatever T is, and the bf16
// kernel's result depends on nothing else).
Test(bf16, reproducible_mode_is_bitwise_identical_for_every_thread_count)
{
    need_bf16();
    const struct setup *setups[] = {&spirals, &fashion};
    static const size_t ts[] = {1, 2, 3, 4, 7};
    for (size_t k = 0; k < 2; k++) {
        struct dpt_dataset *ds = load(setups[k]->data);
        struct run rn = {1, DPT_ENGINE_PTHREADS, true, DPT_GRAD_AUTO, DPT_PRECISION_BF16, 2};
        struct result ref = train(setups[k], ds, NULL, &rn);
        for (int e = 0; e < 2; e++)
            for (size_t t = 0; t < sizeof ts / sizeof ts[0]; t++) {
                if (e == 0 && t == 0)
                    continue;
                rn.threads = ts[t];
                rn.engine = (enum dpt_engine)e;
                struct result r = train(setups[k], ds, NULL, &rn);
                cr_assert_eq(memcmp(r.params, ref.params, ref.n_params * sizeof(float)), 0,
                             "%s, %s, T=%zu: parameters differ", setups[k]->data,
                             dpt_engine_name((enum dpt_engine)e), ts[t]);
                cr_assert_eq(memcmp(&r.last.train_loss, &ref.last.train_loss, sizeof(double)), 0);
                free(r.params);
            }
        free(ref.params);
        dpt_dataset_destroy(ds);
    }
}

// Every path of a bf16 step computes the same step: private mode at T = 1 against sliced mode
// at T = 1, 2, 3, 7 (the dynamic step; a 200-wide first layer split by rows and pipelined, its
// inputs read in place through row pointers at batch 64 or copied at batch 10), with a fused
// SGD step and with Adam. Differences are measured against how far training moved the
// parameters (rel_diff). Rounding an operand to bf16 depends only on its value, so the paths
// can differ only in the order of the fp32 additions, a few float roundings per step (and the
// bf16 kernel's order depends only on k, so here they do not differ at all: measured 0).
// Bound: 5e-5 of the displacement. The gap between bf16 and fp32 itself is 5.7e-4 to 1.2e-2 of
// it in these runs (checked: at least 2e-4), so a path that left its products in fp32, or
// rounded anything else, would not pass.
Test(bf16, every_gradient_mode_computes_the_same_step)
{
    need_bf16();
    struct dpt_dataset *ds = load("synth:blobs,n=203,classes=3,seed=2");
    static const char *const scheds[] = {"fixed:lr=0.05", "adam:lr=0.01"};
    static const size_t batches[] = {10, 64};
    static const size_t ts[] = {1, 2, 3, 7};
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < 2; i++) {
            const struct setup s = {"", {2, 200, 21, 3}, 3, DPT_ACT_TANH, scheds[k], batches[i]};
            struct run rn = {1, DPT_ENGINE_PTHREADS, false, DPT_GRAD_PRIVATE, DPT_PRECISION_BF16,
                             2};
            struct result ref = train(&s, ds, NULL, &rn);
            struct dpt_net *init = make_net(&s, 11);
            const float *p0 = dpt_net_params_const(init);
            rn.precision = DPT_PRECISION_FP32;
            struct result r32 = train(&s, ds, NULL, &rn);
            cr_assert(rel_diff(&r32, &ref, p0) >= 2e-4, "%s batch %zu: bf16 vs fp32 %g", scheds[k],
                      batches[i], rel_diff(&r32, &ref, p0));
            free(r32.params);
            rn.precision = DPT_PRECISION_BF16;
            rn.grad = DPT_GRAD_SLICED;
            for (size_t t = 0; t < sizeof ts / sizeof ts[0]; t++) {
                rn.threads = ts[t];
                struct result r = train(&s, ds, NULL, &rn);
                const double d = rel_diff(&r, &ref, p0);
                cr_assert(d <= 5e-5, "%s, batch %zu, T=%zu: relative difference %g", scheds[k],
                          batches[i], ts[t], d);
                free(r.params);
            }
            dpt_net_destroy(init);
            free(ref.params);
        }
    dpt_dataset_destroy(ds);
}

// Where bf16 cannot run (here: a lower kernel level forced, as DPT_ISA does; on a CPU without
// AVX512_BF16 the same path), the trainer refuses it before starting a thread; an invalid value
// is refused too.
Test(bf16, the_trainer_refuses_bf16_where_it_cannot_run)
{
    const struct setup s = {"", {2, 8, 2}, 2, DPT_ACT_TANH, "sgd", 4};
    struct dpt_net *net = make_net(&s, 1);
    struct dpt_schedule *sched;
    cr_assert_eq(dpt_schedule_parse(s.schedule, &sched), DPT_OK);
    struct dpt_train_params p = dpt_train_params_default();
    p.precision = (enum dpt_precision)7;
    struct dpt_trainer *tr = NULL;
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "precision"), "%s", dpt_last_error());
    p.precision = DPT_PRECISION_BF16;
    if (dpt_bf16_supported()) {
        cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK, "%s", dpt_last_error());
        dpt_trainer_destroy(tr);
        tr = NULL;
        cr_assert(dpt_isa_force(DPT_ISA_AVX2));
    }
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_ERR_UNSUPPORTED);
    cr_assert_null(tr);
    cr_assert(strstr(dpt_last_error(), "precision: bf16 needs"), "%s", dpt_last_error());
    cr_assert_null(strchr(dpt_last_error(), '\n'), "one line");
    dpt_isa_reset();
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
}
