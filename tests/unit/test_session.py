"""Session logic with ``responses``: drop-in behaviour, the sentinel rule, precedence."""

from __future__ import annotations

import http.cookiejar
import pickle
import urllib.request
from typing import Any

import pytest
import requests
import requests.cookies
import responses
from hypothesis import given, settings
from hypothesis import strategies as st
from requests.adapters import HTTPAdapter

import httpkit
from httpkit import ConfigError, HostAdapter, Timeouts
from httpkit._redirects import cookie_host

URL = "https://api.example.com/items"


@pytest.fixture
def mocked() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.GET, URL, json={"ok": True})
        yield rsps


def sent_timeout(rsps: Any, index: int = -1) -> Any:
    """The (connect, read) timeouts the adapter was given, before the deadline caps them."""
    timeout = rsps.calls[index].request.req_kwargs["timeout"]
    return getattr(timeout, "configured", timeout)


# -- drop-in ------------------------------------------------------------------------------


def test_is_a_requests_session() -> None:
    assert isinstance(httpkit.Session(), requests.Session)


@pytest.mark.parametrize("method", ["get", "options", "head", "post", "put", "patch", "delete"])
def test_every_method_works_as_in_requests(method: str) -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(method.upper(), URL, body="" if method == "head" else "x")
        response = getattr(httpkit.Session(), method)(URL)
    assert response.status_code == 200
    assert response.request.method == method.upper()


def test_requests_keyword_arguments_keep_working(mocked: Any) -> None:
    mocked.add(responses.POST, URL, body="made")
    seen: list[int] = []
    s = httpkit.Session()
    response = s.request(
        "POST",
        URL,
        params={"q": "1"},
        json={"a": 1},
        headers={"X-Call": "yes"},
        cookies={"c": "v"},
        hooks={"response": lambda r, **kw: seen.append(r.status_code)},
        allow_redirects=False,
        stream=True,
        timeout=4,
        verify=False,
    )
    request = mocked.calls[-1].request
    assert response.text == "made"
    assert request.url == URL + "?q=1"
    assert request.body == b'{"a": 1}'
    assert request.headers["X-Call"] == "yes"
    assert request.headers["Cookie"] == "c=v"
    assert seen == [200]
    assert request.req_kwargs["verify"] is False
    assert request.req_kwargs["stream"] is True


def test_positional_arguments_as_in_requests(mocked: Any) -> None:
    httpkit.Session().request("GET", URL, {"page": "2"})
    assert mocked.calls[-1].request.url == URL + "?page=2"


def test_session_hooks_cookies_and_headers_persist(mocked: Any) -> None:
    mocked.add(
        responses.GET, "https://api.example.com/login", headers={"Set-Cookie": "sid=abc; Path=/"}
    )
    s = httpkit.Session()
    calls: list[str] = []
    s.hooks["response"].append(lambda r, **kw: calls.append(r.url))
    s.headers["X-Session"] = "1"
    s.get("https://api.example.com/login")
    s.get(URL)
    request = mocked.calls[-1].request
    assert request.headers["Cookie"] == "sid=abc"
    assert request.headers["X-Session"] == "1"
    assert calls == ["https://api.example.com/login", URL]


def test_with_block_closes_the_adapters() -> None:
    closed: list[str] = []
    with httpkit.Session() as s:
        for prefix, adapter in s.adapters.items():
            adapter.close = lambda prefix=prefix: closed.append(prefix)  # type: ignore[method-assign]
    assert sorted(closed) == ["http://", "https://"]


class RecordingAdapter(HTTPAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.kwargs: dict[str, Any] = {}

    def send(self, request: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.kwargs = kwargs
        response = requests.Response()
        response.status_code = 204
        response.request = request
        response._content = b""
        return response


def test_user_mounted_plain_adapter_gets_a_real_default_timeout() -> None:
    s = httpkit.Session(timeout=(2, 7))
    adapter = RecordingAdapter()
    s.mount("https://api.example.com", adapter)
    assert s.get(URL).status_code == 204
    assert adapter.kwargs["timeout"] == (2.0, 7.0)
    s.get(URL, timeout=None)
    assert adapter.kwargs["timeout"] is None


def test_direct_send_without_timeout_uses_the_default(mocked: Any) -> None:
    s = httpkit.Session(timeout=9)
    s.send(s.prepare_request(requests.Request("GET", URL)))
    assert sent_timeout(mocked) == (9.0, 9.0)


# -- the sentinel rule -------------------------------------------------------------------


def test_omitted_timeout_is_the_httpkit_default(mocked: Any) -> None:
    httpkit.Session().get(URL)
    assert sent_timeout(mocked) == (3.05, 30.0)


def test_omitted_timeout_is_the_host_policy_when_one_matches(mocked: Any) -> None:
    s = httpkit.Session(timeout=20)
    s.configure("https://api.example.com", timeout=(1, 4))
    s.get(URL)
    assert sent_timeout(mocked) == (1.0, 4.0)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, (None, None)),
        (5, (5.0, 5.0)),
        ((1, 2), (1.0, 2.0)),
        (Timeouts(connect=1, read=None), (1.0, None)),
    ],
)
def test_explicit_timeout_beats_every_default(mocked: Any, given: Any, expected: Any) -> None:
    s = httpkit.Session(timeout=20)
    s.configure("https://api.example.com", timeout=3)
    s.get(URL, timeout=given)
    assert sent_timeout(mocked) == expected


def test_bad_per_call_timeout_is_a_config_error(mocked: Any) -> None:
    with pytest.raises(ConfigError, match="timeout must be seconds"):
        httpkit.Session().get(URL, timeout="soon")


# -- host policies ------------------------------------------------------------------------


def test_headers_precedence_call_then_host_then_session(mocked: Any) -> None:
    s = httpkit.Session()
    s.headers.update({"Accept": "text/plain", "X-Level": "session", "X-Only-Session": "1"})
    s.configure(
        "https://api.example.com", headers={"accept": "application/json", "X-Level": "host"}
    )
    s.get(URL, headers={"X-Level": "call"})
    sent = mocked.calls[-1].request.headers
    assert sent["Accept"] == "application/json"
    assert sent["X-Level"] == "call"
    assert sent["X-Only-Session"] == "1"


def test_host_headers_do_not_reach_other_hosts(mocked: Any) -> None:
    mocked.add(responses.GET, "https://api.example.com.evil.test/", body="x")
    s = httpkit.Session()
    s.configure("https://api.example.com", headers={"X-Api-Key": "k"})
    s.get("https://api.example.com.evil.test/")
    assert "X-Api-Key" not in mocked.calls[-1].request.headers


def test_auth_precedence_call_then_host_then_session(mocked: Any) -> None:
    s = httpkit.Session()
    s.auth = ("session", "pw")
    s.configure("https://api.example.com", auth=requests.auth.HTTPBasicAuth("host", "pw"))
    s.get(URL)
    host_header = mocked.calls[-1].request.headers["Authorization"]
    s.get(URL, auth=("call", "pw"))
    call_header = mocked.calls[-1].request.headers["Authorization"]
    assert host_header == requests.auth._basic_auth_str("host", "pw")
    assert call_header == requests.auth._basic_auth_str("call", "pw")


def test_configure_again_updates_in_place(mocked: Any) -> None:
    s = httpkit.Session()
    s.configure("https://api.example.com", timeout=3, headers={"X-A": "1"})
    adapter = s.adapters["https://api.example.com/"]
    policy = s.configure("https://API.example.com:443/", retry=7)
    assert s.adapters["https://api.example.com/"] is adapter
    assert isinstance(adapter, HostAdapter)
    assert adapter.max_retries.total == 7
    assert policy.header_dict() == {"X-A": "1"}
    s.get(URL)
    assert sent_timeout(mocked) == (3.0, 3.0)


def test_policy_adapters_are_visible_in_session_adapters() -> None:
    s = httpkit.Session()
    s.configure("https://*.example.com", retry=1)
    s.configure("https://api.example.com/v2", retry=2)
    assert list(s.adapters)[:2] == ["https://api.example.com/v2/", "https://*.example.com/"]
    assert s.get_adapter("https://api.example.com/v2/x").max_retries.total == 2  # type: ignore[attr-defined]
    assert s.get_adapter("https://www.example.com/").max_retries.total == 1  # type: ignore[attr-defined]
    assert s.get_adapter("https://example.org/").max_retries.total == 3  # type: ignore[attr-defined]


def test_configure_rejects_unknown_settings_naming_the_key() -> None:
    with pytest.raises(
        ConfigError, match=r"configure\('https://api.example.com'\): unknown setting 'retries'"
    ):
        httpkit.Session().configure("https://api.example.com", retries=3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": "x"}, r"Session\(\): timeout:"),
        ({"retry": None}, r"Session\(\): retry:"),
        ({"deadline": -1}, r"Session\(\): deadline:"),
        ({"pool_maxsize": 0}, r"pool_maxsize must be a positive int"),
        ({"base_url": "/relative"}, r"base_url must be an absolute URL"),
        ({"user_agent": "app\r\nX: y"}, r"user_agent must be a one-line product token"),
    ],
)
def test_bad_session_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        httpkit.Session(**kwargs)


def test_user_agent_identifies_app_httpkit_and_requests(mocked: Any) -> None:
    httpkit.Session(user_agent="myapp/1.4").get(URL)
    agent = mocked.calls[-1].request.headers["User-Agent"]
    assert (
        agent == f"myapp/1.4 httpkit/{httpkit.__version__} python-requests/{requests.__version__}"
    )
    httpkit.Session().get(URL)
    assert mocked.calls[-1].request.headers["User-Agent"].startswith("httpkit/")


# -- environment: proxies and CA bundles ------------------------------------------------


def test_proxies_from_the_environment_are_honoured_and_followed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = httpkit.Session()
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert s.merge_environment_settings(URL, {}, None, None, None)["proxies"] == {
        "https": "http://proxy.internal:3128"
    }
    monkeypatch.setenv("https_proxy", "http://lower.internal:3128")  # lowercase wins
    assert s.merge_environment_settings(URL, {}, None, None, None)["proxies"]["https"] == (
        "http://lower.internal:3128"
    )
    monkeypatch.setenv("NO_PROXY", "example.com")
    assert s.merge_environment_settings(URL, {}, None, None, None)["proxies"] == {}
    monkeypatch.delenv("NO_PROXY")
    s.trust_env = False
    assert s.merge_environment_settings(URL, {}, None, None, None)["proxies"] == {}


def test_proxy_precedence_call_then_session_then_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://env:1")
    s = httpkit.Session()
    s.proxies = {"https": "http://session:1"}
    assert s.merge_environment_settings(URL, {}, None, None, None)["proxies"]["https"] == (
        "http://session:1"
    )
    merged = s.merge_environment_settings(URL, {"https": "http://call:1"}, None, None, None)
    assert merged["proxies"]["https"] == "http://call:1"
    merged = s.merge_environment_settings(URL, {"https": None}, None, None, None)  # type: ignore[dict-item]
    assert "https" not in merged["proxies"]


def test_environment_proxies_match_requests_for_many_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://p:1")
    monkeypatch.setenv("ALL_PROXY", "socks5://all:2")
    monkeypatch.setenv("no_proxy", "internal.test,.corp.test,10.0.0.0/8")
    for url in [
        "http://a.test/",
        "https://a.test/",
        "http://internal.test/",
        "http://x.corp.test:8080/",
        "http://10.1.2.3/",
        "http://[::1]/",
    ]:
        ours = httpkit.Session().merge_environment_settings(url, {}, None, None, None)["proxies"]
        theirs = requests.Session().merge_environment_settings(url, {}, None, None, None)["proxies"]
        assert ours == theirs, url


@pytest.mark.parametrize(
    ("session_verify", "policy_verify", "call_verify", "trust_env", "expected"),
    [
        (True, None, None, True, "/env/ca.pem"),  # nothing set: the environment
        (True, None, None, False, True),  # trust_env=False: certifi
        ("/session.pem", None, None, True, "/session.pem"),  # session beats environment
        (False, None, None, True, False),
        (True, "/policy.pem", None, True, "/policy.pem"),  # host policy beats environment
        ("/session.pem", "/policy.pem", None, True, "/policy.pem"),
        # explicit True turns verification on; the CA still comes from the policy
        (True, "/policy.pem", True, True, "/policy.pem"),
        (True, "/policy.pem", False, True, False),  # explicit call beats everything
        (True, None, True, True, True),  # explicit True is not overridden (requests #3829)
        (True, None, False, True, False),
        (True, None, "/call.pem", True, "/call.pem"),
    ],
)
def test_verify_precedence_with_environment_set(
    monkeypatch: pytest.MonkeyPatch,
    session_verify: Any,
    policy_verify: Any,
    call_verify: Any,
    trust_env: bool,
    expected: Any,
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/env/ca.pem")
    s = httpkit.Session()
    s.verify = session_verify
    s.trust_env = trust_env
    if policy_verify is not None:
        s.configure("https://api.example.com", verify=policy_verify)
    assert s._tls_for(URL, call_verify, None)[0] == expected
    if call_verify is not True:  # merge_environment_settings() reads True as requests does
        assert s.merge_environment_settings(URL, {}, None, call_verify, None)["verify"] == expected


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, True),
        ({"REQUESTS_CA_BUNDLE": "/some/path"}, "/some/path"),
        ({"CURL_CA_BUNDLE": "/curl/path"}, "/curl/path"),
        ({"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": "/curl/path"}, "/curl/path"),
        ({"SSL_CERT_FILE": "/ssl/path"}, "/ssl/path"),
    ],
)
def test_merge_environment_settings_reads_verify_true_as_the_default(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: Any
) -> None:
    """requests' contract for the function itself; a call's own verify=True is another matter."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    s = httpkit.Session()
    assert s.merge_environment_settings(URL, {}, False, True, None)["verify"] == expected
    assert s._tls_for(URL, True, None)[0] is True  # get(url, verify=True): never the environment
    s.trust_env = False
    assert s.merge_environment_settings(URL, {}, False, True, None)["verify"] is True


def test_cert_precedence(mocked: Any) -> None:
    s = httpkit.Session()
    s.cert = "/session.pem"
    assert s.merge_environment_settings(URL, {}, None, None, None)["cert"] == "/session.pem"
    s.configure("https://api.example.com", cert=("/c.pem", "/k.pem"))
    assert s.merge_environment_settings(URL, {}, None, None, None)["cert"] == ("/c.pem", "/k.pem")
    assert s.merge_environment_settings(URL, {}, None, None, "/call.pem")["cert"] == "/call.pem"


# -- pickling -------------------------------------------------------------------------------


def test_pickle_round_trip_keeps_defaults_policies_and_attributes(mocked: Any) -> None:
    s = httpkit.Session(
        timeout=(1, 2), retry=4, base_url="https://api.example.com/", user_agent="p/1"
    )
    s.configure("https://api.example.com", headers={"X-P": "1"}, timeout=6)
    s.headers["X-S"] = "s"
    restored = pickle.loads(pickle.dumps(s))
    assert restored.defaults == s.defaults
    assert restored.base_url == "https://api.example.com/"
    assert restored.policy_for(URL) == s.policy_for(URL)
    assert list(restored.adapters) == list(s.adapters)
    restored.get("items")
    request = mocked.calls[-1].request
    assert request.headers["X-P"] == "1"
    assert request.headers["X-S"] == "s"
    assert sent_timeout(mocked) == (6.0, 6.0)
    other = restored.get_adapter("https://other.test/")
    assert isinstance(other, HostAdapter)
    assert other.max_retries.total == 4


def test_session_header_set_to_none_is_suppressed_as_in_requests(mocked: Any) -> None:
    s = httpkit.Session()
    s.headers["Accept-Encoding"] = None  # type: ignore[assignment]  # requests' idiom
    s.get(URL)
    assert "Accept-Encoding" not in mocked.calls[-1].request.headers
    s.get(URL, headers={"X-Call": "1"}, params={"a": "b"})
    assert "Accept-Encoding" not in mocked.calls[-1].request.headers


def test_prepare_request_leaves_the_callers_request_alone(mocked: Any) -> None:
    s = httpkit.Session(base_url="https://api.example.com/")
    s.configure("https://api.example.com", headers={"X-P": "1"}, auth=("u", "p"))
    request = requests.Request("GET", "items", cookies={"c": "v"})
    prepared = s.prepare_request(request)
    assert prepared.url == URL
    assert prepared.headers["X-P"] == "1"
    assert (request.url, request.headers, request.auth) == ("items", {}, None)
    assert request.cookies == {"c": "v"}


def test_netrc_created_during_the_session_is_used(
    mocked: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "netrc"
    monkeypatch.setenv("NETRC", str(path))
    s = httpkit.Session()
    s.get(URL)
    assert "Authorization" not in mocked.calls[-1].request.headers
    path.write_text("machine api.example.com login u password p\n")
    path.chmod(0o600)
    s.get(URL)
    assert mocked.calls[-1].request.headers["Authorization"] == requests.auth._basic_auth_str(
        "u", "p"
    )
    s.trust_env = False
    s.get(URL)
    assert "Authorization" not in mocked.calls[-1].request.headers


@pytest.mark.parametrize("mounted", ["https://api.example.com", "https://API.example.com:443/"])
def test_configure_refuses_to_replace_an_adapter_the_user_mounted(mounted: str) -> None:
    own = requests.adapters.HTTPAdapter()
    with httpkit.Session() as s:
        s.mount(mounted, own)
        with pytest.raises(httpkit.ConfigError, match="HTTPAdapter you mounted"):
            s.configure("https://api.example.com", timeout=3)
        assert s.get_adapter("https://api.example.com/users") is own


def test_configure_beside_a_scheme_wide_adapter_of_the_user() -> None:
    own = requests.adapters.HTTPAdapter()
    with httpkit.Session() as s:
        s.mount("https://", own)
        s.configure("https://api.example.com", timeout=3)
        assert s.get_adapter("https://other.example.com/") is own
        assert s.policy_for("https://api.example.com/").timeout.read == 3


@pytest.mark.parametrize(
    ("timeout", "requests_words"),
    [
        ("x", "Timeout value connect was x, but it must be an int, float or None."),
        (
            -1,
            "Attempted to set connect timeout to -1, but the timeout cannot be set to a value "
            "less than or equal to 0.",
        ),
        (
            (1, 2, 3),
            "Invalid timeout (1, 2, 3). Pass a (connect, read) timeout tuple, or a single float "
            "to set both timeouts to the same value.",
        ),
    ],
)
def test_a_bad_timeout_says_what_requests_says_first(timeout: Any, requests_words: str) -> None:
    with httpkit.Session() as s, pytest.raises(ValueError, match="imeout") as caught:
        s.get("http://127.0.0.1:1/", timeout=timeout)  # ValueError: what requests raises
    assert str(caught.value).startswith(requests_words)
    assert isinstance(caught.value, ConfigError)


@pytest.mark.parametrize(
    ("setting", "requests_words"),
    [
        ({"verify": "/nonexistent/ca.pem"}, "Could not find a suitable TLS CA certificate bundle"),
        ({"cert": "/nonexistent/c.pem"}, "Could not find the TLS certificate file"),
        ({"cert": (__file__, "/nonexistent/k.pem")}, "Could not find the TLS key file"),
    ],
)
def test_a_missing_tls_file_says_what_requests_says(
    setting: dict[str, Any], requests_words: str
) -> None:
    path = next(iter(setting.values()))
    path = path[1] if isinstance(path, tuple) else path
    with httpkit.Session(retry=0) as s, pytest.raises(OSError, match="invalid path") as caught:
        s.get("https://127.0.0.1:1/", **setting)
    assert str(caught.value) == f"{requests_words}, invalid path: {path}"


_hosts = st.one_of(
    st.sampled_from(["localhost", "LocalHost", "[::1]", "[0:0:0:0:0:0:0:1]", "127.0.0.1"]),
    st.sampled_from(["bücher.example", "API.example.com", "intranet", "a.b.c.d.e"]),
    st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,8}){0,3}", fullmatch=True),
)


@settings(max_examples=100, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTP"]),
    host=_hosts,
    port=st.one_of(st.none(), st.integers(1, 65535)),
)
def test_cookie_host_is_the_host_the_cookie_jar_matches(
    scheme: str, host: str, port: int | None
) -> None:
    """A domain-less cookie bound with cookie_host() is one the jar sends to that URL."""
    url = f"{scheme}://{host}{'' if port is None else f':{port}'}/path"
    prepared = requests.Request("GET", url).prepare()
    jar_host = http.cookiejar.eff_request_host(urllib.request.Request(prepared.url))[1]  # type: ignore[attr-defined]
    assert cookie_host(url) == jar_host
    jar = requests.cookies.RequestsCookieJar()
    jar.set("session", "v", domain=cookie_host(url))
    assert requests.cookies.get_cookie_header(jar, prepared) == "session=v"


_urls = st.one_of(
    st.sampled_from(
        [
            "http://example.com",
            "HTTPS://Example.COM:8443/a b/ü?x=1&y=%zz#frag",
            "http://bücher.example/päth",
            "http://[::1]:8080/x?",
            "http://u:p@example.com/",
            "mailto:someone@example.com",
            "http://",
            "example.com/no-scheme",
            "http://*.example.com/",
        ]
    ),
    st.from_regex(
        r"https?://[a-z]{1,5}\.test(:[0-9]{1,4})?(/[a-zA-Z0-9%/~._-]{0,12})?", fullmatch=True
    ),
)
_params = st.one_of(
    st.none(),
    st.just({}),
    st.dictionaries(st.sampled_from(["a", "b", "ü"]), st.one_of(st.none(), st.text(max_size=3))),
    st.lists(st.tuples(st.sampled_from(["a", "b"]), st.text(max_size=3)), max_size=2),
    st.sampled_from(["", "q=1", b"raw=2"]),
)
_header_maps = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["Accept", "accept", "X-A", "User-Agent"]),
        st.one_of(st.none(), st.sampled_from(["1", "text/plain", "a b"])),
        max_size=3,
    ),
)


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from(["GET", "post", "PUT"]),
    url=_urls,
    params=_params,
    session_params=st.one_of(st.just({}), st.just({"s": "1", "a": "session"})),
    headers=_header_maps,
    session_headers=_header_maps,
    cookies=st.one_of(st.none(), st.just({}), st.just({"c": "1"})),
    session_cookie=st.booleans(),
    body=st.sampled_from([None, {"form": "v"}, b"bytes", "text", [("k", "v")]]),
)
def test_preparation_matches_requests_own(
    method: str,
    url: str,
    params: Any,
    session_params: dict[str, str],
    headers: Any,
    session_headers: Any,
    cookies: Any,
    session_cookie: bool,
    body: Any,
) -> None:
    """httpkit's preparation steps give what requests.Session.prepare_request gives."""
    session = httpkit.Session()
    session.trust_env = False
    session.params = dict(session_params)
    if session_headers is not None:
        session.headers.update(session_headers)
    if session_cookie:
        session.cookies.set("jar", "v", domain="example.com")

    def prepare(how: Any) -> Any:
        request = requests.Request(method, url, headers=headers, params=params, data=body)
        request.cookies = cookies
        try:
            p = how(request)
        except Exception as exc:  # the same error, with the same message
            return (type(exc), str(exc))
        return (p.method, p.url, dict(p.headers), p.body, p.hooks, sorted(p._cookies.items()))

    ours = prepare(session._prepare)
    theirs = prepare(lambda r: requests.Session.prepare_request(session, r))
    assert ours == theirs
