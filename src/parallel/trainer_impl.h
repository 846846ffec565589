// Private: the trainer's state, shared by the trainer and (later) checkpointing.
#ifndef DPT_TRAINER_IMPL_H
#define DPT_TRAINER_IMPL_H

#include <stdalign.h>
#include <stdatomic.h>

#include "dptrain/parallel.h"
#include "pool_impl.h"

#define DPT_REPRO_SHARDS_MAX 16

// Largest batch whose inputs split_first reads in place (dpt_gemm_nt_rows / dpt_gemm_tn_rows):
// the kernels match OpenBLAS up to about 64 rows.
#define DPT_ROWS_MAX_BATCH 64

// Per-worker results of a step. Each worker writes only its own slot, on its own cache lines;
// the barriers order every cross-thread read (see the top of trainer.c).
struct worker_slot {
    alignas(64) double loss; // loss sum of this step's shard
    size_t correct;
    int has_grad; // the shard was non-empty, so grad[t] holds this step's gradient
    double sq;    // sliced mode: squared norm of this worker's rows of the gradient
    enum dpt_status status;
};

struct dpt_trainer {
    struct dpt_net *net;        // borrowed
    struct dpt_schedule *sched; // borrowed
    struct dpt_train_params p;
    size_t nth;
    struct dpt_topo *topo;
    int *pu; // nth PU OS indexes (-1 unbound)
    struct dpt_pool *pool;
    struct dpt_team team;
    char warnings[1024];

    size_t n_params, n_chunks;
    size_t mb;                          // rows per GEMM block inside a shard
    size_t ws_rows;                     // rows of each workspace
    float **grad;                       // nth private accumulators (normal mode)
    float *rgrad[DPT_REPRO_SHARDS_MAX]; // micro-shard accumulators (reproducible mode)
    struct dpt_workspace **ws;          // nth
    struct worker_slot *slots;          // nth
    struct dpt_timing *wtime;           // nth, last epoch
    float *gsum;                        // the reduced gradient (reproducible mode, processes),
                                        // or the sliced gradient (sliced mode, unfused)
    int sliced;                         // DPT_GRAD_SLICED in use
    int fused;                  // sliced, and the schedule's step is folded into the product
    struct dpt_workspace *bws;  // sliced: the step's batch workspace (every row of the batch)
    struct dpt_workspace *bws2; // split_first: bws's twin with its own layer-1 activations
    size_t *row_lo, *row_hi;    // sliced: nth x (L + 1) row ranges of each worker in each layer
    int split_first;            // sliced: layer 1's forward is split by output rows too
    float **xbuf; // split_first: 2 per worker, copies of the inputs of this and the next step
    // split_first with the AVX-512 kernels and a batch of at most DPT_ROWS_MAX_BATCH: instead of
    // xbuf, pointers to the rows of this and the next step's inputs in the data set, 2 x batch
    // per worker (worker t, parity p at (2 t + p) x batch)
    const float **xrows;
    double *chunk_sq;   // per-chunk squared norms
    const float **srcs; // per-worker scratch: srcs_stride source pointers each
    size_t srcs_stride;
    float *rgrad_block; // the micro-shard buffers, contiguous
    double shard_loss[DPT_REPRO_SHARDS_MAX];
    double shard_correct[DPT_REPRO_SHARDS_MAX]; // double so it can be gathered like the loss
    size_t step_shards;

    // epoch state
    struct dpt_rng rng; // shuffling stream
    size_t *perm;
    size_t perm_cap;
    const struct dpt_dataset *ds;
    size_t epoch_samples, n_batches, steps_done, diverged_step;
    uint64_t steps, epoch;
    double epoch_loss;
    size_t epoch_correct, epoch_seen;
    int stop_now, diverged, fit_running;
    int stop_requested;       // the last stop came from a request (not the time limit)
    int in_epoch;             // the current epoch was stopped part-way
    size_t first_batch;       // first batch of the running epoch job
    size_t next_batch;        // first batch still to run in an open epoch
    size_t epoch_n;           // samples of the open epoch's data set
    struct dpt_rng epoch_rng; // shuffling stream at the start of the current epoch
    double best_val;          // early stopping
    size_t since_best;
    int has_best;
    int finished;                     // a stopping rule ended the run (target loss, patience)
    enum dpt_stop_reason stop_reason; // why the last fit returned
    double fit_start;
    enum dpt_status job_status;
    // The step's global results, written by worker 0 in phase 2 (after the exchange between
    // processes, or from this process's sums) and read by worker 0 at the step's end.
    double x_loss, x_correct;
    int x_req, x_time;
    enum dpt_status x_status; // a failed exchange between processes
    char x_msg[256];
    size_t x_batch;
    size_t *x_counts, *x_displs; // per process, for gathers
    // Stop requests from signal handlers or other threads.
    atomic_int stop_request;

    // evaluation
    const struct dpt_dataset *eval_ds;
    double *eval_loss;
    size_t *eval_correct;
    size_t eval_cap;

    float *best; // best parameters for early stopping
};

// Sliced mode's split of every layer's rows among nth workers (trainer.c); lo and hi are
// nth x (L + 1), zero-filled on entry: worker t owns rows lo[t (L + 1) + l] .. hi[...] - 1 of
// layer l. Exposed for the tests.
void dpt_split_rows(const struct dpt_net_spec *spec, size_t nth, size_t *lo, size_t *hi);

#endif
