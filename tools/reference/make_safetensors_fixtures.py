#!/usr/bin/env python3
"""Writes the safetensors reference fixtures used by tests/test_safetensors.cpp and the fuzz seeds.

    python3 tools/reference/make_safetensors_fixtures.py            # (re)write fixtures and seeds
    python3 tools/reference/make_safetensors_fixtures.py --verify F # check a file or checkpoint dir
                                                                    # written by zaya against the
                                                                    # same expected tensors

Fixtures (tests/data/safetensors/), written with the `safetensors` Python library (torch front end):
  python_basic.safetensors   one tensor of every dtype zaya supports, a scalar (shape []),
                             a zero-size tensor, metadata {"format": "pt"}
  python_nometa.safetensors  no __metadata__, a non-ASCII tensor name, 1-byte tensors
The expected values below are mirrored in tests/test_safetensors.cpp; keep them in sync.
"""
import argparse
import json
import os
import struct
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA_DIR = os.path.join(ROOT, "tests", "data", "safetensors")
SEED_DIR = os.path.join(ROOT, "fuzz", "seeds", "safetensors")


def basic_tensors():
    return {
        "f32": (torch.arange(6, dtype=torch.float32) * 0.5 - 1.0).reshape(2, 3),
        "bf16": torch.tensor([1.0, -2.5, 3.140625, 0.0078125], dtype=torch.bfloat16),
        "f16": torch.tensor([[0.5, -1.0], [2048.0, -0.25]], dtype=torch.float16),
        "f64": torch.tensor([1.5, -2.25, 1e300], dtype=torch.float64),
        "i64": torch.tensor([-(2**40), 2**62], dtype=torch.int64),
        "i32": torch.tensor([-7, 0, 2147483647], dtype=torch.int32),
        "i16": torch.tensor([-32768, 123], dtype=torch.int16),
        "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 1, 254, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(42.0, dtype=torch.float32),
        "empty": torch.zeros((0, 5), dtype=torch.float32),
        "model.layers.0.w": torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=torch.bfloat16),
    }


def nometa_tensors():
    return {
        "emb.w\u00f6rter": torch.tensor([7, 8, 9], dtype=torch.uint8),
        "flag": torch.tensor([False]),
        "z": torch.tensor([-1], dtype=torch.int8),
    }


FIXTURES = {
    "python_basic.safetensors": (basic_tensors, {"format": "pt"}),
    "python_nometa.safetensors": (nometa_tensors, None),
}


def header_of(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return n, json.loads(f.read(n))


def write_all():
    os.makedirs(DATA_DIR, exist_ok=True)
    os.makedirs(SEED_DIR, exist_ok=True)
    for name, (fn, meta) in FIXTURES.items():
        path = os.path.join(DATA_DIR, name)
        save_file(fn(), path, metadata=meta)
        os.chmod(path, 0o644)
        n, h = header_of(path)
        print(f"wrote {path}: header {n} bytes, {os.path.getsize(path)} bytes")
        with open(path, "rb") as src, open(os.path.join(SEED_DIR, name), "wb") as dst:
            dst.write(src.read())
    # A minimal seed: one F32 scalar.
    save_file({"x": torch.tensor(1.0)}, os.path.join(SEED_DIR, "tiny.safetensors"))
    # An empty header (no tensors).
    save_file({}, os.path.join(SEED_DIR, "empty.safetensors"), metadata={"k": "v"})
    for name in ("tiny.safetensors", "empty.safetensors"):
        os.chmod(os.path.join(SEED_DIR, name), 0o644)


def verify(path):
    """Checks a file (python_basic tensors) or a checkpoint directory (sharded or not)."""
    expected = basic_tensors()
    if os.path.isdir(path):
        idx = os.path.join(path, "model.safetensors.index.json")
        if os.path.exists(idx):
            with open(idx) as f:
                wm = json.load(f)["weight_map"]
            files = sorted(set(wm.values()))
        else:
            wm, files = None, ["model.safetensors"]
        got = {}
        for fn in files:
            with safe_open(os.path.join(path, fn), "pt") as f:
                for k in f.keys():
                    assert k not in got, f"{k} in two shards"
                    if wm is not None:
                        assert wm[k] == fn, f"{k} mapped to {wm[k]} but found in {fn}"
                    got[k] = f.get_tensor(k)
    else:
        with safe_open(path, "pt") as f:
            got = {k: f.get_tensor(k) for k in f.keys()}
            print("metadata:", f.metadata())
    assert set(got) == set(expected), (sorted(got), sorted(expected))
    for k, v in expected.items():
        g = got[k]
        assert g.dtype == v.dtype and g.shape == v.shape and torch.equal(g, v), (k, g, v)
    print(f"OK: {path}: {len(got)} tensors match")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--verify", metavar="PATH", help="check a zaya-written file or directory")
    a = ap.parse_args()
    if a.verify:
        verify(a.verify)
    else:
        write_all()


if __name__ == "__main__":
    sys.exit(main())
