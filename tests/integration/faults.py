"""A misbehaving HTTP server on raw sockets, for deadline and retry tests.

Each request path names a fault. Every loop is bounded (``LIMIT`` seconds at most) and
stops when the server stops, so no test can leave a thread running.
"""

from __future__ import annotations

import email.utils
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.integration.servers import socket_server

LIMIT = 20.0  # seconds any single fault may run


@dataclass
class FaultServer:
    port: int
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hits: dict[str, int] = field(default_factory=dict)
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self, path: str) -> int:
        with self.lock:
            return self.hits.get(path, 0)


def _read_request(conn: socket.socket) -> tuple[str, str, dict[str, str], bytes] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            rest += chunk
    else:
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            rest += chunk
    return method, target, headers, rest


def _reply(conn: socket.socket, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers]
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


def _drip(server: FaultServer, conn: socket.socket, data: bytes, every: float) -> None:
    """Send ``data`` one byte at a time, ``every`` seconds apart, within LIMIT."""
    started = time.monotonic()
    for byte in data:
        if server.stop.is_set() or time.monotonic() - started > LIMIT:
            return
        conn.sendall(bytes([byte]))
        time.sleep(every)


def _forever(server: FaultServer, conn: socket.socket, piece: bytes, every: float) -> None:
    """Send ``piece`` again and again, ``every`` seconds apart, within LIMIT."""
    started = time.monotonic()
    while not server.stop.is_set() and time.monotonic() - started < LIMIT:
        conn.sendall(piece)
        time.sleep(every)


Fault = Callable[[FaultServer, socket.socket, str, int], None]


def hang(server: FaultServer, conn: socket.socket, path: str, hit: int) -> None:
    server.stop.wait(LIMIT)


def trickle_headers(server: FaultServer, conn: socket.socket, path: str, hit: int) -> None:
    _drip(server, conn, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Slow: yes\r\n\r\nok", 0.5)


def trickle_body(server: FaultServer, conn: socket.socket, path: str, hit: int) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    _drip(server, conn, b"x" * 100, 0.5)


def endless_continue(server: FaultServer, conn: socket.socket, path: str, hit: int) -> None:
    _forever(server, conn, b"HTTP/1.1 100 Continue\r\n\r\n", 0.1)


def endless_chunked(server: FaultServer, conn: socket.socket, path: str, hit: int) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    _forever(server, conn, b"1\r\nx\r\n", 0.05)


def endless_trailers(server: FaultServer, conn: socket.socket, path: str, hit: int) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n")
    _forever(server, conn, b"X-Trailer: more\r\n", 0.05)


def close_mid_body(server: FaultServer, conn: socket.socket, path: str, hit: int) -> None:
    """The first answer breaks off after 10 of 100 bytes; later ones are whole."""
    if hit == 1:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        conn.shutdown(socket.SHUT_RDWR)
    else:
        _reply(conn, "200 OK", [], b"y" * 100)


def reset(server: FaultServer, conn: socket.socket, path: str, hit: int) -> None:
    # SO_LINGER with a zero timeout turns close() into a TCP RST.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _then_ok(status: str, header: tuple[str, str] | None) -> Fault:
    """``status`` (with ``header``) on the first hit, 200 afterwards."""

    def fault(server: FaultServer, conn: socket.socket, path: str, hit: int) -> None:
        if hit == 1:
            _reply(conn, status, [header] if header else [], b"not now")
        else:
            _reply(conn, "200 OK", [], b"served")

    return fault


def retry_after_date(server: FaultServer, conn: socket.socket, path: str, hit: int) -> None:
    if hit == 1:
        when = email.utils.formatdate(time.time() + 2, usegmt=True)  # 1 to 2 s from now
        _reply(conn, "503 Service Unavailable", [("Retry-After", when)], b"later")
    else:
        _reply(conn, "200 OK", [], b"served")


def slow_redirects(server: FaultServer, conn: socket.socket, path: str, hit: int) -> None:
    """/redirects/N waits 0.4 s, then sends the client to /redirects/N+1."""
    step = int(path.rsplit("/", 1)[1])
    time.sleep(0.4)
    _reply(conn, "302 Found", [("Location", f"/redirects/{step + 1}")], b"")


FAULTS: dict[str, Fault] = {
    "/hang": hang,
    "/trickle-headers": trickle_headers,
    "/trickle-body": trickle_body,
    "/endless-continue": endless_continue,
    "/endless-chunked": endless_chunked,
    "/endless-trailers": endless_trailers,
    "/close-mid-body": close_mid_body,
    "/reset": reset,
    "/retry-after-seconds": _then_ok("503 Service Unavailable", ("Retry-After", "1")),
    "/retry-after-date": retry_after_date,
    "/retry-after-day": _then_ok("503 Service Unavailable", ("Retry-After", "86400")),
    "/retry-after-garbage": _then_ok("503 Service Unavailable", ("Retry-After", "soon-ish")),
    "/retry-after-3": _then_ok("503 Service Unavailable", ("Retry-After", "3")),
    "/too-many": _then_ok("429 Too Many Requests", ("Retry-After", "1")),
    "/unavailable": lambda server, conn, path, hit: _reply(
        conn, "503 Service Unavailable", [], b""
    ),
    "/temporary-redirect": lambda server, conn, path, hit: _reply(
        conn, "307 Temporary Redirect", [("Location", "/landing")], b""
    ),
}


def _handle(server: FaultServer, conn: socket.socket) -> None:
    with conn:
        conn.settimeout(LIMIT)
        try:
            while not server.stop.is_set():
                request = _read_request(conn)
                if request is None:
                    return
                method, target, headers, body = request
                path = target.split("?", 1)[0]
                key = "/redirects" if path.startswith("/redirects/") else path
                with server.lock:
                    server.hits[key] = hit = server.hits.get(key, 0) + 1
                    server.received.append((f"{method} {path}", headers, body))
                fault = slow_redirects if key == "/redirects" else FAULTS.get(path)
                if fault is None:
                    _reply(conn, "200 OK", [], b"ok")
                    continue
                fault(server, conn, path, hit)
                if fault in (hang, trickle_headers, trickle_body, reset, close_mid_body):
                    return
                if fault in (endless_continue, endless_chunked, endless_trailers):
                    return
        except OSError:
            return


@contextmanager
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer(0)
    with socket_server("127.0.0.1", lambda conn: _handle(server, conn), server.stop) as port:
        server.port = port
        yield server
