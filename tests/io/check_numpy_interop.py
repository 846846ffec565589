#!/usr/bin/env python3
"""Checks that dptrain's model files and .npy exports read correctly with NumPy (and PyTorch and the
`safetensors` package when they are installed), independently of dptrain's own reader.

usage: check_numpy_interop.py MODEL.safetensors NPY_DIR EXPECTED.txt

EXPECTED.txt has one line per tensor: "NAME DIM... : V V V ..." (values printed with %.9g).
Exit status: 0 all checks passed, 77 NumPy is not installed (skip), 1 a check failed.
Run by tests/io/test_interop.c; may also be run by hand.
"""
import json
import os
import struct
import sys
import zlib

try:
    import numpy as np
except ImportError:
    print("numpy is not installed: skipping", file=sys.stderr)
    sys.exit(77)


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def read_expected(path):
    tensors = {}
    with open(path) as f:
        for line in f:
            head, _, values = line.partition(":")
            name, *dims = head.split()
            arr = np.array([float(v) for v in values.split()], dtype=np.float32)
            tensors[name] = arr.reshape([int(d) for d in dims])
    return tensors


def read_safetensors(path):
    """Parses the file by hand: u64 LE header length, JSON header, raw LE tensors."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    if n % 8 != 0:
        fail(f"header length {n} is not a multiple of 8")
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    data = blob[8 + n :]
    meta = header.pop("__metadata__")
    for k, v in meta.items():
        if not isinstance(v, str):
            fail(f"__metadata__.{k} is not a string")
    if meta["format"] != "dptrain" or meta["format_version"] != "1":
        fail(f"format {meta['format']} version {meta['format_version']}")
    if int(meta["crc32"], 16) != zlib.crc32(data):
        fail(f"crc32 {meta['crc32']} != {zlib.crc32(data):08x}")
    tensors, spans = {}, []
    for name, e in header.items():
        if e["dtype"] != "F32":
            fail(f"{name}: dtype {e['dtype']}")
        b, end = e["data_offsets"]
        spans.append((b, end))
        tensors[name] = np.frombuffer(data[b:end], dtype="<f4").reshape(e["shape"])
    spans.sort()
    pos = 0
    for b, end in spans:
        if b != pos:
            fail(f"data section not contiguous at byte {pos}")
        pos = end
    if pos != len(data):
        fail(f"tensors cover {pos} of {len(data)} data bytes")
    return meta, tensors, data, header


def same(a, b):
    return a.shape == b.shape and a.astype("<f4").tobytes() == b.astype("<f4").tobytes()


def main():
    model, npy_dir, expected_path = sys.argv[1:4]
    expected = read_expected(expected_path)
    meta, tensors, data, header = read_safetensors(model)
    layers = [int(s) for s in meta["layers"].split(",")]
    if set(tensors) != set(expected):
        fail(f"tensors {sorted(tensors)} != {sorted(expected)}")
    for l in range(1, len(layers)):
        if tensors[f"W{l}"].shape != (layers[l], layers[l - 1]):
            fail(f"W{l} shape {tensors[f'W{l}'].shape} does not match layers {meta['layers']}")
    checked = ["hand-parsed safetensors"]
    for name, want in expected.items():
        if not same(tensors[name], want):
            fail(f"{name}: safetensors values differ from dptrain's")
        npy = np.load(os.path.join(npy_dir, name + ".npy"))
        if npy.dtype != np.float32 or not npy.flags["C_CONTIGUOUS"]:
            fail(f"{name}.npy: dtype {npy.dtype}")
        if not same(npy, want):
            fail(f"{name}.npy: values differ from dptrain's")
    checked.append("np.load")

    try:
        import safetensors.numpy  # optional
    except ImportError:
        pass
    else:
        loaded = safetensors.numpy.load_file(model)
        for name, want in expected.items():
            if not same(loaded[name], want):
                fail(f"{name}: safetensors.numpy.load_file differs")
        checked.append("safetensors.numpy")

    try:
        import torch  # optional
    except ImportError:
        pass
    else:
        for name, want in expected.items():
            b, end = header[name]["data_offsets"]
            t = torch.frombuffer(bytearray(data[b:end]), dtype=torch.float32)
            t = t.reshape(header[name]["shape"])
            if not same(t.numpy(), want):
                fail(f"{name}: torch.frombuffer differs")
        checked.append("torch.frombuffer")
    print("ok: " + ", ".join(checked))


if __name__ == "__main__":
    main()
