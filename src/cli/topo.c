// `dptrain topo`: what hwloc sees (packages, NUMA nodes, L3s, cores, PUs, the allowed set) and
// the PU each worker binds to under each placement policy.
#include <stdlib.h>

#include "cli_impl.h"

static const char synopsis[] =
    "[--threads N] [--cpus LIST] [--synthetic DESC]\n\n"
    "Shows the machine as dptrain sees it and where the pthreads engine puts each worker.\n"
    "The openmp engine places threads by OMP_PROC_BIND / OMP_PLACES instead. The BLAS kernels in\n"
    "use close the output.";

int cli_topo(int argc, char **argv)
{
    struct cli_flag flags[] = {
        {"threads", "N", "show the placement of N workers (default: one per usable core)", 0},
        {"cpus", "LIST", "restrict to these PUs first, e.g. 0-3,8 (like taskset)", 0},
        {"synthetic", "DESC", "an hwloc synthetic topology instead, e.g. 'pack:2 core:4 pu:2'", 0},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    size_t n_pos = 0;
    int rc = cli_parse("topo", synopsis, flags, argc, argv, 2, pos, 0, &n_pos);
    if (rc < 0)
        return CLI_OK;
    if (rc)
        return rc;
    size_t nth = 0;
    const char *v;
    if ((v = cli_get(flags, "threads")) && cli_size("threads", v, 1, 1024, &nth))
        return CLI_USAGE;

    struct dpt_topo *topo = NULL;
    int *pu = NULL;
    enum dpt_status st;
    const char *synth = cli_get(flags, "synthetic");
    st = synth ? dpt_topo_create_synthetic(synth, &topo) : dpt_topo_create(&topo);
    if (st != DPT_OK) {
        rc = cli_fail(st, synth ? "--synthetic" : "topology");
        goto cleanup;
    }
    if ((v = cli_get(flags, "cpus")) && (st = dpt_topo_restrict(topo, v)) != DPT_OK) {
        rc = cli_fail(st, "--cpus");
        goto cleanup;
    }
    char desc[512];
    dpt_topo_describe(topo, desc, sizeof desc);
    const size_t cores = dpt_topo_n_cores(topo);
    printf("topology: %s\n", desc);
    printf("usable cores: %zu (the default thread count)\n", cores);
    if (nth == 0)
        nth = cores ? cores : 1;
    if (nth > cores)
        printf("note: %zu workers on %zu cores: oversubscribed, workers wrap around the cores\n",
               nth, cores);

    static const enum dpt_pin pins[] = {DPT_PIN_COMPACT, DPT_PIN_SCATTER, DPT_PIN_NONE};
    enum { N_PINS = sizeof pins / sizeof pins[0] };
    pu = malloc(N_PINS * nth * sizeof *pu);
    if (!pu) {
        rc = cli_error("out of memory");
        goto cleanup;
    }
    for (size_t p = 0; p < N_PINS; p++) {
        if ((st = dpt_topo_place(topo, pins[p], nth, pu + p * nth)) != DPT_OK) {
            rc = cli_fail(st, "placement");
            goto cleanup;
        }
    }
    printf("\nplacement of %zu worker%s (OS index of the PU each binds to; - = not bound):\n", nth,
           nth == 1 ? "" : "s");
    printf("%8s", "worker");
    for (size_t p = 0; p < N_PINS; p++)
        printf(" %8s", dpt_pin_name(pins[p]));
    printf("\n");
    for (size_t t = 0; t < nth; t++) {
        printf("%8zu", t);
        for (size_t p = 0; p < N_PINS; p++) {
            const int k = pu[p * nth + t];
            if (k < 0)
                printf(" %8s", "-");
            else
                printf(" %8d", k);
        }
        printf("\n");
    }
    // The barrier the pthreads engine would use for each placement (dpt_trainer_barrier_groups).
    printf("barrier of the pthreads engine:");
    for (size_t p = 0; p < N_PINS; p++) {
        const size_t g = dpt_topo_barrier_groups(topo, pins[p], nth);
        if (g == 0) {
            rc = cli_fail(DPT_ERR_NOMEM, "barrier groups");
            goto cleanup;
        }
        printf("%s %s ", p ? "," : "", dpt_pin_name(pins[p]));
        if (g == 1)
            printf("flat");
        else
            printf("%zu groups", g);
    }
    printf("\n");
    const char *bind = getenv("OMP_PROC_BIND"), *places = getenv("OMP_PLACES");
    printf("\nopenmp engine: OMP_PROC_BIND=%s OMP_PLACES=%s\n", bind ? bind : "(unset)",
           places ? places : "(unset)");
    cli_blas_describe(stdout);
    rc = fflush(stdout) == 0 ? CLI_OK : cli_error("error writing to standard output");
cleanup:
    free(pu);
    dpt_topo_destroy(topo);
    return rc;
}
