#!/usr/bin/env bash
# Runs its arguments with a throwaway Secret Service: a private D-Bus session bus and an
# unlocked gnome-keyring whose files live in a temporary directory (never a user's real
# keyring), so QtKeychain writes and reads keys for real in headless test runs and CI.
# Exports RECWB_REQUIRE_KEYCHAIN=1 to the command: keychain tests then fail instead of skip.
#
#   scripts/with-keyring.sh [--or-without] COMMAND [ARGS...]
#
# If the keyring cannot start, it exits 125 without running COMMAND, or with --or-without
# prints a note and runs COMMAND without a keyring (and without RECWB_REQUIRE_KEYCHAIN).
# Needs the Debian packages dbus-daemon, dbus-bin and gnome-keyring.
set -euo pipefail

fallback=0
if [ "${1:-}" = "--or-without" ]; then
  fallback=1
  shift
fi
[ $# -gt 0 ] || { echo "usage: $0 [--or-without] COMMAND [ARGS...]" >&2; exit 2; }

without() { # without REASON COMMAND...
  if [ "$fallback" = 1 ]; then
    echo "with-keyring: $1; running without a keychain (keychain tests will skip)" >&2
    shift
    [ -n "${dir:-}" ] && rm -rf "$dir"
    exec "$@"
  fi
  echo "with-keyring: $1" >&2
  exit 125
}

# Inside the private bus: start the keyring, wait for it on the bus, run the command.
if [ "${RECWB_KEYRING_INNER:-}" = 1 ]; then
  unset RECWB_KEYRING_INNER
  # The password only unlocks this run's throwaway keyring; it is not a secret.
  printf 'recwb-throwaway' | gnome-keyring-daemon --foreground --unlock --components=secrets \
    >/dev/null 2>"$RECWB_KEYRING_DIR/daemon.log" &
  daemon=$!
  ready=0
  for _ in $(seq 1 100); do
    if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; then
      ready=1
      break
    fi
    kill -0 "$daemon" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$ready" != 1 ]; then
    kill "$daemon" 2>/dev/null || true
    cat "$RECWB_KEYRING_DIR/daemon.log" >&2
    exit 125
  fi
  # The command gets the caller's own HOME and XDG directories back; only the daemon
  # (and anything the bus activates) uses the temporary ones.
  : >"$RECWB_KEYRING_DIR/ran"
  status=0
  (
    export HOME="$RECWB_KEYRING_HOME"
    for v in XDG_DATA_HOME XDG_CONFIG_HOME XDG_CACHE_HOME XDG_RUNTIME_DIR; do
      saved="RECWB_KEYRING_SAVED_$v"
      if [ -n "${!saved+x}" ]; then export "$v=${!saved}"; else unset "$v"; fi
      unset "$saved"
    done
    unset RECWB_KEYRING_HOME RECWB_KEYRING_DIR
    export RECWB_REQUIRE_KEYCHAIN=1
    exec "$@"
  ) || status=$?
  kill "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
  exit "$status"
fi

self="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
for tool in dbus-run-session dbus-send gnome-keyring-daemon; do
  command -v "$tool" >/dev/null || without "$tool is not installed (scripts/install-deps.sh installs it)" "$@"
done

dir="$(mktemp -d "${TMPDIR:-/tmp}/recwb-keyring.XXXXXX")"
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/home" "$dir/data" "$dir/config" "$dir/cache" "$dir/run"
chmod 700 "$dir/run"
for v in XDG_DATA_HOME XDG_CONFIG_HOME XDG_CACHE_HOME XDG_RUNTIME_DIR; do
  if [ -n "${!v+x}" ]; then export "RECWB_KEYRING_SAVED_$v=${!v}"; fi
done
status=0
RECWB_KEYRING_INNER=1 RECWB_KEYRING_DIR="$dir" RECWB_KEYRING_HOME="${HOME:-}" \
  HOME="$dir/home" XDG_DATA_HOME="$dir/data" XDG_CONFIG_HOME="$dir/config" XDG_CACHE_HOME="$dir/cache" \
  XDG_RUNTIME_DIR="$dir/run" dbus-run-session -- bash "$self" "$@" || status=$?
if [ "$status" = 125 ] && [ ! -e "$dir/ran" ]; then
  without "the throwaway keyring did not start" "$@"
fi
exit "$status"
