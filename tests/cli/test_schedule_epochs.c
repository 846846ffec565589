// `--schedule` counts given in epochs: `dptrain train` converts t_epochs / every_epochs at its
// own number of steps per epoch (ceil(N / B), or floor(N / B) with --drop-last), so a run with
// t_epochs=E has bitwise the parameters of the run with t = round(E x steps).
#include "cli_test.h"

static void train(const char *schedule, const char *out, bool drop_last)
{
    const char *args[] = {"train",
                          "--data",
                          "synth:spirals,n=105,seed=3",
                          "--layers",
                          "2,8,2",
                          "--batch",
                          "10",
                          "--epochs",
                          "3",
                          "--threads",
                          "1",
                          "--seed",
                          "5",
                          "--quiet",
                          "--schedule",
                          schedule,
                          "--save",
                          out,
                          drop_last ? "--drop-last" : NULL,
                          NULL};
    struct cli_result r = expect_ok(cli_runv(args, NULL, NULL));
    result_free(&r);
}

// Whether two model files hold bitwise the same parameters.
static bool same_params(const char *a, const char *b)
{
    struct dpt_net *na = NULL, *nb = NULL;
    cr_assert_eq(dpt_model_load(a, &na, NULL), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_model_load(b, &nb, NULL), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_net_n_params(na), dpt_net_n_params(nb));
    bool same =
        memcmp(dpt_net_params(na), dpt_net_params(nb), dpt_net_n_params(na) * sizeof(float)) == 0;
    dpt_net_destroy(na);
    dpt_net_destroy(nb);
    return same;
}

Test(cli, schedule_counts_in_epochs, CLI_FIXTURE)
{
    // 105 samples in batches of 10: 11 steps per epoch, 10 with --drop-last.
    // 1.5 epochs: round(16.5) = 17 steps; round(15) = 15 with --drop-last.
    train("cosine(fixed:lr=0.5),t_epochs=1.5", P("e.st"), false);
    train("cosine(fixed:lr=0.5),t=17", P("s17.st"), false);
    train("cosine(fixed:lr=0.5),t=15", P("s15.st"), false);
    cr_expect(same_params(P("e.st"), P("s17.st")), "t_epochs=1.5 is not t=17 (11 steps/epoch)");
    cr_expect(!same_params(P("e.st"), P("s15.st")), "t=15 and t=17 give the same model");

    train("cosine(fixed:lr=0.5),t_epochs=1.5", P("ed.st"), true);
    train("cosine(fixed:lr=0.5),t=15", P("s15d.st"), true);
    cr_expect(same_params(P("ed.st"), P("s15d.st")),
              "with --drop-last t_epochs=1.5 is not t=15 (10 steps/epoch)");

    train("step(sgd:lr=0.5,momentum=0.5,weight_decay=1e-3),every_epochs=1,gamma=0.5", P("st.st"),
          false);
    train("step(momentum:lr=0.5,mu=0.5,wd=1e-3),every=11,gamma=0.5", P("st11.st"), false);
    cr_expect(same_params(P("st.st"), P("st11.st")), "every_epochs=1 is not every=11");

    // A bad epoch count is refused before the data is loaded, naming the key.
    expect_usage_error(
        run("train", "--data", "synth:xor", "--schedule", "cosine(adam),t_epochs=0", NULL),
        "--schedule", "t_epochs");
    expect_usage_error(
        run("train", "--data", "synth:xor", "--schedule", "cosine(adam),t=5,t_epochs=1", NULL),
        "'t' already set", NULL);
}
