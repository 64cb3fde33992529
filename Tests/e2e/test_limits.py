"""Issue 14, part 2: connections are bounded on the real binary, even with few descriptors."""
import resource
import socket
import subprocess
import time

from conftest import batch, binary, free_port, request, wait_for


CONFIG = """
server:
  limits:
    max_connections: 64
    request_timeout: 2s
    idle_timeout: 2s
shops:
  - domain: demo.myshopify.com
    write_key: pk_demo_1
"""




def few_descriptors():
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def closed_by_server(sock):
    """True once the server has closed the connection (EOF, possibly after a 503 answer)."""
    try:
        sock.setblocking(False)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_stalled_and_idle_connections_cannot_take_the_server_down(tmp_path):
    (tmp_path / "shoptrail.yml").write_text(CONFIG)
    port, sandbox = free_port(), free_port()
    log = open(tmp_path / "limited.log", "w")
    # A 256-descriptor limit, as in the finding: the cap stays below it.
    proc = subprocess.Popen([binary(), "serve", "--config", str(tmp_path / "shoptrail.yml"), "--port", str(port), "--sandbox-port", str(sandbox)],
                            cwd=tmp_path, stdout=log, stderr=log, preexec_fn=few_descriptors)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _health(url) == 200, message="server up")
        # 300 connections announce a 60,000-byte body, send one byte and stall; 20 more send nothing at all.
        stalled, idle = [], []
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 60000\r\n\r\n{")
            stalled.append(s)
        for _ in range(20):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        # The process stays up, and every such connection is closed by the server (timeouts, or a 503 beyond the cap).
        wait_for(lambda: all(closed_by_server(s) for s in stalled + idle), timeout=120, message="stalled and idle connections closed")
        assert proc.poll() is None
        # While the attacker's sockets are still open on its side, the server serves.
        assert wait_for(lambda: _health(url) == 200, message="health after the flood")
        status, _, body = request("POST", f"{url}/v1/batch", batch(ids=("after-flood",)), {"Content-Type": "text/plain"})
        assert status == 200, body
        for s in stalled + idle:
            s.close()
    finally:
        proc.kill()
        proc.wait()
        log.close()


def test_beyond_the_cap_a_request_gets_a_503_with_a_json_reason(tmp_path, server_factory):
    (tmp_path / "shoptrail.yml").write_text(CONFIG.replace("request_timeout: 2s", "request_timeout: 60s").replace("idle_timeout: 2s", "idle_timeout: 60s"))
    port, sandbox = free_port(), free_port()
    server = server_factory(["--config", str(tmp_path / "shoptrail.yml"), "--port", str(port), "--sandbox-port", str(sandbox)])
    server.wait_banner()
    held = []
    try:
        for _ in range(64):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            held.append(s)
        extra = socket.create_connection(("127.0.0.1", port), timeout=10)
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        deadline = time.time() + 30
        while time.time() < deadline and b"too_many_connections" not in answer:
            chunk = extra.recv(4096)
            if not chunk:
                break
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 503") and b'"error":"too_many_connections"' in answer, answer
        extra.close()
    finally:
        for s in held:
            s.close()
    # Once the held connections are gone, the server answers normally again.
    wait_for(lambda: _health(f"http://127.0.0.1:{port}") == 200, message="health after the held connections closed")


def _health(url):
    try:
        return request("GET", f"{url}/healthz", timeout=5)[0]
    except OSError:
        return None
