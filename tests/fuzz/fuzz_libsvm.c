// libFuzzer harness for the LIBSVM loader: each input is a LIBSVM file, loaded as a
// classification set with the width taken from the file, and as a regression set with
// features=4 (so indices beyond the declared width are exercised). A loaded set must be
// consistent.
#define _GNU_SOURCE
#include "data/data_impl.h"
#include "dptrain/dptrain.h"
#include "fuzz_common.h"

static struct fuzz_file file;

// LIBSVM is sparse and the loader densifies it, so a 13-byte line "1 99999999:1" is a valid
// 400 MB data set (the fuzzer found that first). Inputs whose dense size could exceed this many
// floats skip the load that takes the width from the file; the load with features=4 still runs
// (it reports such indices as errors). libFuzzer's -malloc_limit_mb stays armed, so a large
// allocation from any other cause is still reported.
#define DENSE_MAX_FLOATS ((uint64_t)16 << 20)

// An upper bound on rows x width: (lines) x (the largest number written right before a ':').
// Every index the loader accepts is such a number, so this never under-estimates.
static int dense_too_big(const uint8_t *data, size_t size)
{
    uint64_t lines = 1, max_index = 0, v = 0;
    int digits = 0;
    for (size_t i = 0; i < size; i++) {
        uint8_t c = data[i];
        if (c >= '0' && c <= '9') {
            if (v < ((uint64_t)1 << 40)) // saturates far above any accepted index
                v = v * 10 + (uint64_t)(c - '0');
            digits = 1;
            continue;
        }
        if (digits && c == ':' && v > max_index)
            max_index = v;
        lines += c == '\n';
        v = 0;
        digits = 0;
    }
    return lines * max_index > DENSE_MAX_FLOATS;
}

static void load(const char *path, enum dpt_task task, size_t features)
{
    struct dpt_text_options opt = {.task = task, .features = features};
    struct dpt_dataset *ds = NULL;
    if (dpt_data_load_libsvm(path, &opt, &ds) == DPT_OK) {
        size_t n = dpt_dataset_n(ds), d = dpt_dataset_n_in(ds);
        volatile float sink = 0.0f;
        if (features && d != features)
            abort();
        for (size_t i = 0; i < n * d; i++)
            sink += dpt_dataset_x(ds)[i];
        if (task == DPT_TASK_CLASSIFY)
            for (size_t i = 0; i < n; i++)
                if (dpt_dataset_labels(ds)[i] < 0 ||
                    (size_t)dpt_dataset_labels(ds)[i] >= dpt_dataset_n_out(ds))
                    abort();
        (void)sink;
    }
    dpt_dataset_destroy(ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file_set(&file, data, size);
    if (!dense_too_big(data, size))
        load(path, DPT_TASK_CLASSIFY, 0);
    load(path, DPT_TASK_REGRESS, 4);
    return 0;
}
