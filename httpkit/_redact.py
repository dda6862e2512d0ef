"""Which headers carry credentials, and how to show them without their secrets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

#: Header names (lowercase) whose values are credentials. They are scoped to their origin
#: on redirects and never shown in logs or reprs.
SENSITIVE_HEADERS: Final = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "x-auth-token",
        "x-access-token",
        "x-api-token",
        "private-token",
        "x-amz-security-token",
        "x-goog-api-key",
        "ocp-apim-subscription-key",
    }
)

REDACTED: Final = "<redacted>"


def sensitive_names(extra: Iterable[str] = ()) -> frozenset[str]:
    """The default sensitive set plus ``extra``, lowercased."""
    return SENSITIVE_HEADERS | {name.lower() for name in extra}


def redact_headers(
    headers: Mapping[str, str], sensitive: frozenset[str] = SENSITIVE_HEADERS
) -> dict[str, str]:
    """A copy of ``headers`` with every credential value replaced.

    >>> redact_headers({"Accept": "text/html", "Authorization": "Bearer s3cret"})
    {'Accept': 'text/html', 'Authorization': '<redacted>'}
    """
    return {k: (REDACTED if k.lower() in sensitive else v) for k, v in headers.items()}
