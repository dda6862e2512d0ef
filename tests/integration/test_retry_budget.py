"""Retry budgets against a real local server: retries stop when they pass their share."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests

import httpkit
from httpkit import RetryBudget, RetryPolicy
from tests.integration.servers import Reply, ScriptedServer

#: Windows of a day: no test runs across the edge of one.
DAY = 86400.0


def _policy(ratio: float, minimum: int) -> RetryPolicy:
    budget = RetryBudget(ratio=ratio, minimum=minimum, window=DAY)
    return RetryPolicy(total=3, backoff_factor=0, jitter=0, budget=budget)


def test_retries_stop_when_the_budget_is_spent(server: ScriptedServer) -> None:
    server.script("/down", Reply(503))
    with httpkit.Session(retry=_policy(0.1, 2)) as s:
        first = s.get(server.url("/down"))  # 1 request: 2 + 0.1 retries fit, the third not
        second = s.get(server.url("/down"))  # 2 requests, 3 retries counted: none fits
    assert (first.status_code, second.status_code) == (503, 503)
    assert first.retries.attempts == 3
    assert second.retries.attempts == 1
    assert len(server.requests_to("/down")) == 4


def test_rare_failures_are_still_retried(server: ScriptedServer) -> None:
    server.script("/ok", Reply(200))
    server.script("/flaky", Reply(503), Reply(200))
    with httpkit.Session(retry=_policy(0.1, 0)) as s:
        for _ in range(20):
            s.get(server.url("/ok"))
        response = s.get(server.url("/flaky"))  # 21 requests: 2.1 retries fit
    assert response.status_code == 200
    assert response.retries.attempts == 2


def test_connection_errors_spend_the_budget_too() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"  # nothing listens once closed
    with httpkit.Session(retry=_policy(0.0, 1)) as s:
        with pytest.raises(requests.ConnectionError, match="failed after 2 attempts"):
            s.get(url)
        with pytest.raises(requests.ConnectionError) as info:
            s.get(url)
    assert "attempts" not in str(info.value)  # one attempt: the budget was spent


def test_budgets_are_per_origin(server: ScriptedServer, server2: ScriptedServer) -> None:
    for each in (server, server2):
        each.script("/down", Reply(503))
    with httpkit.Session(retry=_policy(0.0, 1)) as s:
        assert s.get(server.url("/down")).retries.attempts == 2
        assert s.get(server.url("/down")).retries.attempts == 1
        assert s.get(server2.url("/down")).retries.attempts == 2


def test_the_budget_in_a_config_file(tmp_path: Path) -> None:
    config = tmp_path / "httpkit.toml"
    config.write_text(
        "[session]\nretry = { total = 2, budget = { ratio = 0.05, minimum = 3 } }\n",
        encoding="utf-8",
    )
    with httpkit.Session.from_config(config) as s:
        policy = s.defaults.retry
    assert isinstance(policy, RetryPolicy)
    assert policy.budget == RetryBudget(ratio=0.05, minimum=3)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("lots", "expected a share of requests"),
        ({"ratios": 1}, "unknown key 'ratios'"),
        ({"window": 0}, "window must be > 0"),
        (-0.5, "budget.ratio must be >= 0"),
    ],
)
def test_bad_budgets_name_the_fix(value: object, message: str) -> None:
    with pytest.raises(httpkit.ConfigError, match=message):
        RetryPolicy(budget=value)  # type: ignore[arg-type]
