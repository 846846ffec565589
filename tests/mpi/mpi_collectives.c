// The MPI comm's collectives against plain references, run under mpirun with 1, 2 and 3 ranks
// (tests/mpi/run.cmake): all-reduce sums in rank order and gives the same bits on every rank (small
// and large paths, several pieces), in-place all-gathers with uneven, empty and gapped blocks,
// refusal of counts past INT_MAX, the agreement checks, the thread check, the timeout setter and
// the watchdog's deadline per exchange.
// Prints one line per failed check and exits 1 if any failed.
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dptrain/dptrain.h"
#include "dptrain/mpi.h"
#include "mpi/mpi_impl.h"

static int failures, checks, rank_g;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "rank %d: %s:%d: check failed: %s: ", rank_g, __FILE__, __LINE__,      \
                    #cond);                                                                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
        }                                                                                          \
    } while (0)

// Rank r's value at i: irregular, of mixed magnitudes and signs, so that the order of a float sum
// changes its rounding (a reference in another order would not match bitwise).
static float value_f32(int r, size_t i)
{
    const double x = sin((double)(i + 1) * 12.9898 + (double)(r + 1) * 78.233) * 43758.5453;
    return (float)((x - floor(x) - 0.5) * pow(10.0, (double)((i + (size_t)r) % 7) - 3.0));
}

static double value_f64(int r, size_t i)
{
    return (double)value_f32(r, i) * (1.0 + 1e-9 * (double)r);
}

// Every rank computes the expected sums in rank order itself and compares bitwise; rank-order
// sums also make a wrong block, a wrong offset or a missed piece show.
static void check_allreduce(struct dpt_comm *c, size_t n, size_t piece)
{
    if (piece)
        dpt_mpi_comm_tune(c, piece, 0);
    float *f = malloc((n + 1) * sizeof *f);
    double *d = malloc((n + 1) * sizeof *d);
    for (size_t i = 0; i < n; i++) {
        f[i] = value_f32(c->rank, i);
        d[i] = value_f64(c->rank, i);
    }
    enum dpt_status s32 = c->allreduce_f32(c, f, n);
    enum dpt_status s64 = c->allreduce_f64(c, d, n);
    CHECK(s32 == DPT_OK && s64 == DPT_OK, "n %zu: %s", n, dpt_last_error());
    size_t bad32 = 0, bad64 = 0;
    for (size_t i = 0; i < n; i++) {
        float ef = value_f32(0, i);
        double ed = value_f64(0, i);
        for (int r = 1; r < c->size; r++) {
            ef += value_f32(r, i);
            ed += value_f64(r, i);
        }
        bad32 += memcmp(&ef, &f[i], sizeof ef) != 0;
        bad64 += memcmp(&ed, &d[i], sizeof ed) != 0;
    }
    CHECK(bad32 == 0 && bad64 == 0, "n %zu piece %zu: %zu f32 and %zu f64 sums differ", n, piece,
          bad32, bad64);
    free(f);
    free(d);
    if (piece)
        dpt_mpi_comm_tune(c, DPT_MPI_PIECE, 0);
}

// Blocks of uneven sizes (rank 1 empty), with a gap of untouched elements after each.
static void check_allgather(struct dpt_comm *c)
{
    const int R = c->size;
    size_t counts[8], displs[8], top = 0;
    for (int r = 0; r < R; r++) {
        counts[r] = r == 1 ? 0 : 1000 + 37 * (size_t)r;
        displs[r] = top;
        top += counts[r] + 5;
    }
    float *f = malloc(top * sizeof *f);
    double *d = malloc(top * sizeof *d);
    for (size_t i = 0; i < top; i++) {
        f[i] = -1.0f;
        d[i] = -1.0;
    }
    for (size_t i = 0; i < counts[c->rank]; i++) {
        f[displs[c->rank] + i] = value_f32(c->rank, i);
        d[displs[c->rank] + i] = value_f64(c->rank, i);
    }
    CHECK(c->allgather_f32(c, f, counts, displs) == DPT_OK, "%s", dpt_last_error());
    CHECK(c->allgather_f64(c, d, counts, displs) == DPT_OK, "%s", dpt_last_error());
    size_t bad = 0;
    for (int r = 0; r < R; r++) {
        for (size_t i = 0; i < counts[r]; i++)
            bad += f[displs[r] + i] != value_f32(r, i) || d[displs[r] + i] != value_f64(r, i);
        for (size_t i = counts[r]; i < counts[r] + 5; i++)
            bad += f[displs[r] + i] != -1.0f || d[displs[r] + i] != -1.0;
    }
    CHECK(bad == 0, "%zu gathered elements are wrong", bad);

    // Past INT_MAX elements with no common unit: refused on every rank before MPI sees it (the
    // buffer is never touched, so a small one is enough).
    size_t hc[8], hd[8];
    for (int r = 0; r < R; r++) {
        hc[r] = r == 0 ? (size_t)INT_MAX + 2 : 1;
        hd[r] = r == 0 ? 0 : (size_t)INT_MAX + 2 + (size_t)r;
    }
    if (R > 1) {
        CHECK(c->allgather_f32(c, f, hc, hd) == DPT_ERR_RANGE, "got '%s'", dpt_last_error());
        CHECK(strstr(dpt_last_error(), "int counts") != NULL, "message '%s'", dpt_last_error());
    }
    free(f);
    free(d);
}

static void check_agreement(struct dpt_comm *c)
{
    const int R = c->size;
    double same[3] = {1.5, 2.5, 3.5};
    CHECK(dpt_mpi_check_same(c, same, sizeof same, "same") == DPT_OK, "%s", dpt_last_error());
    double differ[3] = {1.5, 2.5, R > 1 && c->rank == R - 1 ? 4.5 : 3.5};
    enum dpt_status st = dpt_mpi_check_same(c, differ, sizeof differ, "the data set");
    if (R > 1) {
        CHECK(st == DPT_ERR_INVALID, "status %d", (int)st);
        char want[128];
        snprintf(want, sizeof want, "the data set: not the same on every rank (rank %d disagrees",
                 R - 1);
        CHECK(strstr(dpt_last_error(), want) != NULL, "message '%s'", dpt_last_error());
    } else {
        CHECK(st == DPT_OK, "%s", dpt_last_error());
    }

    CHECK(dpt_mpi_all_ok(c, DPT_OK) == DPT_OK, "%s", dpt_last_error());
    if (R > 1) {
        // Rank 1 fails with its own message; the others learn who failed.
        enum dpt_status local = DPT_OK;
        if (c->rank == 1)
            local = DPT_ERR_IO; // as if its file could not be read
        st = dpt_mpi_all_ok(c, local);
        CHECK(st == DPT_ERR_IO, "status %d", (int)st);
        if (c->rank != 1)
            CHECK(strstr(dpt_last_error(), "rank 1 failed") != NULL, "message '%s'",
                  dpt_last_error());
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// The watchdog's deadline bounds each exchange of a collective, not the whole: an all-reduce in
// pieces of 2 floats, long enough to take 1.5 times a 1 s deadline (its length found by doubling,
// every rank taking the slowest rank's time), must complete and sum right.
static void check_deadline_per_exchange(struct dpt_comm *c)
{
    if (c->size == 1 || c->size > 8) // one rank has no exchange; `each` below holds 8
        return;
    const double keep = dpt_mpi_timeout(), deadline = 1.0;
    dpt_mpi_comm_tune(c, 2, 0);
    double took = 0.0;
    size_t n = 5000;
    for (int tries = 0; tries < 12 && took < 1.5 * deadline; tries++, n *= 2) {
        float *f = malloc(n * sizeof *f);
        if (!f)
            break;
        for (size_t i = 0; i < n; i++)
            f[i] = (float)(c->rank + 1);
        CHECK(dpt_mpi_set_timeout(deadline) == DPT_OK, "%s", dpt_last_error());
        const double t0 = now_s();
        const enum dpt_status st = c->allreduce_f32(c, f, n);
        took = now_s() - t0;
        CHECK(dpt_mpi_set_timeout(keep) == DPT_OK, "%s", dpt_last_error());
        CHECK(st == DPT_OK, "n %zu: %s", n, dpt_last_error());
        const float want = (float)(c->size * (c->size + 1) / 2);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++)
            bad += f[i] != want;
        CHECK(bad == 0, "n %zu: %zu sums are wrong", n, bad);
        free(f);
        double each[8] = {0}; // every rank's time at its index, so that all see the slowest
        each[c->rank] = took;
        CHECK(c->allreduce_f64(c, each, (size_t)c->size) == DPT_OK, "%s", dpt_last_error());
        for (int r = 0; r < c->size; r++)
            took = each[r] > took ? each[r] : took;
    }
    CHECK(took >= 1.5 * deadline, "no all-reduce took 1.5 times the deadline (%g s)", took);
    dpt_mpi_comm_tune(c, DPT_MPI_PIECE, 0);
}

struct thread_arg {
    struct dpt_comm *c;
    enum dpt_status st;
    char msg[256];
};

static void *other_thread(void *arg)
{
    struct thread_arg *a = arg;
    float x = 1.0f;
    a->st = a->c->allreduce_f32(a->c, &x, 1);
    snprintf(a->msg, sizeof a->msg, "%s", dpt_last_error());
    return NULL;
}

int main(int argc, char **argv)
{
    // The setter works before dpt_mpi_init, and refuses nonsense.
    CHECK(dpt_mpi_set_timeout(-1) == DPT_ERR_INVALID, "negative timeout accepted");
    CHECK(dpt_mpi_set_timeout(NAN) == DPT_ERR_INVALID, "NaN timeout accepted");
    CHECK(dpt_mpi_set_timeout(1e9) == DPT_ERR_INVALID, "huge timeout accepted");
    CHECK(dpt_mpi_set_timeout(0) == DPT_OK && dpt_mpi_timeout() == 0, "0 (disabled) refused");
    CHECK(dpt_mpi_set_timeout(30) == DPT_OK && dpt_mpi_timeout() == 30, "30 s refused");

    struct dpt_comm *c = NULL;
    if (dpt_mpi_init(&argc, &argv) != DPT_OK || dpt_mpi_comm_create(&c) != DPT_OK) {
        fprintf(stderr, "mpi_collectives: %s\n", dpt_last_error());
        return 1;
    }
    rank_g = c->rank;
    CHECK(dpt_mpi_init(&argc, &argv) == DPT_ERR_INVALID, "second init accepted");

    // Empty, tiny, around the small-path limit, several pieces, pieces not dividing evenly.
    const size_t sizes[] = {0, 1, 3, 100, 1365, 1366, 2048, 2049, 5000, 100003};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        check_allreduce(c, sizes[k], 0);
    check_allreduce(c, 100003, 1000);
    check_allreduce(c, 100003, 7);
    check_allreduce(c, 10, 3); // small path ignores the piece size
    check_allgather(c);
    check_agreement(c);
    check_deadline_per_exchange(c);

    // A collective from a thread that did not initialise MPI is refused, not attempted.
    pthread_t th;
    struct thread_arg ta = {.c = c};
    pthread_create(&th, NULL, other_thread, &ta);
    pthread_join(th, NULL);
    CHECK(ta.st == DPT_ERR_INVALID && strstr(ta.msg, "MPI_THREAD_FUNNELED"), "status %d '%s'",
          (int)ta.st, ta.msg);

    char desc[256];
    dpt_mpi_describe(c, desc, sizeof desc);
    char want[64];
    snprintf(want, sizeof want, "%d ranks; ", c->size);
    CHECK(strncmp(desc, want, strlen(want)) == 0, "describe gave '%s'", desc);
    CHECK(dpt_mpi_launched() || c->size == 1, "launched under mpirun but not detected");

    // Every rank's verdict, so that rank 0 reports the job's result.
    double bad = failures;
    CHECK(c->allreduce_f64(c, &bad, 1) == DPT_OK, "%s", dpt_last_error());
    if (c->rank == 0)
        printf("mpi_collectives: %d ranks, %d checks per rank, %g failures in all\n", c->size,
               checks, bad);
    dpt_mpi_comm_destroy(c);
    CHECK(dpt_mpi_finalize() == DPT_OK, "%s", dpt_last_error());
    return bad == 0 && failures == 0 ? 0 : 1;
}
