// The data SPEC parser (dpt_data_load): "KIND[:ARGS]" strings naming a data set, as the CLI takes
// them. The grammar is documented in docs/formats.md ("Data sets").
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_impl.h"
#include "data/data_impl.h"

// Added to the seed for synth test sets, so a test set is a fresh draw from the same
// distribution rather than a copy of the training set (the golden-ratio constant of splitmix64).
#define SYNTH_TEST_SEED_OFFSET 0x9e3779b97f4a7c15ULL

// Parses a whole decimal unsigned integer (no sign, no space).
static int parse_u64(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE || *end != '\0')
        return 0;
    *out = (uint64_t)v;
    return 1;
}

// Splits "key=value" in place; returns 0 when there is no '='.
static int split_option(char *opt, char **key, char **value)
{
    char *eq = strchr(opt, '=');
    if (!eq)
        return 0;
    *eq = '\0';
    *key = opt;
    *value = eq + 1;
    return 1;
}

static enum dpt_status parse_task(const char *spec, const char *value, enum dpt_task *task)
{
    if (strcmp(value, "regression") == 0)
        *task = DPT_TASK_REGRESS;
    else if (strcmp(value, "classification") == 0)
        *task = DPT_TASK_CLASSIFY;
    else
        return dpt_error(DPT_ERR_INVALID,
                         "data spec '%s': target=%s (known: classification, regression)", spec,
                         value);
    return DPT_OK;
}

// Cuts the next option off *rest (options are separated by ','; a '"' starts a quoted stretch in
// which ',' does not separate and '""' stands for one '"'). The quotes stay in the option; *rest
// becomes NULL after the last one. 0 when a quote is never closed.
static int next_option(char **rest, char **opt)
{
    char *p = *rest;
    *opt = p;
    int quoted = 0;
    for (; *p && (quoted || *p != ','); p++)
        if (*p == '"')
            quoted = !quoted;
    if (quoted)
        return 0;
    *rest = *p ? p + 1 : NULL;
    *p = '\0';
    return 1;
}

// A value in double quotes loses them (and '""' becomes '"'), in place; *was_quoted says whether
// it had them. 0 when text follows the closing quote or the quote is not closed.
static int unquote(char *value, int *was_quoted)
{
    *was_quoted = *value == '"';
    if (!*was_quoted)
        return 1;
    char *r = value + 1, *w = value;
    for (;;) {
        if (*r == '\0')
            return 0;
        if (*r == '"' && r[1] == '"') {
            *w++ = '"';
            r += 2;
        } else if (*r == '"') {
            *w = '\0';
            return r[1] == '\0';
        } else {
            *w++ = *r++;
        }
    }
}

// delim=X / sep=X: one character, or a name for those a spec cannot hold or shows badly.
static int parse_delim(const char *v, char *out)
{
    static const struct {
        const char *name;
        char c;
    } names[] = {{"comma", ','}, {"tab", '\t'}, {"\\t", '\t'}, {"semicolon", ';'}, {"pipe", '|'}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(v, names[i].name) == 0) {
            *out = names[i].c;
            return 1;
        }
    const unsigned char c = (unsigned char)v[0];
    // Not a character a number or a quoted cell starts with, nor a blank (runs of blanks are no
    // delimiter), nor anything outside printable ASCII.
    if (v[0] == '\0' || v[1] != '\0' || c == '\t' || c <= 0x20 || c >= 0x7f || strchr("\"+-.", c) ||
        (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
        return 0;
    *out = (char)c;
    return 1;
}

// "csv:PATH[,label=first|last|N|NAME][,delim=C][,target=regression|classification]" and
// "libsvm:PATH[,features=D][,target=...]". args is the text after "KIND:" (modified).
static enum dpt_status load_text(const char *spec, const char *kind, char *args,
                                 struct dpt_dataset **out)
{
    int csv = strcmp(kind, "csv") == 0;
    struct dpt_text_options opt = {DPT_TASK_CLASSIFY, 0, 0, ',', NULL};
    char *path = args;
    char *rest = strchr(args, ',');
    if (rest)
        *rest++ = '\0';
    if (*path == '\0')
        return dpt_error(DPT_ERR_INVALID, "data spec '%s': missing path (%s:PATH)", spec, kind);
    while (rest) {
        char *opt_text;
        if (!next_option(&rest, &opt_text))
            return dpt_error(DPT_ERR_INVALID, "data spec '%s': a '\"' is not closed", spec);
        char *key, *value;
        int quoted;
        if (!split_option(opt_text, &key, &value))
            return dpt_error(DPT_ERR_INVALID, "data spec '%s': option '%s' is not KEY=VALUE", spec,
                             opt_text);
        if (!unquote(value, &quoted))
            return dpt_error(DPT_ERR_INVALID,
                             "data spec '%s': %s: text after the closing quote of its value", spec,
                             key);
        uint64_t u;
        if (strcmp(key, "target") == 0) {
            enum dpt_status st = parse_task(spec, value, &opt.task);
            if (st != DPT_OK)
                return st;
        } else if (csv && strcmp(key, "label") == 0) {
            // Keywords and numbers first; anything else (and anything quoted) is a header name.
            opt.label_name = NULL;
            if (!quoted && strcmp(value, "first") == 0)
                opt.label_col = 0;
            else if (!quoted && strcmp(value, "last") == 0)
                opt.label_col = DPT_CSV_LABEL_LAST;
            else if (!quoted && *value >= '0' && *value <= '9') {
                if (!parse_u64(value, &u) || u < 1 || u > SIZE_MAX / 2)
                    return dpt_error(DPT_ERR_INVALID,
                                     "data spec '%s': label=%s (expected first, last, a column "
                                     "number from 1 or a header name)",
                                     spec, value);
                opt.label_col = (size_t)u - 1;
            } else if (*value == '\0') {
                return dpt_error(DPT_ERR_INVALID,
                                 "data spec '%s': label= is empty (expected first, last, a column "
                                 "number from 1 or a header name)",
                                 spec);
            } else {
                opt.label_name = value;
            }
        } else if (csv && (strcmp(key, "delim") == 0 || strcmp(key, "sep") == 0)) {
            if (!parse_delim(value, &opt.delim))
                return dpt_error(DPT_ERR_INVALID,
                                 "data spec '%s': %s=%s (expected one character such as ';' or "
                                 "'|', or comma, tab, semicolon, pipe; not a letter, digit, blank, "
                                 "'\"', '+', '-' or '.')",
                                 spec, key, value);
        } else if (!csv && strcmp(key, "features") == 0) {
            if (!parse_u64(value, &u) || u < 1 || u > (uint64_t)INT32_MAX)
                return dpt_error(DPT_ERR_INVALID,
                                 "data spec '%s': features=%s (expected a width from 1)", spec,
                                 value);
            opt.features = (size_t)u;
        } else {
            return dpt_error(DPT_ERR_INVALID, "data spec '%s': unknown %s option '%s' (known: %s)",
                             spec, kind, key,
                             csv ? "label, delim (sep), target" : "features, target");
        }
    }
    return csv ? dpt_data_load_csv(path, &opt, out) : dpt_data_load_libsvm(path, &opt, out);
}

// "npy:X,Y[,target=classification|regression]". args is the text after "npy:" (modified).
static enum dpt_status load_npy(const char *spec, char *args, struct dpt_dataset **out)
{
    char *x = args, *y = strchr(args, ',');
    if (y)
        *y++ = '\0';
    char *rest = y ? strchr(y, ',') : NULL;
    if (rest)
        *rest++ = '\0';
    if (*x == '\0' || !y || *y == '\0')
        return dpt_error(DPT_ERR_INVALID,
                         "data spec '%s': expected npy:X.npy,Y.npy (features, then labels or "
                         "targets)",
                         spec);
    enum dpt_task task = DPT_TASK_CLASSIFY;
    int task_given = 0;
    while (rest) {
        char *opt_text = rest;
        rest = strchr(rest, ',');
        if (rest)
            *rest++ = '\0';
        char *key, *value;
        if (!split_option(opt_text, &key, &value))
            return dpt_error(DPT_ERR_INVALID,
                             "data spec '%s': option '%s' is not KEY=VALUE (npy takes two paths, "
                             "X and Y, then options)",
                             spec, opt_text);
        if (strcmp(key, "target") != 0)
            return dpt_error(DPT_ERR_INVALID,
                             "data spec '%s': unknown npy option '%s' (known: "
                             "target)",
                             spec, key);
        enum dpt_status st = parse_task(spec, value, &task);
        if (st != DPT_OK)
            return st;
        task_given = 1;
    }
    return dpt_data_load_npy(x, y, task, task_given, out);
}

// "synth:NAME[,n=N][,classes=K][,seed=S]".
static enum dpt_status load_synth(const char *spec, char *args, int test, struct dpt_dataset **out)
{
    uint64_t n = 1000, classes = 0, seed = 1;
    char *name = args;
    char *rest = strchr(args, ',');
    if (rest)
        *rest++ = '\0';
    if (*name == '\0')
        return dpt_error(DPT_ERR_INVALID,
                         "data spec '%s': missing generator name (synth:xor, synth:spirals, "
                         "synth:blobs)",
                         spec);
    while (rest) {
        char *opt_text = rest;
        rest = strchr(rest, ',');
        if (rest)
            *rest++ = '\0';
        char *key, *value;
        if (!split_option(opt_text, &key, &value))
            return dpt_error(DPT_ERR_INVALID, "data spec '%s': option '%s' is not KEY=VALUE", spec,
                             opt_text);
        uint64_t *dst = strcmp(key, "n") == 0         ? &n
                        : strcmp(key, "classes") == 0 ? &classes
                        : strcmp(key, "seed") == 0    ? &seed
                                                      : NULL;
        if (!dst)
            return dpt_error(DPT_ERR_INVALID,
                             "data spec '%s': unknown synth option '%s' (known: n, classes, seed)",
                             spec, key);
        if (!parse_u64(value, dst))
            return dpt_error(DPT_ERR_INVALID, "data spec '%s': %s=%s is not a non-negative integer",
                             spec, key, value);
        if (dst == &n && n == 0)
            return dpt_error(DPT_ERR_INVALID, "data spec '%s': n must be at least 1", spec);
        if (dst == &classes && classes < 2)
            return dpt_error(DPT_ERR_INVALID, "data spec '%s': classes must be at least 2", spec);
    }
    if (n > SIZE_MAX || classes > SIZE_MAX)
        return dpt_error(DPT_ERR_RANGE, "data spec '%s': n or classes too large", spec);
    if (test)
        seed += SYNTH_TEST_SEED_OFFSET;
    return dpt_synth(name, (size_t)n, (size_t)classes, seed, out);
}

enum dpt_status dpt_data_load(const char *spec, int test, struct dpt_dataset **out)
{
    if (!out)
        return dpt_error(DPT_ERR_INVALID, "dpt_data_load: out is NULL");
    *out = NULL;
    if (!spec || *spec == '\0')
        return dpt_error(DPT_ERR_INVALID, "empty data spec");
    size_t len = strlen(spec);
    char *copy = dpt_malloc(len + 1);
    if (!copy)
        return dpt_error(DPT_ERR_NOMEM, "data spec: out of memory");
    memcpy(copy, spec, len + 1);
    enum dpt_status st = DPT_OK;
    char *kind = copy;
    char *args = strchr(copy, ':');
    if (args)
        *args++ = '\0';

    if (strcmp(kind, "fashion-mnist") == 0) {
        if (args && *args == '\0') {
            st = dpt_error(DPT_ERR_INVALID, "data spec '%s': empty directory", spec);
            goto cleanup;
        }
        st = dpt_load_fashion_mnist(args, test, out);
    } else if (strcmp(kind, "idx") == 0) {
        char *labels = args ? strchr(args, ',') : NULL;
        if (labels)
            *labels++ = '\0';
        if (!args || *args == '\0' || !labels || *labels == '\0' || strchr(labels, ',')) {
            st = dpt_error(DPT_ERR_INVALID, "data spec '%s': expected idx:IMAGES,LABELS", spec);
            goto cleanup;
        }
        st = dpt_load_idx(args, labels, out);
    } else if (strcmp(kind, "csv") == 0 || strcmp(kind, "libsvm") == 0) {
        if (!args) {
            st = dpt_error(DPT_ERR_INVALID, "data spec '%s': expected %s:PATH", spec, kind);
            goto cleanup;
        }
        st = load_text(spec, kind, args, out);
    } else if (strcmp(kind, "npy") == 0) {
        if (!args) {
            st = dpt_error(DPT_ERR_INVALID, "data spec '%s': expected npy:X.npy,Y.npy", spec);
            goto cleanup;
        }
        st = load_npy(spec, args, out);
    } else if (strcmp(kind, "synth") == 0) {
        if (!args) {
            st = dpt_error(DPT_ERR_INVALID, "data spec '%s': expected synth:NAME[,n=N]", spec);
            goto cleanup;
        }
        st = load_synth(spec, args, test, out);
    } else {
        st = dpt_error(DPT_ERR_INVALID,
                       "data spec '%s': unknown kind '%s' (known: fashion-mnist, idx, csv, "
                       "libsvm, npy, synth)",
                       spec, kind);
    }
cleanup:
    dpt_free(copy);
    return st;
}

int dpt_data_has_test_part(const char *spec)
{
    if (!spec)
        return 0;
    const size_t kind = strcspn(spec, ":");
    return (kind == 13 && strncmp(spec, "fashion-mnist", 13) == 0) ||
           (kind == 5 && strncmp(spec, "synth", 5) == 0);
}
