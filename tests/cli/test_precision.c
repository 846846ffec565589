// --precision through the commands: bad values and a CPU (or forced kernel level) without bf16
// are refused with one line and exit 2 before anything is loaded; a bf16 run says so in its
// header and JSON config, its checkpoint records the precision, a resume continues it bitwise
// and refuses another precision; `bench --precision fp32,bf16` checks its list.
#include "cli_test.h"

#include "core/gemm_bf16.h"

#define RUN_FLAGS                                                                                  \
    "--data", "synth:spirals,n=2000,seed=2", "--layers", "2,48,48,2", "--batch", "16",             \
        "--schedule", "adam:lr=0.01", "--threads", "2", "--seed", "5"

static float *params_of(const char *path, size_t *n)
{
    struct dpt_net *net = NULL;
    cr_assert_eq(dpt_model_load(path, &net, NULL), DPT_OK, "%s: %s", path, dpt_last_error());
    *n = dpt_net_n_params(net);
    float *p = malloc(*n * sizeof(float));
    memcpy(p, dpt_net_params(net), *n * sizeof(float));
    dpt_net_destroy(net);
    return p;
}

Test(cli, precision_values_are_checked, CLI_FIXTURE)
{
    expect_usage_error(run("train", RUN_FLAGS, "--precision", "fp16", NULL), "--precision",
                       "'fp16'");
    expect_usage_error(run("bench", "--precision", "fp32,fp32", NULL), "--precision", "fp32 twice");
    expect_usage_error(run("bench", "--precision", "bf8", NULL), "--precision", "'bf8'");
}

// Where bf16 cannot run: on this CPU if it lacks AVX512_BF16, else with a lower kernel level
// forced by DPT_ISA. One line naming the flag and why; no data loaded (a missing file is not
// what is reported); no model written.
Test(cli, precision_bf16_is_refused_where_it_cannot_run, CLI_FIXTURE)
{
    if (dpt_bf16_supported())
        setenv("DPT_ISA", "avx2", 1);
    expect_usage_error(run("train", "--data", SPEC("csv:", "missing.csv", ""), "--precision",
                           "bf16", "--save", P("m.st"), NULL),
                       "--precision bf16: bf16 needs", NULL);
    cr_assert(!file_exists(P("m.st")));
    expect_usage_error(run("bench", "--precision", "fp32,bf16", NULL), "--precision bf16",
                       "bf16 needs");
    unsetenv("DPT_ISA");
}

Test(cli, precision_bf16_trains_checkpoints_and_resumes, CLI_FIXTURE)
{
    if (!dpt_bf16_supported())
        cr_skip_test("no bf16 products here: %s", dpt_precision_check(DPT_PRECISION_BF16));
    struct cli_result r = expect_ok(run("train", RUN_FLAGS, "--precision", "bf16", "--epochs", "3",
                                        "--log-json", P("log"), "--save", P("ref.st"), NULL));
    cr_assert(strstr(r.out, "2 threads (pthreads, ") && strstr(r.out, ", bf16 products)"), "%s",
              r.out);
    result_free(&r);
    char *log = read_text(P("log"));
    cr_assert(log && strstr(log, "\"precision\":\"bf16\""), "%s", log ? log : "(null)");
    free(log);
    // An fp32 run says nothing about precision in its header, and fp32 in its config.
    r = expect_ok(run("train", RUN_FLAGS, "--epochs", "1", "--log-json", P("log32"), NULL));
    cr_assert(!strstr(r.out, "bf16"), "%s", r.out);
    result_free(&r);
    log = read_text(P("log32"));
    cr_assert(log && strstr(log, "\"precision\":\"fp32\""), "%s", log ? log : "(null)");
    free(log);

    // Stopped after 1 epoch and resumed: the precision comes from the checkpoint, and the result
    // is bitwise the uninterrupted run's.
    r = expect_ok(run("train", RUN_FLAGS, "--precision", "bf16", "--epochs", "1", "--checkpoint",
                      P("ck.st"), "--quiet", NULL));
    result_free(&r);
    expect_usage_error(run("train", "--resume", P("ck.st"), "--precision", "fp32", NULL),
                       "--precision fp32", "bf16");
    r = expect_ok(
        run("train", "--resume", P("ck.st"), "--epochs", "3", "--save", P("res.st"), NULL));
    cr_assert(strstr(r.out, "bf16 products"), "%s", r.out);
    result_free(&r);
    size_t na, nb;
    float *a = params_of(P("ref.st"), &na), *b = params_of(P("res.st"), &nb);
    cr_assert_eq(na, nb);
    cr_assert_eq(memcmp(a, b, na * sizeof(float)), 0, "the resumed bf16 run differs");
    free(a);
    free(b);
    // A checkpoint of an fp32 run (no --precision given) refuses bf16 on resume.
    r = expect_ok(
        run("train", RUN_FLAGS, "--epochs", "1", "--checkpoint", P("ck32.st"), "--quiet", NULL));
    result_free(&r);
    expect_usage_error(run("train", "--resume", P("ck32.st"), "--precision", "bf16", NULL),
                       "--precision bf16", "fp32");
    r = expect_ok(run("train", "--resume", P("ck32.st"), "--precision", "fp32", "--epochs", "2",
                      "--quiet", NULL));
    result_free(&r);
}
