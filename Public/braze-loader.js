/*! ShopTrail: Public/braze-loader.js */
// The Braze Web SDK loader (docs/web-sdk.md), served at /sdk/v1/braze-loader.js and referenced by the
// snippet only for shops with braze.web_sdk. It is never inlined: the tracker's budget is untouched.
// Plain ES5 syntax on purpose (valid ES2017), for calmjs.parse as the tracker (scripts/build-tracker).
//
// Rules this file keeps:
// - consent first: the SDK script is not even requested (so it writes no cookie and no storage) until
//   Shopify's Customer Privacy API allows analytics, the tracker's gate; withdrawn consent wipes it;
// - late: after the load event, in an idle callback; nothing here blocks rendering;
// - changeUser only with the external id the server returned together with its token, for the
//   customer the page's Liquid signed or Shopify's App Proxy named: never an id read from the page;
// - never throws into the theme: a missing, blocked or throwing SDK leaves the page and the tracker alone;
// - one global, `window.ShopTrail` (the tracker's), here its `braze` member (state, for support and tests).
(function (w, d) {
  var el = d.getElementById('shoptrail-braze'),
    api = (w.ShopTrail = w.ShopTrail || {}),
    me = { state: 'waiting', failures: 0 },
    cfg, customer, braze, loaded, requested;
  if (!el || api.braze) return; // rendered twice: the first copy owns the page
  api.braze = me;

  // Runs fn, keeping anything it throws from the theme (the last error is kept for support).
  function safe(fn) {
    return function () {
      try {
        return fn.apply(this, arguments);
      } catch (e) {
        me.error = String((e && e.message) || e);
      }
    };
  }

  function consented() {
    var p = w.Shopify && Shopify.customerPrivacy;
    return !!(p && p.analyticsProcessingAllowed());
  }

  // The server's token for the verified customer: the Liquid-signed claim goes along (direct), or
  // Shopify adds the logged-in customer on the way (App Proxy, same origin). Any failure: no token.
  function token(then) {
    var x = new XMLHttpRequest();
    x.open('POST', cfg.token_url);
    x.onloadend = safe(function () {
      var t = null;
      try {
        if (x.status == 200) t = JSON.parse(x.responseText);
      } catch (e) {}
      then(t && t.token && t.external_id ? t : null);
    });
    // text/plain: a simple request, no CORS preflight.
    x.send(JSON.stringify({ write_key: cfg.write_key, customer: customer }));
  }

  // An anonymous SDK user carries the visitor's alias, as the server's events do in forward mode, so
  // the server's /users/identify at login or order merges it into the customer (docs/web-sdk.md).
  function alias() {
    var v = api.visitorId && api.visitorId();
    if (v) braze.getUser().addAlias(v, cfg.alias_label);
  }

  function open() {
    braze.openSession();
    if (cfg.content_cards) braze.requestContentCardsRefresh();
    me.state = 'ready';
    d.dispatchEvent(new CustomEvent('shoptrail:braze-ready'));
  }

  var init = safe(function () {
    braze = w.braze;
    if (!braze || !braze.initialize || !braze.initialize(cfg.api_key, { baseUrl: cfg.base_url, enableSdkAuthentication: true })) {
      me.state = 'failed';
      return;
    }
    me.state = 'starting';
    // Braze refused the token (expired, or a key rotated out): a new one for the same customer.
    braze.subscribeToSdkAuthenticationFailures(safe(function () {
      me.failures++;
      if (me.user) {
        token(safe(function (t) {
          if (t && t.external_id == me.user) braze.setSdkAuthenticationSignature(t.token);
        }));
      }
    }));
    if (cfg.in_browser_messages) braze.automaticallyShowInAppMessages();
    if (!customer) {
      alias();
      return open();
    }
    token(safe(function (t) {
      // Before openSession, so the session is the customer's (Braze's order).
      if (t) braze.changeUser((me.user = t.external_id), t.token);
      else alias();
      open();
    }));
  });

  var start = safe(function () {
    if (requested || !loaded) return;
    if (!consented()) return (me.state = 'no consent');
    requested = 1;
    me.state = 'loading';
    var s = d.createElement('script');
    s.src = cfg.sdk_url;
    s.async = true;
    s.onerror = function () {
      me.state = 'failed';
    };
    s.onload = init;
    d.head.appendChild(s);
  });

  // After load, when the browser is idle; the consent API may still be loading (the tracker asks for it too).
  var later = safe(function () {
    var ask = safe(function () {
      if (w.Shopify && Shopify.customerPrivacy) start();
      else Shopify.loadFeatures([{ name: 'consent-tracking-api', version: '0.1' }], start);
    });
    loaded = 1;
    if (w.requestIdleCallback) requestIdleCallback(ask, { timeout: 3000 });
    else setTimeout(ask, 1);
  });

  safe(function () {
    cfg = JSON.parse(el.getAttribute('data-config'));
    // The customer the snippet signed (the tracker's config): evidence for the server, never an id to use.
    customer = JSON.parse(d.getElementById('shoptrail').getAttribute('data-config')).context.customer || null;
    d.addEventListener('visitorConsentCollected', safe(function (e) {
      if (e.detail && e.detail.analyticsAllowed) return start();
      // Withdrawn: the SDK deletes what it stored (cookies, localStorage) and stops.
      if (braze && braze.wipeData) {
        braze.wipeData();
        me.state = 'wiped';
      }
    }));
    if (d.readyState == 'complete') later();
    else w.addEventListener('load', later);
  })();
})(window, document);
