"""Instructions per request, counted by valgrind's callgrind: httpkit beside other clients.

Usage::

    python benchmarks/count_session.py [--requests M] [--warmup N] [--clients NAME ...]
        [--python PATH] [--pythonpath DIR ...] [--extra-env K] [--jobs J] [--json PATH]

CPU time on a shared machine moves by up to ±20 % from round to round; the number of
instructions a client executes per request barely moves (within 0.5 % between runs), so
small changes show. The shared keep-alive server (``_server.py``) runs natively in a child
process; each client runs in its own Python process under ``valgrind --tool=callgrind`` and
sends keep-alive GETs of a 13-byte body to 127.0.0.1 with one long-lived client.

**How only the steady state is counted.** Each client runs twice under callgrind: once
with the N warm-up requests only, once with the N warm-up requests followed by M more. The
two runs are the same up to the end of the warm-up, so the difference of their totals,
divided by M, is the cost of one steady-state request: interpreter start-up, imports,
first connection, warm-up and shutdown cancel out. This needs no marker in the code, no
debug symbols of the interpreter and no C function that the client never calls for
another reason, which ``--toggle-collect`` would need (it matches C symbols, not Python
functions, and toggles again on every nested call). To keep both runs alike, hash
randomisation is off (``PYTHONHASHSEED=0``) and a run without valgrind first checks the
client and leaves compiled bytecode behind; the counted runs write none.

Every thread is counted; "other threads" is the part outside the main thread. httpkit's
deadline watchdog wakes every 0.1 s of *wall* time while a call is in progress, and under
callgrind a request lasts ~50x longer than natively, so that part is overstated and varies
with the machine's load (about a thousand instructions per request, under 0.1 %).

``--pythonpath`` may be given several times, e.g. a second checkout made with
``git worktree add``: the httpkit clients are counted once per directory, labelled with its
commit; the other clients do not import httpkit and are counted once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
BASELINE = "requests"
CLIENTS = [
    "httpkit",
    "httpkit deadline=None",
    "requests",
    "requests+Retry(3)",
    "urllib3.PoolManager",
    "httpx.Client",
]


# --- the measured process -----------------------------------------------------------------


def make_client(name: str, url: str) -> tuple[Any, Any]:
    """(module, send): ``send()`` makes one GET to ``url`` and returns the status code."""
    if name == "urllib3.PoolManager":
        import urllib3

        pool = urllib3.PoolManager()
        return urllib3, lambda: pool.request("GET", url).status
    if name == "httpx.Client":
        import httpx

        client = httpx.Client()
        return httpx, lambda: client.get(url).status_code
    if name.startswith("httpkit"):
        import httpkit

        session = httpkit.Session() if name == "httpkit" else httpkit.Session(deadline=None)
        return httpkit, lambda: session.get(url).status_code
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3 import Retry

    session = requests.Session()
    if name == "requests+Retry(3)":
        adapter = HTTPAdapter(max_retries=Retry(3))
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return requests, lambda: session.get(url).status_code


def child(name: str, url: str, n: int) -> None:
    """Send ``n`` GETs with a fresh client; print what was measured as one JSON line."""
    module, send = make_client(name, url)
    for _ in range(n):
        status = send()
        assert status == 200, status
    where = str(Path(module.__file__).parent)
    print(json.dumps({"version": module.__version__, "where": where, "env": len(os.environ)}))


# --- the driver ---------------------------------------------------------------------------


def checkout_label(path: str) -> str:
    """The commit of the checkout at ``path`` (+dirty if httpkit/ has changes), or the path."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", path, *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        dirty = "+dirty" if git("status", "--porcelain", "--", "httpkit") else ""
        return git("rev-parse", "--short", "HEAD") + dirty
    except (OSError, subprocess.CalledProcessError):
        return path


def run(command: list[str], env: dict[str, str]) -> str:
    """Run ``command``; return its output, or raise with the end of its error output."""
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def count(python: str, env: dict[str, str], name: str, url: str, n: int) -> tuple[int, int, dict]:
    """Run ``child(name, url, n)`` under callgrind: (main thread, other threads, its info)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        command = [
            *("valgrind", "--tool=callgrind", "--separate-threads=yes"),
            f"--callgrind-out-file={out}",
            *(python, str(HERE), "--child", name, url, str(n)),
        ]
        stdout = run(command, env)
        per_thread = {}
        for path in Path(tmp).glob("callgrind.out-*"):  # one file per thread: -01, -02, ...
            lines = path.read_text().splitlines()
            per_thread[path.name] = next(int(x.split()[1]) for x in lines if x[:8] == "summary:")
    main = per_thread.pop("callgrind.out-01")
    return main, sum(per_thread.values()), json.loads(stdout.splitlines()[-1])


def measure(name: str, python: str, env: dict[str, str], url: str, args: Any) -> dict:
    """Instructions per steady-state request for one client (see the module docstring)."""
    run([python, str(HERE), "--child", name, url, "3"], env)  # it works; bytecode written
    env = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
    with ThreadPoolExecutor(2) as pool:
        short, long = pool.map(
            lambda n: count(python, env, name, url, n),
            [args.warmup, args.warmup + args.requests],
        )
    return {
        "instructions": (long[0] + long[1] - short[0] - short[1]) / args.requests,
        "other_threads": (long[1] - short[1]) / args.requests,
        **long[2],
    }


def main(argv: list[str] | None = None) -> int:
    from _report import save_json
    from _server import running_server
    from bench_session import add_dummy_env

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="counted requests (300)")
    parser.add_argument("--warmup", type=int, default=100, help="warm-up requests (100)")
    parser.add_argument("--clients", nargs="+", choices=CLIENTS, default=CLIENTS)
    parser.add_argument("--python", default=sys.executable, help="interpreter to measure")
    parser.add_argument(
        "--pythonpath",
        action="append",
        metavar="DIR",
        help="checkout whose httpkit to measure; repeat to compare (default: this one)",
    )
    parser.add_argument("--extra-env", type=int, default=0, metavar="K")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="callgrind runs at once"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)

    add_dummy_env(args.extra_env)
    base_env = {**os.environ, "PYTHONHASHSEED": "0"}
    paths = args.pythonpath or [str(HERE.parent.parent)]
    runs = {}  # label -> (client, environment)
    for name in args.clients:
        if name == "httpx.Client":
            probe = [args.python, "-c", "import httpx"]
            if subprocess.run(probe, capture_output=True).returncode:
                print("httpx is not installed for that interpreter: httpx.Client skipped")
                continue
        for path in paths if name.startswith("httpkit") else paths[:1]:
            label = f"{name} @ {checkout_label(path)}" if name.startswith("httpkit") else name
            runs[label] = (name, {**base_env, "PYTHONPATH": str(Path(path).resolve())})

    with running_server() as url, ThreadPoolExecutor(max(1, args.jobs // 2)) as pool:
        futures = {
            k: pool.submit(measure, n, args.python, env, url, args) for k, (n, env) in runs.items()
        }
        results = {label: future.result() for label, future in futures.items()}

    if not results:
        return 1
    some = next(iter(results.values()))
    print(
        f"{args.python}: {args.warmup} warm-up + {args.requests} counted GETs per client; "
        f"{some['env']} environment variables in the measured process"
    )
    print()
    base = results.get(BASELINE, {}).get("instructions")
    width = max(map(len, results)) + 1
    header = f"{'client':<{width}} {'instr/req':>10} {'ratio':>6} {'other threads':>13}  version"
    print(header)
    print("-" * len(header))
    for label, row in results.items():
        ratio = f"{row['instructions'] / base:.2f}" if base else "-"
        print(
            f"{label:<{width}} {row['instructions']:>10,.0f} {ratio:>6} "
            f"{row['other_threads']:>13,.0f}  {row['version']} {row['where']}"
        )
    print()
    print(
        "instr/req: instructions per steady-state request, all threads; ratio: to plain\n"
        "requests.Session; other threads: the part outside the main thread (wall-clock bound)."
    )
    if args.json:
        save_json(args.json, results, **{k: v for k, v in vars(args).items() if k != "json"})
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        raise SystemExit(main())
