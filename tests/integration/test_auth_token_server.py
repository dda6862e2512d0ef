"""TokenAuth against a real token-checking server on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from httpkit.auth import TokenAuth


class TokenServer:
    """Accepts ``Authorization: Bearer <t>`` for tokens in :attr:`valid`; 401 otherwise."""

    def __init__(self) -> None:
        self.valid: set[str] = set()
        self.seen: list[str | None] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                header = self.headers.get("Authorization")
                with server.lock:
                    server.seen.append(header)
                    ok = header is not None and header.removeprefix("Bearer ") in server.valid
                body = b"ok" if ok else b"no"
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"


class Issuer:
    """fetch(): issues tok1, tok2, ... and makes each valid on the server."""

    def __init__(self, server: TokenServer, lifetime: float | None, delay: float = 0) -> None:
        self.server = server
        self.lifetime = lifetime
        self.delay = delay
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self) -> tuple[str, float | None]:
        time.sleep(self.delay)
        with self.lock:
            self.calls += 1
            token = f"tok{self.calls}"
        with self.server.lock:
            self.server.valid.add(token)
        return token, self.lifetime


@pytest.fixture
def server() -> Iterator[TokenServer]:
    s = TokenServer()
    thread = threading.Thread(target=s.httpd.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()
    thread.join(5)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False
        yield s


def test_refresh_on_expiry(server: TokenServer, session: requests.Session) -> None:
    issuer = Issuer(server, lifetime=60)
    auth = TokenAuth(fetch=issuer, refresh_margin=10)
    now = [0.0]
    auth._clock = lambda: now[0]
    assert session.get(server.url, auth=auth).status_code == 200
    now[0] = 49.0
    assert session.get(server.url, auth=auth).status_code == 200
    now[0] = 50.0  # ten seconds before expiry
    assert session.get(server.url, auth=auth).status_code == 200
    assert issuer.calls == 2
    assert server.seen == ["Bearer tok1", "Bearer tok1", "Bearer tok2"]


def test_refresh_once_on_401(server: TokenServer, session: requests.Session) -> None:
    issuer = Issuer(server, lifetime=None)
    auth = TokenAuth(fetch=issuer)
    assert session.get(server.url, auth=auth).status_code == 200
    server.valid.clear()  # the server revokes tok1 early
    r = session.get(server.url, auth=auth)
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [401]
    assert server.seen == ["Bearer tok1", "Bearer tok1", "Bearer tok2"]


def test_second_401_is_returned(server: TokenServer, session: requests.Session) -> None:
    class Useless(Issuer):
        def __call__(self) -> tuple[str, float | None]:
            self.calls += 1
            return "never-valid", None

    issuer = Useless(server, lifetime=None)
    r = session.get(server.url, auth=TokenAuth(fetch=issuer))
    assert r.status_code == 401
    assert len(server.seen) == 2  # sent, refreshed and re-sent once, then given up
    assert issuer.calls == 2


def test_32_threads_and_an_expiring_token_fetch_once_per_expiry(
    server: TokenServer, session: requests.Session
) -> None:
    issuer = Issuer(server, lifetime=60, delay=0.1)
    auth = TokenAuth(fetch=issuer, refresh_margin=10)
    now = [0.0]
    auth._clock = lambda: now[0]
    session.auth = auth
    statuses: list[int] = []

    def burst() -> None:
        barrier = threading.Barrier(32)

        def work() -> None:
            barrier.wait()
            statuses.append(session.get(server.url).status_code)

        threads = [threading.Thread(target=work) for _ in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    burst()
    assert issuer.calls == 1
    now[0] = 55.0  # the token is now inside its refresh margin
    burst()
    assert issuer.calls == 2
    assert statuses == [200] * 64
    assert set(server.seen) == {"Bearer tok1", "Bearer tok2"}
