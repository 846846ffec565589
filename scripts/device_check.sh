#!/usr/bin/env bash
# Everything the open performance questions (docs/benchmarks.md) need from a borrowed machine, in
# one run of a few minutes: what the machine is, its FMA peak, the reference workloads S, M and L
# at 1, 2, 4, ... threads up to every usable core, the scaling proxy's prediction of the same
# thread counts from one of its cores (and again with the FMA loop's all-core clock:
# scripts/proxy_refit.py), L against the FMA peak in the same rounds (scripts/peak_bench.sh), the
# AVX2 level, S with Adam oversubscribed (8 threads on 2 cores), the GEMM kernels against the BLAS,
# the reference workloads with half the cores taken by spinning processes, S and M at every core
# with the barrier in runs and flat (past 8 cores), and PyTorch where the machine has it. The
# stages run most important first, each under what is left of a time budget, so a run cut short
# keeps what it measured.
#
#   scripts/device_check.sh [--dptrain BIN] [--out DIR] [--budget SECONDS] [--data DIR]
#                           [--repeat R] [--samples N] [--no-torch]
#   scripts/device_check.sh --report DIR
#
#   --dptrain BIN  the dptrain to measure (default build/release/dptrain). On a machine where
#                  nothing can be installed: a bundle's DIR/dptrain/bin/dptrain (scripts/bundle.sh
#                  --data --tools), whose bin/ also holds fma_peak and gemm_bench.
#   --out DIR      results (default build/device/<UTC time>): machine.txt, one file per stage,
#                  summary.md
#   --budget S     seconds for the whole run (default 420); a stage starts only with 20 s left
#   --data DIR     the Fashion-MNIST files (default: the bundle's data/ beside bin/, else
#                  /usr/share/datasets/fashion-mnist)
#   --repeat R     runs per configuration of `dptrain bench` (default 3)
#   --samples N    train on the first N samples per run (default 30000)
#   --no-torch     leave PyTorch out
#   --report DIR   print the summary of a finished run again (after copying its files back)
#
# PYTHON names an interpreter with torch (else python3, then /usr/bin/python3, where one has it).
# fma_peak and gemm_bench are taken from beside BIN (a bundle), else fma_peak is compiled (gcc)
# and gemm_bench taken from BIN's build tree (tests/); a stage whose tool is missing is skipped
# and says so.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

die() {
    echo "device_check.sh: error: $*" >&2
    exit 2
}

# The summary: what the open issues ask, from the files above (those that exist).
summarize() {
    files=()
    for f in fma_peak.md bench.jsonl avx2.jsonl busy.jsonl barrier_runs.jsonl barrier_flat.jsonl \
        torch.jsonl proxy.csv oversub_unset.csv oversub_Haswell.csv; do
        [[ -s $out/$f ]] && files+=("$out/$f")
    done
    files+=(/dev/null)
    {
        echo "# device_check.sh on $(sed -n 's/^Model name: *//p' "$out/machine.txt" | head -1), $cores usable cores"
        echo
        head -2 "$out/machine.txt" | sed 's/^# //'
        echo
        awk -v tl="$tl" -v cores="$cores" '
        function jget(s, k,   r) {
            # strings, then numbers; dptrain writes "k":v, Python "k": v (no "?": mawk mismatches it)
        if (match(s, "\"" k "\": *\"[^\"]*") || match(s, "\"" k "\": *[^,}]*")) {
            r = substr(s, RSTART, RLENGTH); sub(/^"[^"]*": *"*/, "", r); return r }
            return ""
        }
        FILENAME ~ /fma_peak.md$/ && $0 ~ /^\| AVX-512 zmm \|/ {
            split($0, f, "|"); t = f[4] + 0; g = f[5] + 0; if (g > zmm[t]) zmm[t] = g }
        FILENAME ~ /fma_peak.md$/ && $0 ~ /^\| AVX2 ymm \|/ {
            split($0, f, "|"); t = f[4] + 0; g = f[5] + 0; if (g > ymm[t]) ymm[t] = g }
        FILENAME ~ /(bench|avx2|busy|barrier_runs|barrier_flat).jsonl$/ && jget($0, "type") == "result" {
            src = FILENAME; sub(/.*\//, "", src); sub(/\.jsonl$/, "", src)
            key = src SUBSEP jget($0, "workload") SUBSEP (jget($0, "threads") + 0)
            rate[key] = jget($0, "samples_per_s") + 0; gf[key] = jget($0, "gflops") + 0 }
        FILENAME ~ /torch.jsonl$/ && jget($0, "type") == "torch_best" {
            trate[jget($0, "workload"), jget($0, "threads") + 0] = jget($0, "samples_per_s") + 0 }
        FILENAME ~ /proxy.csv$/ && $1 == "median" { pe[$2 SUBSEP ($10 + 0)] = $15 + 0 }
        FILENAME ~ /oversub_.*csv$/ && $1 == "run" {
            ct = FILENAME; sub(/.*oversub_/, "", ct); sub(/\.csv$/, "", ct)
            line = $0 # quoted fields ("784,128,10") hold commas
            while (match(line, /"[^"]*"/)) line = substr(line, 1, RSTART - 1) "q" substr(line, RSTART + RLENGTH)
            nf = split(line, f, ",")
            for (i = 1; i <= nf; i++) if (hdr[i] == "threads") th = f[i] + 0; else if (hdr[i] == "samples_per_s") sp = f[i] + 0
            n = ++ocount[ct, th]; orate[ct, th, n] = sp }
        FILENAME ~ /oversub_.*csv$/ && $1 == "kind" { for (i = 1; i <= NF; i++) hdr[i] = $i }
        END {
            n = split(tl, T, ",")
            print "## Issue 13: L against the FMA peak (AVX-512 zmm, best chain count, medians of 3 rounds)"
            print ""
            print "| threads | FMA peak GFLOP/s | L GFLOP/s | % of peak | target |"
            print "| ---: | ---: | ---: | ---: | ---: |"
            for (i = 1; i <= n; i++) { t = T[i]; if (!((t == 1 || t == 2 || t == cores) && zmm[t] && gf["bench", "L", t])) continue
                printf "| %d | %.1f | %.1f | %.1f%% | %s |\n", t, zmm[t], gf["bench", "L", t], 100 * gf["bench", "L", t] / zmm[t], t == 1 ? "88%" : t == 2 ? "85%" : "" }
            print ""
            print "AVX2 level (DPT_ISA=avx2), 1 thread, against the AVX2 (ymm) peak:"
            for (w = 1; w <= 2; w++) { W = w == 1 ? "L" : "S"; if (ymm[1] && gf["avx2", W, 1])
                printf "- %s: %.1f GFLOP/s, %.1f%% of %.1f (target %s)\n", W, gf["avx2", W, 1], 100 * gf["avx2", W, 1] / ymm[1], ymm[1], W == "L" ? "85%" : "70%" }
            print ""
            print "S with Adam, 8 threads on 2 cores against 2 threads (medians of the runs; target 0.6x):"
            for (c = 1; c <= 2; c++) { ct = c == 1 ? "unset" : "Haswell"; if (!ocount[ct, 2] || !ocount[ct, 8]) continue
                m2 = med(orate, ct, 2, ocount[ct, 2]); m8 = med(orate, ct, 8, ocount[ct, 8])
                printf "- OPENBLAS_CORETYPE %s: 2 threads %.0f, 8 threads %.0f samples/s: %.2fx\n", ct, m2, m8, m8 / m2 }
            print ""
            print "## Issue 16: measured efficiency (speed-up / T over 1 thread) beside the proxy'\''s prediction"
            print ""
            print "| workload | T | samples/s | measured | proxy | proxy / measured |"
            print "| --- | ---: | ---: | ---: | ---: | ---: |"
            for (w = 1; w <= 3; w++) { W = substr("SML", w, 1); r1 = rate["bench", W, 1]
                for (i = 1; i <= n; i++) { t = T[i]; if (!rate["bench", W, t]) continue
                    e = r1 ? rate["bench", W, t] / (t * r1) : 0; p = pe[W, t]
                    printf "| %s | %d | %.0f | %s | %s | %s |\n", W, t, rate["bench", W, t], r1 ? sprintf("%.0f%%", 100 * e) : "", p ? sprintf("%.0f%%", 100 * p) : "", p && e ? sprintf("%.2f", p / e) : "" } }
            print ""
            print "dptrain against PyTorch on this machine (its best configuration of threads):"
            for (w = 1; w <= 3; w++) { W = substr("SML", w, 1); for (i = 1; i <= n; i++) { t = T[i]
                if (trate[W, t] && rate["bench", W, t])
                    printf "- %s at %d thread%s: dptrain %.0f, PyTorch %.0f samples/s: %.2fx\n", W, t, t == 1 ? "" : "s", rate["bench", W, t], trate[W, t], rate["bench", W, t] / trate[W, t] } }
            print ""
            print "Phase ends (the dynamic step) and barriers in runs of about sqrt(T) workers against flat (DPT_BARRIER_RUNS=0), every usable core:"
            for (w = 1; w <= 2; w++) { W = w == 1 ? "S" : "M"; if (rate["barrier_runs", W, cores] && rate["barrier_flat", W, cores])
                printf "- %s: runs %.0f, flat %.0f samples/s: %.3fx\n", W, rate["barrier_runs", W, cores], rate["barrier_flat", W, cores], rate["barrier_runs", W, cores] / rate["barrier_flat", W, cores] }
            print ""
            print "Half the cores taken by spinning processes: every usable core against 1 thread, same load:"
            for (w = 1; w <= 2; w++) { W = w == 1 ? "S" : "L"; if (rate["busy", W, 1] && rate["busy", W, cores])
                printf "- %s: 1 thread %.0f, %d threads %.0f samples/s: %.2fx\n", W, rate["busy", W, 1], cores, rate["busy", W, cores], rate["busy", W, cores] / rate["busy", W, 1] }
        }
        function med(a, ct, t, k,   v, i, j, x) {
            for (i = 1; i <= k; i++) v[i] = a[ct, t, i]
            for (i = 2; i <= k; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
            return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
        }' FS='[,]' "${files[@]}"
        if [[ -s $out/peak_rounds.txt ]] && grep -q '^medians:' "$out/peak_rounds.txt"; then
            echo
            echo "Issue 13 again, the peak and L side by side in each round (scripts/peak_bench.sh):"
            sed -n 's/^medians: /- /p' "$out/peak_rounds.txt"
        fi
        if [[ -s $out/proxy.csv && -s $out/bench.jsonl && -s $out/fma_peak.md ]] &&
            command -v python3 >/dev/null; then
            echo
            echo "## Issue 16: the proxy again with the FMA loop's all-core clock (scripts/proxy_refit.py)"
            echo
            python3 scripts/proxy_refit.py "$out/proxy.csv" "$out/bench.jsonl" "$out/fma_peak.md" 2>&1
        fi
        [[ -s $out/skipped.txt ]] && { echo; echo "Skipped:"; sed 's/^/- /' "$out/skipped.txt"; }
    } >"$out/summary.md"
    cat "$out/summary.md"
}

dptrain=build/release/dptrain
out=""
budget=420
data=""
repeat=3
samples=30000
torch=1
report=""
while (($#)); do
    case "$1" in
    --dptrain | --out | --budget | --data | --repeat | --samples | --report)
        (($# >= 2)) || die "$1 needs a value"
        case "$1" in
        --dptrain) dptrain=$2 ;;
        --out) out=$2 ;;
        --budget) budget=$2 ;;
        --data) data=$2 ;;
        --repeat) repeat=$2 ;;
        --samples) samples=$2 ;;
        --report) report=$2 ;;
        esac
        shift 2
        ;;
    --no-torch)
        torch=0
        shift
        ;;
    -h | --help)
        awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
        exit 0
        ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
done
if [[ -n $report ]]; then # the summary again, from a finished run's files
    [[ -r $report/machine.txt ]] || die "$report: no machine.txt (not a device_check.sh run)"
    out=$report
    cores=$(sed -n 's/^# cores: \([0-9]*\), thread counts: .*/\1/p' "$out/machine.txt")
    tl=$(sed -n 's/^# cores: [0-9]*, thread counts: \(.*\)/\1/p' "$out/machine.txt")
    [[ -n $cores && -n $tl ]] || die "$report/machine.txt: no '# cores:' line"
    summarize
    exit 0
fi
[[ $budget =~ ^[0-9]+$ && $repeat =~ ^[1-9][0-9]*$ && $samples =~ ^[1-9][0-9]*$ ]] ||
    die "--budget, --repeat and --samples take whole numbers"
[[ -x $dptrain ]] || die "$dptrain: not an executable (build first: cmake --workflow --preset release)"
bindir=$(cd "$(dirname "$dptrain")" && pwd)
if [[ -z $data ]]; then
    if [[ -r $bindir/../data/train-images-idx3-ubyte.gz ]]; then
        data=$(cd "$bindir/../data" && pwd)
    else
        data=/usr/share/datasets/fashion-mnist
    fi
fi
[[ -r $data/train-images-idx3-ubyte.gz ]] || die "$data: no Fashion-MNIST files (--data DIR)"
out=${out:-build/device/$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out" || die "$out: cannot create"
start=$(date +%s)

# Seconds left of the budget.
left() { echo $((budget - ($(date +%s) - start))); }
# stage NAME CAP: whether to run a stage (at least 20 s left); prints its time limit.
stage() {
    local l
    l=$(left)
    if ((l < 20)); then
        echo "device_check.sh: $1 skipped: the budget is spent" | tee -a "$out/skipped.txt" >&2
        return 1
    fi
    echo "device_check.sh: $1 (at most $((l < $2 ? l : $2)) s)" >&2
    limit=$((l < $2 ? l : $2))
}

# The machine, and the thread counts: 1, 2, 4, ... and every usable core.
cores=$(nproc)
tl=1
for ((t = 2; t < cores; t *= 2)); do tl="$tl,$t"; done
((cores > 1)) && tl="$tl,$cores"
{
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "# dptrain: $dptrain, data: $data"
    echo "# cores: $cores, thread counts: $tl"
    lscpu
    echo
    "$dptrain" version 2>&1
    echo
    "$dptrain" topo 2>&1
} >"$out/machine.txt"
coretype=$(sed -n 's/^BLAS kernels: .*OPENBLAS_CORETYPE=\([A-Za-z0-9]*\).*/\1/p' "$out/machine.txt")

# Tools beside the binary (a bundle), else built here.
tool() {
    if [[ -x $bindir/$1 ]]; then
        echo "$bindir/$1"
    elif [[ $1 == fma_peak ]] && command -v gcc >/dev/null &&
        gcc -std=c11 -O2 -o "$out/fma_peak.bin" tests/bench/fma_peak.c -lpthread 2>/dev/null; then
        echo "$out/fma_peak.bin"
    elif [[ $1 == gemm_bench && -x $bindir/tests/gemm_bench ]]; then
        echo "$bindir/tests/gemm_bench" # a build tree's
    fi
}

if stage "FMA peak" 60; then
    fp=$(tool fma_peak)
    if [[ -n $fp ]]; then
        # Every thread count measured below: the all-core clock's fall, for the proxy's refit.
        timeout "$limit" "$fp" --rounds 3 --threads-list "$tl" >"$out/fma_peak.md" 2>&1
    else
        echo "device_check.sh: no fma_peak (no bundle tool, no gcc)" | tee -a "$out/skipped.txt" >&2
    fi
fi
if stage "S, M, L at $tl threads" 200; then
    timeout "$limit" "$dptrain" bench --data "$data" --workload S,M,L --threads-list "$tl" \
        --repeat "$repeat" --samples "$samples" --max-seconds 20 --json >"$out/bench.jsonl" \
        2>"$out/bench.log"
fi
if stage "the scaling proxy at $tl threads" 60; then
    timeout "$limit" "$dptrain" bench --proxy --workload S,M,L --threads-list "$tl" --repeat 3 \
        --csv "$out/proxy.csv" >"$out/proxy.txt" 2>&1
fi
if [[ -n ${fp:-} ]] && grep -qw avx512f /proc/cpuinfo &&
    stage "L against the FMA peak in the same rounds" 90; then
    # The issue-13 ratio again with the peak and L measured side by side in each round: a shared
    # host's clock moves between the stages above.
    timeout "$limit" scripts/peak_bench.sh --rounds "$repeat" --dptrain "$dptrain" --fma-peak "$fp" \
        --data "$data" --samples "$samples" >"$out/peak_rounds.txt" 2>&1
fi
if stage "S and L at the AVX2 level" 60; then
    DPT_ISA=avx2 timeout "$limit" "$dptrain" bench --data "$data" --workload S,L \
        --threads-list 1 --repeat "$repeat" --samples "$samples" --max-seconds 20 --json \
        >"$out/avx2.jsonl" 2>"$out/avx2.log"
fi
if stage "the GEMM kernels against the BLAS" 40; then
    gb=$(tool gemm_bench)
    if [[ -n $gb ]]; then
        # The OpenBLAS kernels dptrain runs with (it sets OPENBLAS_CORETYPE itself where needed).
        envs=()
        [[ -n $coretype ]] && envs=("OPENBLAS_CORETYPE=$coretype")
        env "${envs[@]}" timeout "$limit" "$gb" --rounds 3 >"$out/gemm_bench.txt" 2>&1
    else
        echo "device_check.sh: no gemm_bench" | tee -a "$out/skipped.txt" >&2
    fi
fi
if ! command -v taskset >/dev/null; then
    echo "device_check.sh: no taskset: the oversubscribed and busy stages are skipped" |
        tee -a "$out/skipped.txt" >&2
elif ((cores >= 2)) && stage "S with Adam, 8 threads on 2 cores" 60; then
    for ct in unset Haswell; do
        envs=()
        [[ $ct != unset ]] && envs=("OPENBLAS_CORETYPE=$ct")
        env "${envs[@]}" timeout $((limit / 2)) taskset -c 0,1 "$dptrain" scale \
            --data "fashion-mnist:$data" --layers 784,128,10 --batch 32 --schedule adam:lr=1e-3 \
            --threads-list 2,8 --repeat "$repeat" --quiet --csv "$out/oversub_$ct.csv" \
            >/dev/null 2>>"$out/oversub.log"
    done
fi
spinners=()
trap '((${#spinners[@]})) && kill "${spinners[@]}" 2>/dev/null' EXIT
if command -v taskset >/dev/null && ((cores >= 4)) && stage "S and L with half the cores busy" 90; then
    for ((c = cores / 2; c < cores; c++)); do
        taskset -c "$c" sh -c 'while :; do :; done' &
        spinners+=($!)
    done
    timeout "$limit" "$dptrain" bench --data "$data" --workload S,L --threads-list "1,$cores" \
        --repeat "$repeat" --samples "$samples" --max-seconds 20 --json >"$out/busy.jsonl" \
        2>"$out/busy.log"
    kill "${spinners[@]}" 2>/dev/null
    wait "${spinners[@]}" 2>/dev/null
    spinners=()
fi
if ((cores > 8)) && stage "S and M at every core, the barrier in runs and flat" 60; then
    # Past 8 workers in one cache domain the barrier counts arrivals in runs of about sqrt(T)
    # workers, and the dynamic step (the default, run here) its phases' items in the same runs
    # (docs/architecture.md); DPT_BARRIER_RUNS=0 keeps both flat. Rounds alternate the two.
    for ((k = 0; k < repeat; k++)); do
        for v in runs flat; do
            envs=()
            [[ $v == flat ]] && envs=(DPT_BARRIER_RUNS=0)
            env "${envs[@]}" timeout $((limit / (2 * repeat))) "$dptrain" bench --data "$data" \
                --workload S,M --threads-list "$cores" --repeat 1 --samples "$samples" \
                --max-seconds 10 --json >>"$out/barrier_$v.all.jsonl" 2>>"$out/barrier.log"
        done
    done
    # The median round of each (the summary reads barrier_runs.jsonl and barrier_flat.jsonl).
    for v in runs flat; do
        [[ -s $out/barrier_$v.all.jsonl ]] || continue
        for W in S M; do
            grep '"type":"result"' "$out/barrier_$v.all.jsonl" | grep "\"workload\":\"$W\"" |
                awk -F'"samples_per_s":' '{split($2, a, /[,}]/); print a[1] "\t" $0}' |
                sort -g | cut -f2- | awk '{l[NR] = $0} END {if (NR) print l[int((NR + 1) / 2)]}'
        done >"$out/barrier_$v.jsonl"
    done
fi
py=""
for p in "${PYTHON:-}" python3 /usr/bin/python3; do
    if ((torch)) && [[ -n $p ]] && command -v "$p" >/dev/null && "$p" -c 'import torch' 2>/dev/null; then
        py=$p
        break
    fi
done
if [[ -n $py ]] && stage "PyTorch on S, M, L" 120; then
    timeout "$limit" "$py" scripts/compare_pytorch.py --workload S,M,L --threads-list "1,$cores" \
        --repeat 1 --samples "$samples" --data "$data" --json >"$out/torch.jsonl" 2>"$out/torch.log"
fi

summarize
echo "device_check.sh: $(($(date +%s) - start)) s; results in $out" >&2
