"""HostAdapter: the ``HTTPAdapter`` of one host policy, and the attempt loop of every hop.

``HostAdapter.send`` runs one hop: the hop's middlewares (the session's, the policy's, then
the cache), then :meth:`HostAdapter._attempts`, the one loop that makes every attempt. The
loop and urllib3 split the work this way:

* urllib3 makes exactly one attempt per ``urlopen`` (the adapter's ``max_retries`` reads
  as :data:`ONE_ATTEMPT` while an attempt is in progress);
* the hop's ``urllib3.Retry`` (a ``RetryPolicy``'s, or the caller's own) counts attempts
  and decides what may be retried (``is_retry``, ``increment``, ``get_backoff_time``);
* the loop takes a rate-limit token before every attempt, refuses to re-send a body that
  cannot be replayed, raises ``RetryAfterTooLong`` past the ``Retry-After`` ceiling, cuts
  every wait to the deadline, and reads a buffered body while another attempt can help.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

import requests
from requests.adapters import DEFAULT_POOLBLOCK, DEFAULT_POOLSIZE, HTTPAdapter
from requests.cookies import extract_cookies_to_jar
from requests.exceptions import InvalidHeader, InvalidURL
from requests.models import Response
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers, rewind_body, select_proxy
from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError
from urllib3.util import Timeout as Urllib3Timeout
from urllib3.util.retry import Retry

from httpkit import _call, _clock, _fork
from httpkit._bodies import CappedBody, discard_body, keep_small_body
from httpkit._call import Call
from httpkit._deadline import WATCHDOG, Deadline
from httpkit._exceptions import (
    BlockedAddress,
    MiddlewareError,
    RetryAfterTooLong,
    UnreplayableBody,
)
from httpkit._hosts import HostPattern
from httpkit._http import has_forbidden_field_char, parse_retry_after, split_url
from httpkit._middleware import MAX_SENDS, Middleware, Send, middleware_name
from httpkit._policy import (
    DEFAULT_SESSION_CONFIG,
    CallArgs,
    Hop,
    HostConfig,
    SessionShared,
    Settings,
    resolve_hop,
)
from httpkit._redact import strip_query
from httpkit._retry import RetryHistory, RetryPolicy, body_replayable
from httpkit._timeouts import UNSET, Timeouts
from httpkit._tls import AdapterTLS
from httpkit._transport import errors
from httpkit._transport.connection import (
    FIXED_POOLS,
    GROWING_POOLS,
    DeadlineTimeout,
    PoolStats,
    pool_stats,
    prepare_pool,
)

if TYPE_CHECKING:
    from requests import PreparedRequest

    from httpkit._ssrf import SSRFPolicy
    from httpkit._telemetry import Watch
    from httpkit.cache import CacheMiddleware

#: What urllib3 is given while httpkit's loop makes an attempt: exactly one try, every
#: failure wrapped in ``MaxRetryError`` (any method), no status retries.
ONE_ATTEMPT: Final = Retry(
    total=0,
    redirect=0,
    allowed_methods=None,
    status_forcelist=(),
    raise_on_status=False,
    raise_on_redirect=False,
    respect_retry_after_header=False,
)

#: Errors from reading a buffered body that another attempt may cure.
_BODY_ERRORS: Final = (requests.exceptions.ChunkedEncodingError, requests.ConnectionError)


def check_header_values(prepared: PreparedRequest) -> None:
    """Refuse CR, LF and NUL in any header value before anything is sent.

    requests refuses CR and LF in the headers it is given, not NUL, and not in headers an
    auth plugin or middleware adds later: httpkit checks after preparing and again right
    before each send.
    """
    headers = prepared.headers
    try:
        # One search over all values: HTAB, the separator, is allowed in a value.
        if not has_forbidden_field_char("\t".join(headers.values())):  # type: ignore[arg-type]
            return
    except TypeError:
        pass  # a bytes value: looked at one by one below
    for name, value in headers.items():
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if has_forbidden_field_char(text):
            raise InvalidHeader(
                f"the value of header {name!r} contains CR, LF or NUL; header values must be "
                "one line of text",
                request=prepared,
            )


def chain(middlewares: Sequence[Middleware], send: Send, call: Call) -> Send:
    """``send`` wrapped in ``middlewares``, the first one outermost.

    Each ``send`` a middleware receives carries ``call``: run on another thread, it still
    works within the call's deadline and settings. A middleware may call it
    :data:`~httpkit._middleware.MAX_SENDS` times per request.
    """
    handler = send
    for middleware in reversed(middlewares):
        handler = _wrap(middleware, handler, call)
    return handler


def _wrap(middleware: Middleware, inner: Send, call: Call) -> Send:
    def run(request: PreparedRequest) -> Response:
        sends = 0

        def bounded(request: PreparedRequest) -> Response:
            nonlocal sends
            sends += 1
            if sends > MAX_SENDS:
                raise MiddlewareError(
                    f"middleware {middleware_name(middleware)} called send() more than "
                    f"{MAX_SENDS} times for one request; bound its retries"
                )
            with _call.running(call):
                return inner(request)

        return middleware(request, bounded)

    return run


def finish(call: Call, request: PreparedRequest, response: Response) -> Response:
    """The response of a call, or ``DeadlineExceeded`` if the watchdog cut it short.

    Whatever arrived after a cut is partial, even where the cut looked like a normal end
    (a close-delimited body, an endless trailer section).
    """
    clock = call.clock
    if clock is not None and clock.expired:
        response.close()
        raise clock.exceeded(request, response=response)
    return response


class HostAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that applies one host policy.

    Timeouts the caller did not give come from the policy (or the session default),
    retries come from its retry setting, and with ``pool_maxsize=None`` connection pools
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
    settings: Settings
    shared: SessionShared
    _max_retries: Retry
    _cache_step: CacheMiddleware | None
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
            max_retries=self.settings.retry.retry,
            pool_block=pool_block,
        )

    def _derive(self) -> None:
        """Compute the effective settings: the policy's, else the session's."""
        self.settings = Settings.of(self.policy, self.defaults, self.shared)
        self._max_retries = self.settings.retry.retry
        cache = self.settings.cache
        self._cache_step = None
        if cache is not None:
            from httpkit.cache import CacheMiddleware  # loaded by the first cached policy

            self._cache_step = CacheMiddleware(cache, self.shared.sensitive, _call_remaining)

    # Read-only views of the effective settings, as earlier versions had them.
    @property
    def timeouts(self) -> Timeouts:
        return self.settings.timeouts

    @property
    def retry(self) -> RetryPolicy | Retry:
        retry = self.policy.retry if self.policy.retry is not UNSET else self.defaults.retry
        return retry if isinstance(retry, RetryPolicy | Retry) else self.settings.retry.retry

    @property
    def deadline(self) -> float | None:
        return self.settings.deadline

    @property
    def cache_step(self) -> CacheMiddleware | None:
        """The policy's cache, as the middleware that answers from it; ``None``: no cache."""
        return self._cache_step

    @property
    def max_body(self) -> int | None:
        return self.settings.max_body

    @property
    def ssrf(self) -> SSRFPolicy | None:
        return self.settings.ssrf

    @property
    def middlewares(self) -> tuple[Middleware, ...]:
        return self.settings.middlewares

    @property
    def max_retries(self) -> Retry:
        """The policy's ``urllib3.Retry``; :data:`ONE_ATTEMPT` during a hop this adapter sends.

        httpkit's loop makes every attempt of a hop (see the module docstring), so the
        ``urlopen`` of each attempt must make exactly one.
        """
        call = _call.current()
        if call is not None and call.hop is not None and call.hop.adapter is self:
            return ONE_ATTEMPT  # httpkit's loop makes the attempts of this hop
        return self._max_retries

    @max_retries.setter
    def max_retries(self, value: Any) -> None:
        retry = value if isinstance(value, Retry) else Retry.from_int(value)
        self._max_retries = retry
        settings = getattr(self, "settings", None)
        if settings is not None and settings.retry.retry is not retry:
            from httpkit._retry import RetryRules

            self.settings = settings.replace(retry=RetryRules.of(retry))

    def update(self, policy: HostConfig) -> None:
        """Replace this adapter's policy in place; pooled connections stay open."""
        self.policy = policy
        self._derive()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.pool_maxsize = state.get("pool_maxsize")
        self.shared = state.get("shared") or SessionShared()
        self.policy = state.get("policy") or HostConfig()
        self.defaults = state.get("defaults") or DEFAULT_SESSION_CONFIG
        self._derive()
        super().__setstate__(state)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = DEFAULT_POOLBLOCK, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes()
        # The per-adapter TLS state is rebuilt here, also after unpickling.
        self._tls = AdapterTLS()
        _fork.register(self)

    def pool_stats(self) -> list[PoolStats]:
        """The statistics of this adapter's pools, direct and through proxies."""
        found = []
        for manager in (self.poolmanager, *self.proxy_manager.values()):
            pools = manager.pools
            for key in pools.keys():  # noqa: SIM118  # a RecentlyUsedContainer: no __iter__
                stats = pool_stats(pools.get(key))
                if stats is not None:
                    found.append(stats)
        return found

    def _after_fork(self) -> None:
        """In a forked child: new, empty pools, so that no connection serves two processes.

        The parent's connections are dropped, not closed: they are the parent's, and the
        child writes nothing to them.
        """
        self.init_poolmanager(self._pool_connections, self._pool_maxsize, block=self._pool_block)
        self.proxy_manager = {}

    def _pool_classes(self) -> dict[str, type]:
        """Growing pools for ``pool_maxsize=None`` (unless blocking), fixed ones otherwise."""
        growing = self.pool_maxsize is None and not self._pool_block
        return dict(GROWING_POOLS if growing else FIXED_POOLS)

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

    def get_connection_with_tls_context(
        self,
        request: PreparedRequest,
        verify: Any,
        proxies: dict[str, str] | None = None,
        cert: Any = None,
    ) -> Any:
        """requests' pool lookup; without proxies, without looking for one per request."""
        if proxies:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        try:
            host_params, pool_kwargs = self.build_connection_pool_key_attributes(
                request, verify, cert
            )
        except ValueError as e:
            raise InvalidURL(e, request=request) from e
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)

    def request_url(self, request: PreparedRequest, proxies: dict[str, str] | None) -> str:
        """requests' request target: without proxies, the path and query, as requests says."""
        if proxies:
            return super().request_url(request, proxies)
        return request.path_url

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Leave an httpkit context as it is; urllib3 would reload its files per connection."""
        if prepare_pool(conn) is None:
            super().cert_verify(conn, url, verify, cert)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = self._pool_classes()
        return manager

    # -- one hop ------------------------------------------------------------------------

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: Any = UNSET,
        verify: Any = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> Response:
        """Send one hop: middlewares, then the attempts.

        Inside a session's call the hop's resolved settings apply (``Session.send``
        resolved them); used on its own (mounted on a plain ``requests.Session``), the
        adapter begins a call of its own from the arguments given, where an omitted
        ``timeout`` (``UNSET``) means the policy's.
        """
        call = _call.current()
        if call is not None and call.hop is not None and call.hop.adapter is self:
            return self._send_hop(request, call, call.hop, proxies)
        own = Call(CallArgs(timeout=timeout, verify=verify, cert=cert, stream=stream))
        hop = resolve_hop(request.url or "", self, self.settings, own.args, session=_Bare)
        hop = hop._replace(verify=verify, cert=cert)
        own.hop = hop
        with _call.calling(own, self.settings.deadline):
            try:
                response = self._send_hop(request, own, hop, proxies)
            except Exception as exc:
                errors.fail(exc, request, own)
            return finish(own, request, response)

    def _send_hop(
        self, request: PreparedRequest, call: Call, hop: Hop, proxies: dict[str, str] | None
    ) -> Response:
        settings = self.settings
        if settings.ssrf is not None and proxies and select_proxy(request.url or "", proxies):
            _vet_proxied_target(settings.ssrf, request)
        steps: tuple[Middleware, ...] = settings.middlewares
        if self._cache_step is not None:
            steps = (*steps, self._cache_step)

        def attempts(request: PreparedRequest) -> Response:
            if steps:  # prepare_request checked the headers; middlewares may not
                check_header_values(request)
            return self._attempts(request, call, hop, proxies)

        if steps:
            return chain(steps, attempts, call)(request)
        return attempts(request)

    # -- the attempts -------------------------------------------------------------------

    def _attempts(
        self, request: PreparedRequest, call: Call, hop: Hop, proxies: dict[str, str] | None
    ) -> Response:
        """Every attempt of one hop (see the module docstring)."""
        rules = self.settings.retry
        retry = rules.retry
        method = (request.method or "GET").upper()
        url = request.url or ""
        clock = call.clock
        timeout = _attempt_timeout(hop.timeout, clock)
        limiter = self.settings.limiter
        bucket = limiter.state(url) if limiter is not None else None
        circuits = self.settings.circuits
        circuit = circuits.circuit(url) if circuits is not None else None
        budget = self.settings.budget
        if budget is not None:
            budget.request(url)
        replayable = body_replayable(request)
        body = request.body
        resent = body is not None and not isinstance(body, bytes | str) and _sent_before(call, body)
        if resent and not replayable:  # a middleware sends it a second time
            raise _unreplayable(method, url, request)
        watch = call.watch
        attempts = 0
        while True:
            ticket = circuit.before(request) if circuit is not None else None
            if bucket is not None:
                held = bucket.acquire(request, clock)
                if held and watch is not None:
                    watch.wait(held, "rate limit", url)
            if (attempts or resent) and isinstance(getattr(request, "_body_position", None), int):
                rewind_body(request)  # a file body: each attempt sends it from its start
            attempts += 1
            call.attempt = attempts
            noted = watch.begin_attempt(request, call.sent) if watch is not None else None
            call.sent += 1
            try:
                response = HTTPAdapter.send(
                    self,
                    request,
                    stream=hop.stream,
                    timeout=timeout,
                    verify=hop.verify,
                    cert=hop.cert,
                    proxies=proxies,
                )
            except requests.RequestException as exc:
                if watch is not None:
                    watch.end_attempt(noted, None, exc)
                if circuit is not None and ticket is not None:
                    circuit.after(ticket, errors.is_outage(exc))
                error = errors.cause(exc)
                if error is None or errors.is_final(exc) or _expired(clock):
                    errors.fail(exc, request, call, attempts)
                try:
                    retry = retry.increment(method, url, error=error)
                except Exception:
                    errors.fail(exc, request, call, attempts)
                if budget is not None and not budget.allows_retry(url):
                    errors.fail(exc, request, call, attempts)
                if not replayable and not retry._is_connection_error(error):
                    raise _unreplayable(method, url, request) from None
                _wait(retry.get_backoff_time(), clock, request, watch, "backoff", url)
                continue
            except BaseException as exc:
                if watch is not None:
                    watch.end_attempt(noted, None, exc)
                raise
            finally:
                call.attempt = 0
            if watch is not None:
                watch.end_attempt(noted, response, None)
            if hop.stream and isinstance(timeout, DeadlineTimeout):
                _restore_read_timeout(response, timeout.configured[1])
            if bucket is not None:
                bucket.observe(response)
            status = response.status_code
            if circuit is not None and ticket is not None:
                circuit.after(ticket, status in circuit.breaker.statuses)
            asked = response.headers.get("Retry-After")
            if retry.is_retry(method, status, bool(asked)):
                try:
                    following = retry.increment(method, url, response=response.raw)
                except MaxRetryError as exc:
                    if retry.raise_on_status:
                        discard_body(response)
                        errors.fail(
                            requests.exceptions.RetryError(exc, request=request),
                            request,
                            call,
                            attempts,
                        )
                    return _with_history(response, retry)  # retries ran out: the last answer
                if budget is not None and not budget.allows_retry(url):
                    return _with_history(response, retry)  # the budget is spent: likewise
                wait = parse_retry_after(asked) if retry.respect_retry_after_header else None
                if wait is not None and wait > rules.retry_after_max:
                    keep_small_body(response)
                    raise RetryAfterTooLong(
                        f"the server asked to retry {method} {strip_query(url)} after "
                        f"{wait:.0f} s, more than retry_after_max "
                        f"({rules.retry_after_max:g} s); not waiting. Raise "
                        "RetryPolicy(retry_after_max=...) to wait that long",
                        retry_after=wait,
                        request=request,
                        response=_with_history(response, following),
                    )
                if not replayable:
                    discard_body(response)
                    raise _unreplayable(method, url, request)
                if wait and bucket is not None:
                    bucket.pause(wait)  # the session's other threads wait for it too
                discard_body(response)
                reason = "retry-after" if wait else "backoff"
                _wait(wait or following.get_backoff_time(), clock, request, watch, reason, url)
                retry = following
                continue
            if not hop.stream and not response.is_redirect and _retried(rules.methods, method):
                try:
                    response.content  # noqa: B018 - read the body while another attempt can help
                except _BODY_ERRORS as exc:
                    response.close()
                    if circuit is not None:
                        circuit.failure()
                    if _expired(clock):
                        errors.fail(exc, request, call, attempts)
                    error = errors.cause(exc)
                    broke = error if isinstance(error, ReadTimeoutError) else None
                    try:
                        retry = retry.increment(
                            method, url, error=broke or ProtocolError("body broke off", exc)
                        )
                    except Exception:
                        errors.fail(exc, request, call, attempts)
                    if budget is not None and not budget.allows_retry(url):
                        errors.fail(exc, request, call, attempts)
                    if not replayable:
                        raise _unreplayable(method, url, request) from None
                    _wait(retry.get_backoff_time(), clock, request, watch, "backoff", url)
                    continue
            return _with_history(response, retry)

    def build_response(self, req: PreparedRequest, resp: Any) -> Response:
        """Build the response as requests does, with ``max_body`` and ``response.retries``.

        requests' own steps, except that cookies are extracted only from a response that
        sets some (``Set-Cookie``, ``Set-Cookie2``): the extraction finds none otherwise.
        """
        response = Response()
        response.status_code = getattr(resp, "status", None)  # type: ignore[assignment]  # as requests
        response.headers = CaseInsensitiveDict(getattr(resp, "headers", {}))
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = resp.reason
        url: Any = req.url
        response.url = url.decode("utf-8") if isinstance(url, bytes) else url
        if "set-cookie" in response.headers or "set-cookie2" in response.headers:
            extract_cookies_to_jar(response.cookies, req, resp)
        response.request = req
        response.connection = self
        max_body = self.settings.max_body
        if max_body is not None:
            response.raw = CappedBody(resp, max_body, strip_query(req.url))
        response.retries = RetryHistory(attempts=1)  # type: ignore[attr-defined]  # httpkit's addition
        return response


class _Bare:
    """Session-level values for an adapter used without an httpkit session."""

    verify: Any = True
    cert: Any = None
    stream = False
    trust_env = False
    defaults = DEFAULT_SESSION_CONFIG


def _call_remaining() -> float | None:
    """Seconds left of the current call's deadline; ``None`` without one."""
    call = _call.current()
    clock = call.clock if call is not None else None
    return clock.remaining() if clock is not None else None


def _sent_before(call: Call, body: Any) -> bool:
    """Whether ``body``, a stream (file, generator), went out in an earlier attempt of ``call``."""
    key = id(body)
    sent = call.sent_bodies
    if sent is None:
        call.sent_bodies = {key}
        return False
    if key in sent:
        return True
    sent.add(key)
    return False


def _retried(methods: frozenset[str] | None, method: str) -> bool:
    return methods is None or method in methods


def _expired(clock: Deadline | None) -> bool:
    return clock is not None and (clock.expired or clock.remaining() <= 0)


def _attempt_timeout(timeout: Any, clock: Deadline | None) -> Any:
    """The timeout urllib3 gets for each attempt: capped by the deadline, if any."""
    if clock is None:
        return timeout
    if isinstance(timeout, Urllib3Timeout):
        # the caller's own urllib3 Timeout: its connect and read, each within its total
        total = _seconds(timeout.total)
        connect, read = (_within(_seconds(v), total) for v in (timeout._connect, timeout._read))
    else:
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    return DeadlineTimeout(clock, connect=connect, read=read)


def _seconds(value: object) -> float | None:
    """A urllib3 timeout value as seconds; ``None`` for none or urllib3's default marker."""
    return float(value) if isinstance(value, int | float) else None


def _within(value: float | None, total: float | None) -> float | None:
    return total if value is None else value if total is None else min(value, total)


def _wait(
    seconds: float,
    clock: Deadline | None,
    request: PreparedRequest,
    watch: Watch | None = None,
    reason: str = "backoff",
    url: str = "",
) -> None:
    """Sleep before the next attempt (a retry); raise at once if that would pass the
    deadline. ``watch`` hears of the retry and the wait first."""
    if watch is not None:
        watch.retried(url)
        watch.wait(seconds, reason, url)
    if clock is not None:
        clock.check_wait(seconds, request, "before the next attempt")
    if seconds > 0:
        _clock.sleep(seconds)


def _with_history(response: Response, retry: Retry) -> Response:
    response.retries = RetryHistory.from_urllib3(retry)  # type: ignore[attr-defined]  # httpkit's addition
    return response


def _unreplayable(method: str, url: str, request: PreparedRequest) -> UnreplayableBody:
    return UnreplayableBody(
        f"{method} {strip_query(url)} would be retried, but its body is a generator "
        "or a stream that was already read and would go out empty; pass bytes "
        "or a seekable file to allow retries",
        request=request,
    )


def _restore_read_timeout(response: Response, read: Any) -> None:
    """Give a streamed response's socket its own read timeout back.

    The deadline covers a streamed call up to the response headers; the body is read later,
    by the caller, under the configured read timeout rather than what was left of the
    deadline when the headers arrived. The socket is the one the response reads from,
    also for a close-delimited body whose connection already let go of it.
    """
    sock = getattr(response.raw, "_httpkit_sock", None)
    if sock is not None:
        sock.settimeout(read if isinstance(read, int | float) else None)


def _vet_proxied_target(policy: SSRFPolicy, request: PreparedRequest) -> None:
    """Through a proxy: vet the target's name and addresses here; the proxy connects."""
    parts = split_url(request.url or "")
    host, port = (parts.host, parts.port) if parts is not None else ("", None)
    try:
        policy._vetted(host, port)
    except BlockedAddress as exc:
        exc.request = request
        raise
    except OSError as exc:
        from httpkit._ssrf import blocked  # loaded with the first SSRF policy

        refusal = blocked(
            host,
            None,
            f"{host} does not resolve here, so it cannot be vetted before the proxy "
            f"connects to it ({exc})",
            None,
        )
        refusal.request = request
        raise refusal from None


@contextlib.contextmanager
def bounded_body(response: Response, seconds: float | None) -> Iterator[Callable[[], None]]:
    """Read a streamed body within ``seconds`` more: the watchdog cuts it past that.

    ``stream=True`` ends a call's deadline at the response headers; a caller that promises
    a deadline over the whole download (``httpkit request --deadline``) reads the body in
    this block, which raises :class:`~httpkit.DeadlineExceeded` (and closes the response)
    when the time ran out, however the body ended. The block gets a ``check()`` that
    raises the same at once: a cut can look like a normal end (a close-delimited body), so
    a caller checks before it keeps what it read.
    """
    if seconds is None:
        yield _no_check
        return
    request = response.request
    clock = Deadline(max(seconds, 0.0))
    sock = getattr(response.raw, "_httpkit_sock", None)
    if sock is not None:
        clock.watch(response.raw, sock)

    def check() -> None:
        if clock.expired or clock.remaining() <= 0:
            response.close()
            raise clock.exceeded(request)

    try:
        with WATCHDOG.watching(clock):
            check()
            yield check
    except Exception as exc:
        if clock.expired or clock.remaining() <= 0:
            response.close()
            raise clock.exceeded(request) from exc
        raise
    check()


def _no_check() -> None:
    pass
