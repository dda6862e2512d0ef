"""Client CPU per new HTTPS connection: httpkit.Session against requests.Session.

Usage::

    python benchmarks/bench_tls.py [--rounds N] [--requests M] [--json PATH]

An HTTPS server runs in a separate process on 127.0.0.1 (``_server.py`` with ``--tls``)
and answers every GET with ``Connection: close``, so every request opens a new TCP
connection and does a full TLS handshake. The CA bundle is given as a path, as most
users with a corporate CA do: certifi's bundle with a test CA (made by trustme) appended.

requests hands the path to urllib3, which calls ``load_verify_locations`` for every new
connection, parsing the whole bundle again. httpkit builds one ``SSLContext`` per TLS
configuration and reuses it. Contenders:

* ``requests``: ``requests.Session().get(url, verify=bundle)`` (the baseline);
* ``httpkit verify=``: ``httpkit.Session().get(url, verify=bundle)``;
* ``httpkit trust=``: ``httpkit.Session(trust=bundle).get(url)``.

Measured: the client process's CPU time (``time.process_time()``) per request, median over
rounds, and the median of per-round ratios to requests (the contenders' order rotates from
round to round). Wall-clock time is shown as secondary information. Target: ratio <= 0.5.
"""

from __future__ import annotations

import argparse
import platform
import ssl
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from _server import make_tls_files, running_server

BASELINE = "requests"


def make_files(directory: Path) -> tuple[str, str, str]:
    """(server cert, server key, CA bundle path = certifi + test CA)."""
    import certifi

    cert, key, ca = make_tls_files(directory)
    bundle = directory / "bundle.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + Path(ca).read_bytes())
    return cert, key, str(bundle)


def make_contenders(url: str, bundle: str) -> dict[str, Callable[[], object]]:
    import requests

    import httpkit

    plain = requests.Session()
    kit = httpkit.Session()
    kit_trust = httpkit.Session(trust=bundle)

    def check(response: Any) -> Any:
        assert response.status_code == 200, response.status_code
        return response

    return {
        BASELINE: lambda: check(plain.get(url, verify=bundle)),
        "httpkit verify=": lambda: check(kit.get(url, verify=bundle)),
        "httpkit trust=": lambda: check(kit_trust.get(url)),
    }


def measure(rounds: int, per_round: int, warmup: int) -> dict[str, Any]:
    from _report import interleave, summarize

    with tempfile.TemporaryDirectory() as tmp:
        cert, key, bundle = make_files(Path(tmp))
        with running_server("Connection: close", tls=(cert, key)) as url:
            cpu, wall = interleave(make_contenders(url, bundle), rounds, per_round, warmup)
    return summarize(cpu, wall, BASELINE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9, help="rounds (default 9)")
    parser.add_argument(
        "--requests", type=int, default=60, help="new connections per contender per round"
    )
    parser.add_argument("--warmup", type=int, default=20, help="warm-up requests per contender")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)

    import requests
    import urllib3

    import httpkit

    started = time.perf_counter()
    results = measure(args.rounds, args.requests, args.warmup)
    elapsed = time.perf_counter() - started
    print(
        f"Python {platform.python_version()} on {platform.platform()}, {ssl.OPENSSL_VERSION}, "
        f"requests {requests.__version__}, urllib3 {urllib3.__version__}, "
        f"httpkit {httpkit.__version__}"
    )
    print(
        f"{args.rounds} rounds x {args.requests} new HTTPS connections per contender; "
        f"CA bundle: certifi + test CA, as a path; {elapsed:.1f} s"
    )
    print()
    from _report import print_ratio_table, save_json

    print_ratio_table(
        results,
        unit="conn",
        width=18,
        digits=0,
        note=(
            "CPU and wall: medians over rounds; ratio: median of per-round ratios to\n"
            "requests.Session (lower is cheaper; target <= 0.5)."
        ),
    )
    if args.json:
        save_json(
            args.json,
            results,
            openssl=ssl.OPENSSL_VERSION,
            rounds=args.rounds,
            requests_per_round=args.requests,
            baseline=BASELINE,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
