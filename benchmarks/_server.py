"""A tiny keep-alive HTTP/1.1 server for the benchmarks, run in its own process.

Run as a script it binds 127.0.0.1 on a free port, prints the port on one line and serves
until stdin closes (so it never outlives the benchmark that started it). Extra arguments
are response headers (``"Cache-Control: max-age=3600"``). Stdlib only.

Every response is written with a single ``send`` call and ``TCP_NODELAY`` is set: writing
the status line, the headers and the body separately lets Nagle's algorithm and delayed
ACKs add ~40 ms stalls, which would swamp the microseconds being measured.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BODY = b'{"ok": true}\n'


def response_bytes(extra_headers: list[str]) -> bytes:
    """The one response the server sends, with ``extra_headers`` ("Name: value") added."""
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", *extra_headers]
    head.append(f"Content-Length: {len(BODY)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + BODY


RESPONSE = response_bytes(sys.argv[1:] if __name__ == "__main__" else [])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        # Bypass send_response()/end_headers(): one write for the whole response.
        self.wfile.write(RESPONSE)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def serve() -> None:
    server = _Server(("127.0.0.1", 0), _Handler)
    print(server.server_address[1], flush=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sys.stdin.read()  # returns when the parent closes our stdin or exits
    server.shutdown()


@contextlib.contextmanager
def running_server(*headers: str):  # type: ignore[no-untyped-def]  # a benchmark helper
    """Start the server in a child process; yield its base URL; stop it afterwards.

    Args:
        *headers: extra response headers, as ``"Name: value"``.
    """
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *headers],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}/bench"
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    serve()
