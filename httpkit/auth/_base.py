"""The origin rule shared by every auth plugin: credentials go to one origin, or to a policy."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from requests.auth import AuthBase
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar

from httpkit import _fork
from httpkit._exceptions import AuthError
from httpkit._http import FIELD_VALUE_FORBIDDEN, Origin, origin_of

if TYPE_CHECKING:
    from requests import PreparedRequest, Response

__all__ = ["OriginBoundAuth"]


class OriginBoundAuth(AuthBase):
    """Base class of httpkit's auth plugins: credentials that never leave their origin.

    Until :meth:`bind` is called, the first URL the plugin is applied to binds it to that
    URL's origin (scheme, host and port); afterwards only that origin receives credentials.
    ``Session.configure(target, auth=plugin)`` calls :meth:`bind` with the host policy's
    matcher instead, so the plugin serves exactly the targets of that policy.

    Subclasses set :attr:`header_names` (lowercase) to every header they may add, so that a
    Session can strip them on a redirect to another origin, and check :meth:`permits` before
    adding credentials or answering a challenge.
    """

    #: Lowercase names of every header this plugin may set on a request.
    header_names: frozenset[str] = frozenset({"authorization"})

    # Attributes that are state, not configuration: left out of equality and, where they
    # cannot travel between processes, out of pickles.
    _state_attrs: ClassVar[frozenset[str]] = frozenset({"_bind_lock", "_bound_origin"})

    _bind_lock: threading.Lock
    _bound_origin: Origin | None
    _permits: Callable[[str], bool] | None

    def __init__(self) -> None:
        self._bind_lock = threading.Lock()
        self._bound_origin = None
        self._permits = None
        _fork.register(self)

    def bind(self, permits: Callable[[str], bool]) -> None:
        """Serve exactly the URLs for which ``permits(url)`` is true, instead of first use.

        Args:
            permits: A predicate over absolute URLs, typically a host policy's matcher.
                It must be picklable if the plugin is to be pickled.
        """
        self._permits = permits

    @property
    def bound_origin(self) -> Origin | None:
        """The origin fixed by first use, or ``None`` while unbound or bound to a policy."""
        return self._bound_origin

    def permits(self, url: str | None) -> bool:
        """Whether credentials may be sent to (and challenges answered from) ``url``.

        When the plugin is not bound to a policy, the first URL asked about fixes the
        origin (thread-safe: concurrent first uses agree on one winner).

        Args:
            url: An absolute URL.

        Returns:
            ``True`` if the URL is permitted; unparsable URLs never are.
        """
        if not url:
            return False
        if self._permits is not None:
            try:
                return bool(self._permits(url))
            except ValueError:
                return False
        try:
            origin = origin_of(url)
        except (ValueError, TypeError):
            return False
        bound = self._bound_origin
        if bound is None:
            with self._bind_lock:
                if self._bound_origin is None:
                    self._bound_origin = origin
                bound = self._bound_origin
        return origin == bound

    # -- equality and pickling ---------------------------------------------------------

    def _config(self) -> tuple[Any, ...]:
        """The values that define this plugin; equality and hashing use them."""
        return ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, OriginBoundAuth)
        return self._config() == other._config()

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash((type(self), self._config()))

    def __getstate__(self) -> dict[str, Any]:
        # threading.Lock and threading.local do not pickle; a bound origin does.
        state = dict(self.__dict__)
        for name in self._state_attrs:
            state.pop(name, None)
        state["_bound_origin"] = self._bound_origin
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._bind_lock = threading.Lock()
        self._init_state()
        _fork.register(self)

    def _after_fork(self) -> None:
        """In a forked child: new locks; what the plugin learned (its origin) is kept."""
        self._bind_lock = threading.Lock()
        self._new_locks()

    def _new_locks(self) -> None:
        """Recreate the locks a subclass keeps (in a forked child)."""

    def _init_state(self) -> None:
        """Recreate the per-process state a subclass keeps (locks, caches) after unpickling."""

    def __str__(self) -> str:
        return repr(self)


def check_header_value(value: str, what: str) -> str:
    """Return ``value`` if it can travel in a header; otherwise raise without echoing it.

    Args:
        value: The would-be header value (a secret: never put it in a message).
        what: What the value is, for the message ("the token").

    Raises:
        ValueError: The value holds CR, LF, NUL or another control character, or cannot be
            encoded as ISO-8859-1 (what http.client sends header values in).
    """
    bad = FIELD_VALUE_FORBIDDEN.intersection(value)
    if bad:
        names = ", ".join(sorted(_char_name(c) for c in bad))
        raise ValueError(f"{what} contains a character not allowed in a header value ({names})")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"{what} contains characters outside ISO-8859-1") from None
    return value


def _char_name(char: str) -> str:
    return {"\r": "CR", "\n": "LF", "\x00": "NUL"}.get(char, f"U+{ord(char):04X}")


def replayable_or_raise(request: PreparedRequest, why: str, response: Response) -> None:
    """Make sure ``request``'s body can be sent again, rewinding a seekable file.

    Args:
        request: The request about to be re-sent.
        why: Why it would be re-sent, for the message ("to answer a Digest challenge").
        response: The response that asked for the re-send; attached to the error.

    Raises:
        AuthError: The body is a generator or an unseekable stream that was consumed.
    """
    body = request.body
    if body is None or isinstance(body, (bytes, str)):
        return
    position = getattr(request, "_body_position", None)
    seek = getattr(body, "seek", None)
    if isinstance(position, int) and callable(seek):
        try:
            seek(position)
        except OSError:
            pass
        else:
            return
    raise AuthError(
        f"cannot re-send the request {why}: its body is a stream or generator that was "
        "already consumed; pass bytes, or a seekable file, to let httpkit re-send it",
        request=request,
        response=response,
    )


def resend(response: Response, request: PreparedRequest, **kwargs: Any) -> Response:
    """Send ``request`` (a copy of ``response.request`` with new credentials) on the same adapter.

    Cookies the first response set go with the new request, and the first response is read,
    released and kept in the new response's history.

    Args:
        response: The response that asked for credentials (401 or 407).
        request: The request to send instead.
        **kwargs: The keyword arguments the response hook received (timeout, proxies, ...).

    Returns:
        The new response.
    """
    response.content  # noqa: B018 - read the body so the connection goes back to the pool
    response.close()
    jar = request._cookies
    if jar is None:
        jar = RequestsCookieJar()
    extract_cookies_to_jar(jar, response.request, response.raw)
    # prepare_cookies() leaves an existing Cookie header alone, which would drop what the
    # 401 just set; rebuild the header from the jar and keep any hand-written pairs.
    old_header = request.headers.pop("Cookie", None)
    request.prepare_cookies(jar)
    if isinstance(old_header, bytes):
        old_header = old_header.decode("latin-1")
    if old_header:
        new_header = request.headers.get("Cookie")
        if new_header is None:
            request.headers["Cookie"] = old_header
        else:
            new_text = new_header.decode("latin-1") if isinstance(new_header, bytes) else new_header
            names = {part.split("=", 1)[0].strip() for part in new_text.split(";")}
            kept = [
                part.strip()
                for part in old_header.split(";")
                if part.split("=", 1)[0].strip() not in names
            ]
            request.headers["Cookie"] = "; ".join([new_text, *kept])
    connection = response.connection
    new_response: Response = connection.send(request, **kwargs)
    new_response.history.append(response)
    new_response.request = request
    return new_response
