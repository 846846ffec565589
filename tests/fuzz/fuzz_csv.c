// libFuzzer harness for the CSV loader: each input is a CSV file, loaded twice, as a
// classification set (label in the last column) and as a regression set (target in the first
// column, so the label-column logic is exercised both ways). A loaded set must be consistent.
#define _GNU_SOURCE
#include "data/data_impl.h"
#include "dptrain/dptrain.h"
#include "fuzz_common.h"

static struct fuzz_file file;

static void load(const char *path, enum dpt_task task, size_t label_col)
{
    struct dpt_text_options opt = {task, label_col, 0};
    struct dpt_dataset *ds = NULL;
    if (dpt_data_load_csv(path, &opt, &ds) == DPT_OK) {
        // Touch every value (ASan checks the bounds); classes must be in range.
        size_t n = dpt_dataset_n(ds), d = dpt_dataset_n_in(ds);
        volatile float sink = 0.0f;
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
    load(path, DPT_TASK_CLASSIFY, DPT_CSV_LABEL_LAST);
    load(path, DPT_TASK_REGRESS, 0);
    return 0;
}
