"""Shared fixtures: every test starts from an environment it controls."""

from __future__ import annotations

import os

import pytest

# tests/typing holds code for mypy only; it is never imported or run.
collect_ignore = ["typing"]

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
