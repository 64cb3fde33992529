"""The operator console in headless Chromium against the real binary: log in, watch a beacon arrive live,
find a customer after a browse -> login -> order story and read Braze's answers on their timeline, retry a
dead letter, and see the install check turn green once the storefront is visited.

With SHOPTRAIL_SCREENSHOTS=<folder> (scripts/console-screenshots), each page is saved there as console-*.png."""
import base64
import hashlib
import hmac
import json
import os
import re
import sqlite3
import time
import urllib.request
from pathlib import Path

from selenium.webdriver.common.by import By

from conftest import ADMIN_TOKEN, ROOT, SHOPS, http, wait_for

DIRECT = SHOPS["direct"]
CUSTOMER_ID = "7001234567890"
HOSTILE = "</script><img src=x onerror=alert(1)>"


def shot(browser, name):
    folder = os.environ.get("SHOPTRAIL_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        # The whole page, up to 1,800 px tall.
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1200, max(600, min(int(height) + 120, 1800)))
        browser.save_screenshot(str(Path(folder) / f"console-{name}.png"))
        browser.set_window_size(1200, 900)


def login(kit, browser, path="/console"):
    browser.get(kit.base + path)
    wait_for(lambda: "/console/login" in browser.current_url, 10, message="the login page")
    shot(browser, "login")
    browser.find_element(By.ID, "token").send_keys(ADMIN_TOKEN)
    browser.find_element(By.ID, "login").click()
    wait_for(lambda: "/console/login" not in browser.current_url, 10, message="logged in")
    cookie = browser.get_cookie("shoptrail_console")
    assert cookie and cookie["httpOnly"] and cookie.get("sameSite") == "Strict"
    assert ADMIN_TOKEN not in browser.page_source


def beacon(kit, visitor, events, customer=None):
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    body = {"write_key": DIRECT["write_key"], "visitor_id": visitor, "sent_at": now, "context": {"page": {"type": "product"}},
            "events": [{"id": i, "name": n, "time": now, "properties": p} for i, n, p in events]}
    status, _, text = http("POST", kit.base + "/v1/batch", json.dumps(body).encode(), {"Content-Type": "text/plain"})
    assert status == 200, text


def webhook(kit, topic, body, shop=DIRECT):
    raw = json.dumps(body).encode()
    mac = base64.b64encode(hmac.new(shop["api_secret"].encode(), raw, hashlib.sha256).digest()).decode()
    status, _, text = http("POST", kit.base + "/webhooks/shopify", raw, {
        "Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": shop["domain"],
        "X-Shopify-Hmac-Sha256": mac, "X-Shopify-Webhook-Id": f"wh-{time.time_ns()}"})
    assert status == 200, text


def test_log_in_and_watch_a_beacon_arrive_live(kit, browser):
    login(kit, browser)
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Overview")
    browser.get(f"{kit.base}/console/live?shop={DIRECT['domain']}")
    wait_for(lambda: browser.find_element(By.ID, "live-status").text == "live", 15, message="the live stream")
    # The storefront, in a second tab: its product page beacons while the console watches.
    console = browser.current_window_handle
    browser.switch_to.new_window("tab")
    browser.get(kit.storefront("direct").origin + "/products/wool-socks")
    browser.switch_to.window(console)
    row = wait_for(lambda: next(iter(browser.find_elements(By.CSS_SELECTOR, 'tr.live-event[data-name="product_viewed"]')), None),
                   30, message="the product view on the live page")
    row.click()
    shown = json.loads(browser.find_element(By.ID, "live-json").text)
    assert shown["name"] == "product_viewed" and shown["shop"] == DIRECT["domain"] and shown["properties"]["title"] == "Wool socks"
    # A hostile string arrives as text.
    beacon(kit, "v_console_live_hostile", [("live-hostile-1", "product_viewed", {"title": HOSTILE, "product_id": "1"})])
    wait_for(lambda: any(HOSTILE in r.text for r in browser.find_elements(By.CSS_SELECTOR, "tr.live-event")) or
             browser.find_elements(By.CSS_SELECTOR, "tr.live-event")[0].click() or HOSTILE in browser.find_element(By.ID, "live-json").text,
             20, message="the hostile event")
    assert browser.find_elements(By.CSS_SELECTOR, "#live-events img") == []
    shot(browser, "live")


def test_a_customer_after_browse_login_order_shows_braze_answers_on_the_timeline(kit, browser):
    sf = kit.storefront("direct")
    browser.get(sf.origin + "/products/linen-shirt")
    visitor = wait_for(lambda: browser.execute_script("return window.ShopTrail && ShopTrail.visitorId ? ShopTrail.visitorId() : null"), 10,
                       message="the tracker")
    browser.get(sf.origin + "/account/login")
    browser.find_element(By.ID, "login-go").click()
    wait_for(lambda: browser.current_url.endswith("/account"), 10, message="storefront login")
    beacon(kit, visitor, [(f"hostile-{visitor}", "product_viewed", {"title": HOSTILE, "product_id": "8012345678902"})])
    order = json.loads((ROOT / "Tests/Fixtures/shopify/orders__create.json").read_text())
    order["id"] = int(time.time() * 1000)
    order["customer"]["id"] = int(CUSTOMER_ID)
    order["customer"]["email"] = "ada@example.com"
    order["email"] = "ada@example.com"
    webhook(kit, "orders/create", order)

    login(kit, browser, f"/console/person?shop={DIRECT['domain']}")
    browser.find_element(By.ID, "q").send_keys(CUSTOMER_ID)
    browser.find_element(By.ID, "find").click()

    def answered():
        browser.get(f"{kit.base}/console/person?shop={DIRECT['domain']}&q={CUSTOMER_ID}")
        timeline = browser.find_elements(By.CSS_SELECTOR, "#timeline li.event")
        names = [li.find_element(By.CSS_SELECTOR, ".name").text for li in timeline]
        delivered = browser.find_elements(By.CSS_SELECTOR, "#timeline .braze.delivered")
        return (names, delivered) if "orders/create" in names and "customer_identified" in names and delivered else None
    names, delivered = wait_for(answered, 90, message="the order and Braze's answers on the timeline")
    assert "product_viewed" in names
    # A webhook names no visitor: nothing is printed for it (not "nil").
    assert all(not li.find_element(By.TAG_NAME, "summary").text.endswith("nil")
               for li in browser.find_elements(By.CSS_SELECTOR, "#timeline li.event.webhook"))
    visitors = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#visitors td:first-child")]
    assert visitor in visitors
    # Open one operation: its request object and Braze's answer.
    delivered[0].find_element(By.TAG_NAME, "summary").click()
    status = delivered[0].find_element(By.CSS_SELECTOR, ".status").text
    assert status.startswith("2"), status
    assert json.loads(delivered[0].find_element(By.CSS_SELECTOR, "pre.response").text)["message"] == "success"
    assert delivered[0].find_element(By.CSS_SELECTOR, "pre.request").text.startswith("{")
    # Shop-supplied strings are text: the hostile title and the theme's own nasty product title.
    assert browser.find_elements(By.CSS_SELECTOR, "#timeline img, #timeline b:not(.name):not(.status)") == []
    shot(browser, "person")
    browser.execute_script("document.querySelectorAll('#timeline details').forEach(function (d) { d.open = true; })")
    assert HOSTILE in browser.find_element(By.ID, "timeline").text


def test_retry_a_dead_letter(kit, browser):
    con = sqlite3.connect(kit.db_path, timeout=30)
    op_id = f"console-dead-{time.time_ns()}"
    payload = {"external_id": "console-dead-user", "name": "console_retried", "time": "2026-11-23T10:00:00.000Z"}
    try:
        con.execute("INSERT INTO outbox_dead (op_id, shop, user_key, kind, payload, created_at, attempts, reason, died_at)"
                    " VALUES (?, ?, 'c:console-dead-user', 'event', ?, ?, 1, ?, ?)",
                    (op_id, DIRECT["domain"], json.dumps(payload), int(time.time() * 1000), "400: " + HOSTILE, int(time.time() * 1000)))
        con.commit()
    finally:
        con.close()
    login(kit, browser, f"/console/dead-letters?shop={DIRECT['domain']}")
    row = browser.find_element(By.CSS_SELECTOR, f'tr.letter[data-op="{op_id}"]')
    assert HOSTILE in row.find_element(By.CSS_SELECTOR, ".reason").text
    shot(browser, "dead-letters")
    row.find_element(By.CSS_SELECTOR, "button.retry").click()
    wait_for(lambda: "Retrying 1 operation" in browser.page_source, 10, message="the retry notice")
    assert browser.find_elements(By.CSS_SELECTOR, f'tr.letter[data-op="{op_id}"]') == []

    # The sandbox's line may follow the banner: read it from the log now.
    sandbox = re.search(r"Braze sandbox \(in-process[^)]*\) on (http://127\.0\.0\.1:\d+)", (kit.tmp / "server.log").read_text()).group(1)

    def delivered():
        status, _, body = http("GET", sandbox + "/_sandbox/users")
        assert status == 200, body
        return next((u for u in json.loads(body) if u.get("external_id") == "console-dead-user"), None)
    user = wait_for(delivered, 60, message="the retried operation at Braze")
    assert [e["name"] for e in user["events"]] == ["console_retried"]


def test_the_install_check_turns_green_after_the_storefront_loads(kit, browser):
    shop = SHOPS["proxy"]
    seen_before = [e for e in kit.events(shop=shop["domain"]) if e["name"] == "product_viewed"]
    login(kit, browser, f"/console/install?shop={shop['domain']}")
    state = browser.find_element(By.CSS_SELECTOR, "#check-product .state").text
    if not seen_before:
        assert state == "red"
        assert "no product page seen in 24 h" in browser.find_element(By.ID, "missing").text
    console = browser.current_window_handle
    browser.switch_to.new_window("tab")
    browser.get(kit.storefront("proxy").origin + "/products/wool-socks")
    browser.switch_to.window(console)

    def green():
        browser.refresh()
        return browser.find_element(By.CSS_SELECTOR, "#check-product .state").text == "green"
    wait_for(green, 30, message="the product check to turn green")
    assert "tracker" in browser.find_element(By.ID, "check-product").text
    # The proxy shop beacons through the App Proxy: its signature check turns green too.
    wait_for(lambda: browser.refresh() or browser.find_element(By.CSS_SELECTOR, "#check-app-proxy .state").text == "green", 30,
             message="the App Proxy check")
    shot(browser, "install")
    # The overview after the session's traffic: beacons, Braze answers, the events-per-minute chart.
    browser.get(f"{kit.base}/console?shop={DIRECT['domain']}")
    assert int(browser.find_element(By.CSS_SELECTOR, "#beacons .accepted").text) > 0
    assert int(browser.find_element(By.CSS_SELECTOR, "#braze .s2xx").text) > 0
    assert browser.find_elements(By.CSS_SELECTOR, "#events-chart rect")
    assert "nil" not in browser.find_element(By.ID, "backfill").text
    shot(browser, "overview")
