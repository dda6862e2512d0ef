"""What the shared stores have in common: a fault never takes the client down.

A shared store (SQLite, Redis) can fail: the server is down, slow or restarting, the file
is locked for too long. Every operation has its own short timeout; when it fails, the store
logs one warning and serves that operation, and all others for ``reconnect_after`` seconds,
from a :class:`~httpkit.MemoryStore` of this process. Then it tries the shared store
again, and logs once more when it is back. Meanwhile each process has its own rate limits
and circuits, as if it had no shared store; what the processes kept in the shared store
before the fault is used again once it is back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from httpkit import _clock, _fork
from httpkit.stores._memory import MemoryStore

T = TypeVar("T")

log = logging.getLogger("httpkit")


class SharedStore:
    """The base of the stores other processes see; subclasses provide the ``_`` operations."""

    shared = True
    #: The errors of the backend that mean "unavailable" (not a bug of httpkit's).
    faults: tuple[type[BaseException], ...] = (OSError,)

    def __init__(self, *, reconnect_after: float = 1.0) -> None:
        self.reconnect_after = reconnect_after
        self._fallback = MemoryStore()
        self._down_until = 0.0
        self._guard_lock = threading.Lock()
        _fork.register(self)

    def _after_fork(self) -> None:
        self._guard_lock = threading.Lock()

    def _guarded(self, primary: Callable[..., T], backup: Callable[..., T], *args: Any) -> T:
        if self._down_until and _clock.monotonic() < self._down_until:
            return backup(*args)
        try:
            result = primary(*args)
        except self.faults as exc:
            self._went_down(exc)
            return backup(*args)
        if self._down_until:
            self._came_back()
        return result

    def _went_down(self, exc: BaseException) -> None:
        with self._guard_lock:
            first = not self._down_until
            self._down_until = _clock.monotonic() + self.reconnect_after
        if first:
            log.warning(
                "httpkit: the store %r is unavailable (%s: %s); each process keeps its own "
                "rate limits and circuits until it is back (tried again every %g s)",
                self,
                type(exc).__name__,
                exc,
                self.reconnect_after,
            )

    def _came_back(self) -> None:
        with self._guard_lock:
            if not self._down_until:
                return
            self._down_until = 0.0
        log.warning("httpkit: the store %r is available again", self)

    @property
    def available(self) -> bool:
        """Whether the last operation reached the shared store (not the per-process one)."""
        return not self._down_until

    # -- the operations, each guarded ----------------------------------------------------

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return self._guarded(self._get_many, self._fallback.get_many, keys)

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self._guarded(self._set, self._fallback.set, key, value, ttl)

    def add(self, key: str, value: bytes, ttl: float) -> bool:
        return self._guarded(self._add, self._fallback.add, key, value, ttl)

    def incr(self, key: str, ttl: float) -> int:
        return self._guarded(self._incr, self._fallback.incr, key, ttl)

    def delete(self, *keys: str) -> None:
        self._guarded(self._delete, self._fallback.delete, *keys)

    def take(self, key: str, interval: float, burst: int, max_wait: float | None) -> float:
        return self._guarded(self._take, self._fallback.take, key, interval, burst, max_wait)

    def hold(self, key: str, seconds: float, interval: float, burst: int) -> None:
        self._guarded(self._hold, self._fallback.hold, key, seconds, interval, burst)

    # -- what a subclass provides --------------------------------------------------------

    def _get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        raise NotImplementedError

    def _set(self, key: str, value: bytes, ttl: float | None) -> None:
        raise NotImplementedError

    def _add(self, key: str, value: bytes, ttl: float) -> bool:
        raise NotImplementedError

    def _incr(self, key: str, ttl: float) -> int:
        raise NotImplementedError

    def _delete(self, *keys: str) -> None:
        raise NotImplementedError

    def _take(self, key: str, interval: float, burst: int, max_wait: float | None) -> float:
        raise NotImplementedError

    def _hold(self, key: str, seconds: float, interval: float, burst: int) -> None:
        raise NotImplementedError
