// Stopping mid-epoch and resuming from captured state (parameters, schedule state, trainer state)
// gives bitwise the parameters of an uninterrupted run.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dptrain/dptrain.h"

struct stopper {
    uint64_t stop_epoch;
    size_t stop_step;
    int fired;
};

static int stop_at(uint64_t epoch, size_t step, size_t steps, void *user)
{
    (void)steps;
    struct stopper *s = user;
    if (!s->fired && epoch == s->stop_epoch && step >= s->stop_step) {
        s->fired = 1;
        return 1;
    }
    return 0;
}

// How the runs form their gradients.
enum { MODE_PRIVATE, MODE_REPRO, MODE_SLICED };

struct run {
    struct dpt_net *net;
    struct dpt_schedule *sched;
    struct dpt_trainer *tr;
};

static struct run make(size_t threads, int mode, size_t patience, struct stopper *stop)
{
    struct dpt_net_spec spec = dpt_net_spec_default();
    spec.n_layers = 2;
    spec.sizes[0] = 2;
    spec.sizes[1] = 16;
    spec.sizes[2] = 3;
    spec.act[0] = DPT_ACT_TANH;
    spec.act[1] = DPT_ACT_SOFTMAX;
    struct run r;
    cr_assert_eq(dpt_net_create(&spec, &r.net), DPT_OK);
    dpt_net_init(r.net, DPT_INIT_AUTO, 0, 5);
    cr_assert_eq(dpt_schedule_parse("cosine(adam:lr=0.01),t=300", &r.sched), DPT_OK);
    struct dpt_train_params p = dpt_train_params_default();
    p.threads = threads;
    p.batch = 7;
    p.max_epochs = 4;
    p.seed = 99;
    p.patience = patience;
    p.reproducible = mode == MODE_REPRO;
    p.grad_mode = mode == MODE_SLICED ? DPT_GRAD_SLICED : DPT_GRAD_PRIVATE;
    if (stop) {
        p.on_progress = stop_at;
        p.progress_every = 1;
        p.user = stop;
    }
    cr_assert_eq(dpt_trainer_create(r.net, r.sched, &p, &r.tr), DPT_OK, "%s", dpt_last_error());
    return r;
}

static void drop(struct run *r)
{
    dpt_trainer_destroy(r->tr);
    dpt_schedule_destroy(r->sched);
    dpt_net_destroy(r->net);
}

static void resume_is_identical(size_t threads, int mode, size_t patience, uint64_t stop_epoch,
                                size_t stop_step)
{
    struct dpt_dataset *ds, *tr_ds, *val;
    cr_assert_eq(dpt_synth("blobs", 240, 3, 4, &ds), DPT_OK);
    cr_assert_eq(dpt_dataset_split(ds, 0.25, 1, &tr_ds, &val), DPT_OK);

    struct run ref = make(threads, mode, patience, NULL);
    cr_assert_eq(dpt_trainer_fit(ref.tr, tr_ds, val, NULL, NULL), DPT_OK);

    struct stopper stop = {stop_epoch, stop_step, 0};
    struct run a = make(threads, mode, patience, &stop);
    cr_assert_eq(dpt_trainer_fit(a.tr, tr_ds, val, NULL, NULL), DPT_ERR_INTERRUPTED);
    cr_assert(stop.fired);
    cr_assert_eq(dpt_trainer_stop_reason(a.tr), DPT_STOP_INTERRUPTED);
    // Capture everything a checkpoint holds.
    struct dpt_trainer_state st;
    dpt_trainer_get_state(a.tr, &st);
    cr_assert_eq(st.in_epoch, stop_step < 26); // 180 samples / batch 7 = 26 batches
    const size_t np = dpt_net_n_params(a.net);
    float *params = malloc(np * sizeof(float));
    memcpy(params, dpt_net_params(a.net), np * sizeof(float));
    const size_t sl = dpt_schedule_state_len(a.sched);
    float *sstate = malloc((sl ? sl : 1) * sizeof(float));
    dpt_schedule_state_save(a.sched, sstate);
    float *best = NULL;
    if (dpt_trainer_best_params(a.tr)) {
        best = malloc(np * sizeof(float));
        memcpy(best, dpt_trainer_best_params(a.tr), np * sizeof(float));
    }
    drop(&a);

    // A fresh process would rebuild everything from the checkpoint: do exactly that.
    struct run b = make(threads, mode, patience, NULL);
    memcpy(dpt_net_params(b.net), params, np * sizeof(float));
    cr_assert_eq(dpt_schedule_state_len(b.sched), sl);
    dpt_schedule_state_load(b.sched, sstate);
    cr_assert_eq(dpt_trainer_set_state(b.tr, &st), DPT_OK, "%s", dpt_last_error());
    if (best)
        cr_assert_eq(dpt_trainer_set_best_params(b.tr, best, np), DPT_OK);
    struct dpt_epoch_stats last;
    cr_assert_eq(dpt_trainer_fit(b.tr, tr_ds, val, NULL, &last), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_trainer_steps(b.tr), dpt_trainer_steps(ref.tr));
    // The resumed run ends for the reason the uninterrupted one did, with the same best epoch.
    cr_assert_eq(dpt_trainer_stop_reason(b.tr), dpt_trainer_stop_reason(ref.tr));
    cr_assert_eq(dpt_trainer_best_epoch(b.tr), dpt_trainer_best_epoch(ref.tr));
    cr_assert_eq(dpt_trainer_best_epoch(ref.tr) != 0, patience > 0);
    cr_assert_eq(memcmp(dpt_net_params(b.net), dpt_net_params(ref.net), np * sizeof(float)), 0,
                 "T=%zu mode=%d patience=%zu stop %llu/%zu: parameters differ", threads, mode,
                 patience, (unsigned long long)stop_epoch, stop_step);
    drop(&b);
    drop(&ref);
    free(params);
    free(sstate);
    free(best);
    dpt_dataset_destroy(tr_ds);
    dpt_dataset_destroy(val);
    dpt_dataset_destroy(ds);
}

Test(resume, mid_epoch_is_bitwise_identical)
{
    resume_is_identical(1, MODE_PRIVATE, 0, 2, 11);
    resume_is_identical(2, MODE_PRIVATE, 0, 1, 3);
    resume_is_identical(3, MODE_REPRO, 0, 3, 20);
    resume_is_identical(1, MODE_SLICED, 0, 2, 11);
    resume_is_identical(3, MODE_SLICED, 0, 1, 3);
}

Test(resume, at_epoch_end_is_bitwise_identical)
{
    resume_is_identical(2, MODE_PRIVATE, 0, 2, 26);
    resume_is_identical(2, MODE_SLICED, 0, 2, 26);
}

Test(resume, with_early_stopping_state)
{
    resume_is_identical(2, MODE_PRIVATE, 2, 3, 5);
    resume_is_identical(2, MODE_SLICED, 2, 3, 5);
}

Test(resume, rejects_inconsistent_state)
{
    struct run r = make(1, 0, 0, NULL);
    struct dpt_trainer_state st;
    dpt_trainer_get_state(r.tr, &st);
    st.in_epoch = 1; // but epoch 0 and no batches
    cr_assert_eq(dpt_trainer_set_state(r.tr, &st), DPT_ERR_INVALID);
    dpt_trainer_get_state(r.tr, &st);
    memset(st.rng, 0, sizeof st.rng); // xoshiro's one invalid state
    cr_assert_eq(dpt_trainer_set_state(r.tr, &st), DPT_ERR_INVALID);
    dpt_trainer_get_state(r.tr, &st);
    st.has_best = 1; // without early stopping
    cr_assert_eq(dpt_trainer_set_state(r.tr, &st), DPT_ERR_INVALID);
    dpt_trainer_get_state(r.tr, &st);
    st.steps = UINT64_MAX; // a tampered step counter would wrap at the next step
    cr_assert_eq(dpt_trainer_set_state(r.tr, &st), DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "out of range") != NULL, "%s", dpt_last_error());
    st.steps = (uint64_t)1 << 53; // the largest accepted
    cr_assert_eq(dpt_trainer_set_state(r.tr, &st), DPT_OK, "%s", dpt_last_error());
    dpt_trainer_get_state(r.tr, &st);
    st.since_best = st.epoch + 1;
    cr_assert_eq(dpt_trainer_set_state(r.tr, &st), DPT_ERR_INVALID);
    drop(&r);
}
