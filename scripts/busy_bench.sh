#!/usr/bin/env bash
# dptrain on a busy server: the reference workloads at 1 thread and at the default thread count
# (every usable core), on an idle machine and with another process spinning on one core
# (`taskset -c CORE sh -c 'while :; do :; done'`), for the sliced step's versions: `barrier`
# (DPT_STEP=barrier: every phase ends when every thread arrives), `dynamic` (the default: items
# claimed by whichever thread gets to them, preempted threads stand down) and, on request,
# `unmerged` (dynamic with DPT_MERGE_SHARDS=0: a stood-down thread's items are never run together
# with another's). Rounds interleave every configuration, so that all see the same drift of a
# shared host; medians are printed, with the ratio of the default thread count's rate to the
# 1-thread rate under the same load.
#
#   scripts/busy_bench.sh [--dptrain PATH] [--rounds R] [--workloads S,L] [--core C]
#                         [--samples N] [--steps barrier,dynamic,unmerged]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dptrain=build/release/dptrain
rounds=5
workloads=S,L
core=1
samples=
steps=barrier,dynamic
while (($#)); do
    case $1 in
    --dptrain) dptrain=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --workloads) workloads=$2; shift 2 ;;
    --core) core=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "busy_bench.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
for step in ${steps//,/ }; do
    case $step in
    barrier | dynamic | unmerged) ;;
    *) echo "busy_bench.sh: unknown step '$step' (barrier, dynamic or unmerged)" >&2; exit 2 ;;
    esac
done
[[ -x $dptrain ]] || { echo "busy_bench.sh: $dptrain: not an executable (build first)" >&2; exit 2; }
cores=$(nproc)
spinner=
stop_spinner() {
    if [[ -n $spinner ]]; then
        kill "$spinner" 2>/dev/null || true
        wait "$spinner" 2>/dev/null || true
    fi
    spinner=
}
trap stop_spinner EXIT

out=$(mktemp)
echo "# $(lscpu | sed -n 's/^Model name: *//p' | head -1), $cores cores; spinner on core $core" >&2
for ((r = 1; r <= rounds; r++)); do
    for load in idle busy; do
        if [[ $load == busy ]]; then
            taskset -c "$core" sh -c 'while :; do :; done' &
            spinner=$!
            sleep 0.5
        fi
        for step in ${steps//,/ }; do
            for w in ${workloads//,/ }; do
                args=(bench --workload "$w" --threads-list "1,$cores" --repeat 1 --json --seed "$r")
                [[ -n $samples ]] && args+=(--samples "$samples")
                merge=1
                [[ $step == unmerged ]] && merge=0
                DPT_STEP=${step/unmerged/dynamic} DPT_MERGE_SHARDS=$merge "$dptrain" "${args[@]}" 2>/dev/null |
                    sed -n "s/^{\"type\":\"result\".*\"threads\":\([0-9]*\),.*\"samples_per_s\":\([0-9.]*\),.*/$load $step $w \1 \2/p" >>"$out"
            done
        done
        stop_spinner
    done
    echo "round $r of $rounds done" >&2
done
python3 - "$out" "$cores" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
cores = sys.argv[2]
med = {}
for load, step, w, t, v in rows:
    med.setdefault((load, step, w, t), []).append(float(v))
print("| workload | step | load | 1 thread (samples/s) | %s threads | ratio |" % cores)
print("| --- | --- | --- | --- | --- | --- |")
for w in sorted({k[2] for k in med}):
    for step in sorted({k[1] for k in med}):
        for load in ("idle", "busy"):
            one = med.get((load, step, w, "1"))
            many = med.get((load, step, w, cores))
            if not one or not many:
                continue
            a, b = statistics.median(one), statistics.median(many)
            print(f"| {w} | {step} | {load} | {a:,.0f} | {b:,.0f} | {b / a:.2f}x |")
EOF
rm -f "$out"
