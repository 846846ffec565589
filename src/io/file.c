// Atomic file replacement for the io module: every file the library writes goes through a
// temporary file in the target's directory, fsync and rename, so a crash, a full disk or a
// refused write never leaves a partial file at the target path, and temporary files left by a
// killed writer are removed by the next write to the same path.
#define _DEFAULT_SOURCE // flock
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error_impl.h"
#include "io/file_impl.h"

const char *dpt_io_strerror(int err, char *buf, size_t n)
{
    // The XSI strerror_r (selected by _POSIX_C_SOURCE without _GNU_SOURCE) returns an int.
    if (n == 0)
        return "";
    if (strerror_r(err, buf, n) != 0)
        snprintf(buf, n, "error %d", err);
    return buf;
}

// Creates name (its last 6 characters, "XXXXXX", replaced by random letters and digits) with
// O_EXCL and mode 0666, which the kernel reduces by the umask: mkstemp's would be 0600 whatever
// the umask, and the umask cannot be read without changing it (not thread-safe). name[x] is the
// first X. Returns the descriptor, or -1 with errno set.
static int create_unique(char *name, size_t x)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static _Atomic unsigned long counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long v = (unsigned long long)ts.tv_nsec * 2654435761u ^
                           (unsigned long long)getpid() << 32 ^ (uintptr_t)name;
    for (int attempt = 0; attempt < 100; attempt++) {
        v += 0x9E3779B97F4A7C15ull * (counter++ + 1); // a new name each try and each thread
        unsigned long long r = v ^ (v >> 29);
        for (int i = 0; i < 6; i++, r /= 62)
            name[x + (size_t)i] = chars[r % 62];
        const int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

// ---- temporary files left behind ----
//
// A writer holds an exclusive flock on its temporary file from creation to commit or abort; the
// kernel drops it when the process dies, however it dies. So a "PATH.tmp.XXXXXX" beside PATH that
// nobody holds locked is a leftover (kill -9, power loss) and the next writer of PATH removes it.
// Two guards: only regular files of this user older than STALE_AGE_S (a writer between creating
// its file and locking it is not mistaken for a dead one), and the name must still be the file
// that was locked when it is unlinked. Best effort: any failure leaves the file where it is.
#define STALE_AGE_S 60

static int is_temp_suffix(const char *s)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    if (strncmp(s, ".tmp.", 5) != 0 || strlen(s + 5) != 6)
        return 0;
    for (const char *c = s + 5; *c; c++)
        if (!strchr(chars, *c))
            return 0;
    return 1;
}

static void remove_stale_temps(const char *path, const char *own_tmp)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const size_t base_len = strlen(base);
    char dir_buf[4096];
    const char *dir = ".";
    if (slash) {
        const size_t len = slash == path ? 1 : (size_t)(slash - path);
        if (len >= sizeof dir_buf)
            return;
        memcpy(dir_buf, path, len);
        dir_buf[len] = '\0';
        dir = dir_buf;
    }
    const char *own = strrchr(own_tmp, '/');
    own = own ? own + 1 : own_tmp;
    DIR *d = opendir(dir);
    if (!d)
        return;
    const int dfd = dirfd(d);
    const time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, base, base_len) != 0 || !is_temp_suffix(e->d_name + base_len) ||
            strcmp(e->d_name, own) == 0)
            continue;
        const int fd =
            openat(dfd, e->d_name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat sb, sn;
        if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_uid == geteuid() &&
            sb.st_mtime < now - STALE_AGE_S && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
            fstatat(dfd, e->d_name, &sn, AT_SYMLINK_NOFOLLOW) == 0 && sn.st_dev == sb.st_dev &&
            sn.st_ino == sb.st_ino)
            (void)unlinkat(dfd, e->d_name, 0);
        close(fd);
    }
    closedir(d);
}

enum dpt_status dpt_atomic_open(struct dpt_atomic_file *af, const char *path)
{
    static const char suffix[] = ".tmp.XXXXXX";
    char ebuf[128];
    struct stat sb;
    size_t len, bytes;
    int fd;
    memset(af, 0, sizeof *af);
    if (!path || !*path)
        return dpt_error(DPT_ERR_INVALID, "path is NULL or empty");
    const int exists = stat(path, &sb) == 0;
    if (exists && !S_ISREG(sb.st_mode)) {
        if (S_ISDIR(sb.st_mode))
            return dpt_error(DPT_ERR_IO, "%s: is a directory", path);
        // A device (/dev/null), FIFO or socket: renaming a file over it would replace it (as
        // root, /dev/null became a regular file), so it is written in place.
        fd = open(path, O_WRONLY | O_NOCTTY);
        if (fd < 0 || !(af->fp = fdopen(fd, "wb"))) {
            int err = errno;
            if (fd >= 0)
                close(fd);
            return dpt_error(DPT_ERR_IO, "%s: cannot open it for writing: %s", path,
                             dpt_io_strerror(err, ebuf, sizeof ebuf));
        }
        af->direct = 1;
        af->path = path;
        return DPT_OK;
    }
    len = strlen(path);
    if (dpt_add_overflow(len, sizeof suffix, &bytes))
        return dpt_error(DPT_ERR_RANGE, "%s: path too long", path);
    af->tmp_path = dpt_malloc(bytes);
    if (!af->tmp_path)
        return dpt_error(DPT_ERR_NOMEM, "%s: out of memory", path);
    memcpy(af->tmp_path, path, len);
    memcpy(af->tmp_path + len, suffix, sizeof suffix);
    fd = create_unique(af->tmp_path, len + sizeof suffix - 7);
    if (fd < 0) {
        int err = errno;
        dpt_free(af->tmp_path);
        af->tmp_path = NULL;
        return dpt_error(DPT_ERR_IO, "%s: cannot create a temporary file beside it: %s", path,
                         dpt_io_strerror(err, ebuf, sizeof ebuf));
    }
    // Held until commit or abort (fclose): the file is not a leftover while it is held.
    (void)flock(fd, LOCK_EX | LOCK_NB);
    remove_stale_temps(path, af->tmp_path);
    // A new file has the mode any output file gets, 0666 less the umask (applied by open); one
    // that replaces a file keeps that file's mode. A failure is not fatal: the data is still
    // written correctly.
    if (exists)
        (void)fchmod(fd, sb.st_mode & 07777);
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        int err = errno;
        close(fd);
        unlink(af->tmp_path);
        dpt_free(af->tmp_path);
        af->tmp_path = NULL;
        return dpt_error(DPT_ERR_IO, "%s: cannot open the temporary file: %s", path,
                         dpt_io_strerror(err, ebuf, sizeof ebuf));
    }
    af->path = path;
    return DPT_OK;
}

enum dpt_status dpt_atomic_write(struct dpt_atomic_file *af, const void *buf, size_t n)
{
    char ebuf[128];
    if (af->failed || !af->fp)
        return dpt_error(DPT_ERR_IO, "%s: write after a failed write",
                         af->path ? af->path : "(closed)");
    if (n == 0)
        return DPT_OK;
    if (fwrite(buf, 1, n, af->fp) != n) {
        af->failed = 1;
        return dpt_error(DPT_ERR_IO, "%s: write failed: %s", af->path,
                         dpt_io_strerror(errno, ebuf, sizeof ebuf));
    }
    return DPT_OK;
}

// fsyncs the directory holding path so that the rename itself is durable. Best effort: some
// file systems refuse fsync on directories, and the data is already safe in the file.
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    size_t len;
    int fd;
    if (!slash) {
        fd = open(".", O_RDONLY);
    } else {
        len = slash == path ? 1 : (size_t)(slash - path);
        dir = dpt_malloc(len + 1);
        if (!dir)
            return;
        memcpy(dir, path, len);
        dir[len] = '\0';
        fd = open(dir, O_RDONLY);
        dpt_free(dir);
    }
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

enum dpt_status dpt_atomic_commit(struct dpt_atomic_file *af)
{
    char ebuf[128];
    enum dpt_status st = DPT_OK;
    int err = 0;
    const char *what = NULL;
    if (!af->fp || (!af->tmp_path && !af->direct))
        return dpt_error(DPT_ERR_INVALID, "atomic file is not open");
    if (af->failed) {
        dpt_atomic_abort(af);
        return dpt_error(DPT_ERR_IO, "%s: not replaced after a failed write", af->path);
    }
    if (af->direct) { // a special file: flushed and closed, nothing to sync or rename
        errno = 0;
        if (fflush(af->fp) != 0 || ferror(af->fp)) {
            err = errno ? errno : EIO;
            what = "write failed";
        }
        if (fclose(af->fp) != 0 && !what) {
            err = errno;
            what = "close failed";
        }
        af->fp = NULL;
        af->direct = 0;
        return what ? dpt_error(DPT_ERR_IO, "%s: %s: %s", af->path, what,
                                dpt_io_strerror(err, ebuf, sizeof ebuf))
                    : DPT_OK;
    }
    if (fflush(af->fp) != 0) {
        err = errno;
        what = "write failed";
    } else if (fsync(fileno(af->fp)) != 0) {
        err = errno;
        what = "fsync failed";
    }
    if (fclose(af->fp) != 0 && !what) {
        err = errno;
        what = "close failed";
    }
    af->fp = NULL;
    if (!what && rename(af->tmp_path, af->path) != 0) {
        err = errno;
        what = "cannot rename the temporary file over it";
    }
    if (what) {
        unlink(af->tmp_path);
        st = dpt_error(DPT_ERR_IO, "%s: %s: %s", af->path, what,
                       dpt_io_strerror(err, ebuf, sizeof ebuf));
    } else {
        sync_parent_dir(af->path);
    }
    dpt_free(af->tmp_path);
    af->tmp_path = NULL;
    return st;
}

void dpt_atomic_abort(struct dpt_atomic_file *af)
{
    if (af->fp) {
        fclose(af->fp);
        af->fp = NULL;
    }
    if (af->tmp_path) {
        unlink(af->tmp_path);
        dpt_free(af->tmp_path);
        af->tmp_path = NULL;
    }
    af->direct = 0;
}
