// The NumPy loader ("npy:X.npy,Y.npy"): X a 2-D float32 or float64 array (samples x features),
// Y a 1-D array of class labels (any integer or bool dtype) or float targets (1-D, or 2-D for
// several outputs), as np.save writes them. C and Fortran order, either byte order. The header is
// read with the model import's reader (src/io/npy.c); every size is checked against the file
// before anything is allocated, and every element is converted and checked as it streams in.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error_impl.h"
#include "data/data_impl.h"
#include "io/npy_impl.h"

#define CHUNK_BYTES 65536

// An open NPY file: its header and what its dtype means.
struct npy_file {
    const char *path;
    const char *what; // "X" or "Y", for messages
    FILE *fp;
    struct dpt_npy_header h;
    char kind;       // 'f' float, 'i' signed, 'u' unsigned, 'b' bool
    size_t itemsize; // bytes per element
    int swap;        // big-endian data
    size_t rows, cols;
};

static enum dpt_status npy_open(struct npy_file *f, const char *path, const char *what)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    f->what = what;
    f->fp = fopen(path, "rb");
    if (!f->fp)
        return dpt_error(DPT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f->fp), &sb) != 0 || !S_ISREG(sb.st_mode))
        return dpt_error(DPT_ERR_IO, "%s: not a regular file (an .npy file is read by its size)",
                         path);
    enum dpt_status st = dpt_npy_read_header(f->fp, path, (uint64_t)sb.st_size, &f->h);
    if (st != DPT_OK)
        return st;
    // The dtype: byte order ('<', '>', or '|' for single bytes), kind, size.
    const char *d = f->h.descr;
    const char order = d[0], kind = d[0] ? d[1] : '\0';
    size_t size = 0;
    if (kind && d[2] >= '1' && d[2] <= '8' && d[3] == '\0')
        size = (size_t)(d[2] - '0');
    const int ok_size = kind == 'f'   ? size == 4 || size == 8
                        : kind == 'b' ? size == 1
                        : kind == 'i' || kind == 'u'
                            ? size == 1 || size == 2 || size == 4 || size == 8
                            : 0;
    const int ok_order = order == '<' || order == '>' || (order == '|' && size == 1);
    if (!ok_size || !ok_order)
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: %s has dtype '%s': expected float32 or float64%s (np.save of an "
                         "array .astype(np.float32)%s)",
                         path, what, d, *what == 'Y' ? ", an integer type or bool" : "",
                         *what == 'Y' ? " or of integer labels" : "");
    f->kind = kind;
    f->itemsize = size;
    f->swap = order == '>';
    // The data must be exactly as long as the shape says: checked before anything is allocated,
    // so a header claiming a huge array fails here.
    size_t count = 1, bytes;
    for (size_t i = 0; i < f->h.ndim; i++)
        if (dpt_mul_overflow(count, f->h.shape[i], &count))
            return dpt_error(DPT_ERR_FORMAT, "%s: the shape in the header overflows", path);
    if (dpt_mul_overflow(count, size, &bytes))
        return dpt_error(DPT_ERR_FORMAT, "%s: the shape in the header overflows", path);
    const uint64_t have = (uint64_t)sb.st_size - f->h.data_off;
    if (have != (uint64_t)bytes) {
        char shape[160];
        dpt_npy_format_shape(shape, sizeof shape, f->h.shape, f->h.ndim);
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: byte offset %zu: %s: the header says %s of '%s', %zu bytes of "
                         "data, but the file has %llu after the header",
                         path, f->h.data_off,
                         have < (uint64_t)bytes ? "truncated" : "trailing bytes", shape, d, bytes,
                         (unsigned long long)have);
    }
    return DPT_OK;
}

static void npy_close(struct npy_file *f)
{
    if (f->fp)
        fclose(f->fp);
    f->fp = NULL;
}

// Element e of a chunk as raw 64-bit pattern (little-endian order after swapping).
static uint64_t raw(const struct npy_file *f, const unsigned char *p)
{
    uint64_t u = 0;
    for (size_t b = 0; b < f->itemsize; b++) {
        const size_t at = f->swap ? f->itemsize - 1 - b : b;
        u |= (uint64_t)p[at] << (8 * b);
    }
    return u;
}

static double as_double(const struct npy_file *f, uint64_t u)
{
    if (f->kind == 'f') {
        if (f->itemsize == 4) {
            uint32_t v = (uint32_t)u;
            float x;
            memcpy(&x, &v, sizeof x);
            return (double)x;
        }
        double x;
        memcpy(&x, &u, sizeof x);
        return x;
    }
    if (f->kind == 'i') { // sign-extend
        const unsigned bits = (unsigned)(8 * f->itemsize);
        if (bits < 64 && (u >> (bits - 1) & 1))
            u |= ~(uint64_t)0 << bits;
        return (double)(int64_t)u;
    }
    return (double)u; // 'u', 'b'
}

// Whether the element is an integer in int32 range; *v gets it.
static int as_label(const struct npy_file *f, uint64_t u, int32_t *v)
{
    if (f->kind == 'f') {
        const double d = as_double(f, u);
        if (!dpt_data_is_label(d))
            return 0;
        *v = (int32_t)d;
        return 1;
    }
    int64_t s;
    if (f->kind == 'i') {
        const unsigned bits = (unsigned)(8 * f->itemsize);
        if (bits < 64 && (u >> (bits - 1) & 1))
            u |= ~(uint64_t)0 << bits;
        s = (int64_t)u;
    } else {
        if (u > (uint64_t)INT32_MAX)
            return 0;
        s = (int64_t)u;
    }
    if (s < INT32_MIN || s > INT32_MAX)
        return 0;
    *v = (int32_t)s;
    return 1;
}

// Streams the rows x cols elements of f into the data set: floats into dst (row-major, row
// stride `stride`), or class labels into labels. Fortran order is transposed on the way.
static enum dpt_status npy_read(struct npy_file *f, float *dst, size_t stride, int32_t *labels,
                                unsigned char *buf)
{
    const size_t total = f->rows * f->cols, per = CHUNK_BYTES / f->itemsize;
    for (size_t e0 = 0; e0 < total; e0 += per) {
        const size_t k = total - e0 < per ? total - e0 : per;
        if (fread(buf, f->itemsize, k, f->fp) != k)
            return dpt_error(DPT_ERR_IO, "%s: read failed at byte offset %zu", f->path,
                             f->h.data_off + e0 * f->itemsize);
        for (size_t j = 0; j < k; j++) {
            const size_t e = e0 + j;
            const size_t r = f->h.fortran ? e % f->rows : e / f->cols;
            const size_t c = f->h.fortran ? e / f->rows : e % f->cols;
            const uint64_t u = raw(f, buf + j * f->itemsize);
            if (labels) {
                if (!as_label(f, u, &labels[r]))
                    return dpt_error(DPT_ERR_FORMAT,
                                     "%s: byte offset %zu: %s[%zu] = %.17g is not an integer "
                                     "class label (int32; target=regression for real-valued "
                                     "targets)",
                                     f->path, f->h.data_off + e * f->itemsize, f->what, r,
                                     as_double(f, u));
                continue;
            }
            const double v = as_double(f, u);
            const enum dpt_num_result k = dpt_data_classify(v);
            if (k != DPT_NUM_OK)
                return dpt_error(DPT_ERR_FORMAT, "%s: byte offset %zu: %s[%zu, %zu] = %g is %s",
                                 f->path, f->h.data_off + e * f->itemsize, f->what, r, c, v,
                                 k == DPT_NUM_NONFINITE
                                     ? "not finite"
                                     : "beyond float range (a float holds magnitudes from "
                                       "1.4e-45 to 3.4e38; smaller ones would become 0)");
            dst[r * stride + c] = (float)v;
        }
    }
    return DPT_OK;
}

enum dpt_status dpt_data_load_npy(const char *x_path, const char *y_path, enum dpt_task task,
                                  int task_given, struct dpt_dataset **out)
{
    *out = NULL;
    struct npy_file x, y;
    struct dpt_dataset *ds = NULL;
    unsigned char *buf = NULL;
    char shape[160];
    memset(&y, 0, sizeof y);
    enum dpt_status st = npy_open(&x, x_path, "X");
    if (st != DPT_OK)
        goto cleanup;
    if ((st = npy_open(&y, y_path, "Y")) != DPT_OK)
        goto cleanup;
    if (x.kind != 'f') {
        st = dpt_error(DPT_ERR_FORMAT,
                       "%s: X has dtype '%s': expected float32 or float64 (save "
                       "X.astype(np.float32))",
                       x_path, x.h.descr);
        goto cleanup;
    }
    if (x.h.ndim != 2 || x.h.shape[0] == 0 || x.h.shape[1] == 0) {
        dpt_npy_format_shape(shape, sizeof shape, x.h.shape, x.h.ndim);
        st = dpt_error(DPT_ERR_FORMAT,
                       "%s: X has shape %s: expected 2-D (samples, features), both non-zero%s",
                       x_path, shape, x.h.ndim == 1 ? " (one feature: X.reshape(-1, 1))" : "");
        goto cleanup;
    }
    x.rows = x.h.shape[0];
    x.cols = x.h.shape[1];
    dpt_npy_format_shape(shape, sizeof shape, y.h.shape, y.h.ndim);
    if (y.h.ndim < 1 || y.h.ndim > 2 || y.h.shape[0] != x.rows ||
        (y.h.ndim == 2 && y.h.shape[1] == 0)) {
        st = dpt_error(DPT_ERR_FORMAT,
                       "%s: Y has shape %s: expected (%zu,) or (%zu, outputs), one row per row "
                       "of X (%s)",
                       y_path, shape, x.rows, x.rows, x_path);
        goto cleanup;
    }
    y.rows = y.h.shape[0];
    y.cols = y.h.ndim == 2 ? y.h.shape[1] : 1;
    if (!task_given)
        task = y.kind == 'f' ? DPT_TASK_REGRESS : DPT_TASK_CLASSIFY;
    if (task == DPT_TASK_CLASSIFY && y.cols != 1) {
        st = dpt_error(DPT_ERR_FORMAT,
                       "%s: Y has shape %s: class labels are one per sample, a 1-D array (from "
                       "one-hot rows: Y.argmax(axis=1)); target=regression for several outputs",
                       y_path, shape);
        goto cleanup;
    }
    if ((st = dpt_dataset_create(task, x.rows, x.cols, task == DPT_TASK_CLASSIFY ? 1 : y.cols,
                                 &ds)) != DPT_OK)
        goto cleanup;
    buf = dpt_malloc(CHUNK_BYTES);
    if (!buf) {
        st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory", x_path);
        goto cleanup;
    }
    if ((st = npy_read(&x, ds->x, ds->n_in, NULL, buf)) != DPT_OK)
        goto cleanup;
    if ((st = npy_read(&y, ds->targets, ds->n_out, ds->labels, buf)) != DPT_OK)
        goto cleanup;
    if (task == DPT_TASK_CLASSIFY && (st = dpt_data_map_labels(ds)) != DPT_OK)
        goto cleanup;
    *out = ds;
    ds = NULL;
cleanup:
    npy_close(&x);
    npy_close(&y);
    dpt_free(buf);
    dpt_dataset_destroy(ds);
    return st;
}
