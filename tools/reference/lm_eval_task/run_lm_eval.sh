#!/usr/bin/env bash
# Runs lm-evaluation-harness's local-completions model (tokenizer_backend=remote) on zaya_mc and checks
# that its acc / acc_norm equal `zaya eval --task zaya_mc.jsonl` (docs/eval.md).
#   run_lm_eval.sh MODEL_DIR                  replay: a stand-in server replays zaya eval's scores
#                                             (checks requests, token split and metrics; no zaya serve)
#   run_lm_eval.sh MODEL_DIR URL              against a running `zaya serve` at URL (http://host:port)
# Needs: build/zaya, python3 with lm_eval (pip install lm-eval tenacity) and tokenizers (replay mode).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
model="$1"
url="${2:-}"
zaya="${ZAYA:-$root/build/zaya}"
tmp="$(mktemp -d)"
trap 'kill $srv 2>/dev/null || true' EXIT
srv=""

"$zaya" eval --model "$model" --task "$here/zaya_mc.jsonl" --format json --samples "$tmp/samples.jsonl" \
  ${ZAYA_EVAL_ARGS:-} > "$tmp/zaya.json"
if [ -z "$url" ]; then
  port=$((20000 + RANDOM % 20000))
  python3 "$here/replay_server.py" --tokenizer "$model/tokenizer.json" --samples "$tmp/samples.jsonl" \
    --port "$port" --log "$tmp/requests.jsonl" &
  srv=$!
  url="http://127.0.0.1:$port"
  for _ in $(seq 50); do curl -sf "$url/tokenizer_info" > /dev/null && break; sleep 0.2; done
fi
# The model name lm-eval sends: the server's own id (zaya serve answers 404 for any other).
name=$(curl -sf "$url/v1/models" | python3 -c "import json,sys; print(json.load(sys.stdin)['data'][0]['id'])") || name=zaya
mkdir -p "$tmp/tasks"
sed "s|test: tools/reference/lm_eval_task/zaya_mc.jsonl|test: $here/zaya_mc.jsonl|" "$here/zaya_mc.yaml" > "$tmp/tasks/zaya_mc.yaml"
lm_eval --model local-completions \
  --model_args "model=$name,base_url=$url/v1/completions,tokenizer_backend=remote,num_concurrent=1,max_retries=1" \
  --tasks zaya_mc --include_path "$tmp/tasks" --output_path "$tmp/out" > "$tmp/lm_eval.log" 2>&1 \
  || { tail -30 "$tmp/lm_eval.log"; exit 1; }
python3 "$here/check.py" "$tmp/zaya.json" "$tmp/out"
echo "(files in $tmp)"
