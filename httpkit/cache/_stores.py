"""Stored responses and the stores that keep them: :class:`MemoryCache`, :class:`SQLiteCache`."""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from httpkit import _fork
from httpkit._exceptions import ConfigError

if TYPE_CHECKING:
    import sqlite3

    from httpkit.stores import Store
    from httpkit.stores._sqlite import Connections


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


#: How long one process may hold the right to fetch a key for the others, in seconds.
LEASE: Final = 10.0
#: How long a key whose answer could not be stored is fetched without a lease, in seconds.
PASS: Final = 60.0
#: The first line of a stored entry: the format and its version.
_FORMAT: Final = b"httpkit-cache/1\n"
_FIELDS: Final = (
    "status",
    "reason",
    "headers",
    "response_time",
    "initial_age",
    "lifetime",
    "revalidate",
    "vary",
    "vary_digest",
)


def encode_entry(entry: Entry) -> bytes:
    """An entry as a shared store keeps it: the format line, its fields as one line of JSON,
    then the body as it is. Nothing in it is code: a reader never unpickles.

    >>> entry = Entry(200, "OK", (("ETag", '"1"'),), b"body", 1.0, 0.0, 60.0, False, (), "")
    >>> decode_entry(encode_entry(entry)) == entry
    True
    >>> import pickle
    >>> decode_entry(pickle.dumps(entry)) is None  # a pickle, or anything else: a miss
    True
    """
    fields = [getattr(entry, name) for name in _FIELDS]
    head = json.dumps(fields, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return _FORMAT + head + b"\n" + entry.body


def decode_entry(value: bytes | None) -> Entry | None:
    """The entry ``value`` holds, or ``None`` for anything that is not one (a miss)."""
    if value is None or not value.startswith(_FORMAT):
        return None
    head, newline, body = value[len(_FORMAT) :].partition(b"\n")
    try:
        fields: Any = json.loads(head) if newline else None
        if not isinstance(fields, list):
            return None
        status, reason, headers, response_time, initial_age, lifetime, revalidate, vary, digest = (
            fields
        )
        return Entry(
            status=_typed(status, int),
            reason=_typed(reason, str),
            headers=tuple((_typed(k, str), _typed(v, str)) for k, v in headers),
            body=body,
            response_time=float(_typed(response_time, int | float)),
            initial_age=float(_typed(initial_age, int | float)),
            lifetime=float(_typed(lifetime, int | float)),
            revalidate=_typed(revalidate, bool),
            vary=tuple(_typed(v, str) for v in vary),
            vary_digest=_typed(digest, str),
        )
    except (ValueError, TypeError):
        return None


def _typed(value: Any, kind: Any) -> Any:
    if not isinstance(value, kind):
        raise TypeError(f"expected {kind}, got {type(value).__name__}")
    return value


class StoreCache:
    """A cache kept in a :mod:`store <httpkit.stores>`: ``cache=True`` on a session whose
    store is shared (an SQLite file, a Redis server), so that every process shares it.

    Entries are written in a versioned format of httpkit's own (:func:`encode_entry`);
    anything else under a key, corrupt or foreign, is a miss, never code to run. Each
    entry expires from the store a day after it goes stale (it may still be revalidated
    until then). While one process fetches or revalidates a key, the others wait for its
    answer, or serve the stale entry where ``stale-while-revalidate`` allows
    (``docs/caching.md``).

    Args:
        store: where the entries live, under ``cache:<key digest>``.
        credentials: as for :class:`MemoryCache`.
        max_entry_bytes: a response larger than this is not stored.
    """

    def __init__(
        self, store: Store, *, credentials: bool = False, max_entry_bytes: int = 4 * 2**20
    ) -> None:
        if (
            isinstance(max_entry_bytes, bool)
            or not isinstance(max_entry_bytes, int)
            or max_entry_bytes < 1
        ):
            raise ConfigError(
                f"StoreCache: max_entry_bytes must be an int > 0, got {max_entry_bytes!r}"
            )
        self.store = store
        self.credentials = bool(credentials)
        self.max_entry_bytes = max_entry_bytes

    def __repr__(self) -> str:
        return f"StoreCache({self.store!r}, credentials={self.credentials})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoreCache):
            return NotImplemented
        return (self.store, self.credentials, self.max_entry_bytes) == (
            other.store,
            other.credentials,
            other.max_entry_bytes,
        )

    def __hash__(self) -> int:
        return hash(("StoreCache", self.store, self.credentials, self.max_entry_bytes))

    def get(self, key: str) -> Entry | None:
        (value,) = self.store.get_many(["cache:" + key])
        return decode_entry(value)

    def set(self, key: str, entry: Entry) -> None:
        if entry.size > self.max_entry_bytes:
            return
        keep = max(entry.lifetime - entry.initial_age, 0.0) + 86400.0
        self.store.set("cache:" + key, encode_entry(entry), keep)

    def delete(self, key: str) -> None:
        self.store.delete("cache:" + key)

    def clear(self) -> None:
        raise ConfigError(
            "StoreCache.clear(): a shared store holds other processes' entries; delete "
            "the keys under cache: in the store itself"
        )

    def lease(self, key: str) -> Lease | None:
        """The right to fetch ``key`` for every process, or ``None`` if another has it.

        Call what it returns once the answer is stored (``True``) or found not storable
        (``False``); the lease also runs out after :data:`LEASE` seconds. A key whose last
        answer could not be stored is fetched by everyone for :data:`PASS` seconds: there
        is nothing to wait for (the lease returned then holds nothing).
        """
        store = self.store
        (passing,) = store.get_many(["cache-pass:" + key])
        if passing is not None:
            return Lease(None, key)
        if not store.add("cache-fetch:" + key, b"1", LEASE):
            return None
        return Lease(store, key)


class Lease:
    """The right to fetch one key for every process (``held``), until called."""

    __slots__ = ("key", "store")

    def __init__(self, store: Store | None, key: str) -> None:
        self.store = store
        self.key = key

    @property
    def held(self) -> bool:
        return self.store is not None

    def __call__(self, stored: bool) -> None:
        store = self.store
        if store is None:
            return
        if not stored:
            store.set("cache-pass:" + self.key, b"1", PASS)
        store.delete("cache-fetch:" + self.key)
        self.store = None


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
        _fork.register(self)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # the entries stay: the child may serve them

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
        self._connections: Connections | None = None
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
        connections = self._connections
        if connections is None:
            from httpkit.stores._sqlite import Connections  # on first use, with sqlite3

            connections = self._connections = Connections(self.path, self.busy_timeout, _SCHEMA)
        return connections.get()

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
        if self._connections is not None:
            self._connections.close()


class SessionCache:
    """``cache=True``: the session's own cache, made when a policy first uses it: a
    :class:`StoreCache` on the session's store if that store is shared, else a
    :class:`MemoryCache`. Every policy with ``cache=True`` shares it."""

    _instance: SessionCache | None = None

    def __new__(cls) -> SessionCache:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "True"

    def __reduce__(self) -> str:
        return "SESSION_CACHE"


SESSION_CACHE: Final = SessionCache()


def session_cache(store: Store | None) -> CacheStore:
    """The cache ``cache=True`` means for a session whose store is ``store``."""
    if store is not None and store.shared:
        return StoreCache(store)
    return MemoryCache()


def check_cache(where: str, value: Any) -> CacheStore | SessionCache | None:
    """Validate a ``cache`` setting.

    ``False``/``None``: off; ``True``: the session's cache (:data:`SESSION_CACHE`); a path:
    an :class:`SQLiteCache` on that file; a store object: itself.

    Raises:
        ConfigError: naming the key and the bad value.
    """
    if value is None or value is False:
        return None
    if value is True:
        return SESSION_CACHE
    if isinstance(value, str | os.PathLike):
        if not os.fspath(value):
            raise ConfigError(f"{where}: cache: the SQLite file path is empty")
        return SQLiteCache(value)
    if isinstance(value, MemoryCache | SQLiteCache | StoreCache) or (
        all(hasattr(value, name) for name in ("get", "set", "delete", "credentials"))
    ):
        return value  # type: ignore[no-any-return]  # a CacheStore
    raise ConfigError(
        f"{where}: cache: expected True (the session's cache), False, the path of an SQLite "
        f"file, or an httpkit.MemoryCache / SQLiteCache / StoreCache, got {value!r}"
    )
