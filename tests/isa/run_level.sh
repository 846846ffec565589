#!/usr/bin/env bash
# The ctest tests <suite>_<level>: runs a criterion suite with DPT_ISA=LEVEL, so that every vector
# level's kernels (avx512, avx2, generic = the BLAS only; neon on arm64) run the whole suite on any
# CPU that has them. Exit 77 (ctest: skipped) where this CPU lacks the level. PROGRAM may be an
# emulator with its arguments, then the test program (a cross build: qemu-aarch64 ...).
#   run_level.sh LEVEL PROGRAM [ARGS...]
set -euo pipefail
level=$1
shift
has() { grep -qw "$1" /proc/cpuinfo; }
case "$level" in
avx512) has avx512f && has avx2 && has fma || { echo "no AVX-512 on this CPU: skipped"; exit 77; } ;;
avx2) has avx2 && has fma || { echo "no AVX2 + FMA on this CPU: skipped"; exit 77; } ;;
neon) ;; # Advanced SIMD: every arm64 CPU (emulated or not) has it
generic) ;;
*)
    echo "run_level.sh: unknown level '$level'" >&2
    exit 2
    ;;
esac
export DPT_ISA=$level
exec "$@"
