"""Session: a drop-in ``requests.Session`` with safe defaults and per-host policies."""

from __future__ import annotations

import http.cookiejar as cookielib
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from functools import lru_cache
from os import PathLike
from typing import TYPE_CHECKING, Any, Final, TypeGuard
from urllib.parse import urljoin

import requests
from requests.__version__ import __version__ as REQUESTS_VERSION
from requests.adapters import BaseAdapter
from requests.auth import AuthBase
from requests.cookies import (
    RequestsCookieJar,
    cookiejar_from_dict,
    extract_cookies_to_jar,
    merge_cookies,
)
from requests.exceptions import (
    InvalidHeader,
    InvalidSchema,
    InvalidURL,
    RequestException,
    TooManyRedirects,
)
from requests.hooks import dispatch_hook
from requests.models import PreparedRequest
from requests.sessions import merge_hooks, merge_setting, preferred_clock
from requests.structures import CaseInsensitiveDict
from requests.utils import get_auth_from_url, resolve_proxies

from httpkit import _call, _clock
from httpkit._bodies import discard_body
from httpkit._call import Call
from httpkit._environ import ENVIRONMENT_PROXIES
from httpkit._exceptions import ConfigError, UnreplayableBody
from httpkit._hosts import HostPattern, MountTable
from httpkit._http import (
    has_forbidden_field_char,
    has_two_userinfo_ats,
    is_token,
    same_origin,
    split_host,
    split_url,
)
from httpkit._middleware import Middleware
from httpkit._policy import (
    DEFAULT_SESSION_CONFIG,
    CallArgs,
    HostConfig,
    SessionShared,
    call_deadline,
    check_deadline,
    resolve_hop,
    resolve_tls,
)
from httpkit._redact import redact_url, sensitive_names, strip_query
from httpkit._redirects import (
    NETRC,
    NO_AUTH,
    HeaderBinding,
    auth_header_names,
    bind_cookies,
    bind_jar_cookies,
    strip_credentials,
)
from httpkit._retry import DEFAULT_RETRY, RetryArg, body_replayable
from httpkit._telemetry import instrumentation
from httpkit._timeouts import DEFAULT_TIMEOUTS, UNSET, TimeoutArg, _Unset
from httpkit._transport import errors
from httpkit._transport.adapter import HostAdapter, check_header_values, finish
from httpkit._transport.connection import PoolStats
from httpkit._version import __version__
from httpkit.auth import BasicAuth

if TYPE_CHECKING:
    from requests import Request, Response

    from httpkit._ssrf import SSRFPolicy
    from httpkit.stores import Store

_ABSOLUTE_URL: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_EMPTY_POLICY: Final = HostConfig()

log = logging.getLogger("httpkit")


#: Methods known to be valid tokens, checked without a regular expression.
_COMMON_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

#: Methods that get an ``Idempotency-Key`` under ``RetryPolicy(idempotency_key=True)``.
_KEYED_METHODS: Final = frozenset({"POST", "PATCH"})


def _is_user_password(auth: object) -> TypeGuard[tuple[str, str]]:
    """Whether ``auth`` is a ``(user, password)`` pair of strings, requests' Basic shorthand."""
    return (
        isinstance(auth, tuple | list) and len(auth) == 2 and all(isinstance(v, str) for v in auth)
    )


#: requests' own ``.netrc`` reader, to notice code that replaced it (a test's monkeypatch).
_REQUESTS_NETRC: Final = requests.utils.get_netrc_auth


def _netrc_credentials(url: Any, host: str | None) -> tuple[str, str] | None:
    """``.netrc`` credentials for ``host``, parsed once per file change.

    Code that replaced ``requests.sessions.get_netrc_auth`` gets its replacement called,
    as requests would call it.
    """
    replaced = getattr(requests.sessions, "get_netrc_auth", _REQUESTS_NETRC)
    if replaced is not _REQUESTS_NETRC and isinstance(url, str):
        found = replaced(url)
        return (found[0], found[1]) if found else None
    return NETRC.credentials(host)


@lru_cache(maxsize=256)
def _requests_url(url: str) -> str | None:
    """``url`` as requests prepares it (IDNA, requoting, a ``/`` path); ``None`` if it can't."""
    prepared = PreparedRequest()
    try:
        prepared.prepare_url(url, None)
    except (RequestException, ValueError):
        return None
    return prepared.url if prepared.url and prepared.url.startswith("http") else None


def _merged_params(own: Any, session: Any) -> Any:
    """``merge_setting(own, session)`` for query parameters, or ``None`` if it is empty.

    Merging an empty mapping is skipped: requests' merge only drops ``None`` values, which
    the encoding of parameters drops as well.
    """
    if own is None or (not own and isinstance(own, Mapping) and isinstance(session, Mapping)):
        merged = session
    elif not session and isinstance(session, Mapping) and isinstance(own, Mapping):
        merged = own
    else:
        merged = merge_setting(own, session)
    return merged or None


def _over_policy(own: Any, policy: HostConfig) -> Any:
    """The call's headers over the host policy's (``own`` itself when the policy has none)."""
    if isinstance(policy.headers, _Unset):
        return own
    merged: CaseInsensitiveDict[Any] = CaseInsensitiveDict(policy.headers)
    merged.update(own or {})
    return merged


def _merged_headers(own: Any, session: Mapping[str, Any]) -> Mapping[str, Any]:
    """``merge_setting(own, session, CaseInsensitiveDict)``: the call's over the session's.

    A ``None`` value, on either side, leaves the header out, as in requests.
    """
    if not own and None not in session.values():
        return session  # prepare_headers() copies it
    merged: CaseInsensitiveDict[Any] = CaseInsensitiveDict(session)
    if own:
        merged.update(own)
    for name in [name for name, value in merged.items() if value is None]:
        del merged[name]
    return merged


def _sets_cookies(raw: Any) -> bool:
    """Whether the response behind ``raw`` sets cookies: what requests' extraction reads."""
    original = getattr(raw, "_original_response", None)
    if not original:
        return False  # requests' extract_cookies_to_jar() returns at once as well
    message = original.msg
    return "Set-Cookie" in message or "Set-Cookie2" in message


_SEND_OVERRIDDEN: dict[type, bool] = {}


#: requests' own ``Session.send``, as imported: an instrumentation that wraps it (such as
#: OpenTelemetry's) replaces the class attribute.
_REQUESTS_SEND: Final = requests.Session.send


def _send_overridden_below(cls: type) -> bool:
    """Whether ``send`` is someone else's below :class:`Session`: a class between it and
    ``requests.Session`` overrides it (a mixin), or ``requests.Session.send`` was wrapped
    (an instrumentation, a recorder). Either is then called for every hop."""
    if requests.Session.send is not _REQUESTS_SEND:
        return True
    found = _SEND_OVERRIDDEN.get(cls)
    if found is None:
        below = cls.__mro__[cls.__mro__.index(Session) + 1 :]
        owner = next(klass for klass in below if "send" in klass.__dict__)
        found = _SEND_OVERRIDDEN[cls] = owner is not requests.Session
    return found


def _jar_is_empty(jar: Any) -> bool:
    """Whether a cookie jar holds no cookie, without walking it when it is a CookieJar."""
    table = getattr(jar, "_cookies", None)
    return not table if isinstance(table, dict) else not len(jar)


def _copy_request(request: Request) -> Request:
    # A shallow copy, so that applying defaults never changes the caller's Request.
    clone = object.__new__(type(request))
    clone.__dict__.update(request.__dict__)
    return clone


def user_agent_string(application: str | None) -> str:
    """``"<application> httpkit/<v> python-requests/<v>"``, without the first part if unset.

    >>> user_agent_string("myapp/1.4").split()[0]
    'myapp/1.4'
    """
    base = f"httpkit/{__version__} python-requests/{REQUESTS_VERSION}"
    if application is None:
        return base
    if (
        not isinstance(application, str)
        or not application.strip()
        or has_forbidden_field_char(application)
    ):
        raise ConfigError(
            f"user_agent must be a one-line product token such as 'myapp/1.4', got {application!r}"
        )
    return f"{application.strip()} {base}"


class Session(requests.Session):
    """A ``requests.Session`` that is safe by default.

    Every ``requests.Session`` method, argument and attribute keeps working. On top:

    * every call has a timeout: ``Timeouts(connect=3.05, read=30)`` unless the caller, a
      host policy or the session says otherwise; an explicit ``timeout=None`` still means
      "no timeout", as in requests;
    * idempotent requests are retried on connection errors and on 429/500/502/503/504,
      with exponential backoff and ``Retry-After`` honoured (:class:`RetryPolicy`);
    * each host can have its own timeouts, retries, headers, credentials and TLS settings
      (:meth:`configure`), matched by origin, never by string prefix;
    * an explicit ``verify=`` beats ``REQUESTS_CA_BUNDLE``;
    * connection pools grow with the number of threads instead of discarding connections.

    Args:
        timeout: the default timeout: seconds, a ``(connect, read)`` tuple, a
            :class:`Timeouts`, or ``None`` for none.
        retry: the default :class:`RetryPolicy`, a number of retries, ``False`` or a
            ``urllib3.Retry``.
        deadline: seconds of wall clock for a whole call; ``None`` disables it.
        user_agent: your application's product token, sent before httpkit's own.
        base_url: relative URLs are joined onto it.
        pool_maxsize: connections kept per host; ``None`` keeps as many as are used at once.
        raise_for_status: call ``response.raise_for_status()`` on every final response.
        sensitive_headers: more header names that carry credentials, on top of
            ``Authorization``, ``Cookie`` and the usual API-key headers. They are bound to
            their origin like the others.
        trust: the CAs that verify servers: ``"certifi"`` (the default), ``"system"``
            (the operating system's store; needs ``pip install 'httpkit[system]'``) or
            the path of a CA file or directory. See ``docs/tls.md``.
        min_tls: the lowest TLS version offered: ``"1.2"`` (the default) or ``"1.3"``.
        middlewares: callables ``mw(request, send) -> response`` run around every request,
            the first outermost (see :class:`LoggingMiddleware`); a host policy's own run
            inside these.
        max_body: a cap, in bytes, on a response body once decoded (``content``, ``text``,
            ``json()``); past it reading stops with :class:`BodyTooLarge`. ``None``: no cap.
        cross_origin_body: let a 307/308 redirect carry the request body to another
            origin. By default such a redirect is not followed: the 307/308 is returned.
        ssrf: an :class:`SSRFPolicy` (or ``True`` for its defaults) that refuses
            connections to loopback, private, link-local and other internal addresses,
            on every redirect hop; a host policy's ``ssrf`` replaces it. See
            ``docs/security.md``.
        cache: HTTP caching of GET/HEAD responses: ``True`` (in memory), the path of an
            SQLite file, or a :class:`MemoryCache`/:class:`SQLiteCache`; off by default.
            See ``docs/caching.md``.
        rate_limit: a per-origin limit such as ``"10/s"``, ``"600/min"``, ``"auto"``
            (follow ``RateLimit-*`` headers) or ``"10/s+auto"``, or a :class:`RateLimit`.
            See ``docs/rate-limits.md``.
        store: where rate limits and circuit breakers keep their state: an
            :class:`~httpkit.MemoryStore` (this process; the default), an
            :class:`~httpkit.SQLiteStore` (the processes of one machine), a
            :class:`~httpkit.RedisStore` (many machines), or a URL (``memory://``,
            ``sqlite:///path``, ``redis://host:6379/0``). Every host policy uses it.
            See ``docs/fleet.md``.
        circuit: a :class:`CircuitBreaker` per origin (``True`` for its defaults: open
            after 5 consecutive failures, one trial after 30 s), kept in the store; an
            open circuit raises :class:`CircuitOpen` without sending. Off by default.
            See ``docs/fleet.md``.
        telemetry: report spans and metrics through OpenTelemetry when
            ``opentelemetry-api`` is installed (``pip install "httpkit[otel]"``); ``False``
            turns httpkit's own instrumentation off. See ``docs/observability.md``.

    >>> with Session(timeout=5, retry=2, user_agent="myapp/1.4") as s:
    ...     s.headers["User-Agent"].startswith("myapp/1.4 httpkit/")
    True
    """

    # requests pickles the attributes this class-level list names.
    __attrs__ = [  # noqa: RUF012
        *requests.Session.__attrs__,
        "defaults",
        "base_url",
        "pool_maxsize",
        "raise_for_status",
        "sensitive_headers",
        "cross_origin_body",
        "_header_binding",
        "_shared",
        "telemetry",
    ]

    defaults: HostConfig
    base_url: str | None
    pool_maxsize: int | None
    raise_for_status: bool
    sensitive_headers: frozenset[str]
    cross_origin_body: bool
    telemetry: bool

    def __init__(
        self,
        *,
        timeout: TimeoutArg = DEFAULT_TIMEOUTS,
        retry: RetryArg = DEFAULT_RETRY,
        deadline: float | None = 300.0,
        user_agent: str | None = None,
        base_url: str | None = None,
        pool_maxsize: int | None = None,
        raise_for_status: bool = False,
        sensitive_headers: Iterable[str] = (),
        trust: str | PathLike[str] | None = None,
        min_tls: str | None = None,
        middlewares: Iterable[Middleware] = (),
        max_body: int | None = None,
        cross_origin_body: bool = False,
        ssrf: SSRFPolicy | bool | Mapping[str, Any] | None = None,
        cache: Any = None,
        rate_limit: Any = None,
        store: Any = None,
        circuit: Any = None,
        telemetry: bool = True,
    ) -> None:
        # A subclass may set httpkit's attributes before calling this (as requests-toolbelt's
        # BaseUrlSession sets base_url): an argument left at its default keeps that value.
        preset = _Preset(self)
        base_url = preset("base_url", base_url, None)
        pool_maxsize = preset("pool_maxsize", pool_maxsize, None)
        raise_for_status = preset("raise_for_status", raise_for_status, False)
        cross_origin_body = preset("cross_origin_body", cross_origin_body, False)
        telemetry = preset("telemetry", telemetry, True)
        sensitive_headers = preset("sensitive_headers", sensitive_headers, ())
        super().__init__()
        self.telemetry = bool(telemetry)
        self._table: MountTable | None = None
        self.cross_origin_body = bool(cross_origin_body)
        tls = {"trust": trust, "min_tls": min_tls}
        settings = HostConfig.from_settings(
            {
                "timeout": timeout,
                "retry": retry,
                "deadline": deadline,
                "middlewares": middlewares,
                "max_body": max_body,
                "ssrf": ssrf,
                "cache": cache,
                "rate_limit": rate_limit,
                "circuit": circuit,
                **{k: v for k, v in tls.items() if v is not None},
            },
            where="Session()",
        )
        self.defaults = DEFAULT_SESSION_CONFIG.merged(settings)
        if pool_maxsize is not None and (
            isinstance(pool_maxsize, bool) or not isinstance(pool_maxsize, int) or pool_maxsize < 1
        ):
            raise ConfigError(
                f"Session(): pool_maxsize must be a positive int or None, got {pool_maxsize!r}"
            )
        self.pool_maxsize = pool_maxsize
        self.base_url = _normalize_base_url(base_url)
        self.raise_for_status = bool(raise_for_status)
        if isinstance(sensitive_headers, str):
            raise ConfigError(
                "Session(): sensitive_headers must be a collection of header names, "
                f"got the string {sensitive_headers!r}"
            )
        self.sensitive_headers = sensitive_names(sensitive_headers)
        self._shared = SessionShared(self.sensitive_headers, _checked_store(store))
        self._header_binding = HeaderBinding()
        self.headers["User-Agent"] = user_agent_string(user_agent)
        for scheme in ("https://", "http://"):
            self.mount(scheme, self._new_adapter(None, None))

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._table = None

    def __repr__(self) -> str:
        policies = [p for p in self.adapters if isinstance(self.adapters[p], HostAdapter)]
        return f"<httpkit.Session policies={policies!r}>"

    # -- host policies ------------------------------------------------------------------

    def _new_adapter(self, policy: HostConfig | None, pattern: HostPattern | None) -> HostAdapter:
        return HostAdapter(
            policy,
            defaults=self.defaults,
            pattern=pattern,
            pool_maxsize=self.pool_maxsize,
            shared=self._shared,
        )

    def configure(self, target: str, **settings: Any) -> HostConfig:
        """Give one origin, wildcard host or path prefix its own settings.

        Args:
            target: ``"https://api.example.com"`` (port optional, the scheme's default
                otherwise), ``"https://*.example.com"`` (any subdomain, not the apex) or
                ``"https://example.com/api/v2"`` (that path and below).
            **settings: ``timeout``, ``retry``, ``headers``, ``auth``, ``verify``,
                ``cert``, ``deadline``, and for TLS ``trust``, ``min_tls``, ``pins`` and
                ``key_password`` (``docs/tls.md``), and ``ssrf`` (an :class:`SSRFPolicy`,
                ``True``, or ``None`` to exempt the target; ``docs/security.md``),
                ``cache``, ``rate_limit``, ``max_body``, ``middlewares`` and ``circuit``
                (a :class:`CircuitBreaker`; ``docs/fleet.md``). Calling
                ``configure`` again for the same target updates the settings it names and
                keeps the others.

        Returns:
            The policy now in force for ``target``.

        Raises:
            ConfigError: an unknown setting, a bad value or a bad target, named; or an
                adapter you mounted yourself for the same target, which the policy would
                replace.

        The most specific policy that matches a URL applies as a whole; settings it leaves
        out come from the session. Policies are adapters in ``session.adapters``, under the
        normalized target (``"https://api.example.com/"``).

        >>> s = Session()
        >>> s.configure("https://API.example.com", timeout=10, retry=5)
        HostConfig(timeout=Timeouts(connect=10.0, read=10.0), retry=RetryPolicy(total=5, ...))
        >>> s.policy_for("https://api.example.com/users").timeout.read
        10.0
        >>> s.policy_for("https://api.example.com.evil.test/").timeout
        UNSET
        """
        pattern = HostPattern.parse(target)
        policy = HostConfig.from_settings(settings, where=f"configure({target!r})")
        self._refuse_over_own_adapter(target, pattern)
        existing = self.adapters.get(pattern.prefix)
        if isinstance(existing, HostAdapter):
            policy = existing.policy.merged(policy)
        auth = policy.auth
        bind = getattr(auth, "bind", None)
        if bind is not None:
            bind(pattern.matches_url)
        if isinstance(existing, HostAdapter):
            existing.update(policy)
        else:
            self.mount(pattern.prefix, self._new_adapter(policy, pattern))
        return policy

    def _refuse_over_own_adapter(self, target: str, pattern: HostPattern) -> None:
        """A host policy is an adapter: it would silently replace one the user mounted."""
        for prefix, adapter in self.adapters.items():
            if isinstance(adapter, HostAdapter):
                continue
            try:
                same = HostPattern.parse(prefix).prefix == pattern.prefix
            except ConfigError:
                same = False  # a prefix that names no origin, such as "https://"
            if same:
                raise ConfigError(
                    f"configure({target!r}): the {type(adapter).__name__} you mounted at "
                    f"{prefix!r} serves this target, and a host policy would replace it; "
                    "keep your adapter and set its options on it, or remove it first "
                    f"(del session.adapters[{prefix!r}])"
                )

    def get_adapter(self, url: str) -> BaseAdapter:
        """The adapter whose mount prefix matches ``url`` most specifically, by origin.

        Prefixes that name a host (``https://api.example.com``) match that origin (and
        path prefix) only; scheme-only prefixes (``https://``) match the scheme; other
        prefixes match as string prefixes, as in requests.
        """
        call = _call.current()
        hop = call.hop if call is not None else None
        if hop is not None and hop.url == url:
            return hop.adapter  # resolved for this hop already
        adapter = self._mounted(url)
        if adapter is None:
            raise InvalidSchema(f"No connection adapters were found for {url!r}")
        return adapter

    def _mounted(self, url: str) -> BaseAdapter | None:
        """The adapter mounted for ``url`` (see :meth:`get_adapter`), ``None`` if none."""
        table = self._table
        if table is None or not table.is_current(self.adapters):
            table = self._table = MountTable(self.adapters)
        return table.lookup(url)

    def policy_for(self, url: str) -> HostConfig:
        """The host policy that applies to ``url`` (empty when only session defaults do)."""
        adapter = self._host_adapter(url)
        return adapter.policy if adapter is not None else _EMPTY_POLICY

    def pool_stats(self) -> list[PoolStats]:
        """The connections of each origin and TLS configuration, over every host policy.

        Each :class:`~httpkit.PoolStats` gives the connections open, idle and in use now,
        and those created, reused and discarded since the session started.

        >>> Session().pool_stats()
        []
        """
        totals: dict[tuple[str, str | None], list[int]] = {}
        adapters = {id(a): a for a in self.adapters.values() if isinstance(a, HostAdapter)}
        for adapter in adapters.values():
            for row in adapter.pool_stats():
                counts = totals.setdefault((row.origin, row.tls), [0] * 6)
                for i, value in enumerate(row[2:]):
                    counts[i] += value
        return [PoolStats(*key, *counts) for key, counts in sorted(totals.items(), key=str)]

    def _host_adapter(self, url: str) -> HostAdapter | None:
        """The httpkit adapter serving ``url``; ``None`` for a user's own adapter or none."""
        adapter = self._mounted(url)
        return adapter if isinstance(adapter, HostAdapter) else None

    # -- the request path ---------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str | bytes,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        cookies: Any = None,
        files: Any = None,
        auth: Any = None,
        timeout: TimeoutArg | _Unset = UNSET,
        allow_redirects: bool = True,
        proxies: dict[str, str] | None = None,
        hooks: Any = None,
        stream: bool | None = None,
        verify: bool | str | None = None,
        cert: str | tuple[str, str] | None = None,
        json: Any = None,
        *,
        deadline: float | _Unset | None = UNSET,
    ) -> Response:
        """Send a request, as ``requests.Session.request`` does, with httpkit's defaults.

        An omitted ``timeout`` means the host policy's or the session's; ``None`` means no
        timeout. An explicit ``verify`` is used as given, whatever the environment says.
        ``deadline`` (seconds, or ``None`` for none) bounds the whole call: every attempt,
        wait and redirect hop, and the body unless ``stream=True``; omitted, it is the host
        policy's or the session's.

        Raises:
            DeadlineExceeded: the deadline passed (a ``requests.Timeout``).
        """
        if not isinstance(deadline, _Unset):
            deadline = check_deadline("request()", deadline)
        if data is None and files is None and json is None and not (params or cookies):
            cached = self._fresh_answer(method, url, headers, auth, hooks)
            if cached is not None:
                return cached
        # The call's explicit arguments: send() begins the call with them, and each hop
        # resolves them afresh. A request made from a hook is a call of its own.
        args = CallArgs(
            timeout=timeout,
            verify=verify,
            cert=cert,
            stream=stream,
            deadline=deadline,
            auth_headers=auth_header_names(auth),
        )
        token = _call.enter(Call(args))
        try:
            return super().request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                cookies=cookies,
                files=files,
                auth=auth,
                timeout=timeout,  # type: ignore[arg-type]  # send() resolves it per hop
                allow_redirects=allow_redirects,
                proxies=proxies,
                hooks=hooks,
                stream=stream,
                verify=verify,
                cert=cert,
                json=json,
            )
        finally:
            _call.leave(token)

    def _fresh_answer(
        self, method: Any, url: Any, headers: Any, auth: Any, hooks: Any
    ) -> Response | None:
        """A fresh cached answer to a plain GET or HEAD, found before anything is prepared.

        Only for a request whose preparation could add no credential and nothing else
        the cache keys on: no ``auth``, cookies, params, body or hooks on the call or the
        session, no host-policy auth, no ``.netrc`` entry, no user info in the URL, no
        middleware to see the answer. The request is then exactly the merged headers and
        requests' own form of the URL, and the cache step answers it as it would have
        after preparation (``CacheMiddleware.fresh_answer``); anything else, a miss
        included, goes the usual way.
        """
        if auth is not None or hooks or not isinstance(url, str) or not isinstance(method, str):
            return None
        if self.base_url is not None and not _ABSOLUTE_URL.match(url):
            url = urljoin(self.base_url, url.lstrip("/"))
        adapter = self._mounted(url)
        step = adapter.cache_step if isinstance(adapter, HostAdapter) else None
        if step is None:
            return None  # no cache for this URL: the common case, decided first
        assert isinstance(adapter, HostAdapter)
        if adapter.settings.middlewares or adapter.policy.auth is not UNSET:
            return None
        method = method.upper()
        if method not in ("GET", "HEAD") or self.auth is not None or self.params:
            return None
        if any(self.hooks.values()) or not _jar_is_empty(self.cookies):
            return None
        prepared_url = _requests_url(url)
        if prepared_url is None or "@" in prepared_url.split("/", 3)[2]:
            return None
        request = PreparedRequest()
        request.method, request.url = method, prepared_url
        try:  # the headers as prepare_request() merges and checks them
            request.prepare_headers(
                _merged_headers(_over_policy(headers, adapter.policy), self.headers)
            )
            check_header_values(request)
        except InvalidHeader:
            return None  # the usual way raises it, with requests' message
        request._cookies = RequestsCookieJar()  # as prepare_cookies() leaves it
        if (
            self.trust_env
            and "Authorization" not in request.headers
            and _netrc_credentials(url, split_host(url)) is not None
        ):
            return None
        started = _clock.monotonic()
        response = step.fresh_answer(request)
        if response is None:
            return None
        response.elapsed = timedelta(seconds=_clock.monotonic() - started)
        if self.telemetry:
            found = instrumentation()
            if found is not None:
                found.cached_call(method, prepared_url, response.elapsed.total_seconds(), response)
        if self.raise_for_status:
            response.raise_for_status()
        return response

    if TYPE_CHECKING:
        # requests types the keyword arguments of its verb methods with a TypedDict that
        # knows neither Timeouts nor httpkit's additions; these declarations widen them
        # for type checkers only. At run time requests' own methods call request() above.
        def get(self, url: str | bytes, params: Any = None, **kwargs: Any) -> Response: ...
        def options(self, url: str | bytes, **kwargs: Any) -> Response: ...
        def head(self, url: str | bytes, **kwargs: Any) -> Response: ...
        def post(
            self, url: str | bytes, data: Any = None, json: Any = None, **kwargs: Any
        ) -> Response: ...
        def put(self, url: str | bytes, data: Any = None, **kwargs: Any) -> Response: ...
        def patch(self, url: str | bytes, data: Any = None, **kwargs: Any) -> Response: ...
        def delete(self, url: str | bytes, **kwargs: Any) -> Response: ...

    def prepare_request(self, request: Request) -> PreparedRequest:
        """Prepare as requests does, after joining ``base_url`` and applying the host policy.

        Precedence for headers and auth: the request's own > the host policy's > the
        session's > ``.netrc``; an explicit ``Authorization`` header always beats
        ``.netrc``. Credentials are bound to their origin (see ``docs/auth.md``): session
        credential headers go only to the first origin they were sent to, and cookies
        given without a domain only to the host of their request.
        """
        own_auth = auth_header_names(request.auth)
        request = _copy_request(request)
        url = request.url.decode("utf-8") if isinstance(request.url, bytes) else request.url
        if self.base_url is not None and isinstance(url, str) and not _ABSOLUTE_URL.match(url):
            request.url = url = urljoin(self.base_url, url.lstrip("/"))
        mounted = None
        if isinstance(url, str):
            mounted = self._mounted(url)
            call = _call.current()
            if call is not None and not call.begun:
                call.prepared_for = (url, mounted)  # request() sends it next: one lookup
        adapter = mounted if isinstance(mounted, HostAdapter) else None
        policy = adapter.policy if adapter is not None else _EMPTY_POLICY
        request.headers = _over_policy(request.headers, policy)
        host = split_host(url) if isinstance(url, str) else None
        if isinstance(url, str):
            bound = bind_cookies(request.cookies, url)
            if bound is not None:
                request.cookies = bound
            bind_jar_cookies(self.cookies, url)
        if request.auth is not None and _is_user_password(request.auth):
            request.auth = BasicAuth(*request.auth)  # UTF-8, bound to this request's origin
        if request.auth is None:
            if not isinstance(policy.auth, _Unset):
                request.auth = policy.auth
            elif self.auth is None:
                request.auth = self._implicit_auth(request, url, host)
            elif _is_user_password(self.auth):
                request.auth = self._session_basic_auth(self.auth)
        if isinstance(url, str) and url.count("@") > 1 and has_two_userinfo_ats(url):
            raise InvalidURL(
                "the URL has more than one '@' in its authority, so clients disagree on its "
                "host; percent-encode '@' in a user name or password as %40"
            )
        prepared = self._prepare(request)
        method = prepared.method
        if method not in _COMMON_METHODS and not is_token(method):
            raise ConfigError(
                f"the method {method!r} is not an HTTP method name (an RFC 9110 token: "
                "letters, digits and !#$%&'*+-.^_`|~, no spaces or control characters)"
            )
        if own_auth:
            # the headers the caller's own auth sets: a bare send() of this request
            # strips them across origins as request() does
            prepared._httpkit_auth_headers = own_auth  # type: ignore[attr-defined]
        self._scope_session_headers(prepared, request)
        check_header_values(prepared)
        if (
            prepared.method in _KEYED_METHODS
            and adapter is not None
            and adapter.settings.retry.idempotency_key
            and "Idempotency-Key" not in prepared.headers
        ):
            import uuid  # only sessions that send idempotency keys need it

            prepared.headers["Idempotency-Key"] = str(uuid.uuid4())
        return prepared

    def _prepare(self, request: Request) -> PreparedRequest:
        """What ``requests.Session.prepare_request`` does, step by step, without waste.

        Each step is requests' own ``PreparedRequest.prepare_*`` method, called with the
        values requests would merge, in requests' order, so errors and results are the
        same. What is left out is work with no effect: merging empty header, parameter
        and cookie mappings (requests 2.34 checks each one against runtime protocols),
        building a ``Cookie`` header from an empty jar, and parsing, IDNA-encoding and
        requoting a URL already prepared before: without parameters, a URL is prepared
        once (``_requests_url``) and the result reused.
        """
        prepared = PreparedRequest()
        method = request.method
        prepared.prepare_method(method.upper() if isinstance(method, str) else method)
        url: Any = request.url
        params = _merged_params(request.params, self.params)
        known = _requests_url(url) if not params and isinstance(url, str) else None
        if known is not None:
            prepared.url = known
        else:
            prepared.prepare_url(url, params)
        prepared.prepare_headers(_merged_headers(request.headers, self.headers))
        cookies = request.cookies or {}
        if cookies and not isinstance(cookies, cookielib.CookieJar):
            cookies = cookiejar_from_dict(cookies)
        if (not cookies or _jar_is_empty(cookies)) and _jar_is_empty(self.cookies):
            prepared._cookies = RequestsCookieJar()  # no Cookie header can come of it
        else:
            jar = merge_cookies(merge_cookies(RequestsCookieJar(), self.cookies), cookies)
            prepared.prepare_cookies(jar)
        prepared.prepare_body(request.data, request.files, request.json)
        prepared.prepare_auth(request.auth if request.auth is not None else self.auth, url)
        prepared.prepare_hooks(merge_hooks(request.hooks, self.hooks))
        return prepared

    def resolve_redirects(  # type: ignore[override]  # same parameters, passed through
        self, resp: Response, req: PreparedRequest, *args: Any, **kwargs: Any
    ) -> Iterator[Any]:
        """Follow redirects as requests does, within the call's redirect limit.

        ``RetryPolicy(redirects=N)``, ``retry=False`` and ``urllib3.Retry(redirect=N)`` limit
        the hops; redirect bodies are drained, not decoded (see :meth:`get_redirect_target`).
        """
        if not resp.is_redirect:
            return  # the common case: nothing to follow, nothing to look up
        following = not kwargs.get("yield_requests", False)
        call = _call.current()
        limit = call.redirect_limit if call is not None else None
        if following and limit == 0:
            return
        if call is not None:
            call.following = following
        try:
            for hops, item in enumerate(super().resolve_redirects(resp, req, *args, **kwargs), 1):
                yield item
                if (
                    following
                    and limit is not None
                    and hops >= limit
                    and self.get_redirect_target(item)
                ):
                    raise TooManyRedirects(
                        f"more than {limit} redirects (the retry policy's limit)", response=item
                    )
        finally:
            if call is not None:
                call.following = False

    def get_redirect_target(self, resp: Response) -> str | None:
        """The URL a redirect response points to, checked; ``None`` if it is not followed.

        A malformed ``Location`` raises ``requests.exceptions.InvalidURL`` naming it. A
        307/308 that would carry the request body to another origin is not followed unless
        ``cross_origin_body=True``. While redirects are followed, a redirect response's body
        is drained up to 64 KiB without decoding, never read in full.
        """
        try:
            target = super().get_redirect_target(resp)
        except UnicodeDecodeError:
            resp.close()
            shown = strip_query(resp.headers.get("Location", ""))[:200]
            raise InvalidURL(
                f"the server redirected to a Location that is not UTF-8: {shown!r}",
                response=resp,
            ) from None
        if target is None:
            return None
        try:
            next_url = urljoin(resp.url, target)
            if split_url(next_url) is None:  # no host, or a host or port that does not parse
                raise ValueError(next_url)
        except ValueError:
            resp.close()  # its body is of no use; its connection must not linger
            shown = strip_query(target)[:200]
            raise InvalidURL(
                f"the server redirected to a malformed Location: {shown!r}", response=resp
            ) from None
        request = resp.request
        if (
            resp.status_code in (307, 308)
            and request is not None
            and request.body is not None
            and not self.cross_origin_body
            and not same_origin(resp.url, next_url)
        ):
            log.warning(
                "not following the %s redirect from %s to %s: it would send the request body "
                "to another origin; pass Session(cross_origin_body=True) to allow it",
                resp.status_code,
                redact_url(resp.url),
                redact_url(next_url),
            )
            return None
        call = _call.current()
        if call is not None and call.following:
            discard_body(resp)
        return target

    def rebuild_method(self, prepared_request: PreparedRequest, response: Response) -> None:
        """As requests does; a 307/308 that must re-send an unreplayable body raises instead.

        Raises:
            UnreplayableBody: the body is a generator or a consumed stream, which would be
                re-sent empty.
        """
        super().rebuild_method(prepared_request, response)
        call = _call.current()
        if call is not None and not call.following:
            return  # requests computes response.next (allow_redirects=False): nothing is sent
        if response.status_code in (307, 308) and not body_replayable(prepared_request):
            raise UnreplayableBody(
                f"the server redirected {prepared_request.method} with {response.status_code}, "
                "which re-sends the body, but the body is a generator or a stream that was "
                "already read and would go out empty; pass bytes or a seekable file",
                request=prepared_request,
                response=response,
            )

    def _implicit_auth(self, request: Request, url: Any, host: str | None) -> AuthBase:
        """Credentials nobody passed as ``auth``: ``.netrc``, then the URL's user info.

        An explicit ``Authorization`` header on the call always wins; one on the session
        wins over ``.netrc``, as in requests. Either way the credentials become a
        :class:`BasicAuth` (UTF-8) bound to this request's origin.
        """
        if request.headers and "Authorization" in CaseInsensitiveDict(request.headers):
            return NO_AUTH
        if self.trust_env and "Authorization" not in self.headers:
            found = _netrc_credentials(url, host)
            if found is not None:
                return BasicAuth(*found)
        if isinstance(url, str) and "@" in url:
            user, password = get_auth_from_url(url)
            if user or password:
                return BasicAuth(user, password)
        return NO_AUTH

    def _session_basic_auth(self, pair: tuple[str, str]) -> AuthBase:
        """``session.auth = (user, password)`` as one :class:`BasicAuth` for the session.

        One object per pair, so that it is bound to the first origin it is sent to, as
        every auth plugin is, instead of going to every host the session talks to.
        """
        pair = (pair[0], pair[1])  # a list works as well, as in requests
        kept = getattr(self, "_session_basic", None)
        if kept is None or kept[0] != pair:
            kept = self._session_basic = (pair, BasicAuth(*pair))
        return kept[1]

    def _scope_session_headers(self, prepared: PreparedRequest, request: Request) -> None:
        """Drop session-level credential headers that belong to another origin."""
        own = {name.lower() for name in request.headers} if request.headers else ()
        for name in self.headers:
            key = name.lower()
            if key not in self.sensitive_headers or key in own:
                continue
            sent = prepared.headers.get(name)
            if sent is None or sent != self.headers[name]:
                continue  # not the session's value: an auth plugin or a policy replaced it
            if not self._header_binding.permits(name, prepared.url or ""):
                del prepared.headers[name]

    def rebuild_auth(self, prepared_request: PreparedRequest, response: Response) -> None:
        """Before a redirect hop: strip every credential unless the origin stays the same.

        Unlike requests, which strips only ``Authorization`` (and keeps it from http to
        https), any change of scheme, host or port removes ``Authorization``, ``Cookie``
        headers set by hand, API-key headers, ``sensitive_headers``, every header an auth
        plugin set and the previous host policy's headers. The new origin then gets its own
        host policy's headers and auth; unlike requests, never its ``.netrc`` entry, since
        the server chose it. Header values are checked for CR, LF and NUL last (a server
        sets cookies).
        """
        new_url = prepared_request.url or ""
        old_url = (response.request.url if response.request is not None else None) or ""
        self._rebuild_auth(prepared_request, old_url, new_url)
        check_header_values(prepared_request)
        call = _call.current()
        if call is not None:
            # requests sends this request next, from its redirect loop: a hop of this
            # call. Any other send() during the call (from a hook) is a call of its own.
            call.next_hop = prepared_request

    def _rebuild_auth(self, prepared_request: PreparedRequest, old_url: str, new_url: str) -> None:
        if not same_origin(old_url, new_url):
            old_policy = self.policy_for(old_url)
            names = self._credential_names() | {k.lower() for k in old_policy.header_dict()}
            strip_credentials(prepared_request.headers, names)
            policy = self.policy_for(new_url)
            prepared_request.headers.update(policy.header_dict())
            if not isinstance(policy.auth, _Unset):
                prepared_request.prepare_auth(policy.auth, new_url)
        # No .netrc lookup here (requests makes one): the server chose the next host, and
        # .netrc credentials go only to a host the caller asked for.

    def _credential_names(self) -> frozenset[str]:
        """Every header name that may carry a credential in this session's requests."""
        call = _call.current()
        own = call.args.auth_headers if call is not None else frozenset()
        names = self.sensitive_headers | auth_header_names(self.auth) | own
        for adapter in self.adapters.values():
            if isinstance(adapter, HostAdapter) and not isinstance(adapter.policy.auth, _Unset):
                names |= auth_header_names(adapter.policy.auth)
        return names

    def merge_environment_settings(
        self,
        url: str,
        proxies: dict[str, str] | None,
        stream: bool | None,
        verify: Any,
        cert: Any,
    ) -> dict[str, Any]:
        """Merge call, host policy, session and environment settings.

        Precedence: the ``verify``/``cert`` given here > the host policy > the session
        attribute > the environment (only when nothing was set) > the default. As in
        requests, ``verify=True`` given here means "the default", so
        ``REQUESTS_CA_BUNDLE`` may apply; ``verify=True`` given to ``get()``,
        ``request()`` or ``send()`` is the call's own and the environment never overrides
        it (requests #3829), nor a host policy's ``verify=True``. A session attribute left
        at ``True`` counts as unset. ``trust`` (policy or session) counts as set: the
        environment (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, ``SSL_CERT_FILE``) is read
        only when no level set ``verify`` or ``trust``.

        Proxy variables are read from the environment through a per-environment cache;
        ``session.proxies`` beats the environment.
        """
        call = _call.current()
        if call is None or call.begun:
            verify, cert = self._tls_for(url, None if verify is True else verify, cert)
        # else: request() is about to send; send() resolves them for each hop
        merged: dict[str, Any] = {}
        if self.trust_env:
            no_proxy = proxies.get("no_proxy") if proxies else None
            merged.update(ENVIRONMENT_PROXIES.get(url, no_proxy))
        merged.update(self.proxies)
        if proxies:
            merged.update(proxies)
        return {
            "proxies": {k: v for k, v in merged.items() if v is not None},
            "stream": self.stream if stream is None else stream,
            "verify": verify,
            "cert": cert,
        }

    def send(
        self,
        request: PreparedRequest,
        *,
        deadline: float | _Unset | None = UNSET,
        **kwargs: Any,
    ) -> Response:
        """Send as requests does: every call, however it was made, begins here.

        ``request()`` and the verb methods come here with the arguments their caller gave;
        ``send(prepare_request(...), **kwargs)`` is a call of its own with ``kwargs`` (and
        ``deadline``, seconds or ``None``) as its explicit arguments; a ``send()`` or a
        ``get()`` made from a hook or a middleware is a new call that inherits nothing.
        Only requests' own redirect loop continues a call, hop by hop. Each hop is resolved
        once (``httpkit._policy.resolve_hop``); a timeout left unset takes the host's or
        the session's default, and a plain ``HTTPAdapter`` mounted by the user gets
        requests' own values.
        """
        call = _call.current()
        if call is not None and call.begun and call.next_hop is request:
            call.next_hop = None
            call.hops += 1
            return self._send_hop(request, self._begin_hop(call, request, kwargs))
        if call is None or call.begun:
            if not isinstance(deadline, _Unset):
                deadline = check_deadline("send()", deadline)
            call = Call(self._send_args(request, kwargs, deadline))
        first = self._begin_hop(call, request, kwargs)
        hop = call.hop
        assert hop is not None
        call.redirect_limit = hop.settings.retry.redirects if hop.settings else None
        method, url = request.method or "GET", request.url or ""
        watch = call.watch = _call.watch_call(self.telemetry, method, url)
        try:
            with _call.calling(call, call_deadline(call.args, hop.settings)):
                try:
                    response = finish(call, request, self._send_hop(request, first))
                except Exception as exc:
                    errors.fail(exc, request, call)
        except BaseException as error:
            if watch is not None:
                watch.end(None, error)
            raise
        if watch is not None:
            watch.end(response, None)
        if self.raise_for_status:
            response.raise_for_status()
        return response

    def _send_hop(self, request: PreparedRequest, kwargs: dict[str, Any]) -> Response:
        """``requests.Session.send`` for one hop, minus work with no effect.

        requests' steps in requests' order, except that response hooks are dispatched only
        when there are some, and cookies are extracted only from a response that sets
        some (both find nothing otherwise). A class between this one and
        ``requests.Session`` that overrides ``send`` (a mixin) has its ``send`` called.
        """
        if _send_overridden_below(type(self)):
            return super().send(request, **kwargs)
        kwargs.setdefault("stream", self.stream)
        kwargs.setdefault("verify", self.verify)
        kwargs.setdefault("cert", self.cert)
        if "proxies" not in kwargs:
            kwargs["proxies"] = resolve_proxies(request, self.proxies, self.trust_env)
        allow_redirects = kwargs.pop("allow_redirects", True)
        hooks = request.hooks
        adapter = self.get_adapter(url=request.url or "")
        start = preferred_clock()
        response = adapter.send(request, **kwargs)
        response.elapsed = timedelta(seconds=preferred_clock() - start)
        if hooks and hooks.get("response"):
            response = dispatch_hook("response", hooks, response, **kwargs)
        for earlier in response.history:
            extract_cookies_to_jar(self.cookies, earlier.request, earlier.raw)
        if _sets_cookies(response.raw):
            extract_cookies_to_jar(self.cookies, request, response.raw)
        if allow_redirects:
            history = list(self.resolve_redirects(response, request, **kwargs))
            if history:
                history.insert(0, response)
                response = history.pop()
                response.history = history
        else:
            following = next(
                self.resolve_redirects(response, request, yield_requests=True, **kwargs), None
            )
            if following is not None:  # what Response.next() returns
                response._next = following
        if not kwargs.get("stream"):
            response.content  # noqa: B018  # reads the body, as requests does
        return response

    def _tls_for(self, url: str, verify: Any, cert: Any) -> tuple[bool | str, Any]:
        """``verify`` and ``cert`` for ``url``, the call's own first (``None``: unset)."""
        return resolve_tls(
            self.policy_for(url),
            self.verify,
            self.cert,
            self.defaults,
            verify,
            cert,
            trust_env=self.trust_env,
        )

    def _send_args(
        self, request: PreparedRequest, kwargs: dict[str, Any], deadline: float | _Unset | None
    ) -> CallArgs:
        """The explicit arguments of a bare ``send(prepared, **kwargs)``.

        requests documents ``send(prep, **session.merge_environment_settings(url, ...))``:
        a ``verify`` or ``cert`` equal to what the session resolves for this URL came from
        there (a host policy, the session, the environment), so it is resolved again for
        each hop instead of travelling to the next origin as the caller's own.
        """
        verify, cert = kwargs.get("verify"), kwargs.get("cert")
        if verify is not None or cert is not None:
            resolved = self._tls_for(request.url or "", None, None)
            verify = None if verify == resolved[0] else verify
            cert = None if cert == resolved[1] else cert
        return CallArgs(
            timeout=kwargs.get("timeout", UNSET),
            verify=verify,
            cert=cert,
            stream=kwargs.get("stream"),
            deadline=deadline,
            auth_headers=getattr(request, "_httpkit_auth_headers", frozenset()),
        )

    def _begin_hop(
        self, call: Call, request: PreparedRequest, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """Resolve the hop ``request`` starts; return requests' ``send`` arguments for it."""
        if not isinstance(request, requests.PreparedRequest):
            # requests' own check, before anything looks at the request
            raise ValueError("You can only send PreparedRequests.")
        url = request.url or ""
        prepared_for, call.prepared_for = call.prepared_for, None
        if prepared_for is not None and prepared_for[0] == url:
            adapter = prepared_for[1]
        else:
            adapter = self._mounted(url)
        if adapter is None:
            raise InvalidSchema(f"No connection adapters were found for {url!r}")
        settings = adapter.settings if isinstance(adapter, HostAdapter) else None
        hop = call.hop = resolve_hop(url, adapter, settings, call.args, session=self)
        return {
            **kwargs,
            "timeout": hop.timeout,
            "verify": hop.verify,
            "cert": hop.cert,
            "stream": hop.stream,
        }

    # -- construction from a file -------------------------------------------------------

    @classmethod
    def from_config(cls, source: str | PathLike[str] | Mapping[str, Any]) -> Session:
        """Build a session from a TOML file (or an already-parsed mapping).

        The file has a ``[session]`` table and ``[hosts."<target>"]`` tables with the keys
        of :class:`Session` and :meth:`configure`. Secrets are named by environment
        variable only (``token_env = "GH_TOKEN"``, ``password_env = "API_PASSWORD"``).

        Raises:
            ConfigError: naming the file, the table and the key at fault.
        """
        from httpkit._config import load_config

        loaded = load_config(source)
        session = cls(**loaded.session)
        for name, value in loaded.session_attrs.items():
            if name == "headers":
                session.headers.update(value)
            else:
                setattr(session, name, value)
        for target, settings in loaded.hosts:
            session.configure(target, **settings)
        return session


class _Preset:
    """The value a subclass set for one of httpkit's attributes before ``__init__`` ran."""

    __slots__ = ("found",)

    def __init__(self, session: Session) -> None:
        # Instance attributes, and class attributes of subclasses (not httpkit's own
        # class, nor requests', which define none of these).
        self.found = {
            name: getattr(session, name)
            for name in _PRESETTABLE
            if hasattr(session, name) and not hasattr(Session, name)
        }

    def __call__(self, name: str, given: Any, default: Any) -> Any:
        if given is default or given == default:
            return self.found.get(name, given)
        return given


#: httpkit's own attributes a subclass may set before ``Session.__init__`` runs.
_PRESETTABLE: Final = (
    "base_url",
    "pool_maxsize",
    "raise_for_status",
    "cross_origin_body",
    "telemetry",
    "sensitive_headers",
)


def _checked_store(store: Any) -> Store | None:
    """``Session(store=...)``: validated now, so a typo fails where it was made."""
    if store is None:
        return None  # a MemoryStore, made when a feature first needs it
    from httpkit.stores import check_store

    return check_store("Session()", store)


def _normalize_base_url(base_url: str | None) -> str | None:
    if base_url is None:
        return None
    if not isinstance(base_url, str) or not _ABSOLUTE_URL.match(base_url):
        raise ConfigError(
            f"Session(): base_url must be an absolute URL such as 'https://api.example.com/v1', "
            f"got {base_url!r}"
        )
    return base_url if base_url.endswith("/") else base_url + "/"
