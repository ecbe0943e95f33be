#!/usr/bin/env bash
# Installs the Debian packages zaya needs to build and test (only those missing).
set -euo pipefail
PKGS=(cmake ninja-build g++ libdnnl-dev nlohmann-json3-dev libcli11-dev libgtest-dev
      libbenchmark-dev libxxhash-dev libtomlplusplus-dev openmpi-bin libopenmpi-dev libcpp-httplib-dev curl python3-pip)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
# The tokenizer-trainer test checks zaya's trained tokenizer.json with the Python tokenizers library.
if ! python3 -c "import tokenizers" >/dev/null 2>&1; then
  echo "installing: tokenizers (pip)"
  python3 -m pip install --quiet tokenizers
fi
# The server checks (tests/python/) drive `zaya serve` with the official openai client and
# lm-evaluation-harness (local-completions), as users do. (An old Debian pip may fail resolving
# lm-eval's dependencies: pip itself is upgraded first.)
if ! python3 -c "import openai, lm_eval, tenacity" >/dev/null 2>&1; then
  echo "installing: openai lm-eval tenacity (pip)"
  python3 -m pip install --quiet --upgrade pip
  python3 -m pip install --quiet openai lm-eval tenacity
fi
