#!/usr/bin/env bash
# The scaling proxy (`dptrain bench --proxy`) against the 16-core measurements of
# docs/results/16-cores/ (run 2: `dptrain scale` medians of S and L, the bench table's M; run 1:
# S where its code path still exists), with that machine's parameters, at both kernel levels that
# bracket the code of then; against this machine's own 2-thread figures; then its predictions for
# the current code on a typical server, on one NUMA node and on 4 nodes of 16 cores. Prints the
# tables of docs/benchmarks.md "Scaling proxy"; the proxy's CSVs go to DIR.
#   scripts/proxy_check.sh [--out DIR] [--repeat R] [--dptrain PATH]
# DIR defaults to build/proxy/<UTC time>; R (default 9) repeats of each sweep, medians. Builds the
# release preset first unless --dptrain names a binary. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are
# unset: OpenBLAS picks its own kernels, as in every recorded run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out="build/proxy/$(date -u +%Y%m%dT%H%M%SZ)"
repeat=9
bin=""
while (($#)); do
    case "$1" in
    --out) out=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --dptrain) bin=$2; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "proxy_check.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
if [[ -z $bin ]]; then
    cmake --workflow --preset release-build >/dev/null
    bin=build/release/dptrain
fi
mkdir -p "$out"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
# The machine is shared: its load before and after, for the record.
uptime >"$out/load.txt"
res=docs/results/16-cores

# One column of a CSV (quoted fields hold commas: they are blanked first) for the rows whose
# columns match: csv_col FILE COLUMN [NAME=VALUE ...].
csv_col() {
    local file=$1 col=$2
    shift 2
    awk -F, -v col="$col" -v conds="$*" '
        /^#/ { next }
        { gsub(/"[^"]*"/, "Q") }
        !hdr { for (i = 1; i <= NF; i++) idx[$i] = i; hdr = 1; n = split(conds, c, " "); next }
        {
            ok = 1
            for (k = 1; k <= n; k++) { split(c[k], kv, "="); if ($(idx[kv[1]]) != kv[2]) ok = 0 }
            if (ok) print $(idx[col])
        }' "$file"
}

# That machine (docs/benchmarks.md "16 cores"): an Intel Xeon (family 6, model 207) VM, 16 cores,
# one NUMA node. Its 16-thread sgemm limit was 0.481 of 16 times its 1-thread limit in the same
# run (1215.6 / (16 x 158.0) GFLOP/s): with all cores busy a core ran at about half its 1-core
# speed (turbo bins, a shared host). Not recorded, so assumed: a cache-line transfer of 60 ns
# (a mesh of that generation) and 100 GB/s of memory bandwidth.
xeon=(--allcore-speed 0.481 --cores 16 --barrier-ns 60 --mem-bw 100)
s1=$(csv_col "$res/run2_scale_S.csv" samples_per_s kind=median threads=1)
l1=$(csv_col "$res/run2_scale_L.csv" samples_per_s kind=median threads=1)
# M: only the bench table (single runs at 1 and 16 threads).
m_rate() { awk -F'|' -v t="$1" '$2 ~ /^ M / && $3 + 0 == t { print $4 + 0 }' "$res/run2_bench.md"; }
m1=$(m_rate 1)
m16=$(m_rate 16)

for level in generic avx512; do
    echo "== the 16-core check, DPT_ISA=$level" >&2
    DPT_ISA=$level "$bin" bench --proxy --workload S --threads-list 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 \
        --repeat "$repeat" --rate1 "$s1" "${xeon[@]}" --csv "$out/xeon_S_$level.csv" 2>/dev/null
    DPT_ISA=$level "$bin" bench --proxy --workload L --threads-list 1,2,4,8,12,16 \
        --repeat "$repeat" --rate1 "$l1" "${xeon[@]}" --csv "$out/xeon_L_$level.csv" 2>/dev/null
    DPT_ISA=$level "$bin" bench --proxy --workload M --threads-list 1,16 \
        --repeat "$repeat" --rate1 "$m1" "${xeon[@]}" --csv "$out/xeon_M_$level.csv" 2>/dev/null
done >"$out/xeon.txt"
# Run 1 (OpenBLAS's generic 'Prescott' kernels there): S at the thread counts whose row split is
# still the same (the split of 16-row units then, of pieces by work now, agree at 1, 2, 4, 8).
echo "== run 1: S with OpenBLAS's Prescott kernels" >&2
s1_run1=$(csv_col "$res/run1_scale_S.csv" samples_per_s kind=median engine=pthreads threads=1)
OPENBLAS_CORETYPE=Prescott DPT_ISA=generic "$bin" bench --proxy --workload S --threads-list 1,2,4,8 \
    --repeat "$repeat" --rate1 "$s1_run1" --allcore-speed 0.491 --cores 16 --barrier-ns 60 \
    --csv "$out/xeon_run1_S.csv" >"$out/xeon_run1.txt" 2>/dev/null

echo "== this machine at 2 threads, avx512 and generic" >&2
for level in avx512 generic; do
    DPT_ISA=$level "$bin" bench --proxy --threads-list 1,2 --repeat "$repeat" \
        --csv "$out/here_$level.csv" >"$out/here_$level.txt" 2>/dev/null
done

echo "== the current code, one node, then 4 NUMA nodes of 16 cores" >&2
"$bin" bench --proxy --repeat "$repeat" --barrier-ns 60 --csv "$out/now_1node.csv" \
    >"$out/now_1node.txt" 2>/dev/null
"$bin" bench --proxy --repeat "$repeat" --barrier-ns 60 --node-cores 16 \
    --csv "$out/now_4nodes.csv" >"$out/now_4nodes.txt" 2>/dev/null

# Measured speedup at T: the median rate over the median 1-thread rate, and the runs' range.
measured() { # FILE T -> "median min max"
    local file=$1 t=$2 base
    base=$(csv_col "$file" samples_per_s kind=median threads=1)
    local med runs
    med=$(csv_col "$file" samples_per_s kind=median threads="$t")
    runs=$(csv_col "$file" samples_per_s kind=run threads="$t" | sort -g | tr '\n' ' ')
    awk -v b="$base" -v m="$med" -v r="$runs" 'BEGIN {
        n = split(r, v, " "); printf "%.2f %.2f %.2f", m / b, v[1] / b, v[n] / b }'
}
echo
echo "| workload | T | measured speedup (median of 3; runs) | proxy, generic | error | proxy, avx512 | error |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
row() { # WORKLOAD T "median min max"
    local w=$1 t=$2 m=$3 g a
    g=$(csv_col "$out/xeon_${w}_generic.csv" speedup kind=median threads="$t")
    a=$(csv_col "$out/xeon_${w}_avx512.csv" speedup kind=median threads="$t")
    awk -v w="$w" -v t="$t" -v m="$m" -v g="$g" -v a="$a" 'BEGIN {
        split(m, x, " ")
        range = x[2] != "" ? sprintf(" (%.2f-%.2f)", x[2], x[3]) : ""
        printf "| %s | %d | %.2f%s | %.2f | %+.0f%% | %.2f | %+.0f%% |\n", w, t, x[1], range,
            g, 100 * (g / x[1] - 1), a, 100 * (a / x[1] - 1) }'
}
for t in 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
    row S "$t" "$(measured "$res/run2_scale_S.csv" "$t")"
done
for t in 2 4 8 12 16; do
    row L "$t" "$(measured "$res/run2_scale_L.csv" "$t")"
done
row M 16 "$(awk -v a="$m16" -v b="$m1" 'BEGIN { printf "%.2f", a / b }')"

echo
echo "| run 1, S (Prescott kernels) | T | measured speedup (median of 3; runs) | proxy | error |"
echo "| --- | ---: | ---: | ---: | ---: |"
for t in 2 4 8; do
    m=$(csv_col "$res/run1_scale_S.csv" samples_per_s kind=median engine=pthreads threads="$t")
    runs=$(csv_col "$res/run1_scale_S.csv" samples_per_s kind=run engine=pthreads threads="$t" |
        sort -g | tr '\n' ' ')
    p=$(csv_col "$out/xeon_run1_S.csv" speedup kind=median threads="$t")
    awk -v t="$t" -v b="$s1_run1" -v m="$m" -v r="$runs" -v p="$p" 'BEGIN {
        n = split(r, v, " ")
        printf "| S | %d | %.2f (%.2f-%.2f) | %.2f | %+.0f%% |\n", t, m / b, v[1] / b, v[n] / b, p,
            100 * (p / (m / b) - 1) }'
done

# This machine's own 2-thread speedups, recorded in docs/benchmarks.md "Every vector level" (the
# avx512 and generic columns, medians of 5 rounds of `dptrain bench`).
echo
echo "| workload | level | measured 2-thread speedup | proxy | error |"
echo "| --- | --- | ---: | ---: | ---: |"
for w in S M L; do
    for level in avx512 generic; do
        col=4
        [[ $level == generic ]] && col=6
        m=$(awk -F'|' -v w=" $w " -v c="$col" '$2 == w && $3 ~ /^ [12] $/ && $4 ~ /\(/ {
                r[$3 + 0] = $c + 0 } END { printf "%.3f", r[2] / r[1] }' docs/benchmarks.md)
        p=$(csv_col "$out/here_$level.csv" speedup kind=median workload="$w" threads=2)
        awk -v w="$w" -v l="$level" -v m="$m" -v p="$p" 'BEGIN {
            printf "| %s | %s | %.2f | %.2f | %+.0f%% |\n", w, l, m, p, 100 * (p / m - 1) }'
    done
done

echo
echo "| workload | T | NUMA nodes | samples/s | speedup | efficiency | compute us | memory us | barrier us | cold MiB/step |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for f in now_1node now_4nodes; do
    for w in S M L; do
        for t in 16 64; do
            [[ $f == now_1node && $t == 64 ]] && continue
            [[ $f == now_4nodes && $t == 16 ]] && continue
            awk -F, -v w="$w" -v t="$t" '
                /^#/ { next }
                !hdr { for (i = 1; i <= NF; i++) idx[$i] = i; hdr = 1; next }
                $idx["kind"] == "median" && $idx["workload"] == w && $idx["threads"] == t {
                    printf "| %s | %d | %d | %.0f | %.2f | %.0f%% | %.1f | %.1f | %.1f | %.1f |\n",
                        w, t, $idx["nodes"], $idx["samples_per_s"], $idx["speedup"],
                        100 * $idx["efficiency"], 1e6 * $idx["compute_s"], 1e6 * $idx["memory_s"],
                        1e6 * $idx["barrier_s"], $idx["cold_bytes"] / 1048576 }' "$out/$f.csv"
        done
    done
done
uptime >>"$out/load.txt"
echo
echo "proxy_check.sh: CSVs and tables in $out (load: load.txt)" >&2
