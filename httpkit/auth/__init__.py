"""Authentication plugins: :class:`BasicAuth`, :class:`DigestAuth`, :class:`TokenAuth`.

Every plugin derives from :class:`OriginBoundAuth`: its credentials go only to the origin
of the first request it is applied to, or to the targets of the host policy it was given
to with ``Session.configure(..., auth=...)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from httpkit.auth._base import OriginBoundAuth
from httpkit.auth._basic import BasicAuth

if TYPE_CHECKING:
    from httpkit.auth._digest import DigestAuth
    from httpkit.auth._token import TokenAuth

__all__ = ["BasicAuth", "DigestAuth", "OriginBoundAuth", "TokenAuth"]


#: Plugins whose module loads when first used (each brings its own dependencies).
_ON_FIRST_USE = {"DigestAuth": "httpkit.auth._digest", "TokenAuth": "httpkit.auth._token"}


def __getattr__(name: str) -> Any:
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module 'httpkit.auth' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_ON_FIRST_USE))
