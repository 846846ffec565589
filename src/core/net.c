// The network: spec validation, the flat parameter vector, initialisation, names of activations
// and losses.
#include <limits.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "error_impl.h"
#include "net_impl.h"

// Widths beyond this are refused: every GEMM dimension must fit a CBLAS int, and a layer of 16M
// neurons is certainly a typo.
#define DPT_MAX_WIDTH ((size_t)1 << 24)
// Parameter vectors beyond 2^31 floats (8 GiB) are refused before allocating.
#define DPT_MAX_PARAMS ((size_t)1 << 31)

static const char *const act_names[] = {"identity", "sigmoid",    "tanh",
                                        "relu",     "leaky_relu", "softmax"};
static const char *const loss_names[] = {"squared", "xent", "bce"};
static const char *const red_names[] = {"mean", "sum"};

#define N_ACTS   (sizeof act_names / sizeof act_names[0])
#define N_LOSSES (sizeof loss_names / sizeof loss_names[0])

const char *dpt_act_name(enum dpt_act act)
{
    return (unsigned)act < N_ACTS ? act_names[act] : "?";
}

const char *dpt_loss_name(enum dpt_loss loss)
{
    return (unsigned)loss < N_LOSSES ? loss_names[loss] : "?";
}

const char *dpt_reduction_name(enum dpt_reduction red)
{
    return (unsigned)red < 2 ? red_names[red] : "?";
}

enum dpt_status dpt_act_parse(const char *name, enum dpt_act *out)
{
    for (size_t i = 0; name && i < N_ACTS; i++) {
        if (strcmp(name, act_names[i]) == 0) {
            *out = (enum dpt_act)i;
            return DPT_OK;
        }
    }
    return dpt_error(DPT_ERR_INVALID,
                     "unknown activation '%s' (expected identity, sigmoid, tanh, relu, "
                     "leaky_relu or softmax)",
                     name ? name : "(null)");
}

enum dpt_status dpt_loss_parse(const char *name, enum dpt_loss *out)
{
    for (size_t i = 0; name && i < N_LOSSES; i++) {
        if (strcmp(name, loss_names[i]) == 0) {
            *out = (enum dpt_loss)i;
            return DPT_OK;
        }
    }
    return dpt_error(DPT_ERR_INVALID, "unknown loss '%s' (expected squared, xent or bce)",
                     name ? name : "(null)");
}

enum dpt_status dpt_reduction_parse(const char *name, enum dpt_reduction *out)
{
    for (size_t i = 0; name && i < 2; i++) {
        if (strcmp(name, red_names[i]) == 0) {
            *out = (enum dpt_reduction)i;
            return DPT_OK;
        }
    }
    return dpt_error(DPT_ERR_INVALID, "unknown reduction '%s' (expected mean or sum)",
                     name ? name : "(null)");
}

// ---- spec ----

struct dpt_net_spec dpt_net_spec_default(void)
{
    struct dpt_net_spec s;
    memset(&s, 0, sizeof s);
    s.loss = DPT_LOSS_XENT;
    s.reduction = DPT_REDUCTION_MEAN;
    s.leaky_slope = 0.01f;
    return s;
}

// Computes the padded layout; fails on overflow or beyond DPT_MAX_PARAMS.
static enum dpt_status layout(const struct dpt_net_spec *spec, size_t *w_off, size_t *b_off,
                              size_t *n_params, size_t *n_trainable)
{
    size_t off = 0, trainable = 0;
    for (size_t l = 1; l <= spec->n_layers; l++) {
        size_t nw, padded, tmp;
        if (dpt_mul_overflow(spec->sizes[l], spec->sizes[l - 1], &nw))
            return dpt_error(DPT_ERR_RANGE, "layer %zu: %zu x %zu weights overflow", l,
                             spec->sizes[l], spec->sizes[l - 1]);
        if (w_off)
            w_off[l] = off;
        padded = dpt_round_floats(nw);
        if (padded < nw || dpt_add_overflow(off, padded, &off))
            return dpt_error(DPT_ERR_RANGE, "layer %zu: parameter count overflows", l);
        if (b_off)
            b_off[l] = off;
        if (dpt_add_overflow(off, dpt_round_floats(spec->sizes[l]), &off) ||
            dpt_add_overflow(trainable, nw, &tmp) ||
            dpt_add_overflow(tmp, spec->sizes[l], &trainable))
            return dpt_error(DPT_ERR_RANGE, "layer %zu: parameter count overflows", l);
        if (off > DPT_MAX_PARAMS)
            return dpt_error(DPT_ERR_RANGE,
                             "sizes: %zu+ parameters exceed the limit of %zu (8 GiB)", off,
                             DPT_MAX_PARAMS);
    }
    if (n_params)
        *n_params = off;
    if (n_trainable)
        *n_trainable = trainable;
    return DPT_OK;
}

enum dpt_status dpt_net_spec_check(const struct dpt_net_spec *spec)
{
    if (!spec)
        return dpt_error(DPT_ERR_INVALID, "spec is NULL");
    const size_t L = spec->n_layers;
    if (L < 1 || L > DPT_MAX_LAYERS)
        return dpt_error(DPT_ERR_INVALID,
                         "n_layers: %zu is not in 1..%d (need at least an input "
                         "and an output layer)",
                         L, DPT_MAX_LAYERS);
    for (size_t l = 0; l <= L; l++) {
        if (spec->sizes[l] == 0)
            return dpt_error(DPT_ERR_INVALID, "sizes[%zu]: layer %zu has zero neurons", l, l);
        if (spec->sizes[l] > DPT_MAX_WIDTH)
            return dpt_error(DPT_ERR_RANGE, "sizes[%zu]: %zu neurons exceed the limit of %zu", l,
                             spec->sizes[l], DPT_MAX_WIDTH);
    }
    for (size_t l = 1; l <= L; l++) {
        enum dpt_act a = spec->act[l - 1];
        if ((unsigned)a >= N_ACTS)
            return dpt_error(DPT_ERR_INVALID, "act[%zu]: invalid activation %d", l - 1, (int)a);
        if (a == DPT_ACT_SOFTMAX && l != L)
            return dpt_error(DPT_ERR_INVALID,
                             "act[%zu]: softmax is only allowed on the output layer (layer %zu "
                             "is hidden)",
                             l - 1, l);
    }
    if ((unsigned)spec->reduction > DPT_REDUCTION_SUM)
        return dpt_error(DPT_ERR_INVALID, "reduction: invalid value %d", (int)spec->reduction);
    if (!(spec->leaky_slope >= 0.0f && spec->leaky_slope < 1.0f))
        return dpt_error(DPT_ERR_INVALID, "leaky_slope: %g is not in [0, 1)",
                         (double)spec->leaky_slope);
    enum dpt_act out = spec->act[L - 1];
    switch (spec->loss) {
    case DPT_LOSS_XENT:
        if (out != DPT_ACT_SOFTMAX)
            return dpt_error(DPT_ERR_INVALID,
                             "loss: xent needs a softmax output layer, not %s (act[%zu])",
                             dpt_act_name(out), L - 1);
        break;
    case DPT_LOSS_BCE:
        if (out != DPT_ACT_SIGMOID)
            return dpt_error(DPT_ERR_INVALID,
                             "loss: bce needs a sigmoid output layer, not %s (act[%zu])",
                             dpt_act_name(out), L - 1);
        break;
    case DPT_LOSS_SQUARED:
        if (out == DPT_ACT_SOFTMAX)
            return dpt_error(DPT_ERR_INVALID,
                             "loss: squared loss with a softmax output is not supported; use "
                             "xent, or a sigmoid/identity output (act[%zu])",
                             L - 1);
        break;
    default:
        return dpt_error(DPT_ERR_INVALID, "loss: invalid value %d", (int)spec->loss);
    }
    if (out == DPT_ACT_SOFTMAX && spec->sizes[L] < 2)
        return dpt_error(DPT_ERR_INVALID, "sizes[%zu]: softmax needs at least 2 outputs", L);
    return layout(spec, NULL, NULL, NULL, NULL);
}

// ---- network ----

enum dpt_status dpt_net_create(const struct dpt_net_spec *spec, struct dpt_net **out)
{
    enum dpt_status st;
    struct dpt_net *net = NULL;
    if (!out)
        return dpt_error(DPT_ERR_INVALID, "out is NULL");
    *out = NULL;
    st = dpt_net_spec_check(spec);
    if (st != DPT_OK)
        return st;
    net = dpt_calloc(1, sizeof *net);
    if (!net)
        return dpt_error(DPT_ERR_NOMEM, "out of memory allocating a network");
    net->spec = *spec;
    st = layout(spec, net->w_off, net->b_off, &net->n_params, &net->n_trainable);
    if (st != DPT_OK)
        goto cleanup;
    // Refused before allocating: a parameter vector larger than physical memory would be
    // allocated lazily and get the process killed later instead of returning a status.
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0 &&
        (double)net->n_params * sizeof(float) > (double)pages * (double)page) {
        st = dpt_error(DPT_ERR_RANGE,
                       "sizes: %zu parameters (%.1f GiB) exceed this machine's %.1f GiB of memory",
                       net->n_params, (double)net->n_params * sizeof(float) / 1073741824.0,
                       (double)pages * (double)page / 1073741824.0);
        goto cleanup;
    }
    net->params = dpt_alloc_aligned(net->n_params * sizeof(float));
    if (!net->params) {
        st = dpt_error(DPT_ERR_NOMEM, "out of memory allocating %zu parameters", net->n_params);
        goto cleanup;
    }
    *out = net;
    return DPT_OK;
cleanup:
    dpt_net_destroy(net);
    return st;
}

void dpt_net_destroy(struct dpt_net *net)
{
    if (!net)
        return;
    dpt_free_aligned(net->params);
    dpt_free(net);
}

const struct dpt_net_spec *dpt_net_spec(const struct dpt_net *net)
{
    return &net->spec;
}

size_t dpt_net_n_params(const struct dpt_net *net)
{
    return net->n_params;
}

size_t dpt_net_n_trainable(const struct dpt_net *net)
{
    return net->n_trainable;
}

float *dpt_net_params(struct dpt_net *net)
{
    return net->params;
}

const float *dpt_net_params_const(const struct dpt_net *net)
{
    return net->params;
}

enum dpt_status dpt_net_layer_offsets(const struct dpt_net *net, size_t l, size_t *w_off,
                                      size_t *b_off)
{
    if (!net || l < 1 || l > net->spec.n_layers)
        return dpt_error(DPT_ERR_INVALID, "layer %zu is not in 1..%zu", l,
                         net ? net->spec.n_layers : 0);
    if (w_off)
        *w_off = net->w_off[l];
    if (b_off)
        *b_off = net->b_off[l];
    return DPT_OK;
}

enum dpt_status dpt_net_init(struct dpt_net *net, enum dpt_init method, float scale, uint64_t seed)
{
    if (!net)
        return dpt_error(DPT_ERR_INVALID, "net is NULL");
    if ((unsigned)method > DPT_INIT_UNIFORM)
        return dpt_error(DPT_ERR_INVALID, "init: invalid method %d", (int)method);
    if (method == DPT_INIT_UNIFORM && !(scale > 0.0f && isfinite(scale)))
        return dpt_error(DPT_ERR_INVALID, "init: uniform scale %g must be positive", (double)scale);
    struct dpt_rng rng;
    dpt_rng_seed(&rng, seed);
    memset(net->params, 0, net->n_params * sizeof(float));
    // One stream over the layers in order, row-major inside each: a seed fixes every weight.
    for (size_t l = 1; l <= net->spec.n_layers; l++) {
        const size_t n_in = net->spec.sizes[l - 1], n_out = net->spec.sizes[l];
        enum dpt_init m = method;
        if (m == DPT_INIT_AUTO) {
            enum dpt_act a = net->spec.act[l - 1];
            m = (a == DPT_ACT_RELU || a == DPT_ACT_LEAKY_RELU) ? DPT_INIT_HE : DPT_INIT_GLOROT;
        }
        float *w = net->params + net->w_off[l];
        const double glorot = sqrt(6.0 / (double)(n_in + n_out));
        const double he = sqrt(2.0 / (double)n_in);
        for (size_t i = 0; i < n_in * n_out; i++) {
            double v;
            switch (m) {
            case DPT_INIT_HE:
                v = he * dpt_rng_normal(&rng);
                break;
            case DPT_INIT_UNIFORM:
                v = scale * (2.0 * dpt_rng_uniform(&rng) - 1.0);
                break;
            default:
                v = glorot * (2.0 * dpt_rng_uniform(&rng) - 1.0);
                break;
            }
            w[i] = (float)v;
        }
    }
    return DPT_OK;
}
