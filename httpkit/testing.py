"""Test code that uses httpkit quickly: every behaviour, none of the waiting.

A suite that mocks HTTP (with ``responses``, ``requests-mock`` or a local server) and lets
httpkit retry, honour ``Retry-After`` or keep a rate limit would wait as in production:
half a second here, thirty seconds there. Inside :func:`instant_clock` those waits take no
time. Everything else stays as it is: the same retries in the same order, the same
``Retry-After`` ceiling, deadlines that still run out (a wait that would pass the deadline
raises ``DeadlineExceeded`` as before), rate limits that still space requests, only on a
clock that jumps ahead instead of sleeping.

>>> import httpkit, responses
>>> from httpkit.testing import instant_clock
>>> with responses.RequestsMock() as mock, instant_clock() as clock:
...     _ = mock.get("https://api.example.com/", status=503, headers={"Retry-After": "30"})
...     _ = mock.get("https://api.example.com/", body="ok")
...     httpkit.Session().get("https://api.example.com/").text
'ok'
>>> clock.waits
[30.0]

With pytest, add ``pytest_plugins = ["httpkit.testing"]`` to a ``conftest.py`` and ask
for the ``httpkit_clock`` fixture.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from httpkit import _clock
from httpkit._clock import InstantClock

__all__ = ["InstantClock", "instant_clock"]


@contextlib.contextmanager
def instant_clock() -> Iterator[InstantClock]:
    """Run the block with waits that take no time; yields the clock (``clock.waits``).

    The clock is the whole process's while the block runs: every thread's waits are
    skipped, and every deadline sees the time skipped.
    """
    clock = InstantClock()
    previous = _clock.use(clock)
    try:
        yield clock
    finally:
        _clock.use(previous)


try:
    import pytest
except ImportError:  # pytest is not needed to use instant_clock()
    pass
else:

    @pytest.fixture
    def httpkit_clock() -> Iterator[InstantClock]:
        """The :func:`instant_clock` of one test (``pytest_plugins = ["httpkit.testing"]``)."""
        with instant_clock() as clock:
            yield clock
