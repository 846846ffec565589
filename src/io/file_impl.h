// Private: file helpers shared by the io module: atomic replacement of a file (temporary file in
// the same directory, fsync, rename) and errno text.
#ifndef DPT_IO_FILE_IMPL_H
#define DPT_IO_FILE_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dptrain/core.h"

// A file being written atomically: bytes go to `tmp_path` (created as "PATH.tmp.XXXXXX" and held
// under an exclusive flock; leftovers of killed writers, unlocked and over a minute old, are
// removed when the next writer of PATH opens); dpt_atomic_commit renames it over `path`. Until
// then, whatever was at `path` is untouched. A `path` that names an existing device, FIFO or socket
// is never replaced: it is written in place (`direct`; what was written stays written on a
// failure). Caller storage; one writer per struct.
struct dpt_atomic_file {
    const char *path; // borrowed until commit/abort
    char *tmp_path;   // owned; NULL once committed or aborted, and when direct
    FILE *fp;         // owned
    int failed;       // a write already failed (its error is set)
    int direct;       // path is a special file, written in place
};

// Creates the temporary file beside `path` (or opens a special file at `path` for writing). A
// directory is refused. On error nothing is left behind.
enum dpt_status dpt_atomic_open(struct dpt_atomic_file *af, const char *path);

// Appends n bytes. After a failure every later call fails too (and commit refuses).
enum dpt_status dpt_atomic_write(struct dpt_atomic_file *af, const void *buf, size_t n);

// Flushes, fsyncs, closes and renames the temporary file over `path`, then fsyncs the directory
// (best effort). On any failure the temporary file is removed and `path` is untouched.
enum dpt_status dpt_atomic_commit(struct dpt_atomic_file *af);

// Closes and removes the temporary file; a no-op after commit or abort.
void dpt_atomic_abort(struct dpt_atomic_file *af);

// strerror without the thread-safety problem of strerror: writes into buf and returns it.
const char *dpt_io_strerror(int err, char *buf, size_t n);

// Little-endian byte order of files, independent of the host's: floats go through their bit
// pattern, so the conversion is exact (compilers reduce it to a copy on little-endian hosts).
static inline void dpt_f32_to_le(unsigned char *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], sizeof u);
        dst[4 * i] = (unsigned char)u;
        dst[4 * i + 1] = (unsigned char)(u >> 8);
        dst[4 * i + 2] = (unsigned char)(u >> 16);
        dst[4 * i + 3] = (unsigned char)(u >> 24);
    }
}

static inline void dpt_le_to_f32(float *dst, const unsigned char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 |
                     (uint32_t)src[4 * i + 2] << 16 | (uint32_t)src[4 * i + 3] << 24;
        memcpy(&dst[i], &u, sizeof u);
    }
}

static inline double dpt_le_to_f64(const unsigned char *src)
{
    uint64_t u = 0;
    double d;
    for (int i = 7; i >= 0; i--)
        u = u << 8 | src[i];
    memcpy(&d, &u, sizeof d);
    return d;
}

#endif
