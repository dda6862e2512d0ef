"""The cache step: :class:`CacheMiddleware` answers from a store, revalidates and stores."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.models import REDIRECT_STATI
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from httpkit import _clock
from httpkit._bodies import RawProxy
from httpkit._http import parse_cache_control, parse_delta_seconds
from httpkit._redact import SECRET_PARAMETER, SENSITIVE_HEADERS, is_secret_header
from httpkit._retry import RetryHistory
from httpkit.cache._rules import (
    CACHEABLE_METHODS,
    CACHEABLE_STATUSES,
    UNSAFE_METHODS,
    freshness_lifetime,
    initial_age,
)
from httpkit.cache._stores import CacheStore, Entry, Lease

if TYPE_CHECKING:
    from requests import PreparedRequest, Response

    from httpkit._middleware import Send

#: The most a request waits for another process to fetch the key it needs, in seconds.
WAIT: Final = 5.0
#: What a wait leaves of the call's deadline, for the exchange that may follow.
_DEADLINE_MARGIN: Final = 0.1
_FIRST_POLL: Final = 0.02
#: Statuses after which a stale entry may be served if ``stale-if-error`` allows it.
_SERVER_ERRORS: Final = frozenset({500, 502, 503, 504})

#: Response headers a 304 must not overwrite in the stored response.
_KEEP_ON_304: Final = frozenset({"content-length", "content-encoding", "transfer-encoding"})
#: Response headers never stored: they belong to one exchange, or to one user.
_NOT_STORED: Final = frozenset(
    {"set-cookie", "set-cookie2", "connection", "keep-alive", "transfer-encoding"}
)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def credential_values(
    request: PreparedRequest, sensitive: frozenset[str] = SENSITIVE_HEADERS
) -> list[str]:
    """The credentials ``request`` carries, as ``name=value`` strings (empty: none).

    Headers in the sensitive set or named like a secret (``X-My-Token``), query
    parameters named like a secret, and a password in the URL all count.
    """
    found = [
        f"{name.lower()}={value!r}"
        for name, value in request.headers.items()
        if is_secret_header(name, sensitive)
    ]
    url = request.url or ""
    if "?" in url or "@" in url:
        try:
            parts = urlsplit(url)
            found += [f"?{k}={v}" for k, v in parse_qsl(parts.query) if SECRET_PARAMETER.search(k)]
            if parts.password:
                found.append(f"@{parts.password}")
        except ValueError:
            found.append(url)
    return found


class _StoredBody(io.BytesIO):
    """``response.raw`` of a response served from the cache."""

    def read(self, amt: int | None = None, decode_content: bool | None = None, **_: Any) -> bytes:
        return super().read(amt)

    def stream(
        self, amt: int | None = 65536, decode_content: bool | None = None
    ) -> Iterator[bytes]:
        while True:
            chunk = self.read(amt or 65536)
            if not chunk:
                return
            yield chunk

    def release_conn(self) -> None:
        pass


class _TeeBody(RawProxy):
    """Stands in for ``response.raw`` and stores the decoded body once it was read to the end."""

    def __init__(self, raw: Any, limit: int, done: Any) -> None:
        super().__init__(raw)
        self._limit = limit
        self._done = done
        self._chunks: list[bytes] | None = []
        self._size = 0

    def _keep(self, chunk: bytes) -> None:
        if self._chunks is None:
            return
        self._size += len(chunk)
        if self._size > self._limit:
            self._chunks = None
        else:
            self._chunks.append(chunk)

    def _finish(self) -> None:
        if self._chunks is not None:
            body, self._chunks = b"".join(self._chunks), None
            self._done(body)

    def stream(
        self, amt: int | None = 65536, decode_content: bool | None = None
    ) -> Iterator[bytes]:
        decode = self._decoding(decode_content)
        if not decode:
            self._chunks = None  # undecoded bytes are not what the cache serves
        for chunk in self._raw.stream(amt, decode_content=decode):
            self._keep(chunk)
            yield chunk
        self._finish()

    def read(self, amt: int | None = None, decode_content: bool | None = None, **kw: Any) -> bytes:
        """Read as the response does; decoded reads to the end store the body too.

        ``r.raw.decode_content = True`` then ``shutil.copyfileobj(r.raw, f)`` (requests'
        download idiom) reads this way.
        """
        decode = self._decoding(decode_content)
        if not decode:
            self._chunks = None
        data: bytes = self._raw.read(amt, decode_content=decode, **kw)
        self._keep(data)
        if amt is None or (amt and not data):
            self._finish()
        return data


class CacheMiddleware:
    """The built-in caching middleware of a host policy with ``cache`` set.

    Responses that pass through it get ``from_cache`` (``True`` when the body came from
    the store) and ``revalidated`` (``True`` when a ``304`` confirmed a stored response).
    """

    __slots__ = ("remaining", "sensitive", "store")

    def __init__(
        self,
        store: CacheStore,
        sensitive: frozenset[str] = SENSITIVE_HEADERS,
        remaining: Callable[[], float | None] = lambda: None,
    ) -> None:
        self.store = store
        self.sensitive = sensitive  # the session's credential headers, on top of the usual
        self.remaining = remaining  # seconds left of the current call's deadline, if any

    def __repr__(self) -> str:
        return f"CacheMiddleware({self.store!r})"

    def __call__(self, request: PreparedRequest, send: Send) -> Response:
        method = request.method or "GET"
        if method not in CACHEABLE_METHODS:
            response = send(request)
            if method in UNSAFE_METHODS and response.status_code < 400:
                # What is stored for the URL goes, with or without the writer's credentials.
                credentials = credential_values(request, self.sensitive)
                for stored in ("GET", "HEAD"):
                    self.store.delete(_key(stored, request.url or "", []))
                    if credentials:
                        self.store.delete(_key(stored, request.url or "", credentials))
            return _mark(response, False, False)
        headers = request.headers
        asked = parse_cache_control(_text(headers.get("Cache-Control")))
        if "no-store" in asked or _caller_manages(headers):
            # The caller manages this exchange itself (its own validators, a range).
            return _mark(send(request), False, False)
        credentials = credential_values(request, self.sensitive)
        key = _key(method, request.url or "", credentials)
        entry = self._entry(key, headers)
        now = _clock.wall()
        if entry is not None and _usable_without_request(entry, asked, headers, now):
            return _mark(_build(entry, request, now), True, False)
        release: Callable[[bool], None] = _nothing
        lease = getattr(self.store, "lease", None)  # a StoreCache's: one fetch per key
        if lease is not None:
            taken = lease(key)
            if taken is None:  # another process fetches this key: its answer may do
                answer, taken = self._while_another_fetches(key, entry, asked, request, lease)
                if answer is not None:
                    return answer
            if taken is not None:
                release = taken
                if taken.held:  # the one who held it before may have stored the key since
                    found = self._entry(key, headers)
                    now = _clock.wall()
                    if found is not None and _usable_without_request(found, asked, headers, now):
                        taken(True)
                        return _mark(_build(found, request, now), True, False)
                    entry = found if found is not None else entry
        try:
            return self._exchange(key, entry, request, send, credentials, release)
        except BaseException:
            release(False)
            raise

    def _exchange(
        self,
        key: str,
        entry: Entry | None,
        request: PreparedRequest,
        send: Send,
        credentials: list[str],
        release: Callable[[bool], None],
    ) -> Response:
        """Fetch or revalidate ``key``; ``release(stored)`` once its answer is stored, or not."""
        outgoing = request
        stale = entry
        if entry is not None:
            conditions = _conditions(entry)
            if conditions:
                outgoing = request.copy()
                outgoing.headers.update(conditions)
            else:
                entry = None
        request_time = _clock.wall()
        try:
            response = send(outgoing)
        except requests.RequestException:
            if stale is not None and _may_serve_stale(stale, "stale-if-error", _clock.wall()):
                release(True)
                return _mark(_build(stale, request, _clock.wall()), True, False)
            raise
        if (
            stale is not None
            and response.status_code in _SERVER_ERRORS
            and _may_serve_stale(stale, "stale-if-error", _clock.wall())
        ):
            response.close()
            release(True)
            return _mark(_build(stale, request, _clock.wall()), True, False)
        if entry is not None and response.status_code == 304:
            updated = _refreshed(entry, response, request_time)
            response.close()
            self.store.set(key, updated)
            release(True)
            return _mark(_build(updated, request, _clock.wall()), True, True)
        self._store_later(key, request, response, credentials, request_time, release)
        return _mark(response, False, False)

    def _while_another_fetches(
        self,
        key: str,
        stale: Entry | None,
        asked: Mapping[str, str | None],
        request: PreparedRequest,
        lease: Callable[[str], Lease | None],
    ) -> tuple[Response | None, Lease | None]:
        """Serve a stale entry that ``stale-while-revalidate`` allows, or wait (within
        :data:`WAIT` and the call's deadline) for the answer the other process stores.
        Without an answer: the lease, if it came free (else fetch without one)."""
        headers = request.headers
        if stale is not None and _may_serve_stale(stale, "stale-while-revalidate", _clock.wall()):
            return _mark(_build(stale, request, _clock.wall()), True, False), None
        remaining = self.remaining()
        bound = WAIT if remaining is None else min(WAIT, remaining - _DEADLINE_MARGIN)
        give_up = _clock.monotonic() + bound
        pause = _FIRST_POLL
        while _clock.monotonic() + pause < give_up:
            _clock.sleep(pause)
            pause = min(pause * 2, 0.2)
            found = self._entry(key, headers)
            now = _clock.wall()
            if found is not None and _usable_without_request(found, asked, headers, now):
                return _mark(_build(found, request, now), True, False), None
            taken = lease(key)  # the other let go without an answer to wait for
            if taken is not None:
                return None, taken
        if stale is not None and _may_serve_stale(stale, "stale-if-error", _clock.wall()):
            return _mark(_build(stale, request, _clock.wall()), True, False), None
        return None, None

    def fresh_answer(self, request: PreparedRequest) -> Response | None:
        """The stored response that answers ``request`` with no exchange at all, or ``None``.

        For a GET or HEAD that carries no credential, is fresh and is no redirect: what
        ``__call__`` would answer without calling ``send``. ``Session.request`` asks
        before it prepares a request; anything else (a miss, a stale entry, a request
        with credentials) goes the whole way, through ``__call__``.
        """
        method = request.method
        headers = request.headers
        if method not in CACHEABLE_METHODS or _caller_manages(headers):
            return None
        if credential_values(request, self.sensitive):
            return None  # keyed by its credentials: __call__ decides
        asked = parse_cache_control(_text(headers.get("Cache-Control")))
        entry = self._entry(_key(method, request.url or "", []), headers)
        now = _clock.wall()
        if (
            entry is None
            or "no-store" in asked
            or entry.status in REDIRECT_STATI  # requests would follow it: __call__ does
            or not _usable_without_request(entry, asked, headers, now)
        ):
            return None
        return _mark(_build(entry, request, now), True, False)

    def _entry(self, key: str, headers: Mapping[str, Any]) -> Entry | None:
        """The entry stored under ``key``, if the request's ``Vary`` headers match it."""
        entry = self.store.get(key)
        if entry is not None and entry.vary_digest != _vary_digest(entry.vary, headers):
            return None
        return entry

    def _store_later(
        self,
        key: str,
        request: PreparedRequest,
        response: Response,
        credentials: list[str],
        request_time: float,
        release: Callable[[bool], None] = lambda stored: None,
    ) -> None:
        """Store ``response`` when its body has been read, if it may be stored; then
        ``release`` the key for other processes (a body never read to its end lets the
        lease run out instead)."""
        entry = _storable(request, response, credentials, self.store.credentials, request_time)
        if entry is None:
            if response.status_code in CACHEABLE_STATUSES or response.status_code == 304:
                self.store.delete(key)
            release(False)
            return
        if response._content is not False:  # already read (buffered by HostAdapter)
            self.store.set(key, replace(entry, body=response.content or b""))
            release(True)
            return
        if response.raw is None:
            release(False)
            return
        store = self.store

        def done(body: bytes) -> None:
            store.set(key, replace(entry, body=body))
            release(True)

        response.raw = _TeeBody(response.raw, store.max_entry_bytes, done)


def _nothing(stored: bool) -> None:
    pass


def _may_serve_stale(entry: Entry, directive: str, now: float) -> bool:
    """Whether the stored response's ``directive`` (``stale-while-revalidate`` or
    ``stale-if-error``, RFC 5861) still allows serving it stale at ``now``."""
    directives = parse_cache_control(entry.header("Cache-Control"))
    if entry.revalidate or "must-revalidate" in directives or "proxy-revalidate" in directives:
        return False
    window = parse_delta_seconds(directives.get(directive)) if directive in directives else None
    return window is not None and entry.age(now) < entry.lifetime + window


def _key(method: str, url: str, credentials: list[str]) -> str:
    """The store key: a request with credentials gets its own, so no hit crosses users."""
    return _digest(method, url, *credentials) if credentials else _digest(method, url)


def _text(value: str | bytes | None) -> str | None:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _mark(response: Response, from_cache: bool, revalidated: bool) -> Response:
    response.from_cache = from_cache  # type: ignore[attr-defined]  # httpkit's addition
    response.revalidated = revalidated  # type: ignore[attr-defined]  # httpkit's addition
    return response


_OWN_EXCHANGE: Final = frozenset(
    {"if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range", "range"}
)


def _caller_manages(headers: Mapping[str, Any]) -> bool:
    """The caller sent its own validators or a range: the exchange is theirs."""
    return any(name.lower() in _OWN_EXCHANGE for name in headers)


def _vary_digest(names: Iterable[str], headers: Mapping[str, Any]) -> str:
    names = tuple(names)
    if not names:
        return ""
    return _digest(*(f"{n}:{headers.get(n, '')!s}" for n in names))


def _usable_without_request(
    entry: Entry, asked: Mapping[str, str | None], headers: Mapping[str, Any], now: float
) -> bool:
    if "no-cache" in asked or "no-cache" in str(headers.get("Pragma", "")).lower():
        return False
    if "max-age" in asked:
        limit = parse_delta_seconds(asked["max-age"])
        if limit is not None and entry.age(now) > limit:
            return False
    return entry.is_fresh(now)


def _conditions(entry: Entry) -> dict[str, str]:
    conditions = {}
    etag = entry.header("ETag")
    if etag:
        conditions["If-None-Match"] = etag
    modified = entry.header("Last-Modified")
    if modified:
        conditions["If-Modified-Since"] = modified
    return conditions


def _stored_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in headers if k.lower() not in _NOT_STORED)


def _storable(
    request: PreparedRequest,
    response: Response,
    credentials: list[str],
    store_credentials: bool,
    request_time: float,
) -> Entry | None:
    """The entry to store for ``response`` (body left empty), or ``None`` if it may not be."""
    if response.status_code not in CACHEABLE_STATUSES:
        return None
    headers = response.headers
    directives = parse_cache_control(headers.get("Cache-Control"))
    if "no-store" in directives or "no-store" in parse_cache_control(
        _text(request.headers.get("Cache-Control"))
    ):
        return None
    if credentials and not store_credentials and "public" not in directives:
        return None
    vary = tuple(v.strip().lower() for v in headers.get("Vary", "").split(",") if v.strip())
    if "*" in vary:
        return None
    lifetime = freshness_lifetime(headers, directives)
    validator = "ETag" in headers or "Last-Modified" in headers
    if lifetime <= 0 and not validator:
        return None
    now = _clock.wall()
    content_encoding = "Content-Encoding" in headers
    stored = [
        (k, v)
        for k, v in headers.items()
        if not content_encoding
        or k.lower()
        not in (
            "content-encoding",
            "content-length",
        )
    ]
    return Entry(
        status=response.status_code,
        reason=response.reason or "",
        headers=_stored_headers(stored),
        body=b"",
        response_time=now,
        initial_age=initial_age(headers, request_time, now),
        lifetime=lifetime,
        revalidate="no-cache" in directives,
        vary=vary,
        vary_digest=_vary_digest(vary, request.headers),
    )


def _refreshed(entry: Entry, response: Response, request_time: float) -> Entry:
    """``entry`` with the headers of a ``304`` that confirmed it (RFC 9111 §4.3.4)."""
    merged: CaseInsensitiveDict[str] = CaseInsensitiveDict(entry.headers)
    for name, value in response.headers.items():
        if name.lower() not in _KEEP_ON_304 and name.lower() not in _NOT_STORED:
            merged[name] = value
    directives = parse_cache_control(merged.get("Cache-Control"))
    now = _clock.wall()
    return replace(
        entry,
        headers=tuple(merged.items()),
        response_time=now,
        initial_age=initial_age(response.headers, request_time, now),
        lifetime=freshness_lifetime(merged, directives),
        revalidate="no-cache" in directives,
    )


def _build(entry: Entry, request: PreparedRequest, now: float) -> Response:
    """A ``requests.Response`` for a stored entry, its ``Age`` brought up to date."""
    response = requests.Response()
    response.status_code = entry.status
    response.reason = entry.reason
    headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(entry.headers)
    headers["Age"] = str(int(entry.age(now)))
    response.headers = headers
    body = b"" if request.method == "HEAD" else entry.body
    response._content = body
    response._content_consumed = True
    response.raw = _StoredBody(body)
    response.url = request.url or ""
    response.request = request
    response.encoding = get_encoding_from_headers(headers)
    response.retries = RetryHistory(attempts=0)  # type: ignore[attr-defined]  # no request sent
    return response
