"""Processes that share a store act as one client (``docs/fleet.md``).

Every test runs at least four worker processes (``tests/integration/fleet.py``) against
a real local HTTP server and a real store: a Redis-compatible server or an SQLite file.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis

from tests.integration import fleet
from tests.integration.redis_server import RedisServer
from tests.integration.servers import Reply, ScriptedServer, running

WORKERS = 4
MAX_AGE = ("Cache-Control", "max-age=60")


@pytest.fixture(params=["redis", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A shared store, with timeouts for a loaded test machine: a worker whose store fails
    over fails its test (``fleet._run``)."""
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url")) + "?timeout=2"
    return f"sqlite://{tmp_path / 'fleet.db'}?busy_timeout=10"


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


class TokenService:
    """A token endpoint (``POST /token``: t1, t2, ... each ``lifetime`` seconds long) and an
    API (``GET /api``) that accepts the tokens it issued, except those revoked."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.lock = threading.Lock()
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, handler: BaseHTTPRequestHandler) -> tuple[int, bytes]:
        with self.lock:
            if handler.path == "/token":
                self.issued.append(f"t{len(self.issued) + 1}")
                body = {"token": self.issued[-1], "expires_in": self.lifetime}
                return 200, json.dumps(body).encode()
            token = (handler.headers.get("Authorization") or "").removeprefix("Bearer ")
            ok = token in self.issued and token not in self.revoked
            return (200 if ok else 401), b"ok"


@pytest.fixture
def tokens() -> Iterator[TokenService]:
    service = TokenService(lifetime=2.0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, body = service.answer(self)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    service.port = httpd.server_address[1]
    with running(httpd):
        yield service


def test_one_token_fetch_per_expiry_for_the_fleet(tokens: TokenService, store_url: str) -> None:
    """Tokens live 2 s and are replaced 0.5 s early: 4 workers calling for 3.2 s need 3."""
    phases = [0.1 * i for i in range(33)]
    seen = fleet.run_fleet(
        fleet.token_calls, WORKERS, tokens.url("/api"), tokens.url("/token"), store_url, phases
    )
    assert all(status == 200 for worker in seen for status, _ in worker)
    # Every token fetched served the fleet: one fetch per expiry (3 in 3.2 s, or 2 when
    # the machine is slow to start the first call), not one per process (8 to 12).
    used = {token for worker in seen for _, token in worker}
    assert used == set(tokens.issued)
    assert 2 <= len(tokens.issued) <= 3


def test_a_401_makes_one_refresh_for_the_fleet(tokens: TokenService, store_url: str) -> None:
    """The server revokes t1: each worker meets one 401, and the fleet fetches one new token."""
    tokens.lifetime = 3600.0
    revoke = threading.Timer(fleet.START_DELAY + 0.5, lambda: tokens.revoked.add("t1"))
    revoke.start()
    try:
        seen = fleet.run_fleet(
            fleet.token_calls,
            WORKERS,
            tokens.url("/api"),
            tokens.url("/token"),
            store_url,
            [0.0, 1.5],
        )
    finally:
        revoke.cancel()
    assert [worker[0] for worker in seen] == [(200, "t1")] * WORKERS
    assert [worker[1] for worker in seen] == [(200, "t2")] * WORKERS
    assert tokens.issued == ["t1", "t2"]


@pytest.mark.parametrize("fault", ["killed", "hung"])
def test_a_store_fault_mid_run_costs_no_call_more_than_its_deadline(
    server: ScriptedServer, own_redis: RedisServer, fault: str
) -> None:
    """The Redis server is killed (or stopped: SIGSTOP) 1 s into a 3.5 s run of 4 workers,
    and back 1 s later. Every call succeeds, within its deadline of 1 s."""
    brought_down = own_redis.kill if fault == "killed" else own_redis.pause
    brought_back = own_redis.start if fault == "killed" else own_redis.resume
    down = threading.Timer(fleet.START_DELAY + 1.0, brought_down)
    back = threading.Timer(fleet.START_DELAY + 2.0, brought_back)
    down.start()
    back.start()
    try:
        outcomes = fleet.run_fleet(
            fleet.calls_through_a_store_fault,
            WORKERS,
            server.url("/f"),
            own_redis.url,
            3.5,
            1.0,
            failover=True,
        )
    finally:
        down.cancel()
        back.cancel()
        back.join()
    calls = [call for worker in outcomes for call in worker]
    assert {outcome for outcome, _ in calls} == {"200"}
    assert max(duration for _, duration in calls) < 1.0
    assert len(calls) > 3.5 * 40 * 0.8  # the fleet kept its pace (per process, while down)
    # Back on the server (a killed one restarts empty): the workers reconnected.
    assert redis.Redis.from_url(own_redis.url).keys("httpkit:rate:*")


def test_a_retry_budget_holds_for_the_fleet(server: ScriptedServer, store_url: str) -> None:
    """4 workers x 3 calls to a failing origin, 3 retries each allowed by the policy, a
    budget of 4 retries: 12 + 4 requests reach the origin, not 12 x 4."""
    server.script("/down", Reply(503))
    attempts = fleet.run_fleet(fleet.budgeted_calls, WORKERS, server.url("/down"), store_url)
    assert sum(sum(worker) for worker in attempts) == WORKERS * 3 + 4
    assert len(server.requests_to("/down")) == WORKERS * 3 + 4


def test_a_cold_cache_key_is_fetched_once_for_the_fleet(
    server: ScriptedServer, store_url: str
) -> None:
    server.script("/cold", Reply(body=b"fetched once", headers=[MAX_AGE], delay=0.5))
    answers = fleet.run_fleet(fleet.cached_get, WORKERS, server.url("/cold"), store_url)
    assert [text for _, text in answers] == ["fetched once"] * WORKERS
    assert sorted(from_cache for from_cache, _ in answers) == [False] + [True] * (WORKERS - 1)
    assert len(server.requests_to("/cold")) == 1
