"""Host policies: which settings apply to which URL.

A policy target is an origin (``https://api.example.com``, port optional), a wildcard
host (``https://*.example.com``) or an origin with a path prefix
(``https://example.com/api/v2``). Matching works on the parsed URL, never on a raw string
prefix, so a policy for ``https://api.example.com`` does not match
``https://api.example.com.evil.test/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, TypeAlias
from urllib.parse import urlsplit

from httpkit._exceptions import ConfigError
from httpkit._http import DEFAULT_PORTS, Origin, normalize_host, split_url
from httpkit._record import Record

if TYPE_CHECKING:
    from requests.adapters import BaseAdapter


class HostPattern(Record):
    """A parsed policy target.

    >>> HostPattern.parse("HTTPS://API.example.com").prefix
    'https://api.example.com/'
    >>> HostPattern.parse("https://*.example.com:8443/v2").prefix
    'https://*.example.com:8443/v2/'
    >>> HostPattern.parse("https://api.example.com").matches_url("https://api.example.com.evil.test/")
    False
    """

    __slots__ = ("host", "path", "port", "scheme", "wildcard")
    scheme: str
    host: str  # normalized; for a wildcard, the suffix after "*."
    port: int | None  # None: any port (only for schemes without a default port)
    path: str  # "" or a prefix ending in "/"
    wildcard: bool

    def __init__(
        self, scheme: str, host: str, port: int | None, path: str, wildcard: bool = False
    ) -> None:
        self._init(locals())

    @classmethod
    def parse(cls, target: str) -> HostPattern:
        """Parse a policy target.

        Raises:
            ConfigError: the target is not an http(s) origin, wildcard or path prefix.
        """
        if not isinstance(target, str):
            raise ConfigError(f"a host target must be a string URL, got {target!r}")
        try:
            parts = urlsplit(target.strip())
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"host target {target!r} is not a valid URL: {exc}") from None
        scheme = parts.scheme.lower()
        raw_host = parts.hostname
        if not scheme or not raw_host:
            raise ConfigError(
                f"host target {target!r} needs a scheme and a host, "
                f"e.g. 'https://{target.strip().strip('/')}'"
            )
        if parts.username or parts.password:
            shown = target.replace(parts.netloc, "<redacted>@" + parts.netloc.rpartition("@")[2])
            raise ConfigError(
                f"host target {shown!r} holds user info; remove it and pass credentials "
                "with auth= instead"
            )
        if parts.query or parts.fragment:
            raise ConfigError(
                f"host target {target!r} may hold only scheme, host, port and path; "
                "remove the query or fragment"
            )
        wildcard = raw_host.startswith("*.")
        host = raw_host[2:] if wildcard else raw_host
        if "*" in host or not host.strip("."):
            raise ConfigError(
                f"host target {target!r}: a wildcard must be the leftmost label, "
                "as in 'https://*.example.com'"
            )
        try:
            host = normalize_host(host)
        except ValueError as exc:
            raise ConfigError(f"host target {target!r}: {exc}") from None
        if port is None:
            port = DEFAULT_PORTS.get(scheme)
        path = parts.path.lower()  # mount prefixes match case-insensitively, as in requests
        if path and not path.endswith("/"):
            path += "/"
        return cls(scheme, host, port, "" if path == "/" else path, wildcard)

    @property
    def prefix(self) -> str:
        """The normalized form, used as this policy's key in ``session.adapters``."""
        origin = str(Origin(self.scheme, self.host, self.port))
        if self.wildcard:
            origin = origin.replace("://", "://*.", 1)
        return origin + (self.path or "/")

    @property
    def specificity(self) -> tuple[int, int, int]:
        """Exact hosts beat wildcards; longer wildcard suffixes and longer paths win."""
        return (3 if not self.wildcard else 2, self.host.count(".") + 1, len(self.path))

    def matches(self, scheme: str, host: str, port: int | None, path: str) -> bool:
        """Match already-normalized URL parts (see :func:`split_url`)."""
        if scheme != self.scheme or (self.port is not None and port != self.port):
            return False
        if self.wildcard:
            if not host.endswith(self.host) or host[-len(self.host) - 1 : -len(self.host)] != ".":
                return False
        elif host != self.host:
            return False
        if not self.path:
            return True
        path = path.lower()
        return path.startswith(self.path) or path == self.path[:-1]

    def matches_url(self, url: str) -> bool:
        """Whether ``url`` falls under this pattern; unparsable URLs never do."""
        parts = split_url(url)
        return parts is not None and self.matches(*parts)


class _SchemePrefix(Record):
    """A mount prefix that names only a scheme, such as requests' own ``https://``."""

    __slots__ = ("scheme",)
    scheme: str

    def __init__(self, scheme: str) -> None:
        self._init(locals())

    @property
    def specificity(self) -> tuple[int, int, int]:
        return (1, 0, 0)


class _RawPrefix(Record):
    """A mount prefix that is not a URL with a host; matched as requests does."""

    __slots__ = ("prefix",)
    prefix: str

    def __init__(self, prefix: str) -> None:
        self._init(locals())

    @property
    def specificity(self) -> tuple[int, int, int]:
        return (0, len(self.prefix), 0)


_Matcher: TypeAlias = "HostPattern | _SchemePrefix | _RawPrefix"


def _matcher_for(prefix: str) -> _Matcher:
    scheme, sep, rest = prefix.partition("://")
    if sep and scheme and not rest:
        return _SchemePrefix(scheme.lower())
    try:
        return HostPattern.parse(prefix)
    except ConfigError:
        return _RawPrefix(prefix.lower())


class MountTable:
    """``session.adapters`` seen by origin: the most specific matching prefix wins.

    Built from the adapters mapping and rebuilt when it changes, so ``session.adapters``
    stays the one registry (``mount()`` and direct edits both work).
    """

    __slots__ = ("_cache", "_entries", "_pairs")

    _CACHE_SIZE: Final = 1024

    def __init__(self, adapters: Mapping[str, BaseAdapter]) -> None:
        self._pairs = tuple(adapters.items())
        entries = [(_matcher_for(prefix), adapter) for prefix, adapter in self._pairs]
        # Most specific first; sorted() is stable, so equal ranks keep mount order.
        entries.sort(key=lambda entry: entry[0].specificity, reverse=True)
        self._entries = entries
        self._cache: dict[str, BaseAdapter | None] = {}

    def is_current(self, adapters: Mapping[str, BaseAdapter]) -> bool:
        return tuple(adapters.items()) == self._pairs

    def lookup(self, url: str) -> BaseAdapter | None:
        try:
            return self._cache[url]
        except KeyError:
            pass
        adapter = self._find(url)
        if len(self._cache) >= self._CACHE_SIZE:
            self._cache.clear()
        self._cache[url] = adapter
        return adapter

    def _find(self, url: str) -> BaseAdapter | None:
        parts = split_url(url)
        lowered = url.lower()
        for matcher, adapter in self._entries:
            if isinstance(matcher, HostPattern):
                if parts is not None and matcher.matches(*parts):
                    return adapter
            elif isinstance(matcher, _SchemePrefix):
                if lowered.startswith(matcher.scheme + "://"):
                    return adapter
            elif lowered.startswith(matcher.prefix):
                return adapter
        return None
