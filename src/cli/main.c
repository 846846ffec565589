// The dptrain command: subcommand dispatch, top-level help and version.
#include <string.h>

#include "cli_impl.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: dptrain COMMAND [options]\n\n"
               "Train multi-layer perceptrons with backpropagation and mini-batch SGD,\n"
               "data-parallel across the cores of this machine.\n\n"
               "commands:\n"
               "  train      train a network (dptrain train --data fashion-mnist)\n"
               "  version    print the version\n\n"
               "Run 'dptrain COMMAND --help' for the options of a command.\n");
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
        printf("dptrain %s\n", dpt_version());
        return CLI_OK;
    }
    if (strcmp(cmd, "train") == 0)
        return cli_train(argc, argv);
    cli_error("unknown command '%s' (see dptrain --help)", cmd);
    return CLI_USAGE;
}
