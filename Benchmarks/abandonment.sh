#!/usr/bin/env bash
# Abandonment timer benchmark (release build): arms TIMERS cart timers through the real tracker and
# SQLite store (1,000 per transaction, as the processor commits), then fires them all with the real
# scheduler (each one builds its Braze event and queues it in the outbox). Prints timers armed and
# fired per second, the process memory before, with all timers armed, and at peak, and the database size.
#   Benchmarks/abandonment.sh                # 1,000,000 timers
#   TIMERS=100000 Benchmarks/abandonment.sh  # quicker
set -euo pipefail
cd "$(dirname "$0")/.."
TIMERS=${TIMERS:-1000000}
swift build -c release --product shoptrail >&2
BIN=$(swift build -c release --show-bin-path)/shoptrail
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "abandonment benchmark: $TIMERS timers ($(nproc) cores)"
"$BIN" bench-abandonment --timers "$TIMERS" --data "$WORK"
