from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.servers import ScriptedServer, serve


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serve("127.0.0.1") as state:
        yield state


@pytest.fixture
def server2() -> Iterator[ScriptedServer]:
    """A second server, on another loopback address: another origin."""
    with serve("127.0.0.2") as state:
        yield state
