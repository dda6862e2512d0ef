"""Stores: where the state a fleet of workers shares lives (``docs/fleet.md``).

:class:`MemoryStore` (this process; the default), :class:`SQLiteStore` (the processes of
one machine) and :class:`RedisStore` (many machines). ``Session(store=...)`` gives one
store to the session's rate limits and circuit breakers.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl

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


#: The options a store URL may carry in its query, per scheme, and their types.
_OPTIONS: Final[dict[str, dict[str, type]]] = {
    "sqlite": {"busy_timeout": float, "reconnect_after": float},
    "redis": {"timeout": float, "reconnect_after": float, "prefix": str},
}


def store_from_url(url: str, where: str = "store_url") -> Store:
    """The store a URL names: ``memory://``, ``sqlite:///path/to/file``, ``redis://...``.

    The query may set the store's options: ``?busy_timeout=5`` (SQLite),
    ``?timeout=0.5&prefix=billing:`` (Redis), ``reconnect_after`` (both).

    >>> store_from_url("memory://")
    MemoryStore()
    >>> store_from_url("sqlite:///tmp/fleet.db?busy_timeout=5")
    SQLiteStore('/tmp/fleet.db')
    >>> store_from_url("redis://127.0.0.1:6379/0?prefix=billing:")
    RedisStore('redis://127.0.0.1:6379/0', prefix='billing:')

    Raises:
        ConfigError: an unknown scheme or option, a bad option value, an empty path.
    """
    from httpkit.stores._redis import redacted

    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    rest, _, query = rest.partition("?")
    kind = {"rediss": "redis", "valkey": "redis", "valkeys": "redis"}.get(scheme, scheme)
    if not sep or kind not in ("memory", "sqlite", "redis"):
        raise ConfigError(
            f"{where}: unknown store URL {redacted(url)!r}; expected memory://, "
            "sqlite:///path/to/file, or redis://host:port/db (also rediss://, valkey://)"
        )
    options = _options(query, _OPTIONS.get(kind, {}), f"{where}: {scheme}://")
    if kind == "memory":
        if rest not in ("", "/"):
            raise ConfigError(f"{where}: memory:// takes no path, got {redacted(url)!r}")
        return MemoryStore()
    if kind == "sqlite":
        if not rest.strip("/"):
            raise ConfigError(f"{where}: sqlite:// needs a file path, as in sqlite:///var/fleet.db")
        from httpkit.stores._sqlite import SQLiteStore

        return SQLiteStore(rest, **options)  # sqlite:///var/fleet.db is /var/fleet.db
    from httpkit.stores._redis import RedisStore

    return RedisStore(f"{scheme}://{rest}", **options)


def _options(query: str, known: dict[str, type], where: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        kind = known.get(name)
        if kind is None:
            names = ", ".join(sorted(known)) or "none"
            raise ConfigError(f"{where}: unknown option {name!r} in the URL; known: {names}")
        try:
            options[name] = kind(value)
        except ValueError:
            raise ConfigError(f"{where}: option {name}: expected a number, got {value!r}") from None
    return options


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
