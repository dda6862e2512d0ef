"""HTTP caching against a local server that counts the requests it receives."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

import httpkit
from tests.integration.servers import Reply, ScriptedServer

#: The session store of the test running: ``cache=True`` keeps its entries there.
_STORE: list[object] = [None]


@pytest.fixture(autouse=True, params=["memory", "sqlite store", "redis store"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every test runs with ``cache=True`` meaning each kind of cache: a MemoryCache (no
    store), and a StoreCache on a shared SQLite file or Redis server."""
    if request.param == "memory":
        _STORE[0] = None
    elif request.param == "sqlite store":
        _STORE[0] = httpkit.SQLiteStore(tmp_path / "store.db")
    else:
        _STORE[0] = httpkit.RedisStore(request.getfixturevalue("redis_url"))
    yield request.param
    store, _STORE[0] = _STORE[0], None
    assert getattr(store, "available", True), f"{store!r} failed over during the test"


def session(**settings: object) -> httpkit.Session:
    settings.setdefault("retry", httpkit.RetryPolicy(backoff_factor=0))
    settings.setdefault("store", _STORE[0])
    return httpkit.Session(**settings)  # type: ignore[arg-type]


def test_fresh_response_is_served_without_a_request(server: ScriptedServer) -> None:
    server.script("/a", Reply(body=b"one", headers=[("Cache-Control", "max-age=60")]))
    with session(cache=True) as s:
        first = s.get(server.url("/a"))
        second = s.get(server.url("/a"))
    assert (first.from_cache, second.from_cache) == (False, True)
    assert second.content == b"one"
    assert second.revalidated is False
    assert len(server.requests_to("/a")) == 1


def test_age_counts_against_max_age(server: ScriptedServer) -> None:
    server.script("/old", Reply(headers=[("Cache-Control", "max-age=60"), ("Age", "100")]))
    with session(cache=True) as s:
        s.get(server.url("/old"))
        assert s.get(server.url("/old")).from_cache is False
    assert len(server.requests_to("/old")) == 2


def test_stale_response_is_revalidated_with_etag_and_304_gives_stored_body(
    server: ScriptedServer,
) -> None:
    server.script(
        "/e",
        Reply(body=b"payload", headers=[("Cache-Control", "max-age=0"), ("ETag", '"v1"')]),
        Reply(status=304, body=b"", headers=[("ETag", '"v1"'), ("X-Fresh", "yes")]),
    )
    with session(cache=True) as s:
        s.get(server.url("/e"))
        again = s.get(server.url("/e"))
    sent = server.requests_to("/e")
    assert len(sent) == 2
    assert sent[1].headers.get("If-None-Match") == '"v1"'
    assert again.status_code == 200
    assert again.content == b"payload"
    assert (again.from_cache, again.revalidated) == (True, True)
    assert again.headers["X-Fresh"] == "yes"


def test_last_modified_is_sent_as_if_modified_since(server: ScriptedServer) -> None:
    stamp = formatdate(usegmt=True)
    server.script(
        "/lm",
        Reply(body=b"doc", headers=[("Last-Modified", stamp)]),
        Reply(status=304, body=b""),
    )
    with session(cache=True) as s:
        s.get(server.url("/lm"))
        again = s.get(server.url("/lm"))
    assert server.requests_to("/lm")[1].headers.get("If-Modified-Since") == stamp
    assert again.content == b"doc"


def test_no_cache_always_revalidates(server: ScriptedServer) -> None:
    server.script(
        "/nc",
        Reply(headers=[("Cache-Control", "no-cache, max-age=600"), ("ETag", '"x"')]),
        Reply(status=304, body=b""),
    )
    with session(cache=True) as s:
        s.get(server.url("/nc"))
        assert s.get(server.url("/nc")).revalidated is True
    assert len(server.requests_to("/nc")) == 2


def test_no_store_is_not_stored(server: ScriptedServer) -> None:
    server.script("/ns", Reply(headers=[("Cache-Control", "no-store, max-age=60")]))
    with session(cache=True) as s:
        s.get(server.url("/ns"))
        assert s.get(server.url("/ns")).from_cache is False
    assert len(server.requests_to("/ns")) == 2


def test_vary_selects_the_stored_response(server: ScriptedServer) -> None:
    server.script("/v", Reply(headers=[("Cache-Control", "max-age=60"), ("Vary", "Accept")]))
    with session(cache=True) as s:
        s.get(server.url("/v"), headers={"Accept": "application/json"})
        hit = s.get(server.url("/v"), headers={"Accept": "application/json"})
        other = s.get(server.url("/v"), headers={"Accept": "text/html"})
    assert (hit.from_cache, other.from_cache) == (True, False)
    assert len(server.requests_to("/v")) == 2


@pytest.mark.parametrize(
    "make_kwargs",
    [
        lambda: {"headers": {"Authorization": "Bearer s3cret"}},
        lambda: {"headers": {"Cookie": "sid=1"}},
        lambda: {"headers": {"X-API-Key": "k"}},
        # A new plugin per test: a plugin binds to the first origin it is used with.
        lambda: {"auth": httpkit.TokenAuth("t0ken", header="X-Custom-Token", scheme=None)},
        lambda: {"auth": ("user", "pw")},
        lambda: {"params": {"access_token": "abc"}},
    ],
    ids=["authorization", "cookie", "api-key", "token-plugin", "basic", "query"],
)
def test_credentials_are_never_cached_by_default(
    server: ScriptedServer, make_kwargs: Callable[[], dict[str, object]]
) -> None:
    server.script("/private", Reply(headers=[("Cache-Control", "max-age=60")]))
    kwargs = make_kwargs()
    with session(cache=True) as s:
        s.get(server.url("/private"), **kwargs)  # type: ignore[arg-type]
        assert s.get(server.url("/private"), **kwargs).from_cache is False  # type: ignore[arg-type]
    assert len(server.requests_to("/private")) == 2


def test_public_response_to_a_credentialed_request_is_cached_per_credential(
    server: ScriptedServer,
) -> None:
    server.script("/pub", Reply(headers=[("Cache-Control", "public, max-age=60")]))
    with session(cache=True) as s:
        s.get(server.url("/pub"), headers={"Authorization": "Bearer a"})
        assert s.get(server.url("/pub"), headers={"Authorization": "Bearer a"}).from_cache
        other = s.get(server.url("/pub"), headers={"Authorization": "Bearer b"})
        assert other.from_cache is False
    assert len(server.requests_to("/pub")) == 2


def test_host_opt_in_caches_credentialed_responses(server: ScriptedServer) -> None:
    server.script("/in", Reply(headers=[("Cache-Control", "private, max-age=60")]))
    with session() as s:
        s.configure(server.origin, cache=httpkit.MemoryCache(credentials=True))
        s.get(server.url("/in"), headers={"Authorization": "Bearer a"})
        assert s.get(server.url("/in"), headers={"Authorization": "Bearer a"}).from_cache
    assert len(server.requests_to("/in")) == 1


def test_sqlite_cache_survives_a_new_session(server: ScriptedServer, tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    server.script("/persist", Reply(body=b"kept", headers=[("Cache-Control", "max-age=60")]))
    with session(cache=str(path)) as s:
        assert s.get(server.url("/persist")).from_cache is False
    with session(cache=str(path)) as s:
        hit = s.get(server.url("/persist"))
    assert (hit.from_cache, hit.content) == (True, b"kept")
    assert len(server.requests_to("/persist")) == 1


def test_sqlite_file_holds_no_secret_from_the_url_or_headers(
    server: ScriptedServer, tmp_path: Path
) -> None:
    path = tmp_path / "cache.sqlite"
    server.script(
        "/pub",
        Reply(headers=[("Cache-Control", "public, max-age=60"), ("Set-Cookie", "sid=COOKIEVAL")]),
    )
    url = server.url("/pub?api_key=SECRETVALUE&page=2")
    # New sessions, so the cookie jar stays empty and the credentials stay the same.
    with session(cache=str(path)) as s:
        s.get(url, headers={"Authorization": "Bearer TOKENVALUE"})
    with session(cache=str(path)) as s:
        hit = s.get(url, headers={"Authorization": "Bearer TOKENVALUE"})
    assert hit.from_cache is True
    assert "Set-Cookie" not in hit.headers
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in (b"SECRETVALUE", b"TOKENVALUE", b"COOKIEVAL", b"/pub"):
        assert secret not in stored


def test_unsafe_method_invalidates(server: ScriptedServer) -> None:
    server.script("/r", Reply(headers=[("Cache-Control", "max-age=60")]))
    with session(cache=True) as s:
        s.get(server.url("/r"))
        s.post(server.url("/r"), data=b"x")
        assert s.get(server.url("/r")).from_cache is False


def test_streamed_response_is_stored_once_read(server: ScriptedServer) -> None:
    server.script("/s", Reply(body=b"x" * 5000, headers=[("Cache-Control", "max-age=60")]))
    with session(cache=True, retry=False) as s:
        with s.get(server.url("/s"), stream=True) as r:
            assert b"".join(r.iter_content(1000)) == b"x" * 5000
        assert s.get(server.url("/s")).content == b"x" * 5000
    assert len(server.requests_to("/s")) == 1


def test_logging_middleware_sees_cache_hits(server: ScriptedServer) -> None:
    seen: list[bool] = []

    def spy(request, send):  # type: ignore[no-untyped-def]
        response = send(request)
        seen.append(response.from_cache)
        return response

    server.script("/l", Reply(headers=[("Cache-Control", "max-age=60")]))
    with session(cache=True, middlewares=[spy]) as s:
        s.get(server.url("/l"))
        s.get(server.url("/l"))
    assert seen == [False, True]


def test_pickled_session_keeps_sqlite_path_and_drops_memory(tmp_path: Path) -> None:
    s = session(cache=str(tmp_path / "c.sqlite"))
    s.configure("http://127.0.0.1", cache=True, rate_limit="5/s")
    clone = pickle.loads(pickle.dumps(s))
    assert clone.defaults.cache == httpkit.SQLiteCache(str(tmp_path / "c.sqlite"))
    policy = clone.policy_for("http://127.0.0.1/")
    cache = clone.get_adapter("http://127.0.0.1/").settings.cache  # type: ignore[attr-defined]
    if _STORE[0] is None:
        assert isinstance(cache, httpkit.MemoryCache)  # cache=True on a session without a store
        assert len(cache) == 0
    else:
        assert cache == httpkit.StoreCache(_STORE[0])  # type: ignore[arg-type]  # kept, as its store
    assert str(policy.rate_limit) == "5/s"


def test_a_write_removes_what_was_stored_under_the_writers_credentials(
    server: ScriptedServer,
) -> None:
    server.script("/doc", Reply(body=b"v1", headers=[("Cache-Control", "max-age=60")]))
    server.script("/doc", Reply(body=b"v1", headers=[("Cache-Control", "max-age=60")]))
    store = httpkit.MemoryCache(credentials=True)
    with session(cache=store) as s:
        auth = {"Authorization": "Bearer alice"}
        s.get(server.url("/doc"), headers=auth)
        assert s.get(server.url("/doc"), headers=auth).from_cache is True
        s.post(server.url("/doc"), data=b"v2", headers=auth)
        assert s.get(server.url("/doc"), headers=auth).from_cache is False


def test_session_sensitive_headers_are_credentials_to_the_cache(server: ScriptedServer) -> None:
    server.script("/me", Reply(body=b"alice's", headers=[("Cache-Control", "max-age=60")]))
    with session(cache=True, sensitive_headers={"X-Tenant"}) as s:
        s.get(server.url("/me"), headers={"X-Tenant": "alice"})
        second = s.get(server.url("/me"), headers={"X-Tenant": "bob"})
    assert second.from_cache is False  # never served another tenant's response
    assert len(server.requests_to("/me")) == 2
