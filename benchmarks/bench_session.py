"""Client CPU per request: httpkit.Session against requests.Session.

Usage::

    python benchmarks/bench_session.py [--rounds N] [--requests M] [--extra-env K] [--json PATH]

A keep-alive HTTP/1.1 server runs in a separate process on 127.0.0.1 and answers every
GET with a tiny fixed body. Each contender keeps one session (one pooled connection) for
the whole run. In each round every contender sends M GETs; the order of the contenders
rotates from round to round, so drift on a noisy machine hits all of them alike.

What is measured is the *client process* CPU time (``time.process_time()``) per request:
the server is another process and does not count. Wall-clock time is reported too, as
secondary information (it includes the server and the loopback round trip).

Reported per contender: the median over rounds of CPU µs/request, the median over rounds
of the per-round ratio to plain ``requests.Session`` (each round's ratio compares runs
made seconds apart, which cancels slow drift), and the median wall-clock µs/request.

requests' per-request cost grows with ``len(os.environ)`` (it scans the environment for
proxy variables on every call), so the variable count is printed, and ``--extra-env K``
adds K dummy variables before measuring, to model a typical developer or CI machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import requests
import urllib3
from _report import interleave, print_ratio_table, save_json, summarize
from _server import running_server
from requests.adapters import HTTPAdapter

import httpkit

BASELINE = "requests"


def make_contenders(url: str) -> dict[str, Callable[[], object]]:
    """One zero-argument callable per contender, each sending one GET to ``url``."""
    plain = requests.Session()

    by_hand = requests.Session()
    retry = urllib3.Retry(total=3, backoff_factor=0.5, status_forcelist=[429, 500, 502, 503, 504])
    adapter = HTTPAdapter(max_retries=retry)
    by_hand.mount("http://", adapter)
    by_hand.mount("https://", adapter)

    kit = httpkit.Session()
    # The same session without a deadline: the difference is what the deadline costs.
    kit_no_deadline = httpkit.Session(deadline=None)
    pool = urllib3.PoolManager()

    def check(response: Any) -> Any:
        assert response.status_code == 200, response.status_code
        return response

    return {
        BASELINE: lambda: check(plain.get(url)),
        "requests+Retry+timeout": lambda: check(by_hand.get(url, timeout=(3.05, 30))),
        "httpkit": lambda: check(kit.get(url)),
        "httpkit deadline=None": lambda: check(kit_no_deadline.get(url)),
        "urllib3 (floor)": lambda: pool.request("GET", url).status == 200 or 1 / 0,
    }


def add_dummy_env(count: int) -> None:
    for i in range(count):
        os.environ[f"BENCH_DUMMY_{i}"] = f"/opt/bench/dummy/value/{i}"


def measure(rounds: int, per_round: int, warmup: int) -> dict[str, Any]:
    with running_server() as url:
        cpu, wall = interleave(make_contenders(url), rounds, per_round, warmup)
    return summarize(cpu, wall, BASELINE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="rounds (default 15)")
    parser.add_argument(
        "--requests", type=int, default=400, help="requests per contender per round (default 400)"
    )
    parser.add_argument("--warmup", type=int, default=300, help="warm-up requests per contender")
    parser.add_argument(
        "--extra-env", type=int, default=0, metavar="K", help="add K dummy environment variables"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)

    add_dummy_env(args.extra_env)
    env_count = len(os.environ)
    started = time.perf_counter()
    results = measure(args.rounds, args.requests, args.warmup)
    elapsed = time.perf_counter() - started

    print(
        f"Python {platform.python_version()} on {platform.platform()}, "
        f"requests {requests.__version__}, urllib3 {urllib3.__version__}, "
        f"httpkit {httpkit.__version__}"
    )
    print(
        f"environment variables: {env_count} (extra dummies: {args.extra_env}); "
        f"{args.rounds} rounds x {args.requests} requests per contender; {elapsed:.1f} s"
    )
    print()
    print_ratio_table(
        results,
        unit="req",
        width=24,
        digits=1,
        note=(
            "CPU us/req and wall us/req: medians over rounds; ratio: median of per-round "
            "ratios\nto plain requests.Session (lower is cheaper)."
        ),
    )
    if args.json:
        save_json(
            args.json,
            results,
            env_vars=env_count,
            extra_env=args.extra_env,
            rounds=args.rounds,
            requests_per_round=args.requests,
            baseline=BASELINE,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
