"""A session made before ``os.fork()`` works in the child without touching the parent's state.

Each test forks the test process for real: the child uses a session the parent made (and
used), reports what it saw through a pipe, and exits; the parent then checks the child's
report and that its own pooled connection still works.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import httpkit
from httpkit._deadline import WATCHDOG
from tests.integration.raw import Answer, RawServer
from tests.integration.servers import ScriptedServer

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the platform has no fork()")

CHILD_TIMEOUT = 20.0


def in_child(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``work`` in a forked child; return its report (or its error), bounded in time."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's cleanup
        os.close(reader)
        try:
            report = work()
        except BaseException as exc:  # reported to the parent as data
            report = {"error": f"{type(exc).__name__}: {exc}"}
        os.write(writer, json.dumps(report, default=str).encode())
        os._exit(0)
    os.close(writer)
    started = time.monotonic()
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() - started > CHILD_TIMEOUT:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail(f"the child was still running after {CHILD_TIMEOUT} s (a deadlock?)")
        time.sleep(0.01)
    with os.fdopen(reader, "rb") as pipe:
        return json.loads(pipe.read() or b'{"error": "no report"}')  # type: ignore[no-any-return]


def pooled_port(session: httpkit.Session, url: str) -> int:
    """The local port of the one connection pooled for ``url``'s host (the only one used)."""
    manager = session.get_adapter(url).poolmanager  # type: ignore[attr-defined]
    (pool,) = [manager.pools[key] for key in manager.pools.keys()]  # noqa: SIM118  # no __iter__
    (connection,) = [c for c in pool.pool.queue if c is not None]  # free slots hold None
    sock: socket.socket = connection.sock
    return int(sock.getsockname()[1])


def test_the_child_opens_its_own_connection_and_the_parent_keeps_its_own(
    server: ScriptedServer,
) -> None:
    url = server.url("/x")
    with httpkit.Session(retry=0) as s:
        assert s.get(url).status_code == 200
        parent_port = pooled_port(s, url)

        def child() -> dict[str, Any]:
            response = s.get(url)
            return {"status": response.status_code, "port": pooled_port(s, url)}

        report = in_child(child)
        assert report.get("status") == 200, report
        assert report["port"] != parent_port  # a connection of its own
        assert s.get(url).status_code == 200  # the parent's connection was left intact
        assert pooled_port(s, url) == parent_port
    assert len(server.requests_to("/x")) == 3


#: Locks a child's request takes, each as (session settings, the lock, given the session
#: and the URL after one request was made).
LOCKS: dict[str, tuple[dict[str, Any], Callable[[httpkit.Session, str], Any]]] = {
    "deadline watchdog": ({}, lambda s, url: WATCHDOG._wake),
    "rate limiter's memory store": (
        {"rate_limit": "1000/s"},
        lambda s, url: s.get_adapter(url).settings.limiter.store._lock,  # type: ignore[attr-defined]
    ),
    "memory cache": ({"cache": True}, lambda s, url: s.get_adapter(url).settings.cache._lock),  # type: ignore[attr-defined]
    "session header binding": ({}, lambda s, url: s._header_binding._lock),
}


@pytest.mark.parametrize("name", sorted(LOCKS))
def test_a_lock_held_by_another_thread_at_the_fork_does_not_stop_the_child(
    server: ScriptedServer, name: str
) -> None:
    """A lock held by a parent thread, which does not exist in the child, at the fork."""
    settings, lock_of = LOCKS[name]
    url = server.url("/x")
    held, release = threading.Event(), threading.Event()
    with httpkit.Session(retry=0, **settings) as s:
        s.get(url)
        lock = lock_of(s, url)

        def hold() -> None:
            with lock:
                held.set()
                release.wait(5)

        def child() -> dict[str, Any]:
            s.headers["X-Auth-Token"] = "k"  # a credential header, bound on first use
            return {"status": s.get(server.url("/y"), deadline=5).status_code}

        holder = threading.Thread(target=hold)
        holder.start()
        held.wait(5)
        try:
            report = in_child(child)
        finally:
            release.set()
            holder.join()
    assert report == {"status": 200}


def test_the_deadline_still_cuts_a_call_in_the_child(raw: RawServer) -> None:
    raw.script("/hang", Answer(hang=True))

    def child() -> dict[str, Any]:
        with httpkit.Session(retry=0, timeout=30) as fresh:
            fresh.get(raw.url("/warm"))  # the watchdog ran in the parent: see the next line
        started = time.monotonic()
        try:
            session.get(raw.url("/hang"), deadline=0.5)
        except httpkit.DeadlineExceeded:
            return {"cut_after": time.monotonic() - started}
        return {"error": "not cut"}

    with httpkit.Session(retry=0, timeout=30) as session:
        session.get(raw.url("/warm"), deadline=5)  # the parent's watchdog thread is running
        report = in_child(child)
    assert "cut_after" in report, report
    assert report["cut_after"] < 3.0


def test_every_kind_of_fork_state_is_rebuilt_in_the_child(server: ScriptedServer) -> None:
    """Auth plugins, the header binding, rate limits and the cache keep working."""
    url = server.url("/x")
    token = httpkit.TokenAuth("t0ken")
    with httpkit.Session(retry=0, cache=True, rate_limit="100/s") as s:
        s.headers["X-Api-Key"] = "k"
        s.get(url, auth=token)

        def child() -> dict[str, Any]:
            return {"status": s.get(url, auth=token).status_code}

        report = in_child(child)
    assert report == {"status": 200}
    seen = server.requests_to("/x")
    assert [r.headers.get("Authorization") for r in seen] == ["Bearer t0ken"] * 2
