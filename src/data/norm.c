// Per-feature normalisation: fitting min-max or standard statistics on a data set and applying
// the affine map x' = (x - shift) * scale in place.
#include <math.h>
#include <string.h>

#include "core/error_impl.h"
#include "data/data_impl.h"

enum dpt_status dpt_norm_fit(const struct dpt_dataset *ds, enum dpt_norm kind,
                             struct dpt_norm_stats *st)
{
    if (!st)
        return dpt_error(DPT_ERR_INVALID, "dpt_norm_fit: stats is NULL");
    memset(st, 0, sizeof *st);
    if (!ds)
        return dpt_error(DPT_ERR_INVALID, "dpt_norm_fit: data set is NULL");
    if (kind != DPT_NORM_NONE && kind != DPT_NORM_MINMAX && kind != DPT_NORM_STANDARD)
        return dpt_error(DPT_ERR_INVALID, "normalisation: unknown kind %d", (int)kind);
    st->kind = kind;
    st->n_in = ds->n_in;
    if (kind == DPT_NORM_NONE)
        return DPT_OK; // the identity needs no arrays
    if (ds->n == 0) {
        st->kind = DPT_NORM_NONE;
        return dpt_error(DPT_ERR_INVALID, "normalisation: the data set has no samples");
    }

    enum dpt_status status = DPT_OK;
    const size_t d = ds->n_in, n = ds->n;
    double *acc = dpt_calloc(4 * d, sizeof *acc); // per feature: min, max, sum, squared deviations
    float *shift = dpt_malloc(d * sizeof *shift);
    float *scale = dpt_malloc(d * sizeof *scale);
    if (!acc || !shift || !scale) {
        status = dpt_error(DPT_ERR_NOMEM, "normalisation: out of memory");
        goto cleanup;
    }
    double *lo = acc, *hi = acc + d, *sum = acc + 2 * d, *m2 = acc + 3 * d;
    for (size_t j = 0; j < d; j++)
        lo[j] = hi[j] = ds->x[j];
    // Row by row, so the data set is streamed once in memory order per pass.
    for (size_t i = 0; i < n; i++) {
        const float *row = ds->x + i * d;
        for (size_t j = 0; j < d; j++) {
            double v = row[j];
            lo[j] = v < lo[j] ? v : lo[j];
            hi[j] = v > hi[j] ? v : hi[j];
            sum[j] += v;
        }
    }
    if (kind == DPT_NORM_MINMAX) {
        for (size_t j = 0; j < d; j++) {
            shift[j] = (float)lo[j];
            // A constant feature carries no information: scale 0 maps it to 0 rather than
            // dividing by zero.
            scale[j] = hi[j] > lo[j] ? (float)(1.0 / (hi[j] - lo[j])) : 0.0f;
        }
    } else {
        // Two passes (mean, then the sum of squared deviations) in double: the one-pass formula
        // E[x^2] - E[x]^2 cancels badly for features with a large mean.
        double *mean = sum;
        for (size_t j = 0; j < d; j++)
            mean[j] = sum[j] / (double)n;
        for (size_t i = 0; i < n; i++) {
            const float *row = ds->x + i * d;
            for (size_t j = 0; j < d; j++) {
                double dev = row[j] - mean[j];
                m2[j] += dev * dev;
            }
        }
        for (size_t j = 0; j < d; j++) {
            double sd = sqrt(m2[j] / (double)n); // population std (divide by n)
            shift[j] = (float)mean[j];
            // Constant features (decided exactly by min == max, not by a rounded std) map to 0.
            scale[j] = (hi[j] > lo[j] && sd > 0.0) ? (float)(1.0 / sd) : 0.0f;
        }
    }
    st->shift = shift;
    st->scale = scale;
    shift = scale = NULL;
cleanup:
    if (status != DPT_OK)
        st->kind = DPT_NORM_NONE;
    dpt_free(acc);
    dpt_free(shift);
    dpt_free(scale);
    return status;
}

enum dpt_status dpt_norm_apply(const struct dpt_norm_stats *st, struct dpt_dataset *ds)
{
    if (!st || !ds)
        return dpt_error(DPT_ERR_INVALID, "dpt_norm_apply: NULL argument");
    if (st->kind == DPT_NORM_NONE)
        return DPT_OK;
    if (st->kind != DPT_NORM_MINMAX && st->kind != DPT_NORM_STANDARD)
        return dpt_error(DPT_ERR_INVALID, "normalisation: unknown kind %d", (int)st->kind);
    if (st->n_in != ds->n_in)
        return dpt_error(DPT_ERR_INVALID,
                         "normalisation: statistics for %zu features, data set has %zu", st->n_in,
                         ds->n_in);
    if (!st->shift || !st->scale)
        return dpt_error(DPT_ERR_INVALID, "normalisation: statistics without shift/scale arrays");
    const size_t d = ds->n_in;
    for (size_t i = 0; i < ds->n; i++) {
        float *row = ds->x + i * d;
        for (size_t j = 0; j < d; j++)
            row[j] = (row[j] - st->shift[j]) * st->scale[j];
    }
    return DPT_OK;
}

void dpt_norm_cleanup(struct dpt_norm_stats *st)
{
    if (!st)
        return;
    dpt_free(st->shift);
    dpt_free(st->scale);
    st->shift = NULL;
    st->scale = NULL;
    st->n_in = 0;
    st->kind = DPT_NORM_NONE;
}
