#!/usr/bin/env bash
# Builds everything and runs every test headless (offscreen Qt platform).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh"
export QT_QPA_PLATFORM=offscreen
cd "$root/build"
# The keychain tests need a Secret Service. Use the session's own when it has one; otherwise
# (CI, headless machines) start a throwaway one for this run, or say why not and go on.
if [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] && command -v dbus-send >/dev/null \
  && dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; then
  ctest --output-on-failure -j "$(nproc)" "$@"
else
  "$root/scripts/with-keyring.sh" --or-without ctest --output-on-failure -j "$(nproc)" "$@"
fi
