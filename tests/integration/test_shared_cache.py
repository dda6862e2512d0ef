"""The cache in a shared store: one fetch per key for every session, stale answers where
the server allows them, never more waiting than the call's deadline."""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import httpkit
from tests.integration.servers import Reply, ScriptedServer, serve

MAX_AGE = ("Cache-Control", "max-age=60")


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[httpkit.stores.Store]:
    made: Any
    if request.param == "sqlite":
        made = httpkit.SQLiteStore(tmp_path / "store.db")
    else:
        made = httpkit.RedisStore(request.getfixturevalue("redis_url"))
    yield made
    assert made.available, f"{made!r} failed over during the test"


def _session(store: Any, **settings: Any) -> httpkit.Session:
    return httpkit.Session(store=store, cache=True, retry=0, **settings)


def _together(*calls: Any) -> list[Any]:
    """Run the calls on threads at once; their results (or errors), in order."""
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for i, thread in enumerate(threads):
        thread.start()
        if i == 0:
            time.sleep(0.1)  # the first one takes the lease
    for thread in threads:
        thread.join()
    return results


def test_sessions_on_one_store_share_entries(server: ScriptedServer, store: Any) -> None:
    server.script("/a", Reply(body=b"shared", headers=[MAX_AGE]))
    with _session(store) as one, _session(store) as two:
        assert one.get(server.url("/a")).from_cache is False
        hit = two.get(server.url("/a"))
    assert (hit.from_cache, hit.content) == (True, b"shared")
    assert len(server.requests_to("/a")) == 1
    assert isinstance(two.get_adapter(server.url()).settings.cache, httpkit.StoreCache)


def test_a_cold_key_is_fetched_once_while_the_others_wait(
    server: ScriptedServer, store: Any
) -> None:
    server.script("/slow", Reply(body=b"once", headers=[MAX_AGE], delay=0.5))
    sessions = [_session(store) for _ in range(3)]
    answers = _together(*(lambda s=s: s.get(server.url("/slow")) for s in sessions))
    assert [a.content for a in answers] == [b"once"] * 3
    assert [a.from_cache for a in answers] == [False, True, True]
    assert len(server.requests_to("/slow")) == 1


def test_stale_while_revalidate_serves_the_stale_entry_at_once(
    server: ScriptedServer, store: Any
) -> None:
    fresh = [("Cache-Control", "max-age=1, stale-while-revalidate=30"), ("ETag", '"v1"')]
    server.script("/swr", Reply(body=b"v1", headers=fresh), Reply(304, delay=0.6, headers=fresh))
    with _session(store) as one, _session(store) as two:
        one.get(server.url("/swr"))
        time.sleep(1.1)
        started = time.monotonic()
        revalidated, stale = _together(
            lambda: one.get(server.url("/swr")), lambda: two.get(server.url("/swr"))
        )
        assert time.monotonic() - started < 1.0
    assert (revalidated.revalidated, stale.from_cache, stale.content) == (True, True, b"v1")
    assert int(stale.headers["Age"]) >= 1
    assert len(server.requests_to("/swr")) == 2


def test_waiting_for_another_fetch_stays_within_the_deadline(
    server: ScriptedServer, store: Any
) -> None:
    server.script("/slow", Reply(headers=[MAX_AGE], delay=1.5))
    with _session(store) as one, _session(store, deadline=0.6) as hurried:
        took: list[float] = []

        def hurry() -> Any:
            started = time.monotonic()
            try:
                return hurried.get(server.url("/slow"))
            finally:
                took.append(time.monotonic() - started)

        _, error = _together(lambda: one.get(server.url("/slow")), hurry)
    assert isinstance(error, httpkit.DeadlineExceeded)
    assert took[0] < 0.6 + 0.3


def test_answers_that_cannot_be_stored_are_not_waited_for(
    server: ScriptedServer, store: Any
) -> None:
    server.script("/nocache", Reply(body=b"live", delay=0.4))  # no lifetime, no validator
    with _session(store) as one, _session(store) as two:
        one.get(server.url("/nocache"))  # found not storable: the key is fetched freely
        started = time.monotonic()
        answers = _together(
            lambda: one.get(server.url("/nocache")), lambda: two.get(server.url("/nocache"))
        )
        elapsed = time.monotonic() - started
    assert [a.content for a in answers] == [b"live", b"live"]
    assert elapsed < 0.4 * 2  # side by side, not one after the other


@pytest.mark.parametrize("failure", ["503", "refused"])
def test_stale_if_error_serves_the_stale_entry_when_the_origin_fails(failure: str) -> None:
    """With any cache (here a MemoryCache): the fetch fails, the stale entry is served."""
    headers = [("Cache-Control", "max-age=1, stale-if-error=60")]
    with httpkit.Session(cache=True, retry=0) as s:
        with serve() as origin:
            origin.script("/sie", Reply(body=b"kept", headers=headers), Reply(503))
            s.get(origin.url("/sie"))
            time.sleep(1.1)
            if failure == "503":
                answer = s.get(origin.url("/sie"))
        if failure == "refused":  # the server is gone
            answer = s.get(origin.url("/sie"))
    assert (answer.status_code, answer.content, answer.from_cache) == (200, b"kept", True)


def test_without_stale_if_error_the_failure_is_returned(server: ScriptedServer) -> None:
    server.script(
        "/plain", Reply(body=b"kept", headers=[("Cache-Control", "max-age=1")]), Reply(503)
    )
    with httpkit.Session(cache=True, retry=0) as s:
        s.get(server.url("/plain"))
        time.sleep(1.1)
        answer = s.get(server.url("/plain"))
    assert (answer.status_code, answer.from_cache) == (503, False)


def test_a_foreign_or_corrupt_entry_is_a_miss(server: ScriptedServer, redis_url: str) -> None:
    """Whoever can write to the store cannot make httpkit unpickle: such values are misses."""
    server.script("/a", Reply(body=b"real", headers=[MAX_AGE]))
    store = httpkit.RedisStore(redis_url)
    with _session(store) as s:
        s.get(server.url("/a"))
        client = redis.Redis.from_url(redis_url)
        (key,) = client.keys("httpkit:cache:*")
        payload = pickle.dumps(type("Evil", (), {"__reduce__": lambda self: (print, ("x",))})())
        for poison in (payload, b"httpkit-cache/1\n[1,2]\nbody", b"httpkit-cache/1\nnot json"):
            client.set(key, poison)
            answer = s.get(server.url("/a"))
            assert (answer.from_cache, answer.content) == (False, b"real")
    assert len(server.requests_to("/a")) == 4
