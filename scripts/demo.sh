#!/usr/bin/env bash
# Builds the workbench and opens it on the demo workspace (generated on first start).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh"
exec "$root/build/app/recwb" --demo "$@"
