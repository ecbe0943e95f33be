"""Shared pieces of the zaya-vs-torch benchmark scripts: the checkpoint, the `zaya bench` call, JSON lines."""
import hashlib
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_ZAYA = os.path.join(ROOT, "build", "zaya")
DEFAULT_WORKDIR = os.path.join(ROOT, "bench", "out", "ckpt")
# `--backends default` runs `zaya bench` without a --backend flag (builds that predate the flag).
DEFAULT_BACKEND = "default"


def make_checkpoint(zaya, config, workdir, dtype, init, seed=None):
    """Returns a checkpoint directory written by `zaya mkckpt` for `config`, reusing one already in `workdir`.

    The directory name carries a hash of the config file's bytes, dtype, init and seed, so an edited config
    gets a new checkpoint instead of a stale one; a `.bench-complete` marker is written only after mkckpt
    succeeded, so an interrupted write is redone."""
    with open(config, "rb") as f:
        h = hashlib.sha256(f.read() + f"|{dtype}|{init}|{seed}".encode()).hexdigest()[:10]
    stem = os.path.basename(config)
    stem = stem[:-5] if stem.endswith(".json") else stem
    ckpt = os.path.join(os.path.abspath(workdir), f"{stem}-{dtype}-{init}-{h}")
    marker = os.path.join(ckpt, ".bench-complete")
    if os.path.exists(marker):
        print(f"[bench] reusing checkpoint {ckpt}", file=sys.stderr)
        return ckpt
    os.makedirs(workdir, exist_ok=True)
    cmd = [zaya, "mkckpt", "--config", config, "--out", ckpt, "--dtype", dtype, "--init", init]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    print("[bench] " + " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(marker, "w") as f:
        f.write(" ".join(cmd) + "\n")
    return ckpt


def run_zaya_bench(zaya, args, backend):
    """Runs `zaya bench ARGS [--backend B]` and returns its JSON line (the last line of stdout) as a dict,
    or raises RuntimeError with the command and the tail of its stderr."""
    cmd = [zaya, "bench"] + [str(x) for x in args]
    if backend != DEFAULT_BACKEND:
        cmd += ["--backend", backend]
    print("[bench] " + " ".join(cmd), file=sys.stderr)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` exited with {p.returncode}:\n{p.stderr.strip()[-2000:]}")
    lines = [l for l in p.stdout.strip().splitlines() if l.strip().startswith("{")]
    if not lines:
        raise RuntimeError(f"`{' '.join(cmd)}` printed no JSON line; stdout:\n{p.stdout[-2000:]}")
    return json.loads(lines[-1])


def torch_versions():
    import torch
    import transformers
    return f"transformers {transformers.__version__} / torch {torch.__version__}"


def load_note(threads):
    """A warning line when the 1-minute load average says other work competes for the CPUs, else ''."""
    load1 = os.getloadavg()[0]
    busy = load1 - threads  # this benchmark itself keeps about `threads` CPUs busy
    ncpu = os.cpu_count() or 1
    if busy > 0.5:
        return (f"WARNING: 1-minute load average {load1:.1f} on {ncpu} CPUs at the end of the run: other "
                f"processes competed for the CPUs, the numbers are not clean.")
    return f"load average {load1:.1f} on {ncpu} CPUs at the end of the run"


def append_jsonl(path, rows):
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def csv_list(s):
    return [x.strip() for x in s.split(",") if x.strip()]


def csv_ints(s):
    return [int(x) for x in csv_list(s)]
