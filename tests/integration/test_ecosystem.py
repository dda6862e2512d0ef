"""Libraries built around requests, used on an httpkit.Session as their users would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
import responses
import vcr
from requests_cache import CacheMixin
from requests_toolbelt.sessions import BaseUrlSession

import httpkit
from tests.integration.servers import Reply, ScriptedServer, serve

# -- recorders -------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["get", "send", "retried"])
def test_vcrpy_records_and_replays_with_the_server_gone(tmp_path: Path, entry: str) -> None:
    cassette = tmp_path / "cassette.yaml"
    recorder = vcr.VCR(record_mode="once")

    def call(session: httpkit.Session, url: str) -> requests.Response:
        if entry == "send":
            return session.send(session.prepare_request(requests.Request("GET", url)))
        return session.get(url)

    with serve() as server:
        url = server.url("/recorded?page=1")
        if entry == "retried":
            server.script("/recorded", Reply(503), Reply(200, body=b"second"))
        else:
            server.script("/recorded", Reply(200, body=b"live"))
        retry = httpkit.RetryPolicy(backoff_factor=0)
        with recorder.use_cassette(str(cassette)), httpkit.Session(retry=retry) as s:
            recorded = call(s, url)
        reached = len(server.requests_to("/recorded"))
    assert cassette.exists()
    assert reached == (2 if entry == "retried" else 1)
    # The server is gone: only the cassette can answer.
    with recorder.use_cassette(str(cassette)) as played, httpkit.Session(retry=retry) as s:
        replayed = call(s, url)
    assert (replayed.status_code, replayed.content) == (recorded.status_code, recorded.content)
    assert played.play_count == reached


def test_without_a_cassette_entry_vcrpy_refuses_instead_of_reaching_the_network(
    tmp_path: Path,
) -> None:
    cassette = tmp_path / "empty.yaml"
    cassette.write_text("interactions: []\nversion: 1\n", encoding="utf-8")
    with (
        serve() as server,
        vcr.VCR(record_mode="none").use_cassette(str(cassette)),
        httpkit.Session(retry=0) as s,
        pytest.raises(vcr.errors.CannotOverwriteExistingCassetteException),
    ):
        s.get(server.url("/never"))
    assert server.requests_to("/never") == []


# -- mocks -----------------------------------------------------------------------------------


def test_a_body_that_breaks_off_under_responses_is_retried_a_bounded_number_of_times() -> None:
    """As docs/retries.md promises: at most four requests, then requests' own error."""
    sent = []

    def broken(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        sent.append(request)
        return 200, {"Content-Length": "100"}, b"short"

    policy = httpkit.RetryPolicy(backoff_factor=0)
    with responses.RequestsMock() as mock, httpkit.Session(retry=policy, deadline=30) as s:
        mock.add_callback(responses.GET, "http://api.test/x", callback=broken)
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            s.get("http://api.test/x")
    assert len(sent) == 4


# -- Session subclasses ---------------------------------------------------------------------


class ToolbeltSession(BaseUrlSession, httpkit.Session):
    """requests-toolbelt's BaseUrlSession on httpkit: it sets base_url before __init__."""


def test_a_base_url_session_keeps_its_base_url(server: ScriptedServer) -> None:
    server.script("/v1/items", Reply(503), Reply(200, body=b"items"))
    with ToolbeltSession(server.url("/v1/")) as s:
        response = s.get("items")
    assert s.base_url == server.url("/v1/")
    assert response.content == b"items"
    assert response.retries.attempts == 2  # httpkit's retries, under toolbelt's URLs


class CachedHttpkitSession(CacheMixin, httpkit.Session):
    """requests-cache's CachedSession, built on httpkit.Session instead of requests'."""


def test_a_requests_cache_session_caches_and_httpkit_still_retries(
    server: ScriptedServer,
) -> None:
    server.script("/c", Reply(503), Reply(200, body=b"cached"))
    with CachedHttpkitSession(
        "ecosystem", backend="memory", retry=httpkit.RetryPolicy(backoff_factor=0)
    ) as s:
        first = s.get(server.url("/c"))
        second = s.get(server.url("/c"))
    assert (first.content, first.from_cache) == (b"cached", False)
    assert (second.content, second.from_cache) == (b"cached", True)
    assert len(server.requests_to("/c")) == 2  # one retry, then requests-cache's hit


class Configured(httpkit.Session):
    """A subclass that sets httpkit's attributes before and after super().__init__()."""

    raise_for_status = True  # a class attribute

    def __init__(self, **kwargs: Any) -> None:
        self.pool_maxsize = 3
        self.telemetry = False
        self.custom = "kept"
        super().__init__(**kwargs)
        self.cross_origin_body = True


def test_attributes_set_before_init_are_kept_and_arguments_still_win() -> None:
    s = Configured()
    assert (s.raise_for_status, s.pool_maxsize, s.telemetry) == (True, 3, False)
    assert (s.custom, s.cross_origin_body) == ("kept", True)
    assert Configured(pool_maxsize=8, raise_for_status=False).pool_maxsize == 8
    with pytest.raises(httpkit.ConfigError, match="pool_maxsize"):
        type("Bad", (httpkit.Session,), {"pool_maxsize": 0})()
