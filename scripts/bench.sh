#!/usr/bin/env bash
# dptrain against PyTorch, side by side: runs `dptrain bench --json` and
# scripts/compare_pytorch.py --json on the same workloads and thread counts, then prints a table
# (dptrain samples/s, GFLOP/s, % of the sgemm limit, PyTorch's best samples/s, the ratio, test
# accuracies, peak RSS) with a check of the issue's targets, and the same table in markdown for
# docs/benchmarks.md.
#
#   scripts/bench.sh [--workload S,M,L|all] [--threads-list 1,2] [--repeat 3] [--out DIR]
#                    [--max-seconds S] [--no-build] [--dptrain PATH] [--warmup N] [--samples N]
#                    [--pin P] [--engine E] [--data DIR]
#   scripts/bench.sh --report DIR      # the tables again from a finished run's files
#
# The two programs alternate: round r runs `dptrain bench --repeat 1 --seed r` and then
# `compare_pytorch.py --repeat 1 --seed r`, for r = 1..R, so that both see the same drift of a
# shared machine and the accuracies are medians over R seeds; the tables show medians over the
# rounds, and the sgemm limit is the best measured. --pin and --engine go to dptrain only.
# Default: all workloads at 1..usable cores (as dptrain bench counts them), 3 rounds. Raw JSON,
# the tables and the exact commands go to DIR (default build/bench/<UTC time>). A run whose epoch
# takes longer than --max-seconds (default 60) after its warm-up is cut there (its rate stays
# exact; it gets no accuracy): a guard against a machine so busy that a run would take hours.
# Builds dptrain with the release preset first (cmake --workflow --preset release-build) unless
# --no-build or --dptrain is given. Installs nothing: PyTorch comes from
# `scripts/setup.sh --with-torch`. PYTHON names another interpreter that has torch and numpy
# (default /usr/bin/python3). --data: the Fashion-MNIST directory, for both programs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() {
    echo "bench.sh: error: $*" >&2
    exit 2
}

usage() {
    sed -n '2,24s/^# \{0,1\}//p' "$0"
}

PY=${PYTHON:-/usr/bin/python3}
workload=all
threads=""
repeat=3
out=""
report=""
build=1
dptrain=build/release/dptrain
max_seconds=60
extra=()
dpt_extra=()
while (($#)); do
    case "$1" in
    --workload | --threads-list | --repeat | --out | --report | --dptrain | --warmup | --samples | \
        --max-seconds | --pin | --engine | --data)
        (($# >= 2)) || die "$1 needs a value"
        case "$1" in
        --workload) workload=$2 ;;
        --threads-list) threads=$2 ;;
        --repeat) repeat=$2 ;;
        --out) out=$2 ;;
        --report) report=$2 ;;
        --dptrain)
            dptrain=$2
            build=0
            ;;
        --max-seconds) max_seconds=$2 ;;
        --warmup | --samples | --data) extra+=("$1" "$2") ;;
        --pin | --engine) dpt_extra+=("$1" "$2") ;;
        esac
        shift 2
        ;;
    --no-build)
        build=0
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        die "unknown option '$1'"
        ;;
    esac
done
[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "--repeat: '$repeat' is not a positive integer"
[[ $max_seconds =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--max-seconds: '$max_seconds' is not a number"
extra+=(--max-seconds "$max_seconds")

# ---- the tables, from the JSON lines of a run directory ----
report() {
    "$PY" - "$1" <<'EOF'
import json, os, statistics, sys

d = sys.argv[1]

def lines(name):
    path = os.path.join(d, name)
    if not os.path.exists(path):
        sys.exit(f"bench.sh: error: {path} does not exist")
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]

dp, tp = lines("dptrain.jsonl"), lines("torch.jsonl")
machine = next((r for r in dp if r["type"] == "machine"), {})
tenv = next((r for r in tp if r["type"] == "torch_env"), {})
limit = {}
for r in dp:
    if r["type"] == "sgemm" and r.get("gflops") is not None:
        limit[r["threads"]] = max(limit.get(r["threads"], 0.0), r["gflops"])
res, tor = {}, {}
for r in dp:
    if r["type"] == "result":
        res.setdefault((r["workload"], r["threads"]), []).append(r)
for r in tp:
    if r["type"] == "torch_run":
        tor.setdefault((r["workload"], r["threads"]), {}).setdefault(
            r["openblas_threads"], []).append(r)
order = {"S": 0, "M": 1, "L": 2}
keys = sorted(set(res) | set(tor), key=lambda k: (order.get(k[0], 9), k[1]))
med = statistics.median

def norm(r):
    """samples/s over the CPU share: an estimate of the rate on an idle machine, or None."""
    c = r.get("cpu_share")
    return r["samples_per_s"] / min(c, 1.0) if c and r.get("samples_per_s") else None

def medn(values):
    """Median of the values that are not None (runs cut short have no accuracy), or None."""
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None

rows = []
for k in keys:
    row = {"workload": k[0], "threads": k[1]}
    rs = res.get(k, [])
    if rs:
        r0 = rs[0]
        sps = med(r["samples_per_s"] for r in rs)
        lim = limit.get(k[1])
        gfl = sps * r0["flops_per_sample"] * 1e-9
        rss = med(r["peak_rss_bytes"] for r in rs)
        row.update(
            layers=r0["layers"], batch=r0["batch"], schedule=r0["schedule"], sps=sps,
            runs=[r["samples_per_s"] for r in rs], gflops=gfl, limit=lim,
            pct=100.0 * gfl / lim if lim else None, fps=r0["flops_per_sample"],
            acc=medn(r["test_acc"] for r in rs), cut=any(r.get("truncated") for r in rs),
            accs=[r["test_acc"] for r in rs],
            cpu=medn(r.get("cpu_share") for r in rs), nsps=medn(norm(r) for r in rs),
            rss=rss, model=r0["model_rss_bytes"],
            rss_ratio=rss / r0["model_rss_bytes"],
            split=[med(r[f] for r in rs) for f in
                   ("compute_pct", "wait_pct", "reduce_pct", "update_pct")])
    cfgs = tor.get(k, {})
    if cfgs:
        meds = {ob: med(r["samples_per_s"] for r in v) for ob, v in cfgs.items()}
        allt = [r for v in cfgs.values() for r in v]  # accuracy: per seed, over the configs
        ob = max(meds, key=meds.get)
        # Accuracy does not depend on the threading: every complete run of (W, T) counts.
        row.update(t_sps=meds[ob], t_ob=ob, t_runs=[r["samples_per_s"] for r in cfgs[ob]],
                   t_all=meds, t_acc=medn(r["test_acc"] for v in cfgs.values() for r in v),
                   t_cut=any(r.get("truncated") for r in cfgs[ob]),
                   t_accs=[medn(r["test_acc"] for r in allt if r.get("seed") == sd)
                           for sd in sorted({r.get("seed") for r in allt}, key=str)],
                   t_cpu=medn(r.get("cpu_share") for r in cfgs[ob]),
                   t_nsps=medn(norm(r) for r in cfgs[ob]))
        if "sps" in row:
            row["ratio"] = row["sps"] / row["t_sps"]
            if row.get("nsps") and row.get("t_nsps"):
                row["nratio"] = row["nsps"] / row["t_nsps"]
    if row.get("nsps") and row.get("limit"):
        row["npct"] = 100.0 * row["nsps"] * row["fps"] * 1e-9 / row["limit"]
    rows.append(row)

def f(v, fmt, none="-"):
    return none if v is None else format(v, fmt)

def star(r, key):
    return "*" if r.get(key) else ""

def cpus(r, sep="/"):
    """CPU shares of dptrain and PyTorch in percent: what the busy machine left them."""
    return sep.join(f(100 * r[k] if r.get(k) is not None else None, ".0f")
                    for k in ("cpu", "t_cpu"))

# A limit at T threads that does not scale from one thread was measured while other processes held
# cores: the "% of limit" at that T then flatters.
disturbed = {t for t, g in limit.items() if t > 1 and 1 in limit and g < 0.75 * t * limit[1]}

# ---- the targets of issue 4 ----
checks = []
def check(what, ok, detail):
    checks.append((what, ok, detail))

def nr(r, key="nratio", fmt=".2f", unit="x"):
    """The CPU-normalised figure, as a note for a target's detail."""
    return f" (CPU-normalised {r[key]:{fmt}}{unit})" if r.get(key) is not None else ""
byk = {(r["workload"], r["threads"]): r for r in rows}
for t in (1, 2):
    r = byk.get(("L", t))
    if r and "pct" in r and r["pct"] is not None:
        check(f"L, {t} thread{'s' if t > 1 else ''}: >= 90% of the sgemm limit", r["pct"] >= 90,
              f"{r['pct']:.1f}%" + (" (the limit was measured on a busy machine)"
                                     if t in disturbed else nr(r, "npct", ".1f", "%")))
    if r and "ratio" in r:
        check(f"L, {t} thread{'s' if t > 1 else ''}: >= 1.15x PyTorch", r["ratio"] >= 1.15,
              f"{r['ratio']:.2f}x" + nr(r))
for t, want in ((1, 2.0), (2, 3.0)):
    r = byk.get(("S", t))
    if r and "ratio" in r:
        check(f"S, {t} thread{'s' if t > 1 else ''}: >= {want:g}x PyTorch", r["ratio"] >= want,
              f"{r['ratio']:.2f}x" + nr(r))
for r in rows:
    if r["workload"] == "M" and "ratio" in r:
        check(f"M, {r['threads']} thread{'s' if r['threads'] > 1 else ''}: faster than PyTorch",
              r["ratio"] > 1.0, f"{r['ratio']:.2f}x" + nr(r))
for r in rows:
    if "rss_ratio" in r:
        check(f"{r['workload']}, {r['threads']}T: peak RSS within 10% of the model",
              abs(r["rss_ratio"] - 1.0) <= 0.10,
              f"{r['rss'] / 2**20:.0f} MiB vs {r['model'] / 2**20:.0f} MiB "
              f"({100 * (r['rss_ratio'] - 1):+.1f}%)")
for r in rows:
    if r.get("acc") is not None and r.get("t_acc") is not None:
        a = [v for v in r.get("accs", []) if v is not None]
        b = [v for v in r.get("t_accs", []) if v is not None]
        spread = (f"; per seed {100 * min(a):.1f}-{100 * max(a):.1f} vs "
                  f"{100 * min(b):.1f}-{100 * max(b):.1f}" if len(a) > 1 and len(b) > 1 else "")
        check(f"{r['workload']}, {r['threads']}T: test accuracy within 1 point of PyTorch",
              abs(r["acc"] - r["t_acc"]) <= 0.01,
              f"{100 * r['acc']:.2f}% vs {100 * r['t_acc']:.2f}% (medians over {len(a)} and "
              f"{len(b)} seeds{spread})")

rounds = max((len(r.get("runs", [])) for r in rows), default=0)
head = [
    f"dptrain {machine.get('dptrain', '?')} vs PyTorch {tenv.get('torch', '?')}, "
    f"{machine.get('date', '?')}",
    f"machine: {machine.get('cpu', '?')}; {machine.get('topology', '?')}",
    f"dptrain: {machine.get('blas', '?')}; hwloc {machine.get('hwloc', '?')}; "
    f"{machine.get('compiler', '?')}; engine {machine.get('engine', '?')}, "
    f"pin {machine.get('pin', '?')}",
    f"PyTorch: numpy {tenv.get('numpy', '?')}, Python {tenv.get('python', '?')}, BLAS "
    f"{', '.join(tenv.get('blas_libraries', [])) or '?'}",
    "sgemm limit (2048^3, best measured): "
    + ", ".join(f"T={t} {g:.1f} GFLOP/s" for t, g in sorted(limit.items())),
    "cpu: process CPU time / (wall time x T) over the timed steps, dptrain/PyTorch: the share of "
    "its cores a run got (well under 100% means the machine was busy); CPU-normalised figures "
    "divide each run's samples/s by its share: an estimate for an idle machine, not a measurement",
] + [
    f"warning: the sgemm limit at T={t} is only {limit[t] / limit[1]:.2f}x the one-thread limit: "
    "it was measured while other processes held cores, so % of limit at that T is too high"
    for t in sorted(disturbed)
] + [
    f"medians of {rounds} round(s); samples/s timed after the first "
    f"{machine.get('warmup_samples', '?')} samples of the epoch; ratio = dptrain / PyTorch's "
    "best (torch threads = T, OPENBLAS_NUM_THREADS = OB)",
]

# ---- text ----
txt = list(head) + [""]
txt.append(f"{'work':<4} {'T':>2} {'dptrain/s':>10} {'GFLOP/s':>8} {'%limit':>7} "
           f"{'PyTorch/s':>10} {'OB':>3} {'ratio':>6} {'cpu':>9} {'n.ratio':>7} {'acc dpt':>8} "
           f"{'acc torch':>9} "
           f"{'RSS MiB':>8} {'model':>6} {'compute/wait/reduce/update %':>29}")
for r in rows:
    split = "/".join(f"{v:.0f}" for v in r["split"]) if "split" in r else "-"
    txt.append(
        f"{r['workload']:<4} {r['threads']:>2} {f(r.get('sps'), '.0f') + star(r, 'cut'):>10} "
        f"{f(r.get('gflops'), '.1f'):>8} {f(r.get('pct'), '.1f'):>6}% "
        f"{f(r.get('t_sps'), '.0f') + star(r, 't_cut'):>10} {f(r.get('t_ob'), 'd'):>3} "
        f"{f(r.get('ratio'), '.2f'):>5}x {cpus(r):>9} {f(r.get('nratio'), '.2f'):>6}x "
        f"{f(r.get('acc'), '.4f'):>8} "
        f"{f(r.get('t_acc'), '.4f'):>9} {f(r['rss'] / 2**20 if 'rss' in r else None, '.0f'):>8} "
        f"{f(r['model'] / 2**20 if 'model' in r else None, '.0f'):>6} {split:>29}")
if any(r.get("cut") or r.get("t_cut") for r in rows):
    txt.append("* a run was cut short by --max-seconds: the rate covers the steps it did")
txt.append("n.ratio: dptrain / PyTorch with each run's samples/s divided by its CPU share")
txt.append("")
txt.append("runs, per round (seed): samples/s dptrain | PyTorch best config | every PyTorch "
           "config's median; test accuracy dptrain | PyTorch")
for r in rows:
    txt.append(f"  {r['workload']} T={r['threads']}: "
               + " ".join(f"{v:.0f}" for v in r.get("runs", [])) + " | "
               + " ".join(f"{v:.0f}" for v in r.get("t_runs", [])) + " | "
               + ", ".join(f"OB={ob}: {v:.0f}" for ob, v in sorted(r.get("t_all", {}).items()))
               + "; acc " + " ".join(f(v, ".4f") for v in r.get("accs", [])) + " | "
               + " ".join(f(v, ".4f") for v in r.get("t_accs", [])))
txt.append("")
txt.append("targets (issue 4):")
for what, ok, detail in checks:
    txt.append(f"  [{'PASS' if ok else 'FAIL'}] {what}: {detail}")

# ---- markdown ----
md = [f"- {h}" for h in head] + [""]
md.append("| workload | T | dptrain samples/s | GFLOP/s | % of sgemm limit | PyTorch samples/s "
          "(best OB) | dptrain / PyTorch | test acc dptrain | test acc PyTorch | peak RSS MiB "
          "(model) | compute / wait / reduce / update % | CPU share % dptrain / PyTorch | "
          "dptrain / PyTorch, CPU-normalised |")
md.append("| --- " + "| ---: " * 12 + "|")
for r in rows:
    split = " / ".join(f"{v:.0f}" for v in r["split"]) if "split" in r else "-"
    rss = (f"{r['rss'] / 2**20:.0f} ({r['model'] / 2**20:.0f})" if "rss" in r else "-")
    name = f"{r['workload']} ({r['layers']}, batch {r['batch']}, {r['schedule']})" \
        if "layers" in r else r["workload"]
    md.append(
        f"| {name} | {r['threads']} | {f(r.get('sps'), '.0f')}{star(r, 'cut')} | "
        f"{f(r.get('gflops'), '.1f')} | {f(r.get('pct'), '.1f')}% | "
        f"{f(r.get('t_sps'), '.0f')}{star(r, 't_cut')} ({f(r.get('t_ob'), 'd')}) | "
        f"{f(r.get('ratio'), '.2f')}x | {f(r.get('acc'), '.4f')} | {f(r.get('t_acc'), '.4f')} | "
        f"{rss} | {split} | {cpus(r, ' / ')} | {f(r.get('nratio'), '.2f')}x |")
if any(r.get("cut") or r.get("t_cut") for r in rows):
    md.append("")
    md.append("\\* a run was cut short by `--max-seconds`: the rate covers the steps it did.")
md.append("")
md.append("| target (issue 4) | measured | met |")
md.append("| --- | ---: | :---: |")
for what, ok, detail in checks:
    md.append(f"| {what} | {detail} | {'yes' if ok else '**no**'} |")

with open(os.path.join(d, "table.txt"), "w") as fh:
    fh.write("\n".join(txt) + "\n")
with open(os.path.join(d, "table.md"), "w") as fh:
    fh.write("\n".join(md) + "\n")
print("\n".join(txt))
print(f"\n---- markdown (also in {os.path.join(d, 'table.md')}) ----\n")
print("\n".join(md))
EOF
}

if [[ -n $report ]]; then
    [[ -d $report ]] || die "--report: '$report' is not a directory"
    report "$report"
    exit 0
fi

# ---- checks and build ----
if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
    die "PyTorch (or numpy) is not importable by $PY: run scripts/setup.sh --with-torch"
fi
if ((build)); then
    echo "bench.sh: building dptrain (cmake --workflow --preset release-build)" >&2
    cmake --workflow --preset release-build >&2
fi
[[ -x $dptrain ]] || die "no dptrain binary at '$dptrain' (build it, or give --dptrain PATH)"

[[ -n $out ]] || out="build/bench/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
: >"$out/dptrain.jsonl"
: >"$out/torch.jsonl"
{
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
    echo "scripts/bench.sh --workload $workload ${threads:+--threads-list $threads }--repeat" \
        "$repeat ${extra[*]} ${dpt_extra[*]}"
    fields='Model name|CPU\(s\)|Thread\(s\) per core|Core\(s\) per socket|Socket\(s\)'
    lscpu | grep -E "^($fields|L[123].* cache|NUMA node\(s\)):" | sed 's/:  */: /'
    uname -srm
    "$dptrain" --version
    "$PY" -c 'import torch; print("torch", torch.__version__)'
    if [[ -n ${OPENBLAS_CORETYPE-} || -n ${OPENBLAS_L2_SIZE-} ]]; then
        echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE-}"
    fi
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/commands.txt"

for ((r = 1; r <= repeat; r++)); do
    cmd=("$dptrain" bench --json --repeat 1 --seed "$r" --workload "$workload"
        ${threads:+--threads-list "$threads"} "${extra[@]}" "${dpt_extra[@]}")
    echo "bench.sh: round $r/$repeat: ${cmd[*]}" >&2
    ((r > 1)) || echo "${cmd[*]}" >>"$out/commands.txt"
    "${cmd[@]}" >>"$out/dptrain.jsonl"
    if [[ -z $threads ]]; then
        # PyTorch gets the thread counts dptrain chose (1..usable cores).
        threads=$("$PY" -c 'import json,sys
ts = sorted({json.loads(l)["threads"] for l in open(sys.argv[1]) if "\"result\"" in l})
print(",".join(map(str, ts)))' "$out/dptrain.jsonl")
    fi
    cmd=("$PY" scripts/compare_pytorch.py --json --repeat 1 --seed "$r" --workload "$workload"
        --threads-list "$threads" "${extra[@]}")
    echo "bench.sh: round $r/$repeat: ${cmd[*]}" >&2
    ((r > 1)) || echo "${cmd[*]}" >>"$out/commands.txt"
    "${cmd[@]}" >>"$out/torch.jsonl"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/commands.txt"
echo >&2
report "$out"
