"""Rate limits against a local server that records when each request arrives."""

from __future__ import annotations

import threading
import time

import pytest

import httpkit
from tests.integration.servers import Reply, ScriptedServer


def test_spent_quota_pauses_until_the_reset(server: ScriptedServer) -> None:
    server.script(
        "/q",
        Reply(
            headers=[
                ("RateLimit-Limit", "1"),
                ("RateLimit-Remaining", "0"),
                ("RateLimit-Reset", "1"),
            ]
        ),
        Reply(),
    )
    with httpkit.Session(rate_limit="auto") as s:
        first = s.get(server.url("/q"))
        second = s.get(server.url("/q"))
    assert (first.status_code, second.status_code) == (200, 200)
    arrivals = [r.at for r in server.requests_to("/q")]
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 1.0


def test_x_ratelimit_reset_as_unix_time(server: ScriptedServer) -> None:
    reset = str(int(time.time()) + 2)
    server.script(
        "/x",
        Reply(headers=[("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", reset)]),
        Reply(),
    )
    with httpkit.Session(rate_limit="auto") as s:
        s.get(server.url("/x"))
        s.get(server.url("/x"))
    arrivals = [r.at for r in server.requests_to("/x")]
    assert arrivals[1] - arrivals[0] >= 0.9


def test_pause_that_would_pass_the_deadline_raises_at_once(server: ScriptedServer) -> None:
    server.script("/d", Reply(headers=[("RateLimit-Remaining", "0"), ("RateLimit-Reset", "30")]))
    with httpkit.Session(rate_limit="auto") as s:
        s.get(server.url("/d"))
        started = time.monotonic()
        with pytest.raises(httpkit.DeadlineExceeded, match="rate limit"):
            s.get(server.url("/d"), deadline=2)
        assert time.monotonic() - started < 0.5
    assert len(server.requests_to("/d")) == 1


def test_final_429_retry_after_pauses_the_next_call(server: ScriptedServer) -> None:
    server.script("/t", Reply(status=429, headers=[("Retry-After", "1")]), Reply())
    with httpkit.Session(rate_limit="10/s", retry=False) as s:
        assert s.get(server.url("/t")).status_code == 429
        assert s.get(server.url("/t")).status_code == 200
    arrivals = [r.at for r in server.requests_to("/t")]
    assert arrivals[1] - arrivals[0] >= 1.0


def test_retry_after_is_waited_once_by_retry_and_limiter(server: ScriptedServer) -> None:
    server.script("/r", Reply(status=429, headers=[("Retry-After", "1")]), Reply())
    with httpkit.Session(rate_limit="auto", retry=httpkit.RetryPolicy(backoff_factor=0)) as s:
        started = time.monotonic()
        assert s.get(server.url("/r")).status_code == 200
        s.get(server.url("/r"))
        elapsed = time.monotonic() - started
    assert len(server.requests_to("/r")) == 3
    assert 1.0 <= elapsed < 1.8


def test_fixed_rate_holds_across_threads(server: ScriptedServer) -> None:
    """10/s over 3 s across 8 threads: 30 requests, within 10 %."""
    with httpkit.Session(rate_limit="10/s") as s:
        s.get(server.url("/warm"))  # the connection pool and the first slot
        stop = time.monotonic() + 3.0

        def worker() -> None:
            while time.monotonic() < stop:
                s.get(server.url("/rate"))

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    arrivals = sorted(r.at for r in server.requests_to("/rate"))
    window = [t for t in arrivals if t < arrivals[0] + 3.0]
    assert 27 <= len(window) <= 33, len(window)


def test_cache_hits_take_no_tokens(server: ScriptedServer) -> None:
    server.script("/c", Reply(headers=[("Cache-Control", "max-age=60")]))
    with httpkit.Session(cache=True, rate_limit="1/min") as s:
        s.get(server.url("/c"))
        started = time.monotonic()
        for _ in range(5):
            assert s.get(server.url("/c")).from_cache
        assert time.monotonic() - started < 0.5


def test_two_policies_for_one_origin_share_one_bucket(server: ScriptedServer) -> None:
    """A path-prefix policy and the session default serve one origin: one limit, not two."""
    with httpkit.Session(rate_limit="2/s", retry=0) as s:
        s.configure(server.url("/v2"), timeout=5)
        adapters = {s.get_adapter(server.url("/v2/x")), s.get_adapter(server.url("/other"))}
        assert len(adapters) == 2
        started = time.monotonic()
        for path in ("/v2/a", "/other", "/v2/b", "/other"):
            s.get(server.url(path))
        elapsed = time.monotonic() - started
    assert elapsed >= 0.9  # 4 requests at 2/s with a burst of 1: at least 1.5 s of spacing
