"""The public namespace and the exception tree."""

from __future__ import annotations

import pickle

import pytest
import requests

import httpkit
from httpkit import AuthError, ConfigError, HttpkitError


def test_exported_members() -> None:
    public = sorted(name for name in dir(httpkit) if not name.startswith("_"))
    public = [
        name
        for name in public
        if name not in {"annotations", "auth", "cache", "cli", "stores", "testing"}
    ]
    assert httpkit.__all__ == sorted(httpkit.__all__)
    assert sorted(n for n in httpkit.__all__ if not n.startswith("__")) == public


def test_version_is_the_installed_distribution() -> None:
    from importlib.metadata import version

    assert httpkit.__version__ == version("httpkit")


@pytest.mark.parametrize(
    ("error", "bases"),
    [
        (ConfigError("bad"), (HttpkitError, ValueError)),
        (AuthError("bad"), (HttpkitError, requests.RequestException)),
    ],
)
def test_exceptions_derive_from_httpkit_and_requests(error: Exception, bases: tuple) -> None:
    assert isinstance(error, bases)


@pytest.mark.parametrize("cls", [HttpkitError, ConfigError, AuthError])
def test_exceptions_pickle(cls: type[Exception]) -> None:
    error = cls("configure('x'): unknown setting 'y'")
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is cls
    assert str(restored) == str(error)
