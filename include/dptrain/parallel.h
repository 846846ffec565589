// dptrain parallel: hwloc topology and placement, the pinned worker pool and its barrier, and the
// data-parallel trainer (epoch loop, sharding, reduction, schedule step, evaluation).
//
// One training step (docs/architecture.md): the batch is split into T contiguous shards; worker t
// runs forward and backprop on its shard into its private gradient buffer; after a barrier worker t
// reduces slice t of the parameter vector over all buffers in fixed order and applies the schedule
// step to that slice; a second barrier ends the step.
#ifndef DPTRAIN_PARALLEL_H
#define DPTRAIN_PARALLEL_H

#include <stdbool.h>

#include "core.h"
#include "data.h"
#include "optim.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- topology and placement ----

enum dpt_pin {
    DPT_PIN_COMPACT = 0, // cores in topology order: fill an L3 / NUMA node before the next
    DPT_PIN_SCATTER,     // round-robin across packages, then NUMA nodes, then L3s
    DPT_PIN_NONE,        // no binding
};

DPT_API const char *dpt_pin_name(enum dpt_pin pin);
DPT_API enum dpt_status dpt_pin_parse(const char *name, enum dpt_pin *out);

struct dpt_topo;

// Loads the machine's topology once (hwloc). Only cores in the process's allowed cpuset count.
DPT_API enum dpt_status dpt_topo_create(struct dpt_topo **out);
// A synthetic topology from an hwloc description ("pack:2 numa:1 l3:2 core:4 pu:2"), for tests.
DPT_API enum dpt_status dpt_topo_create_synthetic(const char *desc, struct dpt_topo **out);
DPT_API void dpt_topo_destroy(struct dpt_topo *topo);

// Restricts the usable PUs to a list such as "0-3,8" (OS indexes), like taskset would.
DPT_API enum dpt_status dpt_topo_restrict(struct dpt_topo *topo, const char *cpulist);

// Number of usable physical cores (those with at least one allowed PU).
DPT_API size_t dpt_topo_n_cores(const struct dpt_topo *topo);

// Fills pu[0..nth) with the OS index of the PU each worker binds to under `pin` (the first
// allowed PU of the chosen core; workers beyond the core count wrap around). For DPT_PIN_NONE
// every entry is -1.
DPT_API enum dpt_status dpt_topo_place(const struct dpt_topo *topo, enum dpt_pin pin, size_t nth,
                                       int *pu);

// A one-line human description ("1 package, 1 NUMA node, 1 L3, 2 cores, 2 PUs; allowed 0-1").
// Writes at most len bytes (NUL included) into buf.
DPT_API void dpt_topo_describe(const struct dpt_topo *topo, char *buf, size_t len);

// The pthreads engine's barrier for nth workers placed under `pin`: 1 when it is flat (one
// counter), else the number of groups of its two-level barrier (the L3 caches, NUMA nodes or
// packages the workers span, or, past 8 workers in one of them, runs of ceil(sqrt(nth))
// neighbouring workers). 0 when it cannot be told (out of memory; the error is set).
DPT_API size_t dpt_topo_barrier_groups(const struct dpt_topo *topo, enum dpt_pin pin, size_t nth);

// Binds the calling thread to PU os index `pu` (-1: no-op). A failure is returned, and callers
// treat it as a warning.
DPT_API enum dpt_status dpt_topo_bind_self(const struct dpt_topo *topo, int pu);

// ---- trainer ----

enum dpt_engine {
    DPT_ENGINE_PTHREADS = 0, // persistent hwloc-pinned pool with a spin-then-block barrier
    DPT_ENGINE_OPENMP,       // one OpenMP parallel region; placement from OMP_PROC_BIND/PLACES
};

DPT_API const char *dpt_engine_name(enum dpt_engine e);
DPT_API enum dpt_status dpt_engine_parse(const char *name, enum dpt_engine *out);

// How a step's gradient is formed from the workers' shards (docs/architecture.md):
enum dpt_grad_mode {
    // SLICED when the batch's inputs, activations and deltas take no more memory than the T
    // private gradients would, and neither reproducible mode nor several processes are in use;
    // PRIVATE otherwise.
    DPT_GRAD_AUTO = 0,
    // Every worker accumulates its shard's whole gradient in its own buffer; after a barrier
    // worker t sums slice t of all buffers in worker order and applies the schedule to it.
    DPT_GRAD_PRIVATE,
    // Every worker runs forward and backward deltas on its shard; after a barrier worker t forms
    // the gradient of its own rows of every layer over the whole batch and applies the schedule
    // to them (a fixed-rate step is folded into that product). No private gradients, no
    // reduction. Not with reproducible mode or several processes.
    DPT_GRAD_SLICED,
};

DPT_API const char *dpt_grad_mode_name(enum dpt_grad_mode g);
DPT_API enum dpt_status dpt_grad_mode_parse(const char *name, enum dpt_grad_mode *out);

// Time breakdown, seconds summed over the epoch; per worker and averaged.
struct dpt_timing {
    double compute_s; // forward + backprop
    double wait_s;    // at barriers
    double reduce_s;  // summing gradient slices
    double update_s;  // schedule step
};

struct dpt_epoch_stats {
    uint64_t epoch;         // 1-based
    uint64_t steps;         // steps taken so far (all epochs)
    size_t n_samples;       // samples seen this epoch
    double train_loss;      // mean per-sample loss over the epoch (before each step's update)
    double train_acc;       // fraction correct (classification), else NAN
    double val_loss;        // on the validation set, or NAN
    double val_acc;         // NAN unless classification with a validation set
    double test_loss;       // on the test set, or NAN
    double test_acc;        // NAN unless classification with a test set
    double seconds;         // wall time of the epoch's training steps
    double samples_per_s;   // n_samples / seconds
    double eval_s;          // wall time of evaluation after the epoch
    struct dpt_timing time; // averaged over workers
    bool partial;           // stopped before its last batch (stop request or time limit): no
                            // evaluation; the next dpt_trainer_epoch continues it
};

// Called on the calling thread after each epoch; return nonzero to stop training.
typedef int (*dpt_epoch_fn)(const struct dpt_epoch_stats *st, void *user);
// Called on the calling thread (worker 0) every `progress_every` steps; nonzero stops after the
// current step.
typedef int (*dpt_progress_fn)(uint64_t epoch, size_t step_in_epoch, size_t steps_in_epoch,
                               void *user);

// ---- processes ----

// A group of processes (ranks) that train one model together: every rank holds the full model and
// data set, takes its part of each global batch, and the gradients are summed across ranks before
// every rank applies the same schedule step. The MPI build provides one (see docs/mpi.md); NULL in
// the parameters means a single process. Every function is a collective: all ranks call it in the
// same order, from one thread each (the trainer calls it from worker 0 only).
struct dpt_comm {
    int rank; // 0..size-1
    int size; // number of ranks
    // In-place element-wise sum of buf[0..n) across ranks. The result must be bitwise identical on
    // every rank (e.g. each block reduced by one rank, then gathered), so parameters never drift.
    enum dpt_status (*allreduce_f32)(struct dpt_comm *c, float *buf, size_t n);
    enum dpt_status (*allreduce_f64)(struct dpt_comm *c, double *buf, size_t n);
    // In-place gather: rank r has filled buf[displs[r] .. displs[r] + counts[r]); afterwards every
    // rank has every block. Counts and displacements are in elements.
    enum dpt_status (*allgather_f32)(struct dpt_comm *c, float *buf, const size_t *counts,
                                     const size_t *displs);
    enum dpt_status (*allgather_f64)(struct dpt_comm *c, double *buf, const size_t *counts,
                                     const size_t *displs);
    void *impl;
};

struct dpt_train_params {
    size_t batch;           // samples per step (default 32)
    bool drop_last;         // drop the last, smaller batch of each epoch (default false)
    size_t max_epochs;      // default 10
    double target_loss;     // stop when the epoch's train loss <= this (default: disabled, -inf)
    size_t patience;        // early stopping on the validation loss; 0 disables
    double max_seconds;     // time limit for training; <= 0 disables
    uint64_t seed;          // shuffling seed (default 1)
    size_t threads;         // 0: one per usable physical core
    enum dpt_engine engine; // default pthreads
    enum dpt_pin pin;       // default compact
    bool reproducible;      // bitwise identical results for every thread count
    size_t micro_batch;     // rows per GEMM block inside a shard; 0 chooses by layer width
    dpt_epoch_fn on_epoch;
    dpt_progress_fn on_progress;
    size_t progress_every; // steps between on_progress calls (default 50)
    void *user;
    struct dpt_comm *comm; // processes training together (borrowed), or NULL: this process alone
    enum dpt_grad_mode grad_mode; // default auto
    // Arithmetic of the training step's products (default fp32). DPT_PRECISION_BF16: bf16
    // operands, fp32 accumulation; parameters, reduction, loss and schedule stay fp32, and
    // evaluation (dpt_trainer_evaluate, the epoch's validation and test figures) runs in fp32.
    // Refused with DPT_ERR_UNSUPPORTED where dpt_precision_check says no.
    enum dpt_precision precision;
};

DPT_API struct dpt_train_params dpt_train_params_default(void);

struct dpt_trainer;

// Creates a trainer: validates params, loads the topology, starts T pinned workers (each
// allocating and first-touching its own buffers: a private gradient in private mode, a copy of
// the batch's inputs when sliced mode splits layer 1, a workspace), initialises the schedule.
// Borrows net and sched until dpt_trainer_destroy: the trainer updates the net's parameters.
// Warnings (binding failures, oversubscription) are retrievable with dpt_trainer_warnings().
DPT_API enum dpt_status dpt_trainer_create(struct dpt_net *net, struct dpt_schedule *sched,
                                           const struct dpt_train_params *params,
                                           struct dpt_trainer **out);
DPT_API void dpt_trainer_destroy(struct dpt_trainer *tr);

// Number of worker threads actually used.
DPT_API size_t dpt_trainer_threads(const struct dpt_trainer *tr);
// The gradient mode in use (PRIVATE or SLICED; AUTO is resolved at creation).
DPT_API enum dpt_grad_mode dpt_trainer_grad_mode(const struct dpt_trainer *tr);
// The pthreads engine's barrier: 1 when flat, else the number of groups of a two-level barrier
// (workers grouped by L3 cache, NUMA node or package, the innermost level that splits them).
DPT_API size_t dpt_trainer_barrier_groups(const struct dpt_trainer *tr);
// Times a worker of the dynamic sliced step stood down so far because another process kept it
// off its core (0 for other strategies): a sign of a busy machine.
DPT_API uint64_t dpt_trainer_stand_downs(const struct dpt_trainer *tr);
// How a step's work is shared among the workers: "private", "reproducible", "sliced" (lockstep
// phases with barriers) or "sliced (dynamic)" (the step's work as items that any worker may take,
// so that a worker another process keeps off its core does not hold the others up). Static string.
DPT_API const char *dpt_trainer_step_name(const struct dpt_trainer *tr);
// How sliced mode splits a step's products: "by samples" (each worker its shard of the batch
// through every layer), "layer 1 by features" (layer 1 by its output rows, the rest by samples)
// or "hidden layers by features" (every hidden layer's forward and delta by output rows, the
// output layer by samples). Private and reproducible modes split by samples. Static string.
DPT_API const char *dpt_trainer_decomposition(const struct dpt_trainer *tr);
// The precision of the training step's products (train_params.precision).
DPT_API enum dpt_precision dpt_trainer_precision(const struct dpt_trainer *tr);
// Nonzero when the schedule's step is folded into the gradient product (sliced mode with a
// schedule flagged DPT_SCHEDULE_LINEAR): then update_s is part of compute_s.
DPT_API int dpt_trainer_fused_step(const struct dpt_trainer *tr);
// Newline-separated warnings collected at creation ("" when none). Borrowed.
DPT_API const char *dpt_trainer_warnings(const struct dpt_trainer *tr);
// OS index of the PU each worker is bound to (-1 when unbound), nth entries. Borrowed.
DPT_API const int *dpt_trainer_placement(const struct dpt_trainer *tr);

// Runs one epoch over `train` (a fresh seeded permutation, batches, one schedule step each), or
// finishes an epoch that was stopped part-way (same permutation, from the next batch).
// Evaluates on val/test when non-NULL and the epoch completed. Returns DPT_ERR_DIVERGED (with the
// epoch, step and first non-finite layer in the message) if the loss became non-finite.
DPT_API enum dpt_status dpt_trainer_epoch(struct dpt_trainer *tr, const struct dpt_dataset *train,
                                          const struct dpt_dataset *val,
                                          const struct dpt_dataset *test,
                                          struct dpt_epoch_stats *st);

// Runs epochs until a stopping condition holds: max_epochs (counted over the trainer's life, so a
// resumed run stops where the original would), target_loss, patience on the validation loss
// (restoring the best parameters), max_seconds; dpt_trainer_stop_reason then says which. *last
// gets the last epoch's stats (epoch 0 and NAN losses when no epoch ran, e.g. max_epochs 0).
// A dpt_trainer_request_stop (or a progress callback returning nonzero) ends it after the current
// step with DPT_ERR_INTERRUPTED; dpt_trainer_get_state then captures where to continue.
DPT_API enum dpt_status dpt_trainer_fit(struct dpt_trainer *tr, const struct dpt_dataset *train,
                                        const struct dpt_dataset *val,
                                        const struct dpt_dataset *test,
                                        struct dpt_epoch_stats *last);

// Why the last dpt_trainer_fit returned.
enum dpt_stop_reason {
    DPT_STOP_NONE = 0,    // fit has not run on this trainer
    DPT_STOP_MAX_EPOCHS,  // max_epochs epochs are done (also when there was nothing left to run)
    DPT_STOP_TARGET_LOSS, // an epoch's training loss was <= target_loss
    DPT_STOP_PATIENCE,    // patience epochs without a better validation loss; the best parameters
                          // were restored (dpt_trainer_best_epoch says from which epoch)
    DPT_STOP_TIME_LIMIT,  // max_seconds passed; the last epoch may be partial (not evaluated)
    DPT_STOP_INTERRUPTED, // dpt_trainer_request_stop or a progress callback: fit returned
                          // DPT_ERR_INTERRUPTED
    DPT_STOP_CALLBACK,    // the epoch callback returned nonzero
    DPT_STOP_ERROR,       // fit failed (divergence, bad data, ...): see its status
};

// A stable lower-case name: "none", "max_epochs", "target_loss", "patience", "time_limit",
// "interrupted", "callback", "error" ("unknown" for other values). Thread-safe.
DPT_API const char *dpt_stop_reason_name(enum dpt_stop_reason r);

// Why the last dpt_trainer_fit returned (DPT_STOP_NONE before the first). A fit on a trainer
// whose run a stopping rule had already ended (a resumed checkpoint) reports that rule again.
DPT_API enum dpt_stop_reason dpt_trainer_stop_reason(const struct dpt_trainer *tr);

// With early stopping (patience > 0): the 1-based epoch whose parameters are the best so far,
// i.e. those fit restored when it ended; 0 when there are none (patience off, or no epoch
// completed). Not while a fit runs.
DPT_API uint64_t dpt_trainer_best_epoch(const struct dpt_trainer *tr);

// Loss and accuracy of the network over a data set, on the trainer's pool. The loss is the mean
// per-sample loss; acc is NAN for regression. Deterministic for every thread count.
DPT_API enum dpt_status dpt_trainer_evaluate(struct dpt_trainer *tr, const struct dpt_dataset *ds,
                                             double *loss, double *acc);

// Per-worker timing of the last epoch (nth entries). Borrowed.
DPT_API const struct dpt_timing *dpt_trainer_worker_timing(const struct dpt_trainer *tr);

// Steps taken so far.
DPT_API uint64_t dpt_trainer_steps(const struct dpt_trainer *tr);

// Asks a running epoch to stop after its current step (async-signal-safe: one atomic store).
DPT_API void dpt_trainer_request_stop(struct dpt_trainer *tr);

// ---- checkpoint state ----

// Everything besides the parameters and the schedule's state that continuing a run bitwise
// identically needs. A plain value type (checkpoint files store it field by field).
struct dpt_trainer_state {
    uint64_t epoch;         // epochs started so far
    uint64_t steps;         // steps taken so far
    uint64_t next_batch;    // first batch still to run in the current epoch (in_epoch only)
    uint64_t epoch_n;       // training samples of the current epoch (in_epoch only)
    uint64_t rng[4];        // shuffling stream: at the start of the current epoch when
                            // in_epoch, else its current state
    uint64_t epoch_correct; // partial sums of the current epoch (in_epoch only)
    uint64_t epoch_seen;
    double epoch_loss;
    double best_val;     // early stopping: best validation loss so far (INFINITY: none)
    uint64_t since_best; // epochs since it improved
    int in_epoch;        // an epoch was stopped part-way
    int has_best;        // dpt_trainer_best_params holds the best parameters
    int finished;        // target loss or patience ended the run: fit does nothing more
};

// Copies the trainer's state. Not while a fit runs. Thread-compatible.
DPT_API void dpt_trainer_get_state(const struct dpt_trainer *tr, struct dpt_trainer_state *st);
// Restores a state captured by dpt_trainer_get_state (with the same batch size, data set and
// seed); the parameters and schedule state are restored separately.
DPT_API enum dpt_status dpt_trainer_set_state(struct dpt_trainer *tr,
                                              const struct dpt_trainer_state *st);
// The best parameters kept by early stopping (dpt_net_n_params floats), or NULL when none.
DPT_API const float *dpt_trainer_best_params(const struct dpt_trainer *tr);
// Restores them (copied; n must be dpt_net_n_params).
DPT_API enum dpt_status dpt_trainer_set_best_params(struct dpt_trainer *tr, const float *params,
                                                    size_t n);

#ifdef __cplusplus
}
#endif

#endif
