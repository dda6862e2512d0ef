"""HTTP Basic authentication with UTF-8 credentials (RFC 7617)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from requests.auth import HTTPBasicAuth

from httpkit._exceptions import ConfigError
from httpkit._http import CTL
from httpkit.auth._base import OriginBoundAuth

if TYPE_CHECKING:
    from requests import PreparedRequest

__all__ = ["BasicAuth"]


class BasicAuth(OriginBoundAuth, HTTPBasicAuth):
    """Send ``Authorization: Basic <base64(user:password)>``, encoded as UTF-8 (RFC 7617).

    requests' ``HTTPBasicAuth`` encodes as ISO-8859-1, so a password such as ``"пароль"``
    fails there; this class encodes both parts as UTF-8, which is what RFC 7617's
    ``charset="UTF-8"`` asks for and what servers expect. It still is an ``HTTPBasicAuth``
    (``isinstance`` checks keep working) and it sends credentials only to its origin (see
    :class:`~httpkit.auth.OriginBoundAuth`).

    >>> BasicAuth("alice", "s3cret")
    BasicAuth(user='alice', password=<redacted>)

    Args:
        user: The user name; it must not contain ``:`` (RFC 7617 section 2).
        password: The password.

    Raises:
        ConfigError: ``user`` contains ``:`` or a control character, or ``password``
            contains a control character.
    """

    def __init__(self, user: str, password: str) -> None:
        OriginBoundAuth.__init__(self)
        if ":" in user:
            raise ConfigError("BasicAuth user must not contain ':' (RFC 7617 section 2)")
        for what, value in (("user", user), ("password", password)):
            if not CTL.isdisjoint(value):
                raise ConfigError(f"BasicAuth {what} must not contain control characters")
        # HTTPBasicAuth's attribute names, so code written against it keeps working.
        self.username = user
        self.password = password
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self._header = f"Basic {token}"

    @property
    def user(self) -> str:
        """The user name."""
        return str(self.username)

    def _config(self) -> tuple[Any, ...]:
        return (self.username, self.password)

    def __call__(self, r: PreparedRequest) -> PreparedRequest:
        """Add the ``Authorization`` header if ``r.url`` is permitted."""
        if self.permits(r.url):
            r.headers["Authorization"] = self._header
        return r

    def __repr__(self) -> str:
        return f"BasicAuth(user={self.user!r}, password=<redacted>)"
