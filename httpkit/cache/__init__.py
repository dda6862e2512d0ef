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

Backends: :class:`MemoryCache` (an LRU bounded by entries and bytes),
:class:`SQLiteCache` (a file several processes can share) and :class:`StoreCache` (the
session's shared store: ``cache=True`` with ``Session(store=...)``), where one process
fetches a missing or stale key while the others wait for it.

The choice to write this rather than build on CacheControl or requests-cache is explained
in ``docs/caching.md``.
"""

from __future__ import annotations

from httpkit._http import parse_cache_control
from httpkit.cache._rules import (
    CACHEABLE_METHODS,
    CACHEABLE_STATUSES,
    UNSAFE_METHODS,
    freshness_lifetime,
    initial_age,
)
from httpkit.cache._step import CacheMiddleware, credential_values
from httpkit.cache._stores import (
    SESSION_CACHE,
    CacheStore,
    Entry,
    MemoryCache,
    SQLiteCache,
    StoreCache,
    check_cache,
    decode_entry,
    encode_entry,
    session_cache,
)

__all__ = [
    "CACHEABLE_METHODS",
    "CACHEABLE_STATUSES",
    "SESSION_CACHE",
    "UNSAFE_METHODS",
    "CacheMiddleware",
    "CacheStore",
    "Entry",
    "MemoryCache",
    "SQLiteCache",
    "StoreCache",
    "check_cache",
    "credential_values",
    "decode_entry",
    "encode_entry",
    "freshness_lifetime",
    "initial_age",
    "parse_cache_control",
    "session_cache",
]
