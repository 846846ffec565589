// Small helpers shared by the subcommands: clocks, JSON output, the command line as provenance,
// and Ctrl-C handling around long runs.
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_impl.h"
#include "core/error_impl.h"

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---- JSON ----

void cli_json_quote(FILE *f, const char *v)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

void cli_json_num(FILE *f, const char *key, double v)
{
    if (isfinite(v))
        fprintf(f, ",\"%s\":%.9g", key, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

void cli_json_str(FILE *f, const char *key, const char *v)
{
    fprintf(f, ",\"%s\":", key);
    cli_json_quote(f, v);
}

// ---- provenance ----

// Arguments that a shell would split or expand are single-quoted, so the line can be pasted back.
static bool needs_quotes(const char *a)
{
    if (!*a)
        return true;
    for (const char *p = a; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=:,./@%", *p))
            return true;
    return false;
}

char *cli_command_line(int argc, char **argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++)
        len += 3 + 4 * strlen(argv[i]); // worst case: every byte a quote ('\'')
    char *s = dpt_malloc(len);
    if (!s)
        return NULL;
    size_t k = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = i == 0 ? "dptrain" : argv[i]; // not the install path
        if (i)
            s[k++] = ' ';
        const bool q = needs_quotes(a);
        if (q)
            s[k++] = '\'';
        for (const unsigned char *p = (const unsigned char *)a; *p; p++) {
            if (q && *p == '\'') {
                memcpy(s + k, "'\\''", 4);
                k += 4;
            } else {
                // Models store provenance as UTF-8 text: keep it plain printable ASCII.
                s[k++] = (*p >= 0x20 && *p < 0x7f) ? (char)*p : '?';
            }
        }
        if (q)
            s[k++] = '\'';
    }
    s[k] = '\0';
    return s;
}

// ---- interruption ----

// The trainer of the running command, read by the signal handler: a lock-free atomic pointer is
// async-signal-safe, unlike a plain pointer written by the main thread.
static _Atomic(struct dpt_trainer *) g_trainer;
static volatile sig_atomic_t g_signals;
static struct sigaction g_old_int, g_old_term;

static void on_signal(int sig)
{
    if (g_signals++ > 0) {
        // Second signal: leave at once. Models and output files are written atomically, so no
        // file is left half-written.
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    struct dpt_trainer *tr = atomic_load_explicit(&g_trainer, memory_order_relaxed);
    if (tr)
        dpt_trainer_request_stop(tr);
}

void cli_interrupt_begin(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &g_old_int);
    sigaction(SIGTERM, &sa, &g_old_term);
}

void cli_interrupt_trainer(struct dpt_trainer *tr)
{
    // seq_cst store: a signal that arrived just before sees either NULL (and the flag is checked
    // after the run) or the trainer.
    atomic_store(&g_trainer, tr);
    if (tr && g_signals)
        dpt_trainer_request_stop(tr);
}

bool cli_interrupted(void)
{
    return g_signals != 0;
}

void cli_interrupt_end(void)
{
    atomic_store(&g_trainer, NULL);
    sigaction(SIGINT, &g_old_int, NULL);
    sigaction(SIGTERM, &g_old_term, NULL);
}

void cli_cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            const char *c = strchr(line, ':');
            if (c) {
                c += strspn(c + 1, " \t") + 1;
                snprintf(buf, len, "%s", c);
                buf[strcspn(buf, "\r\n")] = '\0';
            }
            break;
        }
    }
    fclose(f);
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double cli_median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
