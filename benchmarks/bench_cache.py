"""What caching and rate limiting cost: httpkit with and without them, side by side.

Usage::

    python benchmarks/bench_cache.py [--rounds N] [--requests M] [--json PATH]

A keep-alive HTTP/1.1 server runs in a separate process on 127.0.0.1 and answers every
GET with a tiny body and ``Cache-Control: max-age=3600``. Contenders, each with its own
session (one pooled connection), send M GETs per round; their order rotates from round
to round so drift on a noisy machine hits all of them alike.

Two questions, each answered with per-round ratios (medians over rounds):

* cache hit / round trip: wall time of a GET served from the cache (``cache=True``,
  after one priming request) against the same GET sent to the server (no cache): the
  target is below 0.10. A fresh hit of a plain GET is answered before the request is
  prepared (``Session._fresh_answer``). The "prepared path" contender, a middleware that
  answers at once, costs what every hit cost before: request preparation, merging
  settings, the call machinery and the middleware chain;
* limiter overhead: ``rate_limit`` set high enough never to wait (``1000000/s+auto``)
  against no limiter, in client CPU per request: the target is below 1.02.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
from _report import interleave
from _server import BODY, running_server

import httpkit


def make_contenders(url: str) -> dict[str, Callable[[], object]]:
    plain = httpkit.Session()
    cached = httpkit.Session(cache=True)
    limited = httpkit.Session(rate_limit="1000000/s+auto")
    cached.get(url)  # prime the cache

    def canned(request: Any, send: Any) -> requests.Response:
        # The prepared path: a middleware that answers at once, as cheaply as requests allows.
        response = requests.Response()
        response.status_code = 200
        response._content = BODY
        response.request = request
        return response

    floor = httpkit.Session(middlewares=[canned])

    def check(response: Any, from_cache: bool | None = None) -> None:
        assert response.status_code == 200, response.status_code
        if from_cache is not None:
            assert response.from_cache is from_cache

    return {
        "round trip (no cache)": lambda: check(plain.get(url)),
        "cache hit": lambda: check(cached.get(url), True),
        "prepared path, instant": lambda: check(floor.get(url)),
        "rate_limit, not limiting": lambda: check(limited.get(url)),
    }


def measure(rounds: int, per_round: int, warmup: int) -> dict[str, dict[str, list[float]]]:
    with running_server("Cache-Control: max-age=3600") as url:
        cpu, wall = interleave(make_contenders(url), rounds, per_round, warmup)
    return {name: {"cpu": cpu[name], "wall": wall[name]} for name in cpu}


def ratio(out: dict[str, dict[str, list[float]]], a: str, b: str, kind: str) -> list[float]:
    return [x / y for x, y in zip(out[a][kind], out[b][kind], strict=True)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    out = measure(args.rounds, args.requests, args.warmup)
    base = "round trip (no cache)"
    print(
        f"Python {platform.python_version()} on {platform.platform()}, "
        f"requests {requests.__version__}, httpkit {httpkit.__version__}; "
        f"{args.rounds} rounds x {args.requests} requests"
    )
    print()
    print(f"{'contender':<26} {'wall us/req':>11} {'CPU us/req':>10}")
    for name, row in out.items():
        wall, cpu = statistics.median(row["wall"]), statistics.median(row["cpu"])
        print(f"{name:<26} {wall:>11.1f} {cpu:>10.1f}")
    hit = ratio(out, "cache hit", base, "wall")
    prepared = ratio(out, "prepared path, instant", base, "wall")
    lim_cpu = ratio(out, "rate_limit, not limiting", base, "cpu")
    lim_wall = ratio(out, "rate_limit, not limiting", base, "wall")
    print()
    print(
        f"cache hit / round trip (wall):        median {statistics.median(hit):.3f} "
        f"(min {min(hit):.3f}, max {max(hit):.3f})   target < 0.10"
    )
    print(
        f"prepared path / round trip (wall):    median {statistics.median(prepared):.3f} "
        "(what a hit skips: preparation, the call, the middleware chain)"
    )
    print(
        f"limiter / no limiter (CPU per req):   median {statistics.median(lim_cpu):.3f} "
        f"(min {min(lim_cpu):.3f}, max {max(lim_cpu):.3f})   target < 1.02"
    )
    print(f"limiter / no limiter (wall per req):  median {statistics.median(lim_wall):.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
