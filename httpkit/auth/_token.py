"""Bearer (or custom-header) tokens, static or fetched and refreshed before they expire."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from httpkit import _clock
from httpkit._exceptions import AuthError, ConfigError
from httpkit._http import is_token
from httpkit.auth._base import OriginBoundAuth, check_header_value, replayable_or_raise, resend

if TYPE_CHECKING:
    from requests import PreparedRequest, Response

    from httpkit.stores import Store

__all__ = ["TokenAuth"]

log = logging.getLogger(__name__)

#: What ``fetch()`` returns: the token and its lifetime in seconds (``None``: no expiry).
FetchResult = tuple[str, "float | None"]


class _Cached(NamedTuple):
    """One fetched token; replaced as a whole so readers never see half an update."""

    token: str
    refresh_at: float | None  # monotonic seconds; None: never refresh on time
    generation: int


#: The most a process waits for another to refresh a shared token, in seconds; past it,
#: it fetches one itself. Also the lease of the process that refreshes.
SHARED_WAIT = 10.0
#: The first pause between two looks at the store while another process refreshes.
_FIRST_POLL = 0.02
_FORMAT = b"httpkit-token/1"


class _Shared(NamedTuple):
    """A token as the store keeps it: ``httpkit-token/1 <generation> <refresh at> <token>``.

    ``refresh at`` is a Unix time (``-`` for never); the entry also expires then on the
    store's own clock. Anything else under the key is no token (a miss).
    """

    token: str
    refresh_at: float | None  # Unix time
    generation: int

    def encode(self) -> bytes:
        when = b"-" if self.refresh_at is None else b"%.3f" % self.refresh_at
        return b"%s %d %s %s" % (_FORMAT, self.generation, when, self.token.encode("latin-1"))

    @classmethod
    def decode(cls, value: bytes | None) -> _Shared | None:
        parts = value.split(b" ", 3) if value is not None else []
        if len(parts) != 4 or parts[0] != _FORMAT or not parts[1].isdigit():
            return None
        try:
            refresh_at = None if parts[2] == b"-" else float(parts[2])
            token = check_header_value(parts[3].decode("latin-1"), "a shared token")
        except ValueError:
            return None
        return cls(token, refresh_at, int(parts[1])) if token else None

    def usable(self, now: float, rejected: int | None) -> bool:
        """Fresh at ``now`` (Unix time), and not the generation a server just rejected."""
        return self.generation != rejected and (self.refresh_at is None or now < self.refresh_at)


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
        store: Share the fetched token with every process using this store (a store or a
            store URL; see ``docs/fleet.md``): one fetch per expiry for the whole fleet.
            While one process fetches, the others wait for its token (up to
            :data:`SHARED_WAIT` seconds, then they fetch their own); a 401 still makes
            one refresh, and a process that meets a token another one already replaced
            takes the new one. The token is kept in the store as it is sent: protect the
            store as you would the token.
        store_key: The name of the token in the store (with ``store``), such as
            ``"billing-api"``: processes with the same key share one token.

    Raises:
        ConfigError: Neither or both of ``token`` and ``fetch`` were given, ``header`` or
            ``scheme`` is not an HTTP token, ``refresh_margin`` is negative, the static
            token holds CR, LF, NUL or another control character, or ``store`` and
            ``store_key`` are not given together with ``fetch``.
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
        store: Any = None,
        store_key: str | None = None,
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
        if (store is None) != (store_key is None) or (store is not None and fetch is None):
            raise ConfigError(
                "TokenAuth shares a fetched token through a store: give fetch=, store= and "
                "store_key= together"
            )
        if store_key is not None and (not isinstance(store_key, str) or not store_key):
            raise ConfigError(f"TokenAuth store_key must be a non-empty str, got {store_key!r}")
        self.store: Store | None = None
        if store is not None:
            from httpkit.stores import check_store  # loaded with the first shared token

            self.store = check_store("TokenAuth", store)
        self.store_key = store_key
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
        return (
            self._token,
            self._fetch,
            self.header.lower(),
            self.scheme,
            self.refresh_margin,
            self.store,
            self.store_key,
        )

    def __repr__(self) -> str:
        if self._fetch is None:
            source = "token=<redacted>"
        else:  # the callable's own repr may show its arguments (a client secret in a partial)
            name = getattr(self._fetch, "__qualname__", type(self._fetch).__qualname__)
            source = f"fetch=<{getattr(self._fetch, '__module__', '?')}.{name}>"
        shared = (
            "" if self.store is None else f", store={self.store!r}, store_key={self.store_key!r}"
        )
        return f"TokenAuth({source}, header={self.header!r}, scheme={self.scheme!r}{shared})"

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
        return self._refresh(seen, rejected=False)

    def _refresh(self, seen_generation: int, *, rejected: bool) -> tuple[str, int]:
        """Fetch a new token unless another thread did since ``seen_generation``.

        ``rejected``: a server answered 401 to that generation (else it is only due).
        """
        with self._fetch_lock:
            cached = self._cached
            if cached is not None and cached.generation != seen_generation:
                return cached.token, cached.generation  # someone else refreshed: reuse it
            if self.store is not None:
                shared = self._shared_refresh(seen_generation if rejected else None)
                refresh_at = shared.refresh_at
                if refresh_at is not None:  # a Unix time: as this process's monotonic time
                    refresh_at = self._clock() + refresh_at - _clock.wall()
                self._cached = _Cached(shared.token, refresh_at, shared.generation)
                return shared.token, shared.generation
            token, lifetime = self._call_fetch()
            generation = seen_generation + 1
            refresh_at = None
            if lifetime is not None:
                margin = min(self.refresh_margin, lifetime / 2)
                refresh_at = self._clock() + lifetime - margin
            self._cached = _Cached(token, refresh_at, generation)
            log.debug("TokenAuth fetched a new token (generation %d)", generation)
            return token, generation

    def _shared_refresh(self, rejected: int | None) -> _Shared:
        """The fleet's current token: taken from the store, or fetched by one process.

        The process that wins the store's lease fetches and writes; the others look again
        (waiting a little longer each time) until the new token is there, for at most
        :data:`SHARED_WAIT` seconds; past that they fetch their own.
        """
        store = self.store
        assert store is not None
        key = f"token:{self.store_key}"
        lease = key + ":refreshing"
        give_up = _clock.monotonic() + SHARED_WAIT
        pause = _FIRST_POLL
        while True:
            (value,) = store.get_many([key])
            found = _Shared.decode(value)
            if found is not None and found.usable(_clock.wall(), rejected):
                return found
            if store.add(lease, b"1", SHARED_WAIT):
                try:
                    (value,) = store.get_many([key])  # written since the first look?
                    found = _Shared.decode(value)
                    if found is not None and found.usable(_clock.wall(), rejected):
                        return found
                    return self._fetch_shared(key, found, rejected)
                finally:
                    store.delete(lease)
            if _clock.monotonic() >= give_up:
                log.warning(
                    "TokenAuth: no token under store key %r after %g s; fetching one here",
                    self.store_key,
                    SHARED_WAIT,
                )
                return self._fetch_shared(key, found, rejected)
            _clock.sleep(pause)
            pause = min(pause * 2, 0.25)

    def _fetch_shared(self, key: str, found: _Shared | None, rejected: int | None) -> _Shared:
        assert self.store is not None
        token, lifetime = self._call_fetch()
        generation = max(found.generation if found else 0, rejected or 0) + 1
        refresh_at = None
        if lifetime is not None:
            refresh_at = _clock.wall() + lifetime - min(self.refresh_margin, lifetime / 2)
        shared = _Shared(token, refresh_at, generation)
        ttl = None if refresh_at is None else max(refresh_at - _clock.wall(), 0.001)
        self.store.set(key, shared.encode(), ttl)
        log.debug("TokenAuth fetched a new shared token (generation %d)", generation)
        return shared

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
        token, _ = self._refresh(generation, rejected=True)
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
