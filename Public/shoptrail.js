/*! ShopTrail: Public/shoptrail.js */
// Plain ES5 syntax on purpose (valid ES2017): the committed minified build is produced by
// calmjs.parse, whose minifier renames locals but only parses ES5. `scripts/build-tracker`
// rebuilds Public/shoptrail.min.js and the copy embedded in the server; a test fails if stale.
//
// Rules this file keeps (see README, "The tracker"):
// - never throws into the theme: every entry point (load, timers, listeners, wrappers) is
//   wrapped in `safe`, and the wrappers around fetch/XHR return exactly what the originals do;
// - consent first: no cookie, no storage write and no request until Shopify's Customer Privacy
//   API says analytics processing is allowed (before it, all state is in memory: see `store`);
// - ids exact: product, variant and customer ids are strings, read from the response text (`parse`);
// - one global, `window.ShopTrail`.
// Size counts (the budget is 2,560 bytes min+gzip, Tests/browser/size_check.py): prefer one code
// path to two and repeated words to clever ones (gzip shares them).
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

  // n random base-36 characters (crypto.getRandomValues: every ES2017 browser has it).
  function rand(n) {
    for (var s = '', a = crypto.getRandomValues(new Uint8Array(n)), i = 0; i < n; ) s += (a[i++] % 36).toString(36);
    return s;
  }

  // JSON.parse keeping ids exact: an "id" or "…_id" member whose value is an integer literal is
  // quoted in the text first, so ids beyond 2^53 (variant 9007199254740995) keep their digits and
  // every such id comes out as a string. Each match starts at a string token and consumes it whole,
  // so nothing inside a string value is ever touched; decimals and exponents are left alone.
  function parse(text) {
    return JSON.parse(text.replace(/("(?:[^"\\]|\\.)*")(\s*:\s*(\d+)(?=\s*[,}]))?/g, function (m, k, v, n) {
      return n && /(^"|_)id"$/.test(k) ? k + ':"' + n + '"' : m;
    }));
  }

  function load(key) {
    try {
      return JSON.parse(localStorage.getItem(ST + key));
    } catch (e) {}
  }

  // Nothing is written before consent: until then the queue, the last cart and the ids live in
  // memory only. Removing (value null) is always allowed: withdrawn consent deletes what we wrote.
  function store(key, value) {
    try {
      if (value == null) localStorage.removeItem(ST + key);
      else if (on) localStorage.setItem(ST + key, JSON.stringify(value));
    } catch (e) {}
  }

  function cookie(value, maxAge) {
    d.cookie = ST + 'v=' + value + ';path=/;max-age=' + maxAge + ';samesite=lax' + (location.protocol == 'https:' ? ';secure' : '');
  }

  // ---- identity -------------------------------------------------------------------------

  // The visitor id lives in a first-party cookie, mirrored in localStorage so that a cookie
  // cleared or capped by the browser (Safari's 7-day limit on script cookies) is restored.
  function identify(fresh) {
    var m = /(^|; )shoptrail_v=([\w-]+)/.exec(d.cookie),
      v = m ? m[2] : load('v') || '';
    visitor = !fresh && /^[\w-]{8,64}$/.test(v) ? v : 'v_' + rand(20);
    cookie(visitor, 31536000);
    store('v', visitor);
    // A session ends after 30 minutes without an event.
    var s = !fresh && load('s');
    session = s && Date.now() - s.t < 18e5 ? s.i : 's_' + rand(16);
  }

  // ---- queue and delivery ---------------------------------------------------------------

  function track(name, props) {
    if (!on) return;
    var b = queue[queue.length - 1];
    if (!b || b.c !== ctx || b.v !== visitor || b.e.length > 19 || b.f) queue.push(b = { v: visitor, s: session, c: ctx, e: [] });
    b.e.push({ id: Date.now().toString(36) + '.' + rand(10), name: name, time: now(), properties: props });
    store('s', { i: session, t: Date.now() });
    save();
    clearTimeout(flushTimer);
    flushTimer = setTimeout(flush, 1e3);
  }

  // Unsent events survive the page in localStorage and are retried by the next page; the
  // event ids make a retry that the server already stored count as a duplicate, not twice.
  function save() {
    store('q', queue.slice(-20));
  }

  // (The batching timer is left to fire: after a flush that sent everything, its queue is empty.)
  function flush() {
    queue = queue.filter(function (b) {
      return !send(b, b.e);
    });
    save();
  }

  // sendBeacon (text/plain, no CORS preflight, survives the page) first; fetch keepalive when
  // the beacon queue refuses. A body over 20,000 characters
  // (60 KB even in 3-byte UTF-8) is split: Chromium caps in-flight beacons at 64 KiB.
  // True when the events are on their way (the batch leaves the queue).
  function send(b, events) {
    var half = events.length >> 1,
      text = JSON.stringify({ write_key: cfg.write_key, visitor_id: b.v, session_id: b.s, sent_at: now(), context: b.c, events: events });
    if (text.length > 2e4 && half) return send(b, events.slice(0, half)) & send(b, events.slice(half));
    try {
      if (navigator.sendBeacon(cfg.endpoint, text)) return 1;
    } catch (e) {}
    try {
      nativeFetch(cfg.endpoint, { method: 'POST', body: text, keepalive: 1, credentials: 'omit' }).then(function (r) {
        // 4xx means this batch can never be accepted: drop it rather than wedge the queue.
        if (r.status < 500 && events == b.e) {
          queue = queue.filter(function (x) {
            return x !== b;
          });
          save();
        }
      }, Object); // a failed fetch stays queued (Object: a no-op that keeps the rejection handled)
      // In flight (a fetch that threw is not): track() starts a new batch rather than add to this
      // one, whose answer takes it out of the queue with every event it holds by then.
      b.f = 1;
    } catch (e) {}
  }

  // ---- cart -----------------------------------------------------------------------------

  // Any request that may have changed the cart, whatever the theme used to send it (URL, string
  // or Request; the pathname has no query or fragment).
  function isCartWrite(url) {
    try {
      return /\/cart\/(add|change|update|clear)(\.js)?\/?$/.test(new URL(url && url.url || url, location.href).pathname);
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
      if (x.status == 200) diffCart(parse(x.responseText));
      if (cartAgain) {
        cartAgain = 0;
        readCart();
      }
    });
    x.send();
  });

  // A cart line as /cart.js names its fields (ids are strings: see `parse`).
  var FIELDS = 'key product_id variant_id product_title variant_title sku price final_price url image'.split(' ');

  function line(item, cart, token, qty) {
    var o = { cart_token: token, currency: cart.currency, quantity: qty || item.quantity };
    for (var i = 0, f; (f = FIELDS[i++]); ) o[f] = item[f];
    return o;
  }

  // Compares the cart with the last one seen (in localStorage, so changes made by classic form
  // posts, other tabs or other apps are caught on the next page) and reports the differences.
  function diffCart(cart) {
    // Since 2024-06 the Ajax token carries "?key=…"; everything from "?" on is dropped so it
    // joins with order.cart_token and the carts/* webhooks.
    var token = (cart.token || '').split('?')[0],
      items = cart.items || [],
      last = load('c') || lastCart,
      qty = {},
      sig = [],
      lines = {},
      out = [],
      i, k, it, before;
    ctx.cart_token = token;
    for (i = 0; (it = items[i]); i++) {
      sig.push(it.key + '*' + (qty[it.key] = it.quantity));
      lines[it.key] = line(it, cart, token);
      if (i < 25) out.push(lines[it.key]);
    }
    // Lines may come back reordered: compare a sorted signature, not the arrays.
    sig = token + sig.sort();
    if (last && last.s == sig) return;
    // A new token means a new cart (the old one was ordered or expired): it starts empty.
    before = last ? (last.t == token ? last.q : {}) : qty;
    for (i = 0; (it = items[i]); i++) {
      k = qty[it.key] - (before[it.key] || 0);
      if (k) track(k > 0 ? 'product_added_to_cart' : 'product_removed_from_cart', line(it, cart, token, k > 0 ? k : -k));
    }
    // A line gone since the last cart: its stored copy already has the quantity that went.
    for (k in before) if (!(k in qty) && (it = (last.l || {})[k])) track('product_removed_from_cart', it);
    store('c', (lastCart = { t: token, s: sig, q: qty, l: lines }));
    track('cart_updated', {
      cart_token: token,
      currency: cart.currency,
      total_price: cart.total_price,
      item_count: cart.item_count,
      items: out
    });
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
    // Every ES2017 browser has XMLHttpRequest (the cart is read with it too).
    var X = XMLHttpRequest.prototype,
      open = X.open,
      sendX = X.send;
    // isCartWrite never throws, nor does setting an expando on the request (sloppy mode).
    X.open = function (m, url) {
      this._shoptrail = isCartWrite(url);
      return open.apply(this, arguments);
    };
    X.send = function () {
      try {
        if (this._shoptrail) this.addEventListener('loadend', cartChanged);
      } catch (e) {}
      return sendX.apply(this, arguments);
    };
  }

  // ---- page -----------------------------------------------------------------------------

  // Consent given: from here on state may be written (cookie, localStorage).
  function start() {
    if (on) return;
    on = 1;
    identify();
    var old = load('q'),
      c = ctx.customer,
      known = load('u');
    if (old && old.length) queue = old.concat(queue);
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

  // Asked on load and on every visitorConsentCollected event (its detail is the new choice).
  var consent = safe(function (e) {
    var p = w.Shopify && Shopify.customerPrivacy,
      detail = e && e.detail;
    if (detail ? detail.analyticsAllowed : p && p.analyticsProcessingAllowed()) {
      start();
      if (detail) track('consent_updated', { analytics: !0, marketing: !!detail.marketingAllowed, preferences: !!detail.preferencesAllowed, sale_of_data: !!detail.saleOfDataAllowed });
    } else if (on) {
      // Withdrawn: stop, and delete the cookie and everything stored.
      on = 0;
      queue = [];
      cookie('', 0);
      'v s q c u lo li'.replace(/\w+/g, function (k) {
        store(k);
      });
    }
  });

  function listen(target, type, fn, capture) {
    target.addEventListener(type, safe(fn), capture);
  }

  safe(function () {
    cfg = parse(d.getElementById('shoptrail').getAttribute('data-config'));
    // The snippet always renders context.page (with the page type); the tracker adds the URL.
    (ctx = cfg.context).page.url = location.href;
    wrap();
    listen(d, 'visitorConsentCollected', consent);
    // Shopify's standard storefront events fire before the change; their promise settles after.
    'shopify:cart:lines-update shopify:cart:discount-update cart:updated'.replace(/\S+/g, function (name) {
      listen(d, name, function (e) {
        Promise.resolve(e.promise).then(cartChanged, cartChanged);
      });
    });
    // Classic <form action="/cart/add"> posts navigate away: the next page's cart read sees them;
    // a theme that intercepts the submit and adds by other means is caught by a late re-read.
    listen(d, 'submit', function (e) {
      var action = e.target.action;
      if (isCartWrite(action)) setTimeout(cartChanged, 1500);
      if (/\/account\/login/.test(action)) store('li', 1);
    }, 1);
    // Explicit logout (classic and new customer accounts): the next page confirms it.
    listen(d, 'click', function (e) {
      // (A target without closest() throws, into `safe`: not a link.)
      var a = e.target.closest('a[href]');
      if (on && a && /\/(account|customer_authentication)\/logout/.test(a.href)) {
        store('lo', 1);
        flush();
      }
    }, 1);
    listen(d, 'visibilitychange', function () {
      if (d.hidden) flush();
    });
    listen(w, 'pagehide', flush);
    api.flush = safe(flush);
    api.cart = cartChanged;
    api.visitorId = function () {
      return on ? visitor : null;
    };
    // Last, as it throws on a page without window.Shopify (no consent API: nothing is tracked).
    // The callback's argument is an error or nothing: either way consent() asks the API, if loaded.
    if (Shopify.customerPrivacy) consent();
    else Shopify.loadFeatures([{ name: 'consent-tracking-api', version: '0.1' }], consent);
  })();
})(window, document);
