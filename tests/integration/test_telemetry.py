"""OpenTelemetry spans and metrics of real calls, read back from the SDK's in-memory
exporter and metric reader."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from opentelemetry import context, trace
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import httpkit
from httpkit import _telemetry
from tests.integration.servers import Reply, ScriptedServer

NO_BACKOFF = httpkit.RetryPolicy(total=3, backoff_factor=0, jitter=0)


class Telemetry:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def calls(self) -> list[ReadableSpan]:
        """httpkit's call spans (not the application's own INTERNAL spans)."""
        return [
            s
            for s in self.spans()
            if s.kind is trace.SpanKind.INTERNAL
            and s.instrumentation_scope is not None
            and s.instrumentation_scope.name == _telemetry.SCOPE
        ]

    def attempts(self) -> list[ReadableSpan]:
        found = [s for s in self.spans() if s.kind is trace.SpanKind.CLIENT]
        return sorted(found, key=lambda s: s.start_time or 0)

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[Telemetry]:
    """httpkit reporting to providers of this test's own (the global ones stay unset)."""
    telemetry = Telemetry()
    instrumentation = _telemetry.Instrumentation(
        telemetry.tracer_provider, telemetry.meter_provider
    )
    monkeypatch.setattr(_telemetry, "_instrumentation", instrumentation)
    yield telemetry
    telemetry.tracer_provider.shutdown()
    telemetry.meter_provider.shutdown()


def _attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_a_retried_call_is_one_span_with_a_client_span_per_attempt(
    server: ScriptedServer, otel: Telemetry
) -> None:
    server.script("/r", Reply(503), Reply(503), Reply(200, body=b"done"))
    with httpkit.Session(retry=NO_BACKOFF) as s:
        assert s.get(server.url("/r")).content == b"done"
    (call,) = otel.calls()
    attempts = otel.attempts()
    assert call.name == "GET"
    assert [a.parent.span_id for a in attempts if a.parent] == [call.context.span_id] * 3
    assert [_attributes(a).get("http.request.resend_count") for a in attempts] == [None, 1, 2]
    assert [_attributes(a)["http.response.status_code"] for a in attempts] == [503, 503, 200]
    assert [_attributes(a).get("error.type") for a in attempts] == ["503", "503", None]
    first = _attributes(attempts[0])
    assert first["http.request.method"] == "GET"
    assert first["server.address"] == "127.0.0.1"
    assert first["server.port"] == server.port
    assert first["url.full"] == server.url("/r")
    assert first["network.protocol.version"] == "1.1"
    waits = [e for e in call.events if e.name == "httpkit.wait"]
    assert [dict(e.attributes or {})["httpkit.wait.reason"] for e in waits] == ["backoff"] * 2
    assert _attributes(call)["http.response.status_code"] == 200
    assert _attributes(call)["httpkit.cache.hit"] is False
    # Each attempt carried its own span's trace context.
    sent = [r.headers.get("traceparent", "")[:52] for r in server.requests_to("/r")]
    assert sent == [f"00-{a.context.trace_id:032x}-{a.context.span_id:016x}" for a in attempts]
    durations = otel.points("http.client.request.duration")
    assert sorted(p.count for p in durations) == [
        1,
        2,
    ]  # one point per attempt: 200 once, 503 twice
    assert {dict(p.attributes)["http.response.status_code"] for p in durations} == {200, 503}
    (retries,) = otel.points("httpkit.client.retries")
    assert retries.value == 2
    assert dict(retries.attributes)["server.address"] == "127.0.0.1"


def test_a_redirect_is_a_client_span_per_hop_in_one_call(
    server: ScriptedServer, otel: Telemetry
) -> None:
    server.script("/from", Reply(302, headers=[("Location", "/to")]))
    server.script("/to", Reply(200))
    with httpkit.Session() as s:
        s.get(server.url("/from"))
    (call,) = otel.calls()
    attempts = otel.attempts()
    assert [_attributes(a)["url.full"] for a in attempts] == [
        server.url("/from"),
        server.url("/to"),
    ]
    assert [_attributes(a).get("http.request.resend_count") for a in attempts] == [None, 1]
    assert {a.context.trace_id for a in attempts} == {call.context.trace_id}


def test_with_the_requests_instrumentation_each_attempt_still_has_one_client_span(
    server: ScriptedServer, otel: Telemetry
) -> None:
    server.script("/r", Reply(503), Reply(200))
    instrumentor = RequestsInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    try:
        with httpkit.Session(retry=NO_BACKOFF) as s:
            s.get(server.url("/r"))
        assert len(otel.attempts()) == 2  # httpkit's, one per attempt: none doubled
        assert len(otel.calls()) == 1
        otel.exporter.clear()
        with httpkit.Session(retry=NO_BACKOFF, telemetry=False) as s:
            s.get(server.url("/r"))  # 200: the script's last answer repeats
        (hop,) = otel.attempts()  # the instrumentation's own span: it sees httpkit's send
        assert hop.instrumentation_scope is not None
        assert hop.instrumentation_scope.name != _telemetry.SCOPE
        assert not otel.calls()
    finally:
        instrumentor.uninstrument()


def test_a_cache_hit_is_an_attribute_of_the_call_without_a_client_span(
    server: ScriptedServer, otel: Telemetry
) -> None:
    server.script("/c", Reply(body=b"kept", headers=[("Cache-Control", "max-age=60")]))
    with httpkit.Session(cache=True) as s:
        s.get(server.url("/c"))
        otel.exporter.clear()
        assert s.get(server.url("/c")).from_cache  # answered before preparation
        assert s.get(server.url("/c"), params={"page": "1"}).from_cache is False  # a miss
        otel.exporter.clear()
        assert s.get(server.url("/c"), params={"page": "1"}).from_cache  # through the chain
        s.get(server.url("/c"))
    calls = otel.calls()
    assert [_attributes(c)["httpkit.cache.hit"] for c in calls] == [True, True]
    assert not otel.attempts()


def test_no_secret_reaches_a_span(server: ScriptedServer, otel: Telemetry) -> None:
    url = server.url("/s?access_token=s3cret-q&page=2").replace("://", "://bob:s3cret-pw@")
    with httpkit.Session() as s:
        s.get(url, headers={"Authorization": "Bearer s3cret-h"})
    exported = json.dumps([json.loads(span.to_json()) for span in otel.spans()])
    assert "s3cret" not in exported
    (attempt,) = otel.attempts()
    assert _attributes(attempt)["url.full"] == (
        f"http://REDACTED:REDACTED@127.0.0.1:{server.port}/s?access_token=REDACTED&page=2"
    )


def test_a_failed_attempt_and_call_carry_the_error(otel: Telemetry) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/?token=s3cret"
    with httpkit.Session(retry=0) as s, pytest.raises(requests.ConnectionError):
        s.get(url)
    (call,) = otel.calls()
    (attempt,) = otel.attempts()
    assert _attributes(attempt)["error.type"] == "requests.exceptions.ConnectionError"
    assert attempt.status.status_code is trace.StatusCode.ERROR
    assert _attributes(call)["error.type"] == "requests.exceptions.ConnectionError"
    assert "s3cret" not in json.dumps(json.loads(call.to_json()))


def test_rate_limit_waits_are_events_and_counted(server: ScriptedServer, otel: Telemetry) -> None:
    with httpkit.Session(rate_limit="20/s") as s:
        s.get(server.url("/a"))
        s.get(server.url("/a"))  # waits about 50 ms for its slot
    second = otel.calls()[1]
    (event,) = [e for e in second.events if e.name == "httpkit.wait"]
    assert dict(event.attributes or {})["httpkit.wait.reason"] == "rate limit"
    assert 0 < dict(event.attributes or {})["httpkit.wait.duration"] <= 0.05
    (waits,) = otel.points("httpkit.client.rate_limit.waits")
    assert waits.value == 1


def test_telemetry_false_makes_no_spans(server: ScriptedServer, otel: Telemetry) -> None:
    with httpkit.Session(telemetry=False) as s:
        s.get(server.url("/a"))
    assert otel.spans() == []
    assert "traceparent" not in server.requests_to("/a")[0].headers


def test_inside_another_instrumented_client_httpkit_makes_no_spans(
    server: ScriptedServer, otel: Telemetry
) -> None:
    with httpkit.Session() as s, suppress_http_instrumentation():
        s.get(server.url("/a"))
    assert otel.spans() == []


def test_the_callers_context_is_the_calls_parent_and_is_restored(
    server: ScriptedServer, otel: Telemetry
) -> None:
    tracer = otel.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("handler") as handler, httpkit.Session() as s:
        before = context.get_current()
        s.get(server.url("/a"))
        assert context.get_current() == before
    (call,) = otel.calls()
    assert call.parent is not None
    assert call.parent.span_id == handler.get_span_context().span_id


def test_trace_headers_are_no_credentials(server: ScriptedServer, otel: Telemetry) -> None:
    """A traceparent differs on every attempt: the cache must not key on it, nor the
    credential rules count it."""
    server.script("/c", Reply(headers=[("Cache-Control", "max-age=60")]))
    with httpkit.Session(cache=True) as s:
        s.get(server.url("/c"), params={"q": "1"})
        assert s.get(server.url("/c"), params={"q": "1"}).from_cache
    assert not httpkit._redact.is_secret_header("traceparent")
    assert not httpkit._redact.is_secret_header("tracestate")


_COUNT_CALLS = r"""
import sys
if sys.argv[1] == "blocked":
    sys.modules["opentelemetry"] = None  # as if the extra were not installed
import httpkit
from tests.integration.servers import serve

def calls_per_get(telemetry):
    with serve() as server, httpkit.Session(telemetry=telemetry) as s:
        for _ in range(5):
            s.get(server.url("/warm"))
        count = 0
        def profile(frame, event, arg):
            nonlocal count
            if event == "call":
                count += 1
        sys.setprofile(profile)
        for _ in range(20):
            s.get(server.url("/x"))
        sys.setprofile(None)
        return count / 20

def loaded():
    return [m for m, v in sys.modules.items() if m.startswith("opentelemetry") and v is not None]

off = calls_per_get(False)
after_off = loaded()
on = calls_per_get(True)
print(on, off, len(after_off), len(loaded()))
"""


def test_without_the_extra_telemetry_costs_nothing_measurable(tmp_path: Any) -> None:
    """Python function calls per GET (a deterministic proxy for instructions), with
    ``opentelemetry`` not importable: telemetry on costs at most 1 % over telemetry off,
    and nothing of OpenTelemetry is loaded. With it importable, ``telemetry=False``
    loads nothing either."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for mode in ("blocked", "installed"):
        run = subprocess.run(
            [sys.executable, "-c", _COUNT_CALLS, mode],
            capture_output=True,
            text=True,
            cwd=root,
            timeout=60,
            check=True,
        )
        on, off, loaded_off, loaded_on = (float(v) for v in run.stdout.split())
        assert loaded_off == 0, run.stdout  # telemetry=False: nothing of OpenTelemetry
        if mode == "blocked":
            assert on <= off * 1.01, run.stdout
            assert loaded_on == 0
        else:
            assert on > off * 1.01, run.stdout  # the count does see instrumentation at work
            assert loaded_on > 0


def test_the_example_of_docs_observability_prints_what_the_page_says(tmp_path: Any) -> None:
    import re
    import subprocess
    import sys
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "observability.md").read_text()
    (example,) = re.findall(
        r"not-run: it sets the process's global.*?\n```python\n(.*?)```", page, re.S
    )
    run = subprocess.run(
        [sys.executable, "-c", example], capture_output=True, text=True, timeout=60, check=True
    )
    lines = run.stdout.splitlines()
    clients = [line for line in lines if " CLIENT " in line]
    (call,) = [line for line in lines if " INTERNAL " in line]
    assert len(clients) == 3
    assert [("http.request.resend_count" in line) for line in clients] == [False, True, True]
    assert "'http.request.resend_count': 2" in clients[2]
    assert all("token=REDACTED" in line for line in clients)
    assert call.count("'httpkit.wait.reason': 'backoff'") == 2
    assert "secret" not in run.stdout
