// A consumer of an installed dptrain: checks the library version, then creates, initialises and
// destroys a small network through the public API. Exit status 0 when all of that works.
#include <stdio.h>
#include <string.h>

#include <dptrain/dptrain.h>

static int fail(const char *what, enum dpt_status st)
{
    fprintf(stderr, "consumer: %s: %s: %s\n", what, dpt_status_str(st), dpt_last_error());
    return 1;
}

int main(void)
{
    printf("consumer: dptrain %s\n", dpt_version());
#ifdef DPT_EXPECTED_VERSION
    // Catches a stale library picked up from another prefix.
    if (strcmp(dpt_version(), DPT_EXPECTED_VERSION) != 0) {
        fprintf(stderr, "consumer: expected dptrain %s\n", DPT_EXPECTED_VERSION);
        return 1;
    }
#endif

    // 4-8-3: ReLU hidden layer, softmax output with cross-entropy (the default loss).
    struct dpt_net_spec spec = dpt_net_spec_default();
    spec.n_layers = 2;
    spec.sizes[0] = 4;
    spec.sizes[1] = 8;
    spec.sizes[2] = 3;
    spec.act[0] = DPT_ACT_RELU;
    spec.act[1] = DPT_ACT_SOFTMAX;

    struct dpt_net *net = NULL;
    enum dpt_status st = dpt_net_create(&spec, &net);
    if (st != DPT_OK)
        return fail("dpt_net_create", st);
    st = dpt_net_init(net, DPT_INIT_AUTO, 0.0f, 42);
    if (st != DPT_OK) {
        dpt_net_destroy(net);
        return fail("dpt_net_init", st);
    }
    size_t n = dpt_net_n_trainable(net);
    dpt_net_destroy(net);
    if (n != 4 * 8 + 8 + 8 * 3 + 3) {
        fprintf(stderr, "consumer: %zu trainable parameters, expected 67\n", n);
        return 1;
    }
    printf("consumer: ok (%zu trainable parameters)\n", n);
    return 0;
}
