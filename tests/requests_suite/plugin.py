"""pytest plugin: every ``requests.Session`` of the run is an ``httpkit.Session``.

Loaded with ``-p plugin`` (this folder on ``PYTHONPATH``) when running requests' own
test suite. Before the first conftest is imported it replaces ``requests.Session`` and
``requests.sessions.Session`` with :class:`Session`, a subclass of ``httpkit.Session``
that only counts its instances. ``requests.session()`` and the functions of
``requests.api`` (``requests.get()`` ...) look ``Session`` up in ``requests.sessions`` at
call time, so they build httpkit sessions too. Sessions are made with httpkit's own
defaults (timeouts, retries, deadline), as a user who swaps the class gets them.

At the end of the run the number of httpkit sessions made (summed over xdist workers) is
printed, and written to ``--httpkit-sessions-file`` if given. A run that made none fails:
the substitution did not take.

This module does nothing when imported: it acts only through pytest hooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
import requests.api
import requests.sessions

import httpkit

_COUNT_KEY = "httpkit_sessions_made"


class Session(httpkit.Session):
    """``httpkit.Session``, counted: the stand-in for ``requests.Session``."""

    made = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        Session.made += 1


_state: dict[str, Any] = {"original": None, "from_workers": 0}
_total_key = pytest.StashKey[int]()


def _substitute() -> None:
    """Put :class:`Session` in place of ``requests.Session``."""
    if _state["original"] is not None:
        return
    _state["original"] = requests.sessions.Session
    requests.Session = Session  # type: ignore[misc]
    requests.sessions.Session = Session  # type: ignore[misc]


def _restore() -> None:
    original = _state["original"]
    if original is not None:
        requests.Session = original  # type: ignore[misc]
        requests.sessions.Session = original  # type: ignore[misc]
        _state["original"] = None


def _check_substituted() -> None:
    problems = []
    if requests.Session is not Session or requests.sessions.Session is not Session:
        problems.append("requests.Session was replaced again after this plugin ran")
    if requests.api.sessions is not requests.sessions:
        problems.append("requests.api does not build its sessions from requests.sessions")
    if requests.session.__globals__.get("Session") is not Session:
        problems.append("requests.session() does not build requests.sessions.Session")
    if problems:
        raise pytest.UsageError("httpkit substitution: " + "; ".join(problems))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--httpkit-sessions-file",
        default=None,
        help="write the number of httpkit sessions made in the run to this file",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    # Runs before the first conftest, hence before any test module, is imported.
    _substitute()


def pytest_configure(config: pytest.Config) -> None:
    _substitute()
    _check_substituted()


def pytest_unconfigure(config: pytest.Config) -> None:
    _restore()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    # pytest-xdist: the controller adds up what each worker reported.
    output = getattr(node, "workeroutput", None) or {}
    _state["from_workers"] += int(output.get(_COUNT_KEY, 0))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: report to the controller
        workeroutput[_COUNT_KEY] = Session.made
        return
    total = Session.made + _state["from_workers"]
    config.stash[_total_key] = total
    path = config.getoption("--httpkit-sessions-file")
    if path:
        Path(path).write_text(f"{total}\n", encoding="utf-8")
    if total == 0 and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if getattr(config, "workeroutput", None) is not None:
        return
    total = config.stash.get(_total_key, None)
    if total is None:
        return
    if total == 0:
        terminalreporter.write_line(
            "httpkit substitution: no httpkit.Session was made; the run does not count",
            red=True,
        )
    else:
        terminalreporter.write_line(f"httpkit substitution: {total} httpkit sessions made")
