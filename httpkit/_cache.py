"""HTTP caching (RFC 9111, a private client cache) as a built-in middleware.

The cache runs inside the user's middlewares and outside the rate limiter and the network
(``HostAdapter._derive``): logging middlewares see cache hits, and hits take no rate-limit
tokens. It stores responses to GET and HEAD that say how long they stay fresh
(``Cache-Control: max-age``, ``Expires``) or that carry a validator (``ETag``,
``Last-Modified``); it answers fresh ones without a request, revalidates stale ones with
``If-None-Match``/``If-Modified-Since`` and turns a ``304`` into the stored response.

Credentials: a response to a request that carried any (``Authorization``, ``Cookie``,
API-key headers, any header or query parameter named like a secret, user info in the URL)
is stored only if it says ``public``, or if the store was built with ``credentials=True``;
such entries are then keyed by a hash of the credential values as well, so one user's
response is never served to another. Keys are SHA-256 digests: neither the URL's query
nor any header value is kept in clear. ``Set-Cookie`` is never stored.

Backends: :class:`MemoryCache` (an LRU bounded by entries and bytes) and
:class:`SQLiteCache` (a file several processes can share).

The choice to write this rather than build on CacheControl or requests-cache is explained
in ``docs/caching.md``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from httpkit._bodies import RawProxy
from httpkit._exceptions import ConfigError
from httpkit._http import parse_delta_seconds, parse_http_date
from httpkit._redact import SECRET_PARAMETER, SENSITIVE_HEADERS, is_secret_header
from httpkit._retry import RetryHistory

if TYPE_CHECKING:
    from requests import PreparedRequest, Response

    from httpkit._middleware import Send

#: Methods whose responses are stored.
CACHEABLE_METHODS: Final = frozenset({"GET", "HEAD"})
#: Statuses stored when the response gives a freshness lifetime or a validator
#: (RFC 9110 §15.1's heuristically cacheable statuses, 206 excluded: no ranges here).
CACHEABLE_STATUSES: Final = frozenset({200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501})
#: Methods whose success invalidates what is stored for the URL (RFC 9111 §4.4).
UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Response headers a 304 must not overwrite in the stored response.
_KEEP_ON_304: Final = frozenset({"content-length", "content-encoding", "transfer-encoding"})
#: Response headers never stored: they belong to one exchange, or to one user.
_NOT_STORED: Final = frozenset(
    {"set-cookie", "set-cookie2", "connection", "keep-alive", "transfer-encoding"}
)
_TOKEN: Final = re.compile(r'\s*([^=,\s]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^,]*))?\s*(?:,|$)')


# -- header parsing ----------------------------------------------------------------------


def parse_cache_control(value: str | None) -> dict[str, str | None]:
    """Directives of a ``Cache-Control`` value, names lowercased, quotes removed.

    >>> parse_cache_control('max-age=60, No-Cache, private="Set-Cookie"')
    {'max-age': '60', 'no-cache': None, 'private': 'Set-Cookie'}
    """
    directives: dict[str, str | None] = {}
    if not value:
        return directives
    for match in _TOKEN.finditer(value):
        name, argument = match.group(1), match.group(2)
        if not name:
            continue
        if argument is not None:
            argument = argument.strip()
            if argument.startswith('"') and argument.endswith('"') and len(argument) >= 2:
                argument = argument[1:-1]
        directives.setdefault(name.lower(), argument)
    return directives


def freshness_lifetime(headers: Mapping[str, str], directives: Mapping[str, str | None]) -> float:
    """How long a response stays fresh, in seconds (RFC 9111 §4.2.1); 0 if it says nothing.

    ``s-maxage`` is for shared caches and ignored; an invalid ``Expires`` means stale.

    >>> freshness_lifetime({}, {"max-age": "60"})
    60.0
    >>> freshness_lifetime(
    ...     {"Date": "Sun, 06 Nov 1994 08:49:37 GMT", "Expires": "Sun, 06 Nov 1994 08:50:37 GMT"},
    ...     {},
    ... )
    60.0
    """
    if "max-age" in directives:
        seconds = parse_delta_seconds(directives["max-age"])
        return float(seconds) if seconds is not None else 0.0
    expires = headers.get("Expires")
    if expires is None:
        return 0.0
    expires_at = parse_http_date(expires)
    if expires_at is None:
        return 0.0
    date = parse_http_date(headers.get("Date"))
    return max(0.0, expires_at - (date if date is not None else time.time()))


def initial_age(headers: Mapping[str, str], request_time: float, response_time: float) -> float:
    """The age of a response when it arrived (RFC 9111 §4.2.3 ``corrected_initial_age``).

    Times are seconds since the epoch: when the request was sent and the response came.

    >>> initial_age({"Age": "30"}, 1000.0, 1002.0)
    32.0
    >>> initial_age({"Date": "Thu, 01 Jan 1970 00:15:00 GMT"}, 1000.0, 1000.0)
    100.0
    """
    date = parse_http_date(headers.get("Date"))
    apparent = max(0.0, response_time - date) if date is not None else 0.0
    age = parse_delta_seconds(headers.get("Age")) or 0
    return max(apparent, age + (response_time - request_time))


# -- entries and stores ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored response, with what is needed to judge and revalidate it."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    response_time: float  # seconds since the epoch, when it was received or revalidated
    initial_age: float  # its age then
    lifetime: float  # freshness lifetime in seconds
    revalidate: bool  # no-cache: never served without revalidation
    vary: tuple[str, ...]  # lowercased request header names from Vary
    vary_digest: str  # digest of the request's values of those headers

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + 64

    def age(self, now: float) -> float:
        return self.initial_age + max(0.0, now - self.response_time)

    def is_fresh(self, now: float) -> bool:
        return not self.revalidate and self.age(now) < self.lifetime

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


class CacheStore(Protocol):
    """What the cache middleware needs of a backend."""

    credentials: bool
    max_entry_bytes: int

    def get(self, key: str) -> Entry | None: ...
    def set(self, key: str, entry: Entry) -> None: ...
    def delete(self, key: str) -> None: ...
    def clear(self) -> None: ...


class MemoryCache:
    """An in-memory LRU cache, bounded by entries and by bytes; thread-safe.

    Args:
        max_entries: the most responses kept.
        max_bytes: the most bytes kept (bodies plus headers); a response larger than this
            is not stored.
        credentials: also store responses to requests that carried credentials (keyed by
            a hash of them). Off by default: such responses are stored only if ``public``.

    A pickled session gets an empty cache back: the entries are not pickled.

    >>> MemoryCache(max_entries=100)
    MemoryCache(max_entries=100, max_bytes=67108864, credentials=False)
    """

    def __init__(
        self, *, max_entries: int = 1024, max_bytes: int = 64 * 2**20, credentials: bool = False
    ) -> None:
        for name, value in (("max_entries", max_entries), ("max_bytes", max_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"MemoryCache: {name} must be an int > 0, got {value!r}")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_bytes
        self.credentials = bool(credentials)
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"MemoryCache(max_entries={self.max_entries}, max_bytes={self.max_bytes}, "
            f"credentials={self.credentials})"
        )

    def __len__(self) -> int:
        return len(self._entries)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "max_entries": self.max_entries,
            "max_bytes": self.max_bytes,
            "credentials": self.credentials,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]  # rebuild the lock and an empty LRU

    def get(self, key: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def set(self, key: str, entry: Entry) -> None:
        size = entry.size
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = entry
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size

    def delete(self, key: str) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS httpkit_cache (
    key TEXT PRIMARY KEY,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    response_time REAL NOT NULL,
    initial_age REAL NOT NULL,
    lifetime REAL NOT NULL,
    revalidate INTEGER NOT NULL,
    vary TEXT NOT NULL,
    vary_digest TEXT NOT NULL,
    size INTEGER NOT NULL
)
"""
_UPSERT: Final = """
INSERT INTO httpkit_cache VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(key) DO UPDATE SET
    status = excluded.status, reason = excluded.reason, headers = excluded.headers,
    body = excluded.body, response_time = excluded.response_time,
    initial_age = excluded.initial_age, lifetime = excluded.lifetime,
    revalidate = excluded.revalidate, vary = excluded.vary,
    vary_digest = excluded.vary_digest, size = excluded.size
"""
#: Oldest entries first, until the total fits ``max_bytes`` (window functions: SQLite 3.25).
_TRIM: Final = """
DELETE FROM httpkit_cache WHERE key IN (
    SELECT key FROM (
        SELECT key, SUM(size) OVER (ORDER BY response_time DESC, key) AS running
        FROM httpkit_cache
    ) WHERE running > ?
)
"""


class SQLiteCache:
    """A cache in an SQLite file, safe to share between threads and processes.

    The database runs in WAL mode (readers never block the writer), waits up to
    ``busy_timeout`` seconds for a lock, and writes each entry with one atomic upsert.
    Each thread (and each process, after a fork) opens its own connection.

    Args:
        path: the database file; created with its directory if missing.
        max_bytes: if set, the oldest entries are removed when the total passes it.
        credentials: as for :class:`MemoryCache`.
        busy_timeout: seconds to wait for another process's write lock.

    Pickling keeps the path and the options; the entries stay in the file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int | None = None,
        credentials: bool = False,
        busy_timeout: float = 10.0,
    ) -> None:
        if not isinstance(path, str | os.PathLike) or not os.fspath(path):
            raise ConfigError(f"SQLiteCache: path must be a file path, got {path!r}")
        if max_bytes is not None and (
            isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1
        ):
            raise ConfigError(
                f"SQLiteCache: max_bytes must be an int > 0 or None, got {max_bytes!r}"
            )
        self.path = os.fspath(path)
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_bytes if max_bytes is not None else 2**31
        self.credentials = bool(credentials)
        self.busy_timeout = float(busy_timeout)
        self._local = threading.local()
        self._writes = 0

    def __repr__(self) -> str:
        return (
            f"SQLiteCache({self.path!r}, max_bytes={self.max_bytes}, "
            f"credentials={self.credentials})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SQLiteCache):
            return NotImplemented
        return (self.path, self.max_bytes, self.credentials) == (
            other.path,
            other.max_bytes,
            other.credentials,
        )

    def __hash__(self) -> int:
        return hash((self.path, self.max_bytes, self.credentials))

    def __getstate__(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "max_bytes": self.max_bytes,
            "credentials": self.credentials,
            "busy_timeout": self.busy_timeout,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        path = state.pop("path")
        self.__init__(path, **state)  # type: ignore[misc]  # connections are per process

    def _connection(self) -> sqlite3.Connection:
        local = self._local
        connection: sqlite3.Connection | None = getattr(local, "connection", None)
        if connection is not None and getattr(local, "pid", None) == os.getpid():
            return connection
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        connection = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute(_SCHEMA)
        local.connection = connection
        local.pid = os.getpid()
        return connection

    def get(self, key: str) -> Entry | None:
        row = (
            self._connection()
            .execute(
                "SELECT status, reason, headers, body, response_time, initial_age, lifetime, "
                "revalidate, vary, vary_digest FROM httpkit_cache WHERE key = ?",
                (key,),
            )
            .fetchone()
        )
        if row is None:
            return None
        try:
            headers = tuple((str(k), str(v)) for k, v in json.loads(row[2]))
        except (ValueError, TypeError):
            return None  # a damaged row: treat as a miss; the next store replaces it
        return Entry(
            status=int(row[0]),
            reason=str(row[1]),
            headers=headers,
            body=bytes(row[3]),
            response_time=float(row[4]),
            initial_age=float(row[5]),
            lifetime=float(row[6]),
            revalidate=bool(row[7]),
            vary=tuple(v for v in str(row[8]).split(",") if v),
            vary_digest=str(row[9]),
        )

    def set(self, key: str, entry: Entry) -> None:
        if entry.size > self.max_entry_bytes:
            return
        connection = self._connection()
        connection.execute(
            _UPSERT,
            (
                key,
                entry.status,
                entry.reason,
                json.dumps(entry.headers),
                entry.body,
                entry.response_time,
                entry.initial_age,
                entry.lifetime,
                int(entry.revalidate),
                ",".join(entry.vary),
                entry.vary_digest,
                entry.size,
            ),
        )
        self._writes += 1
        if self.max_bytes is not None and self._writes % 16 == 1:
            connection.execute(_TRIM, (self.max_bytes,))

    def delete(self, key: str) -> None:
        self._connection().execute("DELETE FROM httpkit_cache WHERE key = ?", (key,))

    def clear(self) -> None:
        self._connection().execute("DELETE FROM httpkit_cache")

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def check_cache(where: str, value: Any) -> CacheStore | None:
    """Validate a ``cache`` setting.

    ``False``/``None``: off; ``True``: a new :class:`MemoryCache`; a path: a
    :class:`SQLiteCache` on that file; a store object: itself.

    Raises:
        ConfigError: naming the key and the bad value.
    """
    if value is None or value is False:
        return None
    if value is True:
        return MemoryCache()
    if isinstance(value, str | os.PathLike):
        if not os.fspath(value):
            raise ConfigError(f"{where}: cache: the SQLite file path is empty")
        return SQLiteCache(value)
    if isinstance(value, MemoryCache | SQLiteCache) or (
        all(hasattr(value, name) for name in ("get", "set", "delete", "credentials"))
    ):
        return value  # type: ignore[no-any-return]  # a CacheStore
    raise ConfigError(
        f"{where}: cache: expected True (in memory), False, the path of an SQLite file, "
        f"or an httpkit.MemoryCache / httpkit.SQLiteCache, got {value!r}"
    )


# -- the middleware ----------------------------------------------------------------------


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

    def stream(
        self, amt: int | None = 65536, decode_content: bool | None = None
    ) -> Iterator[bytes]:
        decode = self._decoding(decode_content)
        if not decode:
            self._chunks = None  # undecoded bytes are not what the cache serves
        for chunk in self._raw.stream(amt, decode_content=decode):
            self._keep(chunk)
            yield chunk
        if self._chunks is not None:
            body, self._chunks = b"".join(self._chunks), None
            self._done(body)

    def read(self, amt: int | None = None, decode_content: bool | None = None, **kw: Any) -> bytes:
        self._chunks = None  # read directly by the caller: not stored
        return self._raw.read(amt, decode_content=self._decoding(decode_content), **kw)  # type: ignore[no-any-return]


class CacheMiddleware:
    """The built-in caching middleware of a host policy with ``cache`` set.

    Responses that pass through it get ``from_cache`` (``True`` when the body came from
    the store) and ``revalidated`` (``True`` when a ``304`` confirmed a stored response).
    """

    __slots__ = ("sensitive", "store")

    def __init__(self, store: CacheStore, sensitive: frozenset[str] = SENSITIVE_HEADERS) -> None:
        self.store = store
        self.sensitive = sensitive  # the session's credential headers, on top of the usual

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
                    self.store.delete(_digest(stored, request.url or ""))
                    if credentials:
                        self.store.delete(_digest(stored, request.url or "", *credentials))
            return _mark(response, False, False)
        headers = request.headers
        asked = parse_cache_control(_text(headers.get("Cache-Control")))
        if "no-store" in asked or _caller_manages(headers):
            # The caller manages this exchange itself (its own validators, a range).
            return _mark(send(request), False, False)
        credentials = credential_values(request, self.sensitive)
        key = (
            _digest(method, request.url or "", *credentials)
            if credentials
            else _digest(method, request.url or "")
        )
        entry = self.store.get(key)
        if entry is not None and entry.vary_digest != _vary_digest(entry.vary, headers):
            entry = None
        now = time.time()
        if entry is not None and _usable_without_request(entry, asked, headers, now):
            return _mark(_build(entry, request, now), True, False)
        outgoing = request
        if entry is not None:
            conditions = _conditions(entry)
            if conditions:
                outgoing = request.copy()
                outgoing.headers.update(conditions)
            else:
                entry = None
        request_time = time.time()
        response = send(outgoing)
        if entry is not None and response.status_code == 304:
            updated = _refreshed(entry, response, request_time)
            response.close()
            self.store.set(key, updated)
            return _mark(_build(updated, request, time.time()), True, True)
        self._store_later(key, request, response, credentials, request_time)
        return _mark(response, False, False)

    def _store_later(
        self,
        key: str,
        request: PreparedRequest,
        response: Response,
        credentials: list[str],
        request_time: float,
    ) -> None:
        """Store ``response`` when its body has been read, if it may be stored."""
        entry = _storable(request, response, credentials, self.store.credentials, request_time)
        if entry is None:
            if response.status_code in CACHEABLE_STATUSES or response.status_code == 304:
                self.store.delete(key)
            return
        if response._content is not False:  # already read (buffered by HostAdapter)
            self.store.set(key, replace(entry, body=response.content or b""))
            return
        if response.raw is None:
            return
        store = self.store

        def done(body: bytes) -> None:
            store.set(key, replace(entry, body=body))

        response.raw = _TeeBody(response.raw, store.max_entry_bytes, done)


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
    now = time.time()
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
    now = time.time()
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
