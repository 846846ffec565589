// dpt_schedule_parse: accepted spellings, every error class (DPT_ERR_INVALID, no schedule, a
// message quoting the offending token and its position), the nesting bound, and robustness on
// mangled and random strings.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dptrain/dptrain.h>

static void check_ok(const char *spec)
{
    struct dpt_schedule *s = NULL;
    enum dpt_status st = dpt_schedule_parse(spec, &s);
    cr_assert_eq(st, DPT_OK, "'%s' rejected: %s", spec, dpt_last_error());
    cr_assert_not_null(s);
    cr_assert_not_null(s->step);
    cr_assert_not_null(s->name);
    cr_assert_eq(dpt_schedule_init(s, 64), DPT_OK, "%s: %s", spec, dpt_last_error());
    dpt_schedule_destroy(s);
}

Test(optim, parse_accepts_valid_strings)
{
    static const char *ok[] = {
        "fixed",
        "sgd",
        "sgd:lr=1",
        "normalized:lr=0.5",
        "adagrad:lr=0.05",
        "adagrad:eps=1e-10,lr=0.05",
        "momentum:mu=0",
        "nesterov:lr=0.1,mu=0.99,wd=1e-4",
        "rmsprop:rho=0,eps=1",
        "adam:lr=1e-3,b1=0.9",
        "adam:lr=1E-3,b1=.5,b2=0.,eps=+1e-8",
        "adam:lr=0x1p-10",
        "adamw:wd=0",
        "clip(adam)",
        "clip(adam),max_norm=5",
        "step(sgd),every=1,gamma=1",
        "exp(sgd),gamma=0.5",
        "invtime(sgd),k=0",
        "cosine(adam:lr=1e-3),t=5000",
        "cosine(sgd),t=1,min=1",
        "warmup(sgd),t=1",
        "warmup(cosine(adam:lr=1e-3),t=5000),t=100",
        "clip(warmup(cosine(adamw:lr=3e-4,wd=0.1),t=10000,min=0.1),t=500),max_norm=1",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        check_ok(ok[i]);
}

Test(optim, parse_alias_and_names)
{
    struct dpt_schedule *s = NULL;
    cr_assert_eq(dpt_schedule_parse("sgd:lr=0.5", &s), DPT_OK);
    cr_assert_str_eq(s->name, "fixed");
    dpt_schedule_destroy(s);
    cr_assert_eq(dpt_schedule_parse("warmup(cosine(adam))", &s), DPT_OK);
    cr_assert_str_eq(s->name, "warmup");
    cr_assert_str_eq(s->inner->name, "cosine");
    cr_assert_str_eq(s->inner->inner->name, "adam");
    cr_assert_null(s->inner->inner->inner);
    dpt_schedule_destroy(s);
}

// One bad string: DPT_ERR_INVALID, *out reset to NULL, and the message holds every needle
// (the quoted token, its position, the kind of problem).
static void check_bad(const char *spec, const char *n1, const char *n2, const char *n3)
{
    struct dpt_schedule *s = (struct dpt_schedule *)&s; // must be reset to NULL
    dpt_error_clear();
    enum dpt_status st = dpt_schedule_parse(spec, &s);
    const char *msg = dpt_last_error();
    cr_assert_eq(st, DPT_ERR_INVALID, "'%s' gave status %d (%s)", spec ? spec : "(null)", st, msg);
    cr_assert_null(s, "'%s': *out not NULL on error", spec ? spec : "(null)");
    const char *needles[] = {n1, n2, n3};
    for (int i = 0; i < 3; i++)
        if (needles[i])
            cr_assert_not_null(strstr(msg, needles[i]), "'%s': message '%s' lacks \"%s\"",
                               spec ? spec : "(null)", msg, needles[i]);
}

Test(optim, parse_rejects_null_and_empty)
{
    check_bad(NULL, "NULL", NULL, NULL);
    check_bad("", "empty", NULL, NULL);
    cr_assert_eq(dpt_schedule_parse("adam", NULL), DPT_ERR_INVALID);
}

Test(optim, parse_rejects_unknown_names)
{
    check_bad("adm", "'adm'", "position 0", "adam"); // the valid names are listed
    check_bad("adm", "warmup", "sgd", NULL);
    check_bad("Adam", "'Adam'", "position 0", NULL); // names are case-sensitive
    check_bad("warmup(adm),t=5", "'adm'", "position 7", NULL);
    check_bad("clip(cosine(sgd_x))", "'sgd_x'", "position 12", NULL);
}

Test(optim, parse_rejects_unknown_keys)
{
    check_bad("adam:lr=0.1,foo=2", "'foo'", "position 12", "b1"); // valid keys listed
    check_bad("sgd:mu=0.9", "'mu'", "position 4", "'sgd'");
    check_bad("cosine(adam:lr=0.1,t=5)", "'t'", "position 19", "'adam'");
    check_bad("warmup(sgd),gamma=0.5", "'gamma'", "position 12", "'warmup'");
    check_bad("normalized:wd=0.1", "'wd'", "position 11", NULL);
}

Test(optim, parse_rejects_bad_numbers)
{
    check_bad("adam:lr=abc", "'abc'", "position 8", "not a number");
    check_bad("adam:lr=1e-3x", "'1e-3x'", "position 8", "not a number");
    check_bad("adam:lr=1.2.3", "'1.2.3'", "position 8", "not a number");
    check_bad("adam:lr=0x", "'0x'", "position 8", "not a number");
    check_bad("adam:lr=inf", "'inf'", "position 8", "not finite");
    check_bad("adam:lr=nan", "'nan'", "position 8", "not finite");
    check_bad("adam:lr=1e999", "'1e999'", "position 8", "not finite");
    check_bad("adam:lr=", "expected a number", "position 8", "end of string");
    check_bad("adam:lr= 1", "expected a number", "position 8", "' '");
    check_bad("adam:lr=1111111111111111111111111111111111111111111111111111111111111111111",
              "position 8", "not a number", "'1111111111");
}

Test(optim, parse_rejects_out_of_range)
{
    check_bad("adam:lr=0", "'0'", "position 8", "out of range");
    check_bad("adam:lr=-1", "'-1'", "lr must be > 0", NULL);
    check_bad("adam:lr=1e-400", "'1e-400'", "out of range", NULL); // underflows to 0
    check_bad("adam:b1=1", "'1'", "b1 must be in [0, 1)", "position 8");
    check_bad("adam:b2=1.5", "'1.5'", "b2", NULL);
    check_bad("adam:b1=-0.1", "'-0.1'", "b1", NULL);
    check_bad("adam:eps=0", "'0'", "eps must be > 0", "position 9");
    check_bad("adamw:wd=-0.1", "'-0.1'", "wd must be >= 0", NULL);
    check_bad("momentum:mu=1", "'1'", "mu", "position 12");
    check_bad("nesterov:mu=-1", "'-1'", "mu", NULL);
    check_bad("rmsprop:rho=1", "'1'", "rho", NULL);
    check_bad("clip(sgd),max_norm=0", "'0'", "max_norm must be > 0", "position 19");
    check_bad("step(sgd),every=0", "'0'", "every must be an integer", "position 16");
    check_bad("step(sgd),every=2.5", "'2.5'", "integer", NULL);
    check_bad("step(sgd),gamma=0", "'0'", "gamma must be in (0, 1]", NULL);
    check_bad("exp(sgd),gamma=1.5", "'1.5'", "gamma", NULL);
    check_bad("invtime(sgd),k=-1", "'-1'", "k must be >= 0", NULL);
    check_bad("cosine(sgd),t=0", "'0'", "t must be an integer", "position 14");
    check_bad("cosine(sgd),min=1.5", "'1.5'", "min must be in [0, 1]", NULL);
    check_bad("warmup(sgd),t=0.5", "'0.5'", "integer", NULL);
    check_bad("warmup(sgd),t=1e16", "'1e16'", "integer", NULL);
}

Test(optim, parse_rejects_duplicate_keys)
{
    check_bad("adam:lr=0.1,lr=0.2", "duplicate", "'lr'", "position 12");
    check_bad("cosine(adam),t=5,t=6", "duplicate", "'t'", "position 17");
}

Test(optim, parse_rejects_missing_paren)
{
    check_bad("cosine(adam", "missing ')'", "position 11", "'cosine('");
    check_bad("cosine(adam:lr=0.1", "missing ')'", "position 18", "end of string");
    check_bad("warmup(cosine(adam),t=5", "missing ')'", "'warmup('", "position 23");
    check_bad("clip(adam;)", "missing ')'", "position 9", "';'");
}

Test(optim, parse_rejects_trailing_garbage)
{
    check_bad("adam:lr=0.1)", "unexpected ')'", "position 11", NULL);
    check_bad("adam xyz", "' xyz'", "position 4", NULL);
    check_bad("adam,lr=1", "',lr=1'", "position 4", NULL);
    check_bad("clip(adam)x", "'x'", "position 10", NULL);
    check_bad("adam\x01", "'?'", "position 4", NULL); // non-printable bytes quoted as '?'
}

Test(optim, parse_rejects_malformed_structure)
{
    check_bad("adam:", "expected a key", "position 5", "end of string");
    check_bad("adam:lr", "expected '='", "position 7", NULL);
    check_bad("adam:lr=0.1,", "expected a key", "position 12", NULL);
    check_bad("adam:=1", "expected a key", "position 5", "'='");
    check_bad("clip", "'clip'", "needs '('", "end of string");
    check_bad("clip:max_norm=1", "'clip'", "needs '('", "':'");
    check_bad("clip()", "expected a schedule name", "position 5", "')'");
    check_bad("adam(sgd)", "not a wrapper", "position 4", "'('");
    check_bad(" adam", "expected a schedule name", "position 0", "' '");
    check_bad("(adam)", "expected a schedule name", "position 0", NULL);
    check_bad("\xff", "expected a schedule name", "byte 0xff", NULL);
}

// Nesting is bounded at 16 wrappers so no string can exhaust the stack.
Test(optim, parse_bounds_nesting)
{
    char buf[512];
    for (int depth = 15; depth <= 17; depth++) {
        size_t used = 0;
        for (int i = 0; i < depth; i++)
            used += (size_t)snprintf(buf + used, sizeof buf - used, "warmup(");
        used += (size_t)snprintf(buf + used, sizeof buf - used, "sgd");
        for (int i = 0; i < depth; i++)
            used += (size_t)snprintf(buf + used, sizeof buf - used, ")");
        if (depth <= 16)
            check_ok(buf);
        else
            check_bad(buf, "deeper than 16", "'warmup('", "position 112");
    }
    // A very deep string fails the same way without recursing through all of it.
    char *deep = malloc(7 * 100000 + 1);
    cr_assert_not_null(deep);
    for (int i = 0; i < 100000; i++)
        memcpy(deep + 7 * i, "warmup(", 7);
    deep[7 * 100000] = '\0';
    check_bad(deep, "deeper than 16", NULL, NULL);
    free(deep);
}

// Every prefix, every one-byte deletion and every one-byte substitution of a long valid string
// is either accepted or rejected cleanly (DPT_ERR_INVALID with a positioned message); never a
// crash, a leak (under ASan) or another status.
static void check_clean(const char *spec)
{
    struct dpt_schedule *s = NULL;
    enum dpt_status st = dpt_schedule_parse(spec, &s);
    if (st == DPT_OK) {
        cr_assert_not_null(s);
        cr_assert_eq(dpt_schedule_init(s, 3), DPT_OK, "'%s': %s", spec, dpt_last_error());
        dpt_schedule_destroy(s);
        return;
    }
    cr_assert_eq(st, DPT_ERR_INVALID, "'%s': status %d", spec, st);
    cr_assert_null(s);
    if (spec[0] != '\0')
        cr_assert_not_null(strstr(dpt_last_error(), "position"), "'%s': message '%s'", spec,
                           dpt_last_error());
}

Test(optim, parse_survives_mangled_strings)
{
    const char *valid = "clip(warmup(cosine(adamw:lr=3e-4,b1=0.9,wd=0.1),t=100,min=0.1),t=5),"
                        "max_norm=1.5";
    const char alphabet[] = "(),:=.+-e0159xclipadamwsgd_\x01\xff ";
    size_t len = strlen(valid);
    char buf[256];
    for (size_t i = 0; i <= len; i++) {
        memcpy(buf, valid, i);
        buf[i] = '\0';
        check_clean(buf); // prefix
        if (i < len) {
            memcpy(buf, valid, len + 1);
            memmove(buf + i, buf + i + 1, len - i);
            check_clean(buf); // deletion
            for (size_t a = 0; a + 1 < sizeof alphabet; a++) {
                memcpy(buf, valid, len + 1);
                buf[i] = alphabet[a];
                check_clean(buf); // substitution
            }
        }
    }
}

Test(optim, parse_survives_random_strings)
{
    const char alphabet[] = "(),:=.+-e0123456789xclipwarmupcosinestepexpinvtimeadamwsgdlrtkmin_";
    uint64_t x = 0x9e3779b97f4a7c15u;
    char buf[64];
    for (int n = 0; n < 20000; n++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; // xorshift64
        size_t len = (size_t)(x % 48);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[i] = alphabet[x % (sizeof alphabet - 1)];
        }
        buf[len] = '\0';
        struct dpt_schedule *s = NULL;
        enum dpt_status st = dpt_schedule_parse(buf, &s);
        cr_assert(st == DPT_OK || st == DPT_ERR_INVALID, "'%s': status %d", buf, st);
        dpt_schedule_destroy(s);
    }
}
