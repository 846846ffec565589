// Every built-in schedule step computes bitwise the same at every vector level this CPU runs
// (src/optim/schedule_impl.h: each step is compiled once per level and the level in use picks the
// copy). The steps are elementwise and built without FMA contraction, so a different vector width
// may not change a single bit; a copy built with contraction (an FMA where the formula has a
// multiply and an add) or with a different formula fails here.
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "core/gemm_impl.h"
#include "dptrain/dptrain.h"

// Enough parameters for whole vectors at every width, plus tails: a range that starts and ends
// off a vector boundary, stepped in two unequal slices as the trainer's workers do.
#define N     1037
#define LO    3
#define MID   517
#define HI    (N - 5)
#define STEPS 4

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

// Values over several binades and of both signs, with some zeros.
static float value(uint32_t *s)
{
    const uint32_t r = lcg(s);
    if (r % 17 == 0)
        return 0.0f;
    const float mant = (float)(r & 0xffff) / 65536.0f + 0.5f;
    const int e = (int)((r >> 16) % 9) - 6;
    const float v = mant * (float)(1u << (e + 6)) / 64.0f;
    return (r >> 7) & 1 ? -v : v;
}

// Runs STEPS steps of spec at the level in use over [LO, HI) in two slices; theta after them.
static void run(const char *spec, float theta[N])
{
    struct dpt_schedule *s = NULL;
    cr_assert_eq(dpt_schedule_parse(spec, &s), DPT_OK, "%s: %s", spec, dpt_last_error());
    cr_assert_eq(dpt_schedule_init(s, N), DPT_OK, "%s: %s", spec, dpt_last_error());
    uint32_t seed = 12345u;
    for (size_t i = 0; i < N; i++)
        theta[i] = value(&seed);
    float grad[N];
    for (int k = 0; k < STEPS; k++) {
        double sq = 0.0;
        for (size_t i = 0; i < N; i++) {
            grad[i] = value(&seed);
            sq += (double)grad[i] * (double)grad[i];
        }
        const struct dpt_step_ctx ctx = {.step = (uint64_t)k + 1,
                                         .epoch = 1,
                                         .batch_size = 32,
                                         .grad_sq_norm = sq,
                                         .lr_mult = 1.0};
        dpt_schedule_step(s, &ctx, theta, grad, LO, MID);
        dpt_schedule_step(s, &ctx, theta, grad, MID, HI);
    }
    dpt_schedule_destroy(s);
}

Test(levels, every_schedule_step_is_bitwise_the_same_at_every_vector_level)
{
    static const char *const specs[] = {
        "fixed:lr=0.05",
        "fixed:lr=0.05,wd=0.01",
        "normalized:lr=0.1",
        "momentum:lr=0.05,mu=0.9",
        "momentum:lr=0.05,mu=0.9,wd=0.001",
        "nesterov:lr=0.05,mu=0.9",
        "adagrad:lr=0.1",
        "adagrad:lr=0.1,wd=0.01",
        "rmsprop:lr=0.01",
        "adam:lr=1e-3",
        "adam:lr=1e-3,wd=0.01",
        "adamw:lr=1e-3",
        "clip(adam:lr=1e-3),max_norm=1",
        "cosine(momentum:lr=0.05,mu=0.9),t=10",
    };
    const enum dpt_isa levels[] = {DPT_ISA_AVX2, DPT_ISA_AVX512, DPT_ISA_NEON};
    size_t compared = 0;
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        static float want[N], got[N];
        cr_assert(dpt_isa_force(DPT_ISA_GENERIC), "the generic level is always there");
        run(specs[i], want);
        for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
            if (!dpt_isa_force(levels[l]))
                continue; // not this CPU's (or this build's)
            run(specs[i], got);
            for (size_t j = 0; j < N; j++)
                cr_assert(memcmp(&got[j], &want[j], sizeof(float)) == 0,
                          "%s at level %d: theta[%zu] = %a, the generic level's %a", specs[i],
                          (int)levels[l], j, (double)got[j], (double)want[j]);
            compared++;
        }
        // Outside [LO, HI) nothing moved.
        uint32_t seed = 12345u;
        for (size_t j = 0; j < N; j++) {
            const float t0 = value(&seed);
            if (j < LO || j >= HI)
                cr_assert(memcmp(&want[j], &t0, sizeof(float)) == 0, "%s: theta[%zu] moved",
                          specs[i], j);
        }
    }
    dpt_isa_reset();
    cr_log_info("%zu schedule x level comparisons", compared);
}
