// Write errors on every output stream (issue 14, class 5): `--log-json /dev/full`, `--log-json -`
// and plain output with standard output on /dev/full, and `predict --out /dev/full`, all exited 0
// with no message, or said only "--out: write error". Each must now fail with exactly one line
// naming the stream and the reason, exit 2. /dev/full answers every write with ENOSPC, as a full
// disk does.
#include "cli_test.h"

// Runs `dptrain ARGS...` through /bin/sh with standard output on /dev/full; returns the exit
// code, stderr in err_path. Under emulation (a cross build) the shell starts the emulator
// (DPT_CLI_SHELL_PREFIX, tests/CMakeLists.txt).
static int run_stdout_full(const char *args, const char *err_path)
{
    char cmd[1536];
    snprintf(cmd, sizeof cmd, "exec %s'%s' %s >/dev/full 2>'%s'", DPT_CLI_SHELL_PREFIX,
             DPT_CLI_PATH, args, err_path);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return cli_wait(pid);
}

static void expect_one_line(const char *err, const char *n1, const char *n2)
{
    cr_expect_eq(strncmp(err, "dptrain: error: ", 16), 0, "%s", err);
    const char *nl = strchr(err, '\n');
    cr_expect(nl && nl[1] == '\0', "not one line: %s", err);
    cr_expect(strstr(err, n1), "'%s' not in: %s", n1, err);
    if (n2)
        cr_expect(strstr(err, n2), "'%s' not in: %s", n2, err);
}

Test(cli, write_errors_on_every_output_fail_with_one_line, CLI_FIXTURE)
{
    if (access("/dev/full", W_OK) != 0)
        cr_skip_test("no /dev/full here");
    const char *full_reason = strerror(ENOSPC);
    expect_usage_error(run("train", "--data", "synth:xor,n=60", "--epochs", "1", "--quiet",
                           "--log-json", "/dev/full", NULL),
                       "--log-json: error writing '/dev/full'", full_reason);
    struct cli_result r = expect_ok(run("train", "--data", "synth:xor,n=60", "--epochs", "1",
                                        "--quiet", "--save", P("m.st"), NULL));
    result_free(&r);
    expect_usage_error(run("predict", "--model", P("m.st"), "--data", "synth:xor,n=10", "--out",
                           "/dev/full", NULL),
                       "--out: error writing '/dev/full'", full_reason);

    // Standard output on /dev/full: the JSON log, predictions, epoch lines, `version`.
    char spec[600];
    snprintf(spec, sizeof spec, "train --data synth:xor,n=60 --epochs 1 --quiet --log-json -");
    cr_expect_eq(run_stdout_full(spec, P("err")), 2);
    char *err = read_text(P("err"));
    expect_one_line(err, "--log-json: error writing to standard output", full_reason);
    free(err);
    snprintf(spec, sizeof spec, "predict --model '%s' --data synth:xor,n=10", P("m.st"));
    cr_expect_eq(run_stdout_full(spec, P("err")), 2);
    err = read_text(P("err"));
    expect_one_line(err, "--out: error writing to standard output", full_reason);
    free(err);
    cr_expect_eq(run_stdout_full("train --data synth:xor,n=60 --epochs 1", P("err")), 2);
    err = read_text(P("err"));
    expect_one_line(err, "error writing to standard output", NULL);
    free(err);
    cr_expect_eq(run_stdout_full("version", P("err")), 2);
    err = read_text(P("err"));
    expect_one_line(err, "error writing to standard output", full_reason);
    free(err);
}
