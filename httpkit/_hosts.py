"""Host policies: which settings apply to which URL.

A policy target is an origin (``https://api.example.com``, port optional), a wildcard
host (``https://*.example.com``) or an origin with a path prefix
(``https://example.com/api/v2``). Matching works on the parsed URL, never on a raw string
prefix, so a policy for ``https://api.example.com`` does not match
``https://api.example.com.evil.test/``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Final, TypeAlias
from urllib.parse import urlsplit

from requests.auth import AuthBase

from httpkit._cache import CacheStore, check_cache
from httpkit._exceptions import ConfigError
from httpkit._http import (
    DEFAULT_PORTS,
    Origin,
    has_forbidden_field_char,
    is_token,
    normalize_host,
    split_url,
)
from httpkit._middleware import check_middlewares
from httpkit._ratelimit import RateLimit, check_rate_limit
from httpkit._redact import REDACTED, is_secret_header, redact_headers
from httpkit._retry import RetryPolicy
from httpkit._ssrf import SSRFPolicy, check_ssrf
from httpkit._timeouts import UNSET, Timeouts, _Unset
from httpkit._tls import (
    KeyPassword,
    check_key_password,
    check_min_tls,
    check_pins,
    check_trust,
)

if TYPE_CHECKING:
    from requests.adapters import BaseAdapter
    from urllib3.util.retry import Retry

Verify: TypeAlias = "bool | str"
Cert: TypeAlias = "str | tuple[str, str]"


@dataclass(frozen=True, slots=True)
class HostPattern:
    """A parsed policy target.

    >>> HostPattern.parse("HTTPS://API.example.com").prefix
    'https://api.example.com/'
    >>> HostPattern.parse("https://*.example.com:8443/v2").prefix
    'https://*.example.com:8443/v2/'
    >>> HostPattern.parse("https://api.example.com").matches_url("https://api.example.com.evil.test/")
    False
    """

    scheme: str
    host: str  # normalized; for a wildcard, the suffix after "*."
    port: int | None  # None: any port (only for schemes without a default port)
    path: str  # "" or a prefix ending in "/"
    wildcard: bool = False

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
        path = parts.path
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
        return path.startswith(self.path) or path == self.path[:-1]

    def matches_url(self, url: str) -> bool:
        """Whether ``url`` falls under this pattern; unparsable URLs never do."""
        parts = split_url(url)
        return parts is not None and self.matches(*parts)


@dataclass(frozen=True, slots=True)
class _SchemePrefix:
    """A mount prefix that names only a scheme, such as requests' own ``https://``."""

    scheme: str

    @property
    def specificity(self) -> tuple[int, int, int]:
        return (1, 0, 0)


@dataclass(frozen=True, slots=True)
class _RawPrefix:
    """A mount prefix that is not a URL with a host; matched as requests does."""

    prefix: str

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


# -- per-host settings -------------------------------------------------------------------


def _check_header_value(where: str, name: object, value: object) -> None:
    if not isinstance(name, str) or not is_token(name):
        raise ConfigError(f"{where}: headers: {name!r} is not a valid header name")
    if not isinstance(value, str):
        raise ConfigError(f"{where}: headers: the value of {name!r} must be a string")
    if has_forbidden_field_char(value):
        shown = REDACTED if is_secret_header(name) else repr(value)
        raise ConfigError(
            f"{where}: headers: the value of {name!r} contains CR, LF, NUL or another "
            f"control character ({shown}); header values must be one line of text"
        )


def _check_path(where: str, key: str, value: object) -> str:
    if not isinstance(value, str | os.PathLike):
        raise ConfigError(f"{where}: {key}: expected a file path, got {value!r}")
    return os.fspath(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class HostConfig:
    """The settings of one host policy; ``UNSET`` fields fall back to the session's.

    Settings are those of :meth:`httpkit.Session.configure`. A policy does not inherit
    from a less specific policy: the most specific match applies as a whole.
    """

    timeout: Timeouts | _Unset = UNSET
    retry: RetryPolicy | Retry | _Unset = UNSET
    deadline: float | _Unset | None = UNSET
    headers: tuple[tuple[str, str], ...] | _Unset = UNSET
    auth: AuthBase | _Unset = UNSET
    verify: Verify | _Unset = UNSET
    cert: Cert | _Unset = UNSET
    trust: str | _Unset = UNSET
    min_tls: str | _Unset = UNSET
    pins: frozenset[str] | _Unset = UNSET
    key_password: KeyPassword | _Unset = UNSET
    middlewares: tuple[Any, ...] | _Unset = UNSET
    max_body: int | _Unset | None = UNSET
    ssrf: SSRFPolicy | _Unset | None = UNSET
    cache: CacheStore | _Unset | None = UNSET
    rate_limit: RateLimit | _Unset | None = UNSET

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], *, where: str) -> HostConfig:
        """Validate keyword settings; ``where`` prefixes every error message.

        Raises:
            ConfigError: an unknown key or a bad value, named in the message.
        """
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in settings.items():
            if key not in known:
                raise ConfigError(
                    f"{where}: unknown setting {key!r}; known settings: {', '.join(sorted(known))}"
                )
            values[key] = _CHECKS[key](where, value)
        return cls(**values)

    def merged(self, newer: HostConfig) -> HostConfig:
        """This policy updated with every setting ``newer`` sets."""
        changes = {f.name: getattr(newer, f.name) for f in fields(newer)}
        return replace(self, **{k: v for k, v in changes.items() if v is not UNSET})

    def header_dict(self) -> dict[str, str]:
        return dict(self.headers) if not isinstance(self.headers, _Unset) else {}

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is UNSET:
                continue
            if f.name == "headers":
                value = redact_headers(dict(value))
            shown.append(f"{f.name}={value!r}")
        return f"HostConfig({', '.join(shown)})"


def _check_timeout(where: str, value: Any) -> Timeouts:
    try:
        return Timeouts.coerce(value)
    except ConfigError as exc:
        raise ConfigError(f"{where}: timeout: {exc}") from None


def _check_retry(where: str, value: Any) -> RetryPolicy | Retry:
    try:
        return RetryPolicy.coerce(value)
    except ConfigError as exc:
        raise ConfigError(f"{where}: retry: {exc}") from None


def check_deadline(where: str, value: Any) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value < float("inf")
    ):
        raise ConfigError(
            f"{where}: deadline: expected seconds > 0 (a number) or None, got {value!r}"
        )
    return float(value)


def check_max_body(where: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"{where}: max_body: expected a number of bytes > 0 (an int) or None, got {value!r}"
        )
    return value


def _check_headers(where: str, value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: headers: expected a mapping of names to values, got {value!r}")
    for name, item in value.items():
        _check_header_value(where, name, item)
    return tuple(value.items())


def _check_auth(where: str, value: Any) -> AuthBase:
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) for v in value):
        from httpkit.auth import BasicAuth

        return BasicAuth(value[0], value[1])
    if isinstance(value, AuthBase):
        return value
    raise ConfigError(
        f"{where}: auth: expected an auth plugin (httpkit.TokenAuth, BasicAuth, DigestAuth "
        f"or any requests AuthBase) or a (user, password) tuple, got {type(value).__name__}"
    )


def _check_verify(where: str, value: Any) -> Verify:
    if isinstance(value, bool):
        return value
    return _check_path(where, "verify", value)


def _check_cert(where: str, value: Any) -> Cert:
    if isinstance(value, tuple | list) and len(value) == 2:
        return (_check_path(where, "cert", value[0]), _check_path(where, "cert", value[1]))
    if isinstance(value, tuple | list):
        raise ConfigError(f"{where}: cert: expected a path or a (cert, key) pair, got {value!r}")
    return _check_path(where, "cert", value)


_CHECKS: Final[dict[str, Any]] = {
    "timeout": _check_timeout,
    "retry": _check_retry,
    "deadline": check_deadline,
    "headers": _check_headers,
    "auth": _check_auth,
    "verify": _check_verify,
    "cert": _check_cert,
    "trust": check_trust,
    "min_tls": check_min_tls,
    "pins": check_pins,
    "key_password": check_key_password,
    "middlewares": check_middlewares,
    "max_body": check_max_body,
    "ssrf": check_ssrf,
    "cache": check_cache,
    "rate_limit": check_rate_limit,
}
