// Private: the kernels of the sliced weight gradient (docs/architecture.md, "Two ways to form the
// gradient"). A batch workspace keeps the inputs, activations and deltas of every sample of a step;
// each worker fills the rows of its shard with dpt_net_deltas (forward, loss, backward deltas, no
// weight gradients), and after a barrier forms the gradient of its own rows of W_l and b_l over
// the whole batch with dpt_net_layer_grad: no per-worker full gradients, no reduction.
#ifndef DPT_SLICED_IMPL_H
#define DPT_SLICED_IMPL_H

#include "dptrain/core.h"
#include "gemm_impl.h"

// Makes ordinary workspace ws's GEMM packing buffer the calling thread's (gemm_impl.h) and
// returns the previous one, to be restored with dpt_gemm_pack_use. A worker whose products run
// on a batch workspace (which has no buffer) calls this with its own workspace first.
struct dpt_gemm_pack dpt_workspace_pack_use(const struct dpt_workspace *ws);

// Bytes of a batch workspace of `rows` rows (0 on overflow).
size_t dpt_batch_workspace_bytes(const struct dpt_net *net, size_t rows);

// A workspace holding, for `rows` samples, the gathered inputs, every layer's activations and
// every layer's delta. Free with dpt_workspace_destroy.
enum dpt_status dpt_batch_workspace_create(const struct dpt_net *net, size_t rows,
                                           struct dpt_workspace **out);

// A twin of batch workspace ws whose layer-l activations live in a block of its own (rows x n_l)
// while every other buffer is ws's: two steps can then hold different layer-l activations, one
// being computed while the other is read (split_first's pipelining, trainer.c). Destroy it with
// dpt_workspace_destroy (which frees only its own block), before or with ws.
enum dpt_status dpt_batch_workspace_twin(const struct dpt_net *net, const struct dpt_workspace *ws,
                                         size_t l, struct dpt_workspace **out);

// split_all's shared operands (net_impl.h, gemm_impl.h "operand images"): gives batch workspace
// ws (before any twin is made of it) the images its products share, where they can be used (fp32,
// built-in kernels, at least two hidden layers, DPT_SHARE_PACK not 0); cols[l]: the columns of
// hidden layer l each worker computes, the same for every worker. dpt_net_forward_cols,
// dpt_net_backward_cols and dpt_net_layer_grad then fill and read them; the results are bitwise
// those without.
enum dpt_status dpt_batch_workspace_images(const struct dpt_net *net, struct dpt_workspace *ws,
                                           const size_t *cols);
// 0 when DPT_SHARE_PACK=0 (no images: for tests and benchmarks), else 1.
int dpt_images_env(void);

// Copies samples x[idx[i]] (x[i] when idx is NULL), i < n, into dst (n x n_0).
void dpt_batch_gather(const struct dpt_net *net, float *dst, const float *x, const size_t *idx,
                      size_t n);

// Output columns j0 .. j1 of hidden layer l (not the output layer) for all m rows of the batch:
// a_l[:, j0:j1] = act(in W_l[j0:j1]^T + b_l[j0:j1]), in: m x n_(l-1), or its rows at in_rows[i]
// when in_rows is non-NULL (only where dpt_gemm_rows_available()), or the workspace's own
// activations of layer l - 1 (its inputs for l = 1) when both are NULL. Reads only rows j0 .. j1 of
// W_l, so a worker that owns those rows keeps them in its cache.
void dpt_net_forward_cols(const struct dpt_net *net, struct dpt_workspace *ws, size_t l,
                          const float *in, const float *const *in_rows, size_t m, size_t j0,
                          size_t j1);

// Forward from layer `from`, loss and backward deltas of the samples x[idx[i]] (x[i] when idx is
// NULL), i < n, in rows r0 .. r0 + n of a batch workspace. from == 1: the inputs are gathered
// into the workspace first; from > 1: the activations of layer from - 1 in those rows must be in
// place. Deltas carry `scale` (1/batch for mean reduction), as in dpt_net_backprop; statistics
// (unscaled) in *st. Several threads may fill disjoint row ranges.
void dpt_net_deltas(const struct dpt_net *net, struct dpt_workspace *ws, size_t from,
                    const float *x, const size_t *idx, size_t r0, size_t n,
                    const struct dpt_targets *t, float scale, struct dpt_block_stats *st);
// dpt_net_deltas over np >= 1 adjacent pieces of rows at once: piece i is rows r0 + cut[i] ..
// r0 + cut[i + 1] (cut[0] = 0), samples idx[cut[i]] .. (idx non-NULL where np > 1), its
// statistics in st[i]. Bitwise the results of one dpt_net_deltas call per piece: a product runs
// once over all the rows only where the kernels compute every row the same either way
// (dpt_gemm_rows_merge), else once per piece, and each piece's loss is summed on its own. A thread
// that runs several workers' shards (the dynamic step, for a thread standing down) then packs
// each weight matrix once per product instead of once per shard.
void dpt_net_deltas_pieces(const struct dpt_net *net, struct dpt_workspace *ws, size_t from,
                           const float *x, const size_t *idx, size_t r0, const size_t *cut,
                           size_t np, const struct dpt_targets *t, float scale,
                           struct dpt_block_stats *st);

// The hidden layers split by output rows as well (split_all, trainer.c): the output layer's
// forward pass, loss and delta for batch rows r0 .. r0 + n (samples idx[i]: their targets), from
// the activations of layer L - 1 in those rows, which must be in place. As dpt_net_deltas with
// from = L, but no deltas below the output layer.
void dpt_net_output_deltas(const struct dpt_net *net, struct dpt_workspace *ws, const size_t *idx,
                           size_t r0, size_t n, const struct dpt_targets *t, float scale,
                           struct dpt_block_stats *st);

// Columns j0 .. j1 of hidden layer l's delta for all m rows of the batch:
// Delta_l[:, j0:j1] = (Delta_(l+1) W_(l+1)[:, j0:j1]) .* act'(A_l[:, j0:j1]). Needs every column
// of Delta_(l+1) and the activations A_l[:, j0:j1] in place; reads columns j0 .. j1 of W_(l+1).
void dpt_net_backward_cols(const struct dpt_net *net, struct dpt_workspace *ws, size_t l, size_t m,
                           size_t j0, size_t j1);

// Rows j0 .. j1 of layer l's gradient over batch rows 0 .. m (m >= 1) of a filled batch workspace:
//   w = alpha * Delta_l[:, j0:j1]^T A_(l-1) + beta * w     ((j1 - j0) x n_(l-1), row-major)
//   b = alpha * Delta_l[:, j0:j1]^T 1 + beta * b           (j1 - j0)
// A_0 is the rows x_rows[i] when x_rows is non-NULL (the batch's inputs where they lie; only where
// dpt_gemm_rows_available()), else x when non-NULL (a worker's own copy of the batch's inputs),
// else the workspace's.
// With w, b the gradient's rows and (alpha, beta) = (1, 0) this is the gradient; with w, b the
// parameters' rows and (-rate, 1) it is a fixed-rate SGD step folded into the product.
void dpt_net_layer_grad(const struct dpt_net *net, const struct dpt_workspace *ws, size_t l,
                        const float *x, const float *const *x_rows, size_t j0, size_t j1, size_t m,
                        float alpha, float beta, float *w, float *b);
// Whether one dpt_net_layer_grad call over `rows` rows of layer l gives every row the bits it gets
// in calls over adjacent pieces of them, the smallest `piece` rows (the same batch rows 0 .. m,
// inputs, alpha and beta): fp32, no image of layer l - 1's activations (split_all's, read only
// at one width), and a product dpt_gemm_rows_merge merges (its rows are the gradient's). The bias
// is each row's own column sum either way. The dynamic step then forms several workers' gradient
// rows in one product, packing the batch's inputs or activations once.
int dpt_net_layer_grad_merges(const struct dpt_net *net, const struct dpt_workspace *ws, size_t l,
                              size_t piece, size_t rows, size_t m);

#endif
