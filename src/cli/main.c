// The dptrain command: subcommand dispatch, top-level help and version.
#include <errno.h>
#include <string.h>

#include "cli_impl.h"

// `dptrain version` (also --version and -V).
static int cli_version(int argc, char **argv)
{
    struct cli_flag flags[] = {{NULL, NULL, NULL, NULL}};
    const char *pos[1];
    size_t n_pos = 0;
    int rc = cli_parse("version",
                       "\n\nPrints the version, the BLAS, hwloc and compiler dptrain was built "
                       "with,\nthe level of its built-in kernels and the BLAS kernels in use.\n"
                       "Also: dptrain --version, dptrain -V.",
                       flags, argc, argv, 2, pos, 0, &n_pos);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    printf("dptrain %s\n%s\n", dpt_version(), dpt_build_info());
    cli_blas_describe(stdout);
    return CLI_OK;
}

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
    {"version", cli_version, "print the version and what it was built with", 0},
};

enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

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
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nRun 'dptrain COMMAND --help' or 'dptrain help COMMAND' for the options of\n"
               "a command, 'dptrain --version' (-V) for the version.\n"
               "Exit codes: 0 success, 1 training failed (diverged), 2 usage or input error,\n"
               "130 interrupted.\n");
}

static int find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0)
            return (int)i;
    return -1;
}

// "unknown command", with the command probably meant.
static int unknown_command(const char *cmd)
{
    const char *names[N_COMMANDS + 1];
    for (size_t i = 0; i < N_COMMANDS; i++)
        names[i] = commands[i].name;
    names[N_COMMANDS] = "help";
    const char *near = cli_suggest_command(cmd, names, N_COMMANDS + 1);
    if (near)
        return cli_error("unknown command '%s'; did you mean 'dptrain %s'?", cmd, near);
    if (cmd[0] == '-')
        return cli_error("unknown option '%s' before the command: options follow it, as in "
                         "'dptrain train --data SPEC' (see dptrain --help)",
                         cmd);
    return cli_error("unknown command '%s' (see dptrain --help)", cmd);
}

// `dptrain help [COMMAND]`: the command's help, as `dptrain COMMAND --help` prints it.
static int help(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[2], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (argc > 3)
        return cli_error("help: one command at a time (dptrain help COMMAND)");
    const int k = find_command(argv[2]);
    if (k < 0)
        return unknown_command(argv[2]);
    char *args[] = {argv[0], argv[2], "--help", NULL};
    return commands[k].run(3, args);
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
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return stdout_ok(CLI_OK);
    }
    if (strcmp(cmd, "help") == 0)
        return stdout_ok(help(argc, argv));
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0)
        cmd = "version";
    const int k = find_command(cmd);
    if (k < 0)
        return unknown_command(cmd);
    const int rc = stdout_ok(commands[k].run(argc, argv));
    if (rc == CLI_OK && commands[k].heavy && may_warn_blas(argc, argv))
        cli_blas_warn();
    return rc;
}
