// The cross-process seam, exercised without MPI: R "processes" are R threads of this test, each
// with its own network, schedule and trainer, joined by an in-memory struct dpt_comm whose
// collectives sum in rank order (identical on every rank, as the contract requires).
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dptrain/dptrain.h"

enum { MAX_RANKS = 4, MAX_FLOATS = 1 << 16 };

struct shared {
    pthread_barrier_t bar;
    int size;
    float f[MAX_RANKS][MAX_FLOATS];
    double d[MAX_RANKS][64];
    float big[MAX_RANKS * MAX_FLOATS];
    double dbig[64];
};

struct local_comm {
    struct dpt_comm comm;
    struct shared *sh;
};

static enum dpt_status ar_f32(struct dpt_comm *c, float *buf, size_t n)
{
    struct shared *sh = ((struct local_comm *)c)->sh;
    cr_assert(n <= MAX_FLOATS);
    memcpy(sh->f[c->rank], buf, n * sizeof(float));
    pthread_barrier_wait(&sh->bar);
    for (size_t i = 0; i < n; i++) {
        float s = sh->f[0][i];
        for (int r = 1; r < sh->size; r++)
            s += sh->f[r][i];
        buf[i] = s;
    }
    pthread_barrier_wait(&sh->bar);
    return DPT_OK;
}

static enum dpt_status ar_f64(struct dpt_comm *c, double *buf, size_t n)
{
    struct shared *sh = ((struct local_comm *)c)->sh;
    memcpy(sh->d[c->rank], buf, n * sizeof(double));
    pthread_barrier_wait(&sh->bar);
    for (size_t i = 0; i < n; i++) {
        double s = sh->d[0][i];
        for (int r = 1; r < sh->size; r++)
            s += sh->d[r][i];
        buf[i] = s;
    }
    pthread_barrier_wait(&sh->bar);
    return DPT_OK;
}

static enum dpt_status ag_f32(struct dpt_comm *c, float *buf, const size_t *counts,
                              const size_t *displs)
{
    struct shared *sh = ((struct local_comm *)c)->sh;
    // Publish my block, then copy everyone's.
    size_t total = 0;
    for (int r = 0; r < sh->size; r++)
        total = displs[r] + counts[r] > total ? displs[r] + counts[r] : total;
    cr_assert(total <= (size_t)MAX_FLOATS * MAX_RANKS);
    memcpy(sh->big + displs[c->rank], buf + displs[c->rank], counts[c->rank] * sizeof(float));
    pthread_barrier_wait(&sh->bar);
    for (int r = 0; r < sh->size; r++)
        memcpy(buf + displs[r], sh->big + displs[r], counts[r] * sizeof(float));
    pthread_barrier_wait(&sh->bar);
    return DPT_OK;
}

static enum dpt_status ag_f64(struct dpt_comm *c, double *buf, const size_t *counts,
                              const size_t *displs)
{
    struct shared *sh = ((struct local_comm *)c)->sh;
    cr_assert(displs[c->rank] + counts[c->rank] <= 64);
    memcpy(sh->dbig + displs[c->rank], buf + displs[c->rank], counts[c->rank] * sizeof(double));
    pthread_barrier_wait(&sh->bar);
    for (int r = 0; r < sh->size; r++)
        memcpy(buf + displs[r], sh->dbig + displs[r], counts[r] * sizeof(double));
    pthread_barrier_wait(&sh->bar);
    return DPT_OK;
}

struct rank_run {
    struct local_comm lc;
    size_t threads;
    int reproducible;
    struct dpt_dataset *ds;
    float *out;
    size_t n_params;
    double loss;
};

static void *rank_main(void *arg)
{
    struct rank_run *rr = arg;
    struct dpt_net_spec spec = dpt_net_spec_default();
    spec.n_layers = 2;
    spec.sizes[0] = 2;
    spec.sizes[1] = 32;
    spec.sizes[2] = 3;
    spec.act[0] = DPT_ACT_TANH;
    spec.act[1] = DPT_ACT_SOFTMAX;
    struct dpt_net *net;
    struct dpt_schedule *sched;
    struct dpt_trainer *tr;
    dpt_net_create(&spec, &net);
    dpt_net_init(net, DPT_INIT_AUTO, 0, 8);
    dpt_schedule_parse("clip(adam:lr=0.01),max_norm=5", &sched);
    struct dpt_train_params p = dpt_train_params_default();
    p.threads = rr->threads;
    p.pin = DPT_PIN_NONE;
    p.batch = 20;
    p.max_epochs = 3;
    p.reproducible = rr->reproducible != 0;
    p.comm = rr->lc.comm.size > 1 ? &rr->lc.comm : NULL;
    if (dpt_trainer_create(net, sched, &p, &tr) != DPT_OK)
        return (void *)1;
    struct dpt_epoch_stats st;
    if (dpt_trainer_fit(tr, rr->ds, NULL, NULL, &st) != DPT_OK)
        return (void *)1;
    rr->loss = st.train_loss;
    rr->n_params = dpt_net_n_params(net);
    rr->out = malloc(rr->n_params * sizeof(float));
    memcpy(rr->out, dpt_net_params(net), rr->n_params * sizeof(float));
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
    return NULL;
}

// Runs R ranks x T threads; returns rank 0's parameters after checking every rank holds the same
// parameters bitwise.
static float *run(struct dpt_dataset *ds, int R, size_t T, int repro, size_t *np, double *loss)
{
    static struct shared sh;
    sh.size = R;
    pthread_barrier_init(&sh.bar, NULL, (unsigned)R);
    struct rank_run rr[MAX_RANKS];
    pthread_t th[MAX_RANKS];
    for (int r = 0; r < R; r++) {
        memset(&rr[r], 0, sizeof rr[r]);
        rr[r].lc.comm = (struct dpt_comm){.rank = r,
                                          .size = R,
                                          .allreduce_f32 = ar_f32,
                                          .allreduce_f64 = ar_f64,
                                          .allgather_f32 = ag_f32,
                                          .allgather_f64 = ag_f64};
        rr[r].lc.sh = &sh;
        rr[r].threads = T;
        rr[r].reproducible = repro;
        rr[r].ds = ds;
        pthread_create(&th[r], NULL, rank_main, &rr[r]);
    }
    for (int r = 0; r < R; r++) {
        void *ret;
        pthread_join(th[r], &ret);
        cr_assert_null(ret, "rank %d failed: %s", r, dpt_last_error());
    }
    for (int r = 1; r < R; r++) {
        cr_assert_eq(memcmp(rr[r].out, rr[0].out, rr[0].n_params * sizeof(float)), 0,
                     "rank %d holds different parameters", r);
        cr_assert_eq(rr[r].loss, rr[0].loss);
        free(rr[r].out);
    }
    pthread_barrier_destroy(&sh.bar);
    *np = rr[0].n_params;
    *loss = rr[0].loss;
    return rr[0].out;
}

Test(comm, reproducible_mode_is_bitwise_identical_for_any_ranks_x_threads)
{
    struct dpt_dataset *ds;
    cr_assert_eq(dpt_synth("blobs", 310, 3, 3, &ds), DPT_OK);
    size_t np;
    double ref_loss, loss;
    float *ref = run(ds, 1, 1, 1, &np, &ref_loss);
    const int ranks[] = {2, 3, 2, 3};
    const size_t threads[] = {1, 1, 2, 3};
    for (int k = 0; k < 4; k++) {
        float *got = run(ds, ranks[k], threads[k], 1, &np, &loss);
        cr_assert_eq(memcmp(got, ref, np * sizeof(float)), 0, "%d ranks x %zu threads", ranks[k],
                     threads[k]);
        cr_assert_eq(memcmp(&loss, &ref_loss, sizeof loss), 0);
        free(got);
    }
    free(ref);
    dpt_dataset_destroy(ds);
}

// Normal mode: ranks agree bitwise with each other; with a single process the parameters agree
// within rounding (a different summation order: 1e-4 of the norm after ~50 steps, as in
// test_trainer.c).
Test(comm, normal_mode_matches_one_process_within_rounding)
{
    struct dpt_dataset *ds;
    cr_assert_eq(dpt_synth("blobs", 310, 3, 3, &ds), DPT_OK);
    size_t np;
    double l0, l1;
    float *ref = run(ds, 1, 2, 0, &np, &l0);
    float *got = run(ds, 3, 2, 0, &np, &l1);
    double num = 0, den = 0;
    for (size_t i = 0; i < np; i++) {
        num += ((double)got[i] - ref[i]) * ((double)got[i] - ref[i]);
        den += (double)ref[i] * ref[i];
    }
    cr_assert(sqrt(num / den) < 1e-4, "relative difference %g", sqrt(num / den));
    cr_assert(fabs(l0 - l1) < 1e-4 * fabs(l0));
    free(ref);
    free(got);
    dpt_dataset_destroy(ds);
}
