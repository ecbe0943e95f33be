#!/usr/bin/env bash
# Long checks, outside the default suite (needs Python with tokenizers, transformers, torch):
#   1. the tokenizer against the `tokenizers` library on a larger corpus (TOKENIZER_BYTES, default 4 MB);
#   2. the libFuzzer targets under ASan/UBSan (FUZZ_SECONDS each, default 120).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
OUT=build/tokenizer-golden-large
python3 tools/reference/make_tokenizer_golden.py --target-bytes "${TOKENIZER_BYTES:-4000000}" --out "$OUT"
du -sh "$OUT"
ZAYA_TOKENIZER_DATA="$PWD/$OUT" ./build/test_tokenizer
FUZZ_SECONDS=${FUZZ_SECONDS:-120} bash fuzz/run.sh
