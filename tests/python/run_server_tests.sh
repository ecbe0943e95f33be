#!/usr/bin/env bash
# Starts `zaya serve` over the tiny served model (configs/zaya1-tiny.json, perturbed weights, the
# Gemma 3 tokenizer and chat template) and runs one of the Python checks against it:
#   run_server_tests.sh client   the official openai client (test_openai_client.py; server with an API key)
#   run_server_tests.sh lm_eval  lm-evaluation-harness local-completions vs `zaya eval --task`
#   run_server_tests.sh load     batching equality, then 64 clients x 1000 requests with RSS flat
# Needs build/zaya and python3 with openai / lm_eval (scripts/deps.sh installs them). CTest runs all three.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
zaya="${ZAYA:-$root/build/zaya}"
what="${1:?usage: run_server_tests.sh client|lm_eval|load}"
tmp="$(mktemp -d)"
srv=""
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
gemma="$root/../shared/data/gemma3"
[ -f "$gemma/tokenizer.json" ] || { echo "run_server_tests: no Gemma 3 tokenizer at $gemma" >&2; exit 1; }
"$zaya" mkckpt --config "$root/configs/zaya1-tiny.json" --out "$tmp/model" --init perturbed --seed 1 \
  --tokenizer "$gemma/tokenizer.json" > "$tmp/mkckpt.log" 2>&1 || { cat "$tmp/mkckpt.log"; exit 1; }
cp "$gemma/tokenizer_config.json" "$tmp/model/"

key=""  # the client and load checks run against a server with an API key; lm-eval's without
case "$what" in client|load) key="zaya-test-key-$RANDOM" ;; esac
args=(serve --model "$tmp/model" --host 127.0.0.1 --port 0 --slots 8 --ctx 1024 --served-model-name tiny)
[ -n "$key" ] && args+=(--api-key "$key")
"$zaya" "${args[@]}" > "$tmp/serve.out" 2> "$tmp/serve.err" &
srv=$!
port=""
for _ in $(seq 1200); do  # up to 2 minutes to load
  port=$(sed -n 's#.*listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$tmp/serve.out" | head -1)
  [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/health" > /dev/null && break
  kill -0 "$srv" 2>/dev/null || { echo "zaya serve exited:"; cat "$tmp/serve.out" "$tmp/serve.err"; exit 1; }
  sleep 0.1
done
url="http://127.0.0.1:$port"
curl -sf "$url/health" > /dev/null || { echo "zaya serve not healthy:"; cat "$tmp/serve.out" "$tmp/serve.err"; exit 1; }
echo "zaya serve at $url (pid $srv)"

case "$what" in
  client) ZAYA_URL="$url" ZAYA_KEY="$key" python3 "$root/tests/python/test_openai_client.py" ;;
  lm_eval) bash "$root/tools/reference/lm_eval_task/run_lm_eval.sh" "$tmp/model" "$url" ;;
  load) python3 "$root/tests/python/load_test.py" --url "$url" --key "$key" --pid "$srv" \
          --clients "${LOAD_CLIENTS:-64}" --requests "${LOAD_REQUESTS:-1000}" ;;
  *) echo "run_server_tests: unknown check '$what'" >&2; exit 2 ;;
esac
# The server must still be alive and answer after the check, and stop cleanly on SIGTERM.
kill -0 "$srv" 2>/dev/null || { echo "zaya serve died:"; tail -20 "$tmp/serve.err"; exit 1; }
kill -TERM "$srv"
rc=0; wait "$srv" || rc=$?
srv=""
[ "$rc" -eq 0 ] || { echo "zaya serve exited with $rc on SIGTERM:"; tail -20 "$tmp/serve.err"; exit 1; }
