"""The abandonment engine seen from the storefront: a real cart left alone reaches Braze as one
`shoptrail_cart_abandoned` event whose restore URL rebuilds the cart."""
import json
import time
import urllib.parse

from selenium.webdriver.common.by import By

from conftest import CART_WINDOW_SECONDS, SHOPS, wait_for
from test_storefront import CUSTOMER_ID, click_and_wait, errors, go, wait_count, wait_visitor


def abandoned_carts(kit):
    users = [u for u in kit.braze_users() if u.get("external_id") == CUSTOMER_ID]
    return [e for u in users for e in u.get("events", []) if e["name"] == "shoptrail_cart_abandoned"]


def cart_lines(browser):
    cart = browser.execute_async_script(
        "var done = arguments[0]; fetch('/cart.js').then(function (r) { return r.json(); }).then(done, function () { done(null); });")
    return sorted((str(i["variant_id"]), i["quantity"]) for i in cart["items"])


def test_an_abandoned_cart_reaches_braze_once_and_its_restore_url_rebuilds_the_cart(kit, browser):
    sf = kit.storefront("abandon")
    go(browser, sf, "/account/login")
    browser.find_element(By.ID, "login-go").click()
    wait_for(lambda: browser.current_url.endswith("/account"), 10, message="login")
    v = wait_visitor(browser)
    wait_count(kit, v, "customer_identified", 1)

    go(browser, sf, "/products/linen-shirt")
    wait_count(kit, v, "cart_updated", 1)
    # Each add is read back by the tracker (debounced) before the next step.
    click_and_wait(browser, "add-fetch")
    wait_count(kit, v, "cart_updated", 2)
    click_and_wait(browser, "add-fetch")
    wait_count(kit, v, "cart_updated", 3)
    go(browser, sf, "/products/wool-socks")
    click_and_wait(browser, "add-fetch")
    stored = wait_count(kit, v, "cart_updated", 4)[-1]["properties"]
    left = cart_lines(browser)
    assert left == [("44012345678901", 2), ("44012345678903", 1)]
    assert stored["item_count"] == 3

    # The window passes with no activity: the scheduler fires, the forwarder delivers.
    events = wait_for(lambda: abandoned_carts(kit), CART_WINDOW_SECONDS + 20, interval=0.5, message="the cart_abandoned event in Braze")
    assert len(events) == 1
    props = events[0]["properties"]
    assert props["cart_id"] == stored["cart_token"]
    assert props["currency"] == "EUR" and abs(props["total_value"] - (2 * 49.90 + 12.90)) < 0.001
    assert sorted((p["variant_id"], p["quantity"]) for p in props["products"]) == left
    restore = urllib.parse.urlparse(props["restore_url"])
    assert restore.scheme == "https" and restore.netloc == SHOPS["abandon"]["domain"]
    assert restore.path.startswith("/cart/") and not restore.query

    # Another device (no cookies, an empty cart) follows the link on the test storefront.
    # Retried until empty: a request the last page left in flight may still land after the cookies were deleted.
    def fresh_device():
        browser.delete_all_cookies()
        go(browser, sf, "/")
        return cart_lines(browser) == []
    wait_for(fresh_device, 20, interval=1, message="an empty cart on a device without cookies")
    go(browser, sf, restore.path)
    wait_for(lambda: browser.current_url.endswith("/checkout"), 10, message="permalink redirect to checkout")
    assert cart_lines(browser) == left
    assert json.loads(browser.find_element(By.ID, "checkout").text)["item_count"] == 3

    # Nothing else fires for it.
    time.sleep(CART_WINDOW_SECONDS + 2)
    assert len(abandoned_carts(kit)) == 1
    assert errors(browser) in ([], None)
