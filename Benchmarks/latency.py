#!/usr/bin/env python3
"""Beacon -> Braze latency for a known (signed) customer, measured against the Braze sandbox.

Sends COUNT beacons at RATE per second to a running `shoptrail serve`, each with one `product_viewed`
event carrying a unique product id, from one logged-in customer (signed as the Liquid snippet signs
it). Records when each beacon was sent, then reads the sandbox's `/users/track` log until every
product id has arrived (or the deadline passes) and prints the arrival latency from the sandbox's own
receive time (same machine, same clock, millisecond precision).

  Benchmarks/latency.py --server http://127.0.0.1:18080 --braze http://127.0.0.1:19191 \
      --domain lat-shop.myshopify.com --write-key pk_lat_1 --snippet-secret S --tag pg --count 200 --rate 20
Prints one line: `LATENCY tag=… sent=… acked=… arrived=… p50_ms=… p95_ms=… max_ms=…`.
"""
import argparse
import calendar
import hashlib
import hmac
import json
import statistics
import sys
import time
import urllib.request


def now_iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def parse_iso(text):  # "2026-11-30T01:31:01.123Z"
    main, _, frac = text.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S")) + (int(frac) / 1000 if frac else 0)


def signed(secret, domain, customer):
    ts = str(int(time.time()))
    email = f"{customer}@example.com"
    sig = hmac.new(secret.encode(), f"{domain}:{customer}:{email}:{ts}".encode(), hashlib.sha256).hexdigest()
    return {"id": customer, "email": email, "ts": ts, "sig": sig}


def beacon_body(args, product_id, n):
    t = time.time()
    domain = args.domain
    return {"write_key": args.write_key, "visitor_id": f"v_{args.customer}_{args.tag}", "sent_at": now_iso(t),
            "context": {"page": {"type": "product", "url": f"https://{domain}/products/p{product_id}"}, "currency": "EUR",
                        "customer": signed(args.snippet_secret, domain, args.customer)},
            "events": [{"id": f"lat-{args.tag}-{n}", "name": "product_viewed", "time": now_iso(t),
                        "properties": {"product_id": product_id, "variant_id": product_id + "1", "title": f"Product {product_id}",
                                       "price": 1000, "currency": "EUR", "url": f"https://{domain}/products/p{product_id}"}}]}


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "text/plain"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def arrivals(braze, wanted):
    """product id -> earliest sandbox receive time, for the wanted ids seen in accepted /users/track requests."""
    with urllib.request.urlopen(braze + "/_sandbox/requests?path=/users/track", timeout=60) as r:
        entries = json.load(r)
    seen = {}
    for entry in entries:
        if entry.get("status") not in (200, 201):
            continue
        body = entry["body"] if isinstance(entry["body"], dict) else json.loads(entry["body"])
        at = parse_iso(entry["time"])
        for event in body.get("events") or []:
            pid = (event.get("properties") or {}).get("product_id")
            if pid in wanted and (pid not in seen or at < seen[pid]):
                seen[pid] = at
    return seen


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True)
    p.add_argument("--braze", required=True)
    p.add_argument("--domain", required=True)
    p.add_argument("--write-key", required=True)
    p.add_argument("--snippet-secret", required=True)
    p.add_argument("--customer", default="7001")
    p.add_argument("--tag", required=True, help="makes product ids unique to this run")
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--rate", type=float, default=20)
    p.add_argument("--deadline", type=float, default=120, help="seconds to wait for arrivals after the last send")
    args = p.parse_args()

    sent = {}  # product id -> send time, for beacons answered 200
    start = time.time()
    for n in range(args.count):
        due = start + n / args.rate
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        product_id = f"{args.tag}{n:06d}"
        t = time.time()
        if post(args.server + "/v1/batch", beacon_body(args, product_id, n)) == 200:
            sent[product_id] = t
    last_send = time.time()

    seen = {}
    while time.time() < last_send + args.deadline:
        seen = arrivals(args.braze, set(sent))
        if len(seen) == len(sent):
            break
        time.sleep(0.25)
    lat = sorted((seen[pid] - sent[pid]) * 1000 for pid in seen)
    if lat:
        q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else [lat[0]] * 99
        p50, p95 = statistics.median(lat), q[94]
    else:
        p50 = p95 = float("nan")
    print(f"LATENCY tag={args.tag} sent={args.count} acked={len(sent)} arrived={len(seen)} "
          f"p50_ms={p50:.0f} p95_ms={p95:.0f} max_ms={(lat[-1] if lat else float('nan')):.0f} "
          f"send_s={last_send - start:.1f}")
    return 0 if sent and len(seen) == len(sent) else 1


if __name__ == "__main__":
    sys.exit(main())
