#!/usr/bin/env bash
# Builds the libFuzzer targets fuzz/fuzz_*.cpp with clang-14 + ASan/UBSan and runs each one.
#
#   fuzz/run.sh                      # every fuzz/fuzz_*.cpp, $FUZZ_SECONDS (default 60) each
#   fuzz/run.sh fuzz_safetensors     # only the named targets
#
# Environment:
#   FUZZ_SECONDS  run time per target (default 60)
#   FUZZ_BUILD    auto (default: CMake, falling back to a direct compile), cmake, or direct
#   FUZZ_JOBS     build parallelism (default 2)
#   FUZZ_ARGS     extra libFuzzer flags, e.g. "-max_len=4096"
#
# Target fuzz_<name> reads seeds from fuzz/seeds/<name>/ (never written), keeps what it finds in
# build-fuzz/corpus-<name>/, writes crashing inputs to build-fuzz/artifacts-<name>/, logs to
# build-fuzz/log-<name>.txt, and uses fuzz/fuzz_<name>.dict as a dictionary if present.
# Exits non-zero if any build fails or any target finds a crash, leak, timeout or UB.
#
# The direct compile (used when the CMake build of the whole library fails, e.g. while some
# source under src/ does not build with clang) compiles each fuzzer together with the sources
# named on its "// fuzz-sources: a.cpp b.cpp" line.
set -uo pipefail

cd "$(dirname "$0")/.."
BUILD=build-fuzz
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
MODE=${FUZZ_BUILD:-auto}
JOBS=${FUZZ_JOBS:-2}
CXX=clang++-14
CC=clang-14
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in fuzz/fuzz_*.cpp; do
    [ -e "$f" ] && targets+=("$(basename "$f" .cpp)")
  done
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "run.sh: no fuzz/fuzz_*.cpp targets" >&2
  exit 1
fi
for t in "${targets[@]}"; do
  if [ ! -f "fuzz/$t.cpp" ]; then
    echo "run.sh: no such target: fuzz/$t.cpp" >&2
    exit 1
  fi
done
mkdir -p "$BUILD"

# BIN[target] = path of its built binary.
declare -A BIN

build_cmake() {
  echo "== building ${targets[*]} with CMake + $CXX"
  # CMAKE_CXX_FLAGS also instruments zaya_lib, so the fuzzers get coverage feedback from the
  # library code and not only from the fuzzer's own file.
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER=$CXX -DCMAKE_C_COMPILER=$CC -DZAYA_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link $SAN" "-DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link $SAN" \
    >"$BUILD/cmake.log" 2>&1 || { echo "   cmake configure failed (see $BUILD/cmake.log):"; tail -5 "$BUILD/cmake.log"; return 1; }
  ninja -C "$BUILD" -j"$JOBS" "${targets[@]}" >"$BUILD/ninja.log" 2>&1 ||
    { echo "   ninja failed (see $BUILD/ninja.log):"; grep -m5 -E "error|FAILED" "$BUILD/ninja.log"; return 1; }
  for t in "${targets[@]}"; do BIN[$t]="$BUILD/$t"; done
}

build_direct() {
  mkdir -p "$BUILD/direct"
  local rc=0
  for t in "${targets[@]}"; do
    local srcs
    srcs=$(sed -n 's@^// *fuzz-sources: *@@p' "fuzz/$t.cpp" | head -1)
    if [ -z "$srcs" ]; then
      echo "   fuzz/$t.cpp has no '// fuzz-sources:' line; cannot compile it directly" >&2
      rc=1
      continue
    fi
    echo "== compiling $t directly with $CXX: fuzz/$t.cpp $srcs"
    # shellcheck disable=SC2086
    if $CXX -std=c++20 -O1 -g -march=x86-64-v3 -Wall -Wextra -Wno-unused-parameter -Isrc \
        -fsanitize=fuzzer $SAN "fuzz/$t.cpp" $srcs -o "$BUILD/direct/$t" 2>"$BUILD/direct/$t.log"; then
      BIN[$t]="$BUILD/direct/$t"
    else
      echo "   compile of $t failed:"; head -20 "$BUILD/direct/$t.log"
      rc=1
    fi
  done
  return $rc
}

case "$MODE" in
  cmake) build_cmake || exit 1 ;;
  direct) build_direct || exit 1 ;;
  auto)
    if ! build_cmake; then
      echo "== CMake build failed; falling back to compiling the fuzzers directly"
      build_direct || exit 1
    fi
    ;;
  *) echo "run.sh: FUZZ_BUILD must be auto, cmake or direct" >&2; exit 1 ;;
esac

failed=()
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  corpus="$BUILD/corpus-$name"
  artifacts="$BUILD/artifacts-$name"
  log="$BUILD/log-$name.txt"
  mkdir -p "$corpus" "$artifacts"
  dirs=("$corpus")
  [ -d "fuzz/seeds/$name" ] && dirs+=("fuzz/seeds/$name")
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=("-dict=fuzz/$t.dict")
  echo "== running $t for ${SECONDS_PER_TARGET}s (corpus $corpus, seeds fuzz/seeds/$name)"
  # shellcheck disable=SC2086
  "${BIN[$t]}" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dict[@]}" ${FUZZ_ARGS:-} "${dirs[@]}" >"$log" 2>&1
  rc=$?
  last=$(grep -E "^#[0-9]+" "$log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  echo "   exit $rc; executions ${execs:-?}; last status: ${last:-none}; corpus $(ls "$corpus" | wc -l) files"
  if [ $rc -ne 0 ]; then
    echo "   FAILED: see $log; artifacts:"; ls "$artifacts"
    grep -m20 -E "ERROR|SUMMARY|runtime error|==[0-9]+==" "$log"
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "== fuzzing found problems in: ${failed[*]}"
  exit 1
fi
echo "== all fuzz targets ran clean: ${targets[*]}"
