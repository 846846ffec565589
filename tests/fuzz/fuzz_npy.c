// libFuzzer harness for the NumPy data loader ("npy:X,Y"): each input is an NPY file, loaded as X
// (with 3 fixed int64 labels as Y) and as Y (with a fixed 3 x 2 float32 X), with the task from
// Y's dtype and forced both ways. A loaded set must be consistent: finite features, classes in
// range.
#define _GNU_SOURCE
#include <math.h>
#include <string.h>

#include "data/data_impl.h"
#include "dptrain/dptrain.h"
#include "fuzz_common.h"

static struct fuzz_file input, fx, fy;

static void npy_fixture(struct fuzz_file *f, const char *dict, const void *data, size_t len)
{
    unsigned char buf[128];
    memcpy(buf, "\x93NUMPY\x01\x00\x36\x00", 10);
    memset(buf + 10, ' ', 54);
    memcpy(buf + 10, dict, strlen(dict));
    buf[63] = '\n';
    memcpy(buf + 64, data, len);
    fuzz_file_set(f, buf, 64 + len);
}

static void load(const char *x, const char *y, enum dpt_task task, int given)
{
    struct dpt_dataset *ds = NULL;
    if (dpt_data_load_npy(x, y, task, given, &ds) == DPT_OK) {
        const size_t n = dpt_dataset_n(ds), d = dpt_dataset_n_in(ds), k = dpt_dataset_n_out(ds);
        for (size_t i = 0; i < n * d; i++)
            if (!isfinite(dpt_dataset_x(ds)[i]))
                abort();
        if (dpt_dataset_task(ds) == DPT_TASK_CLASSIFY)
            for (size_t i = 0; i < n; i++)
                if (dpt_dataset_labels(ds)[i] < 0 || (size_t)dpt_dataset_labels(ds)[i] >= k)
                    abort();
        if (dpt_dataset_task(ds) == DPT_TASK_REGRESS)
            for (size_t i = 0; i < n * k; i++)
                if (!isfinite(dpt_dataset_targets(ds)[i]))
                    abort();
    }
    dpt_dataset_destroy(ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        static const float x[6] = {1, 2, 3, 4, 5, 6};
        static const int64_t y[3] = {0, 1, 0};
        npy_fixture(&fx, "{'descr':'<f4','fortran_order':False,'shape':(3,2)}", x, sizeof x);
        npy_fixture(&fy, "{'descr':'<i8','fortran_order':False,'shape':(3,)}", y, sizeof y);
        ready = 1;
    }
    const char *path = fuzz_file_set(&input, data, size);
    load(path, fy.path, DPT_TASK_CLASSIFY, 0);
    load(fx.path, path, DPT_TASK_CLASSIFY, 0);
    load(fx.path, path, DPT_TASK_CLASSIFY, 1);
    load(fx.path, path, DPT_TASK_REGRESS, 1);
    return 0;
}
