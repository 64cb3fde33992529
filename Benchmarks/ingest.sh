#!/usr/bin/env bash
# Durable-ingest benchmark: POST /v1/batch on a release build against a bare Hummingbird endpoint
# on the same path, both driven by wrk from a second process, interleaved in ROUNDS rounds so that
# machine noise hits both alike; then the events stored in SQLite against those acknowledged.
#   Benchmarks/ingest.sh                              # 64 connections, 3 rounds of 8 s each
#   CONNECTIONS=64 DURATION=8s ROUNDS=3 SYNC=normal Benchmarks/ingest.sh
#   BIN=/path/to/shoptrail Benchmarks/ingest.sh        # a binary built elsewhere (e.g. the commit before)
# The whole pipeline runs in the server meanwhile (processor, scheduler, forwarder); the processor's
# progress is read from the database at the end of the rounds, and how long it takes to catch up after.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-8s}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-3s}
SYNC=${SYNC:-full}
PORT=${PORT:-18080}
BASE_PORT=${BASE_PORT:-18099}

. Benchmarks/common.sh
need_wrk

release_bin

WORK=$(mktemp -d)
cleanup() { kill "${SERVER_PID:-}" "${BASE_PID:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

cat > "$WORK/shoptrail.yml" <<YAML
server:
  public_url: "http://127.0.0.1:$PORT"
  data_dir: "$WORK/data"
  sqlite_synchronous: $SYNC
  # One write key carries all the load: its rate limit (2,000 events/s by default) would answer most
  # requests with a fast 429 and flatter the ratio. Off, every request is a durable commit.
  limits:
    events_per_write_key_per_minute: 0
shops:
  - domain: bench-shop.myshopify.com
    write_key: pk_bench_1
    allowed_origins: ["https://bench-shop.myshopify.com"]
YAML

wait_up() { for _ in $(seq 1 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "server at $1 did not start" >&2; exit 1; }

"$BIN" bench-baseline --port "$BASE_PORT" >"$WORK/base.log" 2>&1 & BASE_PID=$!
"$BIN" serve --config "$WORK/shoptrail.yml" --port "$PORT" --log-level notice >"$WORK/serve.log" 2>&1 & SERVER_PID=$!
wait_up "http://127.0.0.1:$BASE_PORT/healthz"
wait_up "http://127.0.0.1:$PORT/healthz"

run() { # url run-id duration -> RESULT line
  wrk -t2 -c"$CONNECTIONS" -d"$3" --latency -s Benchmarks/beacon.lua "$1" -- "$2" pk_bench_1 | grep '^RESULT'
}

RESULTS="$WORK/results.txt"
DB="$WORK/data/shoptrail.sqlite"
progress() { # "events processed seconds": the log's length and the processor's position, read while the server runs
  python3 - "$DB" <<'PY'
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], timeout=30)
events = con.execute("select coalesce(max(position), 0) from events").fetchone()[0]
row = con.execute("select position from processor_position where name = 'storefront'").fetchone()
print(events, row[0] if row else 0, f"{time.time():.3f}")
PY
}
run "http://127.0.0.1:$BASE_PORT" warm-base "$WARMUP" >/dev/null
START_PROGRESS=$(progress)
echo "ingest $(run "http://127.0.0.1:$PORT" warm-ingest "$WARMUP")" | sed 's/^ingest/warm/' >> "$RESULTS"
for r in $(seq 1 "$ROUNDS"); do
  echo "base $(run "http://127.0.0.1:$BASE_PORT" "base$r" "$DURATION")" >> "$RESULTS"
  echo "ingest $(run "http://127.0.0.1:$PORT" "ingest$r" "$DURATION")" >> "$RESULTS"
done

END_PROGRESS=$(progress)
# The processor's catching up after the load (bounded wait; the figure says if it did not finish).
CATCHUP_START=$(date +%s.%N)
for _ in $(seq 1 1200); do
  read -r E P _ <<<"$(progress)"
  [ "$P" -ge "$E" ] && break
  sleep 0.1
done
CAUGHT_UP=$(progress)
CATCHUP_END=$(date +%s.%N)
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
STORED=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from events').fetchone()[0])" "$WORK/data/shoptrail.sqlite")
TRANSACTIONS=$(grep -o 'transactions=[0-9]*' "$WORK/serve.log" | cut -d= -f2 || true)
BACKGROUND=$(grep -o 'background_[a-z_]*=[0-9]*' "$WORK/serve.log" | tr '\n' ' ' || true)

python3 - "$RESULTS" "$STORED" "$CONNECTIONS" "$SYNC" "${TRANSACTIONS:-?}" "$START_PROGRESS" "$END_PROGRESS" "$CAUGHT_UP" "$CATCHUP_START" "$CATCHUP_END" "${BACKGROUND:-}" <<'PY'
import statistics, sys
EVENTS_PER_REQUEST = 2
rows = []
for line in open(sys.argv[1]):
    kind, _, *fields = line.split()
    rows.append((kind, {k: int(v) for k, v in (f.split("=") for f in fields)}))
stored, conns, sync, transactions = int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rps = lambda r: r["requests"] / (r["duration_us"] / 1e6)
base = [r for k, r in rows if k == "base"]
ingest = [r for k, r in rows if k == "ingest"]
med = lambda xs: statistics.median(xs)
print(f"ingest benchmark: {conns} connections, wrk -t2 on the same 2 cores, release build, "
      f"sqlite synchronous={sync}, {len(base)} interleaved rounds (medians)")
print(f"{'scenario':<28}{'req/s':>10}{'events/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'sock err':>9}")
for name, rs, ev in (("bare Hummingbird POST", base, 0), ("durable ingest /v1/batch", ingest, EVENTS_PER_REQUEST)):
    print(f"{name:<28}{med([rps(r) for r in rs]):>10.0f}{med([rps(r) * ev for r in rs]):>11.0f}"
          f"{med([r['p50_us'] for r in rs])/1000:>9.2f}{med([r['p99_us'] for r in rs])/1000:>9.2f}"
          f"{sum(r['non2xx'] for r in rs):>9}{sum(r['socket_errors'] for r in rs):>9}")
ratios = [rps(i) / rps(b) for b, i in zip(base, ingest)]
ratio = med(ratios)
p99 = med([r["p99_us"] for r in ingest]) / 1000
print(f"ratio ingest/bare req/s per round: {', '.join(f'{x:.2f}' for x in ratios)}; median {ratio:.2f} "
      f"(target >= 0.60: {'met' if ratio >= 0.6 else 'NOT met'})")
print(f"ingest p99 (median of rounds): {p99:.2f} ms (target <= 10 ms: {'met' if p99 <= 10 else 'NOT met'})")
acked = sum((r["requests"] - r["non2xx"]) * EVENTS_PER_REQUEST for k, r in rows if k in ("warm", "ingest"))
batches = sum(r["requests"] for k, r in rows if k in ("warm", "ingest"))
print(f"group commit: {batches} batches in {transactions} transactions")
if sys.argv[11].strip():
    print(f"write scheduler: {sys.argv[11].strip()}")
print(f"events acknowledged: {acked}, events stored: {stored} ({'no loss' if stored >= acked else 'LOSS'})")
(e0, p0, t0), (e1, p1, t1), (e2, p2, _) = (tuple(float(x) for x in a.split()) for a in sys.argv[6:9])
c0, c1 = float(sys.argv[9]), float(sys.argv[10])
print(f"processor during the rounds: {p1 - p0:.0f} of {e1 - e0:.0f} events appended ({(p1 - p0) / (t1 - t0):.0f} events/s while ingest ran); "
      f"behind by {e1 - p1:.0f} at the end")
print(f"processor after the load: {p2 - p1:.0f} events in {c1 - c0:.1f} s ({(p2 - p1) / max(c1 - c0, 1e-3):.0f} events/s), "
      f"{'caught up' if p2 >= e2 else f'still {e2 - p2:.0f} behind'}")
sys.exit(0 if stored >= acked else 1)
PY
