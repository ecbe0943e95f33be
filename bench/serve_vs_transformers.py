#!/usr/bin/env python3
"""`zaya serve` under load at several concurrencies, against one request at a time and against
transformers `generate` on the same batch, in one run (issue 8, docs/benchmarks.md "Serving").

    python3 bench/serve_vs_transformers.py [--config configs/zaya1-tiny.json] [--threads 2] \
        [--num-prompts 16] [--input-len 128] [--output-len 64] [--concurrency 1 4 16] [--out bench/out/serve.json]

1. Writes a random-weight checkpoint (`zaya mkckpt --init perturbed`) with the Gemma 3 tokenizer.
2. Starts `zaya serve --slots max(concurrency) --threads T` on it and runs bench/serve.py's load
   (random token-id prompts, greedy, ignore_eos, streaming with usage) at each concurrency. The
   concurrency-1 row is "one request at a time".
3. Loads the same checkpoint in transformers (ZayaForCausalLM, fp32 and bf16, T threads) and times
   `generate` on the same prompts as one batch (greedy, exactly output-len new tokens each), after a
   warm-up call; the output throughput is batch × output-len / time.
The load generator runs on the same machine as the server and takes some of its CPU; the
transformers run has the machine to itself.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import serve as load  # noqa: E402  bench/serve.py


def prompts_of(args):
    import random
    rng = random.Random(args.seed)
    return [[rng.randrange(args.vocab_low, args.vocab_high) for _ in range(args.input_len)]
            for _ in range(args.num_prompts)]


def run_transformers(model_dir, prompts, args, dtype):
    import torch
    import transformers
    from transformers import ZayaForCausalLM
    transformers.logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    model = ZayaForCausalLM.from_pretrained(model_dir, dtype={"f32": torch.float32, "bf16": torch.bfloat16}[dtype])
    model.eval()
    ids = torch.tensor(prompts)
    kw = dict(max_new_tokens=args.output_len, min_new_tokens=args.output_len, do_sample=False,
              attention_mask=torch.ones_like(ids), pad_token_id=0)
    with torch.no_grad():
        model.generate(ids[:, :16], **dict(kw, max_new_tokens=4, min_new_tokens=4))  # warm-up
        t0 = time.perf_counter()
        out = model.generate(ids, **kw)
        dt = time.perf_counter() - t0
    gen = out.shape[1] - ids.shape[1]
    assert gen == args.output_len, f"transformers generated {gen} tokens, not {args.output_len}"
    return {"engine": f"transformers generate ({dtype}, batch {len(prompts)})", "duration_s": dt,
            "output_throughput": len(prompts) * gen / dt,
            "total_token_throughput": len(prompts) * (gen + args.input_len) / dt,
            "torch": torch.__version__, "transformers": transformers.__version__}


def start_server(zaya, model_dir, args, slots, log):
    cmd = [zaya, "serve", "--model", model_dir, "--port", "0", "--slots", str(slots), "--threads", str(args.threads),
           "--ctx", str(args.input_len + args.output_len + 8), "--served-model-name", "bench"]
    if args.backend:
        cmd += ["--backend", args.backend]
    print("[bench] " + " ".join(cmd), file=sys.stderr)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(log, "w"), text=True)
    port = None
    while True:
        line = p.stdout.readline()
        if not line:
            raise RuntimeError("zaya serve exited: " + open(log).read()[-2000:])
        if "listening on" in line:
            port = int(line.split("http://")[1].split()[0].rsplit(":", 1)[1])
        if "ready" in line:
            return p, port


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zaya", default=os.path.join(ROOT, "build", "zaya"))
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "zaya1-tiny.json"))
    ap.add_argument("--tokenizer", default=os.path.join(ROOT, "..", "shared", "data", "gemma3", "tokenizer.json"))
    ap.add_argument("--backend", default="")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--num-prompts", type=int, default=16)
    ap.add_argument("--input-len", type=int, default=128)
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--vocab-low", type=int, default=1000)
    ap.add_argument("--vocab-high", type=int, default=200000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--transformers-dtypes", default="f32,bf16")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    args.model, args.api_key, args.base_url, args.timeout = "bench", "", "", 600

    work = tempfile.mkdtemp(prefix="zaya-bench-serve-")
    model_dir = os.path.join(work, "model")
    subprocess.run([args.zaya, "mkckpt", "--config", args.config, "--out", model_dir, "--init", "perturbed",
                    "--seed", "1", "--tokenizer", args.tokenizer], check=True, stdout=subprocess.DEVNULL)
    rows = []
    srv, port = start_server(args.zaya, model_dir, args, max(args.concurrency), os.path.join(work, "serve.err"))
    try:
        args.base_url = f"http://127.0.0.1:{port}"
        load.run(argparse.Namespace(**dict(vars(args), num_prompts=4)), 4)  # warm-up
        for c in args.concurrency:
            r = load.run(args, c)
            r["engine"] = f"zaya serve, concurrency {c}" + (" (one request at a time)" if c == 1 else "")
            rows.append(r)
            print(f"[bench] {r['engine']}: {r['output_throughput']:.1f} out tok/s, {r['errors']} errors",
                  file=sys.stderr)
    finally:
        srv.terminate()
        srv.wait()
    prompts = prompts_of(args)
    for dt in [d for d in args.transformers_dtypes.split(",") if d]:
        r = run_transformers(model_dir, prompts, args, dt)
        rows.append(r)
        print(f"[bench] {r['engine']}: {r['output_throughput']:.1f} out tok/s", file=sys.stderr)

    print(f"\nprompts {args.num_prompts} × {args.input_len} random ids, {args.output_len} greedy tokens each, "
          f"{args.threads} threads, {os.path.basename(args.config)}\n")
    print("| engine | req/s | output tok/s | total tok/s | TTFT mean / median / p99 (ms) | TPOT mean / median / p99 (ms) "
          "| ITL mean / median / p99 (ms) | E2E mean / median / p99 (ms) | errors |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    f = lambda s: f"{s['mean']:.1f} / {s['median']:.1f} / {s['p99']:.1f}" if s and s["mean"] is not None else "–"  # noqa
    for r in rows:
        if "ttft_ms" in r:
            print(f"| {r['engine']} | {r['request_throughput']:.2f} | {r['output_throughput']:.1f} | "
                  f"{r['total_token_throughput']:.1f} | {f(r['ttft_ms'])} | {f(r['tpot_ms'])} | {f(r['itl_ms'])} | "
                  f"{f(r['e2e_ms'])} | {r['errors']} |")
        else:
            print(f"| {r['engine']} | {args.num_prompts / r['duration_s']:.2f} | {r['output_throughput']:.1f} | "
                  f"{r['total_token_throughput']:.1f} | – | – | – | – | 0 |")
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
