"""Settings read from the process environment, computed once per environment.

requests scans every environment variable twice per request to find proxy settings
(``get_environ_proxies`` → ``getproxies_environment``), decoding each name and value.
The answer only changes when the environment does, so httpkit keeps it per (scheme,
host, port, ``no_proxy``) and starts afresh whenever ``os.environ`` differs from the
snapshot it was computed from. Comparing the snapshot is one C-level dict comparison.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

from requests.utils import get_environ_proxies

from httpkit import _fork


def _environ_data() -> Mapping[object, object] | None:
    # ``os.environ._data`` is the raw mapping behind os.environ on every platform since
    # Python 3.2; without it, caching is skipped rather than risked.
    data = getattr(os.environ, "_data", None)
    return data if isinstance(data, dict) else None


class EnvironmentProxies:
    """Proxy settings from the environment, as ``requests.utils.get_environ_proxies`` gives.

    Thread-safe: readers see either the old or the new table, never a half-built one.
    """

    _MAX_ENTRIES: Final = 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: dict[object, object] | None = None
        self._table: dict[tuple[str, str, str | None], dict[str, str]] = {}
        _fork.register(self)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()

    def get(self, url: str, no_proxy: str | None = None) -> dict[str, str]:
        """The environment's proxies for ``url`` (empty when ``no_proxy`` bypasses it)."""
        data = _environ_data()
        if data is None:
            return get_environ_proxies(url, no_proxy=no_proxy)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, no_proxy)
        table = self._table
        if data != self._snapshot:
            with self._lock:
                if data != self._snapshot:
                    self._snapshot = dict(data)
                    self._table = table = {}
        found = table.get(key)
        if found is None:
            found = get_environ_proxies(url, no_proxy=no_proxy)
            if len(table) >= self._MAX_ENTRIES:
                table.clear()
            table[key] = found
        return dict(found)


_ENCODED_NAMES: dict[str, object] = {}


def environ_get(name: str) -> str | None:
    """``os.environ.get(name)``, without the ``KeyError`` that a name not set costs inside.

    Read on every request (CA bundle variables, ``NETRC``, ``HOME``), mostly for names that
    are not set.
    """
    data = _environ_data()
    if data is None:
        return os.environ.get(name)
    key = _ENCODED_NAMES.get(name)
    if key is None:
        key = _ENCODED_NAMES[name] = os.environ.encodekey(name)
    raw = data.get(key)
    return None if raw is None else os.environ.decodevalue(raw)  # type: ignore[arg-type]  # a value of _data


ENVIRONMENT_PROXIES: Final = EnvironmentProxies()
