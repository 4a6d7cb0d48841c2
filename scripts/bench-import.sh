#!/usr/bin/env bash
# End-to-end CLI benchmark: generate CSV files, import them, generate straight into a
# workspace, then time `info` and a reopen into memory (`load`). Prints one line per step
# with wall / CPU seconds, rows/s and peak RSS (GNU time). Figures go to docs/PERFORMANCE.md.
#
#   scripts/bench-import.sh [interactions] [work-dir]     default 20000000 /tmp/recwb-bench
#   RECWB_CLI=path/to/recwb-cli scripts/bench-import.sh   default build/app/recwb-cli
#   BENCH_ML_SMALL=/path/to/ml-latest-small               also import that folder
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${1:-20000000}"
WORK="${2:-/tmp/recwb-bench}"
CLI="${RECWB_CLI:-$root/build/app/recwb-cli}"
ML_SMALL="${BENCH_ML_SMALL:-$root/../shared/data/ml-latest-small}"
# Users and items scale like MovieLens 20M (138k users and 27k items for 20M interactions).
USERS=$(( N * 138 / 20000 )); (( USERS < 100 )) && USERS=100
ITEMS=$(( N * 27 / 20000 )); (( ITEMS < 200 )) && ITEMS=200

[ -x "$CLI" ] || { echo "bench-import: $CLI is not built (set RECWB_CLI)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench-import: GNU time is missing (apt-get install time)" >&2; exit 1; }
mkdir -p "$WORK"

# measure <label> <rows> <command...>: runs the command under GNU time and prints a summary.
measure() {
  local label="$1" rows="$2"; shift 2
  local log="$WORK/${label// /_}.time"
  if ! /usr/bin/time -f '%e %U %S %M' -o "$log" "$@" > "$WORK/${label// /_}.out" 2>&1; then
    echo "bench-import: '$label' failed:" >&2; tail -5 "$WORK/${label// /_}.out" >&2; return 1
  fi
  read -r wall user sys rss < <(tail -1 "$log")
  local rate="-"
  if [ "$rows" -gt 0 ]; then rate=$(awk -v r="$rows" -v w="$wall" 'BEGIN { printf "%.0f", (w > 0 ? r / w : 0) }'); fi
  printf '%-28s wall %8.2f s  cpu %8.2f s  rows/s %10s  peak RSS %7.1f MB\n' \
    "$label" "$wall" "$(awk -v a="$user" -v b="$sys" 'BEGIN { print a + b }')" "$rate" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"
}

echo "# $(date -u +%FT%TZ)  nproc $(nproc)  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)  RAM $(free -g | awk '/Mem:/ { print $2 }') GiB  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $N interactions, $USERS users, $ITEMS items, in $WORK"

measure "generate csv" "$N" "$CLI" generate --csv-dir "$WORK/csv" --users "$USERS" --items "$ITEMS" --interactions "$N" --force
rm -f "$WORK"/gen.recwb*
measure "generate workspace" "$N" "$CLI" generate --out "$WORK/gen.recwb" --users "$USERS" --items "$ITEMS" --interactions "$N"

if "$CLI" import --help > "$WORK/import-help.txt" 2>&1; then
  rm -f "$WORK"/imported.recwb*
  measure "import csv" "$N" "$CLI" import --workspace "$WORK/imported.recwb" --format csv \
    --interactions "$WORK/csv/interactions.csv" --user-col user_id --item-col item_id \
    --value-col rating --time-col timestamp \
    --items "$WORK/csv/items.csv" --title-col title --description-col description \
    --categories-col categories --tags-col tags --year-col year \
    --users "$WORK/csv/users.csv" --user-attr-cols '*'
  measure "load imported" "$N" "$CLI" load --workspace "$WORK/imported.recwb"
  if [ -d "$ML_SMALL" ]; then
    rows=$(( $(wc -l < "$ML_SMALL/ratings.csv") - 1 ))
    rm -f "$WORK"/ml-small.recwb*
    measure "import ml-latest-small" "$rows" "$CLI" import --workspace "$WORK/ml-small.recwb" \
      --format ml-latest "$ML_SMALL"
    measure "info ml-latest-small" 0 "$CLI" info --workspace "$WORK/ml-small.recwb"
    measure "load ml-latest-small" "$rows" "$CLI" load --workspace "$WORK/ml-small.recwb"
  fi
else
  echo "import: skipped: this recwb-cli has no 'import' command yet"
fi

measure "info" 0 "$CLI" info --workspace "$WORK/gen.recwb"
measure "load (reopen into memory)" "$N" "$CLI" load --workspace "$WORK/gen.recwb"
grep -E 'Loaded|CSR' "$WORK/load_(reopen_into_memory).out" | sed 's/^/#   /'
ls -l "$WORK"/gen.recwb | awk '{ printf "# workspace file %.0f MB\n", $5 / 1e6 }'
