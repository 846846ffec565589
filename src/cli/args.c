// Flag parsing and error reporting shared by every subcommand.
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_impl.h"

void cli_put_escaped(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
}

// "dptrain: KIND: " and the formatted message, its control bytes escaped (text from data and model
// files reaches messages: an ESC sequence there must not drive the terminal, and a newline must
// not make a second line), then a newline.
static void message(const char *kind, const char *fmt, va_list ap)
{
    char buf[4096];
    vsnprintf(buf, sizeof buf, fmt, ap);
    fprintf(stderr, "dptrain: %s: ", kind);
    cli_put_escaped(stderr, buf);
    fputc('\n', stderr);
}

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    message("error", fmt, ap);
    va_end(ap);
    return CLI_USAGE;
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    message("warning", fmt, ap);
    va_end(ap);
}

int cli_fail(enum dpt_status st, const char *context)
{
    const char *msg = dpt_last_error();
    if (!msg[0])
        msg = dpt_status_str(st);
    if (context && context[0])
        cli_error("%s: %s", context, msg);
    else
        cli_error("%s", msg);
    return st == DPT_ERR_DIVERGED      ? CLI_FAILED
           : st == DPT_ERR_INTERRUPTED ? CLI_INTERRUPTED
                                       : CLI_USAGE;
}

bool cli_isatty_stderr(void)
{
    return isatty(STDERR_FILENO) != 0;
}

static struct cli_flag *find_flag(struct cli_flag *flags, const char *name, size_t len)
{
    for (struct cli_flag *f = flags; f->name; f++)
        if (strlen(f->name) == len && strncmp(f->name, name, len) == 0)
            return f;
    return NULL;
}

const char *cli_get(const struct cli_flag *flags, const char *name)
{
    for (const struct cli_flag *f = flags; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f->value;
    return NULL;
}

void cli_print_help(FILE *out, const char *cmd, const char *synopsis, const struct cli_flag *flags)
{
    fprintf(out, "usage: dptrain %s%s%s\n\n", cmd, synopsis[0] == '\n' ? "" : " ", synopsis);
    // Each flag's text is wrapped at spaces to fit 80 columns, continued under itself.
    for (const struct cli_flag *f = flags; f->name; f++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", f->name, f->arg ? " " : "", f->arg ? f->arg : "");
        fprintf(out, "  %-24s", left);
        const size_t indent = 2 + (strlen(left) > 24 ? strlen(left) : 24) + 1, width = 79 - indent;
        const char *h = f->help;
        while (*h) {
            size_t len = strlen(h);
            if (len > width) {
                len = width;
                while (len > 0 && h[len] != ' ')
                    len--;
                if (len == 0) // one word longer than the line: not split
                    len = strcspn(h, " ");
            }
            fprintf(out, " %.*s\n", (int)len, h);
            h += len;
            h += strspn(h, " ");
            if (*h)
                fprintf(out, "%*s", (int)indent - 1, "");
        }
        if (!f->help[0])
            fputc('\n', out);
    }
    fprintf(out, "  %-24s %s\n", "--help", "show this help and exit");
}

// "unknown option" for argv[i], with what was probably meant: the nearest flag, or dptrain's
// name for another tool's flag (--batch-size, --lr); the value given with it is reused.
static int unknown_option(const char *cmd, const struct cli_flag *flags, int argc, char **argv,
                          int i, bool single_dash)
{
    const char *a = argv[i];
    const char *name = a + (single_dash ? 1 : 2);
    const char *eq = strchr(name, '=');
    const size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const char *value = eq                                                   ? eq + 1
                        : i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 ? argv[i + 1]
                                                                             : NULL;
    // A --schedule anywhere on the line (not parsed yet when it follows): the hint edits it.
    const char *schedule = NULL;
    for (int j = 2; j < argc; j++) {
        if (strncmp(argv[j], "--schedule=", 11) == 0)
            schedule = argv[j] + 11;
        else if (strcmp(argv[j], "--schedule") == 0 && j + 1 < argc)
            schedule = argv[++j];
    }
    char hint[512];
    cli_suggest_flag(hint, sizeof hint, name, len, value, flags, schedule, single_dash);
    if (hint[0])
        return cli_error("%s: unknown option '%.*s'; %s", cmd, (int)(name - a + len), a, hint);
    return cli_error("%s: unknown option '%.*s' (see dptrain %s --help)", cmd,
                     (int)(name - a + len), a, cmd);
}

int cli_parse(const char *cmd, const char *synopsis, struct cli_flag *flags, int argc, char **argv,
              int first, const char **pos, size_t max_pos, size_t *n_pos)
{
    *n_pos = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_print_help(stdout, cmd, synopsis, flags);
            return -1;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (a[0] == '-' && a[1] != '\0' && a[1] != '-')
                return unknown_option(cmd, flags, argc, argv, i, true);
            if (a[0] == '-' && a[1] != '\0')
                return cli_error("%s: unknown option '%s' (see dptrain %s --help)", cmd, a, cmd);
            if (*n_pos >= max_pos)
                return cli_error("%s: unexpected argument '%s' (see dptrain %s --help)", cmd, a,
                                 cmd);
            pos[(*n_pos)++] = a;
            continue;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        struct cli_flag *f = find_flag(flags, name, len);
        if (!f)
            return unknown_option(cmd, flags, argc, argv, i, false);
        if (!f->arg) {
            if (eq)
                return cli_error("--%s takes no value", f->name);
            f->value = "1";
        } else if (eq) {
            f->value = eq + 1;
        } else {
            if (i + 1 >= argc)
                return cli_error("--%s needs a value (%s)", f->name, f->arg);
            f->value = argv[++i];
        }
    }
    return 0;
}

int cli_size(const char *flag, const char *text, size_t min, size_t max, size_t *out)
{
    char *end;
    errno = 0;
    if (!text || !*text || *text == '-' || *text == '+')
        return cli_error("--%s: '%s' is not a non-negative integer", flag, text ? text : "");
    unsigned long long v = strtoull(text, &end, 10);
    if (*end != '\0')
        return cli_error("--%s: '%s' is not a non-negative integer", flag, text);
    if (errno == ERANGE || v < min || v > max)
        return cli_error("--%s: %s is not in %zu..%zu", flag, text, min, max);
    *out = (size_t)v;
    return 0;
}

int cli_u64(const char *flag, const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!text || !*text || *text == '-' || *text == '+')
        return cli_error("--%s: '%s' is not a non-negative integer", flag, text ? text : "");
    unsigned long long v = strtoull(text, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return cli_error("--%s: '%s' is not a non-negative 64-bit integer", flag, text);
    *out = (uint64_t)v;
    return 0;
}

int cli_double(const char *flag, const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    if (!text || !*text)
        return cli_error("--%s: empty value", flag);
    double v = strtod(text, &end);
    if (*end != '\0' || !isfinite(v))
        return cli_error("--%s: '%s' is not a finite number", flag, text);
    if (v < lo || v > hi)
        return cli_error("--%s: %s is not in [%g, %g]", flag, text, lo, hi);
    *out = v;
    return 0;
}

int cli_split(const char *text, char **buf, const char **parts, size_t max)
{
    *buf = strdup(text);
    if (!*buf)
        return -1;
    size_t n = 0;
    char *p = *buf;
    for (;;) {
        if (n >= max)
            return -1;
        parts[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return (int)n;
}

int cli_size_list(const char *flag, const char *text, size_t min, size_t max, size_t *out,
                  size_t max_n, size_t *n)
{
    char *buf = NULL;
    const char *parts[64];
    size_t cap = max_n < 64 ? max_n : 64;
    int k = cli_split(text, &buf, parts, cap);
    if (k < 0) {
        free(buf);
        return cli_error("--%s: '%s' has more than %zu entries", flag, text, cap);
    }
    for (int i = 0; i < k; i++) {
        if (cli_size(flag, parts[i], min, max, &out[i]) != 0) {
            free(buf);
            return CLI_USAGE;
        }
    }
    *n = (size_t)k;
    free(buf);
    return 0;
}

int cli_choice(const char *flag, const char *text, const char *const *names, size_t n, int *out)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    char valid[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof valid; i++)
        used +=
            (size_t)snprintf(valid + used, sizeof valid - used, "%s%s", i ? ", " : "", names[i]);
    return cli_error("--%s: unknown value '%s' (valid: %s)", flag, text, valid);
}
