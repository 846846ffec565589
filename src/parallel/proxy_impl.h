// Private: the scaling proxy (docs/architecture.md "The scaling proxy"). It runs on the calling
// thread, one core, exactly the work each worker of a T-thread training step does (its shard's
// products at their real shapes, its share of the gradient, reduction and update), with the data
// that worker would find in other cores' caches evicted from this one first, and times the
// busiest worker. dpt_proxy_predict turns those times into a T-thread rate with a stated model:
//
//   step(T) = max(compute(T), memory(T)) + barriers x barrier(T)
//   compute(T) = the busiest worker's phase 1 + the busiest worker's phase 2 (measured), divided
//                by the target's core speed relative to this core at T busy cores (1 unless
//                the model says otherwise: core_speed, allcore)
//   memory(T)  = bytes all T workers read cold per step / the memory bandwidth of the NUMA node
//                that holds them
//   barrier(T) = (T + 1) x one cache-line transfer between cores (T arrivals on one counter, one
//                release), 0 at T = 1; past DPT_BARRIER_FLAT_MAX threads on one node the
//                trainer's runs of r = ceil(sqrt T) neighbours: r + ceil(T / r) + 1 transfers
//                (barrier_impl.h); over N NUMA nodes of C cores the trainer's two-level barrier:
//                C local transfers (a node's workers on its counter) + (N + 1) remote ones (one
//                per node on the top counter, the release), numa_factor times dearer; the
//                dynamic step (the default) ends its phases on the same counts (step_dynamic.c)
//
// then the rule that a T-thread step takes at least T'/T of a T'-thread step when T is a multiple
// of T' (T' = 1 included): each of the T' shards is then cut into T/T' shards of the T-thread
// step, and the proxy, which sees one core's caches, credits no superlinear speed-up from that.
// So efficiency is at most 1 and never rises from T' to a multiple of T'; between other thread
// counts it may (15 workers get 2 or 3 of 32 samples, 16 get 2 each). It mirrors the step of
// src/parallel/trainer.c (sliced and private gradient modes, split_first, the fused SGD step,
// norm-based schedules); the tests hold its choice of mode to the trainer's.
#ifndef DPT_PROXY_IMPL_H
#define DPT_PROXY_IMPL_H

#include "dptrain/parallel.h"

struct dpt_proxy_params {
    size_t batch;                 // samples per step (>= 1)
    enum dpt_grad_mode grad_mode; // auto resolves as the trainer does
    size_t samples;               // rows of the synthetic data set batches are drawn from
    size_t warmup;                // untimed steps before each measurement
    size_t steps;                 // timed steps (medians over them)
    uint64_t seed;                // initialisation, data and shuffling
    int flush;                    // evict the cold data before each timed phase (1 = yes)
    uint64_t epoch_steps; // steps per epoch for schedule counts in epochs (t_epochs=); 0: none
};

// Defaults: batch 64, auto, 60000 samples, 3 warm-up steps, 20 timed steps, seed 1, flush, no
// epoch counts.
struct dpt_proxy_params dpt_proxy_params_default(void);

// What the proxy measured at one thread count T (times are medians over the timed steps).
struct dpt_proxy_meas {
    size_t threads;
    int sliced;      // the gradient mode in use at this T (auto resolved)
    int split_first; // sliced mode computes layer 1 by output rows
    int split_all;   // and every hidden layer's forward and delta (a barrier after each)
    int fused;       // the schedule's step is folded into the gradient product
    size_t kinds;    // distinct kinds of worker (same shard and row counts), one timed each
    double phase1_s; // the busiest worker's phase 1 (forward, backprop or deltas)
    double phase2_s; // the busiest worker's phase 2 (gradient rows or reduction, update)
    double max_s;    // the busiest worker's phase 1 + phase 2
    double mean_s;   // the mean over all T workers of phase 1 + phase 2
    size_t barriers; // per step (2, or 3 with a schedule that needs the gradient's norm; split_all:
                     // 2 L - 3 more)
    // Bytes all T workers read per step that another core wrote since this one last read them
    // (or that no cache holds: the batch's rows of the data set), by where they live:
    double cold_shared_bytes;  // in buffers the creating thread allocated (node 0)
    double cold_private_bytes; // in the workers' own buffers (private gradients), spread evenly
    size_t shard_rows;         // rows of the largest shard (ceil(batch / T))
};

struct dpt_proxy;

// Builds the network (spec; initialised from the seed), the schedule (parsed from its string),
// a synthetic data set of p->samples rows of spec->sizes[0] features in [0, 1) with random
// labels, and one workspace; sets the BLAS to one thread, as the trainer does. Errors name the
// field.
enum dpt_status dpt_proxy_create(const struct dpt_net_spec *spec, const char *schedule,
                                 const struct dpt_proxy_params *p, struct dpt_proxy **out);
void dpt_proxy_destroy(struct dpt_proxy *px);

// Runs the steps of a T-thread run serially on the calling thread (worker by worker, phase by
// phase), timing one worker of each kind with its cold data evicted, and fills *out. Allocates
// what T workers would (T private gradients in private mode) and refuses more than this
// machine's memory. Flushes denormals for the duration, as the trainer's jobs do.
enum dpt_status dpt_proxy_measure(struct dpt_proxy *px, size_t threads, struct dpt_proxy_meas *out);

// The machine the prediction is for.
struct dpt_proxy_model {
    double mem_bw;      // bytes/s of one NUMA node's memory (> 0)
    double line_s;      // seconds of one cache-line transfer between two cores of a node (>= 0)
    size_t node_cores;  // cores per NUMA node, filled in order (compact); 0: one node
    double numa_factor; // a transfer between nodes costs this many local ones (>= 1)
    double core_speed;  // the target's cores run this many times faster than the measuring one
                        // (> 0; 1: the same cores): measured compute is divided by it
    double allcore;     // (0, 1]: a core's speed with all `cores` cores busy, relative to one busy
                        // core (turbo bins, a shared host); between 1 and `cores` busy cores
                        // the speed falls linearly from 1 to this. 1: no such effect
    size_t cores;       // the target's cores for `allcore`; 0: the largest thread count predicted
};

// The prediction at one thread count.
struct dpt_proxy_pred {
    size_t threads;
    size_t nodes;      // NUMA nodes the T workers span
    double compute_s;  // phase1_s + phase2_s
    double memory_s;   // cold bytes over the bandwidth of the node that serves the most
    double barrier_s;  // barriers x barrier(T)
    double envelope_s; // added by the no-superlinear rule (usually 0)
    double step_s;
    double samples_per_s;
    double speedup;    // over the 1-thread prediction
    double efficiency; // speedup / T
    double imbalance;  // max_s / mean_s of the workers
};

// Applies the model to n measurements of one network and batch, sorted by thread count and
// starting at T = 1 (strong scaling). Fills out[0..n).
enum dpt_status dpt_proxy_predict(const struct dpt_proxy_model *m, size_t batch,
                                  const struct dpt_proxy_meas *meas, size_t n,
                                  struct dpt_proxy_pred *out);

// Evicts [p, p + bytes) from every cache level (x86-64: CLFLUSH, arm64: DC CIVAC by the CPU's
// line size), then a fence: the state another core's write leaves those lines in for this one.
// The proxy's eviction; a no-op on other architectures. For benchmarks (tests/bench/split_bench).
void dpt_proxy_evict(const void *p, size_t bytes);

// Seconds per round of the project's barrier with 2 pinned workers on the first 2 usable cores
// (the median of `batches` batches of `rounds` rounds). DPT_ERR_UNSUPPORTED with fewer than 2
// usable cores.
enum dpt_status dpt_proxy_barrier_round(size_t rounds, size_t batches, double *seconds);

#endif
