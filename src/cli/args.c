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
    fprintf(out, "usage: dptrain %s %s\n\n", cmd, synopsis);
    for (const struct cli_flag *f = flags; f->name; f++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", f->name, f->arg ? " " : "", f->arg ? f->arg : "");
        fprintf(out, "  %-24s %s\n", left, f->help);
    }
    fprintf(out, "  %-24s %s\n", "--help", "show this help and exit");
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
            return cli_error("%s: unknown option '--%.*s' (see dptrain %s --help)", cmd, (int)len,
                             name, cmd);
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
