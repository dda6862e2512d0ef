"""httpkit's errors.

Everything httpkit raises itself derives from :class:`HttpkitError` and, where one fits,
from the matching requests exception, so ``except requests.RequestException`` keeps
working::

    HttpkitError
     ├─ ConfigError(HttpkitError, ValueError)                  bad settings, config files
     └─ AuthError(HttpkitError, requests.RequestException)     an auth flow that cannot go on

Errors that requests and urllib3 already name well (``ConnectionError``, ``ReadTimeout``,
``SSLError``) propagate as they are.
"""

from __future__ import annotations

import requests

__all__ = ["AuthError", "ConfigError", "HttpkitError"]


class HttpkitError(Exception):
    """Base class of every error httpkit raises itself."""


class ConfigError(HttpkitError, ValueError):
    """A setting, a host policy or a config file holds a value httpkit cannot use.

    The message names the setting (and, for files, the file and table) and says what
    would be accepted instead.
    """


class AuthError(HttpkitError, requests.RequestException):
    """An authentication flow cannot go on: a malformed challenge, a failed token fetch."""
