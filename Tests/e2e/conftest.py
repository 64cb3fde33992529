"""Helpers for end-to-end tests: the real `shoptrail` binary, real HTTP, the real SQLite file."""
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def binary() -> str:
    path = os.environ.get("SHOPTRAIL_BIN")
    if path:
        return path
    bin_dir = subprocess.check_output(["swift", "build", "--show-bin-path"], cwd=ROOT, text=True).strip()
    return str(Path(bin_dir) / "shoptrail")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def request(method, url, body=None, headers=None, timeout=10):
    """Returns (status, headers, parsed JSON or text)."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, hdrs, raw = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, hdrs, raw = err.code, dict(err.headers), err.read()
    text = raw.decode()
    try:
        return status, hdrs, json.loads(text)
    except ValueError:
        return status, hdrs, text


def batch(write_key="pk_demo_1", visitor="v_e2e_visitor_1", ids=("e1",), name="page_viewed"):
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return json.dumps({
        "write_key": write_key,
        "visitor_id": visitor,
        "sent_at": now,
        "context": {"page": {"type": "index", "url": "https://demo.myshopify.com/"}},
        "events": [{"id": i, "name": name, "time": now, "properties": {"url": "https://demo.myshopify.com/"}} for i in ids],
    })


def wait_for(predicate, timeout=60, message="condition"):
    """The predicate's first truthy value, polled until a generous deadline (never a duration assertion)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")


def query(db, sql, *args):
    """Rows of one query on the server's SQLite file (read while the server runs: WAL)."""
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def stored_ids(db_path):
    con = sqlite3.connect(db_path)
    try:
        return [r[0] for r in con.execute("select event_id from events order by position")]
    finally:
        con.close()


class Server:
    """A `shoptrail serve` process; stdout and stderr go to files in its folder."""

    def __init__(self, cwd: Path, args=(), env=None):
        self.cwd = cwd
        self.out = open(cwd / "stdout.log", "w+")
        self.err = open(cwd / "stderr.log", "w+")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen([binary(), "serve", *args], cwd=cwd, stdout=self.out, stderr=self.err, env=full_env)

    def wait_banner(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = (self.cwd / "stdout.log").read_text()
            if "is running on" in text:
                return text
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {(self.cwd / 'stderr.log').read_text()}")
            time.sleep(0.05)
        raise AssertionError("server did not print its banner")

    def logs(self):
        return (self.cwd / "stdout.log").read_text() + (self.cwd / "stderr.log").read_text()

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        self.out.close()
        self.err.close()
        return self.proc.returncode


@pytest.fixture
def server_factory(tmp_path):
    servers = []

    def make(args=(), env=None, cwd=None):
        s = Server(cwd or tmp_path, args, env)
        servers.append(s)
        return s

    yield make
    for s in servers:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


@pytest.fixture(scope="session")
def braze_story(tmp_path_factory):
    """What Braze received from one stitched shopper story (see braze_story.py), run once per session."""
    from braze_story import run_story
    return run_story(tmp_path_factory.mktemp("braze-story"))
