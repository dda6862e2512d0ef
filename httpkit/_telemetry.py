"""What a call and its attempts show outside: OpenTelemetry spans and metrics, and the
attempt timeline of ``httpkit request -v`` (``docs/observability.md``).

With ``opentelemetry-api`` installed (``pip install "httpkit[otel]"``) and a session's
``telemetry`` on (the default), every call is one INTERNAL span named after its method,
and every attempt inside it (retries and redirect hops alike) one CLIENT span that follows
the stable HTTP client semantic conventions. Waits (backoff, ``Retry-After``, rate limits)
are events of the call span; a cache hit is an attribute of it, with no CLIENT span. Each
attempt carries its trace context (``traceparent``) in its request headers. Metrics:
``http.client.request.duration`` per attempt, and counters of retries and rate-limit waits
per origin.

httpkit marks its calls the way OpenTelemetry's HTTP instrumentations expect
(``suppress_http_instrumentation``), so that ``opentelemetry-instrumentation-requests`` or
``-urllib3``, also active, add no second CLIENT span per attempt; and a call made where
those marks are already set (inside another instrumented HTTP client) makes no spans.

Without ``opentelemetry-api`` nothing is imported: :func:`instrumentation` answers
``None`` once, and each call costs one check of it.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol

from httpkit._http import parse_url
from httpkit._redact import redact_url

if TYPE_CHECKING:
    from requests import PreparedRequest, Response

#: The instrumentation scope httpkit's spans and metrics are reported under.
SCOPE: Final = "httpkit"
#: Methods the conventions name as they are; others are reported as ``_OTHER``.
_KNOWN_METHODS: Final = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"}
)
#: The bucket boundaries the conventions advise for ``http.client.request.duration``.
_DURATION_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip

_UNKNOWN: Final = object()
_instrumentation: Any = _UNKNOWN


def instrumentation() -> Instrumentation | None:
    """httpkit's OpenTelemetry instrumentation, or ``None`` without ``opentelemetry-api``.

    Looked up once per process; the API's global providers are read through proxies, so
    an SDK configured later still receives what httpkit reports.
    """
    global _instrumentation
    found = _instrumentation
    if found is _UNKNOWN:
        try:
            available = importlib.util.find_spec("opentelemetry.trace") is not None
        except (ImportError, ValueError):
            available = False
        found = _instrumentation = Instrumentation() if available else None
    return found  # type: ignore[no-any-return]


def method_attribute(method: str) -> dict[str, str]:
    """``http.request.method`` as the conventions want it (and the original if renamed).

    >>> method_attribute("get")
    {'http.request.method': 'GET'}
    >>> method_attribute("PURGE")["http.request.method"]
    '_OTHER'
    """
    upper = method.upper()
    if upper in _KNOWN_METHODS:
        return {"http.request.method": upper}
    return {"http.request.method": "_OTHER", "http.request.method_original": method}


def target_attributes(url: str) -> dict[str, Any]:
    """``url.full`` with credentials and secret query values redacted, ``server.address``,
    ``server.port`` and ``url.scheme``.

    >>> target_attributes("https://u:pw@API.example.com/v1?token=t&page=2")["url.full"]
    'https://REDACTED:REDACTED@API.example.com/v1?token=REDACTED&page=2'
    >>> target_attributes("http://[::1]:8080/")["server.port"]
    8080
    """
    attributes: dict[str, Any] = {"url.full": redact_url(url, "REDACTED", user=True)}
    try:
        scheme, host, port, _ = parse_url(url)
    except ValueError:
        return attributes
    attributes["server.address"] = host
    attributes["url.scheme"] = scheme
    if port is not None:
        attributes["server.port"] = port
    return attributes


_ORIGIN_ATTRIBUTES: Final = ("server.address", "server.port", "url.scheme")


def origin_attributes(url: str) -> dict[str, Any]:
    """The attributes of ``url``'s origin: what the per-origin counters are split by."""
    return {k: v for k, v in target_attributes(url).items() if k in _ORIGIN_ATTRIBUTES}


def error_type(error: BaseException) -> str:
    """The conventions' ``error.type`` of an exception: its fully qualified class name."""
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}"


class Instrumentation:
    """The tracer, meter, instruments and propagation httpkit reports through.

    ``tracer_provider`` and ``meter_provider``: the global ones unless given (tests give
    their own).
    """

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        from opentelemetry import context, metrics, propagate, trace

        self._context = context
        self._trace = trace
        self._inject = propagate.inject
        self._client = trace.SpanKind.CLIENT
        self._error = trace.StatusCode.ERROR
        # The marks OpenTelemetry's own instrumentations read (opentelemetry.context).
        self._http_key = getattr(context, "_SUPPRESS_HTTP_INSTRUMENTATION_KEY", None)
        self._suppress_keys = tuple(
            key
            for key in (self._http_key, getattr(context, "_SUPPRESS_INSTRUMENTATION_KEY", None))
            if key is not None
        )
        from httpkit._version import __version__

        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider=meter_provider)
        self.duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests (one per attempt).",
            explicit_bucket_boundaries_advisory=list(_DURATION_BUCKETS),
        )
        self.retries = meter.create_counter(
            "httpkit.client.retries",
            unit="{retry}",
            description="Attempts made again after a failure or a retryable status, per origin.",
        )
        self.waits = meter.create_counter(
            "httpkit.client.rate_limit.waits",
            unit="{wait}",
            description="Requests held back by a rate limit before being sent, per origin.",
        )

    # -- the call ------------------------------------------------------------------------

    def begin_call(self, method: str, url: str) -> CallSpan | None:
        """Start the span of a call and make it current; ``None`` where instrumentation is
        suppressed (inside another instrumented HTTP client)."""
        context = self._context
        current = context.get_current()
        if any(context.get_value(key, current) for key in self._suppress_keys):
            return None
        attributes = {**method_attribute(method), **target_attributes(url)}
        span = self.tracer.start_span(method.upper(), context=current, attributes=attributes)
        inside = self._trace.set_span_in_context(span, current)
        if self._http_key is not None:  # other HTTP instrumentations: not inside this call
            inside = context.set_value(self._http_key, True, inside)
        return CallSpan(self, span, context.attach(inside))

    def cached_call(self, method: str, url: str, seconds: float, response: Response) -> None:
        """The span of a call answered from the cache before it was prepared, which took
        ``seconds``."""
        context = self._context
        if any(context.get_value(key) for key in self._suppress_keys):
            return
        attributes = {**method_attribute(method), **target_attributes(url)}
        attributes["httpkit.cache.hit"] = True
        attributes["http.response.status_code"] = response.status_code
        start = time.time_ns() - int(seconds * 1e9)
        span = self.tracer.start_span(method.upper(), attributes=attributes, start_time=start)
        span.end()

    # -- the attempts --------------------------------------------------------------------

    def begin_attempt(
        self, call: CallSpan, request: PreparedRequest, resend_count: int
    ) -> AttemptSpan:
        """Start the CLIENT span of one attempt, and put its trace context in the headers."""
        method = request.method or "GET"
        url = request.url or ""
        attributes = {**method_attribute(method), **target_attributes(url)}
        if resend_count:
            attributes["http.request.resend_count"] = resend_count
        parent = self._trace.set_span_in_context(call.span)
        span = self.tracer.start_span(
            attributes["http.request.method"] if method.upper() in _KNOWN_METHODS else "HTTP",
            context=parent,
            kind=self._client,
            attributes=attributes,
        )
        self._inject(request.headers, context=self._trace.set_span_in_context(span, parent))
        return AttemptSpan(span, attributes, time.monotonic())

    def end_attempt(
        self, attempt: AttemptSpan, response: Response | None, error: BaseException | None
    ) -> None:
        span = attempt.span
        labels = {
            k: v
            for k, v in attempt.attributes.items()
            if k == "http.request.method" or k in _ORIGIN_ATTRIBUTES
        }
        if response is not None:
            status = response.status_code
            labels["http.response.status_code"] = status
            version = getattr(response.raw, "version", None)
            if version in (10, 11):
                labels["network.protocol.version"] = "1.1" if version == 11 else "1.0"
            if status >= 400:
                labels["error.type"] = str(status)
                span.set_status(self._error)
        elif error is not None:
            labels["error.type"] = error_type(error)
            span.set_status(self._error, type(error).__name__)
        span.set_attributes({k: v for k, v in labels.items() if k not in attempt.attributes})
        span.end()
        self.duration.record(max(time.monotonic() - attempt.started, 0.0), labels)

    # -- waits ---------------------------------------------------------------------------

    def wait(self, call: CallSpan, seconds: float, reason: str, url: str) -> None:
        """A wait before an attempt: an event of the call span, and a count per origin."""
        call.span.add_event(
            "httpkit.wait", {"httpkit.wait.reason": reason, "httpkit.wait.duration": seconds}
        )
        if reason == "rate limit":
            self.waits.add(1, origin_attributes(url))


class Watch(Protocol):
    """What watches one call's attempts and waits: its span, or a :class:`Timeline`."""

    def begin_attempt(self, request: PreparedRequest, resend_count: int) -> Any: ...
    def end_attempt(
        self, token: Any, response: Response | None, error: BaseException | None
    ) -> None: ...
    def wait(self, seconds: float, reason: str, url: str) -> None: ...
    def retried(self, url: str) -> None: ...
    def end(self, response: Response | None, error: BaseException | None) -> None: ...


class CallSpan:
    """The span of one call, current in the caller's context until :meth:`end`."""

    __slots__ = ("_token", "instrumentation", "span")

    def __init__(self, instrumentation: Instrumentation, span: Any, token: object) -> None:
        self.instrumentation = instrumentation
        self.span = span
        self._token = token

    def begin_attempt(self, request: PreparedRequest, resend_count: int) -> AttemptSpan:
        return self.instrumentation.begin_attempt(self, request, resend_count)

    def end_attempt(
        self, token: AttemptSpan, response: Response | None, error: BaseException | None
    ) -> None:
        self.instrumentation.end_attempt(token, response, error)

    def wait(self, seconds: float, reason: str, url: str) -> None:
        self.instrumentation.wait(self, seconds, reason, url)

    def retried(self, url: str) -> None:
        self.instrumentation.retries.add(1, origin_attributes(url))

    def end(self, response: Response | None, error: BaseException | None) -> None:
        """End the span with the call's outcome, and restore the caller's context."""
        span = self.span
        try:
            if response is not None:
                span.set_attribute("http.response.status_code", response.status_code)
                span.set_attribute("httpkit.cache.hit", bool(getattr(response, "from_cache", 0)))
                if response.status_code >= 400:
                    span.set_attribute("error.type", str(response.status_code))
                    span.set_status(self.instrumentation._error)
            if error is not None:
                span.set_attribute("error.type", error_type(error))
                span.record_exception(error)
                span.set_status(self.instrumentation._error, type(error).__name__)
            span.end()
        finally:
            self.instrumentation._context.detach(self._token)


class AttemptSpan:
    """The CLIENT span of one attempt."""

    __slots__ = ("attributes", "span", "started")

    def __init__(self, span: Any, attributes: Mapping[str, Any], started: float) -> None:
        self.span = span
        self.attributes = attributes
        self.started = started


# -- the timeline of ``httpkit request -v`` -------------------------------------------------


class Attempt(NamedTuple):
    """One attempt of a call: its number (1 for the first request of the call), URL,
    outcome (a status code, or the error's class name) and duration in seconds."""

    number: int
    url: str
    outcome: str
    seconds: float


class Wait(NamedTuple):
    """A wait before an attempt: its length in seconds and why (``backoff``,
    ``retry-after``, ``rate limit``)."""

    seconds: float
    reason: str


class Timeline:
    """The attempts and waits of the calls made while ``_call.recording()``, in order."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: list[Attempt | Wait] = []

    def begin_attempt(self, request: PreparedRequest, resend_count: int) -> Any:
        return (resend_count + 1, redact_url(request.url or ""), time.monotonic())

    def end_attempt(
        self, token: Any, response: Response | None, error: BaseException | None
    ) -> None:
        number, url, started = token
        outcome = str(response.status_code) if response is not None else type(error).__name__
        self.entries.append(Attempt(number, url, outcome, time.monotonic() - started))

    def wait(self, seconds: float, reason: str, url: str) -> None:
        self.entries.append(Wait(seconds, reason))

    def retried(self, url: str) -> None:
        pass

    def end(self, response: Response | None, error: BaseException | None) -> None:
        pass


class Both:
    """Two watches of one call (a span, and a timeline being recorded)."""

    __slots__ = ("first", "second")

    def __init__(self, first: Watch, second: Watch) -> None:
        self.first = first
        self.second = second

    def begin_attempt(self, request: PreparedRequest, resend_count: int) -> Any:
        return (
            self.first.begin_attempt(request, resend_count),
            self.second.begin_attempt(request, resend_count),
        )

    def end_attempt(
        self, token: Any, response: Response | None, error: BaseException | None
    ) -> None:
        self.first.end_attempt(token[0], response, error)
        self.second.end_attempt(token[1], response, error)

    def wait(self, seconds: float, reason: str, url: str) -> None:
        self.first.wait(seconds, reason, url)
        self.second.wait(seconds, reason, url)

    def retried(self, url: str) -> None:
        self.first.retried(url)
        self.second.retried(url)

    def end(self, response: Response | None, error: BaseException | None) -> None:
        try:
            self.first.end(response, error)
        finally:
            self.second.end(response, error)
