#!/usr/bin/env bash
# The main job on a fresh Debian machine: build zaya, train a small ZAYA1 on the Python documentation
# sources (Debian's python3.11-doc) for a few minutes on the CPU, plot the curves, generate from it.
#   1. a byte-level BPE tokenizer (4096 tokens) trained on the corpus     zaya tokenizer train
#   2. the corpus as token shards with a 5 % held-out validation split     zaya data
#   3. training: pretraining at 128 tokens, then context extension at 512  zaya train (configs/demo-train.toml)
#   4. the loss curves                                                     zaya plot
#   5. text from the trained model                                         zaya generate
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
if ! dpkg -s python3.11-doc >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get install -y -qq python3.11-doc
fi
bash scripts/build.sh
CORPUS=/usr/share/doc/python3.11/html/_sources
mapfile -t FILES < <(find "$CORPUS" -name '*.txt' | sort)
echo "corpus: ${#FILES[@]} files from $CORPUS"
OUT=build/demo
rm -rf "$OUT"
mkdir -p "$OUT"
./build/zaya tokenizer train --input "${FILES[@]}" --vocab-size 4096 --out "$OUT/tokenizer.json"
./build/zaya data --tokenizer "$OUT/tokenizer.json" --input "${FILES[@]}" --out "$OUT/data" --name pydocs \
  --val-fraction 0.05
./build/zaya train --config configs/demo-train.toml
./build/zaya plot --metrics "$OUT/run/metrics.jsonl" --out "$OUT/loss.svg" --title "ZAYA1 demo: Python docs, 2 CPU cores"
LAST=$(ls -d "$OUT"/run/checkpoints/step-* | tail -1)
H=$(grep -o '"unigram_entropy_nats": *[0-9.]*' "$OUT/data/pydocs.json" | tail -1 | grep -o '[0-9.]*$')
V=$(grep -o '"val_loss":[0-9.]*' "$OUT/run/metrics.jsonl" | tail -1 | grep -o '[0-9.]*$')
echo "validation loss ${V} nats/token vs unigram entropy of the held-out text ${H} nats/token"
./build/zaya generate --model "$LAST" --prompt "The list type" -n 80 --temperature 0.7 --top-k 40 --seed 1
echo "curves: $OUT/loss.svg; model: $LAST"
