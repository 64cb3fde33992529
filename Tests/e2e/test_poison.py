"""Issue 14: a poison event never crash-loops the processor (the real binary, a test-only fault hook)."""
import subprocess
import time

from conftest import batch, binary, free_port, query, request, wait_for






def position_of(db, event_id):
    rows = query(db, "select position from events where event_id = ?", event_id)
    return rows[0][0] if rows else None


def processed(db, event_id):
    pos = position_of(db, event_id)
    rows = query(db, "select position from processor_position where name = 'storefront'")
    return pos is not None and rows and rows[0][0] >= pos


def post(port, ids, visitor="v_poison_visitor"):
    status, _, body = request("POST", f"http://127.0.0.1:{port}/v1/batch", batch(visitor=visitor, ids=ids), {"Content-Type": "text/plain"})
    assert status == 200, body


def test_restart_quarantines_the_event_the_processor_dies_on_and_serves_again(tmp_path, server_factory):
    port, sandbox = free_port(), free_port()
    args = ["--port", str(port), "--sandbox-port", str(sandbox)]
    fault = {"SHOPTRAIL_TEST_FAULT_EVENT_ID": "poison-1"}
    db = tmp_path / "data" / "shoptrail.sqlite"

    first = server_factory(args, fault)
    first.wait_banner()
    post(port, ("before-1",))
    wait_for(lambda: processed(db, "before-1"), message="before-1 processed")
    # Committed, then the processor dies on it: the process goes down (possibly before the answer is written).
    try:
        post(port, ("poison-1", "after-1"))
    except OSError:
        pass
    first.proc.wait(timeout=120)
    assert first.proc.returncode != 0
    assert position_of(db, "poison-1") is not None and position_of(db, "after-1") is not None

    # First restart after an unclean stop: the events are handled one at a time, and it dies on the same one again.
    second = server_factory(args, fault)
    second.proc.wait(timeout=120)
    assert second.proc.returncode != 0
    assert query(db, "select attempting from processor_run")[0][0] == position_of(db, "poison-1")

    # Second restart: the event is quarantined, the rest flows, and the server serves.
    third = server_factory(args, fault)
    third.wait_banner()
    wait_for(lambda: processed(db, "after-1"), message="after-1 processed")
    quarantined = query(db, "select event_id, reason from processor_quarantine")
    assert [q[0] for q in quarantined] == ["poison-1"] and "stopped" in quarantined[0][1]
    post(port, ("later-1",), visitor="v_poison_other")
    wait_for(lambda: processed(db, "later-1"), message="later-1 processed")
    assert request("GET", f"http://127.0.0.1:{port}/healthz")[0] == 200
    assert third.proc.poll() is None

    status = subprocess.run([binary(), "outbox", "status", "--data", str(tmp_path / "data")], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0 and "quarantined_events=1" in status.stdout, status.stdout + status.stderr
    listed = subprocess.run([binary(), "processor", "status", "--data", str(tmp_path / "data")], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert "quarantined=1" in listed.stdout and "id=poison-1" in listed.stdout, listed.stdout + listed.stderr
    token = (tmp_path / "data" / "admin_token").read_text().strip()
    code, _, admin = request("GET", f"http://127.0.0.1:{port}/v1/admin/status", headers={"Authorization": f"Bearer {token}"})
    assert code == 200 and admin["shops"][0]["processor"]["quarantined_events"] == 1, admin
    # A clean stop is recorded: the next start goes straight back to chunks.
    assert third.stop() == 0
    assert query(db, "select running, attempting from processor_run") == [(0, None)]
