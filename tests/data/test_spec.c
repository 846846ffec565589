// The data SPEC grammar (dpt_data_load): every kind, options, defaults and errors.
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "dptrain/dptrain.h"
#include "test_helpers.h"

Test(data, spec_synth_defaults_and_options)
{
    struct dpt_dataset *ds = NULL, *ref = NULL;
    cr_assert_eq(dpt_data_load("synth:spirals", 0, &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n(ds), 1000);
    cr_assert_eq(dpt_dataset_n_out(ds), 2);
    // The defaults are n = 1000, seed 1.
    cr_assert_eq(dpt_synth("spirals", 1000, 2, 1, &ref), DPT_OK);
    cr_assert_eq(memcmp(dpt_dataset_x(ds), dpt_dataset_x(ref), 2000 * sizeof(float)), 0);
    dpt_dataset_destroy(ds);
    dpt_dataset_destroy(ref);

    cr_assert_eq(dpt_data_load("synth:blobs", 0, &ds), DPT_OK);
    cr_assert_eq(dpt_dataset_n_out(ds), 3);
    dpt_dataset_destroy(ds);

    cr_assert_eq(dpt_data_load("synth:blobs,n=50,classes=5,seed=77", 0, &ds), DPT_OK);
    cr_assert_eq(dpt_synth("blobs", 50, 5, 77, &ref), DPT_OK);
    cr_assert_eq(dpt_dataset_n(ds), 50);
    cr_assert_eq(dpt_dataset_n_out(ds), 5);
    cr_assert_eq(memcmp(dpt_dataset_x(ds), dpt_dataset_x(ref), 100 * sizeof(float)), 0);
    dpt_dataset_destroy(ds);

    // test != 0 draws a different sample of the same distribution.
    cr_assert_eq(dpt_data_load("synth:blobs,n=50,classes=5,seed=77", 1, &ds), DPT_OK);
    cr_assert_eq(dpt_dataset_n(ds), 50);
    cr_assert_neq(memcmp(dpt_dataset_x(ds), dpt_dataset_x(ref), 100 * sizeof(float)), 0);
    dpt_dataset_destroy(ds);
    dpt_dataset_destroy(ref);
}

Test(data, spec_errors_name_the_problem)
{
    struct {
        const char *spec;
        const char *what;
    } cases[] = {
        {"", "empty data spec"},
        {"mnist", "unknown kind 'mnist'"},
        {"synth", "synth:NAME"},
        {"synth:", "missing generator name"},
        {"synth:moons", "unknown generator 'moons'"},
        {"synth:xor,n=0", "n must be at least 1"},
        {"synth:xor,n=-5", "n=-5"},
        {"synth:xor,n=12x", "n=12x"},
        {"synth:spirals,classes=1", "classes must be at least 2"},
        {"synth:spirals,classes=0", "classes must be at least 2"},
        {"synth:xor,classes=3", "xor"},
        {"synth:xor,noise=0.1", "unknown synth option 'noise'"},
        {"synth:xor,n", "option 'n' is not KEY=VALUE"},
        {"synth:xor,seed=99999999999999999999999", "seed="},
        {"csv", "csv:PATH"},
        {"csv:", "missing path"},
        {"csv:a.csv,label=0", "label=0"},
        {"csv:a.csv,label=12x", "label=12x"},
        {"csv:a.csv,label=", "label= is empty"},
        {"csv:a.csv,label=\"x", "not closed"},
        {"csv:a.csv,label=\"x\"y", "after the closing quote"},
        {"csv:a.csv,delim=ab", "delim=ab"},
        {"csv:a.csv,sep=1", "sep=1"},
        {"npy", "npy:X.npy,Y.npy"},
        {"npy:x.npy", "npy:X.npy,Y.npy"},
        {"npy:,y.npy", "npy:X.npy,Y.npy"},
        {"npy:x.npy,", "npy:X.npy,Y.npy"},
        {"npy:x.npy,y.npy,z.npy", "not KEY=VALUE"},
        {"npy:x.npy,y.npy,label=last", "unknown npy option 'label'"},
        {"npy:x.npy,y.npy,target=ordinal", "target=ordinal"},
        {"csv:a.csv,target=ordinal", "target=ordinal"},
        {"csv:a.csv,features=3", "unknown csv option 'features'"},
        {"libsvm:a.svm,label=last", "unknown libsvm option 'label'"},
        {"libsvm:a.svm,features=0", "features=0"},
        {"idx:only-one", "idx:IMAGES,LABELS"},
        {"idx:a,b,c", "idx:IMAGES,LABELS"},
        {"idx:,b", "idx:IMAGES,LABELS"},
        {"fashion-mnist:", "empty directory"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct dpt_dataset *ds = (struct dpt_dataset *)1;
        cr_assert_eq(dpt_data_load(cases[c].spec, 0, &ds), DPT_ERR_INVALID, "spec '%s': %s",
                     cases[c].spec, dpt_last_error());
        cr_assert_null(ds);
        expect_msg(cases[c].what, NULL, NULL);
    }
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_data_load(NULL, 0, &ds), DPT_ERR_INVALID);
    cr_assert_eq(dpt_data_load("synth:xor", 0, NULL), DPT_ERR_INVALID);
}

Test(data, spec_idx_and_missing_dirs, .init = tmp_setup, .fini = tmp_teardown)
{
    // A 2-record IDX pair through the spec.
    const unsigned char img[4 + 8 + 6] = {0, 0, 0x08, 2, 0,  0,   0, 2, 0,
                                          0, 0, 3,    0, 51, 255, 0, 0, 0};
    const unsigned char lab[4 + 4 + 2] = {0, 0, 0x08, 1, 0, 0, 0, 2, 1, 0};
    char ip[512], lp[512], spec[1100];
    write_bytes(tmp_path(ip, "img.gz"), img, sizeof img, 1);
    write_bytes(tmp_path(lp, "lab"), lab, sizeof lab, 0);
    snprintf(spec, sizeof spec, "idx:%s,%s", ip, lp);
    struct dpt_dataset *ds = NULL;
    cr_assert_eq(dpt_data_load(spec, 0, &ds), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_dataset_n(ds), 2);
    cr_assert_eq(dpt_dataset_n_in(ds), 3);
    cr_assert_eq(dpt_dataset_x(ds)[1], 0.2f);
    cr_assert_eq(dpt_dataset_labels(ds)[0], 1);
    dpt_dataset_destroy(ds);

    snprintf(spec, sizeof spec, "fashion-mnist:%s/nowhere", tmp_dir);
    cr_assert_eq(dpt_data_load(spec, 1, &ds), DPT_ERR_IO);
    expect_msg("nowhere/t10k-images-idx3-ubyte.gz", "cannot open", NULL);
}
