#!/usr/bin/env bash
# Installs the Debian packages the workbench needs, only those missing. Safe to re-run.
# libzip-dev (with pkg-config) reads implicit's .npz factor files (recwb-cli import-factors);
# python3-numpy only writes the .npz fixtures of tst_factorimport. libhnswlib-dev (header-only)
# is the approximate nearest-neighbour index of large catalogs (core/cf/ann.h).
set -euo pipefail
PACKAGES=(
  qt6-base-dev qt6-base-dev-tools libqt6opengl6-dev qt6-charts-dev qt6-httpserver-dev
  qt6-websockets-dev qt6-svg-dev libqt6sql6-sqlite qtkeychain-qt6-dev libeigen3-dev
  nlohmann-json3-dev libsqlite3-dev libkainjow-mustache-dev libbenchmark-dev libdtl-dev
  libzip-dev pkg-config python3-numpy libhnswlib-dev
  cmake ninja-build g++ xvfb xauth desktop-file-utils appstream dpkg-dev file
  dbus-daemon dbus-bin gnome-keyring
)
# --fuzz: also clang and its libFuzzer runtime (scripts/fuzz.sh, the CI fuzz step).
if [ "${1:-}" = "--fuzz" ]; then
  PACKAGES+=(clang-14 libclang-rt-14-dev)
fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
