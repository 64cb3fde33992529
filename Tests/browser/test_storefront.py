"""The storefront kit in headless Chromium on the test storefront, checked in the server's SQLite file."""
import hashlib
import hmac
import json
import sqlite3
import time

import pytest
from selenium.webdriver.common.by import By

from conftest import SHOPS, wait_for

CUSTOMER_ID = "7001234567890"
NASTY_TITLE = 'Linen shirt "Summer" </script><b>L\'été</b>'


def go(driver, sf, path):
    driver.get(sf.origin + path)


def settings(driver, sf, **kw):
    go(driver, sf, "/__settings?" + "&".join(f"{k}={v}" for k, v in kw.items()))


def visitor_id(driver):
    return driver.execute_script("return window.ShopTrail && ShopTrail.visitorId ? ShopTrail.visitorId() : null")


def wait_visitor(driver):
    return wait_for(lambda: visitor_id(driver), 10, message="the tracker to start")


def errors(driver):
    return driver.execute_script("return window.__errors")


def click_and_wait(driver, element_id):
    """Clicks a theme button and waits until the theme saw the cart answer."""
    before = driver.execute_script("return document.body.getAttribute('data-cart-done')")
    driver.find_element(By.ID, element_id).click()
    wait_for(lambda: driver.execute_script("return document.body.getAttribute('data-cart-done')") != before, 10, message=f"{element_id} answered")


def names(kit, visitor):
    return [e["name"] for e in kit.events(visitor_id=visitor)]


def wait_count(kit, visitor, name, count, timeout=10):
    """Waits until `count` events called `name` are stored for the visitor, and returns them."""
    def found():
        evs = [e for e in kit.events(visitor_id=visitor) if e["name"] == name]
        return evs if len(evs) >= count else None
    return wait_for(found, timeout, message=f"{count} x {name} for {visitor}: {names(kit, visitor)}")


def last(kit, visitor, name):
    return [e for e in kit.events(visitor_id=visitor) if e["name"] == name][-1]


def test_browsing_and_every_cart_path_is_stored(kit, browser):
    sf = kit.storefront("direct")
    go(browser, sf, "/")
    v = wait_visitor(browser)
    assert browser.get_cookie("shoptrail_v")["value"] == v
    home = wait_count(kit, v, "page_viewed", 1)[0]
    assert home["shop"] == SHOPS["direct"]["domain"] and home["source"] == "storefront"
    assert home["context"]["page"] == {"type": "index", "url": sf.origin + "/"}
    assert home["context"]["shop"] == SHOPS["direct"]["domain"] and home["context"]["currency"] == "EUR"
    assert home["properties"]["url"] == sf.origin + "/"

    go(browser, sf, "/collections/shirts")
    col = wait_count(kit, v, "collection_viewed", 1)[0]
    assert col["properties"] == {"collection_id": "450123456789", "handle": "shirts", "title": "Shirts & more", "products_count": 2}

    go(browser, sf, "/products/linen-shirt")
    pv = wait_count(kit, v, "product_viewed", 1)[0]
    assert pv["properties"] == {
        "product_id": "8012345678901", "variant_id": "44012345678901", "title": NASTY_TITLE, "handle": "linen-shirt",
        "vendor": "Acme & Sons", "type": "Shirts", "price": 4990, "currency": "EUR", "sku": "LIN-S",
        "url": sf.origin + "/products/linen-shirt", "image_url": "https://cdn.example.test/s/files/linen.jpg?width=1024",
    }
    assert errors(browser) == []
    # The first cart read on this visitor is a baseline: an empty cart, no add or remove.
    wait_count(kit, v, "cart_updated", 1)

    # 1. fetch + JSON to /cart/add.js
    click_and_wait(browser, "add-fetch")
    add = wait_count(kit, v, "product_added_to_cart", 1)[-1]["properties"]
    assert (add["variant_id"], add["product_id"], add["quantity"], add["price"], add["sku"]) == ("44012345678901", "8012345678901", 1, 4990, "LIN-S")
    assert add["cart_token"].startswith("c1-") and "?" not in add["cart_token"]
    cart = wait_count(kit, v, "cart_updated", 2)[-1]["properties"]
    assert cart["item_count"] == 1 and cart["total_price"] == 4990 and cart["cart_token"] == add["cart_token"]
    assert [(i["variant_id"], i["quantity"]) for i in cart["items"]] == [("44012345678901", 1)]
    # 2. XHR, form-encoded, to /cart/add.js
    click_and_wait(browser, "add-xhr")
    assert wait_count(kit, v, "product_added_to_cart", 2)[-1]["properties"]["quantity"] == 1
    # 3. fetch + FormData to routes.cart_add_url (/cart/add, no .js), as Dawn does
    click_and_wait(browser, "add-formdata")
    assert wait_count(kit, v, "product_added_to_cart", 3)[-1]["properties"]["quantity"] == 2
    # 4. A fetch the tracker did not wrap, announced by shopify:cart:lines-update
    click_and_wait(browser, "add-event")
    assert wait_count(kit, v, "product_added_to_cart", 4)[-1]["properties"]["quantity"] == 1
    assert last(kit, v, "cart_updated")["properties"]["item_count"] == 5

    # 5. A locale prefix: /fr/cart/add from the French product page; the tracker reads /fr/cart.js
    go(browser, sf, "/fr/products/wool-socks")
    click_and_wait(browser, "add-formdata")
    socks = wait_count(kit, v, "product_added_to_cart", 5)[-1]["properties"]
    assert (socks["variant_id"], socks["quantity"]) == ("44012345678903", 2)
    assert last(kit, v, "page_viewed")["context"]["locale"] == "fr"

    # 6. A classic <form action="/cart/add"> post: a full navigation to /cart, seen by the next page
    go(browser, sf, "/products/linen-shirt?variant=44012345678902")
    assert wait_count(kit, v, "product_viewed", 3)[-1]["properties"]["variant_id"] == "44012345678902"
    browser.find_element(By.ID, "classic-add-button").click()
    wait_for(lambda: browser.current_url.endswith("/cart"), 10, message="redirect to /cart")
    m = wait_count(kit, v, "product_added_to_cart", 6)[-1]["properties"]
    assert (m["variant_id"], m["quantity"]) == ("44012345678902", 1)

    # 7. Quantity up with /cart/change.js (by line key), 8. remove a line (quantity 0)
    lines = browser.find_elements(By.CSS_SELECTOR, ".line")
    assert len(lines) == 3
    browser.find_element(By.CSS_SELECTOR, f".line[data-key^='44012345678902'] .inc").click()
    assert wait_count(kit, v, "product_added_to_cart", 7)[-1]["properties"]["quantity"] == 1
    browser.find_element(By.CSS_SELECTOR, f".line[data-key^='44012345678903'] .remove").click()
    removed = wait_count(kit, v, "product_removed_from_cart", 1)[-1]["properties"]
    assert (removed["variant_id"], removed["quantity"]) == ("44012345678903", 2)
    # 9. XHR to /cart/update (no .js, JSON updates array): S 5 -> 3, M 2 -> 3
    go(browser, sf, "/cart")
    click_and_wait(browser, "update-xhr")
    wait_count(kit, v, "product_removed_from_cart", 2)
    assert last(kit, v, "product_removed_from_cart")["properties"]["quantity"] == 2
    assert wait_count(kit, v, "product_added_to_cart", 8)[-1]["properties"]["quantity"] == 1
    # 10. fetch /cart/clear.js: both lines removed, an empty cart
    click_and_wait(browser, "clear")
    wait_count(kit, v, "product_removed_from_cart", 4)
    wait_for(lambda: last(kit, v, "cart_updated")["properties"]["item_count"] == 0, 10, message="empty cart")

    # Search.
    go(browser, sf, "/search?q=wool")
    s = wait_count(kit, v, "search_submitted", 1)[0]
    assert s["properties"] == {"query": "wool", "results_count": 1}

    # One visitor, one session, every event once, and nothing thrown into the theme.
    evs = kit.events(visitor_id=v)
    assert len({e["session_id"] for e in evs}) == 1
    assert len({e["event_id"] for e in evs}) == len(evs)
    assert errors(browser) == []
    # No loop: a page that changed nothing reads the cart once and reports nothing new.
    count = len(evs)
    go(browser, sf, "/")
    wait_count(kit, v, "page_viewed", sum(1 for e in evs if e["name"] == "page_viewed") + 1)
    time.sleep(1.5)
    assert [e["name"] for e in kit.events(visitor_id=v)[count:]] == ["page_viewed"]


def test_login_identifies_and_logout_starts_a_new_visitor(kit, browser):
    sf = kit.storefront("direct")
    go(browser, sf, "/")
    v1 = wait_visitor(browser)
    go(browser, sf, "/account/login")
    browser.find_element(By.ID, "login-go").click()
    wait_for(lambda: browser.current_url.endswith("/account"), 10, message="login")
    ident = wait_count(kit, v1, "customer_identified", 1)[0]
    assert ident["properties"] == {"customer_id": CUSTOMER_ID}
    signed = ident["context"]["customer"]
    assert signed["id"] == CUSTOMER_ID and signed["email"] == "ada@example.com"
    # The documented signature: hex HMAC-SHA256(snippet_secret, "{shop}:{id}:{email}:{ts}").
    message = f"{SHOPS['direct']['domain']}:{signed['id']}:{signed['email']}:{signed['ts']}"
    assert signed["sig"] == hmac.new(SHOPS["direct"]["snippet_secret"].encode(), message.encode(), hashlib.sha256).hexdigest()
    assert abs(int(signed["ts"]) - time.time()) < 120
    # Browsing on while logged in identifies nobody again.
    go(browser, sf, "/collections/shirts")
    wait_count(kit, v1, "collection_viewed", 1)
    assert names(kit, v1).count("customer_identified") == 1

    browser.find_element(By.ID, "logout").click()
    wait_for(lambda: browser.current_url.rstrip("/") == sf.origin, 10, message="logout redirect")
    out = wait_count(kit, v1, "customer_logged_out", 1)[0]
    assert out["properties"] == {"customer_id": CUSTOMER_ID}
    v2 = wait_visitor(browser)
    assert v2 != v1
    assert browser.get_cookie("shoptrail_v")["value"] == v2
    after = wait_count(kit, v2, "page_viewed", 1)[0]
    assert "customer" not in after["context"]
    assert after["session_id"] != out["session_id"]

    # Logging in again on this device identifies the new visitor.
    go(browser, sf, "/account/login")
    browser.find_element(By.ID, "login-go").click()
    assert wait_count(kit, v2, "customer_identified", 1)[0]["properties"]["customer_id"] == CUSTOMER_ID
    assert errors(browser) == []


def tracker_storage(driver):
    return driver.execute_script(
        "var out = []; try { for (var i = 0; i < localStorage.length; i++) if (localStorage.key(i).indexOf('shoptrail_') === 0) out.push(localStorage.key(i)); } catch (e) {} return out;")


def test_nothing_before_consent_then_everything_after_it(kit, browser):
    sf = kit.storefront("direct")
    settings(browser, sf, region="eu")
    before = len(kit.events(shop=SHOPS["direct"]["domain"]))
    go(browser, sf, "/products/wool-socks")
    time.sleep(1.5)
    assert visitor_id(browser) is None
    assert not [c for c in browser.get_cookies() if c["name"].startswith("shoptrail")]
    assert tracker_storage(browser) == []
    # The theme changes the cart before consent: nothing is sent.
    click_and_wait(browser, "add-xhr")
    browser.find_element(By.ID, "consent-decline").click()
    time.sleep(1.5)
    assert visitor_id(browser) is None and tracker_storage(browser) == []
    assert len(kit.events(shop=SHOPS["direct"]["domain"])) == before

    browser.find_element(By.ID, "consent-accept").click()
    v = wait_visitor(browser)
    consent = wait_count(kit, v, "consent_updated", 1)[0]
    assert consent["properties"] == {"analytics": True, "marketing": True, "preferences": True, "sale_of_data": False}
    got = names(kit, v)
    assert "page_viewed" in got and "product_viewed" in got
    # The cart changed before consent is reported as a snapshot once tracking starts.
    assert wait_count(kit, v, "cart_updated", 1)[0]["properties"]["item_count"] == 1
    assert browser.get_cookie("shoptrail_v")["value"] == v
    # The choice holds on the next page, where the API is loaded and asked directly.
    go(browser, sf, "/")
    wait_count(kit, v, "page_viewed", 2)
    assert errors(browser) == []


def test_withdrawn_consent_stops_tracking_and_forgets_the_visitor(kit, browser):
    sf = kit.storefront("direct")
    settings(browser, sf, region="eu")
    go(browser, sf, "/")
    browser.find_element(By.ID, "consent-accept").click()
    v = wait_visitor(browser)
    wait_count(kit, v, "page_viewed", 1)
    browser.find_element(By.ID, "consent-decline").click()
    wait_for(lambda: visitor_id(browser) is None, 5, message="tracking to stop")
    assert not [c for c in browser.get_cookies() if c["name"].startswith("shoptrail")]
    assert tracker_storage(browser) == []
    go(browser, sf, "/collections/shirts")
    time.sleep(1.5)
    assert "collection_viewed" not in names(kit, v)


def test_closing_a_tab_delivers_its_pending_events(kit, browser):
    sf = kit.storefront("direct")
    go(browser, sf, "/")
    v = wait_visitor(browser)
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    go(browser, sf, "/products/wool-socks")
    wait_for(lambda: browser.execute_script("return (localStorage.getItem('shoptrail_q') || '').indexOf('product_viewed') >= 0"), 5, 0.01, message="queued product_viewed")
    browser.close()  # within the 1 s batching delay: pagehide/visibilitychange must send it
    browser.switch_to.window(first)
    pv = wait_count(kit, v, "product_viewed", 1)[0]
    assert pv["properties"]["handle"] == "wool-socks"


def test_unsent_events_wait_in_local_storage_and_go_with_the_next_page(kit, browser):
    sf = kit.storefront("direct")
    settings(browser, sf, **{"break": "offline"})
    go(browser, sf, "/products/wool-socks")
    v = wait_visitor(browser)
    time.sleep(1.5)
    browser.execute_script("ShopTrail.flush()")
    assert names(kit, v) == []
    queued = json.loads(browser.execute_script("return localStorage.getItem('shoptrail_q')"))
    assert sum(len(b["e"]) for b in queued) >= 2
    settings(browser, sf, **{"break": ""})
    go(browser, sf, "/")
    pv = wait_count(kit, v, "product_viewed", 1)[0]
    # Retried with the context of the page it happened on.
    assert pv["context"]["page"]["url"] == sf.origin + "/products/wool-socks"
    wait_count(kit, v, "page_viewed", 2)
    go(browser, sf, "/collections/shirts")
    wait_count(kit, v, "collection_viewed", 1)
    evs = kit.events(visitor_id=v)
    assert len({e["event_id"] for e in evs}) == len(evs)
    assert errors(browser) == []


@pytest.mark.parametrize("breakage", ["fetch", "storage", "shopify", "fetch,storage"])
def test_the_tracker_never_throws_into_the_theme(kit, browser, breakage):
    sf = kit.storefront("direct")
    settings(browser, sf, **{"break": breakage})
    before = len(kit.events(shop=SHOPS["direct"]["domain"]))
    go(browser, sf, "/products/linen-shirt")
    if breakage != "shopify":
        # A change made before the first cart read is only seen as the starting cart.
        wait_count(kit, wait_visitor(browser), "cart_updated", 1)
    else:
        time.sleep(1)
    click_and_wait(browser, "add-xhr")
    if breakage != "shopify":
        # Without localStorage a change is only diffed on the page that made it: let the read happen.
        wait_count(kit, visitor_id(browser), "product_added_to_cart", 1)
    go(browser, sf, "/products/wool-socks")
    browser.find_element(By.ID, "classic-add-button").click()
    wait_for(lambda: browser.current_url.endswith("/cart"), 10, message="classic add")
    time.sleep(1.5)
    assert errors(browser) == [], breakage
    v = visitor_id(browser)
    if breakage == "shopify":
        # No Customer Privacy API means no consent: the tracker stays silent, and still breaks nothing.
        assert v is None
        assert len(kit.events(shop=SHOPS["direct"]["domain"])) == before
        return
    assert v
    # Events still arrive: by sendBeacon when fetch is broken, with a cookie-only visitor when storage is blocked.
    adds = wait_count(kit, v, "product_added_to_cart", 1)
    assert adds[0]["properties"]["variant_id"] == "44012345678901"
    if "storage" in breakage:
        # Without localStorage the last cart is unknown after a navigation: the cart page reports a snapshot.
        # Any of them, not the last stored: the product page's own beacon, flushed as it was left, may land after it.
        def stored():
            return [(e["name"], e["properties"].get("item_count"), e["received_at"]) for e in kit.events(visitor_id=v)]
        try:
            wait_for(lambda: ("cart_updated", 2) in [s[:2] for s in stored()], 30, message="cart snapshot (a cart_updated with 2 items)")
        except AssertionError as err:
            raise AssertionError(f"{err}; {v} has (name, item_count, received_at): {stored()}") from None
    else:
        assert wait_count(kit, v, "product_added_to_cart", 2)[-1]["properties"]["variant_id"] == "44012345678903"
    assert errors(browser) == []


def test_app_proxy_mode_beacons_first_party_and_records_the_verified_customer(kit, browser):
    sf = kit.storefront("proxy")
    go(browser, sf, "/")
    v = wait_visitor(browser)
    home = wait_count(kit, v, "page_viewed", 1)[0]
    assert home["shop"] == SHOPS["proxy"]["domain"]
    # Shopify's verified identity is stored beside the page's context, never inside it.
    assert "$app_proxy" not in home["context"]
    proxy = home["verified"]["app_proxy"]
    assert proxy["shop"] == SHOPS["proxy"]["domain"] and proxy["logged_in_customer_id"] is None
    go(browser, sf, "/account/login")
    browser.find_element(By.ID, "login-go").click()
    ident = wait_count(kit, v, "customer_identified", 1)[0]
    assert ident["verified"]["app_proxy"]["logged_in_customer_id"] == CUSTOMER_ID
    assert ident["context"]["customer"]["id"] == CUSTOMER_ID
    assert sf.proxied and all(status == 200 for _, status in sf.proxied)
    # The page never talked to the collector's origin: every beacon went to the shop's own domain.
    entries = browser.execute_script("return performance.getEntriesByType('resource').map(function (e) { return e.name; })")
    assert not [u for u in entries if "/v1/batch" in u and not u.startswith(sf.origin)]
    assert errors(browser) == []


def test_inline_tracker(kit, browser):
    sf = kit.storefront("inline")
    go(browser, sf, "/products/wool-socks")
    v = wait_visitor(browser)
    assert wait_count(kit, v, "product_viewed", 1)[0]["properties"]["sku"] == "SOCK-1"
    assert browser.execute_script("return document.getElementById('shoptrail').src") == ""
    assert errors(browser) == []


def test_the_tracker_loads_once_when_the_snippet_is_rendered_twice(kit, browser):
    sf = kit.storefront("direct")
    go(browser, sf, "/")
    v = wait_visitor(browser)
    browser.execute_script("""
        var s = document.createElement('script'); s.src = document.getElementById('shoptrail').src; document.head.appendChild(s);""")
    time.sleep(1.5)
    assert names(kit, v).count("page_viewed") == 1


BIG_PRODUCT, BIG_VARIANT = "9007199254740993", "9007199254740995"


def test_ids_beyond_2_53_reach_the_server_with_their_exact_digits(kit, browser):
    sf = kit.storefront("direct")
    # Logged in, so that the events are forwarded to the customer's Braze profile too.
    go(browser, sf, "/account/login")
    browser.find_element(By.ID, "login-go").click()
    wait_for(lambda: browser.current_url.endswith("/account"), 10, message="login")
    go(browser, sf, "/products/big-ids")
    v = wait_visitor(browser)
    # From the page: the snippet renders ids as strings.
    pv = wait_count(kit, v, "product_viewed", 1)[0]["properties"]
    assert (pv["product_id"], pv["variant_id"]) == (BIG_PRODUCT, BIG_VARIANT)
    wait_count(kit, v, "cart_updated", 1)
    # Dawn-style FormData add: the page's hidden inputs carry the digits as text.
    click_and_wait(browser, "add-formdata")
    # /cart.js answers with the ids as JSON numbers, which JSON.parse alone would round.
    raw = browser.execute_async_script("var done = arguments[0]; fetch('/cart.js').then(function (r) { return r.text(); }).then(done);")
    assert f'"variant_id": {BIG_VARIANT}' in raw and f'"product_id": {BIG_PRODUCT}' in raw
    assert browser.execute_script("return String(JSON.parse(arguments[0]).items[0].variant_id)", raw) != BIG_VARIANT
    add = wait_count(kit, v, "product_added_to_cart", 1)[0]["properties"]
    assert (add["product_id"], add["variant_id"], add["quantity"], add["sku"]) == (BIG_PRODUCT, BIG_VARIANT, 2, "TOTE-1")
    assert add["key"].startswith(BIG_VARIANT + ":")
    cart = wait_count(kit, v, "cart_updated", 2)[-1]["properties"]
    assert [(i["product_id"], i["variant_id"], i["quantity"]) for i in cart["items"]] == [(BIG_PRODUCT, BIG_VARIANT, 2)]
    # A removal reported from the stored copy of the last cart keeps them too.
    go(browser, sf, "/cart")
    browser.find_element(By.CSS_SELECTOR, f".line[data-key^='{BIG_VARIANT}'] .remove").click()
    removed = wait_count(kit, v, "product_removed_from_cart", 1)[0]["properties"]
    assert (removed["product_id"], removed["variant_id"], removed["quantity"]) == (BIG_PRODUCT, BIG_VARIANT, 2)
    # The stored JSON text itself has the digits as strings, not as numbers rounded on the way.
    con = sqlite3.connect(kit.db_path)
    try:
        texts = [r[0] for r in con.execute("select properties from events where visitor_id = ? and name like 'product_%'", (v,))]
    finally:
        con.close()
    assert texts and all(f'"variant_id":"{BIG_VARIANT}"' in t.replace(" ", "") for t in texts), texts
    # And so does what reaches Braze (the customer's profile in the sandbox): the cart's products.
    def braze_products():
        events = [e for u in kit.braze_users() if u.get("external_id") == CUSTOMER_ID for e in u["events"]]
        return [(p["product_id"], p["variant_id"]) for e in events if e["name"] == "ecommerce.cart_updated"
                for p in e["properties"].get("products", []) if p["product_id"].startswith("90071992547409")]
    assert set(wait_for(braze_products, 20, 0.2, message="the cart in the Braze sandbox")) == {(BIG_PRODUCT, BIG_VARIANT)}
    assert errors(browser) == []


# Records, from the first script of every document on, each write to web storage and each
# shoptrail cookie set: a write later undone still shows.
STORAGE_SPY = """
(function () {
  window.__writes = [];
  var S = Storage.prototype, set = S.setItem;
  S.setItem = function (k) { __writes.push((this === window.sessionStorage ? 'session:' : 'local:') + k); return set.apply(this, arguments); };
  var c = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
  Object.defineProperty(document, 'cookie', { configurable: true, get: function () { return c.get.call(this); },
    set: function (v) { if (/^\\s*shoptrail/.test(v)) __writes.push('cookie:' + v); c.set.call(this, v); } });
})();
"""


def web_state(driver):
    """Every key in localStorage and sessionStorage (the test theme stores none), the shoptrail cookies, this page's writes."""
    return driver.execute_script("""
        var keys = function (s) { var out = []; for (var i = 0; i < s.length; i++) out.push(s.key(i)); return out; };
        return { local: keys(localStorage), session: keys(sessionStorage), writes: window.__writes,
                 cookies: document.cookie.split('; ').filter(function (c) { return c.indexOf('shoptrail') === 0; }) };""")


EMPTY = {"local": [], "session": [], "writes": [], "cookies": []}


def wait_consent_asked(driver):
    """The positive signal that this page's tracker has started and asked the consent API (and found no consent):
    the test storefront loads the API, then calls the tracker back in the same task."""
    wait_for(lambda: driver.execute_script("return !!(window.ShopTrail && ShopTrail.v && window.Shopify && Shopify.customerPrivacy)"),
             10, message="the tracker to load and ask for consent")


def test_nothing_in_cookies_or_web_storage_before_consent(kit, browser):
    sf = kit.storefront("direct")
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": STORAGE_SPY})
    settings(browser, sf, region="eu")
    before = len(kit.events(shop=SHOPS["direct"]["domain"]))
    go(browser, sf, "/products/linen-shirt")
    wait_consent_asked(browser)
    # Cart actions by fetch and XHR, each answered, then a synchronous flush: nothing may be written.
    click_and_wait(browser, "add-fetch")
    click_and_wait(browser, "add-xhr")
    browser.execute_script("ShopTrail.cart(); ShopTrail.flush()")
    assert web_state(browser) == EMPTY
    # Page views: leaving a page flushes (pagehide, visibilitychange) and drops its pending cart read;
    # the next page is checked once its own tracker has asked for consent.
    go(browser, sf, "/cart")
    wait_consent_asked(browser)
    assert web_state(browser) == EMPTY
    browser.find_element(By.CSS_SELECTOR, ".line[data-key^='44012345678901'] .inc").click()
    wait_for(lambda: browser.execute_script("return document.body.getAttribute('data-cart-done')"), 10, message="change answered")
    go(browser, sf, "/")
    wait_consent_asked(browser)
    assert web_state(browser) == EMPTY
    assert visitor_id(browser) is None
    assert not [c for c in browser.get_cookies() if c["name"].startswith("shoptrail")]
    assert len(kit.events(shop=SHOPS["direct"]["domain"])) == before

    # Consent: tracking starts on this page, and only now are the cookie and storage written.
    browser.find_element(By.ID, "consent-accept").click()
    v = wait_visitor(browser)
    wait_count(kit, v, "consent_updated", 1)
    assert wait_count(kit, v, "page_viewed", 1)[0]["properties"]["url"] == sf.origin + "/"
    # The cart changed before consent is a snapshot (the first read is a baseline), as before.
    snapshot = wait_count(kit, v, "cart_updated", 1)[0]["properties"]
    assert snapshot["item_count"] == 3 and [i["quantity"] for i in snapshot["items"]] == [3]
    assert "product_added_to_cart" not in names(kit, v)
    state = wait_for(lambda: (lambda s: s if {"shoptrail_v", "shoptrail_s", "shoptrail_c"} <= set(s["local"]) else None)(web_state(browser)),
                     10, message="storage written after consent")
    assert state["session"] == [] and state["cookies"] == [f"shoptrail_v={v}"]
    assert browser.get_cookie("shoptrail_v")["value"] == v
    # And the tracker works from here on: a cart change on the next page is diffed against the stored cart.
    go(browser, sf, "/products/wool-socks")
    click_and_wait(browser, "add-xhr")
    add = wait_count(kit, v, "product_added_to_cart", 1)[0]["properties"]
    assert (add["variant_id"], add["quantity"]) == ("44012345678903", 1)
    assert errors(browser) == []
