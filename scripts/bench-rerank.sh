#!/usr/bin/env bash
# Live LLM rerank throughput (issue 10): every MovieLens 100K user reranked through
# `recwb-cli rerank` against the local test LLM server answering after DELAY ms, at
# CONCURRENCY calls in flight, RUNS times, each run right after a run of the no-op client
# (bench_llm_noop: the same prompts, prepared beforehand, sent and only counted). Prints per
# run users/s of both and the client stages p50/p95/p99 (ms), then the median and range
# against the ideal CONCURRENCY / DELAY. Figures go to docs/PERFORMANCE.md.
#
#   scripts/bench-rerank.sh [runs] [work-dir]      default 5 /tmp/recwb-bench-rerank
#   DELAY=50 CONCURRENCY=8 PORT=8199 RECWB_BUILD=build ML100K=../shared/data/ml-100k
#   RECWB_CLI_BEFORE=path/to/older/recwb-cli       also run that binary in every round
#   SERVER_NICE=0    niceness of the test server (e.g. 10: below the clients). It stands
#                    in for a remote LLM; on a 2-core box it would otherwise take CPU from the
#                    client in a way a remote server never does. The no-op reference talks to
#                    the same server process, so both are measured the same way.
#   SERVER_SCHED=other|batch  CLIENT_SCHED=other|batch
#                    Linux scheduling policy of the test server, and of the clients (the no-op
#                    reference and recwb-cli alike), through `chrt`. SCHED_BATCH threads do not
#                    preempt a running thread when they wake (docs/PERFORMANCE.md).
#   SERVER_CPUS=LIST CLIENT_CPUS=LIST
#                    CPUs (taskset -c) of the test server and of the clients, e.g. 1 and 0:
#                    the server on its own core like the remote host it stands in for.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${1:-5}"
WORK="${2:-/tmp/recwb-bench-rerank}"
BUILD="${RECWB_BUILD:-$root/build}"
ML100K="${ML100K:-$root/../shared/data/ml-100k}"
DELAY="${DELAY:-50}"
CONCURRENCY="${CONCURRENCY:-8}"
PORT="${PORT:-8199}"
SERVER_NICE="${SERVER_NICE:-0}"
SERVER_SCHED="${SERVER_SCHED:-other}"
CLIENT_SCHED="${CLIENT_SCHED:-other}"
policy_prefix() { # other | batch: the words to put before a command
  case "$1" in
    other) ;;
    batch) echo chrt -b 0 ;;
    *) echo "bench-rerank: unknown policy $1 (other, batch)" >&2; exit 2 ;;
  esac
}
read -r -a server_sched <<< "$(policy_prefix "$SERVER_SCHED")"
read -r -a client_sched <<< "$(policy_prefix "$CLIENT_SCHED")"
SERVER_CPUS="${SERVER_CPUS:-}"
CLIENT_CPUS="${CLIENT_CPUS:-}"
[ -n "$SERVER_CPUS" ] && server_sched=(taskset -c "$SERVER_CPUS" "${server_sched[@]}")
[ -n "$CLIENT_CPUS" ] && client_sched=(taskset -c "$CLIENT_CPUS" "${client_sched[@]}")
CLI="$BUILD/app/recwb-cli"
BEFORE="${RECWB_CLI_BEFORE:-}"
SERVER="$BUILD/tests/server/recwb-llm-testserver"
NOOP="$BUILD/benchmarks/bench_llm_noop"
for exe in "$CLI" "$SERVER" "$NOOP"; do
  [ -x "$exe" ] || { echo "bench-rerank: $exe is not built" >&2; exit 1; }
done
[ -d "$ML100K" ] || { echo "bench-rerank: $ML100K is absent" >&2; exit 1; }
mkdir -p "$WORK"
WS="$WORK/ml100k.recwb"

if [ ! -f "$WS" ]; then
  "$CLI" import -w "$WS" -f ml-100k "$ML100K" > "$WORK/import.log" 2>&1
  "$CLI" train -w "$WS" --model ease > "$WORK/train.log" 2>&1
fi
# The endpoint points at this run's port (re-added each time: the port may differ).
"$CLI" endpoints remove bench -w "$WS" > /dev/null 2>&1 || true
"$CLI" endpoints add -w "$WS" --name bench --kind openai --base-url "http://127.0.0.1:$PORT/v1" --model small-1 \
  --price-input 0.1 --price-cached 0.025 --price-output 0.4 --max-concurrent "$CONCURRENCY" > /dev/null

"${server_sched[@]}" nice -n "$SERVER_NICE" "$SERVER" --port "$PORT" --fault "delay:$DELAY" > "$WORK/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening "$WORK/server.log" && break; sleep 0.1; done
grep -q listening "$WORK/server.log" || { echo "bench-rerank: the test server did not start" >&2; cat "$WORK/server.log" >&2; exit 1; }

echo "# $(date -u +%FT%TZ)  nproc $(nproc)  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)  load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $RUNS runs, delay $DELAY ms, concurrency $CONCURRENCY, server nice $SERVER_NICE, server $SERVER_SCHED, clients $CLIENT_SCHED, server cpus ${SERVER_CPUS:-all}, client cpus ${CLIENT_CPUS:-all}; ideal $(( CONCURRENCY * 1000 / DELAY )) users/s"
for i in $(seq "$RUNS"); do
  "${client_sched[@]}" "$NOOP" -w "$WS" --endpoint bench --concurrency "$CONCURRENCY" > "$WORK/noop$i.json"
  if [ -n "$BEFORE" ]; then
    "${client_sched[@]}" "$BEFORE" rerank -w "$WS" --cohort all --endpoint bench --concurrency "$CONCURRENCY" --no-cache --yes --json \
      > "$WORK/before$i.json" 2> "$WORK/before$i.err"
  fi
  "${client_sched[@]}" "$CLI" rerank -w "$WS" --cohort all --endpoint bench --concurrency "$CONCURRENCY" --no-cache --yes --json \
    > "$WORK/rerank$i.json" 2> "$WORK/rerank$i.err"
  echo "run $i done (load $(cut -d' ' -f1 /proc/loadavg))" >&2
done

python3 - "$WORK" "$RUNS" "$CONCURRENCY" "$DELAY" "${BEFORE:+before}" <<'EOF'
import json, statistics, sys
work, runs, conc, delay = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
kinds = (["before"] if len(sys.argv) > 5 and sys.argv[5] else []) + ["rerank"]
ideal = conc * 1000 / delay

def pct(v, q):  # linear interpolation, like numpy (and the batch summary)
    v = sorted(v)
    if not v:
        return 0.0
    x = (len(v) - 1) * q
    lo = int(x)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (x - lo)

noop = []
rate = {k: [] for k in kinds}
stages = ["candidates", "enrichment", "render", "parse", "client3", "llm"]
per_stage = {(kind, st): [] for kind in kinds for st in stages}
for i in range(1, runs + 1):
    n = json.load(open(f"{work}/noop{i}.json"))
    noop.append(n["users_per_second"])
    print(f"run {i}: no-op {n['users_per_second']:6.1f} users/s")
    for kind in kinds:
        r = json.load(open(f"{work}/{kind}{i}.json"))
        s = r["summary"]
        users = r["users"]
        ms = {k: [u["stage_ms"][k] for u in users] for k in ["candidates", "enrichment", "render", "parse", "llm"]}
        ms["client3"] = [u["stage_ms"]["enrichment"] + u["stage_ms"]["render"] + u["stage_ms"]["parse"] for u in users]
        rate[kind].append(s["users_per_second"])
        print(f"  {kind:7s} {s['users_per_second']:6.1f} users/s ({len(users)} users, {s['fallbacks']} fallbacks, "
              f"{s['wall_ms'] / 1000:.2f} s)")
        for k in stages:
            p = (pct(ms[k], 0.5), pct(ms[k], 0.95), pct(ms[k], 0.99))
            per_stage[(kind, k)].append(p)
            print(f"    {k:10s} p50 {p[0]:7.3f}  p95 {p[1]:7.3f}  p99 {p[2]:7.3f} ms")

def summary(name, v):
    print(f"{name:8s} median {statistics.median(v):6.1f} users/s  range {min(v):6.1f}-{max(v):6.1f}  "
          f"({100 * statistics.median(v) / ideal:.0f} % of the ideal {ideal:.0f})")

summary("no-op", noop)
for kind in kinds:
    summary(kind, rate[kind])
for kind in kinds:
    for k in stages:
        ps = per_stage[(kind, k)]
        meds = [statistics.median([p[j] for p in ps]) for j in range(3)]
        print(f"{kind:7s} {k:10s} median p50 {meds[0]:.3f}  p95 {meds[1]:.3f}  p99 {meds[2]:.3f} ms "
              f"(p99 range {min(p[2] for p in ps):.3f}-{max(p[2] for p in ps):.3f})")
EOF
