// Helpers shared by the io test files: a small network, temporary directories and whole-file
// reads and writes. Header-only (static functions), included by tests/io/test_*.c.
#ifndef DPT_TESTS_IO_TEST_H
#define DPT_TESTS_IO_TEST_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dptrain/dptrain.h"

// A 4-3-2 classifier (relu, softmax, xent) with He weights from `seed` and nonzero biases, so that
// every tensor carries distinct values.
static inline struct dpt_net *io_test_net(uint64_t seed)
{
    struct dpt_net_spec spec = dpt_net_spec_default();
    struct dpt_net *net = NULL;
    spec.n_layers = 2;
    spec.sizes[0] = 4;
    spec.sizes[1] = 3;
    spec.sizes[2] = 2;
    spec.act[0] = DPT_ACT_RELU;
    spec.act[1] = DPT_ACT_SOFTMAX;
    spec.loss = DPT_LOSS_XENT;
    cr_assert_eq(dpt_net_create(&spec, &net), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_net_init(net, DPT_INIT_HE, 0.0f, seed), DPT_OK, "%s", dpt_last_error());
    for (size_t l = 1; l <= 2; l++) {
        size_t b_off;
        cr_assert_eq(dpt_net_layer_offsets(net, l, NULL, &b_off), DPT_OK);
        for (size_t i = 0; i < spec.sizes[l]; i++)
            dpt_net_params(net)[b_off + i] = 0.125f * (float)(i + 1) - 0.3f * (float)l;
    }
    return net;
}

// Bitwise equality of the whole parameter vectors (padding included: it must stay zero).
static inline void io_test_same_params(const struct dpt_net *a, const struct dpt_net *b)
{
    cr_assert_eq(dpt_net_n_params(a), dpt_net_n_params(b));
    cr_assert(memcmp(dpt_net_params_const(a), dpt_net_params_const(b),
                     dpt_net_n_params(a) * sizeof(float)) == 0,
              "parameters differ");
}

static inline void io_test_same_spec(const struct dpt_net_spec *a, const struct dpt_net_spec *b)
{
    cr_assert_eq(a->n_layers, b->n_layers);
    for (size_t l = 0; l <= a->n_layers; l++)
        cr_assert_eq(a->sizes[l], b->sizes[l], "sizes[%zu]", l);
    for (size_t l = 0; l < a->n_layers; l++)
        cr_assert_eq(a->act[l], b->act[l], "act[%zu]", l);
    cr_assert_eq(a->loss, b->loss);
    cr_assert_eq(a->reduction, b->reduction);
    cr_assert(memcmp(&a->leaky_slope, &b->leaky_slope, sizeof(float)) == 0, "leaky_slope %.9g %.9g",
              (double)a->leaky_slope, (double)b->leaky_slope);
}

// mkdtemp under /tmp; the returned buffer is static per call site's copy (caller's storage).
static inline void io_test_tmpdir(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/dpt_io_test_XXXXXX");
    cr_assert_not_null(mkdtemp(out));
}

// Removes dir and the plain files in it (the tests create no subdirectories deeper than one).
static inline void io_test_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        struct stat sb;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof path)
            continue;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            io_test_rmtree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

// Number of entries in dir besides . and ..
static inline size_t io_test_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

// Reads a whole file into a malloc'd buffer (NUL-terminated for convenience).
static inline unsigned char *io_test_read(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf;
    long n;
    cr_assert_not_null(fp, "cannot open %s", path);
    cr_assert_eq(fseek(fp, 0, SEEK_END), 0);
    n = ftell(fp);
    cr_assert_geq(n, 0);
    rewind(fp);
    buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = 0;
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static inline void io_test_write(const char *path, const void *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp, "cannot create %s", path);
    cr_assert_eq(fwrite(buf, 1, len, fp), len);
    cr_assert_eq(fclose(fp), 0);
}

#endif
