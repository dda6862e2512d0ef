"""MemoryStore: the state of one process."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Final

from httpkit import _clock, _fork
from httpkit.stores._base import encode, gcra, held, number

#: Expired values are swept after this many writes.
_SWEEP_EVERY: Final = 1024


class MemoryStore:
    """The state of this process only: the default store.

    Every thread of the process shares it; other processes do not see it. Its times are
    this process's monotonic clock (the instant clock of :mod:`httpkit.testing` included).
    A forked child keeps a copy of the values as they were, and a pickled session gets an
    empty store back.

    >>> store = MemoryStore()
    >>> store.add("lock", b"me", ttl=5), store.add("lock", b"you", ttl=5)
    (True, False)
    >>> store.get_many(["lock", "other"])
    [b'me', None]
    """

    shared = False

    def __init__(self) -> None:
        self._values: dict[str, tuple[bytes, float | None]] = {}
        self._lock = threading.Lock()
        self._writes = 0
        _fork.register(self)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "MemoryStore()"

    def __getstate__(self) -> dict[str, object]:
        return {}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__()  # type: ignore[misc]  # a new lock and no values

    def _live(self, key: str, now: float) -> bytes | None:
        found = self._values.get(key)
        if found is None:
            return None
        value, expires = found
        if expires is not None and expires <= now:
            del self._values[key]
            return None
        return value

    def _put(self, key: str, value: bytes, ttl: float | None, now: float) -> None:
        self._values[key] = (value, None if ttl is None else now + ttl)
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            for old in [k for k, (_, e) in self._values.items() if e is not None and e <= now]:
                del self._values[old]

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        now = _clock.monotonic()
        with self._lock:
            return [self._live(key, now) for key in keys]

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        now = _clock.monotonic()
        with self._lock:
            self._put(key, value, ttl, now)

    def add(self, key: str, value: bytes, ttl: float) -> bool:
        now = _clock.monotonic()
        with self._lock:
            if self._live(key, now) is not None:
                return False
            self._put(key, value, ttl, now)
            return True

    def incr(self, key: str, ttl: float) -> int:
        now = _clock.monotonic()
        with self._lock:
            current = self._live(key, now)
            count = int(number(current)) + 1
            expires = self._values[key][1] if current is not None else now + ttl
            self._values[key] = (b"%d" % count, expires)
            return count

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._values.pop(key, None)

    def take(self, key: str, interval: float, burst: int, max_wait: float | None) -> float:
        now = _clock.monotonic()
        with self._lock:
            tat = number(self._live(key, now), now)
            wait, new = gcra(tat, now, interval, burst, max_wait)
            if interval and new != tat:
                self._put(key, encode(new), new - now + 1.0, now)
            return wait

    def hold(self, key: str, seconds: float, interval: float, burst: int) -> None:
        now = _clock.monotonic()
        with self._lock:
            tat = number(self._live(key, now), now)
            new = held(tat, now, seconds, interval, burst)
            if new != tat:
                self._put(key, encode(new), new - now + 1.0, now)

    def close(self) -> None:
        """Nothing to let go of: the values stay."""
