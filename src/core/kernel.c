// The shard kernel: batched forward, loss and backprop over a block of samples as GEMMs, with
// bias, activation, loss and output delta fused into single passes over each layer's rows.
//
// Row-major throughout: a block of n samples is an n x n_l matrix per layer (one sample per row,
// which is the n_l x m column layout of docs/math.md read in C order). So
//   forward   A_l = act(A_(l-1) W_l^T + 1 b_l^T)
//   backward  grad W_l += Delta_l^T A_(l-1),  grad b_l += Delta_l^T 1,
//             Delta_(l-1) = (Delta_l W_l) .* act'(A_(l-1))
// Every activation's derivative is computed from its output, so only activations are stored.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error_impl.h"
#include "gemm_bf16.h"
#include "gemm_impl.h"
#include "net_impl.h"
#include "sliced_impl.h"

// ---- workspace ----

static size_t max_width(const struct dpt_net_spec *spec)
{
    size_t w = 0;
    for (size_t l = 1; l <= spec->n_layers; l++)
        w = spec->sizes[l] > w ? spec->sizes[l] : w;
    return w;
}

// Floats of `rows` inputs plus `per_layer` buffers of `rows` x n_l for every layer, each rounded
// to a cache line; 0 on overflow.
static size_t layer_floats(const struct dpt_net_spec *spec, size_t rows, size_t per_layer)
{
    size_t total = 0, t;
    if (dpt_mul_overflow(rows, spec->sizes[0], &t))
        return 0;
    total = dpt_round_floats(t);
    for (size_t l = 1; l <= spec->n_layers; l++) {
        if (dpt_mul_overflow(rows, spec->sizes[l], &t) ||
            dpt_add_overflow(total, per_layer * dpt_round_floats(t), &total))
            return 0;
    }
    return total;
}

// The GEMMs' packing buffer: only where a product can take the packed path (gemm_impl.h), i.e. some
// layer has at least 32 units; in bf16 always (every bf16 product is packed).
static size_t pack_floats(const struct dpt_net_spec *spec, enum dpt_precision prec)
{
    return prec == DPT_PRECISION_BF16 || max_width(spec) >= 32 || spec->sizes[0] >= 32
               ? dpt_gemm_pack_floats()
               : 0;
}

// Floats a workspace needs (activations, two delta buffers of the widest layer, the GEMMs'
// packing buffer), or 0 on overflow.
static size_t workspace_floats(const struct dpt_net_spec *spec, size_t rows,
                               enum dpt_precision prec)
{
    size_t total = layer_floats(spec, rows, 1), t;
    if (total == 0 || dpt_mul_overflow(rows, max_width(spec), &t) ||
        dpt_add_overflow(total, 2 * dpt_round_floats(t), &total) ||
        dpt_add_overflow(total, dpt_round_floats(pack_floats(spec, prec)), &total))
        return 0;
    return total;
}

size_t dpt_workspace_bytes(const struct dpt_net *net, size_t max_rows)
{
    return workspace_floats(&net->spec, max_rows, DPT_PRECISION_FP32) * sizeof(float);
}

// A workspace struct and its block of `floats` floats for `rows` rows; the caller lays out the
// pointers. `what` names the kind in messages.
static enum dpt_status workspace_alloc(const struct dpt_net *net, size_t rows, size_t floats,
                                       const char *what, struct dpt_workspace **out)
{
    *out = NULL;
    if (floats == 0 || floats > ((size_t)1 << 34))
        return dpt_error(DPT_ERR_RANGE, "%s: %zu rows of this network are too large", what, rows);
    struct dpt_workspace *ws = dpt_calloc(1, sizeof *ws);
    if (!ws)
        return dpt_error(DPT_ERR_NOMEM, "out of memory allocating a %s", what);
    ws->block = dpt_alloc_aligned(floats * sizeof(float));
    if (!ws->block) {
        dpt_free(ws);
        return dpt_error(DPT_ERR_NOMEM, "out of memory allocating a %s of %zu bytes", what,
                         floats * sizeof(float));
    }
    ws->max_rows = rows;
    ws->n_layers = net->spec.n_layers;
    memcpy(ws->sizes, net->spec.sizes, sizeof ws->sizes);
    *out = ws;
    return DPT_OK;
}

enum dpt_status dpt_workspace_create_prec(const struct dpt_net *net, size_t max_rows,
                                          enum dpt_precision prec, struct dpt_workspace **out)
{
    if (!net || !out)
        return dpt_error(DPT_ERR_INVALID, "workspace: net or out is NULL");
    *out = NULL;
    if (max_rows == 0 || max_rows > (size_t)1 << 24)
        return dpt_error(DPT_ERR_INVALID, "workspace: max_rows %zu is not in 1..2^24", max_rows);
    const struct dpt_net_spec *spec = &net->spec;
    struct dpt_workspace *ws;
    if (prec != DPT_PRECISION_FP32 && dpt_precision_check(prec))
        return dpt_error(DPT_ERR_UNSUPPORTED, "workspace: %s", dpt_precision_check(prec));
    enum dpt_status st =
        workspace_alloc(net, max_rows, workspace_floats(spec, max_rows, prec), "workspace", &ws);
    if (st != DPT_OK)
        return st;
    float *p = ws->block;
    ws->x = p;
    p += dpt_round_floats(max_rows * spec->sizes[0]);
    ws->a[0] = NULL;
    for (size_t l = 1; l <= spec->n_layers; l++) {
        ws->a[l] = p;
        p += dpt_round_floats(max_rows * spec->sizes[l]);
    }
    const size_t dw = dpt_round_floats(max_rows * max_width(spec));
    ws->d[0] = p;
    ws->d[1] = p + dw;
    p += 2 * dw;
    ws->pack_floats = pack_floats(spec, prec);
    ws->pack = ws->pack_floats ? p : NULL;
    ws->precision = prec;
    *out = ws;
    return DPT_OK;
}

enum dpt_status dpt_workspace_create(const struct dpt_net *net, size_t max_rows,
                                     struct dpt_workspace **out)
{
    return dpt_workspace_create_prec(net, max_rows, DPT_PRECISION_FP32, out);
}

void dpt_workspace_set_precision(struct dpt_workspace *ws, enum dpt_precision p)
{
    ws->precision = p;
}

struct dpt_gemm_pack dpt_workspace_pack_use(const struct dpt_workspace *ws)
{
    return dpt_gemm_pack_use(ws->pack, ws->pack_floats);
}

void dpt_workspace_destroy(struct dpt_workspace *ws)
{
    if (!ws)
        return;
    dpt_free_aligned(ws->block);
    dpt_free_aligned(ws->img_block);
    dpt_free(ws);
}

size_t dpt_workspace_max_rows(const struct dpt_workspace *ws)
{
    return ws->max_rows;
}

// ---- element-wise passes ----

// Gathers rows idx[0..n) of x into the workspace, or uses x in place when idx is NULL.
static const float *gather(struct dpt_workspace *ws, const float *x, const size_t *idx, size_t n,
                           size_t n_in)
{
    if (!idx)
        return x;
    for (size_t i = 0; i < n; i++)
        memcpy(ws->x + i * n_in, x + idx[i] * n_in, n_in * sizeof(float));
    return ws->x;
}

static inline float sigmoidf(float z)
{
    return 1.0f / (1.0f + expf(-z));
}

// a = act(z + b) in place over n rows of width w, ld floats apart (not softmax).
static void bias_act(float *z, size_t n, size_t w, size_t ld, const float *b, enum dpt_act act,
                     float slope)
{
    for (size_t i = 0; i < n; i++) {
        float *restrict r = z + i * ld;
        switch (act) {
        case DPT_ACT_RELU:
#pragma omp simd
            for (size_t j = 0; j < w; j++) {
                float v = r[j] + b[j];
                r[j] = v > 0.0f ? v : 0.0f;
            }
            break;
        case DPT_ACT_LEAKY_RELU:
#pragma omp simd
            for (size_t j = 0; j < w; j++) {
                float v = r[j] + b[j];
                r[j] = v > 0.0f ? v : slope * v;
            }
            break;
        case DPT_ACT_SIGMOID:
            for (size_t j = 0; j < w; j++)
                r[j] = sigmoidf(r[j] + b[j]);
            break;
        case DPT_ACT_TANH:
            for (size_t j = 0; j < w; j++)
                r[j] = tanhf(r[j] + b[j]);
            break;
        case DPT_ACT_SOFTMAX: {
            float mx = -INFINITY, s = 0.0f;
            for (size_t j = 0; j < w; j++) {
                r[j] += b[j];
                mx = r[j] > mx ? r[j] : mx;
            }
            for (size_t j = 0; j < w; j++) {
                r[j] = expf(r[j] - mx);
                s += r[j];
            }
            const float inv = 1.0f / s;
            for (size_t j = 0; j < w; j++)
                r[j] *= inv;
            break;
        }
        default: // identity
#pragma omp simd
            for (size_t j = 0; j < w; j++)
                r[j] += b[j];
            break;
        }
    }
}

// d *= act'(a) in place over n rows of width w, the derivative taken from the activation.
static void mul_act_grad(float *d, const float *a, size_t n, size_t w, enum dpt_act act,
                         float slope)
{
    const size_t len = n * w;
    float *restrict dd = d;
    const float *restrict aa = a;
    switch (act) {
    case DPT_ACT_RELU:
#pragma omp simd
        for (size_t i = 0; i < len; i++)
            dd[i] = aa[i] > 0.0f ? dd[i] : 0.0f;
        break;
    case DPT_ACT_LEAKY_RELU:
#pragma omp simd
        for (size_t i = 0; i < len; i++)
            dd[i] = aa[i] > 0.0f ? dd[i] : slope * dd[i];
        break;
    case DPT_ACT_SIGMOID:
#pragma omp simd
        for (size_t i = 0; i < len; i++)
            dd[i] *= aa[i] * (1.0f - aa[i]);
        break;
    case DPT_ACT_TANH:
#pragma omp simd
        for (size_t i = 0; i < len; i++)
            dd[i] *= 1.0f - aa[i] * aa[i];
        break;
    default: // identity (softmax never reaches here: it is output-only)
        break;
    }
}

static inline size_t row_of(const size_t *idx, size_t i)
{
    return idx ? idx[i] : i;
}

// Target value of output j for sample row r: one-hot of a label (0/1 itself for one output), or
// the dense value.
static inline float target(const struct dpt_targets *t, size_t r, size_t j, size_t w)
{
    if (t->labels) {
        const int32_t lab = t->labels[r];
        return w == 1 ? (float)lab : (float)((size_t)lab == j);
    }
    return t->values[r * w + j];
}

static size_t argmax(const float *r, size_t w)
{
    size_t best = 0;
    for (size_t j = 1; j < w; j++)
        best = r[j] > r[best] ? j : best;
    return best;
}

// The output layer: z (n x w, before bias) becomes a = act(z + b); adds the loss of each row to
// st->loss_sum and counts correct classifications; when delta is non-NULL writes scale * dC_k/dz
// (scale carries the batch reduction, e.g. 1/batch for mean).
static void output_pass(const struct dpt_net_spec *spec, float *z, const float *b, size_t n,
                        const struct dpt_targets *t, const size_t *idx, float *delta, float scale,
                        struct dpt_block_stats *st)
{
    const size_t L = spec->n_layers, w = spec->sizes[L];
    const enum dpt_act act = spec->act[L - 1];
    double loss = 0.0;
    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        float *restrict r = z + i * w;
        float *restrict d = delta ? delta + i * w : NULL;
        const size_t row = row_of(idx, i);
        if (spec->loss == DPT_LOSS_XENT) {
            // Stable log-softmax: log a_j = z_j - max - log(sum exp(z - max)).
            float mx = -INFINITY;
            for (size_t j = 0; j < w; j++) {
                r[j] += b[j];
                mx = r[j] > mx ? r[j] : mx;
            }
            float s = 0.0f;
            for (size_t j = 0; j < w; j++)
                s += expf(r[j] - mx);
            const float lse = mx + logf(s);
            float ysum = 0.0f;
            for (size_t j = 0; j < w; j++) {
                const float y = target(t, row, j, w);
                if (y != 0.0f)
                    loss -= (double)y * (double)(r[j] - lse);
                ysum += y;
                r[j] = expf(r[j] - lse);
            }
            if (d) {
                for (size_t j = 0; j < w; j++)
                    d[j] = scale * (r[j] * ysum - target(t, row, j, w));
            }
        } else if (spec->loss == DPT_LOSS_BCE) {
            for (size_t j = 0; j < w; j++) {
                const float zz = r[j] + b[j], y = target(t, row, j, w);
                // max(z, 0) - z y + log(1 + exp(-|z|)): finite for every z.
                loss += (double)(zz > 0.0f ? zz : 0.0f) - (double)zz * y +
                        log1p(exp(-fabs((double)zz)));
                r[j] = sigmoidf(zz);
                if (d)
                    d[j] = scale * (r[j] - y);
            }
        } else { // squared: C_k = sum_j (a_j - y_j)^2, dC/da = 2 (a - y)
            bias_act(r, 1, w, w, b, act, spec->leaky_slope);
            for (size_t j = 0; j < w; j++) {
                const float e = r[j] - target(t, row, j, w);
                loss += (double)e * e;
                if (d)
                    d[j] = 2.0f * scale * e;
            }
            if (d)
                mul_act_grad(d, r, 1, w, act, spec->leaky_slope);
        }
        if (t->labels) {
            const int32_t lab = t->labels[row];
            const size_t pred = w == 1 ? (size_t)(r[0] >= 0.5f) : argmax(r, w);
            correct += pred == (size_t)lab;
        }
    }
    st->loss_sum += loss;
    st->correct += correct;
    st->n += n;
}

// A product in the workspace's precision: dpt_gemm (fp32) or dpt_gemm_bf16.
static void gemm(enum dpt_precision prec, int ta, int tb, size_t m, size_t n, size_t k, float alpha,
                 const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                 size_t ldc)
{
    if (prec == DPT_PRECISION_BF16)
        dpt_gemm_bf16(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else
        dpt_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// gemm over the rows of np adjacent pieces (rows cut[i] .. cut[i + 1] of A and C, cut[0] = 0):
// one call where the kernels give every row the same either way (fp32, dpt_gemm_rows_merge for
// the smallest piece), else one call per non-empty piece.
static void gemm_pieces(enum dpt_precision prec, int tb, const size_t *cut, size_t np, size_t n,
                        size_t k, const float *a, size_t lda, const float *b, size_t ldb, float *c,
                        size_t ldc)
{
    size_t small = cut[np];
    for (size_t i = 0; i < np; i++)
        if (cut[i + 1] > cut[i] && cut[i + 1] - cut[i] < small)
            small = cut[i + 1] - cut[i];
    if (np == 1 ||
        (prec == DPT_PRECISION_FP32 && dpt_gemm_rows_merge(0, tb, small, cut[np], n, k))) {
        gemm(prec, 0, tb, cut[np], n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
        return;
    }
    for (size_t i = 0; i < np; i++)
        if (cut[i + 1] > cut[i])
            gemm(prec, 0, tb, cut[i + 1] - cut[i], n, k, 1.0f, a + cut[i] * lda, lda, b, ldb, 0.0f,
                 c + cut[i] * ldc, ldc);
}

// Forward through layers from..upto over the rows of np adjacent pieces (gemm_pieces) starting at
// workspace row r0 (in: the input rows of layer `from`), leaving a[l] = activations (a[upto] only
// z when raw != 0).
static const float *forward_pieces(const struct dpt_net *net, struct dpt_workspace *ws,
                                   const float *in, size_t r0, const size_t *cut, size_t np,
                                   size_t from, size_t upto, int raw_last, enum dpt_precision prec)
{
    const struct dpt_net_spec *spec = &net->spec;
    const float *prev = in;
    for (size_t l = from; l <= upto; l++) {
        const size_t n_in = spec->sizes[l - 1], n_out = spec->sizes[l];
        float *a = ws->a[l] + r0 * n_out;
        gemm_pieces(prec, 1, cut, np, n_out, n_in, prev, n_in, net->params + net->w_off[l], n_in, a,
                    n_out);
        if (!(raw_last && l == upto))
            bias_act(a, cut[np], n_out, n_out, net->params + net->b_off[l], spec->act[l - 1],
                     spec->leaky_slope);
        prev = a;
    }
    return prev;
}

// forward_pieces over n rows as one piece.
static const float *forward_layers(const struct dpt_net *net, struct dpt_workspace *ws,
                                   const float *in, size_t r0, size_t n, size_t from, size_t upto,
                                   int raw_last, enum dpt_precision prec)
{
    const size_t cut[2] = {0, n};
    return forward_pieces(net, ws, in, r0, cut, 1, from, upto, raw_last, prec);
}

// ---- public kernels ----

enum dpt_status dpt_net_forward(const struct dpt_net *net, struct dpt_workspace *ws, const float *x,
                                const size_t *idx, size_t n, float *out)
{
    if (!net || !ws || (!x && n > 0))
        return dpt_error(DPT_ERR_INVALID, "forward: net, workspace or x is NULL");
    if (n > ws->max_rows)
        return dpt_error(DPT_ERR_INVALID, "forward: %zu rows exceed the workspace's %zu", n,
                         ws->max_rows);
    if (n == 0)
        return DPT_OK;
    const size_t L = net->spec.n_layers;
    const struct dpt_gemm_pack prev = dpt_workspace_pack_use(ws);
    const float *in = gather(ws, x, idx, n, net->spec.sizes[0]);
    const float *a = forward_layers(net, ws, in, 0, n, 1, L, 0, DPT_PRECISION_FP32);
    if (out)
        memcpy(out, a, n * net->spec.sizes[L] * sizeof(float));
    dpt_gemm_pack_use(prev.buf, prev.floats);
    return DPT_OK;
}

enum dpt_status dpt_net_evaluate(const struct dpt_net *net, struct dpt_workspace *ws,
                                 const float *x, const size_t *idx, size_t n,
                                 const struct dpt_targets *t, struct dpt_block_stats *st)
{
    if (!net || !ws || !t || !st || (!x && n > 0) || (!t->labels && !t->values))
        return dpt_error(DPT_ERR_INVALID, "evaluate: a required argument is NULL");
    if (n > ws->max_rows)
        return dpt_error(DPT_ERR_INVALID, "evaluate: %zu rows exceed the workspace's %zu", n,
                         ws->max_rows);
    memset(st, 0, sizeof *st);
    if (n == 0)
        return DPT_OK;
    const size_t L = net->spec.n_layers;
    const struct dpt_gemm_pack prev = dpt_workspace_pack_use(ws);
    const float *in = gather(ws, x, idx, n, net->spec.sizes[0]);
    forward_layers(net, ws, in, 0, n, 1, L, 1, DPT_PRECISION_FP32);
    output_pass(&net->spec, ws->a[L], net->params + net->b_off[L], n, t, idx, NULL, 1.0f, st);
    dpt_gemm_pack_use(prev.buf, prev.floats);
    return DPT_OK;
}

void dpt_net_backprop(const struct dpt_net *net, struct dpt_workspace *ws, const float *x,
                      const size_t *idx, size_t n, const struct dpt_targets *t, float scale,
                      float *grad, int accumulate, struct dpt_block_stats *st)
{
    const struct dpt_net_spec *spec = &net->spec;
    const size_t L = spec->n_layers;
    memset(st, 0, sizeof *st);
    if (n == 0) {
        if (!accumulate)
            memset(grad, 0, net->n_params * sizeof(float));
        return;
    }
    const struct dpt_gemm_pack prev = dpt_workspace_pack_use(ws);
    const float *in = gather(ws, x, idx, n, spec->sizes[0]);
    forward_layers(net, ws, in, 0, n, 1, L, 1, ws->precision);
    int cur = 0;
    output_pass(spec, ws->a[L], net->params + net->b_off[L], n, t, idx, ws->d[cur], scale, st);

    // Backward: the dynamic program from the output layer down to layer 1.
    for (size_t l = L; l >= 1; l--) {
        const size_t n_in = spec->sizes[l - 1], n_out = spec->sizes[l];
        const float *prev = l > 1 ? ws->a[l - 1] : in;
        const float *delta = ws->d[cur];
        gemm(ws->precision, 1, 0, n_out, n_in, n, 1.0f, delta, n_out, prev, n_in,
             accumulate ? 1.0f : 0.0f, grad + net->w_off[l], n_in);
        float *restrict gb = grad + net->b_off[l];
        if (!accumulate)
            memset(gb, 0, n_out * sizeof(float));
        for (size_t i = 0; i < n; i++) {
            const float *restrict dr = delta + i * n_out;
#pragma omp simd
            for (size_t j = 0; j < n_out; j++)
                gb[j] += dr[j];
        }
        if (l == 1)
            break;
        float *next = ws->d[1 - cur];
        gemm(ws->precision, 0, 0, n, n_in, n_out, 1.0f, delta, n_out, net->params + net->w_off[l],
             n_in, 0.0f, next, n_in);
        mul_act_grad(next, ws->a[l - 1], n, n_in, spec->act[l - 2], spec->leaky_slope);
        cur = 1 - cur;
    }
    dpt_gemm_pack_use(prev.buf, prev.floats);
}

enum dpt_status dpt_net_gradient(const struct dpt_net *net, const float *x, size_t n,
                                 const struct dpt_targets *t, float *grad, double *loss)
{
    if (!net || !t || !grad || (!x && n > 0) || (!t->labels && !t->values))
        return dpt_error(DPT_ERR_INVALID, "gradient: a required argument is NULL");
    if (n == 0)
        return dpt_error(DPT_ERR_INVALID, "gradient: the batch is empty");
    struct dpt_workspace *ws = NULL;
    enum dpt_status st = dpt_workspace_create(net, n, &ws);
    if (st != DPT_OK)
        return st;
    struct dpt_block_stats bs;
    const double scale = net->spec.reduction == DPT_REDUCTION_MEAN ? 1.0 / (double)n : 1.0;
    dpt_net_backprop(net, ws, x, NULL, n, t, (float)scale, grad, 0, &bs);
    if (loss)
        *loss = bs.loss_sum * scale;
    dpt_workspace_destroy(ws);
    return DPT_OK;
}

// ---- batch workspaces and the sliced weight gradient (sliced_impl.h) ----

// Floats of a batch workspace: inputs, then activations and deltas of every layer; 0 on overflow.
static size_t batch_floats(const struct dpt_net_spec *spec, size_t rows)
{
    return layer_floats(spec, rows, 2);
}

size_t dpt_batch_workspace_bytes(const struct dpt_net *net, size_t rows)
{
    size_t floats = batch_floats(&net->spec, rows), bytes;
    return dpt_mul_overflow(floats, sizeof(float), &bytes) ? 0 : bytes;
}

enum dpt_status dpt_batch_workspace_create(const struct dpt_net *net, size_t rows,
                                           struct dpt_workspace **out)
{
    const struct dpt_net_spec *spec = &net->spec;
    struct dpt_workspace *ws;
    enum dpt_status st =
        workspace_alloc(net, rows, rows ? batch_floats(spec, rows) : 0, "batch workspace", &ws);
    if (st != DPT_OK)
        return st;
    float *p = ws->block;
    ws->x = p;
    p += dpt_round_floats(rows * spec->sizes[0]);
    for (size_t l = 1; l <= spec->n_layers; l++) {
        ws->a[l] = p;
        p += dpt_round_floats(rows * spec->sizes[l]);
        ws->dl[l] = p;
        p += dpt_round_floats(rows * spec->sizes[l]);
    }
    *out = ws;
    return DPT_OK;
}

enum dpt_status dpt_batch_workspace_twin(const struct dpt_net *net, const struct dpt_workspace *ws,
                                         size_t l, struct dpt_workspace **out)
{
    size_t floats;
    if (l < 1 || l > ws->n_layers || dpt_mul_overflow(ws->max_rows, ws->sizes[l], &floats))
        return dpt_error(DPT_ERR_INVALID, "batch workspace twin: no layer %zu", l);
    struct dpt_workspace *tw;
    enum dpt_status st =
        workspace_alloc(net, ws->max_rows, dpt_round_floats(floats), "batch workspace twin", &tw);
    if (st != DPT_OK)
        return st;
    float *own = tw->block;
    *tw = *ws;
    tw->block = own;
    tw->a[l] = own;
    tw->img_block = NULL;
    // Layer l's images hold its activations: the twin's are its own too.
    tw->ia[l] = tw->ib[l] = NULL;
    if (ws->ia[l] || ws->ib[l]) {
        const size_t fa = dpt_round_floats(dpt_gemm_image_floats(ws->max_rows, ws->sizes[l]));
        const size_t fb = dpt_round_floats(dpt_gemm_image_floats(ws->sizes[l], ws->max_rows));
        if (!(tw->img_block = dpt_alloc_aligned((fa + fb) * sizeof(float)))) {
            dpt_workspace_destroy(tw);
            return dpt_error(DPT_ERR_NOMEM, "out of memory allocating a batch workspace twin");
        }
        tw->ia[l] = ws->ia[l] ? tw->img_block : NULL;
        tw->ib[l] = ws->ib[l] ? tw->img_block + fa : NULL;
    }
    *out = tw;
    return DPT_OK;
}

int dpt_images_env(void)
{
    const char *e = getenv("DPT_SHARE_PACK");
    return !(e && strcmp(e, "0") == 0);
}

enum dpt_status dpt_batch_workspace_images(const struct dpt_net *net, struct dpt_workspace *ws,
                                           const size_t *cols)
{
    const struct dpt_net_spec *spec = &net->spec;
    const size_t L = spec->n_layers, B = ws->max_rows;
    if (ws->precision != DPT_PRECISION_FP32 || !dpt_gemm_rows_available() || !dpt_images_env() ||
        L < 3)
        return DPT_OK;
    // Images of a[l] (l = 1 .. L - 2: the forward product and weight gradient of hidden layer
    // l + 1) and of dl[l] (l = 2 .. L - 1: the delta product of layer l - 1). The output layer is
    // split by samples, its gradient's rows unevenly: neither shares an image.
    size_t floats = 0;
    for (size_t l = 1; l + 2 <= L; l++)
        floats += dpt_round_floats(dpt_gemm_image_floats(B, spec->sizes[l])) +
                  dpt_round_floats(dpt_gemm_image_floats(spec->sizes[l], B));
    for (size_t l = 2; l + 1 <= L; l++)
        floats += dpt_round_floats(dpt_gemm_image_floats(B, spec->sizes[l]));
    float *p = dpt_alloc_aligned(floats * sizeof(float));
    if (!p)
        return dpt_error(DPT_ERR_NOMEM, "out of memory allocating split_all's shared panels");
    ws->img_block = p;
    for (size_t l = 1; l + 2 <= L; l++) {
        ws->ia[l] = p;
        p += dpt_round_floats(dpt_gemm_image_floats(B, spec->sizes[l]));
        ws->ib[l] = p;
        p += dpt_round_floats(dpt_gemm_image_floats(spec->sizes[l], B));
    }
    for (size_t l = 2; l + 1 <= L; l++) {
        ws->id[l] = p;
        p += dpt_round_floats(dpt_gemm_image_floats(B, spec->sizes[l]));
    }
    for (size_t l = 1; l < L; l++)
        ws->cols[l] = cols[l];
    return DPT_OK;
}

void dpt_batch_gather(const struct dpt_net *net, float *dst, const float *x, const size_t *idx,
                      size_t n)
{
    const size_t n0 = net->spec.sizes[0];
    for (size_t i = 0; i < n; i++)
        memcpy(dst + i * n0, x + row_of(idx, i) * n0, n0 * sizeof(float));
}

// split_all's shared images of layer l (l = 1 .. L - 1) for a batch of m rows, where the workers
// fill them: each is made for the widest worker's product (ws->cols) and filled by every worker
// exactly when that product takes the packed GEMM, so the writers and the readers of an image ask
// the same question here. a[l] as op(A) of layer l + 1's forward product, a[l] as op(B) of its
// weight gradient, dl[l] as op(A) of layer l - 1's delta product; NULL where none is filled.
static float *image_fwd(const struct dpt_net *net, const struct dpt_workspace *ws, size_t l,
                        size_t m)
{
    return ws->ia[l] && dpt_gemm_image_pays(0, 1, m, ws->cols[l + 1], net->spec.sizes[l])
               ? ws->ia[l]
               : NULL;
}

static float *image_grad(const struct dpt_net *net, const struct dpt_workspace *ws, size_t l,
                         size_t m)
{
    return ws->ib[l] && dpt_gemm_image_pays(1, 0, ws->cols[l + 1], net->spec.sizes[l], m)
               ? ws->ib[l]
               : NULL;
}

static float *image_delta(const struct dpt_net *net, const struct dpt_workspace *ws, size_t l,
                          size_t m)
{
    return ws->id[l] && dpt_gemm_image_pays(0, 0, m, ws->cols[l - 1], net->spec.sizes[l])
               ? ws->id[l]
               : NULL;
}

void dpt_net_forward_cols(const struct dpt_net *net, struct dpt_workspace *ws, size_t l,
                          const float *in, const float *const *in_rows, size_t m, size_t j0,
                          size_t j1)
{
    const struct dpt_net_spec *spec = &net->spec;
    const size_t n_in = spec->sizes[l - 1], n_out = spec->sizes[l];
    if (j1 <= j0 || m == 0)
        return;
    float *z = ws->a[l] + j0;
    const float *w = net->params + net->w_off[l] + j0 * n_in;
    if (!in && !in_rows)
        in = l > 1 ? ws->a[l - 1] : ws->x;
    if (in_rows && ws->precision == DPT_PRECISION_BF16)
        dpt_gemm_bf16_nt_rows(m, j1 - j0, n_in, 1.0f, in_rows, w, n_in, 0.0f, z, n_out);
    else if (in_rows)
        dpt_gemm_nt_rows(m, j1 - j0, n_in, 1.0f, in_rows, w, n_in, 0.0f, z, n_out);
    else if (l > 1 && in == ws->a[l - 1] && ws->precision == DPT_PRECISION_FP32)
        // split_all's hidden layers: every worker multiplies the whole batch's activations, from
        // their image where the workers filled one (the fill below decides it, for the widest
        // worker's product, when layer l - 1 is computed).
        dpt_gemm_shared(1, m, j1 - j0, n_in, 1.0f, in, n_in, image_fwd(net, ws, l - 1, m), w, n_in,
                        0.0f, z, n_out);
    else
        gemm(ws->precision, 0, 1, m, j1 - j0, n_in, 1.0f, in, n_in, w, n_in, 0.0f, z, n_out);
    bias_act(z, m, j1 - j0, n_out, net->params + net->b_off[l] + j0, spec->act[l - 1],
             spec->leaky_slope);
    // This worker's columns of the images of a[l] that layer l + 1's products will read.
    float *ia = image_fwd(net, ws, l, m), *ib = image_grad(net, ws, l, m);
    if (ia)
        dpt_gemm_pack_a_image(m, n_out, ws->a[l], n_out, j0, j1, ia);
    if (ib)
        dpt_gemm_pack_b_image(m, n_out, ws->a[l], n_out, j0, j1, ib);
}

void dpt_net_deltas_pieces(const struct dpt_net *net, struct dpt_workspace *ws, size_t from,
                           const float *x, const size_t *idx, size_t r0, const size_t *cut,
                           size_t np, const struct dpt_targets *t, float scale,
                           struct dpt_block_stats *st)
{
    const struct dpt_net_spec *spec = &net->spec;
    const size_t L = spec->n_layers, n0 = spec->sizes[0], n = cut[np];
    for (size_t i = 0; i < np; i++)
        memset(&st[i], 0, sizeof st[i]);
    if (n == 0)
        return;
    const float *in;
    if (from == 1) {
        // The inputs are copied: layer 1's weight gradient reads them for the whole batch.
        float *dst = ws->x + r0 * n0;
        dpt_batch_gather(net, dst, x, idx, n);
        in = dst;
    } else {
        in = ws->a[from - 1] + r0 * spec->sizes[from - 1];
    }
    forward_pieces(net, ws, in, r0, cut, np, from, L, 1, ws->precision);
    // The loss of each piece on its own, summed in its own order.
    const size_t nL = spec->sizes[L];
    for (size_t i = 0; i < np; i++) {
        const size_t o = cut[i];
        output_pass(spec, ws->a[L] + (r0 + o) * nL, net->params + net->b_off[L], cut[i + 1] - o, t,
                    idx ? idx + o : NULL, ws->dl[L] + (r0 + o) * nL, scale, &st[i]);
    }
    // Backward: Delta_(l-1) = (Delta_l W_l) .* act'(A_(l-1)), down to layer 1.
    for (size_t l = L; l >= 2; l--) {
        const size_t n_in = spec->sizes[l - 1], n_out = spec->sizes[l];
        float *next = ws->dl[l - 1] + r0 * n_in;
        gemm_pieces(ws->precision, 0, cut, np, n_in, n_out, ws->dl[l] + r0 * n_out, n_out,
                    net->params + net->w_off[l], n_in, next, n_in);
        mul_act_grad(next, ws->a[l - 1] + r0 * n_in, n, n_in, spec->act[l - 2], spec->leaky_slope);
    }
}

void dpt_net_deltas(const struct dpt_net *net, struct dpt_workspace *ws, size_t from,
                    const float *x, const size_t *idx, size_t r0, size_t n,
                    const struct dpt_targets *t, float scale, struct dpt_block_stats *st)
{
    const size_t cut[2] = {0, n};
    dpt_net_deltas_pieces(net, ws, from, x, idx, r0, cut, 1, t, scale, st);
}

void dpt_net_output_deltas(const struct dpt_net *net, struct dpt_workspace *ws, const size_t *idx,
                           size_t r0, size_t n, const struct dpt_targets *t, float scale,
                           struct dpt_block_stats *st)
{
    const struct dpt_net_spec *spec = &net->spec;
    const size_t L = spec->n_layers;
    memset(st, 0, sizeof *st);
    if (n == 0)
        return;
    forward_layers(net, ws, ws->a[L - 1] + r0 * spec->sizes[L - 1], r0, n, L, L, 1, ws->precision);
    output_pass(spec, ws->a[L] + r0 * spec->sizes[L], net->params + net->b_off[L], n, t, idx,
                ws->dl[L] + r0 * spec->sizes[L], scale, st);
}

void dpt_net_backward_cols(const struct dpt_net *net, struct dpt_workspace *ws, size_t l, size_t m,
                           size_t j0, size_t j1)
{
    const struct dpt_net_spec *spec = &net->spec;
    const size_t n = spec->sizes[l], n_next = spec->sizes[l + 1];
    if (j1 <= j0 || m == 0)
        return;
    // Delta_l[:, j0:j1] = Delta_(l+1) W_(l+1)[:, j0:j1], then times act'(A_l) row by row.
    const float *id = image_delta(net, ws, l + 1, m);
    if (id)
        dpt_gemm_image(0, 0, m, j1 - j0, n_next, 1.0f, ws->dl[l + 1], n_next, id,
                       net->params + net->w_off[l + 1] + j0, n, NULL, 0.0f, ws->dl[l] + j0, n);
    else
        gemm(ws->precision, 0, 0, m, j1 - j0, n_next, 1.0f, ws->dl[l + 1], n_next,
             net->params + net->w_off[l + 1] + j0, n, 0.0f, ws->dl[l] + j0, n);
    for (size_t i = 0; i < m; i++)
        mul_act_grad(ws->dl[l] + i * n + j0, ws->a[l] + i * n + j0, 1, j1 - j0, spec->act[l - 1],
                     spec->leaky_slope);
    // This worker's columns of the image of Delta_l that layer l - 1's delta product will read.
    float *own = image_delta(net, ws, l, m);
    if (own)
        dpt_gemm_pack_a_image(m, n, ws->dl[l], n, j0, j1, own);
}

int dpt_net_layer_grad_merges(const struct dpt_net *net, const struct dpt_workspace *ws, size_t l,
                              size_t piece, size_t rows, size_t m)
{
    return l >= 1 && l <= net->spec.n_layers && ws->precision == DPT_PRECISION_FP32 &&
           !(l > 1 && ws->ib[l - 1]) &&
           dpt_gemm_rows_merge(1, 0, piece, rows, net->spec.sizes[l - 1], m);
}

void dpt_net_layer_grad(const struct dpt_net *net, const struct dpt_workspace *ws, size_t l,
                        const float *x, const float *const *x_rows, size_t j0, size_t j1, size_t m,
                        float alpha, float beta, float *w, float *b)
{
    enum { BLOCK = 256 };
    const size_t n_in = net->spec.sizes[l - 1], n_out = net->spec.sizes[l];
    if (j1 <= j0)
        return;
    const float *delta = ws->dl[l];
    if (l == 1 && x_rows && ws->precision == DPT_PRECISION_BF16) {
        dpt_gemm_bf16_tn_rows(j1 - j0, n_in, m, alpha, delta + j0, n_out, x_rows, beta, w, n_in);
    } else if (l == 1 && x_rows) {
        dpt_gemm_tn_rows(j1 - j0, n_in, m, alpha, delta + j0, n_out, x_rows, beta, w, n_in);
    } else {
        const float *prev = l > 1 ? ws->a[l - 1] : x ? x : ws->x;
        const float *ib = l > 1 ? image_grad(net, ws, l - 1, m) : NULL;
        if (ib)
            dpt_gemm_image(1, 0, j1 - j0, n_in, m, alpha, delta + j0, n_out, NULL, prev, n_in, ib,
                           beta, w, n_in);
        else
            gemm(ws->precision, 1, 0, j1 - j0, n_in, m, alpha, delta + j0, n_out, prev, n_in, beta,
                 w, n_in);
    }
    // Bias: column sums of Delta_l over the batch, a block of columns at a time in L1.
    float acc[BLOCK];
    for (size_t c = j0; c < j1; c += BLOCK) {
        const size_t len = j1 - c < BLOCK ? j1 - c : BLOCK;
        memset(acc, 0, len * sizeof(float));
        for (size_t i = 0; i < m; i++) {
            const float *restrict dr = delta + i * n_out + c;
#pragma omp simd
            for (size_t k = 0; k < len; k++)
                acc[k] += dr[k];
        }
        float *restrict bb = b + (c - j0);
        if (beta == 0.0f) {
#pragma omp simd
            for (size_t k = 0; k < len; k++)
                bb[k] = alpha * acc[k];
        } else {
#pragma omp simd
            for (size_t k = 0; k < len; k++)
                bb[k] = beta * bb[k] + alpha * acc[k];
        }
    }
}
