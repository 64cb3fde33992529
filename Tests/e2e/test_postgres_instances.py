"""Issue 16: several `shoptrail serve` instances on one PostgreSQL, and PostgreSQL going away.

- Two instances share a database and one Braze sandbox; beacons and webhooks are spread over both.
  One is killed with SIGKILL in the middle of the load. Then: no acknowledged event is lost, every
  Braze object arrives (duplicates only within what docs/postgres.md allows for a crash
  mid-request), each checkout abandonment timer fires once, and the survivor takes the dead
  instance's shops.
- PostgreSQL is stopped under load: beacons get 503 with Retry-After while it is down, the server
  recovers by itself when it is back, and nothing acknowledged is lost.
- Every open connection goes silent, as a failover leaves them: the server finds and closes them and
  the pipeline goes on.
"""
import base64
import collections
import concurrent.futures
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from conftest import ROOT, Server, binary, free_port, request, wait_for

SCRIPT = str(ROOT / "scripts" / "test-postgres")
API_SECRET = "instances-shopify-secret"
SNIPPET_SECRET = "instances-snippet-secret"
BRAZE_KEY = "instances-braze-key"
SHOPS = [(f"inst-{i}.myshopify.com", f"pk_inst_{i}") for i in range(3)]
# One /users/track request per shop may be in flight when an instance dies; Braze got it, the
# instance never recorded the answer, and its lease hands it to the survivor (at least once).
MAX_OBJECTS_PER_REQUEST = 75


def psql(url, sql):
    return subprocess.run([SCRIPT, "psql", url, sql], capture_output=True, text=True, check=True, timeout=60).stdout.strip()


def with_database(server_url, name):
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture
def database():
    """A fresh database on the test server, dropped afterwards."""
    server_url = os.environ.get("SHOPTRAIL_TEST_POSTGRES_URL")
    if not server_url:
        pytest.fail("SHOPTRAIL_TEST_POSTGRES_URL is not set: run ./scripts/test")
    name = "shoptrail_e2e_" + uuid.uuid4().hex[:12]
    psql(server_url, f"CREATE DATABASE {name}")
    yield with_database(server_url, name)
    psql(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def own_postgres():
    """A PostgreSQL server of this test's own, which it may stop and start."""
    out = subprocess.run([SCRIPT, "start"], capture_output=True, text=True, check=True, timeout=300).stdout
    env = dict(re.findall(r"export (\w+)='([^']*)'", out))
    yield env["SHOPTRAIL_TEST_POSTGRES_URL"], env["SHOPTRAIL_TEST_POSTGRES_DIR"]
    subprocess.run([SCRIPT, "stop", env["SHOPTRAIL_TEST_POSTGRES_DIR"]], capture_output=True, timeout=120)


@pytest.fixture
def sandbox(tmp_path):
    port = free_port()
    proc = subprocess.Popen([binary(), "sandbox", "braze", "--port", str(port), "--api-key", BRAZE_KEY, "--no-rate-limits"],
                            stdout=open(tmp_path / "sandbox.log", "w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return request("GET", base + "/_sandbox/users")[0] == 200
        except OSError:
            return False
    wait_for(up, 60, "the Braze sandbox")
    yield base
    proc.kill()
    proc.wait()


def config_text(data_dir, braze, port):
    shops = "".join(f"""  - domain: {domain}
    write_key: {key}
    snippet_secret: "{SNIPPET_SECRET}"
    shopify:
      api_secret: "{API_SECRET}"
    braze:
      rest_endpoint: "{braze}"
      api_key: "{BRAZE_KEY}"
    abandonment:
      allow_short_windows: true
      cooldown: 0s
      checkout: {{ window: 3s }}
""" for domain, key in SHOPS)
    return (f"server:\n  port: {port}\n  data_dir: {data_dir}\n  public_url: http://127.0.0.1:{port}\n"
            f"storage:\n  engine: postgres\n  url_env: SHOPTRAIL_PG\nshops:\n{shops}")


def start(tmp_path, name, url, braze):
    folder = tmp_path / name
    folder.mkdir()
    port = free_port()
    (folder / "shoptrail.yml").write_text(config_text(folder / "data", braze, port))
    server = Server(folder, ["--config", str(folder / "shoptrail.yml")], {"SHOPTRAIL_PG": url})
    server.wait_banner(180)
    server.base = f"http://127.0.0.1:{port}"
    return server


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def signed(domain, customer):
    ts = str(int(time.time()))
    email = f"{customer}@example.com"
    sig = hmac.new(SNIPPET_SECRET.encode(), f"{domain}:{customer}:{email}:{ts}".encode(), hashlib.sha256).hexdigest()
    return {"id": customer, "email": email, "ts": ts, "sig": sig}


def beacon(base, shop, customer, event_id, product_id):
    domain, key = shop
    body = {"write_key": key, "visitor_id": f"v_{customer}_visitor", "sent_at": now_iso(),
            "context": {"page": {"type": "product", "url": f"https://{domain}/products/p{product_id}"}, "currency": "EUR",
                        "customer": signed(domain, customer)},
            "events": [{"id": event_id, "name": "product_viewed", "time": now_iso(),
                        "properties": {"product_id": product_id, "variant_id": product_id + "1", "title": f"Product {product_id}",
                                       "price": 1000, "currency": "EUR", "url": f"https://{domain}/products/p{product_id}"}}]}
    return request("POST", base + "/v1/batch", json.dumps(body), {"Content-Type": "text/plain"}, timeout=30)


def webhook(base, domain, topic, body, event_id):
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": domain,
               "X-Shopify-API-Version": "2025-01", "X-Shopify-Event-Id": event_id,
               "X-Shopify-Hmac-Sha256": base64.b64encode(hmac.new(API_SECRET.encode(), raw, hashlib.sha256).digest()).decode()}
    return request("POST", base + "/webhooks/shopify", raw, headers, timeout=30)


def checkout(domain, customer, token):
    body = json.loads((ROOT / "Tests" / "Fixtures" / "shopify" / "checkouts__create.json").read_text())
    email = f"{customer}@example.com"
    body.update(token=token, cart_token=f"cart-{token}", email=email, created_at=now_iso(), updated_at=now_iso(), completed_at=None)
    body["id"] = int(hashlib.sha256(token.encode()).hexdigest()[:12], 16)
    body["customer"] = dict(body.get("customer") or {}, id=int(customer[1:]), email=email)
    return body


def tracked_events(braze):
    status, _, requests = request("GET", braze + "/_sandbox/requests?path=/users/track", timeout=60)
    assert status == 200
    events = []
    for entry in requests:
        if entry["status"] in (200, 201):
            body = entry["body"] if isinstance(entry["body"], dict) else json.loads(entry["body"])
            events.extend(body.get("events") or [])
    return events


def leases(url):
    rows = psql(url, "SELECT shop || '=' || owner FROM processor_leases ORDER BY shop")
    return dict(line.split("=", 1) for line in rows.splitlines() if line)


def test_two_instances_one_killed_mid_load_lose_nothing_and_the_survivor_takes_its_shops(tmp_path, database, sandbox):
    a = start(tmp_path, "a", database, sandbox)
    # A holds every shop's log before B starts, so the kill leaves shops that only a takeover can move.
    wait_for(lambda: len(leases(database)) == len(SHOPS), 120, "instance A leasing every shop")
    owner_a = set(leases(database).values())
    assert len(owner_a) == 1
    b = start(tmp_path, "b", database, sandbox)

    acked = {}          # event id -> product id, for every beacon answered 200
    checkouts = {}      # checkout token -> customer, for every checkouts/create answered 200
    lock = threading.Lock()
    killed = threading.Event()
    counter = iter(range(10**9))

    def send(n):
        shop = SHOPS[n % len(SHOPS)]
        customer = f"c{1000 + n % 40}"
        targets = [b.base] if killed.is_set() or n % 2 else [a.base, b.base]
        for base in targets:  # a load balancer moves a refused request to the other instance
            try:
                if n % 25 == 0:
                    token = f"chk-{n}"
                    status = webhook(base, shop[0], "checkouts/create", checkout(shop[0], customer, token), f"wh-{n}")[0]
                    if status == 200:
                        with lock:
                            checkouts[token] = customer
                        return
                else:
                    event_id, product_id = f"ev-{n}", str(900000 + n)
                    status = beacon(base, shop, customer, event_id, product_id)[0]
                    if status == 200:
                        with lock:
                            acked[event_id] = product_id
                        return
            except OSError:
                continue

    total = 1500
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(send, next(counter)) for _ in range(total // 2)]
        wait_for(lambda: sum(f.done() for f in futures) >= total // 4, 300, "a quarter of the load")
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(timeout=60)
        killed.set()
        futures += [pool.submit(send, next(counter)) for _ in range(total // 2)]
        for f in futures:
            f.result(timeout=600)

    # 0 acknowledged events lost: every one is in the log.
    stored = set(psql(database, "SELECT event_id FROM events WHERE source = 'storefront'").split())
    missing = [e for e in acked if e not in stored]
    assert not missing, f"{len(missing)} acknowledged events are not in the log: {missing[:5]}"
    assert len(acked) > total * 0.8, f"only {len(acked)} of {total} beacons were acknowledged"

    # The survivor takes every shop, and every acknowledged view reaches Braze.
    wait_for(lambda: set(leases(database).values()) and not set(leases(database).values()) & owner_a, 120,
             "instance B taking over A's shops")

    def delivered():
        events = tracked_events(sandbox)
        products = collections.Counter(e.get("properties", {}).get("product_id") for e in events if e.get("name") == "ecommerce.product_viewed")
        return products if all(products[p] for p in acked.values()) else None
    products = wait_for(delivered, 300, "every acknowledged product view in Braze")
    duplicated = sum(n - 1 for p, n in products.items() if p in set(acked.values()) and n > 1)
    assert duplicated <= MAX_OBJECTS_PER_REQUEST * len(SHOPS), f"{duplicated} duplicate objects"
    print(f"two instances: {len(acked)} beacons and {len(checkouts)} checkouts acknowledged of {total}, "
          f"{len(products)} product views in Braze, {duplicated} duplicates after the kill")

    # Each checkout's abandonment timer fires once (cooldown 0: a second firing would show).
    def abandoned():
        events = [e for e in tracked_events(sandbox) if e.get("name") == "shoptrail_checkout_abandoned"]
        return events if len(events) >= len(checkouts) else None
    fired = wait_for(abandoned, 300, "every checkout abandonment")
    assert len(checkouts) > 0
    timers = psql(database, "SELECT count(*) FROM abandonment_timers WHERE kind = 'checkout' AND state <> 'armed'")
    assert int(timers) == len(checkouts)
    by_checkout = collections.Counter(
        e.get("properties", {}).get("checkout_id") or e.get("properties", {}).get("checkout_token") or json.dumps(e.get("properties"), sort_keys=True)
        for e in fired)
    assert len(fired) == len(checkouts) and max(by_checkout.values()) == 1, by_checkout
    b.stop()


# When PostgreSQL goes away: right after the start (while the processor records its run and the
# forwarder releases its old claims, which once left both waiting for good), once the pipeline has
# delivered (idle), or while beacons keep coming (transactions of every stage cut in the middle).
OUTAGE_TIMINGS = ["at_start", "under_load", "mid_stream"]


@pytest.mark.parametrize("timing", OUTAGE_TIMINGS)
def test_postgres_going_away_gives_503_with_retry_after_and_the_server_recovers(tmp_path, own_postgres, sandbox, timing):
    server_url, pg_dir = own_postgres
    server = start(tmp_path, "only", server_url, sandbox)
    try:
        shop = SHOPS[0]
        acked = {}
        # At start: a few beacons in the server's first second, then PostgreSQL goes at once.
        for n in range(3 if timing == "at_start" else 20):
            status, _, answer = beacon(server.base, shop, "c2000", f"before-{n}", str(700000 + n))
            assert status == 200, answer
            acked[f"before-{n}"] = str(700000 + n)

        if timing == "under_load":
            # The pipeline is running (these reached Braze) when PostgreSQL goes away.
            wait_for(lambda: {p for e, p in acked.items()} <= {e.get("properties", {}).get("product_id") for e in tracked_events(sandbox)},
                     300, "the views before the outage in Braze")
        streamed, streaming = {}, threading.Event()

        def stream(k):
            # Unique products, so each acknowledged view must show in Braze; a refused one (503) is the tracker's to resend.
            n = 0
            while not streaming.is_set():
                event_id, product = f"stream-{k}-{n}", str(900000 + k * 10000 + n)
                try:
                    if beacon(server.base, shop, f"c{2100 + k}", event_id, product)[0] == 200:
                        streamed[event_id] = product
                except OSError:
                    pass
                n += 1
        # Daemons, and stopped in `finally`: a failure below must not leave pytest waiting on them.
        streamers = [threading.Thread(target=stream, args=(k,), daemon=True) for k in range(4)] if timing == "mid_stream" else []
        for thread in streamers:
            thread.start()
        try:
            if streamers:
                wait_for(lambda: len(streamed) >= 40, 120, "beacons streaming")
            during_outage(server, pg_dir, shop, acked)
        finally:
            streaming.set()
            for thread in streamers:
                thread.join(60)
        acked.update(streamed)
        stored = set(psql(server_url, "SELECT event_id FROM events").split())
        assert all(e in stored for e in acked), [e for e in acked if e not in stored]

        def delivered():
            products = {e.get("properties", {}).get("product_id") for e in tracked_events(sandbox) if e.get("name") == "ecommerce.product_viewed"}
            return all(p in products for e, p in acked.items() if not e.startswith("down-"))
        wait_for(delivered, 300, "the views before and after the outage in Braze")
        assert server.stop() == 0
    finally:
        if server.proc.poll() is None:  # a failure: a stalled server must not outlive the test
            server.proc.kill()
            server.proc.wait()


def during_outage(server, pg_dir, shop, acked):
    """Stops PostgreSQL for at least 12 s: beacons get 503 meanwhile and are accepted again once it is back."""
    halted = time.time()
    subprocess.run([SCRIPT, "halt", pg_dir], check=True, capture_output=True, timeout=120)
    down = []

    def refused():
        status, headers, answer = beacon(server.base, shop, "c2000", f"down-{len(down)}", "1")
        down.append(status)
        if status == 503:
            return headers, answer
        if status == 200:  # accepted before the pool noticed: it must survive like any other
            acked[f"down-{len(down) - 1}"] = "1"
        return None
    headers, answer = wait_for(refused, 120, "a 503 while PostgreSQL is down")
    assert headers.get("Retry-After", "").isdigit(), headers
    assert isinstance(answer, dict) and answer.get("error"), answer
    assert server.proc.poll() is None, "the server stays up while its database is down"
    # Down long enough for every stage's waits and the pool's reconnect attempts to run into it.
    time.sleep(max(0.0, halted + 12 - time.time()))

    subprocess.run([SCRIPT, "resume", pg_dir], check=True, capture_output=True, timeout=120)

    def accepted():
        n = len(acked)
        status = beacon(server.base, shop, "c2000", f"after-{n}", str(800000 + n))[0]
        if status == 200:
            acked[f"after-{n}"] = str(800000 + n)
        return status == 200
    wait_for(accepted, 180, "beacons accepted again after PostgreSQL is back")


class SilencingProxy:
    """A TCP proxy in front of PostgreSQL. `silence()` makes every connection open now go quiet both ways
    and keeps it open, as a failover to a new primary or a dropped network leaves a client's connections:
    nothing is answered and nothing is closed. Connections opened later pass."""

    def __init__(self, target_port):
        self.target = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=10)
                upstream.settimeout(None)
            except OSError:
                return
            pair = {"silent": False, "sockets": (client, upstream)}
            with self.lock:
                self.pairs.append(pair)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b, pair), daemon=True).start()

    @staticmethod
    def _pipe(a, b, pair):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                if not pair["silent"]:
                    b.sendall(data)
        except OSError:
            pass
        if not pair["silent"]:  # a silent pair stays open: that is the point
            for s in pair["sockets"]:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def silence(self):
        with self.lock:
            for pair in self.pairs:
                pair["silent"] = True
            return len(self.pairs)

    def close(self):
        self.listener.close()
        with self.lock:
            for pair in self.pairs:
                for s in pair["sockets"]:
                    s.close()


def test_connections_the_server_no_longer_answers_on_are_closed_and_the_pipeline_goes_on(tmp_path, own_postgres, sandbox):
    """A failover as the client sees it: every open connection goes silent (no answer, no close) and the
    server processes behind them are gone, while new connections reach a server. Without a probe the
    stages would wait on the silent ones until TCP gives up (about 15 minutes)."""
    server_url, _ = own_postgres
    parts = urlsplit(server_url)
    proxy = SilencingProxy(parts.port)
    via_proxy = urlunsplit(parts._replace(netloc=parts.netloc.rsplit(":", 1)[0] + f":{proxy.port}"))
    server = start(tmp_path, "only", via_proxy, sandbox)
    try:
        shop = SHOPS[0]
        acked = {}

        def delivered():
            products = {e.get("properties", {}).get("product_id") for e in tracked_events(sandbox) if e.get("name") == "ecommerce.product_viewed"}
            return all(p in products for p in acked.values())

        for n in range(10):
            status, _, answer = beacon(server.base, shop, "c3000", f"before-silence-{n}", str(600000 + n))
            assert status == 200, answer
            acked[f"before-silence-{n}"] = str(600000 + n)
        wait_for(delivered, 300, "the views before the failover in Braze")

        assert proxy.silence() > 0
        psql(server_url, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")

        def accepted(n):
            def send():
                try:
                    status = beacon(server.base, shop, "c3000", f"after-silence-{n}", str(610000 + n))[0]
                except OSError:
                    return False
                return status == 200  # a 503 is the tracker's to resend, as here
            return send
        for n in range(10):
            wait_for(accepted(n), 180, f"beacon {n} accepted after the failover")
            acked[f"after-silence-{n}"] = str(610000 + n)
        wait_for(delivered, 300, "the views after the failover in Braze")
        assert "closing PostgreSQL connections the server no longer answers on" in server.logs()
        assert server.stop() == 0
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
        proxy.close()
