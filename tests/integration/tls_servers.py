"""HTTPS servers on loopback for the TLS tests, with certificates made by trustme.

Each server runs in a thread, does the TLS handshake in the connection's own thread (so a
failed handshake is counted, never fatal) and counts connections, handshakes and requests.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme
from cryptography.hazmat.primitives import serialization

from tests.integration.servers import running


@dataclass
class TLSServer:
    host: str
    port: int
    connections: int = 0  # TCP connections accepted
    handshakes: int = 0  # TLS handshakes attempted
    failed_handshakes: int = 0
    requests: int = 0
    client_certs: list[dict[str, Any] | None] = field(default_factory=list)
    close: bool = False  # answer with "Connection: close"
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def origin(self) -> str:
        return f"https://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.origin + path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        state = self.server.state
        peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        with state.lock:
            state.requests += 1
            state.client_certs.append(peer or None)
        body = b"ok"
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n"
        if state.close:
            head += "Connection: close\r\n"
            self.close_connection = True
        self.wfile.write(head.encode() + b"\r\n" + body)
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: TLSServer
    context: ssl.SSLContext

    def finish_request(self, request: Any, client_address: Any) -> None:
        state = self.state
        with state.lock:
            state.connections += 1
            state.handshakes += 1
        request.settimeout(5)
        tls = self.context.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except OSError:
            with state.lock:
                state.failed_handshakes += 1
            # Close gracefully: closing with the client's request unread would send a TCP
            # reset, and the client could see the reset instead of the TLS alert.
            try:
                tls.shutdown(socket.SHUT_WR)
                tls.settimeout(1)
                while tls.recv(4096):
                    pass
            except OSError:
                pass
            tls.close()
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except OSError:
            pass  # TLS 1.3: a client certificate rejected after the handshake
        finally:
            tls.close()


@contextmanager
def serve_tls(context: ssl.SSLContext, host: str = "127.0.0.1") -> Iterator[TLSServer]:
    """Serve HTTPS with ``context`` on ``host`` (a loopback address) until the block ends."""
    httpd = _Server((host, 0), _Handler)
    httpd.context = context
    httpd.state = TLSServer(host, httpd.server_address[1])
    with running(httpd):
        yield httpd.state


def server_context(
    cert: trustme.LeafCert,
    *,
    max_tls: ssl.TLSVersion | None = None,
    client_ca: trustme.CA | None = None,
) -> ssl.SSLContext:
    """A server context for ``cert``; ``client_ca`` makes client certificates required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    if max_tls is not None:
        context.maximum_version = max_tls
    if client_ca is not None:
        client_ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


LOOPBACK_NAMES = ("127.0.0.1", "127.0.0.2", "localhost")


def expired_cert(ca: trustme.CA) -> trustme.LeafCert:
    now = datetime.datetime.now(datetime.timezone.utc)
    return ca.issue_cert(
        *LOOPBACK_NAMES,
        not_before=now - datetime.timedelta(days=30),
        not_after=now - datetime.timedelta(days=1),
    )


def write_encrypted_key(cert: trustme.LeafCert, path: Path, password: bytes) -> None:
    """Write ``cert``'s private key to ``path``, encrypted with ``password``."""
    key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), password=None)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password),
        )
    )
