// The private step strategies (see the top of trainer.c): each worker forward- and
// back-propagates its shard into its own gradient accumulator (private), or the batch's fixed
// micro-shards into theirs (reproducible: the same for every T); in phase 2 each worker reduces
// its slice of the accumulators in fixed order, exchanges it with the other processes where there
// are several, and applies the schedule step to it.
#include <stdalign.h>
#include <stdio.h>
#include <string.h>

#include "core/error_impl.h"
#include "trainer_impl.h"

#define DPT_CHUNK        DPT_TRAINER_CHUNK
#define DPT_REPRO_SHARDS DPT_REPRO_SHARDS_MAX

// Runs forward + backprop over rows [lo, hi) of the permutation in blocks of mb rows; the
// gradient is of scale x the summed loss (scale carries the mean reduction).
static void shard_backprop(struct dpt_trainer *tr, size_t ith, const size_t *perm, size_t lo,
                           size_t hi, float scale, float *grad, struct dpt_block_stats *acc)
{
    const float *x = dpt_dataset_x(tr->ds);
    const struct dpt_targets tg = dpt_dataset_targets_view(tr->ds);
    memset(acc, 0, sizeof *acc);
    for (size_t s = lo; s < hi; s += tr->mb) {
        const size_t cnt = hi - s < tr->mb ? hi - s : tr->mb;
        struct dpt_block_stats bs;
        dpt_net_backprop(tr->net, tr->ws[ith], x, perm + s, cnt, &tg, scale, grad, s != lo, &bs);
        dpt_block_stats_add(acc, &bs);
    }
}

// The gradient buffers that hold this step's shards, in fixed order (per worker, or per
// micro-shard in reproducible mode). Returns their number; srcs has room for nth or
// DPT_REPRO_SHARDS entries.
static size_t step_sources(const struct dpt_trainer *tr, const float **srcs)
{
    size_t n = 0;
    if (tr->p.reproducible) {
        for (size_t j = 0; j < tr->step_shards; j++)
            srcs[n++] = tr->rgrad[j];
    } else {
        for (size_t t = 0; t < tr->nth; t++)
            if (tr->slots[t].has_grad)
                srcs[n++] = tr->grad[t];
    }
    return n;
}

// dst[lo, hi) = the sum of the sources in fixed order. dst may be one of the sources, so the sum
// of each block is built in a local buffer (in L1) and stored once all sources are read.
void dpt_trainer_reduce_chunk(float *dst, const float *const *srcs, size_t n_src, size_t lo,
                              size_t hi)
{
    enum { BLOCK = 512 };
    alignas(64) float acc[BLOCK];
    for (size_t s = lo; s < hi; s += BLOCK) {
        const size_t len = hi - s < BLOCK ? hi - s : BLOCK;
        const float *restrict a = srcs[0] + s;
        const float *restrict b = srcs[1] + s;
#pragma omp simd
        for (size_t i = 0; i < len; i++)
            acc[i] = a[i] + b[i];
        for (size_t u = 2; u < n_src; u++) {
            const float *restrict src = srcs[u] + s;
#pragma omp simd
            for (size_t i = 0; i < len; i++)
                acc[i] += src[i];
        }
        memcpy(dst + s, acc, len * sizeof(float));
    }
}

// Worker 0, several processes: makes the step's gradient, loss and stop flags global. Normal
// mode: gsum (this process's sum) is summed across processes. Reproducible mode: every
// micro-shard's gradient and loss is gathered, so every process sums them in micro-shard order.
// Collective failures become a divergence-like stop with x_status set.
static void exchange(struct dpt_trainer *tr, size_t m)
{
    struct dpt_comm *comm = tr->p.comm;
    const size_t R = (size_t)comm->size;
    enum dpt_status s = DPT_OK;
    int timed_out = 0;
    const int req = dpt_trainer_stop_flags(tr, tr->x_batch, &timed_out);
    double v[4] = {0.0, 0.0, (double)req, (double)timed_out};
    if (tr->p.reproducible) {
        const size_t J = m < DPT_REPRO_SHARDS ? m : DPT_REPRO_SHARDS;
        for (size_t r = 0; r < R; r++) {
            tr->x_counts[r] = dpt_split(J, r + 1, R) - dpt_split(J, r, R);
            tr->x_displs[r] = dpt_split(J, r, R);
        }
        s = comm->allgather_f64(comm, tr->shard_loss, tr->x_counts, tr->x_displs);
        if (s == DPT_OK)
            s = comm->allgather_f64(comm, tr->shard_correct, tr->x_counts, tr->x_displs);
        for (size_t r = 0; r < R; r++) {
            tr->x_counts[r] *= tr->n_params;
            tr->x_displs[r] *= tr->n_params;
        }
        if (s == DPT_OK)
            s = comm->allgather_f32(comm, tr->rgrad_block, tr->x_counts, tr->x_displs);
        tr->step_shards = J;
        dpt_trainer_step_loss(tr, &tr->x_loss, &tr->x_correct);
    } else {
        dpt_trainer_step_loss(tr, &v[0], &v[1]);
        s = comm->allreduce_f32(comm, tr->gsum, tr->n_params);
    }
    if (s == DPT_OK)
        s = comm->allreduce_f64(comm, v, 4);
    if (!tr->p.reproducible) {
        tr->x_loss = v[0];
        tr->x_correct = v[1];
    }
    tr->x_req = v[2] > 0.0;
    tr->x_time = v[3] > 0.0;
    tr->x_status = s;
    if (s != DPT_OK)
        snprintf(tr->x_msg, sizeof tr->x_msg, "%s", dpt_last_error());
}

// Phase 2 of private mode: reduce this worker's slice of the private gradients (and exchange the
// sum with the other processes), then apply the schedule to the slice.
static void private_phase(struct dpt_trainer *tr, size_t ith, struct dpt_step_ctx *ctx, size_t b,
                          size_t m, struct dpt_timing *tm)
{
    struct dpt_team *team = &tr->team;
    const size_t nth = tr->nth;
    const int needs_norm = (tr->sched->flags & DPT_SCHEDULE_NEEDS_NORM) != 0;
    float *theta = dpt_net_params(tr->net);
    const size_t c_lo = dpt_split(tr->n_chunks, ith, nth),
                 c_hi = dpt_split(tr->n_chunks, ith + 1, nth);
    const float **srcs = tr->srcs + ith * tr->srcs_stride;
    const int multi = tr->p.comm && tr->p.comm->size > 1;
    double tr_s = 0.0, tu_s = 0.0, tc = dpt_trainer_now();
    if (multi) {
        // ---- the cross-process exchange (the seam between reduce and update) ----
        if (!tr->p.reproducible) {
            // This process's sum into gsum, then the sum across processes.
            const size_t n_local = step_sources(tr, srcs);
            for (size_t c = c_lo; c < c_hi; c++) {
                const size_t lo = c * DPT_CHUNK;
                const size_t hi = lo + DPT_CHUNK < tr->n_params ? lo + DPT_CHUNK : tr->n_params;
                if (n_local > 1)
                    dpt_trainer_reduce_chunk(tr->gsum, srcs, n_local, lo, hi);
                else if (n_local == 1)
                    memcpy(tr->gsum + lo, srcs[0] + lo, (hi - lo) * sizeof(float));
                else
                    memset(tr->gsum + lo, 0, (hi - lo) * sizeof(float));
            }
            dpt_team_barrier(team);
        }
        if (ith == 0) {
            tr->x_batch = b;
            exchange(tr, m);
        }
        const double tx = dpt_trainer_now();
        tr_s += tx - tc;
        dpt_team_barrier(team); // the exchange is complete
        tc = dpt_trainer_now();
        tm->wait_s += tc - tx;
    }
    // With a single source (T = 1, or one micro-shard) the schedule reads it directly: no
    // reduction pass at all. Otherwise the sum goes into this worker's own buffer (its slice
    // of it is hot in this core's cache and nobody else reads that slice now), or, in
    // reproducible mode (and across processes), into gsum.
    const size_t n_src = multi && !tr->p.reproducible ? 1 : step_sources(tr, srcs);
    float *grad = multi && !tr->p.reproducible ? tr->gsum
                  : n_src == 1                 ? (float *)srcs[0]
                  : tr->p.reproducible         ? tr->gsum
                                               : tr->grad[ith];
    for (size_t c = c_lo; c < c_hi; c++) {
        const size_t lo = c * DPT_CHUNK;
        const size_t hi = lo + DPT_CHUNK < tr->n_params ? lo + DPT_CHUNK : tr->n_params;
        if (n_src > 1)
            dpt_trainer_reduce_chunk(grad, srcs, n_src, lo, hi);
        if (needs_norm) {
            tr->chunk_sq[c] = dpt_sq_norm(grad, lo, hi);
        } else {
            const double tc1 = dpt_trainer_now();
            tr_s += tc1 - tc;
            dpt_schedule_step(tr->sched, ctx, theta, grad, lo, hi);
            tc = dpt_trainer_now();
            tu_s += tc - tc1;
        }
    }
    if (needs_norm) {
        const double tw0 = dpt_trainer_now();
        tr_s += tw0 - tc;
        dpt_team_barrier(team); // every chunk's partial norm is written
        const double tw1 = dpt_trainer_now();
        tm->wait_s += tw1 - tw0;
        double total = 0.0;
        for (size_t c = 0; c < tr->n_chunks; c++) // fixed order: same sum for every T
            total += tr->chunk_sq[c];
        ctx->grad_sq_norm = total;
        for (size_t c = c_lo; c < c_hi; c++) {
            const size_t lo = c * DPT_CHUNK;
            const size_t hi = lo + DPT_CHUNK < tr->n_params ? lo + DPT_CHUNK : tr->n_params;
            dpt_schedule_step(tr->sched, ctx, theta, grad, lo, hi);
        }
        tu_s += dpt_trainer_now() - tw1;
    }
    tm->reduce_s += tr_s;
    tm->update_s += tu_s;
}

// This process's part of a step's rows: its share of the global batch (several processes).
static void process_rows(const struct dpt_trainer *tr, const struct dpt_step *s, size_t *lo,
                         size_t *n)
{
    const int multi = tr->p.comm && tr->p.comm->size > 1;
    const size_t rank = multi ? (size_t)tr->p.comm->rank : 0;
    const size_t n_ranks = multi ? (size_t)tr->p.comm->size : 1;
    *lo = dpt_split(s->m, rank, n_ranks);
    *n = dpt_split(s->m, rank + 1, n_ranks) - *lo;
}

static void private_phase1(struct dpt_trainer *tr, size_t ith, const struct dpt_step *s,
                           struct dpt_timing *tm)
{
    const double t0 = dpt_trainer_now();
    const size_t nth = tr->nth;
    size_t r_lo, r_n;
    process_rows(tr, s, &r_lo, &r_n);
    // This process's part of the global batch, then this worker's part of that.
    const size_t lo = s->bs + r_lo + dpt_split(r_n, ith, nth),
                 hi = s->bs + r_lo + dpt_split(r_n, ith + 1, nth);
    struct dpt_block_stats acc;
    shard_backprop(tr, ith, tr->perm, lo, hi, s->scale, tr->grad[ith], &acc);
    struct worker_slot *slot = &tr->slots[ith];
    slot->has_grad = hi > lo;
    slot->loss = acc.loss_sum;
    slot->correct = acc.correct;
    tm->compute_s += dpt_trainer_now() - t0;
}

static void reproducible_phase1(struct dpt_trainer *tr, size_t ith, const struct dpt_step *s,
                                struct dpt_timing *tm)
{
    const double t0 = dpt_trainer_now();
    const size_t nth = tr->nth, m = s->m;
    const int multi = tr->p.comm && tr->p.comm->size > 1;
    const size_t rank = multi ? (size_t)tr->p.comm->rank : 0;
    const size_t n_ranks = multi ? (size_t)tr->p.comm->size : 1;
    // Fixed micro-shards, independent of T and of the number of processes: J of them, each into
    // its own buffer; this process takes a contiguous run of them.
    const size_t J = m < DPT_REPRO_SHARDS_MAX ? m : DPT_REPRO_SHARDS_MAX;
    const size_t j_lo = dpt_split(J, rank, n_ranks);
    const size_t j_n = dpt_split(J, rank + 1, n_ranks) - j_lo;
    for (size_t j = j_lo + dpt_split(j_n, ith, nth); j < j_lo + dpt_split(j_n, ith + 1, nth); j++) {
        struct dpt_block_stats acc;
        shard_backprop(tr, ith, tr->perm, s->bs + dpt_split(m, j, J),
                       s->bs + dpt_split(m, j + 1, J), s->scale, tr->rgrad[j], &acc);
        tr->shard_loss[j] = acc.loss_sum;
        tr->shard_correct[j] = acc.correct;
    }
    if (ith == 0)
        tr->step_shards = J; // read by everyone after barrier A
    tm->compute_s += dpt_trainer_now() - t0;
}

static void private_phase2(struct dpt_trainer *tr, size_t ith, struct dpt_step *s,
                           struct dpt_timing *tm)
{
    const int multi = tr->p.comm && tr->p.comm->size > 1;
    if (s->b + 1 < tr->n_batches && !tr->p.reproducible && !multi) {
        // The rows this worker gathers at the next step: its shard.
        const size_t B = tr->p.batch, N = tr->epoch_samples;
        const size_t nbs = s->bs + B, nm = N - nbs < B ? N - nbs : B;
        dpt_trainer_prefetch_rows(tr, nbs + dpt_split(nm, ith, tr->nth),
                                  nbs + dpt_split(nm, ith + 1, tr->nth));
    }
    private_phase(tr, ith, &s->ctx, s->b, s->m, tm);
}

const struct dpt_step_strategy dpt_step_private = {
    .name = "private", .phase1 = private_phase1, .phase2 = private_phase2};
const struct dpt_step_strategy dpt_step_reproducible = {
    .name = "reproducible", .phase1 = reproducible_phase1, .phase2 = private_phase2};
