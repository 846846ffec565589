// Data, models and network specs for the subcommands: loading a data SPEC with errors that name
// the flag, mapping a data set's classes to a model's, transforming data exactly as training did,
// and building a network spec from --layers/--act/--loss/--reduction.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_impl.h"

int cli_load_data(const char *flag, const char *spec, int test, bool quiet,
                  struct dpt_dataset **out)
{
    *out = NULL;
    enum dpt_status st = dpt_data_load(spec, test, out);
    if (st != DPT_OK) {
        char ctx[300];
        snprintf(ctx, sizeof ctx, "--%s %s", flag, spec);
        return cli_fail(st, ctx);
    }
    if (dpt_dataset_n(*out) == 0) {
        dpt_dataset_destroy(*out);
        *out = NULL;
        return cli_error("--%s %s: the data set is empty", flag, spec);
    }
    // The loader's warnings, one line each.
    for (const char *w = dpt_dataset_warnings(*out); *w && !quiet;) {
        const size_t len = strcspn(w, "\n");
        cli_warn("--%s: %.*s", flag, (int)len, w);
        w += len + (w[len] == '\n');
    }
    return 0;
}

int cli_load_model(const char *flag, const char *path, struct dpt_net **net,
                   struct dpt_model_info *info)
{
    *net = NULL;
    enum dpt_status st = dpt_model_load(path, net, info);
    if (st != DPT_OK) {
        char ctx[64];
        snprintf(ctx, sizeof ctx, "--%s", flag);
        return cli_fail(st, flag ? ctx : "");
    }
    return 0;
}

// ---- classes ----

static long find_label(const int32_t *labels, size_t n, int64_t v)
{
    if (!labels)
        return v >= 0 && (uint64_t)v < n ? (long)v : -1;
    for (size_t i = 0; i < n; i++)
        if (labels[i] == v)
            return (long)i;
    return -1;
}

static long find_name(char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (long)i;
    return -1;
}

int cli_map_classes(struct dpt_dataset *ds, size_t n_classes, const int32_t *labels,
                    char *const *names, const char *what)
{
    const int32_t *have = NULL;
    size_t k = 0;
    if (dpt_dataset_class_labels(ds, &have, &k) != DPT_OK)
        return cli_error("%s: not a classification data set", what);
    const char *const *have_names = dpt_dataset_class_names(ds);
    if (!have_names != !names)
        return cli_error("%s: the data's class labels are %s, but the model's are %s (%s)", what,
                         have_names ? "text" : "numbers", names ? "text" : "numbers",
                         names ? names[0] : have_names[0]);
    int32_t *remap = calloc(k ? k : 1, sizeof *remap);
    unsigned char *used = calloc(k ? k : 1, 1);
    if (!remap || !used) {
        free(remap);
        free(used);
        return cli_error("%s: out of memory", what);
    }
    int32_t *y = dpt_dataset_labels_mut(ds);
    const size_t n = dpt_dataset_n(ds);
    for (size_t i = 0; i < n; i++)
        used[y[i]] = 1;
    int rc = 0;
    for (size_t c = 0; c < k && !rc; c++) {
        const int64_t v = have ? have[c] : (int64_t)c;
        const long r = have_names ? find_name(names, n_classes, have_names[c])
                                  : find_label(labels, n_classes, v);
        if (r < 0 && used[c] && have_names)
            rc = cli_error("%s: label '%s' is not one of the model's %zu classes", what,
                           have_names[c], n_classes);
        else if (r < 0 && used[c])
            rc = cli_error("%s: label %lld is not one of the model's %zu classes", what,
                           (long long)v, n_classes);
        remap[c] = (int32_t)(r < 0 ? 0 : r);
    }
    if (!rc)
        for (size_t i = 0; i < n; i++)
            y[i] = remap[y[i]];
    free(remap);
    free(used);
    return rc;
}

int cli_model_data(const char *flag, const char *spec, int test, const char *model_path,
                   const struct dpt_net *net, const struct dpt_model_info *info, bool need_targets,
                   struct dpt_dataset **out)
{
    struct dpt_dataset *ds = NULL;
    int rc = cli_load_data(flag, spec, test, false, &ds);
    if (rc)
        return rc;
    const struct dpt_net_spec *ns = dpt_net_spec(net);
    const size_t n_out = ns->sizes[ns->n_layers];
    if (dpt_dataset_n_in(ds) != ns->sizes[0]) {
        rc = cli_error("--%s %s: %zu features per sample, but the model %s takes %zu", flag, spec,
                       dpt_dataset_n_in(ds), model_path, ns->sizes[0]);
        goto cleanup;
    }
    if (need_targets) {
        const bool ds_classify = dpt_dataset_task(ds) == DPT_TASK_CLASSIFY;
        if (info->task == DPT_TASK_REGRESS && ds_classify) {
            rc = cli_error("--%s %s: the model %s is a regression model; load the data with "
                           "target=regression",
                           flag, spec, model_path);
            goto cleanup;
        }
        if (info->task == DPT_TASK_CLASSIFY && !ds_classify) {
            rc = cli_error("--%s %s: the model %s is a classification model, but the data has "
                           "regression targets",
                           flag, spec, model_path);
            goto cleanup;
        }
        if (!ds_classify && dpt_dataset_n_out(ds) != n_out) {
            rc = cli_error("--%s %s: %zu targets per sample, but the model %s has %zu outputs",
                           flag, spec, dpt_dataset_n_out(ds), model_path, n_out);
            goto cleanup;
        }
        if (ds_classify) {
            char what[300];
            snprintf(what, sizeof what, "--%s %s", flag, spec);
            if ((rc = cli_map_classes(ds, info->n_classes, info->class_labels, info->class_names,
                                      what)) != 0)
                goto cleanup;
        }
    }
    enum dpt_status st = dpt_norm_apply(&info->norm, ds);
    if (st != DPT_OK) {
        rc = cli_fail(st, flag);
        goto cleanup;
    }
    *out = ds;
    ds = NULL;
cleanup:
    dpt_dataset_destroy(ds);
    return rc;
}

// ---- network spec ----

void cli_format_layers(const struct dpt_net_spec *spec, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t l = 0; l <= spec->n_layers && used < len; l++)
        used += (size_t)snprintf(buf + used, len - used, "%s%zu", l ? "," : "", spec->sizes[l]);
}

void cli_format_acts(const struct dpt_net_spec *spec, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t l = 0; l < spec->n_layers && used < len; l++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", l ? "," : "",
                                 dpt_act_name(spec->act[l]));
}

static enum dpt_act output_act(enum dpt_loss loss)
{
    return loss == DPT_LOSS_XENT  ? DPT_ACT_SOFTMAX
           : loss == DPT_LOSS_BCE ? DPT_ACT_SIGMOID
                                  : DPT_ACT_IDENTITY;
}

static int parse_acts(const char *text, struct dpt_net_spec *spec)
{
    char *buf = NULL;
    const char *parts[DPT_MAX_LAYERS + 1];
    int rc = 0;
    int k = cli_split(text, &buf, parts, DPT_MAX_LAYERS);
    const size_t L = spec->n_layers;
    if (k < 0 || !((size_t)k == L || (k == 2 && L >= 2))) {
        free(buf);
        if (L == 1)
            return cli_error("--act: '%s' must give one activation (the network has one layer)",
                             text);
        return cli_error("--act: '%s' must give one activation per non-input layer (%zu) or two "
                         "(hidden,output)",
                         text, L);
    }
    for (size_t l = 0; l < L && !rc; l++) {
        const char *name = (size_t)k == L ? parts[l] : l + 1 == L ? parts[1] : parts[0];
        if (dpt_act_parse(name, &spec->act[l]) != DPT_OK)
            rc = cli_fail(DPT_ERR_INVALID, "--act");
    }
    free(buf);
    return rc;
}

int cli_build_spec(const struct cli_net_flags *nf, const struct cli_net_needs *needs,
                   struct dpt_net_spec *out)
{
    const struct dpt_net_spec *base = needs->base;
    struct dpt_net_spec spec = base ? *base : dpt_net_spec_default();
    const char *v;

    if ((v = nf->loss)) {
        if (dpt_loss_parse(v, &spec.loss) != DPT_OK)
            return cli_fail(DPT_ERR_INVALID, "--loss");
    } else if (!base) {
        spec.loss = needs->classify == 0 ? DPT_LOSS_SQUARED : DPT_LOSS_XENT;
    }
    if ((v = nf->reduction)) {
        if (dpt_reduction_parse(v, &spec.reduction) != DPT_OK)
            return cli_fail(DPT_ERR_INVALID, "--reduction");
    } else if (!base) {
        spec.reduction = DPT_REDUCTION_MEAN;
    }

    // Sizes: --layers, else the --init model's, else input,256,output from the data.
    if ((v = nf->layers)) {
        size_t n = 0;
        if (cli_size_list("layers", v, 1, (size_t)1 << 24, spec.sizes, DPT_MAX_LAYERS + 1, &n))
            return CLI_USAGE;
        if (n < 2)
            return cli_error("--layers: '%s' needs at least an input and an output size", v);
        spec.n_layers = n - 1;
    } else if (!base) {
        if (needs->n_in == 0 || needs->n_out == 0)
            return cli_error("--layers is required (e.g. --layers 784,128,10)");
        spec.n_layers = 2;
        spec.sizes[0] = needs->n_in;
        spec.sizes[1] = 256;
        spec.sizes[2] = needs->classify == 1 && spec.loss == DPT_LOSS_BCE && needs->n_out == 2
                            ? 1
                            : needs->n_out;
    }
    const size_t L = spec.n_layers;

    // Activations: --act, else the --init model's (with the output fitted to a changed loss),
    // else ReLU hidden layers and the output the loss needs.
    if (nf->act) {
        int rc = parse_acts(nf->act, &spec);
        if (rc)
            return rc;
    } else if (base && base->n_layers == L) {
        if (nf->loss && spec.loss != base->loss)
            spec.act[L - 1] = output_act(spec.loss);
    } else {
        for (size_t l = 0; l < L; l++)
            spec.act[l] = l + 1 == L ? output_act(spec.loss) : DPT_ACT_RELU;
    }

    // The data fixes the input and output widths.
    if (needs->n_in && spec.sizes[0] != needs->n_in)
        return cli_error("--layers: the input size %zu does not match the data's %zu features",
                         spec.sizes[0], needs->n_in);
    if (needs->n_out && needs->classify == 1) {
        const size_t k = needs->n_out, o = spec.sizes[L];
        if (!(o == k || (o == 1 && k == 2)))
            return cli_error("--layers: the output size %zu does not match the data's %zu classes",
                             o, k);
    } else if (needs->n_out && spec.sizes[L] != needs->n_out) {
        return cli_error("--layers: the output size %zu does not match the data's %zu targets",
                         spec.sizes[L], needs->n_out);
    }
    enum dpt_status st = dpt_net_spec_check(&spec);
    if (st != DPT_OK)
        return cli_fail(st, "network (--layers, --act, --loss)");
    *out = spec;
    return 0;
}

// ---- running a model over a data set ----

int cli_forward_blocks(const struct dpt_net *net, const struct dpt_dataset *ds, bool stats,
                       cli_block_fn fn, void *user)
{
    // Blocks of a few hundred rows: big enough for efficient GEMMs (and the BLAS's own threads),
    // small enough to keep the activations in cache.
    enum { ROWS = 512 };
    const struct dpt_net_spec *spec = dpt_net_spec(net);
    const size_t n = dpt_dataset_n(ds), n_in = dpt_dataset_n_in(ds);
    const size_t n_out = spec->sizes[spec->n_layers];
    struct dpt_workspace *ws = NULL;
    float *out = malloc(ROWS * n_out * sizeof *out);
    enum dpt_status st = dpt_workspace_create(net, ROWS, &ws);
    int rc = 0;
    if (st != DPT_OK || !out) {
        rc = out ? cli_fail(st, "workspace") : cli_error("out of memory");
        goto cleanup;
    }
    const float *x = dpt_dataset_x(ds);
    const struct dpt_targets all = dpt_dataset_targets_view(ds);
    for (size_t i0 = 0; i0 < n && !rc; i0 += ROWS) {
        const size_t m = n - i0 < ROWS ? n - i0 : ROWS;
        const float *xb = x + i0 * n_in;
        struct dpt_block_stats bs = {0.0, 0, 0};
        if (stats) {
            // Targets of this block only: the kernels index them by row within the block.
            struct dpt_targets t = {all.labels ? all.labels + i0 : NULL,
                                    all.values ? all.values + i0 * n_out : NULL};
            if ((st = dpt_net_evaluate(net, ws, xb, NULL, m, &t, &bs)) != DPT_OK) {
                rc = cli_fail(st, "evaluation");
                break;
            }
        }
        if ((st = dpt_net_forward(net, ws, xb, NULL, m, out)) != DPT_OK) {
            rc = cli_fail(st, "forward pass");
            break;
        }
        rc = fn(user, i0, m, out, stats ? &bs : NULL);
    }
cleanup:
    dpt_workspace_destroy(ws);
    free(out);
    return rc;
}

size_t cli_predict_class(const float *row, size_t n_out)
{
    // The kernel's rule (src/core/kernel.c): one sigmoid output means class 1 at >= 0.5;
    // otherwise the first largest output.
    if (n_out == 1)
        return row[0] >= 0.5f;
    size_t best = 0;
    for (size_t j = 1; j < n_out; j++)
        best = row[j] > row[best] ? j : best;
    return best;
}

int cli_model_data_flags(const struct cli_flag *flags, const char *cmd, const char **model,
                         const char **data, int *part)
{
    static const char *const parts[] = {"train", "test"};
    *model = cli_get(flags, "model");
    *data = cli_get(flags, "data");
    *part = 0;
    if (!*model)
        return cli_error("%s: --model is required", cmd);
    if (!*data)
        return cli_error("%s: --data is required", cmd);
    if (cli_get(flags, "part") && cli_choice("part", cli_get(flags, "part"), parts, 2, part))
        return CLI_USAGE;
    // Loading the training part instead would report the wrong set's numbers under "test".
    if (*part == 1 && !dpt_data_has_test_part(*data))
        return cli_error("--part test: '%s' has no test part (only fashion-mnist and synth sets "
                         "do); give the test file itself as --data",
                         *data);
    return 0;
}

const char *cli_class_label(const struct dpt_model_info *info, size_t c, char *buf, size_t len)
{
    if (info->class_names)
        return info->class_names[c];
    snprintf(buf, len, "%d", info->class_labels ? (int)info->class_labels[c] : (int)c);
    return buf;
}

void cli_csv_cell(FILE *f, const char *s)
{
    if (!s[strcspn(s, ",\"\r\n")]) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void cli_csv_field(FILE *f, const char *s, bool comma)
{
    if (comma)
        fputc(',', f);
    cli_csv_cell(f, s);
}

void cli_csv_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, ",%.9g", v);
    else
        fputc(',', f);
}
