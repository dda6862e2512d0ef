"""A server-side RFC 7616 Digest implementation for tests, written apart from the client.

It shares no code with ``httpkit.auth``: it issues challenges, checks credentials (nonce,
nonce-count replay, uri, response, userhash, ``username*``), and can act as an HTTP proxy
that demands ``Proxy-Authorization`` (407) for absolute-form requests.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote_to_bytes

HASHES = {
    "MD5": "md5",
    "SHA": "sha1",
    "SHA-256": "sha256",
    "SHA-512": "sha512",
    "SHA-512-256": "sha512_256",
}
ALGORITHMS = ["MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess"]
LEGACY_ALGORITHMS = ["SHA", "SHA-512"]

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+\*?)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')


def h(algorithm: str, data: bytes) -> str:
    """Hex digest of ``data`` with the hash behind an RFC 7616 algorithm name."""
    name = HASHES[algorithm.upper().removesuffix("-SESS")]
    return hashlib.new(name, data).hexdigest()


def parse_credentials(value: bytes) -> dict[str, bytes]:
    """Parse ``Digest k=v, ...`` (raw header bytes) into a dict of raw values."""
    text = value.decode("latin-1")
    scheme, _, rest = text.partition(" ")
    if scheme.lower() != "digest":
        return {}
    params: dict[str, bytes] = {}
    pos = 0
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if not m:
            return {}
        raw = m.group(2)
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[m.group(1).lower()] = raw.encode("latin-1")
        pos = m.end()
    return params


@dataclass
class DigestConfig:
    """How the test server challenges."""

    users: dict[str, str]
    algorithm: str = "MD5"
    # "auth", "auth-int", "auth, auth-int"; None (RFC 2069) or "" (RFC 2069, sent as qop="")
    qop: str | None = "auth"
    realm: str = "tests@127.0.0.1"
    opaque: str | None = "0pAqUe"
    userhash: bool = False
    charset: bool = True
    send_algorithm: bool = True
    nonce_uses: int | None = None  # after this many uses a nonce answers stale=true
    nextnonce: bool = False  # send Authentication-Info: nextnonce on success
    set_cookie: str | None = None  # a cookie the 401 sets and authentication requires
    proxy: bool = False  # 407/Proxy-Authenticate/Proxy-Authorization, absolute-form uri
    extra_challenges: list[str] = field(default_factory=list)  # sent before ours
    send_digest: bool = True  # False: the 401 carries only extra_challenges
    unquoted: bool = False  # nonce (padded base64), opaque and a single qop as bare tokens
    always_stale: bool = False  # every answer gets stale=true and a new nonce


class DigestServer:
    """A threaded HTTP server on 127.0.0.1 that requires Digest credentials."""

    def __init__(self, config: DigestConfig) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.nonces: dict[str, set[int]] = {}  # nonce -> nonce-counts seen
        self.uses: dict[str, int] = {}
        self.retired: set[str] = set()
        self.challenges = 0
        self.successes = 0
        self.failures: list[str] = []
        self.credentials: list[dict[str, bytes]] = []
        self.cookies: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.handle(self)

            do_POST = do_PUT = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- protocol -----------------------------------------------------------------------

    def new_nonce(self) -> str:
        if self.config.unquoted:
            nonce = base64.b64encode(secrets.token_bytes(16)).decode()  # ends in "=="
        else:
            nonce = secrets.token_urlsafe(24)
        with self.lock:
            self.nonces[nonce] = set()
            self.uses[nonce] = 0
        return nonce

    def challenge(self, stale: bool = False) -> str:
        c = self.config

        def value(text: str) -> str:
            bare = c.unquoted and re.fullmatch(r"[A-Za-z0-9+/=-]+", text)
            return text if bare else f'"{text}"'

        parts = [f'realm="{c.realm}"', f"nonce={value(self.new_nonce())}"]
        if c.qop is not None:
            parts.append(f"qop={value(c.qop)}")
        if c.send_algorithm:
            parts.append(f"algorithm={c.algorithm}")
        if c.opaque:
            parts.append(f"opaque={value(c.opaque)}")
        if c.charset:
            parts.append("charset=UTF-8")
        if c.userhash:
            parts.append("userhash=true")
        if stale:
            parts.append("stale=true")
        return "Digest " + ", ".join(parts)

    def find_user(self, p: dict[str, bytes]) -> str | None:
        c = self.config
        realm = c.realm.encode()
        if p.get("userhash", b"").lower() == b"true":
            for user in c.users:
                if h(c.algorithm, user.encode() + b":" + realm).encode() == p.get("username"):
                    return user
            return None
        if "username*" in p:
            charset, _, rest = p["username*"].decode("latin-1").partition("'")
            _, _, encoded = rest.partition("'")
            if charset.upper() != "UTF-8":
                return None
            return unquote_to_bytes(encoded).decode("utf-8")
        raw = p.get("username")
        return None if raw is None else raw.decode("utf-8")

    def verify(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[bool, bool, str]:
        """Return (ok, stale, reason)."""
        c = self.config
        header = "Proxy-Authorization" if c.proxy else "Authorization"
        raw = handler.headers.get(header)
        if raw is None:
            return False, False, "no credentials"
        p = parse_credentials(raw.encode("latin-1"))
        self.credentials.append(p)
        user = self.find_user(p)
        if user is None or user not in c.users:
            return False, False, "unknown user"
        if p.get("realm") != c.realm.encode():
            return False, False, "wrong realm"
        if p.get("uri", b"").decode("latin-1") != handler.path:
            return False, False, f"uri {p.get('uri')!r} != {handler.path!r}"
        if c.opaque and p.get("opaque") != c.opaque.encode():
            return False, False, "opaque not echoed"
        if c.send_algorithm and p.get("algorithm", b"").decode().upper() != c.algorithm.upper():
            return False, False, "algorithm not echoed"
        nonce = p.get("nonce", b"").decode("latin-1")
        with self.lock:
            if nonce not in self.nonces:
                return False, False, "unknown nonce"
            if nonce in self.retired:
                return False, True, "retired nonce"
            if c.always_stale:
                return False, True, "always stale"
            self.uses[nonce] += 1
            if c.nonce_uses is not None and self.uses[nonce] > c.nonce_uses:
                return False, True, "nonce used up"
        algorithm = c.algorithm
        cnonce = p.get("cnonce", b"")
        ha1 = h(algorithm, user.encode() + b":" + c.realm.encode() + b":" + c.users[user].encode())
        if algorithm.upper().endswith("-SESS"):
            if not cnonce:
                return False, False, "-sess without cnonce"
            ha1 = h(algorithm, ha1.encode() + b":" + nonce.encode() + b":" + cnonce)
        qop = p.get("qop")
        a2 = handler.command.encode() + b":" + p["uri"]
        if qop == b"auth-int":
            a2 += b":" + h(algorithm, body).encode()
        ha2 = h(algorithm, a2)
        if not c.qop:
            if qop is not None:
                return False, False, "qop sent to an RFC 2069 server"
            expected = h(algorithm, ha1.encode() + b":" + nonce.encode() + b":" + ha2.encode())
        else:
            offered = [q.strip().encode() for q in c.qop.split(",")]
            if qop not in offered:
                return False, False, f"qop {qop!r} not offered"
            nc = p.get("nc", b"")
            if not re.fullmatch(rb"[0-9a-f]{8}", nc):
                return False, False, "bad nc"
            with self.lock:
                if int(nc, 16) in self.nonces[nonce]:
                    return False, False, "replayed nc"
                self.nonces[nonce].add(int(nc, 16))
            expected = h(
                algorithm,
                b":".join([ha1.encode(), nonce.encode(), nc, cnonce, qop, ha2.encode()]),
            )
        if p.get("response") != expected.encode():
            return False, False, "wrong response"
        if c.set_cookie and handler.headers.get("Cookie") != c.set_cookie:
            return False, False, "cookie from the 401 missing"
        if c.nextnonce:
            with self.lock:
                self.retired.add(nonce)
        return True, False, "ok"

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        self.cookies.append(handler.headers.get("Cookie"))
        ok, stale, reason = self.verify(handler, body)
        headers: list[tuple[str, str]] = []
        if ok:
            with self.lock:
                self.successes += 1
            status = 200
            if self.config.nextnonce:
                info = "Proxy-Authentication-Info" if self.config.proxy else "Authentication-Info"
                headers.append((info, f'nextnonce="{self.new_nonce()}"'))
            payload = b"ok"
        else:
            with self.lock:
                self.challenges += 1
                if reason != "no credentials":
                    self.failures.append(reason)
            status = 407 if self.config.proxy else 401
            name = "Proxy-Authenticate" if self.config.proxy else "WWW-Authenticate"
            headers.extend((name, extra) for extra in self.config.extra_challenges)
            if self.config.send_digest:
                headers.append((name, self.challenge(stale=stale)))
            if self.config.set_cookie:
                headers.append(("Set-Cookie", self.config.set_cookie + "; Path=/"))
            payload = reason.encode()
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)


@contextlib.contextmanager
def digest_server(config: DigestConfig) -> Iterator[DigestServer]:
    """Run a :class:`DigestServer` for the duration of the ``with`` block."""
    server = DigestServer(config)
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(5)
