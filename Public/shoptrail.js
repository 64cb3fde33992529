/*! ShopTrail tracker, source: Public/shoptrail.js */
// Plain ES5 syntax on purpose (valid ES2017): the committed minified build is produced by
// calmjs.parse, whose minifier renames locals but only parses ES5. `scripts/build-tracker`
// rebuilds Public/shoptrail.min.js and the copy embedded in the server; a test fails if stale.
//
// Rules this file keeps (see README, "The tracker"):
// - never throws into the theme: every entry point (load, timers, listeners, wrappers) is
//   wrapped in `safe`, and the wrappers around fetch/XHR return exactly what the originals do;
// - consent first: no cookie, no storage write and no request until Shopify's Customer Privacy
//   API says analytics processing is allowed;
// - one global, `window.ShopTrail`.
(function (w, d) {
  var ST = 'shoptrail_',
    api = w.ShopTrail = w.ShopTrail || {},
    cfg, ctx,
    on, // analytics consent given and tracking started
    visitor, session,
    queue = [], // batches: {v: visitor id, s: session, c: context, e: [events]}
    flushTimer, cartTimer, cartBusy, cartAgain,
    lastCart, // this page's copy of the last cart seen, for when localStorage is blocked
    nativeFetch = w.fetch;
  if (api.v) return; // the snippet rendered twice: the first copy owns the page
  api.v = '1';

  // Runs fn, swallowing anything it throws: the theme must never see our errors.
  function safe(fn) {
    return function () {
      try {
        return fn.apply(this, arguments);
      } catch (e) {}
    };
  }

  function now() {
    return new Date().toISOString();
  }

  function rand(n) {
    var s = '';
    var c = w.crypto;
    var a = c && c.getRandomValues ? c.getRandomValues(new Uint8Array(n)) : [];
    for (var i = 0; i < n; i++) s += ((a[i] || Math.random() * 256) % 36 | 0).toString(36);
    return s;
  }

  function load(key) {
    try {
      return JSON.parse(w.localStorage.getItem(ST + key));
    } catch (e) {}
  }

  function store(key, value) {
    try {
      if (value == null) w.localStorage.removeItem(ST + key);
      else w.localStorage.setItem(ST + key, JSON.stringify(value));
    } catch (e) {}
  }

  function cookie(value, maxAge) {
    d.cookie = ST + 'v=' + value + ';path=/;max-age=' + maxAge + ';samesite=lax' + (location.protocol == 'https:' ? ';secure' : '');
  }

  // ---- identity -------------------------------------------------------------------------

  // The visitor id lives in a first-party cookie, mirrored in localStorage so that a cookie
  // cleared or capped by the browser (Safari's 7-day limit on script cookies) is restored.
  function identify(fresh) {
    var m = /(?:^|; )shoptrail_v=([\w-]+)/.exec(d.cookie);
    var v = m ? m[1] : load('v') || '';
    visitor = !fresh && /^[\w-]{8,64}$/.test(v) ? v : 'v_' + rand(20);
    cookie(visitor, 31536000);
    store('v', visitor);
    // A session ends after 30 minutes without an event.
    var s = !fresh && load('s');
    session = s && new Date() - s.t < 18e5 ? s.i : 's_' + rand(16);
    touch();
  }

  function touch() {
    store('s', { i: session, t: +new Date() });
  }

  // ---- queue and delivery ---------------------------------------------------------------

  function track(name, props) {
    if (!on) return;
    var b = queue[queue.length - 1];
    if (!b || b.c !== ctx || b.v !== visitor || b.e.length > 19) queue.push(b = { v: visitor, s: session, c: ctx, e: [] });
    b.e.push({ id: Date.now().toString(36) + '.' + rand(10), name: name, time: now(), properties: props || {} });
    touch();
    save();
    clearTimeout(flushTimer);
    flushTimer = setTimeout(flush, 1e3);
  }

  // Unsent events survive the page in localStorage and are retried by the next page; the
  // event ids make a retry that the server already stored count as a duplicate, not twice.
  function save() {
    store('q', queue.slice(-20));
  }

  function flush() {
    clearTimeout(flushTimer);
    var sent = [];
    for (var i = 0; i < queue.length; i++) if (send(queue[i])) sent.push(queue[i]);
    queue = queue.filter(function (b) {
      return sent.indexOf(b) < 0;
    });
    save();
  }

  function body(b, events) {
    return JSON.stringify({ write_key: cfg.write_key, visitor_id: b.v, session_id: b.s, sent_at: now(), context: b.c, events: events });
  }

  // sendBeacon (text/plain, no CORS preflight, survives the page) first; fetch keepalive when
  // the beacon queue refuses. A body over 20,000 characters
  // (60 KB even in 3-byte UTF-8) is split: Chromium caps in-flight beacons at 64 KiB.
  function send(b) {
    var text = body(b, b.e);
    if (text.length > 2e4 && b.e.length > 1) {
      var half = b.e.length >> 1;
      return send({ v: b.v, s: b.s, c: b.c, e: b.e.slice(0, half) }) & send({ v: b.v, s: b.s, c: b.c, e: b.e.slice(half) });
    }
    try {
      if (navigator.sendBeacon(cfg.endpoint, text)) return 1;
    } catch (e) {}
    try {
      nativeFetch(cfg.endpoint, { method: 'POST', body: text, keepalive: true, credentials: 'omit' }).then(function (r) {
        // 4xx means this batch can never be accepted: drop it rather than wedge the queue.
        if (r.status < 500) forget(b);
      }, function () {});
    } catch (e) {}
  }

  function forget(b) {
    queue = queue.filter(function (x) {
      return x !== b;
    });
    save();
  }

  // ---- cart -----------------------------------------------------------------------------

  // Any request that may have changed the cart, whatever the theme used to send it.
  var CART_WRITE = /\/cart\/(add|change|update|clear)(\.js)?\/?(\?|#|$)/;

  function isCartWrite(url) {
    try {
      return CART_WRITE.test(new URL(url && url.url || url, location.href).pathname);
    } catch (e) {}
  }

  // Debounced: a quantity stepper clicked five times reads the cart once.
  var cartChanged = safe(function () {
    clearTimeout(cartTimer);
    cartTimer = setTimeout(readCart, 300);
  });

  // Reads /cart.js with XHR: the theme may have replaced fetch, and our own GET of /cart.js is
  // not a cart write, so the wrappers below never see it as a change (no loops).
  var readCart = safe(function () {
    if (!on) return;
    if (cartBusy) return (cartAgain = 1);
    cartBusy = 1;
    var x = new XMLHttpRequest();
    x.open('GET', cfg.cart); // locale-aware routes.cart_url + '.js', from the snippet
    x.onloadend = safe(function () {
      cartBusy = 0;
      if (x.status == 200) diffCart(JSON.parse(x.responseText));
      if (cartAgain) {
        cartAgain = 0;
        readCart();
      }
    });
    x.send();
  });

  function str(v) {
    return v == null ? v : '' + v;
  }

  // A cart line as /cart.js names its fields (ids as strings: they can exceed 2^53 one day).
  var FIELDS = 'key product_id variant_id product_title variant_title sku price final_price url image'.split(' ');

  function line(item, cart, token, qty) {
    var o = { cart_token: token, currency: cart.currency, quantity: qty || item.quantity };
    for (var i = 0, f; (f = FIELDS[i]); i++) o[f] = /_id/.test(f) ? str(item[f]) : item[f];
    return o;
  }

  // Compares the cart with the last one seen (in localStorage, so changes made by classic form
  // posts, other tabs or other apps are caught on the next page) and reports the differences.
  function diffCart(cart) {
    // Since 2024-06 the Ajax token carries "?key=…"; everything from "?" on is dropped so it
    // joins with order.cart_token and the carts/* webhooks.
    var token = str(cart.token || '').split('?')[0];
    var items = cart.items || [];
    var last = load('c') || lastCart;
    var qty = {};
    var sig = [];
    var i, k, it;
    ctx.cart_token = token;
    for (i = 0; i < items.length; i++) sig.push((it = items[i]).key + '*' + (qty[it.key] = it.quantity));
    // Lines may come back reordered: compare a sorted signature, not the arrays.
    sig = token + sig.sort();
    if (last && last.s == sig) return;
    // A new token means a new cart (the old one was ordered or expired): it starts empty.
    var before = last ? (last.t == token ? last.q : {}) : qty;
    for (i = 0; i < items.length; i++) {
      it = items[i];
      k = (qty[it.key] || 0) - (before[it.key] || 0);
      if (k > 0) track('product_added_to_cart', line(it, cart, token, k));
      if (k < 0) track('product_removed_from_cart', line(it, cart, token, -k));
    }
    for (k in before) if (!(k in qty) && last && last.l && last.l[k]) track('product_removed_from_cart', assign(last.l[k], { quantity: before[k] }));
    var lines = {};
    var out = [];
    for (i = 0; i < items.length; i++) {
      lines[items[i].key] = line(items[i], cart, token);
      if (i < 25) out.push(lines[items[i].key]);
    }
    store('c', (lastCart = { t: token, s: sig, q: qty, l: lines }));
    track('cart_updated', {
      cart_token: token,
      currency: cart.currency,
      total_price: cart.total_price,
      item_count: cart.item_count,
      items: out
    });
  }

  function assign(a, b) {
    for (var k in b) a[k] = b[k];
    return a;
  }

  // Installed at load, before consent: wrapping sends nothing, and changes made before consent
  // are picked up by the first cart read once tracking starts.
  function wrap() {
    if (nativeFetch) {
      w.fetch = function (input) {
        var p = nativeFetch.apply(this, arguments);
        try {
          if (isCartWrite(input)) p.then(cartChanged, cartChanged);
        } catch (e) {}
        return p;
      };
    }
    var X = w.XMLHttpRequest && XMLHttpRequest.prototype;
    if (X) {
      var open = X.open;
      var sendX = X.send;
      X.open = function (m, url) {
        try {
          this._shoptrail = isCartWrite(url);
        } catch (e) {}
        return open.apply(this, arguments);
      };
      X.send = function () {
        try {
          if (this._shoptrail) this.addEventListener('loadend', cartChanged);
        } catch (e) {}
        return sendX.apply(this, arguments);
      };
    }
  }

  // ---- page -----------------------------------------------------------------------------

  function start() {
    if (on) return;
    on = 1;
    identify();
    var old = load('q');
    if (old && old.length) queue = old.concat(queue);
    var c = ctx.customer;
    var known = load('u');
    if (load('lo')) {
      store('lo');
      if (!c && known) {
        // Logged out: the last event goes under the old visitor id, then a new visitor starts.
        track('customer_logged_out', { customer_id: known });
        store('u');
        store('c');
        lastCart = 0;
        identify(1);
        known = null;
      }
    }
    track('page_viewed', { url: location.href, title: d.title, referrer: d.referrer });
    if (cfg.product) track('product_viewed', cfg.product);
    if (cfg.collection) track('collection_viewed', cfg.collection);
    if (cfg.search) track('search_submitted', cfg.search);
    // On the first page with this customer, and on the first page after any login.
    if (c && (c.id != known || load('li'))) {
      store('u', c.id);
      track('customer_identified', { customer_id: c.id });
    }
    store('li');
    readCart();
  }

  function stop() {
    on = 0;
    queue = [];
    cookie('', 0);
    var keys = ['v', 's', 'q', 'c', 'u', 'lo', 'li'];
    for (var i = 0; i < keys.length; i++) store(keys[i]);
  }

  function privacy() {
    var s = w.Shopify;
    return s && s.customerPrivacy;
  }

  var consent = safe(function (e) {
    var p = privacy();
    var detail = e && e.detail;
    var ok = detail ? detail.analyticsAllowed : p && p.analyticsProcessingAllowed && p.analyticsProcessingAllowed();
    if (ok) {
      start();
      if (detail) track('consent_updated', { analytics: true, marketing: !!detail.marketingAllowed, preferences: !!detail.preferencesAllowed, sale_of_data: !!detail.saleOfDataAllowed });
    } else if (on) stop();
  });

  function listen(target, type, fn, capture) {
    target.addEventListener(type, safe(fn), capture);
  }

  safe(function () {
    var el = d.getElementById('shoptrail');
    cfg = JSON.parse(el.getAttribute('data-config'));
    ctx = cfg.context || {};
    ctx.page = ctx.page || {};
    ctx.page.url = location.href;
    wrap();
    listen(d, 'visitorConsentCollected', consent);
    // Shopify's standard storefront events fire before the change; their promise settles after.
    var names = ['shopify:cart:lines-update', 'shopify:cart:discount-update', 'cart:updated'];
    for (var i = 0; i < names.length; i++) {
      listen(d, names[i], function (e) {
        if (e.promise && e.promise.then) e.promise.then(cartChanged, cartChanged);
        else cartChanged();
      });
    }
    // Classic <form action="/cart/add"> posts navigate away: the next page's cart read sees them;
    // a theme that intercepts the submit and adds by other means is caught by a late re-read.
    listen(d, 'submit', function (e) {
      var action = e.target.action;
      if (isCartWrite(action)) setTimeout(cartChanged, 1500);
      if (on && /\/account\/login/.test(action)) store('li', 1);
    }, true);
    // Explicit logout (classic and new customer accounts): the next page confirms it.
    listen(d, 'click', function (e) {
      var a = e.target.closest && e.target.closest('a[href]');
      if (on && a && /\/(account|customer_authentication)\/logout/.test(a.href)) {
        store('lo', 1);
        flush();
      }
    }, true);
    listen(d, 'visibilitychange', function () {
      if (d.visibilityState == 'hidden') flush();
    });
    listen(w, 'pagehide', flush);
    api.flush = safe(flush);
    api.cart = cartChanged;
    api.visitorId = function () {
      return on ? visitor : null;
    };
    if (privacy()) consent();
    else if (w.Shopify && Shopify.loadFeatures) Shopify.loadFeatures([{ name: 'consent-tracking-api', version: '0.1' }], safe(function (err) {
      if (!err) consent();
    }));
  })();
})(window, document);
