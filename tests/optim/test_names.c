// PyTorch's names for schedule keys (weight_decay, momentum, betas=B1/B2, alpha, step_size, T_max,
// sgd's momentum= and nesterov=) and counts in epochs (t_epochs, every_epochs): each spelling
// builds the same schedule as dptrain's own keys, checked by running both on the same parameters
// and gradients and comparing parameters, state and rates bitwise; and the errors around them.
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <dptrain/dptrain.h>

#define N     37
#define STEPS 7

static struct dpt_schedule *parse_with(const char *spec, uint64_t steps_per_epoch)
{
    struct dpt_schedule *s = NULL;
    enum dpt_status st = steps_per_epoch ? dpt_schedule_parse_epochs(spec, steps_per_epoch, &s)
                                         : dpt_schedule_parse(spec, &s);
    cr_assert_eq(st, DPT_OK, "'%s' rejected: %s", spec, dpt_last_error());
    cr_assert_not_null(s);
    return s;
}

// The squared norm of g, as the trainer computes it for schedules that ask.
static double sq_norm(const float *g)
{
    double s = 0.0;
    for (int i = 0; i < N; i++)
        s += (double)g[i] * g[i];
    return s;
}

// Runs STEPS steps of `a` and `b` on identical parameters and gradients (a fixed pseudo-random
// sequence with both signs and several magnitudes) and requires the same chain of names, the
// same flags, bitwise the same parameters and state after every step and the same rates.
static void check_same(const char *a, uint64_t spe_a, const char *b, uint64_t spe_b)
{
    struct dpt_schedule *sa = parse_with(a, spe_a), *sb = parse_with(b, spe_b);
    const struct dpt_schedule *ca = sa, *cb = sb;
    for (; ca && cb; ca = ca->inner, cb = cb->inner)
        cr_assert_str_eq(ca->name, cb->name, "'%s' vs '%s'", a, b);
    cr_assert(!ca && !cb, "'%s' and '%s' nest differently", a, b);
    cr_assert_eq(sa->flags, sb->flags, "'%s' vs '%s': flags", a, b);
    cr_assert_eq(dpt_schedule_init(sa, N), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_schedule_init(sb, N), DPT_OK, "%s", dpt_last_error());
    const size_t len = dpt_schedule_state_len(sa);
    cr_assert_eq(len, dpt_schedule_state_len(sb), "'%s' vs '%s': state length", a, b);
    float ta[N], tb[N], t0[N], ga[N], gb[N], sta[4 * N + 1], stb[4 * N + 1];
    cr_assert(len <= 4 * N);
    uint64_t x = 0x243f6a8885a308d3u;
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        ta[i] = tb[i] = t0[i] = (float)((double)(x % 2001) / 1000.0 - 1.0);
    }
    for (uint64_t t = 1; t <= STEPS; t++) {
        for (int i = 0; i < N; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            ga[i] = gb[i] = (float)(((double)(x % 2001) / 1000.0 - 1.0) * (double)(1 + i % 3));
        }
        struct dpt_step_ctx ctx = {.step = t, .epoch = 1, .batch_size = 8, .lr_mult = 1.0};
        ctx.grad_sq_norm = sq_norm(ga);
        dpt_schedule_step(sa, &ctx, ta, ga, 0, N);
        dpt_schedule_step(sb, &ctx, tb, gb, 0, N);
        cr_assert(memcmp(ta, tb, sizeof ta) == 0, "'%s' vs '%s': parameters differ at step %llu", a,
                  b, (unsigned long long)t);
        dpt_schedule_state_save(sa, sta);
        dpt_schedule_state_save(sb, stb);
        cr_assert(memcmp(sta, stb, len * sizeof(float)) == 0,
                  "'%s' vs '%s': state differs at step %llu", a, b, (unsigned long long)t);
    }
    // The parameters did move (schedules that did nothing would pass the comparison above).
    cr_assert(memcmp(ta, t0, sizeof ta) != 0, "'%s': no parameter moved", a);
    for (uint64_t t = 1; t <= 200; t += 3)
        cr_assert(dpt_schedule_rate(sa, t) == dpt_schedule_rate(sb, t),
                  "'%s' vs '%s': rate(%llu) %.17g vs %.17g", a, b, (unsigned long long)t,
                  dpt_schedule_rate(sa, t), dpt_schedule_rate(sb, t));
    dpt_schedule_destroy(sa);
    dpt_schedule_destroy(sb);
}

Test(optim_names, pytorch_key_names_build_the_same_schedules)
{
    static const char *const pairs[][2] = {
        {"fixed:lr=0.1,wd=0.01", "fixed:lr=0.1,weight_decay=0.01"},
        {"fixed:lr=0.1,wd=0.01", "sgd:lr=0.1,weight_decay=0.01"},
        {"fixed:lr=0.1", "sgd:lr=0.1,momentum=0,nesterov=0"},
        {"momentum:lr=0.1,mu=0.8,wd=1e-3", "momentum:lr=0.1,momentum=0.8,weight_decay=1e-3"},
        {"momentum:lr=0.1,mu=0.8,wd=1e-3", "sgd:lr=0.1,momentum=0.8,weight_decay=1e-3"},
        {"nesterov:lr=0.1,mu=0.8", "nesterov:lr=0.1,momentum=0.8"},
        {"nesterov:lr=0.1,mu=0.8,wd=1e-3", "sgd:lr=0.1,momentum=0.8,nesterov=1,weight_decay=1e-3"},
        {"adagrad:lr=0.05,eps=1e-6,wd=0.01", "adagrad:lr=0.05,eps=1e-6,weight_decay=0.01"},
        {"rmsprop:lr=0.01,rho=0.9,eps=1e-6,wd=1e-4",
         "rmsprop:lr=0.01,alpha=0.9,eps=1e-6,weight_decay=1e-4"},
        {"adam:lr=0.01,b1=0.8,b2=0.99,eps=1e-6,wd=1e-4",
         "adam:lr=0.01,betas=0.8/0.99,eps=1e-6,weight_decay=1e-4"},
        {"adamw:lr=0.01,b1=0.8,b2=0.99,wd=0.1", "adamw:lr=0.01,betas=0.8/0.99,weight_decay=0.1"},
        {"step(fixed:lr=0.1),every=3,gamma=0.5", "step(fixed:lr=0.1),step_size=3,gamma=0.5"},
        {"cosine(adam:lr=0.01),t=5,min=0.1", "cosine(adam:lr=0.01),T_max=5,min=0.1"},
        {"clip(sgd:lr=0.1,momentum=0.9),max_norm=0.5", "clip(momentum:lr=0.1,mu=0.9),max_norm=0.5"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        check_same(pairs[i][0], 0, pairs[i][1], 0);
}

Test(optim_names, sgd_with_momentum_is_the_momentum_schedule)
{
    struct dpt_schedule *s = parse_with("sgd:lr=0.1,momentum=0.9", 0);
    cr_assert_str_eq(s->name, "momentum");
    dpt_schedule_destroy(s);
    s = parse_with("sgd:momentum=0.9,nesterov=1", 0);
    cr_assert_str_eq(s->name, "nesterov");
    dpt_schedule_destroy(s);
    s = parse_with("sgd:lr=0.1", 0);
    cr_assert_str_eq(s->name, "fixed");
    cr_assert(s->flags & DPT_SCHEDULE_LINEAR); // still folded into the gradient product
    dpt_schedule_destroy(s);
}

Test(optim_names, epoch_counts_become_steps)
{
    // round(E x steps per epoch), at least 1.
    check_same("cosine(adam:lr=0.01),t_epochs=2.5,min=0.1", 20, "cosine(adam:lr=0.01),t=50,min=0.1",
               0);
    check_same("warmup(cosine(adam),t_epochs=3),t_epochs=0.5", 7, "warmup(cosine(adam),t=21),t=4",
               0);                                                     // 3.5 rounds to 4
    check_same("warmup(sgd),t_epochs=0.01", 20, "warmup(sgd),t=1", 0); // 0.2 steps: at least 1
    check_same("step(sgd:lr=0.1),every_epochs=3,gamma=0.5", 7,
               "step(sgd:lr=0.1),every=21,gamma=0.5", 0);
    // Without epoch counts the steps per epoch change nothing.
    check_same("cosine(adam),t=30", 1000, "cosine(adam),t=30", 0);
    struct dpt_schedule *s = parse_with("cosine(fixed:lr=1),t_epochs=1", 4);
    cr_assert(fabs(dpt_schedule_rate(s, 3) - 0.5) < 1e-12); // T = 4 steps: halfway at t = 3
    cr_assert(fabs(dpt_schedule_rate(s, 5)) < 1e-12);
    dpt_schedule_destroy(s);
}

// DPT_ERR_INVALID, *out NULL, and the message holds each needle.
static void check_bad(const char *spec, uint64_t steps_per_epoch, const char *n1, const char *n2)
{
    struct dpt_schedule *s = (struct dpt_schedule *)&s;
    enum dpt_status st = steps_per_epoch ? dpt_schedule_parse_epochs(spec, steps_per_epoch, &s)
                                         : dpt_schedule_parse(spec, &s);
    const char *msg = dpt_last_error();
    cr_assert_eq(st, DPT_ERR_INVALID, "'%s' gave status %d (%s)", spec, st, msg);
    cr_assert_null(s, "'%s': *out not NULL on error", spec);
    cr_assert_null(strchr(msg, '\n'), "'%s': message is not one line: %s", spec, msg);
    const char *needles[] = {n1, n2};
    for (int i = 0; i < 2; i++)
        if (needles[i])
            cr_assert_not_null(strstr(msg, needles[i]), "'%s': message '%s' lacks \"%s\"", spec,
                               msg, needles[i]);
}

Test(optim_names, errors)
{
    // Two names for one value.
    check_bad("adam:wd=0.1,weight_decay=0.1", 0, "'weight_decay'", "'wd' already set");
    check_bad("adam:b2=0.99,betas=0.9/0.999", 0, "'betas'", "'b2' already set");
    check_bad("rmsprop:alpha=0.9,rho=0.9", 0, "'rho'", "'alpha' already set");
    check_bad("cosine(adam),t=5,t_epochs=1", 10, "'t_epochs'", "'t' already set");
    check_bad("step(sgd),every_epochs=1,step_size=5", 10, "'step_size'", "'every_epochs'");
    check_bad("adam:betas=0.9/0.99,betas=0.9/0.99", 0, "duplicate key 'betas'", NULL);
    // betas needs two numbers in range.
    check_bad("adam:betas=0.9", 0, "expected '/'", "betas=0.9/0.999");
    check_bad("adam:betas=0.9/", 0, "expected a number", "'betas'");
    check_bad("adam:betas=0.9/1", 0, "'1'", "out of range");
    check_bad("adam:betas=0.9,0.999", 0, "expected '/'", NULL);
    // sgd's PyTorch keys.
    check_bad("sgd:nesterov=1", 0, "nesterov=1 needs momentum > 0", NULL);
    check_bad("sgd:momentum=0.9,nesterov=0.5", 0, "'0.5'", "integer");
    check_bad("sgd:momentum=1", 0, "'1'", "out of range");
    check_bad("sgd:mu=0.9", 0, "'mu'", "valid keys: lr, wd, momentum, nesterov; also weight_decay");
    check_bad("fixed:momentum=0.9", 0, "'momentum'", "'fixed'");
    // PyTorch keys dptrain does not take say what to do instead.
    check_bad("cosine(sgd),eta_min=0.001", 0, "'eta_min'", "min = eta_min / lr");
    check_bad("adagrad:lr_decay=0.01", 0, "'lr_decay'", "invtime(adagrad");
    check_bad("sgd:momentum=0.9,dampening=0.1", 0, "'dampening'", "no dampening");
    // Epoch counts need the steps per epoch, and must be > 0.
    check_bad("cosine(adam),t_epochs=2", 0, "'t_epochs'", "steps per epoch");
    check_bad("step(sgd),every_epochs=2", 0, "'every_epochs'", "position 10");
    check_bad("cosine(adam),t_epochs=0", 5, "'0'", "out of range");
    check_bad("cosine(adam),t_epochs=1e15", 5, "'t_epochs'", "over the limit");
    check_bad("adam:t_epochs=1", 5, "unknown key 't_epochs'", NULL);
    struct dpt_schedule *s = NULL;
    cr_assert_eq(dpt_schedule_parse_epochs("adam", 0, &s), DPT_ERR_INVALID);
    cr_assert_null(s);
}
