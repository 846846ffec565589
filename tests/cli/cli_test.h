// Helpers shared by the CLI tests: a per-test temporary directory, running the built dptrain
// binary (DPT_CLI_PATH) with its output captured, file helpers, a CSV row splitter and NPY
// writing/reading. Header-only (static functions), included by tests/cli/test_*.c.
#ifndef DPT_TESTS_CLI_TEST_H
#define DPT_TESTS_CLI_TEST_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dptrain/dptrain.h"

extern char **environ;

static char tdir[64];

// ---- temporary directory ----

static inline void rm_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                char *sub = malloc(strlen(path) + strlen(e->d_name) + 2);
                sprintf(sub, "%s/%s", path, e->d_name);
                rm_tree(sub);
                free(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static inline void cli_setup(void)
{
    strcpy(tdir, "/tmp/dpt-test-cli-XXXXXX");
    cr_assert_not_null(mkdtemp(tdir), "mkdtemp failed");
}

static inline void cli_teardown(void)
{
    if (tdir[0])
        rm_tree(tdir);
    tdir[0] = '\0';
}

// Every CLI test runs in its own temporary directory: Test(cli, name, CLI_FIXTURE).
#define CLI_FIXTURE .init = cli_setup, .fini = cli_teardown, .timeout = 300

// A path inside the test's directory. Rotates through a few static buffers so several can be
// used in one expression.
static inline const char *P(const char *name)
{
    static char bufs[16][512];
    static int k;
    cr_assert(tdir[0], "no test directory: add CLI_FIXTURE to the test");
    char *b = bufs[k++ % 16];
    snprintf(b, 512, "%s/%s", tdir, name);
    return b;
}

// "KIND:" + path inside the test directory + options, e.g. SPEC("csv:", "d.csv", ",label=last").
static inline const char *SPEC(const char *kind, const char *name, const char *opts)
{
    static char bufs[8][600];
    static int k;
    cr_assert(tdir[0], "no test directory: add CLI_FIXTURE to the test");
    char *b = bufs[k++ % 8];
    snprintf(b, 600, "%s%s/%s%s", kind, tdir, name, opts ? opts : "");
    return b;
}

// ---- files ----

static inline void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static inline void write_text(const char *path, const char *text)
{
    write_file(path, text, strlen(text));
}

// The whole file as a NUL-terminated string (malloc), or NULL when it cannot be read.
static inline char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    size_t got;
    while ((got = fread(s + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0)
            s = realloc(s, cap *= 2);
    }
    fclose(f);
    s[n] = '\0';
    return s;
}

static inline bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

// Number of directory entries whose name starts with prefix (e.g. leftover temporaries).
static inline size_t count_prefixed(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

// Sleeps for ms milliseconds (usleep is not in POSIX 2008).
static inline void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

// ---- running dptrain ----

struct cli_result {
    int code;  // exit status, or 128 + signal
    char *out; // stdout (malloc)
    char *err; // stderr (malloc)
};

static inline void result_free(struct cli_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

// argv (80 entries) = DPT_CLI_PATH, then args (NULL-terminated, at most 78), then NULL.
static inline void cli_argv(const char *const *args, const char **argv)
{
    size_t n = 0;
    argv[n++] = DPT_CLI_PATH;
    for (size_t i = 0; args[i]; i++) {
        cr_assert_lt(n, 78u);
        argv[n++] = args[i];
    }
    argv[n] = NULL;
}

// Starts dptrain with argv (NULL-terminated, without the program name); stdout and stderr go to
// files in the test directory; stdin from stdin_path or /dev/null; env NULL = inherit.
static inline pid_t cli_start(const char *const *args, const char *stdin_path, char *const *env,
                              const char *out_path, const char *err_path)
{
    const char *argv[80];
    cli_argv(args, argv);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, stdin_path ? stdin_path : "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int e = posix_spawn(&pid, DPT_CLI_PATH, &fa, NULL, (char *const *)argv, env ? env : environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(e, 0, "posix_spawn %s: %s", DPT_CLI_PATH, strerror(e));
    return pid;
}

static inline int cli_wait(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        cr_assert_eq(errno, EINTR);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Runs dptrain with args (NULL-terminated, without the program name) in a child under
// setrlimit(resource, limit), with a CPU-time limit of 60 s (a hang fails, not the suite) and
// SIGXFSZ ignored (a file-size limit fails the write instead); stdin and stdout on /dev/null,
// stderr to err_path; OPENBLAS_NUM_THREADS and DPT_BLAS_REEXEC removed, so that the command's own
// restart runs as it does for a user. Returns the exit code (128 + signal when killed).
static inline int cli_run_limited(int resource, rlim_t limit, const char *const *args,
                                  const char *err_path)
{
    const char *argv[80];
    cli_argv(args, argv);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        struct rlimit lim = {limit, limit}, cpu = {60, 60};
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = open("/dev/null", O_RDWR);
        signal(SIGXFSZ, SIG_IGN);
        if (err < 0 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(err, 2) < 0 ||
            setrlimit(RLIMIT_CPU, &cpu) != 0 || setrlimit(resource, &lim) != 0)
            _exit(99);
        unsetenv("OPENBLAS_NUM_THREADS");
        unsetenv("DPT_BLAS_REEXEC");
        execv(DPT_CLI_PATH, (char *const *)argv);
        _exit(98);
    }
    return cli_wait(pid);
}

static inline struct cli_result cli_runv(const char *const *args, const char *stdin_path,
                                         char *const *env)
{
    static int k;
    cr_assert(tdir[0], "no test directory: add CLI_FIXTURE to the test");
    char out_path[512], err_path[512];
    snprintf(out_path, sizeof out_path, "%s/.stdout%d", tdir, k);
    snprintf(err_path, sizeof err_path, "%s/.stderr%d", tdir, k++);
    struct cli_result r;
    r.code = cli_wait(cli_start(args, stdin_path, env, out_path, err_path));
    r.out = read_text(out_path);
    r.err = read_text(err_path);
    cr_assert(r.out && r.err);
    unlink(out_path);
    unlink(err_path);
    return r;
}

// The environment with the NAME=VALUE entries of `set` replacing or joining this one's.
static inline char **env_plus(const char *const *set)
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (set[m])
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
    cr_assert(env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < m; j++) {
            const size_t len = strcspn(set[j], "=") + 1;
            replaced = replaced || strncmp(environ[i], set[j], len) == 0;
        }
        if (!replaced)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        env[k++] = (char *)set[j];
    return env;
}

// dptrain with args (NULL-terminated) in this environment plus `set`.
static inline struct cli_result run_env(const char *const *set, const char *const *args)
{
    char **env = env_plus(set);
    struct cli_result r = cli_runv(args, NULL, env);
    free(env);
    return r;
}

// Starts `dptrain train` with args (which must log JSON to log_path), waits for its first epoch
// line so the trainer is running, sends SIGINT and returns the exit code; stderr goes to err_path.
static inline int interrupt_after_first_epoch(const char *const *args, const char *log_path,
                                              const char *err_path)
{
    pid_t pid = cli_start(args, NULL, NULL, P("out"), err_path);
    bool started = false;
    for (int i = 0; i < 6000 && !started; i++) {
        char *log = read_text(log_path);
        started = log && strstr(log, "\"event\":\"epoch\"");
        free(log);
        if (!started)
            sleep_ms(5);
    }
    cr_assert(started, "training did not start");
    cr_assert_eq(kill(pid, SIGINT), 0);
    return cli_wait(pid);
}

// run("train", "--data", spec, NULL): dptrain with these arguments.
static inline struct cli_result run(const char *first, ...)
{
    const char *args[80];
    size_t n = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        cr_assert_lt(n, 79u);
        args[n++] = a;
    }
    va_end(ap);
    args[n] = NULL;
    return cli_runv(args, NULL, NULL);
}

// Asserts that a run failed with exit code 2 and exactly one stderr line
// "dptrain: error: ..." containing every non-NULL needle; frees the result.
static inline void expect_usage_error(struct cli_result r, const char *n1, const char *n2)
{
    cr_expect_eq(r.code, 2, "exit code %d, stderr: %s", r.code, r.err);
    cr_expect_eq(strncmp(r.err, "dptrain: error: ", 16), 0, "stderr: %s", r.err);
    const char *nl = strchr(r.err, '\n');
    cr_expect(nl && nl[1] == '\0', "not exactly one line on stderr: %s", r.err);
    if (n1)
        cr_expect(strstr(r.err, n1), "'%s' not in: %s", n1, r.err);
    if (n2)
        cr_expect(strstr(r.err, n2), "'%s' not in: %s", n2, r.err);
    result_free(&r);
}

// Asserts success; returns the result for further checks.
static inline struct cli_result expect_ok(struct cli_result r)
{
    cr_assert_eq(r.code, 0, "exit code %d, stderr: %s", r.code, r.err);
    return r;
}

// ---- parsing output ----

// The number after `key` in text (e.g. "\"test_acc\":"), or NAN.
static inline double num_after(const char *text, const char *key)
{
    const char *p = text ? strstr(text, key) : NULL;
    return p ? strtod(p + strlen(key), NULL) : NAN;
}

// Splits one CSV line (RFC 4180 quotes) into fields (copied into buf); returns the count.
static inline size_t csv_split(const char *line, char *buf, size_t len, const char **fields,
                               size_t max)
{
    size_t n = 0, k = 0;
    const char *p = line;
    for (;;) {
        cr_assert_lt(n, max);
        fields[n++] = buf + k;
        if (*p == '"') {
            p++;
            while (*p && !(*p == '"' && p[1] != '"')) {
                if (*p == '"')
                    p++;
                buf[k++] = *p++;
            }
            if (*p == '"')
                p++;
        } else {
            while (*p && *p != ',' && *p != '\n')
                buf[k++] = *p++;
        }
        buf[k++] = '\0';
        cr_assert_lt(k, len);
        if (*p != ',')
            break;
        p++;
    }
    return n;
}

// ---- NPY (format 1.0, '<f4' or '<f8', C order) ----

static inline void write_npy(const char *path, const float *v, size_t rows, size_t cols, int f64)
{
    char dict[128];
    if (cols)
        snprintf(dict, sizeof dict,
                 "{'descr': '<f%d', 'fortran_order': False, 'shape': (%zu, %zu), }", f64 ? 8 : 4,
                 rows, cols);
    else
        snprintf(dict, sizeof dict, "{'descr': '<f%d', 'fortran_order': False, 'shape': (%zu,), }",
                 f64 ? 8 : 4, rows);
    size_t hlen = strlen(dict) + 1;
    while ((10 + hlen) % 64)
        hlen++;
    unsigned char head[256];
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    head[8] = (unsigned char)(hlen & 0xff);
    head[9] = (unsigned char)(hlen >> 8);
    memset(head + 10, ' ', hlen);
    memcpy(head + 10, dict, strlen(dict));
    head[10 + hlen - 1] = '\n';
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(head, 1, 10 + hlen, f), 10 + hlen);
    const size_t n = rows * (cols ? cols : 1);
    for (size_t i = 0; i < n; i++) {
        if (f64) {
            double d = v[i];
            fwrite(&d, sizeof d, 1, f);
        } else {
            fwrite(&v[i], sizeof v[i], 1, f);
        }
    }
    cr_assert_eq(fclose(f), 0);
}

// Reads the float32 data of an NPY 1.0 file written by dptrain; returns the count (<= max).
static inline size_t read_npy_f32(const char *path, float *v, size_t max)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    unsigned char head[10];
    cr_assert_eq(fread(head, 1, 10, f), 10u);
    cr_assert_eq(memcmp(head, "\x93NUMPY\x01\x00", 8), 0);
    const size_t hlen = (size_t)head[8] | (size_t)head[9] << 8;
    char dict[512];
    cr_assert_lt(hlen, sizeof dict);
    cr_assert_eq(fread(dict, 1, hlen, f), hlen);
    dict[hlen] = '\0';
    cr_assert(strstr(dict, "'<f4'"), "%s", dict);
    size_t n = fread(v, sizeof *v, max, f);
    fclose(f);
    return n;
}

#endif
