// Allocation failures in the io module: every allocation of dpt_model_save_ex, dpt_model_load_ex
// and the NumPy export/import fails in turn (cJSON's own allocations included: the fixture routes
// them through the library's wrappers): an error status with a message, nothing leaked, no
// temporary file left behind, and the outputs in their documented error state.
#include <cjson/cJSON.h>
#include <dirent.h>

#include "alloc_walk.h"
#include "io/io_test.h"

// cJSON allocates through global hooks. The library leaves them alone (a program embedding
// dptrain may have its own); this suite points them at the wrappers so that the walks reach the
// header building and parsing too. Each criterion test runs in its own process.
static void json_hooks_setup(void)
{
    cJSON_Hooks hooks = {dpt_malloc, dpt_free};
    cJSON_InitHooks(&hooks);
}

struct save_case {
    char dir[64];
    char path[128];
    struct dpt_net *net;
    struct dpt_model_info info;
    struct dpt_model_extra extra;
};

static const char *extra_names[] = {"opt.m", "opt.v"};
static const float extra_m[3] = {1.0f, 2.0f, 3.0f}, extra_v[2] = {0.5f, 0.25f};
static const float *extra_data[] = {extra_m, extra_v};
static const size_t extra_lens[] = {3, 2};
static const char *meta_keys[] = {"epoch", "schedule"};
static const char *meta_values[] = {"3", "adam:lr=1e-3"};

// A net with everything a model file can carry: standard normalisation, mapped class labels,
// provenance, two extra tensors and two metadata entries.
static void save_case_init(struct save_case *c)
{
    static int32_t labels[2] = {-1, 1};
    io_test_tmpdir(c->dir, sizeof c->dir);
    snprintf(c->path, sizeof c->path, "%s/model.safetensors", c->dir);
    c->net = io_test_net(11);
    dpt_model_info_init(&c->info);
    c->info.task = DPT_TASK_CLASSIFY;
    c->info.n_classes = 2;
    c->info.class_labels = labels;
    c->info.provenance = "test_alloc";
    c->info.norm.kind = DPT_NORM_STANDARD;
    c->info.norm.n_in = 4;
    c->info.norm.shift = dpt_malloc(4 * sizeof(float));
    c->info.norm.scale = dpt_malloc(4 * sizeof(float));
    cr_assert_not_null(c->info.norm.shift);
    cr_assert_not_null(c->info.norm.scale);
    for (int i = 0; i < 4; i++) {
        c->info.norm.shift[i] = 0.5f * (float)i;
        c->info.norm.scale[i] = 1.0f + (float)i;
    }
    c->extra.n_tensors = 2;
    c->extra.names = extra_names;
    c->extra.data = extra_data;
    c->extra.lens = extra_lens;
    c->extra.n_meta = 2;
    c->extra.meta_keys = meta_keys;
    c->extra.meta_values = meta_values;
}

static void save_case_fini(struct save_case *c)
{
    dpt_free(c->info.norm.shift);
    dpt_free(c->info.norm.scale);
    dpt_net_destroy(c->net);
    io_test_rmtree(c->dir);
}

static enum dpt_status try_save(void *arg)
{
    struct save_case *c = arg;
    unlink(c->path);
    enum dpt_status st = dpt_model_save_ex(c->path, c->net, &c->info, &c->extra);
    // All or nothing: the model file on success, an empty directory on error.
    cr_assert_eq(io_test_count_entries(c->dir), st == DPT_OK ? 1u : 0u,
                 "save returned '%s' (%s) but left %zu files", dpt_status_str(st), dpt_last_error(),
                 io_test_count_entries(c->dir));
    return st;
}

Test(io, model_save_survives_every_failed_allocation, .init = json_hooks_setup)
{
    struct save_case c;
    save_case_init(&c);
    // cJSON reports a failed allocation as a NULL object, which the writer cannot tell from
    // other failures: any error status with a message is accepted.
    cr_assert_geq(alloc_walk("dpt_model_save_ex", try_save, &c, DPT_OK), 10);
    save_case_fini(&c);
}

static enum dpt_status try_load(void *arg)
{
    struct save_case *c = arg;
    struct dpt_net *net = NULL;
    struct dpt_model_info info;
    struct dpt_model_extra_out extra;
    enum dpt_status st = dpt_model_load_ex(c->path, &net, &info, &extra);
    if (st == DPT_OK) {
        io_test_same_params(net, c->net);
        cr_assert_eq(extra.n_tensors, 2);
        cr_assert_eq(info.norm.kind, DPT_NORM_STANDARD);
    } else {
        cr_assert_null(net, "*net must be NULL on error");
        cr_assert_eq(extra.n_tensors, 0, "extras must be empty on error");
        cr_assert_null(info.class_labels, "info must be in its init state on error");
        cr_assert_null(info.provenance, "info must be in its init state on error");
    }
    dpt_model_info_cleanup(&info);
    dpt_model_extra_out_cleanup(&extra);
    dpt_net_destroy(net);
    return st;
}

Test(io, model_load_survives_every_failed_allocation, .init = json_hooks_setup)
{
    struct save_case c;
    save_case_init(&c);
    cr_assert_eq(dpt_model_save_ex(c.path, c.net, &c.info, &c.extra), DPT_OK, "%s",
                 dpt_last_error());
    // A failed allocation inside cJSON's parser reads as a malformed header (DPT_ERR_FORMAT):
    // cJSON does not say why it failed.
    cr_assert_geq(alloc_walk("dpt_model_load_ex", try_load, &c, DPT_OK), 10);
    save_case_fini(&c);
}

struct npy_case {
    char dir[64];
    char out[128];
    struct dpt_net *net, *back;
};

// Entries of dir other than . and .. (0 when it does not exist).
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

// A failed export leaves no file at all: neither the tensors written before the failure nor
// temporaries (the walk fails every allocation before the first complete export).
static enum dpt_status try_export(void *arg)
{
    struct npy_case *c = arg;
    enum dpt_status st = dpt_model_export_npy(c->net, c->out);
    if (st != DPT_OK)
        cr_assert_eq(dir_entries(c->out), 0, "a failed export left files in %s", c->out);
    return st;
}

static enum dpt_status try_import(void *arg)
{
    struct npy_case *c = arg;
    memset(dpt_net_params(c->back), 0, dpt_net_n_params(c->back) * sizeof(float));
    enum dpt_status st = dpt_model_import_npy(c->back, c->out);
    if (st == DPT_OK)
        io_test_same_params(c->back, c->net);
    else
        for (size_t i = 0; i < dpt_net_n_params(c->back); i++)
            cr_assert_eq(dpt_net_params(c->back)[i], 0.0f, "import is all or nothing");
    return st;
}

Test(io, npy_survives_every_failed_allocation)
{
    struct npy_case c;
    io_test_tmpdir(c.dir, sizeof c.dir);
    snprintf(c.out, sizeof c.out, "%s/npy", c.dir);
    c.net = io_test_net(5);
    c.back = io_test_net(6);
    cr_assert_geq(alloc_walk("dpt_model_export_npy", try_export, &c, DPT_ERR_NOMEM), 1);
    cr_assert_geq(alloc_walk("dpt_model_import_npy", try_import, &c, DPT_ERR_NOMEM), 1);
    dpt_net_destroy(c.net);
    dpt_net_destroy(c.back);
    io_test_rmtree(c.dir);
}

// A model with text class names (issue 15): saving and loading them fails cleanly at every
// allocation, cJSON's included.
static enum dpt_status try_names(void *arg)
{
    struct save_case *c = arg;
    struct dpt_net *net = NULL;
    struct dpt_model_info info;
    enum dpt_status st = dpt_model_save(c->path, c->net, &c->info);
    if (st == DPT_OK)
        st = dpt_model_load(c->path, &net, &info);
    if (st == DPT_OK) {
        cr_assert_str_eq(info.class_names[1], "dog, big");
    } else {
        cr_assert_null(net, "*net must be NULL on error");
        cr_assert_null(info.class_names, "info must be in its init state on error");
    }
    dpt_model_info_cleanup(&info);
    dpt_net_destroy(net);
    return st;
}

Test(io, model_class_names_survive_every_failed_allocation, .init = json_hooks_setup)
{
    struct save_case c;
    static const char *const names[2] = {"cat", "dog, big"};
    io_test_tmpdir(c.dir, sizeof c.dir);
    snprintf(c.path, sizeof c.path, "%s/model.safetensors", c.dir);
    c.net = io_test_net(12);
    dpt_model_info_init(&c.info);
    c.info.n_classes = 2;
    cr_assert_eq(dpt_model_info_set_class_names(&c.info, names, 2), DPT_OK);
    cr_assert_geq(alloc_walk("model with class names", try_names, &c, DPT_OK), 10);
    dpt_model_info_cleanup(&c.info);
    dpt_net_destroy(c.net);
    io_test_rmtree(c.dir);
}
