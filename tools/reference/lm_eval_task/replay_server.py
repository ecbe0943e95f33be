#!/usr/bin/env python3
"""A stand-in for `zaya serve` that checks how lm-evaluation-harness talks to it (docs/eval.md).

It answers the endpoints lm-eval's `local-completions` model uses with `tokenizer_backend=remote`
(GET /tokenizer_info, POST /tokenize, /detokenize, /v1/completions), tokenizing with the Python
`tokenizers` library, and it scores a completion request by replaying the per-choice log-likelihoods
that `zaya eval --samples FILE` wrote:

  * every request must be echo + logprobs for a token prompt that `zaya eval` also scored — the same
    ids, i.e. the same context/continuation split and BOS handling — or the server answers 400;
  * the whole log-likelihood is placed on the first continuation token, every context token gets a
    trap value of -1000 and so does the generated token, so lm-eval only reproduces zaya's sum when it
    slices token_logprobs[ctxlen:-1] with zaya's ctxlen.

Then lm-eval's acc / acc_norm must equal zaya eval's, which check.py compares. Every request is
logged (one JSON line each) to --log. Usage: see run_lm_eval.sh.
"""
import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tokenizers import Tokenizer

TRAP = -1000.0


def load_samples(path):
    table = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            s = json.loads(line)
            for req, ll in zip(s["requests"], s["lls"]):
                ids = tuple(req["context"] + req["continuation"])
                table[ids] = (len(req["context"]), ll)
    return table


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", required=True, help="tokenizer.json")
    ap.add_argument("--samples", required=True, help="zaya eval --samples output")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--log", default="/dev/null")
    args = ap.parse_args()
    tok = Tokenizer.from_file(args.tokenizer)
    table = load_samples(args.samples)
    log = open(args.log, "a", encoding="utf-8")

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            log.write(json.dumps({"method": "GET", "path": self.path}) + "\n")
            log.flush()
            if self.path == "/tokenizer_info":
                return self.reply(200, {"eos_token": "<eos>", "bos_token": "<bos>", "pad_token": "<pad>"})
            self.reply(404, {"error": "not found"})

        def do_POST(self):
            n = int(self.headers.get("Content-Length", 0))
            req = json.loads(self.rfile.read(n))
            log.write(json.dumps({"method": "POST", "path": self.path, "body": req}, ensure_ascii=False) + "\n")
            log.flush()
            if self.path == "/tokenize":
                ids = tok.encode(req["prompt"], add_special_tokens=req.get("add_special_tokens", True)).ids
                return self.reply(200, {"tokens": ids, "count": len(ids)})
            if self.path == "/detokenize":
                return self.reply(200, {"prompt": tok.decode(req["tokens"], skip_special_tokens=False)})
            if self.path != "/v1/completions":
                return self.reply(404, {"error": "not found"})
            if not (req.get("echo") and req.get("logprobs") is not None and req.get("max_tokens") == 1):
                return self.reply(400, {"error": "expected echo + logprobs + max_tokens 1", "got": req})
            prompts = req["prompt"]
            if prompts and isinstance(prompts[0], int):
                prompts = [prompts]
            choices = []
            for i, p in enumerate(prompts):
                hit = table.get(tuple(p))
                if hit is None:
                    return self.reply(400, {"error": f"prompt {i} was not scored by zaya eval", "ids": p})
                ctxlen, ll = hit
                lps = [None] + [TRAP] * (ctxlen - 1) + [ll] + [0.0] * (len(p) - ctxlen - 1) + [TRAP]
                tops = [None] + [{"x": v} for v in lps[1:]]
                choices.append({"index": i, "text": "x", "finish_reason": "length",
                                "logprobs": {"token_logprobs": lps, "top_logprobs": tops,
                                             "tokens": ["x"] * len(lps), "text_offset": [0] * len(lps)}})
            self.reply(200, {"id": "replay", "object": "text_completion", "model": req.get("model"),
                             "choices": choices})

    srv = ThreadingHTTPServer(("127.0.0.1", args.port), H)
    print(f"replay server on 127.0.0.1:{args.port} ({len(table)} scored prompts)", file=sys.stderr, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
