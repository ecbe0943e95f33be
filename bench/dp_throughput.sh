#!/usr/bin/env bash
# Data-parallel training throughput: 1 rank x 2 threads vs 2 ranks x 1 thread (the same total
# threads), the same run.toml (configs/bench-train.json: hidden 512, 4 pairs, 8 experts, vocab 32k;
# global batch 8 x 256), and rank 0's share of step time inside collectives. Prints one JSON line per
# layout: mean tokens/s and comm share over the steps after the first two (ZeRO-1 as a third layout).
#   bash bench/dp_throughput.sh [build/zaya] [steps]
set -euo pipefail
Z=${1:-build/zaya}; STEPS=${2:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
"$Z" data --tokenizer "$ROOT/tests/data/tokenizer/bytelevel/tokenizer.json" --input "$ROOT/tests/data/tokenizer/corpus.jsonl" \
  --out "$W/data" --name corpus --val-fraction 0.05 > /dev/null 2>&1
mk() {  # name threads [zero]
  cat > "$W/$1.toml" <<T
[run]
dir = "$W/$1"
seed = 1
threads = $2
[model]
config = "$ROOT/configs/bench-train.json"
[data]
datasets = { corpus = "$W/data/corpus.json" }
[[phase]]
name = "bench"
tokens = $((STEPS * 8 * 256))
seq_len = 256
batch = 8
[parallel]
zero = ${3:-0}
T
}
report() {  # name label
  python3 - "$W/$1/metrics.jsonl" "$2" <<'P'
import json, sys
m = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l][2:]
tps = sum(x["tokens_per_s"] for x in m) / len(m)
share = sum(x.get("comm_share", 0) for x in m) / len(m)
print(json.dumps({"layout": sys.argv[2], "steps_timed": len(m), "tokens_per_s": round(tps, 1), "comm_share": round(share, 4)}))
P
}
mk one 2; "$Z" train -c "$W/one.toml" > /dev/null 2>&1; report one "1 rank x 2 threads"
mk two 1; mpirun -np 2 "$Z" train -c "$W/two.toml" > /dev/null 2>&1; report two "2 ranks x 1 thread"
mk twoz 1 1; mpirun -np 2 "$Z" train -c "$W/twoz.toml" > /dev/null 2>&1; report twoz "2 ranks x 1 thread, zero = 1"
