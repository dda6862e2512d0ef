"""TLS: trust sources, minimum version, client certificates, pins and a shared SSLContext cache.

requests expresses TLS through ``verify`` and ``cert``; urllib3 turns them into pool
attributes (``ca_certs``, ``cert_file``) and reads the files again for every new connection.
httpkit resolves the same values (plus ``trust``, ``min_tls``, ``pins`` and a client key
password) into a :class:`TLSConfig`, builds one ``ssl.SSLContext`` per distinct
configuration, and hands urllib3 that context with every file attribute cleared, so a
handshake loads nothing from disk. Files are checked for changes (``stat``) at most once a
second, so a rotated CA bundle or client certificate is picked up for new connections.

Contexts key the connection pools (urllib3 ``PoolKey.key_ssl_context``), so a connection
made with ``verify=False`` can never serve a verified request (CVE-2024-35195).
"""

from __future__ import annotations

import hashlib
import os
import ssl
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final, Protocol

import certifi
import requests
import urllib3
from urllib3.exceptions import InsecureRequestWarning as _Urllib3InsecureRequestWarning
from urllib3.util.ssl_ import create_urllib3_context
from urllib3.util.ssl_match_hostname import CertificateError

from httpkit import _fork
from httpkit._environ import environ_get
from httpkit._exceptions import ConfigError
from httpkit._record import Record
from httpkit._redact import REDACTED

if TYPE_CHECKING:
    from types import FrameType


class TLSLevel(Protocol):
    """One level TLS settings are taken from: a host policy, or the session's settings.

    ``httpkit._policy.HostConfig`` is one; a field it leaves unset holds ``UNSET``.
    """

    @property
    def trust(self) -> object: ...
    @property
    def min_tls(self) -> object: ...
    @property
    def pins(self) -> object: ...
    @property
    def key_password(self) -> object: ...


__all__ = [
    "DEFAULT_MIN_TLS",
    "InsecureRequestWarning",
    "KeyPassword",
    "TLSConfig",
]

#: Trust sources that are not paths.
TRUST_NAMES: Final = ("certifi", "system")
#: Accepted ``min_tls`` values.
MIN_TLS_VERSIONS: Final = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
DEFAULT_MIN_TLS: Final = "1.2"
#: Environment variables naming a CA bundle, in order; read only when nothing was set.
CA_BUNDLE_VARIABLES: Final = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")

_PIN_PREFIX: Final = "sha256:"
_RECHECK_SECONDS: Final = 1.0
_MAX_CONTEXTS: Final = 64


class InsecureRequestWarning(_Urllib3InsecureRequestWarning):
    """An HTTPS request was sent without certificate verification (``verify=False``).

    httpkit warns once per host and session. It subclasses urllib3's warning, so
    ``urllib3.disable_warnings()`` and existing warning filters keep working.
    """


class KeyPassword:
    """The password of an encrypted client key; never shown in ``repr``.

    >>> KeyPassword("s3cret")
    <redacted>
    >>> KeyPassword("s3cret").reveal()
    's3cret'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The password itself."""
        return self._value

    def __repr__(self) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyPassword) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[type[KeyPassword], tuple[str]]:
        return (KeyPassword, (self._value,))


class TLSConfig(Record):
    """One distinct TLS configuration: everything an ``SSLContext`` is built from.

    Args:
        verify: whether the server's certificate is verified.
        ca: ``"certifi"``, ``"system"`` or the path of a CA file or directory (ignored
            when ``verify`` is false).
        min_tls: ``"1.2"`` or ``"1.3"``.
        cert_file: the client certificate (PEM), possibly holding the key too.
        key_file: the client key, when it is a separate file.
        key_password: the client key's password.
        pins: ``"sha256:<hex>"`` digests of the DER certificates accepted for the host;
            empty for no pinning.
    """

    __slots__ = ("ca", "cert_file", "key_file", "key_password", "min_tls", "pins", "verify")
    verify: bool
    ca: str
    min_tls: str
    cert_file: str | None
    key_file: str | None
    key_password: KeyPassword | None
    pins: frozenset[str]

    def __init__(
        self,
        verify: bool = True,
        ca: str = "certifi",
        min_tls: str = DEFAULT_MIN_TLS,
        cert_file: str | None = None,
        key_file: str | None = None,
        key_password: KeyPassword | None = None,
        pins: frozenset[str] = frozenset(),
    ) -> None:
        self._init(locals())

    def describe_trust(self) -> str:
        """How this configuration trusts servers, for error messages."""
        if not self.verify:
            return "verify=False"
        if self.ca in TRUST_NAMES:
            return f"trust={self.ca!r}"
        return f"trust={self.ca!r} (a CA {'directory' if os.path.isdir(self.ca) else 'file'})"

    def files(self) -> tuple[str, ...]:
        """The files this configuration reads (for change detection)."""
        found = []
        if self.verify and self.ca != "system":
            found.append(certifi.where() if self.ca == "certifi" else self.ca)
        found += [f for f in (self.cert_file, self.key_file) if f]
        return tuple(found)


# -- validation (used by HostConfig) -----------------------------------------------------


def check_trust(where: str, value: Any) -> str:
    """Validate ``trust=``: ``"certifi"``, ``"system"`` or an existing CA file or directory.

    Raises:
        ConfigError: naming the bad value, or the ``httpkit[system]`` extra when
            ``"system"`` is asked for and ``truststore`` is not installed.
    """
    if isinstance(value, str) and value in TRUST_NAMES:
        if value == "system":
            _truststore(where)
        return value
    if not isinstance(value, str | os.PathLike):
        raise ConfigError(
            f"{where}: trust: expected 'certifi', 'system' or the path of a CA bundle, "
            f"got {value!r}"
        )
    path = os.fspath(value)
    if not isinstance(path, str) or not os.path.exists(path):
        raise ConfigError(
            f"{where}: trust: the CA bundle {path!r} does not exist; give the path of a PEM "
            "file or a directory of CA certificates, or 'certifi' / 'system'"
        )
    return path


def check_min_tls(where: str, value: Any) -> str:
    """Validate ``min_tls=``: ``"1.2"`` or ``"1.3"`` (``ssl.TLSVersion`` members work too)."""
    if isinstance(value, ssl.TLSVersion):
        for name, version in MIN_TLS_VERSIONS.items():
            if version == value:
                return name
    if isinstance(value, str) and value in MIN_TLS_VERSIONS:
        return value
    raise ConfigError(f"{where}: min_tls: expected '1.2' or '1.3', got {value!r}")


def check_pins(where: str, value: Any) -> frozenset[str]:
    """Validate ``pins=``: ``"sha256:<hex of the DER certificate>"`` strings.

    Colons between hex pairs are accepted; pins are stored in lowercase without them.
    """
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConfigError(
            f"{where}: pins: expected a collection of 'sha256:<hex>' strings, got {value!r}"
        )
    pins = set()
    for pin in value:
        digest = pin[len(_PIN_PREFIX) :] if isinstance(pin, str) else ""
        digest = digest.replace(":", "").lower()
        if (
            not isinstance(pin, str)
            or not pin.lower().startswith(_PIN_PREFIX)
            or len(digest) != 64
            or any(c not in "0123456789abcdef" for c in digest)
        ):
            raise ConfigError(
                f"{where}: pins: {pin!r} is not 'sha256:' followed by the 64 hex digits of the "
                "SHA-256 of the server's DER certificate"
            )
        pins.add(_PIN_PREFIX + digest)
    if not pins:
        raise ConfigError(f"{where}: pins: give at least one pin, or leave pins out")
    return frozenset(pins)


def check_key_password(where: str, value: Any) -> KeyPassword:
    """Validate ``key_password=``: the client key's password as a string."""
    if isinstance(value, KeyPassword):
        return value
    if not isinstance(value, str | bytes) or not value:
        raise ConfigError(f"{where}: key_password: expected a non-empty string")
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError:
            raise ConfigError(f"{where}: key_password: bytes must be UTF-8") from None
    return KeyPassword(value)


def _truststore(where: str) -> Any:
    try:
        import truststore
    except ImportError:
        raise ConfigError(
            f"{where}: trust='system' uses the operating system's trust store through the "
            "truststore package, which is not installed; install it with "
            "pip install 'httpkit[system]'"
        ) from None
    return truststore


def pin_of(der: bytes) -> str:
    """The pin of a DER certificate.

    >>> pin_of(b"not really a certificate")[:15]
    'sha256:d6182255'
    """
    return _PIN_PREFIX + hashlib.sha256(der).hexdigest()


# -- precedence ----------------------------------------------------------------------------


def environ_ca_bundle() -> str | None:
    """The CA bundle named by ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE`` or ``SSL_CERT_FILE``."""
    for name in CA_BUNDLE_VARIABLES:
        value = environ_get(name)
        if value:
            return value
    return None


def resolve_verify(
    call: Any,
    policy_verify: Any,
    policy_trust: Any,
    session_verify: Any,
    session_trust: Any,
    *,
    trust_env: bool,
) -> bool | str:
    """The requests ``verify`` value for one request.

    Levels, strongest first: the call (``verify=``), the host policy (``verify``/``trust``),
    the session (``session.verify``, left at ``True`` it counts as unset, and ``trust``).
    At one level ``verify=False`` or a ``verify`` path beats ``trust``. An explicit
    ``verify=True`` turns verification on (a weaker ``verify=False`` is ignored) and lets
    weaker levels choose the CA, but never the environment. The environment is used only
    when no level set anything.

    Returns:
        ``False``, a CA path, or ``True`` (certifi, or ``trust="system"`` as the adapter
        resolves it from the policy and session).

    >>> resolve_verify(None, None, "/corp/ca.pem", True, "system", trust_env=True)
    '/corp/ca.pem'
    >>> resolve_verify(True, False, None, True, None, trust_env=True)
    True
    """
    explicit = False
    for verify, trust in (
        (call, None),
        (policy_verify, policy_trust),
        (session_verify if session_verify is not True else None, session_trust),
    ):
        if verify is False:
            if not explicit:
                return False
            continue  # a stronger level's verify=True beats it; a weaker level may pick the CA
        if isinstance(verify, str):
            return verify
        if isinstance(trust, str):
            return True if trust in TRUST_NAMES else trust
        if verify is True:
            explicit = True
    if not explicit and trust_env:
        return environ_ca_bundle() or True
    return True


def _pick(policy: TLSLevel, defaults: TLSLevel, name: str) -> Any:
    value = getattr(policy, name)
    if isinstance(value, str | frozenset | KeyPassword):
        return value
    value = getattr(defaults, name)
    return value if isinstance(value, str | frozenset | KeyPassword) else None


def config_for(verify: Any, cert: Any, policy: TLSLevel, defaults: TLSLevel) -> TLSConfig:
    """The :class:`TLSConfig` of one request: requests' ``verify``/``cert`` plus the policy.

    ``verify=True`` uses the policy's ``trust``, else the session's, else certifi.
    """
    if verify is False:
        ca = ""
    elif isinstance(verify, str):
        ca = verify
    else:
        ca = _pick(policy, defaults, "trust") or "certifi"
    cert_file: str | None = None
    key_file: str | None = None
    if isinstance(cert, str):
        cert_file = cert
    elif cert:
        cert_file, key_file = cert[0], cert[1]
    return TLSConfig(
        verify=verify is not False,
        ca=ca,
        min_tls=_pick(policy, defaults, "min_tls") or DEFAULT_MIN_TLS,
        cert_file=cert_file,
        key_file=key_file,
        key_password=_pick(policy, defaults, "key_password") if cert_file else None,
        pins=_pick(policy, defaults, "pins") or frozenset(),
    )


# -- contexts ------------------------------------------------------------------------------

#: The configuration of every context httpkit built, to recognise them in urllib3's pools.
_BUILT: weakref.WeakKeyDictionary[ssl.SSLContext, TLSConfig] = weakref.WeakKeyDictionary()


def config_of(context: object) -> TLSConfig | None:
    """The configuration a context was built from, or ``None`` if httpkit did not build it."""
    if not isinstance(context, ssl.SSLContext):
        return None
    return _BUILT.get(context)


def _no_password() -> str:
    # Without a password callback OpenSSL would prompt on the terminal.
    raise ssl.SSLError("the client key is encrypted and no key_password was given")


def build_context(config: TLSConfig) -> ssl.SSLContext:
    """Build an ``SSLContext`` for ``config``, reading its files once.

    Raises:
        OSError: a CA, certificate or key file cannot be read or used, named in the message
            (an ``OSError``, as requests raises for a missing CA bundle).
        ConfigError: ``trust="system"`` without the truststore package.
    """
    minimum = MIN_TLS_VERSIONS[config.min_tls]
    context: ssl.SSLContext
    if config.verify and config.ca == "system":
        context = _truststore("trust='system'").SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = minimum
    else:
        context = create_urllib3_context(
            ssl_minimum_version=minimum,
            cert_reqs=ssl.CERT_REQUIRED if config.verify else ssl.CERT_NONE,
        )
        if config.verify:
            ca = certifi.where() if config.ca == "certifi" else config.ca
            try:
                if os.path.isdir(ca):
                    context.load_verify_locations(capath=ca)
                else:
                    context.load_verify_locations(cafile=ca)
            except (OSError, ValueError) as exc:
                raise OSError(
                    f"Could not load the TLS CA bundle {ca!r} ({config.describe_trust()}): "
                    f"{getattr(exc, 'strerror', None) or exc}"
                ) from exc
    if config.cert_file:
        password = config.key_password.reveal() if config.key_password else _no_password
        try:
            context.load_cert_chain(config.cert_file, config.key_file, password=password)
        except (OSError, ValueError) as exc:
            hint = (
                "; give the key's password with key_password= (configure) or "
                "cert_password_env (config file)"
                if config.key_password is None and "encrypted" in str(exc)
                else ""
            )
            raise OSError(
                f"Could not load the TLS client certificate {config.cert_file!r}"
                f"{f' with key {config.key_file!r}' if config.key_file else ''}: "
                f"{getattr(exc, 'strerror', None) or exc}{hint}"
            ) from exc
    _BUILT[context] = config
    return context


def _signature(config: TLSConfig) -> tuple[tuple[int, int, int], ...]:
    signature = []
    for path in config.files():
        try:
            st = os.stat(path)
        except OSError as exc:
            raise OSError(_missing_file(config, path)) from exc
        signature.append((st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(signature)


def _missing_file(config: TLSConfig, path: str) -> str:
    """requests' words, to the letter, for a TLS file that is not there."""
    if path == config.cert_file:
        return f"Could not find the TLS certificate file, invalid path: {path}"
    if path == config.key_file:
        return f"Could not find the TLS key file, invalid path: {path}"
    return f"Could not find a suitable TLS CA certificate bundle, invalid path: {path}"


class _Entry:
    """A built context, the signature of the files it was built from, when last checked."""

    __slots__ = ("checked", "context", "signature")

    def __init__(
        self, context: ssl.SSLContext, signature: tuple[tuple[int, int, int], ...], checked: float
    ) -> None:
        self.context = context
        self.signature = signature
        self.checked = checked


class ContextCache:
    """One ``SSLContext`` per distinct :class:`TLSConfig`, shared by every session.

    A context is rebuilt when one of its files changed (checked at most once a second).
    Thread-safe; at most ``_MAX_CONTEXTS`` contexts are kept (least recently built go).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[TLSConfig, _Entry] = {}
        self.builds = 0  # for tests and benchmarks
        _fork.register(self)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # contexts hold no connection: the child keeps them

    def get(self, config: TLSConfig) -> ssl.SSLContext:
        entry = self._entries.get(config)
        now = time.monotonic()
        if entry is not None and now - entry.checked < _RECHECK_SECONDS:
            return entry.context
        signature = _signature(config)
        if entry is not None and entry.signature == signature:
            entry.checked = now
            return entry.context
        with self._lock:
            entry = self._entries.get(config)
            if entry is not None and entry.signature == signature:
                return entry.context
            context = build_context(config)
            self.builds += 1
            self._entries.pop(config, None)
            if len(self._entries) >= _MAX_CONTEXTS:
                del self._entries[next(iter(self._entries))]
            self._entries[config] = _Entry(context, signature, now)
            return context

    def clear(self) -> None:
        """Forget every context: the next connection of each configuration builds anew."""
        with self._lock:
            self._entries.clear()


CONTEXTS: Final = ContextCache()


# -- per-adapter state ---------------------------------------------------------------------


class AdapterTLS:
    """A ``HostAdapter``'s TLS state: resolved configurations and hosts already warned about.

    Recreated by ``init_poolmanager`` (also after unpickling), so it is never pickled.
    """

    __slots__ = ("_lock", "_state", "_warned")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        # (policy, defaults, memo), replaced as one: a memo only ever holds configurations
        # built from its own policy, even while configure() races with requests.
        self._state: tuple[TLSLevel | None, TLSLevel | None, dict[Any, TLSConfig]] = (
            None,
            None,
            {},
        )

    def context_for(
        self, verify: Any, cert: Any, policy: TLSLevel, defaults: TLSLevel
    ) -> tuple[ssl.SSLContext, TLSConfig]:
        """The shared context for one request's settings."""
        state = self._state
        if state[0] is not policy or state[1] is not defaults:
            state = self._state = (policy, defaults, {})
        memo = state[2]
        key = (verify, tuple(cert) if isinstance(cert, list) else cert)
        config = memo.get(key)
        if config is None:
            config = memo[key] = config_for(verify, cert, policy, defaults)
        return CONTEXTS.get(config), config

    def warn_unverified(self, host: str) -> None:
        """Warn, once per host, that certificate verification is off."""
        if host in self._warned:
            return
        with self._lock:
            if host in self._warned:
                return
            self._warned.add(host)
        warnings.warn(
            f"TLS certificate verification is disabled for {host} (verify=False): anyone on "
            f"the network path can read and change this traffic. If {host} uses a private or "
            f"corporate CA, trust that CA instead: session.configure('https://{host}', "
            "trust='/path/to/ca.pem') or httpkit.Session(trust='/path/to/ca.pem').",
            InsecureRequestWarning,
            stacklevel=_caller_stacklevel(),
        )


_INTERNAL_PACKAGES: Final = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep
    for path in (__file__, requests.__file__, urllib3.__file__)
    if path
)


def _caller_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside httpkit, requests and urllib3."""
    level = 1
    frame: FrameType | None = sys._getframe()
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if level > 1 and not filename.startswith(_INTERNAL_PACKAGES):
            return level - 1
        frame = frame.f_back
        level += 1
    return 1


# -- failures --------------------------------------------------------------------------------

_VERIFY_CODES: Final = {
    2: "unknown CA",
    18: "unknown CA (self-signed certificate)",
    19: "unknown CA (self-signed certificate in the chain)",
    20: "unknown CA",
    21: "unknown CA",
    9: "certificate not yet valid",
    10: "certificate expired",
    62: "hostname mismatch",
    64: "hostname mismatch (IP address)",
}
_PROTOCOL_REASONS: Final = frozenset(
    {
        "UNSUPPORTED_PROTOCOL",
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "NO_PROTOCOLS_AVAILABLE",
        "WRONG_SSL_VERSION",
        "TLSV1_ALERT_INSUFFICIENT_SECURITY",
    }
)
_CLIENT_CERT_REASONS: Final = frozenset(
    {
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "TLSV1_ALERT_UNKNOWN_CA",
        "TLSV1_ALERT_ACCESS_DENIED",
    }
)


def explain_failure(exc: BaseException, config: TLSConfig | None) -> str | None:
    """Why a TLS failure will not heal, or ``None`` if it might (then it may be retried)."""
    trust = config.describe_trust() if config is not None else "the default trust"
    if isinstance(exc, ssl.SSLCertVerificationError):
        kind = _VERIFY_CODES.get(exc.verify_code, "certificate rejected")
        detail = exc.verify_message or exc.reason or str(exc)
        if kind.startswith("unknown CA"):
            hint = (
                f"the server's certificate is not issued by a CA this session trusts ({trust}); "
                "if the host uses a private or corporate CA, add it with trust='/path/to/ca.pem' "
                "instead of turning verification off"
            )
        elif kind.startswith("hostname"):
            hint = "the certificate was issued for another name; check the URL's host"
        elif "expired" in kind or "not yet" in kind:
            hint = "the server's certificate is outside its validity period (or the clock is off)"
        else:
            hint = f"trust: {trust}"
        return f"{kind}: {detail}; {hint}"
    if isinstance(exc, CertificateError):
        return f"hostname mismatch: {exc}; the certificate was issued for another name"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        if reason in _PROTOCOL_REASONS:
            wanted = config.min_tls if config is not None else DEFAULT_MIN_TLS
            return (
                f"protocol version: {reason}; the server and this client (min_tls={wanted!r}) "
                "share no TLS version"
            )
        if reason in _CLIENT_CERT_REASONS:
            sent = config is not None and config.cert_file is not None
            return f"client certificate rejected: {reason}; " + (
                "the server did not accept the client certificate sent"
                if sent
                else "the server wants a client certificate: configure cert=(cert, key)"
            )
        if reason == "SSLV3_ALERT_HANDSHAKE_FAILURE":
            sent = config is not None and config.cert_file is not None
            return f"handshake refused: {reason}; " + (
                "the server shares no cipher or version with this client"
                if sent
                else "the server may want a client certificate (configure cert=(cert, key)), "
                "or shares no cipher or version with this client"
            )
        if reason == "WRONG_VERSION_NUMBER":
            return f"{reason}: the server did not answer with TLS (plain HTTP on this port?)"
    return None
