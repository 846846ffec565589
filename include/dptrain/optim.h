// dptrain optim: the gradient update schedule interface (the "trait") and the built-in schedules.
//
// A schedule transforms the reduced gradient of one batch into a parameter update. It works on
// half-open slices [lo, hi) of the flat parameter vector so the parallel trainer can apply it from
// several threads at once, each on its own slice: step() must touch only theta, grad and its
// per-parameter state inside [lo, hi). Everything it needs beyond the slice (step number, global
// gradient norm, rate multiplier) arrives in struct dpt_step_ctx.
#ifndef DPTRAIN_OPTIM_H
#define DPTRAIN_OPTIM_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

// What the trainer tells a schedule at each step. Shared read-only by all threads of a step.
struct dpt_step_ctx {
    uint64_t step;       // 1-based number of this step (steps already taken + 1)
    uint64_t epoch;      // 1-based epoch
    size_t batch_size;   // samples in this batch
    double grad_sq_norm; // global squared L2 norm of grad; valid only with DPT_SCHEDULE_NEEDS_NORM
    double lr_mult;      // rate multiplier set by wrappers; the trainer passes 1.0
};

// Flag: step() needs ctx->grad_sq_norm (the trainer computes it in an extra phase).
#define DPT_SCHEDULE_NEEDS_NORM 1u
// Flag: step() is exactly theta[i] -= rate(step) * grad[i] for every i, with rate() set. The
// trainer may then fold the step into the product that forms the gradient (no gradient vector, no
// separate pass; docs/architecture.md). Wrappers that only scale the rate keep it; clip drops it.
#define DPT_SCHEDULE_LINEAR 2u

// The interface. Users write their own by filling this struct (name, flags, step and, if they keep
// per-parameter state, init/destroy) and passing it to the trainer; see the README example.
struct dpt_schedule {
    const char *name; // for logs; borrowed
    unsigned flags;   // DPT_SCHEDULE_* bits, including those of any inner schedule

    // Allocates per-parameter state for n_params floats (may be NULL: no state). Called once by
    // the trainer before the first step, from one thread. Must set state/state_len.
    enum dpt_status (*init)(struct dpt_schedule *s, size_t n_params);

    // Updates theta[lo..hi) from grad[lo..hi) (grad may be modified in place). Called by several
    // threads at once on disjoint slices; must not write outside [lo, hi) of any vector.
    void (*step)(struct dpt_schedule *s, const struct dpt_step_ctx *ctx, float *theta, float *grad,
                 size_t lo, size_t hi);

    // Effective learning rate at a 1-based step, for logs and tests (may be NULL).
    double (*rate)(const struct dpt_schedule *s, uint64_t step);

    // Frees everything the schedule owns, including the inner schedule and the struct itself
    // when it was heap-allocated by dpt_schedule_parse (may be NULL).
    void (*destroy)(struct dpt_schedule *s);

    // Per-parameter state: state_len floats (a multiple of the n_params given to init), laid out
    // as consecutive vectors of n_params. Saved and restored by checkpoints.
    float *state;
    size_t state_len;

    struct dpt_schedule *inner; // wrapped schedule for wrappers, else NULL (owned)
    void *impl;                 // implementation data (hyper-parameters), owned
};

// Parses a schedule string into a new heap schedule (*out; free with dpt_schedule_destroy).
// Grammar (whitespace not allowed):
//   spec    := base | wrapper
//   base    := NAME [ ':' kvs ]                      e.g. adam:lr=1e-3,b1=0.9
//   wrapper := WRAP '(' spec ')' [ ',' kvs ]         e.g. cosine(adam:lr=1e-3),t=5000
//   kvs     := KEY '=' NUMBER { ',' KEY '=' NUMBER }
// Base names: fixed, sgd (fixed, or momentum/nesterov with PyTorch's momentum= and nesterov=),
// normalized, adagrad, momentum, nesterov, rmsprop, adam, adamw. Wrappers: clip, step, exp,
// invtime, cosine, warmup. Keys and defaults: see docs/schedules.md. Unknown names or keys and
// out-of-range values: DPT_ERR_INVALID with a message naming them. Keys also take PyTorch's names
// (weight_decay, momentum, betas=B1/B2, alpha, step_size, T_max) and, for the wrappers' step
// counts, counts in epochs (t_epochs, every_epochs), which only dpt_schedule_parse_epochs accepts.
DPT_API enum dpt_status dpt_schedule_parse(const char *text, struct dpt_schedule **out);

// dpt_schedule_parse knowing that an epoch has steps_per_epoch (>= 1) steps: t_epochs=E and
// every_epochs=E become t and every = max(1, round(E * steps_per_epoch)) steps. A schedule
// without epoch counts is parsed exactly as by dpt_schedule_parse.
DPT_API enum dpt_status dpt_schedule_parse_epochs(const char *text, uint64_t steps_per_epoch,
                                                  struct dpt_schedule **out);

// Calls s->init (if any). Thread-unsafe; once per schedule.
DPT_API enum dpt_status dpt_schedule_init(struct dpt_schedule *s, size_t n_params);

// Calls s->step. Thread-safe for disjoint slices.
DPT_API void dpt_schedule_step(struct dpt_schedule *s, const struct dpt_step_ctx *ctx, float *theta,
                               float *grad, size_t lo, size_t hi);

// Effective rate at a step (NAN when the schedule has no rate()).
DPT_API double dpt_schedule_rate(const struct dpt_schedule *s, uint64_t step);

// Calls s->destroy; NULL is a no-op.
DPT_API void dpt_schedule_destroy(struct dpt_schedule *s);

// Total floats of per-parameter state along the chain (s, s->inner, ...), for checkpoints.
DPT_API size_t dpt_schedule_state_len(const struct dpt_schedule *s);

// Copies the chain's state into buf (dpt_schedule_state_len floats) or back from it.
DPT_API void dpt_schedule_state_save(const struct dpt_schedule *s, float *buf);
DPT_API void dpt_schedule_state_load(struct dpt_schedule *s, const float *buf);

#ifdef __cplusplus
}
#endif

#endif
