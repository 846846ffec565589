// Output files written atomically (temporary file beside the target, renamed on success), and
// plots rendered by gnuplot from a generated script.
#define _XOPEN_SOURCE 700 // realpath
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_impl.h"

extern char **environ;

// ---- atomic files ----

// The directory part of path ("." for a bare name, "/" for a file in the root) into dir; returns
// the last component.
static const char *split_dir(const char *path, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, cap, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    const char *base = strrchr(path, '/');
    return base ? base + 1 : path;
}

int cli_check_output(const char *flag, const char *path)
{
    if (!*path)
        return cli_error("--%s: empty path", flag);
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return cli_error("--%s: '%s' is a directory", flag, path);
        if (!S_ISREG(sb.st_mode)) { // a device or FIFO: written in place
            if (access(path, W_OK) != 0)
                return cli_error("--%s: cannot write to '%s': %s", flag, path, strerror(errno));
            return 0;
        }
    }
    char dir[4096];
    split_dir(path, dir, sizeof dir);
    if (access(dir, W_OK) != 0)
        return cli_error("--%s: cannot write to directory '%s': %s", flag, dir, strerror(errno));
    return 0;
}

// The directory part of path resolved (symbolic links, "..") and its last component, for
// comparing paths that may not exist yet; 0 when the directory cannot be resolved.
static int resolve_parent(const char *path, char *out, size_t cap)
{
    char dir[4096];
    const char *base = split_dir(path, dir, sizeof dir);
    char *real = realpath(dir, NULL);
    if (!real)
        return 0;
    snprintf(out, cap, "%s/%s", real, base);
    free(real);
    return 1;
}

int cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    // Both there: the same inode (links included). A device or FIFO is written in place, never
    // replaced, so two outputs on one (--save /dev/null --checkpoint /dev/null) lose nothing.
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino && S_ISREG(sa.st_mode);
    char ra[8192], rb[8192];
    if (resolve_parent(a, ra, sizeof ra) && resolve_parent(b, rb, sizeof rb))
        return strcmp(ra, rb) == 0;
    return strcmp(a, b) == 0;
}

int cli_out_open(struct cli_out *o, const char *path, const char *flag)
{
    memset(o, 0, sizeof *o);
    o->flag = flag;
    if (!path || strcmp(path, "-") == 0) {
        o->f = stdout;
        return 0;
    }
    if (!*path)
        return cli_error("--%s: empty path", flag);
    struct stat sb;
    const int exists = stat(path, &sb) == 0;
    if (exists && S_ISDIR(sb.st_mode))
        return cli_error("--%s: '%s' is a directory", flag, path);
    const size_t n = strlen(path);
    o->path = malloc(n + 1);
    o->tmp = malloc(n + 16);
    if (!o->path || !o->tmp) {
        cli_out_abort(o);
        return cli_error("--%s: out of memory", flag);
    }
    memcpy(o->path, path, n + 1);
    if (exists && !S_ISREG(sb.st_mode)) {
        // A device (/dev/null) or FIFO: renaming a file over it would replace it, so it is
        // written in place (o->tmp NULL).
        free(o->tmp);
        o->tmp = NULL;
        o->f = fopen(path, "w");
        if (!o->f) {
            int e = errno;
            cli_out_abort(o);
            return cli_error("--%s: cannot open '%s' for writing: %s", flag, path, strerror(e));
        }
        return 0;
    }
    snprintf(o->tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        int e = errno;
        free(o->tmp);
        o->tmp = NULL;
        cli_out_abort(o);
        return cli_error("--%s: cannot create a file beside '%s': %s", flag, path, strerror(e));
    }
    // mkstemp makes the file 0600; give it the mode a plain fopen would (0666 minus the umask).
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) {
        // Harmless: the file is still ours and readable by us.
    }
    o->f = fdopen(fd, "w");
    if (!o->f) {
        close(fd);
        cli_out_abort(o);
        return cli_error("--%s: cannot open '%s' for writing", flag, path);
    }
    return 0;
}

void cli_out_abort(struct cli_out *o)
{
    if (o->f && o->f != stdout)
        fclose(o->f);
    if (o->tmp)
        unlink(o->tmp);
    free(o->tmp);
    free(o->path);
    memset(o, 0, sizeof *o);
}

int cli_out_commit(struct cli_out *o)
{
    if (o->f == stdout) {
        errno = 0;
        int bad = fflush(stdout) != 0 || ferror(stdout);
        o->f = NULL;
        return bad ? cli_error("--%s: error writing to standard output: %s", o->flag,
                               strerror(errno ? errno : EIO))
                   : 0;
    }
    int e = 0;
    errno = 0;
    if (fflush(o->f) != 0 || ferror(o->f))
        e = errno ? errno : EIO;
    if (!e && o->tmp && fsync(fileno(o->f)) != 0) // a special file has nothing to sync
        e = errno;
    if (fclose(o->f) != 0 && !e)
        e = errno ? errno : EIO;
    o->f = NULL;
    if (!e && o->tmp && rename(o->tmp, o->path) != 0)
        e = errno;
    if (e) {
        const char *flag = o->flag;
        char path[512];
        snprintf(path, sizeof path, "%s", o->path);
        cli_out_abort(o);
        return cli_error("--%s: error writing '%s': %s", flag, path, strerror(e));
    }
    free(o->tmp);
    free(o->path);
    memset(o, 0, sizeof *o);
    return 0;
}

// ---- gnuplot ----

const char *cli_gnuplot_path(void)
{
    static char found[4096];
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        if (n > 0 && n + 9 < sizeof found) {
            memcpy(found, path, n);
            memcpy(found + n, "/gnuplot", 9);
            if (access(found, X_OK) == 0)
                return found;
        }
        path += n;
        if (*path == ':')
            path++;
    }
    return NULL;
}

void cli_gp_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f); // gnuplot doubles a quote inside single quotes
        if (*s == '\n' || *s == '\r')
            continue;
        fputc(*s, f);
    }
    fputc('\'', f);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void remove_dir(struct cli_plot *pl)
{
    char path[128];
    for (size_t i = 0; i < pl->n_files; i++) {
        snprintf(path, sizeof path, "%s/data%zu.dat", pl->dir, i);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/plot.gp", pl->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/gnuplot.err", pl->dir);
    unlink(path);
    rmdir(pl->dir);
    pl->dir[0] = '\0';
}

void cli_plot_abort(struct cli_plot *pl)
{
    if (pl->script)
        fclose(pl->script);
    pl->script = NULL;
    free(pl->script_path);
    pl->script_path = NULL;
    cli_out_abort(&pl->image);
    if (pl->dir[0])
        remove_dir(pl);
}

int cli_plot_begin(struct cli_plot *pl, const char *out_path, const char *flag, int width,
                   int height)
{
    memset(pl, 0, sizeof *pl);
    pl->flag = flag;
    const bool svg = ends_with(out_path, ".svg"), png = ends_with(out_path, ".png");
    if (!svg && !png)
        return cli_error("--%s: '%s' must end in .svg or .png", flag, out_path);
    if (strcmp(out_path, "-") == 0)
        return cli_error("--%s: a plot needs a file name", flag);
    // gnuplot writes the image to a file it names, renamed over the target: a device or FIFO
    // there would be replaced, so it is refused.
    struct stat sb;
    if (stat(out_path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
        return cli_error("--%s: '%s' is not a regular file (a plot is written to a file)", flag,
                         out_path);
    // Reserve the temporary image beside the target; gnuplot writes it, commit renames it.
    int rc = cli_out_open(&pl->image, out_path, flag);
    if (rc)
        return rc;
    const char *tmpdir = getenv("TMPDIR");
    if (!tmpdir || !*tmpdir || strlen(tmpdir) > 40)
        tmpdir = "/tmp";
    snprintf(pl->dir, sizeof pl->dir, "%s/dptrain-plot-XXXXXX", tmpdir);
    if (!mkdtemp(pl->dir)) {
        pl->dir[0] = '\0';
        cli_plot_abort(pl);
        return cli_error("--%s: cannot create a temporary directory: %s", flag, strerror(errno));
    }
    pl->script_path = malloc(strlen(pl->dir) + 16);
    if (!pl->script_path) {
        cli_plot_abort(pl);
        return cli_error("--%s: out of memory", flag);
    }
    sprintf(pl->script_path, "%s/plot.gp", pl->dir);
    pl->script = fopen(pl->script_path, "w");
    if (!pl->script) {
        cli_plot_abort(pl);
        return cli_error("--%s: cannot write a temporary gnuplot script", flag);
    }
    if (svg)
        fprintf(pl->script, "set terminal svg size %d,%d dynamic noenhanced font 'Sans,11'\n",
                width, height);
    else
        fprintf(pl->script, "set terminal pngcairo size %d,%d noenhanced font 'Sans,10'\n", width,
                height);
    fputs("set output ", pl->script);
    cli_gp_quote(pl->script, pl->image.tmp);
    fputs("\nset datafile missing '?'\nset grid\n", pl->script);
    return 0;
}

FILE *cli_plot_file(struct cli_plot *pl, char *path, size_t len)
{
    snprintf(path, len, "%s/data%zu.dat", pl->dir, pl->n_files++);
    return fopen(path, "w");
}

// The last non-empty line of gnuplot's error output, for a one-line error message.
static void last_line(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
            line[--n] = '\0';
        if (n > 0 && strspn(line, " ^") != n)
            snprintf(buf, len, "%s", line);
    }
    fclose(f);
}

int cli_plot_finish(struct cli_plot *pl)
{
    const char *flag = pl->flag;
    fputs("unset multiplot\nunset output\n", pl->script);
    int bad = ferror(pl->script);
    bad |= fclose(pl->script) != 0;
    pl->script = NULL;
    // gnuplot opens the temporary image by name: close our handle first (commit reopens nothing).
    fclose(pl->image.f);
    pl->image.f = NULL;
    if (bad) {
        cli_plot_abort(pl);
        return cli_error("--%s: cannot write a temporary gnuplot script", flag);
    }
    const char *gp = cli_gnuplot_path();
    if (!gp) {
        cli_plot_abort(pl);
        return cli_error("--%s: gnuplot not found on PATH (install gnuplot-nox)", flag);
    }
    char err_path[128];
    snprintf(err_path, sizeof err_path, "%s/gnuplot.err", pl->dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_path, O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    char *args[] = {(char *)"gnuplot", pl->script_path, NULL};
    pid_t pid;
    int e = posix_spawn(&pid, gp, &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    int status = 0;
    if (e == 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    if (e != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char msg[512];
        last_line(err_path, msg, sizeof msg);
        cli_plot_abort(pl);
        if (e != 0)
            return cli_error("--%s: cannot run %s: %s", flag, gp, strerror(e));
        return cli_error("--%s: gnuplot failed%s%s", flag, msg[0] ? ": " : "", msg);
    }
    // The image is complete: move it into place, then drop the scratch directory.
    int rc = 0;
    if (rename(pl->image.tmp, pl->image.path) != 0) {
        rc = cli_error("--%s: cannot rename the plot to '%s': %s", flag, pl->image.path,
                       strerror(errno));
    } else {
        free(pl->image.tmp);
        pl->image.tmp = NULL;
    }
    cli_plot_abort(pl);
    return rc;
}
