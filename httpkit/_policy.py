"""Which setting applies: one host policy's effective settings, and one hop's resolved value.

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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from httpkit._hosts import HostConfig
from httpkit._redact import SENSITIVE_HEADERS
from httpkit._retry import DEFAULT_RETRY, RetryRules
from httpkit._timeouts import DEFAULT_TIMEOUTS, UNSET, Timeouts, _Unset, to_requests_timeout
from httpkit._tls import resolve_verify

if TYPE_CHECKING:
    from requests.adapters import BaseAdapter

    from httpkit._cache import CacheStore
    from httpkit._call import CallArgs
    from httpkit._ratelimit import RateLimit, RateLimiter
    from httpkit._ssrf import SSRFPolicy

#: Session-level settings when the caller gives none.
DEFAULT_SESSION_CONFIG: Final = HostConfig(
    timeout=DEFAULT_TIMEOUTS, retry=DEFAULT_RETRY, deadline=300.0
)


class SessionShared:
    """What every adapter of one session shares: credential header names, rate limiters.

    Pickled once with the session and its adapters, so they keep sharing it; rate-limit
    state is local to a process and starts afresh after unpickling.
    """

    __slots__ = ("limiters", "sensitive")

    def __init__(self, sensitive: frozenset[str] = SENSITIVE_HEADERS) -> None:
        self.sensitive = sensitive
        self.limiters: dict[RateLimit, RateLimiter] = {}

    def limiter(self, limit: RateLimit) -> RateLimiter:
        """The session's one limiter for ``limit``: two policies for one origin share it."""
        from httpkit._ratelimit import RateLimiter

        found = self.limiters.get(limit)
        if found is None:
            found = self.limiters[limit] = RateLimiter(limit)
        return found

    def __getstate__(self) -> dict[str, Any]:
        return {"sensitive": self.sensitive}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["sensitive"])  # type: ignore[misc]  # fresh limiters


@dataclass(frozen=True, slots=True)
class Settings:
    """A host policy's settings, each taken from the policy or else the session."""

    policy: HostConfig
    defaults: HostConfig
    timeouts: Timeouts
    retry: RetryRules
    deadline: float | None
    max_body: int | None
    ssrf: SSRFPolicy | None
    cache: CacheStore | None
    limiter: RateLimiter | None
    #: The session's middlewares, then the policy's (both run, the session's outermost).
    middlewares: tuple[Any, ...]

    @classmethod
    def of(cls, policy: HostConfig, defaults: HostConfig, shared: SessionShared) -> Settings:
        def pick(name: str) -> Any:
            value = getattr(policy, name)
            value = getattr(defaults, name) if isinstance(value, _Unset) else value
            return None if isinstance(value, _Unset) else value

        rate_limit = pick("rate_limit")
        return cls(
            policy=policy,
            defaults=defaults,
            timeouts=pick("timeout") or DEFAULT_TIMEOUTS,
            retry=RetryRules.of(pick("retry") or DEFAULT_RETRY),
            deadline=pick("deadline"),
            max_body=pick("max_body"),
            ssrf=pick("ssrf"),
            cache=pick("cache"),
            limiter=shared.limiter(rate_limit) if rate_limit is not None else None,
            middlewares=tuple(
                m
                for config in (defaults, policy)
                if not isinstance(config.middlewares, _Unset)
                for m in config.middlewares
            ),
        )


@dataclass(frozen=True, slots=True)
class Hop:
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
