// The plain gradient-descent family: fixed rate (alias sgd), normalized (fixed-length steps),
// heavy-ball momentum and Nesterov momentum (both in the PyTorch convention).
//
// Every step computes its per-step scalars once in double, rounds them to float, then runs one
// tight float loop over [lo, hi): the loops run once per batch over up to millions of parameters
// and are memory-bound, so they must vectorise and touch each vector once.
#include <math.h>

#include "core/error_impl.h"
#include "optim/schedule_impl.h"

// theta -= lr * g
DPT_SCHED_STEP(fixed_step)
{
    const struct dpt_sched_base *b = s->impl;
    const float lr = (float)(b->h.lr * ctx->lr_mult);
    dpt_sched_l2((float)b->h.wd, theta, grad, lo, hi);
    float *restrict t = theta;
    const float *restrict g = grad;
#pragma omp simd
    for (size_t i = lo; i < hi; i++)
        t[i] -= lr * g[i];
}
DPT_SCHED_STEP_LEVELS(fixed_step)

// theta -= lr * g / ||g||: a step of length lr in the gradient's direction, whatever its size.
// A zero or non-finite norm gives no step (there is no direction to follow, and dividing would
// turn the parameters into NaN).
DPT_SCHED_STEP(normalized_step)
{
    const struct dpt_sched_base *b = s->impl;
    const double sq = ctx->grad_sq_norm;
    if (!(sq > 0.0 && sq < INFINITY))
        return;
    const float scale = (float)(b->h.lr * ctx->lr_mult / sqrt(sq));
    float *restrict t = theta;
    const float *restrict g = grad;
#pragma omp simd
    for (size_t i = lo; i < hi; i++)
        t[i] -= scale * g[i];
}
DPT_SCHED_STEP_LEVELS(normalized_step)

// v = mu v + g; theta -= lr v
DPT_SCHED_STEP(momentum_step)
{
    const struct dpt_sched_base *b = s->impl;
    const float lr = (float)(b->h.lr * ctx->lr_mult);
    const float mu = (float)b->h.mu;
    dpt_sched_l2((float)b->h.wd, theta, grad, lo, hi);
    float *restrict t = theta;
    const float *restrict g = grad;
    float *restrict v = s->state;
#pragma omp simd
    for (size_t i = lo; i < hi; i++) {
        v[i] = mu * v[i] + g[i];
        t[i] -= lr * v[i];
    }
}
DPT_SCHED_STEP_LEVELS(momentum_step)

// v = mu v + g; theta -= lr (g + mu v)
DPT_SCHED_STEP(nesterov_step)
{
    const struct dpt_sched_base *b = s->impl;
    const float lr = (float)(b->h.lr * ctx->lr_mult);
    const float mu = (float)b->h.mu;
    dpt_sched_l2((float)b->h.wd, theta, grad, lo, hi);
    float *restrict t = theta;
    const float *restrict g = grad;
    float *restrict v = s->state;
#pragma omp simd
    for (size_t i = lo; i < hi; i++) {
        v[i] = mu * v[i] + g[i];
        t[i] -= lr * (g[i] + mu * v[i]);
    }
}
DPT_SCHED_STEP_LEVELS(nesterov_step)

enum dpt_status dpt_sched_make_fixed(const struct dpt_sched_hyper *h, struct dpt_schedule **out)
{
    // With weight decay the step also depends on theta itself: not a plain rate times gradient.
    return dpt_sched_base_create("fixed", h->wd == 0.0 ? DPT_SCHEDULE_LINEAR : 0, 0,
                                 fixed_step_levels, h, out);
}

enum dpt_status dpt_sched_make_normalized(const struct dpt_sched_hyper *h,
                                          struct dpt_schedule **out)
{
    return dpt_sched_base_create("normalized", DPT_SCHEDULE_NEEDS_NORM, 0, normalized_step_levels,
                                 h, out);
}

enum dpt_status dpt_sched_make_momentum(const struct dpt_sched_hyper *h, struct dpt_schedule **out)
{
    return dpt_sched_base_create("momentum", 0, 1, momentum_step_levels, h, out);
}

enum dpt_status dpt_sched_make_nesterov(const struct dpt_sched_hyper *h, struct dpt_schedule **out)
{
    return dpt_sched_base_create("nesterov", 0, 1, nesterov_step_levels, h, out);
}

// `sgd` with PyTorch's keys: SGD(momentum=0) is the plain rule, momentum > 0 the heavy-ball rule
// and nesterov=1 Nesterov's (PyTorch, too, refuses nesterov without momentum).
enum dpt_status dpt_sched_make_sgd(const struct dpt_sched_hyper *h, struct dpt_schedule **out)
{
    if (h->nesterov != 0.0 && h->mu == 0.0)
        return dpt_error(DPT_ERR_INVALID,
                         "schedule: 'sgd' with nesterov=1 needs momentum > 0 (e.g. "
                         "sgd:lr=0.1,momentum=0.9,nesterov=1)");
    if (h->nesterov != 0.0)
        return dpt_sched_make_nesterov(h, out);
    return h->mu > 0.0 ? dpt_sched_make_momentum(h, out) : dpt_sched_make_fixed(h, out);
}
