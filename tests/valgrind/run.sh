#!/usr/bin/env bash
# The ctest test valgrind_train: runs PROGRAM (tests/valgrind/train_small.c) under valgrind
# memcheck. Any memory error, or a definite or indirect leak, fails it; exit 77 (ctest: skipped)
# when valgrind is not installed. No suppressions: OpenBLAS, libgomp, hwloc and cJSON leave
# nothing worse than "still reachable" or "possibly lost" (thread stacks) blocks, which do not
# count as errors here.
#   run.sh PROGRAM
set -euo pipefail
command -v valgrind >/dev/null 2>&1 || {
    echo "valgrind_train: valgrind not installed: skipped" >&2
    exit 77
}
# hwloc's x86 CPUID backend cannot run under valgrind; it disables itself with a warning.
export HWLOC_COMPONENTS=-x86
# Valgrind 3.19 decodes no AVX-512: force levels it runs, for dptrain (DPT_ISA) and for OpenBLAS
# (an OPENBLAS_CORETYPE of SkylakeX or Cooperlake died of SIGILL). On a CPU with AVX2 and FMA both
# run their AVX2 kernels; on an older one dptrain's generic level and OpenBLAS's own choice.
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    export DPT_ISA=avx2 OPENBLAS_CORETYPE=Haswell
else
    export DPT_ISA=generic
    unset OPENBLAS_CORETYPE
fi
exec valgrind --quiet --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
    --track-origins=yes "$1"
