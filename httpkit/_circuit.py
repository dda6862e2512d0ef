"""Host health: a circuit breaker per origin, its state in the session's store.

After ``failures`` consecutive failed attempts to an origin (a connection error, a timeout,
a body that broke off, or a status in ``statuses``), the origin's circuit **opens**: every
attempt to it fails at once with :class:`~httpkit.CircuitOpen`, without touching the
network, for ``reset_after`` seconds. Then it is **half-open**: one attempt, the trial, may
go (one for the whole fleet with a shared store: a lease decides who sends it); its success
closes the circuit, its failure opens it again for ``reset_after`` seconds.

Keys in the store, per origin (``circuit:<origin>:...``): ``failures`` (the consecutive
failures, reset by a success), ``open`` (present while open: it expires after
``reset_after`` on the store's clock), ``tripped`` (present from the opening until a
successful trial) and ``trial`` (the half-open trial's lease).

A healthy origin costs one read of three keys per attempt, and no write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from httpkit._exceptions import CircuitOpen, ConfigError
from httpkit._http import origin_key
from httpkit._record import Record, from_setting
from httpkit._redact import strip_query
from httpkit.stores._base import number

if TYPE_CHECKING:
    from collections.abc import Iterable

    from httpkit.stores import Store

#: The statuses that count as a failure by default: the server or a gateway is unwell.
FAILURE_STATUSES: Final = frozenset({500, 502, 503, 504})
#: How long the count of failures and the "tripped" mark live without news, in seconds.
_MEMORY: Final = 24 * 3600.0


class CircuitBreaker(Record):
    """When an origin's circuit opens, and for how long.

    Args:
        failures: consecutive failed attempts that open the circuit.
        reset_after: seconds the circuit stays open before one trial attempt may go.
        statuses: response statuses that count as failures (a connection error, a timeout
            or a broken body always does; any other response is a success).

    >>> CircuitBreaker()
    CircuitBreaker(failures=5, reset_after=30.0, statuses=frozenset({500, 502, 503, 504}))
    >>> CircuitBreaker.coerce({"failures": 3}).failures
    3
    """

    __slots__ = ("failures", "reset_after", "statuses")
    failures: int
    reset_after: float
    statuses: frozenset[int]

    def __init__(
        self,
        *,
        failures: int = 5,
        reset_after: float = 30.0,
        statuses: Iterable[int] = FAILURE_STATUSES,
    ) -> None:
        if isinstance(failures, bool) or not isinstance(failures, int) or failures < 1:
            raise ConfigError(f"CircuitBreaker: failures must be an int > 0, got {failures!r}")
        if (
            isinstance(reset_after, bool)
            or not isinstance(reset_after, int | float)
            or not 0 < reset_after <= _MEMORY
        ):
            raise ConfigError(
                f"CircuitBreaker: reset_after must be seconds > 0 (at most a day), "
                f"got {reset_after!r}"
            )
        listed = () if isinstance(statuses, str | bytes) else tuple(statuses)
        if not all(
            isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599 for s in listed
        ):
            raise ConfigError(
                f"CircuitBreaker: statuses must be HTTP status codes, got {statuses!r}"
            )
        reset_after = float(reset_after)
        statuses = frozenset(listed)
        self._init(locals())

    def __repr__(self) -> str:
        statuses = "{" + ", ".join(str(s) for s in sorted(self.statuses)) + "}"
        return (
            f"CircuitBreaker(failures={self.failures}, reset_after={self.reset_after!r}, "
            f"statuses=frozenset({statuses}))"
        )

    @classmethod
    def coerce(cls, value: Any, where: str = "circuit") -> CircuitBreaker | None:
        """A ``circuit`` setting: a CircuitBreaker, ``True`` (the defaults), a mapping of
        its arguments, or ``None``/``False`` (none).

        Raises:
            ConfigError: naming the setting and the bad value.
        """
        return from_setting(
            cls,
            value,
            where,
            keys=("failures", "reset_after", "statuses"),
            expected="True, an httpkit.CircuitBreaker or a table such as "
            "{failures = 5, reset_after = 30}",
        )


def check_circuit(where: str, value: Any) -> CircuitBreaker | None:
    return CircuitBreaker.coerce(value, f"{where}: circuit")


class Ticket:
    """One attempt's pass through a circuit: what :meth:`Circuit.after` needs to know."""

    __slots__ = ("failures", "trial")

    def __init__(self, failures: float, trial: bool) -> None:
        self.failures = failures
        self.trial = trial


_HEALTHY: Final = Ticket(0.0, trial=False)


class Circuit:
    """One origin's circuit, as a handle on its keys in the store."""

    __slots__ = ("_keys", "breaker", "origin", "store")

    def __init__(self, breaker: CircuitBreaker, store: Store, origin: str) -> None:
        self.breaker = breaker
        self.store = store
        self.origin = origin
        base = f"circuit:{origin}:"
        self._keys = (base + "failures", base + "open", base + "tripped", base + "trial")

    def before(self, request: Any) -> Ticket:
        """Let one attempt go, or raise :class:`CircuitOpen`.

        Raises:
            CircuitOpen: the circuit is open, or half-open with the trial under way.
        """
        trial_key = self._keys[3]
        failures, opened, tripped = self.store.get_many(self._keys[:3])
        if opened is None and tripped is None:
            return _HEALTHY if failures is None else Ticket(number(failures), trial=False)
        if opened is None and self.store.add(trial_key, b"1", self.breaker.reset_after):
            return Ticket(number(failures), trial=True)
        raise self._open_error(request, half_open=opened is None)

    def after(self, ticket: Ticket, failed: bool | None) -> None:
        """Record how the attempt went: ``None`` when it says nothing of the origin's health."""
        failures_key, open_key, tripped_key, trial_key = self._keys
        store = self.store
        if failed is None:
            if ticket.trial:
                store.delete(trial_key)  # another attempt may be the trial
        elif not failed:
            if ticket.trial or ticket.failures:
                store.delete(failures_key, tripped_key, trial_key)
        elif ticket.trial:
            store.set(open_key, b"1", self.breaker.reset_after)
            store.delete(trial_key)
        elif store.incr(failures_key, _MEMORY) >= self.breaker.failures:
            store.set(tripped_key, b"1", _MEMORY)
            store.set(open_key, b"1", self.breaker.reset_after)

    def failure(self) -> None:
        """Count a failure that came after the attempt's own outcome (a body that broke off)."""
        self.after(_HEALTHY, failed=True)

    def _open_error(self, request: Any, *, half_open: bool) -> CircuitOpen:
        breaker = self.breaker
        target = f"{getattr(request, 'method', 'request')} {strip_query(request.url)}"
        state = (
            "half-open: another attempt is the trial"
            if half_open
            else f"open after {breaker.failures} consecutive failures; one trial attempt "
            f"may go {breaker.reset_after:g} s after it opened"
        )
        return CircuitOpen(
            f"not sending {target}: the circuit for {self.origin} is {state}",
            origin=self.origin,
            request=request,
        )


class Circuits:
    """The circuits of one breaker setting in one session: one :class:`Circuit` per origin."""

    __slots__ = ("_circuits", "breaker", "store")

    def __init__(self, breaker: CircuitBreaker, store: Store) -> None:
        self.breaker = breaker
        self.store = store
        self._circuits: dict[str, Circuit] = {}

    def __repr__(self) -> str:
        return f"Circuits({self.breaker!r}, {self.store!r})"

    def circuit(self, url: str) -> Circuit:
        origin = origin_key(url)
        found = self._circuits.get(origin)
        if found is None:
            found = self._circuits[origin] = Circuit(self.breaker, self.store, origin)
        return found
