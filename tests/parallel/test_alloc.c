// Allocation failures in the trainer: every allocation of dpt_trainer_create (including the
// per-worker gradient buffers and workspaces that each worker allocates on its own thread) and of
// a short dpt_trainer_fit (permutation, evaluation buffers, the early-stopping copy) fails in
// turn, on both engines: an error status with a message, *out NULL, nothing leaked, and the
// worker threads joined.
#include <criterion/criterion.h>

#include "alloc_walk.h"

struct trainer_case {
    struct dpt_net *net;
    struct dpt_dataset *train, *val;
    struct dpt_train_params p;
    int fit; // also run one epoch of dpt_trainer_fit
};

static enum dpt_status try_trainer(void *arg)
{
    struct trainer_case *c = arg;
    struct dpt_schedule *s = NULL;
    struct dpt_trainer *tr = NULL;
    // A fresh schedule per attempt: the trainer initialises its per-parameter state.
    enum dpt_status st = dpt_schedule_parse("adam:lr=1e-2", &s);
    if (st != DPT_OK)
        return st;
    st = dpt_trainer_create(c->net, s, &c->p, &tr);
    if (st != DPT_OK)
        cr_assert_null(tr, "*out must be NULL on error");
    if (st == DPT_OK && c->fit) {
        struct dpt_epoch_stats last;
        st = dpt_trainer_fit(tr, c->train, c->val, NULL, &last);
    }
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(s);
    return st;
}

static void case_init(struct trainer_case *c)
{
    struct dpt_net_spec spec = dpt_net_spec_default();
    spec.n_layers = 2;
    spec.sizes[0] = 2;
    spec.sizes[1] = 8;
    spec.sizes[2] = 2;
    spec.act[0] = DPT_ACT_TANH;
    spec.act[1] = DPT_ACT_SOFTMAX;
    cr_assert_eq(dpt_net_create(&spec, &c->net), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_net_init(c->net, DPT_INIT_AUTO, 0.0f, 1), DPT_OK);
    cr_assert_eq(dpt_synth("xor", 64, 0, 1, &c->train), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_synth("xor", 16, 0, 2, &c->val), DPT_OK, "%s", dpt_last_error());
    c->p = dpt_train_params_default();
    c->p.threads = 2;
    c->p.batch = 16;
    c->p.max_epochs = 1;
    c->p.pin = DPT_PIN_NONE;
    c->fit = 0;
}

static void case_fini(struct trainer_case *c)
{
    dpt_dataset_destroy(c->train);
    dpt_dataset_destroy(c->val);
    dpt_net_destroy(c->net);
}

Test(parallel, trainer_create_survives_every_failed_allocation)
{
    struct trainer_case c;
    case_init(&c);
    for (int engine = 0; engine <= 1; engine++) {
        c.p.engine = engine ? DPT_ENGINE_OPENMP : DPT_ENGINE_PTHREADS;
        for (int repro = 0; repro <= 1; repro++) {
            c.p.reproducible = repro;
            cr_assert_geq(alloc_walk(engine ? "trainer_create openmp" : "trainer_create pthreads",
                                     try_trainer, &c, DPT_ERR_NOMEM),
                          8);
        }
    }
    case_fini(&c);
}

Test(parallel, trainer_fit_survives_every_failed_allocation)
{
    struct trainer_case c;
    case_init(&c);
    c.fit = 1;
    c.p.patience = 2; // the best-parameters copy
    c.p.pin = DPT_PIN_COMPACT;
    cr_assert_geq(alloc_walk("trainer_fit", try_trainer, &c, DPT_ERR_NOMEM), 8);
    case_fini(&c);
}
