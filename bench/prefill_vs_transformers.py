#!/usr/bin/env python3
r"""Prefill tokens/s of zaya vs transformers (ZayaForCausalLM) on the same CPU, checkpoint, threads and
prompt lengths, batch 1, in one run.

    python3 bench/prefill_vs_transformers.py --config configs/bench-prefill.json \
        --prompt-lens 512,2048 --threads 2 --backends cpu-bf16,cpu-f32 [--torch-dtype bf16,f32] \
        [--repeats 3] [--out bench/out/prefill.jsonl]

What is measured, per prompt length N (random token ids in [3, vocab), batch 1):

  checkpoint    `zaya mkckpt --config CONFIG --dtype bf16 --init perturbed` (every parameter randomized),
                written once into --workdir and reused; both engines read this same directory.
  zaya          for each backend B: `zaya bench --model DIR --prompt-len N --gen 1 --batch 1 --threads T
                --backend B --warmup 1` (one untimed pass, then a timed one; zaya times the prompt forward
                plus the first token's logits), run --repeats times; best "prefill_tok_s" is reported.
                `--backends default` passes no --backend flag (builds that predate it).
  transformers  `ZayaForCausalLM.from_pretrained(DIR, dtype=torch.bfloat16)` (or float32 with
                --torch-dtype f32: the bf16 file upcast; --torch-dtype bf16,f32 runs both), .eval(), torch.no_grad(), torch.set_num_threads(T),
                transformers' default attention and experts implementations; one call
                `model(input_ids=ids, use_cache=True, logits_to_keep=1)` = the forward over the whole prompt
                filling the cache, with logits for the LAST position only (falls back to hidden states of the
                last position through lm_head if this transformers has no logits_to_keep). One untimed
                warm-up call, then the best of --repeats timed calls.
  tok/s         N / seconds of that prompt forward. The ratio column is zaya / transformers at the first
                --torch-dtype (bf16 by default, the checkpoint's dtype) for the same prompt length; with
                more than one --torch-dtype a second ratio is against the faster transformers run.

Loading (mmap / from_pretrained) is never timed. Prints a markdown table; with --out, appends one JSON line
per (prompt length, engine) to that file.
"""
import argparse
import inspect
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402


def transformers_prefill(ckpt, dtype, prompt_lens, threads, repeats, seed, attn=None):
    import torch
    import transformers
    from transformers import ZayaForCausalLM

    transformers.logging.set_verbosity_error()
    torch.set_num_threads(threads)
    tdt = {"bf16": torch.bfloat16, "f32": torch.float32}[dtype]
    kw = {"attn_implementation": attn} if attn else {}
    t0 = time.perf_counter()
    model = ZayaForCausalLM.from_pretrained(ckpt, dtype=tdt, **kw).eval()
    load_s = time.perf_counter() - t0
    V = model.config.vocab_size
    has_keep = "logits_to_keep" in inspect.signature(model.forward).parameters
    engine = (f"transformers ({dtype}, attn={model.config._attn_implementation}, "
              f"experts={getattr(model.config, '_experts_implementation', None)})")

    def forward(ids):
        if has_keep:
            logits = model(input_ids=ids, use_cache=True, logits_to_keep=1).logits
        else:
            h = model.model(input_ids=ids, use_cache=True).last_hidden_state
            logits = model.lm_head(h[:, -1:])
        assert logits.shape == (1, 1, V), logits.shape
        return logits

    rows = []
    for n in prompt_lens:
        g = torch.Generator().manual_seed(seed)
        ids = torch.randint(3, V, (1, n), generator=g)
        times = []
        with torch.no_grad():
            forward(ids)  # warm-up
            for _ in range(repeats):
                t0 = time.perf_counter()
                forward(ids)
                times.append(time.perf_counter() - t0)
        rows.append({"prompt_len": n, "engine": engine, "side": "transformers", "torch_dtype": dtype,
                     "tok_s": n / min(times), "seconds": times, "load_s": load_s,
                     "logits_to_keep": has_keep, "versions": benchlib.torch_versions()})
    del model
    return rows


def zaya_prefill(zaya, ckpt, backend, prompt_lens, threads, repeats, seed, chunk):
    rows = []
    for n in prompt_lens:
        runs = []
        for _ in range(repeats):
            args = ["--model", ckpt, "--prompt-len", n, "--gen", 1, "--batch", 1, "--threads", threads,
                    "--warmup", 1, "--seed", seed]
            if chunk:
                args += ["--prefill-chunk", chunk]
            runs.append(benchlib.run_zaya_bench(zaya, args, backend))
        best = max(runs, key=lambda r: r["prefill_tok_s"])
        rows.append({"prompt_len": n, "engine": f"zaya ({backend})", "side": "zaya", "backend": backend,
                     "tok_s": best["prefill_tok_s"], "all_tok_s": [r["prefill_tok_s"] for r in runs],
                     "zaya_json": best})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="model config.json (e.g. configs/bench-prefill.json)")
    ap.add_argument("--prompt-lens", type=benchlib.csv_ints, default=[512, 2048],
                    help="comma-separated prompt lengths (default 512,2048)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for both engines (default 2)")
    ap.add_argument("--backends", type=benchlib.csv_list, default=["cpu-bf16", "cpu-f32"],
                    help="zaya backends, comma-separated (default cpu-bf16,cpu-f32; 'default' = no --backend)")
    ap.add_argument("--torch-dtype", type=benchlib.csv_list, default=["bf16"],
                    help="transformers dtypes, comma-separated, from {bf16,f32} (default bf16)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per measurement, best is kept")
    ap.add_argument("--seed", type=int, default=1, help="seed of the random prompt ids")
    ap.add_argument("--prefill-chunk", type=int, default=None,
                    help="pass --prefill-chunk to zaya bench (default: zaya's own default)")
    ap.add_argument("--attn", default=None, help="transformers attn_implementation (default: its default)")
    ap.add_argument("--zaya", default=benchlib.DEFAULT_ZAYA, help="zaya binary (default build/zaya)")
    ap.add_argument("--workdir", default=benchlib.DEFAULT_WORKDIR,
                    help="where the checkpoint is written and reused (default bench/out/ckpt)")
    ap.add_argument("--skip-zaya", action="store_true", help="only the transformers side (mkckpt still runs)")
    ap.add_argument("--out", default=None, help="append one JSON line per result here")
    a = ap.parse_args()
    for d in a.torch_dtype:
        if d not in ("bf16", "f32"):
            ap.error(f"--torch-dtype: unknown dtype '{d}' (bf16 or f32)")
    if a.repeats < 1:
        ap.error("--repeats must be >= 1")

    ckpt = benchlib.make_checkpoint(a.zaya, a.config, a.workdir, "bf16", "perturbed")
    rows, failed = [], []
    if not a.skip_zaya:
        for b in a.backends:
            try:
                rows += zaya_prefill(a.zaya, ckpt, b, a.prompt_lens, a.threads, a.repeats, a.seed, a.prefill_chunk)
            except RuntimeError as e:
                print(f"[bench] zaya backend {b} failed: {e}", file=sys.stderr)
                failed.append(b)
    for d in a.torch_dtype:
        rows += transformers_prefill(ckpt, d, a.prompt_lens, a.threads, a.repeats, a.seed, a.attn)

    ref_dtype = a.torch_dtype[0]
    tr = [r for r in rows if r["side"] == "transformers"]
    ref = {r["prompt_len"]: r["tok_s"] for r in tr if r["torch_dtype"] == ref_dtype}
    best = {n: max(r["tok_s"] for r in tr if r["prompt_len"] == n) for n in a.prompt_lens}
    two = len(a.torch_dtype) > 1  # a second ratio: against the faster transformers dtype
    print(f"\nprefill, config {a.config} (bf16 checkpoint), batch 1, {a.threads} threads, best of {a.repeats}; "
          f"{benchlib.torch_versions()}")
    print(f"| prompt tokens | engine | prefill tok/s | zaya / transformers {ref_dtype} |"
          + (" zaya / best transformers |" if two else ""))
    print("|---:|---|---:|---:|" + ("---:|" if two else ""))
    for n in a.prompt_lens:
        for r in rows:
            if r["prompt_len"] != n:
                continue
            z = r["side"] == "zaya"
            ratio = f"{r['tok_s'] / ref[n]:.2f}x" if z else ""
            line = f"| {n} | {r['engine']} | {r['tok_s']:.1f} | {ratio} |"
            if two:
                line += f" {r['tok_s'] / best[n]:.2f}x |" if z else " |"
            print(line)
    for b in failed:
        print(f"(zaya backend {b}: failed, see stderr)")
    print(benchlib.load_note(a.threads))
    common = {"bench": "prefill", "config": a.config, "checkpoint": ckpt, "threads": a.threads, "batch": 1,
              "repeats": a.repeats, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "loadavg_at_end": os.getloadavg()}
    benchlib.append_jsonl(a.out, [{**common, **r} for r in rows])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
