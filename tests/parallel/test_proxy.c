// The scaling proxy (src/parallel/proxy.c): it takes the gradient mode the trainer takes, its model
// follows its stated formula (the 1-thread prediction is the measured step, efficiency in (0, 1]
// and never rising from T to a multiple of T, the memory, barrier, NUMA and core-speed terms), it
// counts the bytes each worker reads cold, refuses bad arguments and leaves nothing allocated.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_impl.h"
#include "dptrain/dptrain.h"
#include "parallel/proxy_impl.h"
#include "parallel/trainer_impl.h"

static struct dpt_net_spec spec_of(const size_t *sizes, size_t n_layers)
{
    struct dpt_net_spec spec = dpt_net_spec_default();
    spec.n_layers = n_layers;
    for (size_t l = 0; l <= n_layers; l++)
        spec.sizes[l] = sizes[l];
    for (size_t l = 0; l < n_layers; l++)
        spec.act[l] = l + 1 == n_layers ? DPT_ACT_SOFTMAX : DPT_ACT_RELU;
    spec.loss = DPT_LOSS_XENT;
    return spec;
}

// Few steps on a small data set: the tests check what is run, not how fast.
static struct dpt_proxy_params quick(size_t batch, enum dpt_grad_mode grad)
{
    struct dpt_proxy_params p = dpt_proxy_params_default();
    p.batch = batch;
    p.grad_mode = grad;
    p.samples = 4 * batch;
    p.warmup = 1;
    p.steps = 3;
    return p;
}

static struct dpt_proxy_model plain_model(void)
{
    struct dpt_proxy_model m = {.mem_bw = 100e9,
                                .line_s = 20e-9,
                                .node_cores = 0,
                                .numa_factor = 3.0,
                                .core_speed = 1.0,
                                .allcore = 1.0,
                                .cores = 0};
    return m;
}

Test(proxy, resolves_the_mode_as_the_trainer_does)
{
    static const struct {
        size_t sizes[4];
        size_t n_layers, batch;
        const char *schedule;
    } cases[] = {
        {{20, 128, 10, 0}, 2, 32, "fixed:lr=0.05"},     // S-like: sliced, fused
        {{2, 256, 2, 0}, 2, 64, "adam:lr=1e-3"},        // private under auto
        {{16, 512, 64, 4}, 3, 16, "adam:lr=1e-3"},      // layer 1 split by rows up to T = 8
        {{16, 512, 64, 4}, 3, 100, "clip(sgd:lr=0.1)"}, // needs the norm: not fused
        {{12, 40, 10, 0}, 2, 3, "momentum:lr=0.1"},     // fewer samples than workers
        {{16, 256, 128, 4}, 3, 32, "adam:lr=1e-3"},     // split_all at T = 2, 3 and 16, not 7
    };
    static const size_t threads[] = {1, 2, 3, 7, 16};
    static const enum dpt_grad_mode grads[] = {DPT_GRAD_AUTO, DPT_GRAD_PRIVATE, DPT_GRAD_SLICED};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const struct dpt_net_spec spec = spec_of(cases[c].sizes, cases[c].n_layers);
        for (size_t g = 0; g < 3; g++) {
            struct dpt_proxy *px = NULL;
            const struct dpt_proxy_params p = quick(cases[c].batch, grads[g]);
            cr_assert_eq(dpt_proxy_create(&spec, cases[c].schedule, &p, &px), DPT_OK, "%s",
                         dpt_last_error());
            for (size_t i = 0; i < sizeof threads / sizeof threads[0]; i++) {
                struct dpt_proxy_meas x;
                cr_assert_eq(dpt_proxy_measure(px, threads[i], &x), DPT_OK, "%s", dpt_last_error());
                struct dpt_net *net = NULL;
                struct dpt_schedule *sched = NULL;
                struct dpt_trainer *tr = NULL;
                cr_assert_eq(dpt_net_create(&spec, &net), DPT_OK);
                cr_assert_eq(dpt_schedule_parse(cases[c].schedule, &sched), DPT_OK);
                struct dpt_train_params tp = dpt_train_params_default();
                tp.batch = cases[c].batch;
                tp.threads = threads[i];
                tp.grad_mode = grads[g];
                cr_assert_eq(dpt_trainer_create(net, sched, &tp, &tr), DPT_OK, "%s",
                             dpt_last_error());
                cr_expect_eq(x.threads, threads[i]);
                cr_expect_eq(x.sliced, tr->sliced, "case %zu, grad %zu, T %zu: sliced", c, g,
                             threads[i]);
                cr_expect_eq(x.split_first, tr->split_first, "case %zu, grad %zu, T %zu", c, g,
                             threads[i]);
                cr_expect_eq(x.split_all, tr->split_all, "case %zu, grad %zu, T %zu: split_all", c,
                             g, threads[i]);
                if (c == 6 && grads[g] != DPT_GRAD_PRIVATE)
                    cr_expect_eq(x.split_all, threads[i] != 1 && threads[i] != 7, "T %zu",
                                 threads[i]);
                cr_expect_eq(x.barriers,
                             ((sched->flags & DPT_SCHEDULE_NEEDS_NORM) ? 3u : 2u) +
                                 (tr->split_all ? 2 * cases[c].n_layers - 3 : 0),
                             "case %zu, T %zu: barriers", c, threads[i]);
                cr_expect_eq(x.fused, tr->fused, "case %zu, grad %zu, T %zu", c, g, threads[i]);
                cr_expect(x.kinds >= 1 && x.kinds <= threads[i]);
                cr_expect(x.phase1_s >= 0 && x.phase2_s >= 0 && x.phase1_s + x.phase2_s > 0);
                cr_expect(x.mean_s <= x.max_s * (1 + 1e-12) && x.max_s > 0);
                cr_expect_eq(x.shard_rows, (cases[c].batch + threads[i] - 1) / threads[i]);
                dpt_trainer_destroy(tr);
                dpt_schedule_destroy(sched);
                dpt_net_destroy(net);
            }
            dpt_proxy_destroy(px);
        }
    }
}

Test(proxy, one_thread_prediction_is_the_measured_step)
{
    static const size_t sizes[] = {24, 64, 32, 6};
    const struct dpt_net_spec spec = spec_of(sizes, 3);
    static const enum dpt_grad_mode grads[] = {DPT_GRAD_SLICED, DPT_GRAD_PRIVATE};
    for (size_t g = 0; g < 2; g++) {
        struct dpt_proxy *px = NULL;
        const struct dpt_proxy_params p = quick(32, grads[g]);
        cr_assert_eq(dpt_proxy_create(&spec, "adam:lr=1e-3", &p, &px), DPT_OK, "%s",
                     dpt_last_error());
        static const size_t threads[] = {1, 2, 16};
        struct dpt_proxy_meas meas[3];
        struct dpt_proxy_pred pred[3];
        for (size_t i = 0; i < 3; i++)
            cr_assert_eq(dpt_proxy_measure(px, threads[i], &meas[i]), DPT_OK, "%s",
                         dpt_last_error());
        dpt_proxy_destroy(px);
        const struct dpt_proxy_model m = plain_model();
        cr_assert_eq(dpt_proxy_predict(&m, 32, meas, 3, pred), DPT_OK, "%s", dpt_last_error());
        // Model consistency: at one thread there is no barrier, no envelope, and the memory term
        // (this core's own bytes) is below the time this core took: the step is the measured one.
        cr_expect_eq(pred[0].step_s, meas[0].phase1_s + meas[0].phase2_s);
        cr_expect_eq(pred[0].barrier_s, 0.0);
        cr_expect_eq(pred[0].samples_per_s, 32.0 / pred[0].step_s);
        cr_expect_eq(pred[0].speedup, 1.0);
        cr_expect_eq(pred[0].efficiency, 1.0);
        cr_expect_eq(meas[0].cold_private_bytes, 0.0);
        cr_expect_eq(meas[0].cold_shared_bytes, 32.0 * 24 * sizeof(float)); // the batch's rows
        for (size_t i = 0; i < 3; i++) {
            cr_expect_eq(pred[i].threads, threads[i]);
            cr_expect(pred[i].efficiency > 0 && pred[i].efficiency <= 1.0 + 1e-12,
                      "T %zu: efficiency %g", threads[i], pred[i].efficiency);
            cr_expect(fabs(pred[i].speedup - pred[i].efficiency * (double)threads[i]) <=
                      1e-12 * pred[i].speedup);
            if (i > 0) {
                cr_expect(pred[i].efficiency <= pred[i - 1].efficiency * (1 + 1e-12),
                          "efficiency rose from T %zu to %zu: %g -> %g", threads[i - 1], threads[i],
                          pred[i - 1].efficiency, pred[i].efficiency);
                cr_expect(pred[i].barrier_s > pred[i - 1].barrier_s);
                cr_expect(meas[i].cold_shared_bytes + meas[i].cold_private_bytes >
                          meas[i - 1].cold_shared_bytes + meas[i - 1].cold_private_bytes);
            }
        }
    }
}

// Hand-made measurements, so every term can be checked against the stated formula.
Test(proxy, model_terms_follow_the_formula)
{
    struct dpt_proxy_meas meas[4];
    memset(meas, 0, sizeof meas);
    const size_t threads[] = {1, 2, 4, 8};
    const double p1[] = {1e-3, 0.4e-3, 0.3e-3, 0.2e-3}, p2[] = {1e-3, 0.4e-3, 0.2e-3, 0.1e-3};
    const double shared[] = {1e3, 1e4, 1e8, 1e5}, priv[] = {0, 0, 0, 4e7};
    for (size_t i = 0; i < 4; i++) {
        meas[i].threads = threads[i];
        meas[i].phase1_s = p1[i];
        meas[i].phase2_s = p2[i];
        meas[i].max_s = p1[i] + p2[i];
        meas[i].mean_s = 0.5 * (p1[i] + p2[i]);
        meas[i].barriers = 2;
        meas[i].cold_shared_bytes = shared[i];
        meas[i].cold_private_bytes = priv[i];
    }
    struct dpt_proxy_model m = plain_model();
    m.node_cores = 4;
    m.allcore = 0.5;
    m.cores = 8;
    struct dpt_proxy_pred y[4];
    cr_assert_eq(dpt_proxy_predict(&m, 100, meas, 4, y), DPT_OK, "%s", dpt_last_error());
    const double eps = 1e-12;
#define NEAR(a, b)                                                                                 \
    cr_expect(fabs((a) - (b)) <= eps * fabs(b), "%s = %.17g, expected %.17g", #a, a, b)
    // T = 1: the measurement.
    NEAR(y[0].step_s, 2e-3);
    cr_expect_eq(y[0].nodes, 1u);
    // T = 2: compute 0.8 ms at speed 1 - 0.5 / 7, faster than half of T = 1: the envelope lifts
    // the step to exactly half of T = 1's (efficiency 1).
    const double s2 = 1.0 - 0.5 * 1.0 / 7.0;
    NEAR(y[1].compute_s, 0.8e-3 / s2);
    NEAR(y[1].barrier_s, 2.0 * 3.0 * 20e-9);
    NEAR(y[1].step_s, 1e-3);
    NEAR(y[1].envelope_s, 1e-3 - (0.8e-3 / s2 + y[1].barrier_s));
    NEAR(y[1].efficiency, 1.0);
    // T = 4: memory-bound, 1e8 bytes at 100 GB/s = 1 ms; barriers 2 x 5 x 20 ns.
    const double s4 = 1.0 - 0.5 * 3.0 / 7.0;
    NEAR(y[2].compute_s, 0.5e-3 / s4);
    NEAR(y[2].memory_s, 1e-3);
    NEAR(y[2].barrier_s, 2.0 * 5.0 * 20e-9);
    NEAR(y[2].step_s, 1e-3 + 2.0 * 5.0 * 20e-9);
    cr_expect_eq(y[2].envelope_s, 0.0);
    NEAR(y[2].samples_per_s, 100.0 / y[2].step_s);
    NEAR(y[2].speedup, y[2].samples_per_s / y[0].samples_per_s);
    NEAR(y[2].imbalance, 2.0);
    // T = 8 over two nodes of 4 cores: the two-level barrier (4 local transfers on a node's
    // counter, then 2 + 1 remote ones: the top counter and the release), node 0 serves the shared
    // bytes and half of the private ones; the compute at the all-core speed; the envelope keeps T
    // x step from falling below T = 4's (and 2's, 1's).
    cr_expect_eq(y[3].nodes, 2u);
    NEAR(y[3].compute_s, 0.3e-3 / 0.5);
    NEAR(y[3].memory_s, (1e5 + 0.5 * 4e7) / 100e9);
    NEAR(y[3].barrier_s, 2.0 * (4.0 + 3.0 * 3.0) * 20e-9);
    const double raw8 = 0.3e-3 / 0.5 + 2.0 * (4.0 + 3.0 * 3.0) * 20e-9;
    NEAR(y[3].step_s, raw8 > y[2].step_s * 4.0 / 8.0 ? raw8 : y[2].step_s * 4.0 / 8.0);
    for (size_t i = 1; i < 4; i++)
        cr_expect(y[i].efficiency <= y[i - 1].efficiency * (1 + eps));
    // One node past 8 threads: the trainer's barrier in runs of ceil(sqrt T) neighbours, run +
    // runs + 1 transfers (9 threads: 3 runs of 3; 10: runs of 4, 4, 2; 16: 4 of 4; 64: 8 of 8);
    // up to 8, T + 1.
    {
        const size_t bt[] = {1, 8, 9, 10, 16, 64};
        const double want[] = {0, 9, 7, 8, 9, 17};
        struct dpt_proxy_meas bm[6];
        memset(bm, 0, sizeof bm);
        for (size_t i = 0; i < 6; i++) {
            bm[i].threads = bt[i];
            bm[i].phase1_s = bm[i].max_s = bm[i].mean_s = 1e-3;
            bm[i].barriers = 2;
        }
        const struct dpt_proxy_model one = plain_model();
        struct dpt_proxy_pred b[6];
        cr_assert_eq(dpt_proxy_predict(&one, 100, bm, 6, b), DPT_OK, "%s", dpt_last_error());
        for (size_t i = 0; i < 6; i++)
            cr_expect(fabs(b[i].barrier_s - 2.0 * want[i] * 20e-9) <= 1e-12 * 2.0 * 17 * 20e-9,
                      "T %zu: barrier %g s, expected %g transfers", bt[i], b[i].barrier_s, want[i]);
        // DPT_BARRIER_RUNS=0 keeps the trainer's barrier flat, and the model with it: T + 1.
        setenv("DPT_BARRIER_RUNS", "0", 1);
        cr_assert_eq(dpt_proxy_predict(&one, 100, bm, 6, b), DPT_OK, "%s", dpt_last_error());
        unsetenv("DPT_BARRIER_RUNS");
        for (size_t i = 1; i < 6; i++)
            cr_expect(fabs(b[i].barrier_s - 2.0 * (double)(bt[i] + 1) * 20e-9) <=
                          1e-12 * 2.0 * 65 * 20e-9,
                      "T %zu flat: barrier %g s", bt[i], b[i].barrier_s);
    }
    // The envelope applies from T' to multiples of T' only: a slow T = 3 lifts T = 6, not T = 4.
    struct dpt_proxy_meas dip[4];
    memset(dip, 0, sizeof dip);
    const size_t dip_t[] = {1, 3, 4, 6};
    const double dip_s[] = {3e-3, 3e-3, 0.8e-3, 0.9e-3};
    for (size_t i = 0; i < 4; i++) {
        dip[i].threads = dip_t[i];
        dip[i].phase1_s = dip_s[i];
        dip[i].max_s = dip[i].mean_s = dip_s[i];
        dip[i].barriers = 2;
    }
    struct dpt_proxy_model flat = plain_model();
    flat.line_s = 0.0;
    struct dpt_proxy_pred d[4];
    cr_assert_eq(dpt_proxy_predict(&flat, 100, dip, 4, d), DPT_OK, "%s", dpt_last_error());
    cr_expect_eq(d[1].envelope_s, 0.0);
    NEAR(d[1].efficiency, 1.0 / 3.0);
    cr_expect_eq(d[2].envelope_s, 0.0, "T = 4 is no multiple of 3");
    NEAR(d[2].step_s, 0.8e-3);
    cr_expect(d[2].efficiency > d[1].efficiency);
    NEAR(d[3].step_s, 3e-3 * 3.0 / 6.0); // lifted: at least half of T = 3's step
    NEAR(d[3].envelope_s, 1.5e-3 - 0.9e-3);
    // A faster target core divides the compute only.
    m.core_speed = 2.0;
    struct dpt_proxy_pred z[4];
    cr_assert_eq(dpt_proxy_predict(&m, 100, meas, 4, z), DPT_OK);
    NEAR(z[0].step_s, 1e-3);
    NEAR(z[2].compute_s, y[2].compute_s / 2.0);
    NEAR(z[2].memory_s, y[2].memory_s);
#undef NEAR
}

Test(proxy, counts_what_each_worker_reads_cold)
{
    static const size_t sizes[] = {20, 48, 10};
    const struct dpt_net_spec spec = spec_of(sizes, 2);
    struct dpt_proxy *px = NULL;
    const struct dpt_proxy_params p = quick(16, DPT_GRAD_PRIVATE);
    cr_assert_eq(dpt_proxy_create(&spec, "sgd:lr=0.1", &p, &px), DPT_OK, "%s", dpt_last_error());
    struct dpt_net *net = NULL;
    cr_assert_eq(dpt_net_create(&spec, &net), DPT_OK);
    const double pbytes = (double)dpt_net_n_params(net) * sizeof(float);
    const double rows = 16.0 * 20 * sizeof(float);
    dpt_net_destroy(net);
    for (size_t T = 1; T <= 5; T++) {
        struct dpt_proxy_meas x;
        cr_assert_eq(dpt_proxy_measure(px, T, &x), DPT_OK, "%s", dpt_last_error());
        cr_expect_eq(x.sliced, 0);
        // Private mode: each worker reads the parameters outside its slice (the others updated
        // them) and its slice of every other worker's gradient: (T - 1) parameter vectors each.
        cr_expect_eq(x.cold_private_bytes, (double)(T - 1) * pbytes, "T %zu", T);
        cr_expect_eq(x.cold_shared_bytes, rows + (double)(T - 1) * pbytes, "T %zu", T);
    }
    // More workers than samples: the idle ones read nothing and no one reads their gradients.
    struct dpt_proxy_meas x;
    cr_assert_eq(dpt_proxy_measure(px, 32, &x), DPT_OK, "%s", dpt_last_error());
    cr_expect_eq(x.cold_private_bytes, 15.0 * pbytes);
    cr_expect_eq(x.cold_shared_bytes, rows + 15.0 * pbytes);
    dpt_proxy_destroy(px);
}

Test(proxy, rejects_bad_arguments)
{
    static const size_t sizes[] = {8, 16, 4};
    const struct dpt_net_spec spec = spec_of(sizes, 2);
    struct dpt_proxy *px = (struct dpt_proxy *)1;
    struct dpt_proxy_params p = quick(16, DPT_GRAD_AUTO);
    p.batch = 0;
    cr_expect_eq(dpt_proxy_create(&spec, "sgd:lr=0.1", &p, &px), DPT_ERR_INVALID);
    cr_expect_null(px);
    cr_expect(strstr(dpt_last_error(), "batch"), "%s", dpt_last_error());
    p = quick(16, DPT_GRAD_AUTO);
    p.samples = 8;
    cr_expect_eq(dpt_proxy_create(&spec, "sgd:lr=0.1", &p, &px), DPT_ERR_INVALID);
    cr_expect(strstr(dpt_last_error(), "samples"), "%s", dpt_last_error());
    p = quick(16, DPT_GRAD_AUTO);
    p.steps = 0;
    cr_expect_eq(dpt_proxy_create(&spec, "sgd:lr=0.1", &p, &px), DPT_ERR_INVALID);
    p = quick(16, DPT_GRAD_AUTO);
    cr_expect_neq(dpt_proxy_create(&spec, "sgd:lr=", &p, &px), DPT_OK);
    cr_assert_eq(dpt_proxy_create(&spec, "sgd:lr=0.1", &p, &px), DPT_OK, "%s", dpt_last_error());
    struct dpt_proxy_meas meas[2];
    cr_expect_eq(dpt_proxy_measure(px, 0, &meas[0]), DPT_ERR_INVALID);
    cr_expect_eq(dpt_proxy_measure(px, 1025, &meas[0]), DPT_ERR_INVALID);
    cr_assert_eq(dpt_proxy_measure(px, 2, &meas[0]), DPT_OK);
    cr_assert_eq(dpt_proxy_measure(px, 1, &meas[1]), DPT_OK);
    dpt_proxy_destroy(px);
    struct dpt_proxy_pred pred[2];
    const struct dpt_proxy_model m = plain_model();
    cr_expect_eq(dpt_proxy_predict(&m, 16, meas, 2, pred), DPT_ERR_INVALID); // starts at T = 2
    cr_expect(strstr(dpt_last_error(), "1 thread"), "%s", dpt_last_error());
    struct dpt_proxy_meas swapped[2] = {meas[1], meas[1]};
    cr_expect_eq(dpt_proxy_predict(&m, 16, swapped, 2, pred), DPT_ERR_INVALID); // 1, 1
    swapped[1] = meas[0];
    cr_expect_eq(dpt_proxy_predict(&m, 16, swapped, 2, pred), DPT_OK);
    struct dpt_proxy_model bad = m;
    bad.mem_bw = 0;
    cr_expect_eq(dpt_proxy_predict(&bad, 16, swapped, 2, pred), DPT_ERR_INVALID);
    bad = m;
    bad.numa_factor = 0.5;
    cr_expect_eq(dpt_proxy_predict(&bad, 16, swapped, 2, pred), DPT_ERR_INVALID);
    bad = m;
    bad.allcore = 1.5;
    cr_expect_eq(dpt_proxy_predict(&bad, 16, swapped, 2, pred), DPT_ERR_INVALID);
}

Test(proxy, leaves_nothing_allocated)
{
    static const size_t sizes[] = {16, 96, 8};
    const struct dpt_net_spec spec = spec_of(sizes, 2);
    const long before = dpt_alloc_outstanding();
    static const enum dpt_grad_mode grads[] = {DPT_GRAD_PRIVATE, DPT_GRAD_SLICED};
    for (size_t g = 0; g < 2; g++) {
        struct dpt_proxy *px = NULL;
        const struct dpt_proxy_params p = quick(32, grads[g]);
        cr_assert_eq(dpt_proxy_create(&spec, "adamw:lr=1e-3", &p, &px), DPT_OK);
        struct dpt_proxy_meas x;
        for (size_t T = 1; T <= 3; T++)
            cr_assert_eq(dpt_proxy_measure(px, T, &x), DPT_OK, "%s", dpt_last_error());
        dpt_proxy_destroy(px);
    }
    cr_expect_eq(dpt_alloc_outstanding(), before);
}
