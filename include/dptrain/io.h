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
struct dpt_model_info {
    enum dpt_task task;         // classification or regression
    struct dpt_norm_stats norm; // kind DPT_NORM_NONE when not normalised
    size_t n_classes;           // classification: number of classes
    int32_t *class_labels;      // n_classes original label values (owned), or NULL = identity
    char *provenance;           // free text (command line, seed, version), owned, or NULL
};

DPT_API void dpt_model_info_init(struct dpt_model_info *info);
DPT_API void dpt_model_info_cleanup(struct dpt_model_info *info);

// Saves net and info to path atomically. info may be NULL. Never leaves a partial file at path.
DPT_API enum dpt_status dpt_model_save(const char *path, const struct dpt_net *net,
                                       const struct dpt_model_info *info);

// Loads a model: *net is a new network (owned by the caller); info (may be NULL) is filled.
// Errors name the file and the field or byte offset (truncated, bad header, bad checksum, future
// version, wrong shapes).
DPT_API enum dpt_status dpt_model_load(const char *path, struct dpt_net **net,
                                       struct dpt_model_info *info);

// Writes one .npy file per tensor (W1.npy, b1.npy, ...) into dir (created if missing).
DPT_API enum dpt_status dpt_model_export_npy(const struct dpt_net *net, const char *dir);

// Reads W1.npy, b1.npy, ... from dir into the parameters of an existing net whose spec fixes the
// shapes (f32 or f64, C order, little-endian). Every shape is checked.
DPT_API enum dpt_status dpt_model_import_npy(struct dpt_net *net, const char *dir);

#ifdef __cplusplus
}
#endif

#endif
