"""A tiny keep-alive HTTP/1.1 (or HTTPS) server for the benchmarks, run in its own process.

Run as a script it binds 127.0.0.1 on a free port, prints the port on one line and serves
until stdin closes (so it never outlives the benchmark that started it). Arguments:
``--tls CERT KEY`` first to serve HTTPS, then response headers (``"Cache-Control:
max-age=3600"``; with ``"Connection: close"`` every connection is closed after one
response). Stdlib only.

Every GET is answered with a 13-byte JSON body, except ``/big``, answered with a 1 MiB
body. Each response is written with a single ``sendall`` call and ``TCP_NODELAY`` is set:
writing the status line, the headers and the body separately lets Nagle's algorithm and
delayed ACKs add ~40 ms stalls, which would swamp the microseconds being measured.

The server counts the TCP connections it accepts and the most it had open at once. A line
``stats`` on its stdin makes it print them as one JSON line on stdout; the parent side is
``Server.stats()``. Asking this way opens no connection, so the counts are the clients'.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

BODY = b'{"ok": true}\n'
BIG_PATH = "/big"
BIG_BODY = b"x" * (1 << 20)


def response_bytes(
    extra_headers: list[str], body: bytes = BODY, content_type: str = "application/json"
) -> bytes:
    """A whole response with ``body`` and ``extra_headers`` ("Name: value") added."""
    head = ["HTTP/1.1 200 OK", f"Content-Type: {content_type}", *extra_headers]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


# -- the server (child process) --------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    response = big_response = b""  # set by serve()
    close_after = False

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        # Bypass send_response()/end_headers(): one write for the whole response.
        big = self.path.startswith(BIG_PATH)
        self.wfile.write(self.big_response if big else self.response)
        self.close_connection = self.close_after

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    context: ssl.SSLContext | None = None

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.accepted = self.open = self.peak_open = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.accepted += 1
            self.open += 1
            self.peak_open = max(self.peak_open, self.open)
        super().process_request(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.context is None:
            super().finish_request(request, client_address)
            return
        try:  # the handshake runs in the connection's thread, not in the accept loop
            tls = self.context.wrap_socket(request, server_side=True)
        except OSError:
            return
        with contextlib.closing(tls):
            super().finish_request(tls, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.lock:
            self.open -= 1
        super().shutdown_request(request)


def serve(argv: list[str]) -> None:
    server = _Server()
    if argv[:1] == ["--tls"]:
        server.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.context.load_cert_chain(argv[1], argv[2])
        argv = argv[3:]
    _Handler.response = response_bytes(argv)
    _Handler.big_response = response_bytes(argv, BIG_BODY, "application/octet-stream")
    _Handler.close_after = any(h.lower().replace(" ", "") == "connection:close" for h in argv)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for line in sys.stdin:  # ends when the parent closes our stdin or exits
        if line.strip() == "stats":
            with server.lock:
                stats = {"accepted": server.accepted, "peak_open": server.peak_open}
            print(json.dumps(stats), flush=True)
    server.shutdown()


# -- the benchmark's side --------------------------------------------------------------------


class Server:
    """The server in a child process: ``url`` (tiny body), ``big_url`` (1 MiB), ``stats()``.

    Args:
        *headers: extra response headers, as ``"Name: value"``.
        tls: ``(certificate, key)`` files to serve HTTPS instead of HTTP.
    """

    def __init__(self, *headers: str, tls: tuple[str, str] | None = None) -> None:
        options = ["--tls", *tls] if tls else []
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *options, *headers],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._stdin, self._stdout = self._proc.stdin, self._proc.stdout
        try:
            port = int(self._stdout.readline())
        except ValueError:
            self.close()
            raise RuntimeError("the benchmark server did not start") from None
        origin = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        self.url, self.big_url = origin + "/bench", origin + BIG_PATH

    def stats(self) -> dict[str, int]:
        """Connections accepted so far and the most that were open at once."""
        self._stdin.write("stats\n")
        self._stdin.flush()
        return json.loads(self._stdout.readline())  # type: ignore[no-any-return]

    def close(self) -> None:
        self._stdin.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def running_server(*headers: str, tls: tuple[str, str] | None = None) -> Iterator[str]:
    """Start the server in a child process; yield its URL (tiny body); stop it afterwards.

    Args:
        *headers: extra response headers, as ``"Name: value"``.
        tls: ``(certificate, key)`` files to serve HTTPS instead of HTTP.
    """
    with Server(*headers, tls=tls) as server:
        yield server.url


def make_tls_files(directory: Path) -> tuple[str, str, str]:
    """A test CA (made by trustme) and a certificate for 127.0.0.1 that it issued.

    Returns:
        The paths of the server's certificate, its key and the CA certificate, in
        ``directory``.
    """
    import trustme

    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    cert, key, ca_pem = directory / "server.pem", directory / "server.key", directory / "ca.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_pem))
    return str(cert), str(key), str(ca_pem)


if __name__ == "__main__":
    serve(sys.argv[1:])
