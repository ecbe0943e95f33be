#!/usr/bin/env bash
# Full-size ZAYA1-base (8.84B parameters, legacy list layout, bf16) with random weights:
# write the checkpoint, load it (memory-mapped, bf16 stays bf16), generate, and compare the decode
# speed with the memory-bandwidth roofline: bytes of active weights per token / measured bandwidth.
#   bash bench/zaya1_base_decode.sh [CKPT_DIR] [THREADS] [BACKEND]
# Needs ~17 GB of disk for the checkpoint; the build in ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/zaya1-base-random}
THREADS=${2:-$(nproc)}
Z=./build/zaya
if [ ! -f "$DIR/config.json" ]; then
  $Z mkckpt --config configs/zaya1-base.json --out "$DIR" --dtype bf16 --init perturbed
fi
$Z info "$DIR"
echo "--- zaya bench (every weight page faulted in; prompt 64, 16 new tokens, batch 1, one warm-up pass) ---"
BACKEND=${3:-cpu-f32}
/usr/bin/time -v $Z bench --model "$DIR" --prompt-len 64 --gen 16 --threads "$THREADS" --touch-all --mem-read \
  --backend "$BACKEND" 2> /tmp/zaya_time.txt | tee /tmp/zaya_bench.json
grep -E "Maximum resident|Elapsed" /tmp/zaya_time.txt
python3 - "$DIR" <<'PY'
import json, subprocess, sys
b = json.load(open("/tmp/zaya_bench.json"))
bw = b["read_bytes_per_s"]
rss_kb = [int(l.split(":")[1]) for l in open("/tmp/zaya_time.txt") if "Maximum resident" in l][0]
info = subprocess.run(["./build/zaya", "info", sys.argv[1]], capture_output=True, text=True).stdout
active = int(info.split("non-embedding, ")[1].split(" active")[0])
V, H = 262272, 2048
bytes_tok = (active + V * H) * 2  # bf16 active weights + tied LM head per decoded token
roof = bw / bytes_tok
print(f"read bandwidth {bw/1e9:.2f} GB/s; active weights per token {bytes_tok/1e9:.3f} GB -> roofline {roof:.2f} tok/s")
print(f"zaya decode {b['decode_tok_s']:.3f} tok/s = {100*b['decode_tok_s']/roof:.1f}% of roofline; "
      f"prefill {b['prefill_tok_s']:.2f} tok/s; load {b['load_s']:.2f} s; max RSS {rss_kb/2**20:.2f} GiB")
PY
