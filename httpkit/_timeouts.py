"""Timeouts, and the sentinel that tells "not given" from an explicit ``None``.

requests hands ``timeout=None`` to the adapter whether the caller wrote ``timeout=None`` or
nothing at all, so a default-timeout adapter cannot tell "use the default" from "wait
forever". httpkit resolves a typed sentinel instead: an omitted timeout means the host or
session default; an explicit ``None`` means no timeout, as in requests.
"""

from __future__ import annotations

import enum
import math
from typing import Final, TypeAlias

from urllib3.util import Timeout as Urllib3Timeout

from httpkit._exceptions import ConfigError
from httpkit._record import Record


class _Unset(enum.Enum):
    token = 0

    def __repr__(self) -> str:
        return "UNSET"


#: Marks an argument the caller did not give. An ``Enum`` member, so mypy narrows
#: ``value is UNSET``.
UNSET: Final = _Unset.token


def _check_seconds(owner: str, name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(
            f"Timeout value {name} was {value}, but it must be an int, float or None. "
            f"({owner}.{name} must be a number of seconds or None, got {value!r})"
        )
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(
            f"Attempted to set {name} timeout to {value}, but the timeout cannot be set to a "
            f"value less than or equal to 0. ({owner}.{name} must be > 0 and finite, or None, "
            f"got {value!r})"
        )
    return float(value)


class Timeouts(Record):
    """Connect and read timeouts in seconds; ``None`` waits forever.

    ``read`` bounds each wait for data from the server, not the whole response.

    >>> Timeouts()
    Timeouts(connect=3.05, read=30.0)
    >>> Timeouts(connect=2, read=10).as_tuple()
    (2.0, 10.0)
    >>> Timeouts.coerce((1, None))
    Timeouts(connect=1.0, read=None)
    """

    __slots__ = ("connect", "read")
    connect: float | None
    read: float | None

    def __init__(self, *, connect: float | None = 3.05, read: float | None = 30.0) -> None:
        connect = _check_seconds("Timeouts", "connect", connect)
        read = _check_seconds("Timeouts", "read", read)
        self._init(locals())

    def as_tuple(self) -> tuple[float | None, float | None]:
        """Return ``(connect, read)``, the form requests accepts."""
        return (self.connect, self.read)

    @classmethod
    def coerce(cls, value: TimeoutArg) -> Timeouts:
        """Build a :class:`Timeouts` from anything httpkit accepts as a timeout.

        A number sets both timeouts; a ``(connect, read)`` pair sets each; ``None`` means
        no timeout at all; a :class:`Timeouts` is returned as is.

        Raises:
            ConfigError: the value is none of those.
        """
        if isinstance(value, Timeouts):
            return value
        if value is None:
            return NO_TIMEOUTS
        if isinstance(value, tuple):
            if len(value) != 2:
                raise ConfigError(
                    f"Invalid timeout {value}. Pass a (connect, read) timeout tuple, or a single "
                    f"float to set both timeouts to the same value. (got {len(value)} items)"
                )
            return cls(connect=value[0], read=value[1])
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(
                f"Timeout value connect was {value}, but it must be an int, float or None. "
                "(timeout must be seconds (a number), a (connect, read) tuple, "
                f"httpkit.Timeouts or None, got {value!r})"
            )
        return cls(connect=value, read=value)


#: What httpkit accepts wherever a timeout goes.
TimeoutArg: TypeAlias = "Timeouts | float | tuple[float | None, float | None] | None"
#: What requests' adapters accept.
RequestsTimeout: TypeAlias = "float | tuple[float | None, float | None] | Urllib3Timeout | None"

DEFAULT_TIMEOUTS: Final = Timeouts()
NO_TIMEOUTS: Final = Timeouts(connect=None, read=None)


def to_requests_timeout(value: object) -> RequestsTimeout:
    """Turn a per-call timeout into the value requests' adapter expects.

    urllib3 ``Timeout`` objects pass through, as they do in requests.
    """
    if isinstance(value, Urllib3Timeout):
        return value
    return Timeouts.coerce(value).as_tuple()  # type: ignore[arg-type]  # coerce() validates
