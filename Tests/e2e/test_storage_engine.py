"""`storage:` at start on the real binary: a wrong or unreachable PostgreSQL is named by its key and
never quoted with its password; a reachable one is migrated, then `serve` says this version serves on
SQLite only (the PostgreSQL engine is being built repository by repository, see docs/postgres.md)."""
import os
import subprocess
from urllib.parse import urlsplit, urlunsplit

import pytest

from conftest import binary, free_port

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


def test_a_reachable_server_is_migrated_and_serve_says_what_this_version_serves_on(tmp_path):
    url = os.environ.get("SHOPTRAIL_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("SHOPTRAIL_TEST_POSTGRES_URL is not set: run ./scripts/test")
    password = urlsplit(url).password
    code, out = serve(tmp_path, "  engine: postgres\n  url_env: SHOPTRAIL_PG", {"SHOPTRAIL_PG": url})
    assert code != 0
    assert "storage.engine" in out and "answered and its schema is migrated" in out and "use engine: sqlite" in out, out
    assert password not in out
    # A wrong password is the server's answer, in words.
    parts = urlsplit(url)
    wrong = urlunsplit(parts._replace(netloc=f"{parts.username}:not-the-password@{parts.hostname}:{parts.port}"))
    code, out = serve(tmp_path, "  engine: postgres\n  url_env: SHOPTRAIL_PG", {"SHOPTRAIL_PG": wrong})
    assert code != 0 and "password authentication failed" in out and "not-the-password" not in out, out
