"""A scripted HTTP/1.1 server on loopback, in a thread, that records what it receives.

Each path has a script: a list of :class:`Reply` objects served in order, the last one
repeating. A reply can wait before answering, to play a slow server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: Sequence[tuple[str, str]] = ()
    delay: float = 0.0  # seconds before the status line


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when the request line arrived


@dataclass
class ScriptedServer:
    host: str
    port: int
    scripts: dict[str, list[Reply]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.origin + path

    def script(self, path: str, *replies: Reply) -> None:
        with self.lock:
            self.scripts[path] = list(replies)

    def next_reply(self, path: str) -> Reply:
        with self.lock:
            replies = self.scripts.get(path.split("?", 1)[0])
            if not replies:
                return Reply()
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def requests_to(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path.split("?", 1)[0] == path]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        arrived = time.monotonic()
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        state = self.server.state
        with state.lock:
            state.received.append(
                Received(self.command, self.path, dict(self.headers.items()), body, arrived)
            )
        reply = state.next_reply(self.path)
        if reply.delay:
            time.sleep(reply.delay)
        # One write for the whole response: separate small writes meet delayed ACKs.
        head = [f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('',))[0]}"]
        head += [f"{name}: {value}" for name, value in reply.headers]
        if not any(name.lower() == "content-length" for name, _ in reply.headers):
            head.append(f"Content-Length: {len(reply.body)}")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up: fine
            self.close_connection = True

    def _read_chunked(self) -> bytes:
        body = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0], 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return body
            body += self.rfile.read(size)
            self.rfile.readline()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ScriptedServer


@contextmanager
def serve(host: str = "127.0.0.1") -> Iterator[ScriptedServer]:
    """Run a :class:`ScriptedServer` on ``host`` (a loopback address) until the block ends."""
    if ":" in host:

        class _Server6(_Server):
            address_family = socket.AF_INET6

        httpd: _Server = _Server6((host, 0), _Handler)
    else:
        httpd = _Server((host, 0), _Handler)
    httpd.state = ScriptedServer(host, httpd.server_address[1])
    with running(httpd):
        yield httpd.state


@contextmanager
def running(httpd: ThreadingHTTPServer) -> Iterator[None]:
    """Serve ``httpd`` in a daemon thread until the block ends, then close it."""
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@contextmanager
def socket_server(
    host: str, handle: Callable[[socket.socket], None], stop: threading.Event
) -> Iterator[int]:
    """Accept TCP connections on ``host`` (loopback), each handled on a thread of its own.

    Yields the port. When the block ends, ``stop`` is set, open connections are shut down
    (which wakes a handler waiting for a request) and every thread is joined.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 0))
    listener.listen(64)
    listener.settimeout(0.1)
    conns: list[socket.socket] = []
    workers: list[threading.Thread] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conns.append(conn)
            worker = threading.Thread(target=handle, args=(conn,), daemon=True)
            worker.start()
            workers.append(worker)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        acceptor.join(timeout=5)
        listener.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for worker in workers:
            worker.join(timeout=5)
