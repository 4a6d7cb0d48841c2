#!/usr/bin/env bash
# Builds the libFuzzer targets (cmake --preset fuzz: clang-14, ASan + UBSan, into ./build-fuzz)
# and runs each for SECONDS (default 60) on its seed corpus (fuzz/corpus/NAME) plus the
# corpus it grew before (build-fuzz/corpus/NAME). A crash, leak or timeout stops the script
# with status 1 and leaves the input in build-fuzz/findings/. docs/FUZZING.md.
# Usage: scripts/fuzz.sh [SECONDS] [NAME...]   (NAME: records timestamp answer providers prompt)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
shift || true
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  names=(records timestamp answer providers prompt)
fi
"$root/scripts/install-deps.sh" --fuzz
cd "$root"
if [ ! -f build-fuzz/build.ninja ]; then
  launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  cmake --preset fuzz "${launcher[@]}" >/dev/null
fi
cmake --build build-fuzz -j "$(nproc)"
mkdir -p build-fuzz/findings
status=0
for name in "${names[@]}"; do
  corpus="build-fuzz/corpus/$name"
  log="build-fuzz/fuzz_$name.log"
  mkdir -p "$corpus"
  if ! "build-fuzz/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/findings/$name-" "$corpus" "fuzz/corpus/$name" >"$log" 2>&1; then
    echo "fuzz_$name: FAILED (input in build-fuzz/findings/, log $log):" >&2
    grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -20 >&2
    status=1
    continue
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  echo "fuzz_$name: ${runs:-?} executions in ${seconds} s, ${cov:-cov: ?}, corpus $(ls "$corpus" | wc -l) files, no crash, leak or timeout"
done
exit $status
