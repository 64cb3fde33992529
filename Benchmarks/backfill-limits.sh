#!/usr/bin/env bash
# Backfill against a rate-limited Braze: a generated shop (`shoptrail sandbox shopify`), a Braze sandbox with a low
# rate limit (every group, so /users/export/ids too) and, by default, a competing client that spends the export window
# now and then. Runs `shoptrail backfill --yes`, delivers the outbox with `shoptrail serve`, then prints: new users,
# users with subscription states (as counted by the job and as found in Braze), export requests, 429s seen (by the
# backfill and by the sandbox) and the backfill's exit status.
#   Benchmarks/backfill-limits.sh                       # 3,000 customers, 12,000 orders, 5 requests/s
#   CUSTOMERS=5000 ORDERS=20000 RATE=2/1 COMPETE=0 Benchmarks/backfill-limits.sh
#   CONFIGURATION=release Benchmarks/backfill-limits.sh  # builds a release binary first
set -euo pipefail
cd "$(dirname "$0")/.."
CUSTOMERS=${CUSTOMERS:-3000}
ORDERS=${ORDERS:-12000}
RATE=${RATE:-5/1}
COMPETE=${COMPETE:-1}
CONFIGURATION=${CONFIGURATION:-debug}
SHOPIFY_PORT=${SHOPIFY_PORT:-19291}
BRAZE_PORT=${BRAZE_PORT:-19290}
SERVE_PORT=${SERVE_PORT:-19280}
SHOP=fixture-shop.myshopify.com
KEY=bench-braze-key
swift build -c "$CONFIGURATION" --product shoptrail >&2
BIN=$(swift build -c "$CONFIGURATION" --show-bin-path)/shoptrail
WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

"$BIN" sandbox shopify --port "$SHOPIFY_PORT" --customers "$CUSTOMERS" --orders "$ORDERS" \
  --scopes read_customers,read_orders,read_all_orders,read_products >"$WORK/shopify.log" 2>&1 &
PIDS+=($!)
"$BIN" sandbox braze --port "$BRAZE_PORT" --api-key "$KEY" --rate-limit "$RATE" >"$WORK/braze.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 300); do
  curl -sf -o /dev/null "http://127.0.0.1:$SHOPIFY_PORT/_emulator/stats" && curl -sf -o /dev/null "http://127.0.0.1:$BRAZE_PORT/_sandbox/stats" && break
  sleep 0.1
done

cat > "$WORK/shoptrail.yml" <<YAML
server:
  port: $SERVE_PORT
  data_dir: "$WORK/data"
shops:
  - domain: $SHOP
    write_key: pk_bench_1
    shopify:
      api_secret: "bench-secret"
      admin_api_url: "http://127.0.0.1:$SHOPIFY_PORT"
      admin_access_token: "shpat_emulator_token"
    braze:
      rest_endpoint: "http://127.0.0.1:$BRAZE_PORT"
      api_key: "$KEY"
      email_subscription_group_id: "grp-email-1"
      sms_subscription_group_id: "grp-sms-1"
YAML

if [ "$COMPETE" = 1 ]; then
  # Another client of the same workspace: one export request every 0.3 s.
  ( while true; do
      curl -s -o /dev/null -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        -d '{"external_ids":["someone-else"]}' "http://127.0.0.1:$BRAZE_PORT/users/export/ids" || true
      sleep 0.3
    done ) &
  PIDS+=($!)
  COMPETITOR=$!
fi

echo "backfill: $CUSTOMERS customers, $ORDERS orders, Braze rate limit $RATE per group, competing client: $COMPETE"
set +e
"$BIN" backfill --config "$WORK/shoptrail.yml" --shop "$SHOP" --days 90 --yes >"$WORK/backfill.log" 2>&1
STATUS=$?
set -e
[ -n "${COMPETITOR:-}" ] && kill "$COMPETITOR" 2>/dev/null || true
tail -n 12 "$WORK/backfill.log"
BRAZE_STATS=$(curl -sf "http://127.0.0.1:$BRAZE_PORT/_sandbox/stats")

# Deliver what was enqueued, then look at Braze.
"$BIN" serve --config "$WORK/shoptrail.yml" --sandbox-port 0 >"$WORK/serve.log" 2>&1 &
SERVE=$!
PIDS+=($SERVE)
for _ in $(seq 1 3000); do
  PENDING=$("$BIN" outbox status --config "$WORK/shoptrail.yml" 2>/dev/null | sed -n 's/.*pending=\([0-9]*\).*/\1/p' | head -n 1)
  [ "${PENDING:-1}" = 0 ] && break
  sleep 1
done
kill "$SERVE" 2>/dev/null || true
curl -sf "http://127.0.0.1:$BRAZE_PORT/_sandbox/users" >"$WORK/users.json"

python3 - "$WORK/data/shoptrail.sqlite" "$WORK/users.json" "$STATUS" "$SHOP" <<'PY' "$BRAZE_STATS"
import json, sqlite3, sys
db, users_path, status, shop, stats = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5])
row = sqlite3.connect(db).execute("select state, reason, counts from backfill_jobs where shop = ?", (shop,)).fetchone()
state, reason, counts = row[0], row[1], json.loads(row[2])
users = json.load(open(users_path))
with_states = sum(1 for u in users if (u.get("subscriptions") or {}).get("subscription_groups"))
export = stats.get("requests", {}).get("POST /users/export/ids", {})
print(f"exit status:                 {status} (job {state}{', ' + reason if reason else ''})")
print(f"new users:                   {counts.get('new_users')}")
print(f"with subscription states:    {counts.get('subscription_states')} (job), {with_states} (Braze profiles with subscription groups)")
print(f"export requests (backfill):  {counts.get('braze_lookups')}, answered 429: {counts.get('braze_rate_limited')}")
print(f"export requests (sandbox):   {sum(export.values())} by status {export} (the competing client included)")
print(f"braze profiles:              {len(users)}")
PY
