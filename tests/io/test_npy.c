// NumPy export/import: the NPY layout read back byte by byte, bitwise round trips, f64 input, and
// the errors of import (shape, dtype, order, missing and truncated files), which must leave the
// network unchanged.
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/io_test.h"

// Writes an NPY 1.0 file with the given header dict and raw data bytes, padded as NumPy does.
static void write_npy_raw(const char *dir, const char *name, const char *dict, const void *data,
                          size_t bytes)
{
    char path[256];
    size_t n = strlen(dict), total = (10 + n + 1 + 63) & ~(size_t)63, hlen = total - 10;
    unsigned char *buf = calloc(1, total + bytes);
    cr_assert_not_null(buf);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)hlen;
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, dict, n);
    memset(buf + 10 + n, ' ', hlen - n - 1);
    buf[total - 1] = '\n';
    memcpy(buf + total, data, bytes);
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    io_test_write(path, buf, total + bytes);
    free(buf);
}

// A net with the test spec and all parameters zero.
static struct dpt_net *zero_net(const struct dpt_net *like)
{
    struct dpt_net *net = NULL;
    cr_assert_eq(dpt_net_create(dpt_net_spec(like), &net), DPT_OK, "%s", dpt_last_error());
    return net;
}

Test(io, npy_export_layout)
{
    char dir[64], sub[128], path[192];
    struct dpt_net *net = io_test_net(11);
    const char *names[4] = {"W1", "b1", "W2", "b2"};
    const char *dicts[4] = {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }",
                            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"};
    const size_t counts[4] = {12, 3, 6, 2};
    io_test_tmpdir(dir, sizeof dir);
    snprintf(sub, sizeof sub, "%s/npy", dir); // created by the export
    cr_assert_eq(dpt_model_export_npy(net, sub), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(io_test_count_entries(sub), 5, "expected exactly W1 b1 W2 b2 .npy, dptrain.json");
    for (size_t k = 0; k < 4; k++) {
        size_t len, hlen, w_off, b_off, dl = strlen(dicts[k]);
        unsigned char *buf;
        snprintf(path, sizeof path, "%s/%s.npy", sub, names[k]);
        buf = io_test_read(path, &len);
        cr_assert(memcmp(buf, "\x93NUMPY\x01\x00", 8) == 0, "%s: bad magic/version", names[k]);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        cr_assert_eq((10 + hlen) % 64, 0, "%s: header of %zu bytes not 64-aligned", names[k],
                     10 + hlen);
        cr_assert(memcmp(buf + 10, dicts[k], dl) == 0, "%s: dict is '%.*s'", names[k], (int)dl,
                  (const char *)buf + 10);
        for (size_t i = 10 + dl; i < 10 + hlen - 1; i++)
            cr_assert_eq(buf[i], ' ', "%s: padding byte %zu", names[k], i);
        cr_assert_eq(buf[10 + hlen - 1], '\n');
        cr_assert_eq(len, 10 + hlen + 4 * counts[k]);
        cr_assert_eq(dpt_net_layer_offsets(net, k / 2 + 1, &w_off, &b_off), DPT_OK);
        // This host is little-endian (x86-64 / arm64): the data bytes are the floats' bytes.
        cr_assert(memcmp(buf + 10 + hlen, dpt_net_params_const(net) + (k % 2 ? b_off : w_off),
                         4 * counts[k]) == 0,
                  "%s: data differs", names[k]);
        free(buf);
    }
    // Exporting again into the existing directory replaces the files.
    cr_assert_eq(dpt_model_export_npy(net, sub), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(io_test_count_entries(sub), 5);
    dpt_net_destroy(net);
    io_test_rmtree(dir);
}

Test(io, npy_export_import_is_bitwise)
{
    char dir[64];
    struct dpt_net *net = io_test_net(12), *back;
    io_test_tmpdir(dir, sizeof dir);
    cr_assert_eq(dpt_model_export_npy(net, dir), DPT_OK, "%s", dpt_last_error());
    back = zero_net(net);
    cr_assert_eq(dpt_model_import_npy(back, dir), DPT_OK, "%s", dpt_last_error());
    io_test_same_params(net, back);
    dpt_net_destroy(back);
    dpt_net_destroy(net);
    io_test_rmtree(dir);
}

Test(io, npy_import_converts_f64)
{
    char dir[64];
    struct dpt_net *net = io_test_net(13), *back;
    double w1[12];
    size_t w_off;
    io_test_tmpdir(dir, sizeof dir);
    cr_assert_eq(dpt_model_export_npy(net, dir), DPT_OK, "%s", dpt_last_error());
    for (size_t i = 0; i < 12; i++)
        w1[i] = 0.1 * (double)i - 0.55; // not representable in f32: rounding is exercised
    write_npy_raw(dir, "W1", "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }", w1,
                  sizeof w1);
    back = zero_net(net);
    cr_assert_eq(dpt_model_import_npy(back, dir), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_net_layer_offsets(back, 1, &w_off, NULL), DPT_OK);
    for (size_t i = 0; i < 12; i++) {
        float want = (float)w1[i];
        cr_assert(memcmp(&dpt_net_params(back)[w_off + i], &want, 4) == 0, "W1[%zu]", i);
    }
    dpt_net_destroy(back);
    dpt_net_destroy(net);
    io_test_rmtree(dir);
}

// Imports into a fresh zero net expecting failure with `want` and a message naming `file` and
// containing `what`; the net must stay all zero.
static void expect_import_fails(const char *dir, const struct dpt_net *like, enum dpt_status want,
                                const char *file, const char *what)
{
    struct dpt_net *net = zero_net(like);
    enum dpt_status st = dpt_model_import_npy(net, dir);
    cr_assert_eq(st, want, "status %d, want %d: %s", st, want, dpt_last_error());
    cr_assert(strstr(dpt_last_error(), file) != NULL, "message does not name %s: %s", file,
              dpt_last_error());
    cr_assert(strstr(dpt_last_error(), what) != NULL, "message lacks '%s': %s", what,
              dpt_last_error());
    for (size_t i = 0; i < dpt_net_n_params(net); i++)
        cr_assert_eq(dpt_net_params(net)[i], 0.0f, "a failed import changed parameter %zu", i);
    dpt_net_destroy(net);
}

Test(io, npy_import_errors)
{
    char dir[64], path[128];
    struct dpt_net *net = io_test_net(14);
    float w2[6] = {0}, w2t[6] = {0}, b2[3] = {0};
    int32_t w2i[6] = {0};
    io_test_tmpdir(dir, sizeof dir);

    // Missing file: names it. W1 and b1 would import fine, but nothing may change.
    cr_assert_eq(dpt_model_export_npy(net, dir), DPT_OK, "%s", dpt_last_error());
    snprintf(path, sizeof path, "%s/b2.npy", dir);
    cr_assert_eq(unlink(path), 0);
    expect_import_fails(dir, net, DPT_ERR_IO, "b2.npy", "cannot open");

    // Wrong shape: transposed W2 and a too long b2.
    cr_assert_eq(dpt_model_export_npy(net, dir), DPT_OK);
    write_npy_raw(dir, "W2", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", w2t,
                  sizeof w2t);
    expect_import_fails(dir, net, DPT_ERR_FORMAT, "W2.npy", "shape (3, 2), expected (2, 3)");
    cr_assert_eq(dpt_model_export_npy(net, dir), DPT_OK);
    write_npy_raw(dir, "b2", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", b2,
                  sizeof b2);
    expect_import_fails(dir, net, DPT_ERR_FORMAT, "b2.npy", "shape (3,), expected (2,)");

    // Wrong dtype.
    cr_assert_eq(dpt_model_export_npy(net, dir), DPT_OK);
    write_npy_raw(dir, "W2", "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", w2i,
                  sizeof w2i);
    expect_import_fails(dir, net, DPT_ERR_FORMAT, "W2.npy", "dtype '<i4'");
    write_npy_raw(dir, "W2", "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", w2,
                  sizeof w2);
    expect_import_fails(dir, net, DPT_ERR_UNSUPPORTED, "W2.npy", "big-endian");

    // Fortran order.
    write_npy_raw(dir, "W2", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", w2,
                  sizeof w2);
    expect_import_fails(dir, net, DPT_ERR_UNSUPPORTED, "W2.npy", "fortran_order");

    // Truncated data and trailing bytes.
    write_npy_raw(dir, "W2", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", w2,
                  sizeof w2 - 4);
    expect_import_fails(dir, net, DPT_ERR_FORMAT, "W2.npy", "truncated");
    {
        // One float more than the shape holds.
        float longer[7] = {0};
        write_npy_raw(dir, "W2", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                      longer, sizeof longer);
        expect_import_fails(dir, net, DPT_ERR_FORMAT, "W2.npy", "trailing bytes");
    }

    // Malformed header and non-finite values.
    write_npy_raw(dir, "W2", "{'descr': '<f4', 'shape': (2, 3), }", w2, sizeof w2);
    expect_import_fails(dir, net, DPT_ERR_FORMAT, "W2.npy", "bad header");
    w2[5] = NAN;
    write_npy_raw(dir, "W2", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", w2,
                  sizeof w2);
    expect_import_fails(dir, net, DPT_ERR_FORMAT, "W2.npy", "element 5 is not finite");
    snprintf(path, sizeof path, "%s/W2.npy", dir);
    io_test_write(path, "not numpy at all", 16);
    expect_import_fails(dir, net, DPT_ERR_FORMAT, "W2.npy", "not an NPY file");

    // A file where the directory should be.
    snprintf(path, sizeof path, "%s/W2.npy", dir);
    cr_assert_eq(dpt_model_export_npy(net, path), DPT_ERR_IO);
    cr_assert(strstr(dpt_last_error(), "not a directory") != NULL, "%s", dpt_last_error());

    dpt_net_destroy(net);
    io_test_rmtree(dir);
}

// An export into a directory it makes, failing midway (a full disk: here a file-size limit, so
// that no root or special file system is needed), leaves nothing behind: neither the files written
// before the failure nor the new directory (issue 14, class 11). Run in a child, whose limit and
// SIGXFSZ setting go with it.
Test(io, npy_export_failure_removes_the_new_directory)
{
    char dir[64], sub[128];
    io_test_tmpdir(dir, sizeof dir);
    snprintf(sub, sizeof sub, "%s/new", dir);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        struct dpt_net *net = io_test_net(3);
        // Each file is a 128-byte header and the data: 100 bytes stop the first one.
        struct rlimit lim = {100, 100};
        signal(SIGXFSZ, SIG_IGN);
        if (!net || setrlimit(RLIMIT_FSIZE, &lim) != 0)
            _exit(3);
        const enum dpt_status st = dpt_model_export_npy(net, sub);
        _exit(st == DPT_ERR_IO && strstr(dpt_last_error(), "npy") ? 0 : 4);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    struct stat sb;
    cr_assert_neq(stat(sub, &sb), 0, "the new directory was left behind");
    // Into a directory that was there already, the files are written as usual; an empty path is
    // named as such (it was an internal message).
    struct dpt_net *net = io_test_net(3);
    cr_assert_eq(dpt_model_export_npy(net, ""), DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "path is empty"), "%s", dpt_last_error());
    cr_assert_eq(dpt_model_export_npy(net, dir), DPT_OK, "%s", dpt_last_error());
    dpt_net_destroy(net);
    io_test_rmtree(dir);
}
