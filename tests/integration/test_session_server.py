"""httpkit.Session against real servers on loopback: timeouts, retries, policies, pools."""

from __future__ import annotations

import logging
import pickle
import threading
import time
from typing import Any

import pytest
import requests

import httpkit
from tests.integration.servers import Reply, ScriptedServer

FAST = httpkit.RetryPolicy(backoff_factor=0)  # no backoff sleeps in tests


def test_handler_slower_than_read_timeout_raises_read_timeout(server: ScriptedServer) -> None:
    server.script("/slow", Reply(delay=1.0))
    with httpkit.Session(timeout=(2, 0.2), retry=False) as s, pytest.raises(requests.ReadTimeout):
        s.get(server.url("/slow"))


def test_read_timeout_after_retries_is_still_a_timeout(server: ScriptedServer) -> None:
    """requests reports exhausted read retries as ConnectionError; httpkit keeps them timeouts."""
    server.script("/slow", Reply(delay=1.0))
    with (
        httpkit.Session(
            timeout=(2, 0.2), retry=httpkit.RetryPolicy(total=1, backoff_factor=0)
        ) as s,
        pytest.raises(requests.ReadTimeout) as caught,
    ):
        s.get(server.url("/slow"))
    assert not isinstance(caught.value, requests.ConnectionError)
    assert len(server.requests_to("/slow")) == 2


def test_session_default_timeout_applies_when_call_gives_none(server: ScriptedServer) -> None:
    server.script("/slow", Reply(delay=1.0))
    with httpkit.Session(timeout=0.2, retry=False) as s:
        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout):
            s.get(server.url("/slow"))
    assert time.monotonic() - started < 0.9


def test_explicit_none_disables_the_default_timeout(server: ScriptedServer) -> None:
    server.script("/slow", Reply(delay=0.5))
    with httpkit.Session(timeout=0.1, retry=False) as s:
        assert s.get(server.url("/slow"), timeout=None).status_code == 200


def test_503_503_200_makes_three_requests_and_returns_200(server: ScriptedServer) -> None:
    server.script("/flaky", Reply(503), Reply(503), Reply(200, b"done"))
    with httpkit.Session(retry=FAST) as s:
        response = s.get(server.url("/flaky"))
    assert response.status_code == 200
    assert response.text == "done"
    assert len(server.requests_to("/flaky")) == 3
    assert response.retries.attempts == 3
    assert response.retries.reasons == ("503", "503")


def test_status_retries_exhausted_returns_last_response(server: ScriptedServer) -> None:
    server.script("/down", Reply(503, b"still down"))
    with httpkit.Session(retry=httpkit.RetryPolicy(total=2, backoff_factor=0)) as s:
        response = s.get(server.url("/down"))
    assert response.status_code == 503
    assert response.text == "still down"
    assert response.retries.attempts == 3
    assert len(server.requests_to("/down")) == 3


def test_retry_after_seconds_is_waited(server: ScriptedServer) -> None:
    server.script("/busy", Reply(503, headers=[("Retry-After", "1")]), Reply(200))
    with httpkit.Session(retry=FAST) as s:
        assert s.get(server.url("/busy")).status_code == 200
    first, second = server.requests_to("/busy")
    assert second.at - first.at >= 0.95


def test_post_answered_503_is_not_retried(server: ScriptedServer) -> None:
    server.script("/orders", Reply(503), Reply(201))
    with httpkit.Session(retry=FAST) as s:
        response = s.post(server.url("/orders"), json={"item": 1})
    assert response.status_code == 503
    assert len(server.requests_to("/orders")) == 1


def test_two_host_policies_on_two_ports_route_to_their_own_settings(
    server: ScriptedServer, server2: ScriptedServer
) -> None:
    server.script("/slow", Reply(delay=0.5))
    server2.script("/slow", Reply(delay=0.5))
    with httpkit.Session(retry=False) as s:
        s.configure(server.origin, headers={"X-Policy": "one"}, timeout=0.1)
        s.configure(server2.origin, headers={"X-Policy": "two"}, timeout=5)
        s.get(server.url("/"))
        s.get(server2.url("/"))
        with pytest.raises(requests.ReadTimeout):
            s.get(server.url("/slow"))
        assert s.get(server2.url("/slow")).status_code == 200
    assert server.requests_to("/")[0].headers["X-Policy"] == "one"
    assert server2.requests_to("/")[0].headers["X-Policy"] == "two"


def test_policy_for_one_port_does_not_apply_to_another(server: ScriptedServer) -> None:
    with httpkit.Session() as s:
        s.configure(f"http://127.0.0.1:{server.port + 1}", headers={"X-Policy": "other-port"})
        s.get(server.url("/"))
    assert "X-Policy" not in server.requests_to("/")[0].headers


def _hammer(session: requests.Session, url: str, threads: int, calls: int) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def work() -> None:
        start.wait()
        for _ in range(calls):
            status = session.get(url).status_code
            with lock:
                statuses.append(status)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return statuses


@pytest.mark.parametrize(
    ("make_session", "expect_discards"),
    [
        pytest.param(httpkit.Session, False, id="httpkit"),
        pytest.param(requests.Session, True, id="requests-control"),
    ],
)
def test_32_threads_sharing_a_host_never_discard_connections(
    server: ScriptedServer,
    caplog: pytest.LogCaptureFixture,
    make_session: type[requests.Session],
    expect_discards: bool,
) -> None:
    """The requests control shows the scenario really overflows a default pool of 10."""
    server.script("/", Reply(delay=0.01))
    caplog.set_level(logging.WARNING, logger="urllib3.connectionpool")
    with make_session() as s:
        statuses = _hammer(s, server.url("/"), threads=32, calls=50)
    assert statuses == [200] * 32 * 50
    discarded = [r for r in caplog.records if "Connection pool is full" in r.getMessage()]
    assert bool(discarded) is expect_discards


def test_explicit_pool_maxsize_is_honoured(server: ScriptedServer) -> None:
    with httpkit.Session(pool_maxsize=3) as s:
        s.get(server.url("/"))
        pool = s.get_adapter(server.url("/")).poolmanager.connection_from_url(server.url("/"))
        assert pool.pool.maxsize == 3


def test_pickled_session_keeps_its_policies(server: ScriptedServer) -> None:
    server.script("/slow", Reply(delay=0.5))
    original = httpkit.Session(retry=FAST, user_agent="pickled/1.0")
    original.configure(server.origin, headers={"X-Policy": "kept"}, timeout=0.1, retry=False)
    restored = pickle.loads(pickle.dumps(original))
    with restored:
        restored.get(server.url("/"))
        with pytest.raises(requests.ReadTimeout):
            restored.get(server.url("/slow"))
    seen = server.requests_to("/")[0].headers
    assert seen["X-Policy"] == "kept"
    assert seen["User-Agent"].startswith("pickled/1.0 httpkit/")
    assert len(server.requests_to("/slow")) == 1  # retry=False survived the round trip


def test_base_url_joins_relative_paths(server: ScriptedServer) -> None:
    with httpkit.Session(base_url=server.url("/api/v2")) as s:
        s.get("users", params={"page": 2})
        s.get("/teams")
        s.get(server.url("/absolute"))
    paths = [r.path for r in server.received]
    assert paths == ["/api/v2/users?page=2", "/api/v2/teams", "/absolute"]


def test_raise_for_status_option(server: ScriptedServer) -> None:
    server.script("/missing", Reply(404))
    with httpkit.Session(raise_for_status=True) as s, pytest.raises(requests.HTTPError):
        s.get(server.url("/missing"))


@pytest.mark.parametrize("own_adapter_first", [False, True])
def test_a_redirect_hop_gets_its_own_host_timeout(
    server: ScriptedServer, server2: ScriptedServer, own_adapter_first: bool
) -> None:
    """requests hands every hop the first hop's timeout; each host's policy must apply."""
    server.script("/start", Reply(302, headers=[("Location", server2.url("/slow"))]))
    server2.script("/slow", Reply(delay=1.0))
    with httpkit.Session(retry=0) as s:
        if own_adapter_first:
            s.mount(server.origin, requests.adapters.HTTPAdapter())
        s.configure(server2.origin, timeout=0.2)
        with pytest.raises(requests.ReadTimeout):
            s.get(server.url("/start"))


@pytest.mark.parametrize(
    "set_cookies",
    [
        [],
        [("Set-Cookie", "a=1; Path=/")],
        [("Set-Cookie", "a=1; Path=/"), ("set-cookie", "b=2; Path=/x"), ("Set-Cookie", "c=3")],
        [("Set-Cookie", "broken")],
    ],
)
@pytest.mark.parametrize("redirected", [False, True])
def test_cookies_a_server_sets_land_where_requests_puts_them(
    server: ScriptedServer, set_cookies: list[tuple[str, str]], redirected: bool
) -> None:
    """response.cookies and the session jar, with and without Set-Cookie, as in requests."""

    def run(session: requests.Session) -> tuple[Any, Any]:
        server.script("/end", Reply(headers=[] if redirected else set_cookies))
        server.script("/go", Reply(302, b"", [*set_cookies, ("Location", "/end")]))
        response = session.get(server.url("/go" if redirected else "/end"))
        hops = [*response.history, response]
        return (
            [sorted(r.cookies.items()) for r in hops],
            sorted((c.name, c.value, c.domain, c.path) for c in session.cookies),
        )

    with requests.Session() as plain, httpkit.Session(retry=0) as ours:
        assert run(ours) == run(plain)


def test_an_unfollowed_redirect_knows_its_next_request(server: ScriptedServer) -> None:
    server.script("/go", Reply(302, b"", [("Location", "/end")]))
    with httpkit.Session(retry=0) as s:
        response = s.get(server.url("/go"), allow_redirects=False)
        plain = s.get(server.url("/end"), allow_redirects=False)
    assert response.status_code == 302
    assert response.next is not None
    assert response.next.url == server.url("/end")
    assert plain.next is None


def test_a_send_mixin_below_httpkit_is_still_called(server: ScriptedServer) -> None:
    """A class between httpkit.Session and requests.Session keeps its send() in the chain."""
    seen: list[str] = []

    class Counting(requests.Session):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            seen.append(request.url or "")
            return super().send(request, **kwargs)

    class Mixed(httpkit.Session, Counting):
        pass

    server.script("/go", Reply(302, b"", [("Location", "/end")]))
    with Mixed(retry=0) as s:
        response = s.get(server.url("/go"))
    assert response.status_code == 200
    assert seen == [server.url("/go"), server.url("/end")]


def test_response_hooks_run_on_every_hop_and_may_replace_the_response(
    server: ScriptedServer,
) -> None:
    seen: list[int] = []

    def hook(response: requests.Response, **kwargs: Any) -> requests.Response:
        seen.append(response.status_code)
        response.headers["X-Hooked"] = "yes"
        return response

    server.script("/go", Reply(302, b"", [("Location", "/end")]))
    with httpkit.Session(retry=0) as s:
        s.hooks["response"].append(hook)
        response = s.get(server.url("/go"))
    assert seen == [302, 200]
    assert response.headers["X-Hooked"] == "yes"
    assert response.history[0].headers["X-Hooked"] == "yes"
