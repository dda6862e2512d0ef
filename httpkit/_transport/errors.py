"""The one error table: what the caller sees for a failure in the layers below.

requests wraps every error urllib3 raises, and urllib3 wraps what a connection raised
(httpkit's own errors among them) in ``MaxRetryError``/``ProtocolError``. The attempt loop
and ``Session.send`` hand every failure to :func:`caller_error`, which:

1. returns httpkit's own error (:class:`~httpkit.BlockedAddress`, ...) found anywhere in the
   chain, with the request attached;
2. turns any failure after the call's deadline passed into :class:`~httpkit.DeadlineExceeded`;
3. reports a TLS failure that will not heal as ``requests.exceptions.SSLError`` with
   httpkit's explanation as its message;
4. reports read timeouts as ``requests.ReadTimeout`` (requests says ``ConnectionError``
   when urllib3 gave up on one);
5. names the number of attempts when retries ran out on a connection error;

and scrubs credentials from the message, once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, NoReturn

import requests
from urllib3.exceptions import InvalidHeader as Urllib3InvalidHeader
from urllib3.exceptions import MaxRetryError, ReadTimeoutError

from httpkit._exceptions import HttpkitError
from httpkit._redact import scrub_exception, strip_query, url_secrets
from httpkit._transport.connection import TLSFailure

#: Errors found inside a failure that no other attempt can cure.
_FINAL: Final = (HttpkitError, TLSFailure, Urllib3InvalidHeader)

if TYPE_CHECKING:
    from requests import PreparedRequest

    from httpkit._call import Call


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps: ``args`` of requests' errors, urllib3's ``reason``, causes."""
    seen: list[BaseException] = []
    todo: list[Any] = [exc]
    while todo and len(seen) < 16:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        todo.extend(a for a in item.args if isinstance(a, BaseException))
        todo.append(getattr(item, "reason", None))
        todo.append(item.__cause__)
    return seen


def cause(exc: BaseException) -> Exception | None:
    """The urllib3-level error one attempt failed with (what ``Retry.increment`` counts)."""
    first = exc.args[0] if exc.args else None
    if isinstance(first, MaxRetryError):
        reason = first.reason
        return reason if isinstance(reason, Exception) else None
    return first if isinstance(first, Exception) else None


def is_final(exc: BaseException) -> bool:
    """Whether no other attempt can cure ``exc``.

    httpkit's refusals, TLS failures that will not heal, and a response whose framing is
    malformed (``Content-Length`` with conflicting values): the server sends it again.
    """
    if isinstance(exc, HttpkitError | requests.exceptions.InvalidHeader):
        return True
    return any(isinstance(e, _FINAL) for e in _chain(exc)[1:])


def is_outage(exc: BaseException) -> bool | None:
    """Whether a failed attempt speaks against the origin's health (a circuit breaker's count).

    ``True`` for connection errors, timeouts and broken responses; ``None`` (no news) for
    httpkit's own refusals, TLS failures that will not heal and malformed headers: the
    origin may be well, the request or the configuration is not.
    """
    if is_final(exc):
        return None
    return True if isinstance(exc, requests.ConnectionError | requests.Timeout) else None


def caller_error(
    exc: BaseException, request: PreparedRequest, call: Call | None, attempts: int = 1
) -> BaseException:
    """The error the caller should see for ``exc`` (see the module docstring)."""
    scrub_exception(exc, url_secrets(request.url or ""))
    chain = _chain(exc)
    mapped = _map(exc, chain, request, call, attempts)
    if all(mapped is not item for item in chain):  # a new error: it wraps the original
        scrub_exception(mapped, url_secrets(request.url or ""))
        mapped.__cause__ = exc
    elif mapped is not exc:
        mapped.__cause__ = None
        mapped.__suppress_context__ = True
    return mapped


def _map(
    exc: BaseException,
    chain: list[BaseException],
    request: PreparedRequest,
    call: Call | None,
    attempts: int,
) -> BaseException:
    for item in chain:
        if isinstance(item, HttpkitError):
            if isinstance(item, requests.RequestException) and item.request is None:
                item.request = request
            return item
    clock = call.clock if call is not None else None
    if clock is not None and (clock.expired or clock.remaining() <= 0):
        return clock.exceeded(request)
    if not isinstance(exc, requests.RequestException):
        return exc
    for item in chain:
        if isinstance(item, TLSFailure):
            return requests.exceptions.SSLError(str(item), request=request)
    reason = cause(exc)
    if isinstance(reason, ReadTimeoutError) and not isinstance(exc, requests.ReadTimeout):
        return requests.ReadTimeout(exc.args[0] if exc.args else reason, request=request)
    if attempts > 1 and type(exc) in (requests.ConnectionError, requests.ConnectTimeout):
        return type(exc)(
            f"{request.method} {strip_query(request.url)} failed after {attempts} attempts; "
            f"last error: {reason if reason is not None else exc}",
            request=request,
        )
    return exc


def fail(
    exc: BaseException, request: PreparedRequest, call: Call | None, attempts: int = 1
) -> NoReturn:
    """Raise :func:`caller_error` for ``exc``, from inside the handler that caught it."""
    mapped = caller_error(exc, request, call, attempts)
    if mapped is exc:
        raise exc
    raise mapped
