"""The Braze Web SDK in headless Chromium (braze.web_sdk): the loader, the stand-in SDK at the shop's
sdk_url, and SDK Authentication tokens checked here with the public key only (PyJWT)."""
import json

import jwt
import pytest
from selenium.webdriver.common.by import By

from conftest import SHOPS, WEB_SDK_API_KEY, WEB_SDK_ENDPOINT, http, wait_for
from storefront import CUSTOMER
from test_storefront import go, settings

CUSTOMER_ID = str(CUSTOMER["id"])


def state(driver):
    return driver.execute_script("return window.ShopTrail && ShopTrail.braze ? ShopTrail.braze.state : null")


def wait_state(driver, wanted, timeout=15):
    return wait_for(lambda: state(driver) == wanted and wanted, timeout, message=f"the loader to be {wanted!r} (it is {state(driver)!r})")


def calls(driver):
    return driver.execute_script("return window.__brazeCalls || null") or []


def named(driver, name):
    return [c for c in calls(driver) if c["name"] == name]


def storage_keys(driver):
    return driver.execute_script("var k = []; for (var i = 0; i < localStorage.length; i++) k.push(localStorage.key(i)); return k;")


def braze_state_in_browser(driver):
    """Cookies and localStorage keys the (stand-in) SDK writes: `ab.storage.*`, as the real SDK names them."""
    cookies = [c["name"] for c in driver.get_cookies() if c["name"].startswith("ab.")]
    return cookies + [k for k in storage_keys(driver) if k.startswith("ab.")]


def login(driver, sf):
    go(driver, sf, "/account/login")
    driver.find_element(By.ID, "login-go").click()
    wait_for(lambda: driver.current_url.endswith("/account"), 10, message="login")


def verified_subject(kit, token):
    """Braze's check, with the public key only: RS256, signature, expiry; the subject it names."""
    claims = jwt.decode(token, kit.jwt_public_key, algorithms=["RS256"], options={"require": ["sub", "exp"]})
    assert jwt.get_unverified_header(token)["typ"] == "JWT" and jwt.get_unverified_header(token)["kid"]
    assert claims["exp"] - claims["iat"] == 900
    return claims["sub"]


def test_nothing_is_loaded_or_stored_before_consent(kit, browser):
    sf = kit.storefront("sdk")
    settings(browser, sf, region="eu")
    go(browser, sf, "/products/linen-shirt")
    # The loader ran after load and found no consent: the marker this test waits for.
    wait_state(browser, "no consent")
    scripts = browser.execute_script("return Array.prototype.map.call(document.scripts, function (s) { return s.src; })")
    assert not any("/__braze/" in s for s in scripts), scripts
    assert browser.execute_script("return typeof window.braze") == "undefined"
    assert braze_state_in_browser(browser) == []
    assert browser.execute_script("return ShopTrail.visitorId()") is None

    browser.find_element(By.ID, "consent-accept").click()
    wait_state(browser, "ready")
    init = named(browser, "initialize")[0]["args"]
    assert init[0] == WEB_SDK_API_KEY and init[1] == {"baseUrl": WEB_SDK_ENDPOINT, "enableSdkAuthentication": True}
    names = [c["name"] for c in calls(browser)]
    assert names == ["initialize", "subscribeToSdkAuthenticationFailures", "automaticallyShowInAppMessages", "addAlias", "openSession"], names
    # Anonymous: no user, no token; the SDK user carries the visitor's alias, as the server's events do.
    visitor = browser.execute_script("return ShopTrail.visitorId()")
    assert named(browser, "addAlias")[0]["args"] == [visitor, "shoptrail_visitor"]
    assert braze_state_in_browser(browser), "the stand-in writes its storage once initialised"
    assert browser.execute_script("return window.__errors") == []


def test_change_user_only_after_a_verified_login_with_a_token_that_verifies(kit, browser):
    sf = kit.storefront("sdk")
    go(browser, sf, "/")
    wait_state(browser, "ready")
    assert named(browser, "changeUser") == []
    login(browser, sf)
    wait_state(browser, "ready")
    names = [c["name"] for c in calls(browser)]
    assert names.index("changeUser") < names.index("openSession"), names
    user_id, token = named(browser, "changeUser")[0]["args"]
    assert user_id == CUSTOMER_ID
    assert verified_subject(kit, token) == CUSTOMER_ID
    assert named(browser, "addAlias") == []

    # Braze refuses the signature (expired): the loader asks the server and hands over a new one.
    browser.execute_script("__brazeRefuseSignature()")
    fresh = wait_for(lambda: named(browser, "setSdkAuthenticationSignature"), 10, message="a new signature")
    assert verified_subject(kit, fresh[0]["args"][0]) == CUSTOMER_ID
    assert browser.execute_script("return ShopTrail.braze.failures") == 1
    assert browser.execute_script("return window.__errors") == []


def test_the_app_proxy_channel_hands_the_logged_in_customer_their_token(kit, browser):
    sf = kit.storefront("sdkproxy")
    login(browser, sf)
    wait_state(browser, "ready")
    user_id, token = named(browser, "changeUser")[0]["args"]
    assert user_id == CUSTOMER_ID and verified_subject(kit, token) == CUSTOMER_ID
    forwarded = [(q, status) for q, status in sf.proxied if q["path_prefix"] == ["/apps/shoptrail"] and status == 200]
    assert any(q["logged_in_customer_id"] == [CUSTOMER_ID] for q, _ in forwarded)


def test_a_forged_customer_gets_no_token(kit, browser):
    sf = kit.storefront("sdk")
    settings(browser, sf, forge="1")
    login(browser, sf)
    wait_state(browser, "ready")
    assert named(browser, "changeUser") == [] and named(browser, "setSdkAuthenticationSignature") == []
    # It stays the anonymous visitor it is.
    assert named(browser, "addAlias")[0]["args"][1] == "shoptrail_visitor"
    # The same request from outside the page: refused with a reason, no token.
    config = json.loads(browser.execute_script("return document.getElementById('shoptrail').getAttribute('data-config')"))
    customer = config["context"]["customer"]
    assert customer["id"] == CUSTOMER_ID and customer["sig"] == "0" * 64
    status, headers, body = http("POST", f"{kit.base}/v1/braze/token", json.dumps({"write_key": SHOPS["sdk"]["write_key"], "customer": customer}),
                                 headers={"Origin": sf.origin})
    answer = json.loads(body)
    assert status == 403 and answer["error"] == "bad_signature" and "token" not in answer


@pytest.mark.parametrize("failure", ["braze404", "brazethrow", "brazecsp"])
def test_the_theme_and_the_tracker_keep_working_when_the_sdk_fails(kit, browser, failure):
    sf = kit.storefront("sdk")
    settings(browser, sf, **{"break": failure})
    go(browser, sf, "/products/wool-socks")
    wait_state(browser, "failed")
    visitor = wait_for(lambda: browser.execute_script("return ShopTrail.visitorId()"), 10, message="the tracker")
    wait_for(lambda: [e for e in kit.events(visitor_id=visitor) if e["name"] == "product_viewed"], 10, message="the tracker's product view")
    # The theme's own script still runs: add to cart answers and the tracker reports it.
    before = browser.execute_script("return document.body.getAttribute('data-cart-done')")
    browser.find_element(By.ID, "add-fetch").click()
    wait_for(lambda: browser.execute_script("return document.body.getAttribute('data-cart-done')") != before, 10, message="the theme's add to cart")
    wait_for(lambda: [e for e in kit.events(visitor_id=visitor) if e["name"] == "product_added_to_cart"], 10, message="the tracker's cart event")
    errors = browser.execute_script("return window.__errors")
    # Only the broken SDK's own error, never one of ours.
    assert all("the SDK broke" in e for e in errors), errors
    if failure == "brazecsp":
        assert browser.execute_script("return typeof window.braze") == "undefined", "the policy blocked the SDK"
