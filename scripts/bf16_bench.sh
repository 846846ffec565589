#!/usr/bin/env bash
# bf16 against fp32 (--precision, issue 18), side by side on the reference workloads:
#   speed     `dptrain bench --precision fp32,bf16` on the chosen workloads and thread counts:
#             each round runs fp32 and bf16 back to back with the same seed (interleaved, so both
#             see the same drift of a shared machine); medians, and the median per-round ratio
#   accuracy  `dptrain train` on Fashion-MNIST for 5 epochs per seed and precision (the same
#             initial weights and batches for both), the test accuracy after epoch 1 and after
#             epoch 5 from the JSON log; medians over the seeds, per-seed differences
# Prints Markdown tables (docs/benchmarks.md, "bf16 mixed precision") and keeps the raw output.
#
#   scripts/bf16_bench.sh [--dptrain PATH] [--rounds R] [--speed-workloads L] [--threads-list 1,2]
#                         [--seeds N] [--acc-workloads S,M,L] [--acc-threads T] [--epochs E]
#                         [--no-speed] [--no-accuracy] [--out DIR]
#
# Defaults: 5 rounds of L at 1 and 2 threads; 5 seeds of S, M, L at 2 threads, 5 epochs. Needs a
# CPU with AVX512_BF16 and Fashion-MNIST (scripts/setup.sh). python3 (Debian's) formats the tables.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dptrain=build/release/dptrain
rounds=5
speed_wl=L
threads=1,2
seeds=5
acc_wl=S,M,L
acc_threads=2
epochs=5
speed=1
accuracy=1
out=""
while (($#)); do
    case $1 in
    --dptrain) dptrain=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --speed-workloads) speed_wl=$2; shift 2 ;;
    --threads-list) threads=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --acc-workloads) acc_wl=$2; shift 2 ;;
    --acc-threads) acc_threads=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --no-speed) speed=0; shift ;;
    --no-accuracy) accuracy=0; shift ;;
    --out) out=$2; shift 2 ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bf16_bench.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ -x $dptrain ]] || { echo "bf16_bench.sh: $dptrain: not an executable (build first)" >&2; exit 2; }
out=${out:-build/bf16_bench/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
{
    echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "# $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores," \
        "flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx512f|avx512_bf16|amx_bf16)$' | tr '\n' ' ')"
    echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/machine.txt"

if [[ $speed == 1 ]]; then
    echo "+ $dptrain bench --workload $speed_wl --threads-list $threads --precision fp32,bf16 --repeat $rounds" |
        tee "$out/commands.txt"
    "$dptrain" bench --workload "$speed_wl" --threads-list "$threads" --precision fp32,bf16 \
        --repeat "$rounds" 2>"$out/speed_runs.txt" | tee "$out/speed.txt"
    # Per round: both precisions ran back to back; a pair counts as quiet when both runs got at
    # least 95% of their cores (the CPU share bench reports). The CPU-normalised rate divides a
    # run's rate by its share: an estimate for an idle machine, not a measurement.
    /usr/bin/python3 - "$out/speed_runs.txt" <<'EOF' | tee "$out/speed.md"
import re, statistics, sys
runs = {}
pat = re.compile(r"^bench: (\w+) at (\d+) threads?, (\w+), run (\d+)/\d+: ([\d.]+) samples/s "
                 r"\(CPU share (\d+)%\)")
for line in open(sys.argv[1]):
    m = pat.match(line)
    if m:
        w, t, p, r, rate, share = m.groups()
        runs[(w, int(t), int(r), p)] = (float(rate), int(share) / 100.0)
print("| workload | T | quiet rounds | fp32 samples/s (quiet, median) | bf16 samples/s (quiet, "
      "median) | bf16 / fp32 (quiet rounds: median, range) | bf16 / fp32, CPU-normalised, all "
      "rounds (median) |")
print("|---|---:|---:|---:|---:|---|---:|")
for (w, t) in sorted({(k[0], k[1]) for k in runs}, key=lambda x: ("SML".find(x[0]), x[1])):
    rounds = sorted({k[2] for k in runs if k[0] == w and k[1] == t})
    pairs = [(runs[(w, t, r, "fp32")], runs[(w, t, r, "bf16")]) for r in rounds
             if (w, t, r, "fp32") in runs and (w, t, r, "bf16") in runs]
    quiet = [(a, b) for a, b in pairs if a[1] >= 0.95 and b[1] >= 0.95]
    norm = statistics.median(b[0] / b[1] / (a[0] / a[1]) for a, b in pairs)
    if quiet:
        ratios = [b[0] / a[0] for a, b in quiet]
        q = (f"{len(quiet)} of {len(pairs)} | {statistics.median(a[0] for a, _ in quiet):.0f} | "
             f"{statistics.median(b[0] for _, b in quiet):.0f} | {statistics.median(ratios):.2f}x "
             f"({min(ratios):.2f}-{max(ratios):.2f})")
    else:
        q = f"0 of {len(pairs)} | - | - | -"
    print(f"| {w} | {t} | {q} | {norm:.2f}x |")
EOF
fi

# layers, batch, schedule of each workload (as dptrain bench runs them: docs/benchmarks.md)
declare -A layers=([S]=784,128,10 [M]=784,512,512,10 [L]=784,1024,1024,10)
declare -A batch=([S]=32 [M]=128 [L]=256)
declare -A sched=([S]=fixed:lr=0.05 [M]=adam:lr=1e-3 [L]=fixed:lr=0.05)
if [[ $accuracy == 1 ]]; then
    for ((s = 1; s <= seeds; s++)); do
        for w in ${acc_wl//,/ }; do
            for p in fp32 bf16; do
                log="$out/acc_${w}_${p}_seed$s.jsonl"
                cmd=(train --data fashion-mnist --layers "${layers[$w]}" --batch "${batch[$w]}"
                    --schedule "${sched[$w]}" --epochs "$epochs" --seed "$s" --precision "$p"
                    --threads "$acc_threads" --log-json "$log" --quiet)
                echo "+ $dptrain ${cmd[*]}" >>"$out/commands.txt"
                "$dptrain" "${cmd[@]}" >/dev/null
                echo "accuracy: $w seed $s $p done" >&2
            done
        done
    done
fi
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"

[[ $accuracy == 1 ]] && /usr/bin/python3 - "$out" "$acc_wl" "$seeds" "$epochs" <<'EOF' | tee "$out/accuracy.md"
import json, statistics, sys
out, wls, seeds, epochs = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4])
def acc(w, p, s):
    res = {}
    for line in open(f"{out}/acc_{w}_{p}_seed{s}.jsonl"):
        o = json.loads(line)
        if o.get("event") == "epoch":
            res[o["epoch"]] = 100.0 * o["test_acc"]
    return res
print(f"| workload | epoch | fp32 test acc % (median) | bf16 test acc % (median) | bf16 - fp32 "
      f"(points) | per seed bf16 - fp32 | within 0.3 |")
print("|---|---:|---:|---:|---:|---|:---:|")
for w in wls:
    runs = {p: [acc(w, p, s) for s in range(1, seeds + 1)] for p in ("fp32", "bf16")}
    for e in (1, epochs):
        a = [r[e] for r in runs["fp32"]]
        b = [r[e] for r in runs["bf16"]]
        ma, mb = statistics.median(a), statistics.median(b)
        diffs = " ".join(f"{y - x:+.2f}" for x, y in zip(a, b))
        print(f"| {w} | {e} | {ma:.2f} | {mb:.2f} | {mb - ma:+.2f} | {diffs} | "
              f"{'yes' if abs(mb - ma) <= 0.3 else 'no'} |")
EOF
echo "bf16_bench.sh: results in $out" >&2
