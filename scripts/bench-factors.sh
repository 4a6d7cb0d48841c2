#!/usr/bin/env bash
# Times `recwb-cli import-factors` at scale: a generated workspace, random factors for every
# user and item written by numpy as an implicit .npz (with user_ids / item_ids arrays) and as
# Spark userFactors / itemFactors folders, then one import of each. Prints one line per step
# with wall / CPU seconds and peak RSS (GNU time). Figures go to docs/SCALE.md.
#
#   scripts/bench-factors.sh [users] [items] [factors] [work-dir]   default 100000 50000 64 /tmp/recwb-factors
#   RECWB_CLI=path/to/recwb-cli scripts/bench-factors.sh             default build/app/recwb-cli
# Needs python3-numpy (scripts/install-deps.sh) and GNU time.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
USERS="${1:-100000}"
ITEMS="${2:-50000}"
F="${3:-64}"
WORK="${4:-/tmp/recwb-factors}"
CLI="${RECWB_CLI:-$root/build/app/recwb-cli}"
PY=/usr/bin/python3
[ -x "$CLI" ] || { echo "bench-factors: $CLI is not built (set RECWB_CLI)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench-factors: GNU time is missing (apt-get install time)" >&2; exit 1; }
"$PY" -c 'import numpy' 2>/dev/null || { echo "bench-factors: $PY lacks numpy (apt-get install python3-numpy)" >&2; exit 1; }
mkdir -p "$WORK"

measure() {
  local label="$1"; shift
  local log="$WORK/${label// /_}.time"
  if ! /usr/bin/time -f '%e %U %S %M' -o "$log" "$@" > "$WORK/${label// /_}.out" 2>&1; then
    echo "bench-factors: '$label' failed:" >&2; tail -5 "$WORK/${label// /_}.out" >&2; return 1
  fi
  read -r wall user sys rss < <(tail -1 "$log")
  printf '%-24s wall %8.2f s  cpu %8.2f s  peak RSS %7.1f MB\n' \
    "$label" "$wall" "$(awk -v a="$user" -v b="$sys" 'BEGIN { print a + b }')" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"
}

echo "# $(date -u +%FT%TZ)  nproc $(nproc)  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $USERS users x $ITEMS items x $F factors, in $WORK"
rm -f "$WORK/w.recwb"
measure "generate workspace" "$CLI" generate --out "$WORK/w.recwb" --users "$USERS" --items "$ITEMS" \
  --interactions $(( USERS * 20 )) --force
# The generator names users u1..uN and items i1..iM.
"$PY" - "$WORK" "$USERS" "$ITEMS" "$F" <<'EOF'
import json, os, sys
import numpy as np
d, nu, ni, f = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(1)
U = (rng.normal(size=(nu, f)) * 0.1).astype('<f4')
I = (rng.normal(size=(ni, f)) * 0.1).astype('<f4')
uids = np.array(['u%d' % (k + 1) for k in range(nu)])
iids = np.array(['i%d' % (k + 1) for k in range(ni)])
np.savez(os.path.join(d, 'model.npz'), user_factors=U, item_factors=I, factors=f, regularization=0.01,
         alpha=40.0, iterations=15, user_ids=uids, item_ids=iids)
for name, ids, M in (('userFactors', uids, U), ('itemFactors', iids, I)):
    os.makedirs(os.path.join(d, name), exist_ok=True)
    with open(os.path.join(d, name, 'part-00000.json'), 'w') as out:
        for k in range(len(ids)):
            out.write(json.dumps({'id': str(ids[k]), 'features': [float(v) for v in M[k]]}) + '\n')
EOF
echo "# npz $(du -m "$WORK/model.npz" | cut -f1) MB, spark JSON $(du -sm "$WORK/userFactors" "$WORK/itemFactors" | awk '{ s += $1 } END { print s }') MB"
measure "import-factors implicit" "$CLI" import-factors -w "$WORK/w.recwb" --format implicit --name imp \
  --npz "$WORK/model.npz"
measure "import-factors spark" "$CLI" import-factors -w "$WORK/w.recwb" --format spark --name spark \
  --users "$WORK/userFactors" --items "$WORK/itemFactors"
measure "candidates (imported)" "$CLI" candidates -w "$WORK/w.recwb" --model imp --user u42 --n 100
grep -h -E '^Imported|^Users|^Items' "$WORK"/import-factors_*.out
