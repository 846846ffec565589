// Private: what the built-in schedules share — the hyper-parameter record the parser fills, the
// impl record of a base schedule, the allocation and destroy helpers, and the constructors the
// parser calls (one per built-in name).
#ifndef DPT_SCHEDULE_IMPL_H
#define DPT_SCHEDULE_IMPL_H

#include "core/gemm_impl.h"
#include "dptrain/optim.h"

// Every hyper-parameter any built-in understands. The parser starts from the defaults of the
// schedule's own keys (docs/schedules.md) and overwrites those given in the string; a constructor
// reads only the fields of its own keys.
struct dpt_sched_hyper {
    // base schedules
    double lr;  // base learning rate (> 0)
    double wd;  // weight decay: L2 added to g, or decoupled for adamw (>= 0)
    double eps; // denominator guard (> 0)
    double mu;  // momentum coefficient [0, 1)
    double rho; // rmsprop decay [0, 1)
    double b1;  // adam first-moment decay [0, 1)
    double b2;  // adam second-moment decay [0, 1)
    // wrappers
    double max_norm; // clip threshold (> 0)
    double every;    // step decay period, an integer >= 1
    double gamma;    // decay factor (0, 1]
    double k;        // inverse-time decay coefficient (>= 0)
    double t;        // cosine period / warm-up length, an integer >= 1
    double min;      // cosine floor as a fraction of the base rate [0, 1]
    // sgd with PyTorch's keys
    double nesterov; // 0 or 1: sgd with momentum becomes nesterov
    // counts given in epochs (t_epochs, every_epochs; 0 = not given), converted to steps by the
    // parser when it knows the steps per epoch
    double t_epochs;
    double every_epochs;
};

// The impl of every built-in base schedule: its hyper-parameters, how many per-parameter vectors
// it keeps and, once init has run, their length.
struct dpt_sched_base {
    struct dpt_sched_hyper h;
    size_t n_state;  // per-parameter state vectors (0 for fixed and normalized)
    size_t n_params; // set by init
};

// `#pragma omp simd` for the loops that call sqrtf. Under the C default (math errno on) sqrtf may
// set errno, so neither GCC nor clang can vectorise it, and clang then warns that a simd loop
// was not vectorised (-Wpass-failed, fatal with -Werror). So simd is only requested where
// -fno-math-errno is in effect (both compilers define __NO_MATH_ERRNO__ then); without it these
// loops run scalar, correctly.
#ifdef __NO_MATH_ERRNO__
#define DPT_SIMD_SQRT _Pragma("omp simd")
#else
#define DPT_SIMD_SQRT
#endif

// Allocates a zeroed heap schedule with a zeroed impl of impl_bytes, name and flags set and
// destroy = dpt_sched_destroy_builtin. DPT_ERR_NOMEM on failure (*out untouched).
enum dpt_status dpt_sched_alloc(const char *name, unsigned flags, size_t impl_bytes,
                                struct dpt_schedule **out);

// Creates a base schedule keeping n_state per-parameter vectors and stepping with step_fn: init
// allocates the state, rate returns h->lr.
enum dpt_status dpt_sched_base_create(const char *name, unsigned flags, size_t n_state,
                                      void (*step_fn)(struct dpt_schedule *,
                                                      const struct dpt_step_ctx *, float *, float *,
                                                      size_t, size_t),
                                      const struct dpt_sched_hyper *h, struct dpt_schedule **out);

// The destroy of every built-in: frees state, impl, the inner chain and the struct itself.
void dpt_sched_destroy_builtin(struct dpt_schedule *s);

// L2 weight decay folded into the gradient, grad[i] += wd * theta[i] on [lo, hi); no-op for
// wd == 0 so the plain update stays bitwise what its formula says. Inline, so that each vector
// level's copy of a step (below) has its own.
static inline void dpt_sched_l2(float wd, const float *theta, float *grad, size_t lo, size_t hi)
{
    if (wd == 0.0f)
        return;
    const float *restrict t = theta;
    float *restrict g = grad;
#pragma omp simd
    for (size_t i = lo; i < hi; i++)
        g[i] += wd * t[i];
}

// ---- the steps at the CPU's vector width ----
//
// The library is compiled for its architecture's baseline (x86-64: SSE2, 4 floats a vector), and
// a step's loop with a square root and a division (adam, adagrad, rmsprop) is bound by those
// instructions, not by memory: on x86-64 every built-in step is therefore compiled twice more,
// for AVX2 and for AVX-512, and the copy of the vector level in use runs (dpt_isa_level():
// the CPU's best, or DPT_ISA; generic runs the baseline copy). The loops are elementwise (no sum
// across elements) and the C11 build contracts no multiply and add into an FMA, so every copy
// computes bitwise the same; tests/optim/test_levels.c holds them to that.
//
// DPT_SCHED_STEP(fn) opens a step's definition (always inlined into its copies);
// DPT_SCHED_STEP_LEVELS(fn), after it, defines fn_levels, the step to register.
#define DPT_SCHED_STEP(fn)                                                                         \
    static inline DPT_ALWAYS_INLINE void fn(struct dpt_schedule *s,                                \
                                            const struct dpt_step_ctx *ctx, float *theta,          \
                                            float *grad, size_t lo, size_t hi)
#define DPT_SCHED_STEP_COPY(fn, suffix, target)                                                    \
    target static void fn##suffix(struct dpt_schedule *s, const struct dpt_step_ctx *ctx,          \
                                  float *theta, float *grad, size_t lo, size_t hi)                 \
    {                                                                                              \
        fn(s, ctx, theta, grad, lo, hi);                                                           \
    }
#ifdef DPT_LEVEL_COPIES
#define DPT_SCHED_STEP_LEVELS(fn)                                                                  \
    DPT_SCHED_STEP_COPY(fn, _avx512, DPT_TARGET_AVX512)                                            \
    DPT_SCHED_STEP_COPY(fn, _avx2, DPT_TARGET_AVX2)                                                \
    static void fn##_levels(struct dpt_schedule *s, const struct dpt_step_ctx *ctx, float *theta,  \
                            float *grad, size_t lo, size_t hi)                                     \
    {                                                                                              \
        switch (dpt_isa_level()) {                                                                 \
        case DPT_ISA_AVX512:                                                                       \
            fn##_avx512(s, ctx, theta, grad, lo, hi);                                              \
            break;                                                                                 \
        case DPT_ISA_AVX2:                                                                         \
            fn##_avx2(s, ctx, theta, grad, lo, hi);                                                \
            break;                                                                                 \
        default:                                                                                   \
            fn(s, ctx, theta, grad, lo, hi);                                                       \
            break;                                                                                 \
        }                                                                                          \
    }
#else
#define DPT_SCHED_STEP_LEVELS(fn) DPT_SCHED_STEP_COPY(fn, _levels, )
#endif

// ---- constructors, one per built-in name (the parser's table points at these) ----
// Base constructors read their keys from h. Wrapper constructors take ownership of inner only on
// success; on failure the caller still owns it.
enum dpt_status dpt_sched_make_fixed(const struct dpt_sched_hyper *h, struct dpt_schedule **out);
enum dpt_status dpt_sched_make_sgd(const struct dpt_sched_hyper *h, struct dpt_schedule **out);
enum dpt_status dpt_sched_make_normalized(const struct dpt_sched_hyper *h,
                                          struct dpt_schedule **out);
enum dpt_status dpt_sched_make_momentum(const struct dpt_sched_hyper *h, struct dpt_schedule **out);
enum dpt_status dpt_sched_make_nesterov(const struct dpt_sched_hyper *h, struct dpt_schedule **out);
enum dpt_status dpt_sched_make_adagrad(const struct dpt_sched_hyper *h, struct dpt_schedule **out);
enum dpt_status dpt_sched_make_rmsprop(const struct dpt_sched_hyper *h, struct dpt_schedule **out);
enum dpt_status dpt_sched_make_adam(const struct dpt_sched_hyper *h, struct dpt_schedule **out);
enum dpt_status dpt_sched_make_adamw(const struct dpt_sched_hyper *h, struct dpt_schedule **out);

enum dpt_status dpt_sched_make_clip(const struct dpt_sched_hyper *h, struct dpt_schedule *inner,
                                    struct dpt_schedule **out);
enum dpt_status dpt_sched_make_stepdecay(const struct dpt_sched_hyper *h,
                                         struct dpt_schedule *inner, struct dpt_schedule **out);
enum dpt_status dpt_sched_make_exp(const struct dpt_sched_hyper *h, struct dpt_schedule *inner,
                                   struct dpt_schedule **out);
enum dpt_status dpt_sched_make_invtime(const struct dpt_sched_hyper *h, struct dpt_schedule *inner,
                                       struct dpt_schedule **out);
enum dpt_status dpt_sched_make_cosine(const struct dpt_sched_hyper *h, struct dpt_schedule *inner,
                                      struct dpt_schedule **out);
enum dpt_status dpt_sched_make_warmup(const struct dpt_sched_hyper *h, struct dpt_schedule *inner,
                                      struct dpt_schedule **out);

#endif
