#!/usr/bin/env bash
# The test command: installs what is missing (scripts/setup.sh), then builds and tests dptrain in
# six configurations (CMakePresets.json), stopping at the first failure:
#   release  optimised, -Werror; every criterion suite (allocation-failure walks included), the
#            core, optim and parallel suites again at each vector level (DPT_ISA=avx512, avx2,
#            generic) and the core suite on an emulated CPU without AVX-512 (qemu-x86_64 -cpu
#            Haswell), the packaging tests (install_consumer, readme_quickstart), valgrind_train
#            (memcheck of a 2-thread training) and the fuzz corpus replayed (fuzz_replay_*)
#   asan     AddressSanitizer + UndefinedBehaviorSanitizer; the criterion suites, stress programs
#            and corpus replay again, with leak detection (a sanitizer report in a criterion
#            suite's output fails it: tests/CMakeLists.txt)
#   tsan     ThreadSanitizer; the plain stress_* programs (criterion cannot run under TSan)
#   fuzz     clang + libFuzzer; each tests/fuzz harness fuzzed for 60 s from the committed corpus
#            (two at a time: about 3 minutes)
#   mpi      Release with -DDPT_MPI=ON (Open MPI, installed by scripts/setup.sh --with-mpi): the
#            mpi-labelled tests, 1-3 ranks under mpirun (about 30 s after the build)
#   arm64    Release cross-built for arm64 (Debian's gcc-aarch64-linux-gnu and arm64 packages,
#            installed by scripts/setup.sh --with-arm64); the release tests under qemu-aarch64,
#            a few left out (docs/reliability.md), and an x86-64 model checked on arm64 and back
#            (after release, whose dptrain it uses; about 9 minutes on 2 idle cores)
# docs/reliability.md describes each.
#
#   scripts/test.sh              # all six
#   scripts/test.sh asan tsan    # only these presets, in this order
# Prints a one-line summary at the end; exits non-zero when anything failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

presets=("$@")
if ((${#presets[@]} == 0)); then
    presets=(release asan tsan fuzz mpi arm64)
fi

start=$SECONDS
elapsed() {
    local s=$((SECONDS - start))
    printf '%dm%02ds' $((s / 60)) $((s % 60))
}

setup_args=()
for preset in "${presets[@]}"; do
    if [[ "$preset" == mpi ]]; then
        setup_args+=(--with-mpi)
    elif [[ "$preset" == arm64 ]]; then
        setup_args+=(--with-arm64)
    fi
done
if ! scripts/setup.sh "${setup_args[@]}"; then
    echo "test.sh: FAILED: scripts/setup.sh could not install the dependencies ($(elapsed))" >&2
    exit 1
fi

passed=()
for preset in "${presets[@]}"; do
    echo "==== test.sh: cmake --workflow --preset $preset"
    if ! cmake --workflow --preset "$preset"; then
        echo "test.sh: FAILED in preset '$preset' after $(elapsed);" \
            "passed: ${passed[*]:-none}" >&2
        exit 1
    fi
    passed+=("$preset")
done
echo "test.sh: OK: ${passed[*]} passed in $(elapsed)"
