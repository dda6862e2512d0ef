"""Timeouts and RetryPolicy: validation, coercion, conversion to urllib3."""

from __future__ import annotations

import pickle

import pytest
from urllib3.util import Timeout as Urllib3Timeout
from urllib3.util.retry import RequestHistory, Retry

from httpkit import ConfigError, RetryHistory, RetryPolicy, Timeouts
from httpkit._retry import IDEMPOTENT_METHODS, NO_RETRIES, RETRY_STATUSES
from httpkit._timeouts import UNSET, to_requests_timeout


def test_timeouts_defaults_follow_the_guides() -> None:
    assert Timeouts().as_tuple() == (3.05, 30.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, (5.0, 5.0)),
        (2.5, (2.5, 2.5)),
        ((1, 10), (1.0, 10.0)),
        ((1, None), (1.0, None)),
        (None, (None, None)),
        (Timeouts(connect=1, read=2), (1.0, 2.0)),
    ],
)
def test_timeouts_coerce_accepts_every_documented_form(value: object, expected: tuple) -> None:
    assert Timeouts.coerce(value).as_tuple() == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "must be > 0"),
        (-1, "must be > 0"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        ("5", "timeout must be seconds"),
        (True, "timeout must be seconds"),
        ((1, 2, 3), "Pass a (connect, read) timeout tuple"),
        ((1, "x"), "Timeouts.read must be a number"),
    ],
)
def test_timeouts_reject_bad_values_naming_the_field(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Timeouts.coerce(value)  # type: ignore[arg-type]


def test_timeouts_are_frozen_and_keyword_only() -> None:
    t = Timeouts(connect=1, read=2)
    with pytest.raises(AttributeError):
        t.read = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        Timeouts(1, 2)  # type: ignore[misc]


def test_urllib3_timeout_objects_pass_through_to_requests() -> None:
    timeout = Urllib3Timeout(connect=1, read=2)
    assert to_requests_timeout(timeout) is timeout
    assert to_requests_timeout(None) == (None, None)


def test_unset_sentinel_is_distinct_and_named() -> None:
    assert UNSET is not None
    assert repr(UNSET) == "UNSET"


def test_retry_policy_defaults_match_the_design() -> None:
    policy = RetryPolicy()
    retry = policy.to_urllib3()
    assert retry.total == 3
    assert retry.backoff_factor == 0.5
    assert retry.backoff_max == 30
    assert retry.backoff_jitter == 0.5
    assert set(retry.status_forcelist) == {429, 500, 502, 503, 504} == RETRY_STATUSES
    assert set(retry.allowed_methods) == IDEMPOTENT_METHODS
    assert "POST" not in retry.allowed_methods
    assert retry.respect_retry_after_header is True
    assert retry.raise_on_status is False
    assert policy.retry_after_max == 120


def test_retry_policy_idempotency_key_adds_post_and_patch() -> None:
    retry = RetryPolicy(idempotency_key=True).to_urllib3()
    assert {"POST", "PATCH"} <= set(retry.allowed_methods)


def test_retry_policy_without_backoff_has_no_jitter() -> None:
    retry = RetryPolicy(backoff_factor=0).to_urllib3()
    assert retry.backoff_jitter == 0
    assert retry.get_backoff_time() == 0


@pytest.mark.parametrize(
    ("value", "total"),
    [(0, 0), (5, 5), (False, 0)],
)
def test_retry_coerce_numbers_and_false(value: object, total: int) -> None:
    coerced = RetryPolicy.coerce(value)  # type: ignore[arg-type]
    assert isinstance(coerced, RetryPolicy)
    assert coerced.total == total
    assert coerced.statuses == RETRY_STATUSES


def test_retry_false_is_no_retries_and_no_redirects() -> None:
    assert RetryPolicy.coerce(False) == RetryPolicy(total=0, redirects=0)
    assert RetryPolicy.coerce(0) == NO_RETRIES
    assert NO_RETRIES.redirects is None


def test_retry_coerce_keeps_a_urllib3_retry() -> None:
    retry = Retry(total=7)
    assert RetryPolicy.coerce(retry) is retry


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "retry must be an httpkit.RetryPolicy"),
        (True, "retry must be an httpkit.RetryPolicy"),
        ("3", "retry must be an httpkit.RetryPolicy"),
        (-1, "retry must be >= 0"),
    ],
)
def test_retry_coerce_rejects(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RetryPolicy.coerce(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"total": -1}, "RetryPolicy.total must be >= 0"),
        ({"total": 1.5}, "RetryPolicy.total must be a whole number"),
        ({"backoff_factor": -0.1}, "RetryPolicy.backoff_factor must be >= 0"),
        ({"statuses": [99]}, "RetryPolicy.statuses must hold HTTP status codes, got 99"),
        ({"methods": "GET"}, "RetryPolicy.methods must be a collection"),
        ({"methods": ["GE T"]}, "RetryPolicy.methods must hold method names"),
    ],
)
def test_retry_policy_validation_names_the_field(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RetryPolicy(**kwargs)


def test_retry_policy_normalizes_methods_and_compares_by_value() -> None:
    assert RetryPolicy(methods=["get", "put"]).methods == {"GET", "PUT"}
    assert RetryPolicy(total=2) == RetryPolicy(total=2)
    assert RetryPolicy(total=2) != RetryPolicy(total=3)


def test_retry_policy_pickles_with_its_urllib3_retry() -> None:
    policy = RetryPolicy(total=4, statuses={503})
    restored = pickle.loads(pickle.dumps(policy))
    assert restored == policy
    assert restored.to_urllib3().total == 4


def test_retry_history_counts_attempts_and_reasons() -> None:
    retry = Retry(total=3).increment("GET", "/x", error=ConnectionResetError())
    retry = retry.increment("GET", "/x", response=None, error=None)
    history = RetryHistory.from_urllib3(retry)
    assert history.attempts == 3
    assert history.reasons == ("ConnectionResetError", "None")
    assert str(history) == "3 attempts (retried after: ConnectionResetError, None)"
    assert str(RetryHistory.from_urllib3(None)) == "1 attempt"
    assert RetryHistory(2, (RequestHistory("GET", "/", None, 503, None),)).reasons == ("503",)
