"""What a forked child must not inherit from its parent: connections, locks, threads.

``os.fork()`` (gunicorn ``--preload``, multiprocessing's ``fork`` start method, Celery's
prefork pool) copies a process with its objects but with only the calling thread. A session
made before the fork would hand the child the parent's pooled sockets, so both would read
and write one TCP (and TLS) stream (requests #4323); a lock another thread held at that
moment stays held for ever in the child; the deadline watchdog's thread is gone, and the
calls it watched for the parent's other threads are still listed.

Objects that hold such state register here; in the child each one's ``_after_fork()`` runs
once, right after the fork, before the child's own code continues. The parent is left as
it was: the child drops its copies of pooled connections without closing them.
"""

from __future__ import annotations

import os
import weakref
from typing import Any, Final, Protocol


class ForkAware(Protocol):
    def _after_fork(self) -> None:
        """Drop or rebuild, in a forked child, what belongs to the parent process."""


# By identity: objects that compare equal (two auth plugins with one configuration) each
# have state of their own.
_REGISTERED: Final[weakref.WeakValueDictionary[int, Any]] = weakref.WeakValueDictionary()


def register(obj: ForkAware) -> None:
    """Have ``obj._after_fork()`` called in every child forked while ``obj`` lives."""
    _REGISTERED[id(obj)] = obj


def _in_child() -> None:
    for obj in list(_REGISTERED.values()):
        obj._after_fork()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_in_child)
