// libFuzzer harness for the model file reader (safetensors + dptrain metadata + checkpoint
// extras): each input is a model file, loaded with dpt_model_load_ex. A model that loads must be
// usable: one forward pass on a zero input, extras and info within their stated sizes.
//
// The header carries a CRC32 of the data section, which random mutations almost never keep
// right, so everything the reader does after the checksum would go unfuzzed. Each input is
// therefore loaded as it is and, when its header has a "crc32" field, a second time with that
// field set to the true checksum of the data section.
#define _GNU_SOURCE
#include <string.h>
#include <zlib.h>

#include "dptrain/dptrain.h"
#include "fuzz_common.h"

static struct fuzz_file file;

static void use(struct dpt_net *net, const struct dpt_model_info *info,
                const struct dpt_model_extra_out *extra)
{
    const struct dpt_net_spec *spec = dpt_net_spec(net);
    size_t n_in = spec->sizes[0], n_out = spec->sizes[spec->n_layers];
    struct dpt_workspace *ws = NULL;
    float *x = calloc(n_in, sizeof *x), *y = calloc(n_out, sizeof *y);
    if (x && y && dpt_workspace_create(net, 1, &ws) == DPT_OK)
        (void)dpt_net_forward(net, ws, x, NULL, 1, y);
    dpt_workspace_destroy(ws);
    free(x);
    free(y);
    if (info->class_labels && info->n_classes == 0)
        abort();
    volatile float sink = 0.0f;
    for (size_t i = 0; info->norm.kind != DPT_NORM_NONE && i < info->norm.n_in; i++)
        sink += info->norm.shift[i] + info->norm.scale[i];
    for (size_t i = 0; i < extra->n_tensors; i++) {
        if (strlen(extra->names[i]) == 0)
            abort();
        for (size_t j = 0; j < extra->lens[i]; j++)
            sink += extra->data[i][j];
    }
    for (size_t i = 0; i < extra->n_meta; i++)
        if (!dpt_model_extra_meta(extra, extra->meta_keys[i]))
            abort();
    (void)sink;
}

static void load(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file_set(&file, data, size);
    struct dpt_net *net = NULL;
    struct dpt_model_info info;
    struct dpt_model_extra_out extra;
    if (dpt_model_load_ex(path, &net, &info, &extra) == DPT_OK)
        use(net, &info, &extra);
    else if (net || extra.n_tensors || extra.n_meta || info.class_labels || info.provenance)
        abort(); // outputs must be in their empty state after an error
    dpt_model_info_cleanup(&info);
    dpt_model_extra_out_cleanup(&extra);
    dpt_net_destroy(net);
}

// Writes the true CRC32 of the data section into the header's "crc32":"XXXXXXXX" value.
// Returns 0 when the input has no such field inside a plausible header.
static int fix_crc(uint8_t *buf, size_t size)
{
    static const char key[] = "\"crc32\":\"";
    const size_t klen = sizeof key - 1;
    if (size < 8)
        return 0;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | buf[i];
    if (hlen > size - 8)
        return 0;
    for (size_t i = 8; i + klen + 8 <= 8 + hlen; i++) {
        if (memcmp(buf + i, key, klen) == 0) {
            uLong crc = crc32(0L, Z_NULL, 0);
            crc = crc32(crc, buf + 8 + hlen, (uInt)(size - 8 - hlen));
            char hex[9];
            snprintf(hex, sizeof hex, "%08lx", (unsigned long)crc);
            memcpy(buf + i + klen, hex, 8);
            return 1;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load(data, size);
    uint8_t *copy = malloc(size ? size : 1);
    if (copy) {
        memcpy(copy, data, size);
        if (fix_crc(copy, size) && memcmp(copy, data, size) != 0)
            load(copy, size);
        free(copy);
    }
    return 0;
}
