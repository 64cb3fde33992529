"""Issue 16: a full disk on SQLite answers 503 (never a crash), and the server recovers when space returns.

The data directory is a small tmpfs filled up with a filler file: a real filesystem running out of
space under the real binary, not a simulated error. Mounting needs root (CI runs as root).
"""
import errno
import json
import os
import subprocess
import time

import pytest

from conftest import free_port, query, request, wait_for

CONFIG = """
server:
  public_url: "http://127.0.0.1:{port}"
  data_dir: "{data}"
  limits:
    events_per_ip_per_minute: 10000000
    events_per_write_key_per_minute: 100000000
shops:
  - domain: full-disk.myshopify.com
    write_key: pk_full_disk_1
    allowed_origins: ["https://full-disk.myshopify.com"]
"""


def beacon(prefix, n, padding=400):
    """A batch of `n` events with ids `prefix-0…`, each carrying some bytes so the log grows quickly."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    ids = [f"{prefix}-{i}" for i in range(n)]
    body = json.dumps({
        "write_key": "pk_full_disk_1",
        "visitor_id": "v_full_disk_visitor",
        "sent_at": now,
        "context": {"page": {"type": "index", "url": "https://full-disk.myshopify.com/"}},
        "events": [{"id": i, "name": "page_viewed", "time": now,
                    "properties": {"url": "https://full-disk.myshopify.com/", "note": os.urandom(padding // 2).hex()}} for i in ids],
    })
    return ids, body


def post(port, body):
    return request("POST", f"http://127.0.0.1:{port}/v1/batch", body, {"Content-Type": "text/plain"}, timeout=30)


def fill(path):
    """Writes zeros to `path` until the filesystem refuses (ENOSPC)."""
    with open(path, "wb") as f:
        chunk = b"\0" * 65536
        while True:
            try:
                f.write(chunk)
                f.flush()
            except OSError as err:
                assert err.errno == errno.ENOSPC, err
                break
        try:
            os.fsync(f.fileno())
        except OSError:
            pass


@pytest.fixture
def small_data_dir(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs as the data directory (CI runs as root)")
    data = tmp_path / "data"
    data.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(data)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (no CAP_SYS_ADMIN in this container?): {mounted.stderr.strip()}")
    try:
        yield data
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)


def test_a_full_disk_answers_503_and_the_server_recovers_when_space_returns(tmp_path, server_factory, small_data_dir):
    port = free_port()
    cfg = tmp_path / "shoptrail.yml"
    cfg.write_text(CONFIG.format(port=port, data=small_data_dir))
    server = server_factory(["--config", str(cfg), "--port", str(port)])
    server.wait_banner()
    db = small_data_dir / "shoptrail.sqlite"

    acknowledged = []
    ids, body = beacon("before", 20)
    status, _, reply = post(port, body)
    assert status == 200, reply
    acknowledged += ids

    filler = small_data_dir / "filler"
    fill(filler)

    # The log's WAL may still have room it reuses; keep sending until the store refuses.
    refused = None
    for round_ in range(3000):
        ids, body = beacon(f"full{round_}", 100)
        status, headers, reply = post(port, body)
        if status == 200:
            acknowledged += ids
            continue
        refused = (status, headers, reply)
        break
    assert refused is not None, "the store kept accepting beacons on a full disk"
    status, headers, reply = refused
    assert status == 503, reply
    assert reply["error"] == "store_unavailable" and reply["message"]
    assert int(headers["Retry-After"]) > 0

    # Still refusing, and still up: the writer and the processor hit the full disk repeatedly.
    for round_ in range(5):
        status, _, reply = post(port, beacon(f"refused{round_}", 100)[1])
        assert status in (200, 503), reply
        if status == 200:
            acknowledged += [f"refused{round_}-{i}" for i in range(100)]
    assert server.proc.poll() is None, server.logs()
    status, _, _ = request("GET", f"http://127.0.0.1:{port}/healthz")
    assert status in (200, 503)

    filler.unlink()

    def accepted():
        ids, body = beacon(f"after{time.time_ns()}", 5)
        status, _, _ = post(port, body)
        if status == 200:
            acknowledged.extend(ids)
            return True
        return False
    wait_for(accepted, timeout=60, message="beacons accepted again once space returned")
    for round_ in range(3):
        ids, body = beacon(f"again{round_}", 50)
        status, _, reply = post(port, body)
        assert status == 200, reply
        acknowledged += ids

    # Nothing acknowledged is lost, and the processor gets through all of it.
    stored = {row[0] for row in query(db, "select event_id from events")}
    missing = [i for i in acknowledged if i not in stored]
    assert not missing, f"{len(missing)} acknowledged events missing, e.g. {missing[:3]}"
    last = query(db, "select max(position) from events")[0][0]
    wait_for(lambda: (query(db, "select position from processor_position where name = 'storefront'") or [(0,)])[0][0] >= last,
             timeout=120, message="the processor caught up after the disk filled")
    assert server.proc.poll() is None, server.logs()
    assert server.stop() == 0
