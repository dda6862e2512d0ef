"""Where httpkit reads the time and waits: the real clock, or the instant one of tests.

Every wait httpkit makes on its own (backoff, ``Retry-After``, rate limits) and every
deadline it keeps read the time through :func:`monotonic` and wait through :func:`sleep`,
looked up in this module when used. :func:`httpkit.testing.instant_clock` swaps them for a
clock on which waiting takes no time, so that code under test keeps every behaviour
without the waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

from httpkit import _fork

#: Seconds since an arbitrary point, never going back (``time.monotonic``).
monotonic: Callable[[], float] = time.monotonic
#: Wait ``seconds`` (``time.sleep``).
sleep: Callable[[float], None] = time.sleep
#: Seconds since the epoch (``time.time``), for dates such as a cache entry's age.
wall: Callable[[], float] = time.time

#: The real clock's functions, in the order of :func:`use`.
REAL: Final = (time.monotonic, time.sleep, time.time)


class InstantClock:
    """A clock on which ``sleep(s)`` returns at once and moves the clock ``s`` ahead.

    Real time still passes as usual on top of the waits skipped. ``waits`` lists every
    wait asked for, in seconds, in order.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.skipped = 0.0
        self.waits: list[float] = []
        _fork.register(self)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        return REAL[0]() + self.skipped

    def wall(self) -> float:
        return REAL[2]() + self.skipped

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
            if seconds > 0:
                self.skipped += seconds

    def __repr__(self) -> str:
        return f"<InstantClock waits={len(self.waits)} skipped={self.skipped:.3f} s>"


Functions = tuple[Callable[[], float], Callable[[float], None], Callable[[], float]]


def use(clock: InstantClock | Functions) -> Functions:
    """Make ``clock`` httpkit's clock; return the functions in use until now.

    ``use(REAL)``, or ``use()`` of what an earlier call returned, puts those back.
    """
    global monotonic, sleep, wall
    previous = (monotonic, sleep, wall)
    if isinstance(clock, InstantClock):
        monotonic, sleep, wall = clock.monotonic, clock.sleep, clock.wall
    else:
        monotonic, sleep, wall = clock
    return previous
