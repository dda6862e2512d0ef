"""RetryPolicy, converted to ``urllib3.Retry`` only where an adapter uses it."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from urllib3.util.retry import RequestHistory, Retry

from httpkit import _clock
from httpkit._exceptions import ConfigError
from httpkit._http import is_token, origin_key
from httpkit._record import Record, from_setting

if TYPE_CHECKING:
    from httpkit.stores import Store

#: Statuses worth a second try: rate limited, or a server-side failure that may pass.
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
#: RFC 9110 section 9.2.2: repeating these has the same effect as sending them once.
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})

#: urllib3's own ceiling on ``Retry-After`` (2.5 and newer), which caps the wait silently.
_URLLIB3_RETRY_AFTER_MAX: Final = getattr(Retry, "DEFAULT_RETRY_AFTER_MAX", None)
#: The ``Retry-After`` ceiling when the retry setting names none (a ``urllib3.Retry``).
DEFAULT_RETRY_AFTER_MAX: Final = 120.0


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


class RetryBudget(Record):
    """A cap on retries to an origin: at most ``minimum`` plus ``ratio`` of its requests,
    per ``window`` seconds.

    When an origin fails, every client retrying multiplies its load by the retry count just
    when it can least take it. A budget lets retries through while they are a small share
    of the traffic (one failure here and there) and stops them when most requests fail:
    then each call returns its first failure. With a shared store the count is the
    fleet's. Requests and retries are counted per origin in windows of ``window`` seconds
    of the clock (``budget:<origin>:<window>:requests`` and ``...:retries`` in the store).

    >>> RetryBudget()
    RetryBudget(ratio=0.2, minimum=10, window=10.0)
    >>> RetryBudget.coerce(0.1)
    RetryBudget(ratio=0.1, minimum=10, window=10.0)
    """

    __slots__ = ("minimum", "ratio", "window")
    ratio: float
    minimum: int
    window: float

    def __init__(self, *, ratio: float = 0.2, minimum: int = 10, window: float = 10.0) -> None:
        _non_negative("budget.ratio", ratio)
        _non_negative("budget.minimum", minimum, integer=True)
        _non_negative("budget.window", window)
        if not window > 0:
            raise ConfigError(f"RetryPolicy.budget.window must be > 0 seconds, got {window!r}")
        ratio = float(ratio)
        window = float(window)
        self._init(locals())

    @classmethod
    def coerce(cls, value: Any) -> RetryBudget | None:
        """A ``budget`` setting: a RetryBudget, a ratio, ``True`` (the defaults), a mapping of
        its arguments, or ``None``/``False`` (no budget).

        Raises:
            ConfigError: for anything else.
        """
        if isinstance(value, int | float) and not isinstance(value, bool):
            return cls(ratio=value)
        return from_setting(
            cls,
            value,
            "RetryPolicy.budget",
            keys=("ratio", "minimum", "window"),
            expected="a share of requests (0.2), True, an httpkit.RetryBudget or None",
        )


class RetryLedger:
    """The requests and retries of one budget in one session, counted in its store."""

    __slots__ = ("budget", "store")

    def __init__(self, budget: RetryBudget, store: Store) -> None:
        self.budget = budget
        self.store = store

    def __repr__(self) -> str:
        return f"RetryLedger({self.budget!r}, {self.store!r})"

    def _keys(self, url: str) -> tuple[str, str]:
        base = f"budget:{origin_key(url)}:{int(_clock.wall() // self.budget.window)}:"
        return base + "requests", base + "retries"

    def request(self, url: str) -> None:
        """Count a request (the first attempt of a hop)."""
        self.store.incr(self._keys(url)[0], 2 * self.budget.window)

    def allows_retry(self, url: str) -> bool:
        """Count a retry, and say whether the budget has room for it."""
        requests, retries = self._keys(url)
        spent = self.store.incr(retries, 2 * self.budget.window)
        (made,) = self.store.get_many([requests])
        return spent <= self.budget.minimum + self.budget.ratio * _count(made)


def _count(value: bytes | None) -> int:
    """A counter as a store keeps it (ASCII digits); 0 for none or anything else."""
    return int(value) if value is not None and value.isdigit() else 0


class RetryPolicy(Record):
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
        budget: a :class:`RetryBudget` (or its ratio, or ``True`` for its defaults) that
            stops retries to an origin when they pass a share of its recent requests;
            ``None`` (the default): no budget. See ``docs/fleet.md``.

    >>> RetryPolicy(total=5, backoff_factor=0).to_urllib3().total
    5
    >>> RetryPolicy.coerce(2)
    RetryPolicy(total=2, backoff_factor=0.5, ...)
    """

    __slots__ = (
        "_retry",
        "backoff_factor",
        "backoff_max",
        "budget",
        "idempotency_key",
        "jitter",
        "methods",
        "redirects",
        "respect_retry_after",
        "retry_after_max",
        "statuses",
        "total",
    )
    _derived = ("_retry",)
    total: int
    backoff_factor: float
    backoff_max: float
    jitter: float
    statuses: frozenset[int]
    methods: frozenset[str]
    respect_retry_after: bool
    retry_after_max: float
    idempotency_key: bool
    redirects: int | None
    budget: RetryBudget | None
    _retry: Retry

    def __init__(
        self,
        *,
        total: int = 3,
        backoff_factor: float = 0.5,
        backoff_max: float = 30.0,
        jitter: float = 1.0,
        statuses: Iterable[int] = RETRY_STATUSES,
        methods: Iterable[str] = IDEMPOTENT_METHODS,
        respect_retry_after: bool = True,
        retry_after_max: float = 120.0,
        idempotency_key: bool = False,
        redirects: int | None = None,
        budget: RetryBudget | float | bool | None = None,
    ) -> None:
        _non_negative("total", total, integer=True)
        if redirects is not None:
            _non_negative("redirects", redirects, integer=True)
        for name, value in (
            ("backoff_factor", backoff_factor),
            ("backoff_max", backoff_max),
            ("jitter", jitter),
            ("retry_after_max", retry_after_max),
        ):
            _non_negative(name, value)
        statuses = _frozen_statuses(statuses)
        methods = _frozen_methods(methods)
        budget = RetryBudget.coerce(budget)
        self._init(locals())
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
            + ("" if self.budget is None else f", budget={self.budget!r}")
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
        if _URLLIB3_RETRY_AFTER_MAX is not None:
            kwargs["retry_after_max"] = math.ceil(self.retry_after_max)
        return Retry(
            total=self.total,
            redirect=self.redirects,
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
        """The ``urllib3.Retry`` that carries this policy (built once, immutable in use).

        httpkit counts attempts with it and runs every attempt itself (see
        ``docs/architecture.md``); ``redirect`` is the policy's redirect limit.
        """
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


class RetryRules(Record):
    """Every retry setting, whatever form it came in, as the one value httpkit enforces.

    ``retry`` is the ``urllib3.Retry`` that counts attempts and decides what may be retried
    (a ``RetryPolicy``'s own, or the caller's object as given, so every one of its fields
    and any subclass behaviour is kept). On top of it httpkit applies, for every form: the
    ``Retry-After`` ceiling, the redirect limit, replay safety, the deadline and rate limits.

    >>> rules = RetryRules.of(Retry(total=3, redirect=0))
    >>> rules.redirects, rules.retry_after_max
    (0, 120.0)
    >>> RetryRules.of(RetryPolicy.coerce(False)).redirects
    0
    >>> RetryRules.of(RetryPolicy()).redirects is None
    True
    """

    __slots__ = ("budget", "idempotency_key", "methods", "redirects", "retry", "retry_after_max")
    retry: Retry
    #: The longest ``Retry-After`` waited for; a longer one raises ``RetryAfterTooLong``.
    retry_after_max: float
    #: How many redirects a call may follow; ``None``: ``session.max_redirects``.
    redirects: int | None
    #: Send one ``Idempotency-Key`` per call (``RetryPolicy(idempotency_key=True)``).
    idempotency_key: bool
    #: Methods retried after a read error or a status (``retry.allowed_methods``, upper
    #: case); ``None``: every method.
    methods: frozenset[str] | None
    #: The cap on retries to an origin (``RetryPolicy(budget=...)``), if any.
    budget: RetryBudget | None

    def __init__(
        self,
        retry: Retry,
        retry_after_max: float,
        redirects: int | None,
        idempotency_key: bool = False,
        methods: frozenset[str] | None = None,
        budget: RetryBudget | None = None,
    ) -> None:
        self._init(locals())

    @classmethod
    def of(cls, value: RetryPolicy | Retry) -> RetryRules:
        """The rules of a coerced retry setting (see :meth:`RetryPolicy.coerce`)."""
        if isinstance(value, RetryPolicy):
            retry = value.to_urllib3()
            return cls(
                retry,
                value.retry_after_max,
                value.redirects,
                value.idempotency_key,
                _allowed_methods(retry),
                value.budget,
            )
        ceiling = getattr(value, "retry_after_max", None)
        if ceiling is None or ceiling == _URLLIB3_RETRY_AFTER_MAX:
            ceiling = DEFAULT_RETRY_AFTER_MAX
        return cls(
            value, float(ceiling), _urllib3_redirects(value), methods=_allowed_methods(value)
        )


def _allowed_methods(retry: Retry) -> frozenset[str] | None:
    allowed = retry.allowed_methods
    return None if allowed is None else frozenset(m.upper() for m in allowed)


def _urllib3_redirects(retry: Retry) -> int | None:
    """A ``urllib3.Retry``'s redirect limit: ``redirect``, capped by ``total``.

    ``total=0``, ``total=False`` and ``redirect=False`` follow none, as in urllib3.
    """
    limits = [v for v in (retry.total, retry.redirect) if v is not None]
    if any(v is False for v in limits):
        return 0
    return min(limits) if limits else None


class RetryHistory(Record):
    """What the retries of one request did; found on ``response.retries``.

    Attributes:
        attempts: requests sent for this response, the first one included.
        history: one urllib3 ``RequestHistory`` per attempt that was retried, with its
            ``status`` (a retried response) or ``error`` (a connection or read failure).
    """

    __slots__ = ("attempts", "history")
    attempts: int
    history: tuple[RequestHistory, ...]

    def __init__(self, attempts: int, history: tuple[RequestHistory, ...] = ()) -> None:
        self._init(locals())

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
