// dptrain data: in-memory data sets, loaders (IDX, CSV, LIBSVM, NumPy .npy, synthetic), splitting
// and normalisation. A data set is n samples of n_in floats (row-major) with either class labels
// (classification, n_classes classes) or dense targets of n_out floats (regression).
// Loaders never print; on error they return a status and set a message naming the file and
// position (line, byte offset or record). Data sets are immutable once loaded and may be read from
// many threads at once.
#ifndef DPTRAIN_DATA_H
#define DPTRAIN_DATA_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

enum dpt_task {
    DPT_TASK_CLASSIFY = 0, // int32 labels in [0, n_classes)
    DPT_TASK_REGRESS,      // float targets, n_out per sample
};

struct dpt_dataset;

// Creates an empty data set with room for n samples; x and labels/targets are zero. For
// DPT_TASK_CLASSIFY, n_out is the number of classes. Refuses sizes whose products overflow or that
// exceed `DPT_DATA_MAX_BYTES` (DPT_ERR_RANGE) before allocating.
DPT_API enum dpt_status dpt_dataset_create(enum dpt_task task, size_t n, size_t n_in, size_t n_out,
                                           struct dpt_dataset **out);
DPT_API void dpt_dataset_destroy(struct dpt_dataset *ds);

#define DPT_DATA_MAX_BYTES ((size_t)1 << 40)

DPT_API enum dpt_task dpt_dataset_task(const struct dpt_dataset *ds);
DPT_API size_t dpt_dataset_n(const struct dpt_dataset *ds);
DPT_API size_t dpt_dataset_n_in(const struct dpt_dataset *ds);
// Number of classes (classification) or target width (regression).
DPT_API size_t dpt_dataset_n_out(const struct dpt_dataset *ds);
// Sample i is x[i * n_in .. (i + 1) * n_in). Borrowed, valid for the data set's lifetime.
DPT_API const float *dpt_dataset_x(const struct dpt_dataset *ds);
DPT_API float *dpt_dataset_x_mut(struct dpt_dataset *ds);
// Labels (classification) or NULL.
DPT_API const int32_t *dpt_dataset_labels(const struct dpt_dataset *ds);
DPT_API int32_t *dpt_dataset_labels_mut(struct dpt_dataset *ds);
// Targets n x n_out (regression) or NULL.
DPT_API const float *dpt_dataset_targets(const struct dpt_dataset *ds);
DPT_API float *dpt_dataset_targets_mut(struct dpt_dataset *ds);
// The labels or targets as a struct dpt_targets for the core kernels.
DPT_API struct dpt_targets dpt_dataset_targets_view(const struct dpt_dataset *ds);
// Bytes held by the data set.
DPT_API size_t dpt_dataset_bytes(const struct dpt_dataset *ds);

// Classification only: the original label value of each class (loaders map the sorted distinct
// label values of a file to classes 0..K-1). *labels gets n_out values (borrowed, valid for the
// data set's lifetime) or NULL when class c simply is label value c (IDX files, or labels that
// already are 0..K-1) or when the labels are text (dpt_dataset_class_names); *n gets n_out.
// DPT_ERR_INVALID for a regression data set.
DPT_API enum dpt_status dpt_dataset_class_labels(const struct dpt_dataset *ds,
                                                 const int32_t **labels, size_t *n);

// Classification with text labels (a CSV label column such as "cat", "dog"): the name of each
// class, n_out NUL-terminated UTF-8 strings sorted byte-wise (class c is the c-th name in that
// order), borrowed for the data set's lifetime. NULL when the labels are numbers, and for
// regression.
DPT_API const char *const *dpt_dataset_class_names(const struct dpt_dataset *ds);

// What the loader noticed but did not refuse (e.g. a CSV header whose first cell is empty, as in
// the index column pandas writes): newline-separated lines, each naming the file and position,
// "" when none. Borrowed, valid for the data set's lifetime. Subsets and splits have none.
DPT_API const char *dpt_dataset_warnings(const struct dpt_dataset *ds);

// Renumbers the classes of ds (e.g. a test set loaded from its own file) to those of ref (the
// training set) by original label value or name, so that class c means the same label in both; ds
// takes ref's n_out and mapping. DPT_ERR_FORMAT naming the value when ds has a label ref lacks, or
// when one has text labels and the other numbers (ds is then unchanged). Not thread-safe on ds.
DPT_API enum dpt_status dpt_dataset_match_classes(struct dpt_dataset *ds,
                                                  const struct dpt_dataset *ref);

// ---- loaders ----

// Reads an IDX image file and label file (gzip'd or raw; any IDX element type: u8, i8, i16, i32,
// f32, f64). Images are flattened; integer types are mapped linearly from their full range onto
// [0, 1] (u8: v / 255, i8: (v + 128) / 255, ...; docs/formats.md); float types are kept and must be
// finite. Labels become classes; n_classes = max label + 1 (at least 2).
DPT_API enum dpt_status dpt_load_idx(const char *images_path, const char *labels_path,
                                     struct dpt_dataset **out);

// Fashion-MNIST from a directory holding the four standard files (train-images-idx3-ubyte.gz,
// ...). `dir` NULL means DPT_FASHION_MNIST_DIR. test != 0 loads the t10k set.
#define DPT_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
DPT_API enum dpt_status dpt_load_fashion_mnist(const char *dir, int test, struct dpt_dataset **out);

// Synthetic generators, deterministic for a seed:
//  "xor"     n points in [-1,1]^2, class = (x0 > 0) xor (x1 > 0); 2 classes
//  "spirals" `classes` interleaved spirals in 2-D (default 2) with a little noise
//  "blobs"   `classes` Gaussian blobs in 2-D (default 3)
// classes 0 means the generator's default; n = 0, classes 1, or classes != 2 for xor are
// DPT_ERR_INVALID. Samples are interleaved by class (sample i has class i % classes for spirals
// and blobs).
DPT_API enum dpt_status dpt_synth(const char *name, size_t n, size_t classes, uint64_t seed,
                                  struct dpt_dataset **out);

// Parses a data SPEC ("fashion-mnist", "fashion-mnist:DIR", "idx:IMAGES,LABELS", "csv:PATH[,..]",
// "libsvm:PATH[,..]", "npy:X,Y[,..]", "synth:NAME[,n=N][,classes=K][,seed=S]") and loads it. For
// fashion-mnist, test != 0 loads the t10k part; for synth it draws a fresh sample from the same
// distribution (seed mixed with a constant); other kinds ignore it (dpt_data_has_test_part).
// docs/formats.md lists every form and option. Errors name the spec and the file position.
DPT_API enum dpt_status dpt_data_load(const char *spec, int test, struct dpt_dataset **out);

// Nonzero when the SPEC's kind has a test part of its own (fashion-mnist, synth), i.e. when the
// `test` argument of dpt_data_load changes what is loaded.
DPT_API int dpt_data_has_test_part(const char *spec);

// ---- transformations ----

// A new data set of the samples perm[0..n) of ds (copied).
DPT_API enum dpt_status dpt_dataset_subset(const struct dpt_dataset *ds, const size_t *idx,
                                           size_t n, struct dpt_dataset **out);

// Splits off the last `fraction` (0 < fraction < 1) of a seeded shuffle as *val; the rest is
// *train. Both are new data sets. val gets round(fraction * n) samples, clamped to [1, n - 1]
// (n >= 2 required).
DPT_API enum dpt_status dpt_dataset_split(const struct dpt_dataset *ds, double fraction,
                                          uint64_t seed, struct dpt_dataset **train,
                                          struct dpt_dataset **val);

enum dpt_norm {
    DPT_NORM_NONE = 0,
    DPT_NORM_MINMAX,   // (x - min) / (max - min) per feature; constant features become 0
    DPT_NORM_STANDARD, // (x - mean) / std per feature; constant features become 0
};

// Per-feature affine transform x' = (x - shift) * scale: what training learned, stored in models.
struct dpt_norm_stats {
    enum dpt_norm kind;
    size_t n_in;
    float *shift; // n_in floats (owned; allocated with dpt_malloc so dpt_norm_cleanup frees it)
    float *scale; // n_in floats (owned; likewise)
};

// Computes the statistics of ds for `kind` into *st (allocating shift/scale; none for
// DPT_NORM_NONE, whose apply is a no-op). Needs at least one sample.
DPT_API enum dpt_status dpt_norm_fit(const struct dpt_dataset *ds, enum dpt_norm kind,
                                     struct dpt_norm_stats *st);
// Applies statistics in place. The widths must match (DPT_ERR_INVALID otherwise).
DPT_API enum dpt_status dpt_norm_apply(const struct dpt_norm_stats *st, struct dpt_dataset *ds);
// Frees shift/scale; the struct itself is caller storage.
DPT_API void dpt_norm_cleanup(struct dpt_norm_stats *st);

#ifdef __cplusplus
}
#endif

#endif
