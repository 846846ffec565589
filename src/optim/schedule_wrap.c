// The wrappers: gradient clipping and the rate schedules (step, exp, invtime, cosine, warmup).
// A wrapper owns its inner schedule, keeps no per-parameter state of its own, and reaches the
// inner update only through a private copy of the step context: clip rescales the gradient and
// the norm it reports, a rate wrapper multiplies ctx->lr_mult by its factor at this step.
#include <math.h>

#include "core/error_impl.h"
#include "optim/schedule_impl.h"

#define PI 3.14159265358979323846

struct wrap_impl {
    struct dpt_sched_hyper h;
    // The rate factor at a 1-based step; NULL for clip (factor 1).
    double (*factor)(const struct dpt_sched_hyper *h, uint64_t t);
};

// ---- rate factors (t >= 1) ----

// gamma^floor((t - 1) / every)
static double factor_step(const struct dpt_sched_hyper *h, uint64_t t)
{
    uint64_t periods = (t - 1) / (uint64_t)h->every;
    return pow(h->gamma, (double)periods);
}

// gamma^(t - 1)
static double factor_exp(const struct dpt_sched_hyper *h, uint64_t t)
{
    return pow(h->gamma, (double)(t - 1));
}

// 1 / (1 + k (t - 1))
static double factor_invtime(const struct dpt_sched_hyper *h, uint64_t t)
{
    return 1.0 / (1.0 + h->k * (double)(t - 1));
}

// min + (1 - min) (1 + cos(pi min(t - 1, T) / T)) / 2: 1 at t = 1, min from t = T + 1 on.
static double factor_cosine(const struct dpt_sched_hyper *h, uint64_t t)
{
    double x = (double)(t - 1);
    if (x > h->t)
        x = h->t;
    return h->min + (1.0 - h->min) * 0.5 * (1.0 + cos(PI * x / h->t));
}

// min(1, t / T): 1/T at the first step, 1 from step T on.
static double factor_warmup(const struct dpt_sched_hyper *h, uint64_t t)
{
    double x = (double)t;
    return x >= h->t ? 1.0 : x / h->t;
}

// ---- the wrapper calls ----

static enum dpt_status wrap_init(struct dpt_schedule *s, size_t n_params)
{
    return dpt_schedule_init(s->inner, n_params);
}

static double wrap_rate(const struct dpt_schedule *s, uint64_t step)
{
    const struct wrap_impl *w = s->impl;
    double r = dpt_schedule_rate(s->inner, step);
    if (w->factor)
        r *= w->factor(&w->h, step ? step : 1);
    return r;
}

static void rate_step(struct dpt_schedule *s, const struct dpt_step_ctx *ctx, float *theta,
                      float *grad, size_t lo, size_t hi)
{
    const struct wrap_impl *w = s->impl;
    struct dpt_step_ctx inner_ctx = *ctx;
    inner_ctx.lr_mult *= w->factor(&w->h, ctx->step ? ctx->step : 1);
    s->inner->step(s->inner, &inner_ctx, theta, grad, lo, hi);
}

// g *= min(1, max_norm / ||g||). Every thread computes the same scale from the shared global
// norm, so the slices agree. A non-finite norm is passed through untouched: scaling by 0 would
// hide the divergence the trainer is meant to report.
static void clip_step(struct dpt_schedule *s, const struct dpt_step_ctx *ctx, float *theta,
                      float *grad, size_t lo, size_t hi)
{
    const struct wrap_impl *w = s->impl;
    const double norm = sqrt(ctx->grad_sq_norm);
    if (norm > w->h.max_norm && norm < INFINITY) {
        struct dpt_step_ctx inner_ctx = *ctx;
        const double scale = w->h.max_norm / norm;
        const float sf = (float)scale;
        float *restrict g = grad;
#pragma omp simd
        for (size_t i = lo; i < hi; i++)
            g[i] *= sf;
        inner_ctx.grad_sq_norm = ctx->grad_sq_norm * scale * scale;
        s->inner->step(s->inner, &inner_ctx, theta, grad, lo, hi);
    } else {
        s->inner->step(s->inner, ctx, theta, grad, lo, hi);
    }
}

// ---- constructors ----

static enum dpt_status
wrap_create(const char *name, unsigned flags,
            void (*step_fn)(struct dpt_schedule *, const struct dpt_step_ctx *, float *, float *,
                            size_t, size_t),
            double (*factor)(const struct dpt_sched_hyper *, uint64_t),
            const struct dpt_sched_hyper *h, struct dpt_schedule *inner, struct dpt_schedule **out)
{
    if (!inner)
        return dpt_error(DPT_ERR_INVALID, "schedule '%s': no inner schedule", name);
    struct dpt_schedule *s = NULL;
    // Clipping rescales the gradient by its norm: the result is no longer linear in it.
    const unsigned inherited =
        step_fn == clip_step ? inner->flags & ~DPT_SCHEDULE_LINEAR : inner->flags;
    enum dpt_status st = dpt_sched_alloc(name, flags | inherited, sizeof(struct wrap_impl), &s);
    if (st != DPT_OK)
        return st;
    struct wrap_impl *w = s->impl;
    w->h = *h;
    w->factor = factor;
    s->init = wrap_init;
    s->step = step_fn;
    s->rate = wrap_rate;
    s->inner = inner;
    *out = s;
    return DPT_OK;
}

enum dpt_status dpt_sched_make_clip(const struct dpt_sched_hyper *h, struct dpt_schedule *inner,
                                    struct dpt_schedule **out)
{
    return wrap_create("clip", DPT_SCHEDULE_NEEDS_NORM, clip_step, NULL, h, inner, out);
}

enum dpt_status dpt_sched_make_stepdecay(const struct dpt_sched_hyper *h,
                                         struct dpt_schedule *inner, struct dpt_schedule **out)
{
    return wrap_create("step", 0, rate_step, factor_step, h, inner, out);
}

enum dpt_status dpt_sched_make_exp(const struct dpt_sched_hyper *h, struct dpt_schedule *inner,
                                   struct dpt_schedule **out)
{
    return wrap_create("exp", 0, rate_step, factor_exp, h, inner, out);
}

enum dpt_status dpt_sched_make_invtime(const struct dpt_sched_hyper *h, struct dpt_schedule *inner,
                                       struct dpt_schedule **out)
{
    return wrap_create("invtime", 0, rate_step, factor_invtime, h, inner, out);
}

enum dpt_status dpt_sched_make_cosine(const struct dpt_sched_hyper *h, struct dpt_schedule *inner,
                                      struct dpt_schedule **out)
{
    return wrap_create("cosine", 0, rate_step, factor_cosine, h, inner, out);
}

enum dpt_status dpt_sched_make_warmup(const struct dpt_sched_hyper *h, struct dpt_schedule *inner,
                                      struct dpt_schedule **out)
{
    return wrap_create("warmup", 0, rate_step, factor_warmup, h, inner, out);
}
