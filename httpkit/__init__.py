"""httpkit: a drop-in ``requests.Session`` that is safe by default.

>>> import httpkit
>>> session = httpkit.Session(timeout=httpkit.Timeouts(connect=3.05, read=30), retry=3)
>>> session.configure("https://api.example.com", timeout=10, headers={"Accept": "application/json"})
HostConfig(timeout=Timeouts(connect=10.0, read=10.0), headers={'Accept': 'application/json'})
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from httpkit._adapters import HostAdapter
from httpkit._exceptions import AuthError, ConfigError, HttpkitError
from httpkit._hosts import HostConfig
from httpkit._retry import RetryHistory, RetryPolicy
from httpkit._session import Session
from httpkit._timeouts import Timeouts

try:
    __version__ = version("httpkit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = [
    "AuthError",
    "ConfigError",
    "HostAdapter",
    "HostConfig",
    "HttpkitError",
    "RetryHistory",
    "RetryPolicy",
    "Session",
    "Timeouts",
    "__version__",
]
