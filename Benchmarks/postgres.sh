#!/usr/bin/env bash
# PostgreSQL engine benchmark (issue 16), release build, on a throwaway PostgreSQL server of its own
# (scripts/test-postgres, stopped at exit) and a fresh database per run:
#  1. ingest: POST /v1/batch on PostgreSQL against a bare Hummingbird endpoint (`shoptrail bench-baseline`),
#     interleaved in ROUNDS rounds; first ONE `serve` instance (wrk -t2 -c64), then TWO instances on the
#     same database (two wrk processes at 32 connections each, one per instance, req/s summed; the bare
#     rounds get the same two wrk processes against the one bare endpoint). Then events stored against
#     events acknowledged.
#  2. processor: how fast the log is processed after the load (per-shop cursor against the log, polled
#     with psql; bounded by CATCHUP_MAX seconds).
#  3. beacon -> Braze latency for a known customer (Benchmarks/latency.py against `shoptrail sandbox braze`),
#     on PostgreSQL and on SQLite (the default engine) in the same run.
#  4. peak RSS (VmHWM) of every serve process.
#   Benchmarks/postgres.sh                              # 3 rounds of 8 s per phase, 200 beacons at 20/s
#   ROUNDS=3 DURATION=8s CATCHUP_MAX=180 BEACONS=200 BEACON_RATE=20 Benchmarks/postgres.sh
#   BIN=/path/to/shoptrail Benchmarks/postgres.sh        # a binary built elsewhere
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-8s}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-3s}
CATCHUP_MAX=${CATCHUP_MAX:-180}
BEACONS=${BEACONS:-200}
BEACON_RATE=${BEACON_RATE:-20}
# Five distinct free ports by default (held open together while drawn): other sessions may hold fixed ones.
read -r P1 P2 P3 P4 P5 <<<"$(python3 -c 'import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))')"
PORT=${PORT:-$P1}; PORT2=${PORT2:-$P2}; LAT_PORT=${LAT_PORT:-$P3}; BASE_PORT=${BASE_PORT:-$P4}; BRAZE_PORT=${BRAZE_PORT:-$P5}
HALF=$((CONNECTIONS / 2))
PG=scripts/test-postgres

. Benchmarks/common.sh
need_wrk

release_bin

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  local rc=$?
  if [ "$rc" != 0 ]; then for f in "$WORK"/*/serve.log; do [ -f "$f" ] && { echo "== $f" >&2; tail -5 "$f" >&2; }; done; fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${PG_DIR:-}" ] && "$PG" stop "$PG_DIR" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

LOAD_BEFORE=$(uptime)
eval "$("$PG" start)"
PG_DIR=$SHOPTRAIL_TEST_POSTGRES_DIR
SERVER_URL=$SHOPTRAIL_TEST_POSTGRES_URL
psql_() { "$PG" psql "$1" "$2"; }
fresh_db() { # NAME -> URL of a new, empty database on the server
  psql_ "$SERVER_URL" "CREATE DATABASE $1" >/dev/null
  echo "${SERVER_URL%/*}/$1"
}
SUFFIX=$(date +%s)_$$
DB_URL=$(fresh_db "bench_ingest_$SUFFIX")
LAT_DB_URL=$(fresh_db "bench_latency_$SUFFIX")

LIMITS="  limits:
    events_per_write_key_per_minute: 0"
# The bench shop names the external sandbox: a shop without a Braze key starts an in-process sandbox on
# port 9090, which a second instance on the same machine could not bind. Its visitors are anonymous
# (braze.anonymous: hold), so nothing is sent.
bench_config() { # DIR PORT -> ingest config on PostgreSQL
  mkdir -p "$1"
  cat > "$1/shoptrail.yml" <<YAML
server:
  public_url: "http://127.0.0.1:$2"
  data_dir: "$1/data"
$LIMITS
storage:
  engine: postgres
  url_env: SHOPTRAIL_BENCH_PG
shops:
  - domain: bench-shop.myshopify.com
    write_key: pk_bench_1
    allowed_origins: ["https://bench-shop.myshopify.com"]
    braze:
      rest_endpoint: "http://127.0.0.1:$BRAZE_PORT"
      api_key: "bench-braze-key"
YAML
}
latency_config() { # DIR PORT ENGINE(postgres|sqlite) -> a shop with a snippet secret, forwarding to the sandbox
  mkdir -p "$1"
  local storage=""
  [ "$3" = postgres ] && storage=$'storage:\n  engine: postgres\n  url_env: SHOPTRAIL_BENCH_PG'
  cat > "$1/shoptrail.yml" <<YAML
server:
  public_url: "http://127.0.0.1:$2"
  data_dir: "$1/data"
$storage
shops:
  - domain: lat-shop.myshopify.com
    write_key: pk_lat_1
    snippet_secret: "bench-snippet-secret"
    braze:
      rest_endpoint: "http://127.0.0.1:$BRAZE_PORT"
      api_key: "bench-braze-key"
YAML
}

wait_up() { # URL [PID]: gives up at once when the process has exited
  for _ in $(seq 1 1800); do
    curl -sf -o /dev/null "$1" && return 0
    if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then echo "server for $1 exited" >&2; exit 1; fi
    sleep 0.1
  done
  echo "server at $1 did not start" >&2; exit 1
}
serve() { # DIR PORT DB_URL; sets SERVE_PID (a child of this shell, so that it can be waited for)
  SHOPTRAIL_BENCH_PG="$3" "$BIN" serve --config "$1/shoptrail.yml" --port "$2" --log-level notice >"$1/serve.log" 2>&1 &
  SERVE_PID=$!; PIDS+=("$SERVE_PID")
}
peak_rss() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; } # kB
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

run() { # url run-id connections threads duration -> RESULT line
  wrk -t"$4" -c"$3" -d"$5" --latency -s Benchmarks/beacon.lua "$1" -- "$2" pk_bench_1 | grep '^RESULT'
}
run_pair() { # url-a url-b run-id duration -> two RESULT lines, wrk processes in parallel
  run "$1" "$3a" "$HALF" 1 "$4" > "$WORK/pair_a" & local a=$!
  run "$2" "$3b" "$HALF" 1 "$4" > "$WORK/pair_b" & local b=$!
  wait "$a" "$b"
  cat "$WORK/pair_a" "$WORK/pair_b"
}

"$BIN" bench-baseline --port "$BASE_PORT" >"$WORK/base.log" 2>&1 & PIDS+=($!)
"$BIN" sandbox braze --port "$BRAZE_PORT" --api-key bench-braze-key --no-rate-limits >"$WORK/sandbox.log" 2>&1 & PIDS+=($!)
bench_config "$WORK/a" "$PORT"
bench_config "$WORK/b" "$PORT2"
serve "$WORK/a" "$PORT" "$DB_URL"; A_PID=$SERVE_PID
BASE="http://127.0.0.1:$BASE_PORT"; A="http://127.0.0.1:$PORT"; B="http://127.0.0.1:$PORT2"
wait_up "$BASE/healthz"
wait_up "$A/healthz" "$A_PID"
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$BRAZE_PORT/_sandbox/stats" && break; sleep 0.1; done

RESULTS="$WORK/results.txt"
# "total processed": events in the log, and those at or below their shop's processor cursor.
progress() {
  psql_ "$DB_URL" "SELECT (SELECT count(*) FROM events) || ' ' || (SELECT count(*) FROM events e JOIN processor_position p
    ON p.shop = e.shop AND p.name = 'storefront' AND e.position <= p.position)"
}

# 1a. one instance
LOAD_T0=$(date +%s.%N)
run "$BASE" warm-base "$CONNECTIONS" 2 "$WARMUP" >/dev/null
echo "warm $(run "$A" warm-ingest "$CONNECTIONS" 2 "$WARMUP")" >> "$RESULTS"
for r in $(seq 1 "$ROUNDS"); do
  echo "base1 $(run "$BASE" "base$r" "$CONNECTIONS" 2 "$DURATION")" >> "$RESULTS"
  echo "ingest1 $(run "$A" "one$r" "$CONNECTIONS" 2 "$DURATION")" >> "$RESULTS"
done

# 1b. two instances on the same database
serve "$WORK/b" "$PORT2" "$DB_URL"; B_PID=$SERVE_PID
wait_up "$B/healthz" "$B_PID"
run_pair "$B" "$B" warm2 "$WARMUP" | sed 's/^/warm /' >> "$RESULTS"
for r in $(seq 1 "$ROUNDS"); do
  run_pair "$BASE" "$BASE" "base2_$r" "$DURATION" | sed 's/^/base2 /' >> "$RESULTS"
  run_pair "$A" "$B" "two$r" "$DURATION" | sed 's/^/ingest2 /' >> "$RESULTS"
done

# 2. the processor catching up after the load (bounded wait; the figure says if it did not finish)
read -r E0 P0 <<<"$(progress)"
C0=$(date +%s.%N)
while :; do
  read -r E P <<<"$(progress)"
  C1=$(date +%s.%N)
  [ "$P" -ge "$E" ] && break
  python3 -c "import sys; sys.exit(0 if float(sys.argv[2]) - float(sys.argv[1]) < float(sys.argv[3]) else 1)" "$C0" "$C1" "$CATCHUP_MAX" || break
  sleep 1
done
STORED=$(psql_ "$DB_URL" "SELECT count(*) FROM events")
LEASES=$(psql_ "$DB_URL" "SELECT count(DISTINCT owner) FROM processor_leases")
RSS_A=$(peak_rss "$A_PID"); RSS_B=$(peak_rss "$B_PID")
stop "$A_PID"; stop "$B_PID"

# 3. beacon -> Braze latency, PostgreSQL then SQLite, one instance each, nothing else loading it
# One engine's run: sets LAT_OUT (latency.py's summary) and RSS_OUT (the instance's peak RSS).
latency_run() { # DIR ENGINE DB_URL TAG
  latency_config "$1" "$LAT_PORT" "$2"
  serve "$1" "$LAT_PORT" "$3"; L_PID=$SERVE_PID
  wait_up "http://127.0.0.1:$LAT_PORT/healthz" "$L_PID"
  LAT_OUT=$(python3 Benchmarks/latency.py --server "http://127.0.0.1:$LAT_PORT" --braze "http://127.0.0.1:$BRAZE_PORT" \
    --domain lat-shop.myshopify.com --write-key pk_lat_1 --snippet-secret bench-snippet-secret --tag "$4$SUFFIX" \
    --count "$BEACONS" --rate "$BEACON_RATE" || true)
  RSS_OUT=$(peak_rss "$L_PID"); stop "$L_PID"
}
latency_run "$WORK/lpg" postgres "$LAT_DB_URL" pg; LAT_PG=$LAT_OUT; RSS_LPG=$RSS_OUT
latency_run "$WORK/lsq" sqlite "" sq; LAT_SQ=$LAT_OUT; RSS_LSQ=$RSS_OUT
LOAD_AFTER=$(uptime)

python3 - "$RESULTS" "$STORED" "$CONNECTIONS" "$E0 $P0 $C0" "$E $P $C1" "$LEASES" "$RSS_A $RSS_B $RSS_LPG $RSS_LSQ" \
  "$LAT_PG" "$LAT_SQ" "$LOAD_BEFORE" "$LOAD_AFTER" "$LOAD_T0" <<'PY'
import statistics, sys
EVENTS_PER_REQUEST = 2
rows = []
for line in open(sys.argv[1]):
    kind, _, *fields = line.split()
    rows.append((kind, {k: int(v) for k, v in (f.split("=") for f in fields)}))
stored, conns = int(sys.argv[2]), int(sys.argv[3])
rps = lambda r: r["requests"] / (r["duration_us"] / 1e6)
med = statistics.median

def rounds(kind, per_round):
    rs = [r for k, r in rows if k == kind]
    # one RESULT per round for one wrk process; two consecutive ones (a, b) per round for a pair
    return [rs[i:i + per_round] for i in range(0, len(rs), per_round)]

print(f"PostgreSQL engine benchmark: release build, PostgreSQL 15 on loopback, wrk on the same cores, "
      f"{conns} connections, {len(rounds('base1', 1))} interleaved rounds per phase (medians)")
print(f"load before: {sys.argv[10].strip()}")
print(f"{'scenario':<50}{'req/s':>9}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'sock err':>9}")
for title, kb, ki, per in (("one instance", "base1", "ingest1", 1), ("two instances, one database", "base2", "ingest2", 2)):
    base, ingest = rounds(kb, per), rounds(ki, per)
    for name, rs, ev in ((f"bare Hummingbird POST ({'1 wrk' if per == 1 else '2 wrk x ' + str(conns // 2)})", base, 0),
                         (f"ingest on PostgreSQL, {title}", ingest, EVENTS_PER_REQUEST)):
        total = [sum(rps(r) for r in rr) for rr in rs]
        p50 = [statistics.mean(r["p50_us"] for r in rr) for rr in rs]
        p99 = [max(r["p99_us"] for r in rr) for rr in rs]
        print(f"{name:<50}{med(total):>9.0f}{med(total) * ev:>10.0f}{med(p50) / 1000:>9.2f}{med(p99) / 1000:>9.2f}"
              f"{sum(r['non2xx'] for rr in rs for r in rr):>9}{sum(r['socket_errors'] for rr in rs for r in rr):>9}")
    ratios = [sum(rps(r) for r in i) / sum(rps(r) for r in b) for b, i in zip(base, ingest)]
    print(f"  ratio {title} / bare req/s per round: {', '.join(f'{x:.2f}' for x in ratios)}; median {med(ratios):.2f}")
print("  (two instances: req/s summed over both wrk processes, p50 the mean of the two, p99 the larger)")
acked = sum((r["requests"] - r["non2xx"]) * EVENTS_PER_REQUEST for k, r in rows if k in ("warm", "ingest1", "ingest2"))
print(f"events acknowledged: {acked}, events stored: {stored} ({'no loss' if stored >= acked else 'LOSS'}); "
      f"shops' processor leases held by {sys.argv[6]} instance(s)")
e0, p0, c0 = (float(x) for x in sys.argv[4].split())
e1, p1, c1 = (float(x) for x in sys.argv[5].split())
t0 = float(sys.argv[12])
print(f"processor during the load: {p0:.0f} of {e0:.0f} events in {c0 - t0:.0f} s ({p0 / (c0 - t0):.0f} events/s while ingest ran)")
print(f"processor after the load: {e0 - p0:.0f} behind when the load stopped; {p1 - p0:.0f} events in {c1 - c0:.1f} s "
      f"= {(p1 - p0) / max(c1 - c0, 1e-3):.0f} events/s, {'caught up' if p1 >= e1 else f'still {e1 - p1:.0f} behind (CATCHUP_MAX)'}")
for label, line in (("PostgreSQL", sys.argv[8]), ("SQLite", sys.argv[9])):
    f = dict(x.split("=", 1) for x in line.split()[1:]) if line.startswith("LATENCY") else {}
    if f:
        print(f"beacon -> Braze latency, known customer, {label}: {f['acked']} of {f['sent']} beacons acknowledged "
              f"(sent over {f['send_s']} s), {f['arrived']} arrived; p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms, max {f['max_ms']} ms")
    else:
        print(f"beacon -> Braze latency, {label}: no result ({line!r})")
rss = [int(x) / 1024 for x in sys.argv[7].split()]
print(f"peak RSS (VmHWM): ingest instance A {rss[0]:.0f} MB, B {rss[1]:.0f} MB; "
      f"latency instance PostgreSQL {rss[2]:.0f} MB, SQLite {rss[3]:.0f} MB")
print(f"load after: {sys.argv[11].strip()}")
sys.exit(0 if stored >= acked else 1)
PY
