// Allocation-failure walks shared by the module suites (tests/<module>/test_alloc.c): run a
// creation function with its k-th allocation failing, for k = 0, 1, 2, ... until a run makes
// fewer than k + 1 allocations, and check every failed run: an error status with a message, and
// no allocation left behind (the wrappers' live count, plus ASan's leak checker in the asan
// preset). Header-only; uses the test hooks of src/core/error_impl.h.
#ifndef DPT_TESTS_ALLOC_WALK_H
#define DPT_TESTS_ALLOC_WALK_H

#include <criterion/criterion.h>

#include "core/error_impl.h"
#include "dptrain/dptrain.h"

// One attempt: creates whatever is under test and, when that succeeded, destroys it again, so a
// successful attempt leaves nothing allocated either. Returns the creation's status.
typedef enum dpt_status (*alloc_attempt_fn)(void *arg);

// Far above the few hundred allocations any creation makes: a walk that gets here is stuck.
#define ALLOC_WALK_MAX 100000L

// Walks every allocation of attempt(arg). `expect` is the status a failed allocation must
// produce (DPT_ERR_NOMEM), or DPT_OK to accept any error status (for calls that report a failed
// allocation inside a third-party library as that library's failure). Returns the number of
// allocations the successful run made, so tests can check the walk covered something.
static inline long alloc_walk(const char *what, alloc_attempt_fn attempt, void *arg,
                              enum dpt_status expect)
{
    for (long k = 0; k < ALLOC_WALK_MAX; k++) {
        long before = dpt_alloc_outstanding();
        dpt_error_clear();
        dpt_alloc_fail_after(k);
        enum dpt_status st = attempt(arg);
        int fired = dpt_alloc_fail_fired();
        dpt_alloc_fail_after(-1);
        long leaked = dpt_alloc_outstanding() - before;
        cr_assert_eq(leaked, 0, "%s: with allocation %ld failing: %ld allocation(s) leaked", what,
                     k, leaked);
        if (!fired) {
            cr_assert_eq(st, DPT_OK, "%s: no allocation failed, yet: %s: %s", what,
                         dpt_status_str(st), dpt_last_error());
            cr_log_info("%s: %ld allocations, each failed in turn", what, k);
            return k;
        }
        // A failure the code can live without (st == DPT_OK) is fine; an error must say so.
        if (st != DPT_OK) {
            if (expect != DPT_OK)
                cr_assert_eq(st, expect, "%s: allocation %ld failing gave '%s' (%s), not '%s'",
                             what, k, dpt_status_str(st), dpt_last_error(), dpt_status_str(expect));
            cr_assert_lt((int)st, 0);
            cr_assert_neq(dpt_last_error()[0], '\0',
                          "%s: allocation %ld failing gave '%s' without a message", what, k,
                          dpt_status_str(st));
        }
    }
    cr_assert_fail("%s: still failing after %ld allocations", what, ALLOC_WALK_MAX);
    return -1;
}

#endif
