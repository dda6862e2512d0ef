"""HostAdapter: an ``HTTPAdapter`` that carries one host policy's timeouts, retries and pools."""

from __future__ import annotations

import queue
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final

import requests
from requests.adapters import DEFAULT_POOLBLOCK, DEFAULT_POOLSIZE, HTTPAdapter
from requests.exceptions import InvalidHeader
from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError
from urllib3.util import Timeout as Urllib3Timeout

from httpkit._bodies import CappedBody
from httpkit._cache import CacheMiddleware
from httpkit._deadline import (
    ACTIVE_CALL,
    Call,
    DeadlineTimeout,
    WatchedHTTPConnectionPool,
    WatchedHTTPSConnectionPool,
    deadline_exceeded,
)
from httpkit._exceptions import HttpkitError, RetryAfterTooLong
from httpkit._hosts import HostConfig, HostPattern
from httpkit._http import has_forbidden_field_char
from httpkit._middleware import Middleware, chain
from httpkit._ratelimit import RateLimit, RateLimiter
from httpkit._redact import SENSITIVE_HEADERS, scrub_exception, strip_query, url_secrets
from httpkit._retry import (
    BODY_REPLAYABLE,
    DEFAULT_RETRY,
    RetryHistory,
    RetryPolicy,
    body_replayable,
    to_urllib3,
)
from httpkit._ssrf import VettingAdapter
from httpkit._timeouts import DEFAULT_TIMEOUTS, UNSET, Timeouts, _Unset, to_requests_timeout
from httpkit._tls import AdapterTLS, checked_pool_class, prepare_pool

if TYPE_CHECKING:
    from requests import PreparedRequest, Response
    from urllib3.util.retry import Retry

#: Session-level settings when the caller gives none.
DEFAULT_SESSION_CONFIG: Final = HostConfig(
    timeout=DEFAULT_TIMEOUTS, retry=DEFAULT_RETRY, deadline=300.0
)


class _UnboundedLifoQueue(queue.LifoQueue):  # type: ignore[type-arg]  # holds connections or None
    """A LIFO queue that never refuses a connection handed back.

    urllib3 discards a connection returned to a full pool ("Connection pool is full,
    discarding connection"). Ignoring ``maxsize`` keeps every connection that was needed
    at the same time, so the pool grows to the peak number of threads sharing the host.
    """

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(0)


class _GrowingHTTPConnectionPool(WatchedHTTPConnectionPool):
    QueueCls = _UnboundedLifoQueue


class _GrowingHTTPSConnectionPool(WatchedHTTPSConnectionPool):
    QueueCls = _UnboundedLifoQueue


# Every pool's connections register with the deadline watchdog; pools of
# pool_maxsize=None also grow instead of discarding connections.
_GROWING_POOLS: Final = {"http": _GrowingHTTPConnectionPool, "https": _GrowingHTTPSConnectionPool}
_FIXED_POOLS: Final = {"http": WatchedHTTPConnectionPool, "https": WatchedHTTPSConnectionPool}

#: The retry state to resume with, when a send continues a retry sequence after a body
#: broke off mid-way; ``None``: the policy's own ``Retry``.
_RESUMED_RETRY: ContextVar[Any] = ContextVar("httpkit_resumed_retry", default=None)

#: Errors from reading a buffered body that another attempt may cure.
_BODY_ERRORS: Final = (requests.exceptions.ChunkedEncodingError, requests.ConnectionError)


class SessionShared:
    """What every adapter of one session shares: credential header names, rate limiters.

    Pickled once with the session and its adapters, so they keep sharing it; rate-limit
    state is local to a process and starts afresh after unpickling.
    """

    __slots__ = ("limiters", "sensitive")

    def __init__(self, sensitive: frozenset[str] = SENSITIVE_HEADERS) -> None:
        self.sensitive = sensitive
        self.limiters: dict[RateLimit, RateLimiter] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"sensitive": self.sensitive}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["sensitive"])  # type: ignore[misc]  # fresh limiters


class HostAdapter(VettingAdapter):  # SSRF: VettingAdapter.send applies self.ssrf
    """An ``HTTPAdapter`` that applies one host policy.

    Timeouts the caller did not give come from the policy (or the session default),
    retries come from its ``RetryPolicy``, and with ``pool_maxsize=None`` connection pools
    grow instead of discarding connections. Responses carry ``response.retries``.

    Args:
        policy: the settings this host policy sets itself.
        defaults: the session's settings, for everything ``policy`` leaves unset.
        pattern: the target this adapter is mounted for (``None`` for the scheme-wide
            defaults).
        pool_maxsize: connections kept per host; ``None`` keeps as many as were in use at
            once, so threads sharing a host never discard connections.
    """

    # requests pickles the attributes this class-level list names.
    __attrs__ = [  # noqa: RUF012
        *HTTPAdapter.__attrs__,
        "policy",
        "defaults",
        "pattern",
        "pool_maxsize",
        "shared",
    ]

    policy: HostConfig
    defaults: HostConfig
    pattern: HostPattern | None
    pool_maxsize: int | None
    timeouts: Timeouts
    retry: RetryPolicy | Retry
    deadline: float | None
    max_body: int | None
    middlewares: tuple[Middleware, ...]
    _max_retries: Retry
    shared: SessionShared
    _tls: AdapterTLS

    def __init__(
        self,
        policy: HostConfig | None = None,
        *,
        defaults: HostConfig = DEFAULT_SESSION_CONFIG,
        pattern: HostPattern | None = None,
        pool_connections: int = DEFAULT_POOLSIZE,
        pool_maxsize: int | None = None,
        pool_block: bool = DEFAULT_POOLBLOCK,
        shared: SessionShared | None = None,
    ) -> None:
        # Set before super().__init__(), which calls init_poolmanager().
        self.shared = shared if shared is not None else SessionShared()
        self.policy = policy or HostConfig()
        self.defaults = defaults
        self.pattern = pattern
        self.pool_maxsize = pool_maxsize
        self._derive()
        super().__init__(
            pool_connections=pool_connections,
            pool_maxsize=pool_maxsize or DEFAULT_POOLSIZE,
            max_retries=to_urllib3(self.retry),
            pool_block=pool_block,
        )

    def _derive(self) -> None:
        """Compute the effective settings: the policy's, else the session's."""

        def pick(name: str) -> Any:
            value = getattr(self.policy, name)
            return getattr(self.defaults, name) if isinstance(value, _Unset) else value

        self.timeouts = pick("timeout")
        self.retry = pick("retry")
        self.deadline = pick("deadline")
        self.max_body = pick("max_body")
        ssrf = pick("ssrf")  # SSRF: the policy's, else the session's; UNSET in both: none
        self.ssrf = None if isinstance(ssrf, _Unset) else ssrf
        self.max_retries = to_urllib3(self.retry)
        # The session's middlewares wrap the host policy's: both run, session outermost.
        self.middlewares = tuple(
            m
            for config in (self.defaults, self.policy)
            if not isinstance(config.middlewares, _Unset)
            for m in config.middlewares
        ) + self._builtin_middlewares(pick("cache"), pick("rate_limit"))

    def _builtin_middlewares(self, cache: Any, rate_limit: Any) -> tuple[Middleware, ...]:
        """Caching, then rate limiting: inside the user's middlewares, outside the network.

        Cache hits pass through the user's middlewares (logging sees them) and take no
        rate-limit token. A limiter keeps its state when the policy is updated with the
        same limit.
        """
        builtins: list[Middleware] = []
        if cache is not None and not isinstance(cache, _Unset):
            builtins.append(CacheMiddleware(cache, self.shared.sensitive))
        if isinstance(rate_limit, RateLimit):
            # One limiter per limit per session: two policies for one origin share a bucket.
            limiter = self.shared.limiters.get(rate_limit)
            if limiter is None:
                limiter = self.shared.limiters[rate_limit] = RateLimiter(rate_limit)
            builtins.append(limiter)
        return tuple(builtins)

    @property
    def max_retries(self) -> Retry:
        """The policy's ``urllib3.Retry``, or the state of a retry sequence being resumed."""
        resumed: Retry | None = _RESUMED_RETRY.get()
        return resumed if resumed is not None else self._max_retries

    @max_retries.setter
    def max_retries(self, value: Retry) -> None:
        self._max_retries = value

    def update(self, policy: HostConfig) -> None:
        """Replace this adapter's policy in place; pooled connections stay open."""
        self.policy = policy
        self._derive()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.pool_maxsize = state.get("pool_maxsize")
        super().__setstate__(state)
        self._derive()

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = DEFAULT_POOLBLOCK, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes()
        # The per-adapter TLS state is rebuilt here, also after unpickling.
        self._tls = AdapterTLS()

    def _pool_classes(self) -> dict[str, type]:
        """The pool classes for direct and proxied connections alike.

        Every pool registers its connections with the deadline watchdog; HTTPS pools check
        pins and keep certificate failures from being retried; with ``pool_maxsize=None``
        pools grow instead of discarding connections.
        """
        growing = self.pool_maxsize is None and not self._pool_block
        classes = _GROWING_POOLS if growing else _FIXED_POOLS
        return {**classes, "https": checked_pool_class(classes["https"])}

    def build_connection_pool_key_attributes(
        self, request: PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Key HTTPS pools by one shared ``SSLContext`` per distinct TLS configuration.

        The context carries the CA source, minimum version, client certificate and pins,
        so connections made with ``verify=False`` (or another CA) never serve a request
        with other settings. ``verify=False`` warns once per host.
        """
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        if host_params.get("scheme") != "https":
            return host_params, pool_kwargs
        context, config = self._tls.context_for(verify, cert, self.policy, self.defaults)
        if not config.verify:
            self._tls.warn_unverified(str(host_params.get("host")))
        return host_params, {
            "ssl_context": context,
            "cert_reqs": "CERT_REQUIRED" if config.verify else "CERT_NONE",
        }

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Leave an httpkit context as it is; urllib3 would reload its files per connection."""
        if prepare_pool(conn) is None:
            super().cert_verify(conn, url, verify, cert)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = self._pool_classes()
        return manager

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: Any = UNSET,
        verify: Any = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> Response:
        """Send with this policy's timeouts when the caller gave none (``UNSET``).

        An explicit ``timeout=None`` disables timeouts, as in requests. Within a call that
        has a deadline, every attempt's timeouts shrink to what is left of it. With
        ``stream=False``, the body of a retryable request is read here, so that a
        connection that breaks off mid-body is retried like any read error.
        """
        call = ACTIVE_CALL.get()
        # requests' annotations omit urllib3 Timeout objects, which its adapter accepts.
        resolved: Any = (
            self.timeouts.as_tuple() if timeout is UNSET else to_requests_timeout(timeout)
        )
        if call is not None and not isinstance(resolved, Urllib3Timeout):
            connect, read = resolved if isinstance(resolved, tuple) else (resolved, resolved)
            resolved = DeadlineTimeout(call, connect=connect, read=read)

        def send_one(request: PreparedRequest) -> Response:
            if self.middlewares:  # prepare_request checked the headers; middlewares may not
                check_header_values(request)
            token = BODY_REPLAYABLE.set(body_replayable(request))
            try:
                return self._send(request, stream, resolved, verify, cert, proxies, call)
            finally:
                BODY_REPLAYABLE.reset(token)

        if self.middlewares:
            return chain(self.middlewares, send_one)(request)
        return send_one(request)

    def _send(
        self,
        request: PreparedRequest,
        stream: bool,
        timeout: Any,
        verify: Any,
        cert: Any,
        proxies: dict[str, str] | None,
        call: Call | None,
    ) -> Response:
        method = (request.method or "GET").upper()
        buffered = not stream and method in (
            getattr(self.max_retries, "allowed_methods", None) or ()
        )
        resumed = None
        while True:
            token = _RESUMED_RETRY.set(resumed)
            try:
                response = super().send(
                    request,
                    stream=stream,
                    timeout=timeout,
                    verify=verify,
                    cert=cert,
                    proxies=proxies,
                )
            except requests.RequestException as exc:
                raise self._translate(exc, request, call) from exc
            finally:
                _RESUMED_RETRY.reset(token)
            if stream and isinstance(timeout, DeadlineTimeout):
                _restore_read_timeout(response, timeout.configured[1])
            if not buffered:
                return response
            try:
                response.content  # noqa: B018 - read the body while another attempt can help
            except _BODY_ERRORS as exc:
                resumed = self._retry_broken_body(response, request, exc, call)
                continue
            return response

    def _retry_broken_body(
        self,
        response: Response,
        request: PreparedRequest,
        exc: requests.RequestException,
        call: Call | None,
    ) -> Retry:
        """The retry state for another attempt after the body broke off; raise if none."""
        response.close()
        if call is not None and call.remaining() <= 0:
            raise self._translate(exc, request, call) from exc
        retry: Retry = getattr(response.raw, "retries", None) or self.max_retries
        try:
            retry = retry.increment(
                request.method, request.path_url, error=ProtocolError("body broke off", exc)
            )
            retry.sleep()
        except HttpkitError:
            raise
        except Exception:
            raise exc from None  # no retries left: the read error as requests reports it
        return retry

    def _translate(
        self, exc: requests.RequestException, request: PreparedRequest, call: Call | None
    ) -> Exception:
        """The error a caller should see for ``exc``.

        requests wraps every ``OSError`` raised inside urllib3 (httpkit's own errors among
        them) in ``ConnectionError``, and reports read timeouts that used up their retries
        as ``ConnectionError`` too; both are undone here. Past the call's deadline, any
        failure is a :class:`DeadlineExceeded`.
        """
        scrub_exception(exc, url_secrets(request.url or ""))
        cause = exc.args[0] if exc.args else None
        if isinstance(cause, HttpkitError):
            if isinstance(cause, requests.RequestException):
                cause.request = request
            if isinstance(cause, RetryAfterTooLong) and cause.response is not None:
                cause.response = self.build_response(request, cause.response)
            return cause
        if isinstance(exc, HttpkitError):
            return exc
        if call is not None and call.remaining() <= 0:
            return deadline_exceeded(call.seconds, request)
        if isinstance(cause, MaxRetryError):
            if isinstance(cause.reason, ReadTimeoutError):
                return requests.ReadTimeout(cause, request=request)
            attempts = getattr(cause, "attempts", None)
            if attempts is not None and type(exc) in (
                requests.ConnectionError,
                requests.ConnectTimeout,
            ):
                return type(exc)(
                    f"{request.method} {strip_query(request.url)} failed after {attempts} "
                    f"attempts; last error: {cause.reason}",
                    request=request,
                )
        return exc

    def build_response(self, req: PreparedRequest, resp: Any) -> Response:
        """Build the response as requests does, with ``response.retries`` added."""
        response = super().build_response(req, resp)
        if self.max_body is not None:
            response.raw = CappedBody(resp, self.max_body, strip_query(req.url))
        response.retries = RetryHistory.from_urllib3(getattr(resp, "retries", None))  # type: ignore[attr-defined]  # httpkit's addition
        return response


def _restore_read_timeout(response: Response, read: Any) -> None:
    """Give a streamed response's socket its own read timeout back.

    The deadline covers a streamed call up to the response headers; the body is read later,
    by the caller, under the configured read timeout rather than what was left of the
    deadline when the headers arrived.
    """
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(read if isinstance(read, int | float) else None)


def check_header_values(prepared: PreparedRequest) -> None:
    """Refuse CR, LF, NUL and other controls (not HTAB) in header values before sending.

    requests refuses CR and LF in the headers it is given, not NUL, and not in headers an
    auth plugin or middleware adds later: httpkit checks after preparing and again right
    before each send.
    """
    for name, value in prepared.headers.items():
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if has_forbidden_field_char(text):
            raise InvalidHeader(
                f"the value of header {name!r} contains CR, LF, NUL or another control "
                "character; header values must be one line of text",
                request=prepared,
            )
