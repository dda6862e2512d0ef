"""The installed version of httpkit."""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("httpkit")
except metadata.PackageNotFoundError:  # pragma: no cover - a source tree, not installed
    __version__ = "0.0.0"
