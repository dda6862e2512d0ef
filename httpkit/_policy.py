"""Host policies' settings, and which setting applies: effective settings, one hop's value.

:class:`HostConfig` holds what one host policy (or the session) sets, validated.

Precedence, strongest first: the call's explicit argument > the most specific host policy >
the session's setting > the environment (only where nothing was set) > httpkit's default.

Two values carry the result:

* :class:`Settings`: a host policy merged over the session's defaults, computed once per
  policy (when it is configured) and kept by its adapter;
* :class:`Hop`: the settings of one hop of one call, from :func:`resolve_hop`: the adapter's
  :class:`Settings` plus the call's explicit arguments and the environment, as the values
  requests and urllib3 take (timeout, ``verify``, ``cert``). Every later step of the hop
  reads it; nothing of it is written back into requests' keyword arguments for the next
  hop, which is resolved afresh.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeAlias

from requests.auth import AuthBase

from httpkit._exceptions import ConfigError
from httpkit._http import has_forbidden_field_char, is_token
from httpkit._middleware import check_middlewares
from httpkit._record import Record
from httpkit._redact import REDACTED, SENSITIVE_HEADERS, is_secret_header, redact_headers
from httpkit._retry import DEFAULT_RETRY, RetryBudget, RetryLedger, RetryPolicy, RetryRules
from httpkit._timeouts import DEFAULT_TIMEOUTS, UNSET, Timeouts, _Unset, to_requests_timeout
from httpkit._tls import (
    KeyPassword,
    check_key_password,
    check_min_tls,
    check_pins,
    check_trust,
    resolve_verify,
)

if TYPE_CHECKING:
    from requests.adapters import BaseAdapter
    from urllib3.util.retry import Retry

    from httpkit._circuit import CircuitBreaker, Circuits
    from httpkit._ratelimit import RateLimit, RateLimiter
    from httpkit._ssrf import SSRFPolicy
    from httpkit.cache import CacheStore
    from httpkit.cache._stores import SessionCache
    from httpkit.stores import Store

Verify: TypeAlias = "bool | str"
Cert: TypeAlias = "str | tuple[str, str]"

# -- one host policy's settings, validated -------------------------------------------


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


class HostConfig(Record):
    """The settings of one host policy; ``UNSET`` fields fall back to the session's.

    Settings are those of :meth:`httpkit.Session.configure`. A policy does not inherit
    from a less specific policy: the most specific match applies as a whole.
    """

    __slots__ = (
        "auth",
        "cache",
        "cert",
        "circuit",
        "deadline",
        "headers",
        "key_password",
        "max_body",
        "middlewares",
        "min_tls",
        "pins",
        "rate_limit",
        "retry",
        "ssrf",
        "timeout",
        "trust",
        "verify",
    )
    timeout: Timeouts | _Unset
    retry: RetryPolicy | Retry | _Unset
    deadline: float | _Unset | None
    headers: tuple[tuple[str, str], ...] | _Unset
    auth: AuthBase | _Unset
    verify: Verify | _Unset
    cert: Cert | _Unset
    trust: str | _Unset
    min_tls: str | _Unset
    pins: frozenset[str] | _Unset
    key_password: KeyPassword | _Unset
    middlewares: tuple[Any, ...] | _Unset
    max_body: int | _Unset | None
    ssrf: SSRFPolicy | _Unset | None
    cache: CacheStore | SessionCache | _Unset | None
    rate_limit: RateLimit | _Unset | None
    circuit: CircuitBreaker | _Unset | None

    def __init__(
        self,
        *,
        timeout: Timeouts | _Unset = UNSET,
        retry: RetryPolicy | Retry | _Unset = UNSET,
        deadline: float | _Unset | None = UNSET,
        headers: tuple[tuple[str, str], ...] | _Unset = UNSET,
        auth: AuthBase | _Unset = UNSET,
        verify: Verify | _Unset = UNSET,
        cert: Cert | _Unset = UNSET,
        trust: str | _Unset = UNSET,
        min_tls: str | _Unset = UNSET,
        pins: frozenset[str] | _Unset = UNSET,
        key_password: KeyPassword | _Unset = UNSET,
        middlewares: tuple[Any, ...] | _Unset = UNSET,
        max_body: int | _Unset | None = UNSET,
        ssrf: SSRFPolicy | _Unset | None = UNSET,
        cache: CacheStore | SessionCache | _Unset | None = UNSET,
        rate_limit: RateLimit | _Unset | None = UNSET,
        circuit: CircuitBreaker | _Unset | None = UNSET,
    ) -> None:
        """Hold already validated values; :meth:`from_settings` validates user input."""
        self._init(locals())

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], *, where: str) -> HostConfig:
        """Validate keyword settings; ``where`` prefixes every error message.

        Raises:
            ConfigError: an unknown key or a bad value, named in the message.
        """
        known = cls._field_names
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
        changes = {name: getattr(newer, name) for name in newer._field_names}
        return self.replace(**{k: v for k, v in changes.items() if v is not UNSET})

    def header_dict(self) -> dict[str, str]:
        return dict(self.headers) if not isinstance(self.headers, _Unset) else {}

    def __repr__(self) -> str:
        shown = []
        for name in self._field_names:
            value = getattr(self, name)
            if value is UNSET:
                continue
            if name == "headers":
                value = redact_headers(dict(value))
            elif isinstance(value, frozenset):
                value = sorted(value)  # one repr for one value, whatever the set's history
            shown.append(f"{name}={value!r}")
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


def _on_first_use(module: str, name: str) -> Callable[[str, Any], Any]:
    """The check ``module.name``, imported when a value that turns a feature on is checked.

    ``None`` and ``False`` (off) are answered here: a session that never turns the
    feature on never imports its module.
    """

    def check(where: str, value: Any) -> Any:
        if value is None or value is False:
            return None
        return getattr(importlib.import_module(module), name)(where, value)

    return check


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
    "ssrf": _on_first_use("httpkit._ssrf", "check_ssrf"),
    "cache": _on_first_use("httpkit.cache", "check_cache"),
    "rate_limit": _on_first_use("httpkit._ratelimit", "check_rate_limit"),
    "circuit": _on_first_use("httpkit._circuit", "check_circuit"),
}


# -- effective settings ------------------------------------------------------------------

#: Session-level settings when the caller gives none.
DEFAULT_SESSION_CONFIG: Final = HostConfig(
    timeout=DEFAULT_TIMEOUTS, retry=DEFAULT_RETRY, deadline=300.0
)


class SessionShared:
    """What every adapter of one session shares: credential header names, the store, and
    the rate limiters that keep their state in it.

    Pickled once with the session and its adapters, so they keep sharing it. A shared store
    (SQLite, Redis) pickles as its settings; a MemoryStore comes back empty.
    """

    __slots__ = ("_cache", "_store", "breakers", "ledgers", "limiters", "sensitive")

    def __init__(
        self, sensitive: frozenset[str] = SENSITIVE_HEADERS, store: Store | None = None
    ) -> None:
        self.sensitive = sensitive
        self._store = store
        self.limiters: dict[RateLimit, RateLimiter] = {}
        self.breakers: dict[CircuitBreaker, Circuits] = {}
        self.ledgers: dict[RetryBudget, RetryLedger] = {}
        self._cache: CacheStore | None = None

    @property
    def store(self) -> Store:
        """The session's store; a :class:`~httpkit.MemoryStore` made on first use if none."""
        store = self._store
        if store is None:
            from httpkit.stores import MemoryStore  # loaded with the first feature using it

            store = self._store = MemoryStore()
        return store

    def limiter(self, limit: RateLimit) -> RateLimiter:
        """The session's one limiter for ``limit``: two policies for one origin share it."""
        found = self.limiters.get(limit)
        if found is None:
            from httpkit._ratelimit import RateLimiter  # loaded with the first rate limit

            found = self.limiters[limit] = RateLimiter(limit, self.store)
        return found

    def circuits(self, breaker: CircuitBreaker) -> Circuits:
        """The session's circuits for ``breaker``, one per origin, in the store."""
        found = self.breakers.get(breaker)
        if found is None:
            from httpkit._circuit import Circuits  # loaded with the first circuit breaker

            found = self.breakers[breaker] = Circuits(breaker, self.store)
        return found

    def cache(self) -> CacheStore:
        """The cache ``cache=True`` means: one per session, in its store if shared."""
        if self._cache is None:
            from httpkit.cache import session_cache  # loaded by the first cached policy

            self._cache = session_cache(self._store)
        return self._cache

    def ledger(self, budget: RetryBudget) -> RetryLedger:
        """The session's count of requests and retries for ``budget``, in the store."""
        found = self.ledgers.get(budget)
        if found is None:
            found = self.ledgers[budget] = RetryLedger(budget, self.store)
        return found

    def __getstate__(self) -> dict[str, Any]:
        return {"sensitive": self.sensitive, "store": self._store}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["sensitive"], state.get("store"))  # type: ignore[misc]


class Settings(Record):
    """A host policy's settings, each taken from the policy or else the session."""

    __slots__ = (
        "budget",
        "cache",
        "circuits",
        "deadline",
        "defaults",
        "limiter",
        "max_body",
        "middlewares",
        "policy",
        "retry",
        "ssrf",
        "timeouts",
    )
    policy: HostConfig
    defaults: HostConfig
    timeouts: Timeouts
    retry: RetryRules
    deadline: float | None
    max_body: int | None
    ssrf: SSRFPolicy | None
    cache: CacheStore | None
    limiter: RateLimiter | None
    circuits: Circuits | None
    #: Where the retry budget of ``retry`` counts, if it has one.
    budget: RetryLedger | None
    #: The session's middlewares, then the policy's (both run, the session's outermost).
    middlewares: tuple[Any, ...]

    def __init__(
        self,
        *,
        policy: HostConfig,
        defaults: HostConfig,
        timeouts: Timeouts,
        retry: RetryRules,
        deadline: float | None,
        max_body: int | None,
        ssrf: SSRFPolicy | None,
        cache: CacheStore | None,
        limiter: RateLimiter | None,
        circuits: Circuits | None,
        budget: RetryLedger | None,
        middlewares: tuple[Any, ...],
    ) -> None:
        self._init(locals())

    @classmethod
    def of(cls, policy: HostConfig, defaults: HostConfig, shared: SessionShared) -> Settings:
        def pick(name: str) -> Any:
            value = getattr(policy, name)
            value = getattr(defaults, name) if isinstance(value, _Unset) else value
            return None if isinstance(value, _Unset) else value

        rate_limit = pick("rate_limit")
        circuit = pick("circuit")
        cache = pick("cache")
        if cache is not None:
            from httpkit.cache import SESSION_CACHE  # loaded when the setting was checked

            if cache is SESSION_CACHE:
                cache = shared.cache()
        retry = RetryRules.of(pick("retry") or DEFAULT_RETRY)
        return cls(
            policy=policy,
            defaults=defaults,
            timeouts=pick("timeout") or DEFAULT_TIMEOUTS,
            retry=retry,
            deadline=pick("deadline"),
            max_body=pick("max_body"),
            ssrf=pick("ssrf"),
            cache=cache,
            limiter=shared.limiter(rate_limit) if rate_limit is not None else None,
            circuits=shared.circuits(circuit) if circuit is not None else None,
            budget=shared.ledger(retry.budget) if retry.budget is not None else None,
            middlewares=tuple(
                m
                for config in (defaults, policy)
                if not isinstance(config.middlewares, _Unset)
                for m in config.middlewares
            ),
        )


class CallArgs(NamedTuple):
    """What the caller set explicitly for one call; ``UNSET`` (or ``None``) where it did not.

    requests merges session attributes and the environment into ``verify``, ``cert`` and
    ``stream`` before ``send()`` sees them; httpkit keeps the caller's own values apart so
    that each hop resolves them afresh against its own host policy.
    """

    timeout: Any = UNSET
    verify: Any = None
    cert: Any = None
    stream: bool | None = None
    deadline: float | _Unset | None = UNSET
    auth_headers: frozenset[str] = frozenset()


class Hop(NamedTuple):
    """The resolved settings of one hop: what the adapter, its pools and the loop read.

    ``settings`` is ``None`` when the URL is served by an adapter that is not httpkit's
    (one the user mounted); then only the requests-level values apply.
    """

    url: str
    adapter: BaseAdapter
    settings: Settings | None
    #: requests' ``timeout``: a number, a ``(connect, read)`` pair, a urllib3 ``Timeout``
    #: or ``None`` (no timeout).
    timeout: Any
    verify: bool | str
    cert: Any
    stream: bool


def resolve_tls(
    url_policy: HostConfig,
    session_verify: Any,
    session_cert: Any,
    defaults: HostConfig,
    verify: Any,
    cert: Any,
    *,
    trust_env: bool,
) -> tuple[bool | str, Any]:
    """``verify`` and ``cert`` for one hop, from the call's own values (``None``: unset).

    See :func:`httpkit._tls.resolve_verify` for the levels of ``verify``; ``cert``: the
    call's, else the policy's, else ``session.cert``.
    """
    if verify is None or verify is True:
        verify = resolve_verify(
            verify,
            url_policy.verify,
            url_policy.trust,
            session_verify,
            defaults.trust,
            trust_env=trust_env,
        )
    if cert is None:
        cert = url_policy.cert if not isinstance(url_policy.cert, _Unset) else session_cert
    return verify, cert


def resolve_hop(
    url: str,
    adapter: BaseAdapter,
    settings: Settings | None,
    args: CallArgs,
    *,
    session: Any,
) -> Hop:
    """Resolve one hop: the adapter's settings, then the call's explicit arguments.

    ``session`` supplies ``verify``, ``cert``, ``stream``, ``trust_env`` and the session
    defaults (for a URL no httpkit adapter serves).
    """
    policy = settings.policy if settings is not None else HostConfig()
    defaults = settings.defaults if settings is not None else session.defaults
    verify, cert = resolve_tls(
        policy,
        session.verify,
        session.cert,
        defaults,
        args.verify,
        args.cert,
        trust_env=session.trust_env,
    )
    if args.timeout is None:
        timeout = None  # the caller's "no timeout", as requests has it
    elif args.timeout is not UNSET:
        timeout = to_requests_timeout(args.timeout)
    elif settings is not None:
        timeout = settings.timeouts.as_tuple()
    else:
        own = defaults.timeout
        timeout = (own if isinstance(own, Timeouts) else DEFAULT_TIMEOUTS).as_tuple()
    stream = session.stream if args.stream is None else args.stream
    return Hop(url, adapter, settings, timeout, verify, cert, bool(stream))


def call_deadline(args: CallArgs, settings: Settings | None) -> float | None:
    """The deadline of a call, fixed at its first hop: the call's, else the policy's/session's.

    A URL served by an adapter the user mounted gets none unless the call asks: httpkit
    cannot bound what that adapter does.
    """
    if not isinstance(args.deadline, _Unset):
        return args.deadline
    return settings.deadline if settings is not None else None
