"""A raw-socket HTTP/1.1 server whose answers come in every body shape.

Each path has a script of :class:`Answer` objects, served in order, the last one repeating.
An answer's body goes out in one of three shapes:

* ``"length"``: ``Content-Length``, the connection kept alive;
* ``"chunked"``: ``Transfer-Encoding: chunked``, kept alive;
* ``"close"``: neither, with ``Connection: close``: the body ends when the server closes.

An answer can also trickle its body (one piece every ``every`` seconds), send it without
end, hang before the status line, or end a chunked body with trailers that never stop.
Every loop is bounded by :data:`LIMIT` seconds and stops with the server, so no test can
leave a thread running.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.integration.servers import socket_server

LIMIT = 15.0  # seconds any single answer may take
SHAPES = ("length", "chunked", "close")


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b"ok"
    shape: str = "length"
    hang: bool = False  # never send the status line
    every: float = 0.0  # > 0: send the body one piece at a time, this many seconds apart
    endless: bool = False  # repeat the body until the client goes away (or LIMIT)
    endless_trailers: bool = False  # chunked only: trailer lines that never end


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when the request head was read


@dataclass
class RawServer:
    host: str
    port: int = 0
    scripts: dict[str, list[Answer]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)  # body bytes written, per path
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.origin + path

    def script(self, path: str, *answers: Answer) -> None:
        with self.lock:
            self.scripts[path] = list(answers)

    def requests_to(self, path: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.path.split("?", 1)[0] == path]

    def _next(self, path: str) -> Answer:
        with self.lock:
            answers = self.scripts.get(path)
            if not answers:
                return Answer()
            return answers.pop(0) if len(answers) > 1 else answers[0]

    def _count(self, path: str, n: int) -> None:
        with self.lock:
            self.sent[path] = self.sent.get(path, 0) + n


def _read_request(reader: socket.SocketIO) -> tuple[str, str, dict[str, str], bytes] | None:
    buffered = _Lines(reader)
    line = buffered.line()
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        line = buffered.line()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int(buffered.line().split(b";")[0] or b"0", 16)
            if size == 0:
                while buffered.line() not in (b"\r\n", b"\n", b""):
                    pass
                break
            body += buffered.exactly(size)
            buffered.line()
    else:
        body = buffered.exactly(int(headers.get("content-length", "0")))
    return method, target, headers, body


class _Lines:
    def __init__(self, reader: socket.SocketIO) -> None:
        self.file = reader

    def line(self) -> bytes:
        out = b""
        while not out.endswith(b"\n"):
            byte = self.file.read(1)
            if not byte:
                return out
            out += byte
        return out

    def exactly(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            piece = self.file.read(n - len(out))
            if not piece:
                break
            out += piece
        return out


def _head(answer: Answer, length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {answer.status} Scripted", *(f"{k}: {v}" for k, v in answer.headers)]
    if answer.shape == "length":
        lines.append(f"Content-Length: {length}")
    elif answer.shape == "chunked":
        lines.append("Transfer-Encoding: chunked")
    else:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _frame(answer: Answer, piece: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(piece), piece) if answer.shape == "chunked" else piece


def _answer(server: RawServer, conn: socket.socket, path: str, answer: Answer) -> bool:
    """Write ``answer``; return whether the connection can serve another request."""
    if answer.hang:
        server.stop.wait(LIMIT)
        return False
    started = time.monotonic()
    conn.sendall(_head(answer, 1 << 40 if answer.endless else len(answer.body)))
    step = 1 if answer.every else max(len(answer.body), 1)
    while not server.stop.is_set() and time.monotonic() - started < LIMIT:
        for at in range(0, len(answer.body), step):
            piece = answer.body[at : at + step]
            conn.sendall(_frame(answer, piece))
            server._count(path, len(piece))
            if answer.every:
                time.sleep(answer.every)
        if not answer.endless:
            break
    if answer.endless:
        return False
    if answer.shape == "chunked":
        conn.sendall(b"0\r\n")
        while answer.endless_trailers and time.monotonic() - started < LIMIT:
            if server.stop.is_set():
                return False
            conn.sendall(b"X-Trailer: more\r\n" * 64)
        conn.sendall(b"\r\n")
    return answer.shape != "close"


def _handle(server: RawServer, conn: socket.socket) -> None:
    with conn, socket.SocketIO(conn, "rb") as reader:
        conn.settimeout(LIMIT)
        try:
            while not server.stop.is_set():
                request = _read_request(reader)
                if request is None:
                    return
                method, target, headers, body = request
                path = target.split("?", 1)[0]
                with server.lock:
                    server.seen.append(Seen(method, target, headers, body, time.monotonic()))
                if not _answer(server, conn, path, server._next(path)):
                    return
        except OSError:
            return


@contextmanager
def raw_server(host: str = "127.0.0.1") -> Iterator[RawServer]:
    """Run a :class:`RawServer` on ``host`` (a loopback address) until the block ends."""
    server = RawServer(host)
    with socket_server(host, lambda conn: _handle(server, conn), server.stop) as port:
        server.port = port
        yield server
