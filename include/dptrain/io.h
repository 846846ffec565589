// dptrain io: model files (safetensors) and NumPy export/import.
//
// A model file is a safetensors file: an 8-byte little-endian header length, a JSON header and the
// raw little-endian f32 tensors W1, b1, W2, b2, ... (W_l of shape [n_l, n_(l-1)]). The header's
// __metadata__ (string values only, as safetensors requires) holds the format version, the
// architecture, activations, loss and reduction, the data transformation (normalisation statistics,
// task and class labels), provenance, and a CRC32 of the tensor bytes. Files are written
// atomically (temporary file in the same directory, fsync, rename) and validated field by field
// on load. Thread-safe for distinct paths.
#ifndef DPTRAIN_IO_H
#define DPTRAIN_IO_H

#include "core.h"
#include "data.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DPT_MODEL_FORMAT_VERSION 1

// What a model carries besides the network. Caller storage; free with dpt_model_info_cleanup.
// For DPT_TASK_CLASSIFY, n_classes must equal the output width n_L (or be 2 when n_L == 1); 0 on
// save means "derive it from the network". For DPT_TASK_REGRESS, n_classes is 0 and class_labels
// and class_names NULL. When norm.kind is not DPT_NORM_NONE, norm.n_in equals the input width n_0.
// A classifier's labels are numbers (class_labels) or text (class_names), never both.
struct dpt_model_info {
    enum dpt_task task;         // classification or regression
    struct dpt_norm_stats norm; // kind DPT_NORM_NONE when not normalised
    size_t n_classes;           // classification: number of classes
    int32_t *class_labels;      // n_classes original label values (owned), or NULL = identity
    char *provenance;           // free text (command line, seed, version), owned, or NULL
    // n_classes text labels (class c is named class_names[c]: non-empty, distinct, UTF-8 without
    // control characters), or NULL. Owned; set it with dpt_model_info_set_class_names.
    char **class_names;
};

// Sets an info to its empty state: classification, n_classes 0 (derived from the network on
// save), no normalisation, no labels, no provenance. Thread-safe on distinct infos.
DPT_API void dpt_model_info_init(struct dpt_model_info *info);
// Frees what an info owns (labels, names, provenance, norm arrays) and re-initialises it; NULL is
// a no-op.
DPT_API void dpt_model_info_cleanup(struct dpt_model_info *info);

// Gives info a copy of the n class names (replacing any it had; names NULL clears them). The
// names are checked when the model is saved.
DPT_API enum dpt_status dpt_model_info_set_class_names(struct dpt_model_info *info,
                                                       const char *const *names, size_t n);

// Saves net and info to path atomically. info may be NULL (classification when the loss is xent
// or bce, regression otherwise; no normalisation). Never leaves a partial file at path: on any
// error an existing file at path is untouched. A network or statistics holding NaN or infinity
// are refused (DPT_ERR_INVALID naming the tensor and index). Borrows everything.
DPT_API enum dpt_status dpt_model_save(const char *path, const struct dpt_net *net,
                                       const struct dpt_model_info *info);

// Loads a model: *net is a new network (owned by the caller; NULL on error). info may be NULL;
// otherwise *info is overwritten (old contents are not freed): filled on success, left in the
// dpt_model_info_init state on error, so dpt_model_info_cleanup is always safe afterwards.
// A checkpoint's extra tensors and metadata (see dpt_model_load_ex) are checked and skipped.
// Errors name the file and the field or byte offset (truncated, bad header, bad checksum, future
// version (DPT_ERR_UNSUPPORTED), wrong shapes); every other file problem is DPT_ERR_FORMAT.
DPT_API enum dpt_status dpt_model_load(const char *path, struct dpt_net **net,
                                       struct dpt_model_info *info);

// ---- extra tensors and metadata (checkpoint hooks) ----

// Content saved beside the network, e.g. a checkpoint's optimiser state and epoch counter:
// n_tensors 1-D f32 tensors (names[i], data[i] of lens[i] floats; data[i] may be NULL when
// lens[i] is 0) stored after the network's tensors, and n_meta string pairs
// (meta_keys[i] = meta_values[i]) stored in __metadata__. Everything is borrowed.
// Tensor names: 1..64 characters from [A-Za-z0-9_.:/-], not of the form W<digits> or b<digits>,
// distinct. Metadata keys: 1..64 characters, not starting with "__", not one of the model's own
// keys (format, format_version, layers, act, loss, reduction, leaky_slope, task, n_classes,
// class_labels, class_names, norm, norm_shift, norm_scale, provenance, dptrain_version, crc32,
// extra_tensors), distinct. Values and keys must be valid UTF-8. Extra tensors must be finite.
// At most 1024 tensors and 1024 metadata entries.
struct dpt_model_extra {
    size_t n_tensors;
    const char **names;
    const float **data;
    const size_t *lens;
    size_t n_meta;
    const char **meta_keys;
    const char **meta_values;
};

// dpt_model_save with extras; extra may be NULL (then identical to dpt_model_save).
DPT_API enum dpt_status dpt_model_save_ex(const char *path, const struct dpt_net *net,
                                          const struct dpt_model_info *info,
                                          const struct dpt_model_extra *extra);

// The extras read back from a file, in file order. Everything is owned by the struct (allocated
// by the library): free with dpt_model_extra_out_cleanup. meta holds every __metadata__ entry
// that is not one of the model's own keys.
struct dpt_model_extra_out {
    size_t n_tensors;
    char **names;
    float **data; // data[i]: lens[i] floats (never NULL)
    size_t *lens;
    size_t n_meta;
    char **meta_keys;
    char **meta_values;
};

// Sets an extra_out to empty. Thread-safe on distinct structs.
DPT_API void dpt_model_extra_out_init(struct dpt_model_extra_out *extra);
// Frees everything an extra_out owns and re-initialises it; NULL is a no-op.
DPT_API void dpt_model_extra_out_cleanup(struct dpt_model_extra_out *extra);

// dpt_model_load that also returns the extras. extra may be NULL (then identical to
// dpt_model_load); otherwise *extra is overwritten (old contents not freed): filled on success,
// empty on error, so dpt_model_extra_out_cleanup is always safe afterwards.
DPT_API enum dpt_status dpt_model_load_ex(const char *path, struct dpt_net **net,
                                          struct dpt_model_info *info,
                                          struct dpt_model_extra_out *extra);

// The extra tensor called name (borrowed from extra; *len set when len is non-NULL), or NULL
// when there is none.
DPT_API const float *dpt_model_extra_tensor(const struct dpt_model_extra_out *extra,
                                            const char *name, size_t *len);
// The extra metadata value of key (borrowed from extra), or NULL when there is none.
DPT_API const char *dpt_model_extra_meta(const struct dpt_model_extra_out *extra, const char *key);

// ---- NumPy ----

// The file of an npy export that holds the model's metadata.
#define DPT_NPY_META_FILE "dptrain.json"

// Writes a model as NumPy files into dir (created if missing; its parent must exist): one .npy
// file per tensor (W1.npy, b1.npy, ...): NPY 1.0, '<f4', C order, W_l of shape (n_l, n_(l-1)), b_l
// of shape (n_l,); for a normalised model norm_shift.npy and norm_scale.npy of shape (n_0,); and
// dptrain.json, the rest of what a model file carries (architecture, task, classes and their
// labels, normalisation kind, provenance: the keys of a model file's __metadata__,
// docs/formats.md). info may be NULL (derived from the net, as dpt_model_save does) and is checked
// as save checks it. All files are written in full before any is renamed into place: a failure
// while writing leaves dir's files as they were. Borrows net and info.
DPT_API enum dpt_status dpt_model_export_npy_ex(const struct dpt_net *net,
                                                const struct dpt_model_info *info, const char *dir);
// dpt_model_export_npy_ex with info NULL.
DPT_API enum dpt_status dpt_model_export_npy(const struct dpt_net *net, const char *dir);

// Makes a model from a directory that dpt_model_export_npy_ex wrote: *net (new, owned by the
// caller) with the architecture of dptrain.json and the tensors of W1.npy, b1.npy, ...; *info (may
// be NULL; overwritten, not freed; empty on error) with its task, classes, labels, normalisation
// (from norm_shift.npy and norm_scale.npy) and provenance. spec may be NULL; otherwise it must be
// dptrain.json's architecture (DPT_ERR_INVALID naming the field). A directory without dptrain.json
// (an export by an older dptrain, or made by hand) needs spec; the model then has no
// normalisation, class labels 0..K-1 for xent and bce, and is a regression model for squared.
// Every file is checked (shapes, dtypes, finite values, the metadata field by field); errors name
// the file.
DPT_API enum dpt_status dpt_model_import_npy_ex(const char *dir, const struct dpt_net_spec *spec,
                                                struct dpt_net **net, struct dpt_model_info *info);

// Reads W1.npy, b1.npy, ... from dir into the parameters of an existing net whose spec fixes the
// shapes (f32 or f64, C order, little-endian). Every shape is checked, and the values must be
// finite in f32. All or nothing: on error the parameters are unchanged. Errors name the file.
DPT_API enum dpt_status dpt_model_import_npy(struct dpt_net *net, const char *dir);

#ifdef __cplusplus
}
#endif

#endif
