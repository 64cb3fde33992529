"""The operator console's script-facing parts against the real binary: `/metrics` scraped and parsed by
prometheus_client's text parser, and `shoptrail doctor` against a real `shoptrail sandbox braze`."""
import json
import sqlite3
import subprocess
import time

from prometheus_client.parser import text_string_to_metric_families

from conftest import batch, binary, free_port, request, wait_for


def samples(text):
    """{(name, frozenset(labels)): value} of every sample in a Prometheus text exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def test_metrics_are_behind_the_admin_token_and_parse_as_prometheus_text(server_factory, tmp_path):
    server = server_factory(["--port", "0", "--sandbox-port", "0"])
    banner = server.wait_banner()
    base = banner.split("is running on ")[1].split()[0]
    token = (tmp_path / "data" / "admin_token").read_text().strip()

    status, headers, body = request("GET", base + "/metrics")
    assert status == 401 and token not in str(body)
    assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", "")

    assert request("POST", base + "/v1/batch", batch(ids=("m1", "m2")), {"Content-Type": "text/plain"})[0] == 200
    assert request("POST", base + "/v1/batch", batch(write_key="pk_nobody"), {"Content-Type": "text/plain"})[0] == 401

    def scrape():
        status, headers, text = request("GET", base + "/metrics", headers={"Authorization": f"Bearer {token}"})
        assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return text

    parsed = samples(scrape())
    assert parsed[("shoptrail_beacons_total", frozenset({"shop": "demo.myshopify.com", "route": "batch", "outcome": "accepted"}.items()))] == 1
    assert parsed[("shoptrail_events_total", frozenset({"shop": "demo.myshopify.com", "source": "storefront"}.items()))] == 2
    assert parsed[("shoptrail_beacon_refusals_total", frozenset({"route": "batch", "reason": "unknown_write_key"}.items()))] == 1
    assert parsed[("shoptrail_ingest_duration_seconds_count", frozenset({"route": "batch"}.items()))] == 2
    for gauge in ("shoptrail_outbox_depth", "shoptrail_dead_letters"):
        assert (gauge, frozenset({"shop": "demo.myshopify.com"}.items())) in parsed, gauge
    assert ("shoptrail_processor_lag_events", frozenset()) in parsed

    # An operation for the forwarder (anonymous page views alone send nothing): Braze's answer shows up.
    con = sqlite3.connect(tmp_path / "data" / "shoptrail.sqlite", timeout=30)
    try:
        con.execute("INSERT INTO outbox (op_id, shop, user_key, kind, payload, created_at) VALUES (?, ?, ?, 'event', ?, ?)",
                    ("metrics-op-1", "demo.myshopify.com", "c:metrics-1",
                     json.dumps({"external_id": "metrics-1", "name": "metrics_test", "time": "2026-11-23T10:00:00.000Z"}), int(time.time() * 1000)))
        con.commit()
    finally:
        con.close()

    def braze_answered():
        return [k for k in samples(scrape()) if k[0] == "shoptrail_braze_answers_total"]
    answered = wait_for(braze_answered, 60, message="a Braze answer in /metrics")
    labels = dict(answered[0][1])
    assert labels["endpoint"].startswith("POST /users/") and labels["status"].startswith("2")
    assert any(k[0] == "shoptrail_braze_request_duration_seconds_bucket" for k in samples(scrape()))
    assert token not in scrape()
    assert server.stop() == 0


DOCTOR_CONFIG = """
server:
  public_url: "http://127.0.0.1:{serve_port}"
  port: {serve_port}
  data_dir: "{data}"
shops:
  - domain: doctor.myshopify.com
    write_key: pk_doctor_1
    allowed_origins: ["https://doctor.myshopify.com"]
    shopify:
      api_secret: "doctor-shopify-secret"
    braze:
      rest_endpoint: "http://127.0.0.1:{sandbox_port}"
      api_key: "{key}"
"""


def doctor(cfg, *args):
    return subprocess.run([binary(), "doctor", "--config", str(cfg), *args], capture_output=True, text=True, timeout=120)


def test_doctor_checks_braze_the_secret_the_public_url_and_storage(server_factory, tmp_path):
    sandbox_port, serve_port = free_port(), free_port()
    sandbox = subprocess.Popen([binary(), "sandbox", "braze", "--port", str(sandbox_port), "--api-key", "doctor-key"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: request("GET", f"http://127.0.0.1:{sandbox_port}/_sandbox/stats")[0] == 200 if _up(sandbox_port) else False,
                 60, message="the Braze sandbox")
        good = tmp_path / "good.yml"
        good.write_text(DOCTOR_CONFIG.format(serve_port=serve_port, sandbox_port=sandbox_port, key="doctor-key", data=tmp_path / "data"))

        # Nothing answers on the public URL yet: that check fails with what to do, and the exit code says so.
        out = doctor(good)
        assert out.returncode == 1, out.stdout + out.stderr
        lines = out.stdout.splitlines()
        assert any(l.startswith("FAIL  public url") for l in lines), out.stdout
        assert "fix:" in out.stdout
        for family in ("users.track", "users.identify", "users.alias.new", "users.merge", "users.delete"):
            assert any(l.startswith(f"ok    braze doctor.myshopify.com {family}") for l in lines), out.stdout
        assert any(l.startswith("ok    shopify doctor.myshopify.com app secret") for l in lines), out.stdout
        assert any(l.startswith("ok    storage") and "MiB free" in l for l in lines), out.stdout
        assert "doctor-key" not in out.stdout and "doctor-shopify-secret" not in out.stdout
        # The harmless probes wrote nothing to Braze.
        assert request("GET", f"http://127.0.0.1:{sandbox_port}/_sandbox/users")[2] == []

        server = server_factory(["--config", str(good)], cwd=tmp_path)
        server.wait_banner()
        out = doctor(good, "--shop", "doctor.myshopify.com")
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stdout.strip().endswith("checks passed")
        server.stop()

        bad = tmp_path / "bad.yml"
        bad.write_text(DOCTOR_CONFIG.format(serve_port=serve_port, sandbox_port=sandbox_port, key="wrong-key", data=tmp_path / "data"))
        out = doctor(bad)
        assert out.returncode == 1
        assert "FAIL  braze doctor.myshopify.com users.track: Braze refused the key (401)" in out.stdout, out.stdout
        assert "wrong-key" not in out.stdout

        out = doctor(good, "--shop", "nope.myshopify.com")
        assert out.returncode == 1 and "unknown shop" in out.stdout
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=15)


def _up(port):
    import socket
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_metrics_listen_serves_metrics_alone_without_the_token(server_factory, tmp_path):
    port, metrics_port = free_port(), free_port()
    cfg = tmp_path / "metrics.yml"
    cfg.write_text(f"""
server:
  port: {port}
  data_dir: "{tmp_path / 'data'}"
  metrics_listen: "127.0.0.1:{metrics_port}"
shops:
  - domain: metrics.myshopify.com
    write_key: pk_metrics_1
    allowed_origins: ["https://metrics.myshopify.com"]
""")
    server = server_factory(["--config", str(cfg), "--sandbox-port", "0"])
    server.wait_banner()
    wait_for(lambda: f"on http://127.0.0.1:{metrics_port}/metrics" in server.logs(), 30, message="the metrics listener")
    status, _, text = request("GET", f"http://127.0.0.1:{metrics_port}/metrics")
    assert status == 200
    parsed = samples(text)
    assert ("shoptrail_outbox_depth", frozenset({"shop": "metrics.myshopify.com"}.items())) in parsed
    # Only /metrics there; the main port still wants the token.
    assert request("GET", f"http://127.0.0.1:{metrics_port}/console")[0] == 404
    assert request("GET", f"http://127.0.0.1:{port}/metrics")[0] == 401
    assert server.stop() == 0
