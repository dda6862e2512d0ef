"""SQLiteStore: state shared by the processes of one machine, in one file."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

from httpkit import _clock
from httpkit._exceptions import ConfigError
from httpkit.stores._base import encode, gcra, held, number
from httpkit.stores._shared import SharedStore

T = TypeVar("T")

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS httpkit_store (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires REAL
)
"""
_LIVE: Final = "SELECT value FROM httpkit_store WHERE key = ? AND (expires IS NULL OR expires > ?)"
_PUT: Final = "INSERT OR REPLACE INTO httpkit_store VALUES (?, ?, ?)"
#: Expired rows are removed after this many writes of one connection.
_SWEEP_EVERY: Final = 256


def connect(path: str, busy_timeout: float, schema: str) -> sqlite3.Connection:
    """A connection to ``path`` in WAL mode, with ``schema`` created: shared by processes.

    Turning a new database to WAL fails at once (the busy timeout does not apply) while
    another process holds a lock on it, as when several processes open it together: that
    step is tried again until ``busy_timeout`` has passed.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    connection = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    give_up = time.monotonic() + busy_timeout
    pause = 0.005
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            break
        except sqlite3.OperationalError:
            if time.monotonic() >= give_up:
                connection.close()
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute(schema)
    return connection


class Connections:
    """One connection to an SQLite file per thread, and per process after a fork.

    >>> import tempfile, os
    >>> connections = Connections(os.path.join(tempfile.mkdtemp(), "x.db"), 1.0, "SELECT 1")
    >>> connections.get() is connections.get()
    True
    """

    def __init__(self, path: str, busy_timeout: float, schema: str) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.schema = schema
        self._local = threading.local()

    def get(self) -> sqlite3.Connection:
        local = self._local
        connection: sqlite3.Connection | None = getattr(local, "connection", None)
        if connection is not None and getattr(local, "pid", None) == os.getpid():
            return connection
        connection = connect(self.path, self.busy_timeout, self.schema)
        local.connection = connection
        local.pid = os.getpid()
        return connection

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


class SQLiteStore(SharedStore):
    """State shared by the processes of one machine, kept in an SQLite file.

    Each operation is one transaction (``BEGIN IMMEDIATE``: writers queue, readers never
    block them, in WAL mode), so processes see one consistent value. Times are this
    machine's clock, which every process on it shares. Each thread, and each process after
    a fork, opens its own connection.

    Args:
        path: the database file; created with its directory if missing. It may be the file
            of an :class:`~httpkit.SQLiteCache`: the tables differ.
        busy_timeout: seconds to wait for another process's write lock; past it the
            operation fails over to this process's state (see ``docs/fleet.md``).
        reconnect_after: seconds of per-process state after a fault, before the file is
            tried again.

    Pickling keeps the path; the values stay in the file.
    """

    faults = (OSError, sqlite3.Error)

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 1.0,
        reconnect_after: float = 1.0,
    ) -> None:
        if not isinstance(path, str | os.PathLike) or not os.fspath(path):
            raise ConfigError(f"SQLiteStore: path must be a file path, got {path!r}")
        if isinstance(busy_timeout, bool) or not isinstance(busy_timeout, int | float):
            raise ConfigError(f"SQLiteStore: busy_timeout must be seconds, got {busy_timeout!r}")
        self.path = os.fspath(path)
        self.busy_timeout = float(busy_timeout)
        self._connections = Connections(self.path, self.busy_timeout, _SCHEMA)
        self._writes = 0
        super().__init__(reconnect_after=reconnect_after)

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SQLiteStore):
            return NotImplemented
        return self.path == other.path

    def __hash__(self) -> int:
        return hash(("SQLiteStore", self.path))

    def __getstate__(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "busy_timeout": self.busy_timeout,
            "reconnect_after": self.reconnect_after,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        path = state.pop("path")
        self.__init__(path, **state)  # type: ignore[misc]  # connections are per process

    def _transaction(self, body: Callable[[sqlite3.Connection, float], T]) -> T:
        connection = self._connections.get()
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = body(connection, _clock.wall())
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result

    def _put(
        self, connection: sqlite3.Connection, key: str, value: bytes, ttl: float | None, now: float
    ) -> None:
        connection.execute(_PUT, (key, value, None if ttl is None else now + ttl))
        self._writes += 1  # shared by threads: a lost increment only delays a sweep
        if self._writes % _SWEEP_EVERY == 0:
            connection.execute("DELETE FROM httpkit_store WHERE expires <= ?", (now,))

    @staticmethod
    def _live(connection: sqlite3.Connection, key: str, now: float) -> bytes | None:
        row = connection.execute(_LIVE, (key, now)).fetchone()
        return None if row is None else bytes(row[0])

    def _get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        connection = self._connections.get()
        now = _clock.wall()
        return [self._live(connection, key, now) for key in keys]

    def _set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self._transaction(lambda c, now: self._put(c, key, value, ttl, now))

    def _add(self, key: str, value: bytes, ttl: float) -> bool:
        def body(connection: sqlite3.Connection, now: float) -> bool:
            if self._live(connection, key, now) is not None:
                return False
            self._put(connection, key, value, ttl, now)
            return True

        return self._transaction(body)

    def _incr(self, key: str, ttl: float) -> int:
        def body(connection: sqlite3.Connection, now: float) -> int:
            row = connection.execute(
                "SELECT value, expires FROM httpkit_store WHERE key = ? "
                "AND (expires IS NULL OR expires > ?)",
                (key, now),
            ).fetchone()
            count = (int(number(bytes(row[0]))) if row else 0) + 1
            expires = row[1] if row else now + ttl
            connection.execute(_PUT, (key, b"%d" % count, expires))
            return count

        return self._transaction(body)

    def _delete(self, *keys: str) -> None:
        self._connections.get().executemany(
            "DELETE FROM httpkit_store WHERE key = ?", [(key,) for key in keys]
        )

    def _take(self, key: str, interval: float, burst: int, max_wait: float | None) -> float:
        def body(connection: sqlite3.Connection, now: float) -> float:
            tat = number(self._live(connection, key, now), now)
            wait, new = gcra(tat, now, interval, burst, max_wait)
            if interval and new != tat:
                self._put(connection, key, encode(new), new - now + 1.0, now)
            return wait

        return self._transaction(body)

    def _hold(self, key: str, seconds: float, interval: float, burst: int) -> None:
        def body(connection: sqlite3.Connection, now: float) -> None:
            tat = number(self._live(connection, key, now), now)
            new = held(tat, now, seconds, interval, burst)
            if new != tat:
                self._put(connection, key, encode(new), new - now + 1.0, now)

        self._transaction(body)

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        self._connections.close()
