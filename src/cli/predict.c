// `dptrain predict`: a CSV with a header and one row per sample: the predicted class (its
// original label value) and the output of every class, or the predicted values for regression.
// The data is transformed as in training; its labels or targets are read but not used.
#include <errno.h>
#include <string.h>

#include "cli_impl.h"

static const char synopsis[] = "--model MODEL --data SPEC [--part train|test] [--out FILE]\n\n"
                               "CSV columns: class,p0,p1,... (classification: class is the\n"
                               "original label, a number or a name, pK the output for class K)\n"
                               "or y0,y1,... (regression).";

struct predict {
    FILE *f;
    const char *path; // for messages: the --out path, or NULL for standard output
    size_t n_out;
    bool classify;
    const struct dpt_model_info *info; // the model's class labels or names
};

static int on_block(void *user, size_t i0, size_t n, const float *out,
                    const struct dpt_block_stats *st)
{
    (void)i0;
    (void)st;
    struct predict *p = user;
    for (size_t i = 0; i < n; i++) {
        const float *row = out + i * p->n_out;
        if (p->classify) {
            const size_t c = cli_predict_class(row, p->n_out);
            char num[16];
            cli_csv_cell(p->f, cli_class_label(p->info, c, num, sizeof num));
            if (p->n_out == 1) // one sigmoid output: P(class 1); show both classes
                fprintf(p->f, ",%.9g,%.9g", 1.0 - (double)row[0], (double)row[0]);
            else
                for (size_t j = 0; j < p->n_out; j++)
                    fprintf(p->f, ",%.9g", (double)row[j]);
        } else {
            for (size_t j = 0; j < p->n_out; j++)
                fprintf(p->f, "%s%.9g", j ? "," : "", (double)row[j]);
        }
        fputc('\n', p->f);
    }
    if (!ferror(p->f))
        return 0;
    const int e = errno ? errno : EIO;
    return p->path ? cli_error("--out: error writing '%s': %s", p->path, strerror(e))
                   : cli_error("--out: error writing to standard output: %s", strerror(e));
}

int cli_predict(int argc, char **argv)
{
    struct cli_flag flags[] = {
        {"model", "MODEL", "the model file (required)", 0},
        {"data", "SPEC", "the samples (required); labels or targets are ignored", 0},
        {"part", "P", "train (default) or test: which part of SPEC (fashion-mnist: t10k)", 0},
        {"out", "FILE", "write the CSV here, atomically (default: standard output)", 0},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    size_t n_pos = 0;
    int rc = cli_parse("predict", synopsis, flags, argc, argv, 2, pos, 0, &n_pos);
    if (rc < 0)
        return CLI_OK;
    if (rc)
        return rc;
    const char *model, *data;
    int part;
    if ((rc = cli_model_data_flags(flags, "predict", &model, &data, &part)))
        return rc;

    struct dpt_net *net = NULL;
    struct dpt_model_info info;
    dpt_model_info_init(&info);
    struct dpt_dataset *ds = NULL;
    struct cli_out out = {0};
    if ((rc = cli_load_model("model", model, &net, &info)))
        goto cleanup;
    if ((rc = cli_model_data("data", data, part, model, net, &info, false, &ds)))
        goto cleanup;
    // Opened only once the inputs are known good: a failed command leaves no file behind.
    if ((rc = cli_out_open(&out, cli_get(flags, "out"), "out")))
        goto cleanup;
    const struct dpt_net_spec *spec = dpt_net_spec(net);
    struct predict p = {out.f, out.path, spec->sizes[spec->n_layers],
                        info.task == DPT_TASK_CLASSIFY, &info};
    if (p.classify) {
        fputs("class", p.f);
        for (size_t j = 0; j < (p.n_out == 1 ? 2 : p.n_out); j++)
            fprintf(p.f, ",p%zu", j);
    } else {
        for (size_t j = 0; j < p.n_out; j++)
            fprintf(p.f, "%sy%zu", j ? "," : "", j);
    }
    fputc('\n', p.f);
    if ((rc = cli_forward_blocks(net, ds, false, on_block, &p)))
        goto cleanup;
    rc = cli_out_commit(&out);
cleanup:
    if (out.f || out.tmp)
        cli_out_abort(&out);
    dpt_dataset_destroy(ds);
    dpt_net_destroy(net);
    dpt_model_info_cleanup(&info);
    return rc;
}
