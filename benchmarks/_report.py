"""Printing and saving benchmark results the same way in every script."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests
import urllib3

import httpkit


def print_ratio_table(
    results: dict[str, dict[str, float]], *, unit: str, width: int, digits: int, note: str
) -> None:
    """One row per contender: CPU and wall medians per ``unit``, the ratio and its spread."""
    header = (
        f"{'contender':<{width}} {'CPU us/' + unit:>11} {'ratio':>6} "
        f"{'ratio min-max':>13} {'wall us/' + unit:>12}"
    )
    print(header)
    print("-" * len(header))
    for name, row in results.items():
        spread = f"{row['ratio_to_requests_min']:.2f}-{row['ratio_to_requests_max']:.2f}"
        print(
            f"{name:<{width}} {row['cpu_us_median']:>11.{digits}f} "
            f"{row['ratio_to_requests_median']:>6.2f} {spread:>13} "
            f"{row['wall_us_median']:>12.{digits}f}"
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
