"""One wall-clock budget per call: the deadline, and the watchdog that enforces it.

A timeout in requests bounds each socket operation, so a server that trickles a byte every
half second keeps a call busy forever. A deadline bounds the whole call: connecting, every
retry and backoff, every redirect hop, the response headers and (unless ``stream=True``)
the body. Three mechanisms enforce it, all reading one :class:`Deadline`:

* each attempt's connect and read timeouts shrink to what is left of the budget
  (``_transport.connection.DeadlineTimeout``);
* no wait (backoff, ``Retry-After``, rate limit) runs past it (``_transport.adapter``);
* a watchdog thread shuts down the sockets of a call whose deadline passed, which ends a
  read that keeps receiving bytes in time but never finishes (:class:`Watchdog`). Sockets
  are registered as such, not through their connection: ``http.client`` lets go of the
  socket of a close-delimited response while the body is still being read.

This module holds the clock and the watchdog only; which call uses which clock is the
business of ``httpkit._call``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any, Final

from httpkit import _clock, _fork
from httpkit._exceptions import DeadlineExceeded
from httpkit._redact import strip_query

#: How often the watchdog looks for expired calls, in seconds: the most a call can run
#: past its deadline because of the watchdog's own timing.
WATCHDOG_INTERVAL: Final = 0.1


class Deadline:
    """The budget of one call and the sockets it is reading.

    Attributes:
        seconds: the budget the call was given.
        expires_at: the ``monotonic()`` value (of :mod:`httpkit._clock`) at which it runs out.
        expired: set once the watchdog found the deadline passed.
    """

    __slots__ = ("_sockets", "expired", "expires_at", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires_at = _clock.monotonic() + seconds
        self.expired = False
        self._sockets: list[tuple[object, socket.socket]] = []

    def __repr__(self) -> str:
        return f"Deadline({self.seconds:g} s, {self.remaining():.3f} s left)"

    def remaining(self) -> float:
        """Seconds left; negative once the deadline has passed."""
        return self.expires_at - _clock.monotonic()

    def watch(self, owner: Any, sock: socket.socket) -> None:
        """Let the watchdog shut ``sock`` down if the call runs out while ``owner`` uses it.

        ``owner`` is the connection; its ``_httpkit_clock`` says which call uses it now (a
        connection handed back to the pool and taken by another call is not cut).
        """
        owner._httpkit_clock = self
        self._sockets.append((owner, sock))

    def expire(self) -> None:
        """Mark the call expired and shut down the sockets it is still using."""
        self.expired = True
        for owner, sock in self._sockets:
            if getattr(owner, "_httpkit_clock", None) is not self:
                continue
            # socket.socket's own shutdown, also for an SSLSocket: it wakes a thread
            # blocked in recv() without touching the TLS object that thread uses.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def exceeded(self, request: Any, **kwargs: Any) -> DeadlineExceeded:
        """The error for this deadline passing while sending ``request``.

        The message names the method and the URL without its query string, which may
        hold credentials.
        """
        return DeadlineExceeded(
            f"the deadline of {self.seconds:g} s passed during {_target(request)}",
            deadline=self.seconds,
            request=request,
            **kwargs,
        )

    def check_wait(self, seconds: float, request: Any, what: str) -> None:
        """Raise :class:`DeadlineExceeded` now if waiting ``seconds`` would pass the deadline."""
        if seconds > 0 and seconds >= self.remaining():
            raise DeadlineExceeded(
                f"waiting {seconds:.1f} s {what} would pass the deadline of {self.seconds:g} s "
                f"({_target(request)})",
                deadline=self.seconds,
                request=request,
            )


def _target(request: Any) -> str:
    method = getattr(request, "method", None) or "request"
    return f"{method} {strip_query(getattr(request, 'url', None))}"


class Watchdog:
    """One daemon thread that expires the calls whose deadline passed.

    Registering and finishing a call is a set operation under a lock; the thread sleeps
    while no call is in progress.
    """

    def __init__(self, interval: float = WATCHDOG_INTERVAL) -> None:
        self._interval = interval
        self._clocks: set[Deadline] = set()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        _fork.register(self)

    def _after_fork(self) -> None:
        """In a forked child: no thread, and none of the parent's calls to cut.

        Cutting one would shut down a socket the parent still uses.
        """
        self._clocks = set()
        self._wake = threading.Condition()
        self._thread = None

    def start(self, clock: Deadline) -> None:
        with self._wake:
            self._clocks.add(clock)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="httpkit-deadline-watchdog", daemon=True
                )
                self._thread.start()
            elif len(self._clocks) == 1:
                self._wake.notify()

    def finish(self, clock: Deadline) -> None:
        with self._wake:
            self._clocks.discard(clock)

    @contextlib.contextmanager
    def watching(self, clock: Deadline) -> Any:
        """Watch ``clock`` for the duration of the block."""
        self.start(clock)
        try:
            yield clock
        finally:
            self.finish(clock)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._clocks:
                    self._wake.wait()
                now = _clock.monotonic()
                for clock in [c for c in self._clocks if c.expires_at <= now]:
                    # Under the lock: a call that finish() removed is never cut afterwards,
                    # when its connection may already serve someone else. shutdown() does
                    # not block.
                    self._clocks.discard(clock)
                    clock.expire()
            time.sleep(self._interval)


WATCHDOG: Final = Watchdog()
