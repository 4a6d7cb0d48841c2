#!/usr/bin/env bash
# Builds everything and runs every test headless (offscreen Qt platform). In CI (CI=true) it
# then builds again with ASan + UBSan (cmake --preset asan, ./build-asan) and runs every test
# under the sanitizers, then runs each libFuzzer target for 20 s on its corpus
# (scripts/fuzz.sh). Outside CI both are opt-in: RECWB_SANITIZERS=1 and RECWB_FUZZ=1 turn
# them on, =0 turns them off anywhere. On this 2-core machine the sanitizer build takes
# about 25-33 min cold and its suite about 9 min (docs/FUZZING.md, "In CI").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
started=$SECONDS
"$root/scripts/build.sh"
export QT_QPA_PLATFORM=offscreen

# ctest in build folder $1 (further arguments go to ctest).
run_ctest() {
  local dir="$1"
  shift
  cd "$dir"
  # The keychain tests need a Secret Service. Use the session's own when it has one; otherwise
  # (CI, headless machines) start a throwaway one for this run, or say why not and go on.
  if [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] && command -v dbus-send >/dev/null \
    && dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; then
    ctest --output-on-failure -j "$(nproc)" "$@"
  else
    "$root/scripts/with-keyring.sh" --or-without ctest --output-on-failure -j "$(nproc)" "$@"
  fi
}

run_ctest "$root/build" "$@"
echo "test.sh: build and suite done after $((SECONDS - started)) s" >&2

in_ci=0
if [ "${CI:-}" = "true" ]; then
  in_ci=1
fi
if [ "${RECWB_SANITIZERS:-$in_ci}" = "1" ]; then
  echo "test.sh: the whole suite again under ASan + UBSan (build-asan)" >&2
  cd "$root"
  if [ ! -f build-asan/build.ninja ]; then
    launcher=()
    if command -v ccache >/dev/null; then
      launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    fi
    cmake --preset asan "${launcher[@]}" >/dev/null
  fi
  cmake --build build-asan -j "$(nproc)"
  # LSan: Qt's and fontconfig's one-time allocations are suppressed (tests/lsan.supp);
  # anything else that leaks fails the test.
  export ASAN_OPTIONS="detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
  # Slower under the sanitizers (EASE on ML-100K, the CLI runs): QtTest's per-function
  # watchdog goes from 300 s to 20 min; the preset raises CTest's per-test limit to 1 h.
  # The tests' own safety-net waits (recwb::test::scaledTimeout) stretch 5 times.
  export QTEST_FUNCTION_TIMEOUT=1200000 RECWB_TEST_TIME_SCALE=5
  run_ctest "$root/build-asan" "$@"
  echo "test.sh: sanitizer build and suite done after $((SECONDS - started)) s" >&2
fi

# Each libFuzzer target for 20 s on its corpus (clang build in ./build-fuzz, about 100 s of
# fuzzing after it): in CI (CI=true) and with the sanitizer pass. RECWB_FUZZ=0 skips it,
# RECWB_FUZZ=1 runs it anywhere. A finding fails the run and leaves its input in
# build-fuzz/findings/ (docs/FUZZING.md).
fuzz_default=$in_ci
if [ "${RECWB_SANITIZERS:-0}" = "1" ]; then
  fuzz_default=1
fi
if [ "${RECWB_FUZZ:-$fuzz_default}" = "1" ]; then
  echo "test.sh: each fuzzer for 20 s (scripts/fuzz.sh)" >&2
  "$root/scripts/fuzz.sh" 20
  echo "test.sh: fuzzing done after $((SECONDS - started)) s" >&2
fi
