// What a person sees on a terminal: a progress bar (steps, samples/s, ETA) on standard error
// when it is a terminal, none with --quiet. The child gets a pseudo-terminal as its stderr.
#define _XOPEN_SOURCE 700 // posix_openpt, grantpt, unlockpt, ptsname (XSI)

#include "cli_test.h"

// Runs dptrain with stderr on a new pseudo-terminal; returns everything written to it.
static char *run_on_pty(const char *const *args, int *code)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    cr_assert_geq(master, 0, "posix_openpt: %s", strerror(errno));
    cr_assert_eq(grantpt(master), 0);
    cr_assert_eq(unlockpt(master), 0);
    const char *slave = ptsname(master);
    cr_assert_not_null(slave);
    pid_t pid = cli_start(args, NULL, NULL, P("out"), slave);
    // Drain the terminal while the child runs, so it never blocks on a full buffer.
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        ssize_t got = read(master, buf + n, cap - n - 1);
        if (got <= 0)
            break; // EIO once the child has exited and closed the terminal
        n += (size_t)got;
        if (n + 1 >= cap)
            break;
    }
    buf[n] = '\0';
    *code = cli_wait(pid);
    close(master);
    return buf;
}

Test(cli, progress_bar_on_a_terminal_only, CLI_FIXTURE)
{
    const char *args[] = {"train",     "--data",   "synth:spirals,n=4000",
                          "--layers",  "2,32,2",   "--batch",
                          "16",        "--epochs", "2",
                          "--threads", "1",        NULL};
    int code;
    char *tty = run_on_pty(args, &code);
    cr_expect_eq(code, 0, "%s", tty);
    // 250 steps per epoch, the bar is redrawn every 10: "\repoch 1 [####....] 10/250 steps".
    cr_expect(strstr(tty, "\repoch 1 ["), "no progress bar: %s", tty);
    cr_expect(strstr(tty, "/250 steps") && strstr(tty, "samples/s") && strstr(tty, "ETA"), "%s",
              tty);
    // Each drawing of the bar (between carriage returns) fits 79 columns: a bar the terminal
    // wrapped could not be redrawn in place.
    for (const char *p = tty; *p;) {
        const size_t len = strcspn(p, "\r\n");
        cr_expect_leq(len, 79u, "%.*s", (int)len, p);
        p += len + (p[len] != '\0');
    }
    free(tty);
    char *out = read_text(P("out"));
    cr_expect(strstr(out, "\n    2 "), "the epoch rows stay on stdout: %s", out);
    free(out);

    const char *quiet[] = {"train",     "--data",   "synth:spirals,n=4000",
                           "--layers",  "2,32,2",   "--batch",
                           "16",        "--epochs", "1",
                           "--threads", "1",        "--quiet",
                           NULL};
    tty = run_on_pty(quiet, &code);
    cr_expect_eq(code, 0);
    cr_expect(!strchr(tty, '\r') && !strstr(tty, "steps"), "--quiet still draws a bar: %s", tty);
    free(tty);
}
