"""Shared fixtures: every test starts from an environment it controls."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import trustme
from hypothesis import settings

from tests.integration.raw import RawServer, raw_server
from tests.integration.redis_server import RedisServer
from tests.integration.servers import ScriptedServer, serve
from tests.integration.tls_servers import TLSServer, serve_tls, server_context

# tests/typing holds code for mypy only; it is never imported or run.
collect_ignore = ["typing"]

# The httpkit_clock fixture, as users of httpkit.testing get it.
pytest_plugins = ["httpkit.testing"]

# In CI, Hypothesis tries the same examples on every run, so that a run fails only for a
# change; elsewhere it explores new ones each time.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# This machine (and many CI images) set these; tests that need them set them explicitly.
_ENVIRONMENT_VARIABLES = (
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NETRC",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove CA-bundle, netrc and proxy variables so that no test depends on the machine."""
    for name in _ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serve("127.0.0.1") as state:
        yield state


@pytest.fixture
def server2() -> Iterator[ScriptedServer]:
    """A second server, on another loopback address: another origin."""
    with serve("127.0.0.2") as state:
        yield state


@pytest.fixture
def raw() -> Iterator[RawServer]:
    """A raw-socket server that serves every body shape, trickled, endless or hanging."""
    with raw_server("127.0.0.1") as state:
        yield state


@pytest.fixture
def untrusted_https() -> Iterator[TLSServer]:
    """An HTTPS server on 127.0.0.2 whose CA no client here trusts."""
    leaf = trustme.CA().issue_cert("127.0.0.2")
    with serve_tls(server_context(leaf), "127.0.0.2") as state:
        yield state


@pytest.fixture(scope="session")
def redis_server_process() -> Iterator[RedisServer]:
    """One Redis-compatible server per test worker."""
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def redis_url(redis_server_process: RedisServer) -> str:
    """The URL of the worker's server, emptied for this test."""
    if not redis_server_process.ping():
        redis_server_process.start()
    redis_server_process.flush()
    return redis_server_process.url


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A server of this test's own, which it may kill, pause and start again."""
    server = RedisServer()
    server.start()
    yield server
    server.close()
