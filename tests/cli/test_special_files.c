// Output paths that name a device or a FIFO (issue 14, class 1): every output is written through a
// temporary file renamed over the target, and a rename replaces whatever is there. As root,
// `predict --out /dev/null` turned /dev/null into a regular file, and a FIFO target was replaced
// (its reader waited forever). Now a device or FIFO is written in place and stays what it was
// (models, checkpoints, CSV outputs: src/io/file.c and src/cli/output.c), and a plot, which
// gnuplot writes to a file of its own, refuses one with one line.
#define _XOPEN_SOURCE 700 // mknod
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "cli_test.h"

// A child that reads the FIFO at `fifo` to its end and copies it to `copy`; it gives up after
// 60 s (no writer ever came: the test then fails on the copy's content).
static pid_t start_reader(const char *fifo, const char *copy)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        alarm(60);
        int in = open(fifo, O_RDONLY);
        int out = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0)
            _exit(3);
        char buf[4096];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n)
                _exit(4);
        _exit(n == 0 ? 0 : 5);
    }
    return pid;
}

static void expect_reader_done(pid_t pid)
{
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader status %d", status);
}

static mode_t file_type(const char *path)
{
    struct stat sb;
    cr_assert_eq(lstat(path, &sb), 0, "%s is gone", path);
    return sb.st_mode & S_IFMT;
}

Test(cli, fifo_outputs_are_written_in_place, CLI_FIXTURE)
{
    struct cli_result r = expect_ok(run("train", "--data", "synth:xor,n=60", "--epochs", "1",
                                        "--quiet", "--save", P("m.st"), NULL));
    result_free(&r);
    cr_assert_eq(mkfifo(P("fifo"), 0600), 0);

    // predict --out FIFO: the CSV arrives through it.
    pid_t rd = start_reader(P("fifo"), P("got.csv"));
    r = expect_ok(
        run("predict", "--model", P("m.st"), "--data", "synth:xor,n=10", "--out", P("fifo"), NULL));
    result_free(&r);
    expect_reader_done(rd);
    cr_expect_eq(file_type(P("fifo")), S_IFIFO);
    char *got = read_text(P("got.csv"));
    cr_expect_eq(strncmp(got, "class,p0,p1\n", 12), 0, "%s", got);
    free(got);

    // train --save FIFO: a whole model file arrives, and loads.
    rd = start_reader(P("fifo"), P("got.st"));
    r = expect_ok(run("train", "--data", "synth:xor,n=60", "--epochs", "1", "--quiet", "--save",
                      P("fifo"), NULL));
    result_free(&r);
    expect_reader_done(rd);
    cr_expect_eq(file_type(P("fifo")), S_IFIFO);
    r = expect_ok(run("info", P("got.st"), NULL));
    cr_expect(strstr(r.out, "layers: 2,"), "%s", r.out);
    result_free(&r);
    cr_expect_eq(count_prefixed(tdir, "fifo.tmp."), 0u, "no temporary file left");

    // A plot is a file gnuplot writes: a FIFO (or device) there is refused, and left alone. A
    // stand-in gnuplot (which fails if it runs) makes the check independent of an installed one.
    write_text(P("l.jsonl"), "");
    cr_assert_eq(mkfifo(P("p.svg"), 0600), 0);
    mkdir(P("bin"), 0755);
    write_text(P("bin/gnuplot"), "#!/bin/sh\nexit 1\n");
    chmod(P("bin/gnuplot"), 0755);
    char path[600];
    snprintf(path, sizeof path, "PATH=%s:/usr/bin:/bin", P("bin"));
    const char *const set[] = {path, NULL};
    const char *const plot[] = {"plot", P("l.jsonl"), "--out", P("p.svg"), NULL};
    expect_usage_error(run_env(set, plot), "not a regular file", NULL);
    cr_expect_eq(file_type(P("p.svg")), S_IFIFO);
}

// A character device (a private copy of /dev/null's, made with mknod where the test may: root,
// outside a user namespace): model, checkpoint and CSV outputs leave it a device.
Test(cli, device_outputs_stay_devices, CLI_FIXTURE)
{
    if (mknod(P("null"), S_IFCHR | 0666, makedev(1, 3)) != 0)
        cr_skip_test("mknod not permitted here: the FIFO test covers the rule");
    struct cli_result r =
        expect_ok(run("train", "--data", "synth:xor,n=60", "--epochs", "2", "--quiet", "--save",
                      P("null"), "--checkpoint", P("null"), NULL));
    result_free(&r);
    cr_expect_eq(file_type(P("null")), S_IFCHR);
    r = expect_ok(run("train", "--data", "synth:xor,n=60", "--epochs", "1", "--quiet", "--save",
                      P("m.st"), NULL));
    result_free(&r);
    r = expect_ok(
        run("predict", "--model", P("m.st"), "--data", "synth:xor,n=10", "--out", P("null"), NULL));
    result_free(&r);
    cr_expect_eq(file_type(P("null")), S_IFCHR);
    cr_expect_eq(count_prefixed(tdir, "null.tmp."), 0u, "no temporary file left");
}
