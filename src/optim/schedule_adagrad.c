// Per-parameter adaptive rates from a running sum or average of squared gradients: AdaGrad
// (exactly as docs/math.md) and RMSprop (the PyTorch convention, eps outside the square root).
//
// Per-step scalars are computed once in double and rounded to float; the loops are float only.
#include <math.h>

#include "optim/schedule_impl.h"

// G += g .* g; theta -= lr g / (sqrt(G) + eps)
DPT_SCHED_STEP(adagrad_step)
{
    const struct dpt_sched_base *b = s->impl;
    const float lr = (float)(b->h.lr * ctx->lr_mult);
    const float eps = (float)b->h.eps;
    dpt_sched_l2((float)b->h.wd, theta, grad, lo, hi);
    float *restrict t = theta;
    const float *restrict g = grad;
    float *restrict acc = s->state;
    DPT_SIMD_SQRT
    for (size_t i = lo; i < hi; i++) {
        acc[i] += g[i] * g[i];
        t[i] -= lr * g[i] / (sqrtf(acc[i]) + eps);
    }
}
DPT_SCHED_STEP_LEVELS(adagrad_step)

// r = rho r + (1 - rho) g .* g; theta -= lr g / (sqrt(r) + eps)
DPT_SCHED_STEP(rmsprop_step)
{
    const struct dpt_sched_base *b = s->impl;
    const float lr = (float)(b->h.lr * ctx->lr_mult);
    const float eps = (float)b->h.eps;
    const float rho = (float)b->h.rho;
    const float one_m_rho = (float)(1.0 - b->h.rho);
    dpt_sched_l2((float)b->h.wd, theta, grad, lo, hi);
    float *restrict t = theta;
    const float *restrict g = grad;
    float *restrict r = s->state;
    DPT_SIMD_SQRT
    for (size_t i = lo; i < hi; i++) {
        r[i] = rho * r[i] + one_m_rho * (g[i] * g[i]);
        t[i] -= lr * g[i] / (sqrtf(r[i]) + eps);
    }
}
DPT_SCHED_STEP_LEVELS(rmsprop_step)

enum dpt_status dpt_sched_make_adagrad(const struct dpt_sched_hyper *h, struct dpt_schedule **out)
{
    return dpt_sched_base_create("adagrad", 0, 1, adagrad_step_levels, h, out);
}

enum dpt_status dpt_sched_make_rmsprop(const struct dpt_sched_hyper *h, struct dpt_schedule **out)
{
    return dpt_sched_base_create("rmsprop", 0, 1, rmsprop_step_levels, h, out);
}
