#!/usr/bin/env python3
"""Golden loss and parameter gradients from transformers' autograd, for the trainer's backward.

For every golden config in tests/data/golden/<name>/ (written by make_golden.py) this loads the native
checkpoint into the upstream ZayaForCausalLM (eager, cast to float64), runs `model(input_ids=ids, labels=ids)` on the
two golden sequences (the library's causal-LM loss: shift by one, mean over B·(T-1) targets), back-propagates,
and writes <name>/grads.safetensors, every value computed in float64 and rounded once to fp32. (An fp32
autograd is itself up to 1.4e-4 relative off the exact gradient where terms cancel, e.g. the key temperature of
g2swa, which is too close to the tests' 1e-4 bound for the reference to be the fp32 one.)
  loss               F32 [1]   upstream skip semantics ("zero")
  grad.<param name>  F32       d loss / d parameter, for every named parameter (native names; the tied LM head
                               shares model.embed_tokens.weight, so its gradient is included there)
  loss_passthrough   F32 [1]   the same loss with the legacy skip semantics (w·y for skip tokens)
  grad_passthrough.<param name> only for configs where the skip slot is reachable

    python3 tools/reference/make_grad_golden.py [--root tests/data/golden]
"""
import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_golden as mg  # noqa: E402  (patches the upstream MoE forward with the skip-mode switch)
import safetensors  # noqa: E402


def loss_and_grads(model, ids, mode):
    model.train(False)
    model.zero_grad(set_to_none=True)
    with mg.Mode(mode):
        out = model(input_ids=ids, labels=ids, use_cache=False)
    out.loss.backward()
    grads = {}
    for name, p in model.named_parameters():
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        grads[name] = g.detach().clone()
    return out.loss.detach().reshape(1), grads


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[2] / "tests" / "data" / "golden"))
    a = ap.parse_args()
    for d in sorted(Path(a.root).iterdir()):
        if not (d / "native" / "config.json").exists():
            continue
        model = mg.load_native(d / "native").double()
        for p in model.parameters():
            p.requires_grad_(True)
        with safetensors.safe_open(str(d / "golden.safetensors"), "pt") as sf:
            ids = sf.get_tensor("ids").long()
            skip_reachable = float(sf.metadata()["skip_fraction"]) > 0
        loss, grads = loss_and_grads(model, ids, "upstream")
        out = {"loss": mg.f32(loss)}
        out.update({"grad." + k: mg.f32(v) for k, v in grads.items()})
        loss_pt, grads_pt = loss_and_grads(model, ids, "passthrough")
        out["loss_passthrough"] = mg.f32(loss_pt)
        if skip_reachable:
            out.update({"grad_passthrough." + k: mg.f32(v) for k, v in grads_pt.items()})
        meta = {"config": d.name, "transformers_version": mg.transformers.__version__,
                "torch_version": torch.__version__.split("+")[0],
                "precision": "float64 autograd, rounded once to fp32",
                "loss": "transformers causal-LM loss with labels = ids (shifted, mean over B*(T-1) targets)"}
        mg.write_safetensors(out, d / "grads.safetensors", meta)
        print(f"[{d.name}] loss {float(loss):.6f} (passthrough {float(loss_pt):.6f}), {len(grads)} parameter "
              f"gradients, {(d / 'grads.safetensors').stat().st_size} bytes")


if __name__ == "__main__":
    main()
