#!/usr/bin/env bash
# Issue 13's figures: every vector level side by side, round by round, on the reference workloads;
# medians. Each round runs, in this order and each in a fresh process:
#   dptrain bench --workload W --threads-list 1,2   at DPT_ISA=avx512 (where the CPU has it),
#                                                   avx2 and generic (the BLAS only), and with
#                                                   the comparison binary --old (if given)
#   dptrain scale, S with Adam, 2 and 8 threads     with OPENBLAS_CORETYPE unset and set to the
#                                                   value the environment had (or Haswell)
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the bench runs (OpenBLAS picks its own
# kernels). Prints one table; the raw JSON lines and CSVs stay in the output folder.
#
#   scripts/isa_bench.sh [--rounds R] [--workloads S,L] [--old PATH/dptrain] [--out DIR]
#   scripts/isa_bench.sh --report DIR     # the table again from a finished run
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rounds=5
workloads=S,M,L
old=""
report=""
out=build/isa_bench/$(date -u +%Y%m%dT%H%M%SZ)
while (($#)); do
    case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --workloads) workloads=$2; shift 2 ;;
    --old) old=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --report) report=$2; shift 2 ;;
    -h | --help) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "isa_bench.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
if [[ -n $report ]]; then
    out=$report
    rounds=0
fi
bin=build/release/dptrain
[[ -n $report || -x $bin ]] || { echo "isa_bench.sh: build first (cmake --workflow --preset release)" >&2; exit 2; }
mkdir -p "$out"
[[ -n $report ]] || {
coretype=${OPENBLAS_CORETYPE:-Haswell}
levels=(avx2 generic)
grep -qw avx512f /proc/cpuinfo && levels=(avx512 "${levels[@]}")
{
    echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    lscpu | grep -E '^(Model name|CPU family|Model|L1d|L2|L3):' | sed 's/^/# /'
} >"$out/machine.txt"
}
cat "$out/machine.txt"

for ((r = 1; r <= rounds; r++)); do
    echo "== round $r/$rounds" >&2
    for lv in "${levels[@]}"; do
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE DPT_ISA="$lv" "$bin" bench \
            --workload "$workloads" --threads-list 1,2 --repeat 1 --json 2>/dev/null |
            sed "s/^{/{\"config\":\"$lv\",\"round\":$r,/" >>"$out/bench.jsonl"
    done
    if [[ -n $old ]]; then
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$old" bench \
            --workload "$workloads" --threads-list 1,2 --repeat 1 --json 2>/dev/null |
            sed "s/^{/{\"config\":\"old\",\"round\":$r,/" >>"$out/bench.jsonl"
    fi
    for ct in unset "$coretype"; do
        envs=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
        [[ $ct != unset ]] && envs+=(OPENBLAS_CORETYPE="$ct")
        for b in "$bin" ${old:+"$old"}; do
            tag=new
            [[ $b == "$old" ]] && tag=old
            "${envs[@]}" "$b" scale --data fashion-mnist --layers 784,128,10 --batch 32 \
                --schedule adam:lr=1e-3 --threads-list 2,8 --repeat 1 --quiet \
                --csv "$out/scale_${tag}_${ct}_r$r.csv" >/dev/null 2>&1 ||
                echo "isa_bench.sh: scale failed ($tag, OPENBLAS_CORETYPE=$ct)" >&2
        done
    done
done

python3 - "$out" <<'PY'
import csv, glob, json, os, statistics, sys
out = sys.argv[1]
rows = {}
for line in open(os.path.join(out, "bench.jsonl")):
    d = json.loads(line)
    if d.get("type") != "result":
        continue
    rows.setdefault((d["workload"], d["threads"], d["config"]), []).append(d)
print("\n| workload | T | config | samples/s | GFLOP/s | cpu | rounds |")
print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
for key in sorted(rows, key=lambda k: (k[0], k[1], k[2])):
    v = rows[key]
    print("| %s | %d | %s | %.0f | %.1f | %.0f%% | %d |" % (key[0], key[1], key[2],
          statistics.median(x["samples_per_s"] for x in v),
          statistics.median(x["gflops"] for x in v),
          100 * statistics.median(x["cpu_share"] for x in v), len(v)))
print("\nS with adam:lr=1e-3, batch 32, 8 threads against 2 on this machine (ratio of medians):")
for tag in ("new", "old"):
    for ct in sorted({os.path.basename(p).split("_")[2] for p in glob.glob(os.path.join(out, "scale_%s_*" % tag))}):
        rate = {}
        for p in glob.glob(os.path.join(out, "scale_%s_%s_r*.csv" % (tag, ct))):
            for rec in csv.DictReader(l for l in open(p) if not l.startswith("#")):
                if rec.get("kind") != "run":
                    continue
                try:
                    rate.setdefault(int(rec["threads"]), []).append(float(rec["samples_per_s"]))
                except (KeyError, ValueError):
                    pass
        if 2 in rate and 8 in rate:
            m2, m8 = statistics.median(rate[2]), statistics.median(rate[8])
            print("  %s binary, OPENBLAS_CORETYPE %s: 2T %.0f, 8T %.0f samples/s: %.2fx" % (tag, ct, m2, m8, m8 / m2))
PY
