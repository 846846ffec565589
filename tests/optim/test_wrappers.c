// The wrappers: rate sequences over steps 1..N against their formulas, that the updates follow
// those rates, that clip clips (and hands the clipped norm on), that normalized steps have
// length lr, and the flags a chain reports.
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include <dptrain/dptrain.h>

#define PI 3.14159265358979323846

// Rates are double arithmetic (pow, cos, a few products) that the library may order differently
// from the formulas below: a few ulps of 1.1e-16 each, so 1e-12 relative is generous yet far
// below any difference a wrong formula would make.
#define RATE_TOL 1e-12
// Updates are float: see test_formulas.c (2e-6 of the magnitude of the terms summed).
#define TOL 2e-6

static struct dpt_schedule *parse_ok(const char *spec)
{
    struct dpt_schedule *s = NULL;
    cr_assert_eq(dpt_schedule_parse(spec, &s), DPT_OK, "%s: %s", spec, dpt_last_error());
    cr_assert_not_null(s);
    return s;
}

static void check_rates(const char *spec, const double *want, size_t n)
{
    struct dpt_schedule *s = parse_ok(spec);
    for (size_t t = 1; t <= n; t++) {
        double r = dpt_schedule_rate(s, t);
        cr_assert(fabs(r - want[t - 1]) <= RATE_TOL * fabs(want[t - 1]),
                  "%s: rate(%zu) = %.17g, expected %.17g", spec, t, r, want[t - 1]);
    }
    dpt_schedule_destroy(s);
}

// The factor of cosine(...),t=T,min=M at 1-based step t, from the documented formula.
static double cosine_factor(double t, double T, double min)
{
    double x = t - 1 < T ? t - 1 : T;
    return min + (1.0 - min) * 0.5 * (1.0 + cos(PI * x / T));
}

Test(optim, step_decay_rates)
{
    // lr * gamma^floor((t - 1) / every)
    const double want[] = {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025};
    check_rates("step(fixed:lr=0.1),every=3,gamma=0.5", want, 8);
}

Test(optim, exp_decay_rates)
{
    // lr * gamma^(t - 1)
    const double want[] = {0.1, 0.05, 0.025, 0.0125, 0.00625};
    check_rates("exp(fixed:lr=0.1),gamma=0.5", want, 5);
}

Test(optim, invtime_rates)
{
    // lr / (1 + k (t - 1))
    const double want[] = {0.1, 0.1 / 1.5, 0.1 / 2.0, 0.1 / 2.5, 0.1 / 3.0};
    check_rates("invtime(fixed:lr=0.1),k=0.5", want, 5);
}

Test(optim, cosine_rates)
{
    // lr * (min + (1 - min) (1 + cos(pi min(t - 1, T) / T)) / 2), T = 4, min = 0.2:
    // 1, 0.2 + 0.4 (1 + 1/sqrt 2), 0.6, 0.2 + 0.4 (1 - 1/sqrt 2), 0.2, then 0.2 for ever.
    const double h = 0.70710678118654752440;
    const double want[] = {
        0.1, 0.1 * (0.2 + 0.4 * (1 + h)), 0.06, 0.1 * (0.2 + 0.4 * (1 - h)), 0.02, 0.02, 0.02};
    check_rates("cosine(fixed:lr=0.1),t=4,min=0.2", want, 7);
    struct dpt_schedule *s = parse_ok("cosine(fixed:lr=1),t=2"); // min defaults to 0
    cr_assert_eq(dpt_schedule_rate(s, 1), 1.0);
    cr_assert(fabs(dpt_schedule_rate(s, 2) - 0.5) <= RATE_TOL);
    cr_assert(fabs(dpt_schedule_rate(s, 3)) <= RATE_TOL);
    cr_assert(fabs(dpt_schedule_rate(s, 1000)) <= RATE_TOL);
    dpt_schedule_destroy(s);
}

Test(optim, warmup_rates)
{
    // lr * min(1, t / T)
    const double want[] = {0.025, 0.05, 0.075, 0.1, 0.1, 0.1};
    check_rates("warmup(fixed:lr=0.1),t=4", want, 6);
}

Test(optim, clip_rate_is_inner_rate)
{
    const double want[] = {0.3, 0.3, 0.3};
    check_rates("clip(fixed:lr=0.3),max_norm=2", want, 3);
}

Test(optim, nested_wrappers_multiply)
{
    struct dpt_schedule *s = parse_ok("warmup(cosine(adam:lr=1e-3),t=5000),t=100");
    const uint64_t steps[] = {1, 50, 99, 100, 101, 2500, 5000, 5001, 6000};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        double t = (double)steps[i];
        double want = 1e-3 * cosine_factor(t, 5000, 0.0) * (t < 100 ? t / 100 : 1.0);
        double r = dpt_schedule_rate(s, steps[i]);
        cr_assert(fabs(r - want) <= RATE_TOL * 1e-3, "rate(%.0f) = %.17g, expected %.17g", t, r,
                  want);
    }
    dpt_schedule_destroy(s);
}

// The documented wrapper defaults, probed where each one shows.
Test(optim, wrapper_defaults)
{
    struct dpt_schedule *s = parse_ok("step(fixed:lr=1)"); // every = 1000, gamma = 0.1
    cr_assert_eq(dpt_schedule_rate(s, 1000), 1.0);
    cr_assert(fabs(dpt_schedule_rate(s, 1001) - 0.1) <= RATE_TOL);
    dpt_schedule_destroy(s);
    s = parse_ok("exp(fixed:lr=1)"); // gamma = 0.9999
    cr_assert(fabs(dpt_schedule_rate(s, 2) - 0.9999) <= RATE_TOL);
    dpt_schedule_destroy(s);
    s = parse_ok("invtime(fixed:lr=1)"); // k = 1e-3
    cr_assert(fabs(dpt_schedule_rate(s, 1001) - 0.5) <= RATE_TOL);
    dpt_schedule_destroy(s);
    s = parse_ok("cosine(fixed:lr=1)"); // t = 10000, min = 0
    cr_assert(fabs(dpt_schedule_rate(s, 5001) - 0.5) <= RATE_TOL);
    cr_assert(fabs(dpt_schedule_rate(s, 10001)) <= RATE_TOL);
    dpt_schedule_destroy(s);
    s = parse_ok("warmup(fixed:lr=1)"); // t = 1000
    cr_assert(fabs(dpt_schedule_rate(s, 1) - 1e-3) <= RATE_TOL);
    cr_assert_eq(dpt_schedule_rate(s, 1000), 1.0);
    dpt_schedule_destroy(s);
}

#define N 5
static const float theta_init[N] = {0.5f, -0.25f, 0.125f, -1.0f, 2.0f};
static const float grad_init[N] = {0.3f, -0.2f, 0.05f, 1.5f, -0.7f};

// With fixed inside, the update at step t must be exactly rate(t) * g: run steps 1..n on a fresh
// theta (same gradient each step) and compare every step with the rate the schedule reports.
static void check_update_follows_rate(const char *spec, uint64_t n)
{
    struct dpt_schedule *s = parse_ok(spec);
    cr_assert_eq(dpt_schedule_init(s, N), DPT_OK);
    for (uint64_t t = 1; t <= n; t++) {
        float theta[N], grad[N];
        memcpy(theta, theta_init, sizeof theta);
        memcpy(grad, grad_init, sizeof grad);
        struct dpt_step_ctx ctx = {.step = t, .lr_mult = 1.0};
        dpt_schedule_step(s, &ctx, theta, grad, 0, N);
        double r = dpt_schedule_rate(s, t);
        for (int i = 0; i < N; i++) {
            double want = (double)theta_init[i] - r * (double)grad_init[i];
            double scale = fabs(theta_init[i]) + fabs(r * grad_init[i]);
            cr_assert(fabs(theta[i] - want) <= TOL * scale,
                      "%s: step %llu theta[%d] = %.9g, expected %.9g", spec, (unsigned long long)t,
                      i, theta[i], want);
        }
    }
    dpt_schedule_destroy(s);
}

Test(optim, wrapped_updates_follow_rates)
{
    check_update_follows_rate("step(fixed:lr=0.5),every=2,gamma=0.5", 6);
    check_update_follows_rate("exp(fixed:lr=0.5),gamma=0.7", 6);
    check_update_follows_rate("invtime(fixed:lr=0.5),k=2", 6);
    check_update_follows_rate("cosine(fixed:lr=0.5),t=4,min=0.1", 6);
    check_update_follows_rate("warmup(fixed:lr=0.5),t=4", 6);
    check_update_follows_rate("warmup(cosine(step(fixed:lr=0.5),every=2,gamma=0.9),t=5),t=3", 8);
}

// A rate wrapper around adam scales adam's own update: warmup with t = 4 makes step 1 exactly a
// quarter-rate adam step (same moments, since the rate does not enter m or v).
Test(optim, wrapped_adam_scales_update)
{
    struct dpt_schedule *plain = parse_ok("adam:lr=0.05");
    struct dpt_schedule *warm = parse_ok("warmup(adam:lr=0.05),t=4");
    cr_assert_eq(dpt_schedule_init(plain, N), DPT_OK);
    cr_assert_eq(dpt_schedule_init(warm, N), DPT_OK);
    float ta[N], tb[N], ga[N], gb[N];
    memcpy(ta, theta_init, sizeof ta);
    memcpy(tb, theta_init, sizeof tb);
    memcpy(ga, grad_init, sizeof ga);
    memcpy(gb, grad_init, sizeof gb);
    struct dpt_step_ctx ctx = {.step = 1, .lr_mult = 1.0};
    dpt_schedule_step(plain, &ctx, ta, ga, 0, N);
    dpt_schedule_step(warm, &ctx, tb, gb, 0, N);
    for (int i = 0; i < N; i++) {
        double da = (double)theta_init[i] - ta[i];
        double db = (double)theta_init[i] - tb[i];
        cr_assert(fabs(da) > 0.01, "adam did not move theta[%d]", i);
        cr_assert(fabs(db - 0.25 * da) <= TOL * (fabs(theta_init[i]) + fabs(da)),
                  "theta[%d]: warm-up step %.9g is not a quarter of %.9g", i, db, da);
    }
    dpt_schedule_destroy(plain);
    dpt_schedule_destroy(warm);
}

Test(optim, lr_mult_passes_through_wrappers)
{
    struct dpt_schedule *s = parse_ok("warmup(fixed:lr=0.5),t=2");
    float theta[N], grad[N];
    memcpy(theta, theta_init, sizeof theta);
    memcpy(grad, grad_init, sizeof grad);
    struct dpt_step_ctx ctx = {.step = 1, .lr_mult = 0.5}; // 0.5 * 0.5 (warm-up) * 0.5 (mult)
    dpt_schedule_step(s, &ctx, theta, grad, 0, N);
    for (int i = 0; i < N; i++) {
        double want = (double)theta_init[i] - 0.125 * grad_init[i];
        cr_assert(fabs(theta[i] - want) <= TOL * (fabs(want) + 1), "theta[%d] = %.9g", i, theta[i]);
    }
    dpt_schedule_destroy(s);
}

static void clip_once(const char *spec, const float *g, float *theta)
{
    struct dpt_schedule *s = parse_ok(spec);
    cr_assert_eq(dpt_schedule_init(s, N), DPT_OK);
    float grad[N];
    memcpy(grad, g, sizeof grad);
    double sq = 0;
    for (int i = 0; i < N; i++)
        sq += (double)g[i] * g[i];
    struct dpt_step_ctx ctx = {.step = 1, .grad_sq_norm = sq, .lr_mult = 1.0};
    dpt_schedule_step(s, &ctx, theta, grad, 0, N);
    dpt_schedule_destroy(s);
}

Test(optim, clip_clips_to_max_norm)
{
    const float g[N] = {3.0f, 4.0f, 0.0f, 0.0f, 0.0f}; // norm 5
    float theta[N] = {0};
    clip_once("clip(fixed:lr=1),max_norm=1", g, theta); // g scaled to norm 1: (0.6, 0.8)
    cr_assert(fabs(theta[0] + 0.6) <= 1e-6 && fabs(theta[1] + 0.8) <= 1e-6,
              "clipped step (%.9g, %.9g), expected (-0.6, -0.8)", theta[0], theta[1]);
    cr_assert_eq(theta[2], 0.0f);

    memset(theta, 0, sizeof theta);
    clip_once("clip(fixed:lr=1),max_norm=10", g, theta); // below the threshold: untouched
    cr_assert_eq(theta[0], -3.0f);
    cr_assert_eq(theta[1], -4.0f);

    memset(theta, 0, sizeof theta);
    clip_once("clip(fixed:lr=1)", g, theta); // default max_norm = 1
    cr_assert(fabs(theta[0] + 0.6) <= 1e-6 && fabs(theta[1] + 0.8) <= 1e-6);
}

// The inner schedule sees the clipped norm: normalized inside clip still steps exactly lr
// (with the unclipped norm it would step lr * max_norm / ||g|| = 0.1).
Test(optim, clip_hands_clipped_norm_to_inner)
{
    const float g[N] = {3.0f, 4.0f, 0.0f, 0.0f, 0.0f};
    float theta[N] = {0};
    clip_once("clip(normalized:lr=0.5),max_norm=1", g, theta);
    double len = sqrt((double)theta[0] * theta[0] + (double)theta[1] * theta[1]);
    cr_assert(fabs(len - 0.5) <= 1e-6, "step length %.9g, expected 0.5", len);
}

Test(optim, normalized_step_has_length_lr)
{
    enum { n = 50 };
    float theta[n] = {0}, grad[n];
    double sq = 0;
    for (int i = 0; i < n; i++) {
        grad[i] = (float)((i % 7) - 3) * (1.0f + 0.1f * (float)i);
        sq += (double)grad[i] * grad[i];
    }
    struct dpt_schedule *s = parse_ok("normalized:lr=0.25");
    cr_assert_eq(dpt_schedule_init(s, n), DPT_OK);
    struct dpt_step_ctx ctx = {.step = 1, .grad_sq_norm = sq, .lr_mult = 1.0};
    dpt_schedule_step(s, &ctx, theta, grad, 0, n);
    double len = 0;
    for (int i = 0; i < n; i++)
        len += (double)theta[i] * theta[i];
    len = sqrt(len);
    // one float product per entry (6e-8 relative each), summed in double: 1e-6 is ample.
    cr_assert(fabs(len - 0.25) <= 1e-6 * 0.25, "step length %.9g, expected 0.25", len);

    // A zero gradient has no direction: no step, and no NaN.
    float zero[n] = {0};
    float before[n];
    memcpy(before, theta, sizeof before);
    struct dpt_step_ctx ctx0 = {.step = 2, .grad_sq_norm = 0.0, .lr_mult = 1.0};
    dpt_schedule_step(s, &ctx0, theta, zero, 0, n);
    cr_assert(memcmp(before, theta, sizeof before) == 0, "zero gradient moved theta");
    dpt_schedule_destroy(s);
}

Test(optim, wrapper_flags_include_inner)
{
    static const struct {
        const char *spec;
        unsigned flags;
    } cases[] = {
        // Rate wrappers keep a linear step linear; clipping does not (it divides by the norm).
        {"warmup(fixed),t=3", DPT_SCHEDULE_LINEAR},
        {"warmup(normalized),t=3", DPT_SCHEDULE_NEEDS_NORM},
        {"clip(adam)", DPT_SCHEDULE_NEEDS_NORM},
        {"clip(sgd)", DPT_SCHEDULE_NEEDS_NORM},
        {"cosine(step(exp(invtime(warmup(clip(sgd))))))", DPT_SCHEDULE_NEEDS_NORM},
        {"cosine(step(exp(invtime(warmup(sgd)))))", DPT_SCHEDULE_LINEAR},
        {"cosine(adam)", 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct dpt_schedule *s = parse_ok(cases[c].spec);
        cr_assert_eq(s->flags, cases[c].flags, "%s: flags %u", cases[c].spec, s->flags);
        cr_assert_not_null(s->inner, "%s has no inner schedule", cases[c].spec);
        cr_assert_eq(dpt_schedule_state_len(s), 0);
        dpt_schedule_destroy(s);
    }
}
