"""The three stores against one contract, each on its real backend (Redis: a real server)."""

from __future__ import annotations

import logging
import os
import pickle
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import httpkit
from httpkit.stores import Store, check_store, store_from_url
from tests.integration.redis_server import RedisServer

KINDS = ["memory", "sqlite", "redis"]


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    kind = request.param
    made: Store
    if kind == "memory":
        made = httpkit.MemoryStore()
    elif kind == "sqlite":
        made = httpkit.SQLiteStore(tmp_path / "store.db")
    else:
        made = httpkit.RedisStore(request.getfixturevalue("redis_url"))
    yield made
    # A shared store that failed over would pass these tests on its per-process state.
    assert getattr(made, "available", True), f"{made!r} failed over during the test"
    made.close()


def test_values_keys_and_lifetimes(store: Store) -> None:
    assert store.get_many(["a", "b"]) == [None, None]
    store.set("a", b"1")
    store.set("b", b"2", ttl=0.05)
    assert store.get_many(["a", "b", "c"]) == [b"1", b"2", None]
    time.sleep(0.1)
    assert store.get_many(["a", "b"]) == [b"1", None]
    store.delete("a", "absent")
    assert store.get_many(["a"]) == [None]


def test_add_is_a_lease_only_one_holder_gets(store: Store) -> None:
    assert store.add("lease", b"first", ttl=0.1) is True
    assert store.add("lease", b"second", ttl=0.1) is False
    assert store.get_many(["lease"]) == [b"first"]
    time.sleep(0.15)
    assert store.add("lease", b"third", ttl=1) is True  # the lease ran out
    assert store.get_many(["lease"]) == [b"third"]


def test_incr_counts_within_the_lifetime_of_the_first_increment(store: Store) -> None:
    assert [store.incr("n", ttl=0.2) for _ in range(3)] == [1, 2, 3]
    time.sleep(0.1)
    assert store.incr("n", ttl=0.2) == 4  # the lifetime is not extended
    time.sleep(0.15)
    assert store.incr("n", ttl=0.2) == 1


def test_take_spaces_requests_with_a_burst(store: Store) -> None:
    """interval 10 s, burst 3: three at once, then one every 10 s (GCRA)."""
    waits = [store.take("rate", 10.0, 3, None) for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(10.0, abs=0.5)
    assert waits[4] == pytest.approx(20.0, abs=0.5)


def test_take_refused_past_max_wait_reserves_nothing(store: Store) -> None:
    assert store.take("rate", 5.0, 1, None) == 0.0
    refused = store.take("rate", 5.0, 1, max_wait=1.0)
    assert refused == pytest.approx(5.0, abs=0.5)
    granted = store.take("rate", 5.0, 1, max_wait=10.0)  # the same slot: nothing was taken
    assert granted == pytest.approx(5.0, abs=0.5)
    assert store.take("rate", 5.0, 1, None) == pytest.approx(10.0, abs=0.5)


def test_hold_pauses_a_rate_and_the_longest_pause_wins(store: Store) -> None:
    store.hold("rate", 30.0, 0.0, 1)
    store.hold("rate", 5.0, 0.0, 1)  # shorter: ignored
    assert store.take("rate", 0.0, 1, None) == pytest.approx(30.0, abs=0.5)
    assert store.take("rate", 0.0, 1, max_wait=1.0) == pytest.approx(30.0, abs=0.5)


@pytest.mark.parametrize("store", ["sqlite", "redis"], indirect=True)
def test_one_store_reads_what_another_instance_wrote(store: Store) -> None:
    """Two instances on one backend share values: what makes the fleet one client."""
    assert store.shared
    twin = pickle.loads(pickle.dumps(store))
    assert twin == store
    assert twin is not store
    store.set("k", b"v")
    assert twin.get_many(["k"]) == [b"v"]
    assert twin.take("rate", 10.0, 1, None) == 0.0
    assert store.take("rate", 10.0, 1, None) == pytest.approx(10.0, abs=0.5)


def test_a_pickled_memory_store_comes_back_empty() -> None:
    store = httpkit.MemoryStore()
    store.set("k", b"v")
    assert pickle.loads(pickle.dumps(store)).get_many(["k"]) == [None]


# -- faults ------------------------------------------------------------------------------


def test_redis_down_fails_over_to_this_process_with_one_warning_then_comes_back(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = httpkit.RedisStore(own_redis.url, timeout=0.2, reconnect_after=0.3)
    store.set("shared", b"before")
    own_redis.kill()
    with caplog.at_level(logging.WARNING, logger="httpkit"):
        started = time.monotonic()
        assert store.take("rate", 10.0, 1, None) == 0.0  # this process's state now
        assert store.take("rate", 10.0, 1, None) == pytest.approx(10.0, abs=0.5)
        assert store.get_many(["shared"]) == [None]
        assert time.monotonic() - started < 1.0
        assert not store.available
        warnings = [r.getMessage() for r in caplog.records]
        assert len(warnings) == 1
        assert "unavailable" in warnings[0]
        own_redis.start()
        time.sleep(0.35)  # past reconnect_after
        assert store.get_many(["shared"]) == [None]  # an empty server: nothing was kept
        store.set("shared", b"after")
        assert store.available
        assert own_redis.ping()
    assert [r.getMessage() for r in caplog.records][1].endswith("is available again")
    twin = httpkit.RedisStore(own_redis.url)
    assert twin.get_many(["shared"]) == [b"after"]  # written to the server, not to the fallback


def test_a_hung_redis_costs_each_operation_at_most_its_timeout(own_redis: RedisServer) -> None:
    store = httpkit.RedisStore(own_redis.url, timeout=0.2, reconnect_after=60)
    store.set("k", b"v")
    own_redis.pause()
    try:
        started = time.monotonic()
        assert store.take("rate", 1.0, 1, None) == 0.0
        first = time.monotonic() - started
        for _ in range(20):  # failed over: the server is not tried again for 60 s
            store.take("other", 0.0, 1, None)
        total = time.monotonic() - started
    finally:
        own_redis.resume()
    assert 0.15 <= first < 0.6
    assert total < first + 0.2


def test_a_locked_sqlite_file_fails_over(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "store.db"
    store = httpkit.SQLiteStore(path, busy_timeout=0.1)
    store.set("k", b"v")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with caplog.at_level(logging.WARNING, logger="httpkit"):
            assert store.take("rate", 10.0, 1, None) == 0.0
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert not store.available
    assert "unavailable" in caplog.text
    assert "OperationalError" in caplog.text


@pytest.mark.parametrize("kind", ["store", "cache"])
def test_a_new_sqlite_file_locked_by_another_process_is_waited_for(
    tmp_path: Path, kind: str
) -> None:
    """Several processes opening a new file together: turning it to WAL waits its turn."""
    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE elsewhere (x)")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    try:
        if kind == "store":
            store = httpkit.SQLiteStore(path, busy_timeout=5)
            store.set("k", b"v")
            assert store.available
            assert store.get_many(["k"]) == [b"v"]
        else:
            cache = httpkit.SQLiteCache(path, busy_timeout=5)
            cache.clear()  # opens the file: raised "database is locked" at once before
            assert cache.get("absent") is None
    finally:
        release.join()
        other.close()


def test_the_password_of_a_redis_url_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    store = httpkit.RedisStore("redis://:s3cret-pw@127.0.0.1:9/0", timeout=0.2)
    with caplog.at_level(logging.DEBUG):
        store.take("rate", 1.0, 1, None)  # port 9 refuses: fails over and warns
    assert "s3cret" not in repr(store) + caplog.text
    assert "***" in repr(store)
    with pytest.raises(httpkit.ConfigError) as info:
        store_from_url("mongodb://:s3cret-pw@127.0.0.1/0")
    assert "s3cret" not in str(info.value)


# -- fork ----------------------------------------------------------------------------------


def test_a_forked_child_opens_its_own_redis_connection(redis_url: str) -> None:
    store = httpkit.RedisStore(redis_url)
    store.set("k", b"parent")
    parent_id = store.client.client_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            ok = store.get_many(["k"]) == [b"parent"] and store.client.client_id() != parent_id
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    assert answer == b"1"
    assert store.client.client_id() == parent_id  # the parent's connection was left alone


# -- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (None, httpkit.MemoryStore),
        ("memory://", httpkit.MemoryStore),
        ("sqlite:///tmp/httpkit-fleet.db", httpkit.SQLiteStore),
        ("redis://127.0.0.1:6379/0", httpkit.RedisStore),
        ("valkey://127.0.0.1:6379/0", httpkit.RedisStore),
    ],
)
def test_store_settings(value: object, kind: type) -> None:
    assert isinstance(check_store("Session()", value), kind)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("sqlite://", "needs a file path"),
        ("mysql://127.0.0.1/x", "unknown store URL"),
        (Path("fleet.db"), "httpkit.SQLiteStore"),
        (42, "expected an httpkit.MemoryStore"),
    ],
)
def test_bad_store_settings_name_the_fix(value: object, message: str) -> None:
    with pytest.raises(httpkit.ConfigError, match="Session\\(\\): store") as info:
        httpkit.Session(store=value)
    assert message in str(info.value)


def test_redis_store_settings_are_checked() -> None:
    with pytest.raises(httpkit.ConfigError, match="timeout must be seconds > 0"):
        httpkit.RedisStore("redis://127.0.0.1/0", timeout=0)
    with pytest.raises(httpkit.ConfigError, match="expected a redis://"):
        httpkit.RedisStore("http://127.0.0.1/0")
