// Model file commands: `dptrain info` (describe a model), `dptrain export` (one .npy per tensor)
// and `dptrain import` (a model from .npy files and an architecture given by flags).
#include <string.h>
#include <sys/stat.h>

#include "cli_impl.h"
#include "core/error_impl.h"

// ---- info ----

int cli_info(int argc, char **argv)
{
    struct cli_flag flags[] = {{NULL, NULL, NULL, NULL}};
    const char *pos[1];
    size_t n_pos = 0;
    int rc = cli_parse("info", "MODEL\n\nDescribes a model (or checkpoint) file.", flags, argc,
                       argv, 2, pos, 1, &n_pos);
    if (rc < 0)
        return CLI_OK;
    if (rc)
        return rc;
    if (n_pos != 1)
        return cli_error("info: give one model file (dptrain info MODEL)");
    const char *path = pos[0];
    struct dpt_net *net = NULL;
    struct dpt_model_info info;
    struct dpt_model_extra_out extra;
    dpt_model_info_init(&info);
    dpt_model_extra_out_init(&extra);
    enum dpt_status st = dpt_model_load_ex(path, &net, &info, &extra);
    if (st != DPT_OK)
        return cli_fail(st, "info");

    const struct dpt_net_spec *spec = dpt_net_spec(net);
    char layers[512], acts[512];
    cli_format_layers(spec, layers, sizeof layers);
    cli_format_acts(spec, acts, sizeof acts);
    struct stat sb;
    printf("model: %s", path);
    if (stat(path, &sb) == 0)
        printf(" (%lld bytes)", (long long)sb.st_size);
    printf("\nlayers: %s (%zu weight layer%s, %zu trainable parameters)\n", layers, spec->n_layers,
           spec->n_layers == 1 ? "" : "s", dpt_net_n_trainable(net));
    printf("activations: %s\n", acts);
    printf("loss: %s (%s over a batch)\n", dpt_loss_name(spec->loss),
           dpt_reduction_name(spec->reduction));
    for (size_t l = 0; l < spec->n_layers; l++)
        if (spec->act[l] == DPT_ACT_LEAKY_RELU) {
            printf("leaky slope: %.9g\n", (double)spec->leaky_slope);
            break;
        }
    if (info.task == DPT_TASK_CLASSIFY) {
        printf("task: classification, %zu classes", info.n_classes);
        if (info.class_labels) {
            printf(", labels ");
            for (size_t c = 0; c < info.n_classes; c++)
                printf("%s%d", c ? "," : "", (int)info.class_labels[c]);
            printf("\n");
        } else {
            printf(" (labels 0..%zu)\n", info.n_classes - 1);
        }
    } else {
        printf("task: regression, %zu outputs\n", spec->sizes[spec->n_layers]);
    }
    static const char *const norms[] = {"none", "minmax", "standard"};
    printf("normalisation: %s", norms[info.norm.kind]);
    if (info.norm.kind != DPT_NORM_NONE)
        printf(" (%zu features)", info.norm.n_in);
    printf("\n");
    // Strings from the file are printed with their control bytes escaped (cli_put_escaped).
    if (info.provenance) {
        fputs("provenance: ", stdout);
        cli_put_escaped(stdout, info.provenance);
        putchar('\n');
    }
    if (extra.n_tensors > 0) {
        printf("extra tensors:");
        for (size_t i = 0; i < extra.n_tensors; i++) {
            fputs(i ? ", " : " ", stdout);
            cli_put_escaped(stdout, extra.names[i]);
            printf(" (%zu)", extra.lens[i]);
        }
        printf("\n");
    }
    for (size_t i = 0; i < extra.n_meta; i++) {
        cli_put_escaped(stdout, extra.meta_keys[i]);
        fputs(": ", stdout);
        cli_put_escaped(stdout, extra.meta_values[i]);
        putchar('\n');
    }
    rc = fflush(stdout) == 0 ? CLI_OK : cli_error("error writing to standard output");
    dpt_net_destroy(net);
    dpt_model_info_cleanup(&info);
    dpt_model_extra_out_cleanup(&extra);
    return rc;
}

// ---- export ----

int cli_export(int argc, char **argv)
{
    struct cli_flag flags[] = {
        {"model", "MODEL", "the model file (required)", 0},
        {"npy", "DIR", "directory for W1.npy, b1.npy, ... (created; its parent must exist)", 0},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    size_t n_pos = 0;
    int rc = cli_parse("export",
                       "--model MODEL --npy DIR\n\n"
                       "Writes one NumPy file per tensor: Wl.npy of shape (n_l, n_(l-1)) and\n"
                       "bl.npy of shape (n_l,), float32, for l = 1..L.",
                       flags, argc, argv, 2, pos, 0, &n_pos);
    if (rc < 0)
        return CLI_OK;
    if (rc)
        return rc;
    const char *model = cli_get(flags, "model"), *dir = cli_get(flags, "npy");
    if (!model)
        return cli_error("export: --model is required");
    if (!dir)
        return cli_error("export: --npy DIR is required");
    struct dpt_net *net = NULL;
    if ((rc = cli_load_model("model", model, &net, NULL)))
        return rc;
    enum dpt_status st = dpt_model_export_npy(net, dir);
    rc = st == DPT_OK ? CLI_OK : cli_fail(st, "--npy");
    dpt_net_destroy(net);
    return rc;
}

// ---- import ----

int cli_import(int argc, char **argv)
{
    struct cli_flag flags[] = {
        {"npy", "DIR", "directory holding W1.npy, b1.npy, ... (required)", 0},
        {"layers", "N0,...,NL", "layer sizes, input and output included (required)", 0},
        {"act", "A,...", "one activation per non-input layer, or HIDDEN,OUTPUT (relu,softmax)", 0},
        {"loss", "L", "squared, xent (default) or bce", 0},
        {"reduction", "R", "mean (default) or sum", 0},
        {"out", "MODEL", "the model file to write (required; atomic)", 0},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    size_t n_pos = 0;
    int rc = cli_parse("import",
                       "--npy DIR --layers N0,...,NL [--act ...] [--loss L] --out MODEL\n\n"
                       "Makes a model from NumPy files (float32 or float64, C order) with the\n"
                       "shapes export writes. The model is a classification model for xent and\n"
                       "bce, a regression model for squared; it has no normalisation.",
                       flags, argc, argv, 2, pos, 0, &n_pos);
    if (rc < 0)
        return CLI_OK;
    if (rc)
        return rc;
    const char *dir = cli_get(flags, "npy"), *out = cli_get(flags, "out");
    if (!dir)
        return cli_error("import: --npy DIR is required");
    if (!out)
        return cli_error("import: --out MODEL is required");
    if (!cli_get(flags, "layers"))
        return cli_error("import: --layers is required (the .npy shapes must match it)");
    struct cli_net_flags nf = {cli_get(flags, "layers"), cli_get(flags, "act"),
                               cli_get(flags, "loss"), cli_get(flags, "reduction")};
    struct cli_net_needs needs = {0, 0, -1, NULL};
    struct dpt_net_spec spec;
    if ((rc = cli_build_spec(&nf, &needs, &spec)))
        return rc;
    struct dpt_net *net = NULL;
    enum dpt_status st = dpt_net_create(&spec, &net);
    if (st != DPT_OK)
        return cli_fail(st, "network (--layers, --act, --loss)");
    if ((st = dpt_model_import_npy(net, dir)) != DPT_OK)
        rc = cli_fail(st, "--npy");
    if (!rc) {
        // Task from the loss, as dpt_model_save does for a NULL info; the provenance says where
        // the weights came from.
        struct dpt_model_info info;
        dpt_model_info_init(&info);
        info.task = spec.loss == DPT_LOSS_SQUARED ? DPT_TASK_REGRESS : DPT_TASK_CLASSIFY;
        char *cmd = cli_command_line(argc, argv);
        size_t len = (cmd ? strlen(cmd) : 0) + 64;
        info.provenance = dpt_malloc(len);
        if (info.provenance)
            snprintf(info.provenance, len, "dptrain %s; %s", dpt_version(), cmd ? cmd : "");
        dpt_free(cmd);
        if ((st = dpt_model_save(out, net, &info)) != DPT_OK)
            rc = cli_fail(st, "--out");
        dpt_model_info_cleanup(&info);
    }
    dpt_net_destroy(net);
    return rc;
}
