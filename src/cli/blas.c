// The BLAS kernels in the dptrain command: the one re-execution with the OPENBLAS_CORETYPE that
// suits this CPU when OpenBLAS did not recognise it, the lines `version` and `topo` print, and the
// warning at the end of a run whose kernels stay slow (an OPENBLAS_CORETYPE the user chose).
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_impl.h"

// Set by the process that re-executes dptrain (to the core OpenBLAS picked by itself where dptrain
// chose another, else "-"): the new process does not try again, and `version` and `topo` say
// whether dptrain chose the kernels.
// Children (bench's --internal-child runs) inherit it with the fixed OPENBLAS_CORETYPE.
#define REEXEC_VAR "DPT_BLAS_REEXEC"

static int env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

// Puts the environment variable back as it was (unset, or set to "") when cli_blas_fix changed it.
static void restore_env(const char *name, int changed, int was_empty)
{
    if (!changed)
        return;
    if (was_empty)
        setenv(name, "", 1);
    else
        unsetenv(name);
}

// OpenBLAS starts its own thread pool when it loads (a constructor, before main), one thread per
// core, which dptrain never uses: its workers are the parallelism and call the BLAS
// single-threaded. Under a tight memory limit a pool thread that cannot start kills the process
// with SIGINT before main, and one that cannot map its buffer retries forever (OpenBLAS 0.3.21).
// With OPENBLAS_NUM_THREADS=1 there is no pool; `bench` still measures the BLAS at T threads
// (openblas_set_num_threads starts them then). A function in the executable's .preinit_array runs
// before any shared library's constructor, but setenv there is lost (the C library's own
// initialisation resets the environment to the process's original one), so where the variable
// is unset or empty it restarts the process at once with OPENBLAS_NUM_THREADS=1 added. Where that
// fails, or the environment is too large for the copy, cli_blas_fix restarts it from main.
#if defined(__linux__) && defined(__ELF__) && defined(__GNUC__)
// Whether `entry` is "NAME=..." (with a nonempty value where `nonempty`).
static int env_entry_is(const char *entry, const char *name, int nonempty)
{
    while (*name && *entry == *name)
        entry++, name++;
    return *name == '\0' && *entry == '=' && (!nonempty || entry[1] != '\0');
}

static void blas_single_thread_restart(int argc, char **argv, char **envp)
{
    enum { MAX_ENV = 4096 };
    static char *env[MAX_ENV + 2];
    static char one[] = "OPENBLAS_NUM_THREADS=1";
    const char *self = "/proc/self/exe";
    size_t n = 0;
    (void)argc;
    for (char **e = envp; e && *e; e++) {
        if (env_entry_is(*e, "OPENBLAS_NUM_THREADS", 1))
            return; // the user's choice
        if (env_entry_is(*e, "OPENBLAS_NUM_THREADS", 0))
            continue; // empty: replaced
        if (env_entry_is(*e, "DPTRAIN_SELF", 1))
            self = *e + sizeof "DPTRAIN_SELF";
        if (n == MAX_ENV)
            return;
        env[n++] = *e;
    }
    env[n++] = one;
    env[n] = NULL;
    execve(self, argv, env);
}
__attribute__((section(".preinit_array"),
               used)) static void (*const blas_preinit)(int, char **,
                                                        char **) = blas_single_thread_restart;
#endif

void cli_blas_fix(char **argv)
{
    // The guard keeps a process that dptrain started this way from starting another.
    if (env_set(REEXEC_VAR) || !dpt_blas_kernels()[0]) // done already, or not OpenBLAS
        return;
    // The user's OPENBLAS_CORETYPE is respected (an OpenBLAS pinned on purpose), and so is an
    // OPENBLAS_NUM_THREADS; where the restart before main did not happen, it is set here.
    const char *fix = env_set("OPENBLAS_CORETYPE") ? NULL : dpt_blas_coretype_fix();
    const int threads = !env_set("OPENBLAS_NUM_THREADS");
    if (!fix && !threads)
        return;
    const char *had_core = getenv("OPENBLAS_CORETYPE"),
               *had_threads = getenv("OPENBLAS_NUM_THREADS");
    const int core_empty = had_core != NULL, threads_empty = had_threads != NULL;
    const char *core = dpt_blas_kernels();
    // The guard holds the core OpenBLAS picked by itself when dptrain chose another, else "-".
    if (setenv(REEXEC_VAR, fix ? core : "-", 1) != 0 ||
        (fix && setenv("OPENBLAS_CORETYPE", fix, 1) != 0) ||
        (threads && setenv("OPENBLAS_NUM_THREADS", "1", 1) != 0))
        return;
    // DPTRAIN_SELF names the command where /proc/self/exe is a loader (scripts/bundle.sh), as
    // for bench's child processes.
    const char *self = getenv("DPTRAIN_SELF");
    execv(self && *self ? self : "/proc/self/exe", argv);
    if (argv[0] && strchr(argv[0], '/')) // never a different dptrain found on PATH
        execv(argv[0], argv);
    // Not restarted: this process goes on with the kernels and threads it has (the results are
    // the same; the end-of-run warning names a slow kernel set). The guard stays, so that no
    // child tries.
    restore_env("OPENBLAS_CORETYPE", fix != NULL, core_empty);
    restore_env("OPENBLAS_NUM_THREADS", threads, threads_empty);
}

void cli_blas_describe(FILE *f)
{
    const char *isa = getenv("DPT_ISA");
    if (isa && *isa)
        fprintf(f, "kernels: %s (DPT_ISA=%s)\n", dpt_isa_name(), isa);
    else if (strcmp(dpt_isa_name(), "generic") == 0)
        fprintf(f, "kernels: generic (every product goes to the BLAS)\n");
    else
        fprintf(f, "kernels: %s (built-in, chosen for this CPU)\n", dpt_isa_name());
    const char *core = dpt_blas_kernels();
    if (!core[0]) {
        fprintf(f, "BLAS kernels: not reported by this BLAS\n");
        return;
    }
    const char *env = getenv("OPENBLAS_CORETYPE");
    const char *picked = getenv(REEXEC_VAR);
    if (env && *env && picked && *picked && strcmp(picked, "-") != 0)
        fprintf(f,
                "BLAS kernels: OpenBLAS '%s' (OPENBLAS_CORETYPE=%s, chosen by dptrain: OpenBLAS "
                "picked '%s' for this CPU by itself)\n",
                core, env, picked);
    else if (env && *env)
        fprintf(f, "BLAS kernels: OpenBLAS '%s' (OPENBLAS_CORETYPE=%s)\n", core, env);
    else
        fprintf(f, "BLAS kernels: OpenBLAS '%s' (chosen by OpenBLAS for this CPU)\n", core);
    const char *check = dpt_blas_check();
    if (check)
        fprintf(f, "BLAS note: %s\n", check);
}

void cli_blas_warn(void)
{
    // The built-in kernels take every product the trainer issues at the avx2 and avx512 levels:
    // there the BLAS's kernels change neither the result nor its speed.
    if (strcmp(dpt_isa_name(), "generic") != 0)
        return;
    const char *check = dpt_blas_check();
    if (check)
        cli_warn("%s", check);
}
