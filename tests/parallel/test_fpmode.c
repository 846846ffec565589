// Denormals inside training jobs: every worker runs its part of a step with flush-to-zero and
// denormals-are-zero (x86-64: MXCSR FTZ and DAZ; arm64: FPCR.FZ), and the calling thread's own
// floating-point mode is restored when the trainer returns. A user schedule probes the mode from
// inside the step, where every worker calls it.
#include <criterion/criterion.h>
#include <stdatomic.h>

#include <dptrain/dptrain.h>

static atomic_int calls, flushed_in, flushed_out;

// 1 when a denormal result is flushed to zero; 2 when a denormal input is read as zero.
static int probe(void)
{
    volatile float tiny = 0x1p-140f, one = 1.0f, small = 0x1p-120f, scale = 0x1p-10f;
    const float out = small * scale; // 2^-130: a denormal result
    const float in = tiny * one;     // a denormal operand, exact without DAZ/FZ
    return (out == 0.0f) | (in == 0.0f) << 1;
}

static void probe_step(struct dpt_schedule *s, const struct dpt_step_ctx *ctx, float *theta,
                       float *grad, size_t lo, size_t hi)
{
    (void)s;
    const int f = probe();
    atomic_fetch_add(&calls, 1);
    if (f & 1)
        atomic_fetch_add(&flushed_out, 1);
    if (f & 2)
        atomic_fetch_add(&flushed_in, 1);
    for (size_t i = lo; i < hi; i++)
        theta[i] -= (float)(0.05 * ctx->lr_mult) * grad[i];
}

static void train_and_probe(size_t threads, enum dpt_grad_mode mode)
{
    struct dpt_dataset *data = NULL;
    struct dpt_net *net = NULL;
    struct dpt_trainer *tr = NULL;
    cr_assert_eq(dpt_data_load("synth:xor,n=96,seed=3", 0, &data), DPT_OK);
    struct dpt_net_spec spec = dpt_net_spec_default();
    spec.n_layers = 2;
    spec.sizes[0] = 2;
    spec.sizes[1] = 16;
    spec.sizes[2] = 2;
    spec.act[0] = DPT_ACT_RELU;
    spec.act[1] = DPT_ACT_SOFTMAX;
    spec.loss = DPT_LOSS_XENT;
    cr_assert_eq(dpt_net_create(&spec, &net), DPT_OK);
    cr_assert_eq(dpt_net_init(net, DPT_INIT_AUTO, 0.0f, 7), DPT_OK);
    struct dpt_schedule s = {.name = "probe", .step = probe_step};
    struct dpt_train_params p = dpt_train_params_default();
    p.batch = 16;
    p.max_epochs = 2;
    p.threads = threads;
    p.grad_mode = mode;
    cr_assert_eq(dpt_trainer_create(net, &s, &p, &tr), DPT_OK, "%s", dpt_last_error());
    atomic_store(&calls, 0);
    atomic_store(&flushed_in, 0);
    atomic_store(&flushed_out, 0);
    cr_assert_eq(dpt_trainer_fit(tr, data, NULL, NULL, NULL), DPT_OK, "%s", dpt_last_error());
    const int n = atomic_load(&calls);
    cr_assert_gt(n, 0, "the schedule was never called");
    cr_expect_eq(atomic_load(&flushed_out), n, "%d of %d steps kept a denormal result",
                 n - atomic_load(&flushed_out), n);
    cr_expect_eq(atomic_load(&flushed_in), n, "%d of %d steps read a denormal operand",
                 n - atomic_load(&flushed_in), n);
    // The caller's own mode is back: denormals are computed again.
    cr_expect_eq(probe(), 0, "the calling thread still flushes denormals after the fit");
    dpt_trainer_destroy(tr);
    dpt_net_destroy(net);
    dpt_dataset_destroy(data);
}

Test(fpmode, denormals_flushed_inside_jobs_and_restored_after)
{
    cr_assert_eq(probe(), 0, "this thread flushes denormals before any trainer ran");
    train_and_probe(1, DPT_GRAD_PRIVATE);
    train_and_probe(2, DPT_GRAD_PRIVATE);
    train_and_probe(2, DPT_GRAD_SLICED);
}
