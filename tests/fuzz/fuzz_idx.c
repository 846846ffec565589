// libFuzzer harness for the IDX loader (raw and gzip'd): an input is an image file and a label
// file: two bytes (little-endian) give the length L of the image file, the next L bytes are the
// image file and the rest is the label file (L is clamped to what is there). A loaded set must
// be consistent: values in [0, 1] for integer types, labels below n_out.
#define _GNU_SOURCE
#include <math.h>

#include "dptrain/dptrain.h"
#include "fuzz_common.h"

static struct fuzz_file images, labels;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len = 0;
    if (size >= 2) {
        len = (size_t)data[0] | (size_t)data[1] << 8;
        data += 2;
        size -= 2;
    }
    if (len > size)
        len = size;
    const char *ip = fuzz_file_set(&images, data, len);
    const char *lp = fuzz_file_set(&labels, data + len, size - len);
    struct dpt_dataset *ds = NULL;
    if (dpt_load_idx(ip, lp, &ds) == DPT_OK) {
        size_t n = dpt_dataset_n(ds), d = dpt_dataset_n_in(ds);
        for (size_t i = 0; i < n * d; i++)
            if (!isfinite(dpt_dataset_x(ds)[i]))
                abort();
        for (size_t i = 0; i < n; i++)
            if (dpt_dataset_labels(ds)[i] < 0 ||
                (size_t)dpt_dataset_labels(ds)[i] >= dpt_dataset_n_out(ds))
                abort();
    }
    dpt_dataset_destroy(ds);
    return 0;
}
