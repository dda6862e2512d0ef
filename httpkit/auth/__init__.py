"""Authentication plugins: :class:`BasicAuth`, :class:`DigestAuth`, :class:`TokenAuth`.

Every plugin derives from :class:`OriginBoundAuth`: its credentials go only to the origin
of the first request it is applied to, or to the targets of the host policy it was given
to with ``Session.configure(..., auth=...)``.
"""

from __future__ import annotations

import typing as _typing

from httpkit._lazy import on_first_use as _on_first_use
from httpkit.auth._base import OriginBoundAuth
from httpkit.auth._basic import BasicAuth

if _typing.TYPE_CHECKING:
    from httpkit.auth._digest import DigestAuth
    from httpkit.auth._token import TokenAuth

__all__ = ["BasicAuth", "DigestAuth", "OriginBoundAuth", "TokenAuth"]


# Plugins whose module loads when first used (each brings its own dependencies).
__getattr__, __dir__ = _on_first_use(
    globals(), {"DigestAuth": "httpkit.auth._digest", "TokenAuth": "httpkit.auth._token"}
)
