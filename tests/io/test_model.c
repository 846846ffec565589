// Model files: save/load round trips, the on-disk layout read back independently, validation of
// damaged and hand-edited files, atomic replacement, and the checkpoint extras.
#define _DEFAULT_SOURCE // flock
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <sys/file.h>
#include <time.h>
#include <zlib.h>

#include "io/io_test.h"

// ---- helpers ----

struct fixture {
    char dir[64];
    char path[128];
};

static void fixture_setup(struct fixture *f)
{
    io_test_tmpdir(f->dir, sizeof f->dir);
    snprintf(f->path, sizeof f->path, "%s/model.safetensors", f->dir);
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

// Saves the standard test net (no info) to f->path; returns the net.
static struct dpt_net *save_plain(struct fixture *f)
{
    struct dpt_net *net = io_test_net(7);
    cr_assert_eq(dpt_model_save(f->path, net, NULL), DPT_OK, "%s", dpt_last_error());
    return net;
}

// Parses the header of a model file with cJSON (independently of the library's reader).
static cJSON *read_header(const unsigned char *buf, size_t len, uint64_t *hlen)
{
    cJSON *root;
    cr_assert_geq(len, 8);
    *hlen = le64(buf);
    cr_assert_leq(*hlen, len - 8);
    root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)*hlen);
    cr_assert_not_null(root, "header is not JSON");
    return root;
}

// Rewrites the header of `path` in place through edit(), keeping the data section. The new
// header is padded to a multiple of 8 like the writer does.
static void edit_header(const char *path, void (*edit)(cJSON *root))
{
    size_t len, jlen, hl;
    uint64_t n;
    unsigned char *buf = io_test_read(path, &len), *out;
    cJSON *root = read_header(buf, len, &n);
    char *json;
    edit(root);
    json = cJSON_PrintUnformatted(root);
    cr_assert_not_null(json);
    jlen = strlen(json);
    hl = (jlen + 7) & ~(size_t)7;
    out = malloc(8 + hl + (len - 8 - n));
    cr_assert_not_null(out);
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(out + 8, json, jlen);
    memset(out + 8 + jlen, ' ', hl - jlen);
    memcpy(out + 8 + hl, buf + 8 + n, len - 8 - n);
    io_test_write(path, out, 8 + hl + (len - 8 - n));
    free(out);
    free(json);
    cJSON_Delete(root);
    free(buf);
}

static void set_meta(cJSON *root, const char *key, const char *value)
{
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    cr_assert_not_null(meta);
    cJSON_DeleteItemFromObjectCaseSensitive(meta, key);
    if (value)
        cJSON_AddStringToObject(meta, key, value);
}

// Loads path, expecting the given status and a message that names the file and contains `what`.
static void expect_load_fails(const char *path, enum dpt_status want, const char *what)
{
    struct dpt_net *net = (struct dpt_net *)&net; // must be reset to NULL
    struct dpt_model_info info;
    enum dpt_status st = dpt_model_load(path, &net, &info);
    cr_assert_eq(st, want, "status %d (%s), want %d: %s", st, dpt_status_str(st), want,
                 dpt_last_error());
    cr_assert_null(net);
    cr_assert(strstr(dpt_last_error(), path) != NULL, "message does not name the file: %s",
              dpt_last_error());
    cr_assert(strstr(dpt_last_error(), what) != NULL, "message lacks '%s': %s", what,
              dpt_last_error());
    // On error the info is left empty, so cleanup is safe.
    cr_assert_null(info.class_labels);
    cr_assert_null(info.class_names);
    cr_assert_null(info.provenance);
    dpt_model_info_cleanup(&info);
}

// ---- round trips ----

Test(io, save_load_round_trip_is_bitwise)
{
    struct fixture f;
    struct dpt_net *net = io_test_net(42), *back = NULL;
    struct dpt_model_info info, got;
    int32_t labels[2] = {3, -7};
    float shift[4] = {0.1f, -2.5f, 1e-30f, 3.4e38f};
    float scale[4] = {1.0f / 3.0f, 7.0f, 0.0f, 1e-7f};
    struct dpt_workspace *ws1 = NULL, *ws2 = NULL;
    float x[3 * 4], y1[3 * 2], y2[3 * 2];

    fixture_setup(&f);
    dpt_model_info_init(&info);
    info.task = DPT_TASK_CLASSIFY;
    info.n_classes = 2;
    info.class_labels = labels;
    info.norm.kind = DPT_NORM_STANDARD;
    info.norm.n_in = 4;
    info.norm.shift = shift;
    info.norm.scale = scale;
    info.provenance = "dptrain train --seed 42 \"quoted\" \\ caf\xc3\xa9\n";
    cr_assert_eq(dpt_model_save(f.path, net, &info), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_model_load(f.path, &back, &got), DPT_OK, "%s", dpt_last_error());

    io_test_same_spec(dpt_net_spec(net), dpt_net_spec(back));
    io_test_same_params(net, back);
    cr_assert_eq(got.task, DPT_TASK_CLASSIFY);
    cr_assert_eq(got.n_classes, 2);
    cr_assert_not_null(got.class_labels);
    cr_assert_eq(got.class_labels[0], 3);
    cr_assert_eq(got.class_labels[1], -7);
    cr_assert_eq(got.norm.kind, DPT_NORM_STANDARD);
    cr_assert_eq(got.norm.n_in, 4);
    // %.9g round-trips every float, denormal-free extremes included: bitwise equality.
    cr_assert(memcmp(got.norm.shift, shift, sizeof shift) == 0, "norm shift differs");
    cr_assert(memcmp(got.norm.scale, scale, sizeof scale) == 0, "norm scale differs");
    cr_assert_str_eq(got.provenance, info.provenance);

    // Identical parameters must give identical outputs through the real forward pass.
    for (size_t i = 0; i < 12; i++)
        x[i] = (float)i * 0.37f - 2.0f;
    cr_assert_eq(dpt_workspace_create(net, 3, &ws1), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_workspace_create(back, 3, &ws2), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_net_forward(net, ws1, x, NULL, 3, y1), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_net_forward(back, ws2, x, NULL, 3, y2), DPT_OK, "%s", dpt_last_error());
    cr_assert(memcmp(y1, y2, sizeof y1) == 0, "forward outputs differ");

    dpt_workspace_destroy(ws1);
    dpt_workspace_destroy(ws2);
    dpt_model_info_cleanup(&got);
    cr_assert_null(got.class_labels);
    dpt_net_destroy(net);
    dpt_net_destroy(back);
    io_test_rmtree(f.dir);
}

Test(io, round_trip_regression_without_info)
{
    struct fixture f;
    struct dpt_net_spec spec = dpt_net_spec_default();
    struct dpt_net *net = NULL, *back = NULL;
    struct dpt_model_info got;
    fixture_setup(&f);
    spec.n_layers = 3;
    spec.sizes[0] = 5;
    spec.sizes[1] = 17; // not a multiple of 16: padding between tensors in memory
    spec.sizes[2] = 2;
    spec.sizes[3] = 1;
    spec.act[0] = DPT_ACT_LEAKY_RELU;
    spec.act[1] = DPT_ACT_TANH;
    spec.act[2] = DPT_ACT_IDENTITY;
    spec.loss = DPT_LOSS_SQUARED;
    spec.reduction = DPT_REDUCTION_SUM;
    spec.leaky_slope = 0.1f; // not exactly representable: must still round-trip bitwise
    cr_assert_eq(dpt_net_create(&spec, &net), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_net_init(net, DPT_INIT_GLOROT, 0.0f, 3), DPT_OK);
    cr_assert_eq(dpt_model_save(f.path, net, NULL), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_model_load(f.path, &back, &got), DPT_OK, "%s", dpt_last_error());
    io_test_same_spec(&spec, dpt_net_spec(back));
    io_test_same_params(net, back);
    cr_assert_eq(got.task, DPT_TASK_REGRESS);
    cr_assert_eq(got.n_classes, 0);
    cr_assert_null(got.class_labels);
    cr_assert_eq(got.norm.kind, DPT_NORM_NONE);
    cr_assert_null(got.norm.shift);
    cr_assert_null(got.provenance);
    dpt_model_info_cleanup(&got);
    dpt_net_destroy(back);
    // info may be NULL on load too.
    cr_assert_eq(dpt_model_load(f.path, &back, NULL), DPT_OK, "%s", dpt_last_error());
    io_test_same_params(net, back);
    dpt_net_destroy(back);
    dpt_net_destroy(net);
    io_test_rmtree(f.dir);
}

// ---- layout ----

Test(io, file_layout_is_safetensors)
{
    struct fixture f;
    struct dpt_net *net;
    size_t len, data_len, w_off, b_off, expect_begin = 0;
    uint64_t hlen;
    unsigned char *buf;
    cJSON *root, *meta, *e;
    const char *names[4] = {"W1", "b1", "W2", "b2"};
    const size_t shapes[4][2] = {{3, 4}, {3, 0}, {2, 3}, {2, 0}};
    char crc_hex[16];

    fixture_setup(&f);
    net = save_plain(&f);
    buf = io_test_read(f.path, &len);
    root = read_header(buf, len, &hlen);
    cr_assert_eq(hlen % 8, 0, "header length %llu is not a multiple of 8",
                 (unsigned long long)hlen);
    cr_assert_eq(buf[8], '{');
    data_len = len - 8 - (size_t)hlen;
    cr_assert_eq(data_len, 4 * (12 + 3 + 6 + 2), "data section has padding: %zu bytes", data_len);

    meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    cr_assert(cJSON_IsObject(meta));
    cJSON_ArrayForEach(e, meta)
    {
        cr_assert(cJSON_IsString(e), "metadata %s is not a string", e->string);
    }
#define META(k) cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, k))
    cr_assert_str_eq(META("format"), "dptrain");
    cr_assert_str_eq(META("format_version"), "1");
    cr_assert_str_eq(META("layers"), "4,3,2");
    cr_assert_str_eq(META("act"), "relu,softmax");
    cr_assert_str_eq(META("loss"), "xent");
    cr_assert_str_eq(META("reduction"), "mean");
    cr_assert_str_eq(META("task"), "classify");
    cr_assert_str_eq(META("n_classes"), "2");
    cr_assert_str_eq(META("norm"), "none");
    cr_assert_str_eq(META("dptrain_version"), dpt_version());
    cr_assert_null(META("class_labels"));
    snprintf(crc_hex, sizeof crc_hex, "%08lx",
             crc32(crc32(0, Z_NULL, 0), buf + 8 + hlen, (uInt)data_len));
    cr_assert_str_eq(META("crc32"), crc_hex);
#undef META

    // Four tensors besides the metadata, contiguous, each holding the net's values.
    cr_assert_eq(cJSON_GetArraySize(root), 5);
    for (size_t k = 0; k < 4; k++) {
        cJSON *t = cJSON_GetObjectItemCaseSensitive(root, names[k]);
        cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
        cJSON *offs = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
        size_t ndim = shapes[k][1] ? 2 : 1, count = shapes[k][0] * (ndim == 2 ? shapes[k][1] : 1);
        size_t begin, end;
        const float *src;
        cr_assert_not_null(t, "tensor %s missing", names[k]);
        cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "dtype")), "F32");
        cr_assert_eq((size_t)cJSON_GetArraySize(shape), ndim);
        for (size_t d = 0; d < ndim; d++)
            cr_assert_eq((size_t)cJSON_GetArrayItem(shape, (int)d)->valuedouble, shapes[k][d]);
        cr_assert_eq(cJSON_GetArraySize(offs), 2);
        begin = (size_t)cJSON_GetArrayItem(offs, 0)->valuedouble;
        end = (size_t)cJSON_GetArrayItem(offs, 1)->valuedouble;
        cr_assert_eq(begin, expect_begin, "%s begins at %zu", names[k], begin);
        cr_assert_eq(end, begin + 4 * count);
        expect_begin = end;
        cr_assert_eq(dpt_net_layer_offsets(net, k / 2 + 1, &w_off, &b_off), DPT_OK);
        src = dpt_net_params_const(net) + (k % 2 ? b_off : w_off);
        for (size_t i = 0; i < count; i++) {
            const unsigned char *p = buf + 8 + hlen + begin + 4 * i;
            uint32_t u =
                (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            float v;
            memcpy(&v, &u, 4);
            cr_assert(memcmp(&v, &src[i], 4) == 0, "%s[%zu] differs", names[k], i);
        }
    }
    cr_assert_eq(expect_begin, data_len);
    cJSON_Delete(root);
    free(buf);
    dpt_net_destroy(net);
    io_test_rmtree(f.dir);
}

// ---- damaged files ----

Test(io, nonexistent_and_empty_files_fail)
{
    struct fixture f;
    char missing[160];
    fixture_setup(&f);
    snprintf(missing, sizeof missing, "%s/no-such-model.safetensors", f.dir);
    expect_load_fails(missing, DPT_ERR_IO, "cannot open");
    io_test_write(f.path, "", 0);
    expect_load_fails(f.path, DPT_ERR_FORMAT, "too short");
    io_test_rmtree(f.dir);
}

Test(io, every_truncation_fails)
{
    struct fixture f;
    struct dpt_net *net;
    size_t len;
    unsigned char *buf;
    uint64_t hlen;
    fixture_setup(&f);
    net = save_plain(&f);
    buf = io_test_read(f.path, &len);
    hlen = le64(buf);
    for (size_t n = 0; n < len; n++) {
        struct dpt_net *back = NULL;
        io_test_write(f.path, buf, n);
        cr_assert_neq(dpt_model_load(f.path, &back, NULL), DPT_OK, "truncated at %zu loads", n);
        cr_assert_null(back);
    }
    // The messages say what is wrong at the telling lengths.
    io_test_write(f.path, buf, 7);
    expect_load_fails(f.path, DPT_ERR_FORMAT, "too short");
    io_test_write(f.path, buf, 8 + (size_t)hlen / 2);
    expect_load_fails(f.path, DPT_ERR_FORMAT, "header length");
    io_test_write(f.path, buf, 8 + (size_t)hlen);
    expect_load_fails(f.path, DPT_ERR_FORMAT, "truncated");
    io_test_write(f.path, buf, len - 1);
    expect_load_fails(f.path, DPT_ERR_FORMAT, "truncated");
    free(buf);
    dpt_net_destroy(net);
    io_test_rmtree(f.dir);
}

Test(io, absurd_header_length_fails)
{
    struct fixture f;
    struct dpt_net *net;
    size_t len;
    unsigned char *buf;
    fixture_setup(&f);
    net = save_plain(&f);
    buf = io_test_read(f.path, &len);
    buf[5] = 0x01; // 2^40 bytes
    io_test_write(f.path, buf, len);
    expect_load_fails(f.path, DPT_ERR_FORMAT, "header length");
    free(buf);
    dpt_net_destroy(net);
    io_test_rmtree(f.dir);
}

Test(io, flipped_data_byte_fails_checksum)
{
    struct fixture f;
    struct dpt_net *net;
    size_t len;
    unsigned char *buf;
    uint64_t hlen;
    fixture_setup(&f);
    net = save_plain(&f);
    buf = io_test_read(f.path, &len);
    hlen = le64(buf);
    // Low mantissa bit of one weight: a finite value, so only the checksum can tell.
    buf[8 + hlen + 20] ^= 0x01;
    io_test_write(f.path, buf, len);
    expect_load_fails(f.path, DPT_ERR_FORMAT, "checksum mismatch: file is corrupt");
    free(buf);
    dpt_net_destroy(net);
    io_test_rmtree(f.dir);
}

// Flips one header byte at the first occurrence of `needle` (+ delta) and expects a failure.
static void flip_header_at(struct fixture *f, const unsigned char *orig, size_t len,
                           const char *needle, size_t delta, unsigned char mask, const char *what)
{
    unsigned char *buf = malloc(len);
    uint64_t hlen = le64(orig);
    char *hdr = malloc((size_t)hlen + 1), *at;
    cr_assert(buf && hdr);
    memcpy(buf, orig, len);
    memcpy(hdr, orig + 8, (size_t)hlen);
    hdr[hlen] = 0;
    at = strstr(hdr, needle);
    cr_assert_not_null(at, "'%s' not in the header", needle);
    buf[8 + (size_t)(at - hdr) + delta] ^= mask;
    io_test_write(f->path, buf, len);
    expect_load_fails(f->path, DPT_ERR_FORMAT, what);
    free(hdr);
    free(buf);
}

Test(io, flipped_header_bytes_fail)
{
    struct fixture f;
    struct dpt_net *net;
    size_t len;
    unsigned char *buf;
    fixture_setup(&f);
    net = save_plain(&f);
    buf = io_test_read(f.path, &len);
    flip_header_at(&f, buf, len, "{", 0, 0x01, "not valid JSON");   // '{' -> 'z'
    flip_header_at(&f, buf, len, "\"F32\"", 1, 0x01, "dtype");      // F32 -> G32
    flip_header_at(&f, buf, len, "\"dptrain\"", 1, 0x20, "format"); // dptrain -> Dptrain
    flip_header_at(&f, buf, len, "\"4,3,2\"", 3, 0x01, "shape");    // 4,3,2 -> 4,2,2
    flip_header_at(&f, buf, len, "\"relu,", 1, 0x01, "act");        // relu -> selu
    flip_header_at(&f, buf, len, "\"W2\"", 1, 0x01, "tensor");      // W2 -> V2
    flip_header_at(&f, buf, len, "\"data_offsets\":[0", 16, 0x01, "data_offsets"); // 0 -> 1
    flip_header_at(&f, buf, len, "\"shape\"", 0, 0x01, "JSON");                    // '"' -> '#'
    free(buf);
    dpt_net_destroy(net);
    io_test_rmtree(f.dir);
}

// Whatever single byte is damaged, a load either fails with a message or yields exactly the
// saved parameters (a flip inside free text such as the version string is harmless): never a
// crash, never silently different weights.
Test(io, any_flipped_byte_fails_or_keeps_parameters)
{
    struct fixture f;
    struct dpt_net *net;
    size_t len;
    unsigned char *buf;
    uint64_t hlen;
    fixture_setup(&f);
    net = save_plain(&f);
    buf = io_test_read(f.path, &len);
    hlen = le64(buf);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            struct dpt_net *back = NULL;
            enum dpt_status st;
            buf[i] ^= (unsigned char)(1u << bit);
            io_test_write(f.path, buf, len);
            st = dpt_model_load(f.path, &back, NULL);
            buf[i] ^= (unsigned char)(1u << bit);
            if (st == DPT_OK) {
                cr_assert(i >= 8 && i < 8 + hlen, "flip at byte %zu (data or length) loaded", i);
                io_test_same_params(net, back);
                dpt_net_destroy(back);
            } else {
                cr_assert_null(back);
                cr_assert_neq(dpt_last_error()[0], '\0');
            }
        }
    }
    free(buf);
    dpt_net_destroy(net);
    io_test_rmtree(f.dir);
}

// ---- hand-edited headers ----

static void edit_future_version(cJSON *root)
{
    set_meta(root, "format_version", "2");
}
static void edit_w1_shape(cJSON *root)
{
    cJSON *shape = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(root, "W1"), "shape");
    cJSON_ReplaceItemInArray(shape, 1, cJSON_CreateNumber(5));
}
static void edit_drop_b2(cJSON *root)
{
    cJSON_DeleteItemFromObjectCaseSensitive(root, "b2");
}
static void edit_add_w3(cJSON *root)
{
    cJSON *b2 = cJSON_GetObjectItemCaseSensitive(root, "b2");
    cJSON_AddItemToObject(root, "W3", cJSON_Duplicate(b2, 1));
}
static void edit_dtype_f16(cJSON *root)
{
    cJSON *b1 = cJSON_GetObjectItemCaseSensitive(root, "b1");
    cJSON_ReplaceItemInObjectCaseSensitive(b1, "dtype", cJSON_CreateString("F16"));
}
static void edit_overlap(cJSON *root)
{
    // b1 is [48, 60]: move it onto the end of W1.
    cJSON *offs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(root, "b1"), "data_offsets");
    cJSON_ReplaceItemInArray(offs, 0, cJSON_CreateNumber(44));
    cJSON_ReplaceItemInArray(offs, 1, cJSON_CreateNumber(56));
}
static void edit_offsets_out_of_range(cJSON *root)
{
    cJSON *offs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(root, "b2"), "data_offsets");
    cJSON_ReplaceItemInArray(offs, 0, cJSON_CreateNumber(1000));
    cJSON_ReplaceItemInArray(offs, 1, cJSON_CreateNumber(1008));
}
static void edit_number_meta(cJSON *root)
{
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    cJSON_ReplaceItemInObjectCaseSensitive(meta, "n_classes", cJSON_CreateNumber(2));
}
static void edit_missing_loss(cJSON *root)
{
    set_meta(root, "loss", NULL);
}
static void edit_bad_loss(cJSON *root)
{
    set_meta(root, "loss", "hinge");
}
static void edit_invalid_spec(cJSON *root)
{
    set_meta(root, "act", "softmax,softmax");
}
static void edit_not_dptrain(cJSON *root)
{
    set_meta(root, "format", "pytorch");
}
static void edit_bad_crc(cJSON *root)
{
    set_meta(root, "crc32", "xyz");
}
static void edit_no_metadata(cJSON *root)
{
    cJSON_DeleteItemFromObjectCaseSensitive(root, "__metadata__");
}
static void edit_wrong_n_classes(cJSON *root)
{
    set_meta(root, "n_classes", "3");
}
static void edit_short_norm(cJSON *root)
{
    set_meta(root, "norm", "minmax");
    set_meta(root, "norm_shift", "0,0,0");
    set_meta(root, "norm_scale", "1,1,1,1");
}
static void edit_nan_slope(cJSON *root)
{
    set_meta(root, "leaky_slope", "nan");
}

static void expect_edit_fails(void (*edit)(cJSON *), enum dpt_status want, const char *what)
{
    struct fixture f;
    struct dpt_net *net;
    fixture_setup(&f);
    net = save_plain(&f);
    edit_header(f.path, edit);
    expect_load_fails(f.path, want, what);
    dpt_net_destroy(net);
    io_test_rmtree(f.dir);
}

Test(io, future_version_is_unsupported)
{
    expect_edit_fails(edit_future_version, DPT_ERR_UNSUPPORTED,
                      "format version 2 is newer than this dptrain (1)");
}

Test(io, wrong_shape_fails)
{
    expect_edit_fails(edit_w1_shape, DPT_ERR_FORMAT, "tensor 'W1': shape [3, 5], expected [3, 4]");
}

Test(io, missing_tensor_fails)
{
    expect_edit_fails(edit_drop_b2, DPT_ERR_FORMAT, "tensor 'b2' is missing");
}

Test(io, extra_tensor_fails)
{
    expect_edit_fails(edit_add_w3, DPT_ERR_FORMAT, "unexpected tensor 'W3'");
}

Test(io, wrong_dtype_fails)
{
    expect_edit_fails(edit_dtype_f16, DPT_ERR_FORMAT, "dtype 'F16' is not F32");
}

Test(io, overlapping_or_outside_offsets_fail)
{
    expect_edit_fails(edit_overlap, DPT_ERR_FORMAT, "overlap");
    expect_edit_fails(edit_offsets_out_of_range, DPT_ERR_FORMAT, "beyond the 92-byte data section");
}

Test(io, ill_typed_or_missing_metadata_fails)
{
    expect_edit_fails(edit_number_meta, DPT_ERR_FORMAT, "__metadata__.n_classes is not a string");
    expect_edit_fails(edit_missing_loss, DPT_ERR_FORMAT, "__metadata__.loss is missing");
    expect_edit_fails(edit_bad_loss, DPT_ERR_FORMAT, "unknown loss 'hinge'");
    expect_edit_fails(edit_invalid_spec, DPT_ERR_FORMAT, "invalid network");
    expect_edit_fails(edit_not_dptrain, DPT_ERR_FORMAT, "'pytorch', not 'dptrain'");
    expect_edit_fails(edit_bad_crc, DPT_ERR_FORMAT, "crc32");
    expect_edit_fails(edit_no_metadata, DPT_ERR_FORMAT, "__metadata__");
    expect_edit_fails(edit_wrong_n_classes, DPT_ERR_FORMAT, "n_classes is 3");
    expect_edit_fails(edit_short_norm, DPT_ERR_FORMAT, "norm_shift has 3 values, expected 4");
    expect_edit_fails(edit_nan_slope, DPT_ERR_FORMAT, "leaky_slope");
}

// ---- atomic save ----

Test(io, failed_save_leaves_existing_file_untouched)
{
    struct fixture f;
    struct dpt_net *net, *bad;
    struct dpt_model_info info;
    size_t len0, len1, w_off;
    unsigned char *before, *after;
    char elsewhere[192];
    fixture_setup(&f);
    net = save_plain(&f);
    before = io_test_read(f.path, &len0);

    // A NaN parameter: refused, naming the tensor and index; nothing replaced, no temp file.
    bad = io_test_net(9);
    cr_assert_eq(dpt_net_layer_offsets(bad, 2, &w_off, NULL), DPT_OK);
    dpt_net_params(bad)[w_off + 4] = NAN;
    cr_assert_eq(dpt_model_save(f.path, bad, NULL), DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "tensor 'W2' index 4 is NaN") != NULL, "%s",
              dpt_last_error());
    dpt_net_params(bad)[w_off + 4] = INFINITY;
    cr_assert_eq(dpt_model_save(f.path, bad, NULL), DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "W2") != NULL, "%s", dpt_last_error());

    // Info inconsistent with the network: refused before anything is written.
    dpt_model_info_init(&info);
    info.n_classes = 5;
    cr_assert_eq(dpt_model_save(f.path, net, &info), DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "n_classes") != NULL, "%s", dpt_last_error());
    info.n_classes = 0;
    info.norm.kind = DPT_NORM_MINMAX;
    info.norm.n_in = 3; // the net has 4 inputs
    cr_assert_eq(dpt_model_save(f.path, net, &info), DPT_ERR_INVALID);

    after = io_test_read(f.path, &len1);
    cr_assert_eq(len0, len1);
    cr_assert(memcmp(before, after, len0) == 0, "existing model was modified");
    cr_assert_eq(io_test_count_entries(f.dir), 1, "temporary file left behind");

    // A directory that does not exist: an i/o error naming the path, nothing created.
    snprintf(elsewhere, sizeof elsewhere, "%s/missing-dir/model.safetensors", f.dir);
    cr_assert_eq(dpt_model_save(elsewhere, net, NULL), DPT_ERR_IO);
    cr_assert(strstr(dpt_last_error(), elsewhere) != NULL, "%s", dpt_last_error());
    cr_assert_eq(io_test_count_entries(f.dir), 1);

    // A successful save replaces the file as a whole.
    cr_assert_eq(dpt_model_save(f.path, bad, NULL), DPT_ERR_INVALID);
    dpt_net_params(bad)[w_off + 4] = 0.5f;
    cr_assert_eq(dpt_model_save(f.path, bad, NULL), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(io_test_count_entries(f.dir), 1);
    {
        struct dpt_net *back = NULL;
        cr_assert_eq(dpt_model_load(f.path, &back, NULL), DPT_OK, "%s", dpt_last_error());
        io_test_same_params(bad, back);
        dpt_net_destroy(back);
    }
    free(before);
    free(after);
    dpt_net_destroy(bad);
    dpt_net_destroy(net);
    io_test_rmtree(f.dir);
}

// ---- checkpoint extras ----

Test(io, extras_round_trip)
{
    struct fixture f;
    struct dpt_net *net, *back = NULL;
    struct dpt_model_extra_out out;
    float m[5] = {1.0f, -2.0f, 3.5f, 1e-20f, 0.0f}, v[3] = {0.25f, 0.5f, 0.75f};
    const char *names[3] = {"adam.m", "adam.v", "empty"};
    const float *data[3] = {m, v, NULL};
    const size_t lens[3] = {5, 3, 0};
    const char *keys[2] = {"epoch", "schedule"};
    const char *values[2] = {"12", "adam:lr=1e-3"};
    struct dpt_model_extra extra = {3, names, data, lens, 2, keys, values};
    const float *got;
    size_t n = 99;

    fixture_setup(&f);
    net = io_test_net(5);
    cr_assert_eq(dpt_model_save_ex(f.path, net, NULL, &extra), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_model_load_ex(f.path, &back, NULL, &out), DPT_OK, "%s", dpt_last_error());
    io_test_same_params(net, back);
    cr_assert_eq(out.n_tensors, 3);
    got = dpt_model_extra_tensor(&out, "adam.m", &n);
    cr_assert_not_null(got);
    cr_assert_eq(n, 5);
    cr_assert(memcmp(got, m, sizeof m) == 0);
    got = dpt_model_extra_tensor(&out, "adam.v", &n);
    cr_assert_eq(n, 3);
    cr_assert(memcmp(got, v, sizeof v) == 0);
    cr_assert_not_null(dpt_model_extra_tensor(&out, "empty", &n));
    cr_assert_eq(n, 0);
    cr_assert_null(dpt_model_extra_tensor(&out, "W1", NULL));
    cr_assert_str_eq(dpt_model_extra_meta(&out, "epoch"), "12");
    cr_assert_str_eq(dpt_model_extra_meta(&out, "schedule"), "adam:lr=1e-3");
    cr_assert_null(dpt_model_extra_meta(&out, "format"));
    cr_assert_eq(out.n_meta, 2);
    dpt_model_extra_out_cleanup(&out);
    cr_assert_eq(out.n_tensors, 0);
    dpt_net_destroy(back);

    // A plain load reads the network of a checkpoint and skips the extras.
    cr_assert_eq(dpt_model_load(f.path, &back, NULL), DPT_OK, "%s", dpt_last_error());
    io_test_same_params(net, back);
    dpt_net_destroy(back);

    // A plain model has no extras.
    cr_assert_eq(dpt_model_save(f.path, net, NULL), DPT_OK);
    cr_assert_eq(dpt_model_load_ex(f.path, &back, NULL, &out), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(out.n_tensors, 0);
    cr_assert_eq(out.n_meta, 0);
    dpt_model_extra_out_cleanup(&out);
    dpt_net_destroy(back);
    dpt_net_destroy(net);
    io_test_rmtree(f.dir);
}

Test(io, invalid_extras_are_refused)
{
    struct fixture f;
    struct dpt_net *net;
    float m[2] = {1.0f, NAN};
    const char *names[2] = {"m", "m"};
    const float *data[2] = {m, m};
    const size_t lens[2] = {1, 1};
    const char *keys[1] = {"crc32"};
    const char *values[1] = {"0"};
    struct dpt_model_extra extra = {2, names, data, lens, 0, keys, values};
    fixture_setup(&f);
    net = io_test_net(5);
    cr_assert_eq(dpt_model_save_ex(f.path, net, NULL, &extra), DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "appears twice") != NULL, "%s", dpt_last_error());
    names[1] = "W3";
    cr_assert_eq(dpt_model_save_ex(f.path, net, NULL, &extra), DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "invalid name 'W3'") != NULL, "%s", dpt_last_error());
    names[1] = "v";
    extra.n_meta = 1;
    cr_assert_eq(dpt_model_save_ex(f.path, net, NULL, &extra), DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "reserved") != NULL, "%s", dpt_last_error());
    extra.n_meta = 0;
    {
        const size_t lens2[2] = {1, 2}; // v holds a NaN at index 1
        extra.lens = lens2;
        cr_assert_eq(dpt_model_save_ex(f.path, net, NULL, &extra), DPT_ERR_INVALID);
        cr_assert(strstr(dpt_last_error(), "tensor 'v' index 1 is NaN") != NULL, "%s",
                  dpt_last_error());
    }
    cr_assert_eq(io_test_count_entries(f.dir), 0, "a refused save created a file");
    dpt_net_destroy(net);
    io_test_rmtree(f.dir);
}

static void edit_duplicate_labels(cJSON *root)
{
    set_meta(root, "class_labels", "5,5");
}

// Class labels that repeat (issue 14, class 10: "5,5" was accepted, and predict and eval could not
// tell the classes apart) are refused when saving and when loading.
Test(io, duplicate_class_labels_are_refused)
{
    struct fixture f;
    struct dpt_net *net = io_test_net(7);
    struct dpt_model_info info;
    int32_t labels[2] = {5, 5};
    fixture_setup(&f);
    dpt_model_info_init(&info);
    info.task = DPT_TASK_CLASSIFY;
    info.n_classes = 2;
    info.class_labels = labels;
    cr_assert_eq(dpt_model_save(f.path, net, &info), DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "label 5 appears twice"), "%s", dpt_last_error());
    labels[1] = 6;
    cr_assert_eq(dpt_model_save(f.path, net, &info), DPT_OK, "%s", dpt_last_error());
    edit_header(f.path, edit_duplicate_labels);
    expect_load_fails(f.path, DPT_ERR_FORMAT, "label 5 appears twice");
    dpt_net_destroy(net);
    io_test_rmtree(f.dir);
}

// New model, checkpoint and npy files honour the umask, as any output file does (issue 14, class
// 7: they were 0644 whatever the umask); a file replaced keeps its own mode.
Test(io, new_files_honour_the_umask)
{
    struct fixture f;
    struct dpt_net *net = io_test_net(9);
    struct stat sb;
    char npy[256];
    fixture_setup(&f);
    const mode_t old = umask(027);
    cr_assert_eq(dpt_model_save(f.path, net, NULL), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(stat(f.path, &sb), 0);
    cr_expect_eq(sb.st_mode & 0777, 0640, "umask 027: mode %o", (unsigned)(sb.st_mode & 0777));
    snprintf(npy, sizeof npy, "%s/npy", f.dir);
    cr_assert_eq(dpt_model_export_npy(net, npy), DPT_OK, "%s", dpt_last_error());
    snprintf(npy, sizeof npy, "%s/npy/W1.npy", f.dir);
    cr_assert_eq(stat(npy, &sb), 0);
    cr_expect_eq(sb.st_mode & 0777, 0640, "npy: mode %o", (unsigned)(sb.st_mode & 0777));
    umask(0);
    cr_assert_eq(chmod(f.path, 0600), 0);
    cr_assert_eq(dpt_model_save(f.path, net, NULL), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(stat(f.path, &sb), 0);
    cr_expect_eq(sb.st_mode & 0777, 0600, "replaced: mode %o", (unsigned)(sb.st_mode & 0777));
    cr_assert_eq(unlink(f.path), 0);
    cr_assert_eq(dpt_model_save(f.path, net, NULL), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(stat(f.path, &sb), 0);
    cr_expect_eq(sb.st_mode & 0777, 0666, "umask 0: mode %o", (unsigned)(sb.st_mode & 0777));
    umask(old);
    dpt_net_destroy(net);
    snprintf(npy, sizeof npy, "%s/npy", f.dir);
    io_test_rmtree(npy);
    io_test_rmtree(f.dir);
}

// Issue 14, class 12: kill -9 during a write left "PATH.tmp.XXXXXX" behind for good. A writer
// holds an flock on its temporary file, so the next save of PATH removes the unlocked leftovers
// over a minute old, and nothing else: not a file another writer holds locked, not a fresh one
// (a writer between creating and locking it), not another target's, not a name of another shape.
Test(io, save_removes_temporaries_left_by_killed_writers)
{
    char dir[64], path[128], p[256];
    io_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.st", dir);
    static const char *const names[] = {"m.st.tmp.aB3xY9", "m.st.tmp.held00",   "m.st.tmp.fresh0",
                                        "n.st.tmp.aB3xY9", "m.st.tmp.toolong0", "m.st.tmp.ab-cd0"};
    enum { STALE, HELD, FRESH, OTHER, LONG, CHARS, N_NAMES };
    int held_fd = -1;
    for (int i = 0; i < N_NAMES; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        const int fd = open(p, O_RDWR | O_CREAT | O_EXCL, 0600);
        cr_assert_geq(fd, 0, "%s", p);
        cr_assert_eq(write(fd, "partial", 7), 7);
        if (i != FRESH) { // two minutes old
            const struct timespec t[2] = {{time(NULL) - 120, 0}, {time(NULL) - 120, 0}};
            cr_assert_eq(futimens(fd, t), 0);
        }
        if (i == HELD) {
            cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
            held_fd = fd;
        } else {
            close(fd);
        }
    }
    struct dpt_net *net = io_test_net(3);
    cr_assert_eq(dpt_model_save(path, net, NULL), DPT_OK, "%s", dpt_last_error());
    for (int i = 0; i < N_NAMES; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        cr_expect_eq(access(p, F_OK) == 0, i != STALE, "%s", names[i]);
    }
    // The model itself and the five kept files: the save's own temporary is gone.
    cr_expect_eq(io_test_count_entries(dir), 6);
    close(held_fd);
    dpt_net_destroy(net);
    io_test_rmtree(dir);
}

// ---- text class labels (issue 15) ----

static void edit_names_not_json(cJSON *root)
{
    set_meta(root, "class_names", "cat,dog");
}
static void edit_names_count(cJSON *root)
{
    set_meta(root, "class_names", "[\"cat\"]");
}
static void edit_names_twice(cJSON *root)
{
    set_meta(root, "class_names", "[\"cat\",\"cat\"]");
}
static void edit_names_empty(cJSON *root)
{
    set_meta(root, "class_names", "[\"cat\",\"\"]");
}
static void edit_names_number(cJSON *root)
{
    set_meta(root, "class_names", "[\"cat\",3]");
}
static void edit_names_control(cJSON *root)
{
    set_meta(root, "class_names", "[\"c\\u001bat\",\"dog\"]");
}
static void edit_names_and_labels(cJSON *root)
{
    set_meta(root, "class_labels", "1,2");
}
static void edit_names_regression(cJSON *root)
{
    set_meta(root, "task", "regress");
    set_meta(root, "n_classes", "0");
}

// A classifier trained on text labels keeps their names: a JSON array of strings in
// __metadata__.class_names (names may hold commas and quotes), read back and validated.
Test(io, class_names_round_trip_and_are_validated)
{
    struct fixture f;
    struct dpt_net *net = io_test_net(7), *back = NULL;
    struct dpt_model_info info, got;
    static const char *const names[2] = {"cat \"felis\"", "dog, big"};
    fixture_setup(&f);
    dpt_model_info_init(&info);
    info.n_classes = 2;
    cr_assert_eq(dpt_model_info_set_class_names(&info, names, 2), DPT_OK);
    cr_assert_eq(dpt_model_save(f.path, net, &info), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_model_load(f.path, &back, &got), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(got.n_classes, 2);
    cr_assert_null(got.class_labels);
    cr_assert_not_null(got.class_names);
    cr_assert_str_eq(got.class_names[0], names[0]);
    cr_assert_str_eq(got.class_names[1], names[1]);
    dpt_model_info_cleanup(&got);
    dpt_net_destroy(back);
    // Read back independently: the metadata value is a JSON array (json.loads in Python).
    size_t len;
    uint64_t hlen;
    unsigned char *buf = io_test_read(f.path, &len);
    cJSON *root = read_header(buf, len, &hlen);
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    cJSON *arr = cJSON_Parse(cJSON_GetObjectItemCaseSensitive(meta, "class_names")->valuestring);
    cr_assert(cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == 2);
    cr_assert_str_eq(cJSON_GetArrayItem(arr, 1)->valuestring, "dog, big");
    cJSON_Delete(arr);
    cJSON_Delete(root);
    free(buf);

    // Refused on save: repeats, empty names, control characters, broken UTF-8, names and
    // numbers at once, names on a regression model.
    static const char *const bad[][2] = {
        {"cat", "cat"}, {"cat", ""}, {"cat", "d\nog"}, {"cat", "d\xC3og"}};
    static const char *const why[] = {"name 0 appears twice", "name 1 is empty",
                                      "name 1 holds a control character",
                                      "name 1 is not valid UTF-8"};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(dpt_model_info_set_class_names(&info, bad[i], 2), DPT_OK);
        cr_assert_eq(dpt_model_save(f.path, net, &info), DPT_ERR_INVALID, "case %zu", i);
        cr_assert(strstr(dpt_last_error(), why[i]), "%s", dpt_last_error());
    }
    cr_assert_eq(dpt_model_info_set_class_names(&info, names, 2), DPT_OK);
    int32_t labels[2] = {1, 2};
    info.class_labels = labels;
    cr_assert_eq(dpt_model_save(f.path, net, &info), DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "both set"), "%s", dpt_last_error());
    info.class_labels = NULL;
    // The key is the model's own: no checkpoint extra may use it.
    const char *key = "class_names", *value = "[]";
    struct dpt_model_extra extra = {0, NULL, NULL, NULL, 1, &key, &value};
    cr_assert_eq(dpt_model_save_ex(f.path, net, &info, &extra), DPT_ERR_INVALID);
    dpt_model_info_cleanup(&info);

    // Refused on load, naming the field.
    static void (*const edits[])(cJSON *) = {
        edit_names_not_json, edit_names_count,   edit_names_twice,      edit_names_empty,
        edit_names_number,   edit_names_control, edit_names_and_labels, edit_names_regression};
    static const char *const load_why[] = {"not a JSON array of 2 strings",
                                           "not a JSON array of 2 strings",
                                           "name 0 appears twice",
                                           "entry 1 is not a non-empty string",
                                           "entry 1 is not a non-empty string",
                                           "name 0 holds a control character",
                                           "both class_labels and class_names",
                                           "given for a regression model"};
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        dpt_model_info_init(&info);
        info.n_classes = 2;
        cr_assert_eq(dpt_model_info_set_class_names(&info, names, 2), DPT_OK);
        cr_assert_eq(dpt_model_save(f.path, net, &info), DPT_OK, "%s", dpt_last_error());
        dpt_model_info_cleanup(&info);
        edit_header(f.path, edits[i]);
        expect_load_fails(f.path, DPT_ERR_FORMAT, load_why[i]);
    }
    dpt_net_destroy(net);
    io_test_rmtree(f.dir);
}
