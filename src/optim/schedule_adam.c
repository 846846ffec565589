// Adam and AdamW (Kingma & Ba; Loshchilov & Hutter), in the PyTorch convention: bias-corrected
// moments, eps added after the square root, AdamW's decoupled decay applied before the update.
//
// State: m in state[0, n), v in state[n, 2n). The bias corrections depend only on the step
// number, so they are folded into two float scalars outside the loop:
//   theta = theta * decay - (lr / bc1) * m / (sqrt(v) * (1 / sqrt(bc2)) + eps)
// which is lr * mhat / (sqrt(vhat) + eps) with mhat = m / bc1 and vhat = v / bc2.
#include <math.h>

#include "optim/schedule_impl.h"

// The shared loop; decay is 1 for adam (multiplying by 1.0f is exact, so adam stays bitwise the
// plain formula) and 1 - lr * wd for adamw.
static inline DPT_ALWAYS_INLINE void adam_update(struct dpt_schedule *s,
                                                 const struct dpt_step_ctx *ctx, float decay,
                                                 float *theta, const float *grad, size_t lo,
                                                 size_t hi)
{
    const struct dpt_sched_base *b = s->impl;
    // A step number of 0 would make the bias corrections 0; treat it as the first step.
    const double t_step = ctx->step ? (double)ctx->step : 1.0;
    const double bc1 = 1.0 - pow(b->h.b1, t_step);
    const double bc2 = 1.0 - pow(b->h.b2, t_step);
    const float step_size = (float)(b->h.lr * ctx->lr_mult / bc1);
    const float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    const float b1 = (float)b->h.b1, one_m_b1 = (float)(1.0 - b->h.b1);
    const float b2 = (float)b->h.b2, one_m_b2 = (float)(1.0 - b->h.b2);
    const float eps = (float)b->h.eps;
    float *restrict t = theta;
    const float *restrict g = grad;
    float *restrict m = s->state;
    float *restrict v = s->state + b->n_params;
    DPT_SIMD_SQRT
    for (size_t i = lo; i < hi; i++) {
        m[i] = b1 * m[i] + one_m_b1 * g[i];
        v[i] = b2 * v[i] + one_m_b2 * (g[i] * g[i]);
        t[i] = t[i] * decay - step_size * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
    }
}

DPT_SCHED_STEP(adam_step)
{
    const struct dpt_sched_base *b = s->impl;
    dpt_sched_l2((float)b->h.wd, theta, grad, lo, hi);
    adam_update(s, ctx, 1.0f, theta, grad, lo, hi);
}
DPT_SCHED_STEP_LEVELS(adam_step)

// theta -= lr wd theta, then the adam update (wd is decoupled: it never enters m or v).
DPT_SCHED_STEP(adamw_step)
{
    const struct dpt_sched_base *b = s->impl;
    const float decay = (float)(1.0 - b->h.lr * ctx->lr_mult * b->h.wd);
    adam_update(s, ctx, decay, theta, grad, lo, hi);
}
DPT_SCHED_STEP_LEVELS(adamw_step)

enum dpt_status dpt_sched_make_adam(const struct dpt_sched_hyper *h, struct dpt_schedule **out)
{
    return dpt_sched_base_create("adam", 0, 2, adam_step_levels, h, out);
}

enum dpt_status dpt_sched_make_adamw(const struct dpt_sched_hyper *h, struct dpt_schedule **out)
{
    return dpt_sched_base_create("adamw", 0, 2, adamw_step_levels, h, out);
}
