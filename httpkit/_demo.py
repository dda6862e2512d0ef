"""``httpkit demo``: plain requests and httpkit side by side against a misbehaving local server.

Everything runs on 127.0.0.1: a server in a thread plays the failures, and each scene
shows what each client sees, with timings and attempts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final, TextIO
from urllib.parse import parse_qs, urlsplit

import requests

import httpkit

#: Fast backoff, so the tour takes seconds; the defaults wait longer between retries.
_DEMO_RETRY: Final = httpkit.RetryPolicy(backoff_factor=0.1)


class _DemoHandler(BaseHTTPRequestHandler):
    """Endpoints that fail the way real servers do. ``?id=`` keys each scene's counters."""

    protocol_version = "HTTP/1.1"
    server: _DemoServer

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        lines = [f"HTTP/1.1 {status} {self.responses[status][0]}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _hits(self) -> int:
        key = parse_qs(urlsplit(self.path).query).get("id", [""])[0] + urlsplit(self.path).path
        with self.server.lock:
            self.server.hits[key] = self.server.hits.get(key, 0) + 1
            return self.server.hits[key]

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        hits = self._hits()
        if path == "/flaky":  # fails twice, then works
            if hits <= 2:
                self._reply(503, b"try again")
            else:
                self._reply(200, b"fine now")
        elif path == "/busy":  # asks the client to come back in a second
            if hits == 1:
                self._reply(503, b"busy", {"Retry-After": "1"})
            else:
                self._reply(200, b"served")
        elif path == "/slow":  # takes two seconds to answer
            time.sleep(2)
            self._reply(200, b"finally")
        else:
            self._reply(200, b"ok")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._hits()
        self._reply(503, b"not now")

    def log_message(self, format: str, *args: object) -> None:
        pass


class _DemoServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _DemoHandler)
        self.lock = threading.Lock()
        self.hits: dict[str, int] = {}

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def _running_server() -> Iterator[_DemoServer]:
    server = _DemoServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class _Scene:
    name: str
    title: str
    play: Callable[[_DemoServer, TextIO], None]


def _outcome(call: Callable[[], requests.Response]) -> tuple[str, float, str]:
    started = time.monotonic()
    try:
        response = call()
    except requests.RequestException as exc:
        return f"raised {type(exc).__name__}", time.monotonic() - started, ""
    elapsed = time.monotonic() - started
    retries = getattr(response, "retries", None)
    attempts = str(retries) if retries is not None else "1 attempt"
    return f"{response.status_code} {response.reason}", elapsed, attempts


def _show(out: TextIO, who: str, what: str, call: Callable[[], requests.Response]) -> None:
    result, elapsed, attempts = _outcome(call)
    detail = f"{elapsed * 1000:6.0f} ms" + (f", {attempts}" if attempts else "")
    out.write(f"  {who:<17} {what:<10} -> {result:<24} ({detail})\n")


def _retry_scene(server: _DemoServer, out: TextIO) -> None:
    url = server.origin + "/flaky"
    with requests.Session() as plain, httpkit.Session(retry=_DEMO_RETRY) as safe:
        _show(out, "requests.Session", "GET /flaky", lambda: plain.get(url + "?id=plain"))
        _show(out, "httpkit.Session", "GET /flaky", lambda: safe.get(url + "?id=httpkit"))
    out.write("  httpkit retried the idempotent GET with exponential backoff.\n")


def _retry_after_scene(server: _DemoServer, out: TextIO) -> None:
    url = server.origin + "/busy"
    with httpkit.Session(retry=_DEMO_RETRY) as safe:
        _show(out, "httpkit.Session", "GET /busy", lambda: safe.get(url))
    out.write("  The server said 'Retry-After: 1'; httpkit waited that second before retrying.\n")


def _post_scene(server: _DemoServer, out: TextIO) -> None:
    url = server.origin + "/orders"
    with httpkit.Session(retry=_DEMO_RETRY) as safe:
        _show(out, "httpkit.Session", "POST", lambda: safe.post(url, json={"order": 1}))
    out.write("  A POST that reached the server is not retried: it could create the order twice.\n")


def _timeout_scene(server: _DemoServer, out: TextIO) -> None:
    url = server.origin + "/slow"
    with requests.Session() as plain, httpkit.Session(retry=False) as safe:
        safe.configure(server.origin, timeout=(1, 0.5))
        _show(out, "requests.Session", "GET /slow", lambda: plain.get(url))
        _show(out, "httpkit.Session", "GET /slow", lambda: safe.get(url))
    out.write(
        "  requests waits as long as the server takes (forever, if it never answers);\n"
        "  httpkit always has a timeout: 30 s by default, 0.5 s here from a host policy.\n"
    )


SCENES: Final = (
    _Scene("retry", "a server that fails twice, then answers", _retry_scene),
    _Scene("retry-after", "a server that asks to come back later", _retry_after_scene),
    _Scene("post", "a POST answered 503", _post_scene),
    _Scene("timeout", "a server that takes two seconds", _timeout_scene),
)


def run_demo(out: TextIO, only: str | None = None) -> int:
    """Play every scene (or the one named ``only``); return the process exit code."""
    scenes = [s for s in SCENES if only is None or s.name == only]
    if not scenes:
        names = ", ".join(s.name for s in SCENES)
        out.write(f"httpkit demo: no scene named {only!r}; scenes: {names}\n")
        return 2
    with _running_server() as server:
        out.write(f"httpkit {httpkit.__version__} demo, server on {server.origin}\n")
        for scene in scenes:
            out.write(f"\n== {scene.name}: {scene.title} ==\n")
            scene.play(server, out)
    return 0
