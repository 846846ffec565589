// The dptrain command: subcommand dispatch, top-level help and version.
#include <errno.h>
#include <string.h>

#include "cli_impl.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
    int heavy; // trains or measures: warns at the end when the BLAS runs slow kernels
} commands[] = {
    {"train", cli_train, "train a network (dptrain train --data fashion-mnist --save m.st)", 1},
    {"eval", cli_eval, "loss, accuracy, per-class precision/recall, confusion matrix", 0},
    {"predict", cli_predict, "write a CSV of predictions, one row per sample", 0},
    {"scale", cli_scale, "sweep threads, engines and placements; CSV and plot", 1},
    {"bench", cli_bench, "measure the kernels and the trainer on this machine", 1},
    {"plot", cli_plot, "loss and accuracy curves from JSON logs (gnuplot)", 0},
    {"topo", cli_topo, "the topology hwloc sees and where workers are placed", 0},
    {"info", cli_info, "describe a model file", 0},
    {"export", cli_export, "write a model's tensors as NumPy .npy files", 0},
    {"import", cli_import, "make a model from NumPy .npy files", 0},
};

// Whether the slow-BLAS warning may end this command line: not for --help, not with --quiet (as
// the trainer's warnings), nor in bench's child processes (their parent warns).
static int may_warn_blas(int argc, char **argv)
{
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
            strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "--internal-child") == 0)
            return 0;
    return 1;
}

// A command that succeeded but whose standard output could not be written (a full disk,
// /dev/full, a closed descriptor) fails with one line naming the reason; a command that failed
// already said why.
static int stdout_ok(int rc)
{
    errno = 0;
    if ((fflush(stdout) != 0 || ferror(stdout)) && rc == CLI_OK)
        return cli_error("error writing to standard output: %s", strerror(errno ? errno : EIO));
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: dptrain COMMAND [options]\n\n"
               "Train multi-layer perceptrons with backpropagation and mini-batch SGD,\n"
               "data-parallel across the cores of this machine.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "  %-9s %s\n\n", "version", "print the version and what it was built with");
    fprintf(f, "Run 'dptrain COMMAND --help' for the options of a command.\n"
               "Exit codes: 0 success, 1 training failed (diverged), 2 usage or input error,\n"
               "130 interrupted.\n");
}

// The BLAS: before anything is read or printed, dptrain restarts itself once with the
// OPENBLAS_CORETYPE that suits this CPU where OpenBLAS did not recognise it (cli_blas_fix). Kernels
// that stay slow (the user's own OPENBLAS_CORETYPE) are named once, by a warning after a
// successful run that trains or measures: an error stays the only line on stderr.
int main(int argc, char **argv)
{
    cli_blas_fix(argv);
    const char *isa = dpt_isa_check(); // a DPT_ISA this CPU cannot run, or no level at all
    if (isa)
        return cli_error("%s", isa);
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return stdout_ok(CLI_OK);
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("dptrain %s\n%s\n", dpt_version(), dpt_build_info());
        cli_blas_describe(stdout);
        return stdout_ok(CLI_OK);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0) {
            const int rc = stdout_ok(commands[i].run(argc, argv));
            if (rc == CLI_OK && commands[i].heavy && may_warn_blas(argc, argv))
                cli_blas_warn();
            return rc;
        }
    return cli_error("unknown command '%s' (see dptrain --help)", cmd);
}
