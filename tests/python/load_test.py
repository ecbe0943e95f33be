"""Load and batching checks against a running `zaya serve` (issue 8's Batching and Load acceptance).

  load_test.py --url http://127.0.0.1:PORT --key KEY --pid SERVER_PID [--clients 64] [--requests 1000]

1. Batching: greedy completions of distinct prompts sent together equal each one sent alone.
2. Load: --clients threads send --requests requests in all (a mix of completions and chat, stream and
   not, text and token-id prompts, random lengths), each checked for status 200 and a well-formed body.
   The server's resident memory (VmRSS of --pid) is sampled through the run: after the first quarter
   of the requests (warm) it must stay flat, at most 10 % or 32 MiB above the warm level, whichever is
   larger. Exits non-zero naming the first failure.
Only the standard library: http.client with keep-alive connections, one per client thread.
"""
import argparse
import http.client
import json
import random
import sys
import threading
import time
from urllib.parse import urlparse


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Conn:
    def __init__(self, url, key):
        u = urlparse(url)
        self.host, self.port, self.key = u.hostname, u.port, key
        self.c = None

    def post(self, path, body):
        for attempt in (0, 1):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection(self.host, self.port, timeout=300)
                self.c.request("POST", path, json.dumps(body),
                               {"Content-Type": "application/json", "Authorization": "Bearer " + self.key})
                r = self.c.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.c.close()
                    self.c = None
                return r.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A keep-alive connection the server closed between requests (idle timeout): reconnect
                # once; a second failure is an error.
                self.c = None
                if attempt == 1:
                    raise


def sse_events(data):
    out = []
    for line in data.decode("utf-8").split("\n"):
        if line.startswith("data: "):
            out.append(line[6:])
    return out


def check(status, data, body):
    """Raises with a message when a reply is not a well-formed success for `body`."""
    if status != 200:
        raise RuntimeError(f"status {status}: {data[:300]!r}")
    chat = "messages" in body
    if body.get("stream"):
        ev = sse_events(data)
        if not ev or ev[-1] != "[DONE]":
            raise RuntimeError(f"stream does not end with [DONE]: {data[-200:]!r}")
        chunks = [json.loads(e) for e in ev[:-1]]
        if any("error" in c for c in chunks):
            raise RuntimeError(f"error event: {chunks}")
        finishes = [ch["finish_reason"] for c in chunks for ch in c.get("choices", []) if ch.get("finish_reason")]
        if len(finishes) != body.get("n", 1):
            raise RuntimeError(f"{len(finishes)} finish reasons for n={body.get('n', 1)}")
        usage = [c for c in chunks if c.get("usage")]
        if body.get("stream_options", {}).get("include_usage") and len(usage) != 1:
            raise RuntimeError("include_usage stream without exactly one usage chunk")
        return
    r = json.loads(data)
    if len(r["choices"]) != body.get("n", 1) * (len(body["prompt"]) if isinstance(body.get("prompt"), list)
                                               and body["prompt"] and isinstance(body["prompt"][0], list) else 1):
        raise RuntimeError(f"wrong number of choices: {len(r['choices'])}")
    for ch in r["choices"]:
        if ch["finish_reason"] not in ("stop", "length"):
            raise RuntimeError(f"finish_reason {ch['finish_reason']}")
        if chat and not isinstance(ch["message"]["content"], (str, type(None))):
            raise RuntimeError("chat content is not a string")
    if r["usage"]["completion_tokens"] > body["max_tokens"] * len(r["choices"]):
        raise RuntimeError("more completion tokens than max_tokens")


WORDS = ("the of and to in is was for on that with as by at from his her an were are which this be or has "
         "had one their not but they all its new more two been who also other time first after into year "
         "model token attention expert router latent cache stream batch").split()


def random_request(rng, model):
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 60)))
    kind = rng.random()
    body = {"model": model, "max_tokens": rng.randint(1, 12), "temperature": rng.choice([0, 0.7, 1.0]),
            "seed": rng.randint(0, 1 << 30), "ignore_unknown_benchmark_field": True}
    if rng.random() < 0.3:
        body["n"] = 2
    if kind < 0.4:
        body["prompt"] = text
        path = "/v1/completions"
    elif kind < 0.55:
        body["prompt"] = [[2] + [rng.randint(10, 5000) for _ in range(rng.randint(1, 40))]]
        path = "/v1/completions"
    else:
        body["messages"] = [{"role": "user", "content": text}]
        path = "/v1/chat/completions"
    if rng.random() < 0.5:
        body["stream"] = True
        if rng.random() < 0.5:
            body["stream_options"] = {"include_usage": True}
    return path, body


def batching(url, key, model, n):
    prompts = [" ".join(random.Random(i).choice(WORDS) for _ in range(5 + 7 * i)) for i in range(n)]

    def one(c, p):
        st, data = c.post("/v1/completions", {"model": model, "prompt": p, "max_tokens": 20, "temperature": 0,
                                              "ignore_eos": True})
        if st != 200:
            raise RuntimeError(f"batching request: status {st}: {data[:200]!r}")
        return json.loads(data)["choices"][0]["text"]

    c = Conn(url, key)
    alone = [one(c, p) for p in prompts]
    together = [None] * n
    errs = []

    def worker(i):
        try:
            together[i] = one(Conn(url, key), prompts[i])
        except Exception as e:  # noqa: BLE001 - reported below
            errs.append(repr(e))

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        raise RuntimeError(errs[0])
    for i in range(n):
        if alone[i] != together[i]:
            raise RuntimeError(f"prompt {i}: concurrent {together[i]!r} != alone {alone[i]!r}")
    print(f"batching: {n} concurrent greedy completions equal each one alone")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--key", default="")
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    model = json.loads(urlopen_get(a.url, "/v1/models", a.key))["data"][0]["id"]
    batching(a.url, a.key, model, 12)

    lock = threading.Lock()
    state = {"next": 0, "done": 0, "errors": [], "rss": []}
    warm_at = a.requests // 4

    def worker(w):
        rng = random.Random(a.seed * 1000 + w)
        c = Conn(a.url, a.key)
        while True:
            with lock:
                if state["next"] >= a.requests or state["errors"]:
                    return
                state["next"] += 1
            path, body = random_request(rng, model)
            try:
                st, data = c.post(path, body)
                check(st, data, body)
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    state["errors"].append(f"{path} {json.dumps(body)[:200]}: {e!r}")
                return
            with lock:
                state["done"] += 1

    t0 = time.time()
    ts = [threading.Thread(target=worker, args=(w,)) for w in range(a.clients)]
    for t in ts:
        t.start()
    warm = None
    peak_after_warm = 0
    while any(t.is_alive() for t in ts):
        time.sleep(0.25)
        r = rss_kib(a.pid)
        with lock:
            done = state["done"]
        if warm is None and done >= warm_at:
            warm = r
        elif warm is not None:
            peak_after_warm = max(peak_after_warm, r)
        print(f"\r{done}/{a.requests} requests, {done / (time.time() - t0):.1f} req/s, RSS {r / 1024:.0f} MiB",
              end="", file=sys.stderr)
    for t in ts:
        t.join()
    print(file=sys.stderr)
    end = rss_kib(a.pid)
    peak_after_warm = max(peak_after_warm, end)
    dt = time.time() - t0
    if state["errors"]:
        print(f"load: FAILED after {state['done']} requests: {state['errors'][0]}")
        sys.exit(1)
    if state["done"] != a.requests:
        print(f"load: FAILED: {state['done']} of {a.requests} requests done")
        sys.exit(1)
    # Health after the run: the server is alive and answers.
    st, _ = Conn(a.url, a.key).post("/tokenize", {"prompt": "still alive"})
    if st != 200:
        print(f"load: FAILED: server answers {st} after the run")
        sys.exit(1)
    allowed = max(warm * 0.10, 32 * 1024)
    print(f"load: {a.requests} requests from {a.clients} clients in {dt:.1f} s ({a.requests / dt:.1f} req/s), "
          f"0 errors; RSS warm {warm / 1024:.1f} MiB, peak after warm {peak_after_warm / 1024:.1f} MiB, "
          f"end {end / 1024:.1f} MiB (allowed +{allowed / 1024:.1f} MiB)")
    if peak_after_warm - warm > allowed:
        print("load: FAILED: RSS grew after warm-up")
        sys.exit(1)


def urlopen_get(url, path, key):
    u = urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.request("GET", path, headers={"Authorization": "Bearer " + key})
    r = c.getresponse()
    if r.status != 200:
        raise RuntimeError(f"GET {path}: {r.status}")
    return r.read()


if __name__ == "__main__":
    main()
