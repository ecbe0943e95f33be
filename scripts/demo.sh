#!/usr/bin/env bash
# The main job on a fresh Debian machine: build zaya, make a small ZAYA1 model, generate from it.
# (Issue 3 turns this into: train a small model on an embedded corpus, then generate.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
TOK=../shared/data/gemma3/tokenizer.json
if [ ! -f "$TOK" ]; then
  echo "note: Gemma 3 tokenizer not found at $TOK; using the small byte-level test tokenizer"
  TOK=tests/data/tokenizer/bytelevel/tokenizer.json
fi
OUT=build/demo-tiny
./build/zaya info configs/zaya1-tiny.json
./build/zaya mkckpt --config configs/zaya1-tiny.json --out "$OUT" --dtype bf16 --init perturbed --tokenizer "$TOK"
./build/zaya generate --model "$OUT" --prompt "The ZAYA1 architecture" -n 24 --temperature 0.8 --top-k 40 --seed 1
./build/zaya generate --model "$OUT" --prompt "Hello" --prompt "Once upon a time" -n 12
