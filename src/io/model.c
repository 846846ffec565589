// Model files: the safetensors container (8-byte little-endian header length, JSON header padded
// with spaces to a multiple of 8, raw little-endian f32 tensors), dptrain's __metadata__ (format
// version, architecture, data transformation, provenance, CRC32 of the data section), the
// field-by-field validation on load, and the checkpoint hooks (extra tensors and metadata).
// The layout of a file is documented in docs/formats.md ("Model files").
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "core/error_impl.h"
#include "dptrain/io.h"
#include "io/file_impl.h"
#include "io/model_impl.h"

// A header beyond this is refused before allocating: a real one is a few hundred bytes per layer
// plus the normalisation statistics (about 30 bytes per input feature).
#define HEADER_MAX ((uint64_t)100 * 1000 * 1000)
// Bounds on checkpoint extras, so that validating a hostile header stays cheap (the duplicate
// checks are quadratic in these).
#define EXTRA_MAX    1024
#define NAME_MAX_LEN 64
// Floats converted per chunk when streaming the data section.
#define CHUNK_FLOATS 16384

// The model's own __metadata__ keys, in the order they are written.
enum meta_key {
    MK_FORMAT,
    MK_FORMAT_VERSION,
    MK_LAYERS,
    MK_ACT,
    MK_LOSS,
    MK_REDUCTION,
    MK_LEAKY_SLOPE,
    MK_TASK,
    MK_N_CLASSES,
    MK_CLASS_LABELS,
    MK_CLASS_NAMES,
    MK_NORM,
    MK_NORM_SHIFT,
    MK_NORM_SCALE,
    MK_PROVENANCE,
    MK_DPTRAIN_VERSION,
    MK_CRC32,
    MK_EXTRA_TENSORS,
    MK_COUNT
};

static const char *const meta_names[MK_COUNT] = {
    "format",          "format_version", "layers",       "act",        "loss",
    "reduction",       "leaky_slope",    "task",         "n_classes",  "class_labels",
    "class_names",     "norm",           "norm_shift",   "norm_scale", "provenance",
    "dptrain_version", "crc32",          "extra_tensors"};

static const char *const norm_names[] = {"none", "minmax", "standard"};
static const char *const task_names[] = {"classify", "regress"};

// One tensor of the data section. On save `data` is the source; on load `count` and the offsets
// come from the header.
struct tensor {
    char name[NAME_MAX_LEN + 1];
    const float *data;
    size_t ndim;
    size_t shape[2];
    size_t count;      // floats
    size_t begin, end; // byte offsets inside the data section
    int seen;          // load: found in the header
};

// cJSON resets and sets a global error position inside every parse call; serialising parses
// keeps concurrent loads of distinct files free of data races.
static pthread_mutex_t json_lock = PTHREAD_MUTEX_INITIALIZER;

// ---- small helpers ----

// A growable string for the comma-separated metadata lists.
struct strbuf {
    char *p;
    size_t len, cap;
    int oom;
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
sb_printf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (sb->oom)
        return;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        sb->oom = 1;
        return;
    }
    if (sb->len + (size_t)n + 1 > sb->cap) {
        size_t cap = sb->cap ? sb->cap : 64;
        char *p;
        while (cap < sb->len + (size_t)n + 1)
            cap *= 2;
        p = dpt_realloc(sb->p, cap);
        if (!p) {
            sb->oom = 1;
            return;
        }
        sb->p = p;
        sb->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(sb->p + sb->len, sb->cap - sb->len, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

// Length of the valid UTF-8 prefix of s[0..n) (n when all of it is valid).
static size_t utf8_valid_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (n - i <= k)
            return i;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        // Overlong forms, surrogates and code points beyond U+10FFFF.
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += k + 1;
    }
    return n;
}

static int utf8_valid(const char *s)
{
    size_t n = strlen(s);
    return utf8_valid_prefix((const unsigned char *)s, n) == n;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

// Nonzero when name is W<digits> or b<digits>: the network's own tensor names.
static int looks_like_layer_tensor(const char *name)
{
    if (name[0] != 'W' && name[0] != 'b')
        return 0;
    if (!name[1])
        return 0;
    for (const char *p = name + 1; *p; p++)
        if (!is_digit(*p))
            return 0;
    return 1;
}

// Layer index l in 1..n_layers when name is exactly "<prefix><l>" (no leading zeros), else 0.
static size_t layer_of(const char *name, char prefix, size_t n_layers)
{
    size_t l = 0;
    if (name[0] != prefix || name[1] < '1' || name[1] > '9')
        return 0;
    for (const char *p = name + 1; *p; p++) {
        if (!is_digit(*p) || l > DPT_MAX_LAYERS)
            return 0;
        l = l * 10 + (size_t)(*p - '0');
    }
    return l <= n_layers ? l : 0;
}

static int extra_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_LEN || looks_like_layer_tensor(name) ||
        strcmp(name, "__metadata__") == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' ||
              c == '.' || c == ':' || c == '/' || c == '-'))
            return 0;
    }
    return 1;
}

static int meta_key_reserved(const char *key)
{
    for (int k = 0; k < MK_COUNT; k++)
        if (strcmp(key, meta_names[k]) == 0)
            return 1;
    return 0;
}

// zlib's crc32 takes an unsigned int length: feed it in pieces.
static uLong crc_update(uLong crc, const unsigned char *p, size_t n)
{
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, k);
        p += k;
        n -= k;
    }
    return crc;
}

static char *str_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = dpt_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

// The tensors W1, b1, ..., WL, bL of net, in data order (2 * n_layers entries).
static void net_tensors(const struct dpt_net *net, struct tensor *t)
{
    const struct dpt_net_spec *spec = dpt_net_spec(net);
    const float *params = dpt_net_params_const(net);
    for (size_t l = 1; l <= spec->n_layers; l++) {
        size_t w_off = 0, b_off = 0;
        struct tensor *w = &t[2 * (l - 1)], *b = w + 1;
        (void)dpt_net_layer_offsets(net, l, &w_off, &b_off);
        memset(w, 0, 2 * sizeof *w);
        snprintf(w->name, sizeof w->name, "W%zu", l);
        w->ndim = 2;
        w->shape[0] = spec->sizes[l];
        w->shape[1] = spec->sizes[l - 1];
        // The spec was checked when the net was created: no overflow here.
        w->count = spec->sizes[l] * spec->sizes[l - 1];
        w->data = params ? params + w_off : NULL;
        snprintf(b->name, sizeof b->name, "b%zu", l);
        b->ndim = 1;
        b->shape[0] = spec->sizes[l];
        b->count = spec->sizes[l];
        b->data = params ? params + b_off : NULL;
    }
}

// ---- info ----

void dpt_model_info_init(struct dpt_model_info *info)
{
    if (!info)
        return;
    memset(info, 0, sizeof *info);
    info->task = DPT_TASK_CLASSIFY;
    info->norm.kind = DPT_NORM_NONE;
}

void dpt_model_info_cleanup(struct dpt_model_info *info)
{
    if (!info)
        return;
    dpt_norm_cleanup(&info->norm);
    dpt_free(info->class_labels);
    dpt_free(info->class_names);
    dpt_free(info->provenance);
    dpt_model_info_init(info);
}

enum dpt_status dpt_model_info_set_class_names(struct dpt_model_info *info,
                                               const char *const *names, size_t n)
{
    if (!info || (!names && n > 0))
        return dpt_error(DPT_ERR_INVALID, "dpt_model_info_set_class_names: NULL argument");
    for (size_t i = 0; i < n; i++)
        if (!names[i])
            return dpt_error(DPT_ERR_INVALID, "dpt_model_info_set_class_names: name %zu is NULL",
                             i);
    char **copy = NULL;
    if (names && (copy = dpt_strings_copy(names, n, NULL)) == NULL)
        return dpt_error(DPT_ERR_NOMEM, "class names: out of memory");
    dpt_free(info->class_names);
    info->class_names = copy;
    return DPT_OK;
}

void dpt_model_extra_out_init(struct dpt_model_extra_out *extra)
{
    if (extra)
        memset(extra, 0, sizeof *extra);
}

void dpt_model_extra_out_cleanup(struct dpt_model_extra_out *extra)
{
    if (!extra)
        return;
    for (size_t i = 0; i < extra->n_tensors; i++) {
        if (extra->names)
            dpt_free(extra->names[i]);
        if (extra->data)
            dpt_free(extra->data[i]);
    }
    for (size_t i = 0; i < extra->n_meta; i++) {
        if (extra->meta_keys)
            dpt_free(extra->meta_keys[i]);
        if (extra->meta_values)
            dpt_free(extra->meta_values[i]);
    }
    dpt_free(extra->names);
    dpt_free(extra->data);
    dpt_free(extra->lens);
    dpt_free(extra->meta_keys);
    dpt_free(extra->meta_values);
    dpt_model_extra_out_init(extra);
}

const float *dpt_model_extra_tensor(const struct dpt_model_extra_out *extra, const char *name,
                                    size_t *len)
{
    if (!extra || !name)
        return NULL;
    for (size_t i = 0; i < extra->n_tensors; i++) {
        if (strcmp(extra->names[i], name) == 0) {
            if (len)
                *len = extra->lens[i];
            return extra->data[i];
        }
    }
    return NULL;
}

const char *dpt_model_extra_meta(const struct dpt_model_extra_out *extra, const char *key)
{
    if (!extra || !key)
        return NULL;
    for (size_t i = 0; i < extra->n_meta; i++)
        if (strcmp(extra->meta_keys[i], key) == 0)
            return extra->meta_values[i];
    return NULL;
}

static int cmp_i32(const void *a, const void *b)
{
    const int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

// Whether n class labels hold a value twice (each class must map to its own label, or predict
// and eval cannot tell them apart); *dup is then that value. 0 on out of memory too (the caller
// has its own allocations to fail on).
static int labels_repeat(const int32_t *labels, size_t n, int32_t *dup)
{
    int32_t *v = n > 1 ? dpt_malloc(n * sizeof *v) : NULL;
    if (!v)
        return 0;
    memcpy(v, labels, n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_i32);
    int found = 0;
    for (size_t i = 1; i < n && !found; i++)
        if (v[i] == v[i - 1]) {
            *dup = v[i];
            found = 1;
        }
    dpt_free(v);
    return found;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

// NULL when the n class names are usable (non-empty, valid UTF-8 without control characters,
// distinct); else what is wrong, with the offending name's index in *at. Out of memory skips the
// check for repeats (it is no verdict on the names).
static const char *names_problem(const char *const *names, size_t n, size_t *at)
{
    for (size_t i = 0; i < n; i++) {
        *at = i;
        if (!names[i] || !names[i][0])
            return "is empty";
        if (!utf8_valid(names[i]))
            return "is not valid UTF-8";
        for (const unsigned char *p = (const unsigned char *)names[i]; *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                return "holds a control character";
    }
    const char **v = n > 1 ? dpt_malloc(n * sizeof *v) : NULL;
    if (!v)
        return NULL;
    memcpy(v, names, n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_str);
    const char *why = NULL;
    for (size_t i = 1; i < n && !why; i++)
        if (strcmp(v[i], v[i - 1]) == 0) {
            why = "appears twice";
            for (*at = 0; strcmp(names[*at], v[i]) != 0; (*at)++)
                ;
        }
    dpt_free(v);
    return why;
}

// Checks info against the network and fills *out with a shallow copy whose n_classes is
// resolved (info NULL: classification for xent and bce losses, regression otherwise).
static enum dpt_status resolve_info(const char *path, const struct dpt_net_spec *spec,
                                    const struct dpt_model_info *info, struct dpt_model_info *out)
{
    const size_t n_out = spec->sizes[spec->n_layers], n_in = spec->sizes[0];
    if (info) {
        *out = *info;
    } else {
        dpt_model_info_init(out);
        if (spec->loss != DPT_LOSS_XENT && spec->loss != DPT_LOSS_BCE)
            out->task = DPT_TASK_REGRESS;
    }
    if (out->task == DPT_TASK_CLASSIFY) {
        if (out->n_classes == 0)
            out->n_classes = n_out == 1 ? 2 : n_out;
        if (!(out->n_classes == n_out || (n_out == 1 && out->n_classes == 2)))
            return dpt_error(DPT_ERR_INVALID,
                             "%s: info.n_classes is %zu but the network has %zu output%s (need "
                             "%zu)",
                             path, out->n_classes, n_out, n_out == 1 ? "" : "s",
                             n_out == 1 ? (size_t)2 : n_out);
        int32_t dup;
        if (out->class_labels && labels_repeat(out->class_labels, out->n_classes, &dup))
            return dpt_error(DPT_ERR_INVALID, "%s: info.class_labels: label %d appears twice", path,
                             (int)dup);
        if (out->class_labels && out->class_names)
            return dpt_error(DPT_ERR_INVALID,
                             "%s: info.class_labels and info.class_names are both set (a model's "
                             "labels are numbers or names)",
                             path);
        size_t at;
        const char *why;
        if (out->class_names &&
            (why = names_problem((const char *const *)out->class_names, out->n_classes, &at)))
            return dpt_error(DPT_ERR_INVALID, "%s: info.class_names: name %zu %s", path, at, why);
    } else if (out->task == DPT_TASK_REGRESS) {
        if (out->n_classes != 0 || out->class_labels || out->class_names)
            return dpt_error(DPT_ERR_INVALID,
                             "%s: info.n_classes / info.class_labels / info.class_names are set "
                             "for a regression model",
                             path);
    } else {
        return dpt_error(DPT_ERR_INVALID, "%s: info.task: invalid value %d", path, (int)out->task);
    }
    switch (out->norm.kind) {
    case DPT_NORM_NONE:
        break;
    case DPT_NORM_MINMAX:
    case DPT_NORM_STANDARD:
        if (out->norm.n_in != n_in)
            return dpt_error(DPT_ERR_INVALID,
                             "%s: info.norm.n_in is %zu but the network has %zu inputs", path,
                             out->norm.n_in, n_in);
        if (!out->norm.shift || !out->norm.scale)
            return dpt_error(DPT_ERR_INVALID, "%s: info.norm.shift or scale is NULL", path);
        for (size_t i = 0; i < n_in; i++) {
            if (!isfinite(out->norm.shift[i]))
                return dpt_error(DPT_ERR_INVALID, "%s: info.norm.shift[%zu] is not finite (%g)",
                                 path, i, (double)out->norm.shift[i]);
            if (!isfinite(out->norm.scale[i]))
                return dpt_error(DPT_ERR_INVALID, "%s: info.norm.scale[%zu] is not finite (%g)",
                                 path, i, (double)out->norm.scale[i]);
        }
        break;
    default:
        return dpt_error(DPT_ERR_INVALID, "%s: info.norm.kind: invalid value %d", path,
                         (int)out->norm.kind);
    }
    if (out->provenance && !utf8_valid(out->provenance))
        return dpt_error(DPT_ERR_INVALID, "%s: info.provenance is not valid UTF-8", path);
    return DPT_OK;
}

static enum dpt_status check_extra(const char *path, const struct dpt_model_extra *x)
{
    if (!x)
        return DPT_OK;
    if (x->n_tensors > EXTRA_MAX || x->n_meta > EXTRA_MAX)
        return dpt_error(DPT_ERR_RANGE, "%s: more than %d extra tensors or metadata entries", path,
                         EXTRA_MAX);
    if (x->n_tensors && (!x->names || !x->data || !x->lens))
        return dpt_error(DPT_ERR_INVALID, "%s: extra.names, data or lens is NULL", path);
    if (x->n_meta && (!x->meta_keys || !x->meta_values))
        return dpt_error(DPT_ERR_INVALID, "%s: extra.meta_keys or meta_values is NULL", path);
    for (size_t i = 0; i < x->n_tensors; i++) {
        if (!x->names[i] || !extra_name_valid(x->names[i]))
            return dpt_error(DPT_ERR_INVALID,
                             "%s: extra tensor %zu: invalid name '%s' (1..%d characters of "
                             "[A-Za-z0-9_.:/-], not W<l> or b<l>)",
                             path, i, x->names[i] ? x->names[i] : "(null)", NAME_MAX_LEN);
        if (!x->data[i] && x->lens[i] > 0)
            return dpt_error(DPT_ERR_INVALID, "%s: extra tensor '%s': data is NULL", path,
                             x->names[i]);
        if (x->lens[i] > ((size_t)-1) / 64)
            return dpt_error(DPT_ERR_RANGE, "%s: extra tensor '%s': %zu floats is too many", path,
                             x->names[i], x->lens[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(x->names[i], x->names[j]) == 0)
                return dpt_error(DPT_ERR_INVALID, "%s: extra tensor name '%s' appears twice", path,
                                 x->names[i]);
    }
    for (size_t i = 0; i < x->n_meta; i++) {
        const char *k = x->meta_keys[i], *v = x->meta_values[i];
        if (!k || !v)
            return dpt_error(DPT_ERR_INVALID, "%s: extra metadata %zu: key or value is NULL", path,
                             i);
        if (!*k || strlen(k) > NAME_MAX_LEN || strncmp(k, "__", 2) == 0 || meta_key_reserved(k) ||
            !utf8_valid(k))
            return dpt_error(DPT_ERR_INVALID,
                             "%s: extra metadata key '%s' is invalid or reserved by the model "
                             "format",
                             path, k);
        if (!utf8_valid(v))
            return dpt_error(DPT_ERR_INVALID, "%s: extra metadata '%s': value is not valid UTF-8",
                             path, k);
        for (size_t j = 0; j < i; j++)
            if (strcmp(k, x->meta_keys[j]) == 0)
                return dpt_error(DPT_ERR_INVALID, "%s: extra metadata key '%s' appears twice", path,
                                 k);
    }
    return DPT_OK;
}

// ---- save ----

// Refuses a non-finite value anywhere: a model with NaN or infinity is never written.
static enum dpt_status check_finite(const char *path, const struct tensor *t, size_t nt)
{
    for (size_t k = 0; k < nt; k++)
        for (size_t i = 0; i < t[k].count; i++)
            if (!isfinite(t[k].data[i]))
                return dpt_error(DPT_ERR_INVALID,
                                 "%s: tensor '%s' index %zu is %s: a model with non-finite "
                                 "parameters is not written",
                                 path, t[k].name, i, isnan(t[k].data[i]) ? "NaN" : "infinite");
    return DPT_OK;
}

// Converts the tensors to little-endian bytes chunk by chunk, updating *crc when crc is non-NULL
// and writing to af when af is non-NULL.
static enum dpt_status stream_data(const struct tensor *t, size_t nt, unsigned char *buf,
                                   uLong *crc, struct dpt_atomic_file *af)
{
    for (size_t k = 0; k < nt; k++) {
        for (size_t i = 0; i < t[k].count; i += CHUNK_FLOATS) {
            size_t n = t[k].count - i < CHUNK_FLOATS ? t[k].count - i : CHUNK_FLOATS;
            dpt_f32_to_le(buf, t[k].data + i, n);
            if (crc)
                *crc = crc_update(*crc, buf, 4 * n);
            if (af) {
                enum dpt_status st = dpt_atomic_write(af, buf, 4 * n);
                if (st != DPT_OK)
                    return st;
            }
        }
    }
    return DPT_OK;
}

static int add_str(cJSON *obj, const char *key, const char *value)
{
    return cJSON_AddStringToObject(obj, key, value) != NULL;
}

// An integer printed exactly (cJSON prints numbers through double and %g).
static cJSON *raw_size(size_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", v);
    return cJSON_CreateRaw(buf);
}

static int add_tensor_entry(cJSON *root, const struct tensor *t)
{
    cJSON *e = cJSON_CreateObject(), *shape = cJSON_CreateArray(), *offs = cJSON_CreateArray();
    int ok = e && shape && offs && cJSON_AddStringToObject(e, "dtype", "F32");
    for (size_t d = 0; ok && d < t->ndim; d++) {
        cJSON *v = raw_size(t->shape[d]);
        ok = v && cJSON_AddItemToArray(shape, v);
        if (!ok)
            cJSON_Delete(v);
    }
    for (int d = 0; ok && d < 2; d++) {
        cJSON *v = raw_size(d == 0 ? t->begin : t->end);
        ok = v && cJSON_AddItemToArray(offs, v);
        if (!ok)
            cJSON_Delete(v);
    }
    if (ok && cJSON_AddItemToObject(e, "shape", shape))
        shape = NULL;
    else
        ok = 0;
    if (ok && cJSON_AddItemToObject(e, "data_offsets", offs))
        offs = NULL;
    else
        ok = 0;
    if (ok && cJSON_AddItemToObject(root, t->name, e))
        e = NULL;
    else
        ok = 0;
    cJSON_Delete(shape);
    cJSON_Delete(offs);
    cJSON_Delete(e);
    return ok;
}

// Builds the metadata object; returns NULL when out of memory.
// npy: for an npy export's dptrain.json, without the norm arrays (they are .npy files there), the
// checksum and the extras.
static cJSON *build_metadata(const struct dpt_net_spec *spec, const struct dpt_model_info *info,
                             const struct dpt_model_extra *extra, uLong crc, int npy)
{
    cJSON *meta = cJSON_CreateObject();
    struct strbuf sb = {0};
    char num[64];
    int ok = meta != NULL;
    ok = ok && add_str(meta, "format", "dptrain");
    snprintf(num, sizeof num, "%d", DPT_MODEL_FORMAT_VERSION);
    ok = ok && add_str(meta, "format_version", num);
    for (size_t l = 0; l <= spec->n_layers; l++)
        sb_printf(&sb, "%s%zu", l ? "," : "", spec->sizes[l]);
    ok = ok && !sb.oom && add_str(meta, "layers", sb.p);
    sb.len = 0;
    for (size_t l = 1; l <= spec->n_layers; l++)
        sb_printf(&sb, "%s%s", l > 1 ? "," : "", dpt_act_name(spec->act[l - 1]));
    ok = ok && !sb.oom && add_str(meta, "act", sb.p);
    ok = ok && add_str(meta, "loss", dpt_loss_name(spec->loss));
    ok = ok && add_str(meta, "reduction", dpt_reduction_name(spec->reduction));
    // %.9g round-trips every float exactly.
    snprintf(num, sizeof num, "%.9g", (double)spec->leaky_slope);
    ok = ok && add_str(meta, "leaky_slope", num);
    ok = ok && add_str(meta, "task", task_names[info->task]);
    snprintf(num, sizeof num, "%zu", info->n_classes);
    ok = ok && add_str(meta, "n_classes", num);
    if (info->class_labels) {
        sb.len = 0;
        for (size_t i = 0; i < info->n_classes; i++)
            sb_printf(&sb, "%s%d", i ? "," : "", (int)info->class_labels[i]);
        ok = ok && !sb.oom && add_str(meta, "class_labels", sb.p);
    }
    if (info->class_names) {
        // A JSON array of strings: names may hold commas (json.loads reads it back in Python).
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; arr && i < info->n_classes; i++) {
            cJSON *str = cJSON_CreateString(info->class_names[i]);
            if (!str || !cJSON_AddItemToArray(arr, str)) {
                cJSON_Delete(str);
                cJSON_Delete(arr);
                arr = NULL;
            }
        }
        char *text = arr ? cJSON_PrintUnformatted(arr) : NULL;
        ok = ok && text && add_str(meta, "class_names", text);
        cJSON_free(text);
        cJSON_Delete(arr);
    }
    ok = ok && add_str(meta, "norm", norm_names[info->norm.kind]);
    if (info->norm.kind != DPT_NORM_NONE && !npy) {
        sb.len = 0;
        for (size_t i = 0; i < info->norm.n_in; i++)
            sb_printf(&sb, "%s%.9g", i ? "," : "", (double)info->norm.shift[i]);
        ok = ok && !sb.oom && add_str(meta, "norm_shift", sb.p);
        sb.len = 0;
        for (size_t i = 0; i < info->norm.n_in; i++)
            sb_printf(&sb, "%s%.9g", i ? "," : "", (double)info->norm.scale[i]);
        ok = ok && !sb.oom && add_str(meta, "norm_scale", sb.p);
    }
    if (info->provenance)
        ok = ok && add_str(meta, "provenance", info->provenance);
    ok = ok && add_str(meta, "dptrain_version", dpt_version());
    snprintf(num, sizeof num, "%08lx", (unsigned long)crc);
    if (!npy)
        ok = ok && add_str(meta, "crc32", num);
    if (extra && extra->n_tensors > 0) {
        sb.len = 0;
        for (size_t i = 0; i < extra->n_tensors; i++)
            sb_printf(&sb, "%s%s", i ? "," : "", extra->names[i]);
        ok = ok && !sb.oom && add_str(meta, "extra_tensors", sb.p);
    }
    for (size_t i = 0; extra && i < extra->n_meta; i++)
        ok = ok && add_str(meta, extra->meta_keys[i], extra->meta_values[i]);
    dpt_free(sb.p);
    if (!ok) {
        cJSON_Delete(meta);
        return NULL;
    }
    return meta;
}

enum dpt_status dpt_model_save_ex(const char *path, const struct dpt_net *net,
                                  const struct dpt_model_info *info,
                                  const struct dpt_model_extra *extra)
{
    enum dpt_status st;
    struct dpt_model_info res;
    struct dpt_atomic_file af = {0};
    struct tensor *t = NULL;
    unsigned char *buf = NULL, lenbuf[8];
    cJSON *root = NULL, *meta = NULL;
    char *json = NULL;
    size_t nt, n_net, pos = 0, jlen, hlen;
    uLong crc = crc32(0L, Z_NULL, 0);

    if (!path || !*path || !net)
        return dpt_error(DPT_ERR_INVALID, "dpt_model_save: path or net is NULL");
    const struct dpt_net_spec *spec = dpt_net_spec(net);
    st = resolve_info(path, spec, info, &res);
    if (st != DPT_OK)
        return st;
    st = check_extra(path, extra);
    if (st != DPT_OK)
        return st;

    n_net = 2 * spec->n_layers;
    nt = n_net + (extra ? extra->n_tensors : 0);
    t = dpt_calloc(nt, sizeof *t);
    buf = dpt_malloc(4 * CHUNK_FLOATS);
    if (!t || !buf) {
        st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    net_tensors(net, t);
    for (size_t i = n_net; i < nt; i++) {
        struct tensor *x = &t[i];
        snprintf(x->name, sizeof x->name, "%s", extra->names[i - n_net]);
        x->ndim = 1;
        x->shape[0] = x->count = extra->lens[i - n_net];
        x->data = extra->data[i - n_net];
    }
    for (size_t i = 0; i < nt; i++) {
        t[i].begin = pos;
        if (dpt_add_overflow(pos, 4 * t[i].count, &pos)) {
            st = dpt_error(DPT_ERR_RANGE, "%s: the data section overflows", path);
            goto cleanup;
        }
        t[i].end = pos;
    }
    st = check_finite(path, t, nt);
    if (st != DPT_OK)
        goto cleanup;
    st = stream_data(t, nt, buf, &crc, NULL);
    if (st != DPT_OK)
        goto cleanup;

    root = cJSON_CreateObject();
    meta = root ? build_metadata(spec, &res, extra, crc, 0) : NULL;
    if (!meta || !cJSON_AddItemToObject(root, "__metadata__", meta)) {
        cJSON_Delete(meta);
        st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory building the header", path);
        goto cleanup;
    }
    for (size_t i = 0; i < nt; i++) {
        if (!add_tensor_entry(root, &t[i])) {
            st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory building the header", path);
            goto cleanup;
        }
    }
    json = cJSON_PrintUnformatted(root);
    if (!json) {
        st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory printing the header", path);
        goto cleanup;
    }
    // Padding to a multiple of 8 keeps the data section 8-byte aligned for readers that map it.
    jlen = strlen(json);
    hlen = (jlen + 7) & ~(size_t)7;
    for (int i = 0; i < 8; i++)
        lenbuf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));

    st = dpt_atomic_open(&af, path);
    if (st != DPT_OK)
        goto cleanup;
    st = dpt_atomic_write(&af, lenbuf, 8);
    if (st == DPT_OK)
        st = dpt_atomic_write(&af, json, jlen);
    if (st == DPT_OK)
        st = dpt_atomic_write(&af, "       ", hlen - jlen);
    if (st == DPT_OK)
        st = stream_data(t, nt, buf, NULL, &af);
    if (st == DPT_OK)
        st = dpt_atomic_commit(&af);

cleanup:
    dpt_atomic_abort(&af);
    if (json)
        cJSON_free(json);
    cJSON_Delete(root);
    dpt_free(buf);
    dpt_free(t);
    return st;
}

enum dpt_status dpt_model_save(const char *path, const struct dpt_net *net,
                               const struct dpt_model_info *info)
{
    return dpt_model_save_ex(path, net, info, NULL);
}

// ---- load: value parsers ----

// Copies the next comma-separated item of *cur into tok (NUL-terminated) and advances *cur past
// the comma. Returns 0 when the item is longer than tok.
static int next_item(const char **cur, char *tok, size_t cap)
{
    const char *p = *cur, *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    if (n >= cap)
        return 0;
    memcpy(tok, p, n);
    tok[n] = '\0';
    *cur = comma ? comma + 1 : p + n;
    return 1;
}

static size_t count_items(const char *s)
{
    size_t n = 1;
    for (; *s; s++)
        n += *s == ',';
    return n;
}

// A decimal integer without sign in [0, max].
static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (!is_digit(*s))
            return 0;
        if (v > (max - (uint64_t)(*s - '0')) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 1;
}

static int parse_i32(const char *s, int32_t *out)
{
    uint64_t v;
    int neg = *s == '-';
    if (!parse_uint(s + neg, neg ? (uint64_t)INT32_MAX + 1 : (uint64_t)INT32_MAX, &v))
        return 0;
    *out = neg ? (int32_t)(-(int64_t)v) : (int32_t)v;
    return 1;
}

// A finite float in C notation; no surrounding spaces.
static int parse_f32(const char *s, float *out)
{
    char *end;
    float v;
    if (!(is_digit(*s) || *s == '-' || *s == '+' || *s == '.'))
        return 0;
    v = strtof(s, &end);
    if (end == s || *end || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

// A comma-separated list of exactly n finite floats into a new dpt_malloc'd array.
static enum dpt_status parse_f32_list(const char *path, const char *key, const char *s, size_t n,
                                      float **out)
{
    char tok[64];
    float *v;
    size_t have = count_items(s);
    *out = NULL;
    if (have != n)
        return dpt_error(DPT_ERR_FORMAT, "%s: __metadata__.%s has %zu values, expected %zu", path,
                         key, have, n);
    v = dpt_malloc(n * sizeof *v);
    if (!v)
        return dpt_error(DPT_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) {
        if (!next_item(&s, tok, sizeof tok) || !parse_f32(tok, &v[i])) {
            dpt_free(v);
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: __metadata__.%s: value %zu is not a finite number", path, key, i);
        }
    }
    *out = v;
    return DPT_OK;
}

// Copies the calling thread's error message: dpt_error would otherwise format from the buffer it
// writes into.
static enum dpt_status rewrap(enum dpt_status st, const char *path, const char *what)
{
    char why[512];
    snprintf(why, sizeof why, "%s", dpt_last_error());
    return dpt_error(st, "%s: %s: %s", path, what, why);
}

// ---- load: the header ----

// What the header says, before the network exists.
struct header {
    const char *meta[MK_COUNT]; // borrowed from the cJSON tree; NULL when absent
    struct dpt_net_spec spec;
    uint32_t crc;
    struct dpt_model_info info; // owned arrays
    size_t n_extra;             // declared extra tensors (t[2L .. 2L + n_extra))
    size_t n_other;             // unknown metadata entries
    const cJSON **other;        // n_other entries (borrowed)
    int npy;                    // an npy export's dptrain.json: the norm arrays are not here
};

static enum dpt_status need(const char *path, const struct header *h, enum meta_key k)
{
    if (!h->meta[k])
        return dpt_error(DPT_ERR_FORMAT, "%s: __metadata__.%s is missing", path, meta_names[k]);
    return DPT_OK;
}

// Collects the metadata strings: every value must be a string, no key twice.
static enum dpt_status read_metadata(const char *path, const cJSON *meta, struct header *h)
{
    const cJSON *e;
    size_t n_other = 0;
    if (!cJSON_IsObject(meta))
        return dpt_error(DPT_ERR_FORMAT, "%s: __metadata__ is not a JSON object", path);
    cJSON_ArrayForEach(e, meta)
    {
        int k;
        if (!cJSON_IsString(e) || !e->valuestring)
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: __metadata__.%s is not a string (safetensors metadata holds "
                             "strings only)",
                             path, e->string);
        for (k = 0; k < MK_COUNT; k++)
            if (strcmp(e->string, meta_names[k]) == 0)
                break;
        if (k < MK_COUNT) {
            if (h->meta[k])
                return dpt_error(DPT_ERR_FORMAT, "%s: __metadata__.%s appears twice", path,
                                 e->string);
            h->meta[k] = e->valuestring;
        } else {
            if (n_other >= EXTRA_MAX)
                return dpt_error(DPT_ERR_FORMAT, "%s: __metadata__ has more than %d unknown keys",
                                 path, EXTRA_MAX);
            n_other++;
        }
    }
    if (n_other) {
        h->other = dpt_calloc(n_other, sizeof *h->other);
        if (!h->other)
            return dpt_error(DPT_ERR_NOMEM, "%s: out of memory", path);
        cJSON_ArrayForEach(e, meta)
        {
            if (meta_key_reserved(e->string))
                continue;
            for (size_t j = 0; j < h->n_other; j++)
                if (strcmp(h->other[j]->string, e->string) == 0)
                    return dpt_error(DPT_ERR_FORMAT, "%s: __metadata__.%s appears twice", path,
                                     e->string);
            h->other[h->n_other++] = e;
        }
    }
    return DPT_OK;
}

// Format and version first: a future version may lay out every other field differently.
static enum dpt_status parse_version(const char *path, const struct header *h)
{
    enum dpt_status st;
    uint64_t v;
    if ((st = need(path, h, MK_FORMAT)) != DPT_OK || (st = need(path, h, MK_FORMAT_VERSION)))
        return st;
    if (strcmp(h->meta[MK_FORMAT], "dptrain") != 0)
        return dpt_error(DPT_ERR_FORMAT, "%s: __metadata__.format is '%s', not 'dptrain'", path,
                         h->meta[MK_FORMAT]);
    if (!parse_uint(h->meta[MK_FORMAT_VERSION], UINT32_MAX, &v) || v == 0)
        return dpt_error(DPT_ERR_FORMAT, "%s: __metadata__.format_version '%s' is not a version",
                         path, h->meta[MK_FORMAT_VERSION]);
    if (v > DPT_MODEL_FORMAT_VERSION)
        return dpt_error(DPT_ERR_UNSUPPORTED,
                         "%s: format version %llu is newer than this dptrain "
                         "(%d)",
                         path, (unsigned long long)v, DPT_MODEL_FORMAT_VERSION);
    return DPT_OK;
}

static enum dpt_status parse_spec(const char *path, struct header *h)
{
    enum dpt_status st;
    struct dpt_net_spec *spec = &h->spec;
    const char *cur;
    char tok[64];
    size_t n;
    for (int k = MK_LAYERS; k <= MK_LEAKY_SLOPE; k++)
        if ((st = need(path, h, (enum meta_key)k)) != DPT_OK)
            return st;
    *spec = dpt_net_spec_default();
    cur = h->meta[MK_LAYERS];
    n = count_items(cur);
    if (n < 2 || n > DPT_MAX_LAYERS + 1)
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: __metadata__.layers '%.64s' has %zu sizes, expected 2..%d", path, cur,
                         n, DPT_MAX_LAYERS + 1);
    spec->n_layers = n - 1;
    for (size_t l = 0; l < n; l++) {
        uint64_t v;
        if (!next_item(&cur, tok, sizeof tok) || !parse_uint(tok, SIZE_MAX, &v))
            return dpt_error(DPT_ERR_FORMAT, "%s: __metadata__.layers: size %zu is not a number",
                             path, l);
        spec->sizes[l] = (size_t)v;
    }
    cur = h->meta[MK_ACT];
    n = count_items(cur);
    if (n != spec->n_layers)
        return dpt_error(DPT_ERR_FORMAT, "%s: __metadata__.act has %zu activations for %zu layers",
                         path, n, spec->n_layers);
    for (size_t l = 0; l < n; l++) {
        if (!next_item(&cur, tok, sizeof tok))
            return dpt_error(DPT_ERR_FORMAT, "%s: __metadata__.act: activation %zu is too long",
                             path, l);
        if (dpt_act_parse(tok, &spec->act[l]) != DPT_OK)
            return rewrap(DPT_ERR_FORMAT, path, "__metadata__.act");
    }
    if (dpt_loss_parse(h->meta[MK_LOSS], &spec->loss) != DPT_OK)
        return rewrap(DPT_ERR_FORMAT, path, "__metadata__.loss");
    if (dpt_reduction_parse(h->meta[MK_REDUCTION], &spec->reduction) != DPT_OK)
        return rewrap(DPT_ERR_FORMAT, path, "__metadata__.reduction");
    if (!parse_f32(h->meta[MK_LEAKY_SLOPE], &spec->leaky_slope))
        return dpt_error(DPT_ERR_FORMAT, "%s: __metadata__.leaky_slope '%.64s' is not a number",
                         path, h->meta[MK_LEAKY_SLOPE]);
    if (dpt_net_spec_check(spec) != DPT_OK)
        return rewrap(DPT_ERR_FORMAT, path, "__metadata__ describes an invalid network");
    return DPT_OK;
}

// __metadata__.class_names: a JSON array of n_classes distinct, non-empty strings.
static enum dpt_status parse_class_names(const char *path, const char *text,
                                         struct dpt_model_info *info)
{
    pthread_mutex_lock(&json_lock);
    cJSON *arr = cJSON_Parse(text);
    pthread_mutex_unlock(&json_lock);
    enum dpt_status st = DPT_OK;
    const size_t n = info->n_classes;
    const char **names = NULL;
    if (!cJSON_IsArray(arr) || (size_t)cJSON_GetArraySize(arr) != n) {
        st = dpt_error(DPT_ERR_FORMAT,
                       "%s: __metadata__.class_names is not a JSON array of %zu strings", path, n);
        goto cleanup;
    }
    names = dpt_malloc((n ? n : 1) * sizeof *names);
    if (!names) {
        st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    size_t i = 0;
    for (cJSON *e = arr->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e) || strlen(e->valuestring) == 0) {
            st = dpt_error(DPT_ERR_FORMAT,
                           "%s: __metadata__.class_names: entry %zu is not a non-empty string",
                           path, i);
            goto cleanup;
        }
        names[i] = e->valuestring;
    }
    size_t at;
    const char *why = names_problem(names, n, &at);
    if (why) {
        st = dpt_error(DPT_ERR_FORMAT, "%s: __metadata__.class_names: name %zu %s", path, at, why);
        goto cleanup;
    }
    if ((info->class_names = dpt_strings_copy(names, n, NULL)) == NULL)
        st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory", path);
cleanup:
    dpt_free(names);
    cJSON_Delete(arr);
    return st;
}

static enum dpt_status parse_info(const char *path, struct header *h)
{
    enum dpt_status st;
    struct dpt_model_info *info = &h->info;
    const size_t n_out = h->spec.sizes[h->spec.n_layers], n_in = h->spec.sizes[0];
    uint64_t v;
    const char *s;
    int k;
    if ((st = need(path, h, MK_TASK)) || (st = need(path, h, MK_N_CLASSES)) ||
        (st = need(path, h, MK_NORM)) || (st = need(path, h, MK_DPTRAIN_VERSION)))
        return st;
    for (k = 0; k < 2; k++)
        if (strcmp(h->meta[MK_TASK], task_names[k]) == 0)
            break;
    if (k == 2)
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: __metadata__.task '%.64s' is not 'classify' or 'regress'", path,
                         h->meta[MK_TASK]);
    info->task = (enum dpt_task)k;
    if (!parse_uint(h->meta[MK_N_CLASSES], SIZE_MAX, &v))
        return dpt_error(DPT_ERR_FORMAT, "%s: __metadata__.n_classes '%.64s' is not a number", path,
                         h->meta[MK_N_CLASSES]);
    info->n_classes = (size_t)v;
    if (info->task == DPT_TASK_CLASSIFY &&
        !(info->n_classes == n_out || (n_out == 1 && info->n_classes == 2)))
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: __metadata__.n_classes is %zu but the network has %zu outputs", path,
                         info->n_classes, n_out);
    if (info->task == DPT_TASK_REGRESS &&
        (info->n_classes != 0 || h->meta[MK_CLASS_LABELS] || h->meta[MK_CLASS_NAMES]))
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: __metadata__.n_classes / class_labels / class_names given for a "
                         "regression model",
                         path);
    if (h->meta[MK_CLASS_LABELS] && h->meta[MK_CLASS_NAMES])
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: __metadata__ has both class_labels and class_names (the labels are "
                         "numbers or names)",
                         path);
    if ((s = h->meta[MK_CLASS_NAMES]) != NULL && (st = parse_class_names(path, s, info)) != DPT_OK)
        return st;
    if ((s = h->meta[MK_CLASS_LABELS]) != NULL) {
        char tok[64];
        size_t n = count_items(s);
        if (n != info->n_classes)
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: __metadata__.class_labels has %zu labels for %zu classes", path,
                             n, info->n_classes);
        info->class_labels = dpt_malloc(n * sizeof *info->class_labels);
        if (!info->class_labels)
            return dpt_error(DPT_ERR_NOMEM, "%s: out of memory", path);
        for (size_t i = 0; i < n; i++)
            if (!next_item(&s, tok, sizeof tok) || !parse_i32(tok, &info->class_labels[i]))
                return dpt_error(DPT_ERR_FORMAT,
                                 "%s: __metadata__.class_labels: label %zu is not an integer", path,
                                 i);
        int32_t dup;
        if (labels_repeat(info->class_labels, n, &dup))
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: __metadata__.class_labels: label %d appears twice (each class "
                             "needs its own)",
                             path, (int)dup);
    }
    for (k = 0; k < 3; k++)
        if (strcmp(h->meta[MK_NORM], norm_names[k]) == 0)
            break;
    if (k == 3)
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: __metadata__.norm '%.64s' is not 'none', 'minmax' or 'standard'",
                         path, h->meta[MK_NORM]);
    info->norm.kind = (enum dpt_norm)k;
    if (info->norm.kind == DPT_NORM_NONE) {
        if (h->meta[MK_NORM_SHIFT] || h->meta[MK_NORM_SCALE])
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: __metadata__.norm_shift / norm_scale given but norm is 'none'",
                             path);
    } else if (h->npy) {
        info->norm.n_in = n_in; // the arrays are norm_shift.npy and norm_scale.npy
    } else {
        if ((st = need(path, h, MK_NORM_SHIFT)) || (st = need(path, h, MK_NORM_SCALE)))
            return st;
        info->norm.n_in = n_in;
        if ((st = parse_f32_list(path, "norm_shift", h->meta[MK_NORM_SHIFT], n_in,
                                 &info->norm.shift)) ||
            (st = parse_f32_list(path, "norm_scale", h->meta[MK_NORM_SCALE], n_in,
                                 &info->norm.scale)))
            return st;
    }
    if (h->meta[MK_PROVENANCE]) {
        info->provenance = str_dup(h->meta[MK_PROVENANCE]);
        if (!info->provenance)
            return dpt_error(DPT_ERR_NOMEM, "%s: out of memory", path);
    }
    return DPT_OK;
}

static enum dpt_status parse_crc(const char *path, struct header *h)
{
    enum dpt_status st = need(path, h, MK_CRC32);
    const char *s = h->meta[MK_CRC32];
    uint32_t v = 0;
    if (st != DPT_OK)
        return st;
    for (size_t i = 0; i < 8; i++) {
        char c = s[i];
        unsigned d;
        if (is_digit(c))
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return dpt_error(DPT_ERR_FORMAT, "%s: __metadata__.crc32 '%.16s' is not 8 hex digits",
                             path, s);
        v = v << 4 | d;
    }
    if (s[8])
        return dpt_error(DPT_ERR_FORMAT, "%s: __metadata__.crc32 '%.16s' is not 8 hex digits", path,
                         s);
    h->crc = v;
    return DPT_OK;
}

// Fills the expected tensor table: the network's, then the declared extras.
static enum dpt_status expected_tensors(const char *path, struct header *h, struct tensor **out,
                                        size_t *nt)
{
    const size_t L = h->spec.n_layers;
    const char *cur = h->meta[MK_EXTRA_TENSORS];
    size_t n_extra = cur ? count_items(cur) : 0;
    struct tensor *t;
    if (n_extra > EXTRA_MAX)
        return dpt_error(DPT_ERR_FORMAT, "%s: __metadata__.extra_tensors lists more than %d names",
                         path, EXTRA_MAX);
    t = dpt_calloc(2 * L + n_extra, sizeof *t);
    if (!t)
        return dpt_error(DPT_ERR_NOMEM, "%s: out of memory", path);
    *out = t;
    for (size_t l = 1; l <= L; l++) {
        struct tensor *w = &t[2 * (l - 1)], *b = w + 1;
        snprintf(w->name, sizeof w->name, "W%zu", l);
        w->ndim = 2;
        w->shape[0] = h->spec.sizes[l];
        w->shape[1] = h->spec.sizes[l - 1];
        w->count = w->shape[0] * w->shape[1];
        snprintf(b->name, sizeof b->name, "b%zu", l);
        b->ndim = 1;
        b->shape[0] = b->count = h->spec.sizes[l];
    }
    for (size_t i = 0; i < n_extra; i++) {
        struct tensor *x = &t[2 * L + i];
        if (!next_item(&cur, x->name, sizeof x->name) || !extra_name_valid(x->name))
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: __metadata__.extra_tensors: name %zu is not a valid tensor name",
                             path, i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(x->name, t[2 * L + j].name) == 0)
                return dpt_error(DPT_ERR_FORMAT, "%s: __metadata__.extra_tensors lists '%s' twice",
                                 path, x->name);
        x->ndim = 1; // shape read from the header
    }
    h->n_extra = n_extra;
    *nt = 2 * L + n_extra;
    return DPT_OK;
}

// A JSON number that is an exact non-negative integer no larger than max.
static int json_size(const cJSON *v, size_t max, size_t *out)
{
    double d;
    if (!cJSON_IsNumber(v))
        return 0;
    d = v->valuedouble;
    if (!(d >= 0.0 && d <= (double)max && d <= 9007199254740992.0) || d != floor(d))
        return 0;
    *out = (size_t)d;
    return 1;
}

// Checks one tensor entry of the header against what the spec expects.
static enum dpt_status read_tensor_entry(const char *path, const cJSON *e, struct tensor *t,
                                         int is_extra, size_t data_len)
{
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    const cJSON *v;
    size_t d = 0, dim, bytes;
    if (!cJSON_IsObject(e))
        return dpt_error(DPT_ERR_FORMAT, "%s: tensor '%s' is not a JSON object", path, t->name);
    if (!cJSON_IsString(dtype))
        return dpt_error(DPT_ERR_FORMAT, "%s: tensor '%s': dtype is missing or not a string", path,
                         t->name);
    if (strcmp(dtype->valuestring, "F32") != 0)
        return dpt_error(DPT_ERR_FORMAT, "%s: tensor '%s': dtype '%.16s' is not F32", path, t->name,
                         dtype->valuestring);
    if (!cJSON_IsArray(shape))
        return dpt_error(DPT_ERR_FORMAT, "%s: tensor '%s': shape is missing or not an array", path,
                         t->name);
    if ((size_t)cJSON_GetArraySize(shape) != t->ndim)
        return dpt_error(DPT_ERR_FORMAT, "%s: tensor '%s': shape has %d dimensions, expected %zu",
                         path, t->name, cJSON_GetArraySize(shape), t->ndim);
    cJSON_ArrayForEach(v, shape)
    {
        if (!json_size(v, SIZE_MAX, &dim))
            return dpt_error(DPT_ERR_FORMAT, "%s: tensor '%s': shape[%zu] is not a size", path,
                             t->name, d);
        if (is_extra) {
            // An extra's length is whatever the file says; its bytes must fit the data section.
            if (dim > data_len / 4)
                return dpt_error(DPT_ERR_FORMAT,
                                 "%s: tensor '%s': shape [%zu] exceeds the data section", path,
                                 t->name, dim);
            t->shape[0] = t->count = dim;
        } else if (dim != t->shape[d]) {
            if (t->ndim == 2)
                return dpt_error(DPT_ERR_FORMAT,
                                 "%s: tensor '%s': shape [%.0f, %.0f], expected [%zu, %zu] from "
                                 "__metadata__.layers",
                                 path, t->name, cJSON_GetArrayItem(shape, 0)->valuedouble,
                                 cJSON_GetArrayItem(shape, 1)->valuedouble, t->shape[0],
                                 t->shape[1]);
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: tensor '%s': shape [%zu], expected [%zu] from "
                             "__metadata__.layers",
                             path, t->name, dim, t->shape[0]);
        }
        d++;
    }
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_size(cJSON_GetArrayItem(offs, 0), SIZE_MAX, &t->begin) ||
        !json_size(cJSON_GetArrayItem(offs, 1), SIZE_MAX, &t->end))
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets is missing or not [begin, end]", path,
                         t->name);
    bytes = 4 * t->count; // count <= 2^31 (network) or data_len / 4 (extra): no overflow
    if (t->end < t->begin || t->end - t->begin != bytes)
        return dpt_error(DPT_ERR_FORMAT,
                         "%s: tensor '%s': data_offsets [%zu, %zu] do not hold %zu bytes (shape "
                         "times 4)",
                         path, t->name, t->begin, t->end, bytes);
    return DPT_OK;
}

static int cmp_tensor_begin(const void *a, const void *b)
{
    const struct tensor *x = *(const struct tensor *const *)a;
    const struct tensor *y = *(const struct tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

// Every tensor listed once, and together they tile the data section exactly.
static enum dpt_status read_tensor_table(const char *path, const cJSON *root, struct header *h,
                                         struct tensor *t, size_t nt, uint64_t data_start,
                                         size_t data_len)
{
    const size_t L = h->spec.n_layers;
    const cJSON *e;
    struct tensor **order = NULL;
    enum dpt_status st = DPT_OK;
    size_t pos = 0;
    cJSON_ArrayForEach(e, root)
    {
        struct tensor *x = NULL;
        size_t l;
        if (strcmp(e->string, "__metadata__") == 0) {
            if (e != cJSON_GetObjectItemCaseSensitive(root, "__metadata__"))
                return dpt_error(DPT_ERR_FORMAT, "%s: __metadata__ appears twice", path);
            continue;
        }
        if ((l = layer_of(e->string, 'W', L)) != 0)
            x = &t[2 * (l - 1)];
        else if ((l = layer_of(e->string, 'b', L)) != 0)
            x = &t[2 * (l - 1) + 1];
        for (size_t i = 2 * L; !x && i < nt; i++)
            if (strcmp(e->string, t[i].name) == 0)
                x = &t[i];
        if (!x)
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: unexpected tensor '%.64s' (the network has W1..W%zu, b1..b%zu)",
                             path, e->string, L, L);
        if (x->seen)
            return dpt_error(DPT_ERR_FORMAT, "%s: tensor '%s' appears twice", path, x->name);
        x->seen = 1;
        if ((st = read_tensor_entry(path, e, x, x >= &t[2 * L], data_len)) != DPT_OK)
            return st;
    }
    for (size_t i = 0; i < nt; i++)
        if (!t[i].seen)
            return dpt_error(DPT_ERR_FORMAT, "%s: tensor '%s' is missing", path, t[i].name);

    for (size_t i = 0; i < nt; i++)
        if (t[i].end > data_len)
            return dpt_error(DPT_ERR_FORMAT,
                             "%s: file truncated or corrupt: tensor '%s' data_offsets [%zu, %zu] "
                             "end beyond the %zu-byte data section (byte %llu of a %llu-byte file)",
                             path, t[i].name, t[i].begin, t[i].end, data_len,
                             (unsigned long long)(data_start + t[i].end),
                             (unsigned long long)(data_start + data_len));

    order = dpt_malloc(nt * sizeof *order);
    if (!order)
        return dpt_error(DPT_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < nt; i++)
        order[i] = &t[i];
    qsort(order, nt, sizeof *order, cmp_tensor_begin);
    for (size_t i = 0; i < nt && st == DPT_OK; i++) {
        const struct tensor *x = order[i];
        if (x->begin < pos)
            st = dpt_error(DPT_ERR_FORMAT,
                           "%s: tensor '%s' data_offsets [%zu, %zu] overlap tensor '%s'", path,
                           x->name, x->begin, x->end, order[i - 1]->name);
        else if (x->begin > pos)
            st = dpt_error(DPT_ERR_FORMAT,
                           "%s: the data section has a gap at bytes [%zu, %zu) before tensor '%s'",
                           path, pos, x->begin, x->name);
        pos = x->end;
    }
    if (st == DPT_OK && pos < data_len)
        st = dpt_error(DPT_ERR_FORMAT,
                       "%s: %zu bytes after the last tensor (byte %llu): not covered by any tensor",
                       path, data_len - pos, (unsigned long long)(data_start + pos));
    dpt_free(order);
    return st;
}

// ---- load ----

static void header_cleanup(struct header *h)
{
    dpt_model_info_cleanup(&h->info);
    dpt_free(h->other);
}

static enum dpt_status read_exact(const char *path, FILE *fp, void *buf, size_t n, uint64_t offset)
{
    char ebuf[128];
    if (n && fread(buf, 1, n, fp) != n) {
        if (ferror(fp))
            return dpt_error(DPT_ERR_IO, "%s: read failed at byte %llu: %s", path,
                             (unsigned long long)offset, dpt_io_strerror(errno, ebuf, sizeof ebuf));
        return dpt_error(DPT_ERR_FORMAT, "%s: file truncated while reading %zu bytes at byte %llu",
                         path, n, (unsigned long long)offset);
    }
    return DPT_OK;
}

// Finite check of a decoded tensor: the writer refuses NaN, so one here means a foreign or
// damaged file.
static enum dpt_status check_loaded(const char *path, const struct tensor *t, const float *v)
{
    for (size_t i = 0; i < t->count; i++)
        if (!isfinite(v[i]))
            return dpt_error(DPT_ERR_FORMAT, "%s: tensor '%s' index %zu is not finite", path,
                             t->name, i);
    return DPT_OK;
}

static enum dpt_status fill_extra(const char *path, const struct header *h, const struct tensor *t,
                                  const unsigned char *data, struct dpt_model_extra_out *x)
{
    const struct tensor *xt = t + 2 * h->spec.n_layers;
    if (h->n_extra) {
        x->names = dpt_calloc(h->n_extra, sizeof *x->names);
        x->data = dpt_calloc(h->n_extra, sizeof *x->data);
        x->lens = dpt_calloc(h->n_extra, sizeof *x->lens);
        if (!x->names || !x->data || !x->lens)
            return dpt_error(DPT_ERR_NOMEM, "%s: out of memory", path);
        for (size_t i = 0; i < h->n_extra; i++) {
            x->n_tensors = i + 1;
            x->names[i] = str_dup(xt[i].name);
            x->data[i] = dpt_malloc(xt[i].count ? xt[i].count * sizeof(float) : sizeof(float));
            if (!x->names[i] || !x->data[i])
                return dpt_error(DPT_ERR_NOMEM, "%s: out of memory", path);
            x->lens[i] = xt[i].count;
            dpt_le_to_f32(x->data[i], data + xt[i].begin, xt[i].count);
        }
    }
    if (h->n_other) {
        x->meta_keys = dpt_calloc(h->n_other, sizeof *x->meta_keys);
        x->meta_values = dpt_calloc(h->n_other, sizeof *x->meta_values);
        if (!x->meta_keys || !x->meta_values)
            return dpt_error(DPT_ERR_NOMEM, "%s: out of memory", path);
        for (size_t i = 0; i < h->n_other; i++) {
            x->n_meta = i + 1;
            x->meta_keys[i] = str_dup(h->other[i]->string);
            x->meta_values[i] = str_dup(h->other[i]->valuestring);
            if (!x->meta_keys[i] || !x->meta_values[i])
                return dpt_error(DPT_ERR_NOMEM, "%s: out of memory", path);
        }
    }
    return DPT_OK;
}

enum dpt_status dpt_model_load_ex(const char *path, struct dpt_net **net,
                                  struct dpt_model_info *info, struct dpt_model_extra_out *extra)
{
    enum dpt_status st = DPT_OK;
    char ebuf[128];
    FILE *fp = NULL;
    struct stat sb;
    struct header h;
    unsigned char lenbuf[8], *data = NULL;
    char *hbuf = NULL;
    const char *end = NULL;
    cJSON *root = NULL;
    struct tensor *t = NULL;
    struct dpt_net *out = NULL;
    uint64_t file_size, hlen = 0;
    size_t nt = 0, data_len, valid;
    uLong crc;

    memset(&h, 0, sizeof h);
    dpt_model_info_init(&h.info);
    if (info)
        dpt_model_info_init(info);
    if (extra)
        dpt_model_extra_out_init(extra);
    if (net)
        *net = NULL;
    if (!path || !net)
        return dpt_error(DPT_ERR_INVALID, "dpt_model_load: path or net is NULL");

    fp = fopen(path, "rb");
    if (!fp)
        return dpt_error(DPT_ERR_IO, "%s: cannot open: %s", path,
                         dpt_io_strerror(errno, ebuf, sizeof ebuf));
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = dpt_error(DPT_ERR_IO, "%s: not a regular file", path);
        goto cleanup;
    }
    file_size = (uint64_t)sb.st_size;
    if (file_size < 8) {
        st = dpt_error(DPT_ERR_FORMAT,
                       "%s: file too short (%llu bytes): a model file starts with an 8-byte "
                       "header length",
                       path, (unsigned long long)file_size);
        goto cleanup;
    }
    if ((st = read_exact(path, fp, lenbuf, 8, 0)) != DPT_OK)
        goto cleanup;
    for (int i = 0; i < 8; i++)
        hlen |= (uint64_t)lenbuf[i] << (8 * i);
    if (hlen < 2 || hlen > HEADER_MAX || hlen > file_size - 8) {
        st = dpt_error(DPT_ERR_FORMAT,
                       "%s: header length %llu at byte 0 is %s (file size %llu bytes): not a "
                       "model file, or truncated",
                       path, (unsigned long long)hlen,
                       hlen > HEADER_MAX      ? "over the 100 MB limit"
                       : hlen > file_size - 8 ? "beyond the end of the file"
                                              : "too small",
                       (unsigned long long)file_size);
        goto cleanup;
    }
    hbuf = dpt_malloc((size_t)hlen + 1);
    if (!hbuf) {
        st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory for a %llu-byte header", path,
                       (unsigned long long)hlen);
        goto cleanup;
    }
    if ((st = read_exact(path, fp, hbuf, (size_t)hlen, 8)) != DPT_OK)
        goto cleanup;
    hbuf[hlen] = '\0';
    valid = utf8_valid_prefix((const unsigned char *)hbuf, (size_t)hlen);
    if (valid < hlen || memchr(hbuf, '\0', (size_t)hlen)) {
        const char *nul = memchr(hbuf, '\0', (size_t)hlen);
        size_t at = nul && (size_t)(nul - hbuf) < valid ? (size_t)(nul - hbuf) : valid;
        st = dpt_error(DPT_ERR_FORMAT, "%s: header is not valid UTF-8 text at byte %zu", path,
                       8 + at);
        goto cleanup;
    }
    pthread_mutex_lock(&json_lock);
    root = cJSON_ParseWithLengthOpts(hbuf, (size_t)hlen, &end, 0);
    pthread_mutex_unlock(&json_lock);
    if (!root) {
        size_t at = end && end >= hbuf ? (size_t)(end - hbuf) : 0;
        st = dpt_error(DPT_ERR_FORMAT, "%s: header is not valid JSON (error near byte %zu)", path,
                       8 + at);
        goto cleanup;
    }
    for (const char *p = end; p < hbuf + hlen; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            st = dpt_error(DPT_ERR_FORMAT,
                           "%s: unexpected byte 0x%02x after the JSON header at "
                           "byte %zu",
                           path, (unsigned)(unsigned char)*p, 8 + (size_t)(p - hbuf));
            goto cleanup;
        }
    }
    if (!cJSON_IsObject(root)) {
        st = dpt_error(DPT_ERR_FORMAT, "%s: header is not a JSON object", path);
        goto cleanup;
    }
    {
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
        if (!meta) {
            st = dpt_error(DPT_ERR_FORMAT,
                           "%s: header has no __metadata__ (a safetensors file, but not a dptrain "
                           "model)",
                           path);
            goto cleanup;
        }
        if ((st = read_metadata(path, meta, &h)) != DPT_OK)
            goto cleanup;
    }
    if ((st = parse_version(path, &h)) || (st = parse_spec(path, &h)) ||
        (st = parse_info(path, &h)) || (st = parse_crc(path, &h)) ||
        (st = expected_tensors(path, &h, &t, &nt)))
        goto cleanup;
    data_len = (size_t)(file_size - 8 - hlen);
    if ((st = read_tensor_table(path, root, &h, t, nt, 8 + hlen, data_len)) != DPT_OK)
        goto cleanup;

    // The table tiles the data section, so data_len bytes are what the tensors need.
    data = dpt_malloc(data_len ? data_len : 1);
    if (!data) {
        st = dpt_error(DPT_ERR_NOMEM, "%s: out of memory for %zu bytes of tensors", path, data_len);
        goto cleanup;
    }
    if ((st = read_exact(path, fp, data, data_len, 8 + hlen)) != DPT_OK)
        goto cleanup;
    crc = crc_update(crc32(0L, Z_NULL, 0), data, data_len);
    if ((uint32_t)crc != h.crc) {
        st = dpt_error(DPT_ERR_FORMAT,
                       "%s: checksum mismatch: file is corrupt (crc32 of the %zu data bytes is "
                       "%08lx, the header says %08lx)",
                       path, data_len, (unsigned long)crc, (unsigned long)h.crc);
        goto cleanup;
    }

    if ((st = dpt_net_create(&h.spec, &out)) != DPT_OK) {
        st = rewrap(st, path, "cannot create the network");
        goto cleanup;
    }
    for (size_t l = 1; l <= h.spec.n_layers; l++) {
        size_t w_off = 0, b_off = 0;
        float *p = dpt_net_params(out);
        const struct tensor *w = &t[2 * (l - 1)], *b = w + 1;
        (void)dpt_net_layer_offsets(out, l, &w_off, &b_off);
        dpt_le_to_f32(p + w_off, data + w->begin, w->count);
        dpt_le_to_f32(p + b_off, data + b->begin, b->count);
        if ((st = check_loaded(path, w, p + w_off)) || (st = check_loaded(path, b, p + b_off)))
            goto cleanup;
    }
    for (size_t i = 2 * h.spec.n_layers; i < nt; i++) {
        for (size_t j = 0; j < t[i].count; j++) {
            float v;
            dpt_le_to_f32(&v, data + t[i].begin + 4 * j, 1);
            if (!isfinite(v)) {
                st = dpt_error(DPT_ERR_FORMAT, "%s: tensor '%s' index %zu is not finite", path,
                               t[i].name, j);
                goto cleanup;
            }
        }
    }
    if (extra) {
        st = fill_extra(path, &h, t, data, extra);
        if (st != DPT_OK)
            goto cleanup;
    }
    if (info) {
        *info = h.info; // ownership moves to the caller
        dpt_model_info_init(&h.info);
    }
    *net = out;
    out = NULL;

cleanup:
    if (st != DPT_OK && extra)
        dpt_model_extra_out_cleanup(extra);
    dpt_net_destroy(out);
    header_cleanup(&h);
    cJSON_Delete(root);
    dpt_free(t);
    dpt_free(data);
    dpt_free(hbuf);
    if (fp)
        fclose(fp);
    return st;
}

enum dpt_status dpt_model_load(const char *path, struct dpt_net **net, struct dpt_model_info *info)
{
    return dpt_model_load_ex(path, net, info, NULL);
}

// ---- the metadata of an npy export (model_impl.h) ----

enum dpt_status dpt_model_meta_json(const char *path, const struct dpt_net *net,
                                    const struct dpt_model_info *info, char **out)
{
    struct dpt_model_info res;
    const struct dpt_net_spec *spec = dpt_net_spec(net);
    *out = NULL;
    enum dpt_status st = resolve_info(path, spec, info, &res);
    if (st != DPT_OK)
        return st;
    cJSON *meta = build_metadata(spec, &res, NULL, 0, 1);
    char *text = meta ? cJSON_Print(meta) : NULL;
    cJSON_Delete(meta);
    if (text) {
        size_t n = strlen(text);
        *out = dpt_malloc(n + 2);
        if (*out) {
            memcpy(*out, text, n);
            memcpy(*out + n, "\n", 2);
        }
        cJSON_free(text);
    }
    return *out ? DPT_OK : dpt_error(DPT_ERR_NOMEM, "%s: out of memory", path);
}

// The same message without the "__metadata__." the model file's parser puts before each key
// (dptrain.json's keys stand at its top level).
static enum dpt_status strip_meta(enum dpt_status st)
{
    static const char prefix[] = "__metadata__.";
    char msg[1024];
    size_t n = 0;
    for (const char *p = dpt_last_error(); *p && n + 1 < sizeof msg;) {
        if (strncmp(p, prefix, sizeof prefix - 1) == 0) {
            p += sizeof prefix - 1;
            continue;
        }
        msg[n++] = *p++;
    }
    msg[n] = '\0';
    return dpt_error(st, "%s", msg);
}

enum dpt_status dpt_model_meta_parse(const char *path, const char *text, size_t len,
                                     struct dpt_net_spec *spec, struct dpt_model_info *info)
{
    enum dpt_status st = DPT_OK;
    struct header h;
    const char *end = NULL;
    memset(&h, 0, sizeof h);
    dpt_model_info_init(&h.info);
    dpt_model_info_init(info);
    h.npy = 1;
    // The first byte that is not UTF-8 text, or a NUL (cJSON would stop there).
    const size_t valid = utf8_valid_prefix((const unsigned char *)text, len);
    const char *nul = memchr(text, '\0', valid);
    if (valid < len || nul)
        return dpt_error(DPT_ERR_FORMAT, "%s: not valid UTF-8 text at byte %zu", path,
                         nul ? (size_t)(nul - text) : valid);
    pthread_mutex_lock(&json_lock);
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    pthread_mutex_unlock(&json_lock);
    if (!root) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        return dpt_error(DPT_ERR_FORMAT, "%s: not valid JSON (error near byte %zu)", path, at);
    }
    for (const char *p = end; p < text + len && st == DPT_OK; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            st = dpt_error(DPT_ERR_FORMAT,
                           "%s: unexpected byte 0x%02x after the JSON object at byte %zu", path,
                           (unsigned)(unsigned char)*p, (size_t)(p - text));
    if (st == DPT_OK && !cJSON_IsObject(root))
        st = dpt_error(DPT_ERR_FORMAT, "%s: not a JSON object", path);
    if (st == DPT_OK && (st = read_metadata(path, root, &h)) != DPT_OK)
        st = strip_meta(st);
    static const enum meta_key foreign[] = {MK_NORM_SHIFT, MK_NORM_SCALE, MK_CRC32,
                                            MK_EXTRA_TENSORS};
    for (size_t i = 0; st == DPT_OK && i < sizeof foreign / sizeof foreign[0]; i++)
        if (h.meta[foreign[i]])
            st = dpt_error(DPT_ERR_FORMAT, "%s: '%s' does not belong in an npy export's metadata%s",
                           path, meta_names[foreign[i]],
                           foreign[i] == MK_NORM_SHIFT || foreign[i] == MK_NORM_SCALE
                               ? " (the normalisation is in norm_shift.npy and norm_scale.npy)"
                               : "");
    if (st == DPT_OK && ((st = parse_version(path, &h)) || (st = parse_spec(path, &h)) ||
                         (st = parse_info(path, &h))))
        st = strip_meta(st);
    if (st == DPT_OK) {
        *spec = h.spec;
        *info = h.info; // ownership moves to the caller
        dpt_model_info_init(&h.info);
    }
    header_cleanup(&h);
    cJSON_Delete(root);
    return st;
}
