// Interoperability: a model file and an .npy export read by NumPy (and PyTorch / the safetensors
// package when installed) through tests/io/check_numpy_interop.py. Skipped when python3 or NumPy
// is missing, so CI without them still passes; /usr/bin/python3 is preferred;
// DPT_PYTHON=/path/to/python chooses another.
#include <sys/wait.h>

#include "io/io_test.h"

Test(io, numpy_reads_model_and_npy)
{
    char dir[64], model[128], npy[128], expected[128], cmd[1024];
    struct dpt_net *net = io_test_net(21);
    const struct dpt_net_spec *spec = dpt_net_spec(net);
    // Debian's interpreter first: that is where python3-numpy and python3-torch install.
    const char *python = getenv("DPT_PYTHON")                    ? getenv("DPT_PYTHON")
                         : access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3"
                                                                 : "python3";
    FILE *fp;
    int status;
    io_test_tmpdir(dir, sizeof dir);
    snprintf(model, sizeof model, "%s/model.safetensors", dir);
    snprintf(npy, sizeof npy, "%s/npy", dir);
    snprintf(expected, sizeof expected, "%s/expected.txt", dir);
    cr_assert_eq(dpt_model_save(model, net, NULL), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_model_export_npy(net, npy), DPT_OK, "%s", dpt_last_error());

    fp = fopen(expected, "w");
    cr_assert_not_null(fp);
    for (size_t l = 1; l <= spec->n_layers; l++) {
        size_t w_off, b_off, n_w = spec->sizes[l] * spec->sizes[l - 1];
        const float *p = dpt_net_params_const(net);
        cr_assert_eq(dpt_net_layer_offsets(net, l, &w_off, &b_off), DPT_OK);
        fprintf(fp, "W%zu %zu %zu :", l, spec->sizes[l], spec->sizes[l - 1]);
        for (size_t i = 0; i < n_w; i++)
            fprintf(fp, " %.9g", (double)p[w_off + i]);
        fprintf(fp, "\nb%zu %zu :", l, spec->sizes[l]);
        for (size_t i = 0; i < spec->sizes[l]; i++)
            fprintf(fp, " %.9g", (double)p[b_off + i]);
        fprintf(fp, "\n");
    }
    cr_assert_eq(fclose(fp), 0);

    snprintf(
        cmd, sizeof cmd,
        "command -v %s >/dev/null 2>&1 || exit 127; %s %s/tests/io/check_numpy_interop.py %s %s %s",
        python, python, DPT_SOURCE_DIR, model, npy, expected);
    status = system(cmd);
    cr_assert(status != -1 && WIFEXITED(status), "could not run %s", python);
    if (WEXITSTATUS(status) == 127 || WEXITSTATUS(status) == 77) {
        io_test_rmtree(dir);
        dpt_net_destroy(net);
        cr_skip_test("%s or NumPy is not available", python);
    }
    cr_assert_eq(WEXITSTATUS(status), 0, "the NumPy check failed (see its output above)");
    dpt_net_destroy(net);
    io_test_rmtree(dir);
}
