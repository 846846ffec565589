// Barrier and pool stress (plain executable, so it also runs under ThreadSanitizer): 10^5
// rounds at T = 2..8 on whatever cores exist (10^4 at T = 12), flat and two-level (groups of 2, or
// at 12 the trainer's runs of 4 in one cache domain), with the spinning and the blocking path,
// checking after every round that every thread has finished the previous one (no thread runs
// ahead, no lost wake-up: a hang is caught by the ctest timeout).
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parallel/barrier_impl.h"
#include "parallel/pool_impl.h"

enum { ROUNDS = 100000, MAXT = 12 };

struct job {
    size_t rounds;
    // Round r writes slot [r % 2][ith]; after the barrier every thread reads all slots of that
    // parity. A thread can only write the same parity again after the next barrier, which the
    // readers reach after their reads: race-free exactly when the barrier orders memory (TSan
    // checks that it does), and wrong values mean a thread ran ahead.
    size_t done[2][MAXT * 16];
    atomic_int errors;
    struct dpt_team *team;
};

static void rounds_job(void *arg, size_t ith, size_t nth)
{
    struct job *j = arg;
    for (size_t r = 0; r < j->rounds; r++) {
        j->done[r % 2][ith * 16] = r + 1;
        dpt_team_barrier(j->team);
        for (size_t t = 0; t < nth; t++)
            if (j->done[r % 2][t * 16] != r + 1)
                atomic_fetch_add_explicit(&j->errors, 1, memory_order_relaxed);
    }
    dpt_team_barrier(j->team);
}

int main(int argc, char **argv)
{
    size_t rounds = argc > 1 ? (size_t)atol(argv[1]) : ROUNDS;
    int failures = 0;
    struct dpt_topo *topo = NULL;
    if (dpt_topo_create(&topo) != DPT_OK) {
        fprintf(stderr, "topology: %s\n", dpt_last_error());
        return 1;
    }
    const size_t counts[] = {2, 3, 4, 8, 12}, n_counts = sizeof counts / sizeof counts[0];
    int runs = 0;
    // Each count flat and as a two-level barrier: groups of 2, the last one smaller when T is
    // odd (the grouping a machine with several L3s or NUMA nodes gets), or past
    // DPT_BARRIER_FLAT_MAX the runs of neighbours the trainer takes in one cache domain.
    static unsigned group_of[MAXT];
    for (size_t k = 0; k < 2 * n_counts; k++) {
        const size_t nth = counts[k % n_counts];
        const int grouped = k >= n_counts;
        const size_t per = nth > DPT_BARRIER_FLAT_MAX ? dpt_barrier_run(nth) : 2;
        const size_t n_rounds = nth > DPT_BARRIER_FLAT_MAX ? rounds / 10 : rounds;
        for (int spin = 0; spin < 2; spin++) {
            struct dpt_pool *pool;
            // Block at once, or the trainer's choice for this T on this machine.
            unsigned limit = !spin                           ? 0
                             : nth <= dpt_topo_n_cores(topo) ? DPT_BARRIER_SPIN_DEFAULT
                                                             : DPT_BARRIER_SPIN_OVERSUBSCRIBED;
            runs++;
            for (size_t t = 0; t < nth; t++)
                group_of[t] = (unsigned)(t / per);
            if (dpt_pool_create(nth, topo, NULL, limit, grouped ? (nth + per - 1) / per : 1,
                                group_of, &pool) != DPT_OK) {
                fprintf(stderr, "pool: %s\n", dpt_last_error());
                return 1;
            }
            struct dpt_team team = {.engine = DPT_ENGINE_PTHREADS, .pool = pool, .nth = nth};
            static struct job j;
            j.rounds = n_rounds;
            j.team = &team;
            atomic_init(&j.errors, 0);
            memset(j.done, 0, sizeof j.done);
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            dpt_pool_run(pool, rounds_job, &j);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            const double us =
                ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3 /
                (double)n_rounds;
            // Several short jobs in a row: the dispatch path.
            j.rounds = 3;
            for (int k = 0; k < 200; k++)
                dpt_pool_run(pool, rounds_job, &j);
            int e = atomic_load(&j.errors);
            char how[32] = "";
            if (grouped)
                snprintf(how, sizeof how, " in groups of %zu", per);
            printf("T=%zu%s spin=%u: %zu rounds, %.2f us/round, %d errors\n", nth, how, limit,
                   n_rounds, us, e);
            failures += e != 0;
            dpt_pool_destroy(pool);
        }
    }
    // Create and destroy pools repeatedly (start-up and shutdown races).
    for (int k = 0; k < 200; k++) {
        struct dpt_pool *pool;
        if (dpt_pool_create(1 + (size_t)k % 5, topo, NULL, 100, 1, NULL, &pool) != DPT_OK)
            return 1;
        dpt_pool_destroy(pool);
    }
    dpt_topo_destroy(topo);
    printf("%d passed, %d failed\n", runs - failures, failures);
    return failures ? 1 : 0;
}
