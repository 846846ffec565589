// Trains a small network with params.comm over MPI (or alone, --no-mpi) and writes each rank's
// final parameters and loss to a file, for tests/mpi/run.cmake to compare across ranks x threads.
// Also injects faults (a rank that exits or hangs mid-training), stops and resumes through a state
// file, and reports throughput on a real data set (docs/mpi.md).
//
//   mpi_train --out PATH [--no-mpi] [--threads T] [--repro] [--engine pthreads|openmp]
//             [--epochs E] [--batch B] [--hidden H1,H2,..] [--data SPEC] [--seed S]
//             [--act tanh|relu|..] [--schedule SPEC] [--piece N]
//             [--stop-at-step S --state PATH] [--resume PATH]
//             [--die-rank R | --hang-rank R] [--fault-step S] [--max-seconds X] [--quiet]
//   mpi_train --compare A B TOL      exit 0 when the two files agree (TOL 0: bitwise; else the
//                                    relative L2 distance of the parameters and of the loss)
//
// Rank 0 writes PATH; rank r > 0 writes PATH.rank<r>. File: u64 n, n floats, one double (the last
// epoch's train loss).
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dptrain/dptrain.h"
#include "dptrain/mpi.h"
#include "mpi/mpi_impl.h"

struct opts {
    const char *out, *state, *resume, *data, *hidden, *engine, *act, *schedule;
    size_t threads, epochs, batch, piece;
    uint64_t seed;
    int repro, no_mpi, quiet;
    long stop_at, die_rank, hang_rank, fault_step;
    double max_seconds;
};

struct cb {
    const struct opts *o;
    int rank;
    long steps; // progress calls so far: one per step (progress_every = 1)
};

// Called on worker 0 before each step's exchange: the place to die, hang or ask for a stop.
static int on_progress(uint64_t epoch, size_t step, size_t steps, void *user)
{
    (void)epoch;
    (void)step;
    (void)steps;
    struct cb *c = user;
    c->steps++;
    if (c->o->fault_step > 0 && c->steps == c->o->fault_step) {
        if (c->rank == c->o->die_rank) {
            fprintf(stderr, "mpi_train: rank %d: exiting at step %ld (fault injection)\n", c->rank,
                    c->steps);
            _exit(3);
        }
        if (c->rank == c->o->hang_rank) {
            fprintf(stderr, "mpi_train: rank %d: hanging at step %ld (fault injection)\n", c->rank,
                    c->steps);
            for (;;)
                pause();
        }
    }
    // Only rank 0 asks; the trainer makes the request global, so every rank stops together.
    return c->o->stop_at > 0 && c->rank == 0 && c->steps == c->o->stop_at;
}

static int write_file(const char *path, const float *p, size_t n, double loss)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    const uint64_t n64 = n;
    int ok = fwrite(&n64, sizeof n64, 1, f) == 1 && fwrite(p, sizeof *p, n, f) == n &&
             fwrite(&loss, sizeof loss, 1, f) == 1;
    ok &= fclose(f) == 0;
    return ok ? 0 : -1;
}

// Reads a file written by write_file; *p is malloc'd.
static int read_file(const char *path, float **p, size_t *n, double *loss)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint64_t n64 = 0;
    int ok = fread(&n64, sizeof n64, 1, f) == 1 && n64 < ((uint64_t)1 << 32);
    *p = ok ? malloc(n64 * sizeof **p + 1) : NULL;
    ok = ok && *p && fread(*p, sizeof **p, n64, f) == n64 && fread(loss, sizeof *loss, 1, f) == 1;
    fclose(f);
    *n = n64;
    return ok ? 0 : -1;
}

static int compare(const char *a, const char *b, double tol)
{
    float *pa = NULL, *pb = NULL;
    size_t na = 0, nb = 0;
    double la = 0, lb = 0;
    int rc = 1;
    if (read_file(a, &pa, &na, &la) || read_file(b, &pb, &nb, &lb)) {
        fprintf(stderr, "mpi_train: cannot read %s or %s\n", a, b);
        goto done;
    }
    if (na != nb) {
        fprintf(stderr, "mpi_train: %s has %zu parameters, %s has %zu\n", a, na, b, nb);
        goto done;
    }
    if (tol == 0) {
        if (memcmp(pa, pb, na * sizeof *pa) != 0 || memcmp(&la, &lb, sizeof la) != 0) {
            size_t i = 0;
            while (i < na && memcmp(&pa[i], &pb[i], sizeof *pa) == 0)
                i++;
            fprintf(stderr,
                    "mpi_train: %s and %s differ (first at parameter %zu of %zu: %.9g vs %.9g; "
                    "loss %.17g vs %.17g)\n",
                    a, b, i, na, i < na ? pa[i] : 0.0, i < na ? pb[i] : 0.0, la, lb);
            goto done;
        }
    } else {
        double num = 0, den = 0;
        for (size_t i = 0; i < na; i++) {
            num += ((double)pa[i] - pb[i]) * ((double)pa[i] - pb[i]);
            den += (double)pa[i] * pa[i];
        }
        const double rel = den > 0 ? sqrt(num / den) : sqrt(num);
        const double lrel = fabs(la - lb) / (fabs(la) > 0 ? fabs(la) : 1.0);
        if (!(rel <= tol) || !(lrel <= tol)) {
            fprintf(stderr, "mpi_train: %s and %s: relative distance %g, loss %g (tolerance %g)\n",
                    a, b, rel, lrel, tol);
            goto done;
        }
        printf("relative distance %g, loss %g\n", rel, lrel);
    }
    rc = 0;
done:
    free(pa);
    free(pb);
    return rc;
}

// The state file: trainer state, parameter count, parameters, schedule state length and state.
static enum dpt_status save_state(const char *path, struct dpt_trainer *tr, struct dpt_net *net,
                                  struct dpt_schedule *sched)
{
    struct dpt_trainer_state ts;
    dpt_trainer_get_state(tr, &ts);
    const uint64_t n = dpt_net_n_params(net), ns = dpt_schedule_state_len(sched);
    float *s = malloc((ns ? ns : 1) * sizeof *s);
    FILE *f = fopen(path, "wb");
    int ok = f && s;
    if (ok) {
        dpt_schedule_state_save(sched, s);
        ok = fwrite(&ts, sizeof ts, 1, f) == 1 && fwrite(&n, sizeof n, 1, f) == 1 &&
             fwrite(dpt_net_params(net), sizeof(float), n, f) == n &&
             fwrite(&ns, sizeof ns, 1, f) == 1 && fwrite(s, sizeof *s, ns, f) == ns;
    }
    if (f)
        ok &= fclose(f) == 0;
    free(s);
    return ok ? DPT_OK : DPT_ERR_IO;
}

static enum dpt_status load_state(const char *path, struct dpt_trainer *tr, struct dpt_net *net,
                                  struct dpt_schedule *sched)
{
    struct dpt_trainer_state ts;
    uint64_t n = 0, ns = 0;
    float *s = NULL;
    FILE *f = fopen(path, "rb");
    int ok = f && fread(&ts, sizeof ts, 1, f) == 1 && fread(&n, sizeof n, 1, f) == 1 &&
             n == dpt_net_n_params(net) && fread(dpt_net_params(net), sizeof(float), n, f) == n &&
             fread(&ns, sizeof ns, 1, f) == 1 && ns == dpt_schedule_state_len(sched);
    if (ok) {
        s = malloc((ns ? ns : 1) * sizeof *s);
        ok = s && fread(s, sizeof *s, ns, f) == ns;
    }
    if (f)
        fclose(f);
    if (ok)
        dpt_schedule_state_load(sched, s);
    free(s);
    if (!ok)
        return DPT_ERR_IO;
    return dpt_trainer_set_state(tr, &ts);
}

static int parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.threads = 1,
                       .epochs = 3,
                       .batch = 20,
                       .seed = 1,
                       .data = "synth:blobs,n=310,classes=3,seed=3",
                       .hidden = "64,64",
                       .engine = "pthreads",
                       .act = "tanh",
                       .schedule = "clip(adam:lr=0.01),max_norm=5",
                       .stop_at = -1,
                       .die_rank = -1,
                       .hang_rank = -1,
                       .fault_step = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int used = 1;
        if (!strcmp(a, "--no-mpi"))
            o->no_mpi = 1, used = 0;
        else if (!strcmp(a, "--repro"))
            o->repro = 1, used = 0;
        else if (!strcmp(a, "--quiet"))
            o->quiet = 1, used = 0;
        else if (!v)
            return -1;
        else if (!strcmp(a, "--out"))
            o->out = v;
        else if (!strcmp(a, "--state"))
            o->state = v;
        else if (!strcmp(a, "--resume"))
            o->resume = v;
        else if (!strcmp(a, "--data"))
            o->data = v;
        else if (!strcmp(a, "--hidden"))
            o->hidden = v;
        else if (!strcmp(a, "--engine"))
            o->engine = v;
        else if (!strcmp(a, "--act"))
            o->act = v;
        else if (!strcmp(a, "--schedule"))
            o->schedule = v;
        else if (!strcmp(a, "--threads"))
            o->threads = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--epochs"))
            o->epochs = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--batch"))
            o->batch = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--piece"))
            o->piece = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--seed"))
            o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--stop-at-step"))
            o->stop_at = strtol(v, NULL, 10);
        else if (!strcmp(a, "--die-rank"))
            o->die_rank = strtol(v, NULL, 10);
        else if (!strcmp(a, "--hang-rank"))
            o->hang_rank = strtol(v, NULL, 10);
        else if (!strcmp(a, "--fault-step"))
            o->fault_step = strtol(v, NULL, 10);
        else if (!strcmp(a, "--max-seconds"))
            o->max_seconds = strtod(v, NULL);
        else
            return -1;
        i += used;
    }
    return o->out ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "--compare"))
        return compare(argv[2], argv[3], strtod(argv[4], NULL));
    struct opts o;
    if (parse(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: see the top of tests/mpi/mpi_train.c\n");
        return 2;
    }
    struct dpt_comm *comm = NULL;
    struct dpt_dataset *ds = NULL;
    struct dpt_net *net = NULL;
    struct dpt_schedule *sched = NULL;
    struct dpt_trainer *tr = NULL;
    int rank = 0, rc = 1, mpi = 0;
    enum dpt_status st = DPT_OK;
    const char *stage = "MPI start-up";

    if (!o.no_mpi) {
        if ((st = dpt_mpi_init(&argc, &argv)) != DPT_OK)
            goto done;
        mpi = 1;
        if ((st = dpt_mpi_comm_create(&comm)) != DPT_OK)
            goto done;
        rank = comm->rank;
        if (o.piece)
            dpt_mpi_comm_tune(comm, o.piece, 0);
    }

    // Every rank builds the same data set, network and schedule; a failure on any rank stops all.
    stage = "set-up";
    struct dpt_net_spec spec = dpt_net_spec_default();
    enum dpt_act act = DPT_ACT_TANH;
    st = dpt_act_parse(o.act, &act);
    if (st == DPT_OK)
        st = dpt_data_load(o.data, 0, &ds);
    if (st == DPT_OK) {
        spec.sizes[0] = dpt_dataset_n_in(ds);
        const char *h = o.hidden;
        while (*h && spec.n_layers < 8) {
            spec.sizes[++spec.n_layers] = strtoul(h, (char **)&h, 10);
            spec.act[spec.n_layers - 1] = act;
            h += *h == ',';
        }
        spec.sizes[++spec.n_layers] = dpt_dataset_n_out(ds);
        spec.act[spec.n_layers - 1] = DPT_ACT_SOFTMAX;
        st = dpt_net_create(&spec, &net);
    }
    if (st == DPT_OK)
        st = dpt_net_init(net, DPT_INIT_AUTO, 0, 8);
    if (st == DPT_OK)
        st = dpt_schedule_parse(o.schedule, &sched);
    struct dpt_train_params p = dpt_train_params_default();
    struct cb cbd = {.o = &o, .rank = rank};
    p.threads = o.threads;
    p.pin = DPT_PIN_NONE;
    p.batch = o.batch;
    p.max_epochs = o.epochs;
    p.seed = o.seed;
    p.reproducible = o.repro != 0;
    p.max_seconds = o.max_seconds;
    p.on_progress = on_progress;
    p.progress_every = 1;
    p.user = &cbd;
    p.comm = comm && comm->size > 1 ? comm : NULL;
    if (st == DPT_OK)
        st = dpt_engine_parse(o.engine, &p.engine);
    if (st == DPT_OK)
        st = dpt_trainer_create(net, sched, &p, &tr);
    if (st == DPT_OK && o.resume)
        st = load_state(o.resume, tr, net, sched);
    if (comm) {
        const enum dpt_status all = dpt_mpi_all_ok(comm, st);
        if (st == DPT_OK && all != DPT_OK) {
            st = all;
            goto done;
        }
        if (st == DPT_OK)
            st = dpt_mpi_check_same(comm, dpt_net_params(net),
                                    dpt_net_n_params(net) * sizeof(float), "initial parameters");
    }
    if (st != DPT_OK)
        goto done;

    stage = "training";
    struct dpt_epoch_stats last = {0};
    st = dpt_trainer_fit(tr, ds, NULL, NULL, &last);
    if (st == DPT_ERR_INTERRUPTED && o.stop_at > 0 && o.state) {
        if (rank == 0)
            st = save_state(o.state, tr, net, sched);
        else
            st = DPT_OK;
        if (comm)
            st = dpt_mpi_all_ok(comm, st);
        if (st == DPT_OK && rank == 0 && !o.quiet)
            printf("stopped after step %lld; state in %s\n", (long long)dpt_trainer_steps(tr),
                   o.state);
        rc = st == DPT_OK ? 0 : 1;
        goto done;
    }
    if (st != DPT_OK)
        goto done;
    if (comm &&
        (st = dpt_mpi_check_same(comm, dpt_net_params(net), dpt_net_n_params(net) * sizeof(float),
                                 "final parameters")) != DPT_OK)
        goto done;

    stage = "writing";
    char path[4096];
    if (rank == 0)
        snprintf(path, sizeof path, "%s", o.out);
    else
        snprintf(path, sizeof path, "%s.rank%d", o.out, rank);
    if (write_file(path, dpt_net_params(net), dpt_net_n_params(net), last.train_loss) != 0) {
        fprintf(stderr, "mpi_train: rank %d: cannot write %s\n", rank, path);
        goto done;
    }
    if (rank == 0 && !o.quiet) {
        char desc[256] = "1 process (no MPI)";
        if (comm)
            dpt_mpi_describe(comm, desc, sizeof desc);
        // Per step of the last epoch, averaged over workers: the exchange counts as reduction.
        const double k = last.n_samples ? 1e6 / ((double)last.n_samples / (double)o.batch) : 0;
        printf("%s; %zu threads; %zu params; %llu steps; loss %.6f; %.0f samples/s (%.1f s); "
               "per step: compute %.0f us, wait %.0f us, reduce+exchange %.0f us, update %.0f "
               "us\n",
               desc, dpt_trainer_threads(tr), dpt_net_n_params(net),
               (unsigned long long)dpt_trainer_steps(tr), last.train_loss, last.samples_per_s,
               last.seconds, last.time.compute_s * k, last.time.wait_s * k, last.time.reduce_s * k,
               last.time.update_s * k);
    }
    rc = 0;
done:
    if (st != DPT_OK) {
        fprintf(stderr, "mpi_train: rank %d: %s: %s: %s\n", rank, stage, dpt_status_str(st),
                dpt_last_error());
        rc = 1;
    }
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_net_destroy(net);
    dpt_dataset_destroy(ds);
    dpt_mpi_comm_destroy(comm);
    if (mpi)
        dpt_mpi_finalize();
    return rc;
}
