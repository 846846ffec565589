// dptrain core: status codes and error context, the network spec and its flat parameter
// vector, activations and losses, batched forward and backprop (the shard kernel), the RNG.
// Core knows nothing of threads: every function here is safe to call from several threads on
// distinct objects; the per-thread error message is thread-local.
#ifndef DPTRAIN_CORE_H
#define DPTRAIN_CORE_H

#include <stddef.h>
#include <stdint.h>

#if defined(DPT_BUILDING_LIBRARY) && defined(__GNUC__)
#define DPT_API __attribute__((visibility("default")))
#else
#define DPT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

// ---- status and errors ----

// Every fallible function returns one of these; DPT_OK is 0 and every error is negative.
enum dpt_status {
    DPT_OK = 0,
    DPT_ERR_INVALID = -1,     // an argument or spec field is invalid
    DPT_ERR_NOMEM = -2,       // an allocation failed
    DPT_ERR_IO = -3,          // a file could not be opened, read or written
    DPT_ERR_FORMAT = -4,      // a file or string is malformed
    DPT_ERR_RANGE = -5,       // a size overflows or exceeds a limit
    DPT_ERR_UNSUPPORTED = -6, // valid but not supported by this build
    DPT_ERR_DIVERGED = -7,    // a loss or gradient became NaN or infinite
    DPT_ERR_INTERRUPTED = -8, // stopped by a request (signal, callback)
    DPT_ERR_SYSTEM = -9,      // the OS refused a resource (threads, topology)
};

// Short constant name of a status ("invalid argument"); never NULL. Thread-safe.
DPT_API const char *dpt_status_str(enum dpt_status status);

// The context message of the last error raised on the calling thread ("" when none): names the
// field, file and position where known. Valid until the next dptrain call on this thread.
DPT_API const char *dpt_last_error(void);

// Clears the calling thread's error message.
DPT_API void dpt_error_clear(void);

// Library version string, e.g. "0.1.0". Thread-safe.
DPT_API const char *dpt_version(void);

// One line naming what this build runs on, for reports and benchmark files:
// "dptrain 0.1.0; BLAS OpenBLAS 0.3.21 ...; hwloc 2.9.0 (API 2.8.0); compiler gcc 12.2.0".
// Borrowed: a per-thread buffer, valid until the next call on the same thread. Thread-safe.
DPT_API const char *dpt_build_info(void);

// NULL when the BLAS runs kernels made for this CPU's vector instructions. Otherwise one line
// that names the problem and the fix: an OpenBLAS built for many CPUs (DYNAMIC_ARCH, as Debian's)
// that does not recognise a newer CPU falls back to its generic kernels, 3-4x slower (seen on a
// 16-core Xeon, family 6 model 207, with OpenBLAS 0.3.21: 'Prescott', 31 instead of ~100
// GFLOP/s per core). Kernels using AVX2 and FMA count as made for the CPU, also on one with
// AVX-512. Known for OpenBLAS on x86 only; NULL for any other BLAS. The library never prints it.
// Borrowed: a per-thread buffer, valid until the next call on the same thread. Thread-safe.
DPT_API const char *dpt_blas_check(void);

// NULL when nothing needs fixing (dpt_blas_check() would say NULL), when the CPU lacks AVX2 and
// FMA, or when the BLAS is not an x86 OpenBLAS built with DYNAMIC_ARCH (the only one that
// OPENBLAS_CORETYPE steers). Otherwise the OPENBLAS_CORETYPE value that selects this CPU's
// kernels: "SkylakeX" with AVX-512 F/BW/DQ/VL, else "Haswell". OpenBLAS reads the variable once,
// when it loads, so a host program sets it before that: in the launcher, or by re-executing
// itself with it set (the dptrain command does so when the variable is unset). A value the
// user set is best respected: check getenv("OPENBLAS_CORETYPE") first. Static string. Thread-safe.
DPT_API const char *dpt_blas_coretype_fix(void);

// The name of the kernel set the BLAS runs: OpenBLAS's core name ("Haswell", "SkylakeX",
// "Prescott", ...; openblas_get_corename), or "" for a BLAS that does not say. Never NULL.
// Static string. Thread-safe. For tests of the code that acts on these three functions on a CPU
// that OpenBLAS recognises: while OPENBLAS_CORETYPE is unset or empty, a non-empty
// DPT_TEST_BLAS_CORENAME in the environment stands for the core OpenBLAS picked by itself.
DPT_API const char *dpt_blas_kernels(void);

// The vector level of the built-in GEMM kernels in use: "avx512", "avx2" or "generic" (every
// product goes to the BLAS). Chosen from the CPU's features; DPT_ISA=avx512|avx2|generic in the
// environment forces one (for tests and benchmarks; DPT_GEMM=blas is the older spelling of
// generic). Thread-safe.
DPT_API const char *dpt_isa_name(void);

// NULL when DPT_ISA is unset or names a level this CPU runs. Otherwise one line saying what is
// wrong with it (the library then uses the best level the CPU runs). Borrowed: a per-thread
// buffer, valid until the next call on the same thread. Thread-safe.
DPT_API const char *dpt_isa_check(void);

// ---- precision of the products ----

// The arithmetic of the training step's matrix products (forward, weight gradients, deltas).
// Parameters, gradients' reduction, loss, softmax and the schedule step are fp32 either way.
enum dpt_precision {
    DPT_PRECISION_FP32 = 0, // fp32 operands and accumulation (the default)
    DPT_PRECISION_BF16,     // operands rounded to bf16 (nearest even), fp32 accumulation: mixed
                            // precision on CPUs with AVX512_BF16 (twice the multiply-adds per
                            // instruction); docs/architecture.md
};

// "fp32", "bf16" ("?" for other values); the parser takes those names and returns
// DPT_ERR_INVALID with a message for others. Thread-safe.
DPT_API const char *dpt_precision_name(enum dpt_precision p);
DPT_API enum dpt_status dpt_precision_parse(const char *name, enum dpt_precision *out);

// NULL when this process runs products in precision p (fp32 always; bf16 on a CPU with
// AVX512_BF16 while the avx512 kernel level is in use). Otherwise one line saying why not.
// Borrowed: a per-thread buffer, valid until the next call on the same thread. Thread-safe.
DPT_API const char *dpt_precision_check(enum dpt_precision p);

// ---- activations, losses ----

enum dpt_act {
    DPT_ACT_IDENTITY = 0,
    DPT_ACT_SIGMOID,
    DPT_ACT_TANH,
    DPT_ACT_RELU,
    DPT_ACT_LEAKY_RELU,
    DPT_ACT_SOFTMAX, // output layer only
};

enum dpt_loss {
    DPT_LOSS_SQUARED = 0, // C_k = sum_j (a_j - y_j)^2, exactly as in docs/math.md
    DPT_LOSS_XENT,        // softmax output + cross-entropy
    DPT_LOSS_BCE,         // sigmoid output + binary cross-entropy, summed over outputs
};

// How per-sample losses (and their gradients) combine over a batch.
enum dpt_reduction {
    DPT_REDUCTION_MEAN = 0, // divide by the batch size (the default)
    DPT_REDUCTION_SUM,      // plain sum, as in the notes
};

enum dpt_init {
    DPT_INIT_AUTO = 0, // He for ReLU-family layers, Glorot otherwise
    DPT_INIT_GLOROT,   // uniform(-r, r), r = sqrt(6 / (n_in + n_out))
    DPT_INIT_HE,       // normal(0, sqrt(2 / n_in))
    DPT_INIT_UNIFORM,  // uniform(-scale, scale)
};

// Name <-> value; the parsers return DPT_ERR_INVALID with a message for unknown names.
DPT_API const char *dpt_act_name(enum dpt_act act);
DPT_API const char *dpt_loss_name(enum dpt_loss loss);
DPT_API const char *dpt_reduction_name(enum dpt_reduction red);
DPT_API enum dpt_status dpt_act_parse(const char *name, enum dpt_act *out);
DPT_API enum dpt_status dpt_loss_parse(const char *name, enum dpt_loss *out);
DPT_API enum dpt_status dpt_reduction_parse(const char *name, enum dpt_reduction *out);

// ---- network spec ----

#define DPT_MAX_LAYERS 32

// Layers 0..n_layers: sizes[0] is the input width, sizes[n_layers] the output width;
// act[l-1] is the activation of layer l (l = 1..n_layers). A plain value type.
struct dpt_net_spec {
    size_t n_layers;                  // L >= 1 (number of weight layers)
    size_t sizes[DPT_MAX_LAYERS + 1]; // n_0 .. n_L, each >= 1
    enum dpt_act act[DPT_MAX_LAYERS]; // one per non-input layer
    enum dpt_loss loss;               // default DPT_LOSS_XENT
    enum dpt_reduction reduction;     // default DPT_REDUCTION_MEAN
    float leaky_slope;                // slope of leaky_relu for z < 0; default 0.01
};

// A spec with no layers, xent loss, mean reduction, leaky slope 0.01.
DPT_API struct dpt_net_spec dpt_net_spec_default(void);

// Validates a spec: sizes zero or overflowing, softmax on a hidden layer, a loss that does not fit
// the output activation. Returns DPT_OK or DPT_ERR_INVALID / DPT_ERR_RANGE with a message naming
// the field (e.g. "sizes[2]", "act[0]"). Thread-safe.
DPT_API enum dpt_status dpt_net_spec_check(const struct dpt_net_spec *spec);

// ---- network ----

struct dpt_net;

// Creates a network from a spec (copied) with all parameters zero. The parameters live in one
// 64-byte-aligned buffer: [W1 (n1 x n0 row-major), b1, W2, b2, ...], each tensor starting on a
// 64-byte boundary (padding floats are zero and stay zero). *out is owned by the caller.
DPT_API enum dpt_status dpt_net_create(const struct dpt_net_spec *spec, struct dpt_net **out);

// Frees a network; NULL is a no-op.
DPT_API void dpt_net_destroy(struct dpt_net *net);

// The spec the network was created with (borrowed; valid for the network's lifetime).
DPT_API const struct dpt_net_spec *dpt_net_spec(const struct dpt_net *net);

// Length in floats of the flat parameter vector, padding included.
DPT_API size_t dpt_net_n_params(const struct dpt_net *net);

// Number of trainable scalars (weights plus biases, no padding).
DPT_API size_t dpt_net_n_trainable(const struct dpt_net *net);

// The flat parameter vector (borrowed; writable; valid for the network's lifetime).
DPT_API float *dpt_net_params(struct dpt_net *net);
DPT_API const float *dpt_net_params_const(const struct dpt_net *net);

// Offsets in floats of W_l and b_l (l = 1..n_layers) inside the flat vector.
DPT_API enum dpt_status dpt_net_layer_offsets(const struct dpt_net *net, size_t l, size_t *w_off,
                                              size_t *b_off);

// Initialises every weight by `method` (scale used by DPT_INIT_UNIFORM only) from a
// dpt_rng seeded with `seed`; biases become zero. Deterministic for a given seed.
DPT_API enum dpt_status dpt_net_init(struct dpt_net *net, enum dpt_init method, float scale,
                                     uint64_t seed);

// ---- targets ----

// Targets of a block of samples: class labels (classification; one-hot, or 0/1 for a single
// output) or dense rows of n_L floats (regression, multi-label). Exactly one is non-NULL.
struct dpt_targets {
    const int32_t *labels; // n entries in [0, n_L) (or {0,1} when n_L == 1), or NULL
    const float *values;   // n x n_L row-major, or NULL
};

// ---- forward, loss and backprop on one thread ----

// Scratch memory for up to `max_rows` samples of one network: activations of every layer and two
// delta buffers. Create once, reuse for every block; one workspace per thread.
struct dpt_workspace;

DPT_API enum dpt_status dpt_workspace_create(const struct dpt_net *net, size_t max_rows,
                                             struct dpt_workspace **out);
DPT_API void dpt_workspace_destroy(struct dpt_workspace *ws);
DPT_API size_t dpt_workspace_max_rows(const struct dpt_workspace *ws);
// Bytes held by a workspace for `max_rows` rows of `net` (for memory reports).
DPT_API size_t dpt_workspace_bytes(const struct dpt_net *net, size_t max_rows);

// Loss sum and number of correct classifications over a block (correct is 0 for regression).
struct dpt_block_stats {
    double loss_sum;
    size_t correct;
    size_t n;
};

// Forward pass over n <= max_rows samples (x: n x n_0 row-major; when idx is non-NULL row i is
// x[idx[i]]). Writes the outputs (n x n_L) to `out` when non-NULL. Borrows everything.
DPT_API enum dpt_status dpt_net_forward(const struct dpt_net *net, struct dpt_workspace *ws,
                                        const float *x, const size_t *idx, size_t n, float *out);

// Forward plus loss and accuracy of a block against its targets, without gradients.
DPT_API enum dpt_status dpt_net_evaluate(const struct dpt_net *net, struct dpt_workspace *ws,
                                         const float *x, const size_t *idx, size_t n,
                                         const struct dpt_targets *t, struct dpt_block_stats *st);

// Forward plus backprop over a block; ADDS the gradient of `scale` x (the SUMMED per-sample loss)
// into `grad` (same layout as the parameters) when `accumulate` is nonzero, or overwrites it when
// 0. The trainer passes scale = 1/batch for mean reduction, so the reduction costs no extra pass
// (the factor is applied to the output delta). Statistics (unscaled) are returned in *st.
// This is the shard kernel every trainer thread runs. Borrows everything; kernels trust inputs.
DPT_API void dpt_net_backprop(const struct dpt_net *net, struct dpt_workspace *ws, const float *x,
                              const size_t *idx, size_t n, const struct dpt_targets *t, float scale,
                              float *grad, int accumulate, struct dpt_block_stats *st);

// Convenience for tests and embedding: gradient of the batch loss with the spec's reduction
// (overwrites grad), and the reduced loss in *loss. Allocates a temporary workspace.
DPT_API enum dpt_status dpt_net_gradient(const struct dpt_net *net, const float *x, size_t n,
                                         const struct dpt_targets *t, float *grad, double *loss);

// ---- RNG ----

// xoshiro256** (Blackman and Vigna), seeded through splitmix64: small, fast and documented, so a
// seed reproduces the same stream on every platform. A plain value type; not thread-safe (one per
// thread).
struct dpt_rng {
    uint64_t s[4];
};

DPT_API void dpt_rng_seed(struct dpt_rng *rng, uint64_t seed);
DPT_API uint64_t dpt_rng_next(struct dpt_rng *rng);
// Uniform in [0, 1) with 53 random bits.
DPT_API double dpt_rng_uniform(struct dpt_rng *rng);
// Standard normal (Box-Muller; no cached second value, so the state alone defines the stream).
DPT_API double dpt_rng_normal(struct dpt_rng *rng);
// Uniform integer in [0, n) without modulo bias (Lemire); n >= 1.
DPT_API uint64_t dpt_rng_below(struct dpt_rng *rng, uint64_t n);
// Fisher-Yates shuffle of perm[0..n) in place.
DPT_API void dpt_rng_shuffle(struct dpt_rng *rng, size_t *perm, size_t n);

#ifdef __cplusplus
}
#endif

#endif
