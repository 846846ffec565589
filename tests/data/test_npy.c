// The NumPy data SPEC "npy:X.npy,Y.npy" (issue 15): dtypes, byte orders, C and Fortran order, the
// task from Y's dtype or target=, and hostile files (header sizes, shapes that overflow or that the
// file is too short for, bad values) refused with one message naming the file and position. NPY
// files are written by hand here; the round trip with NumPy itself runs where python3 has it.
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "dptrain/dptrain.h"
#include "test_helpers.h"

// Writes an NPY file: magic, version `major`.0, the header dict padded with spaces and a newline
// to a multiple of 64 bytes (as NumPy does), then len bytes of data.
static void put_npy(const char *path, int major, const char *dict, const void *data, size_t len)
{
    unsigned char head[512];
    const size_t pre = major == 1 ? 10 : 12, n = strlen(dict);
    size_t hlen = n + 1;
    while ((pre + hlen) % 64)
        hlen++;
    cr_assert_lt(pre + hlen, sizeof head);
    memcpy(head, "\x93NUMPY", 6);
    head[6] = (unsigned char)major;
    head[7] = 0;
    head[8] = (unsigned char)hlen;
    head[9] = (unsigned char)(hlen >> 8);
    if (major > 1) {
        head[10] = (unsigned char)(hlen >> 16);
        head[11] = (unsigned char)(hlen >> 24);
    }
    memset(head + pre, ' ', hlen);
    memcpy(head + pre, dict, n);
    head[pre + hlen - 1] = '\n';
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(head, 1, pre + hlen, f), pre + hlen);
    if (len)
        cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

// "{'descr': 'D', 'fortran_order': F, 'shape': S, }" into buf.
static const char *dict(char *buf, const char *descr, int fortran, const char *shape)
{
    snprintf(buf, 256, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr,
             fortran ? "True" : "False", shape);
    return buf;
}

static enum dpt_status load(const char *x, const char *y, const char *opts, struct dpt_dataset **ds)
{
    char spec[1200];
    snprintf(spec, sizeof spec, "npy:%s,%s%s", x, y, opts);
    return dpt_data_load(spec, 0, ds);
}

// The byte-swapped copy of n items of size sz.
static void swap_bytes(unsigned char *dst, const void *src, size_t n, size_t sz)
{
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++)
        for (size_t b = 0; b < sz; b++)
            dst[i * sz + b] = s[i * sz + sz - 1 - b];
}

static const float X6[6] = {0.5f, -1.0f, 2.0f, 3.25f, -4.5f, 1e-3f}; // 3 x 2, C order

Test(data, npy_classification_dtypes_and_orders, .init = tmp_setup, .fini = tmp_teardown)
{
    char xp[512], yp[512], d[256];
    struct dpt_dataset *ds = NULL;
    put_npy(tmp_path(xp, "x.npy"), 1, dict(d, "<f4", 0, "(3, 2)"), X6, sizeof X6);
    const int64_t y64[3] = {7, -2, 7};
    put_npy(tmp_path(yp, "y.npy"), 1, dict(d, "<i8", 0, "(3,)"), y64, sizeof y64);
    cr_assert_eq(load(xp, yp, "", &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_task(ds), DPT_TASK_CLASSIFY);
    cr_assert_eq(dpt_dataset_n(ds), 3);
    cr_assert_eq(dpt_dataset_n_in(ds), 2);
    cr_assert_eq(dpt_dataset_n_out(ds), 2);
    cr_assert_eq(memcmp(dpt_dataset_x(ds), X6, sizeof X6), 0);
    const int32_t *cl;
    size_t nc;
    cr_assert_eq(dpt_dataset_class_labels(ds, &cl, &nc), DPT_OK);
    cr_assert_eq(cl[0], -2);
    cr_assert_eq(cl[1], 7);
    cr_assert_eq(dpt_dataset_labels(ds)[0], 1);
    cr_assert_eq(dpt_dataset_labels(ds)[1], 0);
    dpt_dataset_destroy(ds);

    // X as float64 in Fortran order (column-major, as pandas' .to_numpy() often is), big-endian
    // float32, NPY 2.0; labels as uint8, bool, big-endian int16, and integral float64 with
    // target=classification.
    const double xf[6] = {0.5, 2.0, -4.5, -1.0, 3.25, 1e-3}; // columns of X6
    put_npy(xp, 2, dict(d, "<f8", 1, "(3, 2)"), xf, sizeof xf);
    const unsigned char yu8[3] = {1, 0, 1};
    put_npy(yp, 1, dict(d, "|u1", 0, "(3,)"), yu8, 3);
    cr_assert_eq(load(xp, yp, "", &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(memcmp(dpt_dataset_x(ds), X6, sizeof X6), 0);
    cr_assert_eq(dpt_dataset_labels(ds)[2], 1);
    dpt_dataset_destroy(ds);
    unsigned char be[sizeof X6];
    swap_bytes(be, X6, 6, 4);
    put_npy(xp, 1, dict(d, ">f4", 0, "(3, 2)"), be, sizeof be);
    put_npy(yp, 1, dict(d, "|b1", 0, "(3,)"), yu8, 3);
    cr_assert_eq(load(xp, yp, "", &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(memcmp(dpt_dataset_x(ds), X6, sizeof X6), 0);
    cr_assert_eq(dpt_dataset_labels(ds)[1], 0);
    dpt_dataset_destroy(ds);
    const int16_t y16[3] = {-300, 300, -300};
    unsigned char y16be[6];
    swap_bytes(y16be, y16, 3, 2);
    put_npy(yp, 1, dict(d, ">i2", 0, "(3, 1)"), y16be, 6); // a column vector is fine too
    cr_assert_eq(load(xp, yp, "", &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_class_labels(ds, &cl, &nc), DPT_OK);
    cr_assert_eq(cl[0], -300);
    cr_assert_eq(dpt_dataset_labels(ds)[1], 1);
    dpt_dataset_destroy(ds);
    const double yd[3] = {1.0, 0.0, 2.0};
    put_npy(yp, 1, dict(d, "<f8", 0, "(3,)"), yd, sizeof yd);
    cr_assert_eq(load(xp, yp, ",target=classification", &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n_out(ds), 3);
    cr_assert_eq(dpt_dataset_labels(ds)[2], 2);
    dpt_dataset_destroy(ds);
    // A float label that is no integer, or an integer beyond int32, names its place.
    const double ybad[3] = {1.0, 0.5, 2.0};
    put_npy(yp, 1, dict(d, "<f8", 0, "(3,)"), ybad, sizeof ybad);
    cr_assert_eq(load(xp, yp, ",target=classification", &ds), DPT_ERR_FORMAT);
    expect_msg(yp, "byte offset 136: Y[1] = 0.5", "not an integer class label");
    const int64_t ybig[3] = {1, 0, (int64_t)1 << 40};
    put_npy(yp, 1, dict(d, "<i8", 0, "(3,)"), ybig, sizeof ybig);
    cr_assert_eq(load(xp, yp, "", &ds), DPT_ERR_FORMAT);
    expect_msg(yp, "Y[2] = 1099511627776", "not an integer class label");
}

Test(data, npy_regression_targets, .init = tmp_setup, .fini = tmp_teardown)
{
    char xp[512], yp[512], d[256];
    struct dpt_dataset *ds = NULL;
    put_npy(tmp_path(xp, "x.npy"), 1, dict(d, "<f4", 0, "(3, 2)"), X6, sizeof X6);
    // Float Y: regression; 1-D is one output.
    const float y1[3] = {0.25f, -1.5f, 8.0f};
    put_npy(tmp_path(yp, "y.npy"), 1, dict(d, "<f4", 0, "(3,)"), y1, sizeof y1);
    cr_assert_eq(load(xp, yp, "", &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_task(ds), DPT_TASK_REGRESS);
    cr_assert_eq(dpt_dataset_n_out(ds), 1);
    cr_assert_eq(memcmp(dpt_dataset_targets(ds), y1, sizeof y1), 0);
    dpt_dataset_destroy(ds);
    // 2-D float64 Y in Fortran order: several outputs, transposed on reading.
    const double y2f[6] = {1, 2, 3, 10, 20, 30}; // column 0 then column 1
    put_npy(yp, 3, dict(d, "<f8", 1, "(3, 2)"), y2f, sizeof y2f);
    cr_assert_eq(load(xp, yp, "", &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n_out(ds), 2);
    const float want[6] = {1, 10, 2, 20, 3, 30};
    cr_assert_eq(memcmp(dpt_dataset_targets(ds), want, sizeof want), 0);
    dpt_dataset_destroy(ds);
    // Integer Y as a regression target on request.
    const int32_t yi[3] = {5, -6, 7};
    put_npy(yp, 1, dict(d, "<i4", 0, "(3,)"), yi, sizeof yi);
    cr_assert_eq(load(xp, yp, ",target=regression", &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_targets(ds)[1], -6.0f);
    dpt_dataset_destroy(ds);
    // Several outputs cannot be class labels.
    put_npy(yp, 1, dict(d, "<f8", 1, "(3, 2)"), y2f, sizeof y2f);
    cr_assert_eq(load(xp, yp, ",target=classification", &ds), DPT_ERR_FORMAT);
    expect_msg(yp, "shape (3, 2)", "argmax");
    const int32_t y2i[6] = {0, 1, 0, 1, 0, 1};
    put_npy(yp, 1, dict(d, "<i4", 0, "(3, 2)"), y2i, sizeof y2i);
    cr_assert_eq(load(xp, yp, "", &ds), DPT_ERR_FORMAT);
    expect_msg(yp, "shape (3, 2)", "one per sample");
}

// Each case: X and Y files as written, the expected status and message parts.
Test(data, npy_bad_files_name_file_and_position, .init = tmp_setup, .fini = tmp_teardown)
{
    char xp[512], yp[512], d[256];
    struct dpt_dataset *ds = NULL;
    const int64_t y3[3] = {0, 1, 0};
    tmp_path(xp, "x.npy");
    put_npy(tmp_path(yp, "y.npy"), 1, dict(d, "<i8", 0, "(3,)"), y3, sizeof y3);
    struct {
        const char *descr;
        int fortran;
        const char *shape;
        size_t bytes; // data bytes written (from a zeroed buffer)
        const char *m1, *m2;
    } cases[] = {
        // The file is shorter or longer than the shape says; sizes are checked before allocating.
        {"<f4", 0, "(3, 2)", 20, "byte offset 128: truncated",
         "24 bytes of data, but the file has 20"},
        {"<f4", 0, "(3, 2)", 28, "trailing bytes", NULL},
        {"<f4", 0, "(3000000000, 4000)", 24, "truncated", "48000000000000 bytes"},
        {"<f8", 0, "(4611686018427387904, 4)", 24, "overflows", NULL},
        {"<f4", 0, "(3,)", 12, "X has shape (3,)", "X.reshape(-1, 1)"},
        {"<f4", 0, "(3, 2, 1)", 24, "X has shape (3, 2, 1)", "2-D"},
        {"<f4", 0, "(3, 0)", 0, "X has shape (3, 0)", NULL},
        {"<f4", 0, "(0, 2)", 0, "X has shape (0, 2)", NULL},
        {"<i4", 0, "(3, 2)", 24, "X has dtype '<i4'", "astype(np.float32)"},
        {"<f2", 0, "(3, 2)", 12, "X has dtype '<f2'", NULL},
        {"<U5", 0, "(3, 2)", 120, "X has dtype '<U5'", NULL},
        {"|f4", 0, "(3, 2)", 24, "X has dtype '|f4'", NULL},
        {"<f4", 0, "(4, 2)", 32, "Y has shape (3,)", "one row per row of X"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        static const unsigned char zeros[256];
        put_npy(xp, 1, dict(d, cases[c].descr, cases[c].fortran, cases[c].shape), zeros,
                cases[c].bytes);
        ds = (struct dpt_dataset *)1;
        cr_assert_eq(load(xp, yp, "", &ds), DPT_ERR_FORMAT, "case %zu: %s", c, dpt_last_error());
        cr_assert_null(ds);
        expect_msg(cases[c].m1, cases[c].m2, "x.npy");
    }

    // Non-finite and out-of-range values name the element and its byte offset.
    float xv[6] = {1, 2, 3, NAN, 5, 6};
    put_npy(xp, 1, dict(d, "<f4", 0, "(3, 2)"), xv, sizeof xv);
    cr_assert_eq(load(xp, yp, "", &ds), DPT_ERR_FORMAT);
    expect_msg(xp, "byte offset 140: X[1, 1]", "not finite");
    const double xd[6] = {1, 2, 3, 4, 1e300, 6};
    put_npy(xp, 1, dict(d, "<f8", 1, "(3, 2)"), xd, sizeof xd);
    cr_assert_eq(load(xp, yp, "", &ds), DPT_ERR_FORMAT);
    expect_msg(xp, "byte offset 160: X[1, 1]", "beyond float range");
    // A float64 value a float would hold as 0 is refused too, as in CSV.
    const double xu[6] = {1, 2, 1e-50, 4, 5, 6};
    put_npy(xp, 1, dict(d, "<f8", 0, "(3, 2)"), xu, sizeof xu);
    cr_assert_eq(load(xp, yp, "", &ds), DPT_ERR_FORMAT);
    expect_msg(xp, "X[1, 0] = 1e-50", "would become 0");

    // Broken headers: no magic, a length beyond the file or over the limit, a future version,
    // a dict that is not one.
    write_bytes(xp, "PK\x03\x04 not npy at all", 20, 0);
    cr_assert_eq(load(xp, yp, "", &ds), DPT_ERR_FORMAT);
    expect_msg(xp, "not an NPY file", "byte 0");
    write_bytes(xp, "\x93NUMPY\x01\x00\xff\x7f{}", 12, 0);
    cr_assert_eq(load(xp, yp, "", &ds), DPT_ERR_FORMAT);
    expect_msg(xp, "header length 32767 at byte 8", "beyond the end of the file");
    write_bytes(xp, "\x93NUMPY\x02\x00\x00\x00\x00\x7f{}", 14, 0);
    cr_assert_eq(load(xp, yp, "", &ds), DPT_ERR_FORMAT);
    expect_msg(xp, "at byte 8", "over the limit");
    write_bytes(xp, "\x93NUMPY\x04\x00\x02\x00{}", 12, 0);
    cr_assert_eq(load(xp, yp, "", &ds), DPT_ERR_UNSUPPORTED);
    expect_msg(xp, "version 4.0", NULL);
    put_npy(xp, 1, "{'descr': '<f4', 'shape': (3, 2), }", X6, sizeof X6);
    cr_assert_eq(load(xp, yp, "", &ds), DPT_ERR_FORMAT);
    expect_msg(xp, "bad header (bytes 10 to 64)", "missing descr, fortran_order or shape");
    put_npy(xp, 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", X6, 12);
    cr_assert_eq(load(xp, yp, "", &ds), DPT_ERR_FORMAT);
    expect_msg(xp, "not a simple dtype string", NULL);

    // Files that are not there or not regular files.
    put_npy(xp, 1, dict(d, "<f4", 0, "(3, 2)"), X6, sizeof X6);
    char spec[1200];
    snprintf(spec, sizeof spec, "npy:%s,%s/missing.npy", xp, tmp_dir);
    cr_assert_eq(dpt_data_load(spec, 0, &ds), DPT_ERR_IO);
    expect_msg("missing.npy", "cannot open", NULL);
    snprintf(spec, sizeof spec, "npy:%s,%s", xp, tmp_dir);
    cr_assert_eq(dpt_data_load(spec, 0, &ds), DPT_ERR_IO);
    expect_msg(tmp_dir, "not a regular file", NULL);
}

// The round trip with NumPy itself: arrays of several dtypes and orders saved by np.save, read
// here, compared with NumPy's own conversion to float32 (written raw beside them). Skipped where
// python3 or NumPy is missing (Debian: python3-numpy).
Test(data, npy_files_written_by_numpy, .init = tmp_setup, .fini = tmp_teardown)
{
    const char *python = getenv("DPT_PYTHON")                    ? getenv("DPT_PYTHON")
                         : access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3"
                                                                 : "python3";
    char script[512], cmd[2048];
    write_text(script, "gen.py",
               "import sys, numpy as np\n"
               "d = sys.argv[1]\n"
               "rng = np.random.default_rng(5)\n"
               "X = rng.normal(size=(257, 7)) * 100\n"
               "np.save(d + '/xc.npy', X.astype(np.float32))\n"
               "np.save(d + '/xf.npy', np.asfortranarray(X))\n"
               "np.save(d + '/xb.npy', X.astype('>f8'))\n"
               "X.astype('<f4').tofile(d + '/x.raw')\n"
               "y = rng.integers(-3, 4, size=257)\n"
               "np.save(d + '/yi.npy', y)\n"
               "np.save(d + '/yu.npy', (y + 3).astype(np.uint16))\n"
               "T = np.asfortranarray(rng.normal(size=(257, 3)))\n"
               "np.save(d + '/t.npy', T)\n"
               "T.astype('<f4').tofile(d + '/t.raw')\n"
               "np.asarray(y, '<i4').tofile(d + '/y.raw')\n");
    snprintf(cmd, sizeof cmd,
             "command -v %s >/dev/null 2>&1 || exit 127; %s -c 'import numpy' "
             "2>/dev/null || exit 127; %s %s %s",
             python, python, python, script, tmp_dir);
    int status = system(cmd);
    cr_assert(status != -1 && WIFEXITED(status));
    if (WEXITSTATUS(status) == 127)
        cr_skip_test("%s or NumPy is not available", python);
    cr_assert_eq(WEXITSTATUS(status), 0, "%s failed", cmd);

    float x[257 * 7], t[257 * 3];
    int32_t y[257];
    char path[512];
    FILE *f = fopen(tmp_path(path, "x.raw"), "rb");
    cr_assert_eq(fread(x, sizeof *x, 257 * 7, f), 257u * 7);
    fclose(f);
    f = fopen(tmp_path(path, "t.raw"), "rb");
    cr_assert_eq(fread(t, sizeof *t, 257 * 3, f), 257u * 3);
    fclose(f);
    f = fopen(tmp_path(path, "y.raw"), "rb");
    cr_assert_eq(fread(y, sizeof *y, 257, f), 257u);
    fclose(f);

    static const char *const xs[] = {"xc.npy", "xf.npy", "xb.npy"};
    static const char *const ys[] = {"yi.npy", "yu.npy"};
    for (size_t i = 0; i < 3; i++) {
        for (size_t j = 0; j < 2; j++) {
            char xp[512], yp[512];
            struct dpt_dataset *ds = NULL;
            cr_assert_eq(load(tmp_path(xp, xs[i]), tmp_path(yp, ys[j]), "", &ds), DPT_OK,
                         "%s, %s: %s", xs[i], ys[j], dpt_last_error());
            cr_assert_eq(memcmp(dpt_dataset_x(ds), x, sizeof x), 0, "%s", xs[i]);
            const int32_t *cl;
            size_t nc;
            cr_assert_eq(dpt_dataset_class_labels(ds, &cl, &nc), DPT_OK);
            for (size_t r = 0; r < 257; r++) {
                const int32_t v = cl ? cl[dpt_dataset_labels(ds)[r]] : dpt_dataset_labels(ds)[r];
                cr_assert_eq(v, y[r] + (j == 1 ? 3 : 0), "%s row %zu", ys[j], r);
            }
            dpt_dataset_destroy(ds);
        }
    }
    char xp[512], tp[512];
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(load(tmp_path(xp, "xf.npy"), tmp_path(tp, "t.npy"), "", &ds), DPT_OK, "%s",
                 dpt_last_error());
    cr_assert_eq(dpt_dataset_n_out(ds), 3);
    cr_assert_eq(memcmp(dpt_dataset_targets(ds), t, sizeof t), 0);
    dpt_dataset_destroy(ds);
}
