// The built-in base schedules against their formulas: the first three steps on five parameters
// with a fixed gradient sequence, each expected value recomputed here in double arithmetic
// straight from the formula in the comment (no code shared with the implementation).
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include <dptrain/dptrain.h>

#define N     5
#define STEPS 3

// Tolerance, relative to the magnitude of the terms summed into each parameter (|theta0| plus
// the |update| of every step so far). The library computes in float: each rounding is at most
// 2^-24 ~ 6e-8 relative, a step does at most ~8 roundings on values of that magnitude, so three
// steps stay within ~24 roundings ~ 1.5e-6 in the worst case (far less in practice); 2e-6 allows
// that while any wrong term in a formula (a missing bias correction, eps inside the root, the
// other momentum convention) moves the result by 1e-3 or more.
#define TOL 2e-6

static const double theta_init[N] = {0.5, -0.25, 0.125, -1.0, 2.0};
static const double grad_seq[STEPS][N] = {
    {0.3, -0.2, 0.05, 1.5, -0.7},
    {-0.1, -0.4, 0.25, 0.9, 0.6},
    {0.2, 0.1, -0.3, -2.0, 0.35},
};

// The values the library actually sees are these rounded to float; the references start there.
static double th0(int i)
{
    return (double)(float)theta_init[i];
}

static double g(int k, int i)
{
    return (double)(float)grad_seq[k][i];
}

// Squared L2 norm of gradient k, as the trainer would compute it.
static double sq_norm(int k)
{
    double s = 0.0;
    for (int i = 0; i < N; i++)
        s += g(k, i) * g(k, i);
    return s;
}

// Parses spec, runs STEPS steps and compares theta after every step with want[k][i] within
// TOL * (|theta0| + sum of |updates| up to step k).
static void check_spec(const char *spec, double want[STEPS][N])
{
    struct dpt_schedule *s = NULL;
    cr_assert_eq(dpt_schedule_parse(spec, &s), DPT_OK, "%s: %s", spec, dpt_last_error());
    cr_assert_eq(dpt_schedule_init(s, N), DPT_OK, "%s: %s", spec, dpt_last_error());
    float theta[N], grad[N];
    double scale[N];
    for (int i = 0; i < N; i++) {
        theta[i] = (float)theta_init[i];
        scale[i] = fabs(th0(i));
    }
    for (int k = 0; k < STEPS; k++) {
        for (int i = 0; i < N; i++)
            grad[i] = (float)grad_seq[k][i];
        struct dpt_step_ctx ctx = {.step = (uint64_t)k + 1,
                                   .epoch = 1,
                                   .batch_size = 8,
                                   .grad_sq_norm = sq_norm(k),
                                   .lr_mult = 1.0};
        dpt_schedule_step(s, &ctx, theta, grad, 0, N);
        for (int i = 0; i < N; i++) {
            double prev = k == 0 ? th0(i) : want[k - 1][i];
            scale[i] += fabs(want[k][i] - prev);
            double err = fabs((double)theta[i] - want[k][i]);
            cr_assert(err <= TOL * scale[i],
                      "%s: step %d, theta[%d] = %.9g, expected %.9g (error %.3g, allowed %.3g)",
                      spec, k + 1, i, (double)theta[i], want[k][i], err, TOL * scale[i]);
        }
    }
    dpt_schedule_destroy(s);
}

// ---- references, one per formula ----

// theta -= lr * (g + wd * theta)
static void ref_fixed(double lr, double wd, double out[STEPS][N])
{
    for (int i = 0; i < N; i++) {
        double t = th0(i);
        for (int k = 0; k < STEPS; k++) {
            t -= lr * (g(k, i) + wd * t);
            out[k][i] = t;
        }
    }
}

// theta -= lr * g / ||g||
static void ref_normalized(double lr, double out[STEPS][N])
{
    for (int i = 0; i < N; i++) {
        double t = th0(i);
        for (int k = 0; k < STEPS; k++) {
            t -= lr * g(k, i) / sqrt(sq_norm(k));
            out[k][i] = t;
        }
    }
}

// docs/math.md: G += g .* g; theta -= alpha * g / (sqrt(G) + eps)
static void ref_adagrad(double lr, double eps, double out[STEPS][N])
{
    for (int i = 0; i < N; i++) {
        double t = th0(i), G = 0.0;
        for (int k = 0; k < STEPS; k++) {
            G += g(k, i) * g(k, i);
            t -= lr * g(k, i) / (sqrt(G) + eps);
            out[k][i] = t;
        }
    }
}

// v = mu v + g; theta -= lr v            (nesterov = 0)
// v = mu v + g; theta -= lr (g + mu v)   (nesterov = 1)
static void ref_momentum(double lr, double mu, int nesterov, double out[STEPS][N])
{
    for (int i = 0; i < N; i++) {
        double t = th0(i), v = 0.0;
        for (int k = 0; k < STEPS; k++) {
            v = mu * v + g(k, i);
            t -= nesterov ? lr * (g(k, i) + mu * v) : lr * v;
            out[k][i] = t;
        }
    }
}

// r = rho r + (1 - rho) g^2; theta -= lr g / (sqrt(r) + eps)
static void ref_rmsprop(double lr, double rho, double eps, double out[STEPS][N])
{
    for (int i = 0; i < N; i++) {
        double t = th0(i), r = 0.0;
        for (int k = 0; k < STEPS; k++) {
            r = rho * r + (1.0 - rho) * g(k, i) * g(k, i);
            t -= lr * g(k, i) / (sqrt(r) + eps);
            out[k][i] = t;
        }
    }
}

// adamw only: theta -= lr wd theta (decoupled, first). Then, with gl = g + l2 * theta:
// m = b1 m + (1 - b1) gl; v = b2 v + (1 - b2) gl^2; mhat = m / (1 - b1^t); vhat = v / (1 - b2^t);
// theta -= lr mhat / (sqrt(vhat) + eps)
static void ref_adam(double lr, double b1, double b2, double eps, double l2, double decoupled_wd,
                     double out[STEPS][N])
{
    for (int i = 0; i < N; i++) {
        double t = th0(i), m = 0.0, v = 0.0;
        for (int k = 0; k < STEPS; k++) {
            int step = k + 1;
            t -= lr * decoupled_wd * t;
            double gl = g(k, i) + l2 * t;
            m = b1 * m + (1.0 - b1) * gl;
            v = b2 * v + (1.0 - b2) * gl * gl;
            double mhat = m / (1.0 - pow(b1, step));
            double vhat = v / (1.0 - pow(b2, step));
            t -= lr * mhat / (sqrt(vhat) + eps);
            out[k][i] = t;
        }
    }
}

// ---- the tests ----

Test(optim, fixed_matches_formula)
{
    double want[STEPS][N];
    ref_fixed(0.1, 0.0, want);
    check_spec("fixed:lr=0.1", want);
    check_spec("sgd:lr=0.1", want);
    ref_fixed(0.01, 0.0, want); // default lr
    check_spec("fixed", want);
}

Test(optim, fixed_weight_decay_matches_formula)
{
    double want[STEPS][N];
    ref_fixed(0.1, 0.5, want);
    check_spec("fixed:lr=0.1,wd=0.5", want);
}

Test(optim, normalized_matches_formula)
{
    double want[STEPS][N];
    ref_normalized(0.3, want);
    check_spec("normalized:lr=0.3", want);
}

Test(optim, adagrad_matches_reference_md)
{
    double want[STEPS][N];
    // eps = 0.1 so that the eps term itself is visible at this tolerance.
    ref_adagrad(0.5, 0.1, want);
    check_spec("adagrad:lr=0.5,eps=0.1", want);
    ref_adagrad(0.5, 1e-8, want);
    check_spec("adagrad:lr=0.5", want);
}

Test(optim, adagrad_state_is_sum_of_squares)
{
    struct dpt_schedule *s = NULL;
    cr_assert_eq(dpt_schedule_parse("adagrad:lr=0.5", &s), DPT_OK);
    cr_assert_eq(dpt_schedule_init(s, N), DPT_OK);
    cr_assert_eq(dpt_schedule_state_len(s), N);
    float theta[N] = {0}, grad[N];
    for (int k = 0; k < STEPS; k++) {
        for (int i = 0; i < N; i++)
            grad[i] = (float)grad_seq[k][i];
        struct dpt_step_ctx ctx = {.step = (uint64_t)k + 1, .lr_mult = 1.0};
        dpt_schedule_step(s, &ctx, theta, grad, 0, N);
    }
    float G[N];
    dpt_schedule_state_save(s, G);
    for (int i = 0; i < N; i++) {
        double want = g(0, i) * g(0, i) + g(1, i) * g(1, i) + g(2, i) * g(2, i);
        // three float products and two float sums: a few roundings of 6e-8 each.
        cr_assert(fabs(G[i] - want) <= 1e-6 * want, "G[%d] = %.9g, expected %.9g", i, G[i], want);
    }
    dpt_schedule_destroy(s);
}

Test(optim, momentum_matches_formula)
{
    double want[STEPS][N];
    ref_momentum(0.1, 0.8, 0, want);
    check_spec("momentum:lr=0.1,mu=0.8", want);
    ref_momentum(0.01, 0.9, 0, want); // defaults
    check_spec("momentum", want);
}

Test(optim, nesterov_matches_formula)
{
    double want[STEPS][N];
    ref_momentum(0.1, 0.8, 1, want);
    check_spec("nesterov:lr=0.1,mu=0.8", want);
    ref_momentum(0.01, 0.9, 1, want); // defaults
    check_spec("nesterov", want);
}

Test(optim, rmsprop_matches_formula)
{
    double want[STEPS][N];
    ref_rmsprop(0.01, 0.9, 1e-3, want);
    check_spec("rmsprop:lr=0.01,rho=0.9,eps=1e-3", want);
    ref_rmsprop(0.001, 0.99, 1e-8, want); // defaults
    check_spec("rmsprop", want);
}

Test(optim, adam_matches_formula)
{
    double want[STEPS][N];
    ref_adam(0.05, 0.8, 0.95, 1e-6, 0.0, 0.0, want);
    check_spec("adam:lr=0.05,b1=0.8,b2=0.95,eps=1e-6", want);
    ref_adam(0.001, 0.9, 0.999, 1e-8, 0.0, 0.0, want); // defaults
    check_spec("adam", want);
}

Test(optim, adam_l2_matches_formula)
{
    double want[STEPS][N];
    ref_adam(0.05, 0.8, 0.95, 1e-6, 0.5, 0.0, want);
    check_spec("adam:lr=0.05,b1=0.8,b2=0.95,eps=1e-6,wd=0.5", want);
}

Test(optim, adamw_matches_formula)
{
    double want[STEPS][N];
    ref_adam(0.05, 0.8, 0.95, 1e-6, 0.0, 0.5, want);
    check_spec("adamw:lr=0.05,b1=0.8,b2=0.95,eps=1e-6,wd=0.5", want);
    ref_adam(0.001, 0.9, 0.999, 1e-8, 0.0, 0.01, want); // defaults, wd = 0.01
    check_spec("adamw", want);
}

Test(optim, base_rates_and_flags)
{
    static const struct {
        const char *spec;
        double lr;
        unsigned flags;
        size_t n_state;
    } cases[] = {
        {"fixed", 0.01, DPT_SCHEDULE_LINEAR, 0},
        {"sgd:lr=2", 2.0, DPT_SCHEDULE_LINEAR, 0},
        {"sgd:lr=2,wd=0.1", 2.0, 0, 0}, // decay makes the step depend on theta: not linear
        {"normalized", 0.01, DPT_SCHEDULE_NEEDS_NORM, 0},
        {"adagrad", 0.01, 0, 1},
        {"momentum:lr=0.5", 0.5, 0, 1},
        {"nesterov", 0.01, 0, 1},
        {"rmsprop", 0.001, 0, 1},
        {"adam", 0.001, 0, 2},
        {"adamw:lr=0.25", 0.25, 0, 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct dpt_schedule *s = NULL;
        cr_assert_eq(dpt_schedule_parse(cases[c].spec, &s), DPT_OK, "%s", cases[c].spec);
        cr_assert_eq(s->flags, cases[c].flags, "%s: flags %u", cases[c].spec, s->flags);
        cr_assert_eq(dpt_schedule_rate(s, 1), cases[c].lr, "%s", cases[c].spec);
        cr_assert_eq(dpt_schedule_rate(s, 12345), cases[c].lr, "%s", cases[c].spec);
        cr_assert_eq(dpt_schedule_init(s, 48), DPT_OK);
        cr_assert_eq(dpt_schedule_state_len(s), 48 * cases[c].n_state, "%s", cases[c].spec);
        dpt_schedule_destroy(s);
    }
}

// The defaults documented in docs/schedules.md, spelled out, give bitwise the same updates.
Test(optim, base_defaults_are_documented_values)
{
    static const char *pairs[][2] = {
        {"fixed", "fixed:lr=0.01,wd=0"},
        {"normalized", "normalized:lr=0.01"},
        {"adagrad", "adagrad:lr=0.01,eps=1e-8,wd=0"},
        {"momentum", "momentum:lr=0.01,mu=0.9,wd=0"},
        {"nesterov", "nesterov:lr=0.01,mu=0.9,wd=0"},
        {"rmsprop", "rmsprop:lr=0.001,rho=0.99,eps=1e-8,wd=0"},
        {"adam", "adam:lr=0.001,b1=0.9,b2=0.999,eps=1e-8,wd=0"},
        {"adamw", "adamw:lr=0.001,b1=0.9,b2=0.999,eps=1e-8,wd=0.01"},
    };
    for (size_t c = 0; c < sizeof pairs / sizeof pairs[0]; c++) {
        float th[2][N];
        for (int j = 0; j < 2; j++) {
            struct dpt_schedule *s = NULL;
            cr_assert_eq(dpt_schedule_parse(pairs[c][j], &s), DPT_OK, "%s", pairs[c][j]);
            cr_assert_eq(dpt_schedule_init(s, N), DPT_OK);
            for (int i = 0; i < N; i++)
                th[j][i] = (float)theta_init[i];
            for (int k = 0; k < STEPS; k++) {
                float grad[N];
                for (int i = 0; i < N; i++)
                    grad[i] = (float)grad_seq[k][i];
                struct dpt_step_ctx ctx = {
                    .step = (uint64_t)k + 1, .grad_sq_norm = sq_norm(k), .lr_mult = 1.0};
                dpt_schedule_step(s, &ctx, th[j], grad, 0, N);
            }
            dpt_schedule_destroy(s);
        }
        cr_assert(memcmp(th[0], th[1], sizeof th[0]) == 0, "%s differs from %s", pairs[c][0],
                  pairs[c][1]);
        cr_assert(th[0][0] != (float)theta_init[0], "%s did not move theta", pairs[c][0]);
    }
}

// lr_mult scales the effective rate of the adaptive schedules through their lr, including the
// decoupled decay of adamw (lr * wd uses the effective lr, as in PyTorch with a scheduler).
static void check_lr_mult(const char *spec, double wd, double mult)
{
    double want[STEPS][N];
    ref_adam(0.05 * mult, 0.8, 0.95, 1e-6, 0.0, wd, want);
    struct dpt_schedule *s = NULL;
    cr_assert_eq(dpt_schedule_parse(spec, &s), DPT_OK);
    cr_assert_eq(dpt_schedule_init(s, N), DPT_OK);
    float theta[N], grad[N];
    for (int i = 0; i < N; i++)
        theta[i] = (float)theta_init[i];
    for (int k = 0; k < STEPS; k++) {
        for (int i = 0; i < N; i++)
            grad[i] = (float)grad_seq[k][i];
        struct dpt_step_ctx ctx = {.step = (uint64_t)k + 1, .lr_mult = mult};
        dpt_schedule_step(s, &ctx, theta, grad, 0, N);
    }
    // Each step moves theta by at most lr (adam's update is bounded by about lr) plus the decay.
    for (int i = 0; i < N; i++)
        cr_assert(fabs(theta[i] - want[STEPS - 1][i]) <= TOL * (2 * fabs(th0(i)) + 3 * 0.05),
                  "%s: theta[%d] = %.9g, expected %.9g", spec, i, theta[i], want[STEPS - 1][i]);
    dpt_schedule_destroy(s);
}

Test(optim, lr_mult_scales_base_update)
{
    check_lr_mult("adam:lr=0.05,b1=0.8,b2=0.95,eps=1e-6", 0.0, 0.25);
    check_lr_mult("adamw:lr=0.05,b1=0.8,b2=0.95,eps=1e-6,wd=4", 4.0, 0.25);
}
