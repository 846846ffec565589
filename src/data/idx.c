// The IDX loader (MNIST's format: big-endian header, any element type) through zlib, which reads
// gzip'd and raw files alike, and the Fashion-MNIST convenience loader on top of it.
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/error_impl.h"
#include "data/data_impl.h"

// Bytes per gzread call: large enough that zlib's per-call overhead vanishes, small enough to
// stay in L2 while it is converted. A multiple of every element size.
#define IDX_CHUNK ((size_t)1 << 20)

// Deflate cannot expand data by more than about 1032:1, so a gzip file claiming more is corrupt;
// checked before allocating so a damaged header cannot ask for terabytes.
#define GZIP_MAX_RATIO 1032

enum idx_type {
    IDX_U8 = 0x08,
    IDX_I8 = 0x09,
    IDX_I16 = 0x0B,
    IDX_I32 = 0x0C,
    IDX_F32 = 0x0D,
    IDX_F64 = 0x0E,
};

// An open IDX file positioned at the start of its data.
struct idx_file {
    gzFile gz;
    const char *path;
    int type;
    size_t esize;        // bytes per element
    unsigned ndims;      // >= 1
    size_t count;        // dims[0]: the number of records
    size_t per_record;   // product of dims[1..]: elements per record (1 for 1-D files)
    size_t header_bytes; // 4 + 4 * ndims
    size_t data_bytes;   // count * per_record * esize
};

static size_t idx_esize(int type)
{
    switch (type) {
    case IDX_U8:
    case IDX_I8:
        return 1;
    case IDX_I16:
        return 2;
    case IDX_I32:
    case IDX_F32:
        return 4;
    case IDX_F64:
        return 8;
    }
    return 0;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t be64(const unsigned char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

// Turns a failed or short gzread into a message: a read error (IO), corrupt compressed data
// (FORMAT), or a plain end of data, reported as truncation at byte `offset` inside `record`.
static enum dpt_status idx_short_read(struct idx_file *f, size_t offset, const char *where)
{
    int errnum = Z_OK;
    const char *msg = gzerror(f->gz, &errnum);
    if (errnum == Z_ERRNO)
        return dpt_error(DPT_ERR_IO, "%s: read error near byte offset %zu: %s", f->path, offset,
                         strerror(errno));
    if (errnum != Z_OK && errnum != Z_BUF_ERROR)
        return dpt_error(DPT_ERR_FORMAT, "%s: corrupt gzip data near byte offset %zu: %s", f->path,
                         offset, msg);
    return dpt_error(DPT_ERR_FORMAT, "%s: truncated at byte offset %zu: %s", f->path, offset,
                     where);
}

// Reads exactly len bytes (in pieces gzread's unsigned length can take); a short read becomes a
// truncation error naming the position in the uncompressed stream (`offset` is where dst starts)
// and the record it falls in.
static enum dpt_status idx_read(struct idx_file *f, void *dst, size_t len, size_t offset)
{
    unsigned char *p = dst;
    size_t done = 0;
    while (done < len) {
        size_t want = len - done < IDX_CHUNK ? len - done : IDX_CHUNK;
        int got = gzread(f->gz, p + done, (unsigned)want);
        if (got > 0)
            done += (size_t)got;
        if (got < 0 || (size_t)got < want)
            break;
    }
    if (done == len)
        return DPT_OK;
    size_t at = offset + done;
    char where[128];
    if (at < f->header_bytes) {
        snprintf(where, sizeof where, "the file ends inside the IDX header");
    } else {
        size_t rec = (at - f->header_bytes) / (f->per_record * f->esize);
        snprintf(where, sizeof where, "record %zu of %zu is incomplete", rec, f->count);
    }
    return idx_short_read(f, at, where);
}

static void idx_close(struct idx_file *f)
{
    if (f->gz)
        gzclose(f->gz);
    f->gz = NULL;
}

// Opens path, reads and validates the header, and checks that the declared data is plausible
// for the file's size before anyone allocates for it.
static enum dpt_status idx_open(const char *path, struct idx_file *f)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return dpt_error(DPT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return dpt_error(DPT_ERR_IO, "%s: cannot open: is a directory", path);
    errno = 0;
    f->gz = gzopen(path, "rb");
    if (!f->gz)
        return dpt_error(DPT_ERR_IO, "%s: cannot open: %s", path,
                         errno ? strerror(errno) : "out of memory");
    gzbuffer(f->gz, 1 << 18);

    unsigned char head[4 + 4 * 255];
    f->header_bytes = 4;
    enum dpt_status st = idx_read(f, head, 4, 0);
    if (st != DPT_OK)
        return st;
    if (head[0] != 0 || head[1] != 0)
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: byte offset 0: not an IDX file (magic bytes %02x %02x %02x %02x, "
                         "expected 00 00 TYPE NDIMS)",
                         path, head[0], head[1], head[2], head[3]);
    f->type = head[2];
    f->esize = idx_esize(f->type);
    if (f->esize == 0)
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: byte offset 2: unknown IDX element type 0x%02X (known: 0x08 u8, "
                         "0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64)",
                         path, head[2]);
    f->ndims = head[3];
    if (f->ndims == 0)
        return dpt_error(DPT_ERR_FORMAT, "%s: byte offset 3: IDX file with 0 dimensions", path);
    f->header_bytes = 4 + 4 * (size_t)f->ndims;
    f->per_record = 1;
    st = idx_read(f, head + 4, 4 * (size_t)f->ndims, 4);
    if (st != DPT_OK)
        return st;
    for (unsigned d = 0; d < f->ndims; d++) {
        uint32_t dim = be32(head + 4 + 4 * d);
        if (dim == 0)
            return dpt_error(DPT_ERR_FORMAT, "%s: byte offset %u: dimension %u is 0", path,
                             4 + 4 * d, d);
        if (d == 0)
            f->count = dim;
        else if (dpt_mul_overflow(f->per_record, dim, &f->per_record))
            return dpt_error(DPT_ERR_RANGE, "%s: byte offset %u: dimensions overflow at %u", path,
                             4 + 4 * d, dim);
    }
    size_t elems;
    if (dpt_mul_overflow(f->count, f->per_record, &elems) ||
        dpt_mul_overflow(elems, f->esize, &f->data_bytes))
        return dpt_error(DPT_ERR_RANGE, "%s: %zu records of %zu elements: size overflows", path,
                         f->count, f->per_record);
    if (f->data_bytes > DPT_DATA_MAX_BYTES)
        return dpt_error(DPT_ERR_RANGE, "%s: %zu bytes of data, more than the limit of %zu", path,
                         f->data_bytes, (size_t)DPT_DATA_MAX_BYTES);

    size_t file_size = sb.st_size > 0 ? (size_t)sb.st_size : 0;
    if (gzdirect(f->gz)) {
        size_t avail = file_size > f->header_bytes ? file_size - f->header_bytes : 0;
        if (avail < f->data_bytes)
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: truncated at byte offset %zu: record %zu of %zu is incomplete",
                             path, file_size, avail / (f->per_record * f->esize), f->count);
    } else if (f->data_bytes / GZIP_MAX_RATIO > file_size + 1) {
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: header declares %zu records (%zu bytes), more than a %zu-byte gzip "
                         "file can hold: truncated or corrupt",
                         path, f->count, f->data_bytes, file_size);
    }
    return DPT_OK;
}

// The gzip trailer's ISIZE (the last 4 bytes of the file, little-endian: the uncompressed size
// mod 2^32), or -1 when it cannot be read.
static long long gzip_isize(const char *path)
{
    unsigned char b[4];
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    const int ok = fseek(fp, -4, SEEK_END) == 0 && fread(b, 1, 4, fp) == 4;
    fclose(fp);
    return ok ? (long long)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                            (uint32_t)b[3] << 24)
              : -1;
}

// After the last record: anything more is a sign of a wrong header. A gzip'd file must also end
// its stream properly: zlib reports a stream whose 8-byte trailer (CRC-32 and size) is missing or
// cut only as Z_BUF_ERROR at the end, which a plain end of data does not distinguish, and it skips
// bytes after the gzip member silently; the trailer's size, the file's last 4 bytes, must then
// equal what was read (one gzip member, as every IDX file is shipped).
static enum dpt_status idx_expect_end(struct idx_file *f)
{
    unsigned char c;
    size_t at = f->header_bytes + f->data_bytes;
    int got = gzread(f->gz, &c, 1);
    if (got < 0)
        return idx_short_read(f, at, "");
    if (got > 0)
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: byte offset %zu: data continues after the last of %zu records",
                         f->path, at, f->count);
    if (gzdirect(f->gz))
        return DPT_OK;
    int errnum = Z_OK;
    gzerror(f->gz, &errnum);
    if (errnum == Z_BUF_ERROR)
        return dpt_error(
            DPT_ERR_FORMAT,
            "%s: the gzip stream ends early, its trailer (CRC and size) missing or cut: "
            "a truncated file",
            f->path);
    if (gzip_isize(f->path) != (long long)(uint32_t)at)
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: bytes after the end of the gzip stream (its size field does not "
                         "match the %zu bytes read): a damaged or concatenated file",
                         f->path, at);
    return DPT_OK;
}

// ---- conversion ----

// Scaling of integer types onto [0, 1]: v / 255 for u8; signed types shift their minimum to 0
// first, (v - min) / (max - min), so i8 becomes (v + 128) / 255, i16 (v + 32768) / 65535 and i32
// (v + 2^31) / (2^32 - 1). Floating types are taken as they are but must be finite (and float64
// values within float range, not so small that they would become 0). The byte
// loops are plain conversions and divisions (exact, like v / 255.0f) that the compiler
// vectorises; a lookup table was slower, its gathers do not vectorise.
// Converts `count` big-endian elements of f->type into floats. Returns the index of the first
// non-finite or out-of-range value (floating types), or count when all are fine.
static size_t idx_convert(int type, const unsigned char *restrict src, size_t count,
                          float *restrict dst)
{
    switch (type) {
    case IDX_U8:
        for (size_t i = 0; i < count; i++)
            dst[i] = (float)src[i] / 255.0f;
        break;
    case IDX_I8:
        for (size_t i = 0; i < count; i++)
            dst[i] = (float)(src[i] ^ 0x80u) / 255.0f; // the i8 bits plus 128
        break;
    case IDX_I16:
        for (size_t i = 0; i < count; i++) {
            int16_t v = (int16_t)(uint16_t)((unsigned)src[2 * i] << 8 | src[2 * i + 1]);
            dst[i] = (float)((double)((int32_t)v + 32768) / 65535.0);
        }
        break;
    case IDX_I32:
        for (size_t i = 0; i < count; i++) {
            int32_t v = (int32_t)be32(src + 4 * i);
            dst[i] = (float)(((double)v + 2147483648.0) / 4294967295.0);
        }
        break;
    case IDX_F32:
        for (size_t i = 0; i < count; i++) {
            uint32_t bits = be32(src + 4 * i);
            float v;
            memcpy(&v, &bits, sizeof v);
            if (!isfinite(v))
                return i;
            dst[i] = v;
        }
        break;
    case IDX_F64:
        for (size_t i = 0; i < count; i++) {
            uint64_t bits = be64(src + 8 * i);
            double v;
            memcpy(&v, &bits, sizeof v);
            if (dpt_data_classify(v) != DPT_NUM_OK) // non-finite, or a float cannot hold it
                return i;
            dst[i] = (float)v;
        }
        break;
    }
    return count;
}

// One element of any type as a double (labels).
static double idx_value(int type, const unsigned char *p)
{
    switch (type) {
    case IDX_U8:
        return p[0];
    case IDX_I8:
        return (int8_t)p[0];
    case IDX_I16:
        return (int16_t)(uint16_t)((unsigned)p[0] << 8 | p[1]);
    case IDX_I32:
        return (int32_t)be32(p);
    case IDX_F32: {
        uint32_t bits = be32(p);
        float v;
        memcpy(&v, &bits, sizeof v);
        return v;
    }
    case IDX_F64: {
        uint64_t bits = be64(p);
        double v;
        memcpy(&v, &bits, sizeof v);
        return v;
    }
    }
    return 0.0;
}

// Streams the image data into x in IDX_CHUNK pieces.
static enum dpt_status idx_read_images(struct idx_file *f, float *x)
{
    enum dpt_status st = DPT_OK;
    size_t buf_bytes = f->data_bytes < IDX_CHUNK ? f->data_bytes : IDX_CHUNK;
    unsigned char *buf = dpt_malloc(buf_bytes);
    if (!buf)
        return dpt_error(DPT_ERR_NOMEM, "%s: out of memory", f->path);
    for (size_t off = 0; off < f->data_bytes;) {
        size_t len = f->data_bytes - off < IDX_CHUNK ? f->data_bytes - off : IDX_CHUNK;
        st = idx_read(f, buf, len, f->header_bytes + off);
        if (st != DPT_OK)
            goto cleanup;
        size_t first = off / f->esize, count = len / f->esize;
        size_t bad = idx_convert(f->type, buf, count, x + first);
        if (bad < count) {
            size_t e = first + bad;
            st = dpt_error(DPT_ERR_FORMAT,
                           "%s: byte offset %zu: record %zu, element %zu is not a finite float (or "
                           "beyond float range: above 3.4e38, or so small that it would be 0)",
                           f->path, f->header_bytes + e * f->esize, e / f->per_record,
                           e % f->per_record);
            goto cleanup;
        }
        off += len;
    }
    st = idx_expect_end(f);
cleanup:
    dpt_free(buf);
    return st;
}

// Reads the labels into ds->labels (checked: integral, >= 0, within int32) and sets n_out to
// max label + 1 (at least 2).
static enum dpt_status idx_read_labels(struct idx_file *f, struct dpt_dataset *ds)
{
    enum dpt_status st = DPT_OK;
    unsigned char *buf = dpt_malloc(f->data_bytes);
    if (!buf)
        return dpt_error(DPT_ERR_NOMEM, "%s: out of memory", f->path);
    st = idx_read(f, buf, f->data_bytes, f->header_bytes);
    if (st != DPT_OK)
        goto cleanup;
    int32_t max = 1;
    for (size_t i = 0; i < f->count; i++) {
        double v = idx_value(f->type, buf + i * f->esize);
        if (!dpt_data_is_label(v)) {
            st = dpt_error(DPT_ERR_FORMAT, "%s: record %zu: label %g is not an integer", f->path, i,
                           v);
            goto cleanup;
        }
        if (v < 0) {
            st = dpt_error(DPT_ERR_FORMAT, "%s: record %zu: label %g is negative", f->path, i, v);
            goto cleanup;
        }
        ds->labels[i] = (int32_t)v;
        if (ds->labels[i] > max)
            max = ds->labels[i];
    }
    ds->n_out = (size_t)max + 1;
    st = idx_expect_end(f);
cleanup:
    dpt_free(buf);
    return st;
}

// ---- loaders ----

enum dpt_status dpt_load_idx(const char *images_path, const char *labels_path,
                             struct dpt_dataset **out)
{
    if (!out)
        return dpt_error(DPT_ERR_INVALID, "dpt_load_idx: out is NULL");
    *out = NULL;
    if (!images_path || !labels_path)
        return dpt_error(DPT_ERR_INVALID, "dpt_load_idx: NULL path");

    struct idx_file im, lb;
    memset(&lb, 0, sizeof lb);
    struct dpt_dataset *ds = NULL;
    enum dpt_status st = idx_open(images_path, &im);
    if (st != DPT_OK)
        goto cleanup;
    st = idx_open(labels_path, &lb);
    if (st != DPT_OK)
        goto cleanup;
    if (lb.ndims != 1) {
        st = dpt_error(DPT_ERR_FORMAT, "%s: a label file has 1 dimension, this one has %u",
                       labels_path, lb.ndims);
        goto cleanup;
    }
    if (im.count != lb.count) {
        st = dpt_error(DPT_ERR_FORMAT, "%s has %zu records but %s has %zu", images_path, im.count,
                       labels_path, lb.count);
        goto cleanup;
    }
    st = dpt_dataset_create(DPT_TASK_CLASSIFY, im.count, im.per_record, 2, &ds);
    if (st != DPT_OK)
        goto cleanup;
    st = idx_read_images(&im, ds->x);
    if (st != DPT_OK)
        goto cleanup;
    st = idx_read_labels(&lb, ds);
    if (st != DPT_OK)
        goto cleanup;
    *out = ds;
    ds = NULL;
cleanup:
    idx_close(&im);
    idx_close(&lb);
    dpt_dataset_destroy(ds);
    return st;
}

// dir/name.gz when it exists, else dir/name when that exists, else dir/name.gz (for the message).
static enum dpt_status fmnist_path(const char *dir, const char *name, char **out)
{
    size_t len = strlen(dir) + strlen(name) + 8;
    char *p = dpt_malloc(len);
    if (!p)
        return dpt_error(DPT_ERR_NOMEM, "fashion-mnist: out of memory");
    snprintf(p, len, "%s/%s.gz", dir, name);
    if (access(p, F_OK) != 0) {
        snprintf(p, len, "%s/%s", dir, name);
        if (access(p, F_OK) != 0)
            snprintf(p, len, "%s/%s.gz", dir, name);
    }
    *out = p;
    return DPT_OK;
}

enum dpt_status dpt_load_fashion_mnist(const char *dir, int test, struct dpt_dataset **out)
{
    if (!out)
        return dpt_error(DPT_ERR_INVALID, "dpt_load_fashion_mnist: out is NULL");
    *out = NULL;
    if (!dir)
        dir = DPT_FASHION_MNIST_DIR;
    char *images = NULL, *labels = NULL;
    enum dpt_status st =
        fmnist_path(dir, test ? "t10k-images-idx3-ubyte" : "train-images-idx3-ubyte", &images);
    if (st == DPT_OK)
        st = fmnist_path(dir, test ? "t10k-labels-idx1-ubyte" : "train-labels-idx1-ubyte", &labels);
    if (st == DPT_OK)
        st = dpt_load_idx(images, labels, out);
    dpt_free(images);
    dpt_free(labels);
    return st;
}
