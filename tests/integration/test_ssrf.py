"""SSRFPolicy against real servers on 127.0.0.1 and 127.0.0.2, with stub name resolution.

Names ending in ``.test`` resolve through a stub resolver only; nothing is looked up.
127.0.0.1 plays the allowed "public" host (``allow=["127.0.0.1"]``), 127.0.0.2 the internal
one the policy must keep the client away from.
"""

from __future__ import annotations

import pickle
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import trustme

import httpkit
from httpkit import BlockedAddress, HostAdapter, HostConfig, RetryPolicy, SSRFPolicy
from httpkit._ssrf import parse_literal
from tests.integration.servers import Reply, ScriptedServer
from tests.integration.tls_servers import TLSServer, serve_tls, server_context

NO_WAIT = RetryPolicy(backoff_factor=0)


class StubResolver:
    """``socket.getaddrinfo`` for ``.test`` names; answers may change from call to call."""

    def __init__(self, **answers: str | list[str]) -> None:
        self.answers = {
            name.replace("_", "-") + ".test": [a] if isinstance(a, str) else list(a)
            for name, a in answers.items()
        }
        self.calls: list[str] = []

    def __call__(self, host: str, port: Any, family: int = 0, *rest: Any) -> list[Any]:
        self.calls.append(host)
        answers = self.answers.get(host)
        if answers is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        # A list answers in turn, the last one repeating: a rebinding DNS server.
        address = answers.pop(0) if len(answers) > 1 else answers[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]


_REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture(autouse=True)
def no_real_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any lookup of a name outside the stub resolvers fails the test: e.g. urllib3
    resolving the name a second time after the policy vetted it."""

    def guard(host: Any, *args: Any, **kwargs: Any) -> Any:
        if parse_literal(str(host)) is None:
            raise AssertionError(f"a real name lookup of {host!r}")
        return _REAL_GETADDRINFO(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guard)


def session(policy: SSRFPolicy, **kwargs: Any) -> httpkit.Session:
    kwargs.setdefault("retry", NO_WAIT)
    return httpkit.Session(ssrf=policy, **kwargs)


def test_name_resolving_to_internal_address_is_refused(server2: ScriptedServer) -> None:
    resolver = StubResolver(internal="127.0.0.2")
    with (
        session(SSRFPolicy(allow=["127.0.0.1"], resolver=resolver)) as s,
        pytest.raises(BlockedAddress) as info,
    ):
        s.get(f"http://internal.test:{server2.port}/")
    assert info.value.rule == "127.0.0.2 is loopback (127.0.0.0/8)"
    assert (info.value.host, info.value.address) == ("internal.test", "127.0.0.2")
    assert info.value.request is not None
    assert server2.received == []


def test_allowed_name_connects_to_the_vetted_address_with_host_on_the_name(
    server: ScriptedServer,
) -> None:
    resolver = StubResolver(public="127.0.0.1")
    with session(SSRFPolicy(allow=["127.0.0.1"], resolver=resolver)) as s:
        assert s.get(f"http://public.test:{server.port}/").status_code == 200
    assert server.received[0].headers["Host"] == f"public.test:{server.port}"
    assert resolver.calls == ["public.test"]


def test_ip_literal_forms_are_refused_before_connecting(server: ScriptedServer) -> None:
    with session(SSRFPolicy(resolver=StubResolver())) as s:
        for host in ("127.0.0.1", "2130706433", "0x7f.1", "127.1", "0177.0.0.1"):
            with pytest.raises(BlockedAddress) as info:
                s.get(f"http://{host}:{server.port}/")
            assert info.value.address == "127.0.0.1"
    assert server.received == []


def test_redirect_from_allowed_host_to_internal_one_is_refused(
    server: ScriptedServer, server2: ScriptedServer
) -> None:
    resolver = StubResolver(internal="127.0.0.2")
    target = f"http://internal.test:{server2.port}/secret"
    server.script("/hop", Reply(302, b"", [("Location", target)]))
    with (
        session(SSRFPolicy(allow=["127.0.0.1"], resolver=resolver)) as s,
        pytest.raises(BlockedAddress) as info,
    ):
        s.get(server.url("/hop"))
    assert info.value.address == "127.0.0.2"
    assert info.value.request is not None
    assert info.value.request.url == target
    assert len(server.requests_to("/hop")) == 1
    assert server2.received == []


def test_redirect_to_internal_literal_is_refused(
    server: ScriptedServer, server2: ScriptedServer
) -> None:
    server.script("/hop", Reply(307, b"", [("Location", f"http://0x7f.2:{server2.port}/")]))
    with (
        session(SSRFPolicy(allow=["127.0.0.1"], resolver=StubResolver())) as s,
        pytest.raises(BlockedAddress, match=r"0x7f\.2 \(127\.0\.0\.2\)"),
    ):
        s.get(server.url("/hop"))
    assert server2.received == []


def test_rebinding_resolver_is_consulted_once(server: ScriptedServer) -> None:
    """First answer allowed, later answers internal: the connection uses the first."""
    resolver = StubResolver(rebind=["127.0.0.1", "127.0.0.2"])
    with session(SSRFPolicy(allow=["127.0.0.1"], resolver=resolver)) as s:
        for _ in range(3):  # the pooled connection serves the next calls
            assert s.get(f"http://rebind.test:{server.port}/").status_code == 200
    assert resolver.calls == ["rebind.test"]
    assert len(server.received) == 3


def test_each_new_connection_is_vetted_again(server: ScriptedServer) -> None:
    """A server that closes connections forces a new one, and a new lookup: vetted too."""
    server.script("/", Reply(headers=[("Connection", "close")]))
    resolver = StubResolver(rebind=["127.0.0.1", "127.0.0.2"])
    with session(SSRFPolicy(allow=["127.0.0.1"], resolver=resolver)) as s:
        assert s.get(f"http://rebind.test:{server.port}/").status_code == 200
        with pytest.raises(BlockedAddress, match=r"127\.0\.0\.2 is loopback"):
            s.get(f"http://rebind.test:{server.port}/")
    assert resolver.calls == ["rebind.test", "rebind.test"]
    assert len(server.received) == 1


def test_rebinding_resolver_internal_first_is_refused_without_second_lookup(
    server: ScriptedServer,
) -> None:
    resolver = StubResolver(rebind=["127.0.0.2", "127.0.0.1"])
    with (
        session(SSRFPolicy(allow=["127.0.0.1"], resolver=resolver)) as s,
        pytest.raises(BlockedAddress),
    ):
        s.get(f"http://rebind.test:{server.port}/")
    assert resolver.calls == ["rebind.test"]
    assert server.received == []


def test_refusal_is_not_retried(server2: ScriptedServer) -> None:
    resolver = StubResolver(internal="127.0.0.2")
    policy = SSRFPolicy(resolver=resolver)
    with (
        session(policy, retry=RetryPolicy(total=5, backoff_factor=0)) as s,
        pytest.raises(BlockedAddress),
    ):
        s.get(f"http://internal.test:{server2.port}/")
    assert resolver.calls == ["internal.test"]


def test_deny_beats_allow_and_ports_allow_list(server: ScriptedServer) -> None:
    resolver = StubResolver(admin="127.0.0.1", app="127.0.0.1")
    policy = SSRFPolicy(allow=["127.0.0.1"], deny=["admin.test"], resolver=resolver)
    with session(policy) as s:
        assert s.get(f"http://app.test:{server.port}/").status_code == 200
        with pytest.raises(BlockedAddress, match=r"deny rule 'admin\.test'"):
            s.get(f"http://admin.test:{server.port}/")
    closed = SSRFPolicy(allow=["127.0.0.1"], ports=[443], resolver=resolver)
    with session(closed) as s, pytest.raises(BlockedAddress, match=f"port {server.port} is not"):
        s.get(server.url())
    assert len(server.received) == 1


def test_host_policy_overrides_the_session_policy(
    server: ScriptedServer, server2: ScriptedServer
) -> None:
    with session(SSRFPolicy(resolver=StubResolver())) as s:
        s.configure(server.origin, ssrf=None)  # exempt
        s.configure(server2.origin, ssrf=SSRFPolicy(allow=["127.0.0.2"]))
        assert s.get(server.url()).status_code == 200
        assert s.get(server2.url()).status_code == 200
        with pytest.raises(BlockedAddress):  # another origin: the session's policy
            s.get("http://127.0.0.1:1/")


def test_policy_added_later_closes_pooled_connections(server: ScriptedServer) -> None:
    """A connection opened before the policy applied is not reused to skip it."""
    with httpkit.Session(retry=NO_WAIT) as s:
        s.configure(server.origin, timeout=5)
        assert s.get(server.url()).status_code == 200  # a pooled, unvetted connection
        s.configure(server.origin, ssrf=True)  # same adapter, same pools
        with pytest.raises(BlockedAddress):
            s.get(server.url())
    assert len(server.received) == 1


def test_mounted_host_adapter_is_covered(server: ScriptedServer) -> None:
    with httpkit.Session(retry=NO_WAIT) as s:
        s.mount(server.origin + "/", HostAdapter(HostConfig(ssrf=SSRFPolicy())))
        with pytest.raises(BlockedAddress):
            s.get(server.url())


def test_mounted_plain_http_adapter_is_not_covered(server: ScriptedServer) -> None:
    """Documented: a plain requests HTTPAdapter bypasses the policy (docs/security.md)."""
    with session(SSRFPolicy()) as s:
        s.mount(server.origin + "/", requests.adapters.HTTPAdapter())
        assert s.get(server.url()).status_code == 200


def pickled_resolver(host: str, port: Any, *rest: Any) -> list[Any]:
    answers = {"internal.test": "127.0.0.2", "public.test": "127.0.0.1"}
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]


def test_pickled_session_keeps_the_policy(server: ScriptedServer, server2: ScriptedServer) -> None:
    with session(SSRFPolicy(allow=["127.0.0.1"], resolver=pickled_resolver)) as s:
        restored = pickle.loads(pickle.dumps(s))
    with restored:
        assert restored.get(f"http://public.test:{server.port}/").status_code == 200
        with pytest.raises(BlockedAddress):
            restored.get(f"http://internal.test:{server2.port}/")


# -- proxies ----------------------------------------------------------------------------


def test_proxy_address_is_exempt_and_the_target_is_vetted(server: ScriptedServer) -> None:
    """The proxy (on loopback) is reachable; the target name is resolved and vetted here."""
    resolver = StubResolver(public="93.184.215.14", internal="10.0.0.7")
    proxies = {"http": server.origin}
    with session(SSRFPolicy(resolver=resolver)) as s:
        assert s.get("http://public.test/page", proxies=proxies).status_code == 200
        with pytest.raises(BlockedAddress, match=r"10\.0\.0\.7 is private"):
            s.get("http://internal.test/", proxies=proxies)
        with pytest.raises(BlockedAddress, match=r"169\.254\.169\.254 is link-local"):
            s.get("http://169.254.169.254/latest/meta-data/", proxies=proxies)
        with pytest.raises(BlockedAddress, match="does not resolve here"):
            s.get("http://unknown.test/", proxies=proxies)
        with pytest.raises(BlockedAddress, match=r"10\.0\.0\.7 is private"):
            s.get("https://internal.test/", proxies={"https": server.origin})
    assert [r.path for r in server.received] == ["http://public.test/page"]
    assert resolver.calls == ["public.test", "internal.test", "unknown.test", "internal.test"]


# -- HTTPS: SNI and certificate checks stay on the name ---------------------------------


@pytest.fixture(scope="module")
def named_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, str]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ssrf-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, str(path)


@pytest.fixture
def named_tls_server(named_ca: tuple[trustme.CA, str]) -> Iterator[TLSServer]:
    """An HTTPS server on 127.0.0.1 whose certificate names only ``secure.test``."""
    with serve_tls(server_context(named_ca[0].issue_cert("secure.test"))) as state:
        yield state


def test_https_to_vetted_address_verifies_the_certificate_for_the_name(
    named_tls_server: TLSServer, named_ca: tuple[trustme.CA, str]
) -> None:
    resolver = StubResolver(secure="127.0.0.1")
    policy = SSRFPolicy(allow=["127.0.0.1"], resolver=resolver)
    with session(policy, trust=named_ca[1]) as s:
        response = s.get(f"https://secure.test:{named_tls_server.port}/")
    assert response.status_code == 200
    assert resolver.calls == ["secure.test"]


def test_https_certificate_is_still_checked(
    named_tls_server: TLSServer, named_ca: tuple[trustme.CA, str]
) -> None:
    resolver = StubResolver(other="127.0.0.1")
    policy = SSRFPolicy(allow=["127.0.0.1"], resolver=resolver)
    with session(policy, trust=named_ca[1]) as s, pytest.raises(requests.exceptions.SSLError):
        s.get(f"https://other.test:{named_tls_server.port}/")


class MultiResolver:
    """Answers every address of a name at once, as a name with several A records."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[str] = []

    def __call__(self, host: str, port: Any, *rest: Any) -> list[Any]:
        self.calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in self.table[host]]


def test_vetted_addresses_are_tried_in_order(server: ScriptedServer) -> None:
    """Nothing listens on 127.0.0.3: the next vetted address is used, without a new lookup."""
    resolver = MultiResolver({"multi.test": ["127.0.0.3", "127.0.0.1"]})
    policy = SSRFPolicy(allow=["127.0.0.0/8"], resolver=resolver)
    with session(policy, retry=False) as s:
        assert s.get(f"http://multi.test:{server.port}/").status_code == 200
    assert resolver.calls == ["multi.test"]
    assert server.received[0].headers["Host"] == f"multi.test:{server.port}"


def test_every_vetted_address_failing_is_a_connection_error(server: ScriptedServer) -> None:
    resolver = MultiResolver({"dead.test": ["127.0.0.3", "127.0.0.4"]})
    policy = SSRFPolicy(allow=["127.0.0.0/8"], resolver=resolver)
    with session(policy, retry=False) as s, pytest.raises(requests.ConnectionError) as info:
        s.get(f"http://dead.test:{server.port}/")
    assert not isinstance(info.value, BlockedAddress)
    assert resolver.calls == ["dead.test"]
