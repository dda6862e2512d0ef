"""Measuring, printing and saving benchmark results the same way in every script."""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests
import urllib3

import httpkit


def run_block(send: Callable[[], object], n: int) -> tuple[float, float]:
    """Call ``send`` ``n`` times; return (CPU seconds, wall seconds) for the block."""
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        send()
    return time.process_time() - cpu0, time.perf_counter() - wall0


def interleave(
    contenders: dict[str, Callable[[], object]],
    rounds: int,
    per_round: int,
    warmup: int,
    before_block: Callable[[str], object] | None = None,
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """CPU and wall µs per call of each contender, one value per round.

    After a warm-up, every round runs every contender for ``per_round`` calls, the order
    rotated by one each round, so drift on a shared machine falls on all of them alike.
    ``before_block(name)``, if given, is called (untimed) before each block of calls.
    """
    names = list(contenders)

    def block(name: str, n: int) -> tuple[float, float]:
        if before_block is not None:
            before_block(name)
        return run_block(contenders[name], n)

    for name in names:
        block(name, warmup)
    cpu: dict[str, list[float]] = {n: [] for n in names}
    wall: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            c, w = block(name, per_round)
            cpu[name].append(c / per_round * 1e6)
            wall[name].append(w / per_round * 1e6)
    return cpu, wall


def summarize(
    cpu: dict[str, list[float]], wall: dict[str, list[float]], baseline: str
) -> dict[str, dict[str, Any]]:
    """Medians per contender and the per-round CPU ratios to ``baseline``."""
    results = {}
    for name in cpu:
        ratios = [c / b for c, b in zip(cpu[name], cpu[baseline], strict=True)]
        results[name] = {
            "cpu_us_median": statistics.median(cpu[name]),
            "cpu_us_min": min(cpu[name]),
            "cpu_us_max": max(cpu[name]),
            "ratio_to_requests_median": statistics.median(ratios),
            "ratio_to_requests_min": min(ratios),
            "ratio_to_requests_max": max(ratios),
            "wall_us_median": statistics.median(wall[name]),
            "cpu_us_per_round": cpu[name],
        }
    return results


def print_ratio_table(
    results: dict[str, dict[str, Any]],
    *,
    unit: str,
    width: int,
    digits: int,
    note: str,
    columns: Sequence[tuple[str, str]] = (),
) -> None:
    """One row per contender: CPU and wall medians per ``unit``, the ratio and its spread.

    ``columns`` adds one column per ``(header, key)`` pair, showing ``row[key]`` ("-" when
    a row has no such key).
    """
    extra = "".join(f" {title:>{max(len(title), 6)}}" for title, _ in columns)
    header = (
        f"{'contender':<{width}} {'CPU us/' + unit:>11} {'ratio':>6} "
        f"{'ratio min-max':>13} {'wall us/' + unit:>12}{extra}"
    )
    print(header)
    print("-" * len(header))
    for name, row in results.items():
        spread = f"{row['ratio_to_requests_min']:.2f}-{row['ratio_to_requests_max']:.2f}"
        cells = "".join(f" {row.get(key, '-')!s:>{max(len(title), 6)}}" for title, key in columns)
        print(
            f"{name:<{width}} {row['cpu_us_median']:>11.{digits}f} "
            f"{row['ratio_to_requests_median']:>6.2f} {spread:>13} "
            f"{row['wall_us_median']:>12.{digits}f}{cells}"
        )
    print()
    print(note)


def save_json(path: str, results: dict[str, Any], **settings: Any) -> None:
    """Write ``results`` with the machine, the versions and the run's ``settings``."""
    payload = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "requests": requests.__version__,
        "urllib3": urllib3.__version__,
        "httpkit": httpkit.__version__,
        **settings,
        "results": results,
    }
    Path(path).write_text(json.dumps(payload, indent=2) + "\n")
