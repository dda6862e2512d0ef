"""A fleet of worker processes for the tests of shared state.

Each worker is a new Python process (multiprocessing's ``spawn``: nothing inherited but
its arguments), builds its own ``httpkit.Session``, waits for a common start time, does its
work and reports a JSON-able result.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
import traceback
from collections.abc import Callable
from typing import Any

#: Seconds the workers get to start before the common start time.
START_DELAY = 2.5


def run_fleet(
    worker: Callable[..., Any],
    count: int,
    *args: Any,
    timeout: float = 40,
    failover: bool = False,
) -> list[Any]:
    """Run ``worker(index, start_at, *args)`` in ``count`` processes; their results, in order.

    A worker whose store failed over fails, unless ``failover`` (a test of store faults).
    """
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.time() + START_DELAY
    processes = [
        context.Process(
            target=_run, args=(worker, results, failover, i, start_at, *args), daemon=True
        )
        for i in range(count)
    ]
    for process in processes:
        process.start()
    found: dict[int, Any] = {}
    try:
        for _ in processes:
            index, ok, value = results.get(timeout=timeout)
            if not ok:
                raise AssertionError(f"worker {index} failed:\n{value}")
            found[index] = value
    finally:
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
    return [found[i] for i in range(count)]


def _run(
    worker: Callable[..., Any],
    results: Any,
    failover: bool,
    index: int,
    start_at: float,
    *args: Any,
) -> None:
    """Run one worker; a store that failed over during the work fails it (the test would
    otherwise measure per-process state), unless ``failover``."""
    failovers: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: failovers.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("httpkit").addHandler(handler)
    try:
        result = worker(index, start_at, *args)
    except BaseException:
        results.put((index, False, traceback.format_exc()))
        return
    if failovers and not failover:
        results.put((index, False, "the store failed over: " + "; ".join(failovers)))
    else:
        results.put((index, True, result))


def wait_until(start_at: float) -> None:
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)


# -- workers (module level: a spawned process imports them by name) ----------------------


def limited_gets(index: int, start_at: float, url: str, store: str, count: int) -> int:
    import httpkit

    with httpkit.Session(store=store, rate_limit="20/s", retry=0) as session:
        session.get(url).raise_for_status()  # connected and warm before the start
        wait_until(start_at)
        for _ in range(count):
            session.get(url).raise_for_status()
    return count


def adaptive_gets(index: int, start_at: float, url: str, store: str) -> list[float]:
    """Worker 0 meets the 429 first; the others start 0.3 s later. Send times, wall clock."""
    import httpkit

    sent = []
    with httpkit.Session(store=store, rate_limit="auto", retry=0) as session:
        wait_until(start_at + (0.0 if index == 0 else 0.3))
        for _ in range(2):
            sent.append(time.time())
            session.get(url)
    return sent


def circuit_calls(index: int, start_at: float, url: str, store: str) -> list[str]:
    """Worker 0 opens the circuit; then every worker calls before, at and after the trial."""
    import httpkit

    def call(session: httpkit.Session) -> str:
        try:
            return str(session.get(url).status_code)
        except httpkit.CircuitOpen as exc:
            return "half-open" if "half-open" in str(exc) else "open"

    outcomes = []
    breaker = httpkit.CircuitBreaker(failures=3, reset_after=1.5)
    with httpkit.Session(store=store, circuit=breaker, retry=0) as session:
        if index == 0:
            wait_until(start_at)
            outcomes += [call(session) for _ in range(3)]
        for phase in (0.5, 2.2, 3.5):  # open; half-open (one trial); closed
            wait_until(start_at + phase)
            outcomes.append(call(session))
    return outcomes


def token_calls(
    index: int, start_at: float, api: str, token_url: str, store: str, phases: list[float]
) -> list[tuple[int, str]]:
    """Each worker fetches its token from ``token_url`` through a shared TokenAuth and
    calls ``api`` once at each phase (seconds after the start). (status, token sent)."""
    import json

    import requests

    import httpkit

    def fetch() -> tuple[str, float | None]:
        answer = json.loads(requests.post(token_url, timeout=5).content)
        return answer["token"], answer["expires_in"]

    auth = httpkit.TokenAuth(fetch=fetch, store=store, store_key="fleet-api", refresh_margin=0.5)
    seen = []
    with httpkit.Session(retry=0) as session:
        for phase in phases:
            wait_until(start_at + phase)
            response = session.get(api, auth=auth, headers={"X-Phase": str(phase)})
            sent = response.request.headers.get("Authorization", "")
            seen.append((response.status_code, sent.removeprefix("Bearer ")))
    return seen


def calls_through_a_store_fault(
    index: int, start_at: float, url: str, store: str, seconds: float, deadline: float
) -> list[tuple[str, float]]:
    """Calls for ``seconds`` with a rate limit and a circuit in ``store``, each with
    ``deadline``: (outcome, duration) of each."""
    import httpkit

    outcomes = []
    with httpkit.Session(
        store=store, rate_limit="40/s", circuit=True, deadline=deadline, retry=0
    ) as session:
        wait_until(start_at)
        while time.time() < start_at + seconds:
            began = time.monotonic()
            try:
                outcome = str(session.get(url).status_code)
            except Exception as exc:
                outcome = type(exc).__name__
            outcomes.append((outcome, time.monotonic() - began))
    return outcomes


def budgeted_calls(index: int, start_at: float, url: str, store: str) -> list[int]:
    """Three calls to a failing origin under one retry budget of 4 retries for the fleet."""
    import httpkit

    budget = httpkit.RetryBudget(ratio=0.0, minimum=4, window=86400.0)
    retry = httpkit.RetryPolicy(total=3, backoff_factor=0, jitter=0, budget=budget)
    with httpkit.Session(store=store, retry=retry) as session:
        wait_until(start_at)
        return [session.get(url).retries.attempts for _ in range(3)]  # type: ignore[attr-defined]


def cached_get(index: int, start_at: float, url: str, store: str) -> tuple[bool, str]:
    """One GET of a cold key by every worker at once, through the store's cache."""
    import httpkit

    with httpkit.Session(store=store, cache=True, retry=0) as session:
        session.get(url + "/warm")  # connected before the start
        wait_until(start_at)
        response = session.get(url)
        return response.from_cache, response.text  # type: ignore[attr-defined]
