"""Authentication plugins: :class:`BasicAuth`, :class:`DigestAuth`, :class:`TokenAuth`.

Every plugin derives from :class:`OriginBoundAuth`: its credentials go only to the origin
of the first request it is applied to, or to the targets of the host policy it was given
to with ``Session.configure(..., auth=...)``.
"""

from __future__ import annotations

from httpkit.auth._base import OriginBoundAuth
from httpkit.auth._basic import BasicAuth
from httpkit.auth._digest import DigestAuth
from httpkit.auth._token import TokenAuth

__all__ = ["BasicAuth", "DigestAuth", "OriginBoundAuth", "TokenAuth"]
