// The sliced step strategy with barriers (see the top of trainer.c): in phase 1 each worker
// computes the forward pass, loss and deltas of its shard into its rows of one batch workspace
// (when layer 1 is wide, layer 1 by its own rows of W_1 instead, over the whole batch; with
// split_all every hidden layer by its rows, forward and backward, barriers between); in phase 2
// it forms its rows of every layer's gradient over the whole batch and applies the schedule step
// to exactly those rows. The dynamic version of the same step is step_dynamic.c.
#include <stdint.h>
#include <string.h>

#include "core/sliced_impl.h"
#include "trainer_impl.h"

// Sliced mode: forward from layer `from`, loss and deltas of batch rows [lo, hi) (batch starting
// at bs) into the batch workspace ws, in blocks of mb rows.
void dpt_trainer_shard_deltas(struct dpt_trainer *tr, struct dpt_workspace *ws, size_t from,
                              const size_t *perm, size_t bs, size_t lo, size_t hi, float scale,
                              struct dpt_block_stats *acc)
{
    const float *x = dpt_dataset_x(tr->ds);
    const struct dpt_targets tg = dpt_dataset_targets_view(tr->ds);
    memset(acc, 0, sizeof *acc);
    for (size_t s = lo; s < hi; s += tr->mb) {
        const size_t cnt = hi - s < tr->mb ? hi - s : tr->mb;
        struct dpt_block_stats b;
        dpt_net_deltas(tr->net, ws, from, x, perm + s, s - bs, cnt, &tg, scale, &b);
        dpt_block_stats_add(acc, &b);
    }
}

// Phase 2 of sliced mode, in three parts (the dynamic step runs them as separate items):
// dpt_trainer_sliced_grad forms the rows of every layer's gradient of logical workers t0 .. t1 - 1
// (one worker in the barrier version) over the whole batch (m rows of the batch workspace); a
// linear schedule's step is folded into the product instead (W += -rate Delta^T A).
// dpt_trainer_sliced_sq is the squared norm of worker t's rows (for a schedule that needs the
// global norm), and dpt_trainer_sliced_update the schedule step on exactly those rows. The
// gradient products are backprop work and count as compute; the step counts as update.
void dpt_trainer_sliced_grad(struct dpt_trainer *tr, const struct dpt_workspace *ws,
                             const float *xb, const float *const *xr, size_t t0, size_t t1,
                             const struct dpt_step_ctx *ctx, size_t m, struct dpt_timing *tm)
{
    const struct dpt_net_spec *spec = dpt_net_spec(tr->net);
    const size_t L1 = spec->n_layers + 1;
    float *theta = dpt_net_params(tr->net);
    const float alpha = tr->fused ? -(float)dpt_schedule_rate(tr->sched, ctx->step) : 1.0f;
    const float beta = tr->fused ? 1.0f : 0.0f;
    float *dst = tr->fused ? theta : tr->gsum;
    const double s0 = dpt_trainer_now();
    for (size_t l = 1; l < L1; l++) {
        size_t w, b;
        dpt_net_layer_offsets(tr->net, l, &w, &b);
        const size_t n_in = spec->sizes[l - 1];
        // Several workers' rows as one product where together they are one run of rows (the
        // workers' rows are disjoint: their count is the run's length) and the kernels give every
        // row the same bits either way; else each worker's on its own.
        size_t j0 = SIZE_MAX, j1 = 0, rows = 0, piece = SIZE_MAX;
        for (size_t t = t0; t1 - t0 > 1 && t < t1; t++) {
            const size_t lo = tr->row_lo[t * L1 + l], hi = tr->row_hi[t * L1 + l];
            if (hi <= lo)
                continue;
            j0 = lo < j0 ? lo : j0;
            j1 = hi > j1 ? hi : j1;
            rows += hi - lo;
            piece = hi - lo < piece ? hi - lo : piece;
        }
        if (rows > 0 && rows == j1 - j0 &&
            dpt_net_layer_grad_merges(tr->net, ws, l, piece, rows, m)) {
            dpt_net_layer_grad(tr->net, ws, l, xb, xr, j0, j1, m, alpha, beta, dst + w + j0 * n_in,
                               dst + b + j0);
            continue;
        }
        for (size_t t = t0; t < t1; t++) {
            const size_t lo = tr->row_lo[t * L1 + l], hi = tr->row_hi[t * L1 + l];
            dpt_net_layer_grad(tr->net, ws, l, xb, xr, lo, hi, m, alpha, beta, dst + w + lo * n_in,
                               dst + b + lo);
        }
    }
    tm->compute_s += dpt_trainer_now() - s0;
}

double dpt_trainer_sliced_sq(const struct dpt_trainer *tr, size_t t)
{
    const struct dpt_net_spec *spec = dpt_net_spec(tr->net);
    const size_t L = spec->n_layers;
    const size_t *lo = tr->row_lo + t * (L + 1), *hi = tr->row_hi + t * (L + 1);
    double sq = 0.0;
    for (size_t l = 1; l <= L; l++) {
        size_t w, b;
        dpt_net_layer_offsets(tr->net, l, &w, &b);
        const size_t n_in = spec->sizes[l - 1];
        sq += dpt_sq_norm(tr->gsum, w + lo[l] * n_in, w + hi[l] * n_in);
        sq += dpt_sq_norm(tr->gsum, b + lo[l], b + hi[l]);
    }
    return sq;
}

void dpt_trainer_sliced_update(struct dpt_trainer *tr, size_t t, const struct dpt_step_ctx *ctx)
{
    const struct dpt_net_spec *spec = dpt_net_spec(tr->net);
    const size_t L = spec->n_layers;
    const size_t *lo = tr->row_lo + t * (L + 1), *hi = tr->row_hi + t * (L + 1);
    float *theta = dpt_net_params(tr->net);
    for (size_t l = 1; l <= L; l++) {
        size_t w, b;
        dpt_net_layer_offsets(tr->net, l, &w, &b);
        const size_t n_in = spec->sizes[l - 1];
        if (hi[l] > lo[l]) {
            dpt_schedule_step(tr->sched, ctx, theta, tr->gsum, w + lo[l] * n_in, w + hi[l] * n_in);
            dpt_schedule_step(tr->sched, ctx, theta, tr->gsum, b + lo[l], b + hi[l]);
        }
    }
}

// Phase 2 of sliced mode with barriers: worker ith's gradient rows, then (after a barrier when
// the schedule needs the global norm) the schedule step on them.
static void sliced_phase(struct dpt_trainer *tr, const struct dpt_workspace *ws, const float *xb,
                         const float *const *xr, size_t ith, struct dpt_step_ctx *ctx, size_t m,
                         struct dpt_timing *tm)
{
    dpt_trainer_sliced_grad(tr, ws, xb, xr, ith, ith + 1, ctx, m, tm);
    if (tr->fused)
        return;
    double t1 = dpt_trainer_now();
    if (tr->sched->flags & DPT_SCHEDULE_NEEDS_NORM) {
        tr->slots[ith].sq = dpt_trainer_sliced_sq(tr, ith);
        const double tw0 = dpt_trainer_now();
        tm->update_s += tw0 - t1;
        dpt_team_barrier(&tr->team); // every worker's partial norm is written
        t1 = dpt_trainer_now();
        tm->wait_s += t1 - tw0;
        double total = 0.0;
        for (size_t t = 0; t < tr->nth; t++) // fixed order: the same sum on every worker
            total += tr->slots[t].sq;
        ctx->grad_sq_norm = total;
    }
    dpt_trainer_sliced_update(tr, ith, ctx);
    tm->update_s += dpt_trainer_now() - t1;
}

// split_first, step parity p (0 or 1): the inputs of batch rows perm[0..m) (pointers to their
// rows in the data set, or a copy gathered into this worker's buffer), and this worker's rows of
// layer 1 for them into that parity's batch workspace.
void dpt_trainer_first_layer(struct dpt_trainer *tr, size_t ith, size_t p, const size_t *perm,
                             size_t m)
{
    struct dpt_workspace *ws = p ? tr->bws2 : tr->bws;
    const size_t L1 = dpt_net_spec(tr->net)->n_layers + 1, k = 2 * ith + p;
    const size_t j0 = tr->row_lo[ith * L1 + 1], j1 = tr->row_hi[ith * L1 + 1];
    const float *x = dpt_dataset_x(tr->ds);
    if (tr->xrows) {
        const size_t n0 = dpt_net_spec(tr->net)->sizes[0];
        const float **rows = tr->xrows + k * tr->p.batch;
        for (size_t i = 0; i < m; i++)
            rows[i] = x + perm[i] * n0;
        dpt_net_forward_cols(tr->net, ws, 1, NULL, rows, m, j0, j1);
    } else {
        dpt_batch_gather(tr->net, tr->xbuf[k], x, perm, m);
        dpt_net_forward_cols(tr->net, ws, 1, tr->xbuf[k], NULL, m, j0, j1);
    }
}

// A barrier inside phase 1, its wait accounted; returns the time after it.
static double inner_barrier(struct dpt_trainer *tr, double t0, struct dpt_timing *tm)
{
    const double tb0 = dpt_trainer_now();
    tm->compute_s += tb0 - t0;
    dpt_team_barrier(&tr->team);
    const double tb1 = dpt_trainer_now();
    tm->wait_s += tb1 - tb0;
    return tb1;
}

// Phase 1 of split_all, after layer 1 (by output rows, in place): worker ith computes its columns
// (its rows of W_l) of every further hidden layer's activations over the whole batch, then the
// output layer's forward pass, loss and delta for its shard of samples, then its columns of every
// hidden layer's delta, from the top down, with a barrier after each layer (each needs all of
// the layer before). It reads its own rows of W_l, the other workers' columns of the activations
// and deltas (batch x width, small next to the weights when the batch is small), and the columns
// of W_(l+1) that match its rows of layer l; no worker streams whole weight matrices. Barrier A
// follows the last delta; phase 2 (its gradient rows, over the whole batch) is sliced mode's.
static void split_all_phase1(struct dpt_trainer *tr, size_t ith, const struct dpt_step *s,
                             struct dpt_block_stats *acc, double t0, struct dpt_timing *tm)
{
    const size_t L = dpt_net_spec(tr->net)->n_layers, L1 = L + 1, m = s->m;
    const size_t *lo = tr->row_lo + ith * L1, *hi = tr->row_hi + ith * L1;
    struct dpt_workspace *ws = dpt_step_workspace(tr, s->b);
    for (size_t l = 2; l < L; l++) {
        dpt_net_forward_cols(tr->net, ws, l, NULL, NULL, m, lo[l], hi[l]);
        t0 = inner_barrier(tr, t0, tm); // every column of layer l
    }
    const size_t r0 = dpt_split(m, ith, tr->nth), r1 = dpt_split(m, ith + 1, tr->nth);
    const struct dpt_targets tg = dpt_dataset_targets_view(tr->ds);
    dpt_net_output_deltas(tr->net, ws, tr->perm + s->bs + r0, r0, r1 - r0, &tg, s->scale, acc);
    t0 = inner_barrier(tr, t0, tm); // every row of the output delta
    for (size_t l = L - 1; l >= 1; l--) {
        dpt_net_backward_cols(tr->net, ws, l, m, lo[l], hi[l]);
        if (l > 1)
            t0 = inner_barrier(tr, t0, tm); // every column of Delta_l
    }
    tm->compute_s += dpt_trainer_now() - t0;
}

static void sliced_phase1(struct dpt_trainer *tr, size_t ith, const struct dpt_step *s,
                          struct dpt_timing *tm)
{
    struct worker_slot *slot = &tr->slots[ith];
    double t0 = dpt_trainer_now();
    if (tr->split_first && !slot->ready) {
        // Layer 1 by output rows: this worker's rows of W_1 over the whole batch (its own copy of
        // the inputs), so W_1 never leaves its owner's cache; then, after a barrier, the rest by
        // samples. Only at a job's first step: later steps get it from the previous step's phase
        // 2, where barrier B covers it.
        dpt_trainer_first_layer(tr, ith, s->b & 1, tr->perm + s->bs, s->m);
        t0 = inner_barrier(tr, t0, tm); // every column of layer 1 is computed
    }
    struct dpt_block_stats acc;
    if (tr->split_all) {
        split_all_phase1(tr, ith, s, &acc, t0, tm);
    } else {
        dpt_trainer_shard_deltas(tr, dpt_step_workspace(tr, s->b), tr->split_first ? 2 : 1,
                                 tr->perm, s->bs, s->bs + dpt_split(s->m, ith, tr->nth),
                                 s->bs + dpt_split(s->m, ith + 1, tr->nth), s->scale, &acc);
        tm->compute_s += dpt_trainer_now() - t0;
    }
    slot->loss = acc.loss_sum;
    slot->correct = acc.correct;
}

static void sliced_phase2(struct dpt_trainer *tr, size_t ith, struct dpt_step *s,
                          struct dpt_timing *tm)
{
    const size_t B = tr->p.batch, N = tr->epoch_samples, p = s->b & 1;
    const size_t nbs = s->bs + B, nm = N - nbs < B ? N - nbs : B;
    const int more = s->b + 1 < tr->n_batches;
    dpt_trainer_prefetch_inputs(tr, s->b, s->bs, ith); // the rows it reads at a later step
    const float *xb = tr->split_first && !tr->xrows ? tr->xbuf[2 * ith + p] : NULL;
    const float *const *xr = tr->xrows ? tr->xrows + (2 * ith + p) * B : NULL;
    sliced_phase(tr, dpt_step_workspace(tr, s->b), xb, xr, ith, &s->ctx, s->m, tm);
    tr->slots[ith].ready = 0;
    if (tr->split_first && more) {
        // The next step's layer 1, now: it reads only this worker's rows of W_1, which it has
        // just updated itself, so no barrier is needed before it, and barrier B publishes it. If
        // training stops after this step, it is simply not used.
        const double tn0 = dpt_trainer_now();
        dpt_trainer_first_layer(tr, ith, (s->b + 1) & 1, tr->perm + nbs, nm);
        tm->compute_s += dpt_trainer_now() - tn0;
        tr->slots[ith].ready = 1;
    }
}

const struct dpt_step_strategy dpt_step_sliced = {
    .name = "sliced", .phase1 = sliced_phase1, .phase2 = sliced_phase2};
