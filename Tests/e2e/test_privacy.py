"""Issue 13 part 5 against the real binary: another local user can read none of the server's files,
and every admin answer carries the security headers."""
import os
import stat

from conftest import batch, free_port, request


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_data_dir_database_and_token_are_private_to_the_server_user(server_factory, tmp_path):
    old = os.umask(0o022)  # the usual default: what the binary must not rely on
    try:
        data = tmp_path / "data"
        data.mkdir(mode=0o755)  # left readable by an older version
        os.chmod(data, 0o755)
        port = free_port()
        server = server_factory(["--port", str(port), "--data", str(data), "--sandbox-port", "0"])
        server.wait_banner()
        status, _, _ = request("POST", f"http://127.0.0.1:{port}/v1/batch", batch(), {"Content-Type": "text/plain"})
        assert status == 200
        assert mode(data) == 0o700
        status_file = f"/proc/{server.proc.pid}/status"
        if os.path.exists(status_file):  # Linux: the process umask set at start
            umask_line = [line for line in open(status_file) if line.startswith("Umask:")]
            assert umask_line and umask_line[0].split()[1] == "0077", umask_line
        assert "tightened to 0700" in server.logs()
        for name in ("shoptrail.sqlite", "shoptrail.sqlite-wal", "shoptrail.sqlite-shm", "admin_token"):
            assert mode(data / name) & 0o077 == 0, f"{name} is {oct(mode(data / name))}"
        leftovers = [p.name for p in data.iterdir() if p.name.startswith(".")]
        assert leftovers == []

        token = (data / "admin_token").read_text().strip()
        for path, auth in (("/dashboard", None), ("/dashboard", f"Bearer {token}"), ("/v1/admin/status", None),
                           ("/v1/shops/demo.myshopify.com/snippet.liquid", f"Bearer {token}")):
            status, headers, _ = request("GET", f"http://127.0.0.1:{port}{path}", headers={"Authorization": auth} if auth else {})
            assert status == (401 if auth is None else 200), path
            assert headers.get("X-Frame-Options") == "DENY", path
            assert headers.get("X-Content-Type-Options") == "nosniff", path
            assert headers.get("Referrer-Policy") == "no-referrer", path
            assert headers.get("Cache-Control") == "no-store", path
            assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""), path
        assert server.stop() == 0
    finally:
        os.umask(old)
