#!/usr/bin/env bash
# scripts/device_check.sh end to end on this machine, shortened (one run per configuration, 12000
# samples, no PyTorch): the script is run once, on a borrowed machine whose time is short, so a
# fault must show here first. Checks that every stage ran and that the summary holds a figure for
# each question it answers; the figures themselves are not judged (not a measurement).
#
#   tests/scripts/device_check_smoke.sh DPTRAIN
set -euo pipefail
dptrain=$1
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
data=/usr/share/datasets/fashion-mnist
if [[ ! -r $data/train-images-idx3-ubyte.gz ]]; then
    echo "device_check_smoke: no Fashion-MNIST in $data: skipped"
    exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$src/scripts/device_check.sh" --dptrain "$dptrain" --out "$out/r" --budget 300 --repeat 1 \
    --samples 12000 --no-torch
s=$out/r/summary.md
fail() {
    echo "device_check_smoke: $*" >&2
    echo "--- summary.md:" >&2
    cat "$s" >&2
    exit 1
}
# fma_peak is an x86-64 program (the AVX-512 and AVX2 FMA loops): elsewhere (arm64) its stage is
# skipped by design, and nothing else may be.
files=(machine.txt bench.jsonl proxy.csv gemm_bench.txt)
if [[ $(uname -m) == x86_64 ]]; then
    files+=(fma_peak.md)
    [[ ! -e $out/r/skipped.txt ]] || fail "stages were skipped: $(cat "$out/r/skipped.txt")"
elif [[ -e $out/r/skipped.txt ]] && grep -v 'no fma_peak' "$out/r/skipped.txt" >/dev/null; then
    fail "stages were skipped: $(cat "$out/r/skipped.txt")"
fi
for f in "${files[@]}"; do
    [[ -s $out/r/$f ]] || fail "$f is missing or empty"
done
num='[0-9]+(\.[0-9]+)?'
# Issue 16's table: every workload at 1 thread, measured and predicted.
for w in S M L; do
    grep -Eq "^\| $w \| 1 \| [0-9]+ \| 100% \| 100% \| 1\.00 \|$" "$s" || fail "no 1-thread row for $w"
done
cores=$(nproc)
if ((cores >= 2)); then
    for w in S M L; do
        grep -Eq "^\| $w \| 2 \| [0-9]+ \| [0-9]+% \| [0-9]+% \| $num \|$" "$s" ||
            fail "no 2-thread row for $w"
    done
    for ct in unset Haswell; do
        grep -Eq "^- OPENBLAS_CORETYPE $ct: 2 threads [1-9][0-9]*, 8 threads [1-9][0-9]* samples/s: $num""x$" \
            "$s" || fail "no oversubscription line ($ct)"
    done
fi
if grep -qw avx512f /proc/cpuinfo; then
    grep -Eq "^\| 1 \| $num \| $num \| $num% \| 88% \|$" "$s" || fail "no L against the FMA peak"
fi
if grep -qw avx2 /proc/cpuinfo; then
    for w in L S; do
        grep -Eq "^- $w: $num GFLOP/s, $num% of $num \(target [0-9]+%\)$" "$s" ||
            fail "no AVX2 line for $w"
    done
fi
if ((cores >= 2)) && grep -qw avx512f /proc/cpuinfo; then
    grep -Eq "^- peak $num / $num GFLOP/s, L $num / $num GFLOP/s; per-round ratio $num% at 1 thread, $num% at 2$" \
        "$s" || fail "no paired L-against-peak line"
fi
if ((cores >= 2)) && grep -qw avx512f /proc/cpuinfo && command -v python3 >/dev/null; then
    # The proxy refit with the FMA loop's all-core clock: a 2-thread row of L, three errors.
    grep -Eq "^\| L \| 2 \| [0-9]+% \| [0-9]+% \| [-+][0-9]+% \| [0-9]+% \| [-+][0-9]+% \| [0-9]+% \| [-+][0-9]+% \|$" \
        "$s" || fail "no refit row for L at 2 threads"
fi
if ((cores >= 4)); then
    grep -Eq "^- L: 1 thread [0-9]+, $cores threads [0-9]+ samples/s: $num""x$" "$s" ||
        fail "no busy line for L"
fi
echo "device_check_smoke: OK ($(wc -l <"$s") lines of summary)"
