// The test theme's own JavaScript: each cart path a real theme uses. It sets data-cart-done on <body>
// when a change has been answered, so tests can wait for it.
(function () {
  function done(n) { document.body.setAttribute('data-cart-done', String(n)); }
  var count = 0;
  function json(url, body) {
    return fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body) });
  }
  document.addEventListener('click', function (e) {
    var b = e.target.closest('[data-action]');
    if (!b) return;
    e.preventDefault();
    var action = b.getAttribute('data-action');
    var variant = Number(b.getAttribute('data-variant'));
    var n = ++count;
    if (action === 'add-fetch') json('/cart/add.js', { items: [{ id: variant, quantity: 1 }] }).then(function () { done(n); });
    if (action === 'add-xhr') {
      var x = new XMLHttpRequest();
      x.open('POST', '/cart/add.js');
      x.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
      x.onload = function () { done(n); };
      x.send('id=' + variant + '&quantity=1');
    }
    if (action === 'add-formdata') {
      fetch(window.routes.cart_add_url, { method: 'POST', headers: { Accept: 'application/javascript', 'X-Requested-With': 'XMLHttpRequest' }, body: new FormData(document.getElementById('dawn-form')) })
        .then(function () { done(n); });
    }
    if (action === 'add-event') {
      // A theme using Shopify's standard storefront events, with a fetch the tracker did not wrap.
      var p = window.__themeFetch('/cart/add.js', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: variant, quantity: 1 }) });
      var ev = new CustomEvent('shopify:cart:lines-update', { bubbles: true, detail: { action: 'add' } });
      ev.promise = p.then(function () { return { cart: {} }; });
      document.dispatchEvent(ev);
      ev.promise.then(function () { done(n); });
    }
    if (action === 'change') {
      json(window.routes.cart_change_url + '.js', { id: b.getAttribute('data-key'), quantity: Number(b.getAttribute('data-quantity')) }).then(function () { done(n); });
    }
    if (action === 'update-xhr') {
      var keys = Array.prototype.map.call(document.querySelectorAll('.line'), function () { return 3; });
      var y = new XMLHttpRequest();
      y.open('POST', '/cart/update');
      y.setRequestHeader('Content-Type', 'application/json');
      y.onload = function () { done(n); };
      y.send(JSON.stringify({ updates: keys }));
    }
    if (action === 'clear') fetch('/cart/clear.js', { method: 'POST' }).then(function () { done(n); });
  });
})();
