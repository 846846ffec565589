#!/usr/bin/env python3
"""The scaling proxy's model applied again to a recorded run, with the target's all-core speed
taken from its FMA loop, beside the measured rates: no machine needed.

  scripts/proxy_refit.py PROXY.csv BENCH.jsonl FMA.md

PROXY.csv is `dptrain bench --proxy --csv` from one core of the target, BENCH.jsonl `dptrain bench
--json` there (the measured rates, medians), FMA.md `fma_peak` there (tests/bench/fma_peak.c: the
AVX-512 loop at 1 thread and at more). scripts/device_check.sh records all three. For each
workload and thread count it prints the measured efficiency (speedup over 1 thread / T) and the
proxy's, error = proxy / measured - 1, three ways:

- none: the proxy as recorded (a core runs as fast with all cores busy as alone);
- linear: `--allcore-speed F` with F = the FMA loop's rate per thread at the largest thread count
  over its 1-thread rate, falling linearly between (what the proxy does when given F);
- curve: the FMA loop's own ratio at each thread count it ran (linear between those).

The model is dpt_proxy_predict's (src/parallel/proxy.c) for one NUMA node: step = max(compute /
speed, memory) + barriers, and no faster than an earlier thread count that divides T scaled
linearly. The recorded run must be of one node (node_cores 0). Applied to the recorded model, it
must reproduce the CSV's efficiency column; it says so and stops where it does not.
"""
import csv
import json
import statistics
import sys


def fail(msg):
    print(f"proxy_refit.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


def read_proxy(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(line for line in f if not line.startswith("#")))
    if not rows or "phase1_s" not in rows[0]:
        fail(f"{path}: not a proxy CSV (no header with phase1_s)")
    hdr = rows[0]
    med = [dict(zip(hdr, r)) for r in rows[1:] if r and r[0] == "median"]
    if not med:
        fail(f"{path}: no median rows")
    if any(int(float(r["nodes"])) != 1 for r in med):
        fail(f"{path}: a run over several NUMA nodes (this refit models one)")
    return med


def read_bench(path):
    rate = {}
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            if d.get("type") == "result":
                rate[d["workload"], int(d["threads"])] = float(d["samples_per_s"])
    if not rate:
        fail(f"{path}: no result lines (dptrain bench --json)")
    return rate


def read_fma(path):
    best = {}
    with open(path) as f:
        for line in f:
            c = [x.strip() for x in line.split("|")]
            if len(c) > 5 and c[1] == "AVX-512 zmm":
                t = int(c[3])
                best[t] = max(best.get(t, 0.0), float(c[4]))
    if 1 not in best or len(best) < 2:
        fail(f"{path}: no AVX-512 zmm rows at 1 thread and at more (fma_peak --threads-list 1,...)")
    return best


def main():
    if len(sys.argv) != 4 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0 if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help") else 2)
    med, rate, fma = read_proxy(sys.argv[1]), read_bench(sys.argv[2]), read_fma(sys.argv[3])
    ts = sorted(fma)
    ratio = {t: fma[t] / t / fma[1] for t in ts}
    top = ts[-1]

    def curve(t):
        if t >= top:
            return ratio[top]
        if t in ratio:
            return ratio[t]
        lo = max(x for x in ts if x < t)
        hi = min(x for x in ts if x > t)
        return ratio[lo] + (ratio[hi] - ratio[lo]) * (t - lo) / (hi - lo)

    def linear(t):
        return 1.0 - (1.0 - ratio[top]) * (min(t, top) - 1) / (top - 1)

    # The model for each workload three ways; then the table, once every workload checked out.
    table = []
    for w in sorted({r["workload"] for r in med}, key="SML".find):
        rows = sorted((r for r in med if r["workload"] == w), key=lambda r: int(r["threads"]))
        if int(rows[0]["threads"]) != 1 or (w, 1) not in rate:
            continue
        eff = {}
        for name, speed in (("none", lambda t: 1.0), ("linear", linear), ("curve", curve)):
            steps = []
            for r in rows:
                t = int(r["threads"])
                compute = (float(r["phase1_s"]) + float(r["phase2_s"])) / (
                    float(r["core_speed"]) * speed(t))
                step = max(compute, float(r["memory_s"])) + float(r["barrier_s"])
                for t0, s0 in steps:
                    if t % t0 == 0:
                        step = max(step, s0 * t0 / t)
                steps.append((t, step))
            eff[name] = {t: steps[0][1] / s / t for t, s in steps}
        # The model is written twice (here and in C): as recorded, it must give dptrain's figures.
        for r in rows:
            got, want = eff["none"][int(r["threads"])], float(r["efficiency"])
            if abs(got - want) > 1e-6 * want:
                fail(f"{w} at {r['threads']} threads: this model gives efficiency {got:.6g}, the "
                     f"CSV {want:.6g}: src/parallel/proxy.c changed, change this file with it")
        table += [(w, int(r["threads"]), eff) for r in rows if (w, int(r["threads"])) in rate]

    print("FMA loop per thread against 1 thread: " +
          ", ".join(f"{t}T {ratio[t]:.3f}" for t in ts) + "\n")
    print("| workload | T | measured | proxy: none | error | linear | error | curve | error |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    errors = {"none": [], "linear": [], "curve": []}
    for w, t, eff in table:
        m = rate[w, t] / (t * rate[w, 1])
        cells = []
        for name in ("none", "linear", "curve"):
            p = eff[name][t]
            cells += [f"{100 * p:.0f}%", f"{p / m - 1:+.0%}"]
            if t > 1:
                errors[name].append(abs(p / m - 1))
        print(f"| {w} | {t} | {100 * m:.0f}% | " + " | ".join(cells) + " |")
    print()
    for name, e in errors.items():
        if e:
            print(f"{name}: median |error| {statistics.median(e):.0%}, largest {max(e):.0%}")


if __name__ == "__main__":
    main()
