// libFuzzer harness for the CSV loader: each input is a CSV file, loaded three times: as a
// classification set (label in the last column), as a regression set (target in the first
// column, so the label-column logic is exercised both ways), and as a classification set with ';'
// between cells and the label column chosen by its header name "y" (quoting, header names and
// text labels then meet another delimiter). A loaded set must be consistent.
#define _GNU_SOURCE
#include <string.h>

#include "data/data_impl.h"
#include "dptrain/dptrain.h"
#include "fuzz_common.h"

static struct fuzz_file file;

static void load(const char *path, enum dpt_task task, size_t label_col, char delim,
                 const char *label_name)
{
    struct dpt_text_options opt = {
        .task = task, .label_col = label_col, .delim = delim, .label_name = label_name};
    struct dpt_dataset *ds = NULL;
    if (dpt_data_load_csv(path, &opt, &ds) == DPT_OK) {
        // Touch every value (ASan checks the bounds); classes must be in range, and text labels
        // are distinct, sorted, one per class.
        size_t n = dpt_dataset_n(ds), d = dpt_dataset_n_in(ds), k = dpt_dataset_n_out(ds);
        volatile float sink = 0.0f;
        for (size_t i = 0; i < n * d; i++)
            sink += dpt_dataset_x(ds)[i];
        if (task == DPT_TASK_CLASSIFY)
            for (size_t i = 0; i < n; i++)
                if (dpt_dataset_labels(ds)[i] < 0 || (size_t)dpt_dataset_labels(ds)[i] >= k)
                    abort();
        const char *const *names = dpt_dataset_class_names(ds);
        for (size_t c = 0; names && c < k; c++)
            if (names[c][0] == '\0' || (c > 0 && strcmp(names[c - 1], names[c]) >= 0))
                abort();
        sink += (float)strlen(dpt_dataset_warnings(ds));
        (void)sink;
    }
    dpt_dataset_destroy(ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file_set(&file, data, size);
    load(path, DPT_TASK_CLASSIFY, DPT_CSV_LABEL_LAST, 0, NULL);
    load(path, DPT_TASK_REGRESS, 0, 0, NULL);
    load(path, DPT_TASK_CLASSIFY, 0, ';', "y");
    return 0;
}
