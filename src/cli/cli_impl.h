// Private to the dptrain command: shared helpers for subcommands. The CLI is the only code that
// prints or exits.
#ifndef DPT_CLI_IMPL_H
#define DPT_CLI_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dptrain/dptrain.h"

// Exit codes.
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2, CLI_INTERRUPTED = 130 };

// Prints "dptrain: error: <message>" as one line on stderr; returns CLI_USAGE.
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
int cli_error(const char *fmt, ...);

// Prints a library failure: "dptrain: error: <context>: <dpt_last_error()>" and returns the exit
// code for it (1 for a diverged run, 2 otherwise).
int cli_fail(enum dpt_status st, const char *context);

// Prints "dptrain: warning: ..." on stderr.
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
void cli_warn(const char *fmt, ...);

// ---- flag parsing ----

// One command-line flag. `value` receives the argument (NULL for a boolean flag that was given
// as "1"). Flags are `--name VALUE` or `--name=VALUE`.
struct cli_flag {
    const char *name;  // without the leading dashes
    const char *arg;   // metavariable for help ("N"); NULL for boolean flags
    const char *help;  // one line; mention the default
    const char *value; // parsed value (borrowed from argv), or NULL when absent
};

// Parses argv[first..argc) into flags (a NULL-name-terminated table). Positional arguments
// are collected into pos[0..*n_pos) (at most max_pos). Returns 0, or CLI_USAGE after printing
// an error naming the flag. `--help` prints help for `cmd` and returns -1.
int cli_parse(const char *cmd, const char *synopsis, struct cli_flag *flags, int argc, char **argv,
              int first, const char **pos, size_t max_pos, size_t *n_pos);
void cli_print_help(FILE *f, const char *cmd, const char *synopsis, const struct cli_flag *flags);
const char *cli_get(const struct cli_flag *flags, const char *name);

// Typed values; each prints "dptrain: error: --FLAG: ..." and returns CLI_USAGE on bad input.
int cli_size(const char *flag, const char *text, size_t min, size_t max, size_t *out);
int cli_u64(const char *flag, const char *text, uint64_t *out);
int cli_double(const char *flag, const char *text, double lo, double hi, double *out);
// Comma-separated list of sizes / names.
int cli_size_list(const char *flag, const char *text, size_t *out, size_t max, size_t *n);
// Splits text on commas into dst (a copy, owned by caller via *buf); returns count or -1.
int cli_split(const char *text, char **buf, const char **parts, size_t max);

// True when stderr is a terminal (progress bars).
bool cli_isatty_stderr(void);

// Subcommands.
int cli_train(int argc, char **argv);

#endif
