"""Credential scoping: what may travel to which origin, on every request and redirect hop.

Credentials are bound to an origin (scheme, host, port):

* an auth plugin to the origin it was first applied to, or to its host policy's targets;
* a session-level credential header (``Authorization``, ``Cookie``, API-key headers and
  ``sensitive_headers=``) to the first origin it is sent to;
* a cookie given without a domain to the host of the request it was given with (or, in the
  session's jar, of the first request that uses it);
* a ``.netrc`` entry to the host it names.

On a redirect to another origin every credential header is removed before the next hop;
only what belongs to the new origin (its ``.netrc`` entry, its proxy's credentials) is
added back.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable
from http.cookiejar import CookieJar
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from requests.auth import AuthBase
from requests.cookies import RequestsCookieJar, create_cookie
from requests.exceptions import RequestException
from requests.models import PreparedRequest

from httpkit import _fork
from httpkit._environ import environ_get
from httpkit._http import Origin, origin_of

if TYPE_CHECKING:
    import netrc

log = logging.getLogger("httpkit")

# Proxy-Authorization is reset for each hop by requests' rebuild_proxies() (from the new
# hop's proxy URL) before rebuild_auth() runs, so it is not stripped again here.
_NOT_STRIPPED: Final = frozenset({"proxy-authorization"})


def auth_header_names(auth: object) -> frozenset[str]:
    """The headers an auth object may set: its ``header_names``, else the standard pair."""
    if auth is None:
        return frozenset()
    names = getattr(auth, "header_names", None)
    if isinstance(names, frozenset):
        return names
    return frozenset({"authorization", "proxy-authorization"})


def strip_credentials(headers: Any, names: frozenset[str]) -> list[str]:
    """Remove every header in ``names`` (lowercase) from ``headers``; return what went."""
    wanted = names - _NOT_STRIPPED
    removed = [name for name in headers if name.lower() in wanted]
    for name in removed:
        del headers[name]
    return removed


class HeaderBinding:
    """Binds session-level credential headers to the first origin they are sent to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.origins: dict[str, Origin] = {}
        self._warned: set[tuple[str, Origin]] = set()
        _fork.register(self)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()

    def permits(self, name: str, url: str) -> bool:
        try:
            origin = origin_of(url)
        except ValueError:
            return False
        key = name.lower()
        bound = self.origins.get(key)
        if bound is None:
            with self._lock:
                bound = self.origins.setdefault(key, origin)
        if bound == origin:
            return True
        if (key, origin) not in self._warned:
            self._warned.add((key, origin))
            log.warning(
                "not sending the session header %s to %s: it is bound to %s, the first origin "
                "it was sent to; give each host its credentials with Session.configure()",
                name,
                origin,
                bound,
            )
        return False

    def __getstate__(self) -> dict[str, Any]:
        return {"origins": dict(self.origins)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]  # fresh lock and warnings
        self.origins.update(state.get("origins", {}))


_PORT_SUFFIX: Final = re.compile(r":\d+$", re.ASCII)


def cookie_host(url: str) -> str | None:
    """The host a cookie jar matches ``url`` against, once requests has prepared it.

    That is the domain a domain-less cookie must carry to go to this host only: the
    jar's "effective request host" (``http.cookiejar``), which gives a dotless name or an
    IPv6 literal a ``.local`` suffix, taken from the URL as requests sends it (host
    lowercased, IDNA-encoded). ``None`` for a URL requests cannot prepare.

    >>> cookie_host("HTTP://LocalHost:8080/x"), cookie_host("http://[::1]:5/")
    ('localhost.local', '[::1].local')
    >>> cookie_host("https://bücher.example/"), cookie_host("http://127.0.0.1/")
    ('xn--bcher-kva.example', '127.0.0.1')
    """
    prepared = PreparedRequest()
    try:
        prepared.prepare_url(url, None)
        netloc = urlsplit(prepared.url or "").netloc
    except (RequestException, ValueError):
        return None
    host = _PORT_SUFFIX.sub("", netloc, count=1).lower()  # the jar's own steps, in order
    return host if "." in host else host + ".local"


def bind_cookies(cookies: object, url: str) -> RequestsCookieJar | None:
    """A jar of the call's ``cookies=`` in which domain-less cookies belong to ``url``'s host.

    Returns ``None`` when there is nothing to bind (no cookies, or a URL requests will
    refuse anyway).
    """
    if not cookies or not isinstance(cookies, CookieJar | dict):
        return None
    host = cookie_host(url)
    if host is None:
        return None
    jar = RequestsCookieJar()
    if isinstance(cookies, CookieJar):
        for cookie in cookies:
            if not cookie.domain:
                cookie = create_cookie(
                    cookie.name, cookie.value or "", domain=host, path=cookie.path or "/"
                )
            jar.set_cookie(cookie)
        return jar
    for name, value in cookies.items():
        if value is not None:
            jar.set_cookie(create_cookie(name, value, domain=host))
    return jar


def bind_jar_cookies(jar: CookieJar, url: str) -> None:
    """Give the domain-less cookies of a session jar the host of their first request."""
    # CookieJar keeps cookies by domain in ``_cookies``; a "" key means cookies that
    # requests would send to every host. Checking the key keeps this O(1) per request.
    table = getattr(jar, "_cookies", None)
    if not isinstance(table, dict) or "" not in table:
        return
    host = cookie_host(url)
    if host is None:
        return
    unbound = [cookie for paths in table[""].values() for cookie in paths.values()]
    for cookie in unbound:
        jar.clear("", cookie.path, cookie.name)
        jar.set_cookie(
            create_cookie(cookie.name, cookie.value or "", domain=host, path=cookie.path or "/")
        )


class NetrcCache:
    """``.netrc`` lookups as requests does them, parsing each file once per change."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[tuple[int, int], netrc.netrc | None]] = {}
        self._paths_for: dict[tuple[str | None, str | None], tuple[str, ...]] = {}

    def _paths(self) -> Iterable[str]:
        # Expanding "~" costs more than the stat that follows; the result depends only on
        # NETRC and HOME. Files are still looked for on every call, so a .netrc created
        # while the session runs is found.
        key = (environ_get("NETRC"), environ_get("HOME"))
        paths = self._paths_for.get(key)
        if paths is None:
            if key[0]:
                paths = (os.path.expanduser(key[0]),)
            else:
                paths = (os.path.expanduser("~/.netrc"), os.path.expanduser("~/_netrc"))
            self._paths_for[key] = paths
        return paths

    def credentials(self, host: str | None) -> tuple[str, str] | None:
        """``(login, password)`` for ``host`` from the first netrc file that exists."""
        if not host:
            return None
        for path in self._paths():
            try:
                stat = os.stat(path)
            except OSError:
                continue
            key = (stat.st_mtime_ns, stat.st_size)
            cached = self._parsed.get(path)
            if cached is None or cached[0] != key:
                import netrc  # with the first .netrc file found

                try:
                    parsed: netrc.netrc | None = netrc.netrc(path)
                except (netrc.NetrcParseError, OSError):
                    parsed = None  # requests ignores unreadable netrc files too
                cached = self._parsed[path] = (key, parsed)
            if cached[1] is None:
                return None
            found = cached[1].authenticators(host)
            if not found:
                return None
            login = found[0] or found[1] or ""
            return (login, found[2] or "")
        return None


class NoAuth(AuthBase):
    """Marks "no credentials" so that requests does not consult ``.netrc`` a second time."""

    def __call__(self, r: Any) -> Any:
        return r

    def __repr__(self) -> str:
        return "NoAuth()"


NO_AUTH: Final = NoAuth()
NETRC: Final = NetrcCache()
