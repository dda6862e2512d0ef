"""Bearer (or custom-header) tokens, static or fetched and refreshed before they expire."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from httpkit._exceptions import AuthError, ConfigError
from httpkit._http import is_token
from httpkit.auth._base import OriginBoundAuth, check_header_value, replayable_or_raise, resend

if TYPE_CHECKING:
    from requests import PreparedRequest, Response

__all__ = ["TokenAuth"]

log = logging.getLogger(__name__)

#: What ``fetch()`` returns: the token and its lifetime in seconds (``None``: no expiry).
FetchResult = tuple[str, "float | None"]


class _Cached(NamedTuple):
    """One fetched token; replaced as a whole so readers never see half an update."""

    token: str
    refresh_at: float | None  # monotonic seconds; None: never refresh on time
    generation: int


class TokenAuth(OriginBoundAuth):
    """Send a token in a header: ``Authorization: Bearer <token>`` by default.

    Either give a static ``token``, or a ``fetch`` callable returning ``(token,
    expires_in_seconds or None)``. A fetched token is fetched on first use, fetched again
    ``refresh_margin`` seconds before it expires (at half its lifetime if that is shorter
    than twice the margin), and once more when the server answers 401 to it; the request
    is then re-sent once, and a second 401 is returned as it is. One fetch at a time
    serves every thread. Credentials go only to the plugin's origin (see
    :class:`~httpkit.auth.OriginBoundAuth`).

    >>> TokenAuth("t0k3n")
    TokenAuth(token=<redacted>, header='Authorization', scheme='Bearer')
    >>> TokenAuth("k", header="X-Api-Key", scheme=None).header_names
    frozenset({'x-api-key'})

    Args:
        token: A static token.
        header: The header that carries the token.
        scheme: Put before the token with a space (``"Bearer"``); ``None`` sends the bare
            token, as API-key headers expect.
        fetch: Called with no arguments to get a new ``(token, expires_in_seconds)``;
            ``expires_in_seconds`` may be ``None`` for a token without expiry.
        refresh_margin: Seconds before expiry at which a fetched token is replaced.

    Raises:
        ConfigError: Neither or both of ``token`` and ``fetch`` were given, ``header`` or
            ``scheme`` is not an HTTP token, ``refresh_margin`` is negative, or the static
            token holds CR, LF, NUL or another control character.
    """

    _state_attrs: ClassVar[frozenset[str]] = OriginBoundAuth._state_attrs | {
        "_cached",
        "_fetch_lock",
    }

    def __init__(
        self,
        token: str | None = None,
        *,
        header: str = "Authorization",
        scheme: str | None = "Bearer",
        fetch: Callable[[], FetchResult] | None = None,
        refresh_margin: float = 30,
    ) -> None:
        super().__init__()
        if (token is None) == (fetch is None):
            raise ConfigError("TokenAuth needs exactly one of token= or fetch=")
        if not is_token(header):
            raise ConfigError(f"TokenAuth header must be an HTTP header name, got {header!r}")
        if scheme is not None and not is_token(scheme):
            raise ConfigError(f"TokenAuth scheme must be an HTTP token or None, got {scheme!r}")
        if refresh_margin < 0:
            raise ConfigError(f"TokenAuth refresh_margin must be >= 0, got {refresh_margin!r}")
        if token is not None:
            if not isinstance(token, str) or not token:
                raise ConfigError("TokenAuth token must be a non-empty str")
            try:
                check_header_value(token, "TokenAuth token")
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        self.header = header
        self.scheme = scheme
        self.refresh_margin = float(refresh_margin)
        self._token = token
        self._fetch = fetch
        self.header_names = frozenset({header.lower()})
        self._clock: Callable[[], float] = time.monotonic
        self._init_state()

    def _init_state(self) -> None:
        # A fetched token is not pickled: its deadline is on this process's monotonic
        # clock, and the new process can fetch its own.
        self._fetch_lock = threading.Lock()
        self._cached: _Cached | None = None

    def _new_locks(self) -> None:
        # The token stays valid in a forked child (one monotonic clock); the lock may have
        # been held by a parent's thread that is not there.
        self._fetch_lock = threading.Lock()

    def _config(self) -> tuple[Any, ...]:
        return (self._token, self._fetch, self.header.lower(), self.scheme, self.refresh_margin)

    def __repr__(self) -> str:
        if self._fetch is None:
            source = "token=<redacted>"
        else:  # the callable's own repr may show its arguments (a client secret in a partial)
            name = getattr(self._fetch, "__qualname__", type(self._fetch).__qualname__)
            source = f"fetch=<{getattr(self._fetch, '__module__', '?')}.{name}>"
        return f"TokenAuth({source}, header={self.header!r}, scheme={self.scheme!r})"

    # -- token lifecycle ---------------------------------------------------------------

    def _fresh(self, cached: _Cached | None) -> bool:
        return cached is not None and (
            cached.refresh_at is None or self._clock() < cached.refresh_at
        )

    def _current(self) -> tuple[str, int]:
        """The token to send now, and its generation (static tokens are generation 0)."""
        if self._token is not None:
            return self._token, 0
        cached = self._cached
        if self._fresh(cached):
            assert cached is not None
            return cached.token, cached.generation
        seen = cached.generation if cached is not None else 0
        return self._refresh(seen)

    def _refresh(self, seen_generation: int) -> tuple[str, int]:
        """Fetch a new token unless another thread did since ``seen_generation``."""
        with self._fetch_lock:
            cached = self._cached
            if cached is not None and cached.generation != seen_generation:
                return cached.token, cached.generation  # someone else refreshed: reuse it
            token, lifetime = self._call_fetch()
            generation = seen_generation + 1
            refresh_at = None
            if lifetime is not None:
                margin = min(self.refresh_margin, lifetime / 2)
                refresh_at = self._clock() + lifetime - margin
            self._cached = _Cached(token, refresh_at, generation)
            log.debug("TokenAuth fetched a new token (generation %d)", generation)
            return token, generation

    def _call_fetch(self) -> FetchResult:
        assert self._fetch is not None
        try:
            result = self._fetch()
        except Exception as exc:
            # The message names the exception type only: its text may hold a token.
            raise AuthError(
                f"TokenAuth fetch() failed with {type(exc).__name__}; see the chained exception"
            ) from exc
        if not (isinstance(result, tuple) and len(result) == 2):
            raise AuthError(
                "TokenAuth fetch() must return (token, expires_in_seconds or None), "
                f"got {type(result).__name__}"
            )
        token, lifetime = result
        if not isinstance(token, str) or not token:
            raise AuthError("TokenAuth fetch() returned an empty token or one that is not a str")
        if lifetime is not None and (
            isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)) or lifetime < 0
        ):
            raise AuthError(
                "TokenAuth fetch() returned an expiry that is not a number of seconds >= 0 "
                f"or None: {lifetime!r}"
            )
        try:
            check_header_value(token, "the token returned by TokenAuth fetch()")
        except ValueError as exc:
            raise AuthError(str(exc)) from None
        return token, None if lifetime is None else float(lifetime)

    def _value(self, token: str) -> str:
        return token if self.scheme is None else f"{self.scheme} {token}"

    # -- requests hooks ----------------------------------------------------------------

    def __call__(self, r: PreparedRequest) -> PreparedRequest:
        """Add the token header if ``r.url`` is permitted, and a 401 hook for fetched tokens."""
        if not self.permits(r.url):
            return r
        token, generation = self._current()
        r.headers[self.header] = self._value(token)
        if self._fetch is not None:
            # The generation tells the 401 hook whether a refresh already happened since.
            r.register_hook("response", _RefreshOn401(self, generation))
        return r

    def _handle_401(self, r: Response, generation: int, **kwargs: Any) -> Response:
        if r.status_code != 401 or not self.permits(r.url):
            return r
        replayable_or_raise(r.request, "with a refreshed token after a 401", r)
        token, _ = self._refresh(generation)
        request = r.request.copy()
        request.headers[self.header] = self._value(token)
        return resend(r, request, **kwargs)


class _RefreshOn401:
    """The response hook of one request: refresh once on a 401 and re-send once.

    A class rather than a closure so that prepared requests stay picklable.
    """

    def __init__(self, auth: TokenAuth, generation: int) -> None:
        self.auth = auth
        self.generation = generation

    def __call__(self, r: Response, **kwargs: Any) -> Response:
        return self.auth._handle_401(r, self.generation, **kwargs)
