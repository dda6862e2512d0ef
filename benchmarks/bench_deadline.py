"""The per-request cost of httpkit's deadline machinery, measured directly.

A whole request on loopback costs several hundred µs of CPU and varies by more than the
deadline's share from round to round, so this script times the deadline's own steps for
one call instead: creating the call, its deadline, registering it with the watchdog and
removing it, the context variable, the capped urllib3 Timeout (built, then cloned per
attempt as urllib3 does), its capped connect and read timeouts, and one connection
registration. Compare the total with the CPU per request that ``bench_session.py`` prints.

    python benchmarks/bench_deadline.py
"""

from __future__ import annotations

import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import socket

from httpkit._call import Call, calling
from httpkit._policy import CallArgs
from httpkit._transport.connection import DeadlineTimeout


class _Connection:
    """Stands in for a urllib3 connection: the deadline only tags it."""


SOCKET = socket.socket()
ARGS = CallArgs()


def one_call() -> None:
    call = Call(ARGS)
    with calling(call, 300.0):  # the deadline starts; the watchdog watches it
        clock = call.clock
        assert clock is not None
        timeout = DeadlineTimeout(clock, connect=3.05, read=30.0).clone()
        _ = timeout.connect_timeout, timeout.read_timeout
        clock.watch(_Connection(), SOCKET)


def main() -> int:
    runs = 20_000
    best = min(timeit.repeat(one_call, number=runs, repeat=7)) / runs
    print(f"deadline machinery: {best * 1e6:.2f} us per call (best of 7 x {runs} calls)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
