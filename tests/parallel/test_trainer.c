// The data-parallel trainer: learning at every thread count, agreement with T = 1, bitwise
// reproducibility, shard edge cases, stopping rules and evaluation.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error_impl.h"
#include "core/gemm_impl.h"
#include "dptrain/dptrain.h"
#include "fp_bound.h"
#include "core/net_impl.h"
#include "parallel/trainer_impl.h"
#include "train_util.h"

static const size_t thread_counts[] = {1, 2, 3, 4, 7}; // 7 > the 2 cores of the CI machine

struct result {
    float *params;
    size_t n_params;
    struct dpt_epoch_stats last;
    double eval_loss, eval_acc;
};

static struct result train_mode(const struct setup *s, struct dpt_dataset *ds, size_t threads,
                                enum dpt_engine engine, bool reproducible, size_t epochs,
                                enum dpt_grad_mode grad)
{
    struct dpt_net *net = make_net(s, 11);
    struct dpt_schedule *sched;
    cr_assert_eq(dpt_schedule_parse(s->schedule, &sched), DPT_OK, "%s", dpt_last_error());
    struct dpt_train_params p = dpt_train_params_default();
    p.batch = s->batch;
    p.max_epochs = epochs;
    p.threads = threads;
    p.engine = engine;
    p.reproducible = reproducible;
    p.grad_mode = grad;
    p.seed = 3;
    struct dpt_trainer *tr;
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_trainer_threads(tr), threads);
    struct result r;
    cr_assert_eq(dpt_trainer_fit(tr, ds, NULL, NULL, &r.last), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_trainer_evaluate(tr, ds, &r.eval_loss, &r.eval_acc), DPT_OK);
    r.n_params = dpt_net_n_params(net);
    r.params = malloc(r.n_params * sizeof(float));
    memcpy(r.params, dpt_net_params(net), r.n_params * sizeof(float));
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
    return r;
}

static struct result train(const struct setup *s, struct dpt_dataset *ds, size_t threads,
                           enum dpt_engine engine, bool reproducible, size_t epochs)
{
    return train_mode(s, ds, threads, engine, reproducible, epochs, DPT_GRAD_AUTO);
}

// ||a - b|| / ||b||
static double rel_diff(const struct result *a, const struct result *b)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < a->n_params; i++) {
        const double d = (double)a->params[i] - b->params[i];
        num += d * d;
        den += (double)b->params[i] * b->params[i];
    }
    return sqrt(num / den);
}

// A sliced-mode trainer for setup s at T threads (seed 3, `epochs` epochs), with its network and
// schedule in *net and *sched; keep() ends it.
static struct dpt_trainer *sliced_trainer(const struct setup *s, size_t T, size_t epochs,
                                          struct dpt_net **net, struct dpt_schedule **sched)
{
    *net = make_net(s, 11);
    cr_assert_eq(dpt_schedule_parse(s->schedule, sched), DPT_OK);
    struct dpt_train_params p = dpt_train_params_default();
    p.batch = s->batch;
    p.max_epochs = epochs;
    p.threads = T;
    p.grad_mode = DPT_GRAD_SLICED;
    p.seed = 3;
    struct dpt_trainer *tr;
    cr_assert_eq(dpt_trainer_create(*net, *sched, &p, &tr), DPT_OK, "%s", dpt_last_error());
    return tr;
}

// Copies net's parameters into r, then destroys the trainer, the schedule and the network.
static void keep(struct result *r, struct dpt_trainer *tr, struct dpt_schedule *sched,
                 struct dpt_net *net)
{
    r->n_params = dpt_net_n_params(net);
    r->params = malloc(r->n_params * sizeof(float));
    cr_assert(r->params);
    memcpy(r->params, dpt_net_params(net), r->n_params * sizeof(float));
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
}

static const struct setup xor_setup = {
    // Points come arbitrarily close to the axes, so the rate decays to zero (cosine over the
    // 2500 steps of 100 epochs) to settle the boundary exactly.
    "synth:xor,n=400,seed=5", {2, 64, 64, 2}, 3, DPT_ACT_RELU, "cosine(adam:lr=0.01),t=2500", 16};
static const struct setup spirals_setup = {
    "synth:spirals,n=600,seed=5", {2, 64, 64, 2}, 3, DPT_ACT_RELU, "adam:lr=0.01", 16};
static const struct setup fashion_setup = {"fashion",    {784, 64, 10},  2,
                                           DPT_ACT_RELU, "fixed:lr=0.1", 32};

// Trains at every thread count; each reaches the accuracy bar. Separately, after a short run
// (`agree_epochs`, a few dozen steps) the parameters agree with T = 1. Tolerance: the only
// difference between thread counts is the order of float additions in the reduction (shards
// summed separately, then combined) -- rounding ~1e-7 relative per step, which a few dozen steps
// grow to ~1e-6; 1e-4 of the parameter norm leaves room, while a wrong shard (a sample lost or
// counted twice, a wrong scale) moves the parameters by O(1e-2). (Over thousands of Adam steps
// rounding differences grow chaotically, so long runs are compared by accuracy only.)
static void learns_everywhere(const struct setup *s, size_t epochs, size_t agree_epochs,
                              double min_acc)
{
    struct dpt_dataset *ds = load(s->data);
    struct result ref = train(s, ds, 1, DPT_ENGINE_PTHREADS, false, epochs);
    struct result ref_short = train(s, ds, 1, DPT_ENGINE_PTHREADS, false, agree_epochs);
    cr_assert(ref.eval_acc >= min_acc, "%s, T=1: accuracy %g < %g", s->data, ref.eval_acc, min_acc);
    for (size_t k = 1; k < sizeof thread_counts / sizeof thread_counts[0]; k++) {
        struct result r = train(s, ds, thread_counts[k], DPT_ENGINE_PTHREADS, false, epochs);
        cr_assert(r.eval_acc >= min_acc, "%s, T=%zu: accuracy %g < %g", s->data, thread_counts[k],
                  r.eval_acc, min_acc);
        struct result q = train(s, ds, thread_counts[k], DPT_ENGINE_PTHREADS, false, agree_epochs);
        const double d = rel_diff(&q, &ref_short);
        cr_assert(d < 1e-4, "%s, T=%zu: relative parameter difference %g after %llu steps", s->data,
                  thread_counts[k], d, (unsigned long long)q.last.steps);
        free(r.params);
        free(q.params);
    }
    free(ref.params);
    free(ref_short.params);
    dpt_dataset_destroy(ds);
}

Test(trainer, xor_reaches_100_percent_at_every_thread_count)
{
    learns_everywhere(&xor_setup, 100, 2, 1.0);
}

Test(trainer, spirals_reach_100_percent_at_every_thread_count)
{
    learns_everywhere(&spirals_setup, 60, 2, 1.0);
}

Test(trainer, fashion_subset_learns_at_every_thread_count)
{
    learns_everywhere(&fashion_setup, 5, 1, 0.75);
}

// Reproducible mode: bitwise identical parameters, losses and accuracies for every thread count
// and both engines.
static void reproducible_everywhere(const struct setup *s, size_t epochs)
{
    struct dpt_dataset *ds = load(s->data);
    struct result ref = train(s, ds, 1, DPT_ENGINE_PTHREADS, true, epochs);
    for (int e = 0; e < 2; e++) {
        for (size_t k = 0; k < sizeof thread_counts / sizeof thread_counts[0]; k++) {
            if (e == 0 && k == 0)
                continue;
            struct result r = train(s, ds, thread_counts[k], (enum dpt_engine)e, true, epochs);
            cr_assert_eq(memcmp(r.params, ref.params, ref.n_params * sizeof(float)), 0,
                         "%s, %s, T=%zu: parameters differ", s->data,
                         dpt_engine_name((enum dpt_engine)e), thread_counts[k]);
            cr_assert_eq(memcmp(&r.last.train_loss, &ref.last.train_loss, sizeof(double)), 0,
                         "T=%zu: train loss %.17g vs %.17g", thread_counts[k], r.last.train_loss,
                         ref.last.train_loss);
            cr_assert_eq(memcmp(&r.last.train_acc, &ref.last.train_acc, sizeof(double)), 0);
            cr_assert_eq(memcmp(&r.eval_loss, &ref.eval_loss, sizeof(double)), 0);
            cr_assert_eq(memcmp(&r.eval_acc, &ref.eval_acc, sizeof(double)), 0);
            free(r.params);
        }
    }
    free(ref.params);
    dpt_dataset_destroy(ds);
}

Test(trainer, reproducible_mode_is_bitwise_identical_xor)
{
    reproducible_everywhere(&xor_setup, 5);
}

Test(trainer, reproducible_mode_is_bitwise_identical_spirals)
{
    reproducible_everywhere(&spirals_setup, 5);
}

Test(trainer, reproducible_mode_is_bitwise_identical_fashion)
{
    reproducible_everywhere(&fashion_setup, 1);
}

Test(trainer, same_seed_same_threads_is_bitwise_identical_and_seeds_differ)
{
    struct dpt_dataset *ds = load(spirals_setup.data);
    for (size_t T = 1; T <= 3; T++) {
        struct result a = train(&spirals_setup, ds, T, DPT_ENGINE_PTHREADS, false, 3);
        struct result b = train(&spirals_setup, ds, T, DPT_ENGINE_PTHREADS, false, 3);
        cr_assert_eq(memcmp(a.params, b.params, a.n_params * sizeof(float)), 0, "T=%zu", T);
        cr_assert_eq(memcmp(&a.last.train_loss, &b.last.train_loss, sizeof(double)), 0);
        free(a.params);
        free(b.params);
    }
    // A different shuffling seed gives different parameters.
    struct setup s = spirals_setup;
    struct result a = train(&s, ds, 2, DPT_ENGINE_PTHREADS, false, 2);
    struct dpt_net *net = make_net(&s, 11);
    struct dpt_schedule *sched;
    dpt_schedule_parse(s.schedule, &sched);
    struct dpt_train_params p = dpt_train_params_default();
    p.batch = s.batch;
    p.max_epochs = 2;
    p.threads = 2;
    p.seed = 4;
    struct dpt_trainer *tr;
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK);
    cr_assert_eq(dpt_trainer_fit(tr, ds, NULL, NULL, NULL), DPT_OK);
    cr_assert_neq(memcmp(a.params, dpt_net_params(net), a.n_params * sizeof(float)), 0);
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
    free(a.params);
    dpt_dataset_destroy(ds);
}

// Batches smaller than T (empty shards), not divisible by T, and of size 1: the result agrees
// with T = 1 (same tolerance argument as above) and reproducible mode stays bitwise identical.
Test(trainer, shard_edge_cases)
{
    struct dpt_dataset *ds = load("synth:blobs,n=203,classes=3,seed=2");
    const size_t batches[] = {3, 10, 1};
    for (size_t i = 0; i < 3; i++) {
        struct setup s = {"", {2, 8, 3}, 2, DPT_ACT_TANH, "fixed:lr=0.05", batches[i]};
        struct result ref = train(&s, ds, 1, DPT_ENGINE_PTHREADS, false, 2);
        struct result rref = train(&s, ds, 1, DPT_ENGINE_PTHREADS, true, 2);
        const size_t ts[] = {4, 7};
        for (size_t k = 0; k < 2; k++) {
            struct result r = train(&s, ds, ts[k], DPT_ENGINE_PTHREADS, false, 2);
            cr_assert(rel_diff(&r, &ref) < 1e-4, "batch %zu, T=%zu: %g", batches[i], ts[k],
                      rel_diff(&r, &ref));
            cr_assert_eq(r.last.n_samples, 203);
            cr_assert_eq(r.last.steps, 2 * ((203 + batches[i] - 1) / batches[i]));
            struct result rr = train(&s, ds, ts[k], DPT_ENGINE_OPENMP, true, 2);
            cr_assert_eq(memcmp(rr.params, rref.params, rr.n_params * sizeof(float)), 0,
                         "batch %zu, T=%zu", batches[i], ts[k]);
            free(r.params);
            free(rr.params);
        }
        free(ref.params);
        free(rref.params);
    }
    dpt_dataset_destroy(ds);
}

Test(trainer, drop_last_drops_the_partial_batch)
{
    struct dpt_dataset *ds = load("synth:blobs,n=103,classes=3,seed=2");
    struct dpt_net *net = make_net(&(struct setup){"", {2, 4, 3}, 2, DPT_ACT_TANH, "", 10}, 1);
    struct dpt_schedule *sched;
    dpt_schedule_parse("sgd:lr=0.1", &sched);
    struct dpt_train_params p = dpt_train_params_default();
    p.batch = 10;
    p.drop_last = true;
    p.threads = 2;
    struct dpt_trainer *tr;
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK);
    struct dpt_epoch_stats st;
    cr_assert_eq(dpt_trainer_epoch(tr, ds, NULL, NULL, &st), DPT_OK);
    cr_assert_eq(st.n_samples, 100);
    cr_assert_eq(st.steps, 10);
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
    dpt_dataset_destroy(ds);
}

Test(trainer, evaluation_is_identical_for_every_thread_count)
{
    struct dpt_dataset *ds = load("synth:spirals,n=1000,seed=9");
    struct dpt_net *net = make_net(&spirals_setup, 4);
    double ref_loss = 0, ref_acc = 0;
    for (size_t k = 0; k < sizeof thread_counts / sizeof thread_counts[0]; k++) {
        struct dpt_schedule *sched;
        dpt_schedule_parse("sgd", &sched);
        struct dpt_train_params p = dpt_train_params_default();
        p.threads = thread_counts[k];
        struct dpt_trainer *tr;
        cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK);
        double loss, acc;
        cr_assert_eq(dpt_trainer_evaluate(tr, ds, &loss, &acc), DPT_OK);
        if (k == 0) {
            ref_loss = loss;
            ref_acc = acc;
            // Against a single-block evaluation with the core kernel: one block of 1000 rows vs
            // blocks of 256, so other product shapes (other kernels, other orders). Each is
            // within fp_bound.h's bound E of the exact summed loss (checked for the single
            // block against the double reference), so they differ by at most 2 E / 1000 plus
            // the double division. The correct counts can differ only on rows whose top two
            // outputs lie within their bounds of each other (ref.ties: this untrained net has
            // a few), so by at most that many.
            struct dpt_workspace *ws;
            dpt_workspace_create(net, 1000, &ws);
            struct dpt_targets t = dpt_dataset_targets_view(ds);
            struct dpt_block_stats bs;
            dpt_net_evaluate(net, ws, dpt_dataset_x(ds), NULL, 1000, &t, &bs);
            struct dpt_ref ref;
            dpt_ref_run(net, dpt_dataset_x(ds), NULL, 1000, &t, 1.0f, 0, &ref);
            cr_assert(fabs(bs.loss_sum - ref.loss) <= ref.loss_err, "%.17g vs %.17g (%g)",
                      bs.loss_sum, ref.loss, ref.loss_err);
            cr_assert(fabs(bs.loss_sum / 1000 - loss) <=
                          2 * ref.loss_err / 1000 + dpt_gamma_d(2) * fabs(loss),
                      "%.17g vs %.17g", bs.loss_sum / 1000, loss);
            const double d_ref = fabs((double)bs.correct - (double)ref.correct);
            const double d_acc = fabs((double)bs.correct - acc * 1000);
            cr_assert(d_ref <= (double)ref.ties && d_acc <= (double)ref.ties,
                      "correct %zu, reference %zu, trainer %g, %zu near ties", bs.correct,
                      ref.correct, acc * 1000, ref.ties);
            dpt_ref_free(&ref);
            dpt_workspace_destroy(ws);
        } else {
            cr_assert_eq(memcmp(&loss, &ref_loss, sizeof loss), 0, "T=%zu", thread_counts[k]);
            cr_assert_eq(acc, ref_acc);
        }
        dpt_trainer_destroy(tr);
        dpt_schedule_destroy(sched);
    }
    dpt_net_destroy(net);
    dpt_dataset_destroy(ds);
}

static int stop_after_two(const struct dpt_epoch_stats *st, void *user)
{
    (void)user;
    return st->epoch >= 2;
}

Test(trainer, stopping_rules)
{
    struct dpt_dataset *ds = load("synth:xor,n=400,seed=1");
    struct dpt_dataset *tr_ds, *val;
    cr_assert_eq(dpt_dataset_split(ds, 0.25, 1, &tr_ds, &val), DPT_OK);
    struct dpt_schedule *sched;
    dpt_schedule_parse("adam:lr=0.02", &sched);
    struct dpt_net *net = make_net(&xor_setup, 1);
    struct dpt_train_params p = dpt_train_params_default();
    p.threads = 2;
    p.batch = 16;
    p.max_epochs = 1000;
    // target loss: stops long before 1000 epochs, with the loss at or below the target
    p.target_loss = 0.05;
    struct dpt_trainer *tr;
    struct dpt_epoch_stats st;
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK);
    cr_assert_eq(dpt_trainer_stop_reason(tr), DPT_STOP_NONE);
    cr_assert_eq(dpt_trainer_fit(tr, tr_ds, NULL, NULL, &st), DPT_OK);
    cr_assert(st.train_loss <= 0.05 && st.epoch < 1000, "epoch %llu loss %g",
              (unsigned long long)st.epoch, st.train_loss);
    cr_assert_eq(dpt_trainer_stop_reason(tr), DPT_STOP_TARGET_LOSS);
    cr_assert_eq(dpt_trainer_best_epoch(tr), 0u, "no early stopping, no best epoch");
    // A second fit on a finished run does nothing and says why again.
    const uint64_t steps = dpt_trainer_steps(tr);
    cr_assert_eq(dpt_trainer_fit(tr, tr_ds, NULL, NULL, &st), DPT_OK);
    cr_assert_eq(dpt_trainer_steps(tr), steps);
    cr_assert_eq(st.epoch, 0u);
    cr_assert(isnan(st.train_loss));
    cr_assert_eq(dpt_trainer_stop_reason(tr), DPT_STOP_TARGET_LOSS);
    dpt_trainer_destroy(tr);
    // max_epochs 0: nothing runs, no figures (not zeros)
    p.max_epochs = 0;
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK);
    cr_assert_eq(dpt_trainer_fit(tr, tr_ds, NULL, NULL, &st), DPT_OK);
    cr_assert_eq(dpt_trainer_steps(tr), 0u);
    cr_assert_eq(st.epoch, 0u);
    cr_assert(isnan(st.train_loss) && isnan(st.train_acc));
    cr_assert_eq(dpt_trainer_stop_reason(tr), DPT_STOP_MAX_EPOCHS);
    dpt_trainer_destroy(tr);
    // all epochs run
    p.max_epochs = 3;
    p.target_loss = -INFINITY;
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK);
    cr_assert_eq(dpt_trainer_fit(tr, tr_ds, NULL, NULL, &st), DPT_OK);
    cr_assert_eq(st.epoch, 3u);
    cr_assert_eq(dpt_trainer_stop_reason(tr), DPT_STOP_MAX_EPOCHS);
    dpt_trainer_destroy(tr);
    p.max_epochs = 1000;
    // the epoch callback stops
    p.target_loss = -INFINITY;
    p.on_epoch = stop_after_two;
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK);
    cr_assert_eq(dpt_trainer_fit(tr, tr_ds, NULL, NULL, &st), DPT_OK);
    cr_assert_eq(st.epoch, 2);
    cr_assert_eq(dpt_trainer_stop_reason(tr), DPT_STOP_CALLBACK);
    dpt_trainer_destroy(tr);
    // a time limit stops (the limit is tiny, so the very first step sees it)
    p.on_epoch = NULL;
    p.max_seconds = 1e-9;
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK);
    cr_assert_eq(dpt_trainer_fit(tr, tr_ds, NULL, NULL, &st), DPT_OK);
    cr_assert_eq(st.epoch, 1);
    cr_assert_eq(st.steps, 1);
    cr_assert_eq(dpt_trainer_stop_reason(tr), DPT_STOP_TIME_LIMIT);
    dpt_trainer_destroy(tr);
    // early stopping with patience restores the best parameters: after fit, the validation
    // loss equals the best seen
    p.max_seconds = 0;
    p.patience = 2;
    p.max_epochs = 60;
    dpt_net_init(net, DPT_INIT_AUTO, 0, 1);
    dpt_schedule_destroy(sched);
    dpt_schedule_parse("adam:lr=0.2", &sched); // large rate: the validation loss wobbles
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK);
    cr_assert_eq(dpt_trainer_fit(tr, tr_ds, val, NULL, &st), DPT_OK);
    double vloss;
    cr_assert_eq(dpt_trainer_evaluate(tr, val, &vloss, NULL), DPT_OK);
    cr_assert(vloss <= st.val_loss, "restored %g, last %g", vloss, st.val_loss);
    cr_assert_eq(dpt_trainer_stop_reason(tr), DPT_STOP_PATIENCE);
    // The best epoch is the one patience counted from: exactly `patience` epochs before the end
    // (the run stops on the first epoch that makes the count reach it), and its parameters are
    // the ones restored (checked against the recorded best validation loss).
    const uint64_t best = dpt_trainer_best_epoch(tr);
    cr_assert(st.epoch < 60, "patience stopped nothing");
    cr_assert_eq(best, st.epoch - 2, "best %llu, stopped at %llu", (unsigned long long)best,
                 (unsigned long long)st.epoch);
    struct dpt_trainer_state ts;
    dpt_trainer_get_state(tr, &ts);
    cr_assert_eq(vloss, ts.best_val, "restored %.17g, best %.17g", vloss, ts.best_val);
    dpt_trainer_destroy(tr);
    // patience without a validation set is refused
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK);
    cr_assert_eq(dpt_trainer_fit(tr, tr_ds, NULL, NULL, &st), DPT_ERR_INVALID);
    cr_assert_eq(dpt_trainer_stop_reason(tr), DPT_STOP_ERROR);
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
    dpt_dataset_destroy(tr_ds);
    dpt_dataset_destroy(val);
    dpt_dataset_destroy(ds);
}

Test(trainer, stop_reason_names)
{
    static const char *const names[] = {"none",       "max_epochs",  "target_loss", "patience",
                                        "time_limit", "interrupted", "callback",    "error"};
    for (int r = DPT_STOP_NONE; r <= DPT_STOP_ERROR; r++)
        cr_assert_str_eq(dpt_stop_reason_name((enum dpt_stop_reason)r), names[r]);
    cr_assert_str_eq(dpt_stop_reason_name((enum dpt_stop_reason)99), "unknown");
    cr_assert_eq(dpt_trainer_stop_reason(NULL), DPT_STOP_NONE);
    cr_assert_eq(dpt_trainer_best_epoch(NULL), 0u);
}

Test(trainer, rejects_bad_params_and_mismatched_data)
{
    struct dpt_net *net = make_net(&xor_setup, 1);
    struct dpt_schedule *sched;
    dpt_schedule_parse("sgd", &sched);
    struct dpt_train_params p = dpt_train_params_default();
    struct dpt_trainer *tr = (void *)1;
    p.batch = 0;
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_ERR_INVALID);
    cr_assert_null(tr);
    cr_assert(strstr(dpt_last_error(), "batch"));
    p = dpt_train_params_default();
    p.threads = 100000;
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "threads"));
    p = dpt_train_params_default();
    p.threads = 2;
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK);
    struct dpt_dataset *ds = load("synth:blobs,n=50,classes=3");
    struct dpt_epoch_stats st;
    // 3 classes into a 2-output net
    cr_assert_eq(dpt_trainer_epoch(tr, ds, NULL, NULL, &st), DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "classes"), "%s", dpt_last_error());
    dpt_dataset_destroy(ds);
    ds = load("fashion");
    cr_assert_eq(dpt_trainer_epoch(tr, ds, NULL, NULL, &st), DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "784 features"), "%s", dpt_last_error());
    dpt_dataset_destroy(ds);
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
}

Test(trainer, diverging_run_stops_with_a_status)
{
    struct dpt_dataset *ds = load("synth:blobs,n=200,classes=3,seed=1");
    struct setup s = {"", {2, 16, 3}, 2, DPT_ACT_RELU, "", 8};
    struct dpt_net *net = make_net(&s, 1);
    // Huge inputs make the loss overflow quickly with an absurd rate.
    struct dpt_schedule *sched;
    dpt_schedule_parse("sgd:lr=1e30", &sched);
    struct dpt_train_params p = dpt_train_params_default();
    p.threads = 2;
    p.batch = 8;
    p.max_epochs = 5;
    struct dpt_trainer *tr;
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK);
    cr_assert_eq(dpt_trainer_fit(tr, ds, NULL, NULL, NULL), DPT_ERR_DIVERGED);
    cr_assert(strstr(dpt_last_error(), "diverged"), "%s", dpt_last_error());
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
    dpt_dataset_destroy(ds);
}

Test(trainer, timing_breakdown_is_reported)
{
    struct dpt_dataset *ds = load("synth:spirals,n=2000,seed=1");
    struct dpt_net *net = make_net(&spirals_setup, 1);
    struct dpt_schedule *sched;
    dpt_schedule_parse("adam", &sched);
    struct dpt_train_params p = dpt_train_params_default();
    p.threads = 2;
    p.grad_mode = DPT_GRAD_PRIVATE;
    struct dpt_trainer *tr;
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK);
    struct dpt_epoch_stats st;
    cr_assert_eq(dpt_trainer_epoch(tr, ds, NULL, NULL, &st), DPT_OK);
    cr_assert(st.time.compute_s > 0 && st.time.reduce_s > 0 && st.time.update_s > 0);
    cr_assert(st.time.wait_s >= 0);
    const double sum = st.time.compute_s + st.time.wait_s + st.time.reduce_s + st.time.update_s;
    // The four parts partition each worker's time in the step loop (up to clock reads).
    cr_assert(sum <= st.seconds * 1.05 + 1e-3, "parts %g > wall %g", sum, st.seconds);
    const struct dpt_timing *w = dpt_trainer_worker_timing(tr);
    cr_assert(w[0].compute_s > 0 && w[1].compute_s > 0);
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
    dpt_dataset_destroy(ds);
}

// No allocation inside the step loop: after a first epoch (which sizes the permutation), a whole
// epoch at T = 1, 2 and 3 makes no allocation through the library's allocator (a failure armed
// for the very next allocation never fires).
Test(trainer, epochs_allocate_nothing_after_the_first)
{
    struct dpt_dataset *ds = load("synth:blobs,n=500,classes=3,seed=2");
    for (size_t T = 1; T <= 3; T++) {
        struct setup s = {"", {2, 16, 3}, 2, DPT_ACT_RELU, "", 8};
        struct dpt_net *net = make_net(&s, 1);
        struct dpt_schedule *sched;
        dpt_schedule_parse("clip(adam:lr=0.01),max_norm=1", &sched);
        struct dpt_train_params p = dpt_train_params_default();
        p.threads = T;
        p.batch = 8;
        struct dpt_trainer *tr;
        cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK);
        struct dpt_epoch_stats st;
        cr_assert_eq(dpt_trainer_epoch(tr, ds, NULL, NULL, &st), DPT_OK);
        dpt_alloc_fail_after(0);
        cr_assert_eq(dpt_trainer_epoch(tr, ds, NULL, NULL, &st), DPT_OK, "%s", dpt_last_error());
        cr_assert_eq(dpt_alloc_fail_fired(), 0, "T=%zu: an epoch allocated", T);
        dpt_alloc_fail_after(-1);
        dpt_trainer_destroy(tr);
        dpt_schedule_destroy(sched);
        dpt_net_destroy(net);
    }
    dpt_dataset_destroy(ds);
}

// Buffers beyond physical memory are refused before they are allocated, with a status.
Test(trainer, refuses_buffers_beyond_physical_memory)
{
    const double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    // A network of about phys / 1000 bytes, trained by 1024 threads: ~phys x 1.02 of gradients.
    const size_t width = (size_t)(phys / 1000.0 / 4.0 / 784.0) + 1;
    if (width > ((size_t)1 << 24))
        cr_skip_test("this machine has too much memory for the test's layer width limit");
    struct setup s = {"", {784, width, 2}, 2, DPT_ACT_RELU, "", 8};
    struct dpt_net *net = make_net(&s, 1);
    struct dpt_schedule *sched;
    dpt_schedule_parse("sgd", &sched);
    struct dpt_train_params p = dpt_train_params_default();
    p.threads = 1024;
    p.grad_mode = DPT_GRAD_PRIVATE; // the T private gradients are what does not fit
    struct dpt_trainer *tr = (void *)1;
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_ERR_RANGE);
    cr_assert_null(tr);
    cr_assert(strstr(dpt_last_error(), "GiB of memory"), "%s", dpt_last_error());
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
}

// Sliced mode forms each row of the gradient once, over the whole batch, instead of summing
// private gradients: the same step up to the order of float additions. Checked against private
// mode at T = 1 for a fused fixed-rate step, an unfused schedule with state (adam) and one that
// needs the global norm (clip), at thread counts that split the layers' rows unevenly (widths 37,
// 21, 130 and 200 are not multiples of the 16-row unit; at T = 7 and 16 narrow layers are cut
// into pieces and some workers get no rows of a layer), with layer 1's forward pass split by rows
// and pipelined into the previous step (the 200-wide first layer at T = 2 and 3) or not, and
// batches of 1, 10 (not divisible by T) and 64. Tolerance as in learns_everywhere:
// rounding differences of ~1e-7 per step over a few dozen steps stay below 1e-4 of the parameter
// norm, while a row updated twice or not at all, or a wrong scale, moves the parameters by
// O(1e-2).
Test(trainer, sliced_mode_matches_private_mode)
{
    struct dpt_dataset *ds = load("synth:blobs,n=203,classes=3,seed=2");
    static const char *const scheds[] = {"fixed:lr=0.05", "adam:lr=0.01",
                                         "clip(fixed:lr=0.05),max_norm=0.5"};
    const size_t hidden[][2] = {{37, 21}, {200, 21}, {200, 130}};
    const size_t batches[] = {1, 10, 64};
    const size_t ts[] = {1, 2, 3, 7, 16};
    for (size_t w = 0; w < 3; w++) {
        for (size_t k = 0; k < 3; k++) {
            for (size_t i = 0; i < 3; i++) {
                struct setup s = {
                    "", {2, hidden[w][0], hidden[w][1], 3}, 3, DPT_ACT_TANH, scheds[k], batches[i]};
                // Two epochs of batch 1 are 406 steps; the others a few dozen. Batch 1 gets one
                // epoch so that every case compares a comparable number of steps.
                const size_t epochs = batches[i] == 1 ? 1 : 2;
                struct result ref =
                    train_mode(&s, ds, 1, DPT_ENGINE_PTHREADS, false, epochs, DPT_GRAD_PRIVATE);
                for (size_t t = 0; t < 5; t++) {
                    struct result r = train_mode(&s, ds, ts[t], DPT_ENGINE_PTHREADS, false, epochs,
                                                 DPT_GRAD_SLICED);
                    const double d = rel_diff(&r, &ref);
                    cr_assert(d < 1e-4, "2-%zu-%zu-3, %s, batch %zu, T=%zu: relative difference %g",
                              hidden[w][0], hidden[w][1], scheds[k], batches[i], ts[t], d);
                    cr_assert_eq(r.last.steps, epochs * ((203 + batches[i] - 1) / batches[i]));
                    free(r.params);
                }
                if (w == 1) {
                    // At the generic level (the BLAS only) split_first gathers copies of the
                    // inputs instead of reading them in place: the same step.
                    dpt_isa_force(DPT_ISA_GENERIC);
                    struct result r =
                        train_mode(&s, ds, 2, DPT_ENGINE_PTHREADS, false, epochs, DPT_GRAD_SLICED);
                    dpt_isa_reset();
                    const double d = rel_diff(&r, &ref);
                    cr_assert(d < 1e-4, "2-200-21-3, %s, batch %zu, T=2, gathered: %g", scheds[k],
                              batches[i], d);
                    free(r.params);
                }
                free(ref.params);
            }
        }
    }
    dpt_dataset_destroy(ds);
}

// Random inputs in [0, 1), labels from the largest of three feature sums (learnable, so the
// loss falls and the gradients are not negligible).
static struct dpt_dataset *sum_data(size_t n, size_t in)
{
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_dataset_create(DPT_TASK_CLASSIFY, n, in, 3, &ds), DPT_OK, "%s",
                 dpt_last_error());
    float *x = dpt_dataset_x_mut(ds);
    int32_t *y = dpt_dataset_labels_mut(ds);
    uint64_t r = 7;
    for (size_t i = 0; i < n; i++) {
        double sum[3] = {0};
        for (size_t j = 0; j < in; j++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            x[i * in + j] = (float)((r >> 40) * 0x1p-24);
            sum[j % 3] += x[i * in + j];
        }
        y[i] = sum[0] > sum[1] ? (sum[0] > sum[2] ? 0 : 2) : (sum[1] > sum[2] ? 1 : 2);
    }
    return ds;
}

// Sliced mode with layer 1 (split_all: every hidden layer) split by rows at each of the thread
// counts ts against private mode at T = 1, for a fused fixed-rate step, adam and a schedule that
// needs the norm, batches 10 and 64: the same step up to the order of float additions
// (tolerance as in sliced_mode_matches_private_mode). Also checks that the split is in use: with
// sliced mode asked, and (with_auto) chosen by auto at batch 10 (at 64 and T = 2 the batch
// workspace can outgrow the private gradients: private mode).
static void split_matches_private(const struct dpt_dataset *ds, const size_t *sizes, size_t L,
                                  const size_t *ts, size_t nt, bool all, bool with_auto)
{
    static const char *const scheds[] = {"fixed:lr=0.05", "adam:lr=0.01",
                                         "clip(fixed:lr=0.05),max_norm=0.5"};
    static const size_t batches[] = {10, 64};
    for (size_t k = 0; k < 3; k++) {
        for (size_t i = 0; i < 2; i++) {
            struct setup s = {"", {0}, L, DPT_ACT_TANH, scheds[k], batches[i]};
            for (size_t l = 0; l <= L; l++)
                s.sizes[l] = sizes[l];
            struct result ref = train_mode(&s, (struct dpt_dataset *)ds, 1, DPT_ENGINE_PTHREADS,
                                           false, 2, DPT_GRAD_PRIVATE);
            // Training moved the parameters by 10x the tolerance below or more.
            struct dpt_net *init = make_net(&s, 11);
            double num = 0, den = 0;
            for (size_t j = 0; j < ref.n_params; j++) {
                const double a = ref.params[j], b = dpt_net_params(init)[j];
                num += (a - b) * (a - b);
                den += b * b;
            }
            dpt_net_destroy(init);
            cr_assert_gt(sqrt(num / den), 1e-3, "%s, batch %zu: the parameters hardly moved",
                         scheds[k], batches[i]);
            for (size_t t = 0; t < nt; t++) {
                for (int g = 0; g < (s.batch == 10 && with_auto ? 2 : 1); g++) {
                    struct dpt_net *net = make_net(&s, 11);
                    struct dpt_schedule *sched;
                    cr_assert_eq(dpt_schedule_parse(s.schedule, &sched), DPT_OK);
                    struct dpt_train_params p = dpt_train_params_default();
                    p.batch = s.batch;
                    p.threads = ts[t];
                    p.grad_mode = g ? DPT_GRAD_AUTO : DPT_GRAD_SLICED;
                    struct dpt_trainer *tr = NULL;
                    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), DPT_OK, "%s",
                                 dpt_last_error());
                    cr_expect(tr->sliced && tr->split_first && tr->split_all == all,
                              "%s, batch %zu, T=%zu: sliced %d, split_first %d, split_all %d",
                              g ? "auto" : "sliced", s.batch, ts[t], tr->sliced, tr->split_first,
                              tr->split_all);
                    dpt_trainer_destroy(tr);
                    dpt_schedule_destroy(sched);
                    dpt_net_destroy(net);
                }
                struct result res = train_mode(&s, (struct dpt_dataset *)ds, ts[t],
                                               DPT_ENGINE_PTHREADS, false, 2, DPT_GRAD_SLICED);
                const double d = rel_diff(&res, &ref);
                cr_assert(d < 1e-4, "%zu layers, %s, batch %zu, T=%zu: relative difference %g", L,
                          scheds[k], batches[i], ts[t], d);
                free(res.params);
            }
            free(ref.params);
        }
    }
}

// A layer 1 narrower than 4 units of 16 rows per worker is split by rows too (dpt_split_first
// answers 2) where its share of the work gives every worker a piece, or all but one. Network
// 96-64-3: layer 1 is dealt out as 2 x 32, 4 x 16, 6 x 10 and 4, and 8 x 8 rows at T = 2, 4, 7
// and 8. Network 6-64-3, whose output layer carries a third of the work: at T = 3 and 4
// layer 1 goes to all workers but one, which holds the output layer's rows instead; at T = 2 it
// would be one piece, at T = 5 three pieces for five workers: not split. (Sliced mode asked: auto
// keeps private gradients for a network this small, whose batch workspace outweighs them.)
Test(trainer, narrow_split_first_matches_private_mode)
{
    struct dpt_dataset *ds = sum_data(203, 96);
    const size_t sizes[] = {96, 64, 3}, ts[] = {2, 4, 7, 8};
    struct dpt_net_spec spec = dpt_net_spec_default();
    spec.n_layers = 2;
    for (size_t l = 0; l <= 2; l++)
        spec.sizes[l] = sizes[l];
    cr_assert_eq(dpt_split_first(&spec, 2), 2);
    cr_assert_eq(dpt_split_first(&spec, 7), 2);
    cr_assert_eq(dpt_split_first(&spec, 8), 2);
    cr_assert_eq(dpt_split_first(&spec, 64), 0); // its share calls for 62 pieces
    split_matches_private(ds, sizes, 2, ts, 4, false, true);
    dpt_dataset_destroy(ds);

    struct dpt_dataset *small = sum_data(203, 6);
    const size_t sizes6[] = {6, 64, 3}, ts6[] = {3, 4};
    spec.sizes[0] = 6;
    cr_assert_eq(dpt_split_first(&spec, 2), 0);
    cr_assert_eq(dpt_split_first(&spec, 3), 2);
    cr_assert_eq(dpt_split_first(&spec, 4), 2);
    cr_assert_eq(dpt_split_first(&spec, 5), 0);
    for (size_t T = 3; T <= 4; T++) {
        size_t lo[4 * 3] = {0}, hi[4 * 3] = {0};
        dpt_split_rows(&spec, T, lo, hi);
        cr_assert_eq(hi[0 * 3 + 1], 0u, "T=%zu: worker 0 holds rows of layer 1", T);
        cr_assert_gt(hi[0 * 3 + 2], lo[0 * 3 + 2], "T=%zu: worker 0 holds no rows at all", T);
    }
    split_matches_private(small, sizes6, 2, ts6, 2, false, false);
    dpt_dataset_destroy(small);
}

// split_all: every hidden layer's forward pass and delta by output rows, with a barrier after each
// (step_sliced.c), chosen where the batch gives each worker fewer than 64 rows; the output layer
// by samples. Networks 96-96-48-3 and 96-48-48-48-3 (two forward parts between barriers) at T =
// 2, 3 and 6, where every hidden layer splits evenly in units of 8 rows, and at T = 5, where it
// does not (the 48-row layers' 6 units go 2, 1, 1, 1, 1) but the batches give each worker fewer
// than 16 rows; the barrier strategy and the OpenMP engine too (the dynamic one is not used with
// split_all).
Test(trainer, split_all_matches_private_mode)
{
    struct dpt_dataset *ds = sum_data(203, 96);
    const size_t net3[] = {96, 96, 48, 3}, net4[] = {96, 48, 48, 48, 3}, ts[] = {2, 3, 5, 6};
    split_matches_private(ds, net3, 3, ts, 4, true, true);
    split_matches_private(ds, net4, 4, ts, 4, true, true);
    // The OpenMP engine runs the same phases.
    struct setup s = {"", {96, 96, 48, 3}, 3, DPT_ACT_RELU, "adam:lr=0.01", 10};
    struct result ref = train_mode(&s, ds, 1, DPT_ENGINE_PTHREADS, false, 2, DPT_GRAD_PRIVATE);
    struct result omp = train_mode(&s, ds, 3, DPT_ENGINE_OPENMP, false, 2, DPT_GRAD_SLICED);
    cr_assert_lt(rel_diff(&omp, &ref), 1e-4);
    free(omp.params);
    free(ref.params);
    dpt_dataset_destroy(ds);
}

// dpt_split_all's choices: the reference networks at 16 threads (L's 16 rows per worker and M's 8
// call for it; S has one hidden layer, split_first covers it); not where the batch leaves 64 rows
// per worker or more unless forced; not where a hidden layer does not split evenly, unless the
// batch leaves each worker fewer than 16 rows and every worker gets 8 rows of it (M at 24 and L at
// 40 threads; not M at 65); never when forced off. Where it says yes, dpt_split_rows_even gives
// every worker rows of every hidden layer (whole 8-row units but the last) and every row of every
// layer one owner.
Test(trainer, split_all_choices)
{
    struct dpt_net_spec m = dpt_net_spec_default(), l = m, s = m, odd = m;
    const size_t ms[] = {784, 512, 512, 10}, ls[] = {784, 1024, 1024, 10}, ss[] = {784, 128, 10},
                 os[] = {784, 100, 100, 10};
    m.n_layers = l.n_layers = odd.n_layers = 3;
    s.n_layers = 2;
    for (size_t k = 0; k <= 3; k++) {
        m.sizes[k] = ms[k];
        l.sizes[k] = ls[k];
        odd.sizes[k] = os[k];
        if (k <= 2)
            s.sizes[k] = ss[k];
    }
    cr_expect_eq(dpt_split_all(&m, 16, 128, -1), 1);
    cr_expect_eq(dpt_split_all(&l, 16, 256, -1), 1);
    cr_expect_eq(dpt_split_all(&l, 2, 256, -1), 0, "128 rows per worker");
    cr_expect_eq(dpt_split_all(&l, 2, 256, 1), 1, "forced");
    cr_expect_eq(dpt_split_all(&l, 16, 256, 0), 0, "forced off");
    cr_expect_eq(dpt_split_all(&s, 16, 32, 1), 0, "one hidden layer");
    cr_expect_eq(dpt_split_all(&odd, 4, 128, -1), 0, "100 rows: 13 units over 4 workers");
    cr_expect_eq(dpt_split_all(&odd, 4, 32, -1), 1, "13 units over 4 workers of 8 rows");
    cr_expect_eq(dpt_split_all(&m, 24, 128, -1), 1, "64 units over 24 workers of 6 rows");
    cr_expect_eq(dpt_split_all(&l, 40, 256, -1), 1, "128 units over 40 workers of 7 rows");
    cr_expect_eq(dpt_split_all(&m, 65, 128, 1), 0, "64 units over 65 workers");
    cr_expect_eq(dpt_split_all(&l, 1, 16, 1), 0, "one worker");
    const struct dpt_net_spec *nets[] = {&m, &l, &odd};
    for (size_t k = 0; k < 3; k++) {
        const size_t L = nets[k]->n_layers, L1 = L + 1;
        for (size_t T = 2; T <= 64; T++) {
            if (!dpt_split_all(nets[k], T, 16, 1))
                continue;
            size_t *lo = calloc(T * L1, sizeof *lo), *hi = calloc(T * L1, sizeof *hi);
            cr_assert(lo && hi);
            dpt_split_rows_even(nets[k], T, lo, hi);
            for (size_t j = 1; j <= L; j++) {
                for (size_t t = 0; t < T && j < L; t++)
                    cr_expect_gt(hi[t * L1 + j], lo[t * L1 + j], "net %zu, T=%zu, layer %zu", k, T,
                                 j);
                for (size_t row = 0; row < nets[k]->sizes[j]; row++) {
                    size_t owners = 0;
                    for (size_t t = 0; t < T; t++)
                        owners += lo[t * L1 + j] <= row && row < hi[t * L1 + j];
                    cr_expect_eq(owners, 1u, "net %zu, T=%zu, layer %zu, row %zu", k, T, j, row);
                }
            }
            free(lo);
            free(hi);
        }
    }
}

// split_all's shared operand images (gemm_impl.h): each worker packs the columns it computed of
// the activations and deltas the others multiply by their own rows of the weights, and every
// product reads the shared image instead of packing it again. The images hold exactly what each
// product would have packed, so training with them is bitwise training without them
// (DPT_SHARE_PACK=0): 3 and 4 layers whose products are large enough to take them (checked: the
// images exist and the packed GEMM would read them; the forward products at 128, 64 and 32
// columns a worker, which take the packed GEMM with or without an image), at T = 4 and 8, and at
// T = 12, where workers' widths differ (40 and 48 rows of 512; 16 and 24 of 256) and every one
// reads the images made for the widest, for the fused SGD step, adam and a schedule that needs
// the norm, over batches of 128 and a last one of 64.
Test(trainer, split_all_shared_panels_change_no_bit)
{
    if (!dpt_gemm_rows_available())
        cr_skip_test("no built-in kernels at this level: the products go to the BLAS");
    struct dpt_dataset *ds = sum_data(448, 256);
    static const char *const scheds[] = {"fixed:lr=0.05", "adam:lr=0.01",
                                         "clip(fixed:lr=0.05),max_norm=0.5"};
    const struct setup nets[] = {
        {"", {256, 512, 512, 3}, 3, DPT_ACT_RELU, "", 128},
        {"", {256, 256, 256, 256, 3}, 4, DPT_ACT_TANH, "", 128},
    };
    cr_assert(dpt_gemm_image_pays(0, 1, 128, 128, 512) && dpt_gemm_image_pays(0, 0, 128, 64, 256) &&
              dpt_gemm_image_pays(1, 0, 64, 256, 128));
    for (size_t n = 0; n < 2; n++)
        for (size_t k = 0; k < 3; k++)
            for (size_t T = 4; T <= 12; T += 4) {
                struct setup s = nets[n];
                s.schedule = scheds[k];
                struct result r[2];
                for (int share = 0; share < 2; share++) {
                    cr_assert_eq(setenv("DPT_SHARE_PACK", share ? "1" : "0", 1), 0);
                    struct dpt_net *net;
                    struct dpt_schedule *sched;
                    struct dpt_trainer *tr = sliced_trainer(&s, T, 2, &net, &sched);
                    cr_assert(tr->split_all, "net %zu, T=%zu: split_all", n, T);
                    cr_assert_eq(tr->bws->ia[1] != NULL && tr->bws->ib[1] != NULL, share,
                                 "net %zu, T=%zu: images %s", n, T, share ? "missing" : "made");
                    if (s.n_layers == 4)
                        cr_assert_eq(tr->bws->id[2] != NULL, share);
                    cr_assert_eq(dpt_trainer_fit(tr, ds, NULL, NULL, &r[share].last), DPT_OK, "%s",
                                 dpt_last_error());
                    keep(&r[share], tr, sched, net);
                }
                cr_assert(unsetenv("DPT_SHARE_PACK") == 0);
                cr_expect(memcmp(r[0].params, r[1].params, r[0].n_params * sizeof(float)) == 0,
                          "net %zu, %s, T=%zu: the shared panels changed the parameters (%g)", n,
                          scheds[k], T, rel_diff(&r[1], &r[0]));
                free(r[0].params);
                free(r[1].params);
            }
    dpt_dataset_destroy(ds);
}

// When a thread of the dynamic step counts as kept off its core: a core shared with a busy process
// (one of its time slices off, 6-12 ms, or about half of a longer window) stands it down; one
// short interruption of an idle thread (a kernel thread, the hypervisor taking the virtual CPU for
// a millisecond or two) does not, however short the window it falls in.
Test(trainer, a_short_interruption_does_not_stand_a_thread_down)
{
    // idle, or interrupted once for 1-2 ms
    cr_expect(!dpt_dyn_off_core(0.002, 0.002), "never off its core");
    cr_expect(!dpt_dyn_off_core(0.002, 0.001), "1 ms off in a 2 ms window");
    cr_expect(!dpt_dyn_off_core(0.003, 0.001), "2 ms off in a 3 ms window");
    cr_expect(!dpt_dyn_off_core(0.020, 0.016), "4 ms off in 20 ms");
    cr_expect(!dpt_dyn_off_core(0.100, 0.080), "a fifth of a long window");
    // sharing its core with a busy process
    cr_expect(dpt_dyn_off_core(0.008, 0.002), "a 6 ms slice off");
    cr_expect(dpt_dyn_off_core(0.020, 0.014), "6 ms off in 20 ms");
    cr_expect(dpt_dyn_off_core(0.040, 0.020), "half of 40 ms");
    cr_expect(dpt_dyn_off_core(0.100, 0.070), "over a quarter of a long window");
}

// The dynamic step with its last thread standing down at every check (DPT_TEST_STAND_DOWN, for
// about a millisecond every 8 steps): meanwhile another thread runs its items with its own as one
// piece of work: in phase 1 both shards' products over their rows at once (shards of 85-128 rows
// of a 128-wide hidden layer: the packed GEMM, so rows are merged), in phase 2 both workers'
// gradient rows of each layer in one product where the kernels give the same bits either way
// (layer 1 by features, 64-96 rows a worker over a batch of 256: the packed GEMM; not the output
// layer's 3 rows, nor layer 1's in pieces of 32 or 48 rows: the small kernels). The parameters are
// bitwise those of the barrier version, and so are the epoch's loss and accuracy (summed shard by
// shard), with a schedule that needs the gradient's norm too, for two hidden layers and for one.
Test(trainer, a_stood_down_threads_shard_runs_with_another_bitwise)
{
    if (!dpt_gemm_rows_available())
        cr_skip_test("no built-in kernels at this level: the products go to the BLAS");
    struct dpt_dataset *ds = sum_data(4096, 64);
    static const char *const scheds[] = {"fixed:lr=0.05", "clip(adam:lr=0.01),max_norm=0.5"};
    static const struct setup nets[] = {{"", {64, 128, 128, 3}, 3, DPT_ACT_RELU, "", 256},
                                        {"", {64, 192, 3}, 2, DPT_ACT_RELU, "", 256},
                                        {"", {64, 96, 3}, 2, DPT_ACT_RELU, "", 256}};
    uint64_t merged = 0, merged_rows = 0; // phase-1 and phase-2 items run with another
    // The batch (the gradient products' depth) in 8 blocks of k: a product that took the packed
    // GEMM merged and the small kernels in pieces, as dpt_net_layer_grad_merges must refuse (the
    // last network's layer 1 in pieces of 32 or 48 rows), then sums in another order.
    dpt_gemm_blocking_force(32, 64);
    for (size_t k = 0; k < 6; k++)
        for (size_t T = 2; T <= 3; T++) {
            struct setup s = nets[k / 2];
            s.schedule = scheds[k % 2];
            struct result r[2];
            for (int dyn = 0; dyn < 2; dyn++) {
                cr_assert_eq(
                    setenv(dyn ? "DPT_TEST_STAND_DOWN" : "DPT_STEP", dyn ? "1" : "barrier", 1), 0);
                struct dpt_net *net;
                struct dpt_schedule *sched;
                struct dpt_trainer *tr = sliced_trainer(&s, T, 3, &net, &sched);
                cr_assert_eq(tr->strategy, dyn ? &dpt_step_dynamic : &dpt_step_sliced);
                cr_assert_eq(dpt_trainer_fit(tr, ds, NULL, NULL, &r[dyn].last), DPT_OK, "%s",
                             dpt_last_error());
                if (dyn) {
                    merged += atomic_load(&tr->dyn->merged);
                    merged_rows += atomic_load(&tr->dyn->merged_rows);
                }
                keep(&r[dyn], tr, sched, net);
                cr_assert_eq(unsetenv(dyn ? "DPT_TEST_STAND_DOWN" : "DPT_STEP"), 0);
            }
            cr_expect(memcmp(r[0].params, r[1].params, r[0].n_params * sizeof(float)) == 0,
                      "%zu layers, %s, T=%zu: merged items changed the parameters (%g)", s.n_layers,
                      s.schedule, T, rel_diff(&r[1], &r[0]));
            cr_expect(r[0].last.train_loss == r[1].last.train_loss &&
                          r[0].last.train_acc == r[1].last.train_acc,
                      "%zu layers, %s, T=%zu: the epoch's loss %.17g, accuracy %g (barrier: "
                      "%.17g, %g)",
                      s.n_layers, s.schedule, T, r[1].last.train_loss, r[1].last.train_acc,
                      r[0].last.train_loss, r[0].last.train_acc);
            free(r[0].params);
            free(r[1].params);
        }
    // Whether a run merges depends on timing (another thread must start a phase while the last one
    // is away, about 1 ms), so each path is asked for once over the twelve runs.
    cr_expect(merged > 0, "no shard was run with another");
    cr_expect(merged_rows > 0, "no phase-2 item was run with another");
    dpt_gemm_blocking_force(0, 0);
    dpt_dataset_destroy(ds);
}

// Past 8 workers in one cache domain the barrier counts arrivals in runs of ceil(sqrt T)
// neighbours (barrier_impl.h), and the dynamic step counts its phases' items in the same groups:
// each item on its group's counter, a group's last item on the top one (step_dynamic.c,
// complete()). At 9, 10 and 12 threads (runs of 3, of 4, 4 and 2, and of 4; oversubscribed on a
// small machine, which only makes the threads' order rarer), over two epochs of a fused SGD step
// and of a schedule that needs the norm (3 phases a step): after the last epoch's job every group
// counter holds the job's phases times its workers and the top counter the phases times the
// groups; the parameters and the last epoch's loss are bitwise the barrier version's, the flat
// count's (DPT_BARRIER_RUNS=0: the top counter then holds phases times T) and, with the last
// thread standing down at every check (its items run by the others, merged with their own where
// the kernels allow, so a merged run may cross two groups), the same again.
Test(trainer, the_dynamic_step_counts_items_in_the_barriers_groups)
{
    struct dpt_dataset *ds = sum_data(448, 64);
    static const char *const scheds[] = {"fixed:lr=0.05", "clip(adam:lr=0.01),max_norm=0.5"};
    static const size_t Ts[] = {9, 10, 12};
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < 3; i++) {
            const size_t T = Ts[i];
            const struct setup s = {"", {64, 96, 3}, 2, DPT_ACT_RELU, scheds[k], 48};
            // 0: the barrier version, 1: dynamic in groups, 2: dynamic flat, 3: dynamic in groups
            // with a thread standing down
            struct result r[4];
            for (int v = 0; v < 4; v++) {
                if (v == 0)
                    cr_assert_eq(setenv("DPT_STEP", "barrier", 1), 0);
                if (v == 2)
                    cr_assert_eq(setenv("DPT_BARRIER_RUNS", "0", 1), 0);
                if (v == 3)
                    cr_assert_eq(setenv("DPT_TEST_STAND_DOWN", "1", 1), 0);
                struct dpt_net *net;
                struct dpt_schedule *sched;
                struct dpt_trainer *tr = sliced_trainer(&s, T, 2, &net, &sched);
                cr_assert_eq(tr->strategy, v ? &dpt_step_dynamic : &dpt_step_sliced);
                const size_t groups = dpt_trainer_barrier_groups(tr);
                cr_assert_eq(groups, v == 2 ? 1 : 3, "T=%zu: %zu barrier groups", T, groups);
                cr_assert_eq(dpt_trainer_fit(tr, ds, NULL, NULL, &r[v].last), DPT_OK, "%s",
                             dpt_last_error());
                if (v) {
                    const int norm = (tr->sched->flags & DPT_SCHEDULE_NEEDS_NORM) && !tr->fused;
                    const unsigned long phases =
                        (unsigned long)tr->split_first + tr->n_batches * (norm ? 3u : 2u);
                    const unsigned long top = atomic_load(&tr->dyn->done);
                    cr_expect_eq(top, phases * (v == 2 ? T : groups),
                                 "T=%zu, %s, variant %d: the top counter %lu after %lu phases", T,
                                 scheds[k], v, top, phases);
                    size_t workers = 0;
                    for (size_t g = 0; v != 2 && g < groups; g++) {
                        const unsigned long n = atomic_load(&tr->dyn->gdone[g].seq);
                        cr_expect_eq(n, phases * tr->dyn->gsize[g],
                                     "T=%zu, variant %d: group %zu counted %lu items, not %lu x "
                                     "%lu",
                                     T, v, g, n, phases, tr->dyn->gsize[g]);
                        workers += tr->dyn->gsize[g];
                    }
                    cr_expect_eq(workers, v == 2 ? 0 : T);
                }
                keep(&r[v], tr, sched, net);
                unsetenv("DPT_STEP");
                unsetenv("DPT_BARRIER_RUNS");
                unsetenv("DPT_TEST_STAND_DOWN");
            }
            for (int v = 1; v < 4; v++) {
                cr_expect(memcmp(r[0].params, r[v].params, r[0].n_params * sizeof(float)) == 0,
                          "T=%zu, %s, variant %d: the parameters differ from the barrier "
                          "version's (%g)",
                          T, scheds[k], v, rel_diff(&r[v], &r[0]));
                cr_expect(r[v].last.train_loss == r[0].last.train_loss,
                          "T=%zu, %s, variant %d: the loss %.17g, not %.17g", T, scheds[k], v,
                          r[v].last.train_loss, r[0].last.train_loss);
            }
            for (int v = 0; v < 4; v++)
                free(r[v].params);
        }
    dpt_dataset_destroy(ds);
}

// dpt_split_first: the reference networks' choices (S: whole units at T = 2, pieces from T = 8
// on, 2 or 3 rows each at 64; M: pieces too uneven from T = 16; L: whole units up to T = 16; the
// default network 784-256-10: pieces from T = 8 on, 4 or 5 rows each at 64). Wherever it says
// yes, dpt_split_rows deals layer 1 to every worker but at most one, which then holds rows of
// another layer: whole units, at least 4 each; or pieces that differ by at most one row, or equal
// pieces and a shorter one.
Test(trainer, split_first_deals_layer_1_to_every_worker_but_one_at_most)
{
    const size_t nets[][4] = {{784, 128, 10, 0},
                              {784, 512, 512, 10},
                              {784, 1024, 1024, 10},
                              {96, 64, 3, 0},
                              {784, 256, 10, 0}};
    const int want[][5] = {// at T = 2, 8, 16, 32, 64
                           {1, 2, 2, 2, 2},
                           {1, 1, 0, 0, 0},
                           {1, 1, 1, 0, 0},
                           {2, 2, 2, 2, 0},
                           {1, 2, 2, 2, 2}};
    const size_t at[] = {2, 8, 16, 32, 64};
    for (size_t k = 0; k < 5; k++) {
        struct dpt_net_spec spec = dpt_net_spec_default();
        spec.n_layers = nets[k][3] ? 3 : 2;
        for (size_t l = 0; l <= spec.n_layers; l++)
            spec.sizes[l] = nets[k][l];
        for (size_t i = 0; i < 5; i++)
            cr_expect_eq(dpt_split_first(&spec, at[i]), want[k][i], "net %zu, T=%zu", k, at[i]);
        cr_expect_eq(dpt_split_first(&spec, 1), 0, "net %zu, one worker", k);
        const size_t L1 = spec.n_layers + 1;
        for (size_t T = 2; T <= 130; T++) {
            if (!dpt_split_first(&spec, T))
                continue;
            size_t *lo = calloc(T * L1, sizeof *lo), *hi = calloc(T * L1, sizeof *hi);
            cr_assert(lo && hi);
            dpt_split_rows(&spec, T, lo, hi);
            size_t without = 0, least = SIZE_MAX, most = 0, at_most = 0;
            for (size_t t = 0; t < T; t++) {
                const size_t rows = hi[t * L1 + 1] - lo[t * L1 + 1];
                size_t other = 0;
                for (size_t l = 2; l < L1; l++)
                    other += hi[t * L1 + l] - lo[t * L1 + l];
                if (rows == 0) {
                    without++;
                    cr_expect_gt(other, 0u, "net %zu, T=%zu: worker %zu holds no rows", k, T, t);
                    continue;
                }
                least = rows < least ? rows : least;
                most = rows > most ? rows : most;
            }
            for (size_t t = 0; t < T; t++)
                at_most += hi[t * L1 + 1] - lo[t * L1 + 1] == most;
            cr_expect_leq(without, 1u, "net %zu, T=%zu: %zu workers without layer 1", k, T,
                          without);
            if (dpt_split_first(&spec, T) == 1) { // whole 16-row units, at least 4 each
                cr_expect_leq(most - least, 16u, "net %zu, T=%zu: %zu to %zu rows", k, T, least,
                              most);
                cr_expect(without == 0 && least >= 4 * 16, "net %zu, T=%zu: %zu rows", k, T, least);
            } else { // as even as rows allow, or equal pieces and a shorter one
                cr_expect(most - least <= 1 || at_most == T - without - 1,
                          "net %zu, T=%zu: pieces of %zu to %zu rows, %zu of %zu", k, T, least,
                          most, at_most, most);
            }
            free(lo);
            free(hi);
        }
    }
}

// Sliced mode's row split: every row of every layer belongs to exactly one worker, and the
// gradient work (rows x fan-in) is spread evenly enough that no worker carries much more than
// its share, also when a hidden layer has fewer 16-row units than there are workers (S's 128-wide
// layer at T = 9..16; before, such a layer went whole to one worker, 15.8x its share at T = 16).
// Bound: 1.25x the mean over the workers for the reference networks S, M and L at T = 1..16.
Test(trainer, sliced_row_split_covers_and_balances)
{
    const size_t nets[][4] = {
        {784, 128, 10, 0}, {784, 512, 512, 10}, {784, 1024, 1024, 10}, {2, 37, 21, 3}};
    for (size_t k = 0; k < 4; k++) {
        struct dpt_net_spec spec = dpt_net_spec_default();
        spec.n_layers = nets[k][3] ? 3 : 2;
        for (size_t l = 0; l <= spec.n_layers; l++)
            spec.sizes[l] = nets[k][l];
        const size_t L1 = spec.n_layers + 1;
        for (size_t T = 1; T <= 20; T++) {
            size_t *lo = calloc(T * L1, sizeof *lo), *hi = calloc(T * L1, sizeof *hi);
            cr_assert(lo && hi);
            dpt_split_rows(&spec, T, lo, hi);
            double total = 0.0, worst = 0.0;
            for (size_t t = 0; t < T; t++) {
                double load = 0.0;
                for (size_t l = 1; l < L1; l++) {
                    cr_assert_leq(lo[t * L1 + l], hi[t * L1 + l]);
                    cr_assert_leq(hi[t * L1 + l], spec.sizes[l]);
                    load += (double)(hi[t * L1 + l] - lo[t * L1 + l]) * (double)spec.sizes[l - 1];
                }
                total += load;
                worst = load > worst ? load : worst;
            }
            for (size_t l = 1; l < L1; l++) {
                for (size_t j = 0; j < spec.sizes[l]; j++) {
                    size_t owners = 0;
                    for (size_t t = 0; t < T; t++)
                        owners += lo[t * L1 + l] <= j && j < hi[t * L1 + l];
                    cr_assert_eq(owners, 1, "net %zu, T=%zu: layer %zu row %zu has %zu owners", k,
                                 T, l, j, owners);
                }
            }
            if (k < 3 && T <= 16)
                cr_assert_leq(worst, 1.25 * total / (double)T,
                              "net %zu, T=%zu: the busiest worker has %.2fx the mean work", k, T,
                              worst * (double)T / total);
            free(lo);
            free(hi);
        }
    }
}

static struct dpt_trainer *create_mode(struct dpt_net *net, struct dpt_schedule *sched,
                                       size_t batch, size_t threads, enum dpt_grad_mode g,
                                       bool reproducible, enum dpt_status want)
{
    struct dpt_train_params p = dpt_train_params_default();
    p.batch = batch;
    p.threads = threads;
    p.grad_mode = g;
    p.reproducible = reproducible;
    struct dpt_trainer *tr = NULL;
    cr_assert_eq(dpt_trainer_create(net, sched, &p, &tr), want, "%s", dpt_last_error());
    return tr;
}

// Auto picks sliced while the batch workspace is no larger than the T private gradients, and
// private mode for big batches and in reproducible mode; the step is fused only for a linear
// schedule; an explicit sliced request that cannot be honoured is an error naming the conflict.
Test(trainer, gradient_mode_resolution)
{
    struct setup s = {"", {20, 30, 3}, 2, DPT_ACT_RELU, "", 8};
    struct dpt_net *net = make_net(&s, 1); // 20*30 + 30 + 30*3 + 3 = 723 parameters
    struct dpt_schedule *sgd, *adam;
    dpt_schedule_parse("sgd", &sgd);
    dpt_schedule_parse("adam", &adam);
    struct dpt_trainer *tr = create_mode(net, sgd, 8, 2, DPT_GRAD_AUTO, false, DPT_OK);
    cr_assert_eq(dpt_trainer_grad_mode(tr), DPT_GRAD_SLICED);
    cr_assert(dpt_trainer_fused_step(tr));
    dpt_trainer_destroy(tr);
    tr = create_mode(net, adam, 8, 2, DPT_GRAD_AUTO, false, DPT_OK);
    cr_assert_eq(dpt_trainer_grad_mode(tr), DPT_GRAD_SLICED);
    cr_assert(!dpt_trainer_fused_step(tr));
    dpt_trainer_destroy(tr);
    // 512 rows x (20 + 2 x 30 + 2 x 3) floats is far more than 2 x 723.
    tr = create_mode(net, sgd, 512, 2, DPT_GRAD_AUTO, false, DPT_OK);
    cr_assert_eq(dpt_trainer_grad_mode(tr), DPT_GRAD_PRIVATE);
    cr_assert(!dpt_trainer_fused_step(tr));
    dpt_trainer_destroy(tr);
    tr = create_mode(net, sgd, 512, 2, DPT_GRAD_SLICED, false, DPT_OK);
    cr_assert_eq(dpt_trainer_grad_mode(tr), DPT_GRAD_SLICED);
    dpt_trainer_destroy(tr);
    tr = create_mode(net, sgd, 8, 2, DPT_GRAD_AUTO, true, DPT_OK);
    cr_assert_eq(dpt_trainer_grad_mode(tr), DPT_GRAD_PRIVATE);
    dpt_trainer_destroy(tr);
    create_mode(net, sgd, 8, 2, DPT_GRAD_SLICED, true, DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "reproducible"), "%s", dpt_last_error());
    create_mode(net, sgd, 8, 2, (enum dpt_grad_mode)7, false, DPT_ERR_INVALID);
    enum dpt_grad_mode g;
    cr_assert_eq(dpt_grad_mode_parse("sliced", &g), DPT_OK);
    cr_assert_eq(g, DPT_GRAD_SLICED);
    cr_assert_str_eq(dpt_grad_mode_name(DPT_GRAD_PRIVATE), "private");
    cr_assert_eq(dpt_grad_mode_parse("shared", &g), DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "'shared'"), "%s", dpt_last_error());
    // With layer 1 split by rows (784-128-2 at 2 threads) and a batch of 64, the batch workspace
    // (64 x (784 + 2 x 128 + 2 x 2) floats) plus layer 1's second buffer fit in the 2 private
    // gradients (2 x 100866 floats), but not with each worker's two copies of the inputs
    // (2 x 2 x 64 x 784 more): auto counts those copies only where they are made, i.e. unless the
    // built-in kernels read the inputs in place.
    struct setup wide = {"", {784, 128, 2}, 2, DPT_ACT_RELU, "", 64};
    struct dpt_net *net2 = make_net(&wide, 1);
    const int in_place = dpt_gemm_rows_available();
    tr = create_mode(net2, sgd, 64, 2, DPT_GRAD_AUTO, false, DPT_OK);
    cr_assert_eq(dpt_trainer_grad_mode(tr), in_place ? DPT_GRAD_SLICED : DPT_GRAD_PRIVATE);
    dpt_trainer_destroy(tr);
    dpt_isa_force(DPT_ISA_GENERIC); // the BLAS only: the inputs are copied, so private mode
    tr = create_mode(net2, sgd, 64, 2, DPT_GRAD_AUTO, false, DPT_OK);
    cr_assert_eq(dpt_trainer_grad_mode(tr), DPT_GRAD_PRIVATE);
    dpt_trainer_destroy(tr);
    dpt_isa_reset();
    dpt_net_destroy(net2);
    dpt_schedule_destroy(sgd);
    dpt_schedule_destroy(adam);
    dpt_net_destroy(net);
}

// In sliced mode nothing is reduced: the breakdown has compute, waits and (for a schedule that is
// not folded into the product) update time, and no reduction time.
Test(trainer, sliced_timing_has_no_reduction)
{
    struct dpt_dataset *ds = load("synth:spirals,n=2000,seed=1");
    struct dpt_net *net = make_net(&spirals_setup, 1);
    struct dpt_schedule *sched;
    dpt_schedule_parse("adam", &sched);
    struct dpt_trainer *tr = create_mode(net, sched, 32, 2, DPT_GRAD_SLICED, false, DPT_OK);
    struct dpt_epoch_stats st;
    cr_assert_eq(dpt_trainer_epoch(tr, ds, NULL, NULL, &st), DPT_OK);
    cr_assert(st.time.compute_s > 0 && st.time.update_s > 0 && st.time.wait_s >= 0);
    cr_assert_eq(st.time.reduce_s, 0.0);
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
    dpt_dataset_destroy(ds);
}
