"""Fresh cache hits answered before a request is prepared, and every case that must not be.

``Session.request`` asks the cache before preparing when nothing the preparation adds could
change the answer. Each test here checks one side of that line against a real server that
counts what it receives: a hit must be the response the prepared path would give, and a
request that carries a credential, a ``Vary`` header of another value, a middleware or a
hook must go the prepared way (and so reach the server when the prepared way would).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

import httpkit
from tests.integration.servers import Reply, ScriptedServer

FRESH = [("Cache-Control", "max-age=600")]


class CountingSession(httpkit.Session):
    """Counts prepare_request() calls: a hit answered before preparation makes none."""

    prepared = 0

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        CountingSession.prepared += 1
        return super().prepare_request(request)


@pytest.fixture
def counting() -> type[CountingSession]:
    CountingSession.prepared = 0
    return CountingSession


def _comparable(r: requests.Response) -> dict[str, Any]:
    return {
        "status": r.status_code,
        "reason": r.reason,
        "headers": {k: v for k, v in r.headers.items() if k != "Age"},
        "content": r.content,
        "url": r.url,
        "request": (r.request.method, r.request.url, dict(r.request.headers), r.request.body),
        "history": r.history,
        "encoding": r.encoding,
        "marks": (r.from_cache, r.revalidated, r.retries.attempts),  # type: ignore[attr-defined]
        "raw": r.raw.read(),
    }


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_fresh_hit_needs_no_preparation_and_equals_the_prepared_hit(
    server: ScriptedServer, counting: type[CountingSession], method: str
) -> None:
    server.script("/a", Reply(body=b'{"n": 1}', headers=[*FRESH, ("Content-Type", "x/y")]))
    with counting(cache=True, retry=0) as s:
        s.request(method, server.url("/a"))
        before = counting.prepared
        early = s.request(method, server.url("/a"), headers={"X-Trace": "t1"})
        assert counting.prepared == before  # answered before any preparation
        late = s.send(
            s.prepare_request(requests.Request(method, server.url("/a"), {"X-Trace": "t1"}))
        )
    assert len(server.requests_to("/a")) == 1
    assert early.from_cache is True  # type: ignore[attr-defined]
    assert _comparable(early) == _comparable(late)


def test_a_hit_before_preparation_keeps_raise_for_status(server: ScriptedServer) -> None:
    server.script("/gone", Reply(status=410, body=b"gone", headers=FRESH))
    with httpkit.Session(cache=True, retry=0, raise_for_status=True) as s:
        with pytest.raises(requests.HTTPError):
            s.get(server.url("/gone"))
        with pytest.raises(requests.HTTPError) as raised:
            s.get(server.url("/gone"))
    assert raised.value.response.from_cache is True  # type: ignore[union-attr]
    assert len(server.requests_to("/gone")) == 1


@contextmanager
def primed(server: ScriptedServer, path: str) -> Iterator[httpkit.Session]:
    """A session with a cache that holds a fresh anonymous response for ``path``."""
    server.script(path, Reply(body=b"anonymous", headers=FRESH))
    with httpkit.Session(cache=True, retry=0) as s:
        s.get(server.url(path))
        yield s


def _netrc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: ScriptedServer) -> None:
    path = tmp_path / "netrc"
    path.write_text(f"machine {server.host} login n password netrc-secret\n")
    path.chmod(0o600)
    monkeypatch.setenv("NETRC", str(path))


#: Every way a credential reaches a request, applied after an anonymous response was stored.
#: Each returns the keyword arguments of the call.
CREDENTIALS: dict[str, Callable[[httpkit.Session, ScriptedServer], dict[str, Any]]] = {
    "call-auth": lambda s, srv: {"auth": httpkit.TokenAuth("call-secret")},
    "call-auth-pair": lambda s, srv: {"auth": ("u", "pair-secret")},
    "session-auth": lambda s, srv: (setattr(s, "auth", httpkit.TokenAuth("sess-secret")), {})[1],
    "policy-auth": lambda s, srv: (
        s.configure(srv.origin, auth=httpkit.TokenAuth("policy-secret"), cache=True),
        {},
    )[1],
    "session-api-key": lambda s, srv: (s.headers.update({"X-Api-Key": "key-secret"}), {})[1],
    "call-authorization": lambda s, srv: {"headers": {"authorization": "Bearer hdr-secret"}},
    "policy-header": lambda s, srv: (
        s.configure(srv.origin, headers={"X-Auth-Token": "tok-secret"}, cache=True),
        {},
    )[1],
    "call-cookie": lambda s, srv: {"cookies": {"sid": "cookie-secret"}},
    "session-cookie": lambda s, srv: (s.cookies.set("sid", "jar-secret"), {})[1],
    "secret-query": lambda s, srv: {"params": {"api_key": "query-secret"}},
}


@pytest.mark.parametrize("source", sorted(CREDENTIALS))
def test_a_request_with_a_credential_is_never_answered_with_the_anonymous_entry(
    server: ScriptedServer, source: str
) -> None:
    server.script("/doc", Reply(body=b"anonymous", headers=FRESH))
    with httpkit.Session(cache=True, retry=0) as s:
        assert s.get(server.url("/doc")).content == b"anonymous"
        kwargs = CREDENTIALS[source](s, server)
        answered = s.get(server.url("/doc"), **kwargs)
    assert answered.from_cache is False  # type: ignore[attr-defined]
    sent = server.requests_to("/doc")
    assert len(sent) == 2
    credential = {k: v for k, v in sent[1].headers.items() if sent[0].headers.get(k) != v}
    assert credential or "secret" in sent[1].path  # the credential was sent


def test_a_netrc_entry_is_a_credential_too(
    server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with primed(server, "/doc") as s:
        _netrc(tmp_path, monkeypatch, server)
        assert s.get(server.url("/doc")).from_cache is False  # type: ignore[attr-defined]
    assert "Authorization" in server.requests_to("/doc")[1].headers


def test_url_user_info_is_a_credential_too(server: ScriptedServer) -> None:
    with primed(server, "/doc") as s:
        with_user = server.url("/doc").replace("://", "://u:info-secret@")
        assert s.get(with_user).from_cache is False  # type: ignore[attr-defined]
    assert "Authorization" in server.requests_to("/doc")[1].headers


def test_one_users_entry_is_never_another_users(server: ScriptedServer) -> None:
    server.script("/me", Reply(body=b"alice's", headers=FRESH), Reply(body=b"bob's", headers=FRESH))
    with httpkit.Session(cache=httpkit.MemoryCache(credentials=True), retry=0) as s:
        assert s.get(server.url("/me"), auth=httpkit.TokenAuth("alice")).content == b"alice's"
        assert s.get(server.url("/me"), auth=httpkit.TokenAuth("bob")).content == b"bob's"
        assert s.get(server.url("/me")).from_cache is False  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("call", "reaches_server"),
    [
        ({"headers": {"Accept": "text/plain"}}, False),  # the Vary value it was stored with
        ({"headers": {"Accept": "application/json"}}, True),  # another representation
        ({"headers": {"Cache-Control": "no-cache"}}, True),  # revalidate
        ({"headers": {"Pragma": "no-cache"}}, True),
        ({"headers": {"Range": "bytes=0-1"}}, True),  # the caller's own exchange
        # a hit, the prepared way: hooks run on it
        ({"headers": {"Accept": "text/plain"}, "hooks": {"response": [lambda r, **kw: r]}}, False),
    ],
)
def test_what_the_request_says_decides_as_after_preparation(
    server: ScriptedServer, call: dict[str, Any], reaches_server: bool
) -> None:
    server.script("/v", Reply(body=b"text", headers=[*FRESH, ("Vary", "Accept"), ("ETag", '"e"')]))
    with httpkit.Session(cache=True, retry=0) as s:
        s.get(server.url("/v"), headers={"Accept": "text/plain"})
        s.get(server.url("/v"), **call)
    assert len(server.requests_to("/v")) == (2 if reaches_server else 1)


def test_a_session_header_set_to_none_by_the_call_is_left_out_of_the_hit(
    server: ScriptedServer,
) -> None:
    with primed(server, "/h") as s:
        hit = s.get(server.url("/h"), headers={"Accept-Encoding": None})
    assert hit.from_cache is True  # type: ignore[attr-defined]
    assert "Accept-Encoding" not in hit.request.headers


def test_an_invalid_header_raises_as_requests_does_even_when_a_hit_waits(
    server: ScriptedServer,
) -> None:
    with primed(server, "/h") as s:
        with pytest.raises(requests.exceptions.InvalidHeader):
            s.get(server.url("/h"), headers={"X-Bad": "a\r\nInjected: yes"})
        with pytest.raises(requests.exceptions.InvalidHeader):
            s.get(server.url("/h"), headers={"X-Bad": "a\x00b"})


def test_a_redirect_is_followed_however_it_was_stored(server: ScriptedServer) -> None:
    server.script("/old", Reply(status=301, headers=[*FRESH, ("Location", "/new")]))
    server.script("/new", Reply(body=b"moved here", headers=FRESH))
    with httpkit.Session(cache=True, retry=0) as s:
        s.get(server.url("/old"))
        again = s.get(server.url("/old"))
    assert again.content == b"moved here"
    assert [r.status_code for r in again.history] == [301]
    assert len(server.requests_to("/new")) == 1  # the target was a hit the second time


def test_a_middleware_still_sees_the_hit(server: ScriptedServer) -> None:
    seen: list[bool] = []

    def watch(request: requests.PreparedRequest, send: Any) -> requests.Response:
        response = send(request)
        seen.append(response.from_cache)
        return response

    server.script("/m", Reply(headers=FRESH))
    with httpkit.Session(cache=True, retry=0, middlewares=[watch]) as s:
        s.get(server.url("/m"))
        s.get(server.url("/m"))
    assert seen == [False, True]
