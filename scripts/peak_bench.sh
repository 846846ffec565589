#!/usr/bin/env bash
# Issue 13's headline ratio: workload L's GFLOP/s against the FMA peak measured in the same round.
# Each round runs tests/bench/fma_peak.c (the AVX-512 zmm loops; the best chain count at 1 and 2
# threads) and then `dptrain bench --workload L --threads-list 1,2 --repeat 1` with
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset; the ratio is taken per round, then the median over
# the rounds. Needs a CPU with AVX-512 and a release build.
#
#   scripts/peak_bench.sh [--rounds R] [--pair] [--dptrain PATH] [--fma-peak PATH] [--data DIR]
#                         [--samples N]
#
# --pair: each round also runs two 1-thread runs of L at once, one bound to each of the first two
# cores (hwloc-bind core:0, core:1): what two cores give with nothing shared but the machine (its
# caches, memory and host), the most a 2-thread step could reach; reported against the 2-core
# peak, and L at 2 threads against it.
# --fma-peak takes a built FMA loop (a bundle's bin/fma_peak) instead of compiling one with gcc;
# --data and --samples are passed to `dptrain bench` (a bundle's data/; the first N samples).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=7
dptrain=build/release/dptrain
fma=""
pair=0
data=()
while (($#)); do
    case "$1" in
    --rounds | --dptrain | --fma-peak | --data | --samples)
        (($# >= 2)) || { echo "peak_bench.sh: $1 needs a value" >&2; exit 2; }
        case "$1" in
        --rounds) rounds=$2 ;;
        --dptrain) dptrain=$2 ;;
        --fma-peak) fma=$2 ;;
        --data) data+=(--data "$2") ;;
        --samples) data+=(--samples "$2") ;;
        esac
        shift 2
        ;;
    --pair) pair=1; shift ;;
    -h | --help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "peak_bench.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "peak_bench.sh: --rounds takes a whole number" >&2; exit 2; }
[[ -x $dptrain ]] || { echo "peak_bench.sh: build first (cmake --workflow --preset release)" >&2; exit 2; }
grep -qw avx512f /proc/cpuinfo || { echo "peak_bench.sh: this CPU has no AVX-512" >&2; exit 2; }
if ((pair)); then
    command -v hwloc-bind >/dev/null || { echo "peak_bench.sh: --pair needs hwloc-bind (scripts/setup.sh)" >&2; exit 2; }
    (($(hwloc-calc --number-of core all) >= 2)) || { echo "peak_bench.sh: --pair needs 2 cores" >&2; exit 2; }
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ -n $fma ]]; then # run where it is: a bundle's wrapper finds its libraries from its path
    [[ -x $fma ]] || { echo "peak_bench.sh: $fma: not an executable" >&2; exit 2; }
else
    gcc -std=c11 -O2 -Wall -o "$tmp/fma_peak" tests/bench/fma_peak.c -lpthread
    fma=$tmp/fma_peak
fi
echo "# $(lscpu | sed -n 's/^Model name: *//p' | head -1); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
for ((r = 1; r <= rounds; r++)); do
    p=$("$fma" --rounds 1 2>&1)
    p1=$(awk -F'|' '$2 ~ /AVX-512 zmm/ && $4+0 == 1 {if ($5+0 > m) m = $5+0} END {print m}' <<<"$p")
    p2=$(awk -F'|' '$2 ~ /AVX-512 zmm/ && $4+0 == 2 {if ($5+0 > m) m = $5+0} END {print m}' <<<"$p")
    b=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$dptrain" bench --workload L \
        --threads-list 1,2 --repeat 1 "${data[@]}" 2>/dev/null)
    g1=$(awk '$1 == "L" && $5 == 1 {print $8}' <<<"$b")
    g2=$(awk '$1 == "L" && $5 == 2 {print $8}' <<<"$b")
    line="round $r: peak $p1 / $p2 GFLOP/s, L $g1 / $g2: $(awk '{printf "%.1f%% / %.1f%%", 100*$3/$1, 100*$4/$2}' <<<"$p1 $p2 $g1 $g2")"
    q=0
    if ((pair)); then # both started together; each binds its one thread inside its core
        for c in 0 1; do
            hwloc-bind "core:$c" -- env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$dptrain" bench \
                --workload L --threads-list 1 --repeat 1 "${data[@]}" >"$tmp/pair$c" 2>/dev/null &
        done
        wait
        q=$(awk '$1 == "L" && $5 == 1 {s += $8; n++} END {print n == 2 ? s : 0}' "$tmp/pair0" "$tmp/pair1")
        [[ $q != 0 ]] || { echo "peak_bench.sh: a 1-thread run of the pair failed" >&2; exit 1; }
        line+=$(awk '{printf "; two 1-thread runs at once %.1f GFLOP/s: %.1f%% of the 2-core peak, L at 2 threads %.1f%% of them", $2, 100*$2/$1, 100*$3/$2}' <<<"$p2 $q $g2")
    fi
    echo "$r $p1 $p2 $g1 $g2 $q" >>"$tmp/rounds"
    echo "$line"
done
python3 - "$tmp/rounds" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
med = lambda xs: statistics.median(list(xs))
print("medians: peak %.1f / %.1f GFLOP/s, L %.1f / %.1f GFLOP/s; per-round ratio %.1f%% at 1 thread, %.1f%% at 2"
      % (med(r[1] for r in rows), med(r[2] for r in rows), med(r[3] for r in rows),
         med(r[4] for r in rows), med(100 * r[3] / r[1] for r in rows),
         med(100 * r[4] / r[2] for r in rows)))
if rows[0][5] > 0:
    print("two 1-thread runs at once: %.1f GFLOP/s, %.1f%% of the 2-core peak; L at 2 threads %.1f%% of them (per-round medians)"
          % (med(r[5] for r in rows), med(100 * r[5] / r[2] for r in rows), med(100 * r[4] / r[5] for r in rows)))
PY
