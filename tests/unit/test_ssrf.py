"""SSRFPolicy: address classes, literal forms, allow/deny/ports, settings. No sockets.

Name resolution is always a stub: a resolver that is called for an IP literal fails the
test, so these tests never look anything up.
"""

from __future__ import annotations

import pickle
import socket
from collections.abc import Callable
from typing import Any

import pytest
import requests

import httpkit
from httpkit import BlockedAddress, ConfigError, HostAdapter, HostConfig, SSRFPolicy
from httpkit._ssrf import check_ssrf, judge, parse_literal


def no_lookup(*args: Any) -> list[Any]:
    raise AssertionError(f"the resolver was called for {args[0]!r}")


def resolving(table: dict[str, list[str]], calls: list[str] | None = None) -> Callable[..., Any]:
    """A getaddrinfo stub answering from ``table``; records each host it is asked for."""

    def resolver(host: str, port: Any, family: int = 0, type: int = 0, *rest: Any) -> list[Any]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answers = []
        for address in table[host]:
            if ":" in address:
                answers.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                answers.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return answers

    return resolver


#: A module-level resolver, so that a policy holding it pickles.
def module_resolver(host: str, port: Any, *rest: Any) -> list[Any]:
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]


DEFAULT = SSRFPolicy(resolver=no_lookup)


def refusal(policy: SSRFPolicy, host: str, port: int = 443) -> BlockedAddress:
    with pytest.raises(BlockedAddress) as info:
        policy.resolve(host, port)
    return info.value


# -- every address class ----------------------------------------------------------------

REFUSED = [
    # (literal, words the rule must contain)
    ("127.0.0.1", "127.0.0.1 is loopback"),
    ("127.255.255.254", "is loopback"),
    ("::1", "::1 is loopback"),
    ("10.0.0.1", "private (RFC 1918)"),
    ("172.16.0.1", "private (RFC 1918)"),
    ("172.31.255.255", "private (RFC 1918)"),
    ("192.168.1.1", "private (RFC 1918)"),
    ("169.254.169.254", "169.254.169.254 is link-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.254", "CGNAT"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("192.0.2.1", "reserved (documentation)"),
    ("198.18.0.1", "benchmarking"),
    ("2001:db8::1", "documentation"),
    ("0.0.0.0", "0.0.0.0 is unspecified"),
    ("0.1.2.3", "'this network'"),
    ("::", ":: is unspecified"),
    ("fc00::1", "unique-local"),
    ("fd12:3456::1", "unique-local"),
    ("fec0::1", "site-local"),
    ("4000::1", "outside 2000::/3"),
    # IPv4-mapped and IPv4-compatible: refused, with or without an internal IPv4 inside.
    ("::ffff:127.0.0.1", "embeds 127.0.0.1 (IPv4-mapped), which is loopback"),
    ("::ffff:169.254.169.254", "(IPv4-mapped), which is link-local"),
    ("::ffff:8.8.8.8", "IPv4-mapped IPv6 address; use the IPv4 address 8.8.8.8"),
    ("::127.0.0.1", "embeds 127.0.0.1 (IPv4-compatible)"),
    ("::8.8.8.8", "IPv4-compatible IPv6 address"),
    # Forms embedding an internal IPv4 address: the embedded address is judged.
    ("2002:7f00:1::", "embeds 127.0.0.1 (6to4), which is loopback"),
    ("2002:a9fe:a9fe::1", "embeds 169.254.169.254 (6to4), which is link-local"),
    ("64:ff9b::7f00:1", "embeds 127.0.0.1 (NAT64)"),
    ("64:ff9b::a00:1", "embeds 10.0.0.1 (NAT64), which is private"),
    ("64:ff9b:1::1", "local-use NAT64"),
    # Teredo: the client address is the last 32 bits inverted (~127.0.0.1 = 80ff:fffe).
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "embeds 127.0.0.1 (Teredo)"),
    ("2001:0:a00:1:8000:63bf:f7f7:f7f7", "embeds 10.0.0.1 (Teredo)"),  # the server part
]


@pytest.mark.parametrize(("literal", "words"), REFUSED, ids=[r[0] for r in REFUSED])
def test_default_policy_refuses_internal_address(literal: str, words: str) -> None:
    error = refusal(DEFAULT, literal)
    assert words in (error.rule or "")
    assert error.address is not None
    assert error.host == literal


ALLOWED = [
    "8.8.8.8",
    "93.184.215.14",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "2001:0:4136:e378:8000:63bf:f7f7:f7f7",  # Teredo, server 65.54.227.120, client 8.8.8.8
    "172.32.0.1",  # just past 172.16.0.0/12
    "100.128.0.1",  # just past 100.64.0.0/10
]


@pytest.mark.parametrize("literal", ALLOWED)
def test_default_policy_allows_public_address(literal: str) -> None:
    assert DEFAULT.resolve(literal, 443) == [str(parse_literal(literal))]


# -- literal forms ----------------------------------------------------------------------

LOOPBACK_SPELLINGS = [
    "2130706433",  # one 32-bit number
    "0x7f000001",
    "0177.0.0.1",  # octal
    "0x7f.1",  # hex, two parts
    "0x7f.0.0.1",
    "127.1",  # two parts
    "127.0.1",  # three parts
    "127.0.0.1.",  # trailing dot
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "::ffff:7f00:1",
    "[::ffff:127.0.0.1]",
]


@pytest.mark.parametrize("spelling", LOOPBACK_SPELLINGS)
def test_literal_spellings_are_judged_by_the_address_they_mean(spelling: str) -> None:
    error = refusal(DEFAULT, spelling)
    assert "loopback" in (error.rule or "")
    assert "127.0.0.1" in str(error) or "::1" in str(error)


@pytest.mark.parametrize(
    ("spelling", "meaning"),
    [
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("0xa9fea9fe", "169.254.169.254"),
        ("2852039166", "169.254.169.254"),
        ("10.1", "10.0.0.1"),
        ("0", "0.0.0.0"),
    ],
)
def test_literal_spellings_of_other_addresses(spelling: str, meaning: str) -> None:
    assert str(parse_literal(spelling)) == meaning
    assert refusal(DEFAULT, spelling).address == meaning


@pytest.mark.parametrize(
    "name", ["example.com", "cafe.be", "deadbeef.example", "1e100.net", "0x7f.example"]
)
def test_names_that_look_numeric_are_names(name: str) -> None:
    assert parse_literal(name) is None


def test_literal_is_never_looked_up() -> None:
    """IP literals are parsed: the resolver is not consulted (no_lookup would fail)."""
    assert DEFAULT.resolve("8.8.8.8", 80) == ["8.8.8.8"]


# -- names and resolution ---------------------------------------------------------------


def test_name_resolving_to_internal_address_is_refused() -> None:
    policy = SSRFPolicy(resolver=resolving({"evil.test": ["169.254.169.254"]}))
    error = refusal(policy, "evil.test")
    assert str(error) == (
        "SSRF policy refused evil.test (169.254.169.254): 169.254.169.254 is link-local "
        "(cloud metadata services answer here) (169.254.0.0/16); if this target is intended, "
        "add it to SSRFPolicy(allow=[...])"
    )
    assert (error.host, error.address) == ("evil.test", "169.254.169.254")


def test_every_address_is_vetted_one_internal_refuses_the_name() -> None:
    policy = SSRFPolicy(resolver=resolving({"mixed.test": ["8.8.8.8", "2606::1", "10.0.0.5"]}))
    assert refusal(policy, "mixed.test").address == "10.0.0.5"


def test_name_resolves_once_and_addresses_keep_their_order() -> None:
    calls: list[str] = []
    table = {"ok.test": ["8.8.8.8", "8.8.4.4", "8.8.8.8", "2001:4860:4860::8888"]}
    policy = SSRFPolicy(resolver=resolving(table, calls))
    assert policy.resolve("ok.test", 443) == ["8.8.8.8", "8.8.4.4", "2001:4860:4860::8888"]
    assert calls == ["ok.test"]


def test_name_that_does_not_resolve_raises_gaierror() -> None:
    with pytest.raises(socket.gaierror):
        SSRFPolicy(resolver=resolving({})).resolve("nowhere.test", 443)


def test_resolver_answering_nothing_raises_gaierror() -> None:
    with pytest.raises(socket.gaierror):
        SSRFPolicy(resolver=lambda *a: []).resolve("empty.test", 443)


# -- allow, deny, ports -----------------------------------------------------------------


@pytest.mark.parametrize(
    "allow",
    [["127.0.0.1"], ["127.0.0.0/8"], ["127.1"], ["localhost"], ["*.localdomain"]],
)
def test_allow_lets_a_refused_target_through(allow: list[str]) -> None:
    table = {"localhost": ["127.0.0.1", "::1"], "db.localdomain": ["127.0.0.1"]}
    policy = SSRFPolicy(allow=allow, resolver=resolving(table))
    host = {"localhost": "localhost", "*.localdomain": "db.localdomain"}.get(allow[0], "127.0.0.1")
    assert "127.0.0.1" in policy.resolve(host, 80)


def test_allow_by_network_does_not_allow_other_addresses() -> None:
    policy = SSRFPolicy(allow=["10.1.0.0/16"], resolver=no_lookup)
    assert policy.resolve("10.1.2.3", 80) == ["10.1.2.3"]
    assert "private" in (refusal(policy, "10.2.0.1").rule or "")


def test_wildcard_allow_matches_subdomains_only() -> None:
    table = {"corp.test": ["10.0.0.1"], "a.corp.test": ["10.0.0.2"]}
    policy = SSRFPolicy(allow=["*.corp.test"], resolver=resolving(table))
    assert policy.resolve("a.corp.test", 443) == ["10.0.0.2"]
    refusal(policy, "corp.test")


def test_deny_beats_allow() -> None:
    policy = SSRFPolicy(allow=["10.0.0.0/8"], deny=["10.0.0.5"], resolver=no_lookup)
    assert policy.resolve("10.0.0.4", 80) == ["10.0.0.4"]
    error = refusal(policy, "10.0.0.5")
    assert error.rule == "10.0.0.5 matches the deny rule '10.0.0.5'"
    assert "allow" not in str(error)  # no hint to allow what was denied


def test_deny_by_name_refuses_before_resolving() -> None:
    policy = SSRFPolicy(allow=["*.example.com"], deny=["admin.example.com"], resolver=no_lookup)
    error = refusal(policy, "Admin.Example.com.")
    assert error.address is None
    assert error.rule == "admin.example.com matches the deny rule 'admin.example.com'"
    assert "allow=" not in str(error)


def test_deny_public_network_and_its_embedded_forms() -> None:
    policy = SSRFPolicy(deny=["8.8.8.0/24"], resolver=no_lookup)
    for literal in ("8.8.8.8", "2002:808:808::1", "64:ff9b::808:808"):
        assert "deny rule '8.8.8.0/24'" in (refusal(policy, literal).rule or "")
    assert policy.resolve("1.1.1.1", 443) == ["1.1.1.1"]


def test_ports_allow_list() -> None:
    policy = SSRFPolicy(ports=[443, 8443], resolver=no_lookup)
    assert policy.resolve("8.8.8.8", 8443) == ["8.8.8.8"]
    error = refusal(policy, "8.8.8.8", 22)
    assert error.rule == "port 22 is not one of SSRFPolicy(ports=...) (443, 8443)"
    assert error.address is None


# -- the value object -------------------------------------------------------------------


def test_repr_sorted_and_without_defaults() -> None:
    assert repr(SSRFPolicy()) == "SSRFPolicy()"
    policy = SSRFPolicy(allow=["B.example", "10.0.0.0/8", "127.1"], deny=["::1"], ports=[443, 80])
    assert repr(policy) == (
        "SSRFPolicy(allow=['10.0.0.0/8', '127.0.0.1', 'b.example'], deny=['::1'], ports=[80, 443])"
    )
    assert repr(SSRFPolicy(resolver=module_resolver)) == (
        "SSRFPolicy(resolver=<tests.unit.test_ssrf.module_resolver>)"
    )


def test_entries_are_normalized_and_compare_equal() -> None:
    a = SSRFPolicy(allow=["127.0.0.1", "Example.COM"], ports=(80,))
    b = SSRFPolicy(allow={"127.1", "example.com"}, ports=[80])
    assert a == b
    assert hash(a) == hash(b)
    assert a.allow == frozenset({"127.0.0.1", "example.com"})


def test_pickles_with_a_module_level_resolver() -> None:
    policy = SSRFPolicy(
        allow=["10.0.0.0/8"], deny=["evil.test"], ports=[443], resolver=module_resolver
    )
    restored = pickle.loads(pickle.dumps(policy))
    assert restored == policy
    assert restored.resolve("10.1.1.1", 443) == ["10.1.1.1"]
    assert restored.resolve("anything.test", 443) == ["93.184.215.14"]


def test_lambda_resolver_does_not_pickle() -> None:
    """Documented: a resolver must be a module-level function to pickle."""
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        pickle.dumps(SSRFPolicy(resolver=lambda *a: []))


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"allow": "127.0.0.1"}, "got the string '127.0.0.1'; wrap it in a list"),
        ({"deny": ["10.0.0.1/8"]}, "'10.0.0.1/8' is not a valid network"),
        ({"allow": ["user@example.com"]}, "not an address, a network or a host name"),
        ({"allow": [""]}, "expected an address, network or host name"),
        ({"allow": [5]}, "expected an address, network or host name"),
        ({"ports": [0]}, "0 is not a port number"),
        ({"ports": [True]}, "True is not a port number"),
        ({"ports": 443}, "must be a collection of port numbers"),
        ({"resolver": "socket.getaddrinfo"}, "must be a function like socket.getaddrinfo"),
    ],
)
def test_bad_values_raise_config_error(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        SSRFPolicy(**kwargs)
    assert words in str(info.value)


def test_judge_names_the_rule() -> None:
    import ipaddress

    assert judge(ipaddress.ip_address("10.0.0.1")) == "10.0.0.1 is private (RFC 1918) (10.0.0.0/8)"
    assert judge(ipaddress.ip_address("8.8.8.8")) is None


# -- the exception ----------------------------------------------------------------------


def test_blocked_address_is_a_connection_error_and_pickles() -> None:
    error = refusal(DEFAULT, "169.254.169.254")
    assert isinstance(error, httpkit.HttpkitError)
    assert isinstance(error, requests.ConnectionError)
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is BlockedAddress
    assert str(restored) == str(error)
    assert (restored.host, restored.address, restored.rule) == (
        error.host,
        error.address,
        error.rule,
    )


# -- settings: session, host policies, config files --------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (False, None),
        (True, SSRFPolicy()),
        (SSRFPolicy(ports=[443]), SSRFPolicy(ports=[443])),
        ({"allow": ["10.0.0.0/8"], "ports": [443]}, SSRFPolicy(allow=["10.0.0.0/8"], ports=[443])),
    ],
)
def test_check_ssrf_accepts(value: Any, expected: SSRFPolicy | None) -> None:
    assert check_ssrf("x", value) == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"resolver": "x"}, "unknown key 'resolver'"),
        ({"allow": ["10.0.0.1/8"]}, "x: ssrf: SSRFPolicy.allow: '10.0.0.1/8'"),
        ("yes", "expected an httpkit.SSRFPolicy, True, False or None"),
    ],
)
def test_check_ssrf_rejects(value: Any, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_ssrf("x", value)
    assert words in str(info.value)


def adapter_policy(session: httpkit.Session, url: str) -> SSRFPolicy | None:
    adapter = session.get_adapter(url)
    assert isinstance(adapter, HostAdapter)
    return adapter.ssrf


def test_session_policy_applies_and_host_policy_overrides() -> None:
    session_policy = SSRFPolicy(deny=["evil.test"])
    with httpkit.Session(ssrf=session_policy) as s:
        host_policy = s.configure("https://partner.test", ssrf=SSRFPolicy(allow=["10.0.0.0/8"]))
        exempt = s.configure("https://internal.test", ssrf=None)
        assert host_policy.ssrf == SSRFPolicy(allow=["10.0.0.0/8"])
        assert exempt.ssrf is None
        s.configure("https://timeouts.test", timeout=3)
        assert adapter_policy(s, "https://anything.test/") == session_policy
        assert adapter_policy(s, "https://timeouts.test/") == session_policy
        assert adapter_policy(s, "https://partner.test/") == SSRFPolicy(allow=["10.0.0.0/8"])
        assert adapter_policy(s, "https://internal.test/") is None


def test_no_policy_by_default_and_true_means_defaults() -> None:
    with httpkit.Session() as s:
        assert adapter_policy(s, "https://x.test/") is None
        s.configure("https://x.test", ssrf=True)
        assert adapter_policy(s, "https://x.test/") == SSRFPolicy()
    with httpkit.Session(ssrf=True) as s:
        assert adapter_policy(s, "http://x.test/") == SSRFPolicy()


def test_session_with_policy_pickles() -> None:
    with httpkit.Session(ssrf=SSRFPolicy(allow=["10.0.0.0/8"], resolver=module_resolver)) as s:
        s.configure("https://partner.test", ssrf=SSRFPolicy(ports=[443]))
        restored = pickle.loads(pickle.dumps(s))
    assert adapter_policy(restored, "https://x.test/") == SSRFPolicy(
        allow=["10.0.0.0/8"], resolver=module_resolver
    )
    assert adapter_policy(restored, "https://partner.test/") == SSRFPolicy(ports=[443])


def test_config_file_ssrf_true_and_table(tmp_path: Any) -> None:
    path = tmp_path / "httpkit.toml"
    path.write_text(
        "[session]\nssrf = true\n\n"
        '[hosts."https://partner.test"]\n'
        'ssrf = { allow = ["10.0.0.0/8", "*.partner.test"], deny = ["10.9.0.0/16"], '
        "ports = [443] }\n"
        '\n[hosts."https://internal.test"]\nssrf = false\n',
        encoding="utf-8",
    )
    with httpkit.Session.from_config(path) as s:
        assert adapter_policy(s, "https://x.test/") == SSRFPolicy()
        assert adapter_policy(s, "https://partner.test/") == SSRFPolicy(
            allow=["10.0.0.0/8", "*.partner.test"], deny=["10.9.0.0/16"], ports=[443]
        )
        assert adapter_policy(s, "https://internal.test/") is None


def test_config_file_rejects_unknown_ssrf_key() -> None:
    with pytest.raises(ConfigError) as info:
        httpkit.Session.from_config({"session": {"ssrf": {"resolver": "dns"}}})
    assert "ssrf: unknown key 'resolver'" in str(info.value)
    assert "<mapping> [session]" in str(info.value)


def test_host_config_repr_shows_the_policy() -> None:
    config = HostConfig.from_settings({"ssrf": {"ports": [443]}}, where="x")
    assert repr(config) == "HostConfig(ssrf=SSRFPolicy(ports=[443]))"


def test_ip_objects_are_accepted_as_entries() -> None:
    import ipaddress

    policy = SSRFPolicy(
        allow=[ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_address("::1")], resolver=no_lookup
    )
    assert policy.allow == frozenset({"10.0.0.0/8", "::1"})
    assert policy.resolve("[::1]", 80) == ["::1"]


def test_malformed_ipv6_is_a_name_left_to_the_resolver() -> None:
    assert parse_literal("[::1::2]") is None
    calls: list[str] = []
    with pytest.raises(socket.gaierror):
        SSRFPolicy(resolver=resolving({}, calls)).resolve("[::1::2]", 80)
    assert calls == ["::1::2"]


def test_resolver_answer_that_is_not_an_ip_address_is_refused() -> None:
    def odd(*args: Any) -> list[Any]:
        return [(socket.AF_UNIX, socket.SOCK_STREAM, 0, "", ("/run/socket",))]

    error = refusal(SSRFPolicy(resolver=odd), "odd.test")
    assert error.rule == "('/run/socket',) is not an IP address"
