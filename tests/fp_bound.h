// Float error bounds for the tests: every tolerance on a result that a GEMM (or a sum) computes
// comes from here, from the shapes and magnitudes actually checked, so that it holds whichever
// kernel computes the products (OpenBLAS with any kernel set, the built-in kernels with any
// blocking, with or without FMA contraction) and in whatever order it sums.
//
// Model (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., sections 2.2, 3.1):
// fl(a op b) = (a op b)(1 + d), |d| <= u = 2^-24 for float (round to nearest, no underflow);
// a product of up to j such factors is 1 + t with |t| <= gamma_j = j u / (1 - j u) (Lemma 3.1).
// A sum of k terms in ANY order (any summation tree, blocked or vector lanes) has depth <= k - 1;
// a dot product of length k therefore carries at most k roundings per term (k - 1 additions and
// the multiplication; an FMA only removes some), so
//     |fl(x . y) - x . y| <= gamma_k sum_p |x_p| |y_p|                      (Higham (3.5)).
// Two evaluations in different orders each satisfy it, so they differ by at most twice that.
//
// The library functions (expf, logf, tanhf) are assumed accurate to DPT_LIBM_ULPS ulps (glibc
// documents at most 1-2 for these on x86_64); an ulp of x is at most 2u|x|.
#ifndef DPT_TEST_FP_BOUND_H
#define DPT_TEST_FP_BOUND_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dptrain/dptrain.h"

#define DPT_U         0x1p-24 // unit roundoff of float
#define DPT_UD        0x1p-53 // unit roundoff of double
#define DPT_LIBM_ULPS 4.0
#define DPT_LIBM_REL  (DPT_LIBM_ULPS * 2.0 * DPT_U) // relative error of expf, logf, tanhf

// gamma_k for float: the relative error bound of k rounded operations in sequence.
static inline double dpt_gamma(size_t k)
{
    const double ku = (double)k * DPT_U;
    return ku / (1.0 - ku);
}

// The same for double (the loss sums the library keeps in double).
static inline double dpt_gamma_d(size_t k)
{
    const double ku = (double)k * DPT_UD;
    return ku / (1.0 - ku);
}

// One entry of C = alpha op(A) op(B) + beta C0 computed in float, against the exact value:
// mag = sum_p |a_ip b_pj| (the k terms of the dot product), c_old = C0_ij. Each of the k + 1
// terms (alpha a b, beta c) is a product of at most 3 float values (2 multiplications, in
// whichever grouping the kernel uses, exact when alpha = 1 or beta = 0) summed with depth <= k,
// so it carries at most k + 2 roundings:
//     |C_ij - exact| <= gamma_{k+2} (|alpha| mag + |beta c_old|).
static inline double dpt_gemm_entry_bound(size_t k, double alpha, double mag, double beta,
                                          double c_old)
{
    return dpt_gamma(k + 2) * (fabs(alpha) * mag + fabs(beta * c_old));
}

// ---- bf16 products (DPT_PRECISION_BF16) ----
//
// A bf16 value has 8 significant bits, so rounding a float to the nearest bf16 (ties to even) has
// relative error at most u_b = 2^-8 (no underflow: every value checked is far above 2^-126).
// With a^ = a (1 + e_a), b^ = b (1 + e_b), |e_a|, |e_b| <= u_b, the product of the rounded
// operands is exact in float (8 + 8 significant bits <= 24) and
//     |a^ b^ - a b| = |a b| |e_a + e_b + e_a e_b| <= (2 u_b + u_b^2) |a b|.
// The k exact products are then summed in float in some order (vdpbf16ps adds two per lane and
// instruction, the blocked kernel adds k blocks): any summation tree of depth <= k, so the fp32
// part is gamma_{k+2} of the rounded operands' magnitudes, as for an fp32 product (alpha and
// beta C add their roundings: dpt_gemm_entry_bound). Against the exact product of the UNROUNDED
// operands:
//     |C_ij - exact| <= |alpha| (2 u_b + u_b^2) sum_p |a_p b_p|
//                       + gamma_{k+2} (|alpha| (1 + u_b)^2 sum_p |a_p b_p| + |beta c_old|).
// The first term, about 2^-7 of sum |a b|, dominates: it is k terms each off by up to 2^-7 of
// itself, which is loose enough to hide a dropped term when k is large. So the tests also check
// the product against the exact product of the operands rounded by dpt_bf16_round (nearest even,
// as vcvtne2ps2bf16 rounds): that differs only by the fp32 part, gamma_{k+2} (...), which a
// wrong rounding, a dropped, doubled or misplaced term, or an fp32 product would all exceed.
#define DPT_U_BF16 0x1p-8 // unit roundoff of bf16

// x rounded to the nearest bf16 value (ties to even), as a float; for finite x (the tests' values).
static inline float dpt_bf16_round(float x)
{
    unsigned int u;
    memcpy(&u, &x, sizeof u);
    u += 0x7FFFu + ((u >> 16) & 1u);
    u &= 0xFFFF0000u;
    memcpy(&x, &u, sizeof x);
    return x;
}

// The bound above, against the exact product of the unrounded operands: mag = sum_p |a_p b_p|
// (unrounded), c_old = C0_ij.
static inline double dpt_gemm_bf16_entry_bound(size_t k, double alpha, double mag, double beta,
                                               double c_old)
{
    const double ub = DPT_U_BF16;
    return fabs(alpha) * (2.0 * ub + ub * ub) * mag +
           dpt_gamma(k + 2) * (fabs(alpha) * (1.0 + ub) * (1.0 + ub) * mag + fabs(beta * c_old));
}

// ---- a double reference of a network's forward pass, loss and backprop, with bounds ----
//
// dpt_ref_run() evaluates in double, from the float parameters and inputs, what dpt_net_evaluate
// and dpt_net_backprop compute in float, and alongside each quantity v a bound E_v on
// |float v - exact v| that holds for ANY GEMM kernel (sum order, blocking, FMA): the analysis of
// kernel.c's operations, step by step, with magnitudes taken as |v| + E_v (so the bounds are
// rigorous, not first order). Per row i of layer l (z = a_{l-1} W^T + b, a = act(z)):
//   pre-activation  E_z = gamma_k sum_p (|a_p| + E_a_p) |W_jp|   (the k = n_{l-1} term product)
//                       + sum_p |W_jp| E_a_p                      (the input's error)
//                       + u (|z| + E_z')                          (the bias add)
//   activation      E_a = Lip(act) E_z + evaluation error; Lip <= 1 (relu, tanh, identity, leaky
//                   with |slope| <= 1; 1/4 for sigmoid); evaluation: exact (relu, identity),
//                   u|a| (leaky), DPT_LIBM_REL |a| (tanhf), DPT_LIBM_REL + gamma_2 relative
//                   (sigmoid: expf, an add, a divide).
//   softmax + xent  per row with logit error e = max_j E_z_j: log-sum-exp is 1-Lipschitz in the
//                   max norm (its gradient is the softmax, which sums to 1), so the float logits
//                   move lse by <= e and each log-probability l_j = z_j - lse by <= 2e. kernel.c
//                   evaluates lse = mx + logf(sum_j expf(z_j - mx)): the subtraction perturbs the
//                   exponent by u|t_j| (t_j = z_j - mx), expf adds DPT_LIBM_REL, the w-term sum of
//                   positive values gamma_{w-1}, all relative to the sum, weighted by the share
//                   p_j e^{2e} of each term: theta; logf adds -log(1 - theta) and DPT_LIBM_REL
//                   |log s|; then the add (u |lse|) and l_j = z_j - lse (u |l_j|). The row's loss
//                   -sum_j y_j l_j is summed in double. p_j = expf(l_j) carries
//                   p_j (expm1(E_l) + DPT_LIBM_REL e^{E_l}); delta_j = scale (p_j ysum - y_j)
//                   adds gamma_3 (|p_j ysum| + |y_j|) |scale|.
//   sigmoid + bce   loss(z) = softplus(z) - z y has |loss'| = |sigmoid(z) - y| <= 1 + |y|;
//                   evaluated in double (8 u_d relative).
//   squared         e = a - y (u |e|), loss e^2 in double: |e_f^2 - e^2| <= E_e (2|e| + E_e);
//                   delta = 2 scale e (u) then times act'(a), below.
//   act'(a) x d     relu / leaky: the mask comes from the float activation; where |z| <= E_z
//                   the two evaluations may disagree on the sign, so the bound there is the
//                   whole |d| + E_d (times |1 - slope|): the check stays meaningful only if such
//                   entries are rare (dpt_ref.kinks counts them). sigmoid g = a(1 - a):
//                   |Delta g| <= |1 - 2a| E_a + E_a^2 plus gamma_2 |g| (two roundings); tanh
//                   g = 1 - a^2: 2|a| E_a + E_a^2 + u (|a| + E_a)^2 + u |g|; then one rounding of
//                   the product: E = |g| E_d + E_g (|d| + E_d) + u (|g| + E_g)(|d| + E_d).
//   backward        delta_{l-1} = delta_l W_l (k = n_l terms): like the pre-activation.
//   gradients       dW_l = delta_l^T a_{l-1} sums n rows (of one block, or of several blocks
//                   accumulated with beta = 1: still one summation tree of n product terms, plus
//                   at most one rounding of the start value): gamma_{n+1} sum_i (|d|+E_d)(|a|+E_a)
//                   + sum_i (E_d |a| + |d| E_a + E_d E_a); db_l: gamma_n sum_i (|d| + E_d) + sum
//                   E_d.
struct dpt_ref {
    double loss, loss_err;   // the block's summed loss (unscaled) and the bound on its float value
    double *grad, *grad_err; // n_params entries: scale x d(summed loss)/d(theta), and bounds
    double *out, *out_err;   // n x n_L outputs as dpt_net_evaluate leaves them, and bounds
                             // (also dpt_net_forward's for every output activation but softmax)
    size_t kinks;            // relu/leaky mask entries the float evaluation may flip
    size_t correct;          // correct classifications (labels only)
    size_t ties;             // rows whose top two outputs are within the bound of each other
};

static inline void dpt_ref_free(struct dpt_ref *r)
{
    free(r->grad);
    free(r->grad_err);
    free(r->out);
    free(r->out_err);
    r->grad = r->grad_err = r->out = r->out_err = NULL;
}

static inline double dpt_ref_target(const struct dpt_targets *t, size_t r, size_t j, size_t w)
{
    if (t->labels)
        return w == 1 ? (double)t->labels[r] : (double)((size_t)t->labels[r] == j);
    return (double)t->values[r * w + j];
}

// Activation a = act(z) in double, and the bound on the float a given the bound ez on the float z.
static inline double dpt_ref_act(enum dpt_act act, double slope, double z, double ez, double *ea)
{
    switch (act) {
    case DPT_ACT_RELU:
        *ea = ez;
        return z > 0 ? z : 0;
    case DPT_ACT_LEAKY_RELU: {
        const double a = z > 0 ? z : slope * z;
        *ea = fmax(1.0, fabs(slope)) * ez + DPT_U * (fabs(a) + fabs(slope) * ez);
        return a;
    }
    case DPT_ACT_SIGMOID: {
        const double a = 1.0 / (1.0 + exp(-z));
        *ea = 0.25 * ez + (DPT_LIBM_REL + dpt_gamma(2)) * (fabs(a) + 0.25 * ez);
        return a;
    }
    case DPT_ACT_TANH: {
        const double a = tanh(z);
        *ea = ez + DPT_LIBM_REL * (fabs(a) + ez);
        return a;
    }
    default:
        *ea = ez;
        return z;
    }
}

// d x act'(a) for a hidden (or squared-loss output) unit: z, a its reference pre-activation and
// activation with bounds ez, ea; d the reference delta with bound ed. Returns the product and
// sets *e to its bound; counts ambiguous masks in *kinks.
static inline double dpt_ref_act_grad(enum dpt_act act, double slope, double z, double ez, double a,
                                      double ea, double d, double ed, double *e, size_t *kinks)
{
    double g, eg;
    switch (act) {
    case DPT_ACT_RELU:
    case DPT_ACT_LEAKY_RELU: {
        const double s = act == DPT_ACT_RELU ? 0.0 : slope;
        g = z > 0 ? 1.0 : s;
        *e = fmax(1.0, fabs(s)) * ed + DPT_U * fabs(s) * (fabs(d) + ed);
        if (fabs(z) <= ez) {
            (*kinks)++;
            *e += fabs(1.0 - s) * (fabs(d) + ed);
        }
        return g * d;
    }
    case DPT_ACT_SIGMOID:
        g = a * (1.0 - a);
        eg = fabs(1.0 - 2.0 * a) * ea + ea * ea;
        eg += dpt_gamma(2) * (fabs(g) + eg);
        break;
    case DPT_ACT_TANH:
        g = 1.0 - a * a;
        eg = 2.0 * fabs(a) * ea + ea * ea + DPT_U * (fabs(a) + ea) * (fabs(a) + ea);
        eg += DPT_U * (fabs(g) + eg);
        break;
    default:
        *e = ed;
        return d;
    }
    *e = fabs(g) * ed + eg * (fabs(d) + ed) + DPT_U * (fabs(g) + eg) * (fabs(d) + ed);
    return g * d;
}

// The relative bound of a k-term product's error against mag = sum_p |a_p| |b_p| (magnitudes of
// the float operands, their own error included): gamma_k in fp32; with bf16 operands (a kernel
// that rounds both operands to bf16, then sums in fp32: "bf16 products" above)
// (2 u_b + u_b^2) + gamma_k (1 + u_b)^2.
static inline double dpt_ref_product_rel(size_t k, int bf16)
{
    const double ub = DPT_U_BF16;
    return bf16 ? 2.0 * ub + ub * ub + dpt_gamma(k) * (1.0 + ub) * (1.0 + ub) : dpt_gamma(k);
}

// Runs the reference over rows idx[0..n) of x (or the first n when idx is NULL) with targets t.
// With want_grad, also the gradient of scale x (summed loss) and its bounds (n_params entries,
// padding zero). bf16: the bounds of a kernel whose products (forward, weight gradient, deltas)
// take bf16 operands (dpt_ref_product_rel); everything else as in fp32.
static inline void dpt_ref_run_prec(const struct dpt_net *net, const float *x, const size_t *idx,
                                    size_t n, const struct dpt_targets *t, float scale,
                                    int want_grad, int bf16, struct dpt_ref *r)
{
    const struct dpt_net_spec *spec = dpt_net_spec(net);
    const float *p = dpt_net_params_const(net);
    const size_t L = spec->n_layers, wL = spec->sizes[L];
    const double slope = spec->leaky_slope, sc = scale;
    memset(r, 0, sizeof *r);
    // z, Ez: pre-activations with bias; a, Ea: activations (a[0] = x, exact).
    double *z[DPT_MAX_LAYERS + 1] = {0}, *ez[DPT_MAX_LAYERS + 1] = {0};
    double *a[DPT_MAX_LAYERS + 1] = {0}, *ea[DPT_MAX_LAYERS + 1] = {0};
    size_t wo[DPT_MAX_LAYERS + 1], bo[DPT_MAX_LAYERS + 1];
    for (size_t l = 0; l <= L; l++) {
        const size_t len = n * spec->sizes[l] + 1;
        z[l] = calloc(len, sizeof(double));
        ez[l] = calloc(len, sizeof(double));
        a[l] = calloc(len, sizeof(double));
        ea[l] = calloc(len, sizeof(double));
        if (l > 0)
            dpt_net_layer_offsets(net, l, &wo[l], &bo[l]);
    }
    const size_t n0 = spec->sizes[0];
    for (size_t i = 0; i < n; i++)
        for (size_t q = 0; q < n0; q++)
            a[0][i * n0 + q] = x[(idx ? idx[i] : i) * n0 + q];
    // Forward.
    for (size_t l = 1; l <= L; l++) {
        const size_t ni = spec->sizes[l - 1], no = spec->sizes[l];
        const float *W = p + wo[l], *b = p + bo[l];
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < no; j++) {
                double s = 0, mag = 0, prop = 0;
                for (size_t q = 0; q < ni; q++) {
                    const double av = a[l - 1][i * ni + q], e = ea[l - 1][i * ni + q];
                    const double w = W[j * ni + q];
                    s += av * w;
                    mag += (fabs(av) + e) * fabs(w);
                    prop += e * fabs(w);
                }
                const double zz = s + b[j], e0 = dpt_ref_product_rel(ni, bf16) * mag + prop;
                z[l][i * no + j] = zz;
                ez[l][i * no + j] = e0 + DPT_U * (fabs(zz) + e0);
                if (l < L || spec->loss == DPT_LOSS_SQUARED)
                    a[l][i * no + j] = dpt_ref_act(spec->act[l - 1], slope, zz, ez[l][i * no + j],
                                                   &ea[l][i * no + j]);
            }
    }
    // Output layer: loss and delta (kept in a[L] / ea[L] for the xent and bce cases, in
    // d / ed always).
    double *d = calloc(n * wL + 1, sizeof(double)), *ed = calloc(n * wL + 1, sizeof(double));
    double loss_abs = 0;
    for (size_t i = 0; i < n; i++) {
        const size_t row = idx ? idx[i] : i;
        const double *zr = z[L] + i * wL, *er = ez[L] + i * wL;
        double *dr = d + i * wL, *edr = ed + i * wL;
        double *out = a[L] + i * wL; // the outputs, for the classification count
        double *eout = ea[L] + i * wL;
        if (spec->loss == DPT_LOSS_XENT) {
            double mx = -INFINITY, e = 0;
            for (size_t j = 0; j < wL; j++) {
                mx = fmax(mx, zr[j]);
                e = fmax(e, er[j]);
            }
            double s = 0;
            for (size_t j = 0; j < wL; j++)
                s += exp(zr[j] - mx);
            const double lse = mx + log(s);
            double theta = 0, ysum = 0, yabs = 0;
            for (size_t j = 0; j < wL; j++) {
                const double tj = fabs(zr[j] - mx) + 2 * e, pj = exp(zr[j] - lse);
                const double th = (1 + expm1(DPT_U * tj)) * (1 + DPT_LIBM_REL) *
                                      (1 + dpt_gamma(wL > 1 ? wL - 1 : 0)) -
                                  1;
                theta += fmin(1.0, pj * exp(2 * e)) * th;
                ysum += dpt_ref_target(t, row, j, wL);
                yabs += fabs(dpt_ref_target(t, row, j, wL));
            }
            const double ls = fabs(log(s)) + 2 * e;
            const double e_lse = -log1p(-theta) + DPT_LIBM_REL * ls + DPT_U * (fabs(lse) + 3 * e);
            const double e_ys = dpt_gamma(wL) * yabs; // ysum summed in float
            for (size_t j = 0; j < wL; j++) {
                const double y = dpt_ref_target(t, row, j, wL), lj = zr[j] - lse;
                const double el = 2 * e + e_lse + DPT_U * (fabs(lj) + 2 * e + e_lse);
                r->loss -= y * lj;
                r->loss_err += fabs(y) * el;
                loss_abs += fabs(y * lj);
                const double pj = exp(lj);
                const double ep = pj * (expm1(el) + DPT_LIBM_REL * exp(el));
                out[j] = pj;
                eout[j] = ep;
                dr[j] = sc * (pj * ysum - y);
                edr[j] = fabs(sc) * (ep * fabs(ysum) + (pj + ep) * e_ys +
                                     dpt_gamma(3) * ((pj + ep) * (fabs(ysum) + e_ys) + fabs(y)));
            }
        } else if (spec->loss == DPT_LOSS_BCE) {
            for (size_t j = 0; j < wL; j++) {
                const double zz = zr[j], y = dpt_ref_target(t, row, j, wL);
                const double li = fmax(zz, 0) - zz * y + log1p(exp(-fabs(zz)));
                r->loss += li;
                r->loss_err += (1 + fabs(y)) * er[j] + 8 * DPT_UD * (fabs(li) + 2 * fabs(zz));
                loss_abs += fabs(li);
                double eav;
                const double av = dpt_ref_act(DPT_ACT_SIGMOID, slope, zz, er[j], &eav);
                out[j] = av;
                eout[j] = eav;
                dr[j] = sc * (av - y);
                edr[j] = fabs(sc) * (eav + dpt_gamma(2) * (fabs(av) + eav + fabs(y)));
            }
        } else {
            for (size_t j = 0; j < wL; j++) {
                const double y = dpt_ref_target(t, row, j, wL), ev = out[j] - y;
                const double ee = eout[j] + DPT_U * (fabs(ev) + eout[j]);
                r->loss += ev * ev;
                r->loss_err += ee * (2 * fabs(ev) + ee);
                loss_abs += ev * ev;
                const double dd = 2 * sc * ev;
                const double edd = fabs(2 * sc) * (ee + DPT_U * (fabs(ev) + ee));
                dr[j] = dpt_ref_act_grad(spec->act[L - 1], slope, zr[j], er[j], out[j], eout[j], dd,
                                         edd, &edr[j], &r->kinks);
            }
        }
        if (t->labels) {
            size_t best = 0;
            for (size_t j = 1; j < wL; j++)
                best = out[j] > out[best] ? j : best;
            const size_t pred = wL == 1 ? (size_t)(out[0] >= 0.5) : best;
            r->correct += pred == (size_t)t->labels[row];
            int tie = 0;
            if (wL == 1)
                tie = fabs(out[0] - 0.5) <= eout[0] + DPT_U;
            else
                for (size_t j = 0; j < wL; j++)
                    tie |= j != best && out[best] - out[j] <= eout[best] + eout[j];
            r->ties += (size_t)tie;
        }
    }
    r->out = malloc((n * wL + 1) * sizeof(double));
    r->out_err = malloc((n * wL + 1) * sizeof(double));
    memcpy(r->out, a[L], n * wL * sizeof(double));
    memcpy(r->out_err, ea[L], n * wL * sizeof(double));
    // The loss is summed in double, n w terms per block (and a few block sums).
    r->loss_err += dpt_gamma_d(n * wL + 4) * loss_abs;
    if (want_grad) {
        const size_t np = dpt_net_n_params(net);
        r->grad = calloc(np, sizeof(double));
        r->grad_err = calloc(np, sizeof(double));
        for (size_t l = L; l >= 1; l--) {
            const size_t ni = spec->sizes[l - 1], no = spec->sizes[l];
            for (size_t j = 0; j < no; j++) {
                for (size_t q = 0; q < ni; q++) {
                    double s = 0, mag = 0, prop = 0;
                    for (size_t i = 0; i < n; i++) {
                        const double dv = d[i * no + j], e = ed[i * no + j];
                        const double av = a[l - 1][i * ni + q], eav = ea[l - 1][i * ni + q];
                        s += dv * av;
                        mag += (fabs(dv) + e) * (fabs(av) + eav);
                        prop += e * fabs(av) + fabs(dv) * eav + e * eav;
                    }
                    r->grad[wo[l] + j * ni + q] = s;
                    r->grad_err[wo[l] + j * ni + q] = dpt_ref_product_rel(n + 1, bf16) * mag + prop;
                }
                double s = 0, mag = 0, prop = 0;
                for (size_t i = 0; i < n; i++) {
                    s += d[i * no + j];
                    mag += fabs(d[i * no + j]) + ed[i * no + j];
                    prop += ed[i * no + j];
                }
                r->grad[bo[l] + j] = s;
                r->grad_err[bo[l] + j] = dpt_gamma(n + 1) * mag + prop;
            }
            if (l == 1)
                break;
            // delta_{l-1} = (delta_l W_l) x act'(a_{l-1}).
            const float *W = p + wo[l];
            double *nd = calloc(n * ni + 1, sizeof(double)),
                   *ned = calloc(n * ni + 1, sizeof(double));
            for (size_t i = 0; i < n; i++)
                for (size_t q = 0; q < ni; q++) {
                    double s = 0, mag = 0, prop = 0;
                    for (size_t j = 0; j < no; j++) {
                        const double w = W[j * ni + q];
                        s += d[i * no + j] * w;
                        mag += (fabs(d[i * no + j]) + ed[i * no + j]) * fabs(w);
                        prop += ed[i * no + j] * fabs(w);
                    }
                    const size_t k = i * ni + q;
                    nd[k] = dpt_ref_act_grad(spec->act[l - 2], slope, z[l - 1][k], ez[l - 1][k],
                                             a[l - 1][k], ea[l - 1][k], s,
                                             dpt_ref_product_rel(no, bf16) * mag + prop, &ned[k],
                                             &r->kinks);
                }
            free(d);
            free(ed);
            d = nd;
            ed = ned;
        }
    }
    free(d);
    free(ed);
    for (size_t l = 0; l <= L; l++) {
        free(z[l]);
        free(ez[l]);
        free(a[l]);
        free(ea[l]);
    }
}

// The reference of fp32 products.
static inline void dpt_ref_run(const struct dpt_net *net, const float *x, const size_t *idx,
                               size_t n, const struct dpt_targets *t, float scale, int want_grad,
                               struct dpt_ref *r)
{
    dpt_ref_run_prec(net, x, idx, n, t, scale, want_grad, 0, r);
}

#endif
