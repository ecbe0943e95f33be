#!/usr/bin/env python3
"""Golden loss gradients for the LEGACY checkpoint layout (for a `zaya grad` on legacy checkpoints).

For every golden config in tests/data/golden/<name>/ this derives, from the committed native gradients
<name>/grads.safetensors (make_grad_golden.py: transformers autograd, native names), the gradient with respect to
every tensor of the legacy checkpoint <name>/legacy/model.safetensors, and writes <name>/grads_legacy.safetensors:

  loss                              F32 [1]   copied from grads.safetensors (upstream skip semantics, "zero")
  loss_passthrough                  F32 [1]   copied (legacy skip semantics w·y, the default for legacy checkpoints)
  grad.<legacy name>                F32       d loss / d (that legacy tensor), for every tensor of the legacy file
  grad_passthrough.<legacy name>    F32       the same for loss_passthrough, only where grads.safetensors has
                                              grad_passthrough.* (configs with a reachable skip slot)

Derivation: the native tensors are functions of the legacy ones (official mapping, spec §6.3; the inverse of
zaya_legacy.native_to_legacy), so d loss / d legacy = the native gradient carried back through that function:
  * renamed tensors (norms, projections, convs, residual scales incl. the layer-0 / model.res_scale homes): the
    native gradient unchanged (zaya_legacy.native_to_legacy applied to the gradient dict);
  * experts: linear_fc1 / linear_fc2 of expert e = row e of the stacked gate_up_proj / down_proj gradient;
  * qkv.temp with clamp_temp (g1odd): native temp = exp(clip(stored, 1e-7, 2)), so
    grad.stored = grad.temp · exp(stored) where 1e-7 <= stored <= 2, else 0 (torch.clamp passes the gradient on
    the closed interval), computed in float64 and rounded once to fp32; without clamp_temp it is unchanged;
  * zaya_block.router.balancing_biases: a buffer that only moves the top-1 selection, so the loss is piecewise
    constant in it: zeros (grads.safetensors has no entry; the native model has no gradient for it either).

Checks: (1) the same gradients by autograd — legacy tensors as leaves, zaya_legacy.legacy_to_native, and the
vector-Jacobian product with the native gradients — agree (renames and expert rows bit-exactly, the temperature
chain rule to fp32 rounding); (2) end to end: the installed transformers ZayaForCausalLM evaluated on the native
tensors built from the legacy leaves (torch.func.functional_call), loss backpropagated to the legacy leaves,
reproduces loss and every legacy gradient (to float rounding: the committed files were made with 5.23).

The existing golden files are only read.  Deterministic: two runs give identical bytes.

    python3 tools/reference/make_legacy_grad_golden.py [--root tests/data/golden]
"""
import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_golden as mg  # noqa: E402  (patches the upstream MoE forward with the skip-mode switch)
import safetensors  # noqa: E402
import safetensors.torch  # noqa: E402
import zaya_legacy  # noqa: E402
from transformers.models.zaya import ZayaConfig  # noqa: E402

TEMP_LO, TEMP_HI = 1e-7, 2.0  # spec §3.5: exp(clip(temp, 1e-7, 2))


def to_legacy(ngrad: dict, ncfg: ZayaConfig, lcfg: dict, lsd: dict) -> dict:
    """Native-name gradients -> legacy-name gradients (see the module docstring)."""
    full = dict(ngrad)
    for k in lsd:  # the buffers have no gradient: give them zeros so that the mapping can carry them
        if k.endswith("balancing_biases"):
            P = ncfg.num_hidden_layers
            j = int(k.split(".")[2]) // 2
            assert 0 <= j < P
            full[f"model.layers.{j}.mlp.gate.balancing_biases"] = torch.zeros_like(lsd[k])
    _, lg = zaya_legacy.native_to_legacy(full, ncfg, clamp_temp=False)  # renames + per-expert split, no transform
    if lcfg.get("clamp_temp", False):
        for k in lg:
            if k.endswith("self_attn.qkv.temp"):
                s = lsd[k].double()
                inside = (s >= TEMP_LO) & (s <= TEMP_HI)
                lg[k] = torch.where(inside, lg[k].double() * torch.exp(s.clamp(TEMP_LO, TEMP_HI)),
                                    torch.zeros_like(s)).float()
    if set(lg) != set(lsd):
        raise AssertionError(f"legacy names differ: {sorted(set(lg) ^ set(lsd))[:8]}")
    for k in lg:
        assert lg[k].shape == lsd[k].shape and lg[k].dtype == torch.float32, k
    return lg


def by_autograd(ngrad: dict, lcfg: dict, lsd: dict) -> dict:
    """The same gradients as a vector-Jacobian product of zaya_legacy.legacy_to_native."""
    leaves = {k: v.clone().requires_grad_(True) for k, v in lsd.items()}
    _, nsd = zaya_legacy.legacy_to_native(lcfg, leaves)
    total = sum((t * ngrad[k]).sum() for k, t in nsd.items() if k in ngrad)
    total.backward()
    return {k: (v.grad if v.grad is not None else torch.zeros_like(v)) for k, v in leaves.items()}


def end_to_end(native_dir: Path, lcfg: dict, lsd: dict, ids, mode: str):
    """Loss and legacy gradients straight from transformers' autograd on the legacy tensors, in float64 as the
    native golden gradients (make_grad_golden.py)."""
    model = mg.load_native(native_dir).double()
    leaves = {k: v.double().clone().requires_grad_(True) for k, v in lsd.items()}
    _, nsd = zaya_legacy.legacy_to_native(lcfg, leaves)
    nsd = {k: v.double() if v.is_floating_point() else v for k, v in nsd.items()}
    model.train(False)
    with mg.Mode(mode):
        out = torch.func.functional_call(model, nsd, args=(), kwargs=dict(input_ids=ids, labels=ids, use_cache=False))
    out.loss.backward()
    return out.loss.detach(), {k: (v.grad if v.grad is not None else torch.zeros_like(v)) for k, v in leaves.items()}


def rel(a, b):
    return float((a.double() - b.double()).norm() / max(float(b.double().norm()), 1e-300))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[2] / "tests" / "data" / "golden"))
    a = ap.parse_args()
    for d in sorted(Path(a.root).iterdir()):
        if not (d / "grads.safetensors").exists() or not (d / "legacy" / "model.safetensors").exists():
            continue
        lcfg = json.loads((d / "legacy" / "config.json").read_text())
        lsd = safetensors.torch.load_file(str(d / "legacy" / "model.safetensors"))
        ncfg = ZayaConfig.from_pretrained(d / "native")
        with safetensors.safe_open(str(d / "grads.safetensors"), "pt") as sf:
            gmeta = sf.metadata()
            g = {k: sf.get_tensor(k) for k in sf.keys()}
        with safetensors.safe_open(str(d / "golden.safetensors"), "pt") as sf:
            ids = sf.get_tensor("ids").long()
        out = {"loss": mg.f32(g["loss"]), "loss_passthrough": mg.f32(g["loss_passthrough"])}
        worst_vjp, worst_e2e = 0.0, 0.0
        for prefix, loss_key, mode in (("grad.", "loss", "upstream"), ("grad_passthrough.", "loss_passthrough",
                                                                        "passthrough")):
            ngrad = {k[len(prefix):]: v for k, v in g.items() if k.startswith(prefix)}
            if not ngrad:
                continue
            lg = to_legacy(ngrad, ncfg, lcfg, lsd)
            # (1) autograd through the mapping
            ag = by_autograd(ngrad, lcfg, lsd)
            for k in lg:
                if k.endswith("qkv.temp") and lcfg.get("clamp_temp", False):
                    e = rel(ag[k], lg[k])
                    assert e < 1e-6, f"{d.name}: {k}: autograd chain rule differs ({e:.3g})"
                    worst_vjp = max(worst_vjp, e)
                else:
                    assert torch.equal(ag[k], lg[k]), f"{d.name}: {k}: autograd mapping differs"
            # (2) end to end with transformers
            loss, eg = end_to_end(d / "native", lcfg, lsd, ids, mode)
            assert abs(float(loss) - float(g[loss_key])) <= 1e-6 * abs(float(g[loss_key])), (d.name, mode)
            for k in lg:
                e = rel(eg[k], lg[k]) if float(lg[k].norm()) > 0 else float(eg[k].abs().max())
                assert e < 1e-5, f"{d.name}: {k}: end-to-end gradient differs ({e:.3g}, {mode})"
                worst_e2e = max(worst_e2e, e)
            out.update({prefix + k: mg.f32(v) for k, v in lg.items()})
        meta = {"config": d.name,
                "source": "grads.safetensors (native names) mapped to the legacy layout by "
                          "tools/reference/make_legacy_grad_golden.py",
                "transformers_version": gmeta["transformers_version"], "torch_version": gmeta["torch_version"],
                "loss": gmeta["loss"], "clamp_temp": str(bool(lcfg.get("clamp_temp", False))).lower(),
                "balancing_biases": "buffer, selection only: zero gradient"}
        mg.write_safetensors(out, d / "grads_legacy.safetensors", meta)
        with safetensors.safe_open(str(d / "grads_legacy.safetensors"), "pt") as sf:  # official reader
            assert sf.metadata() == meta and set(sf.keys()) == set(out)
        n = sum(k.startswith("grad.") for k in out)
        chain = f" (clamp_temp chain rule: rel {worst_vjp:.2g})" if lcfg.get("clamp_temp", False) else ""
        print(f"[{d.name}] {n} legacy gradients (+{sum(k.startswith('grad_passthrough.') for k in out)} "
              f"pass-through), {(d / 'grads_legacy.safetensors').stat().st_size} bytes; autograd through the "
              f"mapping: exact{chain}; transformers end to end: max rel {worst_e2e:.2g}")


if __name__ == "__main__":
    main()
