#!/usr/bin/env python3
"""Training tokens/s of zaya vs transformers + torch on the same CPU, checkpoint, batch, sequence length,
fp32 and threads, in one run; plus zaya's GEMM efficiency against OpenBLAS's measured sgemm peak.

    python3 bench/train_vs_transformers.py --config configs/bench-small.json --batch 4 --seq-len 256 \
        --steps 5 --threads 2

Both sides: random token batches, causal-LM loss (labels = inputs shifted), one untimed warm-up step, then
`steps` timed steps of forward + backward, and of forward + backward + optimizer step (zaya: Muon for
matrices + AdamW, as its trainer does; torch: AdamW, the optimizer transformers users train with).
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def torch_train(model_dir, batch, seq, steps, threads):
    import torch
    import transformers
    from transformers import ZayaForCausalLM

    transformers.logging.set_verbosity_error()
    torch.set_num_threads(threads)
    model = ZayaForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    V = model.config.vocab_size
    g = torch.Generator().manual_seed(1)
    fb = full = 0.0
    for s in range(-1, steps):
        ids = torch.randint(3, V, (batch, seq), generator=g)
        t0 = time.perf_counter()
        loss = model(input_ids=ids, labels=ids, use_cache=False).loss
        loss.backward()
        t1 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t2 = time.perf_counter()
        if s >= 0:
            fb += t1 - t0
            full += t2 - t0
    tokens = batch * seq * steps
    return {"engine": f"transformers {transformers.__version__} / torch {torch.__version__} "
                      f"(attn={model.config._attn_implementation})",
            "fwd_bwd_tok_s": tokens / fb, "step_tok_s": tokens / full}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--zaya", default=os.path.join(ROOT, "build", "zaya"))
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    work = a.workdir or tempfile.mkdtemp(prefix="zaya_tbench_")
    ckpt = os.path.join(work, os.path.basename(a.config).replace(".json", "") + "-f32")
    if not os.path.exists(os.path.join(ckpt, "config.json")):
        subprocess.run([a.zaya, "mkckpt", "--config", a.config, "--out", ckpt, "--dtype", "f32", "--init", "spec"],
                       check=True)
    z = subprocess.run([a.zaya, "bench", "--train", "--model", ckpt, "--batch", str(a.batch), "--seq-len",
                        str(a.seq_len), "--steps", str(a.steps), "--threads", str(a.threads)],
                       check=True, capture_output=True, text=True)
    zr = json.loads(z.stdout.strip().splitlines()[-1])
    tr = torch_train(ckpt, a.batch, a.seq_len, a.steps, a.threads)
    print(f"\nconfig {a.config}, fp32, batch {a.batch}, seq_len {a.seq_len}, {a.steps} steps, threads {a.threads}")
    print("| engine | fwd+bwd tok/s | full step tok/s |")
    print("|---|---:|---:|")
    print(f"| zaya (Muon + AdamW) | {zr['fwd_bwd_tok_s']:.0f} | {zr['step_tok_s']:.0f} |")
    print(f"| {tr['engine']} (AdamW) | {tr['fwd_bwd_tok_s']:.0f} | {tr['step_tok_s']:.0f} |")
    print(f"zaya/transformers fwd+bwd: {zr['fwd_bwd_tok_s'] / tr['fwd_bwd_tok_s']:.2f}x")
    print(f"zaya model FLOP/s {zr['model_flops_per_s'] / 1e9:.1f} G vs OpenBLAS sgemm peak "
          f"{zr['sgemm_peak_flops_per_s'] / 1e9:.1f} G: GEMM efficiency {100 * zr['gemm_efficiency']:.1f} %")


if __name__ == "__main__":
    main()
