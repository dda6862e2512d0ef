"""TokenAuth: static tokens, fetch and refresh, 401 handling, validation; no sockets."""

from __future__ import annotations

import functools
import pickle
import threading
import time
from typing import Any

import pytest
import requests
import responses

import httpkit
from httpkit import AuthError, ConfigError
from httpkit.auth import TokenAuth

URL = "https://api.example.test/me"


class Fetcher:
    """A fetch() that hands out tok1, tok2, ... and counts calls."""

    def __init__(self, lifetime: float | None = 3600, delay: float = 0) -> None:
        self.calls = 0
        self.lifetime = lifetime
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self) -> tuple[str, float | None]:
        with self.lock:
            self.calls += 1
            n = self.calls
        time.sleep(self.delay)
        return f"tok{n}", self.lifetime


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def module_fetch() -> tuple[str, float | None]:
    return "pickled", None


def _send(auth: TokenAuth, url: str = URL) -> requests.PreparedRequest:
    return auth(requests.Request("GET", url).prepare())


@pytest.fixture
def session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


def test_static_bearer_token() -> None:
    assert _send(TokenAuth("t0k")).headers["Authorization"] == "Bearer t0k"


def test_custom_header_without_scheme() -> None:
    auth = TokenAuth("k3y", header="X-Api-Key", scheme=None)
    r = _send(auth)
    assert r.headers["X-Api-Key"] == "k3y"
    assert "Authorization" not in r.headers
    assert auth.header_names == frozenset({"x-api-key"})


def test_repr_never_shows_the_token() -> None:
    assert repr(TokenAuth("s3cr3t")) == (
        "TokenAuth(token=<redacted>, header='Authorization', scheme='Bearer')"
    )
    assert str(TokenAuth("s3cr3t", header="PRIVATE-TOKEN", scheme=None)) == (
        "TokenAuth(token=<redacted>, header='PRIVATE-TOKEN', scheme=None)"
    )
    assert repr(TokenAuth(fetch=module_fetch)) == (
        f"TokenAuth(fetch=<{__name__}.module_fetch>, header='Authorization', scheme='Bearer')"
    )
    # A callable's own repr can hold secrets (a partial with a client secret): never shown.
    with_secret = functools.partial(module_fetch_with, client_secret="s3cr3t-client")
    assert "s3cr3t" not in repr(TokenAuth(fetch=with_secret))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of token= or fetch="),
        ({"token": "a", "fetch": module_fetch}, "exactly one of token= or fetch="),
        ({"token": "a", "header": "X Bad"}, "header must be an HTTP header name"),
        ({"token": "a", "scheme": "Be arer"}, "scheme must be an HTTP token"),
        ({"token": "a", "refresh_margin": -1}, "refresh_margin must be >= 0"),
        ({"token": ""}, "non-empty str"),
    ],
)
def test_invalid_configuration(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TokenAuth(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("token", "named"), [("ab\r\ncd", "CR, LF"), ("ab\ncd", "LF"), ("ab\x00cd", "NUL")]
)
def test_header_injection_in_a_static_token_is_refused(token: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named) as caught:
        TokenAuth(token)
    assert "ab" not in str(caught.value)  # the token is not echoed


def test_other_origins_get_no_token() -> None:
    auth = TokenAuth("t", header="X-Api-Key", scheme=None)
    _send(auth, "https://api.example.test/")
    assert "X-Api-Key" not in _send(auth, "https://other.test/").headers


def test_fetch_on_first_use_then_cached() -> None:
    fetch = Fetcher()
    auth = TokenAuth(fetch=fetch)
    assert fetch.calls == 0
    assert _send(auth).headers["Authorization"] == "Bearer tok1"
    assert _send(auth).headers["Authorization"] == "Bearer tok1"
    assert fetch.calls == 1


def test_refresh_margin_seconds_before_expiry() -> None:
    fetch, clock = Fetcher(lifetime=100), Clock()
    auth = TokenAuth(fetch=fetch, refresh_margin=30)
    auth._clock = clock
    _send(auth)
    clock.now += 69.9
    assert _send(auth).headers["Authorization"] == "Bearer tok1"
    clock.now += 0.1  # 70 s into a 100 s token: inside the 30 s margin
    assert _send(auth).headers["Authorization"] == "Bearer tok2"
    assert fetch.calls == 2


def test_short_lived_token_refreshes_at_half_life() -> None:
    fetch, clock = Fetcher(lifetime=10), Clock()
    auth = TokenAuth(fetch=fetch, refresh_margin=30)
    auth._clock = clock
    _send(auth)
    _send(auth)
    assert fetch.calls == 1  # not refetched on every request
    clock.now += 5
    _send(auth)
    assert fetch.calls == 2


def test_token_without_expiry_is_never_refreshed_on_time() -> None:
    fetch, clock = Fetcher(lifetime=None), Clock()
    auth = TokenAuth(fetch=fetch)
    auth._clock = clock
    _send(auth)
    clock.now += 10**9
    _send(auth)
    assert fetch.calls == 1


def test_failing_fetch_is_an_auth_error_with_the_cause() -> None:
    def fetch() -> tuple[str, float | None]:
        raise OSError("token endpoint said: old token abc123 revoked")

    with pytest.raises(AuthError, match="fetch\\(\\) failed with OSError") as caught:
        _send(TokenAuth(fetch=fetch))
    assert isinstance(caught.value.__cause__, OSError)
    assert "abc123" not in str(caught.value)


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ("just-a-token", "must return \\(token, expires_in_seconds or None\\), got str"),
        (("", 10), "empty token"),
        (("tok", "soon"), "not a number of seconds"),
        (("tok", -1), "not a number of seconds"),
        (("se\r\ncret", 10), "CR, LF"),
    ],
)
def test_bad_fetch_results_are_auth_errors(result: object, message: str) -> None:
    auth = TokenAuth(fetch=lambda: result)  # type: ignore[arg-type, return-value]
    with pytest.raises(AuthError, match=message) as caught:
        _send(auth)
    assert "cret" not in str(caught.value)


def test_single_flight_across_threads() -> None:
    fetch = Fetcher(delay=0.1)
    auth = TokenAuth(fetch=fetch)
    barrier = threading.Barrier(32)
    seen: list[str] = []

    def use() -> None:
        barrier.wait()
        seen.append(_send(auth).headers["Authorization"])

    threads = [threading.Thread(target=use) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fetch.calls == 1
    assert seen == ["Bearer tok1"] * 32


def test_pickle_round_trip() -> None:
    auth = TokenAuth(fetch=module_fetch, header="X-Token", scheme=None, refresh_margin=5)
    _send(auth)
    clone = pickle.loads(pickle.dumps(auth))
    assert clone == auth
    assert clone._cached is None  # a fetched token's deadline does not cross processes
    assert _send(clone).headers["X-Token"] == "pickled"
    static = TokenAuth("t")
    assert pickle.loads(pickle.dumps(static)) == static


def test_equality() -> None:
    assert TokenAuth("a") == TokenAuth("a")
    assert TokenAuth("a") != TokenAuth("b")
    assert TokenAuth("a") != TokenAuth("a", header="X-Api-Key")


# -- 401 handling through a session (responses) -----------------------------------------------


@responses.activate
def test_refreshed_once_on_401_and_resent(session: requests.Session) -> None:
    responses.get(
        URL, status=401, match=[responses.matchers.header_matcher({"Authorization": "Bearer tok1"})]
    )
    responses.get(
        URL, status=200, match=[responses.matchers.header_matcher({"Authorization": "Bearer tok2"})]
    )
    fetch = Fetcher()
    r = session.get(URL, auth=TokenAuth(fetch=fetch))
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [401]
    assert r.request.headers["Authorization"] == "Bearer tok2"
    assert fetch.calls == 2


@responses.activate
def test_second_401_is_returned_as_is(session: requests.Session) -> None:
    responses.get(URL, status=401)
    fetch = Fetcher()
    r = session.get(URL, auth=TokenAuth(fetch=fetch))
    assert r.status_code == 401
    assert len(responses.calls) == 2
    assert fetch.calls == 2


@responses.activate
def test_static_token_401_is_not_retried(session: requests.Session) -> None:
    responses.get(URL, status=401)
    r = session.get(URL, auth=TokenAuth("t"))
    assert r.status_code == 401
    assert len(responses.calls) == 1


@responses.activate
def test_generator_body_is_not_resent(session: requests.Session) -> None:
    responses.post(URL, status=401)

    def body() -> object:
        yield b"chunk"

    with pytest.raises(AuthError, match=r"cannot re-send the request .* generator") as caught:
        session.post(URL, data=body(), auth=TokenAuth(fetch=Fetcher()))
    assert caught.value.response is not None
    assert caught.value.response.status_code == 401
    assert len(responses.calls) == 1


@responses.activate
def test_bytes_body_is_resent(session: requests.Session) -> None:
    responses.post(URL, status=401)
    responses.post(URL, status=201)
    r = session.post(URL, data=b"payload", auth=TokenAuth(fetch=Fetcher()))
    assert r.status_code == 201
    assert responses.calls[1].request.body == b"payload"


@responses.activate
def test_401_from_a_redirect_target_on_another_origin_is_not_answered(
    session: requests.Session,
) -> None:
    responses.get(URL, status=302, headers={"Location": "https://other.test/x"})
    responses.get("https://other.test/x", status=401)
    fetch = Fetcher()
    r = session.get(URL, auth=TokenAuth(fetch=fetch, header="X-Api-Key", scheme=None))
    assert r.status_code == 401
    assert fetch.calls == 1  # no refresh for another origin's challenge
    assert len(responses.calls) == 2


def module_fetch_with(client_secret: str) -> tuple[str, float | None]:
    return ("t-" + client_secret[:1], None)


# -- a token shared through a store -------------------------------------------------------


def test_a_shared_token_is_fetched_once_for_every_plugin_on_the_store() -> None:
    store = httpkit.MemoryStore()
    fetcher = Fetcher()
    workers = [TokenAuth(fetch=fetcher, store=store, store_key="api") for _ in range(3)]
    sent = [_send(auth).headers["Authorization"] for auth in workers]
    assert sent == ["Bearer tok1"] * 3
    assert fetcher.calls == 1
    other = TokenAuth(fetch=fetcher, store=store, store_key="another-api")
    assert _send(other).headers["Authorization"] == "Bearer tok2"


def test_a_401_to_a_shared_token_takes_the_one_another_plugin_fetched(
    session: requests.Session,
) -> None:
    store = httpkit.MemoryStore()
    fetcher = Fetcher()
    first, second = (TokenAuth(fetch=fetcher, store=store, store_key="api") for _ in range(2))
    with responses.RequestsMock() as mock:
        for status in (200, 200, 401, 200, 401, 200):
            mock.get(URL, status=status)
        for auth in (first, second, first, second):  # first meets the 401 first
            assert session.get(URL, auth=auth).status_code == 200
        sent = [call.request.headers["Authorization"] for call in mock.calls]
    assert sent == [f"Bearer tok{n}" for n in (1, 1, 1, 2, 1, 2)]
    assert fetcher.calls == 2


@pytest.mark.parametrize(
    "foreign",
    [b"tok-from-elsewhere", b"httpkit-token/1 x - tok", b"httpkit-token/1 3 - bad\ntoken", b""],
)
def test_a_foreign_or_corrupt_entry_is_a_miss(foreign: bytes) -> None:
    store = httpkit.MemoryStore()
    store.set("token:api", foreign)
    fetcher = Fetcher()
    auth = TokenAuth(fetch=fetcher, store=store, store_key="api")
    assert _send(auth).headers["Authorization"] == "Bearer tok1"
    assert fetcher.calls == 1
    (kept,) = store.get_many(["token:api"])
    assert kept is not None
    assert kept.startswith(b"httpkit-token/1 1 ")  # replaced by the token fetched
    assert kept.endswith(b" tok1")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fetch": module_fetch, "store": "memory://"}, "together"),
        ({"fetch": module_fetch, "store_key": "api"}, "together"),
        ({"token": "t", "store": "memory://", "store_key": "api"}, "together"),
        ({"fetch": module_fetch, "store": "memory://", "store_key": ""}, "non-empty str"),
        ({"fetch": module_fetch, "store": 42, "store_key": "api"}, "TokenAuth: store"),
    ],
)
def test_shared_token_settings_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TokenAuth(**kwargs)


def test_a_shared_token_repr_names_the_store_without_its_password() -> None:
    auth = TokenAuth(
        fetch=module_fetch, store="redis://:pw-secret@127.0.0.1:1/0", store_key="billing"
    )
    assert "pw-secret" not in repr(auth)
    assert "store_key='billing'" in repr(auth)
    assert auth != TokenAuth(fetch=module_fetch, store="memory://", store_key="billing")
    assert pickle.loads(pickle.dumps(auth)) == auth
