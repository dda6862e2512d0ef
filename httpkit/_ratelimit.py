"""Client-side rate limits: a token bucket per origin, and the limits servers announce.

``rate_limit="10/s"`` spaces requests to each origin (scheme, host, port) so no more than
10 start in any second; ``"auto"`` reads ``RateLimit-*``/``X-RateLimit-*`` response headers
and pauses the origin when the server says its quota is spent; ``"10/s+auto"`` does both.
A ``429``/``503`` with ``Retry-After`` pauses the origin too, for every thread of the
session, and a retry that already waited for it takes no second wait.

Waiting never runs past the call's deadline: when the wait would, the call raises
:class:`~httpkit.DeadlineExceeded` at once instead of sleeping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from httpkit import _clock
from httpkit._exceptions import ConfigError
from httpkit._http import origin_key, parse_decimal, parse_retry_after

if TYPE_CHECKING:
    from collections.abc import Mapping

    from requests import Response

    from httpkit._deadline import Deadline
    from httpkit.stores import Store

_UNITS: Final = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}
_RATE: Final = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+?)s?\s*$")
#: A reset larger than this is a Unix time, not a number of seconds (about 2001-09-09).
_EPOCH_THRESHOLD: Final = 1_000_000_000
#: The most a server's announced reset or Retry-After pauses an origin, in seconds.
MAX_PAUSE: Final = 24 * 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimit:
    """A client-side rate limit, applied per origin.

    Args:
        requests: how many requests may start per ``per`` seconds; ``None`` for no fixed
            rate (adaptive only).
        per: the period, in seconds.
        burst: how many requests may start at once after a quiet spell (1: evenly spaced).
        adaptive: follow the limits the server announces (``RateLimit-*``,
            ``X-RateLimit-*``, ``Retry-After`` on 429/503).

    >>> RateLimit.parse("600/min")
    RateLimit(requests=600, per=60.0, burst=1, adaptive=False)
    >>> RateLimit.parse("10/s+auto").adaptive
    True
    >>> RateLimit.parse("auto").requests is None
    True
    """

    requests: int | None = None
    per: float = 1.0
    burst: int = 1
    adaptive: bool = False

    def __post_init__(self) -> None:
        if self.requests is not None and (
            isinstance(self.requests, bool)
            or not isinstance(self.requests, int)
            or self.requests < 1
        ):
            raise ConfigError(
                f"RateLimit.requests must be an int > 0 or None, got {self.requests!r}"
            )
        if isinstance(self.per, bool) or not isinstance(self.per, int | float) or not self.per > 0:
            raise ConfigError(f"RateLimit.per must be seconds > 0, got {self.per!r}")
        if isinstance(self.burst, bool) or not isinstance(self.burst, int) or self.burst < 1:
            raise ConfigError(f"RateLimit.burst must be an int > 0, got {self.burst!r}")
        if self.requests is None and not self.adaptive:
            raise ConfigError("RateLimit needs requests= (a fixed rate), adaptive=True, or both")

    @property
    def interval(self) -> float:
        """Seconds between two requests at the fixed rate (0: no fixed rate)."""
        return self.per / self.requests if self.requests else 0.0

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """Parse ``"10/s"``, ``"600/min"``, ``"100/15min"``, ``"auto"`` or ``"10/s+auto"``.

        Units: ``s``, ``min`` (or ``m``), ``h``, ``d`` and their long forms.

        Raises:
            ConfigError: the text is none of these.
        """
        adaptive = False
        fixed: tuple[int, float] | None = None
        for part in text.lower().split("+"):
            part = part.strip()
            if part == "auto" and not adaptive:
                adaptive = True
                continue
            match = _RATE.match(part)
            unit = _UNITS.get(match.group(3)) if match else None
            if match is None or unit is None or fixed is not None:
                raise ConfigError(
                    f"rate limit {text!r}: expected '<n>/<unit>' such as '10/s' or '600/min', "
                    "'auto', or both as '10/s+auto'"
                )
            count = float(match.group(2)) if match.group(2) else 1.0
            if count <= 0:
                raise ConfigError(f"rate limit {text!r}: the period must be > 0")
            fixed = (int(match.group(1)), count * unit)
        if fixed is None:
            return cls(adaptive=adaptive)
        return cls(requests=fixed[0], per=fixed[1], adaptive=adaptive)

    def __str__(self) -> str:
        unit = {1.0: "s", 60.0: "min", 3600.0: "h", 86400.0: "d"}.get(self.per, f"{self.per:g}s")
        parts = [f"{self.requests}/{unit}"] if self.requests else []
        if self.adaptive:
            parts.append("auto")
        return "+".join(parts)


def check_rate_limit(where: str, value: Any) -> RateLimit | None:
    """Validate a ``rate_limit`` setting: ``None``/``False``, a string or a RateLimit.

    Raises:
        ConfigError: naming the key and the bad value.
    """
    if value is None or value is False:
        return None
    if isinstance(value, RateLimit):
        return value
    if isinstance(value, str):
        try:
            return RateLimit.parse(value)
        except ConfigError as exc:
            raise ConfigError(f"{where}: rate_limit: {exc}") from None
    raise ConfigError(
        f"{where}: rate_limit: expected a string such as '10/s', '600/min', 'auto' or "
        f"'10/s+auto', or an httpkit.RateLimit, got {value!r}"
    )


# -- what servers announce ---------------------------------------------------------------


def _number(value: str | None) -> float | None:
    """The first item of a possibly listed header (``60, 60;w=1``), as a decimal."""
    if value is None:
        return None
    return parse_decimal(value.split(",")[0].split(";")[0])


def _reset_seconds(value: float, now: float) -> float:
    """A reset as seconds from now: Unix times (s or ms) become deltas."""
    if value > _EPOCH_THRESHOLD * 1000:
        value /= 1000.0
    if value > _EPOCH_THRESHOLD:
        return max(0.0, value - now)
    return value


_STRUCTURED: Final = re.compile(
    r"(?:^|[;,\s])(r|t|remaining|reset|limit|l)\s*=\s*([0-9]{1,15})(?![0-9])", re.ASCII
)


def parse_rate_limit_headers(
    headers: Mapping[str, str], now: float | None = None
) -> tuple[float | None, float | None, float | None]:
    """``(limit, remaining, reset seconds from now)`` a response announces; ``None`` if absent.

    Reads ``RateLimit-Limit``/``-Remaining``/``-Reset`` (IETF draft), the combined
    ``RateLimit: limit=10, remaining=0, reset=5`` and ``RateLimit: "p";r=0;t=5`` forms, and
    ``X-RateLimit-*`` (GitHub, Twitter...), where the reset may be seconds or a Unix time.

    >>> parse_rate_limit_headers({"RateLimit-Remaining": "0", "RateLimit-Reset": "1"})
    (None, 0.0, 1.0)
    >>> parse_rate_limit_headers(
    ...     {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1030"},
    ...     now=1000.0,
    ... )
    (60.0, 0.0, 1030.0)
    >>> parse_rate_limit_headers({"X-RateLimit-Reset": "1700000030"}, now=1700000000.0)
    (None, None, 30.0)
    """
    now = _clock.wall() if now is None else now
    limit = remaining = reset = None
    for prefix in ("RateLimit-", "X-RateLimit-", "X-Rate-Limit-"):
        limit = limit if limit is not None else _number(headers.get(prefix + "Limit"))
        if remaining is None:
            remaining = _number(headers.get(prefix + "Remaining"))
        if reset is None:
            raw = _number(headers.get(prefix + "Reset"))
            reset = _reset_seconds(raw, now) if raw is not None else None
    combined = headers.get("RateLimit")
    if combined:
        found = {k: float(v) for k, v in _STRUCTURED.findall(combined)}
        limit = limit if limit is not None else found.get("limit", found.get("l"))
        remaining = remaining if remaining is not None else found.get("remaining", found.get("r"))
        if reset is None:
            reset = found.get("reset", found.get("t"))
    return limit, remaining, reset


# -- the limiter -------------------------------------------------------------------------


class HostState:
    """The limiter's handle on one origin's state, which the session's store keeps.

    The state is one number, the GCRA's theoretical arrival time (``stores._base.gcra``):
    the fixed rate moves it on with each request, and a pause the server asks for pushes it
    forward. With a shared store, every process of the fleet reads and moves the same one.
    """

    __slots__ = ("interval", "key", "limit", "store")

    def __init__(self, limit: RateLimit, store: Store, key: str) -> None:
        self.limit = limit
        self.interval = limit.interval
        self.store = store
        self.key = key

    def acquire(self, request: Any, clock: Deadline | None) -> float:
        """Wait for this origin's next slot; return how long that was, in seconds.

        Raises:
            DeadlineExceeded: the wait would end after the call's deadline (no slot is
                taken then).
        """
        max_wait = clock.remaining() if clock is not None else None
        wait = self.store.take(self.key, self.interval, self.limit.burst, max_wait)
        if wait > 0:
            if clock is not None and max_wait is not None and wait >= max_wait:
                clock.check_wait(wait, request, "for the rate limit")
            _clock.sleep(wait)
        return wait

    def pause(self, seconds: float) -> None:
        """Start no request to this origin for ``seconds`` (the longest pause asked wins)."""
        self.store.hold(self.key, min(seconds, MAX_PAUSE), self.interval, self.limit.burst)

    def observe(self, response: Response) -> None:
        """Pause if the response says the quota is spent, or asks to retry later."""
        headers = response.headers
        if response.status_code in (429, 503):
            wait = parse_retry_after(headers.get("Retry-After"))
            if wait is not None:
                self.pause(wait)
                return
        if not self.limit.adaptive or not any("rate" in name.lower() for name in headers):
            return  # the common case: nothing announced, nothing to parse
        _, remaining, reset = parse_rate_limit_headers(headers)
        spent = remaining is not None and remaining < 1
        if reset is not None and (spent or response.status_code == 429):
            self.pause(reset)


class RateLimiter:
    """The rate limit of a host policy: one :class:`HostState` per origin, in ``store``.

    One instance serves every thread of a session (one per distinct limit). Every attempt,
    retries included, takes a slot from the state of its origin before it is sent
    (``_transport.adapter``); responses and ``Retry-After`` waits feed back into it. The
    state lives in the session's store under ``rate:<origin>:<interval>/<burst>``, so that
    every process with the same limit for an origin shares it.
    """

    __slots__ = ("_states", "limit", "store")

    def __init__(self, limit: RateLimit, store: Store) -> None:
        self.limit = limit
        self.store = store
        self._states: dict[str, HostState] = {}

    def __repr__(self) -> str:
        return f"RateLimiter({str(self.limit)!r}, {self.store!r})"

    def state(self, url: str) -> HostState:
        origin = origin_key(url)
        state = self._states.get(origin)
        if state is None:
            key = f"rate:{origin}:{self.limit.interval:g}/{self.limit.burst}"
            # Two threads may both make one: they are equal handles on one stored state.
            state = self._states[origin] = HostState(self.limit, self.store, key)
        return state
