#!/usr/bin/env bash
# Latency of one analytics GET by where the answer comes from: computed
# (every cache layer cold), L2 (a restarted instance: empty L1, results in
# the database) and L1 (the same instance again). The demo organisation
# (simulator scale medium), the demo learner's ten learner-bundle analytics,
# curl's total time, on 127.0.0.1. Usage: scripts/latency.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=18090
cargo build --release --locked --bin lumen
DIR=$(mktemp -d)
cleanup() { kill "${PID:-}" 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
start() {
  LUMEN_WORKERS=0 LUMEN_LOG=warn LUMEN_RATE_LIMITS=off \
    target/release/lumen demo --data-dir "$DIR" --port $PORT 2>>"$DIR/lumen.log" &
  PID=$!
  for _ in $(seq 1 600); do
    curl -fs "http://127.0.0.1:$PORT/api/v1/health/ready" >/dev/null 2>&1 && return
    sleep 0.5
  done
  echo "lumen did not start" >&2; exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }
start
LOGIN=$(curl -fs -X POST "http://127.0.0.1:$PORT/api/v1/auth/login" \
  -H 'content-type: application/json' \
  -d '{"email":"learner@demo.lumen.test","password":"demo-password"}')
TOKEN=$(printf '%s' "$LOGIN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
USER=$(printf '%s' "$LOGIN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["id"])')
PATHS="learner/analytics/velocity learner/analytics/skill-gap learner/analytics/engagement
learner/analytics/mastery learner/analytics/performance learner/analytics/content-effectiveness
comparison/peer predictive/drop-off-risk predictive/forecast predictive/recommendations"
measure() { # $1: label
  for p in $PATHS; do
    curl -s -o /dev/null -w "$1 $p %{http_code} %{time_total}\n" \
      -H "Authorization: Bearer $TOKEN" -H 'X-Active-Role: learner' \
      "http://127.0.0.1:$PORT/api/v1/$p/$USER"
  done
}
{
  measure computed
  stop; start
  measure l2
  measure l1
} | tee "$DIR/times.txt"
python3 - "$DIR/times.txt" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
by = {}
for layer, path, code, t in rows:
    by.setdefault(path, {})[layer] = (code, float(t) * 1000)
print("\n| analytic | computed (ms) | L2 hit (ms) | L1 hit (ms) |\n|---|---|---|---|")
for path, d in by.items():
    cell = lambda k: f"{d[k][1]:.1f}" + ("" if d[k][0] == "200" else f" ({d[k][0]})")
    print(f"| {path.split('/')[-1]} | {cell('computed')} | {cell('l2')} | {cell('l1')} |")
for k in ("computed", "l2", "l1"):
    print(f"median {k}: {statistics.median(d[k][1] for d in by.values()):.1f} ms")
PY
