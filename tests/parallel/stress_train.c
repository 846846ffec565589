// A few training epochs on the pthreads engine at T = 1..4 (plain executable, so it runs under
// ThreadSanitizer), in private, reproducible and sliced gradient mode: every run completes,
// reproducible mode gives the same parameters for every T, and sliced mode gives the same
// parameters twice at the same T, so any unsynchronised access that changed a value would also
// show here; sliced mode's dynamic step gives the same parameters as its barrier version, also
// when a thread stands down (DPT_TEST_STAND_DOWN). The hidden layer (256 wide) is wide enough for
// sliced mode to split layer 1's forward pass by rows at every T up to 4. A network with two hidden
// layers of 96 runs split_all (every hidden layer by rows, a barrier after each) at T = 2..4: the
// same parameters twice at the same T, and its barrier parts race-free under ThreadSanitizer. One
// with two hidden layers of 256 and batches of 128 runs split_all with products large enough for
// the shared packed panels (each worker writes its columns into images the others read) at T = 2
// (forced) and 4: the same parameters twice, and the same as without the panels. The same network
// with batches of 32 and split_all off runs the dynamic step at T = 2 with products large enough
// to be merged (layer 2's gradient rows, 128 a worker): with a thread standing down, its items are
// run with the other's, and the parameters are the barrier version's. At T = 12 (oversubscribed
// here; runs of 4 workers in the barrier, and the dynamic step's items counted in the same runs),
// two schedules: the dynamic step's parameters are the barrier version's, the flat count's
// (DPT_BARRIER_RUNS=0) and, with a thread standing down, the same again.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dptrain/dptrain.h"

enum { PRIVATE, REPRO, SLICED, SLICED_DEEP, SLICED_WIDE, SLICED_MERGE };

static int train(struct dpt_dataset *ds, size_t T, int mode, const char *sched_spec, float *out,
                 size_t *np)
{
    struct dpt_net_spec spec = dpt_net_spec_default();
    const int merge = mode == SLICED_MERGE, wide = mode == SLICED_WIDE || merge;
    const int deep = mode == SLICED_DEEP || wide;
    spec.n_layers = deep ? 3 : 2;
    spec.sizes[0] = 2;
    spec.sizes[1] = wide ? 256 : deep ? 96 : 256;
    spec.sizes[2] = wide ? 256 : deep ? 96 : 3;
    spec.sizes[3] = 3;
    spec.act[0] = DPT_ACT_RELU;
    spec.act[1] = deep ? DPT_ACT_RELU : DPT_ACT_SOFTMAX;
    spec.act[2] = DPT_ACT_SOFTMAX;
    struct dpt_net *net = NULL;
    struct dpt_schedule *sched = NULL;
    struct dpt_trainer *tr = NULL;
    int rc = 1;
    if (dpt_net_create(&spec, &net) != DPT_OK || dpt_schedule_parse(sched_spec, &sched) != DPT_OK)
        goto done;
    dpt_net_init(net, DPT_INIT_AUTO, 0, 1);
    struct dpt_train_params p = dpt_train_params_default();
    p.threads = T;
    p.batch = merge ? 32 : wide ? 128 : 13;
    p.max_epochs = 3;
    p.reproducible = mode == REPRO;
    p.grad_mode = mode == SLICED || deep ? DPT_GRAD_SLICED : DPT_GRAD_PRIVATE;
    if (dpt_trainer_create(net, sched, &p, &tr) != DPT_OK)
        goto done;
    if (deep && !merge && strcmp(dpt_trainer_decomposition(tr), "hidden layers by features") != 0) {
        fprintf(stderr, "T=%zu: split %s, not split_all\n", T, dpt_trainer_decomposition(tr));
        goto done;
    }
    struct dpt_epoch_stats st;
    if (dpt_trainer_fit(tr, ds, ds, NULL, &st) != DPT_OK)
        goto done;
    *np = dpt_net_n_params(net);
    memcpy(out, dpt_net_params(net), *np * sizeof(float));
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "T=%zu: %s\n", T, dpt_last_error());
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
    return rc;
}

// Trains again (mode at T) with the environment variable `var` set to `val` (NULL: as it is),
// then unset, into again; 1 when that fails or gives other parameters than want.
static int same_with(struct dpt_dataset *ds, size_t T, int mode, const char *sched, const char *var,
                     const char *val, const float *want, float *again, size_t *np)
{
    if (var)
        setenv(var, val, 1);
    int bad = train(ds, T, mode, sched, again, np) != 0;
    if (var)
        unsetenv(var);
    return bad || memcmp(want, again, *np * sizeof(float)) != 0;
}

int main(void)
{
    struct dpt_dataset *ds;
    if (dpt_synth("blobs", 300, 3, 1, &ds) != DPT_OK) {
        fprintf(stderr, "%s\n", dpt_last_error());
        return 1;
    }
    static float ref[1 << 17], got[1 << 17], again[1 << 17]; // the largest network: 67k
    size_t np = 0;
    int failures = 0, passed = 0;
    const char *scheds[] = {"adam:lr=0.01", "clip(momentum:lr=0.05),max_norm=1",
                            "normalized:lr=0.1", "sgd:lr=0.05"};
    for (size_t s = 0; s < 4; s++) {
        if (train(ds, 1, REPRO, scheds[s], ref, &np))
            return 1;
        for (size_t T = 1; T <= 4; T++) {
            const char *sc = scheds[s];
            int bad = train(ds, T, PRIVATE, sc, got, &np) != 0;
            bad |= train(ds, T, SLICED, sc, got, &np) != 0;
            bad |= same_with(ds, T, SLICED, sc, NULL, NULL, got, again, &np);
            // The same with the barrier version of the sliced step, with the rows moved to their
            // workers' nodes, and with the dynamic one's last thread standing down at every check
            // (its items done by the others): the decomposition is the same, so are the
            // parameters.
            bad |= same_with(ds, T, SLICED, sc, "DPT_STEP", "barrier", got, again, &np);
            bad |= same_with(ds, T, SLICED, sc, "DPT_TEST_HOME_ROWS", "1", got, again, &np);
            bad |= same_with(ds, T, SLICED, sc, "DPT_TEST_STAND_DOWN", "1", got, again, &np);
            if (T > 1) {
                bad |= train(ds, T, SLICED_DEEP, sc, got, &np) != 0;
                bad |= same_with(ds, T, SLICED_DEEP, sc, NULL, NULL, got, again, &np);
            }
            if (T == 2 || T == 4) { // split_all (forced at T = 2), with and without shared panels
                if (T == 2)
                    setenv("DPT_SPLIT_ALL", "1", 1);
                bad |= train(ds, T, SLICED_WIDE, sc, got, &np) != 0;
                bad |= same_with(ds, T, SLICED_WIDE, sc, NULL, NULL, got, again, &np);
                bad |= same_with(ds, T, SLICED_WIDE, sc, "DPT_SHARE_PACK", "0", got, again, &np);
                unsetenv("DPT_SPLIT_ALL");
            }
            if (T == 2) { // the dynamic step's merged items, against its barrier version
                setenv("DPT_SPLIT_ALL", "0", 1);
                bad |= train(ds, T, SLICED_MERGE, sc, got, &np) != 0;
                bad |=
                    same_with(ds, T, SLICED_MERGE, sc, "DPT_TEST_STAND_DOWN", "1", got, again, &np);
                bad |= same_with(ds, T, SLICED_MERGE, sc, "DPT_STEP", "barrier", got, again, &np);
                unsetenv("DPT_SPLIT_ALL");
            }
            bad |= same_with(ds, T, REPRO, sc, NULL, NULL, ref, got, &np);
            printf("%s T=%zu: %s\n", scheds[s], T, bad ? "FAIL" : "ok");
            failures += bad;
            passed += !bad;
        }
        if (s < 2) { // past 8 threads: the dynamic step counts its items in the barrier's runs
            const size_t T = 12;
            const char *sc = scheds[s];
            int bad = train(ds, T, SLICED, sc, got, &np) != 0;
            bad |= same_with(ds, T, SLICED, sc, "DPT_STEP", "barrier", got, again, &np);
            bad |= same_with(ds, T, SLICED, sc, "DPT_BARRIER_RUNS", "0", got, again, &np);
            bad |= same_with(ds, T, SLICED, sc, "DPT_TEST_STAND_DOWN", "1", got, again, &np);
            printf("%s T=%zu: %s\n", sc, T, bad ? "FAIL" : "ok");
            failures += bad;
            passed += !bad;
        }
    }
    dpt_dataset_destroy(ds);
    printf("%d passed, %d failed\n", passed, failures);
    return failures ? 1 : 0;
}
