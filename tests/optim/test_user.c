// A user-defined schedule, written against the public header only (as docs/schedules.md shows):
// filled by hand, driven through dpt_schedule_init / step / rate / destroy, with and without
// state, wrapping a built-in; and the contract checks dpt_schedule_init makes on such structs.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <dptrain/dptrain.h>

// ---- a stateless user schedule: theta -= lr * sign(g) (signSGD) ----

static void sign_step(struct dpt_schedule *s, const struct dpt_step_ctx *ctx, float *theta,
                      float *grad, size_t lo, size_t hi)
{
    const float lr = (float)(*(const double *)s->impl * ctx->lr_mult);
    for (size_t i = lo; i < hi; i++)
        theta[i] -= grad[i] > 0 ? lr : grad[i] < 0 ? -lr : 0.0f;
}

Test(optim, user_schedule_without_state)
{
    double lr = 0.25;
    struct dpt_schedule s = {.name = "signsgd", .step = sign_step, .impl = &lr};
    cr_assert_eq(dpt_schedule_init(&s, 4), DPT_OK); // init NULL: nothing to do
    float theta[4] = {1, 1, 1, 1}, grad[4] = {3, -0.5f, 0, 1e-9f};
    struct dpt_step_ctx ctx = {.step = 1, .lr_mult = 1.0};
    dpt_schedule_step(&s, &ctx, theta, grad, 0, 4);
    cr_assert(theta[0] == 0.75f && theta[1] == 1.25f && theta[2] == 1.0f && theta[3] == 0.75f);
    cr_assert(isnan(dpt_schedule_rate(&s, 1)), "rate NULL must give NAN");
    cr_assert_eq(dpt_schedule_state_len(&s), 0);
    dpt_schedule_destroy(&s); // destroy NULL: a no-op on this stack struct
    cr_assert_str_eq(s.name, "signsgd");
    cr_assert_eq(s.step, sign_step);
    dpt_schedule_destroy(NULL);
}

// ---- a user schedule with state: per-parameter step counts, theta -= lr * g / count ----

struct counted {
    double lr;
    size_t n;
    int destroyed;
};

static enum dpt_status counted_init(struct dpt_schedule *s, size_t n_params)
{
    struct counted *c = s->impl;
    free(s->state);
    s->state = calloc(n_params ? n_params : 1, sizeof(float));
    if (!s->state)
        return DPT_ERR_NOMEM;
    s->state_len = n_params;
    c->n = n_params;
    return DPT_OK;
}

static void counted_step(struct dpt_schedule *s, const struct dpt_step_ctx *ctx, float *theta,
                         float *grad, size_t lo, size_t hi)
{
    const struct counted *c = s->impl;
    const float lr = (float)(c->lr * ctx->lr_mult);
    for (size_t i = lo; i < hi; i++) {
        s->state[i] += 1.0f;
        theta[i] -= lr * grad[i] / s->state[i];
    }
    if (s->inner) // hand the same slice on, as the built-in wrappers do
        s->inner->step(s->inner, ctx, theta, grad, lo, hi);
}

static double counted_rate(const struct dpt_schedule *s, uint64_t step)
{
    const struct counted *c = s->impl;
    return c->lr / (double)step;
}

// Owns its state and the inner chain; the struct itself is the caller's.
static void counted_destroy(struct dpt_schedule *s)
{
    struct counted *c = s->impl;
    free(s->state);
    s->state = NULL;
    s->state_len = 0;
    dpt_schedule_destroy(s->inner);
    s->inner = NULL;
    c->destroyed++;
}

static struct dpt_schedule counted_schedule(struct counted *c)
{
    struct dpt_schedule s = {.name = "counted",
                             .init = counted_init,
                             .step = counted_step,
                             .rate = counted_rate,
                             .destroy = counted_destroy,
                             .impl = c};
    return s;
}

Test(optim, user_schedule_with_state)
{
    struct counted c = {.lr = 0.5};
    struct dpt_schedule s = counted_schedule(&c);
    cr_assert_eq(dpt_schedule_init(&s, 3), DPT_OK);
    cr_assert_eq(dpt_schedule_state_len(&s), 3);
    float theta[3] = {0, 0, 0}, grad[3] = {1, 2, 4};
    for (uint64_t t = 1; t <= 2; t++) {
        struct dpt_step_ctx ctx = {.step = t, .lr_mult = 1.0};
        dpt_schedule_step(&s, &ctx, theta, grad, 0, 2); // slice [0, 2) only
    }
    // theta -= 0.5 g / 1, then 0.5 g / 2: -0.75 g on the slice, untouched outside.
    cr_assert(theta[0] == -0.75f && theta[1] == -1.5f && theta[2] == 0.0f);
    cr_assert_eq(dpt_schedule_rate(&s, 4), 0.125);
    float st[3];
    dpt_schedule_state_save(&s, st);
    cr_assert(st[0] == 2.0f && st[1] == 2.0f && st[2] == 0.0f);
    dpt_schedule_destroy(&s);
    cr_assert_eq(c.destroyed, 1);
    cr_assert_null(s.state);
}

// A user schedule whose inner is a parsed built-in: the chain's state is the user's vector
// followed by adam's two, save/load walk it in that order, destroy frees the built-in.
Test(optim, user_schedule_chain_state)
{
    enum { n = 6 };
    struct counted c = {.lr = 0.1};
    struct dpt_schedule s = counted_schedule(&c);
    cr_assert_eq(dpt_schedule_parse("adam:lr=0.01", &s.inner), DPT_OK);
    cr_assert_eq(dpt_schedule_init(&s, n), DPT_OK);
    cr_assert_eq(dpt_schedule_init(s.inner, n), DPT_OK); // the user's init does not chain
    cr_assert_eq(dpt_schedule_state_len(&s), 3 * n);
    float theta[n] = {0}, grad[n] = {1, -1, 2, -2, 3, -3};
    struct dpt_step_ctx ctx = {.step = 1, .lr_mult = 1.0};
    dpt_schedule_step(&s, &ctx, theta, grad, 0, n);
    float buf[3 * n];
    dpt_schedule_state_save(&s, buf);
    cr_assert_eq(buf[0], 1.0f); // the user's count comes first
    // adam's m after one step is (1 - b1) g = 0.1 g, then v = 0.001 g^2.
    cr_assert(fabsf(buf[n + 2] - 0.2f) <= 1e-6f, "m[2] = %g", buf[n + 2]);
    cr_assert(fabsf(buf[2 * n + 2] - 0.004f) <= 1e-8f, "v[2] = %g", buf[2 * n + 2]);

    struct counted c2 = {.lr = 0.1};
    struct dpt_schedule s2 = counted_schedule(&c2);
    cr_assert_eq(dpt_schedule_parse("adam:lr=0.01", &s2.inner), DPT_OK);
    cr_assert_eq(dpt_schedule_init(&s2, n), DPT_OK);
    cr_assert_eq(dpt_schedule_init(s2.inner, n), DPT_OK);
    dpt_schedule_state_load(&s2, buf);
    float buf2[3 * n];
    dpt_schedule_state_save(&s2, buf2);
    cr_assert(memcmp(buf, buf2, sizeof buf) == 0);
    dpt_schedule_destroy(&s);
    dpt_schedule_destroy(&s2);
    cr_assert(c.destroyed == 1 && c2.destroyed == 1);
}

// ---- what dpt_schedule_init checks ----

static enum dpt_status bad_len_init(struct dpt_schedule *s, size_t n_params)
{
    static float storage[16];
    s->state = storage;
    s->state_len = n_params + 1; // not a multiple of n_params
    return DPT_OK;
}

static enum dpt_status null_state_init(struct dpt_schedule *s, size_t n_params)
{
    s->state = NULL;
    s->state_len = n_params;
    return DPT_OK;
}

static enum dpt_status failing_init(struct dpt_schedule *s, size_t n_params)
{
    (void)s;
    (void)n_params;
    return DPT_ERR_NOMEM;
}

Test(optim, init_checks_user_contract)
{
    cr_assert_eq(dpt_schedule_init(NULL, 4), DPT_ERR_INVALID);
    struct dpt_schedule no_step = {.name = "nostep"};
    cr_assert_eq(dpt_schedule_init(&no_step, 4), DPT_ERR_INVALID);
    cr_assert_not_null(strstr(dpt_last_error(), "nostep"));

    struct dpt_schedule bad = {.name = "badlen", .init = bad_len_init, .step = sign_step};
    cr_assert_eq(dpt_schedule_init(&bad, 4), DPT_ERR_INVALID);
    cr_assert_not_null(strstr(dpt_last_error(), "badlen"));

    struct dpt_schedule nul = {.name = "nullstate", .init = null_state_init, .step = sign_step};
    cr_assert_eq(dpt_schedule_init(&nul, 4), DPT_ERR_INVALID);
    cr_assert_not_null(strstr(dpt_last_error(), "nullstate"));

    struct dpt_schedule fail = {.name = "fail", .init = failing_init, .step = sign_step};
    cr_assert_eq(dpt_schedule_init(&fail, 4), DPT_ERR_NOMEM); // the user's status is passed on
    cr_assert(isnan(dpt_schedule_rate(NULL, 1)));
}
