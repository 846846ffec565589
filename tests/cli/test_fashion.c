// One end-to-end run on the real Fashion-MNIST files (skipped when the Debian package is not
// installed): train with the default test set, then eval and predict the saved model on t10k.
#include "cli_test.h"

Test(cli, fashion_mnist_train_eval_predict, CLI_FIXTURE)
{
    if (!file_exists(DPT_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz") &&
        !file_exists(DPT_FASHION_MNIST_DIR "/train-images-idx3-ubyte"))
        cr_skip_test("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
    // A small hidden layer and one epoch keep this to seconds; it still reaches ~80%.
    struct cli_result r =
        expect_ok(run("train", "--data", "fashion-mnist", "--layers", "784,32,10", "--epochs", "1",
                      "--threads", "2", "--log-json", P("l.jsonl"), "--save", P("m.st"), NULL));
    const char *fin = strstr(r.out, "test accuracy: ");
    cr_assert(fin, "the t10k set is the default test set: %s", r.out);
    // One epoch of Adam on a 784-32-10 network: about 0.8; 0.7 leaves room for any seed.
    cr_expect_gt(strtod(fin + 15, NULL), 0.7, "%s", r.out);
    result_free(&r);
    char *log = read_text(P("l.jsonl"));
    const double acc = num_after(strstr(log, "\"event\":\"done\""), "\"test_acc\":");
    free(log);

    r = expect_ok(run("eval", "--model", P("m.st"), "--data", "fashion-mnist", "--part", "test",
                      "--json", NULL));
    cr_expect(strstr(r.out, "\"n\":10000,"), "%s", r.out);
    cr_expect_eq(num_after(r.out, "\"accuracy\":"), acc, "eval disagrees with training");
    cr_expect(strstr(r.out, "\"classes\":[0,1,2,3,4,5,6,7,8,9]"), "%s", r.out);
    result_free(&r);

    r = expect_ok(run("predict", "--model", P("m.st"), "--data", "fashion-mnist", "--part", "test",
                      "--out", P("p.csv"), NULL));
    result_free(&r);
    char *csv = read_text(P("p.csv"));
    size_t lines = 0;
    for (const char *p = csv; (p = strchr(p, '\n')); p++)
        lines++;
    cr_expect_eq(lines, 10001u, "a header and one row per test image");
    cr_expect_eq(strncmp(csv, "class,p0,p1,p2,p3,p4,p5,p6,p7,p8,p9\n", 36), 0);
    free(csv);
}
