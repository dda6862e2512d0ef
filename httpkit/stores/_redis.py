"""RedisStore: state shared by many machines, on a Redis (6 or later) or Valkey server."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

from httpkit._exceptions import ConfigError
from httpkit.stores._shared import SharedStore

if TYPE_CHECKING:
    import redis

# Every script reads the server's clock, so that all machines agree on "now" whatever
# their own clocks say. Numbers go in and out as decimal strings (Lua numbers would be
# truncated to integers on the way out).
_NOW: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""
#: httpkit.stores._base.gcra, on the server: KEYS[1]; ARGV interval, burst, max_wait (or '').
TAKE: Final = (
    _NOW
    + """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
local wait = tat - (burst - 1) * interval - now
if wait <= 0 then
    wait = 0
elseif max_wait and wait >= max_wait then
    return string.format('%.6f', wait)
end
if interval > 0 then
    if tat < now then tat = now end
    tat = tat + interval
    redis.call('SET', KEYS[1], string.format('%.6f', tat),
               'PX', math.ceil((tat - now) * 1000) + 1000)
end
return string.format('%.6f', wait)
"""
)
#: httpkit.stores._base.held: KEYS[1]; ARGV seconds, interval, burst.
HOLD: Final = (
    _NOW
    + """
local stop = now + tonumber(ARGV[1]) + (tonumber(ARGV[3]) - 1) * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or 0
if stop > tat then
    redis.call('SET', KEYS[1], string.format('%.6f', stop),
               'PX', math.ceil((stop - now) * 1000) + 1000)
end
return 0
"""
)
#: A counter whose lifetime starts with its first increment: KEYS[1]; ARGV ttl in ms.
INCR: Final = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""

_SCHEMES: Final = {"redis": "redis", "rediss": "rediss", "valkey": "redis", "valkeys": "rediss"}


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def redacted(url: str) -> str:
    """``url`` without its password: ``redis://user:***@host:6379/0``.

    >>> redacted("redis://:hunter2@127.0.0.1:6379/0")
    'redis://:***@127.0.0.1:6379/0'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class RedisStore(SharedStore):
    """State shared by many machines, on a Redis (6 or later) or Valkey server.

    Needs the ``redis`` package: ``pip install "httpkit[redis]"``. Rate limits run as one
    Lua script per request on the server's clock; nothing is pickled into the server.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` for TLS;
            ``valkey://`` and ``valkeys://`` are the same. Name a password through the
            environment rather than in code (``store_url_env`` in config files).
        prefix: put before every key, so that several applications share one server.
        timeout: seconds each operation may take (connecting included). Past it, the
            operation fails over to this process's state (see ``docs/fleet.md``).
        reconnect_after: seconds of per-process state after a fault, before the server
            is tried again.

    The repr and every message show the URL without its password. Pickling keeps the
    settings; each process opens its own connections, also after a fork.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "httpkit:",
        timeout: float = 0.25,
        reconnect_after: float = 1.0,
    ) -> None:
        scheme = url.partition("://")[0].lower() if isinstance(url, str) else ""
        if scheme not in _SCHEMES:
            raise ConfigError(
                f"RedisStore: expected a redis://, rediss://, valkey:// or valkeys:// URL, "
                f"got {redacted(url) if isinstance(url, str) else url!r}"
            )
        if not isinstance(prefix, str):
            raise ConfigError(f"RedisStore: prefix must be a string, got {prefix!r}")
        for name, value in (("timeout", timeout), ("reconnect_after", reconnect_after)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ConfigError(f"RedisStore: {name} must be seconds > 0, got {value!r}")
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:
            raise ConfigError(
                'RedisStore needs the redis package: pip install "httpkit[redis]"'
            ) from None
        self.url = url
        self.prefix = prefix
        self.timeout = float(timeout)
        self.faults = (redis.RedisError, OSError)
        # One try per operation: a fault fails over at once, within ``timeout``.
        self._client: redis.Redis = redis.Redis.from_url(
            _SCHEMES[scheme] + url[len(scheme) :],
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self._take_script = self._client.register_script(TAKE)
        self._hold_script = self._client.register_script(HOLD)
        self._incr_script = self._client.register_script(INCR)
        super().__init__(reconnect_after=reconnect_after)

    def _after_fork(self) -> None:
        super()._after_fork()
        self._client.connection_pool.reset()  # the child opens its own connections

    def __repr__(self) -> str:
        return f"RedisStore({redacted(self.url)!r}, prefix={self.prefix!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RedisStore):
            return NotImplemented
        return (self.url, self.prefix) == (other.url, other.prefix)

    def __hash__(self) -> int:
        return hash(("RedisStore", self.url, self.prefix))

    def __getstate__(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "prefix": self.prefix,
            "timeout": self.timeout,
            "reconnect_after": self.reconnect_after,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        url = state.pop("url")
        self.__init__(url, **state)  # type: ignore[misc]  # connections are per process

    @property
    def client(self) -> redis.Redis:
        """The ``redis.Redis`` client, for inspection and tests."""
        return self._client

    def close(self) -> None:
        """Close the connections; the next operation opens new ones."""
        self._client.connection_pool.disconnect()

    def _get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        prefix = self.prefix
        values = self._client.mget([prefix + key for key in keys])
        return [
            value if value is None or isinstance(value, bytes) else value.encode()
            for value in values
        ]

    def _set(self, key: str, value: bytes, ttl: float | None) -> None:
        self._client.set(self.prefix + key, value, px=None if ttl is None else _ms(ttl))

    def _add(self, key: str, value: bytes, ttl: float) -> bool:
        return bool(self._client.set(self.prefix + key, value, px=_ms(ttl), nx=True))

    def _incr(self, key: str, ttl: float) -> int:
        return int(self._incr_script(keys=[self.prefix + key], args=[_ms(ttl)]))

    def _delete(self, *keys: str) -> None:
        if keys:
            self._client.delete(*(self.prefix + key for key in keys))

    def _take(self, key: str, interval: float, burst: int, max_wait: float | None) -> float:
        bound = "" if max_wait is None else repr(max_wait)
        wait = self._take_script(keys=[self.prefix + key], args=[repr(interval), burst, bound])
        return float(wait)

    def _hold(self, key: str, seconds: float, interval: float, burst: int) -> None:
        self._hold_script(keys=[self.prefix + key], args=[repr(seconds), repr(interval), burst])
