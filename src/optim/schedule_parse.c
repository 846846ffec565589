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

// What a key does with its value.
enum key_type {
    KEY_PLAIN = 0, // dptrain's own key: the value goes to `offset`
    KEY_ALIAS,     // PyTorch's name of the key at `slot`: the value goes there
    KEY_PAIR,      // NUMBER/NUMBER (PyTorch's betas): into `offset` and `slot`
    KEY_EPOCHS,    // a count in epochs for the count at `slot`, converted to steps
};

struct key_spec {
    const char *name;
    size_t offset; // into struct dpt_sched_hyper
    double def;
    double lo, hi;          // allowed range, hi may be +inf
    unsigned char lo_open;  // lo itself is not allowed
    unsigned char hi_open;  // hi itself is not allowed
    unsigned char integral; // must be a whole number
    unsigned char type;     // enum key_type
    size_t slot;            // ALIAS, EPOCHS: the field the key stands for; PAIR: the second field
};

#define HYPER(field) offsetof(struct dpt_sched_hyper, field)
#define INF          HUGE_VAL
// Counts (periods, lengths) stay below 2^53 so they are exact doubles and exact step numbers.
#define MAX_COUNT 1e15

#define KEY_LR(def)                                                                                \
    {                                                                                              \
        "lr", HYPER(lr), def, 0.0, INF, 1, 1, 0, 0, 0                                              \
    }
#define KEY_WD(def)                                                                                \
    {"wd", HYPER(wd), def, 0.0, INF, 0, 1, 0, 0, 0},                                               \
    {                                                                                              \
        "weight_decay", HYPER(wd), def, 0.0, INF, 0, 1, 0, KEY_ALIAS, HYPER(wd)                    \
    }
#define KEY_EPS(def)                                                                               \
    {                                                                                              \
        "eps", HYPER(eps), def, 0.0, INF, 1, 1, 0, 0, 0                                            \
    }
#define KEY_MU(def)                                                                                \
    {"mu", HYPER(mu), def, 0.0, 1.0, 0, 1, 0, 0, 0},                                               \
    {                                                                                              \
        "momentum", HYPER(mu), def, 0.0, 1.0, 0, 1, 0, KEY_ALIAS, HYPER(mu)                        \
    }
#define KEY_BETAS                                                                                  \
    {"b1", HYPER(b1), 0.9, 0.0, 1.0, 0, 1, 0, 0, 0},                                               \
        {"b2", HYPER(b2), 0.999, 0.0, 1.0, 0, 1, 0, 0, 0},                                         \
    {                                                                                              \
        "betas", HYPER(b1), 0.9, 0.0, 1.0, 0, 1, 0, KEY_PAIR, HYPER(b2)                            \
    }
// A count in epochs standing for the count at `field`: any number > 0 (0.5 epochs is fine).
#define KEY_EPOCHS_OF(name, store, field)                                                          \
    {                                                                                              \
        name, HYPER(store), 0.0, 0.0, MAX_COUNT, 1, 0, 0, KEY_EPOCHS, HYPER(field)                 \
    }

static const struct key_spec keys_fixed[] = {KEY_LR(0.01), KEY_WD(0.0)};
// sgd is fixed with PyTorch's SGD keys: momentum > 0 makes it momentum, nesterov=1 nesterov.
static const struct key_spec keys_sgd[] = {
    KEY_LR(0.01),
    KEY_WD(0.0),
    {"momentum", HYPER(mu), 0.0, 0.0, 1.0, 0, 1, 0, 0, 0},
    {"nesterov", HYPER(nesterov), 0.0, 0.0, 1.0, 0, 0, 1, 0, 0}};
static const struct key_spec keys_normalized[] = {KEY_LR(0.01)};
static const struct key_spec keys_adagrad[] = {KEY_LR(0.01), KEY_EPS(1e-8), KEY_WD(0.0)};
static const struct key_spec keys_momentum[] = {KEY_LR(0.01), KEY_MU(0.9), KEY_WD(0.0)};
static const struct key_spec keys_rmsprop[] = {
    KEY_LR(0.001),
    {"rho", HYPER(rho), 0.99, 0.0, 1.0, 0, 1, 0, 0, 0},
    {"alpha", HYPER(rho), 0.99, 0.0, 1.0, 0, 1, 0, KEY_ALIAS, HYPER(rho)},
    KEY_EPS(1e-8),
    KEY_WD(0.0)};
static const struct key_spec keys_adam[] = {KEY_LR(0.001), KEY_BETAS, KEY_EPS(1e-8), KEY_WD(0.0)};
static const struct key_spec keys_adamw[] = {KEY_LR(0.001), KEY_BETAS, KEY_EPS(1e-8), KEY_WD(0.01)};

static const struct key_spec keys_clip[] = {
    {"max_norm", HYPER(max_norm), 1.0, 0.0, INF, 1, 1, 0, 0, 0}};
static const struct key_spec keys_step[] = {
    {"every", HYPER(every), 1000.0, 1.0, MAX_COUNT, 0, 0, 1, 0, 0},
    {"step_size", HYPER(every), 1000.0, 1.0, MAX_COUNT, 0, 0, 1, KEY_ALIAS, HYPER(every)},
    KEY_EPOCHS_OF("every_epochs", every_epochs, every),
    {"gamma", HYPER(gamma), 0.1, 0.0, 1.0, 1, 0, 0, 0, 0}};
static const struct key_spec keys_exp[] = {
    {"gamma", HYPER(gamma), 0.9999, 0.0, 1.0, 1, 0, 0, 0, 0}};
static const struct key_spec keys_invtime[] = {{"k", HYPER(k), 1e-3, 0.0, INF, 0, 1, 0, 0, 0}};
static const struct key_spec keys_cosine[] = {
    {"t", HYPER(t), 10000.0, 1.0, MAX_COUNT, 0, 0, 1, 0, 0},
    {"T_max", HYPER(t), 10000.0, 1.0, MAX_COUNT, 0, 0, 1, KEY_ALIAS, HYPER(t)},
    KEY_EPOCHS_OF("t_epochs", t_epochs, t),
    {"min", HYPER(min), 0.0, 0.0, 1.0, 0, 0, 0, 0, 0}};
static const struct key_spec keys_warmup[] = {
    {"t", HYPER(t), 1000.0, 1.0, MAX_COUNT, 0, 0, 1, 0, 0}, KEY_EPOCHS_OF("t_epochs", t_epochs, t)};

// Keys of PyTorch's that dptrain does not take, with what to do instead (in the unknown-key error).
static const struct {
    const char *kind, *key, *hint;
} key_hints[] = {
    {"cosine", "eta_min", "dptrain's min is a fraction of the base rate: min = eta_min / lr"},
    {"sgd", "dampening", "dptrain's momentum has no dampening (PyTorch's default, 0)"},
    {"rmsprop", "momentum", "dptrain's rmsprop has no momentum (PyTorch's default, 0)"},
    {"rmsprop", "centered", "dptrain's rmsprop is not centered (PyTorch's default)"},
    {"adam", "amsgrad", "dptrain's adam has no amsgrad variant (PyTorch's default, False)"},
    {"adamw", "amsgrad", "dptrain's adamw has no amsgrad variant (PyTorch's default, False)"},
    {"adagrad", "lr_decay", "wrap it instead: invtime(adagrad:...),k=LR_DECAY"},
};

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
    {"sgd", KEYS(keys_sgd), dpt_sched_make_sgd, NULL},
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
    uint64_t steps_per_epoch; // 0: unknown (epoch counts are refused)
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

// "lr, b1, b2, eps, wd; also betas, weight_decay": dptrain's keys, then the other names.
static const char *key_list(const struct kind *k, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int pass = 0; pass < 2; pass++) {
        int first = 1;
        for (size_t i = 0; i < k->n_keys; i++) {
            if ((k->keys[i].type == KEY_PLAIN) != (pass == 0))
                continue;
            int n = snprintf(buf + used, cap - used, "%s%s", first ? (used ? "; also " : "") : ", ",
                             k->keys[i].name);
            if (n < 0 || (size_t)n >= cap - used)
                return buf;
            used += (size_t)n;
            first = 0;
        }
    }
    return buf;
}

// " (hint)" for a PyTorch key dptrain does not take, else "".
static const char *key_hint(const struct kind *k, const char *tok, size_t len)
{
    for (size_t i = 0; i < sizeof key_hints / sizeof key_hints[0]; i++)
        if (strcmp(key_hints[i].kind, k->name) == 0 && strlen(key_hints[i].key) == len &&
            memcmp(key_hints[i].key, tok, len) == 0)
            return key_hints[i].hint;
    return NULL;
}

// The bit of a hyper-parameter field in the set of fields a key list has given.
static unsigned field_bit(size_t offset)
{
    return 1u << (offset / sizeof(double));
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

// kvs := KEY '=' NUMBER { ',' KEY '=' NUMBER }, cursor on the first KEY. Fills h; the position
// of an epoch count goes to *epochs_pos.
static enum dpt_status parse_kvs(struct parser *p, const struct kind *k, struct dpt_sched_hyper *h,
                                 size_t *epochs_pos)
{
    char q[MAX_QUOTE + 4], f[24], list[160];
    unsigned seen = 0;
    const char *seen_by[8 * sizeof seen] = {0}; // the key that gave each field
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
        if (idx == k->n_keys) {
            const char *hint = key_hint(k, tok, len);
            if (hint)
                return dpt_error(DPT_ERR_INVALID,
                                 "schedule: unknown key '%s' for '%s' at position %zu: %s",
                                 quote(tok, len, q), k->name, p->pos, hint);
            return dpt_error(DPT_ERR_INVALID,
                             "schedule: unknown key '%s' for '%s' at position %zu (valid keys: %s)",
                             quote(tok, len, q), k->name, p->pos, key_list(k, list, sizeof list));
        }
        const struct key_spec *key = &k->keys[idx];
        // The fields this key sets: a PyTorch name and dptrain's, or a count in steps and in
        // epochs, set the same one, so only one of them may be given.
        unsigned bits =
            field_bit(key->type == KEY_PLAIN || key->type == KEY_PAIR ? key->offset : key->slot);
        if (key->type == KEY_PAIR)
            bits |= field_bit(key->slot);
        if (seen & bits) {
            const char *other = NULL;
            for (size_t b = 0; b < 8 * sizeof seen && !other; b++)
                if (bits & seen & (1u << b))
                    other = seen_by[b];
            if (other && strcmp(other, key->name) != 0)
                return dpt_error(DPT_ERR_INVALID,
                                 "schedule: key '%s' for '%s' at position %zu sets what '%s' "
                                 "already set: give one of them",
                                 key->name, k->name, p->pos, other);
            return dpt_error(DPT_ERR_INVALID,
                             "schedule: duplicate key '%s' for '%s' at position %zu", key->name,
                             k->name, p->pos);
        }
        seen |= bits;
        for (size_t b = 0; b < 8 * sizeof seen; b++)
            if (bits & (1u << b))
                seen_by[b] = key->name;
        if (key->type == KEY_EPOCHS)
            *epochs_pos = p->pos;
        p->pos += len;
        if (p->text[p->pos] != '=')
            return dpt_error(DPT_ERR_INVALID,
                             "schedule: expected '=' after key '%s' at position %zu, found %s",
                             k->keys[idx].name, p->pos, found(p, f));
        p->pos++;
        double v = 0.0;
        enum dpt_status st = parse_value(p, k, key, &v);
        if (st != DPT_OK)
            return st;
        *(double *)((char *)h + key->offset) = v;
        if (key->type == KEY_PAIR) { // betas=B1/B2
            if (p->text[p->pos] != '/')
                return dpt_error(DPT_ERR_INVALID,
                                 "schedule: expected '/' and a second number for '%s' of '%s' at "
                                 "position %zu (e.g. betas=0.9/0.999), found %s",
                                 key->name, k->name, p->pos, found(p, f));
            p->pos++;
            if ((st = parse_value(p, k, key, &v)) != DPT_OK)
                return st;
            *(double *)((char *)h + key->slot) = v;
        }
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

// A count given in epochs (t_epochs, every_epochs) becomes steps: round(epochs x steps per epoch),
// at least 1.
static enum dpt_status epochs_to_steps(const struct parser *p, const struct kind *k,
                                       struct dpt_sched_hyper *h, size_t pos)
{
    static const struct {
        size_t epochs, steps;
        const char *name;
    } counts[] = {{HYPER(t_epochs), HYPER(t), "t_epochs"},
                  {HYPER(every_epochs), HYPER(every), "every_epochs"}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        const double e = *(const double *)((const char *)h + counts[i].epochs);
        if (e == 0.0)
            continue;
        if (p->steps_per_epoch == 0)
            return dpt_error(DPT_ERR_INVALID,
                             "schedule: '%s' of '%s' at position %zu counts epochs, but the steps "
                             "per epoch are not known here (dpt_schedule_parse_epochs knows "
                             "them; or give the count in steps)",
                             counts[i].name, k->name, pos);
        const double steps = floor(e * (double)p->steps_per_epoch + 0.5);
        if (!(steps <= MAX_COUNT))
            return dpt_error(DPT_ERR_INVALID,
                             "schedule: '%s' of '%s' at position %zu is %.17g steps, over the "
                             "limit of %g",
                             counts[i].name, k->name, pos, steps, MAX_COUNT);
        *(double *)((char *)h + counts[i].steps) = steps < 1.0 ? 1.0 : steps;
    }
    return DPT_OK;
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
    size_t epochs_pos = 0;

    if (k->make_base) {
        if (p->text[p->pos] == '(')
            return dpt_error(DPT_ERR_INVALID,
                             "schedule: unexpected '(' at position %zu: '%s' is not a wrapper "
                             "(wrappers: %s)",
                             p->pos, k->name, kind_list(1, list, sizeof list));
        if (p->text[p->pos] == ':') {
            p->pos++;
            enum dpt_status st = parse_kvs(p, k, &h, &epochs_pos);
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
        st = parse_kvs(p, k, &h, &epochs_pos);
        if (st != DPT_OK)
            goto cleanup;
    }
    if ((st = epochs_to_steps(p, k, &h, epochs_pos)) != DPT_OK)
        goto cleanup;
    st = k->make_wrap(&h, inner, out);
    if (st == DPT_OK)
        inner = NULL; // now owned by *out
cleanup:
    dpt_schedule_destroy(inner);
    return st;
}

static enum dpt_status parse_text(const char *text, uint64_t steps_per_epoch,
                                  struct dpt_schedule **out)
{
    char q[MAX_QUOTE + 4];
    if (!out)
        return dpt_error(DPT_ERR_INVALID, "schedule: NULL output pointer");
    *out = NULL;
    if (!text)
        return dpt_error(DPT_ERR_INVALID, "schedule: NULL string");
    if (text[0] == '\0')
        return dpt_error(DPT_ERR_INVALID, "schedule: empty string");
    struct parser p = {text, 0, steps_per_epoch};
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

enum dpt_status dpt_schedule_parse(const char *text, struct dpt_schedule **out)
{
    return parse_text(text, 0, out);
}

enum dpt_status dpt_schedule_parse_epochs(const char *text, uint64_t steps_per_epoch,
                                          struct dpt_schedule **out)
{
    if (steps_per_epoch == 0 && out) {
        *out = NULL;
        return dpt_error(DPT_ERR_INVALID, "schedule: steps_per_epoch is 0");
    }
    return parse_text(text, steps_per_epoch, out);
}
