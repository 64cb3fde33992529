"""The storefront kit without a browser: build freshness and size, generation, the served tracker, the pixel."""
import gzip
import html
import json
import re
import shutil
import subprocess
import sys
import time
from http.client import HTTPConnection
from pathlib import Path

import pytest
from liquid import DictLoader, Environment

import size_check
from conftest import ADMIN_TOKEN, ROOT, SHOPS, binary, http, wait_for
from storefront import CUSTOMER, COLLECTION, PRODUCTS, Storefront, f_hmac_sha256, f_image_url, f_json, f_money, product_drop


def node_or_skip():
    """The node binary that runs the built tracker and the pixel; the test is skipped without it."""
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed")
    return node


def test_committed_build_is_fresh():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "build-tracker"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_tracker_is_within_its_size_budget(capsys):
    assert size_check.main() == 0
    print(capsys.readouterr().out)
    _, _, gz = size_check.tracker_sizes()
    assert gz <= size_check.LIMIT


@pytest.mark.parametrize("script", ["shoptrail.min.js", "braze-loader.min.js"])
def test_tracker_parses_as_es2017_and_uses_one_global(tmp_path, script):
    # node --check parses the build; a sandboxed run shows that loading it defines only window.ShopTrail
    # (the Braze loader lives in the tracker's namespace too).
    node = node_or_skip()
    assert subprocess.run([node, "--check", str(ROOT / "Public" / script)]).returncode == 0
    probe = tmp_path / "probe.js"
    probe.write_text("""
const vm = require('vm'), fs = require('fs');
const window = { document: { getElementById: () => null, addEventListener() {}, cookie: '' }, addEventListener() {} };
window.window = window;
const before = new Set(Object.keys(window));
vm.runInNewContext(fs.readFileSync(process.argv[2], 'utf8'), { window, document: window.document, location: {}, navigator: {} });
console.log(JSON.stringify(Object.keys(window).filter((k) => !before.has(k))));
""")
    out = subprocess.run([node, str(probe), str(ROOT / "Public" / script)], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == ["ShopTrail"]


# A /cart.js answer written to trip a careless quoting of ids: ids beyond 2^53 with odd spacing,
# id-like text inside strings (escaped quotes, a backslash before a quote), a decimal, an exponent.
TRICKY_CART = (
    '{"token":"c1-x?key=y","currency":"EUR","total_price":5001,"item_count":2,"items":[\n'
    ' {"id" : 9007199254740995 ,"key":"9007199254740995:k","product_id":\t9007199254740993,"variant_id":9007199254740995,'
    '"product_title":"Tote \\"id\\": 9007199254740995, \\\\\\"product_id\\":1}","variant_title":"{\\"variant_id\\":12}",'
    '"sku":"x","price":2500,"final_price":2500.5,"url":"/p?variant_id=9007199254740995","image":null,"quantity":2,'
    '"properties":{"_id":12,"paid":3,"g_id":1e3,"selling_plan_id":-1}}]}'
)


# The built tracker in node on a fake page: consent given, no storage, every /cart.js read answered by
# `cartAnswer()`. A probe's `before` defines cartAnswer and `page` (navigator, fetch); its `after` drives the
# tracker through `w.ShopTrail` and prints JSON.
FAKE_PAGE = """
const vm = require('vm'), fs = require('fs');
const config = JSON.stringify({ write_key: 'k', endpoint: '/v1/batch', cart: '/cart.js', context: { page: { type: 'index' } } });
class XMLHttpRequest {
  open() {}
  send() { this.status = 200; this.responseText = cartAnswer(); setTimeout(() => this.onloadend(), 0); }
}
const w = vm.createContext(Object.assign({
  document: { getElementById: () => ({ getAttribute: () => config }), addEventListener() {}, cookie: '', title: 't', referrer: '' },
  location: { href: 'https://shop.example/', protocol: 'https:' }, addEventListener() {},
  Shopify: { customerPrivacy: { analyticsProcessingAllowed: () => true } },
  XMLHttpRequest, crypto: require('crypto').webcrypto, setTimeout, clearTimeout, URL,
}, page));
w.window = w;
vm.runInContext(fs.readFileSync(process.argv[2], 'utf8'), w);
"""


def run_tracker_in_node(tmp_path, before, after, *args):
    node = node_or_skip()
    probe = tmp_path / "probe.js"
    probe.write_text(before + FAKE_PAGE + after)
    tracker = str(ROOT / "Public" / "shoptrail.min.js")
    return json.loads(subprocess.run([node, str(probe), tracker, *args], capture_output=True, text=True, check=True).stdout)


def test_ids_are_read_from_the_cart_text_exactly(tmp_path):
    beacons = run_tracker_in_node(tmp_path, """
const beacons = [], cartAnswer = () => process.argv[3];
const page = { navigator: { sendBeacon: (url, body) => beacons.push(JSON.parse(body)) } };
""", """
setTimeout(() => { w.ShopTrail.flush(); console.log(JSON.stringify(beacons)); }, 50);
""", TRICKY_CART)
    events = [e for b in beacons for e in b["events"]]
    cart = next(e for e in events if e["name"] == "cart_updated")["properties"]
    expected = json.loads(TRICKY_CART)["items"][0]
    item = cart["items"][0]
    assert (item["product_id"], item["variant_id"]) == ("9007199254740993", "9007199254740995")
    # Everything else is exactly what JSON.parse gives: strings untouched, numbers still numbers.
    for field in ("key", "product_title", "variant_title", "sku", "price", "final_price", "url", "image"):
        assert item[field] == expected[field], field
    assert item["product_title"] == 'Tote "id": 9007199254740995, \\"product_id":1}'
    assert (cart["cart_token"], cart["total_price"], cart["item_count"]) == ("c1-x", 5001, 2)


def test_events_tracked_while_a_fetch_is_in_flight_are_sent_after_it(tmp_path):
    # sendBeacon refuses (a full beacon queue, a blocked API): each batch goes by fetch, whose answer is held
    # back. Events tracked before that answer must not ride on the batch already sent, or they leave the
    # queue with it, unsent.
    sent = run_tracker_in_node(tmp_path, """
const sent = [], answers = [];
const carts = [{ token: 'c1-a', items: [], item_count: 0 },
  { token: 'c1-a', item_count: 1, items: [{ key: 'v1:k', variant_id: 1, product_id: 2, quantity: 1 }] }];
const cartAnswer = () => JSON.stringify(carts.length > 1 ? carts.shift() : carts[0]);
const page = {
  navigator: { sendBeacon: () => false },
  fetch: (url, init) => { sent.push(JSON.parse(init.body).events.map((e) => e.name)); return new Promise((ok) => answers.push(ok)); },
};
""", """
const later = (ms) => new Promise((ok) => setTimeout(ok, ms));
(async () => {
  await later(50);
  w.ShopTrail.flush();          // the page's first batch leaves by fetch, and its answer waits
  w.ShopTrail.cart();           // the cart changes while it waits: an add is tracked
  await later(400);
  answers.shift()({ status: 200 });
  await later(50);
  w.ShopTrail.flush();
  console.log(JSON.stringify(sent));
})();
""")
    assert sent[0] == ["page_viewed", "cart_updated"], sent
    # The add, tracked while the first fetch was in flight, is sent after it: not lost with the first batch.
    assert [n for batch in sent[1:] for n in batch] == ["product_added_to_cart", "cart_updated"], sent


def render(snippet, **objects):
    env = Environment(loader=DictLoader({"shoptrail": snippet}))
    env.filters.update({"json": f_json, "hmac_sha256": f_hmac_sha256, "money": f_money, "image_url": f_image_url})
    base = {
        "request": {"page_type": "index", "design_mode": False, "origin": "https://shop.example", "locale": {"iso_code": "en"}},
        "routes": {"cart_url": "/cart"}, "shop": {"permanent_domain": SHOPS["direct"]["domain"]},
        "cart": {"currency": {"iso_code": "EUR"}}, "localization": {"country": {"iso_code": "DE"}},
    }
    base.update(objects)
    return env.from_string("{% render 'shoptrail' %}").render(**base)


def config_of(rendered):
    m = re.search(r'data-config="([^"]*)"', rendered)
    return json.loads(html.unescape(m.group(1)))


def test_snippet_renders_page_data_through_json_only_and_skips_the_theme_editor(kit):
    snippet = kit.snippet("direct")
    product = product_drop(PRODUCTS[0])
    request = {"page_type": "product", "design_mode": False, "origin": "https://shop.example", "locale": {"iso_code": "en"}}
    out = render(snippet, request=request, product=product, customer=CUSTOMER)
    # The hostile title cannot end the tag: the whole document is an escaped attribute.
    assert out.count("<script") == 1 and "</script><b>" not in out
    cfg = config_of(out)
    assert cfg["write_key"] == SHOPS["direct"]["write_key"] and cfg["endpoint"] == f"{kit.base}/v1/batch" and cfg["cart"] == "/cart.js"
    assert cfg["product"]["title"] == PRODUCTS[0]["title"] and cfg["product"]["product_id"] == "8012345678901"
    assert cfg["context"]["page"] == {"type": "product"}
    c = cfg["context"]["customer"]
    assert c["sig"] == f_hmac_sha256(f"{SHOPS['direct']['domain']}:{c['id']}:{c['email']}:{c['ts']}", SHOPS["direct"]["snippet_secret"])
    assert "collection" not in cfg and "search" not in cfg
    col = config_of(render(snippet, request=dict(request, page_type="collection"), collection=COLLECTION))
    assert col["collection"]["title"] == "Shirts & more" and "customer" not in col["context"]
    search = config_of(render(snippet, request=dict(request, page_type="search"), search={"performed": True, "terms": "a \"b\"", "results_count": 0}))
    assert search["search"] == {"query": 'a "b"', "results_count": 0}
    assert render(snippet, request=dict(request, design_mode=True), product=product).strip() == ""


def test_cli_prints_what_the_admin_endpoint_serves(kit):
    for shop, command in [("direct", "snippet"), ("proxy", "snippet"), ("direct", "pixel")]:
        out = subprocess.run([binary(), command, "--shop", SHOPS[shop]["domain"], "--config", str(kit.config_path)], capture_output=True, text=True, cwd=kit.tmp, env=kit.env)
        assert out.returncode == 0, out.stderr
        path = "snippet.liquid" if command == "snippet" else "pixel.js"
        status, _, body = http("GET", f"{kit.base}/v1/shops/{SHOPS[shop]['domain']}/{path}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert status == 200 and body.decode() == out.stdout
    assert '"endpoint":"/apps/shoptrail/v1/batch"' in kit.snippet("proxy")
    status, _, body = http("GET", f"{kit.base}/v1/shops/{SHOPS['direct']['domain']}/snippet.liquid")
    assert status == 401 and b"snippet-secret" not in body
    bad = subprocess.run([binary(), "snippet", "--shop", "nope.myshopify.com", "--config", str(kit.config_path)], capture_output=True, text=True, env=kit.env)
    assert bad.returncode != 0 and "no shop 'nope.myshopify.com'" in bad.stderr


def test_tracker_is_served_gzip_cacheable_and_versioned(kit):
    snippet = kit.snippet("direct")
    src = re.search(r'src="([^"]+)"', snippet).group(1)
    assert src.startswith(f"{kit.base}/sdk/v1/shoptrail.js?v=")
    status, headers, body = http("GET", src, headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == (ROOT / "Public" / "shoptrail.min.js").read_bytes()
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    status, _, _ = http("GET", src, headers={"Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]})
    assert status == 304


def run_pixel(kit, tmp_path, scenario):
    node = node_or_skip()
    _, _, code = http("GET", f"{kit.base}/v1/shops/{SHOPS['direct']['domain']}/pixel.js", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    (tmp_path / "pixel.js").write_bytes(code)
    (tmp_path / "scenario.json").write_text(json.dumps(scenario))
    out = subprocess.run([node, str(Path(__file__).parent / "pixel_harness.js"), str(tmp_path / "pixel.js"), str(tmp_path / "scenario.json")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def checkout_event(name, event_id, order_id=None):
    return {
        "id": event_id, "name": name, "type": "standard", "clientId": "a1b2c3d4-e5f6-client",
        # Now, not a fixed date: the collector refuses events more than 7 days old (`event_too_old`).
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "context": {"document": {"location": {"href": "https://kit-direct.myshopify.com/checkouts/cn/abc"}}},
        "data": {"checkout": {
            "token": "chk_token_123", "email": "ada@example.com", "currencyCode": "EUR",
            "totalPrice": {"amount": 64.8, "currencyCode": "EUR"}, "subtotalPrice": {"amount": 59.8, "currencyCode": "EUR"},
            "totalTax": {"amount": 10.35, "currencyCode": "EUR"},
            "lineItems": [{"title": "Linen shirt", "quantity": 2, "variant": {"id": "44012345678901", "sku": "LIN-S", "title": "S",
                           "price": {"amount": 49.9, "currencyCode": "EUR"}, "image": {"src": "https://cdn.example.test/linen.jpg"},
                           "product": {"id": "8012345678901", "title": "Linen shirt", "url": "/products/linen-shirt"}}}],
            "order": {"id": order_id, "customer": {"id": "7001234567890"} if order_id else None},
        }},
    }


def test_custom_pixel_sends_checkout_events_only_with_consent(kit, tmp_path):
    scenario = {
        "cookies": {"shoptrail_v": "v_from_the_storefront_1"},
        "init": {"customerPrivacy": {"analyticsProcessingAllowed": False}, "data": {"customer": None}},
        "steps": [
            {"event": checkout_event("checkout_started", "sh-evt-1")},
            {"consent": False},
            {"event": checkout_event("checkout_contact_info_submitted", "sh-evt-2")},
        ],
    }
    result = run_pixel(kit, tmp_path, scenario)
    assert result["sent"] == 0
    assert result["subscribed"] == sorted(["checkout_started", "checkout_contact_info_submitted", "checkout_address_info_submitted",
                                           "checkout_shipping_info_submitted", "payment_info_submitted", "checkout_completed"])
    assert kit.events(visitor_id="v_from_the_storefront_1") == []

    scenario["steps"] = [
        {"event": checkout_event("checkout_started", "sh-evt-3")},
        {"consent": True},  # the event seen before consent goes now
        {"event": checkout_event("checkout_completed", "sh-evt-4", order_id="5501234567890")},
    ]
    result = run_pixel(kit, tmp_path, scenario)
    assert result["sent"] == 2 and result["refused"] == [], result
    evs = wait_for(lambda: (lambda e: e if len(e) == 2 else None)(kit.events(visitor_id="v_from_the_storefront_1")), 10, message="pixel events")
    assert [(e["name"], e["source"], e["event_id"]) for e in evs] == [("checkout_started", "pixel", "px.sh-evt-3"), ("checkout_completed", "pixel", "px.sh-evt-4")]
    done = evs[1]["properties"]
    assert done["checkout_token"] == "chk_token_123" and done["order_id"] == "5501234567890" and "customer_id" not in done and "email" not in done
    assert done["client_id"] == "a1b2c3d4-e5f6-client" and done["total_price"] == 64.8 and done["line_items"][0]["variant_id"] == "44012345678901"
    assert evs[1]["context"]["source"] == "custom_pixel" and evs[1]["context"]["shop"] == SHOPS["direct"]["domain"]
    assert evs[0]["properties"]["order_id"] is None


def test_custom_pixel_posts_what_the_beacon_would_not_queue(kit, tmp_path):
    # Shopify's browser.sendBeacon resolves false when the browser would not queue the beacon: the
    # checkout event then goes by the pixel's own fetch rather than nowhere.
    scenario = {
        "beacon": "refuse",
        "cookies": {"shoptrail_v": "v_pixel_beacon_refused"},
        "init": {"customerPrivacy": {"analyticsProcessingAllowed": True}, "data": {"customer": None}},
        "steps": [{"event": checkout_event("checkout_started", "sh-evt-refused")}],
    }
    result = run_pixel(kit, tmp_path, scenario)
    assert (result["sent"], result["fetched"], result["refused"]) == (0, 1, []), result
    evs = wait_for(lambda: kit.events(visitor_id="v_pixel_beacon_refused"), 10, message="the fetched pixel event")
    assert [(e["name"], e["event_id"]) for e in evs] == [("checkout_started", "px.sh-evt-refused")]


def test_the_test_storefront_sets_its_session_cookie_once_per_new_session():
    # The harness the browser tests stand on: a keep-alive connection whose first request made a session
    # must not re-set that session's cookie on later answers (a browser holding another session's cookie
    # then had its cart lines split between two carts), and the browser's own favicon request makes none.
    sf = Storefront("harness.myshopify.com", "").start()
    try:
        conn = HTTPConnection("127.0.0.1", sf.port, timeout=10)

        def get(path, cookie=None):
            conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
            resp = conn.getresponse()
            resp.read()
            return resp.getheader("Set-Cookie")

        assert get("/favicon.ico") is None
        made = get("/cart.js")
        assert made and made.startswith("st_session=")
        assert get("/cart.js", cookie="st_session=another") is not None  # an unknown session: a new one
        assert get("/cart.js", cookie=made.split(";")[0]) is None
        conn.close()
    finally:
        sf.stop()
