"""The README's first command, exercised as a user would: real process, real HTTP, real SQLite file."""
import json
import signal
import subprocess
import threading
import time

import pytest

from conftest import batch, binary, free_port, port_free, request, stored_ids

CONFIG = """
server:
  public_url: "http://127.0.0.1:{port}"
  data_dir: "{data}"
shops:
  - domain: e2e-shop.myshopify.com
    write_key: pk_e2e_1
    allowed_origins: ["https://e2e-shop.myshopify.com"]
    snippet_secret: "snippet-secret-e2e-7f3a"
    shopify:
      api_secret_env: E2E_SHOPIFY_SECRET
    braze:
      rest_endpoint: "https://rest.fra-02.braze.eu"
      api_key: "braze-key-e2e-91b2"
"""
SECRETS = ("snippet-secret-e2e-7f3a", "shopify-secret-e2e-c4d5", "braze-key-e2e-91b2")


def test_no_arguments_serves_the_demo_shop_on_8080_with_sqlite_under_data(server_factory, tmp_path):
    if not port_free(8080):
        pytest.skip("port 8080 is in use on this machine")
    server = server_factory()
    banner = server.wait_banner()
    assert "http://127.0.0.1:8080" in banner
    assert "pk_demo_1" in banner and "demo.myshopify.com" in banner
    assert "curl" in banner  # tells a newcomer what to do next

    status, _, body = request("GET", "http://127.0.0.1:8080/healthz")
    assert (status, body) == (200, {"status": "ok"})

    payload = batch(ids=("e2e-1", "e2e-2"))
    status, _, body = request("POST", "http://127.0.0.1:8080/v1/batch", payload, {"Content-Type": "text/plain"})
    assert (status, body) == (200, {"ok": True, "accepted": 2, "duplicates": 0})
    db = tmp_path / "data" / "shoptrail.sqlite"
    assert stored_ids(db) == ["e2e-1", "e2e-2"]  # committed before the answer

    status, _, body = request("POST", "http://127.0.0.1:8080/v1/batch", payload, {"Content-Type": "application/json"})
    assert (status, body) == (200, {"ok": True, "accepted": 0, "duplicates": 2})
    assert stored_ids(db) == ["e2e-1", "e2e-2"]

    assert server.stop() == 0  # SIGTERM: graceful
    assert stored_ids(db) == ["e2e-1", "e2e-2"]


def write_config(tmp_path, port):
    path = tmp_path / "shoptrail.yml"
    path.write_text(CONFIG.format(port=port, data=tmp_path / "data"))
    return path


def test_bad_input_over_real_http_gets_json_reasons_and_secrets_never_reach_logs(server_factory, tmp_path):
    port = free_port()
    cfg = write_config(tmp_path, port)
    server = server_factory(["--config", str(cfg), "--port", str(port), "--log-level", "trace"], env={"E2E_SHOPIFY_SECRET": SECRETS[1]})
    banner = server.wait_banner()
    base = f"http://127.0.0.1:{port}"
    cases = [
        (batch(write_key="pk_wrong"), {}, 401, "unknown_write_key"),
        (batch(write_key="pk_e2e_1"), {"Origin": "https://evil.example"}, 403, "origin_not_allowed"),
        ("{not json", {}, 400, "malformed_json"),
        (batch(write_key="pk_e2e_1", name="bogus_event"), {}, 400, "unknown_event_name"),
        ("x" * 70000, {}, 413, "body_too_large"),
    ]
    for body, headers, status, code in cases:
        got, _, reply = request("POST", base + "/v1/batch", body, {"Content-Type": "text/plain", **headers})
        assert got == status, reply
        assert reply["error"] == code and reply["message"]

    got, hdrs, _ = request("OPTIONS", base + "/v1/batch", None, {"Origin": "https://e2e-shop.myshopify.com", "Access-Control-Request-Method": "POST"})
    assert got == 204 and hdrs.get("Access-Control-Allow-Origin") == "https://e2e-shop.myshopify.com"
    got, _, reply = request("POST", base + "/v1/batch", batch(write_key="pk_e2e_1"), {"Origin": "https://e2e-shop.myshopify.com"})
    assert got == 200 and reply["accepted"] == 1

    assert server.stop() == 0
    logs = server.logs() + banner
    for secret in SECRETS:
        assert secret not in logs


def test_invalid_config_fails_at_start_naming_the_key(tmp_path):
    cfg = tmp_path / "shoptrail.yml"
    cfg.write_text("shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n    braze:\n      anonymous: sometimes\n")
    proc = subprocess.run([binary(), "serve", "--config", str(cfg), "--port", "0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "shops[0].braze.anonymous" in proc.stderr and "hold | forward" in proc.stderr

    cfg.write_text("shops:\n  - domain: a.myshopify.com\n    write_key: pk_a_1\n    api_key: x\n")
    proc = subprocess.run([binary(), "check-config", "--config", str(cfg)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "shops[0].api_key" in proc.stderr and "unknown key" in proc.stderr


def test_check_config_summarises_without_secrets(tmp_path):
    cfg = write_config(tmp_path, 8080)
    proc = subprocess.run([binary(), "check-config", "--config", str(cfg)], capture_output=True, text=True, timeout=60,
                          env={"E2E_SHOPIFY_SECRET": SECRETS[1], "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "e2e-shop.myshopify.com" in proc.stdout and "ok" in proc.stdout
    for secret in SECRETS:
        assert secret not in proc.stdout + proc.stderr


def test_kill_9_under_load_loses_nothing_that_was_acknowledged(server_factory, tmp_path):
    port = free_port()
    cfg = write_config(tmp_path, port)
    server = server_factory(["--config", str(cfg), "--port", str(port), "--log-level", "warning"], env={"E2E_SHOPIFY_SECRET": "x"})
    server.wait_banner()
    url = f"http://127.0.0.1:{port}/v1/batch"
    acked, lock, stop = [], threading.Lock(), threading.Event()

    def client(n):
        i = 0
        while not stop.is_set():
            ids = (f"k{n}-{i}-a", f"k{n}-{i}-b")
            try:
                status, _, body = request("POST", url, batch(write_key="pk_e2e_1", visitor=f"v_kill_test_{n}", ids=ids), timeout=5)
            except OSError:
                return  # the server is gone
            if status == 200:
                with lock:
                    acked.extend(ids)
            i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    deadline = time.time() + 30
    while len(acked) < 400 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # kill in the middle of traffic, not at a quiet moment
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) > 100, "the load did not get going"
    stored = set(stored_ids(tmp_path / "data" / "shoptrail.sqlite"))
    missing = [i for i in acked if i not in stored]
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {missing[:5]}"
    print(json.dumps({"acknowledged": len(acked), "stored": len(stored)}))
