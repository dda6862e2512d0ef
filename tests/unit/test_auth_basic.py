"""BasicAuth (RFC 7617, UTF-8) and the origin rule every plugin shares, without sockets."""

from __future__ import annotations

import base64
import pickle
import threading

import pytest
import requests
import responses
from requests.auth import AuthBase, HTTPBasicAuth

from httpkit import AuthError, ConfigError
from httpkit.auth import BasicAuth, OriginBoundAuth


def _prepared(url: str) -> requests.PreparedRequest:
    return requests.Request("GET", url).prepare()


def _decoded(r: requests.PreparedRequest) -> str:
    scheme, _, token = r.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    return base64.b64decode(token).decode("utf-8")


@pytest.mark.parametrize(
    ("user", "password"),
    [("alice", "s3cret"), ("Jäsøn", "пароль"), ("用户", "密码 with spaces")],
)
def test_credentials_are_utf8(user: str, password: str) -> None:
    r = BasicAuth(user, password)(_prepared("https://api.example.test/"))
    assert _decoded(r) == f"{user}:{password}"


def test_non_latin_password_that_requests_cannot_encode() -> None:
    """requests' HTTPBasicAuth encodes latin-1, so this password is mangled or fails there."""
    r = BasicAuth("u", "Ωmega")(_prepared("https://a.test/"))
    assert r.headers["Authorization"] == "Basic " + base64.b64encode("u:Ωmega".encode()).decode()


def test_repr_and_str_hide_the_password() -> None:
    auth = BasicAuth("alice", "hunter2")
    assert repr(auth) == "BasicAuth(user='alice', password=<redacted>)"
    assert str(auth) == repr(auth)
    assert "hunter2" not in repr(auth)


def test_is_a_requests_basic_auth() -> None:
    auth = BasicAuth("alice", "pw")
    assert isinstance(auth, HTTPBasicAuth)
    assert isinstance(auth, OriginBoundAuth)
    assert isinstance(auth, AuthBase)
    assert (auth.username, auth.password, auth.user) == ("alice", "pw", "alice")
    assert auth.header_names == frozenset({"authorization"})


@pytest.mark.parametrize(
    ("user", "password", "message"),
    [
        ("a:b", "pw", "must not contain ':'"),
        ("a\nb", "pw", "user must not contain control characters"),
        ("a", "p\r\nX-Evil: 1", "password must not contain control characters"),
    ],
)
def test_invalid_credentials_are_refused(user: str, password: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        BasicAuth(user, password)
    assert password not in str(caught.value) or password == "pw"


def test_equality_and_hash_follow_credentials() -> None:
    assert BasicAuth("a", "b") == BasicAuth("a", "b")
    assert BasicAuth("a", "b") != BasicAuth("a", "c")
    assert hash(BasicAuth("a", "b")) == hash(BasicAuth("a", "b"))
    assert BasicAuth("a", "b") == HTTPBasicAuth("a", "b")  # requests compares credentials
    assert len({BasicAuth("a", "b"), BasicAuth("a", "b")}) == 1


# -- the origin rule ------------------------------------------------------------------------


def test_first_use_binds_the_origin() -> None:
    auth = BasicAuth("a", "b")
    assert "Authorization" in auth(_prepared("https://api.example.test/v1")).headers
    assert auth.bound_origin is not None
    assert str(auth.bound_origin) == "https://api.example.test"
    assert "Authorization" in auth(_prepared("https://API.example.test:443/other")).headers


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.test/",  # scheme differs
        "https://api.example.test:8443/",  # port differs
        "https://evil.test/",  # host differs
        "https://api.example.test.evil.test/",  # prefix trick
    ],
)
def test_other_origins_get_no_credentials(url: str) -> None:
    auth = BasicAuth("a", "b")
    auth(_prepared("https://api.example.test/"))
    assert "Authorization" not in auth(_prepared(url)).headers
    assert not auth.permits(url)


@pytest.mark.parametrize("url", ["", None, "not a url", "https://[::1/"])
def test_unparsable_urls_are_never_permitted(url: str | None) -> None:
    auth = BasicAuth("a", "b")
    assert not auth.permits(url)
    assert auth.bound_origin is None  # and they do not bind the plugin


def test_bind_replaces_first_use() -> None:
    auth = BasicAuth("a", "b")
    auth.bind(lambda url: url.startswith(("https://a.test/", "https://b.test/")))
    assert "Authorization" in auth(_prepared("https://a.test/x")).headers
    assert "Authorization" in auth(_prepared("https://b.test/y")).headers
    assert "Authorization" not in auth(_prepared("https://c.test/")).headers
    assert auth.bound_origin is None


def test_bind_predicate_raising_value_error_denies() -> None:
    def picky(url: str) -> bool:
        raise ValueError(url)

    auth = BasicAuth("a", "b")
    auth.bind(picky)
    assert not auth.permits("https://a.test/")


def test_concurrent_first_use_binds_exactly_one_origin() -> None:
    auth = BasicAuth("a", "b")
    barrier = threading.Barrier(16)
    results: dict[int, bool] = {}

    def use(i: int) -> None:
        barrier.wait()
        results[i] = auth.permits(f"https://host{i}.test/")

    threads = [threading.Thread(target=use, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, ok in results.items() if ok]
    assert len(winners) == 1
    assert str(auth.bound_origin) == f"https://host{winners[0]}.test"


def test_pickle_keeps_credentials_and_binding() -> None:
    auth = BasicAuth("alice", "pw")
    auth(_prepared("https://a.test/"))
    clone = pickle.loads(pickle.dumps(auth))
    assert clone == auth
    assert clone.bound_origin == auth.bound_origin
    assert clone.permits("https://a.test/x")
    assert not clone.permits("https://b.test/")


@responses.activate
def test_sent_through_a_session() -> None:
    responses.get("https://api.example.test/me", status=200)
    with requests.Session() as s:
        s.trust_env = False
        s.get("https://api.example.test/me", auth=BasicAuth("alice", "pw"))
    sent = responses.calls[0].request.headers["Authorization"]
    assert sent == "Basic " + base64.b64encode(b"alice:pw").decode()


def test_auth_error_is_a_requests_exception() -> None:
    assert issubclass(AuthError, requests.RequestException)
