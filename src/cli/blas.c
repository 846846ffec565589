// The BLAS kernels in the dptrain command: the one re-execution with the OPENBLAS_CORETYPE that
// suits this CPU when OpenBLAS did not recognise it, the lines `version` and `topo` print, and the
// warning at the end of a run whose kernels stay slow (an OPENBLAS_CORETYPE the user chose).
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_impl.h"

// Set (to the core OpenBLAS picked by itself) by the process that re-executes dptrain: the new
// process does not try again, and `version` and `topo` say that dptrain chose the kernels.
// Children (bench's --internal-child runs) inherit it with the fixed OPENBLAS_CORETYPE.
#define REEXEC_VAR "DPT_BLAS_REEXEC"

static int env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v;
}

void cli_blas_fix(char **argv)
{
    const char *fix = dpt_blas_coretype_fix();
    // The user's OPENBLAS_CORETYPE is respected (an OpenBLAS pinned on purpose); the guard keeps
    // a process that dptrain started this way from starting another.
    if (!fix || env_set("OPENBLAS_CORETYPE") || env_set(REEXEC_VAR))
        return;
    const char *had = getenv("OPENBLAS_CORETYPE"); // NULL or ""
    const int had_empty = had != NULL;
    const char *core = dpt_blas_kernels();
    if (setenv(REEXEC_VAR, core[0] ? core : "?", 1) != 0 ||
        setenv("OPENBLAS_CORETYPE", fix, 1) != 0)
        return;
    // DPTRAIN_SELF names the command where /proc/self/exe is a loader (scripts/bundle.sh), as
    // for bench's child processes.
    const char *self = getenv("DPTRAIN_SELF");
    execv(self && *self ? self : "/proc/self/exe", argv);
    if (argv[0] && strchr(argv[0], '/')) // never a different dptrain found on PATH
        execv(argv[0], argv);
    // Not restarted: this process goes on with the kernels it has (the results are the same, only
    // slower; the end-of-run warning names the fix). The guard stays, so that no child tries.
    if (had_empty)
        setenv("OPENBLAS_CORETYPE", "", 1);
    else
        unsetenv("OPENBLAS_CORETYPE");
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
    if (env && *env && picked && *picked)
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
