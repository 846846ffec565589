// NumPy export and import of a model: one NPY file per tensor (W1.npy, b1.npy, ...), the
// normalisation as norm_shift.npy and norm_scale.npy, and the rest of the model's metadata in
// dptrain.json.
// Writes NPY 1.0 ('<f4', C order); reads NPY 1.0, 2.0 and 3.0 with '<f4' or '<f8' data. The
// header is a Python dict literal, parsed here by a small tokenizer (it is not JSON).
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error_impl.h"
#include "dptrain/io.h"
#include "io/file_impl.h"
#include "io/model_impl.h"
#include "io/npy_impl.h"

// NumPy itself refuses headers beyond 10000 bytes by default; allow more, but bound it.
#define NPY_HEADER_MAX (1u << 20)
#define NPY_MAX_DIMS   DPT_NPY_MAX_DIMS
#define CHUNK_FLOATS   16384

static const unsigned char npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

// "<dir>/<name>.npy" in a new dpt_malloc'd string, or NULL when out of memory.
static char *npy_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 6;
    char *p = dpt_malloc(n);
    if (p)
        snprintf(p, n, "%s/%s.npy", dir, name);
    return p;
}

// "<dir>/" DPT_NPY_META_FILE in a new dpt_malloc'd string, or NULL when out of memory.
static char *meta_path(const char *dir)
{
    size_t n = strlen(dir) + sizeof DPT_NPY_META_FILE + 1;
    char *p = dpt_malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, DPT_NPY_META_FILE);
    return p;
}

// The tensor of layer l: W (is_bias 0) or b (1), its shape and its place in the parameters.
static void tensor_of(const struct dpt_net *net, size_t l, int is_bias, char *name, size_t cap,
                      size_t *ndim, size_t shape[2], size_t *off)
{
    const struct dpt_net_spec *spec = dpt_net_spec(net);
    size_t w_off = 0, b_off = 0;
    (void)dpt_net_layer_offsets(net, l, &w_off, &b_off);
    snprintf(name, cap, "%c%zu", is_bias ? 'b' : 'W', l);
    shape[0] = spec->sizes[l];
    shape[1] = spec->sizes[l - 1];
    *ndim = is_bias ? 1 : 2;
    *off = is_bias ? b_off : w_off;
}

// ---- export ----

// Makes dir (or finds it there); *made says whether this call created it.
static enum dpt_status make_dir(const char *dir, int *made)
{
    char ebuf[128];
    struct stat sb;
    *made = 0;
    if (mkdir(dir, 0777) == 0) {
        *made = 1;
        return DPT_OK;
    }
    if (errno != EEXIST)
        return dpt_error(DPT_ERR_IO, "%s: cannot create directory: %s", dir,
                         dpt_io_strerror(errno, ebuf, sizeof ebuf));
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return dpt_error(DPT_ERR_IO, "%s: exists and is not a directory", dir);
    return DPT_OK;
}

// Writes one tensor as NPY 1.0. The header dict is padded with spaces and ends in '\n' so that
// magic + version + length + dict is a multiple of 64 bytes, as NumPy writes it (the data then
// starts aligned).
// Writes one tensor as NPY into the temporary file of af (opened here for path), without
// committing it. On error af is aborted: nothing is left behind.
static enum dpt_status stage_npy(struct dpt_atomic_file *af, const char *path, const float *data,
                                 size_t ndim, const size_t shape[2], unsigned char *buf)
{
    char dict[160];
    unsigned char pre[10];
    size_t count = ndim == 2 ? shape[0] * shape[1] : shape[0];
    size_t n, total, hlen;
    enum dpt_status st;
    if (ndim == 2)
        n = (size_t)snprintf(dict, sizeof dict,
                             "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }",
                             shape[0], shape[1]);
    else
        n = (size_t)snprintf(dict, sizeof dict,
                             "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu,), }",
                             shape[0]);
    total = (10 + n + 1 + 63) & ~(size_t)63;
    hlen = total - 10;
    memcpy(pre, npy_magic, 6);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)hlen;
    pre[9] = (unsigned char)(hlen >> 8);

    st = dpt_atomic_open(af, path);
    if (st != DPT_OK)
        return st;
    st = dpt_atomic_write(af, pre, sizeof pre);
    if (st == DPT_OK)
        st = dpt_atomic_write(af, dict, n);
    for (size_t i = n; st == DPT_OK && i < hlen - 1; i++)
        st = dpt_atomic_write(af, " ", 1);
    if (st == DPT_OK)
        st = dpt_atomic_write(af, "\n", 1);
    for (size_t i = 0; st == DPT_OK && i < count; i += CHUNK_FLOATS) {
        size_t k = count - i < CHUNK_FLOATS ? count - i : CHUNK_FLOATS;
        dpt_f32_to_le(buf, data + i, k);
        st = dpt_atomic_write(af, buf, 4 * k);
    }
    if (st != DPT_OK)
        dpt_atomic_abort(af);
    return st;
}

// Writes text into the temporary file of af (opened here for path), without committing it. On
// error af is aborted.
static enum dpt_status stage_text(struct dpt_atomic_file *af, const char *path, const char *text)
{
    enum dpt_status st = dpt_atomic_open(af, path);
    if (st != DPT_OK)
        return st;
    st = dpt_atomic_write(af, text, strlen(text));
    if (st != DPT_OK)
        dpt_atomic_abort(af);
    return st;
}

// Every file is written to its temporary file first, and only when all of them are complete
// are they renamed into place: a failure while writing (out of memory, a full disk) leaves the
// directory's files as they were, never a mix of this export's files and older ones.
enum dpt_status dpt_model_export_npy_ex(const struct dpt_net *net,
                                        const struct dpt_model_info *info, const char *dir)
{
    enum { MAX_FILES = 2 * DPT_MAX_LAYERS + 3 };
    struct dpt_atomic_file af[MAX_FILES];
    char *paths[MAX_FILES] = {0};
    size_t staged = 0;
    enum dpt_status st;
    unsigned char *buf = NULL;
    char *meta = NULL;
    int made = 0;
    if (!net || !dir)
        return dpt_error(DPT_ERR_INVALID, "dpt_model_export_npy: net or dir is NULL");
    if (!*dir)
        return dpt_error(DPT_ERR_INVALID, "the export directory's path is empty");
    // The metadata first: an info that does not fit the network is refused before anything is
    // written.
    char *mpath = meta_path(dir);
    if (!mpath)
        return dpt_error(DPT_ERR_NOMEM, "%s: out of memory", dir);
    st = dpt_model_meta_json(mpath, net, info, &meta);
    dpt_free(mpath);
    if (st != DPT_OK)
        return st;
    st = make_dir(dir, &made);
    if (st != DPT_OK) {
        dpt_free(meta);
        return st;
    }
    buf = dpt_malloc(4 * CHUNK_FLOATS);
    if (!buf)
        st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory", dir);
    const size_t L = dpt_net_spec(net)->n_layers, n0 = dpt_net_spec(net)->sizes[0];
    const int norm = info && info->norm.kind != DPT_NORM_NONE;
    for (size_t f = 0; st == DPT_OK && f < 2 * L + (norm ? 2 : 0) + 1; f++) {
        char name[16] = "";
        size_t ndim = 1, shape[2] = {n0, 0}, off = 0;
        const float *data = NULL;
        if (f < 2 * L) {
            tensor_of(net, f / 2 + 1, (int)(f % 2), name, sizeof name, &ndim, shape, &off);
            data = dpt_net_params_const(net) + off;
        } else if (f < 2 * L + (norm ? 2 : 0)) {
            const int scale = f == 2 * L + 1;
            snprintf(name, sizeof name, "%s", scale ? "norm_scale" : "norm_shift");
            data = scale ? info->norm.scale : info->norm.shift;
        }
        paths[staged] = data ? npy_path(dir, name) : meta_path(dir);
        if (!paths[staged]) {
            st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory", dir);
            break;
        }
        st = data ? stage_npy(&af[staged], paths[staged], data, ndim, shape, buf)
                  : stage_text(&af[staged], paths[staged], meta);
        if (st == DPT_OK)
            staged++;
        else
            dpt_free(paths[staged]);
    }
    // Commit in order; after a failed commit the rest are aborted (their temporaries removed).
    // A directory this call made is removed again on failure, with any file committed into it
    // (a full disk left a new, empty directory behind).
    size_t committed = 0;
    for (size_t f = 0; f < staged; f++) {
        if (st == DPT_OK && (st = dpt_atomic_commit(&af[f])) == DPT_OK)
            committed++;
        dpt_atomic_abort(&af[f]);
    }
    if (st != DPT_OK && made) {
        for (size_t f = 0; f < committed; f++)
            unlink(paths[f]);
        rmdir(dir);
    }
    for (size_t f = 0; f < staged; f++)
        dpt_free(paths[f]);
    dpt_free(buf);
    dpt_free(meta);
    return st;
}

enum dpt_status dpt_model_export_npy(const struct dpt_net *net, const char *dir)
{
    return dpt_model_export_npy_ex(net, NULL, dir);
}

// ---- import: the header dict ----

struct cursor {
    const char *p, *end;
};

static void skip_ws(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int accept(struct cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

// A Python string literal in single or double quotes, without escapes (NumPy never writes any
// in these keys and values).
static int read_str(struct cursor *c, char *out, size_t cap)
{
    char q;
    size_t n = 0;
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return 0;
    q = *c->p++;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap)
            return 0;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return 0;
    c->p++;
    out[n] = '\0';
    return 1;
}

static int read_word(struct cursor *c, const char *w)
{
    size_t n = strlen(w);
    skip_ws(c);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

// A non-negative Python int (an 'L' suffix, as Python 2 wrote it, is accepted).
static int read_size(struct cursor *c, size_t *out)
{
    size_t v = 0;
    int any = 0;
    skip_ws(c);
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        size_t d = (size_t)(*c->p - '0');
        if (v > ((size_t)-1 - d) / 10)
            return 0;
        v = v * 10 + d;
        c->p++;
        any = 1;
    }
    if (any && c->p < c->end && *c->p == 'L')
        c->p++;
    *out = v;
    return any;
}

// Parses "{'descr': ..., 'fortran_order': ..., 'shape': (...), }"; on failure *why says what.
static int parse_dict(const char *s, size_t n, struct dpt_npy_header *h, const char **why)
{
    struct cursor c = {s, s + n};
    char key[32];
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    memset(h, 0, sizeof *h);
    *why = "the header is not a Python dict";
    if (!accept(&c, '{'))
        return 0;
    while (!accept(&c, '}')) {
        if (!read_str(&c, key, sizeof key) || !accept(&c, ':'))
            return 0;
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if (!read_str(&c, h->descr, sizeof h->descr)) {
                *why = "'descr' is not a simple dtype string";
                return 0;
            }
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
            if (read_word(&c, "True"))
                h->fortran = 1;
            else if (read_word(&c, "False"))
                h->fortran = 0;
            else {
                *why = "'fortran_order' is not True or False";
                return 0;
            }
            have_fortran = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (!accept(&c, '('))
                return 0;
            while (!accept(&c, ')')) {
                if (h->ndim == NPY_MAX_DIMS || !read_size(&c, &h->shape[h->ndim])) {
                    *why = "'shape' is not a tuple of sizes";
                    return 0;
                }
                h->ndim++;
                if (!accept(&c, ',') && !(skip_ws(&c), c.p < c.end && *c.p == ')')) {
                    *why = "'shape' is not a tuple of sizes";
                    return 0;
                }
            }
            have_shape = 1;
        } else {
            *why = "unexpected or repeated key (expected descr, fortran_order and shape)";
            return 0;
        }
        if (!accept(&c, ',')) {
            skip_ws(&c);
            if (c.p >= c.end || *c.p != '}')
                return 0;
        }
    }
    skip_ws(&c);
    if (c.p != c.end) {
        *why = "unexpected text after the dict";
        return 0;
    }
    if (!have_descr || !have_fortran || !have_shape) {
        *why = "missing descr, fortran_order or shape";
        return 0;
    }
    return 1;
}

void dpt_npy_format_shape(char *out, size_t cap, const size_t *shape, size_t ndim)
{
    size_t len = 0;
    len += (size_t)snprintf(out, cap, "(");
    for (size_t d = 0; d < ndim && len < cap; d++)
        len += (size_t)snprintf(out + len, cap - len, "%s%zu", d ? ", " : "", shape[d]);
    if (len < cap)
        snprintf(out + len, cap - len, ndim == 1 ? ",)" : ")");
}

// ---- import ----

enum dpt_status dpt_npy_read_header(FILE *fp, const char *path, uint64_t file_size,
                                    struct dpt_npy_header *h)
{
    enum dpt_status st = DPT_OK;
    unsigned char pre[12];
    const char *why;
    char *dict = NULL;
    size_t hlen, pre_len;

    memset(h, 0, sizeof *h);
    if (fread(pre, 1, 10, fp) != 10 || memcmp(pre, npy_magic, 6) != 0)
        return dpt_error(DPT_ERR_FORMAT, "%s: not an NPY file (no \\x93NUMPY magic at byte 0)",
                         path);
    if (pre[6] == 1) {
        pre_len = 10;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, fp) != 2)
            return dpt_error(DPT_ERR_FORMAT, "%s: truncated in the header length (byte 8)", path);
        pre_len = 12;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else {
        return dpt_error(DPT_ERR_UNSUPPORTED, "%s: NPY format version %u.%u is not supported", path,
                         (unsigned)pre[6], (unsigned)pre[7]);
    }
    if (hlen > NPY_HEADER_MAX || hlen > file_size - pre_len)
        return dpt_error(DPT_ERR_FORMAT, "%s: header length %zu at byte 8 is %s", path, hlen,
                         hlen > NPY_HEADER_MAX ? "over the limit" : "beyond the end of the file");
    dict = dpt_malloc(hlen + 1);
    if (!dict)
        return dpt_error(DPT_ERR_NOMEM, "%s: out of memory", path);
    if (fread(dict, 1, hlen, fp) != hlen) {
        st = dpt_error(DPT_ERR_FORMAT, "%s: truncated in the header", path);
        goto cleanup;
    }
    dict[hlen] = '\0';
    if (!parse_dict(dict, hlen, h, &why)) {
        st = dpt_error(DPT_ERR_FORMAT, "%s: bad header (bytes %zu to %zu): %s", path, pre_len,
                       pre_len + hlen, why);
        goto cleanup;
    }
    h->data_off = pre_len + hlen;
cleanup:
    dpt_free(dict);
    return st;
}

// Reads one NPY file into dst (count floats), checking its header against the expected shape.
static enum dpt_status read_npy(const char *path, const char *name, float *dst, size_t ndim,
                                const size_t shape[2], unsigned char *buf)
{
    enum dpt_status st = DPT_OK;
    char ebuf[128], got[160], want[64];
    struct dpt_npy_header h;
    struct stat sb;
    FILE *fp;
    size_t count, itemsize, data_off, need;
    int is_f8;

    fp = fopen(path, "rb");
    if (!fp)
        return dpt_error(DPT_ERR_IO, "%s: cannot open: %s", path,
                         dpt_io_strerror(errno, ebuf, sizeof ebuf));
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = dpt_error(DPT_ERR_IO, "%s: not a regular file", path);
        goto cleanup;
    }
    st = dpt_npy_read_header(fp, path, (uint64_t)sb.st_size, &h);
    if (st != DPT_OK)
        goto cleanup;
    if (strcmp(h.descr, "<f4") == 0 || strcmp(h.descr, "<f8") == 0) {
        is_f8 = h.descr[2] == '8';
    } else {
        st = dpt_error(h.descr[0] == '>' ? DPT_ERR_UNSUPPORTED : DPT_ERR_FORMAT,
                       "%s: dtype '%s' is not supported (expected '<f4' or '<f8'%s)", path, h.descr,
                       h.descr[0] == '>' ? "; big-endian data" : "");
        goto cleanup;
    }
    if (h.ndim != ndim || h.shape[0] != shape[0] || (ndim == 2 && h.shape[1] != shape[1])) {
        dpt_npy_format_shape(got, sizeof got, h.shape, h.ndim);
        dpt_npy_format_shape(want, sizeof want, shape, ndim);
        st = dpt_error(DPT_ERR_FORMAT, "%s: shape %s, expected %s for %s", path, got, want, name);
        goto cleanup;
    }
    if (h.fortran && ndim == 2 && shape[0] > 1 && shape[1] > 1) {
        st = dpt_error(DPT_ERR_UNSUPPORTED,
                       "%s: fortran_order is True: only C-order arrays are read (save with "
                       "np.ascontiguousarray)",
                       path);
        goto cleanup;
    }
    count = ndim == 2 ? shape[0] * shape[1] : shape[0];
    itemsize = is_f8 ? 8 : 4;
    data_off = h.data_off;
    need = count * itemsize; // count <= 2^31 from a checked spec: no overflow
    if ((uint64_t)sb.st_size != (uint64_t)data_off + need) {
        st = dpt_error(DPT_ERR_FORMAT, "%s: %s: %llu data bytes at byte %zu, expected %zu", path,
                       (uint64_t)sb.st_size < (uint64_t)data_off + need ? "truncated"
                                                                        : "trailing bytes",
                       (unsigned long long)((uint64_t)sb.st_size - data_off), data_off, need);
        goto cleanup;
    }
    for (size_t i = 0; i < count;) {
        size_t k = count - i < CHUNK_FLOATS / 2 ? count - i : CHUNK_FLOATS / 2;
        if (fread(buf, itemsize, k, fp) != k) {
            st =
                dpt_error(DPT_ERR_IO, "%s: read failed at byte %zu", path, data_off + i * itemsize);
            goto cleanup;
        }
        for (size_t j = 0; j < k; j++) {
            float v;
            if (is_f8) {
                double d = dpt_le_to_f64(buf + 8 * j);
                if (!isfinite(d) || fabs(d) > FLT_MAX) {
                    st = dpt_error(DPT_ERR_FORMAT, "%s: element %zu (%g) is not a finite f32", path,
                                   i + j, d);
                    goto cleanup;
                }
                v = (float)d;
            } else {
                dpt_le_to_f32(&v, buf + 4 * j, 1);
                if (!isfinite(v)) {
                    st = dpt_error(DPT_ERR_FORMAT, "%s: element %zu is not finite", path, i + j);
                    goto cleanup;
                }
            }
            dst[i + j] = v;
        }
        i += k;
    }
cleanup:
    fclose(fp);
    return st;
}

enum dpt_status dpt_model_import_npy(struct dpt_net *net, const char *dir)
{
    enum dpt_status st = DPT_OK;
    unsigned char *buf = NULL;
    float *tmp = NULL;
    size_t n_params;
    if (!net || !dir || !*dir)
        return dpt_error(DPT_ERR_INVALID, "dpt_model_import_npy: net or dir is NULL");
    n_params = dpt_net_n_params(net);
    // All or nothing: tensors land in a copy that replaces the parameters only when every file
    // was read.
    tmp = dpt_alloc_aligned(n_params * sizeof *tmp);
    buf = dpt_malloc(4 * CHUNK_FLOATS);
    if (!tmp || !buf) {
        st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory", dir);
        goto cleanup;
    }
    memcpy(tmp, dpt_net_params_const(net), n_params * sizeof *tmp);
    for (size_t l = 1; l <= dpt_net_spec(net)->n_layers && st == DPT_OK; l++) {
        for (int is_bias = 0; is_bias < 2 && st == DPT_OK; is_bias++) {
            char name[16];
            size_t ndim, shape[2], off;
            char *path;
            tensor_of(net, l, is_bias, name, sizeof name, &ndim, shape, &off);
            path = npy_path(dir, name);
            if (!path) {
                st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory", dir);
                break;
            }
            st = read_npy(path, name, tmp + off, ndim, shape, buf);
            dpt_free(path);
        }
    }
    if (st == DPT_OK)
        memcpy(dpt_net_params(net), tmp, n_params * sizeof *tmp);
cleanup:
    dpt_free_aligned(tmp);
    dpt_free(buf);
    return st;
}

// ---- import of a whole model ----

// The whole of a small text file (at most max bytes) into a new NUL-terminated buffer. *missing is
// set when the file does not exist (no error is set then).
static enum dpt_status read_small_file(const char *path, size_t max, char **out, size_t *len,
                                       int *missing)
{
    char ebuf[128];
    struct stat sb;
    *out = NULL;
    *missing = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (errno == ENOENT) {
            *missing = 1;
            return DPT_OK;
        }
        return dpt_error(DPT_ERR_IO, "%s: cannot open: %s", path,
                         dpt_io_strerror(errno, ebuf, sizeof ebuf));
    }
    enum dpt_status st = DPT_OK;
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode))
        st = dpt_error(DPT_ERR_IO, "%s: not a regular file", path);
    else if ((uint64_t)sb.st_size > max)
        st = dpt_error(DPT_ERR_FORMAT, "%s: %llu bytes, over the limit of %zu", path,
                       (unsigned long long)sb.st_size, max);
    else if (!(*out = dpt_malloc((size_t)sb.st_size + 1)))
        st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory", path);
    else if (fread(*out, 1, (size_t)sb.st_size, fp) != (size_t)sb.st_size)
        st = dpt_error(DPT_ERR_IO, "%s: read failed", path);
    if (st == DPT_OK) {
        (*out)[sb.st_size] = '\0';
        *len = (size_t)sb.st_size;
    } else {
        dpt_free(*out);
        *out = NULL;
    }
    fclose(fp);
    return st;
}

// "a,b,c" of the layer sizes or activations of a spec.
static void spec_list(const struct dpt_net_spec *s, int acts, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t l = acts ? 1 : 0; l <= s->n_layers && used < cap; l++) {
        if (acts)
            used += (size_t)snprintf(buf + used, cap - used, "%s%s", l > 1 ? "," : "",
                                     dpt_act_name(s->act[l - 1]));
        else
            used += (size_t)snprintf(buf + used, cap - used, "%s%zu", l ? "," : "", s->sizes[l]);
    }
}

// The architecture given by the caller must be the one the export describes.
static enum dpt_status check_same_spec(const char *path, const struct dpt_net_spec *file,
                                       const struct dpt_net_spec *given)
{
    char a[512], b[512];
    const char *what = NULL;
    int sizes_differ = file->n_layers != given->n_layers;
    for (size_t l = 0; !sizes_differ && l <= file->n_layers; l++)
        sizes_differ = file->sizes[l] != given->sizes[l];
    if (sizes_differ) {
        spec_list(file, 0, a, sizeof a);
        spec_list(given, 0, b, sizeof b);
        what = "layers";
    } else {
        for (size_t l = 0; !what && l < file->n_layers; l++)
            if (file->act[l] != given->act[l]) {
                spec_list(file, 1, a, sizeof a);
                spec_list(given, 1, b, sizeof b);
                what = "act";
            }
    }
    if (!what && file->loss != given->loss) {
        snprintf(a, sizeof a, "%s", dpt_loss_name(file->loss));
        snprintf(b, sizeof b, "%s", dpt_loss_name(given->loss));
        what = "loss";
    }
    if (!what && file->reduction != given->reduction) {
        snprintf(a, sizeof a, "%s", dpt_reduction_name(file->reduction));
        snprintf(b, sizeof b, "%s", dpt_reduction_name(given->reduction));
        what = "reduction";
    }
    if (!what && file->leaky_slope != given->leaky_slope) {
        snprintf(a, sizeof a, "%.9g", (double)file->leaky_slope);
        snprintf(b, sizeof b, "%.9g", (double)given->leaky_slope);
        what = "leaky_slope";
    }
    if (!what)
        return DPT_OK;
    return dpt_error(DPT_ERR_INVALID,
                     "%s: %s is %s, but %s was given (leave the architecture out "
                     "to take it from this file)",
                     path, what, a, b);
}

enum dpt_status dpt_model_import_npy_ex(const char *dir, const struct dpt_net_spec *spec,
                                        struct dpt_net **net, struct dpt_model_info *info)
{
    enum dpt_status st;
    struct dpt_model_info mi;
    struct dpt_net_spec ms;
    struct dpt_net *out = NULL;
    char *mpath = NULL, *text = NULL, *npath = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    int missing = 0;
    dpt_model_info_init(&mi);
    if (info)
        dpt_model_info_init(info);
    if (net)
        *net = NULL;
    if (!dir || !*dir || !net)
        return dpt_error(DPT_ERR_INVALID, "dpt_model_import_npy_ex: dir or net is NULL");
    if (!(mpath = meta_path(dir)))
        return dpt_error(DPT_ERR_NOMEM, "%s: out of memory", dir);
    // The labels of 2^24 classes at 12 bytes each fit well inside this.
    st = read_small_file(mpath, (size_t)1 << 28, &text, &len, &missing);
    if (st == DPT_OK && missing) {
        // An export without metadata (an older dptrain's, or files made by hand): the architecture
        // is the caller's, and the model what dpt_model_save makes of a bare network.
        if (!spec)
            st = dpt_error(DPT_ERR_IO,
                           "%s: not found: without it the architecture must be given (an "
                           "export by an older dptrain, or made by hand)",
                           mpath);
        else
            ms = *spec;
        if (st == DPT_OK && ms.loss != DPT_LOSS_XENT && ms.loss != DPT_LOSS_BCE)
            mi.task = DPT_TASK_REGRESS;
    } else if (st == DPT_OK) {
        st = dpt_model_meta_parse(mpath, text, len, &ms, &mi);
        if (st == DPT_OK && spec)
            st = check_same_spec(mpath, &ms, spec);
    }
    if (st == DPT_OK)
        st = dpt_net_create(&ms, &out);
    if (st == DPT_OK)
        st = dpt_model_import_npy(out, dir);
    if (st == DPT_OK && mi.norm.kind != DPT_NORM_NONE) {
        const size_t n0 = ms.sizes[0], shape[2] = {n0, 0};
        mi.norm.shift = dpt_malloc(n0 * sizeof(float));
        mi.norm.scale = dpt_malloc(n0 * sizeof(float));
        buf = dpt_malloc(4 * CHUNK_FLOATS);
        if (!mi.norm.shift || !mi.norm.scale || !buf)
            st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory", dir);
        for (int k = 0; st == DPT_OK && k < 2; k++) {
            const char *name = k ? "norm_scale" : "norm_shift";
            if (!(npath = npy_path(dir, name))) {
                st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory", dir);
                break;
            }
            st = read_npy(npath, name, k ? mi.norm.scale : mi.norm.shift, 1, shape, buf);
            dpt_free(npath);
            npath = NULL;
        }
    }
    if (st == DPT_OK) {
        *net = out;
        out = NULL;
        if (info) {
            *info = mi; // ownership moves to the caller
            dpt_model_info_init(&mi);
        }
    }
    dpt_net_destroy(out);
    dpt_model_info_cleanup(&mi);
    dpt_free(mpath);
    dpt_free(text);
    dpt_free(buf);
    return st;
}
