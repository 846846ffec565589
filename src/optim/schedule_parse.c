// dpt_schedule_parse: the schedule string grammar of optim.h, the table of built-in names with
// their keys, defaults and ranges (docs/schedules.md mirrors it), and the error messages.
//
// A recursive-descent parser over the string with one position cursor. Every error names the
// offending token and its 0-based position; nothing is allocated before a name is known, and a
// partly built chain is destroyed on any error. Nesting is bounded so no input can exhaust the
// stack.
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_impl.h"
#include "optim/schedule_impl.h"

// Wrappers that may enclose one another; deeper strings are rejected (bounds the recursion).
#define MAX_DEPTH 16
// Longest number token accepted ("0.000...": long enough for any honest double literal).
#define MAX_NUMBER 63
// Longest token quoted in a message, so a fuzzed string cannot crowd the rest out.
#define MAX_QUOTE 32

// ---- the table ----

struct key_spec {
    const char *name;
    size_t offset; // into struct dpt_sched_hyper
    double def;
    double lo, hi;          // allowed range, hi may be +inf
    unsigned char lo_open;  // lo itself is not allowed
    unsigned char hi_open;  // hi itself is not allowed
    unsigned char integral; // must be a whole number
};

#define HYPER(field) offsetof(struct dpt_sched_hyper, field)
#define INF          HUGE_VAL
// Counts (periods, lengths) stay below 2^53 so they are exact doubles and exact step numbers.
#define MAX_COUNT 1e15

#define KEY_LR(def)                                                                                \
    {                                                                                              \
        "lr", HYPER(lr), def, 0.0, INF, 1, 1, 0                                                    \
    }
#define KEY_WD(def)                                                                                \
    {                                                                                              \
        "wd", HYPER(wd), def, 0.0, INF, 0, 1, 0                                                    \
    }
#define KEY_EPS(def)                                                                               \
    {                                                                                              \
        "eps", HYPER(eps), def, 0.0, INF, 1, 1, 0                                                  \
    }
#define KEY_MU(def)                                                                                \
    {                                                                                              \
        "mu", HYPER(mu), def, 0.0, 1.0, 0, 1, 0                                                    \
    }

static const struct key_spec keys_fixed[] = {KEY_LR(0.01), KEY_WD(0.0)};
static const struct key_spec keys_normalized[] = {KEY_LR(0.01)};
static const struct key_spec keys_adagrad[] = {KEY_LR(0.01), KEY_EPS(1e-8), KEY_WD(0.0)};
static const struct key_spec keys_momentum[] = {KEY_LR(0.01), KEY_MU(0.9), KEY_WD(0.0)};
static const struct key_spec keys_rmsprop[] = {
    KEY_LR(0.001), {"rho", HYPER(rho), 0.99, 0.0, 1.0, 0, 1, 0}, KEY_EPS(1e-8), KEY_WD(0.0)};
static const struct key_spec keys_adam[] = {KEY_LR(0.001),
                                            {"b1", HYPER(b1), 0.9, 0.0, 1.0, 0, 1, 0},
                                            {"b2", HYPER(b2), 0.999, 0.0, 1.0, 0, 1, 0},
                                            KEY_EPS(1e-8),
                                            KEY_WD(0.0)};
static const struct key_spec keys_adamw[] = {KEY_LR(0.001),
                                             {"b1", HYPER(b1), 0.9, 0.0, 1.0, 0, 1, 0},
                                             {"b2", HYPER(b2), 0.999, 0.0, 1.0, 0, 1, 0},
                                             KEY_EPS(1e-8),
                                             KEY_WD(0.01)};

static const struct key_spec keys_clip[] = {{"max_norm", HYPER(max_norm), 1.0, 0.0, INF, 1, 1, 0}};
static const struct key_spec keys_step[] = {
    {"every", HYPER(every), 1000.0, 1.0, MAX_COUNT, 0, 0, 1},
    {"gamma", HYPER(gamma), 0.1, 0.0, 1.0, 1, 0, 0}};
static const struct key_spec keys_exp[] = {{"gamma", HYPER(gamma), 0.9999, 0.0, 1.0, 1, 0, 0}};
static const struct key_spec keys_invtime[] = {{"k", HYPER(k), 1e-3, 0.0, INF, 0, 1, 0}};
static const struct key_spec keys_cosine[] = {{"t", HYPER(t), 10000.0, 1.0, MAX_COUNT, 0, 0, 1},
                                              {"min", HYPER(min), 0.0, 0.0, 1.0, 0, 0, 0}};
static const struct key_spec keys_warmup[] = {{"t", HYPER(t), 1000.0, 1.0, MAX_COUNT, 0, 0, 1}};

struct kind {
    const char *name;
    const struct key_spec *keys;
    size_t n_keys;
    // Exactly one of these is set: a base schedule or a wrapper.
    enum dpt_status (*make_base)(const struct dpt_sched_hyper *h, struct dpt_schedule **out);
    enum dpt_status (*make_wrap)(const struct dpt_sched_hyper *h, struct dpt_schedule *inner,
                                 struct dpt_schedule **out);
};

#define KEYS(a) a, sizeof a / sizeof a[0]

static const struct kind kinds[] = {
    {"fixed", KEYS(keys_fixed), dpt_sched_make_fixed, NULL},
    {"sgd", KEYS(keys_fixed), dpt_sched_make_fixed, NULL},
    {"normalized", KEYS(keys_normalized), dpt_sched_make_normalized, NULL},
    {"adagrad", KEYS(keys_adagrad), dpt_sched_make_adagrad, NULL},
    {"momentum", KEYS(keys_momentum), dpt_sched_make_momentum, NULL},
    {"nesterov", KEYS(keys_momentum), dpt_sched_make_nesterov, NULL},
    {"rmsprop", KEYS(keys_rmsprop), dpt_sched_make_rmsprop, NULL},
    {"adam", KEYS(keys_adam), dpt_sched_make_adam, NULL},
    {"adamw", KEYS(keys_adamw), dpt_sched_make_adamw, NULL},
    {"clip", KEYS(keys_clip), NULL, dpt_sched_make_clip},
    {"step", KEYS(keys_step), NULL, dpt_sched_make_stepdecay},
    {"exp", KEYS(keys_exp), NULL, dpt_sched_make_exp},
    {"invtime", KEYS(keys_invtime), NULL, dpt_sched_make_invtime},
    {"cosine", KEYS(keys_cosine), NULL, dpt_sched_make_cosine},
    {"warmup", KEYS(keys_warmup), NULL, dpt_sched_make_warmup},
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

// ---- lexing helpers ----

struct parser {
    const char *text;
    size_t pos;
};

// ASCII only: the grammar is ASCII, and <ctype.h> would depend on the locale and on the sign of
// char for bytes >= 0x80.
static int is_ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int is_number_char(char c)
{
    return is_ident(c) || c == '+' || c == '-' || c == '.';
}

static size_t span(const char *s, int (*pred)(char))
{
    size_t n = 0;
    while (s[n] != '\0' && pred(s[n]))
        n++;
    return n;
}

// A token of the input, fit for a message: at most MAX_QUOTE characters ("..." marks the cut) and
// non-printable bytes shown as '?'. buf must hold MAX_QUOTE + 4 bytes.
static const char *quote(const char *s, size_t len, char *buf)
{
    size_t n = len < MAX_QUOTE ? len : MAX_QUOTE;
    for (size_t i = 0; i < n; i++)
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (n < len) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

// Describes the character at the cursor for "found ..." in messages. buf holds 24 bytes.
static const char *found(const struct parser *p, char *buf)
{
    unsigned char c = (unsigned char)p->text[p->pos];
    if (c == '\0')
        snprintf(buf, 24, "end of string");
    else if (c >= 0x20 && c < 0x7f)
        snprintf(buf, 24, "'%c'", c);
    else
        snprintf(buf, 24, "byte 0x%02x", c);
    return buf;
}

// Comma-separated names of the base schedules (wrappers == 0) or wrappers (wrappers == 1), or
// of both (wrappers < 0), into buf of cap bytes.
static const char *kind_list(int wrappers, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_KINDS; i++) {
        int is_wrap = kinds[i].make_wrap != NULL;
        if (wrappers >= 0 && is_wrap != wrappers)
            continue;
        int n = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", kinds[i].name);
        if (n < 0 || (size_t)n >= cap - used)
            break;
        used += (size_t)n;
    }
    return buf;
}

static const char *key_list(const struct kind *k, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < k->n_keys; i++) {
        int n = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", k->keys[i].name);
        if (n < 0 || (size_t)n >= cap - used)
            break;
        used += (size_t)n;
    }
    return buf;
}

static const struct kind *find_kind(const char *s, size_t len)
{
    for (size_t i = 0; i < N_KINDS; i++)
        if (strlen(kinds[i].name) == len && memcmp(kinds[i].name, s, len) == 0)
            return &kinds[i];
    return NULL;
}

// "must be > 0", "must be in [0, 1)", "must be an integer in [1, 1e+15]"
static const char *range_text(const struct key_spec *key, char *buf, size_t cap)
{
    const char *what = key->integral ? "an integer " : "";
    if (isinf(key->hi))
        snprintf(buf, cap, "must be %s%s %g", what, key->lo_open ? ">" : ">=", key->lo);
    else
        snprintf(buf, cap, "must be %sin %c%g, %g%c", what, key->lo_open ? '(' : '[', key->lo,
                 key->hi, key->hi_open ? ')' : ']');
    return buf;
}

// ---- parsing ----

// Reads one NUMBER token for key at the cursor into *value, checking it is finite and in range.
static enum dpt_status parse_value(struct parser *p, const struct kind *k,
                                   const struct key_spec *key, double *value)
{
    char q[MAX_QUOTE + 4], f[24], r[64];
    const char *tok = p->text + p->pos;
    size_t len = span(tok, is_number_char);
    if (len == 0)
        return dpt_error(DPT_ERR_INVALID,
                         "schedule: expected a number for '%s' of '%s' at position %zu, found %s",
                         key->name, k->name, p->pos, found(p, f));
    char buf[MAX_NUMBER + 1];
    char *end = buf;
    double v = 0.0;
    if (len <= MAX_NUMBER) {
        memcpy(buf, tok, len);
        buf[len] = '\0';
        v = strtod(buf, &end);
    }
    if (len > MAX_NUMBER || end != buf + len)
        return dpt_error(DPT_ERR_INVALID,
                         "schedule: value '%s' of '%s' for '%s' at position %zu is not a number",
                         quote(tok, len, q), key->name, k->name, p->pos);
    if (!isfinite(v))
        return dpt_error(DPT_ERR_INVALID,
                         "schedule: value '%s' of '%s' for '%s' at position %zu is not finite",
                         quote(tok, len, q), key->name, k->name, p->pos);
    int below = key->lo_open ? !(v > key->lo) : !(v >= key->lo);
    int above = key->hi_open ? !(v < key->hi) : !(v <= key->hi);
    if (below || above || (key->integral && v != floor(v)))
        return dpt_error(DPT_ERR_INVALID,
                         "schedule: value '%s' of '%s' for '%s' at position %zu is out of range: "
                         "%s %s",
                         quote(tok, len, q), key->name, k->name, p->pos, key->name,
                         range_text(key, r, sizeof r));
    p->pos += len;
    *value = v;
    return DPT_OK;
}

// kvs := KEY '=' NUMBER { ',' KEY '=' NUMBER }, cursor on the first KEY. Fills h.
static enum dpt_status parse_kvs(struct parser *p, const struct kind *k, struct dpt_sched_hyper *h)
{
    char q[MAX_QUOTE + 4], f[24], list[128];
    unsigned seen = 0;
    for (;;) {
        const char *tok = p->text + p->pos;
        size_t len = span(tok, is_ident);
        if (len == 0)
            return dpt_error(DPT_ERR_INVALID,
                             "schedule: expected a key of '%s' at position %zu, found %s", k->name,
                             p->pos, found(p, f));
        size_t idx = k->n_keys;
        for (size_t i = 0; i < k->n_keys; i++)
            if (strlen(k->keys[i].name) == len && memcmp(k->keys[i].name, tok, len) == 0)
                idx = i;
        if (idx == k->n_keys)
            return dpt_error(DPT_ERR_INVALID,
                             "schedule: unknown key '%s' for '%s' at position %zu (valid keys: %s)",
                             quote(tok, len, q), k->name, p->pos, key_list(k, list, sizeof list));
        if (seen & (1u << idx))
            return dpt_error(DPT_ERR_INVALID,
                             "schedule: duplicate key '%s' for '%s' at position %zu",
                             k->keys[idx].name, k->name, p->pos);
        seen |= 1u << idx;
        p->pos += len;
        if (p->text[p->pos] != '=')
            return dpt_error(DPT_ERR_INVALID,
                             "schedule: expected '=' after key '%s' at position %zu, found %s",
                             k->keys[idx].name, p->pos, found(p, f));
        p->pos++;
        double v = 0.0;
        enum dpt_status st = parse_value(p, k, &k->keys[idx], &v);
        if (st != DPT_OK)
            return st;
        *(double *)((char *)h + k->keys[idx].offset) = v;
        if (p->text[p->pos] != ',')
            return DPT_OK;
        p->pos++;
    }
}

// The defaults of k's keys; fields of other schedules stay 0.
static struct dpt_sched_hyper defaults(const struct kind *k)
{
    struct dpt_sched_hyper h;
    memset(&h, 0, sizeof h);
    for (size_t i = 0; i < k->n_keys; i++)
        *(double *)((char *)&h + k->keys[i].offset) = k->keys[i].def;
    return h;
}

// spec := base | wrapper, cursor on NAME; depth counts the enclosing wrappers.
static enum dpt_status parse_spec(struct parser *p, int depth, struct dpt_schedule **out)
{
    char q[MAX_QUOTE + 4], f[24], list[160];
    const size_t name_pos = p->pos;
    const char *tok = p->text + p->pos;
    size_t len = span(tok, is_ident);
    if (len == 0)
        return dpt_error(DPT_ERR_INVALID,
                         "schedule: expected a schedule name at position %zu, found %s", p->pos,
                         found(p, f));
    const struct kind *k = find_kind(tok, len);
    if (!k)
        return dpt_error(DPT_ERR_INVALID,
                         "schedule: unknown schedule '%s' at position %zu (valid: %s)",
                         quote(tok, len, q), p->pos, kind_list(-1, list, sizeof list));
    p->pos += len;
    struct dpt_sched_hyper h = defaults(k);

    if (k->make_base) {
        if (p->text[p->pos] == '(')
            return dpt_error(DPT_ERR_INVALID,
                             "schedule: unexpected '(' at position %zu: '%s' is not a wrapper "
                             "(wrappers: %s)",
                             p->pos, k->name, kind_list(1, list, sizeof list));
        if (p->text[p->pos] == ':') {
            p->pos++;
            enum dpt_status st = parse_kvs(p, k, &h);
            if (st != DPT_OK)
                return st;
        }
        return k->make_base(&h, out);
    }

    // A wrapper: WRAP '(' spec ')' [ ',' kvs ]
    if (p->text[p->pos] != '(')
        return dpt_error(DPT_ERR_INVALID,
                         "schedule: wrapper '%s' at position %zu needs '(' and an inner schedule, "
                         "found %s at position %zu",
                         k->name, name_pos, found(p, f), p->pos);
    if (depth >= MAX_DEPTH)
        return dpt_error(DPT_ERR_INVALID,
                         "schedule: '%s(' at position %zu nests deeper than %d wrappers", k->name,
                         name_pos, MAX_DEPTH);
    p->pos++;
    struct dpt_schedule *inner = NULL;
    enum dpt_status st = parse_spec(p, depth + 1, &inner);
    if (st != DPT_OK)
        goto cleanup;
    if (p->text[p->pos] != ')') {
        st = dpt_error(DPT_ERR_INVALID,
                       "schedule: missing ')' at position %zu to close '%s(' at position %zu, "
                       "found %s",
                       p->pos, k->name, name_pos, found(p, f));
        goto cleanup;
    }
    p->pos++;
    if (p->text[p->pos] == ',') {
        p->pos++;
        st = parse_kvs(p, k, &h);
        if (st != DPT_OK)
            goto cleanup;
    }
    st = k->make_wrap(&h, inner, out);
    if (st == DPT_OK)
        inner = NULL; // now owned by *out
cleanup:
    dpt_schedule_destroy(inner);
    return st;
}

enum dpt_status dpt_schedule_parse(const char *text, struct dpt_schedule **out)
{
    char q[MAX_QUOTE + 4];
    if (!out)
        return dpt_error(DPT_ERR_INVALID, "schedule: NULL output pointer");
    *out = NULL;
    if (!text)
        return dpt_error(DPT_ERR_INVALID, "schedule: NULL string");
    if (text[0] == '\0')
        return dpt_error(DPT_ERR_INVALID, "schedule: empty string");
    struct parser p = {text, 0};
    struct dpt_schedule *s = NULL;
    enum dpt_status st = parse_spec(&p, 0, &s);
    if (st != DPT_OK)
        return st;
    if (text[p.pos] != '\0') {
        const char *rest = text + p.pos;
        st = dpt_error(DPT_ERR_INVALID,
                       "schedule: unexpected '%s' at position %zu after a complete schedule",
                       quote(rest, strlen(rest), q), p.pos);
        dpt_schedule_destroy(s);
        return st;
    }
    *out = s;
    return DPT_OK;
}
