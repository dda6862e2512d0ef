"""session.pool_stats() against real servers: what the pools hold and did."""

from __future__ import annotations

import threading
from pathlib import Path

import trustme

import httpkit
from tests.integration.servers import Reply, ScriptedServer
from tests.integration.tls_servers import serve_tls, server_context


def _row(session: httpkit.Session, origin: str) -> httpkit.PoolStats:
    (row,) = [r for r in session.pool_stats() if r.origin == origin]
    return row


def test_keep_alive_requests_reuse_one_connection(server: ScriptedServer) -> None:
    with httpkit.Session() as s:
        for _ in range(5):
            s.get(server.url("/a"))
        row = _row(s, f"http://127.0.0.1:{server.port}")
    assert row.tls is None
    assert (row.open, row.idle, row.in_use) == (1, 1, 0)
    assert (row.created, row.reused, row.discarded) == (1, 4, 0)


def test_a_connection_the_server_closes_is_counted_as_discarded(server: ScriptedServer) -> None:
    server.script("/close", Reply(headers=[("Connection", "close")]))
    with httpkit.Session() as s:
        s.get(server.url("/close"))
        s.get(server.url("/close"))
        row = _row(s, f"http://127.0.0.1:{server.port}")
    assert (row.created, row.reused, row.open, row.discarded) == (2, 0, 0, 2)


def test_streamed_responses_hold_their_connection_until_closed(server: ScriptedServer) -> None:
    with httpkit.Session() as s:
        first = s.get(server.url("/a"), stream=True)
        second = s.get(server.url("/a"), stream=True)
        busy = _row(s, f"http://127.0.0.1:{server.port}")
        assert first.content == b"ok"  # read to the end: the connection goes back
        read = _row(s, f"http://127.0.0.1:{server.port}")
        second.close()  # closed unread: the connection cannot serve again
        done = _row(s, f"http://127.0.0.1:{server.port}")
    assert (busy.in_use, busy.idle, busy.created) == (2, 0, 2)
    assert (read.in_use, read.idle, read.open) == (1, 1, 2)
    assert (done.in_use, done.idle, done.open, done.discarded) == (0, 1, 1, 1)


def test_threads_show_as_connections_in_use_and_created(server: ScriptedServer) -> None:
    server.script("/slow", Reply(delay=0.3))
    with httpkit.Session() as s:
        threads = [threading.Thread(target=s.get, args=(server.url("/slow"),)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        row = _row(s, f"http://127.0.0.1:{server.port}")
    assert (row.created, row.idle, row.in_use, row.discarded) == (4, 4, 0, 0)


def test_rows_are_per_tls_configuration(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    leaf = ca.issue_cert("127.0.0.1")
    with serve_tls(server_context(leaf)) as tls, httpkit.Session(trust=str(ca_path)) as s:
        s.get(tls.url("/"))
        s.configure(tls.origin, min_tls="1.3")
        s.get(tls.url("/"))
        s.get(tls.url("/"))
        rows = [r for r in s.pool_stats() if r.origin == tls.origin]
    assert sorted((r.tls, r.created, r.reused) for r in rows) == [
        (f"verify {ca_path}, TLS 1.2+", 1, 0),
        (f"verify {ca_path}, TLS 1.3+", 1, 1),
    ]
