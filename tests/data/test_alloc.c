// Allocation failures in the data module: every allocation of the synthetic generators, the IDX
// loader (raw and gzip'd), the CSV and LIBSVM loaders (through the data SPEC parser), splitting
// and normalisation fails in turn: DPT_ERR_NOMEM with a message, nothing leaked, *out NULL.
#include <criterion/criterion.h>
#include <string.h>

#include "alloc_walk.h"
#include "data/data_impl.h"
#include "test_helpers.h"

static enum dpt_status try_spec(void *arg)
{
    struct dpt_dataset *ds = NULL;
    enum dpt_status st = dpt_data_load(arg, 0, &ds);
    if (st != DPT_OK)
        cr_assert_null(ds, "*out must be NULL on error");
    dpt_dataset_destroy(ds);
    return st;
}

Test(data, synth_survives_every_failed_allocation)
{
    const char *specs[] = {"synth:xor,n=50", "synth:spirals,n=60,classes=3", "synth:blobs,n=40"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        cr_assert_geq(alloc_walk(specs[i], try_spec, (void *)specs[i], DPT_ERR_NOMEM), 2);
}

Test(data, csv_survives_every_failed_allocation, .init = tmp_setup, .fini = tmp_teardown)
{
    char path[512], spec[600];
    // Labels 10/20/30 need a class mapping: its allocations are walked too.
    write_text(path, "d.csv", "a,b,label\n1,2,10\n3,4,30\n5,6,20\n7,8,10\n");
    snprintf(spec, sizeof spec, "csv:%s", path);
    cr_assert_geq(alloc_walk("csv", try_spec, spec, DPT_ERR_NOMEM), 3);
    snprintf(spec, sizeof spec, "csv:%s,label=first,target=regression", path);
    write_text(path, "d.csv", "0.5,1,2\n1.5,3,4\n");
    cr_assert_geq(alloc_walk("csv regression", try_spec, spec, DPT_ERR_NOMEM), 2);
}

Test(data, csv_text_labels_survive_every_failed_allocation, .init = tmp_setup, .fini = tmp_teardown)
{
    char path[512], spec[600];
    // Quoted cells, a header name, text labels (the name table grows past its first size), and
    // the warning for an unnamed first column.
    FILE *f = fopen(write_text(path, "t.csv", ""), "w");
    cr_assert_not_null(f);
    fprintf(f, ",\"x, 1\",species\n");
    for (int i = 0; i < 80; i++)
        fprintf(f, "%d,%d.5,\"kind \"\"%d\"\"\"\n", i, i, i % 40);
    cr_assert_eq(fclose(f), 0);
    snprintf(spec, sizeof spec, "csv:%s,label=species", path);
    cr_assert_geq(alloc_walk("csv text labels", try_spec, spec, DPT_ERR_NOMEM), 6);
}

static enum dpt_status try_match(void *arg)
{
    struct dpt_dataset **sets = arg, *copy = NULL;
    size_t idx[2] = {0, 1};
    enum dpt_status st = dpt_dataset_subset(sets[1], idx, 2, &copy);
    if (st == DPT_OK)
        st = dpt_dataset_match_classes(copy, sets[0]);
    dpt_dataset_destroy(copy);
    return st;
}

Test(data, class_names_survive_every_failed_allocation, .init = tmp_setup, .fini = tmp_teardown)
{
    char path[512], spec[600];
    struct dpt_dataset *sets[2] = {NULL, NULL};
    write_text(path, "a.csv", "1,2,ant\n3,4,bee\n5,6,cow\n");
    snprintf(spec, sizeof spec, "csv:%s,label=last", path);
    cr_assert_eq(dpt_data_load(spec, 0, &sets[0]), DPT_OK, "%s", dpt_last_error());
    write_text(path, "b.csv", "1,2,cow\n3,4,bee\n");
    cr_assert_eq(dpt_data_load(spec, 0, &sets[1]), DPT_OK, "%s", dpt_last_error());
    cr_assert_geq(alloc_walk("subset + match_classes by name", try_match, sets, DPT_ERR_NOMEM), 4);
    dpt_dataset_destroy(sets[0]);
    dpt_dataset_destroy(sets[1]);
}

Test(data, npy_survives_every_failed_allocation, .init = tmp_setup, .fini = tmp_teardown)
{
    char xp[512], yp[512], spec[1100];
    // NPY 1.0 files written by hand: X (3, 2) float32, y (3,) int64 labels 5, 9, 5.
    static const char xh[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
    static const char yh[] = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }";
    unsigned char buf[256];
    const float x[6] = {1, 2, 3, 4, 5, 6};
    const int64_t y[3] = {5, 9, 5};
    for (int k = 0; k < 2; k++) {
        const char *h = k ? yh : xh;
        const size_t n = strlen(h), hlen = 128 - 10;
        memcpy(buf, "\x93NUMPY\x01\x00", 8);
        buf[8] = (unsigned char)hlen;
        buf[9] = 0;
        memset(buf + 10, ' ', hlen);
        memcpy(buf + 10, h, n);
        buf[127] = '\n';
        memcpy(buf + 128, k ? (const void *)y : (const void *)x, k ? sizeof y : sizeof x);
        write_bytes(tmp_path(k ? yp : xp, k ? "y.npy" : "x.npy"), buf,
                    128 + (k ? sizeof y : sizeof x), 0);
    }
    snprintf(spec, sizeof spec, "npy:%s,%s", xp, yp);
    cr_assert_geq(alloc_walk("npy", try_spec, spec, DPT_ERR_NOMEM), 4);
}

Test(data, libsvm_survives_every_failed_allocation, .init = tmp_setup, .fini = tmp_teardown)
{
    char path[512], spec[600];
    write_text(path, "d.svm", "+1 1:0.5 3:1.5\n-1 2:2 # comment\n+1 1:-1 2:0.25 4:3\n");
    snprintf(spec, sizeof spec, "libsvm:%s", path);
    cr_assert_geq(alloc_walk("libsvm", try_spec, spec, DPT_ERR_NOMEM), 3);
}

// ---- IDX ----

static size_t put_idx_header(unsigned char *p, unsigned ndims, const uint32_t *dims)
{
    p[0] = 0;
    p[1] = 0;
    p[2] = 0x08; // u8
    p[3] = (unsigned char)ndims;
    for (unsigned d = 0; d < ndims; d++) {
        p[4 + 4 * d] = (unsigned char)(dims[d] >> 24);
        p[5 + 4 * d] = (unsigned char)(dims[d] >> 16);
        p[6 + 4 * d] = (unsigned char)(dims[d] >> 8);
        p[7 + 4 * d] = (unsigned char)dims[d];
    }
    return 4 + 4 * (size_t)ndims;
}

struct idx_paths {
    char images[512], labels[512];
};

static enum dpt_status try_idx(void *arg)
{
    struct idx_paths *p = arg;
    struct dpt_dataset *ds = NULL;
    enum dpt_status st = dpt_load_idx(p->images, p->labels, &ds);
    if (st != DPT_OK)
        cr_assert_null(ds, "*out must be NULL on error");
    dpt_dataset_destroy(ds);
    return st;
}

Test(data, idx_survives_every_failed_allocation, .init = tmp_setup, .fini = tmp_teardown)
{
    unsigned char img[64], lab[64];
    const uint32_t idims[3] = {3, 2, 2}, ldims[1] = {3};
    size_t ni = put_idx_header(img, 3, idims), nl = put_idx_header(lab, 1, ldims);
    for (size_t i = 0; i < 12; i++)
        img[ni + i] = (unsigned char)(20 * i);
    lab[nl] = 0;
    lab[nl + 1] = 2;
    lab[nl + 2] = 1;
    for (int gz = 0; gz <= 1; gz++) {
        struct idx_paths p;
        tmp_path(p.images, gz ? "img.gz" : "img");
        tmp_path(p.labels, gz ? "lab.gz" : "lab");
        write_bytes(p.images, img, ni + 12, gz);
        write_bytes(p.labels, lab, nl + 3, gz);
        cr_assert_geq(alloc_walk(gz ? "idx gz" : "idx", try_idx, &p, DPT_ERR_NOMEM), 3);
    }
}

// ---- transformations ----

static enum dpt_status try_split(void *arg)
{
    struct dpt_dataset *train = NULL, *val = NULL;
    enum dpt_status st = dpt_dataset_split(arg, 0.25, 7, &train, &val);
    if (st != DPT_OK) {
        cr_assert_null(train);
        cr_assert_null(val);
    }
    dpt_dataset_destroy(train);
    dpt_dataset_destroy(val);
    return st;
}

static enum dpt_status try_norm(void *arg)
{
    struct dpt_norm_stats ns;
    memset(&ns, 0, sizeof ns);
    enum dpt_status st = dpt_norm_fit(arg, DPT_NORM_STANDARD, &ns);
    dpt_norm_cleanup(&ns);
    return st;
}

Test(data, split_and_norm_survive_every_failed_allocation, .init = tmp_setup, .fini = tmp_teardown)
{
    char path[512];
    struct dpt_dataset *ds = NULL;
    // Mapped labels (5, 7): the split copies the class mapping as well.
    write_text(path, "d.csv", "1,2,5\n3,4,7\n5,6,5\n7,8,7\n9,10,5\n");
    struct dpt_text_options opt = {.task = DPT_TASK_CLASSIFY, .label_col = DPT_CSV_LABEL_LAST};
    cr_assert_eq(dpt_data_load_csv(path, &opt, &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_geq(alloc_walk("dpt_dataset_split", try_split, ds, DPT_ERR_NOMEM), 2);
    cr_assert_geq(alloc_walk("dpt_norm_fit", try_norm, ds, DPT_ERR_NOMEM), 1);
    dpt_dataset_destroy(ds);
}
