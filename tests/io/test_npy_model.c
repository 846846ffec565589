// dpt_model_export_npy_ex / dpt_model_import_npy_ex: a whole model (tensors, dptrain.json, the
// normalisation arrays) out and back in, with and without an architecture given, and refusals
// that leave nothing behind.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <dptrain/dptrain.h>

#include "io_test.h"

Test(io, npy_model_round_trip)
{
    char dir[64], sub[128];
    io_test_tmpdir(dir, sizeof dir);
    snprintf(sub, sizeof sub, "%s/m", dir);
    struct dpt_net *net = io_test_net(3), *back = NULL;
    float shift[4] = {1.5f, -2.0f, 0.0f, 1e-7f}, scale[4] = {0.5f, 3.0f, 0.0f, 1e6f};
    int32_t labels[2] = {7, -3};
    struct dpt_model_info info, got;
    dpt_model_info_init(&info);
    info.n_classes = 2;
    info.class_labels = labels;
    info.norm.kind = DPT_NORM_MINMAX;
    info.norm.n_in = 4;
    info.norm.shift = shift;
    info.norm.scale = scale;
    info.provenance = "made by a test";
    cr_assert_eq(dpt_model_export_npy_ex(net, &info, sub), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(io_test_count_entries(sub), 7); // W1 b1 W2 b2 norm_shift norm_scale dptrain.json

    cr_assert_eq(dpt_model_import_npy_ex(sub, NULL, &back, &got), DPT_OK, "%s", dpt_last_error());
    io_test_same_spec(dpt_net_spec(net), dpt_net_spec(back));
    io_test_same_params(net, back);
    cr_assert_eq(got.task, DPT_TASK_CLASSIFY);
    cr_assert_eq(got.n_classes, 2u);
    cr_assert(got.class_labels && got.class_labels[0] == 7 && got.class_labels[1] == -3);
    cr_assert_eq(got.norm.kind, DPT_NORM_MINMAX);
    cr_assert_eq(got.norm.n_in, 4u);
    cr_assert(memcmp(got.norm.shift, shift, sizeof shift) == 0);
    cr_assert(memcmp(got.norm.scale, scale, sizeof scale) == 0);
    cr_assert_str_eq(got.provenance, "made by a test");
    dpt_model_info_cleanup(&got);
    dpt_net_destroy(back);

    // The architecture given must be the file's; a wrong one is refused, naming the field.
    struct dpt_net_spec spec = *dpt_net_spec(net);
    cr_assert_eq(dpt_model_import_npy_ex(sub, &spec, &back, NULL), DPT_OK, "%s", dpt_last_error());
    dpt_net_destroy(back);
    spec.act[0] = DPT_ACT_TANH;
    cr_assert_eq(dpt_model_import_npy_ex(sub, &spec, &back, &got), DPT_ERR_INVALID);
    cr_assert_null(back);
    cr_assert(strstr(dpt_last_error(), "act is relu,softmax, but tanh,softmax was given"), "%s",
              dpt_last_error());
    cr_assert_null(got.class_labels);

    // Without dptrain.json: the spec is needed, and the model is a bare network's.
    char path[192];
    snprintf(path, sizeof path, "%s/dptrain.json", sub);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(dpt_model_import_npy_ex(sub, NULL, &back, &got), DPT_ERR_IO);
    cr_assert(strstr(dpt_last_error(), "dptrain.json: not found"), "%s", dpt_last_error());
    spec = *dpt_net_spec(net);
    cr_assert_eq(dpt_model_import_npy_ex(sub, &spec, &back, &got), DPT_OK, "%s", dpt_last_error());
    io_test_same_params(net, back);
    cr_assert_eq(got.norm.kind, DPT_NORM_NONE);
    cr_assert_null(got.class_labels);
    dpt_model_info_cleanup(&got);
    dpt_net_destroy(back);

    // An info that does not fit the network is refused before anything is written.
    char sub2[160];
    snprintf(sub2, sizeof sub2, "%s/refused", dir);
    info.norm.n_in = 3;
    cr_assert_eq(dpt_model_export_npy_ex(net, &info, sub2), DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "norm.n_in is 3"), "%s", dpt_last_error());
    struct stat sb;
    cr_assert_neq(stat(sub2, &sb), 0, "a refused export created its directory");
    dpt_net_destroy(net);
    io_test_rmtree(dir);
}
