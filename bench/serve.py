#!/usr/bin/env python3
"""Load generator for an OpenAI-compatible server (zaya serve, vLLM, llama-server), standard library only.

It sends random-token prompts to /v1/completions with stream=true and stream_options.include_usage,
at a fixed maximum concurrency, and reports the metrics of vLLM's `bench serve`:
  TTFT  time from sending the request to the first chunk that carries text
  ITL   the gaps between successive text chunks
  TPOT  (latency - TTFT) / (output tokens - 1), per request
  E2E   end-to-end latency
each as mean, median, std and p99 (milliseconds), and request / output-token / total-token throughput.

  python3 bench/serve.py --base-url http://127.0.0.1:8080 --concurrency 1 4 16 --num-prompts 32 \
      --input-len 128 --output-len 64 --format json > results.json
"""
import argparse
import http.client
import json
import random
import statistics
import sys
import threading
import time
import urllib.parse


def one_request(url, body, headers, timeout):
    """Streams one completion. Returns a dict with ttft, itl (list), latency, output_tokens, prompt_tokens, error."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    t0 = time.perf_counter()
    out = {"ttft": None, "itl": [], "latency": None, "output_tokens": 0, "prompt_tokens": 0, "error": None}
    try:
        conn.request("POST", u.path.rstrip("/") + "/v1/completions", body=json.dumps(body), headers=headers)
        resp = conn.getresponse()
        if resp.status != 200:
            out["error"] = f"HTTP {resp.status}: {resp.read()[:200]!r}"
            return out
        last = None
        buf = b""
        done = False
        while not done:
            chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(1)
            if not chunk:
                break
            buf += chunk
            while b"\n\n" in buf:
                event, buf = buf.split(b"\n\n", 1)
                for line in event.split(b"\n"):
                    if not line.startswith(b"data: "):
                        continue  # comments (keep-alive) and other fields
                    data = line[6:]
                    if data == b"[DONE]":
                        done = True
                        break
                    msg = json.loads(data)
                    now = time.perf_counter()
                    if msg.get("choices") and msg["choices"][0].get("text"):
                        if out["ttft"] is None:
                            out["ttft"] = now - t0
                        else:
                            out["itl"].append(now - last)
                        last = now
                    if msg.get("usage"):
                        out["output_tokens"] = msg["usage"]["completion_tokens"]
                        out["prompt_tokens"] = msg["usage"]["prompt_tokens"]
        out["latency"] = time.perf_counter() - t0
        if not done:
            out["error"] = "stream ended without [DONE]"
    except Exception as e:  # network errors are counted, not fatal
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        conn.close()
    return out


def summary(xs):
    if not xs:
        return {"mean": None, "median": None, "std": None, "p99": None}
    s = sorted(xs)
    p99 = s[min(len(s) - 1, int(round(0.99 * (len(s) - 1))))]
    return {"mean": statistics.fmean(s) * 1e3, "median": statistics.median(s) * 1e3,
            "std": (statistics.pstdev(s) if len(s) > 1 else 0.0) * 1e3, "p99": p99 * 1e3}


def run(args, concurrency):
    rng = random.Random(args.seed)
    prompts = [[rng.randrange(args.vocab_low, args.vocab_high) for _ in range(args.input_len)]
               for _ in range(args.num_prompts)]
    headers = {"Content-Type": "application/json"}
    if args.api_key:
        headers["Authorization"] = f"Bearer {args.api_key}"
    results = [None] * len(prompts)
    next_i = [0]
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = next_i[0]
                if i >= len(prompts):
                    return
                next_i[0] += 1
            body = {"model": args.model, "prompt": prompts[i], "max_tokens": args.output_len, "temperature": 0,
                    "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}}
            results[i] = one_request(args.base_url, body, headers, args.timeout)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    duration = time.perf_counter() - t0
    ok = [r for r in results if r and not r["error"]]
    errors = [r["error"] for r in results if not r or r["error"]]
    out_tokens = sum(r["output_tokens"] for r in ok)
    in_tokens = sum(r["prompt_tokens"] for r in ok)
    tpot = [(r["latency"] - r["ttft"]) / (r["output_tokens"] - 1) for r in ok
            if r["ttft"] is not None and r["output_tokens"] > 1]
    return {
        "concurrency": concurrency, "num_prompts": len(prompts), "input_len": args.input_len,
        "output_len": args.output_len, "completed": len(ok), "errors": len(errors),
        "error_examples": errors[:3], "duration_s": duration,
        "request_throughput": len(ok) / duration, "output_throughput": out_tokens / duration,
        "total_token_throughput": (in_tokens + out_tokens) / duration,
        "ttft_ms": summary([r["ttft"] for r in ok if r["ttft"] is not None]),
        "tpot_ms": summary(tpot),
        "itl_ms": summary([g for r in ok for g in r["itl"]]),
        "e2e_ms": summary([r["latency"] for r in ok]),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", default="http://127.0.0.1:8080")
    ap.add_argument("--model", default="zaya")
    ap.add_argument("--api-key", default="")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--num-prompts", type=int, default=32)
    ap.add_argument("--input-len", type=int, default=128)
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--vocab-low", type=int, default=1000, help="random prompt ids are drawn from [low, high)")
    ap.add_argument("--vocab-high", type=int, default=200000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--format", choices=["text", "json"], default="text")
    args = ap.parse_args()
    rows = []
    for c in args.concurrency:
        r = run(args, c)
        rows.append(r)
        if args.format == "text":
            print(f"concurrency {c:3d}: {r['completed']}/{r['num_prompts']} ok, {r['errors']} errors, "
                  f"{r['request_throughput']:.2f} req/s, {r['output_throughput']:.1f} out tok/s | "
                  f"TTFT mean {r['ttft_ms']['mean']:.1f} ms, TPOT mean {r['tpot_ms']['mean']:.1f} ms, "
                  f"ITL p99 {r['itl_ms']['p99']:.1f} ms, E2E median {r['e2e_ms']['median']:.0f} ms",
                  file=sys.stderr if args.format == "json" else sys.stdout, flush=True)
    if args.format == "json":
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
