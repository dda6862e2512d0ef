"""What a store does: the few operations the fleet's features are built on.

A store keeps small values under string keys, each with an optional lifetime, and does
each operation atomically for every process that shares it. The features above it (rate
limits, the circuit breaker) are written once against these operations; the three stores
differ only in where the values live and whose clock they read:

* :class:`~httpkit.MemoryStore`: this process, its monotonic clock;
* :class:`~httpkit.SQLiteStore`: a file shared by the processes of one machine, its clock;
* :class:`~httpkit.RedisStore`: a Redis or Valkey server shared by many machines, the
  server's clock (``TIME``), so that clock skew between machines never matters.

Numbers are kept as ASCII decimals, so every store reads what another wrote.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class Store(Protocol):
    """The operations every store provides; each is atomic across the processes sharing it.

    Lifetimes (``ttl``) are seconds; ``None`` keeps a value until it is replaced or deleted.
    """

    #: Whether other processes see this store's values (``False`` for a MemoryStore).
    shared: bool

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The values of ``keys``, in order; ``None`` for a key that is absent or expired."""
        ...

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Keep ``value`` under ``key``, replacing what was there."""
        ...

    def add(self, key: str, value: bytes, ttl: float) -> bool:
        """Keep ``value`` only if ``key`` holds nothing; whether it did (a lease, a lock)."""
        ...

    def incr(self, key: str, ttl: float) -> int:
        """Add one to the counter under ``key`` and return it; a new counter lives ``ttl``."""
        ...

    def delete(self, *keys: str) -> None:
        """Remove ``keys``; absent keys are ignored."""
        ...

    def take(self, key: str, interval: float, burst: int, max_wait: float | None) -> float:
        """Reserve the next request slot of the rate under ``key`` (GCRA, see :func:`gcra`).

        Returns the seconds to wait before the slot starts. When that wait is positive and
        not less than ``max_wait``, nothing is reserved and the wait is returned all the same.
        """
        ...

    def hold(self, key: str, seconds: float, interval: float, burst: int) -> None:
        """Start no request of the rate under ``key`` for ``seconds`` from now."""
        ...

    def close(self) -> None:
        """Let go of connections; the store opens them again if used afterwards."""
        ...


def gcra(
    tat: float, now: float, interval: float, burst: int, max_wait: float | None
) -> tuple[float, float]:
    """One request under the generic cell rate algorithm: ``(wait, the new TAT)``.

    ``tat`` is the theoretical arrival time of the next request at the steady rate of one
    per ``interval``; up to ``burst`` requests may start together after a quiet spell.
    The wait is how long after ``now`` the request may start; a refused request (a positive
    wait not under ``max_wait``) leaves the TAT as it was. A pause pushes the TAT forward
    (:func:`held`), so one value per key holds both.

    The Redis store runs the same rule in Lua, on the server (``_redis.TAKE``).

    >>> gcra(0.0, 100.0, 0.5, 1, None)  # idle: at once, the next one in 0.5 s
    (0.0, 100.5)
    >>> gcra(100.5, 100.0, 0.5, 1, None)
    (0.5, 101.0)
    >>> gcra(101.0, 100.0, 0.5, 3, None)  # a burst of 3: the third starts at once
    (0.0, 101.5)
    >>> gcra(100.5, 100.0, 0.5, 1, 0.2)  # refused: the TAT is kept
    (0.5, 100.5)
    """
    wait = tat - (burst - 1) * interval - now
    if wait <= 0:
        wait = 0.0
    elif max_wait is not None and wait >= max_wait:
        return wait, tat
    return wait, (tat if tat > now else now) + interval


def held(tat: float, now: float, seconds: float, interval: float, burst: int) -> float:
    """The TAT after a pause of ``seconds``: no request starts before ``now + seconds``.

    >>> held(0.0, 100.0, 5.0, 0.5, 3)  # the burst may start at 105
    106.0
    >>> held(200.0, 100.0, 5.0, 0.5, 1)  # a later TAT stands
    200.0
    """
    until = now + seconds + (burst - 1) * interval
    return until if until > tat else tat


def number(value: bytes | None, default: float = 0.0) -> float:
    """A stored decimal; ``default`` for none, or for a value that is not one."""
    if value is None:
        return default
    try:
        parsed = float(value)
    except ValueError:
        return default
    return parsed if math.isfinite(parsed) else default


def encode(value: float) -> bytes:
    """A number as stored: ASCII, microsecond precision for times."""
    return b"%.6f" % value
