// Topology and placement: loads the machine's hwloc topology once (or a synthetic one for
// tests), keeps the set of usable PUs (the process's allowed cpuset: cgroup cpusets and
// taskset), precomputes the compact and scatter core orders, and binds threads to single PUs.
//
// Placement rules (the tests hard-code lists derived from these):
// - A core is usable when at least one of its PUs is allowed. A worker bound to a core binds to
//   its first allowed PU (lowest OS index, as hwloc_bitmap_singlify would pick).
// - compact: usable cores in hwloc logical order, i.e. topology order, so an L3 / NUMA node fills
//   before the next one starts.
// - scatter: usable cores are grouped by package, then by NUMA node within a package, then by L3
//   within a NUMA node (each group in logical order). The order of a group is the round-robin
//   interleave of its subgroups' orders: the first core of subgroup 0, the first of subgroup 1,
//   ..., then the second of subgroup 0, ..., skipping subgroups that have run out; at the bottom
//   (one L3) the cores stay in logical order. So worker 0 gets the first core of package 0,
//   worker 1 the first core of package 1, and within a package consecutive picks alternate NUMA
//   nodes, then L3s.
// - Worker i beyond the number of usable cores n gets the placement of worker i mod n.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hwloc.h>

#include "core/error_impl.h"
#include "parallel/barrier_impl.h"
#include "parallel/topo_impl.h"

struct dpt_topo {
    hwloc_topology_t hw;
    hwloc_bitmap_t allowed; // usable PUs, by OS index; never empty
    bool real;              // this machine (binding possible), not a synthetic description
    size_t n_cores;         // usable cores
    int *compact;           // n_cores PU OS indexes in compact order
    int *scatter;           // n_cores PU OS indexes in scatter order
};

struct dpt_topo_binding {
    hwloc_bitmap_t set;
};

// ---- pin policy names ----

static const char *const pin_names[] = {"compact", "scatter", "none"};

// Name of a pin policy ("compact", "scatter", "none"), or "unknown". Thread-safe.
const char *dpt_pin_name(enum dpt_pin pin)
{
    if ((unsigned)pin < sizeof pin_names / sizeof pin_names[0])
        return pin_names[pin];
    return "unknown";
}

// Parses a pin policy name; unknown names give DPT_ERR_INVALID listing the valid ones.
enum dpt_status dpt_pin_parse(const char *name, enum dpt_pin *out)
{
    if (!out)
        return dpt_error(DPT_ERR_INVALID, "dpt_pin_parse: out is NULL");
    if (!name)
        return dpt_error(DPT_ERR_INVALID, "pin policy: name is NULL (expected compact, scatter "
                                          "or none)");
    for (size_t i = 0; i < sizeof pin_names / sizeof pin_names[0]; i++) {
        if (strcmp(name, pin_names[i]) == 0) {
            *out = (enum dpt_pin)i;
            return DPT_OK;
        }
    }
    return dpt_error(DPT_ERR_INVALID,
                     "pin policy: unknown name '%s' (expected compact, scatter or none)", name);
}

// ---- placement orders ----

// The object type that counts as a core: Core, or PU where the platform reports no cores.
static hwloc_obj_type_t core_type(hwloc_topology_t hw)
{
    return hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_CORE) > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
}

enum { N_LEVELS = 3 }; // package, NUMA node, L3

// A usable core: its group keys at each level, then its logical index and chosen PU.
struct core_key {
    unsigned key[N_LEVELS];
    unsigned logical;
    int pu;
};

static int core_key_cmp(const void *a, const void *b)
{
    const struct core_key *x = a, *y = b;
    for (int l = 0; l < N_LEVELS; l++) {
        if (x->key[l] != y->key[l])
            return x->key[l] < y->key[l] ? -1 : 1;
    }
    return x->logical < y->logical ? -1 : x->logical > y->logical;
}

// Logical index of the NUMA node local to a core: the first node whose CPUs include the core
// (NUMA nodes are memory children in hwloc 2, not ancestors, so they are matched by cpuset).
static unsigned numa_key(hwloc_topology_t hw, hwloc_obj_t core)
{
    hwloc_obj_t node = NULL;
    while ((node = hwloc_get_next_obj_by_type(hw, HWLOC_OBJ_NUMANODE, node)) != NULL) {
        if (node->cpuset && hwloc_bitmap_isincluded(core->cpuset, node->cpuset))
            return node->logical_index;
    }
    return 0;
}

static unsigned ancestor_key(hwloc_topology_t hw, hwloc_obj_type_t type, hwloc_obj_t core)
{
    hwloc_obj_t a = hwloc_get_ancestor_obj_by_type(hw, type, core);
    return a ? a->logical_index : 0;
}

// End of the group starting at lo that shares key[level] (cores are sorted by key).
static size_t group_end(const struct core_key *c, size_t lo, size_t hi, int level)
{
    size_t e = lo + 1;
    while (e < hi && c[e].key[level] == c[lo].key[level])
        e++;
    return e;
}

// Writes the scatter order of cores c[lo, hi) (which share key[0..level)) into out[lo, hi).
// scratch[lo, hi) is free for use; the recursion only touches each subgroup's own subrange.
static void scatter_order(const struct core_key *c, size_t lo, size_t hi, int level, int *out,
                          int *scratch)
{
    if (level == N_LEVELS) {
        for (size_t i = lo; i < hi; i++)
            out[i] = c[i].pu;
        return;
    }
    size_t max_len = 0;
    for (size_t g = lo; g < hi;) {
        size_t e = group_end(c, g, hi, level);
        scatter_order(c, g, e, level + 1, out, scratch);
        if (e - g > max_len)
            max_len = e - g;
        g = e;
    }
    size_t k = lo;
    for (size_t r = 0; r < max_len; r++) {
        for (size_t g = lo; g < hi;) {
            size_t e = group_end(c, g, hi, level);
            if (r < e - g)
                scratch[k++] = out[g + r];
            g = e;
        }
    }
    DPT_ASSERT(k == hi);
    memcpy(out + lo, scratch + lo, (hi - lo) * sizeof *out);
}

// Recomputes n_cores and both orders for the allowed set `allowed`; on success installs them
// (and takes ownership of allowed), on failure leaves topo unchanged.
static enum dpt_status plan(struct dpt_topo *topo, hwloc_bitmap_t allowed)
{
    enum dpt_status st = DPT_OK;
    struct core_key *keys = NULL;
    int *compact = NULL, *scatter = NULL, *scratch = NULL;
    hwloc_bitmap_t tmp = hwloc_bitmap_alloc();
    hwloc_obj_type_t type = core_type(topo->hw);
    int n_all = hwloc_get_nbobjs_by_type(topo->hw, type);
    size_t n = 0;

    if (!tmp || n_all <= 0) {
        st = tmp ? dpt_error(DPT_ERR_SYSTEM, "topology: no cores found")
                 : dpt_error(DPT_ERR_NOMEM, "topology: out of memory");
        goto cleanup;
    }
    keys = dpt_calloc((size_t)n_all, sizeof *keys);
    compact = dpt_calloc((size_t)n_all, sizeof *compact);
    scatter = dpt_calloc((size_t)n_all, sizeof *scatter);
    scratch = dpt_calloc((size_t)n_all, sizeof *scratch);
    if (!keys || !compact || !scatter || !scratch) {
        st = dpt_error(DPT_ERR_NOMEM, "topology: out of memory for %d cores", n_all);
        goto cleanup;
    }
    for (int i = 0; i < n_all; i++) {
        hwloc_obj_t core = hwloc_get_obj_by_type(topo->hw, type, (unsigned)i);
        if (!core || !core->cpuset)
            continue;
        hwloc_bitmap_and(tmp, core->cpuset, allowed);
        int pu = hwloc_bitmap_first(tmp);
        if (pu < 0)
            continue; // no allowed PU: not usable
        keys[n].key[0] = ancestor_key(topo->hw, HWLOC_OBJ_PACKAGE, core);
        keys[n].key[1] = numa_key(topo->hw, core);
        keys[n].key[2] = ancestor_key(topo->hw, HWLOC_OBJ_L3CACHE, core);
        keys[n].logical = core->logical_index;
        keys[n].pu = pu;
        compact[n] = pu; // logical order
        n++;
    }
    if (n == 0) {
        st = dpt_error(DPT_ERR_SYSTEM, "topology: no core has an allowed PU");
        goto cleanup;
    }
    qsort(keys, n, sizeof *keys, core_key_cmp);
    scatter_order(keys, 0, n, 0, scatter, scratch);

    hwloc_bitmap_free(topo->allowed);
    topo->allowed = allowed;
    dpt_free(topo->compact);
    dpt_free(topo->scatter);
    topo->compact = compact;
    topo->scatter = scatter;
    topo->n_cores = n;
    compact = scatter = NULL;

cleanup:
    hwloc_bitmap_free(tmp);
    dpt_free(keys);
    dpt_free(compact);
    dpt_free(scatter);
    dpt_free(scratch);
    return st;
}

// ---- creation ----

static void errno_text(int err, char *buf, size_t len)
{
    // XSI strerror_r (_POSIX_C_SOURCE=200809L): thread-safe, unlike strerror.
    if (strerror_r(err, buf, len) != 0)
        snprintf(buf, len, "errno %d", err);
}

// Loads a topology (synthetic when desc is non-NULL) and computes the usable set and orders.
static enum dpt_status topo_load(const char *desc, struct dpt_topo **out)
{
    enum dpt_status st = DPT_OK;
    struct dpt_topo *topo = NULL;
    hwloc_bitmap_t allowed = NULL;
    char err[128];

    if (!out)
        return dpt_error(DPT_ERR_INVALID, "topology: out is NULL");
    *out = NULL;
    topo = dpt_calloc(1, sizeof *topo);
    if (!topo)
        return dpt_error(DPT_ERR_NOMEM, "topology: out of memory");
    if (hwloc_topology_init(&topo->hw) != 0) {
        errno_text(errno, err, sizeof err);
        topo->hw = NULL;
        st = dpt_error(DPT_ERR_SYSTEM, "topology: hwloc_topology_init failed: %s", err);
        goto cleanup;
    }
    if (desc && hwloc_topology_set_synthetic(topo->hw, desc) != 0) {
        st = dpt_error(DPT_ERR_INVALID, "topology: invalid synthetic description '%s'", desc);
        goto cleanup;
    }
    if (hwloc_topology_load(topo->hw) != 0) {
        errno_text(errno, err, sizeof err);
        st = dpt_error(DPT_ERR_SYSTEM, "topology: hwloc_topology_load failed: %s", err);
        goto cleanup;
    }
    topo->real = hwloc_topology_is_thissystem(topo->hw) != 0 && !desc;

    // hwloc already drops PUs outside the cgroup cpuset (we do not set INCLUDE_DISALLOWED), so
    // the allowed cpuset covers cgroups; taskset / sched_setaffinity show only in the process
    // binding, so intersect with it. The process binding is the union over its threads, which
    // keeps the full set even after the calling thread was pinned while other threads exist.
    allowed = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(topo->hw));
    if (!allowed) {
        st = dpt_error(DPT_ERR_NOMEM, "topology: out of memory");
        goto cleanup;
    }
    if (topo->real) {
        hwloc_bitmap_t bound = hwloc_bitmap_alloc();
        if (!bound) {
            st = dpt_error(DPT_ERR_NOMEM, "topology: out of memory");
            goto cleanup;
        }
        // Where the OS cannot report the binding (ENOSYS), every allowed PU counts.
        if (hwloc_get_cpubind(topo->hw, bound, HWLOC_CPUBIND_PROCESS) == 0 &&
            !hwloc_bitmap_iszero(bound))
            hwloc_bitmap_and(allowed, allowed, bound);
        hwloc_bitmap_free(bound);
    }
    st = plan(topo, allowed);
    if (st != DPT_OK)
        goto cleanup;
    allowed = NULL; // owned by topo now
    *out = topo;
    topo = NULL;

cleanup:
    hwloc_bitmap_free(allowed);
    dpt_topo_destroy(topo);
    return st;
}

// Loads this machine's topology; usable PUs are the process's allowed cpuset (cgroup and
// taskset). The caller owns *out. Failure: DPT_ERR_SYSTEM / DPT_ERR_NOMEM with a message.
enum dpt_status dpt_topo_create(struct dpt_topo **out)
{
    return topo_load(NULL, out);
}

// A synthetic topology from an hwloc description; every PU is usable and binding is refused.
enum dpt_status dpt_topo_create_synthetic(const char *desc, struct dpt_topo **out)
{
    if (!desc) {
        if (out)
            *out = NULL;
        return dpt_error(DPT_ERR_INVALID, "topology: synthetic description is NULL");
    }
    return topo_load(desc, out);
}

// Frees the topology; NULL is a no-op.
void dpt_topo_destroy(struct dpt_topo *topo)
{
    if (!topo)
        return;
    if (topo->hw)
        hwloc_topology_destroy(topo->hw);
    hwloc_bitmap_free(topo->allowed);
    dpt_free(topo->compact);
    dpt_free(topo->scatter);
    dpt_free(topo);
}

// ---- restriction ----

// Parses an unsigned decimal PU number at text[*pos]; advances *pos. Returns -1 when there are
// no digits or the value exceeds max (bounding the bitmap we allocate); *too_big tells which.
static long parse_pu(const char *text, size_t *pos, long max, int *too_big)
{
    size_t i = *pos;
    long long v = 0; // stays <= 10 * max + 9: digits past max are skipped, not accumulated
    *too_big = 0;
    if (text[i] < '0' || text[i] > '9')
        return -1;
    while (text[i] >= '0' && text[i] <= '9') {
        if (v <= max)
            v = v * 10 + (text[i] - '0');
        i++;
    }
    *pos = i;
    if (v > max) {
        *too_big = 1;
        return -1;
    }
    return (long)v;
}

// Parses "0-3,8" (comma-separated PU numbers and inclusive ranges, no spaces) into set, naming
// the text and the column of the first problem. PUs must exist in the topology.
static enum dpt_status parse_cpulist(const struct dpt_topo *topo, const char *text,
                                     hwloc_bitmap_t set)
{
    hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo->hw);
    long last = hwloc_bitmap_last(all);
    size_t pos = 0;

    if (text[0] == '\0')
        return dpt_error(DPT_ERR_INVALID, "cpu list '': empty (expected e.g. '0-3,8')");
    for (;;) {
        int big;
        size_t start = pos;
        long lo = parse_pu(text, &pos, last, &big), hi;
        if (lo < 0)
            goto bad_number;
        hi = lo;
        if (text[pos] == '-') {
            pos++;
            start = pos;
            hi = parse_pu(text, &pos, last, &big);
            if (hi < 0)
                goto bad_number;
            if (hi < lo)
                return dpt_error(DPT_ERR_INVALID,
                                 "cpu list '%s': column %zu: range end %ld is below its start %ld",
                                 text, start + 1, hi, lo);
        }
        if (hwloc_bitmap_set_range(set, (unsigned)lo, (int)hi) != 0)
            return dpt_error(DPT_ERR_NOMEM, "cpu list '%s': out of memory", text);
        if (text[pos] == '\0')
            break;
        if (text[pos] != ',')
            return dpt_error(DPT_ERR_INVALID,
                             "cpu list '%s': column %zu: expected ',' or '-', got '%c'", text,
                             pos + 1, text[pos]);
        pos++;
        continue;
    bad_number:
        if (big)
            return dpt_error(DPT_ERR_INVALID,
                             "cpu list '%s': column %zu: PU number exceeds the last PU %ld", text,
                             start + 1, last);
        return dpt_error(DPT_ERR_INVALID, "cpu list '%s': column %zu: expected a PU number", text,
                         start + 1);
    }
    // Holes in the OS numbering (offline CPUs) are not PUs either.
    if (!hwloc_bitmap_isincluded(set, all)) {
        hwloc_bitmap_t missing = hwloc_bitmap_alloc();
        int first = -1;
        if (missing) {
            hwloc_bitmap_andnot(missing, set, all);
            first = hwloc_bitmap_first(missing);
            hwloc_bitmap_free(missing);
        }
        return dpt_error(DPT_ERR_INVALID, "cpu list '%s': PU %d does not exist in the topology",
                         text, first);
    }
    return DPT_OK;
}

// Narrows the usable PUs to the intersection with cpulist (OS indexes). Bad lists, PUs missing
// from the topology and an empty intersection give DPT_ERR_INVALID and leave topo unchanged.
// Not thread-safe with other calls on the same topo.
enum dpt_status dpt_topo_restrict(struct dpt_topo *topo, const char *cpulist)
{
    enum dpt_status st = DPT_OK;
    hwloc_bitmap_t set = NULL, allowed = NULL;

    if (!topo)
        return dpt_error(DPT_ERR_INVALID, "dpt_topo_restrict: topo is NULL");
    if (!cpulist)
        return dpt_error(DPT_ERR_INVALID, "cpu list is NULL");
    set = hwloc_bitmap_alloc();
    allowed = hwloc_bitmap_alloc();
    if (!set || !allowed) {
        st = dpt_error(DPT_ERR_NOMEM, "cpu list '%s': out of memory", cpulist);
        goto cleanup;
    }
    st = parse_cpulist(topo, cpulist, set);
    if (st != DPT_OK)
        goto cleanup;
    hwloc_bitmap_and(allowed, topo->allowed, set);
    if (hwloc_bitmap_iszero(allowed)) {
        char cur[256];
        hwloc_bitmap_list_snprintf(cur, sizeof cur, topo->allowed);
        st = dpt_error(DPT_ERR_INVALID, "cpu list '%s': none of these PUs is allowed (allowed: %s)",
                       cpulist, cur);
        goto cleanup;
    }
    st = plan(topo, allowed);
    if (st == DPT_OK)
        allowed = NULL; // owned by topo now

cleanup:
    hwloc_bitmap_free(set);
    hwloc_bitmap_free(allowed);
    return st;
}

// ---- queries ----

// Number of usable cores (>= 1 for every successfully created topology). Thread-safe.
size_t dpt_topo_groups(const struct dpt_topo *topo, const int *pu, size_t nth, unsigned *group_of)
{
    hwloc_topology_t hw = topo->hw;
    for (size_t t = 0; t < nth; t++)
        group_of[t] = 0;
    for (size_t t = 0; t < nth; t++)
        if (pu[t] < 0 || !hwloc_get_pu_obj_by_os_index(hw, (unsigned)pu[t]))
            return 1; // unbound workers: nothing to group by
    // Innermost level first: the L3 a worker's core shares, its NUMA node, its package.
    for (int level = 0; level < 3; level++) {
        size_t n_groups = 0;
        unsigned keys[64];
        int overflow = 0;
        for (size_t t = 0; t < nth && !overflow; t++) {
            hwloc_obj_t obj = hwloc_get_pu_obj_by_os_index(hw, (unsigned)pu[t]);
            const unsigned key = level == 0   ? ancestor_key(hw, HWLOC_OBJ_L3CACHE, obj)
                                 : level == 1 ? numa_key(hw, obj)
                                              : ancestor_key(hw, HWLOC_OBJ_PACKAGE, obj);
            size_t g = 0;
            while (g < n_groups && keys[g] != key)
                g++;
            if (g == n_groups) {
                if (n_groups == sizeof keys / sizeof keys[0]) {
                    overflow = 1; // too many groups for two levels to help: the next level
                    break;
                }
                keys[n_groups++] = key;
            }
            group_of[t] = (unsigned)g;
        }
        if (!overflow && n_groups > 1 && n_groups < nth)
            return n_groups;
    }
    // One cache domain: past DPT_BARRIER_FLAT_MAX workers, runs of neighbours (barrier_impl.h).
    const size_t run = dpt_barrier_run(nth);
    for (size_t t = 0; t < nth; t++)
        group_of[t] = (unsigned)(t / run);
    return (nth + run - 1) / run;
}

size_t dpt_topo_barrier_groups(const struct dpt_topo *topo, enum dpt_pin pin, size_t nth)
{
    if (nth <= 1)
        return 1;
    int *pu = dpt_calloc(nth, sizeof *pu);
    unsigned *group_of = dpt_calloc(nth, sizeof *group_of);
    size_t n = 0;
    if (!pu || !group_of)
        dpt_error(DPT_ERR_NOMEM, "out of memory for the barrier groups of %zu workers", nth);
    else if (dpt_topo_place(topo, pin, nth, pu) == DPT_OK)
        n = dpt_topo_groups(topo, pu, nth, group_of);
    dpt_free(pu);
    dpt_free(group_of);
    return n;
}

size_t dpt_topo_n_cores(const struct dpt_topo *topo)
{
    return topo ? topo->n_cores : 0;
}

// Fills pu[0..nth) with each worker's PU under pin (see the rules at the top). Thread-safe.
enum dpt_status dpt_topo_place(const struct dpt_topo *topo, enum dpt_pin pin, size_t nth, int *pu)
{
    if (!topo)
        return dpt_error(DPT_ERR_INVALID, "dpt_topo_place: topo is NULL");
    if (nth > 0 && !pu)
        return dpt_error(DPT_ERR_INVALID, "dpt_topo_place: pu is NULL for %zu workers", nth);
    const int *order;
    switch (pin) {
    case DPT_PIN_COMPACT:
        order = topo->compact;
        break;
    case DPT_PIN_SCATTER:
        order = topo->scatter;
        break;
    case DPT_PIN_NONE:
        for (size_t ith = 0; ith < nth; ith++)
            pu[ith] = -1;
        return DPT_OK;
    default:
        return dpt_error(DPT_ERR_INVALID, "dpt_topo_place: unknown pin policy %d", (int)pin);
    }
    for (size_t ith = 0; ith < nth; ith++)
        pu[ith] = order[ith % topo->n_cores];
    return DPT_OK;
}

static const char *plural(int n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

// One line, e.g. "1 package, 1 NUMA node, 1 L3, 2 cores, 2 PUs; allowed PUs 0-1 (2 usable
// cores)". Counts are of the whole topology; the allowed set is what placement uses.
void dpt_topo_describe(const struct dpt_topo *topo, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    if (!topo) {
        snprintf(buf, len, "(no topology)");
        return;
    }
    hwloc_topology_t hw = topo->hw;
    int n_pack = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_PACKAGE);
    int n_numa = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_NUMANODE);
    int n_l3 = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_L3CACHE);
    int n_core = hwloc_get_nbobjs_by_type(hw, core_type(hw));
    int n_pu = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_PU);
    char allowed[256];
    // A very long list is truncated; the line stays one line.
    hwloc_bitmap_list_snprintf(allowed, sizeof allowed, topo->allowed);
    snprintf(buf, len, "%d %s, %d %s, %d %s, %d %s, %d %s; allowed PUs %s (%zu usable %s)", n_pack,
             plural(n_pack, "package", "packages"), n_numa,
             plural(n_numa, "NUMA node", "NUMA nodes"), n_l3, plural(n_l3, "L3", "L3s"), n_core,
             plural(n_core, "core", "cores"), n_pu, plural(n_pu, "PU", "PUs"), allowed,
             topo->n_cores, topo->n_cores == 1 ? "core" : "cores");
}

// ---- binding ----

// Binds the calling thread to PU `pu` (OS index; -1 is a no-op). DPT_ERR_INVALID for a PU that
// is not usable, DPT_ERR_UNSUPPORTED on synthetic topologies, DPT_ERR_SYSTEM when the OS
// refuses. Thread-safe: each worker binds itself.
enum dpt_status dpt_topo_bind_self(const struct dpt_topo *topo, int pu)
{
    if (!topo)
        return dpt_error(DPT_ERR_INVALID, "dpt_topo_bind_self: topo is NULL");
    if (pu == -1)
        return DPT_OK;
    if (pu < 0 || !hwloc_bitmap_isset(topo->allowed, (unsigned)pu)) {
        char cur[256];
        hwloc_bitmap_list_snprintf(cur, sizeof cur, topo->allowed);
        return dpt_error(DPT_ERR_INVALID, "binding to PU %d: not an allowed PU (allowed: %s)", pu,
                         cur);
    }
    if (!topo->real)
        return dpt_error(DPT_ERR_UNSUPPORTED,
                         "binding to PU %d: not possible on a synthetic topology", pu);
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set)
        return dpt_error(DPT_ERR_NOMEM, "binding to PU %d: out of memory", pu);
    hwloc_bitmap_only(set, (unsigned)pu);
    int rc = hwloc_set_cpubind(topo->hw, set, HWLOC_CPUBIND_THREAD);
    int err = errno;
    hwloc_bitmap_free(set);
    if (rc != 0) {
        char msg[128];
        errno_text(err, msg, sizeof msg);
        return dpt_error(DPT_ERR_SYSTEM, "binding thread to PU %d: %s", pu, msg);
    }
    return DPT_OK;
}

// ---- private accessors ----

hwloc_topology_t dpt_topo_hwloc(const struct dpt_topo *topo)
{
    return topo->hw;
}

bool dpt_topo_is_real(const struct dpt_topo *topo)
{
    return topo->real;
}

enum dpt_status dpt_topo_binding_save(const struct dpt_topo *topo, struct dpt_topo_binding **out)
{
    *out = NULL;
    if (!topo->real)
        return DPT_OK;
    struct dpt_topo_binding *b = dpt_calloc(1, sizeof *b);
    if (!b || !(b->set = hwloc_bitmap_alloc())) {
        dpt_free(b);
        return dpt_error(DPT_ERR_NOMEM, "saving thread binding: out of memory");
    }
    if (hwloc_get_cpubind(topo->hw, b->set, HWLOC_CPUBIND_THREAD) != 0) {
        char msg[128];
        errno_text(errno, msg, sizeof msg);
        dpt_topo_binding_destroy(b);
        return dpt_error(DPT_ERR_SYSTEM, "saving thread binding: %s", msg);
    }
    *out = b;
    return DPT_OK;
}

enum dpt_status dpt_topo_binding_restore(const struct dpt_topo *topo,
                                         const struct dpt_topo_binding *saved)
{
    if (!saved)
        return DPT_OK;
    if (hwloc_set_cpubind(topo->hw, saved->set, HWLOC_CPUBIND_THREAD) != 0) {
        char msg[128];
        errno_text(errno, msg, sizeof msg);
        return dpt_error(DPT_ERR_SYSTEM, "restoring thread binding: %s", msg);
    }
    return DPT_OK;
}

void dpt_topo_binding_destroy(struct dpt_topo_binding *saved)
{
    if (!saved)
        return;
    hwloc_bitmap_free(saved->set);
    dpt_free(saved);
}
