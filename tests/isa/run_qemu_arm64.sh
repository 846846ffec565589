#!/usr/bin/env bash
# The ctest test core_qemu_cortex_a72 of the arm64 cross build: the core suite on an emulated CPU
# model with fewer features than qemu's default ('max': SVE, SVE2, FP16 and the rest), a
# Cortex-A72 (Armv8.0-A, Advanced SIMD only: AWS Graviton 1, Raspberry Pi 4), so that the level
# chosen by CPU feature is checked there and nothing in the build needs an instruction that CPU
# lacks (SIGILL). First the CLI must report the expected level under that model (proof that the
# model is the one the kernels see), then the suite runs. QEMU_CPU selects the model for the
# emulator and for every program the suite starts under it.
#   run_qemu_arm64.sh CPU LEVEL EMULATOR [ARGS...] -- DPTRAIN TEST_PROGRAM [ARGS...]
set -euo pipefail
cpu=$1
level=$2
shift 2
emu=()
while (($# > 0)) && [[ "$1" != -- ]]; do
    emu+=("$1")
    shift
done
(($# > 0)) || {
    echo "run_qemu_arm64.sh: no '--' before DPTRAIN" >&2
    exit 2
}
shift
command -v "${emu[0]}" >/dev/null 2>&1 || {
    echo "${emu[0]} not installed: skipped"
    exit 77
}
cli=$1
shift
export QEMU_CPU=$cpu
unset DPT_ISA DPT_GEMM
version=$("${emu[@]}" "$cli" version 2>/dev/null)
if ! grep -q "^kernels: $level " <<<"$version"; then
    echo "run_qemu_arm64.sh: under qemu -cpu $cpu dptrain should choose $level; it says:" >&2
    echo "$version" >&2
    exit 1
fi
exec "${emu[@]}" "$@"
