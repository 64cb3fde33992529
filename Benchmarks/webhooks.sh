#!/usr/bin/env bash
# Webhook intake benchmark: signed `orders/create` deliveries (the fixture, ~4 KB) with unique
# delivery ids, driven by wrk against a release `shoptrail serve`; prints deliveries/s, latency
# percentiles and the deliveries stored against those acknowledged. The processor runs meanwhile.
#   Benchmarks/webhooks.sh            # 16 connections, 10 s
#   CONNECTIONS=64 DURATION=20s Benchmarks/webhooks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-16}
DURATION=${DURATION:-10s}
PORT=${PORT:-18180}
. Benchmarks/common.sh
need_wrk
swift build -c release --product shoptrail >&2
BIN=$(swift build -c release --show-bin-path)/shoptrail
WORK=$(mktemp -d)
cleanup() { kill "${SERVER_PID:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
SECRET=bench-secret-$$
cat > "$WORK/shoptrail.yml" <<YAML
server:
  port: $PORT
  data_dir: "$WORK/data"
shops:
  - domain: bench-shop.myshopify.com
    write_key: pk_bench_1
    shopify:
      api_secret: "$SECRET"
YAML
BODY_FILE=Tests/Fixtures/shopify/orders__create.json
HMAC=$(python3 -c 'import base64,hashlib,hmac,sys; print(base64.b64encode(hmac.new(sys.argv[1].encode(), open(sys.argv[2],"rb").read(), hashlib.sha256).digest()).decode())' "$SECRET" "$BODY_FILE")
"$BIN" serve --config "$WORK/shoptrail.yml" --sandbox-port 0 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
echo "webhook intake: $CONNECTIONS connections, $DURATION, body $(wc -c <"$BODY_FILE") bytes"
BODY_FILE=$BODY_FILE HMAC=$HMAC RUN=warm wrk -t2 -c"$CONNECTIONS" -d3s -s Benchmarks/webhook.lua "http://127.0.0.1:$PORT" >/dev/null
BODY_FILE=$BODY_FILE HMAC=$HMAC RUN=main wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s Benchmarks/webhook.lua "http://127.0.0.1:$PORT" | tee "$WORK/wrk.txt"
ACKED=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
sleep 1
STORED=$(sqlite3 "$WORK/data/shoptrail.sqlite" "select count(*) from events where source='webhook' and event_id like 'orders/create:bench-main-%'")
echo "acknowledged (wrk, 2xx and others): $ACKED, stored: $STORED"
grep -c "Non-2xx" "$WORK/wrk.txt" >/dev/null && grep "Non-2xx" "$WORK/wrk.txt" || echo "all answers 2xx"
