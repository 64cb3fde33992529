"""Issue 14, part 3: a few thousand hostile requests against the real binary (fixed seed).

Every answer is a 2xx or a 4xx with a JSON `error`; never a 5xx, a dropped connection or a crash;
what was accepted is processed (the processor passes a later beacon); stalled half-sent bodies do
not stop the server answering; its memory stays bounded. No timing is asserted.
"""
import base64
import copy
import hashlib
import hmac
import http.client
import json
import random
import re
import socket
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import ROOT, free_port, query, request, wait_for

SEED = 1413
SHOP = "fuzz.myshopify.com"
LEGACY_SHOP = "fuzz-legacy.myshopify.com"
KEYS = {SHOP: "pk_fuzz_1", LEGACY_SHOP: "pk_fuzz_2"}
API_SECRET = "fuzz-api-secret"
SNIPPET_SECRET = "fuzz-snippet-secret"
ORIGIN = f"https://{SHOP}"
FIXTURES = ROOT / "Tests" / "Fixtures" / "shopify"
# Topics that only add or update (the redaction topics would delete what the final check reads).
TOPICS = ["orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled", "orders/partially_fulfilled",
          "refunds/create", "checkouts/create", "checkouts/update", "customers/create", "customers/update", "customers/delete",
          "customers_email_marketing_consent/update", "customers_marketing_consent/update", "products/create", "products/update",
          "products/delete", "inventory_levels/update"]
EVENT_NAMES = ["page_viewed", "product_viewed", "collection_viewed", "search_submitted", "cart_viewed", "product_added_to_cart",
               "product_removed_from_cart", "cart_updated", "checkout_started", "checkout_completed", "customer_identified",
               "customer_logged_out", "consent_updated", "payment_info_submitted"]
# JSON text no Python value serializes to: placed as "__RAW_n__" strings, swapped in after json.dumps.
RAW_NUMBERS = ["1e400", "-1e400", "1e19", "-1e19", "-0", "0.5", "-1", "9223372036854775808", "-9223372036854775809",
               "123456789012345678901234567890", "1E+2", "4.9e-324"]
HOSTILE = [None, True, False, [], {}, [1, "x"], {"a": {"b": None}}, "12", "1e400", "inf", "NaN", "", "x" * 10_240, "é😀",
           "\u0000", "<script>", "-9223372036854775808", 0, -1, 0.5]
ODD_IDS = ["", "a b", "../../etc", "é", "x" * 65, "x" * 64, "id\u0000", "id\n", "<i>", "a/b", "1e400", ".", ":", "-_-", "\uffff"]
CONTENT_TYPES = ["text/plain", "application/json", "application/x-www-form-urlencoded", None, "multipart/form-data; boundary=x",
                 "application/json; charset=utf-16", "image/png", ""]
INVALID_UTF8 = [b"\xff\xfe", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80", b"\xe2\x82"]


def raw_json(value, rng):
    """json.dumps, then some "__RAW__" placeholders become hostile number literals."""
    text = json.dumps(value, ensure_ascii=rng.random() < 0.5)
    text = re.sub('"__RAW__"', lambda _: rng.choice(RAW_NUMBERS), text)
    return text.encode("utf-8", "surrogatepass")


def hostile_value(rng):
    return "__RAW__" if rng.random() < 0.4 else copy.deepcopy(rng.choice(HOSTILE))


def hostile_leaves(value, rng, p):
    """Replaces leaves (numbers, strings, nulls) with hostile values, each with probability p."""
    if isinstance(value, dict):
        return {k: hostile_leaves(v, rng, p) for k, v in value.items()}
    if isinstance(value, list):
        return [hostile_leaves(v, rng, p) for v in value]
    return hostile_value(rng) if rng.random() < p else value


def now_iso(offset_seconds=0):
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + offset_seconds))


def properties_for(name, rng):
    """Properties shaped like what the tracker and the pixel send, so hostile values reach the mappers."""
    line = {"product_id": "8012345678901", "variant_id": "44012345678901", "quantity": 2, "price": 4990, "final_price": 4990,
            "title": "Shirt", "product_title": "Shirt", "sku": "SKU-1", "image": "//cdn.example.com/a.png", "url": "/products/shirt"}
    props = {
        "product_viewed": {"product_id": "8012345678901", "variant_id": "44012345678901", "price": 4990, "currency": "EUR",
                           "title": "Shirt", "vendor": "V", "type": "T", "image_url": "//cdn/x.png", "url": "/products/shirt"},
        "cart_updated": {"cart_token": "c1-abc", "currency": "EUR", "total_price": 9980, "item_count": 2, "items": [line, dict(line)]},
        "product_added_to_cart": {"cart_token": "c1-abc", "currency": "EUR", "items": [line], "line": line},
        "checkout_started": {"checkout_token": "ck-1", "currency": "EUR", "total_price": "99.80",
                             "line_items": [{"variant_id": "44012345678901", "product_id": "8012345678901", "quantity": 2,
                                             "price": "49.90", "title": "Shirt"}]},
        "checkout_completed": {"checkout_token": "ck-1", "order_id": "9007199254740993", "currency": "EUR", "total_price": "99.80",
                               "line_items": [{"variant_id": "44012345678901", "quantity": 1, "price": "49.90"}]},
        "search_submitted": {"query": "shirt"},
    }.get(name, {"url": f"https://{SHOP}/"})
    return hostile_leaves(props, rng, rng.choice([0.0, 0.2, 0.6]))


def signed_customer(rng, shop=SHOP):
    cid = rng.choice(["7001234567890", "1e400", "", "-1", "x" * 200])
    email = rng.choice(["a@example.com", "", "é@x"])
    ts = rng.choice([str(int(time.time())), "-9223372036854775808", "9223372036854775807", "0", "abc"])
    sig = hmac.new(SNIPPET_SECRET.encode(), f"{shop}:{cid}:{email}:{ts}".encode(), hashlib.sha256).hexdigest()
    if rng.random() < 0.3:
        sig = rng.choice(["", "0" * 64, sig.upper(), sig[:-1]])
    return {"id": cid, "email": email, "ts": ts, "sig": sig}


class Counter:
    def __init__(self):
        self.n = 0

    def next(self, prefix):
        self.n += 1
        return f"{prefix}{self.n}"


def batch_object(rng, ids, shop=SHOP):
    events = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        name = rng.choice(EVENT_NAMES)
        events.append({"id": ids.next("h-"), "name": name, "time": now_iso(-rng.randint(0, 3600)), "properties": properties_for(name, rng)})
    context = {"page": {"type": "product", "url": f"https://{shop}/products/x"}, "cart_token": "c1-abc"}
    if rng.random() < 0.3:
        context["customer"] = signed_customer(rng, shop)
    return {"write_key": KEYS[shop], "visitor_id": f"v_hostile_{rng.randint(0, 40):04d}", "session_id": "s_1", "sent_at": now_iso(),
            "context": context, "events": events}


def hostile_batch_body(rng, ids, shop=SHOP):
    """A batch body: valid, with hostile values in a field, or broken at the byte level."""
    obj = batch_object(rng, ids, shop)
    kind = rng.randrange(12)
    if kind == 0:  # a hostile value in an envelope field
        obj[rng.choice(["write_key", "visitor_id", "session_id", "sent_at", "context", "events"])] = hostile_value(rng)
    elif kind == 1:  # a hostile value in an event field, or an odd id
        event = obj["events"][0]
        field = rng.choice(["id", "name", "time", "properties"])
        event[field] = rng.choice(ODD_IDS) if field == "id" and rng.random() < 0.7 else hostile_value(rng)
    elif kind == 2:  # an odd visitor or session id
        obj[rng.choice(["visitor_id", "session_id"])] = rng.choice(ODD_IDS)
    elif kind == 3:  # unknown, reserved or extra fields
        rng.choice([obj, obj["events"][0], obj["context"]])[rng.choice(["extra", "$app_proxy", "$x", "__proto__"])] = {"logged_in_customer_id": "1"}
    elif kind == 4:  # too many events, or none
        obj["events"] = [] if rng.random() < 0.3 else [dict(obj["events"][0], id=ids.next("m-")) for _ in range(101)]
    body = raw_json(obj, rng)
    if kind == 5:  # truncated at a byte
        body = body[: rng.randrange(len(body))]
    elif kind == 6:  # flipped or invalid UTF-8 bytes
        b = bytearray(body)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(b) + 1)
            if rng.random() < 0.5 and at < len(b):
                b[at] ^= 1 << rng.randrange(8)
            else:
                b[at:at] = rng.choice(INVALID_UTF8)
        body = bytes(b)
    elif kind == 7:  # deep nesting inside the properties
        depth = rng.choice([10, 11, 64, 1000, 10_000])
        nested = b"[" * depth + b"1" + b"]" * depth if rng.random() < 0.5 else b'{"a":' * depth + b"1" + b"}" * depth
        body = body.replace(b'"properties": ', b'"properties": {"n": ' + nested + b"}, \"_\": ", 1) if rng.random() < 0.2 \
            else body.replace(b'"properties": {', b'"properties": {"n": ' + nested + b", ", 1)
    elif kind == 8:  # a duplicate member name, sometimes escaped
        name = rng.choice([b'"write_key"', b'"\\u0077rite_key"', b'"visitor_id"', b'"events"'])
        body = b"{" + name + b': "pk_other", ' + body[1:]
    elif kind == 9:  # around the 64 KiB limit
        size = rng.choice([65_535, 65_536, 65_537, 70 * 1024, 200_000])
        obj["events"][0]["properties"] = {"pad": ""}
        base = raw_json(obj, rng)
        body = base.replace(b'"pad": ""', b'"pad": "' + b"p" * max(0, size - len(base)) + b'"', 1)
    elif kind == 10:  # empty, whitespace or not JSON at all
        body = rng.choice([b"", b" ", b"null", b"[]", b"\"x\"", b"write_key=pk_fuzz_1", b"\xef\xbb\xbf{}", b"{}"])
    return body


def proxy_query(rng, shop=SHOP):
    """The query Shopify appends through the App Proxy: signed or not, repeated, extreme."""
    params = [("shop", shop), ("logged_in_customer_id", rng.choice(["", "7001234567890", "1e400", "é", "x" * 300])),
              ("path_prefix", "/apps/shoptrail"), ("timestamp", str(int(time.time())))]
    kind = rng.randrange(8)
    if kind == 1:
        params[3] = ("timestamp", rng.choice(["-9223372036854775808", "9223372036854775807", "99999999999999999999", "-0", "abc", "", "1e9"]))
    elif kind == 2:
        params.append((rng.choice(["logged_in_customer_id", "shop", "timestamp", "path_prefix"]), "555"))
    elif kind == 3:
        params = [p for p in params if p[0] != rng.choice(["shop", "timestamp", "logged_in_customer_id"])]
    elif kind == 4:
        params.append(("extra", rng.choice(["1", "%", "&", "=", "é"])))
    grouped = {}
    for name, value in params:
        grouped.setdefault(name, []).append(value)
    message = "".join(f"{n}={','.join(grouped[n])}" for n in sorted(grouped))
    signature = hmac.new(API_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    if kind == 5:
        signature = rng.choice(["", "0" * 64, signature[:-2], "zz" * 32])
    encoded = [f"{urllib.parse.quote(n, safe='')}={urllib.parse.quote(v, safe='')}" for n, v in params]
    if kind != 6:
        encoded.append(f"signature={signature}")
    if kind == 7:
        encoded.append(f"signature={signature}")
    if rng.random() < 0.05:
        encoded = [rng.choice(["%", "%zz", "a=%ff", "==", "&&&", "shop"])] + encoded
    return "&".join(encoded)


def webhook_request(rng, ids, fixtures):
    topic = rng.choice(TOPICS)
    payload = hostile_leaves(fixtures[topic], rng, rng.choice([0.0, 0.1, 0.4]))
    body = raw_json(payload, rng)
    kind = rng.randrange(10)
    if kind == 1:
        body = body[: rng.randrange(len(body))]
    elif kind == 2:
        depth = rng.choice([63, 64, 65, 10_000])
        body = b'{"id": ' + b"[" * depth + b"]" * (depth if rng.random() < 0.7 else 0) + b"}"
    elif kind == 3:
        body = rng.choice([b"", b"[]", b"null", b"1e400", b"\xff\xfe{}", b'{"id":1,"id":2}'])
    headers = {"X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": rng.choice([SHOP, SHOP, LEGACY_SHOP]),
               "X-Shopify-Webhook-Id": ids.next("wh-"), "Content-Type": "application/json",
               "X-Shopify-Hmac-Sha256": base64.b64encode(hmac.new(API_SECRET.encode(), body, hashlib.sha256).digest()).decode()}
    spoil = rng.randrange(12)
    if spoil == 0:
        del headers["X-Shopify-Hmac-Sha256"]
    elif spoil == 1:
        headers["X-Shopify-Hmac-Sha256"] = rng.choice(["", "x", "A" * 44, base64.b64encode(b"\0" * 32).decode()])
    elif spoil == 2:
        headers["X-Shopify-Hmac-Sha256"] = base64.b64encode(hmac.new(b"wrong", body, hashlib.sha256).digest()).decode()
    elif spoil == 3:
        headers["X-Shopify-Shop-Domain"] = rng.choice(["", "unknown.myshopify.com", "FUZZ.MYSHOPIFY.COM", "x" * 300])
    elif spoil == 4:
        headers["X-Shopify-Topic"] = rng.choice(["", "orders/unknown", "../x", "x" * 200, "orders/create "])
    elif spoil == 5:
        headers["X-Shopify-Webhook-Id"] = rng.choice(["", "x" * 101, "é", "a b"])
    return "/webhooks/shopify", headers, body


def send(port, method, path, headers, body, chunked=False):
    """One request on its own connection: (status, JSON or text) or ("error", what happened)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        if chunked:
            conn.request(method, path, body=iter([body[i:i + 8192] for i in range(0, len(body), 8192)] or [b""]), headers=headers, encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw[:200]
    except OSError as err:  # resets, broken pipes, timeouts
        return "error", repr(err)
    except http.client.HTTPException as err:
        return "error", repr(err)
    finally:
        conn.close()


def generate(rng, fixtures):
    ids = Counter()
    out = []
    for i in range(3000):
        route = i % 4
        headers = {}
        chunked = False
        if route == 3:
            path, headers, body = webhook_request(rng, ids, fixtures)
        else:
            shop = SHOP if route != 2 or rng.random() < 0.9 else LEGACY_SHOP
            body = hostile_batch_body(rng, ids, shop)
            path = ["/v1/batch", "/v1/pixel/batch", ""][route] or "/proxy/v1/batch?" + proxy_query(rng, shop)
            content_type = rng.choice(CONTENT_TYPES)
            if content_type:
                headers["Content-Type"] = content_type
            if route == 0 and rng.random() < 0.3:
                headers["Origin"] = rng.choice([ORIGIN, "https://evil.example", "null", ""])
            chunked = rng.random() < 0.05
        out.append((path, headers, body, chunked))
    return out


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")






def write_config(tmp_path, port):
    path = tmp_path / "shoptrail.yml"
    path.write_text(f"""
server:
  port: {port}
  data_dir: ./data
  sqlite_synchronous: normal
  admin_token: "admin-token-for-hostile-tests"
shops:
  - domain: {SHOP}
    write_key: {KEYS[SHOP]}
    allowed_origins: ["{ORIGIN}"]
    snippet_secret: "{SNIPPET_SECRET}"
    shopify:
      api_secret: "{API_SECRET}"
    app_proxy: {{}}
    braze:
      anonymous: forward
    abandonment:
      browse: {{}}
      cart: {{}}
      checkout: {{}}
  - domain: {LEGACY_SHOP}
    write_key: {KEYS[LEGACY_SHOP]}
    snippet_secret: "{SNIPPET_SECRET}"
    shopify:
      api_secret: "{API_SECRET}"
    braze:
      events: legacy
""")
    return path


def stall(port, path):
    """Headers announcing 60000 bytes, one body byte, then nothing."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 60000\r\n\r\n{{".encode())
    return s


def test_hostile_requests_get_a_4xx_or_2xx_and_the_server_keeps_processing(tmp_path, server_factory):
    port = free_port()
    config = write_config(tmp_path, port)
    server = server_factory(["--config", str(config), "--sandbox-port", "0"])
    server.wait_banner()
    db = tmp_path / "data" / "shoptrail.sqlite"
    pid = server.proc.pid
    base = f"http://127.0.0.1:{port}"
    assert request("GET", f"{base}/healthz")[0] == 200
    rss_before = rss_kb(pid)

    fixtures = {t: json.loads((FIXTURES / (t.replace("/", "__") + ".json")).read_text()) for t in TOPICS}
    rng = random.Random(SEED)
    cases = generate(rng, fixtures)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda c: send(port, "POST", c[0], c[1], c[2], c[3]), cases))

    problems = []
    statuses = {}
    for (path, headers, body, _), (status, answer) in zip(cases, answers):
        statuses[status] = statuses.get(status, 0) + 1
        ok = isinstance(status, int) and (200 <= status < 300 or (400 <= status < 500 and isinstance(answer, dict) and isinstance(answer.get("error"), str)))
        if not ok:
            problems.append(f"{path.split('?')[0]} {headers} body[:120]={body[:120]!r} -> {status} {str(answer)[:200]}")
    # A field value with a control character is malformed HTTP: NIO's parser answers a bare 400 before
    # any route runs (no JSON: there is no request to route). Still a 4xx, and the server stays up.
    status, answer = send(port, "POST", "/v1/batch", {"Content-Type": "\x7f"}, b"{}")
    assert status == 400, answer
    assert not problems, f"{len(problems)} bad answers of {len(cases)}, e.g.:\n" + "\n".join(problems[:10])
    assert server.proc.poll() is None, server.logs()[-3000:]
    # Both kinds of answer were exercised, on every route.
    assert sum(v for k, v in statuses.items() if 200 <= k < 300) > 100 and sum(v for k, v in statuses.items() if 400 <= k < 500) > 1000, statuses

    # ~200 connections stall mid-body; the server still answers health checks and beacons meanwhile.
    routes = ["/v1/batch", "/v1/pixel/batch", "/proxy/v1/batch?shop=" + SHOP, "/webhooks/shopify"]
    stalled = [stall(port, routes[i % 4]) for i in range(200)]
    try:
        assert request("GET", f"{base}/healthz", timeout=60)[0] == 200
        beacon = json.dumps(batch_object(random.Random(1), Counter()) | {"events": [{"id": "during-stall", "name": "page_viewed", "time": now_iso()}]})
        status, _, answer = request("POST", f"{base}/v1/batch", beacon, {"Content-Type": "text/plain"}, timeout=60)
        assert status == 200, answer
    finally:
        for s in stalled:
            s.close()

    # Everything accepted gets processed: the processor passes an ordinary beacon sent last.
    last = json.dumps({"write_key": KEYS[SHOP], "visitor_id": "v_hostile_last", "sent_at": now_iso(),
                       "events": [{"id": "hostile-last", "name": "page_viewed", "time": now_iso()}]})
    status, _, answer = request("POST", f"{base}/v1/batch", last, {"Content-Type": "text/plain"}, timeout=60)
    assert status == 200, answer
    position = query(db, "select position from events where event_id = 'hostile-last'")[0][0]

    def processed():
        rows = query(db, "select position from processor_position where name = 'storefront'")
        return bool(rows) and rows[0][0] >= position
    wait_for(processed, 120, message="the processor to pass the last beacon")
    assert query(db, "select count(*) from processor_quarantine") == [(0,)], query(db, "select event_id, reason from processor_quarantine")
    assert server.proc.poll() is None, server.logs()[-3000:]
    assert request("GET", f"{base}/healthz")[0] == 200

    rss_after = rss_kb(pid)
    print(f"hostile: {len(cases)} requests, answers {statuses}, RSS {rss_before // 1024} MB -> {rss_after // 1024} MB")
    assert rss_after < 300 * 1024, f"RSS grew to {rss_after} kB (from {rss_before} kB)"
