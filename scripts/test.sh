#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: dependencies, build, every test (CTest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure --timeout 900
