// Tests of topology and placement (src/parallel/topo.c): pin policy names, compact and scatter
// orders on synthetic topologies against lists derived by hand from the rules documented at the
// top of topo.c, restriction of the usable PUs, wrap-around, descriptions, and binding on the
// real machine (criterion runs each test in its own forked process, so binding there is local).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <hwloc.h>

#include "dptrain/parallel.h"
#include "parallel/topo_impl.h"

// 2 packages x 1 NUMA node x 2 L3s x 4 cores x 2 PUs: 16 cores, 32 PUs. In a synthetic topology
// OS indexes equal logical indexes, so core k owns PUs 2k and 2k+1. Package 0 holds cores 0-7
// (L3 #0: cores 0-3, L3 #1: cores 4-7), package 1 cores 8-15 (L3 #2: 8-11, L3 #3: 12-15).
#define T16 "pack:2 numa:1 l3:2 core:4 pu:2"
// 1 package x 2 L3s x 2 cores x 1 PU: cores = PUs 0-3; L3 #0 = {0, 1}, L3 #1 = {2, 3}.
#define T4 "pack:1 l3:2 core:2 pu:1"
// 1 package x 2 NUMA nodes x 2 L3s x 2 cores x 1 PU: cores = PUs 0-7; NUMA 0 = {L3 #0 = {0, 1},
// L3 #1 = {2, 3}}, NUMA 1 = {L3 #2 = {4, 5}, L3 #3 = {6, 7}}.
#define T8NUMA "pack:1 numa:2 l3:2 core:2 pu:1"

static struct dpt_topo *synth(const char *desc)
{
    struct dpt_topo *topo = NULL;
    enum dpt_status st = dpt_topo_create_synthetic(desc, &topo);
    cr_assert_eq(st, DPT_OK, "synthetic '%s': %s", desc, dpt_last_error());
    cr_assert_not_null(topo);
    return topo;
}

static void expect_place(const struct dpt_topo *topo, enum dpt_pin pin, size_t nth, const int *want)
{
    int got[64];
    cr_assert(nth <= 64);
    memset(got, 0x7f, sizeof got);
    cr_assert_eq(dpt_topo_place(topo, pin, nth, got), DPT_OK, "%s", dpt_last_error());
    for (size_t i = 0; i < nth; i++)
        cr_expect_eq(got[i], want[i], "%s worker %zu: PU %d, expected %d", dpt_pin_name(pin), i,
                     got[i], want[i]);
}

// ---- pin names ----

Test(topo, pin_names_round_trip)
{
    enum dpt_pin pins[] = {DPT_PIN_COMPACT, DPT_PIN_SCATTER, DPT_PIN_NONE};
    const char *names[] = {"compact", "scatter", "none"};
    for (size_t i = 0; i < 3; i++) {
        enum dpt_pin p = DPT_PIN_NONE;
        cr_assert_str_eq(dpt_pin_name(pins[i]), names[i]);
        cr_assert_eq(dpt_pin_parse(names[i], &p), DPT_OK);
        cr_assert_eq(p, pins[i]);
    }
    cr_assert_str_eq(dpt_pin_name((enum dpt_pin)42), "unknown");
}

Test(topo, pin_parse_rejects_unknown_names)
{
    enum dpt_pin p = DPT_PIN_SCATTER;
    const char *bad[] = {"spread", "", "Compact", "compact "};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(dpt_pin_parse(bad[i], &p), DPT_ERR_INVALID);
        const char *msg = dpt_last_error();
        cr_assert(strstr(msg, "compact") && strstr(msg, "scatter") && strstr(msg, "none"),
                  "message lists the valid names: %s", msg);
        char quoted[32];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        cr_assert(strstr(msg, quoted), "message names the input: %s", msg);
    }
    cr_assert_eq(p, DPT_PIN_SCATTER, "out untouched on error");
    cr_assert_eq(dpt_pin_parse(NULL, &p), DPT_ERR_INVALID);
}

// ---- synthetic topologies: counts and orders ----

Test(topo, synthetic_counts_and_description)
{
    struct dpt_topo *topo = synth(T16);
    char buf[256];
    cr_assert_eq(dpt_topo_n_cores(topo), 16);
    dpt_topo_describe(topo, buf, sizeof buf);
    cr_assert_str_eq(buf, "2 packages, 2 NUMA nodes, 4 L3s, 16 cores, 32 PUs; allowed PUs 0-31 "
                          "(16 usable cores)");
    dpt_topo_destroy(topo);

    topo = synth(T4);
    cr_assert_eq(dpt_topo_n_cores(topo), 4);
    dpt_topo_describe(topo, buf, sizeof buf);
    cr_assert_str_eq(buf,
                     "1 package, 1 NUMA node, 2 L3s, 4 cores, 4 PUs; allowed PUs 0-3 (4 usable "
                     "cores)");
    // Truncation keeps a NUL-terminated prefix.
    char small[8];
    dpt_topo_describe(topo, small, sizeof small);
    cr_assert_str_eq(small, "1 packa");
    dpt_topo_destroy(topo);
}

Test(topo, synthetic_rejects_bad_description)
{
    struct dpt_topo *topo = (struct dpt_topo *)1;
    cr_assert_eq(dpt_topo_create_synthetic("pack:two", &topo), DPT_ERR_INVALID);
    cr_assert_null(topo);
    cr_assert(strstr(dpt_last_error(), "pack:two"), "%s", dpt_last_error());
    cr_assert_eq(dpt_topo_create_synthetic(NULL, &topo), DPT_ERR_INVALID);
}

Test(topo, compact_t16)
{
    // Logical core order, first PU of each core: core k -> PU 2k.
    static const int want[16] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
    struct dpt_topo *topo = synth(T16);
    expect_place(topo, DPT_PIN_COMPACT, 16, want);
    dpt_topo_destroy(topo);
}

Test(topo, scatter_t16)
{
    // Package 0: interleave L3 #0 (cores 0 1 2 3) with L3 #1 (4 5 6 7) -> 0 4 1 5 2 6 3 7
    // (its single NUMA node changes nothing). Package 1 likewise -> 8 12 9 13 10 14 11 15.
    // Interleave the packages -> cores 0 8 4 12 1 9 5 13 2 10 6 14 3 11 7 15; PU = 2 * core.
    static const int want[16] = {0, 16, 8, 24, 2, 18, 10, 26, 4, 20, 12, 28, 6, 22, 14, 30};
    struct dpt_topo *topo = synth(T16);
    expect_place(topo, DPT_PIN_SCATTER, 16, want);
    dpt_topo_destroy(topo);
}

Test(topo, compact_and_scatter_t4)
{
    // Compact: 0 1 2 3. Scatter: one package, one NUMA node; interleave L3 #0 (0 1) with
    // L3 #1 (2 3) -> 0 2 1 3.
    static const int want_compact[4] = {0, 1, 2, 3};
    static const int want_scatter[4] = {0, 2, 1, 3};
    struct dpt_topo *topo = synth(T4);
    expect_place(topo, DPT_PIN_COMPACT, 4, want_compact);
    expect_place(topo, DPT_PIN_SCATTER, 4, want_scatter);
    dpt_topo_destroy(topo);
}

Test(topo, scatter_alternates_numa_nodes_then_l3s)
{
    // NUMA 0: interleave L3 #0 (0 1) with L3 #1 (2 3) -> 0 2 1 3; NUMA 1 likewise -> 4 6 5 7.
    // The package interleaves its NUMA nodes -> 0 4 2 6 1 5 3 7.
    static const int want_scatter[8] = {0, 4, 2, 6, 1, 5, 3, 7};
    static const int want_compact[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    struct dpt_topo *topo = synth(T8NUMA);
    cr_assert_eq(dpt_topo_n_cores(topo), 8);
    expect_place(topo, DPT_PIN_SCATTER, 8, want_scatter);
    expect_place(topo, DPT_PIN_COMPACT, 8, want_compact);
    dpt_topo_destroy(topo);
}

Test(topo, wraps_around_beyond_core_count)
{
    static const int scatter16[16] = {0, 16, 8, 24, 2, 18, 10, 26, 4, 20, 12, 28, 6, 22, 14, 30};
    struct dpt_topo *topo = synth(T16);
    int want[40];
    for (size_t i = 0; i < 40; i++)
        want[i] = (int)(2 * (i % 16));
    expect_place(topo, DPT_PIN_COMPACT, 40, want);
    for (size_t i = 0; i < 40; i++)
        want[i] = scatter16[i % 16];
    expect_place(topo, DPT_PIN_SCATTER, 40, want);
    dpt_topo_destroy(topo);
}

Test(topo, none_gives_minus_one)
{
    struct dpt_topo *topo = synth(T16);
    int want[20];
    for (size_t i = 0; i < 20; i++)
        want[i] = -1;
    expect_place(topo, DPT_PIN_NONE, 20, want);
    dpt_topo_destroy(topo);
}

Test(topo, place_validates_arguments)
{
    struct dpt_topo *topo = synth(T4);
    int pu[4];
    cr_assert_eq(dpt_topo_place(topo, DPT_PIN_COMPACT, 0, NULL), DPT_OK);
    cr_assert_eq(dpt_topo_place(topo, DPT_PIN_COMPACT, 4, NULL), DPT_ERR_INVALID);
    cr_assert_eq(dpt_topo_place(topo, (enum dpt_pin)7, 4, pu), DPT_ERR_INVALID);
    cr_assert_eq(dpt_topo_place(NULL, DPT_PIN_COMPACT, 4, pu), DPT_ERR_INVALID);
    dpt_topo_destroy(topo);
    dpt_topo_destroy(NULL);
}

// ---- restriction ----

Test(topo, restrict_skips_cores_without_allowed_pus)
{
    // "0-3,8" allows core 0 (PUs 0, 1), core 1 (PUs 2, 3) and core 4 (PU 8): 3 usable cores.
    // Compact: 0 2 8. Scatter: only package 0 has usable cores; interleave L3 #0 (cores 0 1)
    // with L3 #1 (core 4) -> cores 0 4 1 -> PUs 0 8 2. Then wrap-around over 3 cores.
    static const int want_compact[7] = {0, 2, 8, 0, 2, 8, 0};
    static const int want_scatter[7] = {0, 8, 2, 0, 8, 2, 0};
    struct dpt_topo *topo = synth(T16);
    char buf[256];
    cr_assert_eq(dpt_topo_restrict(topo, "0-3,8"), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_topo_n_cores(topo), 3);
    expect_place(topo, DPT_PIN_COMPACT, 7, want_compact);
    expect_place(topo, DPT_PIN_SCATTER, 7, want_scatter);
    dpt_topo_describe(topo, buf, sizeof buf);
    cr_assert_str_eq(buf, "2 packages, 2 NUMA nodes, 4 L3s, 16 cores, 32 PUs; allowed PUs 0-3,8 "
                          "(3 usable cores)");
    dpt_topo_destroy(topo);
}

Test(topo, restrict_binds_the_only_allowed_pu_of_a_core)
{
    // "1,3,17" allows only the second PU of cores 0, 1 and 8. Compact: 1 3 17. Scatter:
    // package 0 gives cores 0 1 (one L3), package 1 gives core 8; interleave -> 0 8 1 -> 1 17 3.
    static const int want_compact[3] = {1, 3, 17};
    static const int want_scatter[3] = {1, 17, 3};
    struct dpt_topo *topo = synth(T16);
    cr_assert_eq(dpt_topo_restrict(topo, "1,3,17"), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_topo_n_cores(topo), 3);
    expect_place(topo, DPT_PIN_COMPACT, 3, want_compact);
    expect_place(topo, DPT_PIN_SCATTER, 3, want_scatter);
    dpt_topo_destroy(topo);
}

Test(topo, restrict_intersects_with_previous_restriction)
{
    static const int want[2] = {4, 6};
    struct dpt_topo *topo = synth(T16);
    cr_assert_eq(dpt_topo_restrict(topo, "0-7"), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_topo_restrict(topo, "4-31"), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_topo_n_cores(topo), 2); // PUs 4-7: cores 2 and 3
    expect_place(topo, DPT_PIN_COMPACT, 2, want);
    // Nothing left in common: rejected, previous state kept.
    cr_assert_eq(dpt_topo_restrict(topo, "0-3"), DPT_ERR_INVALID);
    cr_assert(strstr(dpt_last_error(), "'0-3'"), "%s", dpt_last_error());
    cr_assert_eq(dpt_topo_n_cores(topo), 2);
    expect_place(topo, DPT_PIN_COMPACT, 2, want);
    dpt_topo_destroy(topo);
}

Test(topo, restrict_rejects_bad_lists)
{
    const char *bad[] = {"",
                         "a",
                         "1-",
                         "-1",
                         "3-1",
                         "1,,2",
                         "1,",
                         "1 2",
                         "0-32",
                         "32",
                         "2x",
                         "0-3,8:2",
                         "99999999999999999999",
                         " 1"};
    struct dpt_topo *topo = synth(T16);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(dpt_topo_restrict(topo, bad[i]), DPT_ERR_INVALID, "'%s' accepted", bad[i]);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        cr_expect(strstr(dpt_last_error(), quoted), "message names the list: %s", dpt_last_error());
        cr_assert_eq(dpt_topo_n_cores(topo), 16, "topology unchanged after '%s'", bad[i]);
    }
    cr_assert_eq(dpt_topo_restrict(topo, NULL), DPT_ERR_INVALID);
    cr_assert_eq(dpt_topo_restrict(NULL, "0"), DPT_ERR_INVALID);
    dpt_topo_destroy(topo);
}

Test(topo, binding_is_refused_on_synthetic_topologies)
{
    struct dpt_topo *topo = synth(T4);
    cr_assert_eq(dpt_topo_bind_self(topo, -1), DPT_OK);
    cr_assert_eq(dpt_topo_bind_self(topo, 0), DPT_ERR_UNSUPPORTED);
    cr_assert_eq(dpt_topo_bind_self(topo, 4), DPT_ERR_INVALID); // no such PU
    cr_assert_eq(dpt_topo_bind_self(topo, -2), DPT_ERR_INVALID);
    dpt_topo_destroy(topo);
}

// ---- the real machine ----

// This thread's binding, read through an hwloc topology independent of the one under test.
static void thread_binding(hwloc_topology_t hw, hwloc_bitmap_t set)
{
    cr_assert_eq(hwloc_get_cpubind(hw, set, HWLOC_CPUBIND_THREAD), 0);
}

static hwloc_topology_t load_hw(void)
{
    hwloc_topology_t hw;
    cr_assert_eq(hwloc_topology_init(&hw), 0);
    cr_assert_eq(hwloc_topology_load(hw), 0);
    return hw;
}

Test(topo, real_topology_loads_and_binding_works)
{
    struct dpt_topo *topo = NULL;
    cr_assert_eq(dpt_topo_create(&topo), DPT_OK, "%s", dpt_last_error());
    size_t n = dpt_topo_n_cores(topo);
    cr_assert_geq(n, 1);

    hwloc_topology_t hw = load_hw();
    hwloc_bitmap_t proc = hwloc_bitmap_alloc(), set = hwloc_bitmap_alloc();
    cr_assert_eq(hwloc_get_cpubind(hw, proc, HWLOC_CPUBIND_PROCESS), 0);

    // Every placement is a PU this process may run on, one per core: distinct PUs.
    int pu[256];
    size_t nth = n < 256 ? n : 256;
    cr_assert_eq(dpt_topo_place(topo, DPT_PIN_COMPACT, nth, pu), DPT_OK);
    for (size_t i = 0; i < nth; i++) {
        cr_assert(pu[i] >= 0 && hwloc_bitmap_isset(proc, (unsigned)pu[i]), "PU %d not allowed",
                  pu[i]);
        for (size_t j = 0; j < i; j++)
            cr_assert_neq(pu[i], pu[j]);
    }

    struct dpt_topo_binding *saved = NULL;
    cr_assert_eq(dpt_topo_binding_save(topo, &saved), DPT_OK, "%s", dpt_last_error());
    cr_assert_not_null(saved);

    cr_assert_eq(dpt_topo_bind_self(topo, pu[0]), DPT_OK, "%s", dpt_last_error());
    thread_binding(hw, set);
    cr_assert_eq(hwloc_bitmap_weight(set), 1);
    cr_assert_eq(hwloc_bitmap_first(set), pu[0]);

    // -1 leaves the binding alone; a PU that does not exist is refused.
    cr_assert_eq(dpt_topo_bind_self(topo, -1), DPT_OK);
    thread_binding(hw, set);
    cr_assert_eq(hwloc_bitmap_first(set), pu[0]);
    cr_assert_eq(dpt_topo_bind_self(topo, 1 << 20), DPT_ERR_INVALID);

    // Restoring gives back the binding the thread had before.
    cr_assert_eq(dpt_topo_binding_restore(topo, saved), DPT_OK, "%s", dpt_last_error());
    thread_binding(hw, set);
    cr_assert(hwloc_bitmap_isequal(set, proc));

    char buf[512];
    dpt_topo_describe(topo, buf, sizeof buf);
    cr_assert(strstr(buf, "; allowed PUs "), "%s", buf);

    dpt_topo_binding_destroy(saved);
    hwloc_bitmap_free(proc);
    hwloc_bitmap_free(set);
    hwloc_topology_destroy(hw);
    dpt_topo_destroy(topo);
}

Test(topo, real_topology_respects_process_binding)
{
    // Like `taskset -c <last PU>`: bind this (forked) test process to one PU, then load.
    hwloc_topology_t hw = load_hw();
    hwloc_bitmap_t proc = hwloc_bitmap_alloc();
    cr_assert_eq(hwloc_get_cpubind(hw, proc, HWLOC_CPUBIND_PROCESS), 0);
    int last = hwloc_bitmap_last(proc);
    cr_assert_geq(last, 0);
    hwloc_bitmap_only(proc, (unsigned)last);
    cr_assert_eq(hwloc_set_cpubind(hw, proc, HWLOC_CPUBIND_PROCESS), 0);

    struct dpt_topo *topo = NULL;
    cr_assert_eq(dpt_topo_create(&topo), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_topo_n_cores(topo), 1);
    int want[3] = {last, last, last};
    expect_place(topo, DPT_PIN_COMPACT, 3, want);
    expect_place(topo, DPT_PIN_SCATTER, 3, want);
    char buf[512], tail[64];
    dpt_topo_describe(topo, buf, sizeof buf);
    snprintf(tail, sizeof tail, "; allowed PUs %d (1 usable core)", last);
    cr_assert(strstr(buf, tail), "%s", buf);

    hwloc_bitmap_free(proc);
    hwloc_topology_destroy(hw);
    dpt_topo_destroy(topo);
}

Test(topo, real_topology_restrict_to_one_pu)
{
    struct dpt_topo *topo = NULL;
    cr_assert_eq(dpt_topo_create(&topo), DPT_OK, "%s", dpt_last_error());
    int first;
    cr_assert_eq(dpt_topo_place(topo, DPT_PIN_COMPACT, 1, &first), DPT_OK);
    char list[16];
    snprintf(list, sizeof list, "%d", first);
    cr_assert_eq(dpt_topo_restrict(topo, list), DPT_OK, "%s", dpt_last_error());
    cr_assert_eq(dpt_topo_n_cores(topo), 1);
    int pu[2];
    cr_assert_eq(dpt_topo_place(topo, DPT_PIN_SCATTER, 2, pu), DPT_OK);
    cr_assert_eq(pu[0], first);
    cr_assert_eq(pu[1], first);
    cr_assert_eq(dpt_topo_bind_self(topo, first), DPT_OK, "%s", dpt_last_error());
    dpt_topo_destroy(topo);
}

// Barrier groups (issue 16): the innermost level that splits the workers, L3 before NUMA node
// before package; where none does, one group (a flat barrier) up to 8 workers and runs of
// ceil(sqrt T) neighbours past that; one group where a worker is unbound.
static size_t groups_of(const char *desc, size_t nth, unsigned *group_of)
{
    struct dpt_topo *topo = NULL;
    cr_assert_eq(dpt_topo_create_synthetic(desc, &topo), DPT_OK, "%s", dpt_last_error());
    int pu[64];
    cr_assert_eq(dpt_topo_place(topo, DPT_PIN_COMPACT, nth, pu), DPT_OK);
    const size_t n = dpt_topo_groups(topo, pu, nth, group_of);
    dpt_topo_destroy(topo);
    return n;
}

Test(topo, barrier_groups_follow_numa_nodes_and_l3s)
{
    unsigned g[64];
    // 2 packages x 2 NUMA nodes x 16 cores, no L3: 4 groups of 16 at 64 threads.
    cr_assert_eq(groups_of("pack:2 numa:2 core:16 pu:1", 64, g), 4);
    for (size_t t = 0; t < 64; t++)
        cr_expect_eq(g[t], t / 16, "worker %zu", t);
    // 16 threads fill the first NUMA node: no level splits them, so runs of 4 neighbours (more
    // than DPT_BARRIER_FLAT_MAX workers in one domain).
    cr_assert_eq(groups_of("pack:2 numa:2 core:16 pu:1", 16, g), 4);
    for (size_t t = 0; t < 16; t++)
        cr_expect_eq(g[t], t / 4, "worker %zu", t);
    // 24 threads: the first node's 16 and 8 of the second.
    cr_assert_eq(groups_of("pack:2 numa:2 core:16 pu:1", 24, g), 2);
    cr_expect_eq(g[15], 0);
    cr_expect_eq(g[16], 1);
    // Several L3s per NUMA node (EPYC-like): groups are the L3s.
    cr_assert_eq(groups_of("pack:2 numa:2 l3:2 core:4 pu:1", 32, g), 8);
    for (size_t t = 0; t < 32; t++)
        cr_expect_eq(g[t], t / 4, "worker %zu", t);
    // One package, one L3: a flat barrier up to 8 workers, then runs of ceil(sqrt T) neighbours.
    cr_assert_eq(groups_of("pack:1 l3:1 core:8 pu:2", 8, g), 1);
    for (size_t t = 0; t < 8; t++)
        cr_expect_eq(g[t], 0);
    cr_assert_eq(groups_of("pack:1 l3:1 core:64 pu:1", 9, g), 3);
    for (size_t t = 0; t < 9; t++)
        cr_expect_eq(g[t], t / 3, "worker %zu", t);
    cr_assert_eq(groups_of("pack:1 l3:1 core:64 pu:1", 10, g), 3); // 4, 4, 2
    cr_expect_eq(g[7], 1);
    cr_expect_eq(g[8], 2);
    cr_assert_eq(groups_of("pack:1 l3:1 core:64 pu:1", 64, g), 8);
    for (size_t t = 0; t < 64; t++)
        cr_expect_eq(g[t], t / 8, "worker %zu", t);
    // DPT_BARRIER_RUNS=0 keeps one domain flat, not the topology's groups.
    setenv("DPT_BARRIER_RUNS", "0", 1);
    cr_expect_eq(groups_of("pack:1 l3:1 core:64 pu:1", 64, g), 1);
    cr_expect_eq(groups_of("pack:2 numa:2 core:16 pu:1", 64, g), 4);
    unsetenv("DPT_BARRIER_RUNS");
    // Unbound workers: flat.
    struct dpt_topo *topo = NULL;
    cr_assert_eq(dpt_topo_create_synthetic("pack:2 numa:2 core:16 pu:1", &topo), DPT_OK);
    int pu[4] = {0, 16, -1, 48};
    cr_expect_eq(dpt_topo_groups(topo, pu, 4, g), 1);
    dpt_topo_destroy(topo);
}
