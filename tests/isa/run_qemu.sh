#!/usr/bin/env bash
# The ctest test core_qemu_haswell: the core suite on an emulated CPU that truly lacks AVX-512
# (qemu-user's Haswell model: AVX2 and FMA, no AVX-512), so the level chosen by CPU feature, not
# forced, is checked away from this machine's own. First the CLI must report the avx2 level under
# the emulation (proof that the emulated CPU is the one the kernels see), then the suite runs.
# Exit 77 (ctest: skipped) without qemu-x86_64 (Debian package qemu-user, scripts/setup.sh).
# Every program the suite starts (criterion re-executes itself for each test) runs under the same
# emulation through the preloaded EXEC_LIB (tests/emu/qemu_exec.c); without it the host's kernel
# would run them natively, on this machine's CPU. A test in the suite checks that it is emulated.
#   run_qemu.sh EXEC_LIB DPTRAIN TEST_PROGRAM [ARGS...]
set -euo pipefail
command -v qemu-x86_64 >/dev/null 2>&1 || {
    echo "qemu-x86_64 not installed: skipped"
    exit 77
}
lib=$1
cli=$2
shift 2
# OpenBLAS picks its Haswell kernels from the emulated CPUID; an OPENBLAS_CORETYPE naming AVX-512
# kernels would not run there.
unset OPENBLAS_CORETYPE DPT_ISA DPT_GEMM
# With OPENBLAS_NUM_THREADS unset dptrain restarts itself before main (src/cli/blas.c), and that
# execve would leave the emulation (the host runs the new process); ctest sets it, a run by hand
# may not.
export OPENBLAS_NUM_THREADS=1
q=(qemu-x86_64 -cpu Haswell)
version=$("${q[@]}" "$cli" version 2>/dev/null)
if ! grep -q '^kernels: avx2 ' <<<"$version"; then
    echo "run_qemu.sh: under qemu -cpu Haswell dptrain should choose avx2; it says:" >&2
    echo "$version" >&2
    exit 1
fi
DPT_TEST_EMULATED_CPU=Haswell "${q[@]}" -E "LD_PRELOAD=$lib" "$@" \
    2> >(grep -v "TCG doesn't support requested feature" >&2)
