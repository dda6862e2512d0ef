"""One wall-clock budget per call: the deadline.

A timeout in requests bounds each socket operation, so a server that trickles a byte every
half second keeps a call busy forever. A deadline bounds the whole call: connecting, every
retry and backoff, every redirect hop, the response headers and (unless ``stream=True``)
the body. Three mechanisms enforce it:

* each attempt's connect and read timeouts shrink to what is left of the budget
  (:class:`DeadlineTimeout`);
* retries never sleep past it (``_retry.PolicyRetry``);
* a watchdog thread shuts down the sockets of a call whose deadline passed, which ends a
  read that keeps receiving bytes in time but never finishes (:class:`Watchdog`).

The call in progress lives in a context variable, so redirect hops and retries made in the
same thread share one :class:`Call`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from contextvars import ContextVar
from typing import Any, Final

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import Timeout

from httpkit._exceptions import DeadlineExceeded
from httpkit._redact import strip_query
from httpkit._ssrf import VettedConnection, VettedPool

#: How often the watchdog looks for expired calls, in seconds: the most a call can run
#: past its deadline because of the watchdog's own timing.
WATCHDOG_INTERVAL: Final = 0.1
#: The smallest socket timeout handed to urllib3 (0 would mean non-blocking sockets).
_MIN_TIMEOUT: Final = 0.001


class Call:
    """The deadline of one call and the connections it is using.

    Attributes:
        seconds: the budget the call was given.
        expires_at: ``time.monotonic()`` value at which it runs out.
        expired: set once the watchdog found the deadline passed.
    """

    __slots__ = ("connections", "expired", "expires_at", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires_at = time.monotonic() + seconds
        self.expired = False
        self.connections: list[HTTPConnection] = []

    def remaining(self) -> float:
        """Seconds left; negative once the deadline has passed."""
        return self.expires_at - time.monotonic()

    def watch(self, connection: HTTPConnection) -> None:
        """Let the watchdog cut ``connection`` if this call runs out while using it."""
        connection._httpkit_call = self  # type: ignore[attr-defined]  # see _shut_down
        self.connections.append(connection)

    def expire(self) -> None:
        """Mark the call expired and shut down the sockets it is still using."""
        self.expired = True
        for connection in self.connections:
            # A connection handed back to the pool and taken by another call belongs
            # to that call now.
            if getattr(connection, "_httpkit_call", None) is not self:
                continue
            sock = connection.sock
            if sock is not None:
                # socket.socket's own shutdown, also for an SSLSocket: it wakes a thread
                # blocked in recv() without touching the TLS object that thread uses.
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


def deadline_exceeded(seconds: float, request: Any, **kwargs: Any) -> DeadlineExceeded:
    """The error for a call whose ``seconds`` ran out while sending ``request``.

    The message names the method and the URL without its query string, which may hold
    credentials.
    """
    url = strip_query(getattr(request, "url", None))
    return DeadlineExceeded(
        f"the deadline of {seconds:g} s passed during {request.method} {url}",
        deadline=seconds,
        request=request,
        **kwargs,
    )


#: The call in progress in this context (thread), if any.
ACTIVE_CALL: ContextVar[Call | None] = ContextVar("httpkit_active_call", default=None)


class Watchdog:
    """One daemon thread that expires the calls whose deadline passed.

    Registering and finishing a call is a set operation under a lock; the thread sleeps
    while no call is in progress.
    """

    def __init__(self, interval: float = WATCHDOG_INTERVAL) -> None:
        self._interval = interval
        self._calls: set[Call] = set()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self, call: Call) -> None:
        with self._wake:
            self._calls.add(call)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="httpkit-deadline-watchdog", daemon=True
                )
                self._thread.start()
            elif len(self._calls) == 1:
                self._wake.notify()

    def finish(self, call: Call) -> None:
        with self._wake:
            self._calls.discard(call)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._calls:
                    self._wake.wait()
                now = time.monotonic()
                due = [call for call in self._calls if call.expires_at <= now]
                for call in due:
                    # Under the lock: a call that finish() removed is never cut afterwards,
                    # when its connection may already serve someone else. shutdown() does
                    # not block.
                    self._calls.discard(call)
                    call.expire()
            time.sleep(self._interval)


WATCHDOG: Final = Watchdog()


class DeadlineTimeout(Timeout):
    """A urllib3 ``Timeout`` whose connect and read timeouts never exceed the deadline.

    urllib3 clones the timeout for every attempt and reads ``connect_timeout`` before
    connecting and ``read_timeout`` before waiting for the response, so each attempt gets
    what is left of the call's budget at that moment.
    """

    def __init__(self, call: Call, connect: Any = None, read: Any = None) -> None:
        super().__init__(connect=connect, read=read)
        self.call = call

    @property
    def configured(self) -> tuple[Any, Any]:
        """The ``(connect, read)`` timeouts before the deadline caps them."""
        return (self._connect, self._read)

    def clone(self) -> DeadlineTimeout:
        # urllib3 clones for every attempt; the values were validated when first built.
        copy = object.__new__(DeadlineTimeout)
        copy.__dict__.update(self.__dict__)
        copy._start_connect = None
        return copy

    def _cap(self, value: Any) -> Any:
        left = max(self.call.remaining(), _MIN_TIMEOUT)
        if value is None or not isinstance(value, int | float):
            return left
        return min(value, left)

    @property
    def connect_timeout(self) -> Any:
        return self._cap(super().connect_timeout)

    @property
    def read_timeout(self) -> Any:
        return self._cap(super().read_timeout)


# SSRF: the Vetted* bases open sockets only to addresses the active SSRFPolicy vetted.
class _WatchedConnection(VettedConnection):
    """Registers itself with the call in progress before each request it sends."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        call = ACTIVE_CALL.get()
        if call is not None:
            call.watch(self)
        else:
            self._httpkit_call = None
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(_WatchedConnection, HTTPSConnection):
    """The HTTPS variant: ``request()`` above, then HTTPSConnection's TLS connect."""


class WatchedHTTPConnectionPool(VettedPool, HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class WatchedHTTPSConnectionPool(VettedPool, HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection
