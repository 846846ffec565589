// dptrain MPI: a struct dpt_comm over MPI, so that several processes (one per node or per NUMA
// domain, each with its own pinned worker threads) train one model together (docs/mpi.md).
//
// Optional: only builds configured with -DDPT_MPI=ON have it, as the static library dptrain_mpi
// (CMake target dptrain_mpi, which also defines DPT_HAVE_MPI for its users). The umbrella header
// <dptrain/dptrain.h> does not include this one.
//
// Threads: MPI is initialised with MPI_THREAD_FUNNELED, so every MPI call, and so every collective
// of the comm, must come from the thread that called dpt_mpi_init. The trainer makes its
// collectives on worker 0, which is the thread that calls dpt_trainer_fit / dpt_trainer_epoch:
// call those from the thread that called dpt_mpi_init. A collective called from another thread
// fails with DPT_ERR_INVALID instead of breaking MPI's threading contract.
//
// Dead or hung ranks: every collective runs under a deadline (dpt_mpi_set_timeout, or the
// environment variable DPT_MPI_TIMEOUT, in seconds; default 60). A watchdog thread started by
// dpt_mpi_init watches the collective in progress; when one has been waiting longer than the
// deadline it prints one line on standard error,
//   dptrain: error: rank R: no progress from the other ranks for N s (a rank died or hangs);
//   aborting
// and ends the whole job with MPI_Abort (exit status DPT_MPI_EXIT_TIMEOUT). This is the one place
// where the library itself prints and exits: a process blocked inside a collective whose partner
// is gone can neither return a status nor ever finish MPI cleanly. A rank that exits (crash,
// _exit) is normally noticed sooner by the launcher: Open MPI's mpirun then kills every other
// rank (docs/mpi.md has what each case prints).
#ifndef DPTRAIN_MPI_H
#define DPTRAIN_MPI_H

#include <stddef.h>

#include "core.h"
#include "parallel.h"

#ifdef __cplusplus
extern "C" {
#endif

// Exit status of a job the watchdog aborted (a hung collective).
#define DPT_MPI_EXIT_TIMEOUT 3

// Default deadline of one collective, in seconds.
#define DPT_MPI_TIMEOUT_DEFAULT 60.0

// Nonzero when this process was started by an MPI launcher (mpirun / mpiexec of Open MPI, MPICH
// or a PMI/PMIx job step such as srun), judged from the environment the launcher sets. Lets a
// program initialise MPI only when it runs under one. Thread-safe; touches no MPI state.
DPT_API int dpt_mpi_launched(void);

// Initialises MPI with MPI_THREAD_FUNNELED (argc/argv as for MPI_Init_thread; both may be NULL),
// reads DPT_MPI_TIMEOUT and starts the watchdog thread. If the application has already
// initialised MPI itself, checks its thread level and only starts the watchdog (then
// dpt_mpi_finalize leaves MPI running). Call once, from the thread that will make the
// collectives. DPT_ERR_UNSUPPORTED when MPI provides less than MPI_THREAD_FUNNELED,
// DPT_ERR_INVALID for a second call or a bad DPT_MPI_TIMEOUT, DPT_ERR_SYSTEM when MPI or the
// watchdog thread fails to start.
DPT_API enum dpt_status dpt_mpi_init(int *argc, char ***argv);

// Stops the watchdog and finalises MPI (if dpt_mpi_init initialised it). Every comm must be
// destroyed before. A collective; call from the thread that called dpt_mpi_init. No-op when MPI
// was not initialised by dpt_mpi_init.
DPT_API enum dpt_status dpt_mpi_finalize(void);

// Sets the deadline of each collective, in seconds (0 disables the watchdog). Takes effect for
// the collective in progress too. DPT_ERR_INVALID for a negative, NaN or over a week value.
// Thread-safe (one atomic store). dpt_mpi_init reads DPT_MPI_TIMEOUT when it is set, replacing a
// value set before; call this after dpt_mpi_init to override the environment.
DPT_API enum dpt_status dpt_mpi_set_timeout(double seconds);
// The current deadline in seconds (0: disabled). Thread-safe.
DPT_API double dpt_mpi_timeout(void);

// Creates a comm over a duplicate of MPI_COMM_WORLD (errors returned, not fatal). Its collectives
// give bitwise identical results on every rank and, for a given number of ranks, a fixed
// summation order (ranks in rank order), independent of MPI's internal algorithms. A collective:
// every rank calls it. Needs dpt_mpi_init. The caller owns *out (dpt_mpi_comm_destroy).
DPT_API enum dpt_status dpt_mpi_comm_create(struct dpt_comm **out);

// Frees a comm (a collective: MPI_Comm_free). NULL is a no-op.
DPT_API void dpt_mpi_comm_destroy(struct dpt_comm *comm);

// A collective over the outcome of a step that every rank ran (loading data, creating the
// trainer...): DPT_OK when every rank passed DPT_OK. Otherwise, on a rank that failed, its own
// status is returned and its error message is kept; on the others, the status of the lowest
// failing rank is returned with the message "rank R failed (STATUS); its message is on its
// standard error". Lets every rank stop together instead of waiting in the next collective.
DPT_API enum dpt_status dpt_mpi_all_ok(struct dpt_comm *comm, enum dpt_status local);

// A collective: DPT_OK when `bytes` bytes at `data` are the same on every rank (compared by a
// 64-bit hash), else DPT_ERR_INVALID with "WHAT: not the same on every rank (rank R disagrees
// with rank 0)" on every rank. For checking that every rank loaded the same data and built the
// same initial network before training.
DPT_API enum dpt_status dpt_mpi_check_same(struct dpt_comm *comm, const void *data, size_t bytes,
                                           const char *what);

// Writes "RANKS ranks; LIBRARY; rank R on HOST" (at most len bytes, NUL included), e.g. "2 ranks;
// Open MPI v4.1.4; rank 0 on node1". Asks MPI: call it from the thread that called dpt_mpi_init.
DPT_API void dpt_mpi_describe(const struct dpt_comm *comm, char *buf, size_t len);

// Ends every rank of the job now (MPI_Abort on MPI_COMM_WORLD with exit status `code`), for a
// program that must stop after an error on one rank while the others may be inside a collective.
// Never returns.
DPT_API void dpt_mpi_abort(int code);

#ifdef __cplusplus
}
#endif

#endif
