"""Client CPU per request, side by side: requests, httpkit, urllib3 and httpx in one run.

Usage::

    python benchmarks/bench_clients.py [--scenarios NAME ...] [--rounds N] [--requests M]
        [--quick] [--json PATH]

Clients, each one long-lived object shared by all of a scenario's requests:

* ``requests``: a plain ``requests.Session()`` (the baseline of every ratio);
* ``requests+Retry+timeout``: ``requests.Session()`` with a hand-mounted
  ``HTTPAdapter(max_retries=Retry(total=3, backoff_factor=0.5, status_forcelist=[429, 500,
  502, 503, 504]))`` and ``timeout=(3.05, 30)`` on every call;
* ``httpkit``: ``httpkit.Session()`` with its defaults;
* ``urllib3``: ``urllib3.PoolManager()``, the transport under the three above;
* ``httpx``: ``httpx.Client()``, when httpx can be imported (skipped with a note if not).

Scenarios (``--scenarios``, default: all but ``threads32``):

* ``http``: sequential keep-alive GETs of a 13-byte body (as ``bench_session.py``);
* ``https``: the same over TLS: one handshake, then the connection is reused. The server's
  certificate comes from a test CA made by trustme, and every client verifies against it
  (``verify=<CA file>`` per call for the requests-based clients, ``ca_certs=`` for urllib3,
  an ``SSLContext`` loaded from the file for httpx);
* ``stream``: keep-alive GETs of a 1 MiB body read in a stream: ``stream=True`` and
  ``iter_content(65536)`` (requests, httpkit), ``preload_content=False`` and
  ``stream(65536)`` (urllib3), ``client.stream("GET", ...)`` and ``iter_bytes()`` (httpx);
* ``threadsN`` (``threads16`` by default; any N, e.g. ``threads32``): N threads share one
  client, each sending its share of the round's GETs of the small body at the same time.
  Besides CPU, each client's row shows the TCP connections its server accepted over the
  whole scenario ("conns"), the most open at once ("peak"), and the ``Connection pool is
  full`` warnings that the ``urllib3.connectionpool`` logger emitted while that client ran
  ("pool full"; every scenario shows these three). The target for httpkit: no warning,
  no more connections than threads;
* ``import``: wall time of ``python -c "import X"`` in fresh processes, for requests,
  httpkit, urllib3 and httpx, and of ``import X; X.Session()`` for requests and httpkit.
  Each command runs once first (which also writes the bytecode; PYTHONDONTWRITEBYTECODE is
  removed from the children's environment), then ``--import-runs`` times, interleaved.
  Reported: the median, the median net of ``python -c pass`` (per-run differences), and
  the median per-run difference httpkit - requests.

Every client in a scenario has its own server (``_server.py``: a stdlib keep-alive server in
another process on 127.0.0.1), so the connections each server counts are that client's. In
each round every client sends M requests (``--requests``); the order of the clients rotates
from round to round, so drift on this noisy machine falls on all of them alike. Measured:
the client process's CPU time (``time.process_time()``, all threads) per request, median
over rounds, and the median of the per-round ratios to plain requests. Wall time per
request is shown as secondary information (it includes the server and loopback).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import platform
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import requests
import urllib3
from _report import interleave, print_ratio_table, save_json, summarize
from _server import BIG_BODY, Server, make_tls_files
from requests.adapters import HTTPAdapter

import httpkit

try:
    import httpx
except ImportError:  # measured when installed
    httpx = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "requests"
CHUNK = 65536
SCENARIOS = ["http", "https", "stream", "threads16", "threads32", "import"]
DEFAULT_SCENARIOS = ["http", "https", "stream", "threads16", "import"]
# Requests per client per round (all threads together in threadsN), and rounds.
DEFAULT_REQUESTS = {"http": 400, "https": 400, "stream": 100, "threads": 640}
DEFAULT_ROUNDS, DEFAULT_IMPORT_RUNS = 15, 20
CLIENTS = [BASELINE, "requests+Retry+timeout", "httpkit", "urllib3", *(["httpx"] if httpx else [])]


# -- the clients -----------------------------------------------------------------------------


@dataclass
class Client:
    get: Callable[[str], None]  # one GET of the small body
    stream: Callable[[str], None]  # one streamed GET of the 1 MiB body
    close: Callable[[], None]


def _check(status: int, size: int | None = None) -> None:
    assert status == 200, status
    assert size is None or size == len(BIG_BODY), size


def _session_client(session: requests.Session, **kwargs: Any) -> Client:
    """requests, requests+Retry+timeout and httpkit: ``kwargs`` are passed on every call."""

    def get(url: str) -> None:
        _check(session.get(url, **kwargs).status_code)

    def stream(url: str) -> None:
        with session.get(url, stream=True, **kwargs) as response:
            _check(response.status_code, sum(map(len, response.iter_content(CHUNK))))

    return Client(get, stream, session.close)


def _urllib3_client(pool: urllib3.PoolManager) -> Client:
    def get(url: str) -> None:
        _check(pool.request("GET", url).status)

    def stream(url: str) -> None:
        response = pool.request("GET", url, preload_content=False)
        _check(response.status, sum(map(len, response.stream(CHUNK))))
        response.release_conn()

    return Client(get, stream, pool.clear)


def _httpx_client(client: Any) -> Client:
    def get(url: str) -> None:
        _check(client.get(url).status_code)

    def stream(url: str) -> None:
        with client.stream("GET", url) as response:
            _check(response.status_code, sum(map(len, response.iter_bytes())))

    return Client(get, stream, client.close)


def make_clients(ca: str | None) -> dict[str, Client]:
    """The clients, verifying TLS against the CA file ``ca`` when one is given."""
    tls = {"verify": ca} if ca else {}
    by_hand = requests.Session()
    retry = urllib3.Retry(total=3, backoff_factor=0.5, status_forcelist=[429, 500, 502, 503, 504])
    adapter = HTTPAdapter(max_retries=retry)
    by_hand.mount("http://", adapter)
    by_hand.mount("https://", adapter)
    clients = {
        BASELINE: _session_client(requests.Session(), **tls),
        "requests+Retry+timeout": _session_client(by_hand, timeout=(3.05, 30), **tls),
        "httpkit": _session_client(httpkit.Session(), **tls),
        "urllib3": _urllib3_client(
            urllib3.PoolManager(ca_certs=ca) if ca else urllib3.PoolManager()
        ),
    }
    if httpx is not None:
        context = ssl.create_default_context(cafile=ca) if ca else True
        clients["httpx"] = _httpx_client(httpx.Client(verify=context))
    return clients


# -- threads and warnings --------------------------------------------------------------------


class Gang:
    """``threads`` threads sharing ``send``: each call makes every thread call it ``each`` times.

    The threads live as long as the gang and start each batch together (a barrier), so all
    of them are sending at once; a call returns when the last one is done.
    """

    def __init__(self, send: Callable[[], object], threads: int, each: int) -> None:
        self._go = threading.Barrier(threads + 1, timeout=300)
        self._done = threading.Barrier(threads + 1, timeout=300)
        self._stop = False
        self._errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._work, args=(send, each), daemon=True)
            for _ in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self, send: Callable[[], object], each: int) -> None:
        while True:
            self._go.wait()
            if self._stop:
                return
            try:
                for _ in range(each):
                    send()
            except BaseException as exc:  # reported by __call__
                self._errors.append(exc)
            self._done.wait()

    def __call__(self) -> None:
        self._go.wait()
        self._done.wait()
        if self._errors:
            raise self._errors[0]

    def close(self) -> None:
        self._stop = True
        self._go.wait()
        for thread in self._threads:
            thread.join()


class PoolFullCounter(logging.Handler):
    """Counts urllib3's "Connection pool is full" warnings per client (``current``)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.current = ""
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith("Connection pool is full"):
            self.counts[self.current] += 1

    def switch(self, name: str) -> None:
        self.current = name


@contextlib.contextmanager
def counting_pool_full() -> Iterator[PoolFullCounter]:
    counter = PoolFullCounter()
    logger = logging.getLogger("urllib3.connectionpool")
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)


# -- the scenarios ---------------------------------------------------------------------------


def thread_count(scenario: str) -> int:
    return int(scenario.removeprefix("threads")) if scenario.startswith("threads") else 0


def run_scenario(
    scenario: str, rounds: int, per_round: int, tls: tuple[str, str, str]
) -> dict[str, Any]:
    """CPU per request of every client in ``scenario``, with its server's connection counts.

    In ``threadsN``, ``per_round`` must be a multiple of N.
    """
    threads = thread_count(scenario)
    cert, key, ca = tls
    https = scenario == "https"
    clients = make_clients(ca if https else None)
    with contextlib.ExitStack() as stack, counting_pool_full() as warnings:
        servers = {
            n: stack.enter_context(Server(tls=(cert, key) if https else None)) for n in clients
        }
        contenders: dict[str, Callable[[], object]] = {}
        for name, client in clients.items():
            if scenario == "stream":
                contenders[name] = functools.partial(client.stream, servers[name].big_url)
            else:
                contenders[name] = functools.partial(client.get, servers[name].url)
            if threads:
                contenders[name] = gang = Gang(contenders[name], threads, per_round // threads)
                stack.callback(gang.close)
        if threads:  # one call = one batch of per_round requests from all threads
            cpu, wall = interleave(contenders, rounds, 1, 1, warnings.switch)
            for name in clients:
                cpu[name] = [c / per_round for c in cpu[name]]
                wall[name] = [w / per_round for w in wall[name]]
        else:
            cpu, wall = interleave(contenders, rounds, per_round, per_round // 2, warnings.switch)
        results = summarize(cpu, wall, BASELINE)
        for name, client in clients.items():
            stats = servers[name].stats()
            results[name]["connections"] = stats["accepted"]
            results[name]["peak_open"] = stats["peak_open"]
            results[name]["pool_full_warnings"] = warnings.counts[name]
            client.close()
    return results


def measure_imports(runs: int) -> dict[str, dict[str, Any]]:
    """Wall ms of ``python -c CODE`` in fresh processes, interleaved; net of ``pass``."""
    codes = {
        "pass": "pass",
        "requests": "import requests",
        "httpkit": "import httpkit",
        "urllib3": "import urllib3",
        "httpx": "import httpx",
        "requests.Session()": "import requests; requests.Session()",
        "httpkit.Session()": "import httpkit; httpkit.Session()",
    }
    if httpx is None:
        del codes["httpx"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def run(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)
        return time.perf_counter() - started

    for code in codes.values():  # bytecode written and checked once, untimed
        run(code)
    names = list(codes)
    ms: dict[str, list[float]] = {name: [] for name in names}
    for r in range(runs):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            ms[name].append(run(codes[name]) * 1e3)

    def diff(a: str, b: str) -> float:
        return statistics.median(x - y for x, y in zip(ms[a], ms[b], strict=True))

    results: dict[str, dict[str, Any]] = {
        name: {"ms_median": statistics.median(ms[name]), "net_ms_median": diff(name, "pass")}
        for name in names
    }
    for name in names[1:]:  # modules against requests, X.Session() against requests.Session()
        base = "requests.Session()" if name.endswith("()") else "requests"
        results[name]["minus_requests_ms_median"] = diff(name, base)
        results[name]["ratio_to_requests"] = (
            results[name]["net_ms_median"] / results[base]["net_ms_median"]
        )
        results[name]["ms_per_run"] = ms[name]
    return results


# -- printing --------------------------------------------------------------------------------


def print_scenario(
    scenario: str, results: dict[str, Any], rounds: int, per_round: int, seconds: float
) -> None:
    how = f"{rounds} rounds x {per_round} requests per client"
    if thread_count(scenario):
        how += f", from {thread_count(scenario)} threads sharing the client"
    print(f"== {scenario}: {how}")
    columns = [("conns", "connections"), ("peak", "peak_open"), ("pool full", "pool_full_warnings")]
    note = f"({seconds:.0f} s)\n"
    print_ratio_table(results, unit="req", width=23, digits=1, note=note, columns=columns)


def print_imports(results: dict[str, dict[str, Any]], runs: int, seconds: float) -> None:
    print(f"== import: {runs} fresh processes per command, interleaved")
    header = f"{'python -c':<36} {'ms':>6} {'net ms':>6} {'ratio':>5} {'- requests':>10}"
    print(header)
    print("-" * len(header))
    for name, row in results.items():
        code = "pass" if name == "pass" else f"import {name.split('.')[0]}"
        code += f"; {name}" if name.endswith("()") else ""
        ratio = f"{row['ratio_to_requests']:.2f}" if "ratio_to_requests" in row else ""
        minus = row.get("minus_requests_ms_median")
        minus_text = "" if name.startswith("requests") or minus is None else f"{minus:+.1f}"
        ms, net = row["ms_median"], row["net_ms_median"]
        print(f"{code:<36} {ms:>6.1f} {net:>6.1f} {ratio:>5} {minus_text:>10}".rstrip())
    print()
    print(
        "ms: median wall time of the process; net: minus `pass` in the same run (median of\n"
        "the differences); ratio: net to requests' net (X.Session() to requests.Session());\n"
        f"- requests: median of the per-run differences, in ms. ({seconds:.0f} s)\n"
    )


def print_summary(all_results: dict[str, dict[str, Any]]) -> None:
    print("== summary: ratios to plain requests (CPU per request; import: net wall time)")
    width = {c: max(len(c), 7) for c in CLIENTS}
    header = f"{'scenario':<15}" + "".join(f" {c:>{width[c]}}" for c in CLIENTS)
    print(header)
    print("-" * len(header))
    rows: dict[str, dict[str, float]] = {}
    for scenario, results in all_results.items():
        if scenario == "import":
            rows["import"] = {c: results[c]["ratio_to_requests"] for c in CLIENTS if c in results}
            rows["import+Session"] = {
                c: results[f"{c}.Session()"]["ratio_to_requests"] for c in (BASELINE, "httpkit")
            }
        else:
            rows[scenario] = {c: r["ratio_to_requests_median"] for c, r in results.items()}
    for row_name, ratios in rows.items():
        cells = "".join(
            f" {ratios[c]:>{width[c]}.2f}" if c in ratios else f" {'-':>{width[c]}}"
            for c in CLIENTS
        )
        print(f"{row_name:<15}{cells}")


# -- main ------------------------------------------------------------------------------------


def scenario_name(value: str) -> str:
    if value in SCENARIOS or (
        value.startswith("threads") and value[7:].isdigit() and int(value[7:])
    ):
        return value
    raise argparse.ArgumentTypeError(f"unknown scenario {value!r} (one of {', '.join(SCENARIOS)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--scenarios",
        nargs="+",
        type=scenario_name,
        default=DEFAULT_SCENARIOS,
        metavar="NAME",
        help=f"of {', '.join(SCENARIOS)} (any threadsN); default: {' '.join(DEFAULT_SCENARIOS)}",
    )
    parser.add_argument("--rounds", type=int, help=f"rounds (default {DEFAULT_ROUNDS})")
    parser.add_argument(
        "--requests",
        type=int,
        help="requests per client per round, all threads together (default: "
        + ", ".join(f"{k} {v}" for k, v in DEFAULT_REQUESTS.items())
        + ")",
    )
    parser.add_argument(
        "--import-runs",
        type=int,
        help=f"processes per import command (default {DEFAULT_IMPORT_RUNS})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run (~20 s): 4 rounds, 1/5 of the requests, 6 processes per import",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    rounds = args.rounds or (4 if args.quick else DEFAULT_ROUNDS)
    import_runs = args.import_runs or (6 if args.quick else DEFAULT_IMPORT_RUNS)

    print(
        f"Python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs, "
        f"{ssl.OPENSSL_VERSION}\nrequests {requests.__version__}, urllib3 {urllib3.__version__}, "
        f"httpkit {httpkit.__version__}, "
        + (f"httpx {httpx.__version__}" if httpx else "httpx not installed: skipped")
        + f"; {len(os.environ)} environment variables"
    )
    print()
    all_results: dict[str, dict[str, Any]] = {}
    per_rounds: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tls = make_tls_files(Path(tmp))
        for scenario in dict.fromkeys(args.scenarios):
            started = time.perf_counter()
            if scenario == "import":
                all_results[scenario] = measure_imports(import_runs)
                print_imports(all_results[scenario], import_runs, time.perf_counter() - started)
                continue
            threads = thread_count(scenario)
            default = DEFAULT_REQUESTS["threads" if threads else scenario]
            per_round = args.requests or max(default // 5 if args.quick else default, 2)
            if threads:  # the same number of requests from every thread
                per_round = max(1, per_round // threads) * threads
            per_rounds[scenario] = per_round
            all_results[scenario] = run_scenario(scenario, rounds, per_round, tls)
            seconds = time.perf_counter() - started
            print_scenario(scenario, all_results[scenario], rounds, per_round, seconds)
    print_summary(all_results)
    print(
        "\nCPU: the client process's CPU time per request (all threads), median over rounds;"
        "\nratio: median of per-round ratios to plain requests.Session (lower is cheaper);"
        "\nconns: TCP connections the client's server accepted; peak: most open at once;"
        "\npool full: urllib3 'Connection pool is full' warnings while the client ran."
    )
    if args.json:
        save_json(
            args.json,
            all_results,
            httpx=httpx.__version__ if httpx else None,
            openssl=ssl.OPENSSL_VERSION,
            env_vars=len(os.environ),
            rounds=rounds,
            requests_per_round=per_rounds,
            import_runs=import_runs,
            baseline=BASELINE,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
