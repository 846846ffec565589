// The data set object: creation with size checks, accessors, subsets, the seeded split, and the
// class mapping (original label values <-> classes 0..K-1).
#include <unistd.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_impl.h"
#include "data/data_impl.h"

// ---- creation and accessors ----

enum dpt_status dpt_dataset_create(enum dpt_task task, size_t n, size_t n_in, size_t n_out,
                                   struct dpt_dataset **out)
{
    if (!out)
        return dpt_error(DPT_ERR_INVALID, "dpt_dataset_create: out is NULL");
    *out = NULL;
    if (task != DPT_TASK_CLASSIFY && task != DPT_TASK_REGRESS)
        return dpt_error(DPT_ERR_INVALID, "dpt_dataset_create: unknown task %d", (int)task);
    if (n_in == 0)
        return dpt_error(DPT_ERR_INVALID, "dpt_dataset_create: n_in is 0");
    if (n_out == 0)
        return dpt_error(DPT_ERR_INVALID, "dpt_dataset_create: n_out (%s) is 0",
                         task == DPT_TASK_CLASSIFY ? "classes" : "target width");

    // Every size is checked before anything is allocated: a corrupt header must not be able to
    // request an absurd allocation.
    size_t x_elems, x_bytes, y_elems, y_bytes, total;
    if (dpt_mul_overflow(n, n_in, &x_elems) || dpt_mul_overflow(x_elems, sizeof(float), &x_bytes) ||
        dpt_mul_overflow(n, task == DPT_TASK_CLASSIFY ? 1 : n_out, &y_elems) ||
        dpt_mul_overflow(y_elems, 4, &y_bytes) || dpt_add_overflow(x_bytes, y_bytes, &total))
        return dpt_error(DPT_ERR_RANGE,
                         "data set of %zu samples x %zu inputs x %zu outputs: size overflows", n,
                         n_in, n_out);
    if (total > DPT_DATA_MAX_BYTES)
        return dpt_error(DPT_ERR_RANGE,
                         "data set of %zu samples x %zu inputs needs %zu bytes, more than the "
                         "limit of %zu",
                         n, n_in, total, (size_t)DPT_DATA_MAX_BYTES);
    // Nor more than this machine has: the zero-filled buffer would be touched page by page and
    // the process killed, instead of getting a status.
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0 && (double)total > (double)pages * (double)page)
        return dpt_error(DPT_ERR_RANGE,
                         "data set of %zu samples x %zu inputs needs %.1f GiB, more than this "
                         "machine's %.1f GiB of memory",
                         n, n_in, (double)total / 1073741824.0,
                         (double)pages * (double)page / 1073741824.0);

    struct dpt_dataset *ds = dpt_calloc(1, sizeof *ds);
    if (!ds)
        return dpt_error(DPT_ERR_NOMEM, "data set: out of memory");
    ds->task = task;
    ds->n = n;
    ds->cap = n;
    ds->n_in = n_in;
    ds->n_out = n_out;
    ds->x = dpt_alloc_aligned(x_bytes);
    if (task == DPT_TASK_CLASSIFY)
        ds->labels = dpt_alloc_aligned(y_bytes);
    else
        ds->targets = dpt_alloc_aligned(y_bytes);
    if (!ds->x || (!ds->labels && !ds->targets)) {
        dpt_dataset_destroy(ds);
        return dpt_error(DPT_ERR_NOMEM, "data set of %zu bytes: out of memory", total);
    }
    ds->bytes = sizeof *ds + x_bytes + y_bytes;
    *out = ds;
    return DPT_OK;
}

void dpt_dataset_destroy(struct dpt_dataset *ds)
{
    if (!ds)
        return;
    dpt_free_aligned(ds->x);
    dpt_free_aligned(ds->labels);
    dpt_free_aligned(ds->targets);
    dpt_free(ds->class_values);
    dpt_free(ds->class_names);
    dpt_free(ds->warnings);
    dpt_free(ds);
}

enum dpt_task dpt_dataset_task(const struct dpt_dataset *ds)
{
    return ds->task;
}

size_t dpt_dataset_n(const struct dpt_dataset *ds)
{
    return ds->n;
}

size_t dpt_dataset_n_in(const struct dpt_dataset *ds)
{
    return ds->n_in;
}

size_t dpt_dataset_n_out(const struct dpt_dataset *ds)
{
    return ds->n_out;
}

const float *dpt_dataset_x(const struct dpt_dataset *ds)
{
    return ds->x;
}

float *dpt_dataset_x_mut(struct dpt_dataset *ds)
{
    return ds->x;
}

const int32_t *dpt_dataset_labels(const struct dpt_dataset *ds)
{
    return ds->labels;
}

int32_t *dpt_dataset_labels_mut(struct dpt_dataset *ds)
{
    return ds->labels;
}

const float *dpt_dataset_targets(const struct dpt_dataset *ds)
{
    return ds->targets;
}

float *dpt_dataset_targets_mut(struct dpt_dataset *ds)
{
    return ds->targets;
}

struct dpt_targets dpt_dataset_targets_view(const struct dpt_dataset *ds)
{
    struct dpt_targets t = {ds->labels, ds->targets};
    return t;
}

size_t dpt_dataset_bytes(const struct dpt_dataset *ds)
{
    return ds ? ds->bytes : 0;
}

const char *dpt_dataset_warnings(const struct dpt_dataset *ds)
{
    return ds && ds->warnings ? ds->warnings : "";
}

void dpt_data_warn(struct dpt_dataset *ds, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    const size_t old = ds->warnings ? strlen(ds->warnings) : 0, add = strlen(line);
    char *w = dpt_realloc(ds->warnings, old + add + 2);
    if (!w)
        return;
    if (old)
        w[old] = '\n';
    memcpy(w + old + (old ? 1 : 0), line, add + 1);
    ds->warnings = w;
}

void dpt_data_shrink(struct dpt_dataset *ds, size_t n)
{
    DPT_ASSERT(n <= ds->cap);
    ds->n = n;
}

// ---- class mapping ----

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

// Index of v in the sorted array vals[0..n), or -1.
static long find_i32(const int32_t *vals, size_t n, int32_t v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (vals[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < n && vals[lo] == v) ? (long)lo : -1;
}

// Copies n int32 values into a new dpt_malloc'd array (NULL src gives NULL).
static enum dpt_status dup_i32(const int32_t *src, size_t n, int32_t **out)
{
    *out = NULL;
    if (!src)
        return DPT_OK;
    *out = dpt_malloc(n * sizeof **out);
    if (!*out)
        return dpt_error(DPT_ERR_NOMEM, "class labels: out of memory");
    memcpy(*out, src, n * sizeof **out);
    return DPT_OK;
}

// Copies n strings into one new allocation: the n pointers, then the strings they point to (NULL
// src gives NULL).
static enum dpt_status dup_names(const char *const *src, size_t n, char ***out, size_t *bytes)
{
    *out = NULL;
    *bytes = 0;
    if (!src)
        return DPT_OK;
    *out = dpt_strings_copy(src, n, bytes);
    return *out ? DPT_OK : dpt_error(DPT_ERR_NOMEM, "class names: out of memory");
}

enum dpt_status dpt_data_set_names(struct dpt_dataset *ds, const char *const *names, size_t n)
{
    DPT_ASSERT(n == ds->n_out);
    char **copy;
    size_t bytes;
    enum dpt_status st = dup_names(names, n, &copy, &bytes);
    if (st != DPT_OK)
        return st;
    dpt_free(ds->class_names);
    ds->class_names = copy;
    ds->bytes += bytes;
    return DPT_OK;
}

// Index of name in the sorted names[0..n), or -1.
static long find_name(const char *const *names, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(names[mid], name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < n && strcmp(names[lo], name) == 0) ? (long)lo : -1;
}

enum dpt_status dpt_data_map_labels(struct dpt_dataset *ds)
{
    DPT_ASSERT(ds->task == DPT_TASK_CLASSIFY);
    enum dpt_status st = DPT_OK;
    int32_t *vals = NULL;
    if (ds->n == 0) {
        ds->n_out = 1;
        goto cleanup;
    }
    vals = dpt_malloc(ds->n * sizeof *vals);
    if (!vals) {
        st = dpt_error(DPT_ERR_NOMEM, "class labels: out of memory");
        goto cleanup;
    }
    memcpy(vals, ds->labels, ds->n * sizeof *vals);
    qsort(vals, ds->n, sizeof *vals, cmp_i32);
    size_t k = 1;
    for (size_t i = 1; i < ds->n; i++)
        if (vals[i] != vals[k - 1])
            vals[k++] = vals[i];
    for (size_t i = 0; i < ds->n; i++)
        ds->labels[i] = (int32_t)find_i32(vals, k, ds->labels[i]);
    ds->n_out = k;
    // A mapping that is the identity is not stored: NULL tells users "class c is label c".
    int identity = 1;
    for (size_t c = 0; c < k && identity; c++)
        identity = vals[c] == (int32_t)c;
    dpt_free(ds->class_values);
    ds->class_values = NULL;
    if (identity)
        goto cleanup;
    int32_t *shrunk = dpt_realloc(vals, k * sizeof *vals);
    if (shrunk)
        vals = shrunk;
    ds->class_values = vals;
    ds->bytes += k * sizeof *vals;
    vals = NULL;
cleanup:
    dpt_free(vals);
    return st;
}

enum dpt_status dpt_dataset_class_labels(const struct dpt_dataset *ds, const int32_t **labels,
                                         size_t *n)
{
    if (!ds || !labels || !n)
        return dpt_error(DPT_ERR_INVALID, "dpt_dataset_class_labels: NULL argument");
    if (ds->task != DPT_TASK_CLASSIFY)
        return dpt_error(DPT_ERR_INVALID, "class labels: not a classification data set");
    *labels = ds->class_values;
    *n = ds->n_out;
    return DPT_OK;
}

const char *const *dpt_dataset_class_names(const struct dpt_dataset *ds)
{
    return ds && ds->task == DPT_TASK_CLASSIFY ? (const char *const *)ds->class_names : NULL;
}

enum dpt_status dpt_dataset_match_classes(struct dpt_dataset *ds, const struct dpt_dataset *ref)
{
    if (!ds || !ref)
        return dpt_error(DPT_ERR_INVALID, "dpt_dataset_match_classes: NULL argument");
    if (ds->task != DPT_TASK_CLASSIFY || ref->task != DPT_TASK_CLASSIFY)
        return dpt_error(DPT_ERR_INVALID, "match classes: both data sets must be classification");
    if (!ds->class_names != !ref->class_names)
        return dpt_error(
            DPT_ERR_FORMAT, "the class labels are %s here but %s in the reference (training) set",
            ds->class_names ? "text" : "numbers", ref->class_names ? "text" : "numbers");
    enum dpt_status st = DPT_OK;
    int32_t *remap = NULL, *values = NULL;
    char **names = NULL;
    size_t names_bytes = 0;
    unsigned char *used = NULL;
    remap = dpt_malloc(ds->n_out * sizeof *remap);
    // Only classes that actually occur need a home in ref (a class of ds may be unused when its
    // labels came from an IDX file with gaps).
    used = dpt_calloc(ds->n_out, 1);
    if (!remap || !used) {
        st = dpt_error(DPT_ERR_NOMEM, "match classes: out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < ds->n; i++)
        used[ds->labels[i]] = 1;
    for (size_t c = 0; c < ds->n_out; c++) {
        int64_t v = ds->class_values ? ds->class_values[c] : (int64_t)c;
        long r;
        if (ds->class_names) {
            r = find_name((const char *const *)ref->class_names, ref->n_out, ds->class_names[c]);
            if (r < 0 && used[c]) {
                st = dpt_error(DPT_ERR_FORMAT,
                               "label '%.80s' occurs in the data set but not in the reference "
                               "(training) set, which has %zu classes",
                               ds->class_names[c], ref->n_out);
                goto cleanup;
            }
        } else if (ref->class_values)
            r = find_i32(ref->class_values, ref->n_out, (int32_t)v);
        else
            r = (v >= 0 && (uint64_t)v < ref->n_out) ? (long)v : -1;
        if (r < 0 && used[c]) {
            st = dpt_error(DPT_ERR_FORMAT,
                           "label %lld occurs in the data set but not in the reference (training) "
                           "set, which has %zu classes",
                           (long long)v, ref->n_out);
            goto cleanup;
        }
        remap[c] = (int32_t)(r < 0 ? 0 : r);
    }
    st = dup_i32(ref->class_values, ref->n_out, &values);
    if (st != DPT_OK)
        goto cleanup;
    st = dup_names((const char *const *)ref->class_names, ref->n_out, &names, &names_bytes);
    if (st != DPT_OK)
        goto cleanup;
    for (size_t i = 0; i < ds->n; i++)
        ds->labels[i] = remap[ds->labels[i]];
    if (ds->class_values)
        ds->bytes -= ds->n_out * sizeof *ds->class_values;
    if (ds->class_names) {
        size_t old = 0;
        for (size_t c = 0; c < ds->n_out; c++)
            old += sizeof(char *) + strlen(ds->class_names[c]) + 1;
        ds->bytes -= old;
    }
    dpt_free(ds->class_values);
    dpt_free(ds->class_names);
    ds->class_values = values;
    ds->class_names = names;
    values = NULL;
    names = NULL;
    ds->n_out = ref->n_out;
    if (ds->class_values)
        ds->bytes += ds->n_out * sizeof *ds->class_values;
    ds->bytes += names_bytes;
cleanup:
    dpt_free(remap);
    dpt_free(used);
    dpt_free(values);
    dpt_free(names);
    return st;
}

// ---- subsets and splits ----

enum dpt_status dpt_dataset_subset(const struct dpt_dataset *ds, const size_t *idx, size_t n,
                                   struct dpt_dataset **out)
{
    if (!out)
        return dpt_error(DPT_ERR_INVALID, "dpt_dataset_subset: out is NULL");
    *out = NULL;
    if (!ds || (!idx && n > 0))
        return dpt_error(DPT_ERR_INVALID, "dpt_dataset_subset: NULL argument");
    for (size_t i = 0; i < n; i++)
        if (idx[i] >= ds->n)
            return dpt_error(DPT_ERR_INVALID, "subset: idx[%zu] = %zu is out of range (n = %zu)", i,
                             idx[i], ds->n);
    struct dpt_dataset *sub = NULL;
    enum dpt_status st = dpt_dataset_create(ds->task, n, ds->n_in, ds->n_out, &sub);
    if (st != DPT_OK)
        goto cleanup;
    st = dup_i32(ds->class_values, ds->n_out, &sub->class_values);
    if (st != DPT_OK)
        goto cleanup;
    if (sub->class_values)
        sub->bytes += ds->n_out * sizeof *sub->class_values;
    size_t names_bytes;
    st =
        dup_names((const char *const *)ds->class_names, ds->n_out, &sub->class_names, &names_bytes);
    if (st != DPT_OK)
        goto cleanup;
    sub->bytes += names_bytes;
    for (size_t i = 0; i < n; i++) {
        size_t j = idx[i];
        memcpy(sub->x + i * ds->n_in, ds->x + j * ds->n_in, ds->n_in * sizeof(float));
        if (ds->labels)
            sub->labels[i] = ds->labels[j];
        else
            memcpy(sub->targets + i * ds->n_out, ds->targets + j * ds->n_out,
                   ds->n_out * sizeof(float));
    }
    *out = sub;
    sub = NULL;
cleanup:
    dpt_dataset_destroy(sub);
    return st;
}

enum dpt_status dpt_dataset_split(const struct dpt_dataset *ds, double fraction, uint64_t seed,
                                  struct dpt_dataset **train, struct dpt_dataset **val)
{
    if (!train || !val)
        return dpt_error(DPT_ERR_INVALID, "dpt_dataset_split: NULL output");
    *train = NULL;
    *val = NULL;
    if (!ds)
        return dpt_error(DPT_ERR_INVALID, "dpt_dataset_split: data set is NULL");
    if (!(fraction > 0.0 && fraction < 1.0))
        return dpt_error(DPT_ERR_INVALID, "split: fraction %g is not in (0, 1)", fraction);
    if (ds->n < 2)
        return dpt_error(DPT_ERR_INVALID, "split: need at least 2 samples, have %zu", ds->n);
    double want = floor(fraction * (double)ds->n + 0.5);
    size_t n_val = want < 1.0 ? 1 : (size_t)want;
    if (n_val > ds->n - 1)
        n_val = ds->n - 1;

    enum dpt_status st = DPT_OK;
    struct dpt_dataset *tr = NULL, *va = NULL;
    size_t *perm = dpt_malloc(ds->n * sizeof *perm);
    if (!perm) {
        st = dpt_error(DPT_ERR_NOMEM, "split: out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < ds->n; i++)
        perm[i] = i;
    struct dpt_rng rng;
    dpt_rng_seed(&rng, seed);
    dpt_rng_shuffle(&rng, perm, ds->n);
    st = dpt_dataset_subset(ds, perm, ds->n - n_val, &tr);
    if (st != DPT_OK)
        goto cleanup;
    st = dpt_dataset_subset(ds, perm + (ds->n - n_val), n_val, &va);
    if (st != DPT_OK)
        goto cleanup;
    *train = tr;
    *val = va;
    tr = va = NULL;
cleanup:
    dpt_free(perm);
    dpt_dataset_destroy(tr);
    dpt_dataset_destroy(va);
    return st;
}
