"""DigestAuth against an independent server-side RFC 7616 implementation over real sockets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
import requests

from httpkit.auth import DigestAuth
from tests.integration.digest_server import (
    ALGORITHMS,
    LEGACY_ALGORITHMS,
    DigestConfig,
    DigestServer,
    digest_server,
)

USERS = {"Mufasa": "Circle of Life", "Jäsøn Doe": "Secret, or not?", "Ĳsbrand": "wachtwoord€"}


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False  # no proxy or CA bundle from this machine's environment
        yield s


def _serve(**options: Any) -> AbstractContextManager[DigestServer]:
    return digest_server(DigestConfig(users=USERS, **options))


@pytest.mark.parametrize("qop", ["auth", "auth-int", None])
@pytest.mark.parametrize("algorithm", ALGORITHMS + LEGACY_ALGORITHMS)
def test_every_algorithm_and_qop_authenticates(
    session: requests.Session, algorithm: str, qop: str | None
) -> None:
    with _serve(algorithm=algorithm, qop=qop) as server:
        auth = DigestAuth("Mufasa", "Circle of Life")
        first = session.post(server.url + "/dir/index.html?x=1", data=b"payload", auth=auth)
        second = session.post(server.url + "/other", data=b"more", auth=auth)
    assert (first.status_code, second.status_code) == (200, 200)
    assert server.failures == []
    assert server.challenges == 1  # the second request reused the nonce
    assert [p.get("nc") for p in server.credentials] == (
        [b"00000001", b"00000002"] if qop else [None, None]
    )


def test_auth_preferred_when_auth_int_also_offered(session: requests.Session) -> None:
    with _serve(qop="auth-int, auth") as server:
        r = session.post(server.url + "/", data=b"x", auth=DigestAuth("Mufasa", "Circle of Life"))
    assert r.status_code == 200
    assert server.credentials[0]["qop"] == b"auth"


def test_wrong_password_returns_the_401_after_one_answer(session: requests.Session) -> None:
    with _serve() as server:
        r = session.get(server.url + "/", auth=DigestAuth("Mufasa", "wrong"))
    assert r.status_code == 401
    assert len(r.history) == 1  # one answer, then the server's 401 is returned as is
    assert server.failures == ["wrong response"]


@pytest.mark.parametrize("user", ["Jäsøn Doe", "Ĳsbrand"])
def test_utf8_user_names_and_passwords(session: requests.Session, user: str) -> None:
    with _serve(algorithm="SHA-256") as server:
        r = session.get(server.url + "/", auth=DigestAuth(user, USERS[user]))
    assert r.status_code == 200, server.failures
    assert server.credentials[0]["username"] == user.encode("utf-8")


def test_userhash(session: requests.Session) -> None:
    with _serve(algorithm="SHA-512-256", userhash=True) as server:
        r = session.get(server.url + "/doe.json", auth=DigestAuth("Jäsøn Doe", "Secret, or not?"))
    assert r.status_code == 200, server.failures
    assert server.credentials[0]["userhash"] == b"true"
    assert "Jäsøn".encode() not in server.credentials[0]["username"]


def test_stale_nonce_is_answered_without_failing(session: requests.Session) -> None:
    with _serve(nonce_uses=2) as server:
        auth = DigestAuth("Mufasa", "Circle of Life")
        statuses = [session.get(server.url + f"/{i}", auth=auth).status_code for i in range(5)]
    assert statuses == [200] * 5
    assert server.failures == ["nonce used up", "nonce used up"]  # answered each time


def test_nextnonce_is_used_for_the_next_request(session: requests.Session) -> None:
    with _serve(nextnonce=True) as server:
        auth = DigestAuth("Mufasa", "Circle of Life")
        statuses = [session.get(server.url + "/", auth=auth).status_code for _ in range(4)]
    assert statuses == [200] * 4
    assert server.challenges == 1  # only the very first request was challenged
    assert [p["nc"] for p in server.credentials] == [b"00000001"] * 4


def test_cookie_set_by_the_401_is_sent_with_the_answer(session: requests.Session) -> None:
    with _serve(set_cookie="digest-session=abc") as server:
        r = session.get(server.url + "/", auth=DigestAuth("Mufasa", "Circle of Life"))
    assert r.status_code == 200, server.failures
    assert server.cookies == [None, "digest-session=abc"]


def test_strongest_of_several_challenge_headers(session: requests.Session) -> None:
    weak = 'Digest realm="tests@127.0.0.1", nonce="unknown", algorithm=MD5, qop="auth"'
    with _serve(algorithm="SHA-512-256", extra_challenges=['Basic realm="x"', weak]) as server:
        r = session.get(server.url + "/", auth=DigestAuth("Mufasa", "Circle of Life"))
    assert r.status_code == 200, server.failures
    assert server.credentials[0]["algorithm"] == b"SHA-512-256"


def test_rfc2069_server_without_algorithm_or_qop(session: requests.Session) -> None:
    with _serve(qop=None, send_algorithm=False, opaque=None, charset=False) as server:
        r = session.get(server.url + "/", auth=DigestAuth("Mufasa", "Circle of Life"))
    assert r.status_code == 200, server.failures
    assert set(server.credentials[0]) == {"username", "realm", "nonce", "uri", "response"}


def test_sixteen_threads_share_one_session(session: requests.Session) -> None:
    auth = DigestAuth("Mufasa", "Circle of Life")
    session.auth = auth
    statuses: list[int] = []
    barrier = threading.Barrier(16)
    with _serve(algorithm="SHA-256") as server:

        def work() -> None:
            barrier.wait()
            for i in range(10):
                statuses.append(session.get(server.url + f"/{i}").status_code)

        threads = [threading.Thread(target=work) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert statuses == [200] * 160
    assert server.failures == []
    assert server.challenges <= 16  # one per thread at most: no 401 storm


def test_proxy_authentication_with_407(session: requests.Session) -> None:
    with _serve(proxy=True, algorithm="SHA-256") as proxy:
        proxies = {"http": proxy.url}
        auth = DigestAuth("Mufasa", "Circle of Life")
        first = session.get("http://127.0.0.2:9/path?q=1", auth=auth, proxies=proxies)
        second = session.get("http://127.0.0.2:9/next", auth=auth, proxies=proxies)
    assert (first.status_code, second.status_code) == (200, 200), proxy.failures
    assert proxy.credentials[0]["uri"] == b"http://127.0.0.2:9/path?q=1"
    assert proxy.challenges == 1


def test_challenge_from_another_origin_is_not_answered(session: requests.Session) -> None:
    auth = DigestAuth("Mufasa", "Circle of Life")
    with _serve() as first, _serve() as other:
        assert session.get(first.url + "/", auth=auth).status_code == 200
        r = session.get(other.url + "/", auth=auth)
    assert r.status_code == 401
    assert other.credentials == []  # nothing was sent to the second origin


@pytest.mark.parametrize(
    "challenge",
    ['Basic realm="x"', "Basic realm=Restricted Area", 'Bearer realm="api" error="invalid_token"'],
)
def test_401_with_another_scheme_is_returned_as_is(
    session: requests.Session, challenge: str
) -> None:
    with _serve(send_digest=False, extra_challenges=[challenge]) as server:
        r = session.get(server.url + "/", auth=DigestAuth("Mufasa", "Circle of Life"))
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == challenge
    assert r.history == []
    assert server.challenges == 1
    assert server.credentials == []


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256-sess"])
def test_unquoted_base64_nonce_opaque_and_qop(session: requests.Session, algorithm: str) -> None:
    with _serve(unquoted=True, algorithm=algorithm) as server:
        auth = DigestAuth("Mufasa", "Circle of Life")
        statuses = [session.get(server.url + f"/{i}", auth=auth).status_code for i in range(2)]
    assert statuses == [200, 200], server.failures
    assert server.credentials[0]["nonce"].endswith(b"==")
    assert server.credentials[0]["opaque"] == b"0pAqUe"


def test_empty_qop_is_answered_the_rfc2069_way(session: requests.Session) -> None:
    with _serve(qop="") as server:
        auth = DigestAuth("Mufasa", "Circle of Life")
        statuses = [session.get(server.url + f"/{i}", auth=auth).status_code for i in range(2)]
    assert statuses == [200, 200], server.failures
    assert server.challenges == 1
    assert not {"qop", "nc", "cnonce"} & set(server.credentials[0])


def test_endless_stale_gets_one_more_answer(session: requests.Session) -> None:
    with _serve(always_stale=True) as server:
        r = session.get(server.url + "/", auth=DigestAuth("Mufasa", "Circle of Life"))
    assert r.status_code == 401
    assert len(r.history) == 2  # the first challenge, then one stale re-challenge
    assert "stale=true" in r.headers["WWW-Authenticate"]
    assert server.failures == ["always stale", "always stale"]
