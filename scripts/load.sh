#!/usr/bin/env bash
# Cached analytics GET through Lumen's whole stack (JWT, policy, rate limit,
# L1 hit) against a bare axum handler returning the same bytes, with wrk,
# 64 connections, on 127.0.0.1 only. Stops by itself. Usage:
#   scripts/load.sh [SECONDS]          (default 20 per run)
# Needs wrk (Debian package `wrk`) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-20}
LUMEN_PORT=18080
BARE_PORT=18081
cargo build --release --locked --bin lumen --example bare_server
DIR=$(mktemp -d)
cleanup() { kill "${LUMEN_PID:-}" "${BARE_PID:-}" 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
# No workers (no background batch during the run); the analytics limit is
# raised so it does not trip, but the limiter still runs on every request.
LUMEN_WORKERS=0 LUMEN_LOG=warn LUMEN_RATE_LIMIT_ANALYTICS=1000000000/1h \
  target/release/lumen demo --data-dir "$DIR" --port $LUMEN_PORT 2>"$DIR/lumen.log" &
LUMEN_PID=$!
for _ in $(seq 1 600); do
  curl -fs "http://127.0.0.1:$LUMEN_PORT/api/v1/health/ready" >/dev/null 2>&1 && break
  sleep 0.5
done
LOGIN=$(curl -fs -X POST "http://127.0.0.1:$LUMEN_PORT/api/v1/auth/login" \
  -H 'content-type: application/json' \
  -d '{"email":"learner@demo.lumen.test","password":"demo-password"}')
TOKEN=$(printf '%s' "$LOGIN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
USER=$(printf '%s' "$LOGIN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["id"])')
URL="http://127.0.0.1:$LUMEN_PORT/api/v1/learner/analytics/engagement/$USER"
curl -fs -H "Authorization: Bearer $TOKEN" "$URL" >/dev/null             # compute
curl -fs -H "Authorization: Bearer $TOKEN" "$URL" >"$DIR/body.json"      # L1 hit
grep -q '"cached":true' "$DIR/body.json"
target/release/examples/bare_server "$DIR/body.json" $BARE_PORT &
BARE_PID=$!
sleep 1
echo "== bare axum handler, same $(wc -c <"$DIR/body.json") bytes"
wrk -t2 -c64 -d"${SECS}s" --latency "http://127.0.0.1:$BARE_PORT/"
echo "== Lumen, cached GET /api/v1/learner/analytics/engagement/{userId}"
wrk -t2 -c64 -d"${SECS}s" --latency -H "Authorization: Bearer $TOKEN" "$URL"
