"""httpkit.testing: the instant clock keeps every behaviour and skips the waiting."""

from __future__ import annotations

import time

import pytest
import responses

import httpkit
from httpkit.testing import InstantClock, instant_clock

URL = "https://api.example.com/items"


@responses.activate
def test_backoff_and_retry_after_are_skipped_but_kept(httpkit_clock: InstantClock) -> None:
    responses.get(URL, status=503)
    responses.get(URL, status=503)
    responses.get(URL, status=429, headers={"Retry-After": "30"})
    responses.get(URL, body="ok")
    started = time.monotonic()
    with httpkit.Session() as s:
        response = s.get(URL)
    assert response.text == "ok"
    assert response.retries.attempts == 4
    assert time.monotonic() - started < 1
    # urllib3's backoff for RetryPolicy(): none after the first failure, then 0.5 * 2**n
    # with up to 0.5 s of jitter; then the server's Retry-After.
    assert httpkit_clock.waits[-1] == 30.0
    assert 1.0 <= httpkit_clock.waits[-2] <= 1.5
    assert httpkit_clock.skipped >= 31


@responses.activate
def test_a_wait_past_the_deadline_still_raises(httpkit_clock: InstantClock) -> None:
    responses.get(URL, status=503, headers={"Retry-After": "30"})
    with httpkit.Session() as s, pytest.raises(httpkit.DeadlineExceeded):
        s.get(URL, deadline=5)
    assert httpkit_clock.waits == []  # not waited at all: it would end past the deadline


@responses.activate
def test_a_retry_after_past_the_ceiling_still_raises(httpkit_clock: InstantClock) -> None:
    responses.get(URL, status=503, headers={"Retry-After": "86400"})
    with httpkit.Session() as s, pytest.raises(httpkit.RetryAfterTooLong):
        s.get(URL)


@responses.activate
def test_rate_limits_still_space_requests() -> None:
    responses.get(URL, body="ok")
    with instant_clock() as clock, httpkit.Session(rate_limit="1/s") as s:
        for _ in range(4):
            s.get(URL)
    assert len(responses.calls) == 4
    assert len(clock.waits) == 3
    assert all(0.9 < wait <= 1.0 for wait in clock.waits)


def test_the_real_clock_is_back_after_the_block() -> None:
    from httpkit import _clock

    with instant_clock():
        with instant_clock() as inner:
            _clock.sleep(5)
        assert inner.skipped == 5
    assert (_clock.monotonic, _clock.sleep, _clock.wall) == _clock.REAL


@responses.activate
def test_without_it_the_waits_are_real() -> None:
    responses.get(URL, status=503, headers={"Retry-After": "1"})
    responses.get(URL, body="ok")
    started = time.monotonic()
    with httpkit.Session() as s:
        assert s.get(URL).text == "ok"
    assert time.monotonic() - started >= 1
