// A short 2-thread training through the public API, run under valgrind memcheck by the ctest test
// valgrind_train (tests/valgrind/run.sh): synthetic data, a small MLP, both engines, evaluation,
// and a model file saved and loaded back, so that every module's allocations and frees are
// exercised once. Exits 0 on success; valgrind turns any memory error or leak into a failure.
// The model file goes to a fresh directory under /tmp, removed at exit.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dptrain/dptrain.h"

#define CHECK(call)                                                                                \
    do {                                                                                           \
        enum dpt_status st_ = (call);                                                              \
        if (st_ != DPT_OK) {                                                                       \
            fprintf(stderr, "train_small: %s: %s: %s\n", #call, dpt_status_str(st_),               \
                    dpt_last_error());                                                             \
            goto cleanup;                                                                          \
        }                                                                                          \
    } while (0)

int main(void)
{
    int rc = 1;
    char dir[] = "/tmp/dpt-valgrind-XXXXXX", path[64];
    struct dpt_dataset *train = NULL, *val = NULL;
    struct dpt_net *net = NULL, *back = NULL;
    struct dpt_schedule *sched = NULL;
    struct dpt_trainer *tr = NULL;
    struct dpt_model_info info;
    dpt_model_info_init(&info);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);

    CHECK(dpt_data_load("synth:xor,n=200", 0, &train));
    CHECK(dpt_data_load("synth:xor,n=50", 1, &val));
    struct dpt_net_spec spec = dpt_net_spec_default();
    spec.n_layers = 2;
    spec.sizes[0] = 2;
    spec.sizes[1] = 16;
    spec.sizes[2] = 2;
    spec.act[0] = DPT_ACT_TANH;
    spec.act[1] = DPT_ACT_SOFTMAX;
    CHECK(dpt_net_create(&spec, &net));

    for (int engine = 0; engine <= 1; engine++) {
        CHECK(dpt_net_init(net, DPT_INIT_AUTO, 0.0f, 1));
        CHECK(dpt_schedule_parse("warmup(adam:lr=0.01),t=5", &sched));
        struct dpt_train_params p = dpt_train_params_default();
        p.threads = 2;
        p.batch = 16;
        p.max_epochs = 3;
        p.patience = 2;
        p.engine = engine ? DPT_ENGINE_OPENMP : DPT_ENGINE_PTHREADS;
        CHECK(dpt_trainer_create(net, sched, &p, &tr));
        struct dpt_epoch_stats last;
        CHECK(dpt_trainer_fit(tr, train, val, NULL, &last));
        double loss, acc;
        CHECK(dpt_trainer_evaluate(tr, val, &loss, &acc));
        printf("train_small: %s engine: %llu epochs, val loss %.4f, acc %.3f\n",
               dpt_engine_name(p.engine), (unsigned long long)last.epoch, loss, acc);
        dpt_trainer_destroy(tr);
        tr = NULL;
        dpt_schedule_destroy(sched);
        sched = NULL;
    }

    CHECK(dpt_model_save(path, net, NULL));
    CHECK(dpt_model_load(path, &back, &info));
    if (memcmp(dpt_net_params_const(net), dpt_net_params_const(back),
               dpt_net_n_params(net) * sizeof(float)) != 0) {
        fprintf(stderr, "train_small: the loaded model differs from the saved one\n");
        goto cleanup;
    }
    rc = 0;
cleanup:
    dpt_trainer_destroy(tr);
    dpt_schedule_destroy(sched);
    dpt_model_info_cleanup(&info);
    dpt_net_destroy(back);
    dpt_net_destroy(net);
    dpt_dataset_destroy(train);
    dpt_dataset_destroy(val);
    unlink(path);
    rmdir(dir);
    return rc;
}
