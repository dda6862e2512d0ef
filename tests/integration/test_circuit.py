"""The circuit breaker against real local servers: every entry path, every failure shape."""

from __future__ import annotations

import pickle
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

import httpkit
from tests.integration.faults import fault_server
from tests.integration.servers import Reply, ScriptedServer

SendFn = Callable[[httpkit.Session, str], requests.Response]

ENTRY_PATHS: dict[str, SendFn] = {
    "get": lambda s, url: s.get(url),
    "request": lambda s, url: s.request("GET", url),
    "send": lambda s, url: s.send(s.prepare_request(requests.Request("GET", url))),
}


def _breaker(**kwargs: Any) -> httpkit.CircuitBreaker:
    return httpkit.CircuitBreaker(**{"failures": 3, "reset_after": 0.5, **kwargs})


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed when the block ends: connections refused


@pytest.mark.parametrize("entry", sorted(ENTRY_PATHS))
def test_failures_open_the_circuit_then_one_trial_closes_it(
    server: ScriptedServer, entry: str
) -> None:
    send = ENTRY_PATHS[entry]
    server.script("/h", Reply(503), Reply(503), Reply(503), Reply(200))
    with httpkit.Session(circuit=_breaker(), retry=0) as s:
        assert [send(s, server.url("/h")).status_code for _ in range(3)] == [503] * 3
        with pytest.raises(httpkit.CircuitOpen) as info:
            send(s, server.url("/h?token=s3cret"))
        assert len(server.requests_to("/h")) == 3  # not sent
        time.sleep(0.55)
        assert send(s, server.url("/h")).status_code == 200  # the trial
        assert send(s, server.url("/h")).status_code == 200  # closed again
    error = info.value
    assert isinstance(error, httpkit.HttpkitError)
    assert isinstance(error, requests.ConnectionError)
    assert error.origin == server.origin
    assert error.request is not None
    assert "s3cret" not in str(error)
    assert "open after 3 consecutive failures" in str(error)
    assert pickle.loads(pickle.dumps(error)).origin == server.origin


def test_a_failed_trial_opens_the_circuit_again(server: ScriptedServer) -> None:
    server.script("/h", Reply(500))
    with httpkit.Session(circuit=_breaker(failures=2), retry=0) as s:
        for _ in range(2):
            s.get(server.url("/h"))
        time.sleep(0.55)
        assert s.get(server.url("/h")).status_code == 500  # the trial fails
        with pytest.raises(httpkit.CircuitOpen):
            s.get(server.url("/h"))
    assert len(server.requests_to("/h")) == 3


def test_retries_count_each_attempt_and_stop_at_an_open_circuit(server: ScriptedServer) -> None:
    """An outage is not multiplied by the retry count: the call stops when the circuit opens."""
    server.script("/h", Reply(503))
    retry = httpkit.RetryPolicy(total=10, backoff_factor=0)
    with httpkit.Session(circuit=_breaker(), retry=retry) as s, pytest.raises(httpkit.CircuitOpen):
        s.get(server.url("/h"))
    assert len(server.requests_to("/h")) == 3


def test_refused_connections_count_as_failures() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/"
    with httpkit.Session(circuit=_breaker(), retry=0) as s:
        for _ in range(3):
            with pytest.raises(requests.ConnectionError) as info:
                s.get(url)
            assert not isinstance(info.value, httpkit.CircuitOpen)
        with pytest.raises(httpkit.CircuitOpen):
            s.get(url)


def test_a_body_that_breaks_off_counts_as_a_failure() -> None:
    """The status line was fine (no failure yet); the body breaking off is one."""
    with fault_server() as server:
        with httpkit.Session(circuit=_breaker(failures=1), retry=0) as s:
            with pytest.raises(requests.RequestException) as info:
                s.get(server.url("/close-mid-body"))
            assert not isinstance(info.value, httpkit.CircuitOpen)
            with pytest.raises(httpkit.CircuitOpen):
                s.get(server.url("/close-mid-body"))
        assert server.count("/close-mid-body") == 1


def test_client_errors_and_refusals_say_nothing_of_health(server: ScriptedServer) -> None:
    server.script("/h", Reply(404))
    with httpkit.Session(circuit=_breaker(failures=1), retry=0) as s:
        for _ in range(3):
            assert s.get(server.url("/h")).status_code == 404
        s.configure(server.origin, ssrf=True)  # loopback is refused before connecting
        for _ in range(3):
            with pytest.raises(httpkit.BlockedAddress):
                s.get(server.url("/h"))
        s.configure(server.origin, ssrf=None)
        assert s.get(server.url("/h")).status_code == 404


def test_circuits_are_per_origin(server: ScriptedServer, server2: ScriptedServer) -> None:
    server.script("/h", Reply(503))
    with httpkit.Session(circuit=_breaker(failures=1), retry=0) as s:
        s.get(server.url("/h"))
        with pytest.raises(httpkit.CircuitOpen):
            s.get(server.url("/h"))
        assert s.get(server2.url("/h")).status_code == 200


def test_one_trial_at_a_time_when_half_open(server: ScriptedServer) -> None:
    server.script("/h", Reply(503), Reply(200, delay=0.5))
    outcomes: list[str] = []
    with httpkit.Session(circuit=_breaker(failures=1, reset_after=0.3), retry=0) as s:
        s.get(server.url("/h"))
        time.sleep(0.35)

        def call() -> None:
            try:
                outcomes.append(str(s.get(server.url("/h")).status_code))
            except httpkit.CircuitOpen as exc:
                outcomes.append("half-open" if "half-open" in str(exc) else "open")

        threads = [threading.Thread(target=call) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(outcomes) == ["200", "half-open", "half-open", "half-open"]
    assert len(server.requests_to("/h")) == 2


def test_a_host_policy_sets_its_own_breaker(server: ScriptedServer, tmp_path: Path) -> None:
    server.script("/h", Reply(502))
    config = tmp_path / "httpkit.toml"
    config.write_text(
        f'[hosts."{server.origin}"]\ncircuit = {{ failures = 1, reset_after = 60 }}\nretry = 0\n',
        encoding="utf-8",
    )
    with httpkit.Session.from_config(config) as s:
        assert s.policy_for(server.url()).circuit == httpkit.CircuitBreaker(
            failures=1, reset_after=60
        )
        s.get(server.url("/h"))
        with pytest.raises(httpkit.CircuitOpen):
            s.get(server.url("/h"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "expected True, an httpkit.CircuitBreaker"),
        ({"failure": 3}, "unknown key 'failure'"),
        ({"failures": 0}, "failures must be an int > 0"),
        ({"reset_after": -1}, "reset_after must be seconds > 0"),
        ({"statuses": [700]}, "statuses must be HTTP status codes"),
    ],
)
def test_bad_circuit_settings_name_the_fix(value: Any, message: str) -> None:
    with pytest.raises(httpkit.ConfigError, match="Session\\(\\): circuit") as info:
        httpkit.Session(circuit=value)
    assert message in str(info.value)
