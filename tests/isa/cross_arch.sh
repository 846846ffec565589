#!/usr/bin/env bash
# The ctest test cross_arch_model of the arm64 cross build: a model trained on x86-64 gives the
# same predictions on arm64, and one trained on arm64 the same on x86-64. Both dptrain binaries
# run here: the native one (the release build's) and the arm64 one under its emulator. For each
# direction the model is trained by one, saved, and then read by both (the model file is little
# endian on both), and both predict the same samples and evaluate the loss:
#   - the predicted classes are identical, except where the two top outputs of a sample are
#     within the bound below of each other (a tie the rounding may break either way);
#   - every output differs by at most BOUND = 1e-5 (absolute; outputs are probabilities in
#     [0, 1]), and the loss by at most 1e-5 relative.
# The two sides compute the same sums in different orders (AVX-512 or AVX2 kernels against NEON
# ones, the BLAS at the generic level); for these networks (inputs and activations of order 1,
# dot products of at most 784 terms) the float error of a layer is at most gamma_784 ~ 4.7e-5
# of the sum of |w||a| (tests/fp_bound.h); measured: at most 9e-7 (Fashion-MNIST), 2e-7 (the
# 2-D sets). The bound leaves room for other BLAS builds and levels without hiding a wrong kernel
# or a misread file, which change outputs by far more.
# Exit 77 (ctest: skipped) when the native dptrain has not been built (preset release first).
#   cross_arch.sh NATIVE_DPTRAIN EMULATOR [ARGS...] -- ARM64_DPTRAIN WORK_DIR
set -euo pipefail
native=$1
shift
emu=()
while (($# > 0)) && [[ "$1" != -- ]]; do
    emu+=("$1")
    shift
done
shift
arm=$1
work=$2
if [[ ! -x "$native" ]]; then
    echo "no native dptrain at $native (build the release preset first): skipped"
    exit 77
fi
rm -rf "$work"
mkdir -p "$work"
bound=1e-5
unset DPT_ISA DPT_GEMM
export OPENBLAS_NUM_THREADS=1

x86() { "$native" "$@"; }
a64() { "${emu[@]}" "$arm" "$@"; }

# Compares two prediction CSVs (class,p0,p1,...) row by row; prints the largest difference.
compare() {
    awk -F, -v bound="$bound" -v what="$3" '
        FNR == 1 { next }
        NR == FNR { a[FNR] = $0; next }
        {
            n = split(a[FNR], x, ",")
            if (n != NF) { printf "%s: row %d has %d columns against %d\n", what, FNR, n, NF; bad = 1; exit }
            top1 = -1; top2 = -1
            for (j = 2; j <= NF; j++) {
                d = x[j] - $j; if (d < 0) d = -d
                if (d > max) max = d
                if (d > bound) { printf "%s: row %d, output %d: %s against %s\n", what, FNR, j - 2, x[j], $j; bad = 1 }
                if ($j > top1) { top2 = top1; top1 = $j } else if ($j > top2) top2 = $j
            }
            if (x[1] != $1 && top1 - top2 > bound) {
                printf "%s: row %d: class %s against %s\n", what, FNR, x[1], $1; bad = 1
            }
            rows++
        }
        END {
            if (!bad && rows == 0) { printf "%s: no rows\n", what; bad = 1 }
            if (!bad) printf "%s: %d rows, largest output difference %.3g\n", what, rows, max
            exit bad
        }' "$1" "$2"
}

loss_of() { sed -n 's/.*"loss":\([^,}]*\).*/\1/p'; }

same_loss() {
    awk -v a="$1" -v b="$2" -v what="$3" 'BEGIN {
        d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a
        if (d > 1e-5 * m) { printf "%s: loss %s against %s\n", what, a, b; exit 1 }
        printf "%s: loss %s against %s\n", what, a, b }'
}

# check NAME TRAINER LAYERS EPOCHS TRAIN_SPEC DATA_ARGS...: train on TRAIN_SPEC with TRAINER (x86
# or a64), then predict and evaluate the data DATA_ARGS name with both.
check() {
    local name=$1 trainer=$2 layers=$3 epochs=$4 train=$5
    shift 5
    "$trainer" train --data "$train" --layers "$layers" --epochs "$epochs" --threads 2 --seed 3 \
        --quiet --save "$work/$name.st" >/dev/null
    x86 predict --model "$work/$name.st" "$@" --out "$work/$name.x86.csv"
    a64 predict --model "$work/$name.st" "$@" --out "$work/$name.arm64.csv"
    local what="$name (trained on ${trainer/a64/arm64}), x86-64 against arm64"
    compare "$work/$name.x86.csv" "$work/$name.arm64.csv" "$what"
    same_loss "$(x86 eval --model "$work/$name.st" "$@" --json | loss_of)" \
        "$(a64 eval --model "$work/$name.st" "$@" --json | loss_of)" "$what"
}

check spirals_x86 x86 2,128,128,2 4 synth:spirals,n=4000,seed=1 --data synth:spirals,n=2000,seed=2
check spirals_arm64 a64 2,128,128,2 4 synth:spirals,n=4000,seed=1 --data synth:spirals,n=2000,seed=2
check blobs_arm64 a64 2,64,5 3 synth:blobs,n=3000,classes=5,seed=4 \
    --data synth:blobs,n=1000,classes=5,seed=5
# Fashion-MNIST (Debian's dataset-fashion-mnist) trained on x86-64 (784 inputs: the packed GEMM),
# the test part predicted on both.
if [[ -d /usr/share/datasets/fashion-mnist ]]; then
    check fashion_x86 x86 784,128,10 1 fashion-mnist --data fashion-mnist --part test
fi
