"""pytest plugin for both runs of requests' test suite, the baseline and the httpkit one.

Loaded with ``-p harness`` (this folder on ``PYTHONPATH``). It changes the test
environment, never requests or the session under test:

* Loopback only. ``socket.getaddrinfo`` answers for ``localhost``, loopback and wildcard
  addresses as usual; any other name or address fails at once with ``socket.gaierror``,
  as on a machine without a network, and is named in the terminal summary. Such a test
  fails the same way in both runs.
* ``--deselect-file deselect.txt`` deselects the tests that file lists (those known to
  need a network beyond loopback) by exact node id, and the terminal summary counts them
  (pytest-xdist does not) and names listed ids that matched no test.
* A threaded httpbin. pytest-httpbin serves one request at a time, so a request the client
  gave up on (``/delay/10`` with a short read timeout) keeps the server busy for seconds,
  and every later test of that xdist worker waits for it. A client that sends such a
  request again (httpkit retries a GET after a read timeout) would make unrelated later
  tests time out, depending on scheduling. With a thread per request each test sees a
  server that answers; the retries still show, as time spent in the test itself.

This module does nothing when imported: it acts only through pytest hooks.
"""

from __future__ import annotations

import ipaddress
import socket
import socketserver
from pathlib import Path
from typing import Any

import pytest

_REFUSED_KEY = "harness_refused_hosts"
_DESELECTED_KEY = "harness_deselected"
_STALE_KEY = "harness_stale"
_refused: set[str] = set()
_deselected: set[str] = set()
_stale: set[str] = set()
_original: dict[str, Any] = {}


def _allowed(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").split("%", 1)[0].rstrip(".").lower()
    if name in ("", "localhost") or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _allowed(host):
        _refused.add(repr(host))
        raise socket.gaierror(
            socket.EAI_NONAME, f"loopback only: refused to resolve {host!r} in this run"
        )
    return _original["getaddrinfo"](host, *args, **kwargs)


def _threaded_make_server(*args: Any, **kwargs: Any) -> Any:
    from wsgiref.simple_server import WSGIServer

    base = kwargs.get("server_class", WSGIServer)
    kwargs["server_class"] = type(
        f"Threading{base.__name__}",
        (socketserver.ThreadingMixIn, base),
        {"daemon_threads": True, "block_on_close": False},
    )
    return _original["make_server"](*args, **kwargs)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    if _original:
        return
    _original["getaddrinfo"] = socket.getaddrinfo
    socket.getaddrinfo = _getaddrinfo
    try:
        from pytest_httpbin import serve
    except ImportError:
        return
    _original["make_server"] = serve.make_server
    serve.make_server = _threaded_make_server


def pytest_unconfigure(config: pytest.Config) -> None:
    if "getaddrinfo" in _original:
        socket.getaddrinfo = _original.pop("getaddrinfo")
    if "make_server" in _original:
        from pytest_httpbin import serve

        serve.make_server = _original.pop("make_server")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--deselect-file",
        default=None,
        help="deselect the tests whose node ids this file lists, one a line, exactly",
    )


def _listed(path: str) -> set[str]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return {entry for line in lines if (entry := line.split("#", 1)[0].strip())}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Exact node ids: pytest's own --deselect takes prefixes, so that deselecting
    # test_proxy_error would drop test_proxy_error_on_bad_url too.
    path = config.getoption("--deselect-file")
    if not path:
        return
    listed = _listed(path)
    dropped = [item for item in items if item.nodeid in listed]
    if dropped:
        items[:] = [item for item in items if item.nodeid not in listed]
        config.hook.pytest_deselected(items=dropped)
    _deselected.update(item.nodeid for item in dropped)
    _stale.update(listed - _deselected)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    # pytest-xdist: the controller gathers what the workers refused and deselected (each
    # worker collects, and deselects, the whole suite).
    output = getattr(node, "workeroutput", None) or {}
    _refused.update(output.get(_REFUSED_KEY, ()))
    _deselected.update(output.get(_DESELECTED_KEY, ()))
    _stale.update(output.get(_STALE_KEY, ()))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[_REFUSED_KEY] = sorted(_refused)
        workeroutput[_DESELECTED_KEY] = sorted(_deselected)
        workeroutput[_STALE_KEY] = sorted(_stale)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    # pytest-xdist's controller does not count deselected tests: say it here, and name the
    # listed node ids that matched no test (stale after a requests upgrade).
    if config.getoption("--deselect-file"):
        terminalreporter.write_line(f"harness: {len(_deselected)} deselected")
    if _stale - _deselected:
        terminalreporter.write_line(
            "harness: listed to deselect, but no such test: "
            + ", ".join(sorted(_stale - _deselected)),
            yellow=True,
        )
    if _refused:
        terminalreporter.write_line(
            "harness: refused to resolve " + ", ".join(sorted(_refused)), yellow=True
        )
