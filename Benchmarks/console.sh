#!/usr/bin/env bash
# Console benchmark: a store of 1,000,000 events (written in bulk through Storage), the console served
# by the release build, each page requested over loopback HTTP; prints the median and slowest answer
# time per page and fails when a page's median is over 200 ms.
#   Benchmarks/console.sh                  # 1,000,000 events
#   EVENTS=100000 Benchmarks/console.sh    # quicker
#   BIN=.build/debug/shoptrail Benchmarks/console.sh   # without a release build (slower pages)
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-1000000}
REPEATS=${REPEATS:-20}
. Benchmarks/common.sh
release_bin
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$BIN" bench-console --events "$EVENTS" --repeats "$REPEATS" --data "$WORK"
