#!/usr/bin/env bash
# Thread-scaling measurements of the reference workloads (docs/benchmarks.md) on Fashion-MNIST, with
# `dptrain scale`: workload S (784-128-10, batch 32, SGD 0.05, 3 epochs) at 1, 2 and 8 threads on
# both engines, workload L (784-1024-1024-10, batch 256, SGD 0.05) at 1 and 2 threads, both again
# with private gradients (--grad private, for the comparison with the default sliced mode), L in
# reproducible mode (time cost), and the peak memory of L at 2 threads in the three modes.
#   scripts/scaling.sh [--out DIR] [--repeat R] [--threads-s LIST] [--threads-l LIST]
#                      [--threads-cmp LIST] [--dptrain PATH] [--data SPEC]
# --threads-cmp: thread counts of the private and reproducible runs (default: --threads-l's).
# Results (CSV with the machine and versions in the header, plots when gnuplot is installed, and
# memory.txt) go to DIR (default build/scaling/<UTC time>). Builds the release preset first, unless
# --dptrain names a binary (a bundle's bin/dptrain, scripts/bundle.sh). --data defaults to
# fashion-mnist (fashion-mnist:DIR reads the files from DIR).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out="build/scaling/$(date -u +%Y%m%dT%H%M%SZ)"
repeat=5
threads_s=1,2,8
threads_l=1,2
threads_cmp=""
bin=""
data=fashion-mnist
while (($#)); do
    case "$1" in
    --out) out=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --threads-s) threads_s=$2; shift 2 ;;
    --threads-l) threads_l=$2; shift 2 ;;
    --threads-cmp) threads_cmp=$2; shift 2 ;;
    --dptrain) bin=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "scaling.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
threads_cmp=${threads_cmp:-$threads_l}
if [[ -z $bin ]]; then
    cmake --workflow --preset release-build >/dev/null
    bin=build/release/dptrain
fi
mkdir -p "$out"
# S runs 3 epochs per measurement: one epoch takes only ~0.2-0.3 s, short enough for a single
# hiccup of a shared host to move a whole run.
S=(--data "$data" --layers 784,128,10 --act relu,softmax --schedule fixed:lr=0.05 --batch 32
    --epochs 3)
L=(--data "$data" --layers 784,1024,1024,10 --act relu,relu,softmax --schedule fixed:lr=0.05
    --batch 256)

echo "== S: threads $threads_s, pthreads and openmp" >&2
"$bin" scale "${S[@]}" --threads-list "$threads_s" --engines pthreads,openmp --repeat "$repeat" \
    --predict --csv "$out/scale_S.csv" --plot "$out/scale_S.svg"
echo "== L: threads $threads_l" >&2
"$bin" scale "${L[@]}" --threads-list "$threads_l" --repeat "$repeat" --predict \
    --csv "$out/scale_L.csv" --plot "$out/scale_L.svg"
echo "== S and L with private gradients: threads $threads_cmp" >&2
"$bin" scale "${S[@]}" --grad private --threads-list "$threads_cmp" --repeat "$repeat" \
    --csv "$out/scale_S_private.csv"
"$bin" scale "${L[@]}" --grad private --threads-list "$threads_cmp" --repeat "$repeat" \
    --csv "$out/scale_L_private.csv"
echo "== L, reproducible: threads $threads_cmp" >&2
"$bin" scale "${L[@]}" --reproducible --threads-list "$threads_cmp" --repeat "$repeat" \
    --csv "$out/scale_L_reproducible.csv"
echo "== L at 2 threads, 1 epoch: peak RSS (KiB): sliced (default), private, reproducible" >&2
if [[ ! -x /usr/bin/time ]]; then
    echo "scaling.sh: /usr/bin/time is missing (Debian package 'time'): no memory figures" >&2
    exit 0
fi
{
    for mode in sliced private reproducible; do
        extra=(--grad "$mode")
        [[ $mode == reproducible ]] && extra=(--reproducible)
        kib=$( { /usr/bin/time -f '%M' "$bin" train "${L[@]}" --epochs 1 --threads 2 --quiet \
            "${extra[@]}" >/dev/null; } 2>&1 | tail -n 1)
        echo "$mode peak_rss_kib=$kib"
    done
} | tee "$out/memory.txt"
echo "scaling.sh: results in $out" >&2
