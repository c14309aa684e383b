#!/usr/bin/env bash
# Daily batch throughput (subjects per second) on SQLite and PostgreSQL:
# the simulator at SCALE (small|medium|large) collected into an empty
# database, then `lumen batch --skip-collect` (2 workers, chunks of 100).
# Usage: scripts/batch-throughput.sh [SCALE]   (PostgreSQL on 127.0.0.1:5432)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-medium}
cargo build --release --locked --bin lumen --example bare_server
DIR=$(mktemp -d)
cleanup() { kill "${SIM_PID:-}" 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
target/release/lumen simulate --scale "$SCALE" --port 19192 --now 2026-11-21T00:00:00Z >"$DIR/env" 2>/dev/null &
SIM_PID=$!
for _ in $(seq 1 600); do [ -s "$DIR/env" ] && break; sleep 0.5; done
sleep 1
set -a; . <(tr ' ' '\n' <"$DIR/env"); set +a
export LUMEN_LOG=warn LUMEN_WORKERS=2
PG="lumen_batch_$SCALE"
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $PG" -c "CREATE DATABASE $PG" >/dev/null
for DB in "sqlite://$DIR/lumen.db" "postgres://postgres@127.0.0.1:5432/$PG"; do
  echo "== ${DB%%:*}"
  DATABASE_URL=$DB target/release/lumen collect | tail -1
  DATABASE_URL=$DB target/release/lumen batch --skip-collect 2>&1 | tail -1
done
