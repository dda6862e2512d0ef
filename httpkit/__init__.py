"""httpkit: a drop-in ``requests.Session`` that is safe by default."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from httpkit._exceptions import AuthError, ConfigError, HttpkitError

try:
    __version__ = version("httpkit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["AuthError", "ConfigError", "HttpkitError", "__version__"]
