"""The ``httpkit`` command line: ``httpkit demo`` and ``httpkit request METHOD URL``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from httpkit.cli._demo import SCENES, list_scenes, run_demo
from httpkit.cli._request import (
    EXIT_CODES_HELP,
    METHOD_ALIASES,
    add_request_options,
    run_request,
    stdio,
)


def _parser() -> argparse.ArgumentParser:
    from httpkit import __version__

    parser = argparse.ArgumentParser(
        prog="httpkit",
        description="requests, safe by default.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"httpkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="show httpkit and plain requests side by side against a local flaky server",
        description="Runs offline against a server on 127.0.0.1.",
    )
    demo.add_argument(
        "--only", metavar="NAME", choices=[s.name for s in SCENES], help="run one scene"
    )
    demo.add_argument("--list", action="store_true", help="print the scene names and exit")
    request = commands.add_parser(
        "request",
        help="make one HTTP request: httpkit request METHOD URL [options]",
        description="Make one HTTP request with httpkit's defaults: timeouts, retries for "
        "idempotent methods, credentials scoped to the URL's origin.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    request.add_argument("method", metavar="METHOD", help="GET, POST, PUT, PATCH, DELETE, ...")
    request.add_argument("url", metavar="URL")
    add_request_options(request)
    for alias in METHOD_ALIASES:
        shortcut = commands.add_parser(
            alias,
            help=f"the same as: httpkit request {alias.upper()} URL",
            description=f"httpkit request {alias.upper()} URL [options]",
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        shortcut.add_argument("url", metavar="URL")
        shortcut.set_defaults(method=alias.upper())
        add_request_options(shortcut)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``httpkit`` console script; returns the exit code.

    Usage errors exit 2, with argparse's message on stderr; ``--help`` exits 0.
    """
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else 2
    if args.command == "demo":
        if args.list:
            return list_scenes(sys.stdout)
        return run_demo(sys.stdout, only=args.only)
    stdout, stderr, stdin = stdio()
    try:
        return run_request(args, stdout, stderr, stdin)
    except KeyboardInterrupt:
        stderr.write("httpkit: interrupted\n")
        return 130
