// Private: what the npy export and import (npy.c) borrow from the model file code (model.c): the
// model's metadata as a JSON file of its own, dptrain.json (docs/formats.md, "NumPy export and
// import").
#ifndef DPT_IO_MODEL_IMPL_H
#define DPT_IO_MODEL_IMPL_H

#include <stddef.h>

#include "dptrain/io.h"

// The metadata a model file would carry for net and info (NULL: derived from the net, as
// dpt_model_save does), as indented JSON text ending in a newline: the same keys and string
// values as the file's __metadata__, without norm_shift and norm_scale (npy files in an export),
// crc32 and extras. info is checked as dpt_model_save checks it (errors name path). *out is a new
// dpt_malloc'd string.
enum dpt_status dpt_model_meta_json(const char *path, const struct dpt_net *net,
                                    const struct dpt_model_info *info, char **out);

// Parses such text (len bytes, untrusted) into a checked spec and an info whose norm.kind and
// norm.n_in are set but whose norm.shift and norm.scale are NULL. On error *info is empty and the
// message names path and the key. *info is overwritten (not freed) first.
enum dpt_status dpt_model_meta_parse(const char *path, const char *text, size_t len,
                                     struct dpt_net_spec *spec, struct dpt_model_info *info);

#endif
