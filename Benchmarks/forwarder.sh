#!/usr/bin/env bash
# Forwarder benchmark: the real forwarder (release build) against the Braze sandbox in a second
# process with a 3,000-requests-per-3-seconds limit, over loopback HTTP. Prints requests per 1,000
# events under load, backlog throughput, and the time to drain after an outage.
#   Benchmarks/forwarder.sh                          # 100k events, 10-minute outage at 200 events/s
#   EVENTS=20000 OUTAGE=60 Benchmarks/forwarder.sh   # quicker
#   ATTRIBUTE_EVERY=1 Benchmarks/forwarder.sh        # attribute updates and events mixed half and half
# The sandbox refuses a /users/track request of more than 75 objects in total (Braze's current limit), so
# a 400 in the output means the packer overfilled a request.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-100000}
USERS=${USERS:-5000}
RATE=${RATE:-5000}
OUTAGE=${OUTAGE:-600}
OUTAGE_RATE=${OUTAGE_RATE:-200}
PORT=${PORT:-19190}
ATTRIBUTE_EVERY=${ATTRIBUTE_EVERY:-0}
TRACK_OBJECTS=${TRACK_OBJECTS:-75}

swift build -c release --product shoptrail >&2
BIN=$(swift build -c release --show-bin-path)/shoptrail
WORK=$(mktemp -d)
cleanup() { kill "${SANDBOX_PID:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

"$BIN" sandbox braze --port "$PORT" --rate-limit 3000/3 --track-objects "$TRACK_OBJECTS" --api-key bench-key >"$WORK/sandbox.log" 2>&1 &
SANDBOX_PID=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/_sandbox/stats" && break; sleep 0.1; done

echo "forwarder benchmark: $EVENTS events, $USERS users, load at $RATE events/s, outage ${OUTAGE}s at $OUTAGE_RATE events/s; sandbox limit 3000 requests / 3 s"
"$BIN" bench-forwarder --braze "http://127.0.0.1:$PORT" --api-key bench-key --data "$WORK/data" \
  --events "$EVENTS" --users "$USERS" --rate "$RATE" --outage-seconds "$OUTAGE" --outage-rate "$OUTAGE_RATE" \
  --attribute-every "$ATTRIBUTE_EVERY" --track-objects "$TRACK_OBJECTS" 2>/dev/null
