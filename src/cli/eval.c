// `dptrain eval`: a model's loss on a data set, transformed exactly as in training; accuracy,
// per-class precision and recall and the confusion matrix for classification; RMSE and MAE for
// regression. Text, or one JSON object with stable names (--json).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_impl.h"

static const char synopsis[] = "--model MODEL --data SPEC [--part train|test] [--json]";

struct eval {
    size_t n_out; // network outputs
    size_t k;     // classes (classification)
    bool classify;
    const struct dpt_dataset *ds;
    double loss_sum;
    size_t correct;
    size_t *confusion; // k x k: rows true class, columns predicted class
    double *sq, *abs;  // per output sums of squared and absolute errors (regression)
};

static int on_block(void *user, size_t i0, size_t n, const float *out,
                    const struct dpt_block_stats *st)
{
    struct eval *e = user;
    e->loss_sum += st->loss_sum;
    e->correct += st->correct;
    if (e->classify) {
        const int32_t *y = dpt_dataset_labels(e->ds) + i0;
        for (size_t i = 0; i < n; i++) {
            const size_t pred = cli_predict_class(out + i * e->n_out, e->n_out);
            e->confusion[(size_t)y[i] * e->k + pred]++;
        }
    } else {
        const float *y = dpt_dataset_targets(e->ds) + i0 * e->n_out;
        for (size_t i = 0; i < n * e->n_out; i++) {
            const double d = (double)out[i] - (double)y[i];
            e->sq[i % e->n_out] += d * d;
            e->abs[i % e->n_out] += fabs(d);
        }
    }
    return 0;
}

static double ratio(size_t a, size_t b)
{
    return b ? (double)a / (double)b : NAN;
}

static void json_array(FILE *f, const char *key, const double *v, size_t n)
{
    fprintf(f, ",\"%s\":[", key);
    for (size_t i = 0; i < n; i++) {
        if (isfinite(v[i]))
            fprintf(f, "%s%.9g", i ? "," : "", v[i]);
        else
            fprintf(f, "%snull", i ? "," : "");
    }
    fputc(']', f);
}

static void print_classify(const struct eval *e, const struct dpt_model_info *info, size_t n,
                           bool json, const char *model, const char *data)
{
    const size_t k = e->k;
    double *prec = calloc(k, sizeof *prec), *rec = calloc(k, sizeof *rec);
    size_t *support = calloc(k, sizeof *support);
    if (!prec || !rec || !support) {
        free(prec);
        free(rec);
        free(support);
        cli_error("out of memory");
        return;
    }
    for (size_t c = 0; c < k; c++) {
        size_t col = 0, row = 0;
        for (size_t j = 0; j < k; j++) {
            col += e->confusion[j * k + c];
            row += e->confusion[c * k + j];
        }
        support[c] = row;
        prec[c] = ratio(e->confusion[c * k + c], col);
        rec[c] = ratio(e->confusion[c * k + c], row);
    }
    const double loss = e->loss_sum / (double)n, acc = ratio(e->correct, n);
    if (json) {
        printf("{\"task\":\"classify\"");
        cli_json_str(stdout, "model", model);
        cli_json_str(stdout, "data", data);
        printf(",\"n\":%zu", n);
        cli_json_num(stdout, "loss", loss);
        cli_json_num(stdout, "accuracy", acc);
        printf(",\"classes\":[");
        for (size_t c = 0; c < k; c++) {
            char num[16];
            fputs(c ? "," : "", stdout);
            if (info->class_names)
                cli_json_quote(stdout, info->class_names[c]);
            else
                fputs(cli_class_label(info, c, num, sizeof num), stdout);
        }
        printf("]");
        json_array(stdout, "precision", prec, k);
        json_array(stdout, "recall", rec, k);
        printf(",\"support\":[");
        for (size_t c = 0; c < k; c++)
            printf("%s%zu", c ? "," : "", support[c]);
        printf("],\"confusion\":[");
        for (size_t c = 0; c < k; c++) {
            printf("%s[", c ? "," : "");
            for (size_t j = 0; j < k; j++)
                printf("%s%zu", j ? "," : "", e->confusion[c * k + j]);
            printf("]");
        }
        printf("]}\n");
    } else {
        printf("model: %s\ndata: %s (%zu samples)\n", model, data, n);
        printf("loss: %.6g\naccuracy: %.4f (%zu/%zu)\n\n", loss, acc, e->correct, n);
        // Columns as wide as the longest label (text labels may be long; numbers are short).
        char num[16];
        int lw = 0;
        for (size_t c = 0; c < k; c++) {
            const int len = (int)strlen(cli_class_label(info, c, num, sizeof num));
            lw = len > lw ? len : lw;
        }
        const int w7 = lw > 7 ? lw : 7, w6 = lw > 6 ? lw : 6;
        printf("%7s %*s %10s %10s %9s\n", "class", w7, "label", "precision", "recall", "support");
        for (size_t c = 0; c < k; c++) {
            printf("%7zu %*s", c, w7, cli_class_label(info, c, num, sizeof num));
            for (int m = 0; m < 2; m++) {
                const double v = m ? rec[c] : prec[c];
                if (isfinite(v))
                    printf(" %10.4f", v);
                else
                    printf(" %10s", "-");
            }
            printf(" %9zu\n", support[c]);
        }
        printf("\nconfusion matrix (rows: true label, columns: predicted label):\n%*s", w7, "");
        for (size_t j = 0; j < k; j++)
            printf(" %*s", w6, cli_class_label(info, j, num, sizeof num));
        printf("\n");
        for (size_t c = 0; c < k; c++) {
            printf("%*s", w7, cli_class_label(info, c, num, sizeof num));
            for (size_t j = 0; j < k; j++)
                printf(" %*zu", w6, e->confusion[c * k + j]);
            printf("\n");
        }
    }
    free(prec);
    free(rec);
    free(support);
}

static void print_regress(const struct eval *e, size_t n, bool json, const char *model,
                          const char *data)
{
    const size_t w = e->n_out;
    double sq = 0.0, ab = 0.0;
    for (size_t j = 0; j < w; j++) {
        sq += e->sq[j];
        ab += e->abs[j];
        e->sq[j] = sqrt(e->sq[j] / (double)n); // per-output RMSE
        e->abs[j] /= (double)n;                // per-output MAE
    }
    const double loss = e->loss_sum / (double)n;
    const double rmse = sqrt(sq / ((double)n * (double)w)), mae = ab / ((double)n * (double)w);
    if (json) {
        printf("{\"task\":\"regress\"");
        cli_json_str(stdout, "model", model);
        cli_json_str(stdout, "data", data);
        printf(",\"n\":%zu", n);
        cli_json_num(stdout, "loss", loss);
        cli_json_num(stdout, "rmse", rmse);
        cli_json_num(stdout, "mae", mae);
        json_array(stdout, "rmse_per_output", e->sq, w);
        json_array(stdout, "mae_per_output", e->abs, w);
        printf("}\n");
    } else {
        printf("model: %s\ndata: %s (%zu samples)\n", model, data, n);
        printf("loss: %.6g\nrmse: %.6g\nmae: %.6g\n", loss, rmse, mae);
        if (w > 1) {
            printf("\n%7s %12s %12s\n", "output", "rmse", "mae");
            for (size_t j = 0; j < w; j++)
                printf("%7zu %12.6g %12.6g\n", j, e->sq[j], e->abs[j]);
        }
    }
}

int cli_eval(int argc, char **argv)
{
    struct cli_flag flags[] = {
        {"model", "MODEL", "the model file (required)", 0},
        {"data", "SPEC", "the data to evaluate on (required); docs/formats.md", 0},
        {"part", "P", "train (default) or test: which part of SPEC (fashion-mnist: t10k)", 0},
        {"json", NULL, "print one JSON object instead of text", 0},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    size_t n_pos = 0;
    int rc = cli_parse("eval", synopsis, flags, argc, argv, 2, pos, 0, &n_pos);
    if (rc < 0)
        return CLI_OK;
    if (rc)
        return rc;
    const char *model, *data;
    int part;
    if ((rc = cli_model_data_flags(flags, "eval", &model, &data, &part)))
        return rc;
    const bool json = cli_get(flags, "json") != NULL;

    struct dpt_net *net = NULL;
    struct dpt_model_info info;
    dpt_model_info_init(&info);
    struct dpt_dataset *ds = NULL;
    struct eval e;
    memset(&e, 0, sizeof e);
    if ((rc = cli_load_model("model", model, &net, &info)))
        goto cleanup;
    if ((rc = cli_model_data("data", data, part, model, net, &info, true, &ds)))
        goto cleanup;
    const struct dpt_net_spec *spec = dpt_net_spec(net);
    e.n_out = spec->sizes[spec->n_layers];
    e.classify = info.task == DPT_TASK_CLASSIFY;
    e.k = info.n_classes;
    e.ds = ds;
    if (e.classify)
        e.confusion = calloc(e.k * e.k, sizeof *e.confusion);
    else {
        e.sq = calloc(e.n_out, sizeof *e.sq);
        e.abs = calloc(e.n_out, sizeof *e.abs);
    }
    if (e.classify ? !e.confusion : (!e.sq || !e.abs)) {
        rc = cli_error("out of memory");
        goto cleanup;
    }
    if ((rc = cli_forward_blocks(net, ds, true, on_block, &e)))
        goto cleanup;
    if (e.classify)
        print_classify(&e, &info, dpt_dataset_n(ds), json, model, data);
    else
        print_regress(&e, dpt_dataset_n(ds), json, model, data);
    if (fflush(stdout) != 0)
        rc = cli_error("error writing to standard output");
cleanup:
    free(e.confusion);
    free(e.sq);
    free(e.abs);
    dpt_dataset_destroy(ds);
    dpt_net_destroy(net);
    dpt_model_info_cleanup(&info);
    return rc;
}
