// Private: reading NPY headers, shared by the model import (src/io/npy.c) and the "npy:" data
// loader (src/data/npy.c).
#ifndef DPT_IO_NPY_IMPL_H
#define DPT_IO_NPY_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dptrain/core.h"

#define DPT_NPY_MAX_DIMS 32

// What an NPY header says, and where its data starts.
struct dpt_npy_header {
    char descr[16]; // the dtype string, e.g. "<f4", "|u1"
    int fortran;    // fortran_order
    size_t ndim;
    size_t shape[DPT_NPY_MAX_DIMS];
    size_t data_off; // byte offset of the first element
};

// Reads the magic, version, header length and header dict of the NPY file fp (positioned at its
// start; file_size is its size in bytes), leaving fp at the data. Versions 1.0, 2.0 and 3.0.
// Errors (DPT_ERR_FORMAT, DPT_ERR_UNSUPPORTED for another version) name path and the byte offset:
// no magic, a header length beyond the file or over 1 MiB, a truncated header, a dict that is not
// {'descr': ..., 'fortran_order': ..., 'shape': (...)}.
enum dpt_status dpt_npy_read_header(FILE *fp, const char *path, uint64_t file_size,
                                    struct dpt_npy_header *h);

// "(3, 4)" / "(5,)" into out.
void dpt_npy_format_shape(char *out, size_t cap, const size_t *shape, size_t ndim);

#endif
