"""SSRF policy: refuse connections to internal addresses, judged after name resolution.

A URL's host is a weak signal: ``http://2130706433/``, ``http://0x7f.1/`` and a public
name whose DNS record says ``127.0.0.1`` all reach loopback. So the policy judges the
*addresses* a connection would use:

1. the host is resolved once (IP literals in every form the OS accepts are parsed, not
   looked up), through ``SSRFPolicy.resolver`` or ``socket.getaddrinfo``;
2. every address returned is vetted; one refused address refuses the name;
3. the connection is made to a vetted address, so a second lookup (DNS rebinding) never
   happens. TLS (SNI, certificate checks) and the ``Host`` header keep using the name.

This module holds the policy and its rules. Where it is enforced: the connection classes
of ``httpkit._transport.connection`` vet before they open a socket, using the policy the
hop resolved; a pooled connection vetted under another policy (or none) is closed and
reopened. Through a proxy, ``HostAdapter`` vets the target instead and the proxy's own
address is exempt (``docs/security.md``).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeAlias

from urllib3.util.connection import allowed_gai_family

from httpkit._exceptions import BlockedAddress, ConfigError
from httpkit._http import normalize_host
from httpkit._record import from_setting

if TYPE_CHECKING:
    pass

Address: TypeAlias = "ipaddress.IPv4Address | ipaddress.IPv6Address"
Network: TypeAlias = "ipaddress.IPv4Network | ipaddress.IPv6Network"
#: ``socket.getaddrinfo``'s signature: ``(host, port, family, type, proto, flags)``.
Resolver: TypeAlias = "Callable[..., Iterable[tuple[Any, ...]]]"

_ALLOW_HINT: Final = "if this target is intended, add it to SSRFPolicy(allow=[...])"


def _table(*rows: tuple[str, str]) -> tuple[tuple[Network, str], ...]:
    return tuple((ipaddress.ip_network(net), why) for net, why in rows)


# First match wins, so narrower networks come before the wider ones that contain them.
_IPV4_REFUSED: Final = _table(
    ("0.0.0.0/32", "unspecified"),
    ("0.0.0.0/8", "'this network'"),
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("100.64.0.0/10", "shared address space (CGNAT, RFC 6598)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata services answer here)"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.0.0.0/24", "reserved (IETF protocol assignments)"),
    ("192.0.2.0/24", "reserved (documentation)"),
    ("192.88.99.0/24", "reserved (6to4 relay anycast)"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("198.18.0.0/15", "reserved (benchmarking)"),
    ("198.51.100.0/24", "reserved (documentation)"),
    ("203.0.113.0/24", "reserved (documentation)"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
)
_IPV6_REFUSED: Final = _table(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "reserved (local-use NAT64, RFC 8215)"),
    ("100::/64", "reserved (discard-only)"),
    ("2001:db8::/32", "reserved (documentation)"),
    ("2001::/23", "reserved (IETF protocol assignments)"),
    ("3fff::/20", "reserved (documentation)"),
    ("fc00::/7", "unique-local (the IPv6 private range)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
)
_MAPPED: Final = ipaddress.IPv6Network("::ffff:0:0/96")
_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
_TEREDO: Final = ipaddress.IPv6Network("2001::/32")
_SIX_TO_FOUR: Final = ipaddress.IPv6Network("2002::/16")
_GLOBAL_UNICAST: Final = ipaddress.IPv6Network("2000::/3")

_IP_OBJECTS: Final = (
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
)
#: Characters of the IPv4 shorthand forms (``127.1``, ``0x7f.1``, ``0177.0.0.1``, ``2130706433``).
_NUMERIC_HOST: Final = re.compile(r"[0-9a-fA-FxX.]+\Z")


def parse_literal(host: str) -> Address | None:
    """The address an IP literal means, in every form the OS accepts; ``None`` for a name.

    IPv4 shorthand is read as ``inet_aton`` reads it (as ``getaddrinfo`` does); no name is
    looked up.

    >>> parse_literal("0x7f.1"), parse_literal("2130706433"), parse_literal("0177.0.0.1")
    (IPv4Address('127.0.0.1'), IPv4Address('127.0.0.1'), IPv4Address('127.0.0.1'))
    >>> parse_literal("[::ffff:127.0.0.1]"), parse_literal("example.com")
    (IPv6Address('::ffff:7f00:1'), None)
    """
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            return None
    if host.endswith("."):
        host = host[:-1]
    if not host or not _NUMERIC_HOST.match(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _embedded_ipv4(address: Address) -> tuple[str, tuple[ipaddress.IPv4Address, ...]] | None:
    """The IPv4 addresses an IPv6 address carries, with the name of the form."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address in _MAPPED:
        return "IPv4-mapped", (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)
    if address in _COMPATIBLE and int(address) > 1:  # not :: (unspecified) or ::1 (loopback)
        return "IPv4-compatible", (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)
    if address in _NAT64:
        return "NAT64", (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)
    if address in _SIX_TO_FOUR:
        return "6to4", (ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF),)
    if address in _TEREDO:
        server = ipaddress.IPv4Address((int(address) >> 64) & 0xFFFFFFFF)
        client = ipaddress.IPv4Address(~int(address) & 0xFFFFFFFF)
        return "Teredo", (client, server)
    return None


def _judge_plain(address: Address) -> str | None:
    """Why a (non-embedding) address is internal, or ``None`` if it is not."""
    if isinstance(address, ipaddress.IPv4Address):
        table = _IPV4_REFUSED
    else:
        address = address.__class__(str(address).split("%", 1)[0])  # drop a scope id
        table = _IPV6_REFUSED
    for network, why in table:
        if address in network:
            return f"{address} is {why} ({network})"
    if isinstance(address, ipaddress.IPv6Address) and address not in _GLOBAL_UNICAST:
        return f"{address} is reserved (outside 2000::/3, the global unicast range)"
    return None


def judge(address: Address) -> str | None:
    """Why the default rules refuse ``address`` (the rule, as a sentence); ``None``: allowed.

    >>> judge(ipaddress.ip_address("169.254.169.254"))
    '169.254.169.254 is link-local (cloud metadata services answer here) (169.254.0.0/16)'
    >>> judge(ipaddress.ip_address("2002:7f00:1::"))
    '2002:7f00:1:: embeds 127.0.0.1 (6to4), which is loopback (127.0.0.0/8)'
    >>> judge(ipaddress.ip_address("93.184.215.14")) is None
    True
    """
    embedded = _embedded_ipv4(address)
    if embedded is None:
        return _judge_plain(address)
    form, inner = embedded
    for v4 in inner:
        why = _judge_plain(v4)
        if why is not None:
            return f"{address} embeds {v4} ({form}), which is {why.partition(' is ')[2]}"
    if form in ("IPv4-mapped", "IPv4-compatible"):
        return f"{address} is an {form} IPv6 address; use the IPv4 address {inner[0]} itself"
    return None


class _Rules(NamedTuple):
    """Compiled ``allow``/``deny`` entries: networks, exact names, ``*.`` name suffixes."""

    networks: tuple[Network, ...]
    names: frozenset[str]
    suffixes: tuple[str, ...]

    def match_name(self, name: str) -> str | None:
        if name in self.names:
            return name
        for suffix in self.suffixes:
            if name.endswith("." + suffix):
                return f"*.{suffix}"
        return None

    def match_address(self, address: Address) -> str | None:
        plain = ipaddress.ip_address(str(address).split("%", 1)[0])
        for network in self.networks:
            if plain in network:
                return _show_network(network)
        return None


def _show_network(network: Network) -> str:
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def _compile(where: str, entries: Iterable[Any]) -> tuple[frozenset[str], _Rules]:
    if isinstance(entries, str | bytes):
        raise ConfigError(
            f"{where} must be a collection of addresses, networks and names, "
            f"got the string {entries!r}; wrap it in a list"
        )
    try:
        items = list(entries)
    except TypeError:
        raise ConfigError(f"{where} must be a collection, got {entries!r}") from None
    networks: list[Network] = []
    names: set[str] = set()
    suffixes: list[str] = []
    shown: set[str] = set()
    for item in items:
        if isinstance(item, _IP_OBJECTS):
            item = str(item)
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"{where}: expected an address, network or host name, got {item!r}")
        text = item.strip()
        literal = parse_literal(text)
        if literal is not None:
            network: Network = ipaddress.ip_network(literal)
        elif "/" in text:
            try:
                network = ipaddress.ip_network(text)
            except ValueError as exc:
                raise ConfigError(f"{where}: {text!r} is not a valid network: {exc}") from None
        else:
            wildcard = text.startswith("*.")
            try:
                name = normalize_host(text[2:] if wildcard else text)
            except ValueError as exc:
                raise ConfigError(f"{where}: {exc}") from None
            if not name or any(c in name for c in "*/:@ "):
                raise ConfigError(
                    f"{where}: {text!r} is not an address, a network or a host name "
                    "(a wildcard is '*.example.com')"
                )
            if wildcard:
                suffixes.append(name)
                shown.add(f"*.{name}")
            else:
                names.add(name)
                shown.add(name)
            continue
        networks.append(network)
        shown.add(_show_network(network))
    return frozenset(shown), _Rules(tuple(networks), frozenset(names), tuple(suffixes))


def _check_ports(ports: Iterable[Any] | None) -> frozenset[int] | None:
    if ports is None:
        return None
    if isinstance(ports, str | bytes | int):
        raise ConfigError(f"SSRFPolicy.ports must be a collection of port numbers, got {ports!r}")
    try:
        found = frozenset(ports)
    except TypeError:
        raise ConfigError(f"SSRFPolicy.ports must be a collection, got {ports!r}") from None
    for port in found:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError(f"SSRFPolicy.ports: {port!r} is not a port number (1-65535)")
    return found


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class SSRFPolicy:
    """Refuse connections to internal addresses: loopback, private, link-local, metadata.

    The host of every connection (every redirect hop, every retry that opens a new
    connection) is resolved once, every address returned is vetted, and the connection
    goes to a vetted address, so DNS rebinding cannot swap in another one. By default the
    policy refuses loopback, RFC 1918 private, link-local (``169.254.0.0/16`` with the
    cloud metadata address, ``fe80::/10``), CGNAT (``100.64.0.0/10``), multicast,
    reserved and unspecified addresses, IPv6 unique-local (``fc00::/7``), IPv4-mapped
    and IPv4-compatible IPv6, and 6to4, Teredo and NAT64 addresses whose embedded IPv4
    address is internal. IP literals are judged by the address they mean
    (``http://2130706433/`` is ``127.0.0.1``).

    Args:
        allow: addresses, networks (``"10.1.0.0/16"``) and host names (``"db.internal"``,
            ``"*.corp.example"``) to let through although the default rules refuse them.
            An allowed name may resolve to any address.
        deny: addresses, networks and host names to refuse on top of the default rules.
            Deny beats allow.
        ports: if given, the only ports a connection may use (e.g. ``{80, 443}``).
        resolver: a function with the signature of ``socket.getaddrinfo`` (the default).
            Tests pass a stub. For a session that is pickled, it must be picklable: a
            module-level function, not a lambda or a closure.

    Raises:
        ConfigError: an entry that is neither an address, a network nor a host name, or a
            port out of range.

    >>> policy = SSRFPolicy(allow=["10.1.0.0/16", "*.corp.example"], ports=[443])
    >>> policy
    SSRFPolicy(allow=['*.corp.example', '10.1.0.0/16'], ports=[443])
    >>> policy.resolve("10.1.2.3", 443)
    ['10.1.2.3']
    >>> try:
    ...     policy.resolve("0x7f.1", 443)
    ... except BlockedAddress as exc:
    ...     print(exc.rule)
    127.0.0.1 is loopback (127.0.0.0/8)

    .. versionadded:: 0.2
    """

    allow: Iterable[Any] = frozenset()
    deny: Iterable[Any] = frozenset()
    ports: Iterable[int] | None = None
    resolver: Resolver | None = None
    _allow: _Rules = field(init=False, compare=False, hash=False)
    _deny: _Rules = field(init=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        allow, allow_rules = _compile("SSRFPolicy.allow", self.allow)
        deny, deny_rules = _compile("SSRFPolicy.deny", self.deny)
        object.__setattr__(self, "allow", allow)
        object.__setattr__(self, "deny", deny)
        object.__setattr__(self, "_allow", allow_rules)
        object.__setattr__(self, "_deny", deny_rules)
        object.__setattr__(self, "ports", _check_ports(self.ports))
        if self.resolver is not None and not callable(self.resolver):
            raise ConfigError(
                "SSRFPolicy.resolver must be a function like socket.getaddrinfo, "
                f"got {self.resolver!r}"
            )

    def __repr__(self) -> str:
        shown = []
        for name in ("allow", "deny"):
            value = getattr(self, name)
            if value:
                shown.append(f"{name}={sorted(value)!r}")
        if self.ports is not None:
            shown.append(f"ports={sorted(self.ports)!r}")
        if self.resolver is not None:
            resolver = self.resolver
            label = getattr(resolver, "__qualname__", None) or type(resolver).__name__
            shown.append(f"resolver=<{getattr(resolver, '__module__', '?')}.{label}>")
        return f"SSRFPolicy({', '.join(shown)})"

    def resolve(self, host: str, port: int | None = None) -> list[str]:
        """Resolve ``host`` and vet it: the addresses a connection may use, in order.

        Useful to check a URL a user gives (a webhook, say) before storing it; httpkit
        checks again when it connects.

        Raises:
            BlockedAddress: the name, the port or one of the addresses is refused.
            socket.gaierror: the name does not resolve.
        """
        return [str(address) for address in self._vetted(host, port)]

    def _vetted(self, host: str, port: int | None) -> list[Address]:
        """:meth:`resolve`, returning ``ipaddress`` objects."""
        bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        try:
            name = normalize_host(bare)
        except ValueError:
            name = bare.rstrip(".").lower()
        ports = self.ports
        if ports is not None and port not in frozenset(ports):
            shown = ", ".join(str(p) for p in sorted(ports))
            raise blocked(
                host,
                None,
                f"port {port} is not one of SSRFPolicy(ports=...) ({shown})",
                "add the port to ports= if it is intended",
            )
        rule = self._deny.match_name(name)
        if rule is not None:
            raise blocked(host, None, f"{name} matches the deny rule {rule!r}", None)
        literal = parse_literal(bare)
        addresses = [literal] if literal is not None else self._lookup(bare, port)
        name_allowed = literal is None and self._allow.match_name(name) is not None
        for address in addresses:
            why = self._refusal(address, name_allowed)
            if why is not None:
                raise blocked(host, str(address), *why)
        return addresses

    def _lookup(self, host: str, port: int | None) -> list[Address]:
        resolver: Resolver = self.resolver or socket.getaddrinfo
        found: list[Address] = []
        for entry in resolver(host, port, allowed_gai_family(), socket.SOCK_STREAM):
            sockaddr = entry[4]
            try:
                address = ipaddress.ip_address(sockaddr[0])
            except (ValueError, TypeError, IndexError):
                raise blocked(
                    host, str(sockaddr), f"{sockaddr!r} is not an IP address", None
                ) from None
            if address not in found:
                found.append(address)
        if not found:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} resolved to no address")
        return found

    def _refusal(self, address: Address, name_allowed: bool) -> tuple[str, str | None] | None:
        """``(rule, hint)`` if ``address`` is refused; ``None`` if it may be used."""
        embedded = _embedded_ipv4(address)
        candidates: list[Address] = [address, *(embedded[1] if embedded else ())]
        for candidate in candidates:
            rule = self._deny.match_address(candidate)
            if rule is not None:
                return f"{candidate} matches the deny rule {rule!r}", None
        if name_allowed or any(self._allow.match_address(c) for c in candidates):
            return None
        why = judge(address)
        return (why, _ALLOW_HINT) if why is not None else None


def blocked(
    host: str, address: str | None, rule: str, hint: str | None = _ALLOW_HINT
) -> BlockedAddress:
    where = host if address is None or address == host.strip("[]") else f"{host} ({address})"
    message = f"SSRF policy refused {where}: {rule}"
    if hint:
        message += f"; {hint}"
    return BlockedAddress(message, host=host, address=address, rule=rule)


def check_ssrf(where: str, value: Any) -> SSRFPolicy | None:
    """Validate an ``ssrf=`` setting: a policy, ``True`` (the defaults), ``False``/``None``
    (none), or a mapping of ``allow``/``deny``/``ports`` (config files)."""
    return from_setting(
        SSRFPolicy,
        value,
        f"{where}: ssrf",
        keys=("allow", "deny", "ports"),
        expected="an httpkit.SSRFPolicy, True, False or None (a resolver can be given in "
        "code only)",
    )
