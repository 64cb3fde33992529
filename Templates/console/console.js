// ShopTrail console: the live events page's feed, and nothing else. Vanilla, no dependency; every
// value from the server goes into the page as text (textContent), never as markup.
(function () {
  'use strict';
  if (document.body.getAttribute('data-page') !== 'live') return;
  var form = document.getElementById('live-filter');
  var body = document.querySelector('#live-events tbody');
  var out = document.getElementById('live-json');
  var status = document.getElementById('live-status');
  var MAX_ROWS = 200;
  var source = null;

  function cell(row, text) {
    var td = document.createElement('td');
    td.textContent = text == null ? '' : String(text);
    row.appendChild(td);
  }

  function show(text) {
    var event;
    try { event = JSON.parse(text); } catch (e) { return; }
    var row = document.createElement('tr');
    row.className = 'live-event';
    row.setAttribute('data-name', event.name || '');
    cell(row, event.received_at);
    cell(row, event.source);
    cell(row, event.name);
    cell(row, event.visitor_id);
    cell(row, event.customer_id);
    row.addEventListener('click', function () { out.textContent = JSON.stringify(event, null, 2); });
    body.insertBefore(row, body.firstChild);
    while (body.children.length > MAX_ROWS) body.removeChild(body.lastChild);
  }

  function connect() {
    if (source) source.close();
    var params = new URLSearchParams(new FormData(form));
    source = new EventSource('/console/live/stream?' + params.toString());
    source.onopen = function () { status.textContent = 'live'; };
    source.onerror = function () { status.textContent = 'reconnecting…'; };
    source.addEventListener('full', function () { status.textContent = 'too many viewers: try again later'; source.close(); });
    source.onmessage = function (m) { show(m.data); };
  }

  form.addEventListener('submit', function (e) { e.preventDefault(); connect(); });
  connect();
})();
