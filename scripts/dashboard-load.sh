#!/usr/bin/env bash
# The mixed dashboard load of issue 19: 16 connections over eight learner,
# trainer and org-admin endpoints (gamification stats and leaderboard among
# them), on `lumen demo` (SQLite, simulator scale medium: ~500 learners),
# after a warm-up that asks each endpoint twice. wrk with a Lua script that
# sends the eight requests in turn, each with its user's token; prints
# requests/s, p50/p90/p99/max and the timeouts (wrk's timeout: 2 s).
# On 127.0.0.1 only; stops by itself. Usage:
#   scripts/dashboard-load.sh [SECONDS]     (default 30)
#   LUMEN_BIN=path/to/lumen scripts/dashboard-load.sh   (another build,
#     e.g. the one before a change; default: cargo build --release)
# Needs wrk (Debian package `wrk`), curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-30}
PORT=${LUMEN_LOAD_PORT:-18491}
if [ -z "${LUMEN_BIN:-}" ]; then
  cargo build --release --locked --bin lumen
  LUMEN_BIN=target/release/lumen
fi
DIR=$(mktemp -d)
cleanup() {
  kill -0 "${LUMEN_PID:-0}" 2>/dev/null || { echo "lumen exited; its log:"; tail -20 "$DIR/lumen.log"; }
  kill "${LUMEN_PID:-}" 2>/dev/null || true
  wait "${LUMEN_PID:-}" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
# No workers: no batch or refresh runs during the measurement. Rate limits
# off (a benchmark sends far more than a user's budget).
LUMEN_WORKERS=0 LUMEN_LOG=warn LUMEN_RATE_LIMITS=off \
  "$LUMEN_BIN" demo --data-dir "$DIR" --port "$PORT" 2>"$DIR/lumen.log" &
LUMEN_PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 1200); do
  curl -fs "$BASE/api/v1/health/ready" >/dev/null 2>&1 && break
  sleep 0.5
done
login() {
  curl -fs -X POST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$1@demo.lumen.test\",\"password\":\"demo-password\"}"
}
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
L=$(login learner); T=$(login trainer); A=$(login admin)
LT=$(printf '%s' "$L" | field 'd["token"]'); LID=$(printf '%s' "$L" | field 'd["user"]["id"]')
TT=$(printf '%s' "$T" | field 'd["token"]'); TID=$(printf '%s' "$T" | field 'd["user"]["id"]')
AT=$(printf '%s' "$A" | field 'd["token"]'); OID=$(printf '%s' "$A" | field 'd["user"]["organizationId"]')
# path token, one per line
cat >"$DIR/endpoints" <<EOT
/api/v1/gamification/stats/$LID $LT
/api/v1/gamification/leaderboard $LT
/api/v1/learner/analytics/engagement/$LID $LT
/api/v1/learner/analytics/velocity/$LID $LT
/api/v1/trainer/analytics/course-performance/$TID $TT
/api/v1/trainer/analytics/course-health/$TID $TT
/api/v1/org-admin/analytics/learning-velocity/$OID $AT
/api/v1/org-admin/analytics/org-performance/$OID $AT
EOT
echo "== warm-up: each endpoint twice (time of each call)"
while read -r path token; do
  for n in 1 2; do
    out=$(curl -s -o "$DIR/body" -w '%{http_code} %{time_total}' -H "Authorization: Bearer $token" "$BASE$path")
    cached=$(grep -o '"cached":[a-z]*' "$DIR/body" | head -1 || true)
    echo "$n $out $cached $path"
  done
done <"$DIR/endpoints"
{
  echo 'local reqs = {'
  while read -r path token; do echo "  {\"$path\", \"Bearer $token\"},"; done <"$DIR/endpoints"
  echo '}'
  cat <<'EOT'
local n = 0
request = function()
  n = n + 1
  local r = reqs[(n % #reqs) + 1]
  return wrk.format("GET", r[1], { ["Authorization"] = r[2] })
end
done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  io.write(string.format("requests %d in %.1f s: %.1f requests/s\n", summary.requests, secs, summary.requests / secs))
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    io.write(string.format("p%s %.2f ms\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("max %.2f ms\n", latency.max / 1000))
  io.write(string.format("timeouts %d, connect errors %d, read errors %d, non-2xx/3xx %d\n",
    summary.errors.timeout, summary.errors.connect, summary.errors.read, summary.errors.status))
end
EOT
} >"$DIR/mix.lua"
echo "== wrk -t2 -c16 -d${SECS}s, eight endpoints in turn"
wrk -t2 -c16 -d"${SECS}s" -s "$DIR/mix.lua" "$BASE"
