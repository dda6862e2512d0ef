"""HTTP Digest authentication, all of RFC 7616 (and the RFC 2069/2617 forms still deployed)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Final, NamedTuple
from urllib.parse import quote

from httpkit._exceptions import AuthError
from httpkit._http import Challenge, has_forbidden_field_char, origin_of, parse_challenges
from httpkit.auth._base import OriginBoundAuth, replayable_or_raise, resend

if TYPE_CHECKING:
    from requests import PreparedRequest, Response

__all__ = ["DigestAuth"]

log = logging.getLogger(__name__)

#: Longest ``WWW-Authenticate``/``Proxy-Authenticate`` value httpkit parses (characters).
MAX_CHALLENGE_LENGTH: Final = 16 * 1024
#: Re-sends one request may cause: a proxy and an origin challenge, each maybe stale once.
MAX_ROUNDS: Final = 4


class _Algorithm(NamedTuple):
    hash_name: str  # hashlib name
    session: bool  # a "-sess" variant: A1 includes the nonce and cnonce
    strength: int  # higher is stronger; picks among several challenges


# RFC 7616 section 6.1, plus the legacy SHA and SHA-512 that requests accepts.
_ALGORITHMS: Final[dict[str, _Algorithm]] = {
    "MD5": _Algorithm("md5", False, 1),
    "MD5-SESS": _Algorithm("md5", True, 1),
    "SHA": _Algorithm("sha1", False, 2),
    "SHA-256": _Algorithm("sha256", False, 3),
    "SHA-256-SESS": _Algorithm("sha256", True, 3),
    "SHA-512": _Algorithm("sha512", False, 4),
    "SHA-512-256": _Algorithm("sha512_256", False, 5),
    "SHA-512-256-SESS": _Algorithm("sha512_256", True, 5),
}

_WWW: Final = "www"
_PROXY: Final = "proxy"
# kind -> (challenge header, credentials header, info header)
_HEADERS: Final[dict[str, tuple[str, str, str]]] = {
    _WWW: ("WWW-Authenticate", "Authorization", "Authentication-Info"),
    _PROXY: ("Proxy-Authenticate", "Proxy-Authorization", "Proxy-Authentication-Info"),
}


class _DigestChallenge(NamedTuple):
    """A validated Digest challenge."""

    realm: str
    nonce: str
    algorithm: str | None  # as the server spelled it; None: not given (MD5)
    spec: _Algorithm
    qop: tuple[str, ...]  # offered qop values, lowercased; () for RFC 2069 servers
    opaque: str | None
    stale: bool
    userhash: bool


class _NonceState:
    """The nonce a thread reuses for one origin, and how often it used it (nonce-count)."""

    __slots__ = ("challenge", "count")

    def __init__(self, challenge: _DigestChallenge) -> None:
        self.challenge = challenge
        self.count = 0


def _new_cnonce() -> str:
    return secrets.token_hex(16)


# -- parsing ---------------------------------------------------------------------------


def _digest_challenge(challenge: Challenge) -> _DigestChallenge:
    """Validate a parsed Digest challenge; raise ``AuthError`` naming what is wrong."""
    params = challenge.params
    if "realm" not in params:
        raise AuthError("the Digest challenge has no realm")
    if not params.get("nonce"):
        raise AuthError("the Digest challenge has no nonce")
    algorithm = params.get("algorithm")
    spec = _ALGORITHMS.get((algorithm or "MD5").upper())
    if spec is None:
        raise AuthError(f"the Digest challenge asks for an unsupported algorithm {algorithm!r}")
    if spec.hash_name not in hashlib.algorithms_available:
        raise AuthError(f"this Python's hashlib lacks {spec.hash_name!r}, needed by {algorithm}")
    # An empty qop (qop="", sent by some RFC 2069 servers) is the same as none.
    qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
    if qop and "auth" not in qop and "auth-int" not in qop:
        raise AuthError(f"the Digest challenge offers no supported qop: {params['qop']!r}")
    for name in ("realm", "nonce", "opaque"):
        if name not in params:
            continue
        if has_forbidden_field_char(params[name]):
            raise AuthError(f"the Digest challenge's {name} contains control characters")
        try:
            _wire(params[name])
        except UnicodeEncodeError:
            raise AuthError(f"the Digest challenge's {name} is not valid text") from None
    charset = params.get("charset")
    if charset is not None and charset.upper() != "UTF-8":
        raise AuthError(f"the Digest challenge asks for charset {charset!r}; only UTF-8 exists")
    return _DigestChallenge(
        realm=params["realm"],
        nonce=params["nonce"],
        algorithm=algorithm,
        spec=spec,
        qop=qop,
        opaque=params.get("opaque"),
        stale=params.get("stale", "").lower() == "true",
        userhash=params.get("userhash", "").lower() == "true",
    )


def select_challenge(value: str) -> _DigestChallenge | None:
    """Return the strongest valid Digest challenge in ``value``, or ``None`` if none is Digest.

    The challenges of other schemes are ignored, whether they are well-formed or not.

    Raises:
        AuthError: The header has a Digest challenge but is too long, or every Digest
            challenge in it is malformed or invalid (the message names the first problem).
    """
    if len(value) > MAX_CHALLENGE_LENGTH:
        if "digest" not in value.lower():
            return None
        raise AuthError(
            f"the challenge header is {len(value)} characters long; httpkit refuses "
            f"challenges over {MAX_CHALLENGE_LENGTH}"
        )
    valid: list[_DigestChallenge] = []
    errors: list[AuthError] = []
    has_digest = False
    for challenge in parse_challenges(value):
        if challenge.scheme == "digest":
            has_digest = True
        elif challenge.scheme:
            continue  # another scheme's challenge: not ours to judge
        try:
            if challenge.error is not None:
                raise AuthError(challenge.error)
            valid.append(_digest_challenge(challenge))
        except AuthError as exc:
            errors.append(exc)
    if valid:
        # max() keeps the first of equals: the server's order breaks ties.
        return max(valid, key=lambda c: c.spec.strength)
    if has_digest and errors:
        raise errors[0]
    return None


# -- computing the response --------------------------------------------------------------


def _wire(text: str) -> bytes:
    """The bytes a header string stands for: http.client carries headers as ISO-8859-1."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DigestAuth(OriginBoundAuth):
    """HTTP Digest authentication (RFC 7616), for servers (401) and proxies (407).

    Supports MD5, MD5-sess, SHA-256, SHA-256-sess, SHA-512-256, SHA-512-256-sess and the
    legacy SHA and SHA-512; qop ``auth`` (preferred) and ``auth-int``, and servers that
    send no qop (RFC 2069); ``opaque``; ``userhash``; UTF-8 user names and passwords.
    Among several challenges the strongest algorithm wins. A nonce is reused with an
    increasing nonce-count, so later requests from the same thread need no extra round
    trip; ``nextnonce`` is honoured, and so is ``stale=true``, once per request from each
    of the server and a proxy. Like requests, it ignores other schemes' challenges (a 401
    with no Digest challenge is returned as it is), accepts unquoted token and base64
    values, and treats ``qop=""`` as no qop. State is kept per thread. Credentials go only
    to the plugin's origin (see :class:`~httpkit.auth.OriginBoundAuth`).

    >>> DigestAuth("Mufasa", "Circle of Life")
    DigestAuth(user='Mufasa', password=<redacted>)

    Args:
        user: The user name, any Unicode; hashed as UTF-8.
        password: The password, any Unicode; hashed as UTF-8.

    Malformed Digest challenges, a body that cannot be re-sent and a challenge that cannot
    be answered raise :class:`~httpkit.AuthError` during the request.
    """

    header_names = frozenset({"authorization", "proxy-authorization"})

    _state_attrs: ClassVar[frozenset[str]] = OriginBoundAuth._state_attrs | {"_local"}

    def __init__(self, user: str, password: str) -> None:
        super().__init__()
        if not isinstance(user, str) or not isinstance(password, str):
            raise TypeError("DigestAuth user and password must be str")
        self.username = user
        self.password = password
        # Tests replace it to reproduce the RFC 7616 examples.
        self._cnonce_factory: Callable[[], str] = _new_cnonce
        self._init_state()

    def _init_state(self) -> None:
        self._local = threading.local()

    def _config(self) -> tuple[Any, ...]:
        return (self.username, self.password)

    def __repr__(self) -> str:
        return f"DigestAuth(user={self.username!r}, password=<redacted>)"

    def _states(self) -> dict[tuple[str, str], _NonceState]:
        states: dict[tuple[str, str], _NonceState] | None = getattr(self._local, "states", None)
        if states is None:
            states = self._local.states = {}
        return states

    # -- header construction -------------------------------------------------------------

    def _hash(self, spec: _Algorithm, data: bytes) -> str:
        return hashlib.new(spec.hash_name, data, usedforsecurity=False).hexdigest()

    def _username_param(self, challenge: _DigestChallenge) -> str:
        user = self.username.encode("utf-8")
        if challenge.userhash:
            hashed = self._hash(challenge.spec, user + b":" + _wire(challenge.realm))
            return f"username={_quote(hashed)}"
        if has_forbidden_field_char(self.username):
            # A quoted-string cannot carry control characters: RFC 7616 section 3.4.
            return "username*=UTF-8''" + quote(self.username, safe="")
        # Non-ASCII names travel as UTF-8 octets (obs-text) in the quoted string, which is
        # what deployed servers read; the str is the ISO-8859-1 image of those octets
        # because http.client encodes header values as ISO-8859-1.
        return f"username={_quote(user.decode('latin-1'))}"

    def build_header(
        self,
        challenge: _DigestChallenge,
        method: str,
        uri: str,
        body: object,
        count: int,
    ) -> str:
        """Compute the credentials for one request (the value of ``Authorization``).

        Args:
            challenge: The Digest challenge being answered.
            method: The request method.
            uri: The request-target, as sent on the request line.
            body: The request body, hashed for qop ``auth-int``.
            count: The nonce-count (1 for the first use of a nonce).

        Returns:
            The header value, ``Digest username=..., ...``.

        Raises:
            AuthError: Only ``auth-int`` is offered and the body is a stream.
        """
        spec = challenge.spec
        cnonce = self._cnonce_factory()
        nonce = _wire(challenge.nonce)
        a1 = b":".join(
            (self.username.encode("utf-8"), _wire(challenge.realm), self.password.encode("utf-8"))
        )
        ha1 = self._hash(spec, a1)
        if spec.session:
            # Without qop there is no cnonce on the wire in RFC 2069, but -sess cannot be
            # computed without one: httpkit sends it then too (as RFC 2617 clients do).
            ha1 = self._hash(spec, b":".join((ha1.encode(), nonce, cnonce.encode())))
        qop = None
        if challenge.qop:
            qop = "auth" if "auth" in challenge.qop else "auth-int"
        a2 = f"{method}:{uri}".encode()
        if qop == "auth-int":
            a2 += b":" + self._hash(spec, _body_bytes(body)).encode()
        ha2 = self._hash(spec, a2)
        nc = f"{count:08x}"
        if qop is None:
            digest_input = b":".join((ha1.encode(), nonce, ha2.encode()))
        else:
            digest_input = b":".join(
                (ha1.encode(), nonce, nc.encode(), cnonce.encode(), qop.encode(), ha2.encode())
            )
        response = self._hash(spec, digest_input)
        parts = [
            self._username_param(challenge),
            f"realm={_quote(challenge.realm)}",
            f"nonce={_quote(challenge.nonce)}",
            f"uri={_quote(uri)}",
        ]
        if challenge.algorithm is not None:
            parts.append(f"algorithm={challenge.algorithm}")
        parts.append(f"response={_quote(response)}")
        if challenge.opaque is not None:
            parts.append(f"opaque={_quote(challenge.opaque)}")
        if qop is not None:
            parts += [f"qop={qop}", f"nc={nc}", f"cnonce={_quote(cnonce)}"]
        elif spec.session:
            parts.append(f"cnonce={_quote(cnonce)}")
        if challenge.userhash:
            parts.append("userhash=true")
        return "Digest " + ", ".join(parts)

    def _answer(self, state: _NonceState, r: PreparedRequest, kind: str) -> str:
        state.count += 1
        uri = r.path_url
        if kind == _PROXY and r.url and r.url.lower().startswith("http:"):
            uri = r.url  # a proxy sees the absolute form on the request line
        return self.build_header(state.challenge, r.method or "GET", uri, r.body, state.count)

    # -- requests hooks ------------------------------------------------------------------

    def __call__(self, r: PreparedRequest) -> PreparedRequest:
        """Add credentials from this thread's nonce, if any, and the challenge hook."""
        if not self.permits(r.url):
            return r
        assert r.url is not None
        origin = str(origin_of(r.url))
        states = self._states()
        for kind, (_, out_header, _) in _HEADERS.items():
            state = states.get((kind, origin))
            if state is None:
                continue
            # AuthError here means auth-int and a streamed body: let the server challenge.
            with contextlib.suppress(AuthError):
                r.headers[out_header] = self._answer(state, r, kind)
        r.register_hook("response", _DigestHook(self))
        return r

    def _handle(self, r: Response, **kwargs: Any) -> Response:
        answered: set[str] = set()  # kinds answered with a fresh (not stale) challenge
        answered_stale: set[str] = set()  # kinds whose stale=true challenge was answered
        for round_ in range(MAX_ROUNDS + 1):
            kind = _PROXY if r.status_code == 407 else _WWW if r.status_code == 401 else None
            if kind is None or not self.permits(r.url):
                self._note_info(r)
                return r
            challenge_header, out_header, _ = _HEADERS[kind]
            value = r.headers.get(challenge_header)
            if not value:
                return r
            try:
                challenge = select_challenge(value)
            except AuthError as exc:
                raise AuthError(
                    f"{exc} (from {challenge_header} of {origin_of(r.url)})",
                    request=r.request,
                    response=r,
                ) from None
            if challenge is None:
                return r  # not a Digest challenge: not ours to answer
            key = (kind, str(origin_of(r.url)))
            states = self._states()
            if challenge.stale and kind in answered_stale:
                # A server that calls every nonce stale would be answered for ever.
                states.pop(key, None)
                log.debug("Digest nonce stale again at %s; not answering again", key[1])
                return r
            if round_ == MAX_ROUNDS or (kind in answered and not challenge.stale):
                # Our fresh answer was rejected: wrong credentials. Do not keep sending them.
                states.pop(key, None)
                log.debug("Digest credentials rejected by %s", key[1])
                return r
            (answered_stale if challenge.stale else answered).add(kind)
            state = states[key] = _NonceState(challenge)
            replayable_or_raise(r.request, "to answer a Digest challenge", r)
            request = r.request.copy()
            try:
                request.headers[out_header] = self._answer(state, request, kind)
            except AuthError as exc:
                raise AuthError(str(exc), request=request, response=r) from None
            earlier = r.history
            r = resend(r, request, **kwargs)
            r.history[:0] = earlier  # every challenge of the exchange, in order
        return r  # pragma: no cover - the loop returns on its last round

    def _note_info(self, r: Response) -> None:
        """Switch to the ``nextnonce`` of an ``Authentication-Info`` header, if any."""
        if not r.url:
            return
        for kind, (_, _, info_header) in _HEADERS.items():
            value = r.headers.get(info_header)
            if not value:
                continue
            info = parse_challenges("Info " + value)[0]
            if info.error is not None:
                log.debug("ignoring a malformed %s header", info_header)
                continue
            nextnonce = info.params.get("nextnonce")
            state = self._states().get((kind, str(origin_of(r.url))))
            if nextnonce and state is not None and not has_forbidden_field_char(nextnonce):
                state.challenge = state.challenge._replace(nonce=nextnonce)
                state.count = 0


def _body_bytes(body: object) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")  # what urllib3 sends for a str body
    raise AuthError(
        "the server only offers qop=auth-int, which hashes the body, and this body is a "
        "stream; pass the body as bytes"
    )


class _DigestHook:
    """The response hook of one request. A class, so prepared requests stay picklable."""

    def __init__(self, auth: DigestAuth) -> None:
        self.auth = auth

    def __call__(self, r: Response, **kwargs: Any) -> Response:
        return self.auth._handle(r, **kwargs)
