// The dptrain command: subcommand dispatch, top-level help and version.
#include <string.h>

#include "cli_impl.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"train", cli_train, "train a network (dptrain train --data fashion-mnist --save m.st)"},
    {"eval", cli_eval, "loss, accuracy, per-class precision/recall, confusion matrix"},
    {"predict", cli_predict, "write a CSV of predictions, one row per sample"},
    {"scale", cli_scale, "sweep threads, engines and placements; CSV and plot"},
    {"bench", cli_bench, "measure the kernels and the trainer on this machine"},
    {"plot", cli_plot, "loss and accuracy curves from JSON logs (gnuplot)"},
    {"topo", cli_topo, "the topology hwloc sees and where workers are placed"},
    {"info", cli_info, "describe a model file"},
    {"export", cli_export, "write a model's tensors as NumPy .npy files"},
    {"import", cli_import, "make a model from NumPy .npy files"},
};

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

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("dptrain %s\n%s\n", dpt_version(), dpt_build_info());
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc, argv);
    return cli_error("unknown command '%s' (see dptrain --help)", cmd);
}
