"""Every fault ends as documented, within its time bound (deadline + 0.5 s)."""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

import httpkit
from httpkit import DeadlineExceeded, RetryAfterTooLong, RetryPolicy
from tests.integration.faults import FaultServer, fault_server

FAST = RetryPolicy(backoff_factor=0)
SLACK = 0.5  # the documented bound: a call ends within deadline + 0.5 s


@pytest.fixture
def faults() -> Iterator[FaultServer]:
    with fault_server() as server:
        yield server


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    try:
        result: Any = call()
    except Exception as exc:
        result = exc
    return result, time.monotonic() - started


@pytest.mark.parametrize(
    ("path", "deadline"),
    [
        ("/hang", 1.0),  # accepts, never answers: the read timeout alone would be 30 s
        ("/trickle-headers", 1.5),  # one byte per 0.5 s: each read is in time
        ("/trickle-body", 1.5),
        ("/endless-continue", 1.0),
        ("/endless-chunked", 1.0),
        ("/endless-trailers", 1.0),
    ],
)
def test_deadline_ends_the_call_whatever_the_server_does(
    faults: FaultServer, path: str, deadline: float
) -> None:
    with httpkit.Session(retry=FAST) as s:
        error, elapsed = timed(lambda: s.get(faults.url(path), deadline=deadline))
    assert isinstance(error, DeadlineExceeded), error
    assert isinstance(error, requests.Timeout)
    assert error.deadline == deadline
    assert deadline - 0.05 <= elapsed <= deadline + SLACK


def test_session_and_host_policy_deadlines(faults: FaultServer) -> None:
    with httpkit.Session(deadline=5) as s:
        s.configure(faults.url("/"), deadline=0.8)
        error, elapsed = timed(lambda: s.get(faults.url("/hang")))
    assert isinstance(error, DeadlineExceeded)
    assert elapsed <= 0.8 + SLACK
    with httpkit.Session(deadline=0.8) as s:
        error, elapsed = timed(lambda: s.get(faults.url("/trickle-headers")))
    assert isinstance(error, DeadlineExceeded)
    assert elapsed <= 0.8 + SLACK


def test_deadline_none_disables_it(faults: FaultServer) -> None:
    with httpkit.Session(deadline=0.5, retry=False) as s:
        response = s.get(faults.url("/retry-after-3"), deadline=None)
    assert response.status_code == 503  # no retries, and no deadline cut it short


def test_stream_true_deadline_covers_the_headers_only(faults: FaultServer) -> None:
    with httpkit.Session() as s:
        response = s.get(faults.url("/trickle-body"), stream=True, deadline=1.0, timeout=(1, 2))
        first = next(response.iter_content(1))
        time.sleep(1.0)  # past the deadline: the streamed body is the caller's to bound
        second = next(response.iter_content(1))
        response.close()
    assert (first, second) == (b"x", b"x")


def test_chain_of_slow_redirects_is_one_budget(faults: FaultServer) -> None:
    with httpkit.Session() as s:
        error, elapsed = timed(lambda: s.get(faults.url("/redirects/1"), deadline=1.0))
    assert isinstance(error, DeadlineExceeded)
    assert elapsed <= 1.0 + SLACK
    assert 2 <= faults.count("/redirects") <= 4  # 0.4 s per hop


def test_retry_after_seconds_is_waited(faults: FaultServer) -> None:
    with httpkit.Session(retry=FAST) as s:
        response, elapsed = timed(lambda: s.get(faults.url("/retry-after-seconds")))
    assert response.status_code == 200
    assert 0.95 <= elapsed <= 1.0 + SLACK


def test_retry_after_http_date_is_waited(faults: FaultServer) -> None:
    with httpkit.Session(retry=FAST) as s:
        response, elapsed = timed(lambda: s.get(faults.url("/retry-after-date")))
    assert response.status_code == 200
    assert 0.5 <= elapsed <= 2.0 + SLACK


def test_retry_after_too_long_raises_at_once_with_the_response(faults: FaultServer) -> None:
    with httpkit.Session(retry=FAST) as s:
        error, elapsed = timed(lambda: s.get(faults.url("/retry-after-day")))
    assert isinstance(error, RetryAfterTooLong)
    assert isinstance(error, requests.exceptions.RetryError)
    assert error.retry_after == 86400
    assert error.response.status_code == 503
    assert error.response.text == "not now"
    assert "86400 s, more than retry_after_max (120 s)" in str(error)
    assert elapsed < 0.5
    assert faults.count("/retry-after-day") == 1


def test_garbage_retry_after_falls_back_to_backoff(faults: FaultServer) -> None:
    with httpkit.Session(retry=FAST) as s:
        response, elapsed = timed(lambda: s.get(faults.url("/retry-after-garbage")))
    assert response.status_code == 200
    assert elapsed < 0.5
    assert faults.count("/retry-after-garbage") == 2


def test_429_with_retry_after_is_retried(faults: FaultServer) -> None:
    with httpkit.Session(retry=FAST) as s:
        response, elapsed = timed(lambda: s.get(faults.url("/too-many")))
    assert response.status_code == 200
    assert elapsed >= 0.95


def test_retry_after_that_would_cross_the_deadline_fails_at_once(faults: FaultServer) -> None:
    with httpkit.Session(retry=FAST) as s:
        error, elapsed = timed(lambda: s.get(faults.url("/retry-after-3"), deadline=2))
    assert isinstance(error, DeadlineExceeded)
    assert "waiting 3.0 s before the next attempt would pass the deadline of 2 s" in str(error)
    assert elapsed < 0.5


def test_backoff_never_sleeps_past_the_deadline(faults: FaultServer) -> None:
    slow = RetryPolicy(total=5, backoff_factor=2, jitter=0)  # waits 0, 4, 8 ... seconds
    with httpkit.Session(retry=slow) as s:
        error, elapsed = timed(lambda: s.get(faults.url("/unavailable"), deadline=2))
    assert isinstance(error, DeadlineExceeded)
    assert elapsed < 0.5
    assert faults.count("/unavailable") == 2


def test_get_broken_off_mid_body_is_retried(faults: FaultServer) -> None:
    with httpkit.Session(retry=FAST) as s:
        response = s.get(faults.url("/close-mid-body"))
    assert response.content == b"y" * 100
    assert faults.count("/close-mid-body") == 2
    assert response.retries.attempts == 2


def test_post_broken_off_mid_body_is_not_retried(faults: FaultServer) -> None:
    with httpkit.Session(retry=FAST) as s, pytest.raises(requests.RequestException):
        s.post(faults.url("/close-mid-body"), data=b"order")
    assert faults.count("/close-mid-body") == 1


def test_reset_is_retried_for_get_and_says_how_many_attempts(faults: FaultServer) -> None:
    policy = RetryPolicy(total=2, backoff_factor=0)
    with httpkit.Session(retry=policy) as s, pytest.raises(requests.ConnectionError) as caught:
        s.get(faults.url("/reset?token=s3cret"))
    assert faults.count("/reset") == 3
    message = str(caught.value)
    assert "failed after 3 attempts; last error:" in message
    assert "s3cret" not in message


def test_connection_refused_is_retried_even_for_post() -> None:
    # Port 9 on loopback: nothing listens there, so every connect is refused.
    policy = RetryPolicy(total=2, backoff_factor=0)
    with httpkit.Session(retry=policy) as s, pytest.raises(requests.ConnectionError) as caught:
        s.post("http://127.0.0.1:9/orders", data=b"x")
    assert "POST http://127.0.0.1:9/orders failed after 3 attempts" in str(caught.value)


def test_errors_pickle_with_what_they_carry(faults: FaultServer) -> None:
    with httpkit.Session(retry=FAST) as s:
        with pytest.raises(RetryAfterTooLong) as too_long:
            s.get(faults.url("/retry-after-day"))
        with pytest.raises(DeadlineExceeded) as deadline:
            s.get(faults.url("/hang"), deadline=0.3)
    restored = pickle.loads(pickle.dumps(too_long.value))
    assert (restored.retry_after, restored.response.status_code) == (86400, 503)
    assert str(restored) == str(too_long.value)
    restored_deadline = pickle.loads(pickle.dumps(deadline.value))
    assert restored_deadline.deadline == 0.3
    assert str(restored_deadline) == str(deadline.value)
