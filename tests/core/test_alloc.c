// Allocation failures in core: the injection hook itself (one failure, exactly where asked, from
// any thread), then every allocation of dpt_net_create, dpt_workspace_create and
// dpt_net_gradient failing in turn: DPT_ERR_NOMEM with a message, nothing leaked.
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>

#include "alloc_walk.h"

Test(core, alloc_hook_fails_exactly_the_nth_allocation_once)
{
    long base = dpt_alloc_outstanding();
    dpt_alloc_fail_after(2);
    void *a = dpt_malloc(8), *b = dpt_calloc(2, 8), *c = dpt_alloc_aligned(64);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_null(c, "the third allocation (n = 2) must fail");
    cr_assert(dpt_alloc_fail_fired());
    void *d = dpt_realloc(NULL, 16);
    cr_assert_not_null(d, "the failure is injected once, later allocations succeed");
    cr_assert_eq(dpt_alloc_outstanding() - base, 3);

    // A failed realloc leaves the old block valid and counted.
    dpt_alloc_fail_after(0);
    cr_assert_null(dpt_realloc(d, 4096));
    void *e = dpt_realloc(d, 4096);
    cr_assert_not_null(e);
    cr_assert_eq(dpt_alloc_outstanding() - base, 3);

    dpt_free(a);
    dpt_free(b);
    dpt_free(e);
    dpt_free(NULL);
    dpt_free_aligned(NULL);
    cr_assert_eq(dpt_alloc_outstanding(), base);

    // Disarmed: nothing fails, and nothing reports a failure.
    dpt_alloc_fail_after(-1);
    void *f = dpt_malloc(1);
    cr_assert_not_null(f);
    cr_assert_not(dpt_alloc_fail_fired());
    dpt_free(f);
}

// ---- the countdown is shared by threads ----

#define HOOK_THREADS    4
#define HOOK_PER_THREAD 1000

static atomic_int hook_nulls;

static void *hook_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < HOOK_PER_THREAD; i++) {
        void *p = dpt_malloc(32);
        if (!p)
            atomic_fetch_add(&hook_nulls, 1);
        dpt_free(p);
    }
    return NULL;
}

Test(core, alloc_hook_fails_once_across_threads)
{
    pthread_t th[HOOK_THREADS];
    long base = dpt_alloc_outstanding();
    atomic_store(&hook_nulls, 0);
    dpt_alloc_fail_after(HOOK_THREADS * HOOK_PER_THREAD / 2);
    for (int t = 0; t < HOOK_THREADS; t++)
        cr_assert_eq(pthread_create(&th[t], NULL, hook_worker, NULL), 0);
    for (int t = 0; t < HOOK_THREADS; t++)
        pthread_join(th[t], NULL);
    cr_assert_eq(atomic_load(&hook_nulls), 1, "exactly one of the concurrent allocations fails");
    cr_assert(dpt_alloc_fail_fired());
    cr_assert_eq(dpt_alloc_outstanding(), base);
    dpt_alloc_fail_after(-1);
}

// ---- creation functions ----

static struct dpt_net_spec three_layer_spec(void)
{
    struct dpt_net_spec spec = dpt_net_spec_default();
    spec.n_layers = 3;
    spec.sizes[0] = 5;
    spec.sizes[1] = 7;
    spec.sizes[2] = 4;
    spec.sizes[3] = 3;
    spec.act[0] = DPT_ACT_RELU;
    spec.act[1] = DPT_ACT_TANH;
    spec.act[2] = DPT_ACT_SOFTMAX;
    return spec;
}

static enum dpt_status try_net_create(void *arg)
{
    struct dpt_net *net = NULL;
    enum dpt_status st = dpt_net_create(arg, &net);
    if (st == DPT_OK)
        cr_assert_not_null(net);
    else
        cr_assert_null(net, "*out must be NULL on error");
    dpt_net_destroy(net);
    return st;
}

Test(core, net_create_survives_every_failed_allocation)
{
    struct dpt_net_spec spec = three_layer_spec();
    cr_assert_geq(alloc_walk("dpt_net_create", try_net_create, &spec, DPT_ERR_NOMEM), 2);
}

static enum dpt_status try_workspace_create(void *arg)
{
    struct dpt_workspace *ws = NULL;
    enum dpt_status st = dpt_workspace_create(arg, 16, &ws);
    if (st != DPT_OK)
        cr_assert_null(ws, "*out must be NULL on error");
    dpt_workspace_destroy(ws);
    return st;
}

Test(core, workspace_create_survives_every_failed_allocation)
{
    struct dpt_net_spec spec = three_layer_spec();
    struct dpt_net *net = NULL;
    cr_assert_eq(dpt_net_create(&spec, &net), DPT_OK, "%s", dpt_last_error());
    cr_assert_geq(alloc_walk("dpt_workspace_create", try_workspace_create, net, DPT_ERR_NOMEM), 1);
    dpt_net_destroy(net);
}

struct gradient_case {
    struct dpt_net *net;
    float x[4 * 5];
    int32_t labels[4];
    float *grad;
};

static enum dpt_status try_gradient(void *arg)
{
    struct gradient_case *g = arg;
    struct dpt_targets t = {g->labels, NULL};
    double loss = 0.0;
    return dpt_net_gradient(g->net, g->x, 4, &t, g->grad, &loss);
}

Test(core, net_gradient_survives_every_failed_allocation)
{
    struct dpt_net_spec spec = three_layer_spec();
    struct gradient_case g = {0};
    cr_assert_eq(dpt_net_create(&spec, &g.net), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_net_init(g.net, DPT_INIT_AUTO, 0.0f, 3), DPT_OK);
    for (size_t i = 0; i < 20; i++)
        g.x[i] = 0.1f * (float)i - 1.0f;
    for (size_t i = 0; i < 4; i++)
        g.labels[i] = (int32_t)(i % 3);
    g.grad = dpt_alloc_aligned(dpt_net_n_params(g.net) * sizeof(float));
    cr_assert_not_null(g.grad);
    cr_assert_geq(alloc_walk("dpt_net_gradient", try_gradient, &g, DPT_ERR_NOMEM), 1);
    dpt_free_aligned(g.grad);
    dpt_net_destroy(g.net);
}
