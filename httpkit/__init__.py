"""httpkit: a drop-in ``requests.Session`` that is safe by default.

>>> import httpkit
>>> session = httpkit.Session(timeout=httpkit.Timeouts(connect=3.05, read=30), retry=3)
>>> session.configure("https://api.example.com", timeout=10, headers={"Accept": "application/json"})
HostConfig(timeout=Timeouts(connect=10.0, read=10.0), headers={'Accept': 'application/json'})
"""

from __future__ import annotations

import typing as _typing

from httpkit._call import bind_call
from httpkit._exceptions import (
    AuthError,
    BlockedAddress,
    BodyTooLarge,
    CircuitOpen,
    ConfigError,
    DeadlineExceeded,
    HttpkitError,
    MiddlewareError,
    RetryAfterTooLong,
    UnreplayableBody,
)
from httpkit._lazy import on_first_use as _on_first_use
from httpkit._middleware import LoggingMiddleware
from httpkit._middleware import install_log_redaction as _install_log_redaction
from httpkit._policy import HostConfig
from httpkit._retry import RetryBudget, RetryHistory, RetryPolicy
from httpkit._session import Session
from httpkit._timeouts import Timeouts
from httpkit._tls import InsecureRequestWarning
from httpkit._transport.adapter import HostAdapter
from httpkit._transport.connection import PoolStats
from httpkit._version import __version__
from httpkit.auth import BasicAuth, OriginBoundAuth

if _typing.TYPE_CHECKING:
    from httpkit._circuit import CircuitBreaker
    from httpkit._ratelimit import RateLimit
    from httpkit._ssrf import SSRFPolicy
    from httpkit.auth import DigestAuth, TokenAuth
    from httpkit.cache import MemoryCache, SQLiteCache, StoreCache
    from httpkit.stores import MemoryStore, RedisStore, SQLiteStore

__all__ = [
    "AuthError",
    "BasicAuth",
    "BlockedAddress",
    "BodyTooLarge",
    "CircuitBreaker",
    "CircuitOpen",
    "ConfigError",
    "DeadlineExceeded",
    "DigestAuth",
    "HostAdapter",
    "HostConfig",
    "HttpkitError",
    "InsecureRequestWarning",
    "LoggingMiddleware",
    "MemoryCache",
    "MemoryStore",
    "MiddlewareError",
    "OriginBoundAuth",
    "PoolStats",
    "RateLimit",
    "RedisStore",
    "RetryAfterTooLong",
    "RetryBudget",
    "RetryHistory",
    "RetryPolicy",
    "SQLiteCache",
    "SQLiteStore",
    "SSRFPolicy",
    "Session",
    "StoreCache",
    "Timeouts",
    "TokenAuth",
    "UnreplayableBody",
    "__version__",
    "bind_call",
]

# urllib3 logs request targets, query strings included, at DEBUG: keep secrets out.
_install_log_redaction()


# Names whose module loads when first used: a program that never turns the feature on
# never imports it.
__getattr__, __dir__ = _on_first_use(
    globals(),
    {
        "CircuitBreaker": "httpkit._circuit",
        "DigestAuth": "httpkit.auth",
        "MemoryCache": "httpkit.cache",
        "MemoryStore": "httpkit.stores",
        "RateLimit": "httpkit._ratelimit",
        "RedisStore": "httpkit.stores",
        "SQLiteCache": "httpkit.cache",
        "SQLiteStore": "httpkit.stores",
        "StoreCache": "httpkit.cache",
        "SSRFPolicy": "httpkit._ssrf",
        "TokenAuth": "httpkit.auth",
    },
)
