#!/usr/bin/env python3
"""Loads a checkpoint directory written by zaya (Model::save, native layout) in transformers'
ZayaForCausalLM (fp32, eager) and compares its logits with `zaya logits` on the same ids.

    python3 tools/reference/check_export.py MODEL_DIR [--zaya build/zaya] [--ids 2,5,9,...]
Exits non-zero if the relative error ‖a−b‖/‖b‖ exceeds 1e-4.
"""
import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_golden as mg  # noqa: E402  (load_native restores the stored balancing biases)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--zaya", default=str(Path(__file__).resolve().parents[2] / "build" / "zaya"))
    ap.add_argument("--ids", default=None)
    a = ap.parse_args()
    model = mg.load_native(Path(a.model))
    V = model.config.vocab_size
    ids = [int(x) for x in a.ids.split(",")] if a.ids else [(i * 37 + 11) % V for i in range(20)]
    with torch.no_grad():
        ref = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0].numpy()
    with tempfile.TemporaryDirectory() as td:
        out = Path(td) / "l.npy"
        subprocess.run([a.zaya, "logits", "--model", a.model, "--ids", ",".join(map(str, ids)), "--out", str(out)],
                       check=True, capture_output=True)
        got = np.load(out)
    err = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
    print(f"{a.model}: transformers vs zaya logits relative error {err:.3g}")
    return 0 if err < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
