// Private: the network and workspace structs, shared by net.c and kernel.c.
#ifndef DPT_NET_IMPL_H
#define DPT_NET_IMPL_H

#include "dptrain/core.h"

struct dpt_net {
    struct dpt_net_spec spec;
    size_t n_params;    // padded floats
    size_t n_trainable; // weights + biases
    size_t w_off[DPT_MAX_LAYERS + 1];
    size_t b_off[DPT_MAX_LAYERS + 1];
    float *params; // 64-byte aligned, n_params floats
};

struct dpt_workspace {
    size_t max_rows;
    size_t n_layers;
    size_t sizes[DPT_MAX_LAYERS + 1];
    float *x;                     // gathered inputs, max_rows x n_0
    float *a[DPT_MAX_LAYERS + 1]; // a[l]: activations of layer l (l >= 1), max_rows x n_l
    float *d[2];                  // deltas, max_rows x max(n_l), ping-pong
    // Batch workspaces only (sliced_impl.h): every layer's delta, max_rows x n_l, kept until the
    // weight gradients of the whole batch are formed. NULL in ordinary workspaces.
    float *dl[DPT_MAX_LAYERS + 1];
    // Ordinary workspaces only: the packing buffer of the GEMMs run by the thread that uses this
    // workspace (gemm_impl.h), pack_floats long; NULL (0) where the packed GEMM is not built.
    float *pack;
    size_t pack_floats;
    // The arithmetic of the products of a training step on this workspace (gemm_bf16.h);
    // evaluation and dpt_net_forward run in fp32 whatever it says.
    enum dpt_precision precision;
    float *block; // one allocation holding all of the above
    // Batch workspaces of split_all only (dpt_batch_workspace_images): images of the operands the
    // workers share (gemm_impl.h), each filled by the workers that computed its columns. ia[l]:
    // op(A) of layer l + 1's forward product (a[l]); ib[l]: op(B) of layer l + 1's weight
    // gradient (a[l]); id[l]: op(A) of layer l - 1's delta product (dl[l]). NULL where none.
    // cols[l]: the most columns of hidden layer l a worker computes, for which each image is
    // filled or not (dpt_gemm_image_pays); every worker reads a filled one. 0 for other layers.
    float *ia[DPT_MAX_LAYERS + 1], *ib[DPT_MAX_LAYERS + 1], *id[DPT_MAX_LAYERS + 1];
    size_t cols[DPT_MAX_LAYERS + 1];
    float *img_block; // the images' own allocation
};

#endif
