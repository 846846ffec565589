#!/usr/bin/env bash
# dptrain's CSV loader against one built on Debian's libcsv: compiles tests/bench/csv_bench.c with
# gcc (outside the CMake build: the project does not depend on libcsv) against
# build/release/libdptrain.a, writes Fashion-MNIST's training set as two CSV files (integer pixels,
# as Kaggle's copy; %.6g floats in [0, 1]), and prints Markdown tables: load times (medians of
# interleaved rounds), one huge quoted cell, and how each treats malformed input. The figures and
# the choice are in docs/formats.md ("CSV: own parser or libcsv").
#
#   scripts/csv_bench.sh [--rounds R] [--huge MB] [--no-build] [--install-deps] [--data DIR]
#
# Needs libcsv-dev (--install-deps installs it with apt-get; root) and Fashion-MNIST
# (dataset-fashion-mnist, or the four files in DIR). The CSV files (390 MB) go to build/csv_bench/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() {
    echo "csv_bench.sh: error: $*" >&2
    exit 2
}

rounds=7
huge=256
build=1
install=0
data=""
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) rounds=${2:?}; shift 2 ;;
    --huge) huge=${2:?}; shift 2 ;;
    --no-build) build=0; shift ;;
    --install-deps) install=1; shift ;;
    --data) data=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
done

if [ "$install" = 1 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libcsv-dev
fi
[ -e /usr/include/csv.h ] || die "no csv.h: apt-get install libcsv-dev (or --install-deps)"
if [ "$build" = 1 ]; then
    cmake --preset release >/dev/null
    cmake --build --preset release -j2 >/dev/null
fi
[ -e build/release/libdptrain.a ] || die "build/release/libdptrain.a is missing (drop --no-build)"

out=build/csv_bench
mkdir -p "$out"
# The library's dependencies, as its pkg-config file lists them for a static link.
gcc -std=c11 -O2 -Wall -Wextra -Iinclude -Isrc -o "$out/csv_bench" tests/bench/csv_bench.c \
    build/release/libdptrain.a -lcsv $(pkg-config --libs hwloc openblas libcjson zlib) -fopenmp \
    -lpthread -lm

for kind in int float; do
    [ -s "$out/fm_$kind.csv" ] || "$out/csv_bench" make "$out/fm_$kind.csv" "$kind" $data
done
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# libcsv $(dpkg-query -W -f '${Version}' libcsv-dev 2>/dev/null || echo '?'), git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
"$out/csv_bench" time "$out/fm_int.csv" "$rounds"
"$out/csv_bench" time "$out/fm_float.csv" "$rounds" | tail -n 1
echo
"$out/csv_bench" huge "$huge"
echo
"$out/csv_bench" cases
