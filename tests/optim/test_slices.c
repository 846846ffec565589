// What the parallel trainer relies on: a step over slices gives bitwise the result of one step
// over the whole vector, a step never writes outside its slice (theta, grad or state), and the
// state of a chain survives dpt_schedule_state_save / _load.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <dptrain/dptrain.h>

// Every built-in, bare and wrapped.
static const char *all_specs[] = {
    "fixed:lr=0.1",
    "fixed:lr=0.1,wd=0.01",
    "normalized:lr=0.1",
    "adagrad:lr=0.1",
    "momentum:lr=0.1,wd=0.01",
    "nesterov:lr=0.1",
    "rmsprop:lr=0.01",
    "adam:lr=0.01,wd=0.01",
    "adamw:lr=0.01",
    "clip(adam:lr=0.01),max_norm=0.5",
    "step(momentum),every=2,gamma=0.5",
    "exp(rmsprop),gamma=0.9",
    "invtime(adagrad),k=0.5",
    "cosine(adamw),t=3,min=0.1",
    "warmup(cosine(clip(nesterov),max_norm=0.1),t=2),t=2",
};
#define N_SPECS (sizeof all_specs / sizeof all_specs[0])

// Deterministic test data in [-1, 1), different for every (seed, i).
static float value(uint64_t seed, size_t i)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15u + i * 0xbf58476d1ce4e5b9u + 1;
    x ^= x >> 31;
    x *= 0x94d049bb133111ebu;
    x ^= x >> 29;
    return (float)((double)(x >> 40) / (double)(1u << 24) * 2.0 - 1.0);
}

static double sq_norm(const float *g, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)g[i] * g[i];
    return s;
}

static struct dpt_schedule *make(const char *spec, size_t n)
{
    struct dpt_schedule *s = NULL;
    cr_assert_eq(dpt_schedule_parse(spec, &s), DPT_OK, "%s: %s", spec, dpt_last_error());
    cr_assert_eq(dpt_schedule_init(s, n), DPT_OK, "%s: %s", spec, dpt_last_error());
    return s;
}

// Runs `steps` steps of spec on n parameters, each step split at the cut points (cuts[0] = 0,
// cuts[n_cuts - 1] = n), then copies theta and the chain's state out.
static void run_sliced(const char *spec, size_t n, const size_t *cuts, size_t n_cuts, int steps,
                       float *theta_out, float *state_out)
{
    struct dpt_schedule *s = make(spec, n);
    float *grad = malloc(n * sizeof *grad);
    cr_assert_not_null(grad);
    for (size_t i = 0; i < n; i++)
        theta_out[i] = value(1, i);
    for (int k = 0; k < steps; k++) {
        for (size_t i = 0; i < n; i++)
            grad[i] = value((uint64_t)k + 2, i);
        // The trainer computes the global norm once, before any slice is stepped.
        struct dpt_step_ctx ctx = {.step = (uint64_t)k + 1,
                                   .epoch = 1,
                                   .batch_size = 32,
                                   .grad_sq_norm = sq_norm(grad, n),
                                   .lr_mult = 1.0};
        for (size_t c = 0; c + 1 < n_cuts; c++)
            dpt_schedule_step(s, &ctx, theta_out, grad, cuts[c], cuts[c + 1]);
    }
    dpt_schedule_state_save(s, state_out);
    free(grad);
    dpt_schedule_destroy(s);
}

Test(optim, sliced_steps_are_bitwise_whole_steps)
{
    enum { n = 53 }; // not a multiple of any vector width: exercises loop remainders
    const size_t whole[] = {0, n};
    const size_t two[] = {0, 16, n};
    const size_t four[] = {0, 16, 32, 48, n};
    for (size_t c = 0; c < N_SPECS; c++) {
        float ta[n], tb[n], tc[n], sa[2 * n], sb[2 * n], sc[2 * n];
        memset(sa, 0, sizeof sa);
        memset(sb, 0, sizeof sb);
        memset(sc, 0, sizeof sc);
        run_sliced(all_specs[c], n, whole, 2, 3, ta, sa);
        run_sliced(all_specs[c], n, two, 3, 3, tb, sb);
        run_sliced(all_specs[c], n, four, 5, 3, tc, sc);
        cr_assert(memcmp(ta, tb, sizeof ta) == 0, "%s: [0,16)+[16,n) differs from [0,n)",
                  all_specs[c]);
        cr_assert(memcmp(ta, tc, sizeof ta) == 0, "%s: four slices differ from [0,n)",
                  all_specs[c]);
        cr_assert(memcmp(sa, sb, sizeof sa) == 0, "%s: sliced state differs", all_specs[c]);
        cr_assert(memcmp(sa, sc, sizeof sa) == 0, "%s: sliced state differs", all_specs[c]);
        cr_assert(ta[0] != value(1, 0), "%s: theta did not move", all_specs[c]);
    }
}

// A step on [16, 48) of 64 parameters leaves theta, grad and every state vector outside that
// slice exactly as they were (sentinels), while changing theta inside.
Test(optim, step_writes_only_its_slice)
{
    enum { n = 64, lo = 16, hi = 48 };
    for (size_t c = 0; c < N_SPECS; c++) {
        struct dpt_schedule *s = make(all_specs[c], n);
        size_t len = dpt_schedule_state_len(s);
        float theta[n], grad[n], before_t[n], before_g[n];
        float *state = malloc((len + 1) * sizeof *state);
        float *after = malloc((len + 1) * sizeof *after);
        cr_assert(state && after);
        for (size_t i = 0; i < n; i++) {
            theta[i] = before_t[i] = value(7, i);
            grad[i] = before_g[i] = value(8, i);
        }
        for (size_t i = 0; i < len; i++)
            state[i] = fabsf(value(9, i)) + 0.5f; // valid for every schedule (positive)
        dpt_schedule_state_load(s, state);
        for (uint64_t step = 1; step <= 2; step++) {
            struct dpt_step_ctx ctx = {.step = step, .grad_sq_norm = 4.0, .lr_mult = 1.0};
            dpt_schedule_step(s, &ctx, theta, grad, lo, hi);
        }
        dpt_schedule_state_save(s, after);
        for (size_t i = 0; i < n; i++) {
            if (i >= lo && i < hi)
                continue;
            cr_assert_eq(theta[i], before_t[i], "%s: theta[%zu] written", all_specs[c], i);
            cr_assert_eq(grad[i], before_g[i], "%s: grad[%zu] written", all_specs[c], i);
        }
        for (size_t i = 0; i < len; i++) {
            size_t p = i % n; // state is consecutive vectors of n
            if (p >= lo && p < hi)
                continue;
            cr_assert_eq(after[i], state[i], "%s: state[%zu] written", all_specs[c], i);
        }
        cr_assert(theta[lo] != before_t[lo], "%s: slice not updated", all_specs[c]);
        free(state);
        free(after);
        dpt_schedule_destroy(s);
    }
}

Test(optim, empty_slice_is_a_no_op)
{
    struct dpt_schedule *s = make("adam", 4);
    float theta[4] = {1, 2, 3, 4}, grad[4] = {1, 1, 1, 1};
    struct dpt_step_ctx ctx = {.step = 1, .lr_mult = 1.0};
    dpt_schedule_step(s, &ctx, theta, grad, 2, 2);
    dpt_schedule_step(s, &ctx, theta, grad, 3, 1);
    cr_assert(theta[0] == 1 && theta[1] == 2 && theta[2] == 3 && theta[3] == 4);
    dpt_schedule_destroy(s);
}

// Two steps, save, load into a fresh schedule, third step: bitwise the same as three steps on
// one schedule. A fresh schedule without the load must differ (the state matters).
Test(optim, state_round_trip_along_chain)
{
    enum { n = 37 };
    const char *specs[] = {
        "warmup(clip(adam:lr=0.01),max_norm=1),t=3",
        "cosine(step(momentum:lr=0.1),every=1,gamma=0.5),t=5",
        "exp(adagrad:lr=0.1),gamma=0.9",
    };
    const size_t vectors[] = {2, 1, 1};
    for (size_t c = 0; c < sizeof specs / sizeof specs[0]; c++) {
        struct dpt_schedule *a = make(specs[c], n);
        size_t len = dpt_schedule_state_len(a);
        cr_assert_eq(len, vectors[c] * n, "%s: state_len %zu", specs[c], len);
        float theta[n], grad[n], buf[2 * n];
        for (size_t i = 0; i < n; i++)
            theta[i] = value(3, i);
        struct dpt_step_ctx ctx = {.lr_mult = 1.0};
        for (uint64_t k = 1; k <= 2; k++) {
            for (size_t i = 0; i < n; i++)
                grad[i] = value(10 + k, i);
            ctx.step = k;
            ctx.grad_sq_norm = sq_norm(grad, n);
            dpt_schedule_step(a, &ctx, theta, grad, 0, n);
        }
        dpt_schedule_state_save(a, buf);

        struct dpt_schedule *b = make(specs[c], n);
        struct dpt_schedule *fresh = make(specs[c], n);
        dpt_schedule_state_load(b, buf);
        float tb[n], tf[n], state_b[2 * n], state_a[2 * n];
        memcpy(tb, theta, sizeof tb);
        memcpy(tf, theta, sizeof tf);
        for (size_t i = 0; i < n; i++)
            grad[i] = value(13, i);
        float gb[n], gf[n];
        memcpy(gb, grad, sizeof gb);
        memcpy(gf, grad, sizeof gf);
        ctx.step = 3;
        ctx.grad_sq_norm = sq_norm(grad, n);
        dpt_schedule_step(a, &ctx, theta, grad, 0, n);
        dpt_schedule_step(b, &ctx, tb, gb, 0, n);
        dpt_schedule_step(fresh, &ctx, tf, gf, 0, n);
        cr_assert(memcmp(theta, tb, sizeof tb) == 0, "%s: restored run differs", specs[c]);
        dpt_schedule_state_save(a, state_a);
        dpt_schedule_state_save(b, state_b);
        cr_assert(memcmp(state_a, state_b, len * sizeof(float)) == 0, "%s: state differs",
                  specs[c]);
        cr_assert(memcmp(theta, tf, sizeof tf) != 0, "%s: state had no effect", specs[c]);
        dpt_schedule_destroy(a);
        dpt_schedule_destroy(b);
        dpt_schedule_destroy(fresh);
    }
}

// init a second time starts from zero state (a restart), and n_params = 0 is valid.
Test(optim, reinit_resets_state)
{
    struct dpt_schedule *s = make("adagrad", 8);
    float theta[8] = {0}, grad[8] = {1, 1, 1, 1, 1, 1, 1, 1}, st[8];
    struct dpt_step_ctx ctx = {.step = 1, .lr_mult = 1.0};
    dpt_schedule_step(s, &ctx, theta, grad, 0, 8);
    dpt_schedule_state_save(s, st);
    cr_assert_eq(st[0], 1.0f);
    cr_assert_eq(dpt_schedule_init(s, 8), DPT_OK);
    dpt_schedule_state_save(s, st);
    cr_assert_eq(st[0], 0.0f);
    cr_assert_eq(dpt_schedule_init(s, 0), DPT_OK);
    cr_assert_eq(dpt_schedule_state_len(s), 0);
    dpt_schedule_destroy(s);
}
