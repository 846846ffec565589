// Synthetic 2-D classification sets (xor, spirals, blobs), each a pure function of (n, classes,
// seed) through the project RNG, so every platform draws the same points.
#include <math.h>
#include <string.h>

#include "core/error_impl.h"
#include "data/data_impl.h"

#define PI 3.14159265358979323846

// Uniform in [-1, 1)^2; class = (x0 > 0) xor (x1 > 0).
static void gen_xor(struct dpt_rng *rng, size_t n, float *x, int32_t *y)
{
    for (size_t i = 0; i < n; i++) {
        double a = 2.0 * dpt_rng_uniform(rng) - 1.0;
        double b = 2.0 * dpt_rng_uniform(rng) - 1.0;
        x[2 * i] = (float)a;
        x[2 * i + 1] = (float)b;
        y[i] = (a > 0.0) != (b > 0.0);
    }
}

// Arm k of K: radius r = 0.1 + 0.9 t (t uniform in [0, 1)), angle 2 pi k / K + 2 pi TURNS t, plus
// Gaussian noise of std 0.04 / K in each coordinate. Along any ray the arms cross it every
// 0.9 / (TURNS K) in radius, so the noise stays far below the gap between neighbouring arms and a
// small MLP separates the classes completely. The inner radius 0.1 keeps the arms apart at the
// centre, where they would otherwise meet.
#define SPIRAL_TURNS 1.25
static void gen_spirals(struct dpt_rng *rng, size_t n, size_t k, float *x, int32_t *y)
{
    double sigma = 0.04 / (double)k;
    for (size_t i = 0; i < n; i++) {
        size_t c = i % k;
        double t = dpt_rng_uniform(rng);
        double r = 0.1 + 0.9 * t;
        double phi = 2.0 * PI * (double)c / (double)k + 2.0 * PI * SPIRAL_TURNS * t;
        double nx = dpt_rng_normal(rng), ny = dpt_rng_normal(rng);
        x[2 * i] = (float)(r * cos(phi) + sigma * nx);
        x[2 * i + 1] = (float)(r * sin(phi) + sigma * ny);
        y[i] = (int32_t)c;
    }
}

// Centres evenly on a circle of radius R = max(1.5, 0.8 / sin(pi / K)), so neighbouring centres
// are at least 1.6 apart; each blob is isotropic Gaussian with std 0.35 (mostly separable, with a
// little overlap in the tails as blobs usually have).
static void gen_blobs(struct dpt_rng *rng, size_t n, size_t k, float *x, int32_t *y)
{
    double radius = 0.8 / sin(PI / (double)k);
    if (radius < 1.5)
        radius = 1.5;
    for (size_t i = 0; i < n; i++) {
        size_t c = i % k;
        double phi = 2.0 * PI * (double)c / (double)k;
        double nx = dpt_rng_normal(rng), ny = dpt_rng_normal(rng);
        x[2 * i] = (float)(radius * cos(phi) + 0.35 * nx);
        x[2 * i + 1] = (float)(radius * sin(phi) + 0.35 * ny);
        y[i] = (int32_t)c;
    }
}

enum dpt_status dpt_synth(const char *name, size_t n, size_t classes, uint64_t seed,
                          struct dpt_dataset **out)
{
    if (!out)
        return dpt_error(DPT_ERR_INVALID, "dpt_synth: out is NULL");
    *out = NULL;
    if (!name)
        return dpt_error(DPT_ERR_INVALID, "synth: name is NULL");
    int kind;
    size_t def;
    if (strcmp(name, "xor") == 0) {
        kind = 0;
        def = 2;
    } else if (strcmp(name, "spirals") == 0) {
        kind = 1;
        def = 2;
    } else if (strcmp(name, "blobs") == 0) {
        kind = 2;
        def = 3;
    } else {
        return dpt_error(DPT_ERR_INVALID,
                         "synth: unknown generator '%s' (known: xor, spirals, blobs)", name);
    }
    if (n == 0)
        return dpt_error(DPT_ERR_INVALID, "synth '%s': n must be at least 1", name);
    if (classes == 0)
        classes = def;
    if (classes < 2)
        return dpt_error(DPT_ERR_INVALID, "synth '%s': classes = %zu, must be at least 2", name,
                         classes);
    if (kind == 0 && classes != 2)
        return dpt_error(DPT_ERR_INVALID, "synth 'xor': classes = %zu, xor has exactly 2", classes);
    if (classes > INT32_MAX)
        return dpt_error(DPT_ERR_RANGE, "synth '%s': classes = %zu is too large", name, classes);

    struct dpt_dataset *ds = NULL;
    enum dpt_status st = dpt_dataset_create(DPT_TASK_CLASSIFY, n, 2, classes, &ds);
    if (st != DPT_OK)
        return st;
    struct dpt_rng rng;
    dpt_rng_seed(&rng, seed);
    if (kind == 0)
        gen_xor(&rng, n, ds->x, ds->labels);
    else if (kind == 1)
        gen_spirals(&rng, n, classes, ds->x, ds->labels);
    else
        gen_blobs(&rng, n, classes, ds->x, ds->labels);
    *out = ds;
    return DPT_OK;
}
