// Runs a generated Custom Pixel in Node with stand-ins for Shopify's pixel globals (analytics,
// browser, init, customerPrivacy), then replays the events in the scenario file through it.
// browser.sendBeacon posts for real (Node's fetch) to the endpoint baked into the pixel; with
// "beacon": "refuse" in the scenario it resolves false, as when the browser would not queue it, and
// the pixel's own fetch (counted as `fetched`) must carry the event.
// Usage: node pixel_harness.js pixel.js scenario.json
'use strict';
const fs = require('fs');
const vm = require('vm');

const [code, scenario] = [fs.readFileSync(process.argv[2], 'utf8'), JSON.parse(fs.readFileSync(process.argv[3], 'utf8'))];
const subscribers = {};
const consentListeners = [];
const sent = [];
const refused = [];
let fetched = 0;
// Posts for real; a refusal is recorded with the server's answer.
async function post(url, init) {
  const r = await fetch(url, init);
  if (!r.ok) refused.push(`${r.status} ${await r.text()}`);
  return r;
}
const sandbox = {
  analytics: { subscribe: (name, cb) => { (subscribers[name] = subscribers[name] || []).push(cb); } },
  browser: {
    cookie: { get: async (name) => (scenario.cookies || {})[name] || '' },
    sendBeacon: async (url, body) => {
      if (scenario.beacon === 'refuse') return false;
      sent.push(JSON.parse(body));
      return (await post(url, { method: 'POST', body, headers: { 'Content-Type': 'text/plain;charset=UTF-8', Origin: 'null' } })).ok;
    },
  },
  init: scenario.init,
  customerPrivacy: { subscribe: (name, cb) => { if (name === 'visitorConsentCollected') consentListeners.push(cb); } },
  fetch: async (url, init) => {
    fetched += 1;
    return post(url, { method: init.method, body: init.body });
  },
  JSON, Promise, Date, Math, String, Number, Array, Object, RegExp, console,
};
vm.runInNewContext(code, sandbox, { filename: 'pixel.js' });

(async () => {
  for (const step of scenario.steps) {
    if (step.consent !== undefined) consentListeners.forEach((cb) => cb({ customerPrivacy: { analyticsProcessingAllowed: step.consent } }));
    if (step.event) (subscribers[step.event.name] || []).forEach((cb) => cb(step.event));
    await new Promise((r) => setTimeout(r, 300));
  }
  process.stdout.write(JSON.stringify({ subscribed: Object.keys(subscribers).sort(), sent: sent.length, fetched, refused }));
})();
