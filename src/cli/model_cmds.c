// Model file commands: `dptrain info` (describe a model), `dptrain export` (one .npy per tensor,
// the normalisation as .npy, the rest of the model in dptrain.json) and `dptrain import` (a model
// from such a directory; older exports without dptrain.json take the architecture from flags).
#include <errno.h>
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
        if (info.class_labels || info.class_names) {
            // Names as CSV cells: a name holding a comma is quoted. Control bytes are refused in
            // names when a model is loaded, so nothing here needs escaping.
            printf(", labels ");
            for (size_t c = 0; c < info.n_classes; c++) {
                char num[16];
                fputs(c ? "," : "", stdout);
                cli_csv_cell(stdout, cli_class_label(&info, c, num, sizeof num));
            }
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
                       "bl.npy of shape (n_l,), float32, for l = 1..L; for a normalised model\n"
                       "norm_shift.npy and norm_scale.npy of shape (n_0,) (x' = (x - shift) *\n"
                       "scale); and dptrain.json: architecture, task, class labels, provenance.\n"
                       "`dptrain import --npy DIR` makes the same model again.",
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
    struct dpt_model_info info;
    struct dpt_model_extra_out extra;
    dpt_model_info_init(&info);
    dpt_model_extra_out_init(&extra);
    enum dpt_status st = dpt_model_load_ex(model, &net, &info, &extra);
    if (st != DPT_OK)
        return cli_fail(st, "--model");
    st = dpt_model_export_npy_ex(net, &info, dir);
    rc = st == DPT_OK ? CLI_OK : cli_fail(st, "--npy");
    // A checkpoint's training state has no place in an export (it is not the model).
    if (rc == CLI_OK && (extra.n_tensors > 0 || extra.n_meta > 0))
        cli_warn("%s is a checkpoint: its training state (schedule state, epoch, %zu extra "
                 "tensors) is not exported, only the model; resume from the checkpoint itself",
                 model, extra.n_tensors);
    dpt_net_destroy(net);
    dpt_model_info_cleanup(&info);
    dpt_model_extra_out_cleanup(&extra);
    return rc;
}

// ---- import ----

int cli_import(int argc, char **argv)
{
    struct cli_flag flags[] = {
        {"npy", "DIR", "directory holding W1.npy, b1.npy, ... (required)", 0},
        {"layers", "N0,...,NL",
         "layer sizes, input and output included (required without dptrain.json)", 0},
        {"act", "A,...", "one activation per non-input layer, or HIDDEN,OUTPUT (relu,softmax)", 0},
        {"loss", "L", "squared, xent (default) or bce", 0},
        {"reduction", "R", "mean (default) or sum", 0},
        {"out", "MODEL", "the model file to write (required; atomic)", 0},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    size_t n_pos = 0;
    int rc = cli_parse("import",
                       "--npy DIR --out MODEL [--layers N0,...,NL [--act ...] [--loss L]]\n\n"
                       "Makes a model from a directory that export wrote: the tensors from\n"
                       "W1.npy, b1.npy, ... (float32 or float64, C order), the architecture,\n"
                       "task, class labels and provenance from dptrain.json, the normalisation\n"
                       "from norm_shift.npy and norm_scale.npy. Architecture flags, if given,\n"
                       "must match dptrain.json. Without dptrain.json (an older export, or\n"
                       "files made by hand) --layers is required and the model has no\n"
                       "normalisation: a classification model for xent and bce with labels\n"
                       "0..K-1, a regression model for squared.",
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
    const bool arch = cli_get(flags, "layers") || cli_get(flags, "act") || cli_get(flags, "loss") ||
                      cli_get(flags, "reduction");
    if (arch && !cli_get(flags, "layers"))
        return cli_error("import: --act, --loss and --reduction need --layers");
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return cli_error("--npy: %s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return cli_error("--npy: %s: not a directory", dir);
    char *mpath = dpt_malloc(strlen(dir) + sizeof DPT_NPY_META_FILE + 1);
    if (!mpath)
        return cli_fail(DPT_ERR_NOMEM, "import");
    sprintf(mpath, "%s/%s", dir, DPT_NPY_META_FILE);
    const bool has_meta = stat(mpath, &sb) == 0;
    dpt_free(mpath);
    if (!arch && !has_meta)
        return cli_error("import: %s has no %s (an export by an older dptrain, or made by hand): "
                         "give the architecture with --layers (and --act, --loss)",
                         dir, DPT_NPY_META_FILE);
    struct dpt_net_spec spec;
    if (arch) {
        struct cli_net_flags nf = {cli_get(flags, "layers"), cli_get(flags, "act"),
                                   cli_get(flags, "loss"), cli_get(flags, "reduction")};
        struct cli_net_needs needs = {0, 0, -1, NULL};
        if ((rc = cli_build_spec(&nf, &needs, &spec)))
            return rc;
    }
    struct dpt_net *net = NULL;
    struct dpt_model_info info;
    enum dpt_status st = dpt_model_import_npy_ex(dir, arch ? &spec : NULL, &net, &info);
    if (st != DPT_OK)
        return cli_fail(st, "--npy");
    if (!has_meta)
        cli_warn("%s has no %s: the model has no normalisation and class labels 0..K-1 (an "
                 "export by an older dptrain, or made by hand)",
                 dir, DPT_NPY_META_FILE);
    // The provenance says where the weights came from, and keeps what the export recorded.
    char *cmd = cli_command_line(argc, argv);
    char *old = info.provenance;
    size_t len = (cmd ? strlen(cmd) : 0) + (old ? strlen(old) : 0) + 64;
    info.provenance = dpt_malloc(len);
    if (info.provenance)
        snprintf(info.provenance, len, "dptrain %s; %s%s%s", dpt_version(), cmd ? cmd : "",
                 old ? "; exported model: " : "", old ? old : "");
    dpt_free(old);
    dpt_free(cmd);
    if ((st = dpt_model_save(out, net, &info)) != DPT_OK)
        rc = cli_fail(st, "--out");
    dpt_model_info_cleanup(&info);
    dpt_net_destroy(net);
    return rc;
}
