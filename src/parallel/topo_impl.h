// Private: what the pool and trainer need from the topology beyond the public API: the hwloc
// handle, and saving / restoring the calling thread's binding (the calling thread is worker 0, so
// the trainer binds a thread it does not own and must give it back as it found it).
#ifndef DPT_PARALLEL_TOPO_IMPL_H
#define DPT_PARALLEL_TOPO_IMPL_H

#include <hwloc.h>

#include "dptrain/parallel.h"

// The loaded hwloc topology, borrowed for the lifetime of topo (e.g. for memory binding). Read it
// only; reading is safe from several threads at once.
hwloc_topology_t dpt_topo_hwloc(const struct dpt_topo *topo);

// True when topo describes this machine (dpt_topo_create), false for synthetic topologies, on
// which dpt_topo_bind_self returns DPT_ERR_UNSUPPORTED.
bool dpt_topo_is_real(const struct dpt_topo *topo);

// The barrier groups of nth workers bound to PUs pu[] (OS indexes): the innermost of L3 cache,
// NUMA node and package at which the workers fall into more than one group (and fewer groups than
// workers), numbered 0.. in order of first appearance, into group_of[nth]; where no level splits
// them, runs of dpt_barrier_run(nth) consecutive workers (barrier_impl.h: one run up to
// DPT_BARRIER_FLAT_MAX workers or with DPT_BARRIER_RUNS=0 in the environment, then one group).
// Returns the number of groups; 1 (all in group 0) also when a worker is unbound.
size_t dpt_topo_groups(const struct dpt_topo *topo, const int *pu, size_t nth, unsigned *group_of);

struct dpt_topo_binding;

// Saves the calling thread's current CPU binding into *out (owned by the caller, freed with
// dpt_topo_binding_destroy). On a synthetic topology *out is NULL and DPT_OK is returned.
// Failure: DPT_ERR_SYSTEM (the OS would not tell) or DPT_ERR_NOMEM, with a message.
enum dpt_status dpt_topo_binding_save(const struct dpt_topo *topo, struct dpt_topo_binding **out);

// Rebinds the calling thread to a saved binding (NULL: no-op). Failure: DPT_ERR_SYSTEM with a
// message; callers treat it as a warning.
enum dpt_status dpt_topo_binding_restore(const struct dpt_topo *topo,
                                         const struct dpt_topo_binding *saved);

// Frees a saved binding; NULL is a no-op.
void dpt_topo_binding_destroy(struct dpt_topo_binding *saved);

#endif
