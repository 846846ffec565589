// Times the cross-process collectives of one training step (docs/mpi.md): the all-reduce of a
// gradient the size of workload S (784-128-10) and L (784-1024-1024-10), as the MPI comm does it
// and as the alternatives would (MPI_Reduce + MPI_Bcast, MPI_Reduce_scatter + MPI_Allgatherv, and
// MPI_Allreduce, which does not promise the same bits on every rank), plus the step's 4-double
// all-reduce and reproducible mode's all-gather of micro-shard gradients. Median of many runs.
//
//   mpirun -np 2 bench_allreduce [--iters N] [--shards J] [--pieces K1,K2,..]
// --pieces also times the comm's all-reduce with those piece sizes (floats).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dptrain/dptrain.h"
#include "dptrain/mpi.h"
#include "mpi/mpi_impl.h"

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum method { COMM, COMM_ONE_PIECE, REDUCE_BCAST, REDUCE_SCATTER, NATIVE, N_METHODS };
static const char *const method_name[N_METHODS] = {
    "comm (alltoallv + sum + allgatherv)", "comm, the vector in one piece",
    "MPI_Reduce + MPI_Bcast", "MPI_Reduce_scatter + MPI_Allgatherv", "MPI_Allreduce (native)"};

static void run_once(struct dpt_comm *c, enum method m, float *buf, size_t n, int *counts,
                     int *displs)
{
    MPI_Comm mc = dpt_mpi_comm_handle(c);
    switch (m) {
    case COMM:
    case COMM_ONE_PIECE:
        c->allreduce_f32(c, buf, n);
        break;
    case REDUCE_BCAST:
        MPI_Reduce(c->rank == 0 ? MPI_IN_PLACE : buf, buf, (int)n, MPI_FLOAT, MPI_SUM, 0, mc);
        MPI_Bcast(buf, (int)n, MPI_FLOAT, 0, mc);
        break;
    case REDUCE_SCATTER:
        MPI_Reduce_scatter(MPI_IN_PLACE, buf, counts, MPI_FLOAT, MPI_SUM, mc);
        // The rank's block now sits at the front of buf: move it to its place, then gather.
        memmove(buf + displs[c->rank], buf, (size_t)counts[c->rank] * sizeof(float));
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs, MPI_FLOAT, mc);
        break;
    case NATIVE:
        MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, mc);
        break;
    default:
        break;
    }
}

// Median seconds of `iters` timed runs (after 3 untimed ones); every rank starts each run together.
static double time_method(struct dpt_comm *c, enum method m, float *buf, size_t n, int iters,
                          size_t piece, double *min)
{
    const int R = c->size;
    int *counts = malloc((size_t)R * sizeof *counts), *displs = malloc((size_t)R * sizeof *displs);
    for (int r = 0; r < R; r++) {
        displs[r] = (int)(n * (size_t)r / (size_t)R);
        counts[r] = (int)(n * (size_t)(r + 1) / (size_t)R) - displs[r];
    }
    dpt_mpi_comm_tune(c, piece ? piece : m == COMM_ONE_PIECE ? n : DPT_MPI_PIECE, 0);
    double *t = malloc((size_t)iters * sizeof *t);
    for (int k = -3; k < iters; k++) {
        for (size_t i = 0; i < n; i++)
            buf[i] = (float)((i + (size_t)c->rank) % 13) * 0.25f;
        MPI_Barrier(dpt_mpi_comm_handle(c));
        const double t0 = MPI_Wtime();
        run_once(c, m, buf, n, counts, displs);
        const double dt = MPI_Wtime() - t0;
        if (k >= 0)
            t[k] = dt;
    }
    // The slowest rank's time is the step's.
    MPI_Allreduce(MPI_IN_PLACE, t, iters, MPI_DOUBLE, MPI_MAX, dpt_mpi_comm_handle(c));
    qsort(t, (size_t)iters, sizeof *t, cmp_double);
    const double med = t[iters / 2];
    *min = t[0];
    free(t);
    free(counts);
    free(displs);
    dpt_mpi_comm_tune(c, DPT_MPI_PIECE, 0);
    return med;
}

static size_t n_params(const size_t *sizes, size_t n_layers)
{
    struct dpt_net_spec spec = dpt_net_spec_default();
    spec.n_layers = n_layers;
    for (size_t l = 0; l <= n_layers; l++)
        spec.sizes[l] = sizes[l];
    for (size_t l = 0; l < n_layers; l++)
        spec.act[l] = l + 1 == n_layers ? DPT_ACT_SOFTMAX : DPT_ACT_RELU;
    struct dpt_net *net = NULL;
    if (dpt_net_create(&spec, &net) != DPT_OK)
        return 0;
    const size_t n = dpt_net_n_params(net);
    dpt_net_destroy(net);
    return n;
}

int main(int argc, char **argv)
{
    int iters = 51, shards = 16;
    const char *pieces = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--iters"))
            iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--shards"))
            shards = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pieces"))
            pieces = argv[i + 1];
    }
    struct dpt_comm *c = NULL;
    if (dpt_mpi_init(&argc, &argv) != DPT_OK || dpt_mpi_comm_create(&c) != DPT_OK) {
        fprintf(stderr, "bench_allreduce: %s\n", dpt_last_error());
        return 1;
    }
    const size_t S[] = {784, 128, 10}, L[] = {784, 1024, 1024, 10};
    const size_t ns = n_params(S, 2), nl = n_params(L, 3);
    const size_t nmax = (size_t)shards * nl;
    float *buf = malloc(nmax * sizeof *buf);
    double *tt = malloc((size_t)iters * sizeof *tt);
    if (!buf || !tt || !ns || !nl) {
        fprintf(stderr, "bench_allreduce: out of memory\n");
        return 1;
    }
    const int root = c->rank == 0;
    char desc[256];
    dpt_mpi_describe(c, desc, sizeof desc);
    if (root)
        printf("# %s; median (and minimum) of %d runs, each the slowest rank's time\n", desc,
               iters);
    const struct {
        const char *name;
        size_t n;
    } w[] = {{"S", ns}, {"L", nl}};
    for (int k = 0; k < 2; k++) {
        for (int m = 0; m < N_METHODS; m++) {
            double t_min;
            const double t = time_method(c, (enum method)m, buf, w[k].n, iters, 0, &t_min);
            if (root)
                printf("%s  %8zu floats  %-38s %9.1f us  %6.2f GB/s  (min %7.1f us)\n", w[k].name,
                       w[k].n, method_name[m], t * 1e6, (double)w[k].n * 4.0 / t / 1e9,
                       t_min * 1e6);
        }
        for (const char *q = pieces; q && *q;) {
            char *end = NULL;
            const size_t piece = strtoul(q, &end, 10);
            if (end == q || piece == 0)
                break;
            q = *end == ',' ? end + 1 : end;
            double t_min;
            const double t = time_method(c, COMM, buf, w[k].n, iters, piece, &t_min);
            char name[64];
            snprintf(name, sizeof name, "comm, pieces of %zu floats", piece);
            if (root)
                printf("%s  %8zu floats  %-38s %9.1f us  %6.2f GB/s  (min %7.1f us)\n", w[k].name,
                       w[k].n, name, t * 1e6, (double)w[k].n * 4.0 / t / 1e9, t_min * 1e6);
        }
    }
    // The step's loss, correct count and stop flags: 4 doubles.
    for (int k = -3; k < iters; k++) {
        double v[4] = {1, 2, 3, 4};
        MPI_Barrier(dpt_mpi_comm_handle(c));
        const double t0 = MPI_Wtime();
        c->allreduce_f64(c, v, 4);
        if (k >= 0)
            tt[k] = MPI_Wtime() - t0;
    }
    MPI_Allreduce(MPI_IN_PLACE, tt, iters, MPI_DOUBLE, MPI_MAX, dpt_mpi_comm_handle(c));
    qsort(tt, (size_t)iters, sizeof *tt, cmp_double);
    if (root)
        printf("-  %8d doubles  %-38s %9.1f us\n", 4, "comm allreduce_f64 (loss, flags)",
               tt[iters / 2] * 1e6);
    // Reproducible mode: J micro-shard gradients, each rank holding a contiguous run of them.
    size_t counts[256], displs[256];
    const size_t R = (size_t)c->size;
    for (int k = 0; k < 2 && R <= 256; k++) {
        for (size_t r = 0; r < R; r++) {
            const size_t lo = (size_t)shards * r / R, hi = (size_t)shards * (r + 1) / R;
            counts[r] = (hi - lo) * w[k].n;
            displs[r] = lo * w[k].n;
        }
        for (int it = -2; it < iters / 5 + 1; it++) {
            MPI_Barrier(dpt_mpi_comm_handle(c));
            const double t0 = MPI_Wtime();
            c->allgather_f32(c, buf, counts, displs);
            if (it >= 0)
                tt[it] = MPI_Wtime() - t0;
        }
        const int n_it = iters / 5 + 1;
        MPI_Allreduce(MPI_IN_PLACE, tt, n_it, MPI_DOUBLE, MPI_MAX, dpt_mpi_comm_handle(c));
        qsort(tt, (size_t)n_it, sizeof *tt, cmp_double);
        if (root)
            printf("%s  %8zu floats  %-38s %9.1f us  (%d micro-shards)\n", w[k].name,
                   (size_t)shards * w[k].n, "comm allgather_f32 (reproducible)", tt[n_it / 2] * 1e6,
                   shards);
    }
    free(tt);
    free(buf);
    dpt_mpi_comm_destroy(c);
    dpt_mpi_finalize();
    return 0;
}
