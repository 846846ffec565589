// Test support for programs run under qemu-user, preloaded into each (LD_PRELOAD, set by the
// emulator command in tests/CMakeLists.txt): the arm64 cross build (preset arm64), and on x86-64
// the core and optim suites on an emulated CPU without AVX-512 (ctest core_qemu_haswell and
// optim_qemu_haswell, DPT_QEMU_CPU).
//
// An emulated process hands execve to the host kernel. Without binfmt_misc (which a container
// must not register for the whole host) the kernel refuses a foreign arm64 program (ENOEXEC); an
// x86-64 program it runs natively, on the host's CPU, which is just as wrong for a test of another
// CPU. Criterion starts every test by re-executing its own binary (BoxFort's execl of
// /proc/self/exe), the CLI tests start dptrain (posix_spawn, execv), and dptrain restarts itself
// (execv of /proc/self/exe). These wrappers run such a program as
//     qemu-<machine> [-cpu MODEL] -0 ARGV0 -E LD_PRELOAD=<this library> PROGRAM ARGS...
// with the same environment, so it is emulated too and can start others the same way. Programs
// not of the guest machine (arm64: /bin/sh, bash, python3, gnuplot) are started as they are; on
// x86-64 every program is, so a shell a test starts is emulated as well. LD_PRELOAD leaves the
// environment as soon as this library is loaded (an arm64 host program's loader would try to
// preload an arm64 library, and say so on standard error); it is handed to qemu as -E instead.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef DPT_QEMU
#error "DPT_QEMU (the qemu-user program) must be defined"
#endif
#if defined(__aarch64__)
#define GUEST_MACHINE EM_AARCH64
#elif defined(__x86_64__)
#define GUEST_MACHINE EM_X86_64
#else
#error "tests/emu/qemu_exec.c knows only aarch64 and x86-64"
#endif

extern char **environ;

#define DPT_EXPORT __attribute__((visibility("default")))

static char preload[PATH_MAX + 16]; // "LD_PRELOAD=<this library>"

// Runs when the emulated program loads: remembers this library and takes LD_PRELOAD out of the
// environment, so that host programs started through system() or popen() never see it.
__attribute__((constructor)) static void forget_preload(void)
{
    Dl_info self;
    if (dladdr(preload, &self) && self.dli_fname && strlen(self.dli_fname) < PATH_MAX)
        strcat(strcpy(preload, "LD_PRELOAD="), self.dli_fname);
    unsetenv("LD_PRELOAD");
}

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                        const posix_spawnattr_t *, char *const[], char *const[]);

// libc's own definitions (the next ones after these), through memcpy: ISO C has no conversion
// from void * to a function pointer.
static execve_fn real_execve(void)
{
    execve_fn f;
    void *p = dlsym(RTLD_NEXT, "execve");
    memcpy(&f, &p, sizeof f);
    return f;
}

static spawn_fn real_spawn(const char *name)
{
    spawn_fn f;
    void *p = dlsym(RTLD_NEXT, name);
    memcpy(&f, &p, sizeof f);
    return f;
}

// Whether path names an ELF program for the emulated machine; its real path in real (PATH_MAX):
// /proc/self/exe must become the program's own path (qemu answers readlink with it), since the
// host qemu would find itself there.
static int guest_program(const char *path, char *real)
{
    if (!realpath(path, real))
        return 0;
    const int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    unsigned char h[EI_NIDENT + 4];
    const ssize_t n = pread(fd, h, sizeof h, 0);
    close(fd);
    return n == (ssize_t)sizeof h && memcmp(h, ELFMAG, SELFMAG) == 0 &&
           (h[18] | h[19] << 8) == GUEST_MACHINE;
}

// The emulator's argv for real with argv, and envp less LD_PRELOAD; both malloc'ed (NULL when out
// of memory). Pointers into argv and envp, no copies of the strings.
static int emulated(const char *real, char *const argv[], char *const envp[], char ***eargv,
                    char ***eenvp)
{
    size_t na = 0, ne = 0;
    while (argv && argv[na])
        na++;
    while (envp && envp[ne])
        ne++;
    char **a = malloc((na + 10) * sizeof *a), **e = malloc((ne + 1) * sizeof *e);
    if (!a || !e) {
        free(a);
        free(e);
        errno = ENOMEM;
        return -1;
    }
    size_t k = 0;
    a[k++] = (char *)DPT_QEMU;
#ifdef DPT_QEMU_CPU // the emulated CPU model, as the first program was started with
    a[k++] = (char *)"-cpu";
    a[k++] = (char *)DPT_QEMU_CPU;
#endif
    a[k++] = (char *)"-0";
    a[k++] = (char *)(na > 0 ? argv[0] : real);
    if (preload[0]) {
        a[k++] = (char *)"-E";
        a[k++] = preload;
    }
    a[k++] = (char *)real;
    for (size_t i = 1; i < na; i++)
        a[k++] = argv[i];
    a[k] = NULL;
    k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(envp[i], "LD_PRELOAD=", 11) != 0)
            e[k++] = envp[i];
    e[k] = NULL;
    *eargv = a;
    *eenvp = e;
    return 0;
}

DPT_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    char real[PATH_MAX];
    if (!guest_program(path, real))
        return real_execve()(path, argv, envp);
    char **a, **e;
    if (emulated(real, argv, envp, &a, &e) != 0)
        return -1;
    real_execve()(DPT_QEMU, a, e);
    const int err = errno;
    free(a);
    free(e);
    errno = err;
    return -1;
}

DPT_EXPORT int execv(const char *path, char *const argv[])
{
    return execve(path, argv, environ);
}

DPT_EXPORT int execl(const char *path, const char *arg, ...)
{
    enum { MAX_ARGS = 256 };
    char *argv[MAX_ARGS + 1];
    size_t n = 0;
    argv[n++] = (char *)arg;
    va_list ap;
    va_start(ap, arg);
    while (n < MAX_ARGS && (argv[n] = va_arg(ap, char *)) != NULL)
        n++;
    va_end(ap);
    argv[n] = NULL;
    return execve(path, argv, environ);
}

static int spawn(spawn_fn libc_spawn, pid_t *pid, const char *path,
                 const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
                 char *const argv[], char *const envp[])
{
    char real[PATH_MAX];
    if (!guest_program(path, real))
        return libc_spawn(pid, path, fa, attr, argv, envp);
    char **a, **e;
    if (emulated(real, argv, envp, &a, &e) != 0)
        return ENOMEM;
    const int rc = libc_spawn(pid, DPT_QEMU, fa, attr, a, e);
    free(a);
    free(e);
    return rc;
}

DPT_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    return spawn(real_spawn("posix_spawn"), pid, path, fa, attr, argv, envp);
}

// posix_spawnp with a name containing a slash is posix_spawn; a bare name is left to libc (the
// tests start only the host's programs, python3 or gnuplot, by name).
DPT_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                            const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    if (strchr(file, '/'))
        return spawn(real_spawn("posix_spawn"), pid, file, fa, attr, argv, envp);
    return real_spawn("posix_spawnp")(pid, file, fa, attr, argv, envp);
}
