// Private to the dptrain command: helpers shared by the subcommands (errors, flag parsing, output
// files, data and model preparation, the training options shared by train and scale). The CLI is
// the only code that prints or exits.
#ifndef DPT_CLI_IMPL_H
#define DPT_CLI_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dptrain/dptrain.h"
#include "parallel/proxy_impl.h"

// Exit codes.
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2, CLI_INTERRUPTED = 130 };

// ---- errors (args.c) ----

// Writes s with its control bytes (below 0x20, and 0x7f) as \xHH: text from data and model files
// printed to a terminal.
void cli_put_escaped(FILE *f, const char *s);

// Prints "dptrain: error: <message>" as one line on stderr (control bytes escaped); returns
// CLI_USAGE.
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
int cli_error(const char *fmt, ...);

// Prints a library failure: "dptrain: error: <context>: <dpt_last_error()>" and returns the exit
// code for it (1 for a diverged run, 130 for an interrupted one, 2 otherwise).
int cli_fail(enum dpt_status st, const char *context);

// Prints "dptrain: warning: ..." on stderr.
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
void cli_warn(const char *fmt, ...);

// ---- the BLAS kernels (blas.c) ----

// Called first thing in main: re-executes the command once (unless dptrain has done so already)
// with OPENBLAS_CORETYPE set to the fix where OpenBLAS did not recognise this CPU and runs slower
// kernels than it can (dpt_blas_coretype_fix) and OPENBLAS_CORETYPE is unset, and with
// OPENBLAS_NUM_THREADS=1 where that is unset (no OpenBLAS thread pool). Returns only when there
// is nothing to do or the exec failed (then the run goes on as it would have).
void cli_blas_fix(char **argv);

// "BLAS kernels: OpenBLAS 'SkylakeX' (...)": which kernels run and who chose them; a second line
// "BLAS note: ..." when they are slower than the CPU allows. For version and topo.
void cli_blas_describe(FILE *f);

// One "dptrain: warning: ..." line when the kernels are slower than the CPU allows (the user's
// own OPENBLAS_CORETYPE, or a failed re-execution); nothing otherwise. Only at the end of a
// successful run that trains or measures, so that it never joins an error.
void cli_blas_warn(void);

// ---- flag parsing (args.c) ----

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
// Comma-separated list of sizes (each in [min, max]; at most `max_n` entries).
int cli_size_list(const char *flag, const char *text, size_t min, size_t max, size_t *out,
                  size_t max_n, size_t *n);
// Splits text on commas into parts (pointing into *buf, a copy owned by the caller; free()).
// Returns the count, or -1 when there are more than max parts or memory ran out.
int cli_split(const char *text, char **buf, const char **parts, size_t max);
// One of names[0..n) (exact match) into *out; the error lists the valid names.
int cli_choice(const char *flag, const char *text, const char *const *names, size_t n, int *out);

// ---- "did you mean" (suggest.c) ----

// Damerau-Levenshtein distance (optimal string alignment) between a[0..la) and b, ignoring case
// and counting '_' as '-'; (size_t)-1 for words of 64 characters or more.
size_t cli_edit_distance(const char *a, size_t la, const char *b);
// The name nearest to word[0..len) within a typo or two (1 edit below 6 characters, 2 below 9, else
// 3), else the shortest name that word abbreviates (3 characters or more), else NULL.
const char *cli_nearest(const char *word, size_t len, const char *const *names, size_t n);
// The command (or "--help", "--version") meant by an unknown word: another tool's name for it
// ("fit" for train) or the nearest of names[0..n); NULL when nothing is close.
const char *cli_suggest_command(const char *word, const char *const *names, size_t n);
// For an unknown flag --name (name[0..nlen), value: its value when one follows, or NULL): the hint
// that ends the error line, e.g. "did you mean '--epochs 3'?", or for PyTorch's --lr X
// "the rate is a key of the update schedule; did you mean '--schedule adam:lr=X'?"; "" when
// nothing fits. schedule: the --schedule given on the command line (NULL: the default), which the
// hint edits. single_dash: "-name" (only other tools' names are tried, no near spellings).
void cli_suggest_flag(char *buf, size_t len, const char *name, size_t nlen, const char *value,
                      const struct cli_flag *flags, const char *schedule, bool single_dash);

// True when stderr is a terminal (progress bars).
bool cli_isatty_stderr(void);

// ---- small utilities (util.c) ----

// Monotonic seconds.
double cli_now(void);

// The CPU's model name from /proc/cpuinfo ("unknown" when it cannot be read), for reports.
void cli_cpu_model(char *buf, size_t len);

// JSON: `,"key":%.9g` (null when not finite) and `,"key":"escaped"`.
void cli_json_num(FILE *f, const char *key, double v);
void cli_json_str(FILE *f, const char *key, const char *v);
// A JSON string literal (quotes included).
void cli_json_quote(FILE *f, const char *v);

// The command line as one printable-ASCII line (other bytes become '?'; arguments with spaces
// or quotes are single-quoted). Allocated with dpt_malloc (a model's provenance frees it).
char *cli_command_line(int argc, char **argv);

// Ctrl-C handling around long runs: the first SIGINT/SIGTERM asks the current trainer (if any)
// to stop after its step; a second one terminates the process.
void cli_interrupt_begin(void);
void cli_interrupt_trainer(struct dpt_trainer *tr);
bool cli_interrupted(void);
void cli_interrupt_end(void);

// ---- output files (output.c) ----

// Refuses an output path that cannot be written (a directory, a missing or read-only parent)
// before the command spends time loading and training. Returns 0 or CLI_USAGE after printing.
int cli_check_output(const char *flag, const char *path);
// Whether two paths name the same regular file: the same inode where both exist (hard and
// symbolic links included), else the same resolved directory and name.
int cli_same_file(const char *a, const char *b);

// A file written atomically: a temporary in the target's directory, renamed over the target on
// commit and removed on abort, so a failed command never leaves a partial file. A NULL path or
// "-" means standard output (nothing to rename).
struct cli_out {
    FILE *f;
    char *path; // target path (NULL for stdout)
    char *tmp;  // temporary path (NULL: a device or FIFO, written in place)
    const char *flag;
};
int cli_out_open(struct cli_out *o, const char *path, const char *flag);
// Flushes, syncs and renames; on any error prints it, removes the temporary and returns CLI_USAGE.
int cli_out_commit(struct cli_out *o);
// Closes and removes the temporary (no-op when nothing is open).
void cli_out_abort(struct cli_out *o);

// Plots through gnuplot. begin() checks the extension (.svg or .png), creates a private
// temporary directory for data files and the script, and starts the script with the terminal
// and output lines; the caller writes data files (cli_plot_file) and plot commands
// (pl->script); finish() runs gnuplot and moves the image into place atomically.
struct cli_plot {
    char dir[64]; // temporary directory
    FILE *script; // the gnuplot script being written
    char *script_path;
    struct cli_out image; // reserves the temporary image path beside the target
    const char *flag;
    size_t n_files;
};
// The gnuplot executable found on PATH, or NULL.
const char *cli_gnuplot_path(void);
int cli_plot_begin(struct cli_plot *pl, const char *out_path, const char *flag, int width,
                   int height);
// Opens a new data file in the plot's directory; its path goes to path (len bytes).
FILE *cli_plot_file(struct cli_plot *pl, char *path, size_t len);
int cli_plot_finish(struct cli_plot *pl);
void cli_plot_abort(struct cli_plot *pl);
// Writes s as a gnuplot single-quoted string.
void cli_gp_quote(FILE *f, const char *s);

// ---- data and models (prepare.c) ----

// Loads a data SPEC (test: the test part, see dpt_data_load); errors name the flag and spec. The
// loader's warnings are printed, one line each, unless quiet. Returns 0 or an exit code.
int cli_load_data(const char *flag, const char *spec, int test, bool quiet,
                  struct dpt_dataset **out);

// Renumbers the classes of a classification data set to a model's n_classes classes whose
// original label values are labels[] (NULL: class c is label c), or whose names are names[] (text
// labels), by label value or name. Only the labels array changes. An error names `what` and the
// label the model lacks, or says that one side's labels are text and the other's numbers.
int cli_map_classes(struct dpt_dataset *ds, size_t n_classes, const int32_t *labels,
                    char *const *names, const char *what);

// The label of class c of a model as text: its name, its original value, or c (buf: 16 bytes or
// more, used for numbers).
const char *cli_class_label(const struct dpt_model_info *info, size_t c, char *buf, size_t len);

// Writes s as one CSV cell: as it is, or in double quotes (doubling any inside) when it holds the
// delimiter, a quote or a line break.
void cli_csv_cell(FILE *f, const char *s);
// A comma (when `comma`), then s as cli_csv_cell writes it.
void cli_csv_field(FILE *f, const char *s, bool comma);
// A comma, then v (%.9g), or nothing after the comma when v is not finite.
void cli_csv_num(FILE *f, double v);
// The median of v[0..n) (n >= 1); sorts v.
double cli_median(double *v, size_t n);

// Loads --data for a model (eval, predict): checks the width, applies the model's normalisation
// and, when need_targets, checks the task and maps the classes to the model's.
int cli_model_data(const char *flag, const char *spec, int test, const char *model_path,
                   const struct dpt_net *net, const struct dpt_model_info *info, bool need_targets,
                   struct dpt_dataset **out);

// Loads a model; errors name the flag.
int cli_load_model(const char *flag, const char *path, struct dpt_net **net,
                   struct dpt_model_info *info);

// Runs the network over ds in blocks (single workspace; the BLAS may use its own threads). For
// each block fn gets the index of its first sample, its size, its outputs (n x n_L) and, when
// stats, its loss and accuracy against the data set's targets. A nonzero return from fn stops.
typedef int (*cli_block_fn)(void *user, size_t i0, size_t n, const float *out,
                            const struct dpt_block_stats *st);
int cli_forward_blocks(const struct dpt_net *net, const struct dpt_dataset *ds, bool stats,
                       cli_block_fn fn, void *user);
// The class a row of outputs predicts, as the kernels count accuracy.
size_t cli_predict_class(const float *row, size_t n_out);

// The architecture flags shared by train, scale and import.
struct cli_net_flags {
    const char *layers, *act, *loss, *reduction;
};

// What the data (or an --init model) fixes about the network: n_in and n_out 0 when unknown.
struct cli_net_needs {
    size_t n_in;
    size_t n_out;                    // classes (classification) or targets (regression)
    int classify;                    // 1 classification, 0 regression, -1 unknown
    const struct dpt_net_spec *base; // defaults from an --init model, or NULL
};

// Builds and checks a network spec from the flags (defaults: in,256,out; relu hidden; output
// activation from the loss; xent for classification, squared for regression; mean). Errors
// name the flag. Returns 0 or CLI_USAGE.
int cli_build_spec(const struct cli_net_flags *nf, const struct cli_net_needs *needs,
                   struct dpt_net_spec *out);

// "784,256,10" / "relu,softmax" into buf.
void cli_format_layers(const struct dpt_net_spec *spec, char *buf, size_t len);
void cli_format_acts(const struct dpt_net_spec *spec, char *buf, size_t len);

// ---- training options shared by train and scale (train_opts.c) ----

struct cli_train_opts {
    const char *data_spec;
    const char *test_spec; // NULL: the default test set (fashion-mnist's t10k) or none
    double val_split;
    struct cli_net_flags net;
    const char *schedule; // default "adam:lr=1e-3"
    struct dpt_train_params p;
    enum dpt_norm norm;
    bool norm_given;
    const char *init_path;
    const char *save_path;
    const char *log_path;
    bool quiet;
};

// Copies the training flags into flags[0..) (scale: without those scale replaces or ignores)
// and NULL-terminates; returns the count (cap must hold every flag plus the terminator).
size_t cli_train_flags(struct cli_flag *flags, size_t cap, bool for_scale);
// Reads the parsed flags into *o (defaults filled in); prints and returns CLI_USAGE on errors.
int cli_train_opts_get(const struct cli_flag *flags, bool for_scale, struct cli_train_opts *o);

// Everything a training run needs besides its trainer, prepared from the options.
struct cli_train_data {
    struct dpt_dataset *train, *val, *test; // normalised, classes matched
    struct dpt_net_spec spec;
    struct dpt_net *init_net;   // the --init model's network (its parameters), or NULL
    struct dpt_model_info info; // what a saved model carries (task, norm, classes)
    bool classify;
};

// Loads the --init model and the data (test set when want_test), splits, matches classes,
// normalises, builds the spec. Returns 0 or an exit code (after printing).
int cli_train_prepare(const struct cli_train_opts *o, bool want_test, struct cli_train_data *d);
// A fresh network: the --init parameters, or initialised from seed.
int cli_train_new_net(const struct cli_train_data *d, uint64_t seed, struct dpt_net **out);
// The --schedule of o for the training set of d: counts in epochs (t_epochs=, every_epochs=)
// become steps at this data set's steps per epoch. Returns 0 or prints the error.
int cli_train_schedule(const struct cli_train_opts *o, const struct cli_train_data *d,
                       struct dpt_schedule **out);
void cli_train_data_cleanup(struct cli_train_data *d);

// The --model, --data and --part flags of eval and predict (both required but --part); returns 0
// or an exit code after printing.
int cli_model_data_flags(const struct cli_flag *flags, const char *cmd, const char **model,
                         const char **data, int *part);

// ---- checkpoints (checkpoint.c) ----

// A checkpoint being resumed: its network (parameters) and its extras (state, configuration).
struct cli_checkpoint {
    struct dpt_net *net;
    struct dpt_model_extra_out extra;
};

// Writes a checkpoint atomically: the model (net, info) plus the schedule state, the best
// parameters of early stopping, the trainer state and the values of the flags that decide the
// run's numbers. Returns 0, or CLI_USAGE with what failed in msg (nothing printed: the caller
// decides, as training goes on after a failed checkpoint).
int cli_checkpoint_write(char *msg, size_t msg_len, const char *path, struct dpt_net *net,
                         struct dpt_schedule *sched, struct dpt_trainer *tr,
                         const struct dpt_model_info *info, const struct cli_flag *flags);
// Loads a checkpoint and merges its configuration into the parsed flags: a flag given now that
// contradicts the checkpoint is refused naming the flag; one not given takes the stored value
// (borrowed from *ck). Returns 0 or an exit code.
int cli_checkpoint_load(const char *path, struct cli_flag *flags, struct cli_checkpoint *ck);
// Restores parameters, schedule state and trainer state into a freshly built run.
int cli_checkpoint_restore(const struct cli_checkpoint *ck, struct dpt_net *net,
                           struct dpt_schedule *sched, struct dpt_trainer *tr);
void cli_checkpoint_cleanup(struct cli_checkpoint *ck);

// ---- subcommands ----
int cli_train(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_scale(int argc, char **argv);
int cli_plot(int argc, char **argv);
int cli_topo(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_import(int argc, char **argv);
int cli_bench(int argc, char **argv); // bench.c

// ---- the scaling proxy (proxy.c, `dptrain bench --proxy`) ----

// A network, batch and schedule to predict for.
struct cli_proxy_work {
    const char *name; // "S", "M", "L", or "net" for --layers
    struct dpt_net_spec spec;
    size_t batch;
    const char *schedule;
};

// Measures every work at every thread count (1 added, sorted) `repeat` times, reads the proxy's
// flags (--steps, --samples, --seed, --grad, --mem-bw, --barrier-ns, --node-cores,
// --numa-factor, --no-flush, --csv, --json) and prints the predictions. Returns an exit code.
int cli_proxy_run(const struct cli_proxy_work *works, size_t n_works, const size_t *threads,
                  size_t n_threads, size_t repeat, const struct cli_flag *flags, int argc,
                  char **argv);

// The model's parameters as given or measured, and where the line transfer came from.
struct cli_proxy_model {
    struct dpt_proxy_model m;
    char line_source[160];
};

// The model bench --proxy uses by default, for this machine: 100 GB/s per NUMA node, one node,
// the line transfer measured here (a barrier round on 2 cores), this machine's core speed.
void cli_proxy_model_here(struct cli_proxy_model *mi);

// The proxy's predicted samples/s for w with gradient mode grad at threads[0..n) (ascending,
// threads[0] == 1: the model's reference), one measurement each, on one core of this machine
// (the calling thread's binding is restored after). epoch_steps: steps per epoch for schedule
// counts in epochs (0: none). Prints nothing; on failure the status, with dpt_last_error().
enum dpt_status cli_proxy_predict(const struct cli_proxy_model *mi, const struct cli_proxy_work *w,
                                  enum dpt_grad_mode grad, uint64_t epoch_steps,
                                  const size_t *threads, size_t n, double *sps);

#endif
