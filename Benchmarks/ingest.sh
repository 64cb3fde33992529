#!/usr/bin/env bash
# Durable-ingest benchmark: POST /v1/batch on a release build against a bare Hummingbird endpoint,
# both driven by wrk from a second process in the same run, then stored events vs acknowledged ones.
#   Benchmarks/ingest.sh                 # 64 connections, 10 s per measured run
#   CONNECTIONS=64 DURATION=10s SYNC=normal Benchmarks/ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
SYNC=${SYNC:-full}
PORT=${PORT:-18080}
BASE_PORT=${BASE_PORT:-18099}

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)…" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null; else sudo apt-get install -y -qq wrk >/dev/null; fi
fi

swift build -c release --product shoptrail >&2
BIN=$(swift build -c release --show-bin-path)/shoptrail

WORK=$(mktemp -d)
cleanup() { kill "${SERVER_PID:-}" "${BASE_PID:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

cat > "$WORK/shoptrail.yml" <<YAML
server:
  public_url: "http://127.0.0.1:$PORT"
  data_dir: "$WORK/data"
  sqlite_synchronous: $SYNC
shops:
  - domain: bench-shop.myshopify.com
    write_key: pk_bench_1
    allowed_origins: ["https://bench-shop.myshopify.com"]
YAML

wait_up() { for _ in $(seq 1 100); do curl -sf -o /dev/null -X "${2:-GET}" "$1" && return 0; sleep 0.1; done; echo "server at $1 did not start" >&2; exit 1; }

"$BIN" bench-baseline --port "$BASE_PORT" >"$WORK/base.log" 2>&1 & BASE_PID=$!
"$BIN" serve --config "$WORK/shoptrail.yml" --port "$PORT" --log-level warning >"$WORK/serve.log" 2>&1 & SERVER_PID=$!
wait_up "http://127.0.0.1:$BASE_PORT/healthz"
wait_up "http://127.0.0.1:$PORT/healthz"

run() { # url run-id duration -> RESULT line
  wrk -t2 -c"$CONNECTIONS" -d"$3" --latency -s Benchmarks/beacon.lua "$1" -- "$2" pk_bench_1 | grep '^RESULT'
}
field() { echo "$1" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2; }

run "http://127.0.0.1:$BASE_PORT" warm-base "$WARMUP" >/dev/null
BASE=$(run "http://127.0.0.1:$BASE_PORT" base "$DURATION")
WARM=$(run "http://127.0.0.1:$PORT" warm-ingest "$WARMUP")
INGEST=$(run "http://127.0.0.1:$PORT" ingest "$DURATION")

kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
STORED=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from events').fetchone()[0])" "$WORK/data/shoptrail.sqlite")

EVENTS_PER_REQUEST=2
python3 - "$BASE" "$INGEST" "$WARM" "$STORED" "$EVENTS_PER_REQUEST" "$CONNECTIONS" "$SYNC" <<'PY'
import sys
def parse(line): return {k: int(v) for k, v in (p.split("=") for p in line.split()[1:])}
base, ingest, warm = parse(sys.argv[1]), parse(sys.argv[2]), parse(sys.argv[3])
stored, per, conns, sync = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7]
def rps(r): return r["requests"] / (r["duration_us"] / 1e6)
def ok(r): return r["requests"] - r["non2xx"]
print(f"ingest benchmark: {conns} connections, wrk -t2, release build, sqlite synchronous={sync}")
print(f"{'scenario':<28}{'req/s':>10}{'events/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'sock err':>9}")
for name, r, ev in (("bare Hummingbird POST", base, 0), ("durable ingest /v1/batch", ingest, per)):
    print(f"{name:<28}{rps(r):>10.0f}{(rps(r) * ev):>11.0f}{r['p50_us']/1000:>9.2f}{r['p99_us']/1000:>9.2f}{r['non2xx']:>9}{r['socket_errors']:>9}")
ratio = rps(ingest) / rps(base)
acked = (ok(warm) + ok(ingest)) * per
print(f"ratio ingest/bare req/s: {ratio:.2f} (target >= 0.60: {'met' if ratio >= 0.6 else 'NOT met'})")
print(f"ingest p99: {ingest['p99_us']/1000:.2f} ms (target <= 10 ms: {'met' if ingest['p99_us'] <= 10000 else 'NOT met'})")
print(f"events acknowledged: {acked}, events stored: {stored} ({'no loss' if stored >= acked else 'LOSS'})")
sys.exit(0 if stored >= acked else 1)
PY
