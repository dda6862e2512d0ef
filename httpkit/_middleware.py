"""Middleware: callables wrapped around every request httpkit sends.

A middleware is ``mw(request, send) -> response``: it may change the request, call
``send(request)`` (again, to retry, up to :data:`MAX_SENDS` times), or answer without
sending. Middlewares run in the order given, the first one outermost, around every hop of a
call (each redirect hop is a request of its own), inside retries' reach: what ``send``
returns has already been through the ``RetryPolicy``.

>>> def tag(request, send):
...     request.headers["X-Tag"] = "1"
...     return send(request)
>>> import httpkit
>>> session = httpkit.Session(middlewares=[tag, httpkit.LoggingMiddleware()])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from httpkit._redact import redact_headers, redact_url, scrub, sensitive_names, url_secrets

if TYPE_CHECKING:
    from requests import PreparedRequest, Response

Send: TypeAlias = "Callable[[PreparedRequest], Response]"
Middleware: TypeAlias = "Callable[[PreparedRequest, Send], Response]"

#: How many times one middleware may call ``send`` for one request: retries in middleware
#: must be bounded (the aiohttp cookbook's warning), and this bound holds for all of them.
MAX_SENDS: Final = 10


def middleware_name(middleware: object) -> str:
    return getattr(middleware, "__qualname__", None) or type(middleware).__qualname__


def check_middlewares(where: str, value: Any) -> tuple[Middleware, ...]:
    """Validate a middlewares setting: an iterable of callables.

    Raises:
        ConfigError: naming the entry that is not callable.
    """
    from httpkit._exceptions import ConfigError

    if callable(value) or isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ConfigError(
            f"{where}: middlewares: expected a list of middlewares, got {type(value).__name__}"
        )
    middlewares = tuple(value)
    for middleware in middlewares:
        if not callable(middleware):
            raise ConfigError(
                f"{where}: middlewares: {middleware!r} is not callable; a middleware is "
                "mw(request, send) -> response"
            )
    return middlewares


class LoggingMiddleware:
    """Log one line per request: method, URL without secrets, status, time, attempts.

    At ``DEBUG`` it also logs the request and response headers. Credentials never reach
    the log: ``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie``, API-key
    headers and ``sensitive_headers`` are redacted, and so are the values of query
    parameters named like ``token``, ``key``, ``secret``, ``password``, ``signature`` or
    ``sig``, and passwords in URLs. Failures are logged at ``WARNING`` with the same
    redaction, then raised.

    Args:
        logger: a logger or a logger name (default ``"httpkit"``).
        level: the level of the per-request line.
        sensitive_headers: more header names to redact.

    >>> LoggingMiddleware()
    LoggingMiddleware(logger='httpkit', level='INFO')
    """

    def __init__(
        self,
        logger: logging.Logger | str = "httpkit",
        *,
        level: int = logging.INFO,
        sensitive_headers: Iterable[str] = (),
    ) -> None:
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.level = level
        self.sensitive = sensitive_names(sensitive_headers)

    def __repr__(self) -> str:
        return (
            f"LoggingMiddleware(logger={self.logger.name!r}, "
            f"level={logging.getLevelName(self.level)!r})"
        )

    def __call__(self, request: PreparedRequest, send: Send) -> Response:
        url = redact_url(request.url or "")
        started = time.perf_counter()
        try:
            response = send(request)
        except Exception as exc:
            elapsed = (time.perf_counter() - started) * 1000
            message = scrub(str(exc), url_secrets(request.url or ""))
            self.logger.warning(
                "%s %s failed after %.0f ms: %s: %s",
                request.method,
                url,
                elapsed,
                type(exc).__name__,
                message,
            )
            raise
        elapsed = (time.perf_counter() - started) * 1000
        retries = getattr(response, "retries", None)
        attempts = getattr(retries, "attempts", 1)
        self.logger.log(
            self.level,
            "%s %s -> %s in %.0f ms (%d attempt%s)",
            request.method,
            url,
            response.status_code,
            elapsed,
            attempts,
            "" if attempts == 1 else "s",
        )
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug(
                "request headers: %s", redact_headers(request.headers, self.sensitive)
            )
            self.logger.debug(
                "response headers: %s", redact_headers(response.headers, self.sensitive)
            )
        return response


class _UrllibLogRedaction(logging.Filter):
    """Redacts secret query values in urllib3's own DEBUG lines.

    urllib3 logs each request line (``"GET /path?token=... HTTP/1.1" 200``) at DEBUG, so a
    program that turns on DEBUG logging would otherwise log its tokens.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(a, str) and "?" in a for a in record.args
        ):
            record.args = tuple(
                _redact_target(a) if isinstance(a, str) and "?" in a else a for a in record.args
            )
        return True


def _redact_target(target: str) -> str:
    # urllib3 logs the request target (path and query), not a whole URL.
    if "://" in target:
        return redact_url(target)
    return redact_url("http://h" + target)[len("http://h") :]


#: urllib3's loggers that put request targets (path and query) into their messages.
_URL_LOGGERS: Final = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager")


def install_log_redaction() -> None:
    """Attach the redacting filter to urllib3's loggers that log URLs, once each."""
    for name in _URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _UrllibLogRedaction) for f in logger.filters):
            logger.addFilter(_UrllibLogRedaction())
