"""The ``httpkit`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from httpkit._demo import SCENES, run_demo


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="httpkit", description="requests, safe by default.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="show httpkit and plain requests side by side against a local flaky server",
        description="Runs offline against a server on 127.0.0.1.",
    )
    demo.add_argument(
        "--only", metavar="NAME", choices=[s.name for s in SCENES], help="run one scene"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``httpkit`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "demo":
        return run_demo(sys.stdout, only=args.only)
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse guards this


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
