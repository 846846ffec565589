// Private: the data set object and the helpers the loaders share (whole-file reading, number
// parsing, turning raw label values into classes, the CSV and LIBSVM entry points of the spec
// parser).
#ifndef DPT_DATA_IMPL_H
#define DPT_DATA_IMPL_H

#include <stdio.h>

#include "dptrain/data.h"

struct dpt_dataset {
    enum dpt_task task;
    size_t n;              // samples in use (<= cap); loaders may shrink it after parsing
    size_t cap;            // samples allocated
    size_t n_in;           // features per sample
    size_t n_out;          // classes (classification) or target width (regression)
    float *x;              // cap x n_in, 64-byte aligned
    int32_t *labels;       // cap labels (classification), 64-byte aligned, or NULL
    float *targets;        // cap x n_out (regression), 64-byte aligned, or NULL
    int32_t *class_values; // n_out original label values (sorted), or NULL for the identity
    char **class_names;    // n_out text labels (sorted byte-wise), or NULL; one allocation
    char *warnings;        // newline-separated warnings of the loader, or NULL for none
    size_t bytes;          // what the object holds, for dpt_dataset_bytes
};

// Sets the number of samples in use to n <= ds->cap (the allocation is kept).
void dpt_data_shrink(struct dpt_dataset *ds, size_t n);

// Classification only: ds->labels[0..n) hold raw label values (any int32). Maps the sorted
// distinct values to classes 0..K-1 in place, sets n_out = K and records the mapping (none when
// the values already are exactly 0..K-1).
enum dpt_status dpt_data_map_labels(struct dpt_dataset *ds);

// Gives ds the class names names[0..n) (n == ds->n_out), copied into one allocation.
enum dpt_status dpt_data_set_names(struct dpt_dataset *ds, const char *const *names, size_t n);

// Appends one line to ds->warnings (printf-style); a warning that cannot be stored for lack of
// memory is dropped (it is advice, not data).
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void dpt_data_warn(struct dpt_dataset *ds, const char *fmt, ...);

// NULL when s is a usable text label (valid UTF-8 without control characters), else the reason.
const char *dpt_data_name_problem(const char *s);

// Reads a whole file ("-" is standard input) into a new NUL-terminated buffer (*buf, owned by
// the caller, freed with dpt_free); *len excludes the terminator. `name` is used in messages.
enum dpt_status dpt_data_read_all(const char *path, const char *name, char **buf, size_t *len);

// The result of parsing a number.
enum dpt_num_result {
    DPT_NUM_OK = 0,     // a finite value within float range
    DPT_NUM_BAD,        // not a number
    DPT_NUM_NONFINITE,  // NaN or infinity, spelled out or by overflow
    DPT_NUM_FLOATRANGE, // finite as a double but beyond float range: too large, or so small
                        // that it would become 0
};
// Classifies a parsed double: OK, non-finite, or beyond float range (too large, or nonzero but
// so small that it rounds to 0 as a float).
enum dpt_num_result dpt_data_classify(double v);
// Parses a whole NUL-terminated string s (no surrounding space) as a number.
enum dpt_num_result dpt_data_parse_number(const char *s, double *out);

// The common case of number parsing without strtod: returns 1 with *out (exactly strtod's value)
// and *end after the number, or 0 when the text needs strtod (long mantissa, large exponent, hex,
// inf, nan, no digits).
int dpt_data_fast_number(const char *s, const char **end, double *out);

// Nonzero when v is an integer representable as int32.
int dpt_data_is_label(double v);

// Which column of a CSV row holds the label (or the regression target).
#define DPT_CSV_LABEL_LAST ((size_t)-1)

struct dpt_text_options {
    enum dpt_task task;     // classification (integer or text labels) or regression (one target)
    size_t label_col;       // CSV: 0-based label column or DPT_CSV_LABEL_LAST
    size_t features;        // LIBSVM: width, 0 = the largest index seen
    char delim;             // CSV: the cell separator; 0 means ','
    const char *label_name; // CSV: the label column by its header name (overrides label_col)
};

// CSV and LIBSVM loaders behind dpt_data_load; path "-" reads standard input.
enum dpt_status dpt_data_load_csv(const char *path, const struct dpt_text_options *opt,
                                  struct dpt_dataset **out);
enum dpt_status dpt_data_load_libsvm(const char *path, const struct dpt_text_options *opt,
                                     struct dpt_dataset **out);

// The NumPy loader behind "npy:X,Y": X a 2-D float array (samples x features), Y the labels
// (1-D integers, or floats holding integers with task_given) or targets (1-D or 2-D floats).
// task_given: the task was chosen (target=...), else it follows Y's dtype.
enum dpt_status dpt_data_load_npy(const char *x_path, const char *y_path, enum dpt_task task,
                                  int task_given, struct dpt_dataset **out);

#endif
