"""``httpkit demo``: plain requests and httpkit side by side against a misbehaving local server.

Everything runs on loopback: servers in threads on 127.0.0.1 (and 127.0.0.2, playing
"another host") act out the failures, and each scene shows what each client sees, with
timings, attempts and what was sent. Secrets are never printed.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final, TextIO
from urllib.parse import parse_qs, urlsplit

import requests
import urllib3

import httpkit

#: Fast backoff, so the tour takes seconds; the defaults wait longer between retries.
_DEMO_RETRY: Final = httpkit.RetryPolicy(backoff_factor=0.1)

# Demo credentials. They are never printed: the tests check that they do not appear.
_API_KEY: Final = "demo-api-key-5f0c2e91"
_DIGEST_USER: Final = "alice"
_DIGEST_PASSWORD: Final = "demo-password-8b27d4"
_DIGEST_REALM: Final = "httpkit-demo"
_TOKEN_PREFIX: Final = "demo-token-"
#: RFC 7616 algorithm name -> hashlib name, for the server side of the Digest scene.
_DIGEST_HASHES: Final = {"SHA-256": "sha256", "SHA-512-256": "sha512_256"}
_DIGEST_PARAM_RE: Final = re.compile(r'([A-Za-z0-9_-]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')

#: The trickling endpoint sends this many bytes, one every ``_TRICKLE_INTERVAL`` seconds.
_TRICKLE_BYTES: Final = 40
_TRICKLE_INTERVAL: Final = 0.5
#: Lifetime of the tokens the token scene fetches, in seconds.
_TOKEN_LIFETIME: Final = 1.0


@dataclass(frozen=True)
class _Seen:
    """One request as a demo server received it (credential values already redacted)."""

    scene: str  # the ``?id=`` of the request
    method: str
    path: str
    headers: dict[str, str]
    status: int


def _redacted(name: str, value: str) -> str:
    """A header value safe to print: credentials keep their scheme, never their value."""
    lowered = name.lower()
    if lowered == "authorization":
        scheme, _, rest = value.partition(" ")
        if scheme.lower() == "digest":
            # The Digest parameters are not secret, except that the response proves the password.
            shown = [
                f"{m.group(1)}={m.group(0).partition('=')[2]}"
                for m in _DIGEST_PARAM_RE.finditer(rest)
                if m.group(1).lower() in ("username", "algorithm", "qop", "nc")
            ]
            return "Digest " + ", ".join([*shown, "response=<redacted>"])
        return f"{scheme} <redacted>" if rest else "<redacted>"
    if lowered in ("x-api-key", "cookie", "proxy-authorization"):
        return "<redacted>"
    return value


class _DemoHandler(BaseHTTPRequestHandler):
    """Endpoints that fail the way real servers do. ``?id=`` keys each scene's counters."""

    protocol_version = "HTTP/1.1"
    server: _DemoServer

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        lines = [f"HTTP/1.1 {status} {self.responses[status][0]}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.server.record(self, status)  # before the reply: the client may look right after
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _scene(self) -> str:
        return parse_qs(urlsplit(self.path).query).get("id", [""])[0]

    def _hits(self) -> int:
        key = self._scene() + urlsplit(self.path).path
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
        elif path == "/maintenance":  # asks the client to come back tomorrow
            self._reply(503, b"down for maintenance", {"Retry-After": "86400"})
        elif path == "/slow":  # takes two seconds to answer
            time.sleep(2)
            self._reply(200, b"finally")
        elif path == "/trickle":  # one byte every half second: never silent, never done
            self._trickle()
        elif path.removeprefix("/").upper() in _DIGEST_HASHES:
            self._digest(path.removeprefix("/").upper())
        elif path == "/me":  # wants a valid bearer token
            self._bearer()
        elif path == "/report":  # a large document with a validator, revalidated every time
            if self.headers.get("If-None-Match") == _REPORT_ETAG:
                self._reply(304, headers={"ETag": _REPORT_ETAG, "Cache-Control": "no-cache"})
            else:
                headers = {"ETag": _REPORT_ETAG, "Cache-Control": "no-cache"}
                self._reply(200, _REPORT, headers)
        elif path == "/hop":  # redirects to the other host
            assert self.server.peer is not None
            where = f"{self.server.peer.origin}/landing?id={self._scene()}"
            self._reply(302, headers={"Location": where})
        else:
            self._reply(200, b"ok")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._hits()
        self._reply(503, b"not now")

    def _trickle(self) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {_TRICKLE_BYTES}\r\n\r\n"
        self.server.record(self, 200)
        try:
            self.wfile.write(head.encode("latin-1"))
            for _ in range(_TRICKLE_BYTES):
                time.sleep(_TRICKLE_INTERVAL)
                self.wfile.write(b".")
        except OSError:  # the client hung up
            self.close_connection = True

    def _digest(self, algorithm: str) -> None:
        """A compact server side of RFC 7616 Digest, qop=auth, for one user."""
        if self._digest_ok(algorithm, self.headers.get("Authorization", "")):
            self._reply(200, b"welcome")
            return
        nonce = secrets.token_hex(16)
        with self.server.lock:
            self.server.nonces[nonce] = (algorithm, 0)
        challenge = (
            f'Digest realm="{_DIGEST_REALM}", nonce="{nonce}", qop="auth", '
            f"algorithm={algorithm}, charset=UTF-8"
        )
        self._reply(401, b"who are you?", {"WWW-Authenticate": challenge})

    def _digest_ok(self, algorithm: str, header: str) -> bool:
        scheme, _, rest = header.partition(" ")
        if scheme.lower() != "digest":
            return False
        params = {
            m.group(1).lower(): re.sub(r"\\(.)", r"\1", m.group(2))
            if m.group(2) is not None
            else m.group(3)
            for m in _DIGEST_PARAM_RE.finditer(rest)
        }
        nonce, nc_hex = params.get("nonce", ""), params.get("nc", "")
        with self.server.lock:
            nonce_algorithm, last_count = self.server.nonces.get(nonce, ("", 0))
        if not (
            nonce_algorithm == algorithm
            and params.get("algorithm", "MD5").upper() == algorithm
            and params.get("username") == _DIGEST_USER
            and params.get("realm") == _DIGEST_REALM
            and params.get("uri") == self.path
            and params.get("qop") == "auth"
            and re.fullmatch(r"[0-9a-fA-F]{8}", nc_hex)
            and int(nc_hex, 16) > last_count  # a replayed nonce-count is refused
            and "cnonce" in params
        ):
            return False

        def h(text: str) -> str:
            return hashlib.new(_DIGEST_HASHES[algorithm], text.encode("utf-8")).hexdigest()

        ha1 = h(f"{_DIGEST_USER}:{_DIGEST_REALM}:{_DIGEST_PASSWORD}")
        ha2 = h(f"{self.command}:{self.path}")
        expected = h(f"{ha1}:{nonce}:{nc_hex}:{params['cnonce']}:auth:{ha2}")
        if not hmac.compare_digest(expected, params.get("response", "")):
            return False
        with self.server.lock:
            self.server.nonces[nonce] = (algorithm, int(nc_hex, 16))
        return True

    def _bearer(self) -> None:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        with self.server.lock:
            expires = self.server.tokens.get(token)
        if scheme.lower() == "bearer" and expires is not None and time.monotonic() < expires:
            self._reply(200, b"hello")
        else:
            self._reply(401, b"", {"WWW-Authenticate": 'Bearer error="invalid_token"'})

    def log_message(self, format: str, *args: object) -> None:
        pass


class _DemoServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), _DemoHandler)
        self.lock = threading.Lock()
        self.hits: dict[str, int] = {}
        self.seen: list[_Seen] = []
        self.nonces: dict[str, tuple[str, int]] = {}  # Digest nonce -> (algorithm, last nc)
        self.tokens: dict[str, float] = {}  # bearer token -> monotonic expiry
        self.peer: _DemoServer | None = None  # "another host", for the redirect scene

    @property
    def origin(self) -> str:
        return f"http://{self.server_address[0]!s}:{self.server_address[1]}"

    def record(self, handler: _DemoHandler, status: int) -> None:
        headers = {k: _redacted(k, v) for k, v in handler.headers.items()}
        path = urlsplit(handler.path).path
        seen = _Seen(handler._scene(), handler.command, path, headers, status)
        with self.lock:
            self.seen.append(seen)

    def requests_for(self, scene: str) -> list[_Seen]:
        with self.lock:
            return [s for s in self.seen if s.scene == scene]


def _start(server: _DemoServer) -> None:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()


def _other_host() -> _DemoServer:
    """A server on 127.0.0.2; where that address is not configured (macOS), another port."""
    try:
        return _DemoServer("127.0.0.2")
    except OSError:
        return _DemoServer("127.0.0.1")


@contextmanager
def _running_server() -> Iterator[_DemoServer]:
    server = _DemoServer()
    other = _other_host()
    server.peer = other
    for each in (server, other):
        _start(each)
    try:
        yield server
    finally:
        for each in (server, other):
            each.shutdown()
            each.server_close()


@dataclass(frozen=True)
class _Scene:
    name: str
    title: str
    play: Callable[[_DemoServer, TextIO], None]


@dataclass
class _Result:
    """What one call did: a response or an error, and how long it took."""

    elapsed: float
    response: requests.Response | None = None
    error: requests.RequestException | None = None

    def summary(self) -> str:
        if self.response is None:
            return f"raised {type(self.error).__name__}"
        return f"{self.response.status_code} {self.response.reason}"

    def attempts(self) -> str:
        if self.response is None:
            return ""
        retries = getattr(self.response, "retries", None)
        return str(retries) if retries is not None else "1 attempt"


def _call(call: Callable[[], requests.Response]) -> _Result:
    started = time.monotonic()
    try:
        response = call()
    except requests.RequestException as exc:
        return _Result(time.monotonic() - started, error=exc)
    return _Result(time.monotonic() - started, response=response)


def _line(
    out: TextIO, who: str, what: str, result: _Result, extra: str = "", attempts: bool = True
) -> None:
    """One call's outcome: who, what, the status or the error, the time and the attempts."""
    attempts_made = result.attempts() if attempts else ""
    detail = f"{result.elapsed * 1000:6.0f} ms" + (f", {attempts_made}" if attempts_made else "")
    detail += f", {extra}" if extra else ""
    out.write(f"  {who:<17} {what:<16} -> {result.summary():<24} ({detail})\n")


def _show(
    out: TextIO,
    who: str,
    what: str,
    call: Callable[[], requests.Response],
    extra: str = "",
    attempts: bool = True,
) -> _Result:
    result = _call(call)
    _line(out, who, what, result, extra, attempts)
    return result


@contextmanager
def _clients(
    retry: httpkit.RetryPolicy | bool = _DEMO_RETRY,
) -> Iterator[tuple[requests.Session, httpkit.Session]]:
    """A plain requests session and an httpkit one, both blind to proxy variables and .netrc.

    The demo only talks to loopback; a proxy from the environment must not get in the way.
    """
    with requests.Session() as plain, httpkit.Session(retry=retry) as safe:
        plain.trust_env = safe.trust_env = False
        yield plain, safe


# -- the scenes ----------------------------------------------------------------------------

#: The conditional scene's document and its validator.
_REPORT: Final = b"quarterly figures " * 4096  # 72 KiB
_REPORT_ETAG: Final = '"report-v1"'


def _retry_scene(server: _DemoServer, out: TextIO) -> None:
    url = server.origin + "/flaky"
    with _clients() as (plain, safe):
        _show(out, "requests.Session", "GET /flaky", lambda: plain.get(url + "?id=plain"))
        _show(out, "httpkit.Session", "GET /flaky", lambda: safe.get(url + "?id=httpkit"))
    out.write("  httpkit retried the idempotent GET with exponential backoff.\n")


def _retry_after_scene(server: _DemoServer, out: TextIO) -> None:
    url = server.origin + "/busy"
    with _clients() as (_, safe):
        _show(out, "httpkit.Session", "GET /busy", lambda: safe.get(url))
    out.write("  The server said 'Retry-After: 1'; httpkit waited that second before retrying.\n")


def _retry_after_too_long_scene(server: _DemoServer, out: TextIO) -> None:
    url = server.origin + "/maintenance"
    with _clients() as (plain, safe):
        result = _show(out, "requests.Session", "GET /maintenance", lambda: plain.get(url))
        if result.response is not None:
            asked = result.response.headers.get("Retry-After")
            out.write(f"    the response says 'Retry-After: {asked}'; what to do is up to you\n")
        result = _show(out, "httpkit.Session", "GET /maintenance", lambda: safe.get(url))
    if isinstance(result.error, httpkit.RetryAfterTooLong):
        error = result.error
        status = "?"
        if error.response is not None:
            status = str(error.response.status_code)
            error.response.close()  # its body is left unread for the caller: give it back
        out.write(
            f"    RetryAfterTooLong: .retry_after = {error.retry_after:g} s, "
            f".response.status_code = {status}\n"
        )
    cap = getattr(urllib3.Retry, "DEFAULT_RETRY_AFTER_MAX", None)
    wait = f"{cap / 3600:g} hours (urllib3 caps Retry-After at {cap} s)" if cap else "a day"
    out.write(
        "  httpkit does not wait longer than retry_after_max (120 s): it raises at once and\n"
        "  the caller decides when to come back. A hand-made\n"
        "  HTTPAdapter(max_retries=urllib3.Retry(total=3)) on plain requests would retry\n"
        f"  this 503 and sleep {wait} before each retry\n"
        "  (the demo does not try that).\n"
    )


def _post_scene(server: _DemoServer, out: TextIO) -> None:
    url = server.origin + "/orders"
    with _clients() as (_, safe):
        _show(out, "httpkit.Session", "POST /orders", lambda: safe.post(url, json={"order": 1}))
    out.write("  A POST that reached the server is not retried: it could create the order twice.\n")


def _timeout_scene(server: _DemoServer, out: TextIO) -> None:
    url = server.origin + "/slow"
    with _clients(retry=False) as (plain, safe):
        safe.configure(server.origin, timeout=(1, 0.5))
        _show(out, "requests.Session", "GET /slow", lambda: plain.get(url))
        _show(out, "httpkit.Session", "GET /slow", lambda: safe.get(url))
    out.write(
        "  requests waits as long as the server takes (forever, if it never answers);\n"
        "  httpkit always has a timeout: 30 s by default, 0.5 s here from a host policy.\n"
    )


def _deadline_scene(server: _DemoServer, out: TextIO) -> None:
    url = server.origin + "/trickle"
    guard = 3.0  # the demo stops reading for requests after this long
    total = _TRICKLE_BYTES * _TRICKLE_INTERVAL
    with _clients() as (plain, safe):
        started = time.monotonic()
        received = 0
        with plain.get(url + "?id=plain", timeout=3, stream=True) as response:
            for chunk in response.iter_content(1):
                received += len(chunk)
                if time.monotonic() - started >= guard:
                    break
        elapsed = time.monotonic() - started
        status = f"{response.status_code} {response.reason}"
        out.write(
            f"  {'requests.Session':<17} {'GET /trickle':<16} -> {status:<24} "
            f"(timeout=3, still receiving after {elapsed:.1f} s: "
            f"{received} of {_TRICKLE_BYTES} bytes)\n"
        )
        result = _show(
            out,
            "httpkit.Session",
            "GET /trickle",
            lambda: safe.get(url + "?id=httpkit", deadline=2),
        )
    if isinstance(result.error, httpkit.DeadlineExceeded):
        out.write(f"    DeadlineExceeded: .deadline = {result.error.deadline:g} s\n")
    out.write(
        f"  A byte every {_TRICKLE_INTERVAL:g} s never trips a read timeout: requests would take"
        f" {total:g} s here\n"
        "  (forever for an endless body; the demo stopped reading after 3 s). httpkit's\n"
        "  deadline=2 bounds the whole call, retries and body included.\n"
    )


def _exchange(out: TextIO, server: _DemoServer, scene: str, since: int) -> int:
    """Print what the server received for ``scene`` after the first ``since`` requests."""
    seen = server.requests_for(scene)
    for each in seen[since:]:
        sent = each.headers.get("Authorization", "no credentials")
        out.write(f"      server got {each.method} {each.path} [{sent}] -> {each.status}\n")
    return len(seen)


def _digest_scene(server: _DemoServer, out: TextIO) -> None:
    algorithms = [a for a in _DIGEST_HASHES if _DIGEST_HASHES[a] in hashlib.algorithms_available]
    with _clients() as (plain, safe):
        for algorithm in algorithms:
            # Fresh plugins for each server, so that no nonce carries over between them.
            plain_auth = requests.auth.HTTPDigestAuth(_DIGEST_USER, _DIGEST_PASSWORD)
            safe_auth = httpkit.DigestAuth(_DIGEST_USER, _DIGEST_PASSWORD)
            out.write(f"  a server that offers only {algorithm}, qop=auth:\n")
            url = f"{server.origin}/{algorithm.lower()}"
            seen = 0
            for who, session, auth, calls in (
                ("requests.Session", plain, plain_auth, 1),
                ("httpkit.Session", safe, safe_auth, 2),
            ):
                scene = f"digest-{who}-{algorithm}"
                for _ in range(calls):
                    _show(
                        out,
                        who,
                        f"GET /{algorithm.lower()}",
                        functools.partial(session.get, f"{url}?id={scene}", auth=auth),
                        attempts=False,
                    )
                    seen = _exchange(out, server, scene, seen)
                seen = 0
    out.write(
        "  requests' HTTPDigestAuth speaks MD5, SHA, SHA-256 and SHA-512: it gets in with\n"
        "  SHA-256 too. It does not know SHA-512-256 (RFC 7616) and sends the request again\n"
        "  without credentials. httpkit's DigestAuth answers both, and its second call reuses\n"
        "  the nonce (nc=00000002): one round trip instead of two.\n"
    )
    if len(algorithms) < len(_DIGEST_HASHES):
        out.write("  (This Python's hashlib lacks SHA-512/256: that part was skipped.)\n")


def _token_scene(server: _DemoServer, out: TextIO) -> None:
    fetches: list[int] = []

    def fetch() -> tuple[str, float]:
        """The token endpoint of an identity provider, played here by the demo server."""
        token = f"{_TOKEN_PREFIX}{len(fetches) + 1}-{secrets.token_hex(8)}"
        with server.lock:
            server.tokens[token] = time.monotonic() + _TOKEN_LIFETIME
        fetches.append(1)
        return token, _TOKEN_LIFETIME

    url = server.origin + "/me"
    with _clients() as (plain, safe):
        plain.headers["Authorization"] = f"Bearer {fetch()[0]}"  # fetched once, by hand
        auth = httpkit.TokenAuth(fetch=fetch)
        fetches.clear()

        def theirs(call_id: str) -> None:
            fetch = partial(plain.get, f"{url}?id={call_id}")
            _show(out, "requests.Session", "GET /me", fetch, attempts=False)

        def ours(step: str, call_id: str) -> None:
            result = _call(lambda: safe.get(f"{url}?id={call_id}", auth=auth))
            got = server.requests_for(call_id)
            answers = " then ".join(str(s.status) for s in got)
            extra = f"fetches so far: {len(fetches)}, the server answered {answers}"
            _line(out, "httpkit.Session", f"GET /me {step}", result, extra, attempts=False)

        out.write(
            f"  each token lives {_TOKEN_LIFETIME:g} s; sent as Authorization: Bearer <redacted>\n"
        )
        theirs("token-plain-1")
        ours("#1", "token-httpkit-1")
        ours("#2", "token-httpkit-2")
        out.write(f"  ... {_TOKEN_LIFETIME + 0.2:g} s later, the tokens have expired ...\n")
        time.sleep(_TOKEN_LIFETIME + 0.2)
        theirs("token-plain-2")
        ours("#3", "token-httpkit-3")
        out.write("  ... the server revokes every token (a key rotation) ...\n")
        with server.lock:
            server.tokens.clear()
        ours("#4", "token-httpkit-4")
    out.write(
        "  requests sends the token fetched by hand until it expires, then gets 401s.\n"
        "  TokenAuth(fetch=...) fetched on first use, reused the token, fetched again before it\n"
        "  expired, and on a 401 fetched once more and re-sent the request once.\n"
    )


def _redirect_scene(server: _DemoServer, out: TextIO) -> None:
    url = server.origin + "/hop"
    other = server.peer
    assert other is not None
    # Where 127.0.0.2 is not configured (macOS), the other server has another port instead.
    kind = "another host" if other.server_address[0] != server.server_address[0] else "another port"
    out.write(
        f"  {url} redirects to {other.origin}/landing, {kind}.\n"
        "  Both sessions have the header X-Api-Key: <redacted>, meant for the first host.\n"
    )
    with _clients() as (plain, safe):
        for who, session in (("requests.Session", plain), ("httpkit.Session", safe)):
            session.headers["X-Api-Key"] = _API_KEY
            scene = "redirect-" + who.split(".")[0]
            _show(out, who, "GET /hop", functools.partial(session.get, f"{url}?id={scene}"))
            for host in (server, other):
                for each in host.requests_for(scene):
                    key = each.headers.get("X-Api-Key")
                    got = f"X-Api-Key: {key}" if key is not None else "no X-Api-Key"
                    out.write(f"      {host.origin}{each.path} received {got}\n")
    out.write(
        "  requests drops Authorization on a redirect to another host, but forwards every\n"
        "  other session header, API keys included. httpkit binds credential headers to the\n"
        "  first origin they were sent to; give another host its own with configure().\n"
    )


def _conditional_scene(server: _DemoServer, out: TextIO) -> None:
    with _clients() as (plain, safe):
        safe.configure(server.origin, cache=True)
        for who, session in (("requests.Session", plain), ("httpkit.Session", safe)):
            url = f"{server.origin}/report?id={who}"  # the same URL twice: one cache entry
            for attempt in ("1st", "2nd"):
                before = len(server.requests_for(who))
                result = _call(partial(session.get, url))
                response = result.response
                if response is None:
                    _line(out, who, f"GET {attempt}", result)
                    continue
                seen = server.requests_for(who)
                answered = seen[-1].status if len(seen) > before else "nothing"
                extra = f"server sent {answered}, {len(response.content) // 1024} KiB body"
                if getattr(response, "revalidated", False):
                    extra += " from the cache"
                _line(out, who, f"GET {attempt}", result, extra, attempts=False)
    out.write(
        "  With cache=True httpkit stores the ETag and sends If-None-Match the second time:\n"
        "  the server answers 304 without the body, and the stored body is returned.\n"
    )


SCENES: Final = (
    _Scene("retry", "a server that fails twice, then answers", _retry_scene),
    _Scene("retry-after", "a server that asks to come back later", _retry_after_scene),
    _Scene(
        "retry-after-too-long",
        "a server that asks to come back tomorrow",
        _retry_after_too_long_scene,
    ),
    _Scene("post", "a POST answered 503", _post_scene),
    _Scene("timeout", "a server that takes two seconds", _timeout_scene),
    _Scene("deadline", "a server that trickles one byte every half second", _deadline_scene),
    _Scene("digest", "Digest authentication with SHA-256 and SHA-512-256", _digest_scene),
    _Scene("token-refresh", "a token that expires after one second", _token_scene),
    _Scene("redirect", "a redirect to another host", _redirect_scene),
    _Scene("conditional", "a large document that has not changed", _conditional_scene),
)


def list_scenes(out: TextIO) -> int:
    """Print each scene's name and title; return the process exit code."""
    for scene in SCENES:
        out.write(f"{scene.name:<22} {scene.title}\n")
    return 0


def run_demo(out: TextIO, only: str | None = None) -> int:
    """Play every scene (or the one named ``only``); return the process exit code."""
    scenes = [s for s in SCENES if only is None or s.name == only]
    if not scenes:
        names = ", ".join(s.name for s in SCENES)
        out.write(f"httpkit demo: no scene named {only!r}; scenes: {names}\n")
        return 2
    started = time.monotonic()
    with _running_server() as server:
        out.write(f"httpkit {httpkit.__version__} demo, server on {server.origin}\n")
        for scene in scenes:
            out.write(f"\n== {scene.name}: {scene.title} ==\n")
            scene.play(server, out)
            out.flush()
    out.write(f"\n{len(scenes)} scene(s) in {time.monotonic() - started:.1f} s\n")
    return 0
