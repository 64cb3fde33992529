"""Fixtures for the browser tests: the real `shoptrail` binary, the test storefront(s), headless Chromium."""
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from storefront import Storefront  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "browser-tests-admin-token-0123456789"
SHOPS = {
    "direct": {"domain": "kit-direct.myshopify.com", "write_key": "pk_kit_direct", "snippet_secret": "snippet-secret-direct", "api_secret": "api-secret-direct"},
    "proxy": {"domain": "kit-proxy.myshopify.com", "write_key": "pk_kit_proxy", "snippet_secret": "snippet-secret-proxy", "api_secret": "api-secret-proxy"},
    # Abandonment on, with a window of seconds (allow_short_windows is for tests and demos).
    "abandon": {"domain": "kit-abandon.myshopify.com", "write_key": "pk_kit_abandon", "snippet_secret": "snippet-secret-abandon", "api_secret": "api-secret-abandon"},
    # The Braze Web SDK (braze.web_sdk), with SDK Authentication: tokens through the signed customer, or the App Proxy.
    "sdk": {"domain": "kit-sdk.myshopify.com", "write_key": "pk_kit_sdk", "snippet_secret": "snippet-secret-sdk", "api_secret": "api-secret-sdk"},
    "sdkproxy": {"domain": "kit-sdkproxy.myshopify.com", "write_key": "pk_kit_sdkproxy", "snippet_secret": "snippet-secret-sdkproxy", "api_secret": "api-secret-sdkproxy"},
}
WEB_SDK_API_KEY = "web-api-key-for-tests"
WEB_SDK_ENDPOINT = "sdk.test.braze.eu"


def rsa_key_pair():
    """A fresh 2048-bit RSA key pair (PEM private, PEM public) for the SDK Authentication tests."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public
CART_WINDOW_SECONDS = 3


def binary() -> str:
    path = os.environ.get("SHOPTRAIL_BIN")
    if path:
        return path
    bin_dir = subprocess.check_output(["swift", "build", "--show-bin-path"], cwd=ROOT, text=True).strip()
    return str(Path(bin_dir) / "shoptrail")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=10):
    req = urllib.request.Request(url, data=body.encode() if isinstance(body, str) else body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def wait_for(predicate, timeout=10.0, interval=0.1, message="condition"):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {message}; last value: {value!r}")
        time.sleep(interval)


class Kit:
    """The running server and its storefronts, plus helpers to read what the server stored."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.port = free_port()
        self.ports = {"direct": free_port(), "proxy": free_port(), "inline": free_port(), "abandon": free_port(), "sdk": free_port(), "sdkproxy": free_port()}
        # The server reads the web SDK's keys from the environment, as an operator would set them.
        self.jwt_private_key, self.jwt_public_key = rsa_key_pair()
        self.env = env = dict(os.environ, SHOPTRAIL_TEST_BRAZE_WEB_KEY=WEB_SDK_API_KEY, SHOPTRAIL_TEST_JWT_KEY=self.jwt_private_key)
        self.base = f"http://127.0.0.1:{self.port}"
        self.config_path = tmp / "shoptrail.yml"
        self.config_path.write_text(self.config_yaml())
        self.db_path = tmp / "data" / "shoptrail.sqlite"
        self.out = open(tmp / "server.log", "w+")
        self.proc = subprocess.Popen([binary(), "serve", "--config", str(self.config_path), "--sandbox-port", "0", "--log-level", "debug"], cwd=tmp, stdout=self.out, stderr=subprocess.STDOUT, env=env)
        wait_for(lambda: "is running on" in (tmp / "server.log").read_text() or self.proc.poll() is not None, 60, message="server banner")
        assert self.proc.poll() is None, (tmp / "server.log").read_text()
        self.storefronts = {}
        banner = (tmp / "server.log").read_text()
        match = re.search(r"Braze sandbox \(in-process[^)]*\) on (http://127\.0\.0\.1:\d+)", banner)
        self.sandbox = match.group(1) if match else None

    def config_yaml(self):
        proxy = "\n    app_proxy:\n      subpath_prefix: apps\n      subpath: shoptrail"
        shops = [
            self.shop_yaml("direct", origins=["direct", "inline"]),
            self.shop_yaml("proxy", proxy),
            self.shop_yaml("abandon", f"\n    abandonment:\n      allow_short_windows: true\n      cart:\n        window: {CART_WINDOW_SECONDS}s"),
            self.shop_yaml("sdk", self.web_sdk_yaml("sdk")),
            self.shop_yaml("sdkproxy", proxy + self.web_sdk_yaml("sdkproxy")),
        ]
        return f"""
server:
  public_url: "{self.base}"
  port: {self.port}
  data_dir: ./data
  admin_token: "{ADMIN_TOKEN}"
shops:""" + "".join(shops) + "\n"

    def shop_yaml(self, name, extra="", origins=None):
        """One `shops:` entry: the shop's keys, its storefronts' origins, then `extra` (more keys of the entry)."""
        s = SHOPS[name]
        allowed = ", ".join(f'"http://127.0.0.1:{self.ports[o]}"' for o in origins or [name])
        return f"""
  - domain: {s['domain']}
    write_key: {s['write_key']}
    allowed_origins: [{allowed}]
    snippet_secret: "{s['snippet_secret']}"
    shopify:
      api_secret: {json.dumps(s['api_secret'])}""" + extra

    def web_sdk_yaml(self, name):
        return f"""
    braze:
      web_sdk:
        api_key_env: SHOPTRAIL_TEST_BRAZE_WEB_KEY
        sdk_endpoint: {WEB_SDK_ENDPOINT}
        sdk_url: "http://127.0.0.1:{self.ports[name]}/__braze/sdk.js"
        jwt_private_key_env: SHOPTRAIL_TEST_JWT_KEY"""

    def snippet(self, shop, inline=False):
        status, _, body = http("GET", f"{self.base}/v1/shops/{SHOPS[shop]['domain']}/snippet.liquid" + ("?inline=1" if inline else ""),
                               headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert status == 200, body
        return body.decode()

    def storefront(self, name):
        if name not in self.storefronts:
            shop = "direct" if name == "inline" else name
            sf = Storefront(SHOPS[shop]["domain"], self.snippet(shop, inline=name == "inline"),
                            proxy_target=f"{self.base}/proxy", api_secret=SHOPS[shop]["api_secret"])
            self.storefronts[name] = sf.start(self.ports[name])
        return self.storefronts[name]

    def braze_users(self):
        """The profiles in the in-process Braze sandbox."""
        assert self.sandbox, "no sandbox URL in the server banner"
        status, _, body = http("GET", f"{self.sandbox}/_sandbox/users")
        assert status == 200, body
        return json.loads(body)

    def events(self, **where):
        """Stored events, oldest first, as dicts with parsed context and properties."""
        con = sqlite3.connect(self.db_path)
        con.row_factory = sqlite3.Row
        try:
            # A batch's context is stored once, in event_contexts, and shared by its events.
            rows = [dict(r) for r in con.execute(
                "select e.position, e.shop, e.source, e.event_id, e.name, e.visitor_id, e.session_id, e.client_time, e.time, e.received_at,"
                " coalesce(e.context, c.text) as context, e.properties, e.verified"
                " from events e left join event_contexts c on c.id = e.context_id order by e.position")]
        finally:
            con.close()
        for r in rows:
            r["context"] = json.loads(r["context"]) if r["context"] else None
            r["properties"] = json.loads(r["properties"])
            r["verified"] = json.loads(r["verified"]) if r.get("verified") else None
        return [r for r in rows if all(r.get(k) == v for k, v in where.items())]

    def stop(self):
        for sf in self.storefronts.values():
            sf.stop()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.out.close()


@pytest.fixture(scope="session")
def kit(tmp_path_factory):
    k = Kit(tmp_path_factory.mktemp("kit"))
    yield k
    k.stop()


def chromium_paths():
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver") or "/usr/lib/chromium/chromedriver"
    return browser, driver


@pytest.fixture
def browser():
    """A fresh headless Chromium: no cookies or storage from another test."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    path, driver_path = chromium_paths()
    if not path or not Path(driver_path).exists():
        pytest.fail("chromium and chromium-driver are required (scripts/test installs them: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = path
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1200,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, what a rare flake needs to be understood: the server's refusals and the page's beacons."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    kit, driver = item.funcargs.get("kit"), item.funcargs.get("browser")
    if kit:
        lines = (kit.tmp / "server.log").read_text(errors="replace").splitlines()
        notable = [l for l in lines if re.search(r"refused|level=(warning|error|critical)", l)]
        report.sections.append(("server log: refusals, warnings, errors (last 40)", "\n".join(notable[-40:]) or "(none)"))
    if driver:
        try:
            sent = driver.execute_script("""
                return location.href + '\\n' + performance.getEntriesByType('resource')
                  .filter(function (e) { return /\\/v1\\/batch|cart\\.js/.test(e.name); })
                  .map(function (e) { return e.initiatorType + ' ' + e.name + ' status=' + e.responseStatus + ' at=' + Math.round(e.startTime) + 'ms'; }).join('\\n');""")
        except Exception as err:  # the page may be gone; the report must still be written
            sent = f"(could not ask the page: {err})"
        report.sections.append(("the page's cart reads and beacons", sent))
