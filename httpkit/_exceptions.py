"""httpkit's errors.

Everything httpkit raises itself derives from :class:`HttpkitError` and, where one fits,
from the matching requests exception, so ``except requests.RequestException`` keeps
working::

    HttpkitError
     ├─ ConfigError(HttpkitError, ValueError)                     bad settings, config files
     ├─ AuthError(HttpkitError, requests.RequestException)        an auth flow cannot go on
     ├─ BlockedAddress(HttpkitError, requests.ConnectionError)    the SSRF policy refused a target
 ├─ CircuitOpen(HttpkitError, requests.ConnectionError)       the origin's circuit is open
     ├─ DeadlineExceeded(HttpkitError, requests.Timeout)          the call's deadline passed
     ├─ RetryAfterTooLong(HttpkitError, requests.RetryError)      the server asks to wait too long
     ├─ UnreplayableBody(HttpkitError, requests.RequestException) a body that cannot be re-sent
     ├─ BodyTooLarge(HttpkitError, requests.RequestException)     a body larger than max_body
     └─ MiddlewareError(HttpkitError, RuntimeError)               a middleware broke its contract

Errors that requests and urllib3 already name well (``ConnectionError``, ``ReadTimeout``,
``SSLError``) propagate as they are.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.exceptions import RetryError

__all__ = [
    "AuthError",
    "BlockedAddress",
    "BodyTooLarge",
    "CircuitOpen",
    "ConfigError",
    "DeadlineExceeded",
    "HttpkitError",
    "MiddlewareError",
    "RetryAfterTooLong",
    "UnreplayableBody",
]


class HttpkitError(Exception):
    """Base class of every error httpkit raises itself."""


class ConfigError(HttpkitError, ValueError):
    """A setting, a host policy or a config file holds a value httpkit cannot use.

    The message names the setting (and, for files, the file and table) and says what
    would be accepted instead.
    """


class AuthError(HttpkitError, requests.RequestException):
    """An authentication flow cannot go on: a malformed challenge, a failed token fetch."""


class BlockedAddress(HttpkitError, requests.ConnectionError):
    """The SSRF policy refused a target: an internal address, a denied name or port.

    Nothing was sent to the target, and the call is not retried. The message names the
    host, the address and the rule, and says how to allow the target if it is intended.

    Attributes:
        host: the host of the URL, as given (a name or an IP literal).
        address: the address refused, or ``None`` when the name or the port was.
        rule: why, e.g. ``"127.0.0.1 is loopback (127.0.0.0/8)"``.
    """

    def __init__(
        self,
        *args: Any,
        host: str | None = None,
        address: str | None = None,
        rule: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.host = host
        self.address = address
        self.rule = rule

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.args, self.__dict__))


class DeadlineExceeded(HttpkitError, requests.Timeout):
    """The call's wall-clock deadline passed: connecting, waiting, retrying or reading.

    Attributes:
        deadline: the budget, in seconds, that the call had.
    """

    def __init__(self, *args: Any, deadline: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.args, self.__dict__))


class RetryAfterTooLong(HttpkitError, RetryError):
    """The server asked to retry later than ``RetryPolicy.retry_after_max`` allows.

    httpkit does not sleep: the caller decides whether to come back later.

    Attributes:
        retry_after: the wait the server asked for, in seconds.
        response: the response that asked for it (its body is still readable).
    """

    def __init__(self, *args: Any, retry_after: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.args, self.__dict__))


class UnreplayableBody(HttpkitError, requests.RequestException):
    """A retry or a 307/308 redirect would re-send a body that cannot be sent again.

    A generator or a stream that was already read would go out empty; httpkit raises
    this instead. Pass bytes, or a seekable file, to let httpkit re-send the body.
    """

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.args, self.__dict__))


class BodyTooLarge(HttpkitError, requests.RequestException):
    """A response body grew past ``max_body`` bytes once decoded; reading stopped there.

    Attributes:
        limit: the cap, in bytes.
    """

    def __init__(self, *args: Any, limit: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit = limit

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.args, self.__dict__))


class CircuitOpen(HttpkitError, requests.ConnectionError):
    """The origin's circuit is open: the attempt was not sent (``docs/fleet.md``).

    Too many consecutive attempts to the origin failed; no attempt goes until the circuit's
    ``reset_after`` has passed and one trial attempt succeeded. Not retried.

    Attributes:
        origin: the origin whose circuit is open, as ``scheme://host:port``.
    """

    def __init__(self, *args: Any, origin: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.origin = origin

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.args, self.__dict__))


class MiddlewareError(HttpkitError, RuntimeError):
    """A middleware broke its contract, e.g. called ``send`` more often than allowed."""


def _rebuild(cls: type[Exception], args: tuple[Any, ...], state: dict[str, Any]) -> Exception:
    # requests' exceptions take request/response as keyword arguments and keep them in
    # __dict__; the default reduce would pass them positionally. Rebuild, then restore.
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error
