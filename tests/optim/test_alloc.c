// Allocation failures in optim: every allocation of dpt_schedule_parse (base schedules, nested
// wrappers) and of dpt_schedule_init fails in turn: DPT_ERR_NOMEM with a message, *out NULL and
// nothing leaked.
#include <criterion/criterion.h>

#include "alloc_walk.h"

static enum dpt_status try_parse_init(void *arg)
{
    struct dpt_schedule *s = NULL;
    enum dpt_status st = dpt_schedule_parse(arg, &s);
    if (st != DPT_OK) {
        cr_assert_null(s, "*out must be NULL on error");
        return st;
    }
    st = dpt_schedule_init(s, 100); // per-parameter state of every schedule in the chain
    dpt_schedule_destroy(s);
    return st;
}

Test(optim, parse_and_init_survive_every_failed_allocation)
{
    const char *specs[] = {
        "sgd",
        "adam:lr=1e-3,b1=0.8",
        "adagrad:lr=0.05",
        "nesterov:lr=0.1,mu=0.9",
        "clip(warmup(cosine(adamw:lr=3e-4),t=10000,min=0.1),t=500)",
        "step(rmsprop),every=10",
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        cr_assert_geq(alloc_walk(specs[i], try_parse_init, (void *)specs[i], DPT_ERR_NOMEM), 1);
}
