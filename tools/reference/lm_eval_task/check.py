#!/usr/bin/env python3
"""Compare `zaya eval --task ... --format json` with lm-eval's results for the same task: acc and
acc_norm must be equal (docs/eval.md). Usage: check.py ZAYA_JSON LM_EVAL_OUTPUT_DIR [TASK]"""
import glob
import json
import sys


def main():
    zaya = json.load(open(sys.argv[1]))
    task = sys.argv[3] if len(sys.argv) > 3 else "zaya_mc"
    files = sorted(glob.glob(f"{sys.argv[2]}/**/results_*.json", recursive=True))
    if not files:
        sys.exit(f"no results_*.json under {sys.argv[2]}")
    res = json.load(open(files[-1]))["results"][task]
    ok = True
    for m in ("acc", "acc_norm"):
        theirs = res[f"{m},none"]
        same = abs(theirs - zaya[m]) < 1e-12
        ok &= same
        print(f"{m:9s} zaya {zaya[m]:.6f}  lm-eval {theirs:.6f}  {'same' if same else 'DIFFERENT'}")
    n = res.get("samples", None)
    print(f"n         zaya {zaya['n']}  ({files[-1]})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
