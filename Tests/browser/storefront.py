"""A test storefront: Shopify-like theme pages rendered by a real Liquid engine (python-liquid), the
Ajax Cart API, the Customer Privacy API, and the App Proxy, emulated closely enough for the tracker.

It is written for the browser tests only. What it emulates, and how (shared/reference/shopify.md):
- pages: index, collection, product, cart, search, customers/login, customers/account, with a
  /fr locale prefix; `request`, `routes`, `shop`, `cart`, `customer`, `product`, `collection`,
  `search`, `localization` objects; Shopify's `json`, `hmac_sha256`, `money`, `image_url` filters;
- the Ajax Cart API: GET /cart.js, POST /cart/add|change|update|clear with or without .js, with
  JSON, urlencoded or multipart bodies; line keys `variant:hash`; tokens `c1-…?key=…`; the non-.js
  forms redirect to /cart like Shopify's;
- the Customer Privacy API: `Shopify.loadFeatures` loads `Shopify.customerPrivacy` asynchronously;
  consent is required or not by region; `setTrackingConsent` fires `visitorConsentCollected`;
- the App Proxy: POST /apps/shoptrail/… is forwarded to the ShopTrail server with Shopify's query
  parameters and signature (HMAC-SHA256 with the app's API secret);
- a stand-in for the Braze Web SDK at GET /__braze/sdk.js (braze_standin.js), the sdk_url of the
  web_sdk shops; `break=braze404` answers 404, `break=brazethrow` serves a script that throws,
  `break=brazecsp` sends pages with a Content Security Policy that blocks it.
Test settings come from cookies set by GET /__settings?region=eu&break=fetch,storage&privacy=preloaded;
`forge=1` renders the customer's signature as zeros (a visitor who edited the page).
"""
import email.parser
import email.policy
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from liquid import DictLoader, Environment

THEME = Path(__file__).resolve().parent / "theme"

PRODUCTS = [
    {
        "id": 8012345678901, "handle": "linen-shirt", "vendor": "Acme & Sons", "type": "Shirts",
        # Quotes, an ampersand and a closing script tag: the snippet must carry them safely.
        "title": 'Linen shirt "Summer" </script><b>L\'été</b>',
        "featured_image": {"src": "files/linen.jpg"},
        "variants": [
            {"id": 44012345678901, "title": "S", "sku": "LIN-S", "price": 4990},
            {"id": 44012345678902, "title": "M", "sku": "LIN-M", "price": 5490},
        ],
    },
    {
        "id": 8012345678902, "handle": "wool-socks", "vendor": "Acme", "type": "Socks", "title": "Wool socks",
        "featured_image": None,
        "variants": [{"id": 44012345678903, "title": "One size", "sku": "SOCK-1", "price": 1290}],
    },
    {
        # Ids beyond 2^53 (Number.MAX_SAFE_INTEGER is 9007199254740991): /cart.js serves them as JSON
        # numbers, which JSON.parse rounds (…993 -> …992, …995 -> …996). Shopify's ids will get there.
        "id": 9007199254740993, "handle": "big-ids", "vendor": "Acme", "type": "Bags", "title": "Tote beyond 2^53",
        "featured_image": None,
        "variants": [{"id": 9007199254740995, "title": "One size", "sku": "TOTE-1", "price": 2500}],
    },
]
COLLECTION = {"id": 450123456789, "handle": "shirts", "title": "Shirts & more", "products_count": 2}
CUSTOMER = {"id": 7001234567890, "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}


def variant_by_id(vid):
    for p in PRODUCTS:
        for v in p["variants"]:
            if v["id"] == vid:
                return p, v
    return None, None


def product_drop(p, selected=None):
    variants = p["variants"]
    chosen = next((v for v in variants if v["id"] == selected), None) or variants[0]
    return dict(p, url=f"/products/{p['handle']}", selected_or_first_available_variant=chosen,
                price=variants[0]["price"], variants=variants)


# ---- Shopify's Liquid filters that the snippet and the theme use ---------------------------------

def f_json(value):
    # Shopify's json filter emits a JSON literal; like it, nothing here is HTML-escaped, so the snippet
    # must not rely on it for safety inside HTML (it escapes the whole document into an attribute).
    return json.dumps(value, ensure_ascii=False)


def f_hmac_sha256(value, key):
    return hmac.new(str(key).encode(), str(value).encode(), hashlib.sha256).hexdigest()


def f_money(cents):
    return f"€{int(cents) / 100:.2f}"


def f_image_url(image, width=None, height=None, **_):
    src = image["src"] if isinstance(image, dict) else str(image)
    return f"//cdn.example.test/s/{src}?width={width}" if width else f"//cdn.example.test/s/{src}"


class Cart:
    def __init__(self):
        self.token = f"c1-{secrets.token_hex(16)}?key={secrets.token_hex(16)}"
        self.items = []  # [{variant_id, quantity, properties}]

    def line_key(self, vid, properties):
        return f"{vid}:{hashlib.md5(json.dumps(properties, sort_keys=True).encode()).hexdigest()}"

    def add(self, vid, qty, properties=None):
        product, variant = variant_by_id(vid)
        if not variant:
            raise KeyError(vid)
        key = self.line_key(vid, properties or {})
        for it in self.items:
            if it["key"] == key:
                it["quantity"] += qty
                return it
        it = {"key": key, "variant_id": vid, "quantity": qty, "properties": properties or {}}
        self.items.insert(0, it)  # Shopify lists the newest line first
        return it

    def set_quantity(self, key, qty):
        for it in list(self.items):
            if it["key"] == key:
                if qty <= 0:
                    self.items.remove(it)
                else:
                    it["quantity"] = qty

    def item_json(self, it):
        product, v = variant_by_id(it["variant_id"])
        return {
            "id": v["id"], "key": it["key"], "variant_id": v["id"], "product_id": product["id"],
            "quantity": it["quantity"], "properties": it["properties"], "title": f"{product['title']} - {v['title']}",
            "product_title": product["title"], "variant_title": v["title"], "sku": v["sku"], "vendor": product["vendor"],
            "price": v["price"], "original_price": v["price"], "final_price": v["price"],
            "line_price": v["price"] * it["quantity"], "final_line_price": v["price"] * it["quantity"],
            "url": f"/products/{product['handle']}?variant={v['id']}", "handle": product["handle"],
            "image": f"https://cdn.example.test/s/{product['featured_image']['src']}" if product["featured_image"] else None,
        }

    def json(self):
        items = [self.item_json(it) for it in self.items]
        total = sum(i["line_price"] for i in items)
        return {
            "token": self.token, "note": None, "attributes": {}, "original_total_price": total, "total_price": total,
            "total_discount": 0, "total_weight": 0, "item_count": sum(i["quantity"] for i in items), "items": items,
            "requires_shipping": True, "currency": "EUR", "items_subtotal_price": total, "cart_level_discount_applications": [],
        }


class Session:
    def __init__(self):
        self.cart = Cart()
        self.customer = None


class Storefront:
    """One shop's storefront on 127.0.0.1:{port}. `snippet` is the generated snippets/shoptrail.liquid."""

    def __init__(self, domain, snippet, proxy_target=None, api_secret=None, design_mode=False):
        self.domain = domain
        self.snippet = snippet
        self.proxy_target = proxy_target  # e.g. http://127.0.0.1:PORT/proxy
        self.api_secret = api_secret
        self.design_mode = design_mode
        self.sessions = {}
        self.lock = threading.Lock()
        self.proxied = []  # (query dict, status) of every App Proxy forward
        # snippets/shoptrail.liquid, found by the theme's real {% render 'shoptrail' %} tag.
        self.env = Environment(loader=DictLoader({"shoptrail": snippet}))
        self.env.filters.update({"json": f_json, "hmac_sha256": f_hmac_sha256, "money": f_money, "image_url": f_image_url})
        self.httpd = None

    # ---- lifecycle ----

    def start(self, port=0):
        store = self

        class Handler(StorefrontHandler):
            storefront = store

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    @property
    def origin(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()

    # ---- rendering ----

    def render(self, template, handler, session, locale, page_type, extra, status=200):
        root = "/fr" if locale == "fr" else ""
        routes = {
            "root_url": root or "/", "cart_url": f"{root}/cart", "cart_add_url": f"{root}/cart/add",
            "cart_change_url": f"{root}/cart/change", "cart_update_url": f"{root}/cart/update",
            "cart_clear_url": f"{root}/cart/clear", "account_login_url": f"{root}/account/login",
            "account_logout_url": f"{root}/account/logout", "search_url": f"{root}/search",
        }
        cart = session.cart.json()
        cart_drop = dict(cart, currency={"iso_code": "EUR"})
        context = {
            "request": {"page_type": page_type, "design_mode": self.design_mode, "path": handler.path.split("?")[0],
                        "host": f"127.0.0.1:{self.port}", "origin": self.origin, "locale": {"iso_code": locale}},
            "routes": routes,
            "shop": {"name": "Test shop", "permanent_domain": self.domain, "currency": "EUR", "domain": f"127.0.0.1:{self.port}"},
            "localization": {"country": {"iso_code": "DE"}},
            "cart": cart_drop, "customer": session.customer, "template": page_type.replace("/", "-"),
            "page_title": page_type, "all_products": [product_drop(p) for p in PRODUCTS],
            "content_for_header": self.content_for_header(handler),
        }
        context.update(extra)
        env = self.env
        inner = env.from_string((THEME / "templates" / f"{page_type.replace('/', '-')}.liquid").read_text()).render(**context)
        return env.from_string((THEME / "layout" / "theme.liquid").read_text()).render(content_for_layout=inner, **context)

    def content_for_header(self, handler):
        """Emulates what Shopify's content_for_header sets up: window.Shopify and the Customer Privacy API."""
        s = handler.settings()
        breaks = set(filter(None, s.get("st_break", "").split(",")))
        parts = []
        if "shopify" not in breaks:
            parts.append("""
  (function () {
    function cookie(n) { var m = document.cookie.match(new RegExp('(?:^|; )' + n + '=([^;]*)')); return m ? m[1] : ''; }
    var required = %(required)s;
    function allowed(kind) { var c = cookie('_tracking_consent_test'); return required ? c === 'yes' : c !== 'no'; }
    var privacy = {
      analyticsProcessingAllowed: function () { return allowed('analytics'); },
      marketingAllowed: function () { return allowed('marketing'); },
      preferencesProcessingAllowed: function () { return allowed('preferences'); },
      saleOfDataAllowed: function () { return !required; },
      shouldShowBanner: function () { return required && !cookie('_tracking_consent_test'); },
      currentVisitorConsent: function () { var c = cookie('_tracking_consent_test'); return { analytics: c, marketing: c, preferences: c, sale_of_data: '' }; },
      setTrackingConsent: function (c, cb) {
        document.cookie = '_tracking_consent_test=' + (c.analytics ? 'yes' : 'no') + ';path=/';
        setTimeout(function () {
          document.dispatchEvent(new CustomEvent('visitorConsentCollected', { detail: {
            analyticsAllowed: !!c.analytics, marketingAllowed: !!c.marketing, preferencesAllowed: !!c.preferences,
            saleOfDataAllowed: !!c.sale_of_data, firstPartyMarketingAllowed: !!c.marketing, thirdPartyMarketingAllowed: false } }));
          if (cb) cb();
        }, 0);
      }
    };
    window.Shopify = { shop: %(shop)s, routes: { root: %(root)s }, currency: { active: 'EUR' } };
    if (%(preloaded)s) Shopify.customerPrivacy = privacy;
    Shopify.loadFeatures = function (features, cb) {
      setTimeout(function () {
        if (features.some(function (f) { return f.name === 'consent-tracking-api'; })) Shopify.customerPrivacy = privacy;
        cb(null);
      }, 30);
    };
  })();""" % {"required": json.dumps(s.get("st_region") == "eu"), "shop": json.dumps(self.domain),
              "root": json.dumps("/fr/" if handler.locale == "fr" else "/"), "preloaded": json.dumps(s.get("st_privacy") == "preloaded")})
        if "fetch" in breaks:
            parts.append("  window.fetch = function () { throw new TypeError('the theme replaced fetch'); };")
        if "storage" in breaks:
            parts.append("  Object.defineProperty(window, 'localStorage', { get: function () { throw new DOMException('The operation is insecure.', 'SecurityError'); } });")
        if "offline" in breaks:
            # The collector is unreachable: beacons refused and fetches to it fail.
            parts.append("""  navigator.sendBeacon = function () { return false; };
  (function (f) { window.fetch = function (u) { return /\\/v1\\/batch/.test(String(u && u.url || u)) ? Promise.reject(new TypeError('Failed to fetch')) : f.apply(this, arguments); }; })(window.fetch);""")
        return "<script>\n" + "\n".join(parts) + "\n</script>"

    def session(self, handler):
        sid = handler.cookies().get("st_session")
        with self.lock:
            if not sid or sid not in self.sessions:
                sid = secrets.token_hex(8)
                self.sessions[sid] = Session()
                handler.new_session = sid
            return self.sessions[sid]


class StorefrontHandler(BaseHTTPRequestHandler):
    storefront: Storefront
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def parse_request(self):
        # One handler serves every request of a keep-alive connection: the session cookie goes out with
        # the answer to the request that made the session, not with every later answer on the connection
        # (that re-set an older session's cookie, and a cart's lines landed in two carts).
        self.new_session = None
        return super().parse_request()

    def cookies(self):
        c = SimpleCookie(self.headers.get("Cookie", ""))
        return {k: v.value for k, v in c.items()}

    def settings(self):
        return self.cookies()

    # ---- responses ----

    def send(self, status, body=b"", ctype="text/html; charset=utf-8", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if getattr(self, "new_session", None):
            self.send_header("Set-Cookie", f"st_session={self.new_session}; Path=/; SameSite=Lax")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location, headers=()):
        self.send(302, b"", headers=[("Location", location), *headers])

    def send_json(self, obj, status=200):
        self.send(status, json.dumps(obj), "application/json; charset=utf-8")

    # ---- request parsing ----

    def split_path(self):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        self.locale = "en"
        if path == "/fr" or path.startswith("/fr/"):
            self.locale = "fr"
            path = path[3:] or "/"
        return path, urllib.parse.parse_qs(url.query, keep_blank_values=True)

    def body_params(self):
        """A flat dict from a JSON, urlencoded or multipart body (Shopify accepts all three)."""
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ctype = self.headers.get("Content-Type", "")
        if "json" in ctype:
            return json.loads(raw or b"{}")
        if "multipart/form-data" in ctype:
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
            return {part.get_param("name", header="content-disposition"): part.get_content().strip() for part in msg.iter_parts()}
        return {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}

    # ---- routes ----

    def do_GET(self):
        sf = self.storefront
        path, query = self.split_path()
        if path == "/__settings":
            headers = [("Set-Cookie", f"st_{k}={v[0]}; Path=/") for k, v in query.items()]
            return self.send(200, "settings saved", "text/plain", headers)
        if path == "/favicon.ico":
            # The browser asks for it on its own, racing the next navigation: it must not make a second cart.
            return self.send(404, "not found", "text/plain")
        if path == "/assets/theme.js":
            return self.send(200, (THEME / "assets" / "theme.js").read_text(), "application/javascript")
        if path == "/__braze/sdk.js":
            breaks = set(self.settings().get("st_break", "").split(","))
            if "braze404" in breaks:
                return self.send(404, "not found", "text/plain")
            body = "throw new Error('the SDK broke');" if "brazethrow" in breaks else (THEME.parent / "braze_standin.js").read_text()
            return self.send(200, body, "application/javascript")
        session = sf.session(self)
        if path == "/cart.js":
            return self.send_json(session.cart.json())
        permalink = re.fullmatch(r"/cart/(\d+:\d+(?:,\d+:\d+)*)", path)
        if permalink:
            # Shopify's cart permalink: a new cart with exactly these lines, then checkout (or the cart page with storefront=true).
            cart = Cart()
            for pair in permalink.group(1).split(","):
                vid, qty = (int(x) for x in pair.split(":"))
                if qty > 0 and variant_by_id(vid)[1]:
                    cart.add(vid, qty)
            session.cart = cart
            return self.redirect("/cart" if (query.get("storefront") or [""])[0] == "true" else "/checkout")
        if path == "/checkout":
            return self.send(200, "<html><body><h1>Checkout</h1><pre id='checkout'>" + json.dumps(session.cart.json()).replace("<", "\\u003c") + "</pre></body></html>")
        if path == "/account/logout":
            session.customer = None
            return self.redirect("/")
        page, extra = None, {}
        if path == "/":
            page = "index"
        elif path.startswith("/collections/"):
            page, extra = "collection", {"collection": dict(COLLECTION, products=[product_drop(p) for p in PRODUCTS])}
        elif path.startswith("/products/"):
            handle = path.split("/")[2]
            product = next((p for p in PRODUCTS if p["handle"] == handle), None)
            if product:
                selected = int(query["variant"][0]) if "variant" in query else None
                page, extra = "product", {"product": product_drop(product, selected)}
        elif path == "/cart":
            page = "cart"
            extra = {"cart": dict(session.cart.json(), currency={"iso_code": "EUR"})}
        elif path == "/search":
            terms = (query.get("q") or [""])[0]
            results = [product_drop(p) for p in PRODUCTS if terms and terms.lower() in p["title"].lower()]
            page, extra = "search", {"search": {"performed": bool(terms), "terms": terms, "results": results, "results_count": len(results)}}
        elif path == "/account/login":
            page = "customers/login"
        elif path == "/account":
            if not session.customer:
                return self.redirect("/account/login")
            page = "customers/account"
        if not page:
            return self.send(404, "not found", "text/plain")
        html = sf.render(page, self, session, self.locale, page, extra)
        if self.settings().get("st_forge"):
            # The customer claim as a visitor who edited it would send it: the signature no longer matches.
            html = re.sub(r"(&quot;sig&quot;:&quot;)[0-9a-f]{64}", lambda m: m.group(1) + "0" * 64, html)
        headers = []
        if "brazecsp" in self.settings().get("st_break", "").split(","):
            # A shop whose Content Security Policy allows its theme and ShopTrail's scripts, not the Braze SDK's URL.
            server = sf.proxy_target.rsplit("/proxy", 1)[0] if sf.proxy_target else ""
            headers.append(("Content-Security-Policy", f"script-src 'unsafe-inline' {sf.origin}/assets/ {server}/sdk/"))
        self.send(200, html, headers=headers)

    def do_POST(self):
        sf = self.storefront
        path, query = self.split_path()
        if path.startswith("/apps/shoptrail/"):
            return self.app_proxy(path[len("/apps/shoptrail"):], query)
        session = sf.session(self)
        m = re.fullmatch(r"/cart/(add|change|update|clear)(\.js)?", path)
        if m:
            params = self.body_params()
            try:
                answer = self.cart_action(session.cart, m.group(1), params)
            except (KeyError, ValueError) as err:
                return self.send_json({"status": 422, "message": "Cart Error", "description": f"Cannot change the cart: {err}"}, 422)
            if m.group(2) or "javascript" in self.headers.get("Accept", "") or self.headers.get("X-Requested-With"):
                return self.send_json(answer)
            return self.redirect("/cart")
        if path == "/account/login":
            self.body_params()
            session.customer = dict(CUSTOMER)
            return self.redirect("/account")
        self.send(404, "not found", "text/plain")

    def cart_action(self, cart, action, params):
        if action == "add":
            items = params.get("items") or [{"id": params.get("id"), "quantity": params.get("quantity", 1), "properties": params.get("properties")}]
            added = [cart.item_json(cart.add(int(i["id"]), int(i.get("quantity") or 1), i.get("properties"))) for i in items]
            # /cart/add.js answers with the added lines only, as Shopify's does.
            return {"items": added} if "items" in params else added[0]
        if action == "change":
            qty = int(params.get("quantity", 0))
            if "line" in params:
                key = cart.items[int(params["line"]) - 1]["key"]
            else:
                ident = str(params.get("id"))
                key = next((it["key"] for it in cart.items if it["key"] == ident or str(it["variant_id"]) == ident), None)
                if key is None:
                    raise KeyError(ident)
            cart.set_quantity(key, qty)
        if action == "update":
            updates = params.get("updates") or {k[8:-1]: v for k, v in params.items() if k.startswith("updates[")}
            if isinstance(updates, list):
                for it, qty in list(zip(list(cart.items), updates)):
                    cart.set_quantity(it["key"], int(qty))
            else:
                for vid, qty in updates.items():
                    key = next((it["key"] for it in cart.items if str(it["variant_id"]) == str(vid)), None)
                    if key:
                        cart.set_quantity(key, int(qty))
                    elif int(qty) > 0:
                        cart.add(int(vid), int(qty))
        if action == "clear":
            cart.items.clear()
        return cart.json()

    def app_proxy(self, rest, query):
        """Shopify's App Proxy: forward to the app with shop, logged_in_customer_id, path_prefix, timestamp, signature."""
        sf = self.storefront
        session = sf.session(self)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        params = {k: v for k, v in query.items()}
        params.update({
            "shop": [sf.domain], "logged_in_customer_id": [str(session.customer["id"]) if session.customer else ""],
            "path_prefix": ["/apps/shoptrail"], "timestamp": [str(int(time.time()))],
        })
        message = "".join(f"{k}={','.join(v)}" for k, v in sorted(params.items()))
        params["signature"] = [hmac.new(sf.api_secret.encode(), message.encode(), hashlib.sha256).hexdigest()]
        url = sf.proxy_target + rest + "?" + urllib.parse.urlencode([(k, x) for k, v in params.items() for x in v])
        # Shopify does not forward the visitor's cookies to the app.
        req = urllib.request.Request(url, data=raw, method="POST", headers={"Content-Type": self.headers.get("Content-Type", "text/plain")})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status, body = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, body = err.code, err.read()
        sf.proxied.append((params, status))
        self.send(status, body, "application/json; charset=utf-8")
