"""Processes that share a store act as one client (``docs/fleet.md``).

Every test runs at least four worker processes (``tests/integration/fleet.py``) against
a real local HTTP server and a real store: a Redis-compatible server or an SQLite file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration import fleet
from tests.integration.servers import Reply, ScriptedServer

WORKERS = 4


@pytest.fixture(params=["redis", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return f"sqlite://{tmp_path / 'fleet.db'}"


def _steady_rate(arrivals: list[float]) -> float:
    arrivals = sorted(arrivals)
    return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])


def test_a_fixed_limit_holds_for_the_whole_fleet(server: ScriptedServer, store_url: str) -> None:
    """4 processes, "20/s" each, one store: together 20 requests a second, within 10 %."""
    fleet.run_fleet(fleet.limited_gets, WORKERS, server.url("/r"), store_url, 10)
    arrivals = [r.at for r in server.requests_to("/r")][WORKERS:]  # after the warm-up calls
    assert len(arrivals) == WORKERS * 10
    assert _steady_rate(arrivals) == pytest.approx(20, rel=0.10)


def test_without_a_shared_store_each_process_has_its_own_limit(server: ScriptedServer) -> None:
    """The contrast: per-process stores let 4 processes send about 4 times the limit."""
    fleet.run_fleet(fleet.limited_gets, WORKERS, server.url("/r"), "memory://", 10)
    arrivals = [r.at for r in server.requests_to("/r")][WORKERS:]
    assert _steady_rate(arrivals) > 20 * 2.5


def test_after_one_429_no_process_sends_until_the_announced_time(
    server: ScriptedServer, store_url: str
) -> None:
    server.script("/q", Reply(429, headers=[("Retry-After", "2")]), Reply(200))
    sent = fleet.run_fleet(fleet.adaptive_gets, WORKERS, server.url("/q"), store_url)
    arrivals = sorted(r.at for r in server.requests_to("/q"))
    assert len(arrivals) == WORKERS * 2
    # The 429 came first; every other request waited for the announced 2 s.
    assert all(later - arrivals[0] >= 1.9 for later in arrivals[1:])
    assert sent[1][0] - sent[0][0] < 1.0  # the others had started long before


def test_the_circuit_opens_for_every_process(server: ScriptedServer, store_url: str) -> None:
    """One worker's failures open the circuit for all; one trial for the fleet closes it."""
    server.script("/c", Reply(503), Reply(503), Reply(503), Reply(200, delay=0.3), Reply(200))
    outcomes = fleet.run_fleet(fleet.circuit_calls, WORKERS, server.url("/c"), store_url)
    assert outcomes[0][:3] == ["503"] * 3
    phases = [[o[-3], o[-2], o[-1]] for o in outcomes]
    assert [p[0] for p in phases] == ["open"] * WORKERS  # nothing sent
    assert sorted(p[1] for p in phases) == ["200"] + ["half-open"] * (WORKERS - 1)
    assert [p[2] for p in phases] == ["200"] * WORKERS
    assert len(server.requests_to("/c")) == 3 + 1 + WORKERS
