"""Middleware, redacted logging, header checks, body limits and redirect hardening."""

from __future__ import annotations

import gzip
import logging
import os
import resource
from typing import Any

import pytest
import requests

import httpkit
from httpkit import BodyTooLarge, LoggingMiddleware, MiddlewareError
from tests.integration.raw import Answer, raw_server
from tests.integration.servers import Reply, ScriptedServer

FAST = httpkit.RetryPolicy(backoff_factor=0)
SECRET = "s3cret-token-value"


# -- middleware -----------------------------------------------------------------------------


def test_middlewares_run_in_order_around_every_hop(server: ScriptedServer) -> None:
    server.script("/start", Reply(302, headers=[("Location", "/next")]))
    trace: list[str] = []

    def named(name: str) -> Any:
        def middleware(request: Any, send: Any) -> Any:
            trace.append(f"{name}>{request.path_url}")
            response = send(request)
            trace.append(f"{name}<{response.status_code}")
            return response

        return middleware

    with httpkit.Session(middlewares=[named("outer")]) as s:
        s.configure(server.origin, middlewares=[named("host")])
        assert s.get(server.url("/start")).status_code == 200
    assert trace == [
        "outer>/start",
        "host>/start",
        "host<302",
        "outer<302",
        "outer>/next",
        "host>/next",
        "host<200",
        "outer<200",
    ]


def test_middleware_can_change_the_request_and_short_circuit(server: ScriptedServer) -> None:
    def add_header(request: Any, send: Any) -> Any:
        request.headers["X-Added"] = "yes"
        return send(request)

    def offline(request: Any, send: Any) -> Any:
        if request.path_url == "/cached":
            response = requests.Response()
            response.status_code = 299
            response._content = b"from middleware"
            response.request = request
            return response
        return send(request)

    with httpkit.Session(middlewares=[add_header, offline]) as s:
        assert s.get(server.url("/cached")).text == "from middleware"
        s.get(server.url("/real"))
    assert server.requests_to("/cached") == []
    assert server.requests_to("/real")[0].headers["X-Added"] == "yes"


def test_middleware_may_retry_but_only_so_often(server: ScriptedServer) -> None:
    server.script("/flaky", Reply(500), Reply(500), Reply(200))

    def retry_on_500(request: Any, send: Any) -> Any:
        for _ in range(3):  # bounded, as it should be
            response = send(request)
            if response.status_code != 500:
                return response
        return response

    def forever(request: Any, send: Any) -> Any:
        while True:
            send(request)

    with httpkit.Session(retry=0, middlewares=[retry_on_500]) as s:
        assert s.get(server.url("/flaky")).status_code == 200
    with (
        httpkit.Session(retry=0, middlewares=[forever]) as s,
        pytest.raises(MiddlewareError, match="called send\\(\\) more than 10 times"),
    ):
        s.get(server.url("/loop"))
    assert len(server.requests_to("/loop")) == 10


def test_bad_middlewares_setting_is_a_config_error() -> None:
    with pytest.raises(httpkit.ConfigError, match="middlewares: 42 is not callable"):
        httpkit.Session(middlewares=[42])  # type: ignore[list-item]


# -- logging ----------------------------------------------------------------------------------


def test_logging_middleware_writes_one_redacted_line_per_request(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.script("/items", Reply(503), Reply(200))
    caplog.set_level(logging.INFO, logger="httpkit")
    with httpkit.Session(retry=FAST, middlewares=[LoggingMiddleware()]) as s:
        s.get(server.url(f"/items?page=2&api_key={SECRET}"))
    lines = [r.getMessage() for r in caplog.records if r.name == "httpkit"]
    assert len(lines) == 1
    assert lines[0].startswith(f"GET {server.url('/items')}?page=2&api_key=<redacted> -> 200 in ")
    assert lines[0].endswith("ms (2 attempts)")


def _secret_calls(server: ScriptedServer, server2: ScriptedServer) -> None:
    """Calls carrying a credential every way httpkit supports, some redirected away."""
    challenge = ("WWW-Authenticate", 'Digest realm="r", nonce="n0", qop="auth"')
    server.script("/digest", Reply(401, headers=[challenge]), Reply(200))
    server.script("/away", Reply(302, headers=[("Location", server2.url("/landing"))]))
    server.script("/fail", Reply(500))
    with httpkit.Session(retry=FAST, middlewares=[LoggingMiddleware()]) as s:
        s.headers["X-Api-Key"] = SECRET
        s.get(server.url("/basic"), auth=httpkit.BasicAuth("user", SECRET))
        s.get(server.url("/basic-tuple"), auth=("user", SECRET))
        s.get(server.url("/digest"), auth=httpkit.DigestAuth("user", SECRET))
        s.get(server.url("/token"), auth=httpkit.TokenAuth(SECRET))
        s.get(server.url("/custom"), auth=httpkit.TokenAuth(SECRET, header="X-Auth-Token"))
        s.get(server.url("/own"), auth=httpkit.TokenAuth(SECRET, header="X-My-Token"))
        s.get(server.url("/fetched"), auth=httpkit.TokenAuth(fetch=lambda: (SECRET, 60)))
        s.get(server.url(f"/query?token={SECRET}&sig={SECRET}"))
        s.get(server.url("/away"), cookies={"session": SECRET})
        s.get(server.url(f"/fail?access_token={SECRET}"))
        with pytest.raises(requests.RequestException):
            s.get(f"http://127.0.0.1:9/refused?password={SECRET}", timeout=1)
        repr(s)
        repr(s.policy_for(server.url("/")))


def test_no_secret_reaches_any_log_at_debug(
    server: ScriptedServer, server2: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: httpkit's, urllib3's, requests'
    _secret_calls(server, server2)
    logged = "\n".join(
        f"{record.name} {record.getMessage()} {record.exc_text or ''}" for record in caplog.records
    )
    assert "urllib3.connectionpool" in logged  # urllib3 did log its request lines
    assert "request headers:" in logged
    assert SECRET not in logged
    assert "<redacted>" in logged


def test_exception_messages_do_not_show_query_secrets() -> None:
    with (
        httpkit.Session(retry=httpkit.RetryPolicy(total=1, backoff_factor=0)) as s,
        pytest.raises(requests.ConnectionError) as caught,
    ):
        s.get(f"http://127.0.0.1:9/x?token={SECRET}")
    text = str(caught.value) + repr(caught.value)
    cause: BaseException | None = caught.value
    while cause is not None:
        text += str(cause) + repr(cause)
        cause = cause.__cause__ or cause.__context__
    assert SECRET not in text


# -- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\x00b"])
def test_header_values_with_cr_lf_or_nul_are_refused_before_sending(
    server: ScriptedServer, value: str
) -> None:
    with httpkit.Session() as s, pytest.raises(requests.exceptions.InvalidHeader):
        s.get(server.url("/"), headers={"X-Value": value})
    assert server.received == []


def test_a_nul_added_by_an_auth_plugin_is_refused(server: ScriptedServer) -> None:
    class Sneaky(requests.auth.AuthBase):
        def __call__(self, r: Any) -> Any:
            r.headers["X-Signature"] = "abc\x00def"
            return r

    with httpkit.Session() as s, pytest.raises(requests.exceptions.InvalidHeader):
        s.get(server.url("/"), auth=Sneaky())
    assert server.received == []


def test_a_nul_added_by_a_middleware_is_refused(server: ScriptedServer) -> None:
    def sneaky(request: Any, send: Any) -> Any:
        request.headers["X-Trace"] = "a\x00b"
        return send(request)

    with (
        httpkit.Session(middlewares=[sneaky]) as s,
        pytest.raises(requests.exceptions.InvalidHeader, match="'X-Trace'"),
    ):
        s.get(server.url("/"))
    assert server.received == []


# -- body limits ------------------------------------------------------------------------------


def test_max_body_stops_a_large_body(server: ScriptedServer) -> None:
    server.script("/big", Reply(body=b"x" * 300_000))
    with httpkit.Session(max_body=100_000) as s:
        with pytest.raises(BodyTooLarge, match="larger than max_body \\(100000 bytes"):
            s.get(server.url("/big"))
        response = s.get(server.url("/big"), stream=True)
        with pytest.raises(BodyTooLarge):
            response.json()
        s.configure(server.origin, max_body=None)
        assert len(s.get(server.url("/big")).content) == 300_000


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def test_gzip_bomb_is_stopped_with_memory_bounded(server: ScriptedServer) -> None:
    bomb = gzip.compress(b"\0" * (200 * 1024 * 1024), compresslevel=9)  # ~200 KB
    server.script("/bomb", Reply(body=bomb, headers=[("Content-Encoding", "gzip")]))
    before = _rss_mib()
    with httpkit.Session(max_body=10 * 1024 * 1024) as s, pytest.raises(BodyTooLarge):
        s.get(server.url("/bomb"))
    assert _rss_mib() - before < 50, "decoding was not bounded"


def test_redirect_bodies_are_drained_not_decoded(server: ScriptedServer) -> None:
    bomb = gzip.compress(b"\0" * (100 * 1024 * 1024), compresslevel=9)
    server.script(
        "/start",
        Reply(302, body=bomb, headers=[("Location", "/next"), ("Content-Encoding", "gzip")]),
    )
    before = _rss_mib()
    with httpkit.Session() as s:
        response = s.get(server.url("/start"))
    assert response.status_code == 200
    assert response.history[0].content == b""
    assert _rss_mib() - before < 50


# -- redirects --------------------------------------------------------------------------------


def test_retry_false_returns_redirects_unfollowed(server: ScriptedServer) -> None:
    server.script("/start", Reply(302, headers=[("Location", "/next")]))
    with httpkit.Session(retry=False) as s:
        assert s.get(server.url("/start")).status_code == 302
    assert server.requests_to("/next") == []


def test_urllib3_retry_redirect_zero_is_honoured(server: ScriptedServer) -> None:
    from urllib3.util.retry import Retry

    server.script("/start", Reply(302, headers=[("Location", "/next")]))
    with httpkit.Session(retry=Retry(total=2, redirect=0)) as s:
        assert s.get(server.url("/start")).status_code == 302


def test_redirect_limit_of_the_policy(server: ScriptedServer) -> None:
    for hop in range(3):
        server.script(f"/r{hop}", Reply(302, headers=[("Location", f"/r{hop + 1}")]))
    with (
        httpkit.Session(retry=httpkit.RetryPolicy(redirects=2)) as s,
        pytest.raises(requests.TooManyRedirects, match="more than 2 redirects"),
    ):
        s.get(server.url("/r0"))
    with httpkit.Session() as s:
        s.max_redirects = 1
        with pytest.raises(requests.TooManyRedirects):
            s.get(server.url("/r0"))


@pytest.mark.parametrize("location", ["http://[::1/x", "http://host:99999999/", "http://h:port/"])
def test_malformed_location_is_a_requests_error_that_names_it(
    server: ScriptedServer, location: str
) -> None:
    server.script("/start", Reply(302, headers=[("Location", location)]))
    with httpkit.Session() as s, pytest.raises(requests.exceptions.InvalidURL) as caught:
        s.get(server.url("/start"))
    assert "malformed Location" in str(caught.value)


def test_307_does_not_carry_the_body_to_another_origin(
    server: ScriptedServer, server2: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.script("/upload", Reply(307, headers=[("Location", server2.url("/upload"))]))
    with httpkit.Session() as s:
        response = s.post(server.url("/upload"), data=b"private payload")
    assert response.status_code == 307
    assert server2.received == []
    assert "pass Session(cross_origin_body=True) to allow it" in caplog.text
    with httpkit.Session(cross_origin_body=True) as s:
        assert s.post(server.url("/upload"), data=b"private payload").status_code == 200
    assert server2.requests_to("/upload")[0].body == b"private payload"


def test_307_to_the_same_origin_keeps_its_body(server: ScriptedServer) -> None:
    server.script("/upload", Reply(307, headers=[("Location", "/upload2")]))
    with httpkit.Session() as s:
        assert s.post(server.url("/upload"), data=b"payload").status_code == 200
    assert server.requests_to("/upload2")[0].body == b"payload"


def test_rss_helper_reads_this_process() -> None:
    assert _rss_mib() > 1
    assert os.getpid() > 0


def test_a_nul_in_a_cookie_the_server_set_stops_the_next_hop(server: ScriptedServer) -> None:
    server.script(
        "/start", Reply(302, headers=[("Location", "/next"), ("Set-Cookie", "a=b\x00c; Path=/")])
    )
    with httpkit.Session() as s, pytest.raises(requests.exceptions.InvalidHeader, match="Cookie"):
        s.get(server.url("/start"))
    assert server.requests_to("/next") == []


@pytest.mark.parametrize("via", ["verb", "send"])
def test_a_location_that_is_not_utf8_is_an_invalid_url(via: str) -> None:
    with raw_server() as raw, httpkit.Session() as s:
        raw.script("/moved", Answer(302, [("Location", "/caf\xe9\xff\xfe")], b""))
        prepared = s.prepare_request(requests.Request("GET", raw.url("/moved")))
        with pytest.raises(requests.exceptions.InvalidURL, match="not UTF-8"):
            s.get(raw.url("/moved")) if via == "verb" else s.send(prepared)
        assert len(raw.seen) == 1


def test_a_url_with_two_ats_in_its_authority_is_refused(
    server: ScriptedServer, server2: ScriptedServer
) -> None:
    ambiguous = f"http://a@{server.origin[7:]}@{server2.origin[7:]}/"
    server.script("/hop", Reply(302, headers=[("Location", ambiguous)]))
    with httpkit.Session() as s:
        with pytest.raises(requests.exceptions.InvalidURL, match="more than one '@'"):
            s.get(ambiguous)
        with pytest.raises(requests.exceptions.InvalidURL, match="malformed Location"):
            s.get(server.url("/hop"))
    assert server2.received == []
    assert [r.path for r in server.received] == ["/hop"]


@pytest.mark.parametrize("method", ["GET\r\nX-Injected: 1", "GE T", "GET\x00", "GÉT"])
def test_a_method_that_is_not_a_token_is_refused(server: ScriptedServer, method: str) -> None:
    with httpkit.Session() as s, pytest.raises(httpkit.ConfigError) as caught:
        s.request(method, server.url("/"))
    assert isinstance(caught.value, ValueError)  # what requests (http.client) raises
    assert "not an HTTP method name" in str(caught.value)
    assert server.received == []


def test_conflicting_content_lengths_are_not_retried() -> None:
    """A malformed response is what the server sends again: no retry, requests' error."""
    with raw_server() as raw, httpkit.Session() as s:
        headers = [("Content-Length", "2"), ("Content-Length", "3")]
        raw.script("/twice", Answer(headers=headers, body=b"ok", shape="close"))
        with pytest.raises(requests.exceptions.InvalidHeader, match="Content-Length"):
            s.get(raw.url("/twice"))
        assert len(raw.seen) == 1
