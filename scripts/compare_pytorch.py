#!/usr/bin/python3
"""The dptrain reference workloads in PyTorch on CPU: the peer `dptrain bench` is compared with.

    /usr/bin/python3 scripts/compare_pytorch.py [--workload S,M,L|all] [--threads-list 1,2]
        [--repeat 3] [--warmup 6000] [--samples N] [--data DIR] [--json]

Same workloads as `dptrain bench` (src/cli/bench.c): Fashion-MNIST, 1 epoch of 60000 samples,
  S  784-128-10       ReLU, softmax + cross-entropy (mean), batch  32, SGD  lr 0.05
  M  784-512-512-10   ReLU, softmax + cross-entropy (mean), batch 128, Adam lr 1e-3
  L  784-1024-1024-10 ReLU, softmax + cross-entropy (mean), batch 256, SGD  lr 0.05
with the same data (pixels / 255), the same initialisation rule as dptrain (He normal for ReLU
layers, Glorot uniform for the output layer, zero biases), a fresh shuffle each epoch, and the
last, smaller batch kept. Samples/s is timed like dptrain's: the first --warmup samples' steps of
the epoch are left out and the clock runs from the end of the last warm-up step to the end of the
epoch's last step (the loop of training steps only: batch gather, forward, loss, backward,
optimiser step). Test accuracy on t10k after the epoch.

PyTorch's best configuration is searched over torch.set_num_threads(T) x OPENBLAS_NUM_THREADS in
{1, T}; OPENBLAS_NUM_THREADS must be set before torch is imported, so every configuration runs in
its own subprocess (this script with --worker). Each run is a fresh process; the reported figure
of a configuration is the median over --repeat runs, and the best configuration is the one with
the highest median. Run r uses seed SEED + r - 1, so that the accuracies sample the seed-to-seed
spread (as `dptrain bench` does). Denormals are flushed (torch.set_flush_denormal), as dptrain does.

--json prints one object per line: "torch_env" (versions), "torch_run" (each run) and
"torch_best" (per workload and thread count). scripts/bench.sh reads them.
Needs python3-torch (scripts/setup.sh --with-torch) and numpy.
"""

import argparse
import gzip
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

WORKLOADS = {
    "S": {"layers": [784, 128, 10], "batch": 32, "opt": "sgd", "lr": 0.05,
          "schedule": "fixed:lr=0.05"},
    "M": {"layers": [784, 512, 512, 10], "batch": 128, "opt": "adam", "lr": 1e-3,
          "schedule": "adam:lr=1e-3"},
    "L": {"layers": [784, 1024, 1024, 10], "batch": 256, "opt": "sgd", "lr": 0.05,
          "schedule": "fixed:lr=0.05"},
}
DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"


def die(msg, code=2):
    print(f"compare_pytorch.py: error: {msg}", file=sys.stderr)
    sys.exit(code)


def parse_workloads(text):
    if text == "all":
        return list(WORKLOADS)
    out = []
    for part in text.split(","):
        name = part.strip().upper()
        if name not in WORKLOADS:
            die(f"--workload: unknown workload '{part}' (expected S, M, L or all)")
        if name in out:
            die(f"--workload: '{part}' is listed twice")
        out.append(name)
    return out


def parse_threads(text):
    try:
        out = [int(t) for t in text.split(",")]
    except ValueError:
        die(f"--threads-list: '{text}' is not a comma list of thread counts")
    if any(t < 1 or t > 1024 for t in out):
        die(f"--threads-list: '{text}': every count must be in 1..1024")
    return out


def flops_per_sample(layers):
    """Training FLOPs per sample (docs/benchmarks.md): 2P + 2P + 2(P - n0 n1), P the number of weights."""
    p = sum(a * b for a, b in zip(layers, layers[1:]))
    return 6 * p - 2 * layers[0] * layers[1]


# ---- the worker: one configuration (torch threads x OpenBLAS threads), every workload ----

def load_idx(path):
    """An IDX file (gzip'd) as a numpy array of its declared shape."""
    import numpy as np

    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        die(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist(directory, test):
    import numpy as np
    import torch

    prefix = "t10k" if test else "train"
    images = load_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte.gz"))
    labels = load_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte.gz"))
    x = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255.0)
    return torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))


def build_model(layers, seed):
    """The MLP with dptrain's DPT_INIT_AUTO rule (see the module docstring)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    mods = []
    for i, (n_in, n_out) in enumerate(zip(layers, layers[1:])):
        lin = nn.Linear(n_in, n_out)
        with torch.no_grad():
            if i + 2 < len(layers):  # hidden ReLU layer: He normal
                lin.weight.normal_(0.0, math.sqrt(2.0 / n_in))
            else:  # softmax output layer: Glorot uniform
                r = math.sqrt(6.0 / (n_in + n_out))
                lin.weight.uniform_(-r, r)
            lin.bias.zero_()
        mods.append(lin)
        if i + 2 < len(layers):
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)


def openblas_threads_in_use():
    """OPENBLAS's own thread count as the loaded library reports it, or None."""
    try:
        import ctypes

        return int(ctypes.CDLL("libopenblas.so.0").openblas_get_num_threads())
    except (OSError, AttributeError):
        return None


def blas_library():
    """The BLAS shared objects mapped into this process (what torch really calls)."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                base = os.path.basename(path)
                if "blas" in base or "mkl" in base:
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    return sorted(libs)


def train_one(name, x, y, xt, yt, warmup, max_seconds, threads, seed):
    """One epoch of workload `name` (cut short max_seconds after the warm-up when > 0); returns
    the measurements."""
    import torch
    from torch import nn

    w = WORKLOADS[name]
    batch = w["batch"]
    model = build_model(w["layers"], seed)
    if w["opt"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=w["lr"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=w["lr"])
    crit = nn.CrossEntropyLoss()  # mean over the batch, as dptrain's default reduction
    n = x.shape[0]
    steps = (n + batch - 1) // batch
    warm_steps = min((warmup + batch - 1) // batch, steps - 1)
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=gen)

    model.train()
    t0 = time.perf_counter()
    t_start = t0
    cpu_start = time.process_time()
    done = steps
    for s in range(steps):
        idx = perm[s * batch:(s + 1) * batch]
        xb = x.index_select(0, idx)
        yb = y.index_select(0, idx)
        opt.zero_grad(set_to_none=True)
        loss = crit(model(xb), yb)
        loss.backward()
        opt.step()
        if s + 1 == warm_steps:
            t_start = time.perf_counter()
            cpu_start = time.process_time()
        elif (max_seconds > 0 and s + 1 > warm_steps and s + 1 < steps
              and time.perf_counter() - t_start >= max_seconds):
            done = s + 1
            break
    t_end = time.perf_counter()
    cpu_end = time.process_time()
    truncated = done < steps
    timed = min(done * batch, n) - warm_steps * batch
    seconds = t_end - t_start

    acc = test_loss = None
    if not truncated:  # otherwise not one epoch: no accuracy to compare
        model.eval()
        with torch.no_grad():
            out = model(xt)
            acc = (out.argmax(dim=1) == yt).double().mean().item()
            test_loss = crit(out, yt).item()
    return {
        "samples": n,
        "truncated": truncated,
        "warmup_steps": warm_steps,
        "timed_samples": timed,
        "seconds": seconds,
        "samples_per_s": timed / seconds if seconds > 0 else None,
        # The share of its cores the run got (process CPU time / wall time / threads), as in
        # dptrain bench: low on a busy machine.
        "cpu_share": (cpu_end - cpu_start) / (seconds * threads) if seconds > 0 else None,
        "epoch_samples_per_s": min(done * batch, n) / (t_end - t0) if t_end > t0 else None,
        "test_acc": acc,
        "test_loss": test_loss,
    }


def worker(args):
    import numpy  # noqa: F401  (fail early with a clear message)
    import torch

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    x, y = load_fashion_mnist(args.data, False)
    xt, yt = load_fashion_mnist(args.data, True)
    if args.samples and args.samples < x.shape[0]:
        x, y = x[:args.samples].contiguous(), y[:args.samples].contiguous()
    env = {
        "type": "torch_env",
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "blas_libraries": blas_library(),
        "openblas_num_threads_env": os.environ.get("OPENBLAS_NUM_THREADS"),
        "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),
    }
    print(json.dumps(env), flush=True)
    for name in parse_workloads(args.workload):
        r = train_one(name, x, y, xt, yt, args.warmup, args.max_seconds, args.threads,
                      seed=args.seed)
        w = WORKLOADS[name]
        r.update({
            "type": "torch_run",
            "workload": name,
            "layers": "-".join(str(v) for v in w["layers"]),
            "batch": w["batch"],
            "schedule": w["schedule"],
            "threads": args.threads,
            "torch_threads": torch.get_num_threads(),
            "openblas_threads": int(os.environ.get("OPENBLAS_NUM_THREADS", "0")),
            "openblas_threads_in_use": openblas_threads_in_use(),
            "round": args.round,
            "seed": args.seed,
        })
        print(json.dumps(r), flush=True)


# ---- the driver ----

def run_config(args, name_list, threads, ob, rnd):
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = str(ob)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--threads", str(threads),
           "--workload", ",".join(name_list), "--warmup", str(args.warmup),
           "--data", args.data, "--round", str(rnd), "--max-seconds", str(args.max_seconds),
           "--seed", str(args.seed + rnd - 1)]
    if args.samples:
        cmd += ["--samples", str(args.samples)]
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        die(f"the worker for {threads} torch threads x {ob} OpenBLAS threads failed "
            f"(exit {proc.returncode}; see above)", 1)
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def summarise(runs):
    """Per (workload, threads): every configuration's median and the best configuration."""
    groups = {}
    for r in runs:
        key = (r["workload"], r["threads"], r["openblas_threads"])
        groups.setdefault(key, []).append(r)
    best = {}
    for (name, t, ob), rs in groups.items():
        med = statistics.median(r["samples_per_s"] for r in rs)
        accs = [r["test_acc"] for r in rs if r["test_acc"] is not None]
        acc = statistics.median(accs) if accs else None
        cfg = {"openblas_threads": ob, "torch_threads": t, "samples_per_s": med,
               "test_acc": acc, "runs": [r["samples_per_s"] for r in rs]}
        b = best.setdefault((name, t), {"configs": []})
        b["configs"].append(cfg)
        if "best" not in b or med > b["best"]["samples_per_s"]:
            b["best"] = cfg
    accs = {}
    for r in runs:
        if r["test_acc"] is not None:
            accs.setdefault((r["workload"], r["threads"]), []).append(r["test_acc"])
    out = []
    for (name, t), b in best.items():
        w = WORKLOADS[name]
        bb = b["best"]
        out.append({
            "type": "torch_best",
            "workload": name,
            "layers": "-".join(str(v) for v in w["layers"]),
            "batch": w["batch"],
            "schedule": w["schedule"],
            "threads": t,
            "samples_per_s": bb["samples_per_s"],
            "gflops": bb["samples_per_s"] * flops_per_sample(w["layers"]) * 1e-9,
            # Accuracy does not depend on the threading: runs cut short in the best
            # configuration borrow it from the complete runs of the others.
            "test_acc": bb["test_acc"] if bb["test_acc"] is not None else (
                statistics.median(accs[(name, t)]) if (name, t) in accs else None),
            "torch_threads": bb["torch_threads"],
            "openblas_threads": bb["openblas_threads"],
            "configs": sorted(b["configs"], key=lambda c: c["openblas_threads"]),
        })
    order = list(WORKLOADS)
    out.sort(key=lambda r: (order.index(r["workload"]), r["threads"]))
    return out


def main():
    ap = argparse.ArgumentParser(
        description="The dptrain reference workloads (S, M, L) in PyTorch on CPU, at each "
                    "thread count, in PyTorch's best threading configuration.")
    ap.add_argument("--workload", default="all", help="S, M, L, a comma list, or all (all)")
    ap.add_argument("--threads-list", default=None,
                    help="thread counts (default 1..the number of CPUs this process may use)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per configuration (3)")
    ap.add_argument("--warmup", type=int, default=6000,
                    help="samples at the start of the epoch left out of the timing (6000)")
    ap.add_argument("--samples", type=int, default=0,
                    help="train on the first N samples only, for quick runs (all)")
    ap.add_argument("--max-seconds", type=float, default=0.0,
                    help="cut a run's epoch this long after the warm-up (0: never)")
    ap.add_argument("--seed", type=int, default=1,
                    help="initialisation and shuffling seed of run 1; run r uses SEED + r - 1 (1)")
    ap.add_argument("--data", default=DEFAULT_DIR, help=f"Fashion-MNIST directory ({DEFAULT_DIR})")
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--round", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.repeat < 1:
        die("--repeat: must be at least 1")
    if args.warmup < 0 or args.samples < 0:
        die("--warmup and --samples must not be negative")
    if args.worker:
        worker(args)
        return
    names = parse_workloads(args.workload)
    if args.threads_list:
        threads = parse_threads(args.threads_list)
    else:
        threads = list(range(1, len(os.sched_getaffinity(0)) + 1))
    if importlib.util.find_spec("torch") is None:
        die(f"PyTorch is not importable by {sys.executable}: install it with "
            "scripts/setup.sh --with-torch (Debian's python3-torch) and run this script with "
            "/usr/bin/python3")
    if importlib.util.find_spec("numpy") is None:
        die(f"numpy is not importable by {sys.executable} (Debian: python3-numpy)")
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        if not os.path.exists(os.path.join(args.data, name)):
            die(f"--data: {os.path.join(args.data, name)} does not exist")

    runs = []
    env_line = None
    for rnd in range(1, args.repeat + 1):
        for t in threads:
            for ob in sorted({1, t}):
                for r in run_config(args, names, t, ob, rnd):
                    if r["type"] == "torch_env":
                        env_line = env_line or r
                        continue
                    runs.append(r)
                    print(f"compare_pytorch: {r['workload']} at {t} torch threads x {ob} "
                          f"OpenBLAS threads, run {rnd}/{args.repeat}: "
                          f"{r['samples_per_s']:.0f} samples/s (CPU share "
                          f"{100 * r['cpu_share']:.0f}%), test acc "
                          + (f"{r['test_acc']:.4f}" if r["test_acc"] is not None else
                             "- (cut short by --max-seconds)"),
                          file=sys.stderr, flush=True)
    best = summarise(runs)
    if args.json:
        print(json.dumps(env_line))
        for r in runs:
            print(json.dumps(r))
        for b in best:
            print(json.dumps(b))
        return
    print(f"PyTorch {env_line['torch']} (numpy {env_line['numpy']}, Python {env_line['python']}); "
          f"BLAS: {', '.join(env_line['blas_libraries']) or 'unknown'}")
    print(f"medians of {args.repeat} run(s); samples/s timed after the first {args.warmup} "
          f"samples of the epoch\n")
    print(f"{'work':<4} {'T':>3} {'best samples/s':>14} {'GFLOP/s':>8} {'config':>14} "
          f"{'test acc':>8}  every configuration (OpenBLAS threads: samples/s)")
    for b in best:
        cfgs = ", ".join(f"{c['openblas_threads']}: {c['samples_per_s']:.0f}"
                         for c in b["configs"])
        cfg = f"T={b['torch_threads']} OB={b['openblas_threads']}"
        print(f"{b['workload']:<4} {b['threads']:>3} {b['samples_per_s']:>14.0f} "
              f"{b['gflops']:>8.1f} {cfg:>14} "
              f"{b['test_acc'] if b['test_acc'] is not None else float('nan'):>8.4f}  {cfgs}")


if __name__ == "__main__":
    main()
