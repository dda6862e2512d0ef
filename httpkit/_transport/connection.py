"""httpkit's connection and pool classes: one per scheme, declared here.

:class:`HTTPConnection` and :class:`HTTPSConnection` run the steps of opening and using a
connection in a fixed order:

1. **SSRF vetting** (``_new_conn``): the host is resolved once through the hop's
   :class:`~httpkit.SSRFPolicy`, every address is vetted, and the socket is opened to a
   vetted address (no second lookup). Through a proxy the adapter vets the target instead.
2. **TLS checks** (``connect``, HTTPS only): pins are compared with the server's
   certificate, and a failure that will not heal (unknown CA, expired certificate, no
   common TLS version, a refused client certificate) is raised as :class:`TLSFailure`,
   which the attempt loop does not retry.
3. **Deadline registration** (``request``): the socket is registered with the call's
   deadline, so the watchdog can shut it down; the socket itself is kept, because
   ``http.client`` drops the connection's reference to it while a close-delimited body is
   still being read.
4. **Trailer limit** (``getresponse``): a chunked body's trailer section may not grow past
   :data:`TRAILER_LIMIT` bytes.

The pools use these classes for direct and proxied connections alike; ``Growing*`` pools
never discard a connection handed back (``pool_maxsize=None``). The call being served is
read from ``httpkit._call`` (urllib3 calls these methods with signatures of its own).
"""

from __future__ import annotations

import contextlib
import queue
import socket
import ssl
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from urllib3 import connection as _connection
from urllib3 import connectionpool as _connectionpool
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    ProtocolError,
)
from urllib3.exceptions import SSLError as _Urllib3SSLError
from urllib3.util import Timeout
from urllib3.util.ssl_match_hostname import CertificateError

from httpkit import _call
from httpkit._tls import TLSConfig, config_of, explain_failure, pin_of

if TYPE_CHECKING:
    from httpkit._ssrf import SSRFPolicy

#: The smallest socket timeout handed to urllib3 (0 would mean non-blocking sockets).
_MIN_TIMEOUT: Final = 0.001
#: The most bytes of trailer lines (after a chunked body's last chunk) read before giving up.
TRAILER_LIMIT: Final = 64 * 1024


class DeadlineTimeout(Timeout):
    """A urllib3 ``Timeout`` whose connect and read timeouts never exceed the deadline.

    urllib3 reads ``connect_timeout`` before connecting and ``read_timeout`` before waiting
    for the response, so each attempt gets what is left of the call's budget at that moment.
    """

    def __init__(self, clock: Any, connect: Any = None, read: Any = None) -> None:
        super().__init__(connect=connect, read=read)
        self.clock = clock

    @property
    def configured(self) -> tuple[Any, Any]:
        """The ``(connect, read)`` timeouts before the deadline caps them."""
        return (self._connect, self._read)

    def clone(self) -> DeadlineTimeout:
        # urllib3 clones for every attempt; the values were validated when first built.
        copy = object.__new__(DeadlineTimeout)
        copy.__dict__.update(self.__dict__)
        copy._start_connect = None
        return copy

    def _cap(self, value: Any) -> Any:
        left = max(self.clock.remaining(), _MIN_TIMEOUT)
        if value is None or not isinstance(value, int | float):
            return left
        return min(value, left)

    @property
    def connect_timeout(self) -> Any:
        return self._cap(super().connect_timeout)

    @property
    def read_timeout(self) -> Any:
        return self._cap(super().read_timeout)


class TLSFailure(_Urllib3SSLError):
    """A TLS failure that will not heal; the message names the host and the cause.

    A urllib3 ``SSLError``, so requests reports it as ``requests.exceptions.SSLError``; the
    error table marks it final, so no attempt follows.
    """

    @classmethod
    def at(cls, host: str, port: int | None, why: str) -> TLSFailure:
        where = f"{host}:{port}" if port else host
        return cls(f"TLS with {where} failed: {why}")


def _hop_ssrf() -> SSRFPolicy | None:
    call = _call.current()
    hop = call.hop if call is not None else None
    settings = hop.settings if hop is not None else None
    return settings.ssrf if settings is not None else None


class _TrailerGuard:
    """Stands in for a chunked response's socket file; bounds runs of ``readline``.

    Chunk-size lines alternate with reads of chunk data; only the trailer section (and a
    server that never ends it) reads line after line. More than :data:`TRAILER_LIMIT`
    bytes of consecutive lines raise a ``ProtocolError``, which requests reports as
    ``ChunkedEncodingError``.
    """

    __slots__ = ("_fp", "_lines")

    def __init__(self, fp: Any) -> None:
        self._fp = fp
        self._lines = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fp, name)

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self._fp.readline(limit)
        self._lines += len(line)
        if self._lines > TRAILER_LIMIT:
            raise ProtocolError(
                f"the response's trailer section is larger than {TRAILER_LIMIT // 1024} KiB"
            )
        return line

    def read(self, *args: Any) -> bytes:
        self._lines = 0
        return self._fp.read(*args)  # type: ignore[no-any-return]

    def readinto(self, buffer: Any) -> int:
        self._lines = 0
        return self._fp.readinto(buffer)  # type: ignore[no-any-return]

    def read1(self, *args: Any) -> bytes:
        self._lines = 0
        return self._fp.read1(*args)  # type: ignore[no-any-return]


def _close_descriptor(sock: socket.socket) -> None:
    """Close the socket's descriptor even while a file made from it is still open.

    ``socket.close()`` waits for every ``makefile()`` to close first; the level below
    closes at once and marks the socket closed, so the file's own close later is harmless.
    """
    with contextlib.suppress(OSError):
        socket.socket.__base__.close(sock)  # type: ignore[union-attr]


class HTTPConnection(_connection.HTTPConnection):
    """urllib3's connection with SSRF vetting, deadline registration and a trailer limit."""

    #: The SSRF policy this connection was vetted under (``None``: none applied).
    _httpkit_ssrf: SSRFPolicy | None = None
    #: The deadline of the call using this connection now (see ``Deadline.watch``).
    _httpkit_clock: Any = None
    #: The pool this connection belongs to (its counts: ``pool_stats()``).
    _httpkit_pool: Any = None

    def _new_conn(self) -> socket.socket:
        sock = self._vetted_conn()
        pool = self._httpkit_pool
        if pool is not None:
            pool.created += 1
        return sock

    def _vetted_conn(self) -> socket.socket:
        policy = _hop_ssrf()
        self._httpkit_ssrf = policy
        if policy is None or self.proxy is not None:
            # Through a proxy, the adapter vetted the target; the proxy is exempt.
            return super()._new_conn()
        name = self._dns_host
        try:
            addresses = policy._vetted(name, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        failure: Exception | None = None
        try:
            for address in addresses:
                self._dns_host = str(address)
                try:
                    return super()._new_conn()
                except ConnectTimeoutError as exc:  # NewConnectionError too: try the next
                    failure = exc
        finally:
            self._dns_host = name
        assert failure is not None
        raise failure

    def request(self, *args: Any, **kwargs: Any) -> None:
        call = _call.current()
        clock = call.clock if call is not None else None
        self._httpkit_clock = clock
        if clock is not None:
            if self.sock is None:
                self.connect()  # the socket must exist to be watched
            assert self.sock is not None
            clock.watch(self, self.sock)
        super().request(*args, **kwargs)

    def getresponse(self) -> Any:
        sock = self.sock
        try:
            response: Any = super().getresponse()
        except BaseException:
            if sock is not None:
                # A response urllib3 refused (conflicting Content-Length) still holds the
                # socket through http.client's file; close the descriptor now, not at GC.
                _close_descriptor(sock)
            raise
        # The socket of the body: a close-delimited response keeps it after the
        # connection let go of it (the adapter restores a streamed body's read timeout).
        response._httpkit_sock = sock
        original: Any = response._original_response
        if original is not None and original.chunked and original.fp is not None:
            original.fp = _TrailerGuard(original.fp)
        return response


class HTTPSConnection(HTTPConnection, _connection.HTTPSConnection):
    """The HTTPS connection: the steps above, with pins and TLS failure reports at connect."""

    def connect(self) -> None:
        config = config_of(self.ssl_context)
        try:
            super().connect()
        except (ssl.SSLError, CertificateError) as exc:
            why = explain_failure(exc, config)
            if why is None:
                raise
            raise TLSFailure.at(self.host, self.port, why) from exc
        self._check_pins(config)

    def _check_pins(self, config: TLSConfig | None) -> None:
        if config is None or not config.pins:
            return
        der = self.sock.getpeercert(binary_form=True) if self.sock is not None else None  # type: ignore[union-attr]  # an SSLSocket once connected
        pin = pin_of(der) if der else "no certificate"
        if pin not in config.pins:
            self.close()
            raise TLSFailure.at(
                self.host,
                self.port,
                f"pin mismatch: the server's certificate is {pin}, which is none of the "
                f"pins configured for {self.host} ({', '.join(sorted(config.pins))})",
            )

    def getresponse(self) -> Any:
        try:
            return super().getresponse()
        except ssl.SSLError as exc:
            # TLS 1.3 servers reject a client certificate after the handshake.
            why = explain_failure(exc, config_of(self.ssl_context))
            if why is None:
                raise
            raise TLSFailure.at(self.host, self.port, why) from exc


class _UnboundedLifoQueue(queue.LifoQueue):  # type: ignore[type-arg]  # holds connections or None
    """A LIFO queue that never refuses a connection handed back.

    urllib3 discards a connection returned to a full pool ("Connection pool is full,
    discarding connection"). Ignoring ``maxsize`` keeps every connection that was needed
    at the same time, so the pool grows to the peak number of threads sharing the host.
    """

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(0)


def _fresh_for_policy(conn: Any) -> Any:
    """Close a pooled connection vetted under another SSRF policy (or none) than the hop's.

    A policy changed by ``configure()`` keeps the adapter and its pools; connections it
    opened before must not skip the new policy.
    """
    policy = _hop_ssrf()
    if (
        policy is not None
        and getattr(conn, "sock", None) is not None
        and getattr(conn, "proxy", None) is None
        and getattr(conn, "_httpkit_ssrf", None) != policy
    ):
        conn.close()
    return conn


class PoolStats(NamedTuple):
    """The connections of one origin under one TLS configuration (``Session.pool_stats``).

    Attributes:
        origin: ``scheme://host:port``.
        tls: the TLS configuration (``None`` for plain HTTP): verification, CAs, lowest
            version, and whether a client certificate or pins are set.
        open: connections open now, idle or in use.
        idle: open connections waiting in the pool for the next request.
        in_use: connections lent to a request now.
        created: TCP connections opened since the session started.
        reused: requests sent over a connection that was already open.
        discarded: connections closed since the start (by either side, broken, or not
            kept because the pool was full): ``created - open``.
    """

    origin: str
    tls: str | None
    open: int
    idle: int
    in_use: int
    created: int
    reused: int
    discarded: int


def pool_stats(pool: Any) -> PoolStats | None:
    """The statistics of one of httpkit's pools; ``None`` for a pool of another kind."""
    if not isinstance(pool, _CountedPool):
        return None
    queued = list(pool.pool.queue) if pool.pool is not None else []  # type: ignore[attr-defined]
    idle = sum(1 for conn in queued if conn is not None and conn.sock is not None)
    in_use = max(pool.lent - pool.returned, 0)
    created = pool.created
    config = config_of(pool.conn_kw.get("ssl_context"))  # type: ignore[attr-defined]
    tls = None
    if pool.scheme == "https":  # type: ignore[attr-defined]
        tls = "verify off" if config is None or not config.verify else f"verify {config.ca}"
        if config is not None:
            tls += f", TLS {config.min_tls}+"
            tls += ", client certificate" if config.cert_file else ""
            tls += ", pinned" if config.pins else ""
    host = pool.host  # type: ignore[attr-defined]
    host = f"[{host}]" if ":" in host else host
    origin = f"{pool.scheme}://{host}:{pool.port}"  # type: ignore[attr-defined]
    open_now = min(idle + in_use, created) if created else idle + in_use
    reused = max(pool.lent - created, 0)  # every connection's first request was not reuse
    return PoolStats(origin, tls, open_now, idle, in_use, created, reused, created - open_now)


class _CountedPool:
    """httpkit's pools: the SSRF check of pooled connections, and the counts behind
    ``Session.pool_stats()``: connections lent and returned, TCP connections opened.

    The counts are plain increments, as urllib3's own ``num_requests``: exact unless two
    threads of one pool change one at the same instant.
    """

    lent = 0
    returned = 0
    created = 0

    def _new_conn(self) -> Any:
        conn = super()._new_conn()  # type: ignore[misc]
        conn._httpkit_pool = self
        return conn

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = _fresh_for_policy(super()._get_conn(timeout))  # type: ignore[misc]
        self.lent += 1
        return conn

    def _put_conn(self, conn: Any) -> None:
        self.returned += 1
        super()._put_conn(conn)  # type: ignore[misc]


class _ConnectionClass:
    """The ``ConnectionCls`` of httpkit's pools: httpkit's connection class, unless urllib3's
    own pool class was given another one since.

    Test recorders (vcrpy, betamax) set ``urllib3.HTTPConnectionPool.ConnectionCls`` to a
    class of theirs; a subclass that named its own class would hide theirs, and a suite
    meant to be offline would reach the network. Then their class serves instead (and
    what httpkit's class adds: SSRF vetting of addresses, deadline cuts of the socket,
    trailer limits, pins, is left to the recording).
    """

    def __init__(self, ours: type, base: type, original: type) -> None:
        self.ours = ours
        self.base = base
        self.original = original  # urllib3's class, which httpkit's derives from

    def __get__(self, pool: object, owner: type | None = None) -> type:
        current = self.base.__dict__.get("ConnectionCls", self.original)
        return self.ours if current is self.original else current


class HTTPConnectionPool(_CountedPool, _connectionpool.HTTPConnectionPool):
    ConnectionCls = _ConnectionClass(
        HTTPConnection, _connectionpool.HTTPConnectionPool, _connection.HTTPConnection
    )


class HTTPSConnectionPool(_CountedPool, _connectionpool.HTTPSConnectionPool):
    ConnectionCls = _ConnectionClass(
        HTTPSConnection, _connectionpool.HTTPSConnectionPool, _connection.HTTPSConnection
    )

    def _validate_conn(self, conn: Any) -> None:
        # httpkit warned once per host about verify=False; urllib3 would warn per request.
        config = config_of(self.conn_kw.get("ssl_context"))
        if config is None or config.verify:
            super()._validate_conn(conn)
            return
        _connectionpool.HTTPConnectionPool._validate_conn(self, conn)
        if conn.is_closed:
            conn.connect()


class GrowingHTTPConnectionPool(HTTPConnectionPool):
    QueueCls = _UnboundedLifoQueue


class GrowingHTTPSConnectionPool(HTTPSConnectionPool):
    QueueCls = _UnboundedLifoQueue


#: Pool classes by scheme: fixed-size pools, and pools that grow (``pool_maxsize=None``).
FIXED_POOLS: Final = {"http": HTTPConnectionPool, "https": HTTPSConnectionPool}
GROWING_POOLS: Final = {"http": GrowingHTTPConnectionPool, "https": GrowingHTTPSConnectionPool}


def prepare_pool(pool: Any) -> TLSConfig | None:
    """Make a pool use its context as is; returns its configuration (``None``: not httpkit's).

    requests' ``cert_verify`` would set ``ca_certs``/``cert_file`` on the pool, and urllib3
    would then load those files into the context on every new connection.
    """
    conn_kw = getattr(pool, "conn_kw", None)
    config = config_of(conn_kw.get("ssl_context")) if isinstance(conn_kw, dict) else None
    if config is None:
        return None
    pool.cert_reqs = "CERT_REQUIRED" if config.verify else "CERT_NONE"
    pool.ca_certs = pool.ca_cert_dir = pool.cert_file = pool.key_file = pool.key_password = None
    return config
