"""One shopper's stitched story told to the real `shoptrail` binary, and what its Braze sandbox recorded.

Jane browses two products while logged in (a Liquid-signed customer), waits (browse abandonment),
fills a cart, waits (cart abandonment), starts a checkout (Shopify's `checkouts/create` webhook),
waits (checkout abandonment), then orders, pays, gets her parcel and a refund (webhooks). The same
story is told to two shops of one server: `fixture-shop` with Braze's `ecommerce.*` naming and
`fixture-legacy` with the legacy connector's names. The abandonment windows are three seconds
(`allow_short_windows`), so the whole story takes well under a minute.

`run_story(workdir)` returns the recorded `/users/track` objects per shop, as `dump()` describes;
the marketer's guide test renders its Liquid against them, and `scripts/docs-screenshots` renders
the example emails from them.
"""
import base64
import copy
import hashlib
import hmac
import json
import re
import time
from pathlib import Path

from conftest import ROOT, Server, free_port, request, wait_for

FIXTURES = ROOT / "Tests" / "Fixtures" / "shopify"
API_SECRET = "story-shopify-api-secret"
SNIPPET_SECRET = "story-snippet-secret"
CUSTOMER_ID = "7364562091234567890"
EMAIL = "Jane.Doe@Example.com"
CART_TOKEN = "c1-7a5b3c9d0e1f2a3b4c5d6e7f8a9b0c1d"
WINDOW_SECONDS = 3

# naming -> (shop domain, write key, the external id Braze sees for Jane)
SHOPS = {
    "ecommerce": ("fixture-shop.myshopify.com", "pk_story_ecommerce", CUSTOMER_ID),
    "legacy": ("fixture-legacy.myshopify.com", "pk_story_legacy", EMAIL.lower()),
}

SWEATER = {"product_id": "9007199254741015", "variant_id": "9007199254741777", "title": "Merino Crew Sweater",
           "variant_title": "Navy / M", "handle": "merino-crew-sweater", "vendor": "Nordfaden", "type": "Sweaters",
           "price": 4990, "sku": "NF-MCS-NAVY-M", "image": "//cdn.shopify.com/s/files/1/0681/2345/products/merino-navy.jpg"}
BEANIE = {"product_id": "8123456789012345671", "variant_id": "8123456789012345693", "title": "Organic Cotton Beanie",
          "variant_title": "Charcoal", "handle": "organic-cotton-beanie", "vendor": "Nordfaden", "type": "Hats",
          "price": 2495, "sku": "NF-OCB-CHAR", "image": "//cdn.shopify.com/s/files/1/0681/2345/products/beanie-charcoal.jpg"}


def config_text(port, data_dir):
    """Two shops on one server, every abandonment kind on with three-second windows."""
    shops = []
    for naming, (domain, key, _) in SHOPS.items():
        shops.append(f"""  - domain: {domain}
    write_key: {key}
    snippet_secret: "{SNIPPET_SECRET}"
    shopify:
      api_secret: "{API_SECRET}"
    braze:
      events: {naming}
      external_id: {"customer_id" if naming == "ecommerce" else "email"}
    abandonment:
      allow_short_windows: true
      browse: {{ window: {WINDOW_SECONDS}s }}
      cart: {{ window: {WINDOW_SECONDS}s }}
      checkout: {{ window: {WINDOW_SECONDS}s }}
""")
    return f"server:\n  port: {port}\n  data_dir: {data_dir}\nshops:\n" + "".join(shops)


def now_iso(offset_seconds=0.0):
    t = time.time() + offset_seconds
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


class Story:
    """Jane's visits and Shopify's webhooks for one shop of a running server."""

    def __init__(self, base, naming):
        self.base = base
        self.naming = naming
        self.domain, self.write_key, self.external_id = SHOPS[naming]
        self.visitor = f"v_story_{naming}_jane01"
        self.sequence = 0

    def signed_customer(self):
        ts = str(int(time.time()))
        sig = hmac.new(SNIPPET_SECRET.encode(), f"{self.domain}:{CUSTOMER_ID}:{EMAIL}:{ts}".encode(), hashlib.sha256).hexdigest()
        return {"id": CUSTOMER_ID, "email": EMAIL, "ts": ts, "sig": sig}

    def beacon(self, page_type, path, events):
        """One batch, as the tracker sends it from a page where Jane is logged in."""
        stamped = []
        for name, properties in events:
            self.sequence += 1
            stamped.append({"id": f"story-{self.naming}-{self.sequence}", "name": name, "time": now_iso(), "properties": properties})
        body = {"write_key": self.write_key, "visitor_id": self.visitor, "session_id": "s_story_1", "sent_at": now_iso(),
                "context": {"page": {"type": page_type, "url": f"https://{self.domain}{path}"}, "currency": "EUR",
                            "customer": self.signed_customer()},
                "events": stamped}
        status, _, answer = request("POST", self.base + "/v1/batch", json.dumps(body), {"Content-Type": "text/plain"})
        assert status == 200, answer

    def product_view(self, product):
        """What the snippet's `product` object gives the tracker on a product page."""
        return ("product_viewed", {
            "product_id": product["product_id"], "variant_id": product["variant_id"], "title": product["title"],
            "handle": product["handle"], "vendor": product["vendor"], "type": product["type"], "price": product["price"],
            "currency": "EUR", "sku": product["sku"], "url": f"https://{self.domain}/products/{product['handle']}",
            "image_url": "https:" + product["image"]})

    def cart(self):
        """The whole cart as the tracker reads `/cart.js` (one sweater, two beanies)."""
        lines = []
        for product, quantity in ((SWEATER, 1), (BEANIE, 2)):
            lines.append({"cart_token": CART_TOKEN, "currency": "EUR", "quantity": quantity, "key": f"{product['variant_id']}:k",
                          "product_id": product["product_id"], "variant_id": product["variant_id"],
                          "product_title": product["title"], "variant_title": product["variant_title"], "sku": product["sku"],
                          "vendor": product["vendor"], "price": product["price"], "final_price": product["price"],
                          "url": f"/products/{product['handle']}?variant={product['variant_id']}", "image": product["image"]})
        # The tracker has already dropped Shopify's `?key=…` suffix from the token, as it does before every beacon.
        return ("cart_updated", {"cart_token": CART_TOKEN, "currency": "EUR", "total_price": 9980,
                                 "item_count": 3, "items": lines})

    def webhook(self, topic, body):
        raw = json.dumps(body).encode()
        self.sequence += 1
        headers = {"Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": self.domain,
                   "X-Shopify-API-Version": "2025-01", "X-Shopify-Event-Id": f"story-{self.naming}-{self.sequence}",
                   "X-Shopify-Hmac-Sha256": base64.b64encode(hmac.new(API_SECRET.encode(), raw, hashlib.sha256).digest()).decode()}
        status, _, answer = request("POST", self.base + "/webhooks/shopify", raw, headers)
        assert status == 200, (topic, answer)


def fixture(topic, **changes):
    body = json.loads((FIXTURES / (topic.replace("/", "__") + ".json")).read_text())
    body.update(changes)
    return body


def sandbox_base(server, timeout=60):
    return wait_for(lambda: (re.search(r"Braze sandbox .* on (http://127\.0\.0\.1:\d+)", server.logs()) or [None, None])[1],
                    timeout, "the sandbox line in the banner")


def tracked(sandbox):
    """Every object of every `/users/track` request the sandbox answered, in order."""
    status, _, requests = request("GET", sandbox + "/_sandbox/requests?path=/users/track")
    assert status == 200
    objects = {"events": [], "attributes": [], "purchases": []}
    for entry in requests:
        if entry["status"] not in (200, 201):
            continue
        body = entry["body"] if isinstance(entry["body"], dict) else json.loads(entry["body"])
        for kind in objects:
            objects[kind].extend(body.get(kind) or [])
    return objects


def event_names(sandbox, external_id):
    return [e["name"] for e in tracked(sandbox)["events"] if e.get("external_id") == external_id]


def dump(sandbox):
    """Per naming: `events` (name -> properties of each, in order), `attributes` (merged) and `purchases` of Jane."""
    objects = tracked(sandbox)
    out = {}
    for naming, (_, _, external_id) in SHOPS.items():
        events = {}
        for event in objects["events"]:
            if event.get("external_id") == external_id:
                events.setdefault(event["name"], []).append(event.get("properties") or {})
        attributes = {}
        for entry in objects["attributes"]:
            if entry.get("external_id") == external_id:
                attributes.update({k: v for k, v in entry.items() if k != "external_id"})
        purchases = [p for p in objects["purchases"] if p.get("external_id") == external_id]
        out[naming] = {"external_id": external_id, "events": events, "attributes": attributes, "purchases": purchases}
    return out


def run_story(workdir: Path):
    """Runs the story against a fresh server in `workdir`; returns `dump()` and writes it to `workdir/braze-story.json`."""
    port = free_port()
    config = workdir / "shoptrail.yml"
    config.write_text(config_text(port, workdir / "data"))
    server = Server(workdir, ["--config", str(config), "--sandbox-port", "0"])
    try:
        server.wait_banner()
        base = f"http://127.0.0.1:{port}"
        sandbox = sandbox_base(server)
        stories = [Story(base, naming) for naming in SHOPS]

        def arrived(name, story):
            return lambda: name in event_names(sandbox, story.external_id)

        for s in stories:
            s.webhook("customers/create", fixture("customers/create"))
            s.beacon("index", "/", [("page_viewed", {"url": f"https://{s.domain}/"}), ("customer_identified", {})])
            s.beacon("product", "/products/organic-cotton-beanie", [s.product_view(BEANIE)])
            s.beacon("product", "/products/merino-crew-sweater", [s.product_view(SWEATER)])
        for s in stories:
            wait_for(arrived("shoptrail_browse_abandoned", s), 90, f"browse abandonment ({s.naming})")
        for s in stories:
            s.beacon("cart", "/cart", [s.cart()])
        cart_event = {"ecommerce": "shoptrail_cart_abandoned", "legacy": "shopify_abandoned_cart"}
        for s in stories:
            wait_for(arrived(cart_event[s.naming], s), 90, f"cart abandonment ({s.naming})")
        for s in stories:
            s.webhook("checkouts/create", fixture("checkouts/create", created_at=now_iso(), updated_at=now_iso()))
        checkout_event = {"ecommerce": "shoptrail_checkout_abandoned", "legacy": "shopify_abandoned_checkout"}
        for s in stories:
            wait_for(arrived(checkout_event[s.naming], s), 90, f"checkout abandonment ({s.naming})")
        for s in stories:
            for topic in ("orders/create", "orders/paid", "orders/fulfilled", "refunds/create", "orders/cancelled"):
                s.webhook(topic, fixture(topic))
        last = {"ecommerce": "ecommerce.order_cancelled", "legacy": "shopify_cancelled_order"}
        for s in stories:
            wait_for(arrived(last[s.naming], s), 90, f"the order's events ({s.naming})")
            wait_for(arrived("shopify_created_refund" if s.naming == "legacy" else "ecommerce.order_refunded", s), 90, "the refund")
        result = dump(sandbox)
        (workdir / "braze-story.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
        return result
    finally:
        server.stop()


def latest(story, naming, event):
    """The properties of the last `event` Jane's profile got in the shop with this naming."""
    events = story[naming]["events"].get(event)
    assert events, f"the story produced no {event} ({naming}); it has {sorted(story[naming]['events'])}"
    return copy.deepcopy(events[-1])
