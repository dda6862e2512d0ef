"""Compare the junit-xml reports of the baseline run and the httpkit run of requests' suite.

Usage: python compare.py --root SDIST --baseline B.xml --baseline-log B.log
       --httpkit H.xml --httpkit-log H.log --sessions-file COUNT [--max-new-failures N]

Prints the counts of both runs and every test that passes on plain requests but not
with ``httpkit.Session``, with the first line of its failure. Exit status: 0 when the
httpkit run made at least one httpkit session and at most N baseline-passing tests fail
with httpkit; 1 otherwise; 2 when a report is missing or empty.
"""

from __future__ import annotations

import argparse
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

# Worst first: a test reported twice (a failing teardown after a pass) keeps the worst.
_RANK = {"error": 0, "failed": 1, "skipped": 2, "xfailed": 3, "passed": 4}


@dataclass
class Outcome:
    status: str
    message: str
    seconds: float


def _node_id(root: Path, classname: str, name: str) -> str:
    """``tests.test_x.TestY`` + ``test_z`` -> ``tests/test_x.py::TestY::test_z``."""
    parts = classname.split(".") if classname else []
    for cut in range(len(parts), 0, -1):
        module = Path(*parts[:cut]).with_suffix(".py")
        if (root / module).is_file():
            return "::".join([module.as_posix(), *parts[cut:], name])
    return "::".join([*parts, name]) if parts else name


def read_report(path: Path, root: Path) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        status, message = "passed", ""
        for child in case:
            tag = child.tag
            if tag in ("failure", "error"):
                status, message = (
                    ("failed" if tag == "failure" else "error"),
                    (child.get("message") or (child.text or "")),
                )
                break
            if tag == "skipped":
                kind = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
                status, message = kind, child.get("message") or ""
        key = _node_id(root, case.get("classname", ""), case.get("name", ""))
        seconds = float(case.get("time") or 0.0)
        previous = outcomes.get(key)
        if previous is None or _RANK[status] < _RANK[previous.status]:
            outcomes[key] = Outcome(status, message, seconds)
    return outcomes


def _count(outcomes: dict[str, Outcome], status: str) -> int:
    return sum(1 for outcome in outcomes.values() if outcome.status == status)


def _deselected(log: Path) -> int:
    text = log.read_text(encoding="utf-8", errors="replace")
    found = re.findall(r"^harness: (\d+) deselected$", text, re.MULTILINE)
    return int(found[-1]) if found else 0


def _duration(log: Path) -> str:
    found = re.findall(r" in ([\d.]+s)", log.read_text(encoding="utf-8", errors="replace"))
    return found[-1] if found else "?"


def _first_line(message: str) -> str:
    line = next((part.strip() for part in message.splitlines() if part.strip()), "")
    return line if len(line) <= 200 else line[:197] + "..."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--baseline-log", type=Path, required=True)
    parser.add_argument("--httpkit", type=Path, required=True)
    parser.add_argument("--httpkit-log", type=Path, required=True)
    parser.add_argument("--sessions-file", type=Path, required=True)
    parser.add_argument("--max-new-failures", type=int, default=5)
    args = parser.parse_args(argv)

    reports = {}
    for label, path in (("baseline", args.baseline), ("httpkit", args.httpkit)):
        if not path.is_file():
            print(f"requests-suite: no junit report from the {label} run ({path})")
            return 2
        reports[label] = read_report(path, args.root)
        if not reports[label]:
            print(f"requests-suite: the {label} run reported no test")
            return 2
    baseline, httpkit = reports["baseline"], reports["httpkit"]
    sessions_text = args.sessions_file.read_text().strip() if args.sessions_file.is_file() else ""
    sessions = int(sessions_text) if sessions_text.isdigit() else 0

    def summary(outcomes: dict[str, Outcome], log: Path) -> str:
        counts = ", ".join(
            f"{_count(outcomes, status)} {status}"
            for status in ("passed", "failed", "error", "skipped", "xfailed")
        )
        return f"{counts}, {_deselected(log)} deselected, in {_duration(log)}"

    print(f"baseline (requests.Session): {summary(baseline, args.baseline_log)}")
    print(f"httpkit  (httpkit.Session):  {summary(httpkit, args.httpkit_log)}")
    print(f"httpkit sessions made in the httpkit run: {sessions}")

    passed_before = {key for key, outcome in baseline.items() if outcome.status == "passed"}
    regressions = sorted(
        key for key in passed_before if key not in httpkit or httpkit[key].status != "passed"
    )
    fixed = sorted(
        key
        for key, outcome in httpkit.items()
        if outcome.status == "passed" and key in baseline and key not in passed_before
    )
    slower = sorted(
        (
            (httpkit[key].seconds - baseline[key].seconds, key)
            for key in passed_before
            if key in httpkit
            and httpkit[key].status == "passed"
            and httpkit[key].seconds > 2.0 + 3 * baseline[key].seconds
        ),
        reverse=True,
    )

    print()
    print(
        f"passed in baseline: {len(passed_before)}; passed with httpkit: "
        f"{_count(httpkit, 'passed')}; pass on requests but not with httpkit: "
        f"{len(regressions)}"
    )
    for key in regressions:
        outcome = httpkit.get(key)
        if outcome is None:
            print(f"  MISSING {key}")
            continue
        print(f"  {outcome.status.upper()} {key}")
        if outcome.message:
            print(f"      {_first_line(outcome.message)}")
    if fixed:
        print(f"not passing in baseline, passing with httpkit: {len(fixed)}")
        for key in fixed:
            print(f"  {baseline[key].status} -> passed {key}")
    if slower:
        print(f"passing in both, but over 2 s and 3x slower with httpkit: {len(slower)}")
        for extra, key in slower:
            print(f"  +{extra:.1f}s {key}")

    print()
    status = 0
    if sessions == 0:
        print("requests-suite: FAIL: the plugin substituted nothing (no httpkit session made)")
        status = 1
    if len(regressions) > args.max_new_failures:
        print(
            f"requests-suite: FAIL: {len(regressions)} baseline-passing tests fail with "
            f"httpkit, more than {args.max_new_failures} allowed"
        )
        status = 1
    if status == 0:
        print(
            f"requests-suite: OK: {len(regressions)} baseline-passing tests fail with httpkit "
            f"(at most {args.max_new_failures} allowed)"
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
