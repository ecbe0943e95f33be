#!/usr/bin/env bash
# Long checks, outside the default suite (needs Python with tokenizers, transformers, torch):
#   1. the tokenizer against the `tokenizers` library on a larger corpus (TOKENIZER_BYTES, default 4 MB);
#   2. a model trained by zaya (the demo's, or 40 quick steps) loads in transformers with the same logits;
#   3. the libFuzzer targets under ASan/UBSan (FUZZ_SECONDS each, default 120).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
OUT=build/tokenizer-golden-large
python3 tools/reference/make_tokenizer_golden.py --target-bytes "${TOKENIZER_BYTES:-4000000}" --out "$OUT"
du -sh "$OUT"
ZAYA_TOKENIZER_DATA="$PWD/$OUT" ./build/test_tokenizer
CK=$(ls -d build/demo/run/checkpoints/step-* 2>/dev/null | tail -1 || true)
if [ -z "$CK" ]; then
  echo "no demo checkpoint (run scripts/demo.sh for the full one); training 40 quick steps"
  mkdir -p build/lc
  ./build/zaya tokenizer train --input tests/data/tokenizer/corpus.jsonl --vocab-size 2048 --out build/lc/tok.json
  ./build/zaya data --tokenizer build/lc/tok.json --input tests/data/tokenizer/corpus.jsonl --out build/lc/data --name c
  sed -e 's#build/demo/run#build/lc/run#; s#build/demo/tokenizer.json#build/lc/tok.json#' \
      -e 's#build/demo/data/pydocs.json#build/lc/data/c.json#; s#^tokens = 1_800_000#tokens = 81_920#' \
      -e 's#^tokens = 131_072#tokens = 2048#' -e 's#"configs/zaya1-demo.json"#"build/lc/model.json"#' \
      -e 's#^warmup = 50#warmup = 5#' \
      configs/demo-train.toml > build/lc/run.toml
  sed 's/"vocab_size": 4096/"vocab_size": 2048/' configs/zaya1-demo.json > build/lc/model.json
  rm -rf build/lc/run && ./build/zaya train --config build/lc/run.toml
  CK=$(ls -d build/lc/run/checkpoints/step-* | tail -1)
fi
python3 tools/reference/check_export.py "$CK"
FUZZ_SECONDS=${FUZZ_SECONDS:-120} bash fuzz/run.sh
