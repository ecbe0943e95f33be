#!/usr/bin/env python3
"""Prefill and decode tokens/s of zaya vs transformers (ZayaForCausalLM) on the same CPU, the same
checkpoint, the same threads, prompt length, batch and number of generated tokens, in one run.

    python3 bench/infer_vs_transformers.py --config configs/bench-small.json --dtype f32 \
        --prompt-len 128 --gen 32 --threads 2 [--batch 1] [--out bench/out/x.json]

Builds a random-weight checkpoint with `zaya mkckpt` (native layout), runs `zaya bench` (one warm-up
pass, then a timed one), then times transformers the same way: one warm-up, then a forward over the
prompt with the cache (prefill) and gen-1 cached single-token steps with greedy picks (decode).
Prints a markdown table row per engine.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_transformers(model_dir, dtype, prompt_len, gen, batch, threads, seed):
    import torch
    import transformers
    from transformers import ZayaForCausalLM

    transformers.logging.set_verbosity_error()
    torch.set_num_threads(threads)
    tdt = {"f32": torch.float32, "bf16": torch.bfloat16}[dtype]
    t0 = time.perf_counter()
    model = ZayaForCausalLM.from_pretrained(model_dir, dtype=tdt).eval()
    load_s = time.perf_counter() - t0
    V = model.config.vocab_size
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, V, (batch, prompt_len), generator=g)

    def once():
        with torch.no_grad():
            t0 = time.perf_counter()
            out = model(ids, use_cache=True)
            past = out.past_key_values
            tok = out.logits[:, -1].argmax(-1, keepdim=True)
            t1 = time.perf_counter()
            for _ in range(gen - 1):
                out = model(tok, past_key_values=past, use_cache=True)
                past = out.past_key_values
                tok = out.logits[:, -1].argmax(-1, keepdim=True)
            t2 = time.perf_counter()
        return t1 - t0, t2 - t1

    once()  # warm-up
    pre, dec = once()
    return {
        "engine": f"transformers {transformers.__version__} / torch {torch.__version__} "
                  f"(attn={model.config._attn_implementation})",
        "load_s": load_s,
        "prefill_tok_s": batch * prompt_len / pre,
        "decode_tok_s": batch * (gen - 1) / dec if gen > 1 else 0.0,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16"])
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--gen", type=int, default=32)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--zaya", default=os.path.join(ROOT, "build", "zaya"))
    ap.add_argument("--workdir", default=None, help="where the checkpoint goes (default: a temp dir)")
    ap.add_argument("--out", default=None, help="append the results as a JSON line here")
    a = ap.parse_args()

    work = a.workdir or tempfile.mkdtemp(prefix="zaya_bench_")
    ckpt = os.path.join(work, os.path.basename(a.config).replace(".json", "") + "-" + a.dtype)
    if not os.path.exists(os.path.join(ckpt, "config.json")):
        subprocess.run([a.zaya, "mkckpt", "--config", a.config, "--out", ckpt, "--dtype", a.dtype,
                        "--init", "perturbed"], check=True)
    z = subprocess.run([a.zaya, "bench", "--model", ckpt, "--prompt-len", str(a.prompt_len), "--gen", str(a.gen),
                        "--batch", str(a.batch), "--threads", str(a.threads)],
                       check=True, capture_output=True, text=True)
    zr = json.loads(z.stdout.strip().splitlines()[-1])
    zr["engine"] = "zaya"
    tr = run_transformers(ckpt, a.dtype, a.prompt_len, a.gen, a.batch, a.threads, 1)
    rows = [zr, tr]
    print(f"\nconfig {a.config}, dtype {a.dtype}, batch {a.batch}, prompt {a.prompt_len}, gen {a.gen}, "
          f"threads {a.threads}")
    print("| engine | prefill tok/s | decode tok/s |")
    print("|---|---:|---:|")
    for r in rows:
        print(f"| {r['engine']} | {r['prefill_tok_s']:.1f} | {r['decode_tok_s']:.2f} |")
    print(f"zaya/transformers: prefill {zr['prefill_tok_s'] / tr['prefill_tok_s']:.2f}x, "
          f"decode {zr['decode_tok_s'] / tr['decode_tok_s']:.2f}x")
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "a") as f:
            f.write(json.dumps({"config": a.config, "dtype": a.dtype, "batch": a.batch,
                                "prompt_len": a.prompt_len, "gen": a.gen, "threads": a.threads,
                                "zaya": zr, "transformers": tr}) + "\n")


if __name__ == "__main__":
    sys.exit(main())
