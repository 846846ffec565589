// Private: tuning hooks of the MPI comm, for tests/mpi/bench_allreduce.c (not part of the API).
#ifndef DPT_MPI_IMPL_H
#define DPT_MPI_IMPL_H

#include <mpi.h>
#include <stddef.h>

#include "dptrain/mpi.h"

// The all-reduce works on pieces of at most this many elements (one exchange + sum + gather each;
// 1 MiB of floats: for workload L's 7.45 MB gradient, 1.4x faster than one piece over shared
// memory and 2x over TCP, docs/mpi.md) and gathers whole vectors of at most DPT_MPI_SMALL elements
// in total instead (one collective).
#define DPT_MPI_PIECE ((size_t)1 << 18)
#define DPT_MPI_SMALL ((size_t)4096)

// Overrides the piece size and the small-vector limit of one comm (0 keeps the current value).
// Not thread-safe; call between collectives, with the same values on every rank.
void dpt_mpi_comm_tune(struct dpt_comm *comm, size_t piece, size_t small);

// The comm's MPI communicator (a duplicate of MPI_COMM_WORLD). Borrowed.
MPI_Comm dpt_mpi_comm_handle(const struct dpt_comm *comm);

#endif
