"""`serve` without a Braze key: the in-process Braze sandbox, the forwarder draining the outbox, `shoptrail outbox`."""
import json
import re
import sqlite3
import subprocess
import time

from conftest import binary, request, wait_for


def sandbox_base(server, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        match = re.search(r"Braze sandbox .* on (http://127\.0\.0\.1:\d+)", server.logs())
        if match:
            return match.group(1)
        time.sleep(0.05)
    raise AssertionError("no sandbox line in:\n" + server.logs())


def enqueue(db, op_id, user, payload):
    con = sqlite3.connect(db, timeout=10)
    try:
        con.execute(
            "INSERT INTO outbox (op_id, shop, user_key, kind, payload, created_at) VALUES (?, ?, ?, 'event', ?, ?)",
            (op_id, "demo.myshopify.com", user, json.dumps(payload), int(time.time() * 1000)),
        )
        con.commit()
    finally:
        con.close()


def outbox(tmp_path, *args):
    out = subprocess.run([binary(), "outbox", *args, "--data", str(tmp_path / "data")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout




def test_without_a_braze_key_operations_reach_the_in_process_sandbox(server_factory, tmp_path):
    server = server_factory(["--port", "0"])
    banner = server.wait_banner()
    assert "in-process sandbox" in banner
    base = sandbox_base(server)
    db = tmp_path / "data" / "shoptrail.sqlite"

    enqueue(db, "op-1", "customer-1", {"external_id": "customer-1", "name": "ecommerce.product_viewed",
                                       "time": "2026-11-23T10:00:00.000Z",
                                       "properties": {"product_id": "1", "product_name": "Mug", "variant_id": "11",
                                                      "price": 9.5, "currency": "EUR", "source": "https://demo.myshopify.com"}})
    # Braze refuses this one for good (not a time): it must end in the dead letters, not block the queue.
    enqueue(db, "op-2", "customer-2", {"external_id": "customer-2", "name": "hello", "time": "yesterday"})

    def profile():
        status, _, users = request("GET", base + "/_sandbox/users")
        assert status == 200
        return next((u for u in users if u["external_id"] == "customer-1"), None)

    user = wait_for(profile)
    assert [e["name"] for e in user["events"]] == ["ecommerce.product_viewed"]

    status = wait_for(lambda: (lambda s: s if "pending=0" in s and "dead=1" in s else None)(outbox(tmp_path, "status")))
    assert "demo.myshopify.com: pending=0 in_flight=0 dead=1" in status
    assert "dead op-2 event user=customer-2" in status

    assert outbox(tmp_path, "retry-dead").strip() == "queued again: 1"
    # Braze still refuses it: it comes back to the dead letters, once.
    wait_for(lambda: "pending=0 in_flight=0 dead=1" in outbox(tmp_path, "status"))

    assert server.stop() == 0
    logs = server.logs()
    assert "sandbox-" not in logs  # the sandbox key is a secret like any Braze key


def test_outbox_commands_refuse_a_missing_database_and_unknown_shop(tmp_path):
    out = subprocess.run([binary(), "outbox", "status", "--data", str(tmp_path / "nowhere")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "no database at" in out.stderr
    out = subprocess.run([binary(), "outbox", "status", "--shop", "other.myshopify.com"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "unknown shop 'other.myshopify.com'" in out.stderr
