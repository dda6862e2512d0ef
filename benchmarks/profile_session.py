"""Where the client's time goes: cProfile of plain requests.Session and httpkit.Session.

Usage::

    python benchmarks/profile_session.py [--requests N] [--top K] [--extra-env K]
                                         [--only requests|httpkit] [--dump DIR]

The same keep-alive server as ``bench_session.py`` runs in a separate process, so only
the client is profiled. Each session is warmed up first, then N GETs run under cProfile.
For each contender the top K functions are printed by own time (tottime) and by
cumulative time, then the top K by cumulative time among the functions of httpkit and
requests only (the code a faster httpkit.Session can change or avoid). Times are
microseconds *per request* on cProfile's default (wall-clock) timer: the socket calls
(``sendall``, ``recv_into``) include waiting for the server, everything else is client
CPU. (A CPU-time timer was tried: its per-call system call inflates functions called
hundreds of times per request, such as ``os.environ`` iteration, about 8x.) Profiler
overhead is included, so absolute numbers are about 2x the unprofiled ones; the ranking
and the shares hold.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import requests
from _server import running_server
from bench_session import add_dummy_env

import httpkit

_PREFIXES = (str(Path(sys.prefix)), sys.base_prefix, str(Path(__file__).resolve().parent.parent))


def _where(key: tuple[str, int, str]) -> str:
    filename, line, func = key
    if filename == "~":
        return func  # a builtin, e.g. "<built-in method posix.fspath>"
    for prefix in _PREFIXES:
        if filename.startswith(prefix):
            filename = filename[len(prefix) :].lstrip("/")
            break
    for marker in ("site-packages/", "python3.11/", "python3.12/", "python3.10/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{line}({func})"


_FOCUS = ("/httpkit/", "/requests/")


def top_rows(
    stats: pstats.Stats, n_requests: int, sort: str, top: int, focus: bool = False
) -> list[dict[str, Any]]:
    raw = stats.stats  # type: ignore[attr-defined]  # {key: (cc, nc, tt, ct, callers)}
    index = 2 if sort == "tottime" else 3
    items = raw.items()
    if focus:
        items = [(k, v) for k, v in items if any(f in k[0] for f in _FOCUS)]
    ranked = sorted(items, key=lambda item: item[1][index], reverse=True)[:top]
    return [
        {
            "function": _where(key),
            "calls_per_request": nc / n_requests,
            "tottime_us": tt / n_requests * 1e6,
            "cumtime_us": ct / n_requests * 1e6,
        }
        for key, (_cc, nc, tt, ct, _callers) in ranked
    ]


def print_rows(title: str, rows: list[dict[str, Any]]) -> None:
    print(title)
    print(f"  {'calls/req':>9} {'own us/req':>10} {'cum us/req':>10}  function")
    for row in rows:
        print(
            f"  {row['calls_per_request']:>9.2f} {row['tottime_us']:>10.1f} "
            f"{row['cumtime_us']:>10.1f}  {row['function']}"
        )
    print()


def profile(name: str, session: requests.Session, url: str, n: int) -> pstats.Stats:
    for _ in range(300):
        session.get(url)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        session.get(url)
    profiler.disable()
    return pstats.Stats(profiler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="profiled requests (3000)")
    parser.add_argument("--top", type=int, default=25, help="rows per table (25)")
    parser.add_argument("--extra-env", type=int, default=0, metavar="K")
    parser.add_argument("--only", choices=["requests", "httpkit"])
    parser.add_argument("--dump", metavar="DIR", help="also write <contender>.prof files here")
    args = parser.parse_args(argv)

    add_dummy_env(args.extra_env)
    sessions = {"requests": requests.Session, "httpkit": httpkit.Session}
    if args.only:
        sessions = {args.only: sessions[args.only]}
    print(f"environment variables: {len(os.environ)}; {args.requests} profiled GETs each\n")
    with running_server() as url:
        for name, factory in sessions.items():
            with factory() as session:
                stats = profile(name, session, url, args.requests)
            if args.dump:
                Path(args.dump).mkdir(parents=True, exist_ok=True)
                stats.dump_stats(str(Path(args.dump) / f"{name}.prof"))
            total = stats.total_tt / args.requests * 1e6  # type: ignore[attr-defined]
            print(f"=== {name}: {total:.0f} us/request under the profiler ===\n")
            for sort in ("tottime", "cumulative"):
                rows = top_rows(stats, args.requests, sort, args.top)
                print_rows(f"{name}: top {args.top} by {sort}", rows)
            rows = top_rows(stats, args.requests, "cumulative", args.top, focus=True)
            print_rows(
                f"{name}: top {args.top} by cumulative, httpkit and requests code only", rows
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
