"""The state of one call: the only per-call state httpkit keeps, and where it lives.

A *call* is what one ``request()``, verb method or ``send()`` asks for: one or more *hops*
(the first request and each redirect it follows), each made of one or more *attempts*
(retries). :class:`Call` carries everything the call needs from start to end:

* ``args``: the arguments the caller gave explicitly
  (:class:`~httpkit._policy.CallArgs`), the only ones
  that travel from hop to hop;
* ``clock``: the deadline (:class:`~httpkit._deadline.Deadline`), or ``None``;
* ``hops`` and ``redirect_limit``;
* ``hop``: the settings resolved for the hop being sent (:class:`~httpkit._policy.Hop`);
* ``attempt``: the number of the attempt in progress (0 between attempts);
* ``watch``: its span and the timeline being recorded (:mod:`httpkit._telemetry`), if any.

httpkit passes the call as an argument wherever it owns the signature. requests and urllib3
call back with signatures of their own (``Session.send`` from the redirect loop,
``HTTPAdapter.send``, ``HTTPConnection.request``); there, and only there, the call is read
from :data:`_CURRENT`, the one context variable of this module. Code that hands work to
another thread inside a call (a middleware with a worker pool) keeps the call with
:func:`bind_call`; the ``send`` that httpkit gives a middleware does so by itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final, ParamSpec, TypeVar

from httpkit._deadline import WATCHDOG, Deadline
from httpkit._policy import CallArgs, Hop
from httpkit._telemetry import Both, Timeline, Watch, instrumentation

P = ParamSpec("P")
T = TypeVar("T")


class Call:
    """One call in progress (see the module docstring)."""

    __slots__ = (
        "args",
        "attempt",
        "begun",
        "clock",
        "following",
        "hop",
        "hops",
        "next_hop",
        "prepared_for",
        "redirect_limit",
        "sent",
        "sent_bodies",
        "watch",
    )

    def __init__(self, args: CallArgs) -> None:
        self.args = args
        self.begun = False
        self.clock: Deadline | None = None
        self.hops = 0
        self.redirect_limit: int | None = None
        self.hop: Hop | None = None
        self.attempt = 0
        #: The prepared request of the redirect hop requests is about to send.
        self.next_hop: object = None
        #: Whether requests' redirect loop is following redirects (not computing ``next``).
        self.following = False
        #: ``id()`` of each streamed body (file, generator) an attempt of this call sent:
        #: a middleware that sends a request twice must not send one of them empty.
        self.sent_bodies: set[int] | None = None
        #: ``(url, adapter)`` that ``prepare_request`` looked up for the first hop.
        self.prepared_for: tuple[str, Any] | None = None
        #: Attempts sent so far, over every hop (the next one's ``resend_count``).
        self.sent = 0
        #: The call's span and/or the timeline being recorded (``_telemetry``), if any.
        self.watch: Watch | None = None

    def remaining(self) -> float | None:
        """Seconds left of the deadline; ``None`` without one."""
        return None if self.clock is None else self.clock.remaining()

    def __repr__(self) -> str:
        return f"<httpkit call hops={self.hops} attempt={self.attempt} clock={self.clock!r}>"


#: The call this context (thread) is working for, if any.
_CURRENT: ContextVar[Call | None] = ContextVar("httpkit_call", default=None)


#: ``current()``: the call in progress in this context, if any (the context variable's own
#: ``get``, which is read several times per request).
current: Final[Callable[[], Call | None]] = _CURRENT.get


#: ``token = enter(call)`` makes ``call`` current until ``leave(token)``: the context
#: variable's own methods, for the one place every call passes (``Session.request``).
enter: Final = _CURRENT.set
leave: Final = _CURRENT.reset


class running:  # a class used as a function: ``with running(call):``
    """Make ``call`` the current one for the duration of the block.

    A class rather than a generator: every call enters it at least twice.
    """

    __slots__ = ("call", "token")

    def __init__(self, call: Call | None) -> None:
        self.call = call

    def __enter__(self) -> Call | None:
        self.token = _CURRENT.set(self.call)
        return self.call

    def __exit__(self, *exc_info: object) -> None:
        _CURRENT.reset(self.token)


def bind_call(fn: Callable[P, T]) -> Callable[P, T]:
    """``fn`` wrapped so that, run on any thread, it runs inside the current call.

    The call's deadline, resolved settings and attempt go with it. Outside a call the
    wrapper just calls ``fn``. The ``send`` a middleware receives needs no wrapping: it
    carries its call itself, so a middleware may hand it to a worker thread as it is.
    ``bind_call`` is for other work handed to a thread that must run as part of the call
    rather than as a call of its own: a response hook that sends through the hop's adapter
    (``session.get_adapter(url).send(...)``) on a worker thread stays within the call's
    deadline this way.

    >>> import concurrent.futures, httpkit
    >>> def threaded(request, send):
    ...     with concurrent.futures.ThreadPoolExecutor(1) as pool:
    ...         return pool.submit(send, request).result()  # send carries its call
    >>> session = httpkit.Session(middlewares=[threaded])
    >>> httpkit.bind_call(len)("outside a call, just the function")
    33
    """
    call = _CURRENT.get()

    @functools.wraps(fn)
    def in_call(*args: P.args, **kwargs: P.kwargs) -> T:
        token = _CURRENT.set(call)
        try:
            return fn(*args, **kwargs)
        finally:
            _CURRENT.reset(token)

    return in_call


class calling:  # a class used as a function: ``with calling(call, seconds):``
    """Begin ``call``: run the block as the current call, under a deadline of ``seconds``.

    The deadline (``None``: none) starts now and the watchdog watches it until the block
    ends. Flat rather than built on :class:`running`: every call enters it once.
    """

    __slots__ = ("call", "token")

    def __init__(self, call: Call, seconds: float | None) -> None:
        self.call = call
        call.begun = True
        if seconds is not None:
            call.clock = Deadline(seconds)

    def __enter__(self) -> Call:
        call = self.call
        self.token = _CURRENT.set(call)
        if call.clock is not None:
            WATCHDOG.start(call.clock)
        return call

    def __exit__(self, *exc_info: object) -> None:
        if self.call.clock is not None:
            WATCHDOG.finish(self.call.clock)
        _CURRENT.reset(self.token)


#: The timeline ``httpkit request -v`` records, in the context that records it.
_TIMELINE: ContextVar[Timeline | None] = ContextVar("httpkit_timeline", default=None)


class recording:  # a class used as a function: ``with recording() as timeline:``
    """Record the attempts and waits of every call made in the block (this context)."""

    __slots__ = ("timeline", "token")

    def __enter__(self) -> Timeline:
        self.timeline = Timeline()
        self.token = _TIMELINE.set(self.timeline)
        return self.timeline

    def __exit__(self, *exc_info: object) -> None:
        _TIMELINE.reset(self.token)


def watch_call(telemetry: bool, method: str, url: str) -> Watch | None:
    """What watches a call beginning now: its span (with ``telemetry`` and the API
    installed), the timeline being recorded, both, or nothing (the common case)."""
    span: Watch | None = None
    if telemetry:
        found = instrumentation()
        if found is not None:
            span = found.begin_call(method, url)
    timeline = _TIMELINE.get()
    if timeline is None:
        return span
    return timeline if span is None else Both(span, timeline)
