"""Stores: where the state a fleet of workers shares lives (``docs/fleet.md``).

:class:`MemoryStore` (this process; the default), :class:`SQLiteStore` (the processes of
one machine) and :class:`RedisStore` (many machines). ``Session(store=...)`` gives one
store to the session's rate limits and circuit breakers.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from httpkit._exceptions import ConfigError
from httpkit._lazy import on_first_use
from httpkit.stores._base import Store
from httpkit.stores._memory import MemoryStore

if TYPE_CHECKING:
    from httpkit.stores._redis import RedisStore
    from httpkit.stores._sqlite import SQLiteStore

__all__ = ["MemoryStore", "RedisStore", "SQLiteStore", "Store", "check_store", "store_from_url"]

__getattr__, __dir__ = on_first_use(
    globals(),
    {"RedisStore": "httpkit.stores._redis", "SQLiteStore": "httpkit.stores._sqlite"},
)

_STORE_KINDS = "an httpkit.MemoryStore, SQLiteStore or RedisStore, or a store URL"


def store_from_url(url: str, where: str = "store_url") -> Store:
    """The store a URL names: ``memory://``, ``sqlite:///path/to/file``, ``redis://...``.

    >>> store_from_url("memory://")
    MemoryStore()
    >>> store_from_url("sqlite:///tmp/fleet.db")
    SQLiteStore('/tmp/fleet.db')

    Raises:
        ConfigError: an unknown scheme or an empty path.
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if sep and scheme == "memory" and rest in ("", "/"):
        return MemoryStore()
    if sep and scheme == "sqlite":
        if not rest.strip("/"):
            raise ConfigError(f"{where}: sqlite:// needs a file path, as in sqlite:///var/fleet.db")
        from httpkit.stores._sqlite import SQLiteStore

        return SQLiteStore(rest)  # sqlite:///var/fleet.db is /var/fleet.db
    if sep and scheme in ("redis", "rediss", "valkey", "valkeys"):
        from httpkit.stores._redis import RedisStore

        return RedisStore(url)
    from httpkit.stores._redis import redacted

    raise ConfigError(
        f"{where}: unknown store URL {redacted(url)!r}; expected memory://, "
        "sqlite:///path/to/file, or redis://host:port/db (also rediss://, valkey://)"
    )


def check_store(where: str, value: Any) -> Store:
    """Validate a ``store`` setting: a store object, a store URL, or ``None`` (a MemoryStore).

    Raises:
        ConfigError: naming the setting and the bad value.
    """
    if value is None:
        return MemoryStore()
    if isinstance(value, str):
        return store_from_url(value, f"{where}: store")
    if isinstance(value, os.PathLike):
        raise ConfigError(
            f"{where}: store: a path is ambiguous; pass httpkit.SQLiteStore({value!r})"
        )
    if isinstance(value, Store):
        return value
    raise ConfigError(f"{where}: store: expected {_STORE_KINDS}, got {value!r}")
