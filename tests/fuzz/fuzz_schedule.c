// libFuzzer harness for the schedule string parser: each input is a schedule string
// (dpt_schedule_parse). A schedule that parses is then initialised for a small parameter vector
// and stepped a few times on two slices, with the global gradient norm when it asks for it, so
// that odd but accepted hyper-parameters reach the step functions too.
#define _GNU_SOURCE
#include <string.h>

#include "dptrain/dptrain.h"
#include "fuzz_common.h"

#define N_PARAMS 37

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct dpt_schedule *s = NULL;
    if (dpt_schedule_parse(text, &s) == DPT_OK && dpt_schedule_init(s, N_PARAMS) == DPT_OK) {
        float theta[N_PARAMS], grad[N_PARAMS];
        for (size_t i = 0; i < N_PARAMS; i++)
            theta[i] = 0.01f * (float)i - 0.1f;
        for (uint64_t step = 1; step <= 3; step++) {
            double sq = 0.0;
            for (size_t i = 0; i < N_PARAMS; i++) {
                grad[i] = 0.5f - 0.03f * (float)i * (float)step;
                sq += (double)grad[i] * grad[i];
            }
            struct dpt_step_ctx ctx = {step, 1, 8, sq, 1.0};
            dpt_schedule_step(s, &ctx, theta, grad, 0, 16);
            dpt_schedule_step(s, &ctx, theta, grad, 16, N_PARAMS);
            (void)dpt_schedule_rate(s, step);
        }
        if (dpt_schedule_state_len(s) > 0) {
            float *buf = calloc(dpt_schedule_state_len(s), sizeof *buf);
            if (buf) {
                dpt_schedule_state_save(s, buf);
                dpt_schedule_state_load(s, buf);
            }
            free(buf);
        }
    }
    dpt_schedule_destroy(s);
    free(text);
    return 0;
}
