"""RetryPolicy, converted to ``urllib3.Retry`` only where an adapter uses it."""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util.retry import RequestHistory, Retry

from httpkit._deadline import ACTIVE_CALL
from httpkit._exceptions import ConfigError, DeadlineExceeded, RetryAfterTooLong, UnreplayableBody
from httpkit._http import is_token
from httpkit._ratelimit import retry_waits
from httpkit._redact import strip_query

if TYPE_CHECKING:
    from types import TracebackType

    from urllib3.connectionpool import ConnectionPool
    from urllib3.response import BaseHTTPResponse

#: Statuses worth a second try: rate limited, or a server-side failure that may pass.
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
#: RFC 9110 section 9.2.2: repeating these has the same effect as sending them once.
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})

# urllib3 gained ``retry_after_max`` (a cap on Retry-After) in 2.5; older 2.x lacks it.
# httpkit checks the limit itself, so urllib3's cap is lifted out of the way.
_URLLIB3_HAS_RETRY_AFTER_MAX: Final = "retry_after_max" in inspect.signature(Retry).parameters

#: Whether the body of the request being sent can be sent again; set around each send.
BODY_REPLAYABLE: ContextVar[bool] = ContextVar("httpkit_body_replayable", default=True)


class PolicyRetry(Retry):
    """``urllib3.Retry`` with httpkit's rules on top.

    * A ``Retry-After`` longer than ``retry_after_limit`` raises
      :class:`~httpkit.RetryAfterTooLong` instead of sleeping; an unparsable one falls back
      to the backoff instead of raising.
    * No wait (backoff or ``Retry-After``) runs past the call's deadline: the call raises
      :class:`~httpkit.DeadlineExceeded` at once.
    * A retry that would re-send a body that cannot be replayed raises
      :class:`~httpkit.UnreplayableBody`.
    * When retries run out, the ``MaxRetryError`` carries ``attempts``.
    """

    def __init__(self, *args: Any, retry_after_limit: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after_limit = retry_after_limit

    def new(self, **kw: Any) -> PolicyRetry:
        # urllib3 rebuilds the object for every attempt from its own fields only.
        limit = kw.pop("retry_after_limit", self.retry_after_limit)
        retry = super().new(**kw)
        retry.retry_after_limit = limit
        return retry

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            return None  # garbage from the server: use the backoff

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> PolicyRetry:
        try:
            retry = super().increment(method, url, response, error, _pool, _stacktrace)
        except MaxRetryError as exc:
            exc.attempts = len(self.history) + 1  # type: ignore[attr-defined]  # read by HostAdapter
            raise
        body_sent = error is None or not self._is_connection_error(error)
        if body_sent and not BODY_REPLAYABLE.get():
            if response is not None:
                response.drain_conn()  # hand the connection back before giving up
                response.release_conn()
            raise UnreplayableBody(
                f"{method} {strip_query(url)} would be retried, but its body is a generator "
                "or a stream that was already read and would go out empty; pass bytes "
                "or a seekable file to allow retries"
            )
        if response is not None and self.respect_retry_after_header:
            wait = self.get_retry_after(response)
            limit = self.retry_after_limit
            if wait is not None and limit is not None and wait > limit:
                raise RetryAfterTooLong(
                    f"the server asked to retry {method} {strip_query(url)} after {wait:.0f} s, "
                    f"more than retry_after_max ({limit:g} s); not waiting. Raise "
                    "RetryPolicy(retry_after_max=...) to wait that long",
                    retry_after=wait,
                    response=response,  # converted to a requests Response by HostAdapter
                )
        return retry

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        wait = None
        if self.respect_retry_after_header and response is not None:
            wait = self.get_retry_after(response)
        from_server = bool(wait)
        if not wait:
            wait = self.get_backoff_time()
        # Rate limits: a server-asked wait pauses the origin for the session's other
        # threads too; this attempt's own wait is the sleep below (no double wait).
        retry_waits(wait, from_server)
        call = ACTIVE_CALL.get()
        if call is not None and wait >= call.remaining():
            raise DeadlineExceeded(
                f"waiting {wait:.1f} s before the next attempt would pass the deadline of "
                f"{call.seconds:g} s",
                deadline=call.seconds,
            )
        if wait > 0:
            time.sleep(wait)


def body_replayable(request: Any) -> bool:
    """Whether a prepared request's body can be sent again.

    Bytes and strings can; a file can when requests recorded its position and it can seek;
    a generator, or a stream that cannot tell where it is, cannot.
    """
    body = request.body
    if body is None or isinstance(body, bytes | str):
        return True
    return isinstance(getattr(request, "_body_position", None), int) and hasattr(body, "seek")


def _frozen_statuses(value: Iterable[int]) -> frozenset[int]:
    statuses = frozenset(value)
    for status in statuses:
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ConfigError(f"RetryPolicy.statuses must hold HTTP status codes, got {status!r}")
    return statuses


def _frozen_methods(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        raise ConfigError(f"RetryPolicy.methods must be a collection of names, got {value!r}")
    methods = frozenset(value)
    for method in methods:
        if not isinstance(method, str) or not is_token(method):
            raise ConfigError(f"RetryPolicy.methods must hold method names, got {method!r}")
    return frozenset(m.upper() for m in methods)


def _non_negative(name: str, value: object, *, integer: bool = False) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "a whole number" if integer else "a number of seconds"
        raise ConfigError(f"RetryPolicy.{name} must be {what}, got {value!r}")
    if value < 0 or not math.isfinite(value):
        raise ConfigError(f"RetryPolicy.{name} must be >= 0 and finite, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """When and how often to retry, with exponential backoff.

    Attributes:
        total: retries after the first attempt (``3`` means at most four attempts).
        backoff_factor: seconds; the n-th retry waits ``backoff_factor * 2 ** (n - 1)``
            (the first retry does not wait), capped at ``backoff_max``.
        backoff_max: the longest backoff, in seconds.
        jitter: a random extra wait of up to ``jitter * backoff_factor`` seconds, so that
            clients that failed together do not retry together. ``0`` disables it.
        statuses: response statuses that are retried (for ``methods`` only).
        methods: methods retried after a read error or a retryable status. Connection
            errors, which prove the request was not sent, are retried for every method.
        respect_retry_after: wait as long as the server's ``Retry-After`` asks.
        retry_after_max: the longest ``Retry-After`` wait honoured, in seconds.
        idempotency_key: send one ``Idempotency-Key`` header per call, identical on every
            attempt, and retry POST and PATCH like idempotent methods.
        redirects: how many redirects a call may follow; ``None`` leaves it to
            ``session.max_redirects`` (30), ``0`` returns redirect responses unfollowed.

    >>> RetryPolicy(total=5, backoff_factor=0).to_urllib3().total
    5
    >>> RetryPolicy.coerce(2)
    RetryPolicy(total=2, backoff_factor=0.5, ...)
    """

    total: int = 3
    backoff_factor: float = 0.5
    backoff_max: float = 30.0
    jitter: float = 1.0
    statuses: frozenset[int] = RETRY_STATUSES
    methods: frozenset[str] = IDEMPOTENT_METHODS
    respect_retry_after: bool = True
    retry_after_max: float = 120.0
    idempotency_key: bool = False
    redirects: int | None = None
    _retry: Retry = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _non_negative("total", self.total, integer=True)
        if self.redirects is not None:
            _non_negative("redirects", self.redirects, integer=True)
        for name in ("backoff_factor", "backoff_max", "jitter", "retry_after_max"):
            _non_negative(name, getattr(self, name))
        object.__setattr__(self, "statuses", _frozen_statuses(self.statuses))
        object.__setattr__(self, "methods", _frozen_methods(self.methods))
        object.__setattr__(self, "_retry", self._build_urllib3())

    def __repr__(self) -> str:
        # Doctest-friendly and short: the frozensets are spelled out by ``describe()``.
        return (
            f"RetryPolicy(total={self.total}, backoff_factor={self.backoff_factor}, "
            f"backoff_max={self.backoff_max}, jitter={self.jitter}, "
            f"statuses={sorted(self.statuses)}, methods={sorted(self.methods)}, "
            f"respect_retry_after={self.respect_retry_after}, "
            f"retry_after_max={self.retry_after_max}, idempotency_key={self.idempotency_key}"
            + ("" if self.redirects is None else f", redirects={self.redirects}")
            + ")"
        )

    @property
    def retried_methods(self) -> frozenset[str]:
        """The methods retried on read errors and statuses, POST/PATCH included with keys."""
        if self.idempotency_key:
            return self.methods | {"POST", "PATCH"}
        return self.methods

    def _build_urllib3(self) -> Retry:
        kwargs: dict[str, Any] = {}
        if _URLLIB3_HAS_RETRY_AFTER_MAX:
            kwargs["retry_after_max"] = 2**31
        return PolicyRetry(
            retry_after_limit=self.retry_after_max,
            total=self.total,
            redirect=False,  # requests follows redirects itself
            status_forcelist=self.statuses,
            allowed_methods=self.retried_methods,
            backoff_factor=self.backoff_factor,
            backoff_max=self.backoff_max,
            backoff_jitter=self.jitter * self.backoff_factor,
            respect_retry_after_header=self.respect_retry_after,
            raise_on_status=False,  # when status retries run out, return the last response
            **kwargs,
        )

    def to_urllib3(self) -> Retry:
        """The ``urllib3.Retry`` that carries this policy (built once, immutable in use)."""
        return self._retry

    @classmethod
    def coerce(cls, value: RetryArg) -> RetryPolicy | Retry:
        """Accept a policy, a number of retries, ``False`` (no retries) or a ``urllib3.Retry``.

        Raises:
            ConfigError: for anything else, ``None`` and ``True`` included.
        """
        if isinstance(value, RetryPolicy | Retry):
            return value
        if value is False:
            return NOTHING_AGAIN
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                raise ConfigError(f"retry must be >= 0 retries, got {value!r}")
            return cls(total=value)
        raise ConfigError(
            "retry must be an httpkit.RetryPolicy, a number of retries, False (no retries) "
            f"or a urllib3.Retry, got {value!r}"
        )


RetryArg: TypeAlias = "RetryPolicy | Retry | int | bool"

DEFAULT_RETRY: Final = RetryPolicy()
NO_RETRIES: Final = RetryPolicy(total=0)
#: ``retry=False``: as urllib3's ``Retry(False)``, no retries and no redirects followed.
NOTHING_AGAIN: Final = RetryPolicy(total=0, redirects=0)


def redirect_limit(value: RetryPolicy | Retry) -> int | None:
    """How many redirects a retry setting allows; ``None``: no limit of its own.

    >>> redirect_limit(RetryPolicy.coerce(False)), redirect_limit(Retry(redirect=0))
    (0, 0)
    >>> redirect_limit(RetryPolicy()) is None
    True
    """
    if isinstance(value, RetryPolicy):
        return value.redirects
    if value.redirect is False or value.total is False:
        return 0
    return value.redirect if isinstance(value.redirect, int) else None


def to_urllib3(value: RetryPolicy | Retry) -> Retry:
    """The ``urllib3.Retry`` for a coerced retry setting."""
    return value.to_urllib3() if isinstance(value, RetryPolicy) else value


@dataclass(frozen=True, slots=True)
class RetryHistory:
    """What the retries of one request did; found on ``response.retries``.

    Attributes:
        attempts: requests sent for this response, the first one included.
        history: one urllib3 ``RequestHistory`` per attempt that was retried, with its
            ``status`` (a retried response) or ``error`` (a connection or read failure).
    """

    attempts: int
    history: tuple[RequestHistory, ...] = ()

    @classmethod
    def from_urllib3(cls, retry: Retry | None) -> RetryHistory:
        history = tuple(retry.history) if retry is not None else ()
        return cls(attempts=len(history) + 1, history=history)

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why each retry happened: a status code such as ``"503"`` or an error class name.

        >>> RetryHistory(2, (RequestHistory("GET", "/", None, 503, None),)).reasons
        ('503',)
        """
        return tuple(
            str(item.status) if item.error is None else type(item.error).__name__
            for item in self.history
        )

    def __str__(self) -> str:
        if not self.history:
            return "1 attempt"
        return f"{self.attempts} attempts (retried after: {', '.join(self.reasons)})"
