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
# pip into the Python that runs the tests. Debian's own python3 refuses plain `pip install`
# (PEP 668, externally managed); there the packages go in with --break-system-packages.
pip_install() {
  python3 -m pip install --quiet "$@" 2>/tmp/zaya-pip.err && return 0
  if grep -q externally-managed /tmp/zaya-pip.err; then
    python3 -m pip install --quiet --break-system-packages "$@"
  else
    cat /tmp/zaya-pip.err >&2
    return 1
  fi
}
# The tokenizer-trainer test checks zaya's trained tokenizer.json with the Python tokenizers library.
if ! python3 -c "import tokenizers" >/dev/null 2>&1; then
  echo "installing: tokenizers (pip)"
  pip_install tokenizers
fi
# The server checks (tests/python/) drive `zaya serve` with the official openai client and
# lm-evaluation-harness (local-completions), as users do. (An old Debian pip may fail resolving
# lm-eval's dependencies: pip itself is upgraded first.)
if ! python3 -c "import openai, lm_eval, tenacity" >/dev/null 2>&1; then
  echo "installing: openai lm-eval tenacity (pip)"
  pip_install --upgrade pip || echo "(pip itself not upgraded; going on with the installed one)"
  pip_install openai lm-eval tenacity
fi
