"""`storage:` at start on the real binary: a wrong or unreachable PostgreSQL is named by its key and
never quoted with its password; a reachable one is migrated and served on (docs/postgres.md)."""
import os
import subprocess
from urllib.parse import urlsplit, urlunsplit

import pytest

from conftest import Server, batch, binary, free_port, request, wait_for

SHOPS = """
shops:
  - domain: demo.myshopify.com
    write_key: pk_demo_1
    allowed_origins: ["https://demo.myshopify.com"]
"""


def serve(tmp_path, storage, env=None):
    config = tmp_path / "shoptrail.yml"
    config.write_text(f"server:\n  data_dir: {tmp_path / 'data'}\nstorage:\n{storage}\n{SHOPS}")
    run = subprocess.run([binary(), "serve", "--config", str(config), "--port", "0", "--sandbox-port", "0"],
                         capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})
    return run.returncode, run.stdout + run.stderr


def test_a_wrong_url_is_refused_naming_the_key(tmp_path):
    code, out = serve(tmp_path, '  engine: postgres\n  url: "mysql://shoptrail:hunter2@127.0.0.1/db"')
    assert code != 0
    assert "storage.url" in out and "postgres://" in out, out
    assert "hunter2" not in out


def test_an_unreachable_server_is_named_and_the_password_never_printed(tmp_path):
    port = free_port()  # nothing listens there
    code, out = serve(tmp_path, "  engine: postgres\n  url_env: SHOPTRAIL_PG", {"SHOPTRAIL_PG": f"postgres://shoptrail:hunter2@127.0.0.1:{port}/db?sslmode=disable"})
    assert code != 0
    assert "storage.url" in out and f"127.0.0.1:{port}" in out, out
    assert "hunter2" not in out


def test_a_reachable_server_is_migrated_and_served_on_and_a_wrong_password_is_named(tmp_path):
    url = os.environ.get("SHOPTRAIL_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("SHOPTRAIL_TEST_POSTGRES_URL is not set: run ./scripts/test")
    password = urlsplit(url).password
    config = tmp_path / "shoptrail.yml"
    config.write_text(f"server:\n  data_dir: {tmp_path / 'data'}\nstorage:\n  engine: postgres\n  url_env: SHOPTRAIL_PG\n{SHOPS}")
    port = free_port()
    server = Server(tmp_path, ["--config", str(config), "--port", str(port), "--sandbox-port", "0"], {"SHOPTRAIL_PG": url})
    try:
        banner = server.wait_banner(180)
        assert "PostgreSQL postgres://" in banner and password not in banner, banner
        status, _, answer = request("POST", f"http://127.0.0.1:{port}/v1/batch", batch(ids=("pg-e1",)), {"Content-Type": "text/plain"})
        assert status == 200, answer
        wait_for(lambda: request("GET", f"http://127.0.0.1:{port}/healthz")[0] == 200, 60, "healthz on PostgreSQL")
        assert server.stop() == 0
        assert password not in server.logs()
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
    # A wrong password is the server's answer, in words.
    parts = urlsplit(url)
    wrong = urlunsplit(parts._replace(netloc=f"{parts.username}:not-the-password@{parts.hostname}:{parts.port}"))
    code, out = serve(tmp_path, "  engine: postgres\n  url_env: SHOPTRAIL_PG", {"SHOPTRAIL_PG": wrong})
    assert code != 0 and "password authentication failed" in out and "not-the-password" not in out, out
