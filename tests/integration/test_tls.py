"""TLS against real HTTPS servers on 127.0.0.1 and 127.0.0.2 (issue 4, "Done when")."""

from __future__ import annotations

import os
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme

import httpkit
from httpkit._tls import CONTEXTS, pin_of
from tests.integration.tls_servers import (
    LOOPBACK_NAMES,
    TLSServer,
    expired_cert,
    serve_tls,
    server_context,
    write_encrypted_key,
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_path(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def other_ca_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("other") / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def leaf(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert(*LOOPBACK_NAMES)


@pytest.fixture
def server(leaf: trustme.LeafCert) -> Iterator[TLSServer]:
    with serve_tls(server_context(leaf), "127.0.0.1") as state:
        yield state


@pytest.fixture
def server2(leaf: trustme.LeafCert) -> Iterator[TLSServer]:
    with serve_tls(server_context(leaf), "127.0.0.2") as state:
        yield state


def _ssl_error(session: httpkit.Session, url: str, **kwargs: Any) -> str:
    with pytest.raises(requests.exceptions.SSLError) as info:
        session.get(url, **kwargs)
    return str(info.value)


# -- trust sources ---------------------------------------------------------------------------


def test_untrusted_ca_fails_once_naming_host_and_cause(server: TLSServer) -> None:
    with httpkit.Session() as s:  # certifi: the test CA is unknown
        message = _ssl_error(s, server.url())
    assert f"127.0.0.1:{server.port}" in message
    assert "unknown CA" in message
    assert "trust=" in message  # how to fix it without verify=False
    assert server.handshakes == 1  # not retried, although the policy retries 3 times
    assert server.requests == 0


def test_trust_ca_path_passes(server: TLSServer, ca_path: str) -> None:
    with httpkit.Session(trust=ca_path) as s:
        assert s.get(server.url()).text == "ok"


def test_trust_ca_directory_passes(server: TLSServer, ca: trustme.CA, tmp_path: Path) -> None:
    # OpenSSL finds CAs in a directory by subject hash: <hash>.0 (see c_rehash).
    pem = ca.cert_pem.bytes()
    (tmp_path / "ca.pem").write_bytes(pem)
    digest = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", str(tmp_path / "ca.pem")],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if not digest:
        pytest.skip("the openssl command is not available to name the hashed CA file")
    (tmp_path / "ca.pem").unlink()
    (tmp_path / f"{digest}.0").write_bytes(pem)
    with httpkit.Session(trust=str(tmp_path)) as s:
        assert s.get(server.url()).status_code == 200


def test_per_host_trust_applies_to_its_host_only(
    server: TLSServer, server2: TLSServer, ca_path: str
) -> None:
    with httpkit.Session() as s:
        s.configure(server.origin, trust=ca_path)
        assert s.get(server.url()).status_code == 200
        message = _ssl_error(s, server2.url())
    assert f"127.0.0.2:{server2.port}" in message
    assert server2.handshakes == 1


def test_session_trust_beats_the_environment(
    server: TLSServer, ca_path: str, other_ca_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", other_ca_path)
    with httpkit.Session(trust=ca_path) as s:
        assert s.get(server.url()).status_code == 200
    with httpkit.Session() as s:  # nothing set: the environment's (wrong) CA applies
        assert "unknown CA" in _ssl_error(s, server.url())


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"])
def test_environment_ca_bundle_applies_when_nothing_is_set(
    server: TLSServer, ca_path: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, ca_path)
    with httpkit.Session() as s:
        assert s.get(server.url()).status_code == 200


def test_explicit_verify_path_beats_the_environment(
    server: TLSServer, ca_path: str, other_ca_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", other_ca_path)
    with httpkit.Session() as s:
        assert s.get(server.url(), verify=ca_path).status_code == 200
        s.verify = ca_path
        assert s.get(server.url()).status_code == 200


def _send_verify_true(s: httpkit.Session, url: str, path: str) -> requests.Response:
    if path == "get":
        return s.get(url, verify=True)
    if path == "request":
        return s.request("GET", url, verify=True)
    return s.send(s.prepare_request(requests.Request("GET", url)), verify=True)


@pytest.mark.parametrize("path", ["get", "request", "send"])
def test_explicit_verify_true_never_takes_the_environment_ca(
    server: TLSServer, ca_path: str, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """requests #3829: a call's own ``verify=True`` means the default CA (certifi here).

    The environment names the CA that would let the handshake succeed.
    """
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_path)
    with httpkit.Session() as s:
        with pytest.raises(requests.exceptions.SSLError, match=r"unknown CA|unable to get"):
            _send_verify_true(s, server.url(), path)
        assert s.get(server.url()).status_code == 200  # unset: the environment applies


def test_merged_environment_settings_keep_requests_meaning(
    server: TLSServer, ca_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``merge_environment_settings(verify=True)`` is requests' "the default": the env applies."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_path)
    with httpkit.Session() as s:
        url = server.url()
        settings = s.merge_environment_settings(url, {}, None, True, None)
        assert settings["verify"] == ca_path
        prepared = s.prepare_request(requests.Request("GET", url))
        assert s.send(prepared, **settings).status_code == 200


# -- certificate failures ----------------------------------------------------------------


def test_hostname_mismatch_fails(ca: trustme.CA, ca_path: str) -> None:
    wrong = ca.issue_cert("wrong.example")
    with serve_tls(server_context(wrong)) as srv, httpkit.Session(trust=ca_path) as s:
        message = _ssl_error(s, srv.url())
        assert "hostname mismatch" in message
        assert f"127.0.0.1:{srv.port}" in message
        assert srv.handshakes == 1


def test_expired_certificate_fails(ca: trustme.CA, ca_path: str) -> None:
    with serve_tls(server_context(expired_cert(ca))) as srv, httpkit.Session(trust=ca_path) as s:
        message = _ssl_error(s, srv.url())
        assert "expired" in message
        assert srv.handshakes == 1


def test_tls12_only_server_is_refused_with_min_tls_13(leaf: trustme.LeafCert, ca_path: str) -> None:
    context = server_context(leaf, max_tls=ssl.TLSVersion.TLSv1_2)
    with serve_tls(context) as srv:
        with httpkit.Session(trust=ca_path) as s:
            assert s.get(srv.url()).status_code == 200  # the default minimum is 1.2
        with httpkit.Session(trust=ca_path, min_tls="1.3") as s:
            message = _ssl_error(s, srv.url())
        assert "protocol version" in message
        assert f"127.0.0.1:{srv.port}" in message
        with httpkit.Session(trust=ca_path) as s:
            s.configure(srv.origin, min_tls="1.3")
            _ssl_error(s, srv.url())
        assert srv.handshakes == 3


# -- client certificates -------------------------------------------------------------------


@pytest.fixture(scope="module")
def client_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("client")
    client = ca.issue_cert("client@example.test")
    files = {
        "cert": str(directory / "client.pem"),
        "key": str(directory / "client.key"),
        "encrypted_key": str(directory / "client-encrypted.key"),
        "both": str(directory / "client-both.pem"),
    }
    client.cert_chain_pems[0].write_to_path(files["cert"])
    client.private_key_pem.write_to_path(files["key"])
    client.private_key_and_cert_chain_pem.write_to_path(files["both"])
    write_encrypted_key(client, Path(files["encrypted_key"]), b"correct horse")
    return files


@pytest.fixture(params=[ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["tls12", "tls13"])
def mtls_server(
    request: pytest.FixtureRequest, ca: trustme.CA, leaf: trustme.LeafCert
) -> Iterator[TLSServer]:
    with serve_tls(server_context(leaf, max_tls=request.param, client_ca=ca)) as state:
        yield state


def test_mtls_passes_with_the_client_certificate(
    mtls_server: TLSServer, ca_path: str, client_files: dict[str, str]
) -> None:
    with httpkit.Session(trust=ca_path) as s:
        s.configure(mtls_server.origin, cert=(client_files["cert"], client_files["key"]))
        assert s.get(mtls_server.url()).status_code == 200
    with httpkit.Session(trust=ca_path) as s:
        s.configure(mtls_server.origin, cert=client_files["both"])
        assert s.get(mtls_server.url()).status_code == 200
    assert mtls_server.client_certs[0] is not None


def test_mtls_fails_without_the_client_certificate(mtls_server: TLSServer, ca_path: str) -> None:
    with httpkit.Session(trust=ca_path) as s:
        message = _ssl_error(s, mtls_server.url())
    assert f"127.0.0.1:{mtls_server.port}" in message
    assert "client certificate" in message
    assert mtls_server.handshakes == 1


def test_mtls_with_a_password_protected_key(
    mtls_server: TLSServer, ca_path: str, client_files: dict[str, str]
) -> None:
    pair = (client_files["cert"], client_files["encrypted_key"])
    with httpkit.Session(trust=ca_path) as s:
        s.configure(mtls_server.origin, cert=pair, key_password="correct horse")
        assert s.get(mtls_server.url()).status_code == 200


def test_password_protected_key_from_a_config_file(
    mtls_server: TLSServer,
    ca_path: str,
    client_files: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLIENT_KEY_PASSWORD", "correct horse")
    config = {
        "session": {"trust": ca_path},
        "hosts": {
            mtls_server.origin: {
                "cert": [client_files["cert"], client_files["encrypted_key"]],
                "cert_password_env": "CLIENT_KEY_PASSWORD",
            }
        },
    }
    with httpkit.Session.from_config(config) as s:
        assert s.get(mtls_server.url()).status_code == 200


def test_encrypted_key_without_password_is_a_clear_error(
    server: TLSServer, ca_path: str, client_files: dict[str, str]
) -> None:
    pair = (client_files["cert"], client_files["encrypted_key"])
    with httpkit.Session(trust=ca_path) as s, pytest.raises(OSError, match="key_password"):
        s.get(server.url(), cert=pair)


# -- pinning ---------------------------------------------------------------------------------


def test_matching_pin_passes(server: TLSServer, ca_path: str, leaf: trustme.LeafCert) -> None:
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    with httpkit.Session(trust=ca_path) as s:
        s.configure(server.origin, pins={pin_of(der), "sha256:" + "0" * 64})
        assert s.get(server.url()).status_code == 200


def test_pin_mismatch_fails_naming_host_and_pin(server: TLSServer, ca_path: str) -> None:
    pin = "sha256:" + "ab" * 32
    with httpkit.Session(trust=ca_path) as s:
        s.configure(server.origin, pins={pin})
        message = _ssl_error(s, server.url())
    assert "pin mismatch" in message
    assert pin in message
    assert f"127.0.0.1:{server.port}" in message
    assert server.handshakes == 1
    assert server.requests == 0


# -- verify=False ----------------------------------------------------------------------------


def test_verify_false_with_requests_ca_bundle_set_still_skips_verification(
    server: TLSServer, other_ca_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", other_ca_path)
    with httpkit.Session() as s:
        urls = [server.url(), server.url("/again")]
        with pytest.warns(httpkit.InsecureRequestWarning) as caught:
            statuses = [s.get(url, verify=False).status_code for url in urls]
    assert statuses == [200, 200]
    assert len(caught) == 1  # once per host, and no urllib3 warning per request
    message = str(caught[0].message)
    assert "127.0.0.1" in message
    assert "trust=" in message
    assert caught[0].filename == __file__  # points at the caller


def test_verify_false_warns_once_per_host(server: TLSServer, server2: TLSServer) -> None:
    with httpkit.Session() as s:
        s.verify = False
        urls = [server.url(), server2.url()] * 3
        with pytest.warns(httpkit.InsecureRequestWarning) as caught:
            statuses = [s.get(url).status_code for url in urls]
    assert statuses == [200] * 6
    assert sorted(str(w.message).split()[6] for w in caught) == ["127.0.0.1", "127.0.0.2"]


def test_verified_request_after_verify_false_is_verified(server: TLSServer, ca_path: str) -> None:
    with httpkit.Session() as s:
        with pytest.warns(httpkit.InsecureRequestWarning):
            assert s.get(server.url(), verify=False).status_code == 200
        # The unverified connection is pooled, but never used for a verified request.
        assert "unknown CA" in _ssl_error(s, server.url())
        assert s.get(server.url(), verify=ca_path).status_code == 200
    assert server.connections == 3


def test_verified_connection_is_not_reused_unverified_either(
    server: TLSServer, ca_path: str
) -> None:
    with httpkit.Session(trust=ca_path) as s:
        s.get(server.url())
        s.get(server.url())
        assert server.connections == 1  # keep-alive works
        with pytest.warns(httpkit.InsecureRequestWarning):
            s.get(server.url(), verify=False)
        assert server.connections == 2


def test_host_policy_does_not_inherit_verify_false_from_another_host(
    server: TLSServer, server2: TLSServer
) -> None:
    with httpkit.Session() as s:
        s.configure(server.origin, verify=False)
        s.configure("https://*.example.test", verify=False)
        with pytest.warns(httpkit.InsecureRequestWarning):
            assert s.get(server.url()).status_code == 200
        _ssl_error(s, server2.url())


# -- one context per configuration ---------------------------------------------------------


def test_one_context_per_configuration_and_no_file_reads_per_connection(
    server: TLSServer, ca_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[Any] = []
    original = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args or kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    CONTEXTS.clear()
    server.close = True  # every request needs a new connection
    with httpkit.Session() as s:
        for _ in range(5):
            assert s.get(server.url(), verify=ca_path).status_code == 200
    with httpkit.Session(trust=ca_path) as s:
        for _ in range(5):
            assert s.get(server.url()).status_code == 200
    assert server.connections == 10
    assert len(loads) == 1  # one context, shared by both sessions


def test_changed_ca_file_is_read_again(
    server: TLSServer, ca_path: str, other_ca_path: str, tmp_path: Path, monkeypatch: Any
) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(Path(other_ca_path).read_bytes())
    server.close = True
    with httpkit.Session(trust=str(bundle)) as s:
        _ssl_error(s, server.url())
        bundle.write_bytes(Path(ca_path).read_bytes())
        future = time.time() + 5
        os.utime(bundle, (future, future))
        monkeypatch.setattr("httpkit._tls._RECHECK_SECONDS", 0.0)
        assert s.get(server.url()).status_code == 200
