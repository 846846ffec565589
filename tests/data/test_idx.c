// The IDX loader: every element type, gzip'd and raw, and every kind of damaged file; the
// Fashion-MNIST loader on the installed data set (skipped when it is missing).
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "dptrain/dptrain.h"
#include "test_helpers.h"

enum { U8 = 0x08, I8 = 0x09, I16 = 0x0B, I32 = 0x0C, F32 = 0x0D, F64 = 0x0E };

static size_t esize(int type)
{
    return type == U8 || type == I8 ? 1 : type == I16 ? 2 : type == F64 ? 8 : 4;
}

static void put_be(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

// Encodes an IDX file: header (type, dims) then `count` values of `type`, big-endian. Returns
// the number of bytes written to out.
static size_t idx_encode(unsigned char *out, int type, unsigned ndims, const uint32_t *dims,
                         const double *vals, size_t count)
{
    out[0] = 0;
    out[1] = 0;
    out[2] = (unsigned char)type;
    out[3] = (unsigned char)ndims;
    size_t off = 4;
    for (unsigned d = 0; d < ndims; d++, off += 4)
        put_be(out + off, dims[d], 4);
    for (size_t i = 0; i < count; i++) {
        uint64_t bits = 0;
        if (type == U8)
            bits = (uint8_t)vals[i];
        else if (type == I8)
            bits = (uint8_t)(int8_t)vals[i];
        else if (type == I16)
            bits = (uint16_t)(int16_t)vals[i];
        else if (type == I32)
            bits = (uint32_t)(int32_t)vals[i];
        else if (type == F32) {
            float f = (float)vals[i];
            uint32_t b;
            memcpy(&b, &f, 4);
            bits = b;
        } else {
            memcpy(&bits, &vals[i], 8);
        }
        put_be(out + off, bits, esize(type));
        off += esize(type);
    }
    return off;
}

// Writes an IDX file to the temp dir; returns its path in buf.
static const char *write_idx(char *buf, const char *name, int gz, int type, unsigned ndims,
                             const uint32_t *dims, const double *vals, size_t count)
{
    static unsigned char img[1 << 16];
    size_t len = idx_encode(img, type, ndims, dims, vals, count);
    tmp_path(buf, name);
    write_bytes(buf, img, len, gz);
    return buf;
}

// Three labels 0, 2, 1 as u8.
static const char *write_labels3(char *buf, int gz)
{
    const uint32_t dims[1] = {3};
    const double v[3] = {0, 2, 1};
    return write_idx(buf, gz ? "labels.gz" : "labels", gz, U8, 1, dims, v, 3);
}

Test(data, idx_u8_raw_and_gz, .init = tmp_setup, .fini = tmp_teardown)
{
    const uint32_t dims[3] = {3, 2, 2};
    const double v[12] = {0, 255, 51, 102, 1, 2, 3, 4, 250, 251, 252, 253};
    for (int gz = 0; gz <= 1; gz++) {
        char ip[512], lp[512];
        write_idx(ip, gz ? "img.gz" : "img", gz, U8, 3, dims, v, 12);
        write_labels3(lp, gz);
        struct dpt_dataset *ds = NULL;
        cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_OK, "%s", dpt_last_error());
        cr_assert_eq(dpt_dataset_n(ds), 3);
        cr_assert_eq(dpt_dataset_n_in(ds), 4);
        cr_assert_eq(dpt_dataset_n_out(ds), 3); // max label 2 + 1
        for (size_t i = 0; i < 12; i++)
            cr_assert_eq(dpt_dataset_x(ds)[i], (float)v[i] / 255.0f, "element %zu", i);
        cr_assert_eq(dpt_dataset_labels(ds)[1], 2);
        const int32_t *cl;
        size_t nc;
        cr_assert_eq(dpt_dataset_class_labels(ds, &cl, &nc), DPT_OK);
        cr_assert_null(cl); // IDX labels are the classes
        dpt_dataset_destroy(ds);
    }
}

Test(data, idx_every_element_type, .init = tmp_setup, .fini = tmp_teardown)
{
    // Per type: 2 records of 2 values, and the floats they must become. Integer types map their
    // full range onto [0, 1]: (v - min) / (max - min).
    struct {
        int type;
        double in[4];
        double want[4];
    } cases[] = {
        {I8, {-128, 127, 0, -1}, {0.0, 1.0, 128.0 / 255, 127.0 / 255}},
        {I16, {-32768, 32767, 0, 100}, {0.0, 1.0, 32768.0 / 65535, 32868.0 / 65535}},
        {I32,
         {-2147483648.0, 2147483647.0, 0, -5},
         {0.0, 1.0, 2147483648.0 / 4294967295.0, 2147483643.0 / 4294967295.0}},
        {F32, {-1.5, 0.25, 1e6, -3e-3}, {-1.5, 0.25, 1e6, -3e-3}},
        {F64, {-1.5, 0.25, 1e30, 7.0}, {-1.5, 0.25, 1e30, 7.0}},
    };
    const uint32_t dims[2] = {2, 2};
    const uint32_t ldims[1] = {2};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int gz = 0; gz <= 1; gz++) {
            char ip[512], lp[512];
            write_idx(ip, "img", gz, cases[c].type, 2, dims, cases[c].in, 4);
            // The labels use the same element type (labels 1 and 0).
            const double lv[2] = {1, 0};
            write_idx(lp, "lab", gz, cases[c].type, 1, ldims, lv, 2);
            struct dpt_dataset *ds = NULL;
            cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_OK, "type 0x%02X: %s", cases[c].type,
                         dpt_last_error());
            cr_assert_eq(dpt_dataset_n(ds), 2);
            cr_assert_eq(dpt_dataset_n_in(ds), 2);
            cr_assert_eq(dpt_dataset_n_out(ds), 2);
            for (size_t i = 0; i < 4; i++) {
                float got = dpt_dataset_x(ds)[i];
                // One float rounding of the exact value: relative 1e-6 (float epsilon 6e-8).
                cr_assert(fabs(got - cases[c].want[i]) <= 1e-6 * fmax(1.0, fabs(cases[c].want[i])),
                          "type 0x%02X gz %d element %zu: %.9g, want %.9g", cases[c].type, gz, i,
                          got, cases[c].want[i]);
            }
            cr_assert_eq(dpt_dataset_labels(ds)[0], 1);
            cr_assert_eq(dpt_dataset_labels(ds)[1], 0);
            dpt_dataset_destroy(ds);
        }
    }
}

Test(data, idx_one_dimensional_images, .init = tmp_setup, .fini = tmp_teardown)
{
    // A 1-D "image" file: one feature per record.
    const uint32_t dims[1] = {3};
    const double v[3] = {0, 255, 51};
    char ip[512], lp[512];
    write_idx(ip, "img", 0, U8, 1, dims, v, 3);
    write_labels3(lp, 0);
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n_in(ds), 1);
    cr_assert_eq(dpt_dataset_x(ds)[2], 0.2f);
    dpt_dataset_destroy(ds);
}

Test(data, idx_truncated_raw_and_gz, .init = tmp_setup, .fini = tmp_teardown)
{
    // The header promises 3 records of 4 bytes; only 2.5 records follow.
    const uint32_t dims[3] = {3, 2, 2};
    const double v[10] = {0};
    for (int gz = 0; gz <= 1; gz++) {
        char ip[512], lp[512];
        write_idx(ip, "short-img", gz, U8, 3, dims, v, 10);
        write_labels3(lp, 0);
        struct dpt_dataset *ds = (struct dpt_dataset *)1;
        cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT, "gz %d", gz);
        cr_assert_null(ds);
        // Data start at byte 16; 10 bytes follow, so the data end at offset 26 in record 2.
        expect_msg(ip, "byte offset 26", "record 2 of 3");
    }
}

Test(data, idx_truncated_labels, .init = tmp_setup, .fini = tmp_teardown)
{
    const uint32_t dims[3] = {3, 1, 1};
    const double v[3] = {1, 2, 3};
    const uint32_t ldims[1] = {3};
    const double lv[2] = {1, 0};
    char ip[512], lp[512];
    write_idx(ip, "img", 1, U8, 3, dims, v, 3);
    write_idx(lp, "lab", 1, U8, 1, ldims, lv, 2);
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(lp, "byte offset 10", "record 2 of 3");
}

Test(data, idx_cut_gzip_stream, .init = tmp_setup, .fini = tmp_teardown)
{
    // A gzip file cut in the middle of its compressed stream (e.g. an interrupted download).
    static double v[4000];
    for (size_t i = 0; i < 4000; i++)
        v[i] = (double)((i * 7919) % 251);
    const uint32_t dims[2] = {1000, 4};
    char ip[512], lp[512];
    write_idx(ip, "img.gz", 1, U8, 2, dims, v, 4000);
    FILE *f = fopen(ip, "rb");
    static unsigned char gzbuf[1 << 16];
    size_t len = fread(gzbuf, 1, sizeof gzbuf, f);
    fclose(f);
    write_bytes(ip, gzbuf, len / 2, 0);
    const uint32_t ldims[1] = {1000};
    static double lv[1000];
    write_idx(lp, "lab", 0, U8, 1, ldims, lv, 1000);
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(ip, "byte offset", NULL);
}

// A gzip'd IDX file whose stream is complete but whose 8-byte trailer is missing (zlib reports
// that only as Z_BUF_ERROR at the end), and one with bytes after its gzip member (which zlib skips
// silently): both were accepted, so a damaged payload trained (issue 14, class 4). `gzip -t`
// says "unexpected end of file" and "trailing garbage ignored".
Test(data, idx_gzip_trailer_cut_or_followed_by_garbage, .init = tmp_setup, .fini = tmp_teardown)
{
    static double v[400];
    for (size_t i = 0; i < 400; i++)
        v[i] = (double)(i % 251);
    const uint32_t dims[2] = {100, 4}, ldims[1] = {100};
    static double lv[100];
    char ip[512], lp[512];
    write_idx(lp, "lab", 0, U8, 1, ldims, lv, 100);
    write_idx(ip, "img.gz", 1, U8, 2, dims, v, 400);
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_OK, "%s", dpt_last_error());
    dpt_dataset_destroy(ds);
    ds = NULL;
    FILE *f = fopen(ip, "rb");
    static unsigned char gzbuf[1 << 14];
    size_t len = fread(gzbuf, 1, sizeof gzbuf, f);
    fclose(f);
    cr_assert(len > 8 && len < sizeof gzbuf - 8);
    write_bytes(ip, gzbuf, len - 8, 0); // the trailer cut off
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(ip, "gzip stream ends early", "truncated");
    write_bytes(ip, gzbuf, len - 3, 0); // part of the trailer
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    memcpy(gzbuf + len, "garbage!", 8); // bytes after the member
    write_bytes(ip, gzbuf, len + 8, 0);
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(ip, "after the end of the gzip stream", NULL);
    cr_assert_null(ds);
}

Test(data, idx_bad_magic_and_type, .init = tmp_setup, .fini = tmp_teardown)
{
    char ip[512], lp[512];
    write_labels3(lp, 0);
    write_text(ip, "text.idx", "hello, this is not an IDX file\n");
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(ip, "byte offset 0", "not an IDX file");

    const unsigned char bad_type[8] = {0, 0, 0x0A, 1, 0, 0, 0, 3};
    write_bytes(tmp_path(ip, "badtype"), bad_type, 8, 0);
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(ip, "byte offset 2", "0x0A");

    const unsigned char no_dims[4] = {0, 0, 0x08, 0};
    write_bytes(tmp_path(ip, "nodims"), no_dims, 4, 0);
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(ip, "0 dimensions", NULL);

    const unsigned char short_head[6] = {0, 0, 0x08, 3, 0, 0};
    write_bytes(tmp_path(ip, "shorthead"), short_head, 6, 1);
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(ip, "inside the IDX header", NULL);

    const unsigned char zero_dim[16] = {0, 0, 0x08, 3, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 2};
    write_bytes(tmp_path(ip, "zerodim"), zero_dim, 16, 0);
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(ip, "dimension 1 is 0", NULL);

    write_bytes(tmp_path(ip, "empty"), "", 0, 0);
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(ip, "IDX header", NULL);
}

Test(data, idx_absurd_dims_refused_before_allocating, .init = tmp_setup, .fini = tmp_teardown)
{
    char ip[512], lp[512];
    write_labels3(lp, 0);
    struct dpt_dataset *ds = NULL;
    // 4 dimensions of 2^32 - 1: the element count overflows size_t.
    unsigned char huge[20] = {0, 0, 0x08, 4};
    memset(huge + 4, 0xFF, 16);
    write_bytes(tmp_path(ip, "overflow"), huge, 20, 0);
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_RANGE);
    expect_msg(ip, "overflow", NULL);
    // 2^31 records of 1024 bytes: 2 TiB, over DPT_DATA_MAX_BYTES.
    unsigned char big[16] = {0, 0, 0x08, 2, 0x80, 0, 0, 0, 0, 0, 0x04, 0};
    write_bytes(tmp_path(ip, "big"), big, 12, 0);
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_RANGE);
    expect_msg(ip, "limit", NULL);
    // 10^6 records of 10^5 bytes (100 GB) in a 12-byte file, raw and gzip'd: refused as
    // truncated from the file size alone.
    unsigned char claim[12] = {0, 0, 0x08, 2};
    put_be(claim + 4, 1000000, 4);
    put_be(claim + 8, 100000, 4);
    write_bytes(tmp_path(ip, "claim"), claim, 12, 0);
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(ip, "truncated", "record 0 of 1000000");
    write_bytes(tmp_path(ip, "claim.gz"), claim, 12, 1);
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(ip, "gzip", NULL);
    cr_assert_null(ds);
}

Test(data, idx_count_mismatch_and_label_shape, .init = tmp_setup, .fini = tmp_teardown)
{
    const uint32_t dims[2] = {4, 1};
    const double v[4] = {1, 2, 3, 4};
    char ip[512], lp[512];
    write_idx(ip, "img4", 0, U8, 2, dims, v, 4);
    write_labels3(lp, 1);
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(ip, lp, "4 records");
    // An image file given as labels.
    cr_assert_eq(dpt_load_idx(ip, ip, &ds), DPT_ERR_FORMAT);
    expect_msg(ip, "1 dimension", NULL);
    cr_assert_null(ds);
}

Test(data, idx_bad_labels, .init = tmp_setup, .fini = tmp_teardown)
{
    const uint32_t dims[2] = {3, 1};
    const double v[3] = {1, 2, 3};
    const uint32_t ldims[1] = {3};
    char ip[512], lp[512];
    write_idx(ip, "img", 0, U8, 2, dims, v, 3);
    struct dpt_dataset *ds = NULL;
    const double neg[3] = {0, -1, 2};
    write_idx(lp, "neg", 0, I8, 1, ldims, neg, 3);
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(lp, "record 1", "negative");
    const double frac[3] = {0, 1, 1.5};
    write_idx(lp, "frac", 0, F32, 1, ldims, frac, 3);
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(lp, "record 2", "not an integer");
    // Integral float labels are fine; a single class still gives 2 outputs.
    const double ones[3] = {1, 1, 1};
    write_idx(lp, "f64", 0, F64, 1, ldims, ones, 3);
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n_out(ds), 2);
    dpt_dataset_destroy(ds);
    const double zeros[3] = {0, 0, 0};
    write_idx(lp, "zeros", 0, U8, 1, ldims, zeros, 3);
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_OK);
    cr_assert_eq(dpt_dataset_n_out(ds), 2);
    dpt_dataset_destroy(ds);
}

Test(data, idx_nonfinite_float_and_trailing_data, .init = tmp_setup, .fini = tmp_teardown)
{
    const uint32_t dims[2] = {3, 2};
    const double v[6] = {1, 2, 3, NAN, 5, 6};
    char ip[512], lp[512];
    write_labels3(lp, 0);
    write_idx(ip, "nan", 1, F32, 2, dims, v, 6);
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(ip, "record 1, element 1", "finite");
    const double inf[6] = {1, 2, 3, 4, 5, INFINITY};
    write_idx(ip, "inf", 0, F64, 2, dims, inf, 6);
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(ip, "record 2, element 1", NULL);
    // A float64 that a float would hold as 0 (issue 14, class 12).
    const double tiny[6] = {1, 2, 1e-50, 4, 5, 6};
    write_idx(ip, "tiny", 0, F64, 2, dims, tiny, 6);
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(ip, "record 1, element 0", "would be 0");

    // 7 values where the header declares 6: the header is wrong.
    const double seven[7] = {1, 2, 3, 4, 5, 6, 7};
    write_idx(ip, "long", 0, U8, 2, dims, seven, 7);
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_FORMAT);
    expect_msg(ip, "byte offset 18", "continues");
}

Test(data, idx_missing_files, .init = tmp_setup, .fini = tmp_teardown)
{
    char ip[512], lp[512];
    write_labels3(lp, 0);
    tmp_path(ip, "no-such-file");
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_load_idx(ip, lp, &ds), DPT_ERR_IO);
    expect_msg(ip, "cannot open", NULL);
    cr_assert_eq(dpt_load_idx(tmp_dir, lp, &ds), DPT_ERR_IO);
    expect_msg(tmp_dir, "directory", NULL);
    cr_assert_eq(dpt_load_fashion_mnist(ip, 0, &ds), DPT_ERR_IO);
    expect_msg("train-images-idx3-ubyte.gz", NULL, NULL);
}

Test(data, fashion_mnist_style_dir_raw_files, .init = tmp_setup, .fini = tmp_teardown)
{
    // The four standard names, uncompressed: the loader falls back from NAME.gz to NAME.
    const uint32_t dims[3] = {2, 2, 2};
    const double v[8] = {0, 255, 0, 255, 255, 0, 255, 0};
    const uint32_t ldims[1] = {2};
    const double lv[2] = {9, 3};
    char p[512];
    write_idx(p, "t10k-images-idx3-ubyte", 0, U8, 3, dims, v, 8);
    write_idx(p, "t10k-labels-idx1-ubyte", 0, U8, 1, ldims, lv, 2);
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_load_fashion_mnist(tmp_dir, 1, &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n(ds), 2);
    cr_assert_eq(dpt_dataset_n_out(ds), 10);
    cr_assert_eq(dpt_dataset_x(ds)[1], 1.0f);
    dpt_dataset_destroy(ds);
    // The training part is absent.
    cr_assert_eq(dpt_load_fashion_mnist(tmp_dir, 0, &ds), DPT_ERR_IO);
    expect_msg(tmp_dir, "train-images-idx3-ubyte.gz", NULL);
}

// Checks one part of the real data set.
static void check_fashion(struct dpt_dataset *ds, size_t n)
{
    cr_assert_eq(dpt_dataset_n(ds), n);
    cr_assert_eq(dpt_dataset_n_in(ds), 784);
    cr_assert_eq(dpt_dataset_n_out(ds), 10);
    size_t count[10] = {0};
    for (size_t i = 0; i < n; i++) {
        int32_t y = dpt_dataset_labels(ds)[i];
        cr_assert(y >= 0 && y < 10, "label %d", y);
        count[y]++;
    }
    // Fashion-MNIST is balanced: 6000 (train) or 1000 (test) images per class.
    for (size_t c = 0; c < 10; c++)
        cr_assert_eq(count[c], n / 10, "class %zu: %zu", c, count[c]);
    float lo = 1.0f, hi = 0.0f;
    const float *x = dpt_dataset_x(ds);
    for (size_t i = 0; i < n * 784; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    cr_assert_eq(lo, 0.0f);
    cr_assert_eq(hi, 1.0f);
}

Test(data, fashion_mnist_real_files)
{
    struct stat sb;
    if (stat(DPT_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz", &sb) != 0)
        cr_skip_test("Fashion-MNIST not installed in %s", DPT_FASHION_MNIST_DIR);
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_load_fashion_mnist(NULL, 0, &ds), DPT_OK, "%s", dpt_last_error());
    check_fashion(ds, 60000);
    dpt_dataset_destroy(ds);
    cr_assert_eq(dpt_data_load("fashion-mnist:" DPT_FASHION_MNIST_DIR, 1, &ds), DPT_OK, "%s",
                 dpt_last_error());
    check_fashion(ds, 10000);
    dpt_dataset_destroy(ds);
}
