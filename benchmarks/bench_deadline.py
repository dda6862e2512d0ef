"""The per-request cost of httpkit's deadline machinery, measured directly.

A whole request on loopback costs several hundred µs of CPU and varies by more than the
deadline's share from round to round, so this script times the deadline's own steps for
one call instead: creating the call, registering it with the watchdog and removing it,
the context variable, the capped urllib3 Timeout (built, then cloned per attempt as urllib3
does), its capped connect and read timeouts, and one connection registration. Compare the
total with the CPU per request that ``bench_session.py`` prints.

    python benchmarks/bench_deadline.py
"""

from __future__ import annotations

import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from httpkit._deadline import ACTIVE_CALL, WATCHDOG, Call, DeadlineTimeout


class _Connection:
    sock = None


def one_call() -> None:
    call = Call(300.0)
    token = ACTIVE_CALL.set(call)
    WATCHDOG.start(call)
    timeout = DeadlineTimeout(call, connect=3.05, read=30.0).clone()
    _ = timeout.connect_timeout, timeout.read_timeout
    call.watch(_Connection())  # type: ignore[arg-type]  # only .sock is used
    WATCHDOG.finish(call)
    ACTIVE_CALL.reset(token)


def main() -> int:
    runs = 20_000
    best = min(timeit.repeat(one_call, number=runs, repeat=7)) / runs
    print(f"deadline machinery: {best * 1e6:.2f} us per call (best of 7 x {runs} calls)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
