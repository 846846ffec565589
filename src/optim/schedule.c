// The schedule interface: the thin public calls (init, step, rate, destroy, state along the
// chain) and the pieces every built-in shares (allocation, base-schedule state, destroy, L2).
#include <math.h>
#include <string.h>

#include "core/error_impl.h"
#include "optim/schedule_impl.h"

// ---- public calls ----

// Runs the schedule's init, then checks the state contract along the chain (see optim.h).
enum dpt_status dpt_schedule_init(struct dpt_schedule *s, size_t n_params)
{
    if (!s)
        return dpt_error(DPT_ERR_INVALID, "schedule: NULL schedule");
    if (!s->step)
        return dpt_error(DPT_ERR_INVALID, "schedule '%s': step function is NULL",
                         s->name ? s->name : "(unnamed)");
    if (!s->init)
        return DPT_OK;
    enum dpt_status st = s->init(s, n_params);
    if (st != DPT_OK)
        return st;
    // A checkpoint saves state_len floats from state: a user init that breaks that contract would
    // otherwise surface much later as a crash while saving.
    for (const struct dpt_schedule *p = s; p; p = p->inner) {
        if (p->state_len != 0 && !p->state)
            return dpt_error(DPT_ERR_INVALID,
                             "schedule '%s': init set state_len %zu but state is NULL",
                             p->name ? p->name : "(unnamed)", p->state_len);
        if (n_params != 0 && p->state_len % n_params != 0)
            return dpt_error(DPT_ERR_INVALID,
                             "schedule '%s': state_len %zu is not a multiple of n_params %zu",
                             p->name ? p->name : "(unnamed)", p->state_len, n_params);
    }
    return DPT_OK;
}

// The hot path: no checks beyond an empty slice (validated at init).
void dpt_schedule_step(struct dpt_schedule *s, const struct dpt_step_ctx *ctx, float *theta,
                       float *grad, size_t lo, size_t hi)
{
    if (lo < hi)
        s->step(s, ctx, theta, grad, lo, hi);
}

// NAN when there is nothing to ask, so a log shows the gap instead of a made-up rate.
double dpt_schedule_rate(const struct dpt_schedule *s, uint64_t step)
{
    if (!s || !s->rate)
        return NAN;
    return s->rate(s, step);
}

// A user struct without destroy owns nothing the library knows of: leave it alone.
void dpt_schedule_destroy(struct dpt_schedule *s)
{
    if (s && s->destroy)
        s->destroy(s);
}

// State of the whole chain, outermost first: the order save and load use.
size_t dpt_schedule_state_len(const struct dpt_schedule *s)
{
    size_t total = 0;
    for (const struct dpt_schedule *p = s; p; p = p->inner)
        total += p->state_len;
    return total;
}

// Copies each link's state_len floats into buf, outermost first.
void dpt_schedule_state_save(const struct dpt_schedule *s, float *buf)
{
    for (const struct dpt_schedule *p = s; p; p = p->inner) {
        if (p->state_len) {
            memcpy(buf, p->state, p->state_len * sizeof *buf);
            buf += p->state_len;
        }
    }
}

// The inverse of dpt_schedule_state_save; the chain must have been initialised alike.
void dpt_schedule_state_load(struct dpt_schedule *s, const float *buf)
{
    for (struct dpt_schedule *p = s; p; p = p->inner) {
        if (p->state_len) {
            memcpy(p->state, buf, p->state_len * sizeof *buf);
            buf += p->state_len;
        }
    }
}

// ---- shared by the built-ins ----

// Built-ins are always heap-allocated by the parser, so the struct goes too.
void dpt_sched_destroy_builtin(struct dpt_schedule *s)
{
    if (!s)
        return;
    dpt_schedule_destroy(s->inner);
    dpt_free_aligned(s->state);
    dpt_free(s->impl);
    dpt_free(s);
}

enum dpt_status dpt_sched_alloc(const char *name, unsigned flags, size_t impl_bytes,
                                struct dpt_schedule **out)
{
    struct dpt_schedule *s = dpt_calloc(1, sizeof *s);
    void *impl = dpt_calloc(1, impl_bytes);
    if (!s || !impl) {
        dpt_free(s);
        dpt_free(impl);
        return dpt_error(DPT_ERR_NOMEM, "schedule '%s': out of memory", name);
    }
    s->name = name;
    s->flags = flags;
    s->impl = impl;
    s->destroy = dpt_sched_destroy_builtin;
    *out = s;
    return DPT_OK;
}

// Allocates n_state zeroed vectors of n_params floats. A second init starts from zero state again.
static enum dpt_status base_init(struct dpt_schedule *s, size_t n_params)
{
    struct dpt_sched_base *b = s->impl;
    size_t len, bytes;
    if (dpt_mul_overflow(b->n_state, n_params, &len) ||
        dpt_mul_overflow(len, sizeof(float), &bytes))
        return dpt_error(DPT_ERR_RANGE, "schedule '%s': state of %zu x %zu floats overflows",
                         s->name, b->n_state, n_params);
    float *state = NULL;
    if (len) {
        state = dpt_alloc_aligned(bytes);
        if (!state)
            return dpt_error(DPT_ERR_NOMEM, "schedule '%s': cannot allocate %zu floats of state",
                             s->name, len);
    }
    dpt_free_aligned(s->state);
    s->state = state;
    s->state_len = len;
    b->n_params = n_params;
    return DPT_OK;
}

// A base schedule's rate is its lr: wrappers multiply their factors on top.
static double base_rate(const struct dpt_schedule *s, uint64_t step)
{
    (void)step;
    const struct dpt_sched_base *b = s->impl;
    return b->h.lr;
}

enum dpt_status dpt_sched_base_create(const char *name, unsigned flags, size_t n_state,
                                      void (*step_fn)(struct dpt_schedule *,
                                                      const struct dpt_step_ctx *, float *, float *,
                                                      size_t, size_t),
                                      const struct dpt_sched_hyper *h, struct dpt_schedule **out)
{
    struct dpt_schedule *s = NULL;
    enum dpt_status st = dpt_sched_alloc(name, flags, sizeof(struct dpt_sched_base), &s);
    if (st != DPT_OK)
        return st;
    struct dpt_sched_base *b = s->impl;
    b->h = *h;
    b->n_state = n_state;
    s->init = base_init;
    s->step = step_fn;
    s->rate = base_rate;
    *out = s;
    return DPT_OK;
}
