"""No credential crosses to another origin on a redirect (127.0.0.1 -> 127.0.0.2)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import httpkit
from tests.integration.servers import Reply, ScriptedServer, serve

REDIRECTS = [301, 302, 303, 307, 308]
SECRET = "s3cret-value"
DIGEST_CHALLENGE = ("WWW-Authenticate", 'Digest realm="r", nonce="n0nce", qop="auth"')


def redirect_to(target: str) -> Callable[[int], Reply]:
    return lambda status: Reply(status, b"", [("Location", target)])


def credential_headers(received: Any) -> dict[str, str]:
    leaked = {}
    for name, value in received.headers.items():
        if SECRET in value or name.lower() in {"authorization", "cookie", "x-api-key"}:
            leaked[name] = value
    return leaked


# Each case: how the call carries a credential, as (session setup, call kwargs).
CASES: dict[str, Callable[[httpkit.Session], dict[str, Any]]] = {
    "basic": lambda s: {"auth": httpkit.BasicAuth("user", SECRET)},
    "basic-tuple": lambda s: {"auth": ("user", SECRET)},
    "bearer-token": lambda s: {"auth": httpkit.TokenAuth(SECRET)},
    "token-custom-header": lambda s: {
        "auth": httpkit.TokenAuth(SECRET, header="PRIVATE-TOKEN", scheme=None)
    },
    "session-x-api-key": lambda s: (s.headers.update({"X-Api-Key": SECRET}), {})[1],
    "session-auth": lambda s: (setattr(s, "auth", httpkit.TokenAuth(SECRET)), {})[1],
    "call-authorization-header": lambda s: {"headers": {"Authorization": f"Bearer {SECRET}"}},
    "call-cookies": lambda s: {"cookies": {"session": SECRET}},
    "session-jar-cookie": lambda s: (s.cookies.set("session", SECRET), {})[1],
    "sensitive-headers-option": lambda s: {"headers": {"X-Custom-Secret": SECRET}},
}


@pytest.mark.parametrize("status", REDIRECTS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_cross_origin_redirect_delivers_no_credential(
    server: ScriptedServer, server2: ScriptedServer, status: int, case: str
) -> None:
    server.script("/start", redirect_to(server2.url("/landing"))(status))
    # The body may cross origins here; the credential rules must hold all the same.
    with httpkit.Session(
        retry=0, sensitive_headers={"X-Custom-Secret"}, cross_origin_body=True
    ) as s:
        kwargs = CASES[case](s)
        response = s.post(server.url("/start"), data=b"body", **kwargs)
    assert response.status_code == 200
    (first,) = server.requests_to("/start")
    assert SECRET in str(first.headers) or case.startswith("basic"), "the origin got it"
    (landed,) = server2.requests_to("/landing")
    assert credential_headers(landed) == {}
    assert SECRET not in str(landed.headers)


@pytest.mark.parametrize("status", REDIRECTS)
def test_digest_is_not_answered_for_another_origin(
    server: ScriptedServer, server2: ScriptedServer, status: int
) -> None:
    server.script(
        "/start", Reply(401, b"", [DIGEST_CHALLENGE]), redirect_to(server2.url("/x"))(status)
    )
    server2.script("/x", Reply(401, b"", [DIGEST_CHALLENGE]))
    with httpkit.Session(retry=0) as s:
        response = s.get(server.url("/start"), auth=httpkit.DigestAuth("user", SECRET))
    assert response.status_code == 401
    assert "Authorization" in server.requests_to("/start")[1].headers
    (landed,) = server2.requests_to("/x")  # challenged once, never answered
    assert "Authorization" not in landed.headers


@pytest.mark.parametrize("status", REDIRECTS)
def test_harmless_headers_and_same_origin_credentials_follow(
    server: ScriptedServer, status: int
) -> None:
    server.script("/start", redirect_to(server.url("/next"))(status))
    with httpkit.Session(retry=0) as s:
        s.headers["X-Api-Key"] = SECRET
        s.get(
            server.url("/start"),
            headers={"X-Request-Id": "abc", "Authorization": f"Bearer {SECRET}"},
            cookies={"session": SECRET},
        )
    (landed,) = server.requests_to("/next")
    assert landed.headers["X-Request-Id"] == "abc"
    assert landed.headers["Authorization"] == f"Bearer {SECRET}"
    assert landed.headers["X-Api-Key"] == SECRET
    assert landed.headers["Cookie"] == f"session={SECRET}"


def test_harmless_header_follows_to_another_origin(
    server: ScriptedServer, server2: ScriptedServer
) -> None:
    server.script("/start", redirect_to(server2.url("/landing"))(302))
    with httpkit.Session(retry=0) as s:
        s.get(server.url("/start"), headers={"X-Request-Id": "abc"})
    assert server2.requests_to("/landing")[0].headers["X-Request-Id"] == "abc"


def test_the_new_origin_gets_its_own_policy_auth(
    server: ScriptedServer, server2: ScriptedServer
) -> None:
    server.script("/start", redirect_to(server2.url("/landing"))(302))
    with httpkit.Session(retry=0) as s:
        s.configure(server.origin, auth=httpkit.TokenAuth("token-one"))
        s.configure(server2.origin, auth=httpkit.TokenAuth("token-two"))
        s.get(server.url("/start"))
    assert server.requests_to("/start")[0].headers["Authorization"] == "Bearer token-one"
    assert server2.requests_to("/landing")[0].headers["Authorization"] == "Bearer token-two"


def test_session_credential_header_is_bound_to_its_first_origin(
    server: ScriptedServer, server2: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    with httpkit.Session(retry=0) as s:
        s.headers["X-Api-Key"] = SECRET
        s.get(server.url("/"))
        s.get(server2.url("/"))
        s.get(server.url("/again"))
    assert server.requests_to("/")[0].headers["X-Api-Key"] == SECRET
    assert server.requests_to("/again")[0].headers["X-Api-Key"] == SECRET
    assert "X-Api-Key" not in server2.requests_to("/")[0].headers
    assert "not sending the session header X-Api-Key to http://127.0.0.2" in caplog.text
    assert SECRET not in caplog.text


def test_plugin_bound_to_first_origin_sends_nothing_elsewhere(
    server: ScriptedServer, server2: ScriptedServer
) -> None:
    token = httpkit.TokenAuth(SECRET)
    with httpkit.Session(retry=0) as s:
        s.get(server.url("/"), auth=token)
        s.get(server2.url("/"), auth=token)
    assert "Authorization" in server.requests_to("/")[0].headers
    assert "Authorization" not in server2.requests_to("/")[0].headers


@pytest.fixture
def netrc_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "netrc"
    path.write_text(
        "machine 127.0.0.1 login one password netrc-one\n"
        "machine 127.0.0.2 login two password netrc-two\n"
    )
    path.chmod(0o600)
    monkeypatch.setenv("NETRC", str(path))
    return path


@pytest.mark.usefixtures("netrc_file")
def test_netrc_credentials_go_only_to_a_host_the_caller_asked_for(
    server: ScriptedServer, server2: ScriptedServer
) -> None:
    """The redirect target was chosen by the server: its .netrc entry is not sent."""
    server.script("/start", redirect_to(server2.url("/landing"))(302))
    with httpkit.Session(retry=0) as s:
        s.get(server.url("/start"))
        s.get(server2.url("/asked"))
    one = requests.auth._basic_auth_str("one", "netrc-one")
    two = requests.auth._basic_auth_str("two", "netrc-two")
    assert server.requests_to("/start")[0].headers["Authorization"] == one
    assert "Authorization" not in server2.requests_to("/landing")[0].headers
    assert server2.requests_to("/asked")[0].headers["Authorization"] == two


@pytest.mark.usefixtures("netrc_file")
def test_explicit_authorization_beats_netrc_on_every_hop(server: ScriptedServer) -> None:
    server.script("/start", redirect_to(server.url("/next"))(302))
    with httpkit.Session(retry=0) as s:
        s.get(server.url("/start"), headers={"Authorization": "Bearer explicit"})
    assert server.requests_to("/start")[0].headers["Authorization"] == "Bearer explicit"
    assert server.requests_to("/next")[0].headers["Authorization"] == "Bearer explicit"


def test_host_policy_headers_stay_with_their_host(
    server: ScriptedServer, server2: ScriptedServer
) -> None:
    server.script("/start", redirect_to(server2.url("/landing"))(302))
    with httpkit.Session(retry=0) as s:
        s.configure(server.origin, headers={"X-Tenant-Secret": SECRET, "Accept": "text/one"})
        s.configure(server2.origin, headers={"Accept": "text/two"})
        s.get(server.url("/start"))
    assert server.requests_to("/start")[0].headers["X-Tenant-Secret"] == SECRET
    landed = server2.requests_to("/landing")[0].headers
    assert "X-Tenant-Secret" not in landed
    assert landed["Accept"] == "text/two"


def _basic(user: str, password: str) -> str:
    """A Basic credential encoded as UTF-8 (RFC 7617)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def test_session_auth_pair_is_an_origin_bound_utf8_basic(
    server: ScriptedServer, server2: ScriptedServer
) -> None:
    with httpkit.Session(retry=0) as s:
        s.auth = ("alice", "pässwört€")  # € is not Latin-1: requests raises here
        s.get(server.url("/first"))
        s.get(server.url("/again"))
        s.get(server2.url("/elsewhere"))
    expected = _basic("alice", "pässwört€")
    assert server.requests_to("/first")[0].headers["Authorization"] == expected
    assert server.requests_to("/again")[0].headers["Authorization"] == expected
    assert "Authorization" not in server2.requests_to("/elsewhere")[0].headers


def test_call_auth_pair_is_a_utf8_basic_for_its_origin(
    server: ScriptedServer, server2: ScriptedServer
) -> None:
    server.script("/start", redirect_to(server2.url("/landing"))(302))
    with httpkit.Session(retry=0) as s:
        s.get(server.url("/start"), auth=("bob", "ünïcode€"))
    assert server.requests_to("/start")[0].headers["Authorization"] == _basic("bob", "ünïcode€")
    assert "Authorization" not in server2.requests_to("/landing")[0].headers


@pytest.mark.parametrize("via", ["get", "send"])
def test_url_user_info_is_sent_as_basic_to_its_origin_only(
    via: str, server: ScriptedServer, server2: ScriptedServer
) -> None:
    server.script("/start", redirect_to(server2.url("/landing"))(302))
    url = f"http://alice:s%40cr%C3%A9t@{server.origin[len('http://') :]}/start"
    with httpkit.Session(retry=0) as s:
        if via == "get":
            s.get(url)
        else:
            s.send(s.prepare_request(requests.Request("GET", url)))
    assert server.requests_to("/start")[0].headers["Authorization"] == _basic("alice", "s@crét")
    assert "Authorization" not in server2.requests_to("/landing")[0].headers


def test_call_authorization_header_in_any_spelling_is_kept(
    server: ScriptedServer, server2: ScriptedServer
) -> None:
    with httpkit.Session(retry=0) as s:
        s.headers["Authorization"] = "Bearer session"
        s.get(server.url("/bind"))  # binds the session header to server
        s.get(server2.url("/own"), headers={"authorization": "Bearer call"})
    assert server.requests_to("/bind")[0].headers["Authorization"] == "Bearer session"
    assert server2.requests_to("/own")[0].headers["authorization"] == "Bearer call"  # as sent


def test_session_header_is_bound_only_to_an_origin_that_received_it(
    server: ScriptedServer, server2: ScriptedServer
) -> None:
    with httpkit.Session(retry=0) as s:
        s.headers["Authorization"] = "Bearer session"
        s.configure(server.origin, auth=httpkit.TokenAuth("policy"))
        s.get(server.url("/policy"))  # the policy's auth replaces the session header here
        s.get(server2.url("/session"))
    assert server.requests_to("/policy")[0].headers["Authorization"] == "Bearer policy"
    assert server2.requests_to("/session")[0].headers["Authorization"] == "Bearer session"


def test_a_replaced_requests_netrc_reader_is_used(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code that replaces requests.sessions.get_netrc_auth sees httpkit call it."""
    asked: list[str] = []

    def fake_netrc(url: str, raise_errors: bool = False) -> tuple[str, str]:
        asked.append(url)
        return ("user", "from-hook")

    monkeypatch.setattr(requests.sessions, "get_netrc_auth", fake_netrc)
    with httpkit.Session(retry=0) as s:
        s.get(server.url("/x"))
    assert asked == [server.url("/x")]
    assert server.requests_to("/x")[0].headers["Authorization"] == _basic("user", "from-hook")


@pytest.fixture
def server6() -> Iterator[ScriptedServer]:
    with serve("::1") as state:
        yield state


SPELLINGS = {
    "canonical": lambda port: f"http://[::1]:{port}",
    "long": lambda port: f"http://[0:0:0:0:0:0:0:1]:{port}",
    "upper-scheme": lambda port: f"HTTP://[::1]:{port}",
}


@pytest.mark.parametrize("name", ["Authorization", "authorization", "X-API-KEY"])
@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_credentials_bind_to_an_origin_in_every_spelling(
    name: str, spelling: str, server6: ScriptedServer, server: ScriptedServer
) -> None:
    """One origin however its URL is spelled; another host or port never gets them."""
    canonical, spelled = SPELLINGS["canonical"](server6.port), SPELLINGS[spelling](server6.port)
    plugin = httpkit.BasicAuth("alice", "pw")
    with httpkit.Session(retry=0) as s:
        s.headers[name] = "s3cret-session"
        s.get(canonical + "/first")  # binds the session header to [::1]
        s.get(spelled + "/again")
        s.get(server.url("/other"))
        s.get(spelled + "/plugin-first", auth=plugin)  # binds the plugin to [::1]
        s.get(canonical + "/plugin-again", auth=plugin)
        s.get(server.url("/plugin-other"), auth=plugin)

    def header(state: ScriptedServer, path: str, wanted: str) -> str | None:
        (seen,) = state.requests_to(path)
        return {k.lower(): v for k, v in seen.headers.items()}.get(wanted.lower())

    assert header(server6, "/first", name) == "s3cret-session"
    assert header(server6, "/again", name) == "s3cret-session"
    assert header(server, "/other", name) is None
    assert header(server6, "/plugin-first", "Authorization") == _basic("alice", "pw")
    assert header(server6, "/plugin-again", "Authorization") == _basic("alice", "pw")
    assert header(server, "/plugin-other", "Authorization") is None
    assert header(server, "/plugin-other", name) is None


#: Host shapes a domain-less cookie may first be sent to: (name, base URL of the first host).
COOKIE_HOSTS = {
    "ipv4": lambda s4, s6: s4.origin,
    "ipv6": lambda s4, s6: f"http://[::1]:{s6.port}",
    "ipv6-long": lambda s4, s6: f"http://[0:0:0:0:0:0:0:1]:{s6.port}",
    "dotless": lambda s4, s6: f"http://localhost:{s4.port}",
    "upper-case": lambda s4, s6: f"HTTP://LOCALHOST:{s4.port}",
}


@pytest.mark.parametrize("how", ["call", "session-jar"])
@pytest.mark.parametrize("shape", list(COOKIE_HOSTS))
def test_domainless_cookies_bind_to_their_first_host_in_every_shape(
    shape: str, how: str, server: ScriptedServer, server2: ScriptedServer, server6: ScriptedServer
) -> None:
    """The first host gets the cookie on every request; another host never does.

    A call's cookies go with the call; a redirect to another host leaves them behind. The
    session jar's cookies bind to the host of the first request that sends them.
    """
    first = COOKIE_HOSTS[shape](server, server6)
    state = server6 if "[" in first else server
    state.script("/first", redirect_to(server2.url("/other"))(302))
    with httpkit.Session(retry=0) as s:
        if how == "call":
            s.get(first + "/first", cookies={"session": SECRET})
        else:
            s.cookies.set("session", SECRET)
            s.get(first + "/first")
            s.get(first + "/again")
            s.get(server2.url("/asked"))
    assert state.requests_to("/first")[0].headers.get("Cookie") == f"session={SECRET}"
    if how == "session-jar":
        assert state.requests_to("/again")[0].headers.get("Cookie") == f"session={SECRET}"
        assert "Cookie" not in server2.requests_to("/asked")[0].headers
    assert "Cookie" not in server2.requests_to("/other")[0].headers
