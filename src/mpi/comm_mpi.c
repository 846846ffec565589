// The MPI comm: MPI start-up and shutdown, the struct dpt_comm collectives over a duplicate of
// MPI_COMM_WORLD, and the watchdog that ends a job whose collective stopped making progress.
//
// All-reduce (the one collective whose cost matters: once per step, the whole gradient). Each
// rank owns one contiguous block of the vector. An all-to-all sends every block to its owner, the
// owner sums the R contributions in rank order, and an in-place all-gather hands the summed blocks
// to every rank. Each element is therefore added up exactly once, on one rank, in an order fixed
// by this file rather than by MPI's algorithm choice: every rank gets the same bits, and the same
// run gives the same bits with any MPI version or tuning. Traffic per rank is that of a ring
// all-reduce (2 (R-1)/R of the vector). Vectors of at most DPT_MPI_SMALL elements in total (the
// per-step loss and flags) are instead gathered whole and summed by every rank in rank order: one
// collective, latency-bound. docs/mpi.md has the measurements behind these choices.
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include "core/error_impl.h"
#include "mpi/mpi_impl.h"

// ---- process-wide state ----

// MPI is process-wide, and so is everything here. Written by dpt_mpi_init / dpt_mpi_finalize on
// the main thread only; the watchdog thread reads busy_since_ns, timeout_ns and rank.
static struct {
    int initialised; // dpt_mpi_init succeeded and dpt_mpi_finalize has not run
    int we_init;     // dpt_mpi_init called MPI_Init_thread (so dpt_mpi_finalize finalises)
    int rank;        // in MPI_COMM_WORLD, for messages
    pthread_t main;  // the thread allowed to call MPI (MPI_THREAD_FUNNELED)
    pthread_t dog;   // the watchdog
    int dog_running;
    pthread_mutex_t mu; // guards stop; with cv, lets finalize wake the watchdog at once
    pthread_cond_t cv;
    int stop;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};

// When the collective in progress on the main thread last made progress (CLOCK_MONOTONIC ns: its
// start, or the end of its last exchange), 0 when none. Relaxed: a lone timestamp that publishes
// no other data; the watchdog only compares it with the clock, and a value a few microseconds
// stale changes nothing.
static _Atomic int64_t busy_since_ns;
// Its name, for the watchdog's message (a string literal; relaxed for the same reason).
static _Atomic(const char *) busy_what;
// The deadline in ns (0: disabled). Relaxed for the same reason.
static _Atomic int64_t timeout_ns = (int64_t)(DPT_MPI_TIMEOUT_DEFAULT * 1e9);

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// ---- errors ----

// Turns an MPI error code into DPT_ERR_SYSTEM with MPI's own message.
static enum dpt_status mpi_fail(int rc, const char *call)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "MPI error %d", rc);
    return dpt_error(DPT_ERR_SYSTEM, "MPI rank %d: %s failed: %s", g.rank, call, msg);
}

// ---- the watchdog ----

// Ends the job: the main thread is stuck inside a collective whose partners stopped answering.
// Nothing can be returned to the caller (the main thread will not come back from MPI), and MPI
// cannot be finalised with a collective half done, so this is the one place where the library
// prints and exits. MPI_Abort from a thread other than the main one goes beyond what
// MPI_THREAD_FUNNELED promises; it is done only here, when the process is being torn down anyway,
// and Open MPI's MPI_Abort only asks the runtime to kill the job. _exit covers an MPI_Abort that
// returns.
static void watchdog_fire(double seconds)
{
    const char *what = atomic_load_explicit(&busy_what, memory_order_relaxed);
    char line[240];
    int len = snprintf(line, sizeof line,
                       "dptrain: error: rank %d: no progress from the other ranks for %g s in %s "
                       "(a rank died or hangs); aborting\n",
                       g.rank, seconds, what ? what : "a collective");
    if (len > 0) {
        // write(2), not stdio: the main thread may hold stderr's lock forever.
        const size_t n = (size_t)len < sizeof line ? (size_t)len : sizeof line - 1;
        ssize_t w = write(STDERR_FILENO, line, n);
        (void)w;
    }
    MPI_Abort(MPI_COMM_WORLD, DPT_MPI_EXIT_TIMEOUT);
    _exit(DPT_MPI_EXIT_TIMEOUT);
}

// Wakes every tenth of the deadline (at most once a second, at least every 10 ms) and checks the
// collective in progress, so a hang is noticed at most 10% after the deadline.
static void *watchdog_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g.mu);
    while (!g.stop) {
        const int64_t limit = atomic_load_explicit(&timeout_ns, memory_order_relaxed);
        int64_t period = limit > 0 ? limit / 10 : 1000000000;
        period = period > 1000000000 ? 1000000000 : period < 10000000 ? 10000000 : period;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        const int64_t wake = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + period;
        ts.tv_sec = (time_t)(wake / 1000000000);
        ts.tv_nsec = (long)(wake % 1000000000);
        pthread_cond_timedwait(&g.cv, &g.mu, &ts);
        if (g.stop)
            break;
        const int64_t since = atomic_load_explicit(&busy_since_ns, memory_order_relaxed);
        const int64_t lim = atomic_load_explicit(&timeout_ns, memory_order_relaxed);
        if (since > 0 && lim > 0 && now_ns() - since > lim)
            watchdog_fire((double)lim / 1e9);
    }
    pthread_mutex_unlock(&g.mu);
    return NULL;
}

static enum dpt_status watchdog_start(void)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return dpt_error(DPT_ERR_SYSTEM, "MPI watchdog: cannot create a condition variable");
    int rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&g.cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        return dpt_error(DPT_ERR_SYSTEM, "MPI watchdog: cannot create a condition variable: %s",
                         strerror(rc));
    g.stop = 0;
    // The watchdog takes no signals: the application's handlers (Ctrl-C, SIGTERM) run on its own
    // threads, as they would without MPI.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&g.dog, NULL, watchdog_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&g.cv);
        return dpt_error(DPT_ERR_SYSTEM, "MPI watchdog: cannot start a thread: %s", strerror(rc));
    }
    g.dog_running = 1;
    return DPT_OK;
}

static void watchdog_stop(void)
{
    if (!g.dog_running)
        return;
    pthread_mutex_lock(&g.mu);
    g.stop = 1;
    pthread_cond_signal(&g.cv);
    pthread_mutex_unlock(&g.mu);
    pthread_join(g.dog, NULL);
    pthread_cond_destroy(&g.cv);
    g.dog_running = 0;
}

// Every collective runs between begin and end: begin refuses the wrong thread (MPI was
// initialised MPI_THREAD_FUNNELED) and starts the watchdog's clock.
static enum dpt_status begin(const char *what)
{
    if (!g.initialised)
        return dpt_error(DPT_ERR_INVALID, "%s: MPI is not initialised (dpt_mpi_init)", what);
    if (!pthread_equal(pthread_self(), g.main))
        return dpt_error(DPT_ERR_INVALID,
                         "%s: MPI collectives must run on the thread that called dpt_mpi_init "
                         "(MPI_THREAD_FUNNELED)",
                         what);
    atomic_store_explicit(&busy_what, what, memory_order_relaxed);
    atomic_store_explicit(&busy_since_ns, now_ns(), memory_order_relaxed);
    return DPT_OK;
}

// A collective made of several exchanges (the all-reduce's pieces) calls this after each one: the
// deadline bounds a wait for the other ranks, not the length of the whole collective.
static void progress(void)
{
    atomic_store_explicit(&busy_since_ns, now_ns(), memory_order_relaxed);
}

static void end(void)
{
    atomic_store_explicit(&busy_since_ns, 0, memory_order_relaxed);
}

// ---- start-up and shutdown ----

int dpt_mpi_launched(void)
{
    // Open MPI, MPICH / Intel MPI (PMI), PMIx launchers (Open MPI 5, srun --mpi=pmix), Slurm PMI2.
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK",
                                       "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

enum dpt_status dpt_mpi_set_timeout(double seconds)
{
    if (!(seconds >= 0.0) || seconds > 7.0 * 86400.0)
        return dpt_error(DPT_ERR_INVALID,
                         "MPI timeout: %g s is not a number of seconds in [0, 604800]", seconds);
    atomic_store_explicit(&timeout_ns, (int64_t)(seconds * 1e9), memory_order_relaxed);
    return DPT_OK;
}

double dpt_mpi_timeout(void)
{
    return (double)atomic_load_explicit(&timeout_ns, memory_order_relaxed) / 1e9;
}

// DPT_MPI_TIMEOUT, if set: a number of seconds.
static enum dpt_status timeout_from_env(void)
{
    const char *v = getenv("DPT_MPI_TIMEOUT");
    if (!v || !*v)
        return DPT_OK;
    char *end_p = NULL;
    errno = 0;
    const double s = strtod(v, &end_p);
    if (errno != 0 || end_p == v || *end_p != '\0' || dpt_mpi_set_timeout(s) != DPT_OK)
        return dpt_error(DPT_ERR_INVALID,
                         "DPT_MPI_TIMEOUT: '%s' is not a number of seconds in [0, 604800]", v);
    return DPT_OK;
}

enum dpt_status dpt_mpi_init(int *argc, char ***argv)
{
    if (g.initialised)
        return dpt_error(DPT_ERR_INVALID, "dpt_mpi_init: MPI is already initialised by dptrain");
    enum dpt_status st = timeout_from_env();
    if (st != DPT_OK)
        return st;
    int flag = 0, provided = MPI_THREAD_SINGLE, rc;
    MPI_Initialized(&flag);
    if (flag) {
        int fin = 0;
        MPI_Finalized(&fin);
        if (fin)
            return dpt_error(DPT_ERR_INVALID, "dpt_mpi_init: MPI is already finalised");
        MPI_Query_thread(&provided);
        int is_main = 0;
        MPI_Is_thread_main(&is_main);
        if (!is_main && provided < MPI_THREAD_MULTIPLE)
            return dpt_error(DPT_ERR_INVALID,
                             "dpt_mpi_init: call it on the thread that initialised MPI");
        g.we_init = 0;
    } else {
        rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS)
            return dpt_error(DPT_ERR_SYSTEM, "MPI_Init_thread failed (error %d)", rc);
        g.we_init = 1;
        // Failures on MPI_COMM_WORLD (and on the comms duplicated from it) come back as codes.
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
    if (provided < MPI_THREAD_FUNNELED) {
        st = dpt_error(DPT_ERR_UNSUPPORTED,
                       "MPI provides thread level %d, dptrain needs MPI_THREAD_FUNNELED (%d)",
                       provided, MPI_THREAD_FUNNELED);
        goto cleanup;
    }
    g.main = pthread_self();
    st = watchdog_start();
    if (st != DPT_OK)
        goto cleanup;
    g.initialised = 1;
    return DPT_OK;
cleanup:
    if (g.we_init)
        MPI_Finalize();
    g.we_init = 0;
    return st;
}

enum dpt_status dpt_mpi_finalize(void)
{
    if (!g.initialised)
        return DPT_OK;
    if (!pthread_equal(pthread_self(), g.main))
        return dpt_error(DPT_ERR_INVALID,
                         "dpt_mpi_finalize: call it on the thread that called dpt_mpi_init");
    enum dpt_status st = DPT_OK;
    if (g.we_init) {
        // MPI_Finalize synchronises with the other ranks: it runs under the watchdog too.
        atomic_store_explicit(&busy_what, "MPI_Finalize", memory_order_relaxed);
        atomic_store_explicit(&busy_since_ns, now_ns(), memory_order_relaxed);
        const int rc = MPI_Finalize();
        end();
        if (rc != MPI_SUCCESS)
            st = mpi_fail(rc, "MPI_Finalize");
    }
    watchdog_stop();
    g.initialised = 0;
    g.we_init = 0;
    return st;
}

void dpt_mpi_abort(int code)
{
    int flag = 0, fin = 0;
    MPI_Initialized(&flag);
    MPI_Finalized(&fin);
    if (flag && !fin)
        MPI_Abort(MPI_COMM_WORLD, code);
    _exit(code);
}

// ---- the comm ----

struct mpi_comm {
    struct dpt_comm comm;
    MPI_Comm mc;
    int *counts, *displs;   // size entries each: the int arguments of the v-collectives
    int *counts2, *displs2; // the second pair of the all-to-all
    void *scratch;          // receive buffer of the all-reduce, scratch_bytes long
    size_t scratch_bytes;
    size_t piece, small;
};

static struct mpi_comm *impl_of(const struct dpt_comm *c)
{
    return (struct mpi_comm *)c->impl;
}

void dpt_mpi_comm_tune(struct dpt_comm *comm, size_t piece, size_t small)
{
    struct mpi_comm *m = impl_of(comm);
    if (piece)
        m->piece = piece < (size_t)INT_MAX ? piece : (size_t)INT_MAX;
    if (small)
        m->small = small;
}

MPI_Comm dpt_mpi_comm_handle(const struct dpt_comm *comm)
{
    return impl_of(comm)->mc;
}

// Start of part i of n items cut into k near-equal contiguous parts (the first n % k one longer).
static size_t split(size_t n, size_t i, size_t k)
{
    return n / k * i + (i < n % k ? i : n % k);
}

// Grows the scratch buffer to at least `bytes` (grow-only: the trainer's sizes repeat every step,
// so this allocates on the first step only).
static enum dpt_status scratch_reserve(struct mpi_comm *m, size_t bytes)
{
    if (bytes <= m->scratch_bytes)
        return DPT_OK;
    void *p = dpt_alloc_aligned(bytes);
    if (!p)
        return dpt_error(DPT_ERR_NOMEM, "MPI all-reduce: out of memory for %zu bytes of scratch",
                         bytes);
    dpt_free_aligned(m->scratch);
    m->scratch = p;
    m->scratch_bytes = bytes;
    return DPT_OK;
}

// out[i] = src[0][i] + src[1][i] + ... + src[R-1][i] in rank order, src[r] = src + r * stride.
static void sum_f32(float *restrict out, const float *restrict src, size_t n, size_t stride, int R)
{
    memcpy(out, src, n * sizeof(float));
    for (int r = 1; r < R; r++) {
        const float *restrict s = src + (size_t)r * stride;
        for (size_t i = 0; i < n; i++)
            out[i] += s[i];
    }
}

static void sum_f64(double *restrict out, const double *restrict src, size_t n, size_t stride,
                    int R)
{
    memcpy(out, src, n * sizeof(double));
    for (int r = 1; r < R; r++) {
        const double *restrict s = src + (size_t)r * stride;
        for (size_t i = 0; i < n; i++)
            out[i] += s[i];
    }
}

// The all-reduce for both element types (see the top of the file).
static enum dpt_status allreduce(struct dpt_comm *c, void *buf, size_t n, MPI_Datatype type,
                                 size_t esize)
{
    struct mpi_comm *m = impl_of(c);
    const int R = c->size;
    enum dpt_status st = begin("all-reduce");
    if (st != DPT_OK)
        return st;
    if (n == 0 || R == 1)
        goto cleanup;
    char *base = buf;
    size_t total;
    if (n <= m->small && !dpt_mul_overflow(n, (size_t)R, &total) && total <= m->small) {
        // Gather whole vectors; every rank sums them in rank order.
        if ((st = scratch_reserve(m, total * esize)) != DPT_OK)
            goto cleanup;
        const int rc = MPI_Allgather(buf, (int)n, type, m->scratch, (int)n, type, m->mc);
        if (rc != MPI_SUCCESS) {
            st = mpi_fail(rc, "MPI_Allgather");
            goto cleanup;
        }
        if (esize == sizeof(float))
            sum_f32(buf, m->scratch, n, n, R);
        else
            sum_f64(buf, m->scratch, n, n, R);
        goto cleanup;
    }
    const size_t me = (size_t)c->rank;
    for (size_t p0 = 0; p0 < n; p0 += m->piece) {
        const size_t len = n - p0 < m->piece ? n - p0 : m->piece;
        const size_t mine = split(len, me + 1, (size_t)R) - split(len, me, (size_t)R);
        // Room for R copies of the largest block (ranks 0 .. len % R - 1 have one more).
        const size_t blk = len / (size_t)R + 1;
        if ((st = scratch_reserve(m, blk * (size_t)R * esize)) != DPT_OK)
            goto cleanup;
        // piece <= INT_MAX, so every count and displacement below fits an int.
        for (int r = 0; r < R; r++) {
            const size_t lo = split(len, (size_t)r, (size_t)R);
            m->counts[r] = (int)(split(len, (size_t)r + 1, (size_t)R) - lo);
            m->displs[r] = (int)lo;
            m->counts2[r] = (int)mine;
            m->displs2[r] = (int)(blk * (size_t)r);
        }
        char *piece = base + p0 * esize;
        int rc = MPI_Alltoallv(piece, m->counts, m->displs, type, m->scratch, m->counts2,
                               m->displs2, type, m->mc);
        if (rc != MPI_SUCCESS) {
            st = mpi_fail(rc, "MPI_Alltoallv");
            goto cleanup;
        }
        char *out = piece + (size_t)m->displs[me] * esize;
        if (esize == sizeof(float))
            sum_f32((float *)(void *)out, m->scratch, mine, blk, R);
        else
            sum_f64((double *)(void *)out, m->scratch, mine, blk, R);
        rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, piece, m->counts, m->displs, type,
                            m->mc);
        if (rc != MPI_SUCCESS) {
            st = mpi_fail(rc, "MPI_Allgatherv");
            goto cleanup;
        }
        progress();
    }
cleanup:
    end();
    return st;
}

static enum dpt_status allreduce_f32(struct dpt_comm *c, float *buf, size_t n)
{
    return allreduce(c, buf, n, MPI_FLOAT, sizeof(float));
}

static enum dpt_status allreduce_f64(struct dpt_comm *c, double *buf, size_t n)
{
    return allreduce(c, buf, n, MPI_DOUBLE, sizeof(double));
}

static size_t gcd(size_t a, size_t b)
{
    while (b) {
        const size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

// In-place all-gather with size_t counts. MPI counts are ints: when a count or displacement is
// past INT_MAX, the blocks are counted in units of their greatest common divisor (a contiguous
// type; the trainer's blocks are whole gradients) and refused with DPT_ERR_RANGE only when even
// that does not fit. Every rank passes the same counts, so every rank refuses alike.
static enum dpt_status allgather(struct dpt_comm *c, void *buf, const size_t *counts,
                                 const size_t *displs, MPI_Datatype type)
{
    struct mpi_comm *m = impl_of(c);
    const int R = c->size;
    MPI_Datatype unit = type;
    enum dpt_status st = begin("all-gather");
    if (st != DPT_OK)
        return st;
    if (R == 1)
        goto cleanup;
    size_t top = 0, g_all = 0;
    for (int r = 0; r < R; r++) {
        size_t e;
        if (dpt_add_overflow(displs[r], counts[r], &e)) {
            st = dpt_error(DPT_ERR_RANGE, "all-gather: block %d overflows (%zu + %zu elements)", r,
                           displs[r], counts[r]);
            goto cleanup;
        }
        top = e > top ? e : top;
        g_all = gcd(gcd(g_all, counts[r]), displs[r]);
    }
    size_t k = 1;
    if (top > (size_t)INT_MAX) {
        k = g_all;
        if (k <= 1 || k > (size_t)INT_MAX || top / k > (size_t)INT_MAX) {
            st = dpt_error(DPT_ERR_RANGE,
                           "all-gather: %zu elements are more than MPI's int counts can address",
                           top);
            goto cleanup;
        }
        int rc = MPI_Type_contiguous((int)k, type, &unit);
        if (rc == MPI_SUCCESS)
            rc = MPI_Type_commit(&unit);
        if (rc != MPI_SUCCESS) {
            unit = type;
            st = mpi_fail(rc, "MPI_Type_contiguous");
            goto cleanup;
        }
    }
    for (int r = 0; r < R; r++) {
        m->counts[r] = (int)(counts[r] / k);
        m->displs[r] = (int)(displs[r] / k);
    }
    const int rc =
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, m->counts, m->displs, unit, m->mc);
    if (rc != MPI_SUCCESS)
        st = mpi_fail(rc, "MPI_Allgatherv");
cleanup:
    if (unit != type)
        MPI_Type_free(&unit);
    end();
    return st;
}

static enum dpt_status allgather_f32(struct dpt_comm *c, float *buf, const size_t *counts,
                                     const size_t *displs)
{
    return allgather(c, buf, counts, displs, MPI_FLOAT);
}

static enum dpt_status allgather_f64(struct dpt_comm *c, double *buf, const size_t *counts,
                                     const size_t *displs)
{
    return allgather(c, buf, counts, displs, MPI_DOUBLE);
}

void dpt_mpi_comm_destroy(struct dpt_comm *comm)
{
    if (!comm)
        return;
    struct mpi_comm *m = impl_of(comm);
    if (m->mc != MPI_COMM_NULL && g.initialised && begin("comm destroy") == DPT_OK) {
        MPI_Comm_free(&m->mc);
        end();
    }
    dpt_free(m->counts);
    dpt_free(m->displs);
    dpt_free(m->counts2);
    dpt_free(m->displs2);
    dpt_free_aligned(m->scratch);
    dpt_free(m);
}

enum dpt_status dpt_mpi_comm_create(struct dpt_comm **out)
{
    if (!out)
        return dpt_error(DPT_ERR_INVALID, "dpt_mpi_comm_create: out is NULL");
    *out = NULL;
    enum dpt_status st = begin("comm create");
    if (st != DPT_OK)
        return st;
    struct mpi_comm *m = dpt_calloc(1, sizeof *m);
    if (!m) {
        end();
        return dpt_error(DPT_ERR_NOMEM, "out of memory allocating an MPI comm");
    }
    m->mc = MPI_COMM_NULL;
    m->comm.impl = m;
    m->piece = DPT_MPI_PIECE;
    m->small = DPT_MPI_SMALL;
    int rc = MPI_Comm_dup(MPI_COMM_WORLD, &m->mc);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_set_errhandler(m->mc, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_rank(m->mc, &m->comm.rank);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_size(m->mc, &m->comm.size);
    end();
    if (rc != MPI_SUCCESS) {
        st = mpi_fail(rc, "MPI_Comm_dup");
        goto cleanup;
    }
    const size_t R = (size_t)m->comm.size;
    m->counts = dpt_calloc(R, sizeof *m->counts);
    m->displs = dpt_calloc(R, sizeof *m->displs);
    m->counts2 = dpt_calloc(R, sizeof *m->counts2);
    m->displs2 = dpt_calloc(R, sizeof *m->displs2);
    if (!m->counts || !m->displs || !m->counts2 || !m->displs2) {
        st = dpt_error(DPT_ERR_NOMEM, "out of memory for an MPI comm of %zu ranks", R);
        goto cleanup;
    }
    m->comm.allreduce_f32 = allreduce_f32;
    m->comm.allreduce_f64 = allreduce_f64;
    m->comm.allgather_f32 = allgather_f32;
    m->comm.allgather_f64 = allgather_f64;
    *out = &m->comm;
    return DPT_OK;
cleanup:
    dpt_mpi_comm_destroy(&m->comm);
    return st;
}

// ---- agreement checks ----

enum dpt_status dpt_mpi_all_ok(struct dpt_comm *comm, enum dpt_status local)
{
    if (!comm)
        return dpt_error(DPT_ERR_INVALID, "dpt_mpi_all_ok: comm is NULL");
    struct mpi_comm *m = impl_of(comm);
    enum dpt_status st = begin("status agreement");
    if (st != DPT_OK)
        return st;
    int mine = (int)local;
    int rc = MPI_Allgather(&mine, 1, MPI_INT, m->counts2, 1, MPI_INT, m->mc);
    end();
    if (rc != MPI_SUCCESS)
        return mpi_fail(rc, "MPI_Allgather");
    if (local != DPT_OK)
        return local; // this rank's own message stays
    for (int r = 0; r < comm->size; r++) {
        if (m->counts2[r] != DPT_OK) {
            const enum dpt_status s = (enum dpt_status)m->counts2[r];
            return dpt_error(s, "rank %d failed (%s); its message is on its standard error", r,
                             dpt_status_str(s));
        }
    }
    return DPT_OK;
}

// FNV-1a over 8-byte words, then the tail bytes: a fingerprint, not a cryptographic hash.
static uint64_t fingerprint(const void *data, size_t bytes)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)bytes;
    size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 1099511628211ULL;
        h ^= h >> 29;
    }
    for (; i < bytes; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

enum dpt_status dpt_mpi_check_same(struct dpt_comm *comm, const void *data, size_t bytes,
                                   const char *what)
{
    if (!comm || (!data && bytes))
        return dpt_error(DPT_ERR_INVALID, "dpt_mpi_check_same: comm or data is NULL");
    struct mpi_comm *m = impl_of(comm);
    const char *name = what ? what : "data";
    const uint64_t h = fingerprint(data, bytes);
    enum dpt_status st = scratch_reserve(m, (size_t)comm->size * sizeof(uint64_t));
    if (st != DPT_OK)
        return st; // every rank asks for the same size: all fail alike or none
    if ((st = begin("agreement check")) != DPT_OK)
        return st;
    const int rc = MPI_Allgather(&h, 1, MPI_UINT64_T, m->scratch, 1, MPI_UINT64_T, m->mc);
    end();
    if (rc != MPI_SUCCESS)
        return mpi_fail(rc, "MPI_Allgather");
    const uint64_t *all = m->scratch;
    for (int r = 1; r < comm->size; r++)
        if (all[r] != all[0])
            return dpt_error(DPT_ERR_INVALID,
                             "%s: not the same on every rank (rank %d disagrees with rank 0)", name,
                             r);
    return DPT_OK;
}

void dpt_mpi_describe(const struct dpt_comm *comm, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    char lib[MPI_MAX_LIBRARY_VERSION_STRING] = "MPI";
    char host[MPI_MAX_PROCESSOR_NAME] = "?";
    int n = 0;
    if (MPI_Get_library_version(lib, &n) == MPI_SUCCESS)
        lib[strcspn(lib, ",\n")] = '\0'; // "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4"
    if (MPI_Get_processor_name(host, &n) != MPI_SUCCESS)
        snprintf(host, sizeof host, "?");
    snprintf(buf, len, "%d ranks; %s; rank %d on %s", comm ? comm->size : 1, lib,
             comm ? comm->rank : 0, host);
}
