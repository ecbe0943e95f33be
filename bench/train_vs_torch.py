#!/usr/bin/env python3
r"""Training tokens/s of zaya vs torch (transformers' ZayaForCausalLM) with the SAME optimizer split (Muon +
AdamW), on the same CPU, checkpoint, batch, sequence length and threads, in one run.

    python3 bench/train_vs_torch.py --config configs/bench-train.json --batch 8 --seq-len 256 --steps 3 \
        --threads 2 --backends cpu-f32,cpu-bf16 [--torch-configs fp32,bf16,fp32-adamw] [--out x.jsonl]

What is measured (every configuration: random token batches of B x T ids in [3, vocab), one untimed
warm-up step, then --steps timed steps; tokens = B * T * steps):

  checkpoint   `zaya mkckpt --config CONFIG --dtype f32 --init spec`, written once into --workdir and
               reused; every engine / configuration starts from these weights.
  zaya         for each backend: `zaya bench --train --model DIR --batch B --seq-len T --steps S
               --threads N --backend cpu-f32|cpu-bf16`: Model::step forward + explicit backward, then Muon
               + AdamW (as `zaya train`, lr 1e-4, no clipping). Reports its JSON "fwd_bwd_tok_s",
               "step_tok_s", model FLOP/s and GEMM efficiency. `--backends default` omits --backend.
  torch        ZayaForCausalLM.from_pretrained(DIR, dtype=float32), .train(), torch.set_num_threads(N),
               transformers' default attention / experts implementation (see --experts-impl).
               loss = model(input_ids=ids, labels=ids, use_cache=False).loss  (causal LM, mean over the
               B*(T-1) predicted tokens), loss.backward(), optimizer.step(), zero_grad(set_to_none=True).
                 fp32        forward, loss, backward in fp32.
                 bf16        forward + loss inside torch.autocast("cpu", dtype=torch.bfloat16); fp32 master
                             weights, gradients and optimizer state; backward outside autocast.
                 *-adamw     reference only: the same, but AdamW for every tensor (not in the ratio).
                 *+IMPL      this configuration with experts_implementation=IMPL (e.g. bf16+eager).
               Optimizer = zaya's split (src/train/optim.h plan_param), lr 1e-4, weight decay 0.1:
                 Muon   2-D Linear weights [out, in]; stacked experts [E, out, in] = E matrices; grouped CCA
                        conv [C, d, k] = C/d matrices [d, d*k]. M <- 0.95 M + G, U = G + 0.95 M (Nesterov;
                        proportional to Keller Jordan's lerp form, which the normalization cancels);
                        O = Newton-Schulz quintic (3.4445, -4.7750, 2.0315), 5 steps, in bf16, on the wide
                        orientation, X / (||X||_F + 1e-7); BATCHED: every matrix of the same shape in the
                        model (all experts of all layers, ...) goes through one batched call;
                        W <- W (1 - lr wd) - lr * 0.2 * sqrt(max(rows, cols)) * O.
                 AdamW  embeddings / LM head (tied), depthwise conv (decay 0.1); norms, biases, scales,
                        temperatures, every < 2-D tensor (no decay); betas 0.9 / 0.95, eps 1e-8,
                        torch.optim.AdamW (fused by default, see --adamw-impl).
  columns      fwd+bwd tok/s = tokens / time of forward + loss + backward alone; full step tok/s =
               tokens / time of forward + backward + optimizer step + zero_grad; the split prints the
               seconds per step in each part (torch: Muon and AdamW separately). The ratio is zaya's best
               full-step tok/s over the best torch Muon configuration run (fp32 / bf16 by default).

Before timing, one no-grad probe forward records the dtype the experts' matmuls produce in each
configuration (transformers' grouped_mm is not covered by autocast: it casts its input to the weight's
dtype, so with fp32 master weights the experts compute in fp32 even under bf16 autocast).
--self-test checks the Muon pieces (batched NS5 = per-matrix NS5, near-orthogonal output, the plan) and exits.
"""
import argparse
import math
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

NS_COEFFS = (3.4445, -4.7750, 2.0315)


# ------------------------------------------------------------------------------------------------------------
# Optimizer split: a copy of zaya's plan_param (src/train/optim.cpp), on checkpoint tensor names.

def plan_param(name, shape):
    """(kind, n_blocks, rows, cols, weight_decay, rule), the rules in plan_param's order."""
    has = lambda s: s in name  # noqa: E731
    nd = len(shape)
    if nd < 2 or has("norm") or has("bias") or has("scale") or has("temp"):
        return ("adamw", 1, 0, 0, False, "no decay (<2-D, norm, bias, scale, temp)")
    if has("embed_tokens") or has("lm_head"):
        return ("adamw", 1, 0, 0, True, "embedding / LM head")
    if nd == 3 and (has("conv_qk_depthwise") or has("conv_qk.0.") or (has("conv") and shape[1] == 1)):
        return ("adamw", 1, 0, 0, True, "depthwise conv [C,1,k]")
    if nd == 3 and (has("conv_qk_grouped") or has("conv_qk.1.")):
        C, d, k = shape
        if C % d:
            raise ValueError(f"grouped conv {name} {tuple(shape)}: {C} channels not a multiple of {d}")
        return ("muon", C // d, d, d * k, True, "grouped conv [C,d,k] -> C/d x [d, d*k]")
    if nd == 2:
        return ("muon", 1, shape[0], shape[1], True, "2-D Linear [out,in]")
    if nd == 3 and has("experts"):
        return ("muon", shape[0], shape[1], shape[2], True, "experts [E,out,in] -> E x [out,in]")
    return ("adamw", 1, 0, 0, True, "other (no rule matched)")


def describe_plan(named):
    rows = {}
    for n, p in named:
        k, nb, r, c, wd, rule = plan_param(n, tuple(p.shape))
        e = rows.setdefault((k, rule, wd), [0, 0])
        e[0] += 1
        e[1] += p.numel()
    out = ["| optimizer | rule | decay | tensors | elements |", "|---|---|---|---:|---:|"]
    for (k, rule, wd), (t, el) in sorted(rows.items()):
        out.append(f"| {k} | {rule} | {'yes' if wd else 'no'} | {t} | {el:,} |")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------------------
# Muon (Keller Jordan's reference Newton-Schulz, batched over leading dims) + AdamW, zaya's update scaling.

def newton_schulz5(G, steps=5, coeffs=NS_COEFFS):
    """Keller Jordan's zeropower_via_newtonschulz5 over the last two dims of G ([..., rows, cols]), in bf16."""
    a, b, c = coeffs
    X = G.bfloat16()
    tall = G.size(-2) > G.size(-1)
    if tall:
        X = X.mT
    X = X / (X.norm(dim=(-2, -1), keepdim=True) + 1e-7)
    for _ in range(steps):
        A = X @ X.mT
        B = b * A + c * A @ A
        X = a * X + B @ X
    if tall:
        X = X.mT
    return X


class MuonAdamW:
    """zaya's optimizer split on torch tensors. muon=False: AdamW for every tensor (the reference)."""

    def __init__(self, named, lr=1e-4, weight_decay=0.1, betas=(0.9, 0.95), eps=1e-8, momentum=0.95,
                 nesterov=True, ns_steps=5, rms_scale=0.2, muon=True, adamw_impl="fused"):
        import torch
        self.lr, self.wd, self.mu, self.nesterov = lr, weight_decay, momentum, nesterov
        self.ns_steps, self.rms_scale = ns_steps, rms_scale
        self.groups = {}  # (rows, cols) -> list of (param, n_blocks, decay, momentum buffer)
        decay, no_decay = [], []
        self.params = []
        for n, p in named:
            if not p.requires_grad:
                continue
            self.params.append(p)
            kind, nb, r, c, wd, _ = plan_param(n, tuple(p.shape))
            if kind == "muon" and muon:
                self.groups.setdefault((r, c), []).append((p, nb, wd, torch.zeros_like(p)))
            else:
                (decay if wd else no_decay).append(p)
        kw = {"fused": True} if adamw_impl == "fused" else {"foreach": adamw_impl == "foreach"}
        groups = [g for g in ({"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}) if g["params"]]
        self.adamw = torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, **kw) if groups else None
        self.muon_s = self.adamw_s = 0.0  # accumulated seconds in each part

    def muon_step(self):
        import torch
        lr = self.lr
        for (r, c), entries in self.groups.items():
            ps = [e[0] for e in entries]
            gs = [p.grad for p in ps]
            ms = [e[3] for e in entries]
            torch._foreach_mul_(ms, self.mu)
            torch._foreach_add_(ms, gs)  # M <- mu M + G
            us = torch._foreach_add(gs, ms, alpha=self.mu) if self.nesterov else ms  # U = G + mu M
            U = torch.cat([u.reshape(nb, r, c) for u, (_, nb, _, _) in zip(us, entries)]) \
                if len(us) > 1 else us[0].reshape(entries[0][1], r, c)
            O = newton_schulz5(U, self.ns_steps)
            scale = lr * self.rms_scale * math.sqrt(max(r, c))
            off = 0
            for p, nb, wd, _ in entries:
                if wd:
                    p.mul_(1.0 - lr * self.wd)
                p.add_(O[off:off + nb].reshape(p.shape), alpha=-scale)
                off += nb

    @staticmethod
    def _no_grad(f):
        import torch
        with torch.no_grad():
            f()

    def step(self):
        t0 = time.perf_counter()
        self._no_grad(self.muon_step)
        t1 = time.perf_counter()
        if self.adamw:
            self.adamw.step()
        t2 = time.perf_counter()
        self.muon_s += t1 - t0
        self.adamw_s += t2 - t1

    def zero_grad(self):
        for p in self.params:
            p.grad = None


# ------------------------------------------------------------------------------------------------------------
# torch side

def probe_expert_dtypes(model, V, autocast):
    """Dtypes of the matmul outputs inside the experts modules during one small no-grad forward."""
    import torch
    F = torch.nn.functional
    seen, inside = set(), [0]
    names = [(F, "grouped_mm"), (F, "linear"), (torch, "_grouped_mm"), (torch, "bmm"), (torch, "mm"),
             (torch, "matmul")]
    saved = [(m, n, getattr(m, n)) for m, n in names if hasattr(m, n)]

    def wrap(f):
        def g(*a, **k):
            out = f(*a, **k)
            if inside[0] and isinstance(out, torch.Tensor):
                seen.add(f"{getattr(f, '__name__', '?')}->{str(out.dtype).replace('torch.', '')}")
            return out
        return g

    hooks = []
    for mod in model.modules():
        if type(mod).__name__.endswith("Experts"):
            hooks.append(mod.register_forward_pre_hook(lambda *_: inside.__setitem__(0, inside[0] + 1)))
            hooks.append(mod.register_forward_hook(lambda *_: inside.__setitem__(0, inside[0] - 1)))
    try:
        for m, n, f in saved:
            setattr(m, n, wrap(f))
        ids = torch.randint(3, V, (1, 64), generator=torch.Generator().manual_seed(0))
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            model(input_ids=ids, use_cache=False)
    finally:
        for m, n, f in saved:
            setattr(m, n, f)
        for h in hooks:
            h.remove()
    return sorted(seen)


TORCH_CONFIG_RE = re.compile(r"^(fp32|bf16)(-adamw)?(?:\+(\w+))?$")


def parse_torch_config(name, default_experts_impl):
    """'fp32' | 'bf16', then '-adamw' (AdamW for everything), then '+IMPL' (experts_implementation)."""
    m = TORCH_CONFIG_RE.match(name)
    if not m:
        raise ValueError(f"unknown torch configuration '{name}' (fp32|bf16 [-adamw] [+experts_impl])")
    return m.group(1) == "bf16", m.group(2) is None, m.group(3) or default_experts_impl


def torch_train(ckpt, cfg_name, batch, seq, steps, threads, lr, adamw_impl, default_experts_impl, seed):
    import torch
    import transformers
    from transformers import ZayaForCausalLM

    transformers.logging.set_verbosity_error()
    torch.set_num_threads(threads)
    autocast, muon, experts_impl = parse_torch_config(cfg_name, default_experts_impl)
    kw = {"experts_implementation": experts_impl} if experts_impl else {}
    model = ZayaForCausalLM.from_pretrained(ckpt, dtype=torch.float32, **kw)
    model.train()
    V = model.config.vocab_size
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    expert_dtypes = probe_expert_dtypes(model, V, autocast)
    plan_table = describe_plan(named)
    opt = MuonAdamW(named, lr=lr, muon=muon, adamw_impl=adamw_impl)
    g = torch.Generator().manual_seed(seed)
    fb = full = 0.0
    losses = []
    for s in range(-1, steps):  # step -1 warms up
        ids = torch.randint(3, V, (batch, seq), generator=g)
        if s == 0:
            opt.muon_s = opt.adamw_s = 0.0
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = model(input_ids=ids, labels=ids, use_cache=False).loss
        loss.backward()
        t1 = time.perf_counter()
        opt.step()
        opt.zero_grad()
        t2 = time.perf_counter()
        losses.append(loss.detach().item())
        if s >= 0:
            fb += t1 - t0
            full += t2 - t0
    tokens = batch * seq * steps
    impl = getattr(model.config, "_experts_implementation", None)
    row = {"side": "torch", "config_name": cfg_name,
           "engine": f"torch {'bf16 autocast' if autocast else 'fp32'}, experts {impl}, "
                     f"{'Muon + AdamW' if muon else 'AdamW only (reference)'}",
           "attn": model.config._attn_implementation,
           "experts_impl": impl,
           "expert_matmul_dtypes": expert_dtypes, "adamw_impl": adamw_impl,
           "fwd_bwd_tok_s": tokens / fb, "step_tok_s": tokens / full,
           "fwd_bwd_s_per_step": fb / steps, "opt_s_per_step": (full - fb) / steps,
           "muon_s_per_step": opt.muon_s / steps, "adamw_s_per_step": opt.adamw_s / steps,
           "losses": losses, "plan_table": plan_table, "versions": benchlib.torch_versions()}
    del model, opt
    return row


def zaya_train(zaya, ckpt, backend, batch, seq, steps, threads):
    j = benchlib.run_zaya_bench(zaya, ["--train", "--model", ckpt, "--batch", batch, "--seq-len", seq,
                                       "--steps", steps, "--threads", threads], backend)
    tokens_per_step = batch * seq
    # Seconds per step as zaya reports them; derived from the tok/s where a build does not print them.
    fb_s = j.get("fwd_bwd_s_per_step", tokens_per_step / j["fwd_bwd_tok_s"])
    opt_s = j.get("optimizer_s_per_step", tokens_per_step / j["step_tok_s"] - fb_s)
    return {"side": "zaya", "backend": j.get("backend", backend), "engine": f"zaya ({backend}), Muon + AdamW",
            "kernels": j.get("kernels"),
            "fwd_bwd_tok_s": j["fwd_bwd_tok_s"], "step_tok_s": j["step_tok_s"],
            "fwd_bwd_s_per_step": fb_s, "opt_s_per_step": opt_s,
            "model_flops_per_s": j.get("model_flops_per_s"),
            # newer builds: gemm_peak_flops_per_s; the current one: sgemm_peak_flops_per_s
            "gemm_peak_flops_per_s": j.get("gemm_peak_flops_per_s", j.get("sgemm_peak_flops_per_s")),
            "gemm_efficiency": j.get("gemm_efficiency"), "zaya_json": j}


# ------------------------------------------------------------------------------------------------------------

def self_test():
    import torch
    torch.manual_seed(0)
    ok = True
    for shape in [(3, 96, 40), (4, 40, 96), (2, 64, 64)]:
        G = torch.randn(shape)
        batched = newton_schulz5(G).float()
        single = torch.stack([newton_schulz5(G[i]).float() for i in range(shape[0])])
        d = (batched - single).abs().max().item()
        sv = torch.linalg.svdvals(batched)
        print(f"NS5 {shape}: batched vs single max |diff| {d:.2e}, singular values in "
              f"[{sv.min().item():.3f}, {sv.max().item():.3f}]")
        ok &= d < 2e-2 and sv.min().item() > 0.5 and sv.max().item() < 1.3
    # fp64 check of the quintic itself: the iteration on an fp64 copy gives the same result within bf16 noise.
    G = torch.randn(48, 80, dtype=torch.float64)
    a, b, c = NS_COEFFS
    X = G / (G.norm() + 1e-7)
    for _ in range(5):
        A = X @ X.T
        X = a * X + (b * A + c * A @ A) @ X
    d = (newton_schulz5(G).double() - X).abs().max().item()
    print(f"NS5 bf16 vs fp64 iteration: max |diff| {d:.2e}")
    ok &= d < 5e-2
    expect = {
        "model.embed_tokens.weight": ("adamw", True), "model.norm.weight": ("adamw", False),
        "model.layers.0.self_attn.qkv_proj.conv_qk_depthwise.weight": ("adamw", True),
        "model.layers.0.self_attn.qkv_proj.conv_qk_grouped.bias": ("adamw", False),
        "model.layers.0.self_attn.qk_norm.temp": ("adamw", False),
        "model.layers.1.mlp.gate.router_states_scale": ("adamw", False),
        "model.layers.0.post_mlp_residual_scale.residual_scale": ("adamw", False),
        "model.layers.0.mlp.gate.router_mlp.fc1.weight": ("muon", True),
    }
    shapes = {"model.embed_tokens.weight": (64, 8), "model.layers.0.self_attn.qkv_proj.conv_qk_depthwise.weight":
              (640, 1, 2), "model.layers.0.mlp.gate.router_mlp.fc1.weight": (128, 128)}
    for n, (k, wd) in expect.items():
        got = plan_param(n, shapes.get(n, (8,)))
        ok &= got[0] == k and got[4] == wd
    ok &= plan_param("model.layers.0.self_attn.qkv_proj.conv_qk_grouped.weight", (640, 64, 2))[:4] == \
        ("muon", 10, 64, 128)
    ok &= plan_param("model.layers.0.mlp.experts.gate_up_proj", (8, 1024, 512))[:4] == ("muon", 8, 1024, 512)
    # One optimizer step on a toy parameter set matches the update rule written out by hand.
    W = torch.nn.Parameter(torch.randn(2, 6, 4))
    W0 = W.detach().clone()
    W.grad = torch.randn(2, 6, 4)
    opt = MuonAdamW([("x.experts.w", W)], lr=0.01, adamw_impl="foreach")
    opt.step()
    U = W.grad + 0.95 * W.grad
    ref = W0 * (1 - 0.01 * 0.1) - 0.01 * 0.2 * math.sqrt(6) * newton_schulz5(U).float()
    d = (W.detach() - ref).abs().max().item()
    print(f"Muon step vs hand-written rule: max |diff| {d:.2e}")
    ok &= d < 1e-6
    print("self-test", "passed" if ok else "FAILED")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", help="model config.json (e.g. configs/bench-train.json)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--steps", type=int, default=3, help="timed steps after one untimed warm-up step")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for every engine (default 2)")
    ap.add_argument("--backends", type=benchlib.csv_list, default=["cpu-f32", "cpu-bf16"],
                    help="zaya backends, comma-separated (default cpu-f32,cpu-bf16; 'default' = no --backend)")
    ap.add_argument("--torch-configs", type=benchlib.csv_list, default=["fp32", "bf16"],
                    help="torch configurations, comma-separated (default fp32,bf16): fp32 | bf16 (autocast), "
                         "then optionally -adamw (AdamW for every tensor, reference, not in the ratio), then "
                         "optionally +IMPL (transformers experts_implementation for this one, e.g. bf16+eager)")
    ap.add_argument("--lr", type=float, default=1e-4, help="learning rate of the torch optimizers (zaya bench: 1e-4)")
    ap.add_argument("--adamw-impl", default="fused", choices=["fused", "foreach", "forloop"],
                    help="torch.optim.AdamW implementation (default fused)")
    ap.add_argument("--experts-impl", default=None,
                    help="transformers experts_implementation (default: its default, grouped_mm; 'eager' = a "
                         "per-expert F.linear loop, which autocast does cover)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the random token batches")
    ap.add_argument("--zaya", default=benchlib.DEFAULT_ZAYA, help="zaya binary (default build/zaya)")
    ap.add_argument("--workdir", default=benchlib.DEFAULT_WORKDIR,
                    help="where the checkpoint is written and reused (default bench/out/ckpt)")
    ap.add_argument("--skip-zaya", action="store_true", help="only the torch side (mkckpt still runs)")
    ap.add_argument("--self-test", action="store_true", help="check the Muon implementation and exit")
    ap.add_argument("--out", default=None, help="append one JSON line per engine / configuration here")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if not a.config:
        ap.error("--config is required")
    for c in a.torch_configs:
        try:
            parse_torch_config(c, None)
        except ValueError as e:
            ap.error(f"--torch-configs: {e}")
    if a.steps < 1:
        ap.error("--steps must be >= 1")

    ckpt = benchlib.make_checkpoint(a.zaya, a.config, a.workdir, "f32", "spec")
    rows, failed = [], []
    if not a.skip_zaya:
        for b in a.backends:
            try:
                rows.append(zaya_train(a.zaya, ckpt, b, a.batch, a.seq_len, a.steps, a.threads))
            except (RuntimeError, KeyError) as e:
                print(f"[bench] zaya backend {b} failed: {e!r}", file=sys.stderr)
                failed.append(b)
    for c in a.torch_configs:
        print(f"[bench] torch {c} ...", file=sys.stderr)
        rows.append(torch_train(ckpt, c, a.batch, a.seq_len, a.steps, a.threads, a.lr, a.adamw_impl,
                                a.experts_impl, a.seed))

    print(f"\ntraining, config {a.config} (f32 checkpoint, --init spec), batch {a.batch} x seq_len {a.seq_len}, "
          f"{a.steps} timed steps after 1 warm-up, {a.threads} threads; {benchlib.torch_versions()}")
    print("| engine / configuration | fwd+bwd tok/s | full step tok/s | fwd+bwd s/step | optimizer s/step |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        opt = f"{r['opt_s_per_step']:.3f}"
        if r["side"] == "torch":
            opt += f" (Muon {r['muon_s_per_step']:.3f} + AdamW {r['adamw_s_per_step']:.3f})"
        print(f"| {r['engine']} | {r['fwd_bwd_tok_s']:.0f} | {r['step_tok_s']:.0f} | "
              f"{r['fwd_bwd_s_per_step']:.3f} | {opt} |")
    for b in failed:
        print(f"| zaya ({b}) | failed, see stderr | | | |")
    for r in rows:
        if r["side"] == "torch":
            share = r["opt_s_per_step"] / (r["opt_s_per_step"] + r["fwd_bwd_s_per_step"])
            print(f"torch {r['config_name']}: optimizer {100 * share:.0f} % of the step; experts matmuls "
                  f"({r['experts_impl']}): {', '.join(r['expert_matmul_dtypes']) or 'none seen'}; "
                  f"losses {', '.join(f'{x:.3f}' for x in r['losses'])}")
        elif r.get("model_flops_per_s") and r.get("gemm_peak_flops_per_s"):
            share = r["opt_s_per_step"] / (r["opt_s_per_step"] + r["fwd_bwd_s_per_step"])
            print(f"zaya {r['backend']}: model FLOP/s {r['model_flops_per_s'] / 1e9:.1f} G vs GEMM peak "
                  f"{r['gemm_peak_flops_per_s'] / 1e9:.1f} G: efficiency {100 * r['gemm_efficiency']:.1f} %; "
                  f"optimizer {100 * share:.0f} % of the step"
                  + (f"; kernels: {r['kernels']}" if r.get("kernels") else ""))
    zs = [r for r in rows if r["side"] == "zaya"]
    ts = [r for r in rows if r["side"] == "torch" and "-adamw" not in r["config_name"]]
    if zs and ts:
        bz, bt = max(zs, key=lambda r: r["step_tok_s"]), max(ts, key=lambda r: r["step_tok_s"])
        print(f"zaya best full step ({bz['backend']}) / better torch ({bt['config_name']}): "
              f"{bz['step_tok_s'] / bt['step_tok_s']:.2f}x")
    ts_all = [r for r in rows if r["side"] == "torch"]
    if ts_all:
        print("\ntorch optimizer split (zaya's plan_param rules; *-adamw configurations use AdamW for all):\n"
              + ts_all[0]["plan_table"])
    print(benchlib.load_note(a.threads))
    common = {"bench": "train", "config": a.config, "checkpoint": ckpt, "batch": a.batch, "seq_len": a.seq_len,
              "steps": a.steps, "threads": a.threads, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "loadavg_at_end": os.getloadavg()}
    benchlib.append_jsonl(a.out, [{**common, **{k: v for k, v in r.items() if k != "plan_table"}} for r in rows])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
