"""``httpkit request METHOD URL`` and its aliases (``httpkit get URL``, ...).

The options map onto the library: a ``Session`` (or ``Session.from_config``) carries retries
and the deadline, and the call gets the timeout, headers, body, auth and CA bundle as
explicit arguments, so they beat the config file's host policy the way a call's own
arguments do in Python.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Final, TextIO
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.auth import AuthBase

import httpkit
from httpkit._call import recording
from httpkit._exceptions import ConfigError
from httpkit._http import has_forbidden_field_char, is_token, origin_of, parse_decimal
from httpkit._redact import REDACTED, SECRET_PARAMETER, redact_url, sensitive_names
from httpkit._redirects import auth_header_names
from httpkit._telemetry import Attempt, Timeline
from httpkit._transport.adapter import bounded_body

if TYPE_CHECKING:
    from httpkit._session import Session

# -- exit codes --------------------------------------------------------------------------

EXIT_OK: Final = 0
#: Anything not listed below: an auth flow that cannot go on, too many redirects, an
#: output file that cannot be written.
EXIT_ERROR: Final = 1
#: Bad options or arguments, an unreadable ``--data @file``, an invalid URL or header.
EXIT_USAGE: Final = 2
#: A config file that cannot be read or is invalid, a missing ``--token-env`` variable,
#: a ``--trust`` bundle that does not exist (or ``system`` without truststore installed).
EXIT_CONFIG: Final = 3
#: With ``--fail``: the final response was a 4xx.
EXIT_HTTP_4XX: Final = 4
#: With ``--fail``: the final response was a 5xx.
EXIT_HTTP_5XX: Final = 5
#: The connection failed: refused, reset, DNS failure, a proxy error.
EXIT_CONNECTION: Final = 6
#: A connect or read timeout, or the deadline, ran out.
EXIT_TIMEOUT: Final = 7
#: TLS failed: an untrusted or mismatched certificate, a handshake error.
EXIT_TLS: Final = 8

EXIT_CODES_HELP: Final = """\
exit codes:
  0  success (any HTTP status, unless --fail is given)
  1  another error: an auth flow that cannot go on, too many redirects, an unwritable -o FILE
  2  usage error: bad options, an unreadable --data @FILE, an invalid URL or header
  3  configuration error: --config file, --token-env variable, --trust bundle
  4  with --fail: the server answered 4xx
  5  with --fail: the server answered 5xx
  6  connection error: refused, reset, name resolution, proxy
  7  timeout: connect or read timeout, or the deadline
  8  TLS error: certificate verification or handshake"""

METHOD_ALIASES: Final = ("get", "post", "put", "patch", "delete", "head")

_CHUNK: Final = 64 * 1024


class UsageError(Exception):
    """A command-line value that cannot be used (exit code 2)."""


class CliConfigError(Exception):
    """Configuration the command line points at cannot be used (exit code 3)."""


# -- argument parsing --------------------------------------------------------------------


def _seconds(text: str) -> float:
    value = parse_decimal(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"expected seconds such as 5 or 2.5, got {text!r}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


def _timeout(text: str) -> float | tuple[float, float]:
    if "," in text:
        connect, _, read = text.partition(",")
        return (_seconds(connect.strip()), _seconds(read.strip()))
    return _seconds(text)


def _retries(text: str) -> int:
    value = parse_decimal(text)
    if value is None or not value.is_integer() or "." in text:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(value)


def add_request_options(parser: argparse.ArgumentParser) -> None:
    """The options shared by ``httpkit request`` and the method aliases."""
    send = parser.add_argument_group("what to send")
    send.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="add a request header (repeatable); beats the config file's headers",
    )
    body = send.add_mutually_exclusive_group()
    body.add_argument(
        "--json",
        metavar="JSON|@FILE",
        help="send a JSON body (checked to be valid JSON) with Content-Type and Accept "
        "application/json; @FILE reads it from a file, @- from standard input",
    )
    body.add_argument(
        "--data",
        metavar="TEXT|@FILE",
        help="send a body as it is; @FILE reads it from a file, @- from standard input. "
        "No Content-Type is added: set one with -H",
    )
    policy = parser.add_argument_group("how to send it")
    policy.add_argument(
        "--timeout",
        type=_timeout,
        metavar="SECONDS|CONNECT,READ",
        help="connect and read timeouts (default: the config file's, else 3.05,30)",
    )
    policy.add_argument(
        "--deadline",
        type=_seconds,
        metavar="SECONDS",
        help="wall-clock limit for the whole call, retries and redirects included "
        "(default: the config file's, else 300)",
    )
    policy.add_argument(
        "--retries",
        type=_retries,
        metavar="N",
        help="retries after the first attempt (default: the config file's, else 3)",
    )
    policy.add_argument(
        "--trust",
        metavar="PATH|system",
        help="verify TLS with this CA bundle (PEM), or the operating system's store",
    )
    policy.add_argument(
        "--config",
        metavar="FILE",
        help="a TOML config file, as read by httpkit.Session.from_config()",
    )
    auth = parser.add_argument_group("credentials")
    who = auth.add_mutually_exclusive_group()
    who.add_argument(
        "--auth",
        metavar="USER:PASSWORD",
        help="Basic credentials (Digest with --digest), sent to the URL's origin only",
    )
    who.add_argument(
        "--token-env",
        metavar="NAME",
        help="send 'Authorization: Bearer <token>' with the token read from the environment "
        "variable NAME",
    )
    auth.add_argument("--digest", action="store_true", help="use Digest auth with --auth")
    out = parser.add_argument_group("output")
    out.add_argument(
        "-i", "--include", action="store_true", help="print the response headers before the body"
    )
    out.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the body to FILE (a progress bar shows on a terminal)",
    )
    out.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show the exchange on stderr, credentials redacted",
    )
    out.add_argument(
        "--fail",
        action="store_true",
        help="exit 4 on a 4xx response and 5 on a 5xx, without printing the body",
    )


# -- turning options into a session and a call -------------------------------------------


@dataclass
class Call:
    """One request as the command line describes it."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    data: bytes | None = None
    auth: AuthBase | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


def _read_source(option: str, value: str, stdin: IO[bytes] | None) -> bytes:
    if not value.startswith("@"):
        return value.encode("utf-8")
    name = value[1:]
    if name == "-":
        return stdin.read() if stdin is not None else b""
    try:
        with open(name, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise UsageError(f"{option} {value}: cannot read the file: {exc.strerror}") from None


def _parse_header(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    name = name.strip()
    if not colon or not is_token(name):
        raise UsageError(f"-H {text.split(':', 1)[0]!r}: expected 'Name: value'")
    value = value.strip()
    if has_forbidden_field_char(value):
        raise UsageError(f"-H {name}: a header value must be one line without control characters")
    return name, value


def _method(text: str) -> str:
    if not is_token(text):
        raise UsageError(f"{text!r} is not an HTTP method")
    return text.upper()


def build_call(args: argparse.Namespace, stdin: IO[bytes] | None = None) -> Call:
    """The method, URL, headers, body and auth of the call; raises ``UsageError``."""
    call = Call(method=_method(args.method), url=args.url)
    for text in args.header:
        name, value = _parse_header(text)
        call.headers[name] = value
    present = {name.lower() for name in call.headers}
    if args.json is not None:
        raw = _read_source("--json", args.json, stdin)
        try:
            json.loads(raw)
        except ValueError as exc:
            raise UsageError(f"--json: not valid JSON: {exc}") from None
        call.data = raw
        if "content-type" not in present:
            call.headers["Content-Type"] = "application/json"
        if "accept" not in present:
            call.headers["Accept"] = "application/json"
    elif args.data is not None:
        call.data = _read_source("--data", args.data, stdin)
    if args.digest and args.auth is None:
        raise UsageError("--digest needs --auth USER:PASSWORD")
    if args.auth is not None:
        user, colon, password = args.auth.partition(":")
        if not colon or not user:
            raise UsageError("--auth: expected USER:PASSWORD")
        call.auth = (
            httpkit.DigestAuth(user, password) if args.digest else httpkit.BasicAuth(user, password)
        )
    elif args.token_env is not None:
        token = os.environ.get(args.token_env)
        if not token:
            raise CliConfigError(
                f"--token-env: the environment variable {args.token_env} is not set (or empty)"
            )
        try:
            call.auth = httpkit.TokenAuth(token)
        except ConfigError as exc:
            raise CliConfigError(f"--token-env {args.token_env}: {exc}") from None
    if args.timeout is not None:
        call.kwargs["timeout"] = args.timeout
    return call


def build_session(args: argparse.Namespace, url: str) -> Session:
    """The session for the call: from ``--config`` if given, with the command line on top.

    ``--retries``, ``--deadline`` and ``--trust`` are session settings. With a config file
    they are applied to the host policy that serves ``url`` (or to a new policy for its
    origin), keeping that policy's other settings.

    Raises:
        ConfigError: a bad config file, or a ``--trust`` value httpkit cannot use.
    """
    overrides: dict[str, Any] = {}
    if args.retries is not None:
        overrides["retry"] = args.retries
    if args.deadline is not None:
        overrides["deadline"] = args.deadline
    if args.trust is not None:
        overrides["trust"] = args.trust
    if args.config is None:
        return httpkit.Session(**overrides)
    session = httpkit.Session.from_config(args.config)
    if overrides:
        adapter = session.get_adapter(url)
        pattern = getattr(adapter, "pattern", None)
        target = pattern.prefix if pattern is not None else str(origin_of(url))
        if args.retries is not None:
            # --retries sets the number of retries and keeps the file's other retry settings
            overrides["retry"] = _with_total(getattr(adapter, "retry", None), args.retries)
        session.configure(target, **overrides)
    return session


def _with_total(retry: object, total: int) -> object:
    """``retry`` (a ``RetryPolicy`` or ``urllib3.Retry``) with ``total`` retries."""
    if isinstance(retry, httpkit.RetryPolicy):
        return retry.replace(total=total)
    if isinstance(retry, urllib3.util.Retry):
        return retry.new(total=total)
    return total


# -- showing things without their secrets ------------------------------------------------


def _hidden(names: frozenset[str], headers: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for name, value in headers.items():
        secret = name.lower() in names or SECRET_PARAMETER.search(name) is not None
        shown = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        yield name, REDACTED if secret else shown


def _version(response: requests.Response) -> str:
    version = getattr(response.raw, "version", 11)
    return {10: "HTTP/1.0", 11: "HTTP/1.1", 20: "HTTP/2"}.get(version, "HTTP/1.1")


def _show_timeline(err: TextIO, timeline: Timeline) -> None:
    """Each attempt and wait of the call: ``* attempt 2 http://host/r: 503 in 12 ms``."""
    for entry in timeline.entries:
        if isinstance(entry, Attempt):
            err.write(
                f"* attempt {entry.number} {entry.url}: {entry.outcome} "
                f"in {entry.seconds * 1000:.0f} ms\n"
            )
        else:
            err.write(f"* waited {entry.seconds:.2f} s ({entry.reason})\n")


def _show_exchange(
    err: TextIO,
    response: requests.Response,
    names: frozenset[str],
    elapsed: float,
    timeline: Timeline,
) -> None:
    for hop in (*response.history, response):
        request = hop.request
        if request is not None:
            parts = urlsplit(redact_url(request.url or ""))
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            err.write(f"> {request.method} {target} {_version(hop)}\n")
            err.write(f"> Host: {parts.netloc.rpartition('@')[2]}\n")
            for name, value in _hidden(names, request.headers):
                err.write(f"> {name}: {value}\n")
            body = request.body
            if isinstance(body, bytes | str) and body:
                err.write(f"> [{len(body)} bytes of body]\n")
            err.write(">\n")
        err.write(f"< {_version(hop)} {hop.status_code} {hop.reason}\n")
        for name, value in _hidden(names, hop.headers):
            err.write(f"< {name}: {value}\n")
        err.write("<\n")
    _show_timeline(err, timeline)
    retries = getattr(response, "retries", None)
    err.write(f"* {retries or '1 attempt'}, {elapsed * 1000:.0f} ms\n")


# -- errors --------------------------------------------------------------------------------


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps: args, ``reason``, causes and contexts."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner: Iterable[object] = (
            *current.args,
            getattr(current, "reason", None),
            current.__cause__,
            current.__context__,
        )
        todo.extend(e for e in inner if isinstance(e, BaseException))


def _os_reason(exc: BaseException) -> str:
    import ssl

    for inner in _chain(exc):
        if isinstance(inner, ssl.SSLCertVerificationError) and inner.verify_message:
            return f"certificate verify failed: {inner.verify_message}"
        if isinstance(inner, ssl.SSLError) and inner.reason:
            return str(inner.reason).replace("_", " ").lower()
        if isinstance(inner, OSError) and inner.strerror:
            return str(inner.strerror)
    return type(exc).__name__


def classify(exc: Exception, url: str) -> tuple[int, str]:
    """The exit code and the one-line message for an error of the call.

    Messages are built here, not taken from requests: requests' own include the full URL,
    query string and all, and sometimes header values.
    """
    shown = redact_url(url)
    if isinstance(exc, UsageError):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, CliConfigError | ConfigError):
        return EXIT_CONFIG, f"configuration error: {exc}"
    if isinstance(exc, requests.exceptions.SSLError):
        return EXIT_TLS, f"TLS error with {shown}: {_os_reason(exc)}"
    # Not urllib3's TimeoutError: its NewConnectionError (connection refused) derives from it.
    timed_out = isinstance(exc, requests.Timeout) or any(
        isinstance(e, urllib3.exceptions.ReadTimeoutError | TimeoutError) for e in _chain(exc)
    )
    if timed_out:
        if isinstance(exc, requests.ConnectTimeout):
            what = "no connection within the connect timeout"
        elif type(exc).__name__ == "DeadlineExceeded":
            what = "the deadline ran out"
        else:
            what = "the server sent nothing within the read timeout"
        return EXIT_TIMEOUT, f"timed out: {shown}: {what}"
    if isinstance(exc, requests.exceptions.MissingSchema):
        return EXIT_USAGE, f"invalid URL {shown}: no scheme; did you mean https://{shown}?"
    if isinstance(exc, requests.exceptions.InvalidSchema):
        return EXIT_USAGE, f"invalid URL {shown}: httpkit speaks http:// and https:// only"
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.URLRequired):
        return EXIT_USAGE, f"invalid URL {shown}"
    if isinstance(exc, requests.exceptions.InvalidHeader):
        return EXIT_USAGE, "invalid header: names are tokens, values one line"
    if isinstance(exc, requests.ConnectionError):
        return EXIT_CONNECTION, f"cannot connect to {shown}: {_os_reason(exc)}"
    if isinstance(exc, httpkit.AuthError):
        return EXIT_ERROR, f"authentication failed: {exc}"
    if isinstance(exc, requests.TooManyRedirects):
        return EXIT_ERROR, f"too many redirects from {shown}"
    if isinstance(exc, OSError):
        return EXIT_ERROR, f"{exc.filename or 'output'}: {exc.strerror or type(exc).__name__}"
    return EXIT_ERROR, f"{type(exc).__name__} from {shown}"


# -- the download --------------------------------------------------------------------------


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


class Progress:
    """A one-line progress bar on a terminal; redrawn at most ten times a second."""

    def __init__(self, out: TextIO, total: int | None) -> None:
        self.out = out
        self.total = total
        self.done = 0
        self._drawn = 0.0

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._drawn >= 0.1:
            self._drawn = now
            self._draw()

    def finish(self) -> None:
        self._draw()
        self.out.write("\n")
        self.out.flush()

    def _draw(self) -> None:
        if self.total:
            share = min(self.done / self.total, 1.0)
            width = max(10, min(40, shutil.get_terminal_size().columns - 40))
            bar = "#" * int(share * width)
            line = f"{share:4.0%} [{bar:<{width}}] {_size(self.done)} of {_size(self.total)}"
        else:
            line = f"{_size(self.done)}"
        self.out.write(f"\r{line}")
        self.out.flush()


def _download(
    response: requests.Response, path: str, err: TextIO, check: Callable[[], None]
) -> None:
    """Stream the body to ``path`` through a temporary file, so no half file is left.

    ``check()`` runs before the file takes its name: it raises if the deadline cut the body.
    """
    length = response.headers.get("Content-Length", "")
    total = int(length) if length.isdigit() and "Content-Encoding" not in response.headers else None
    progress = Progress(err, total) if err.isatty() else None
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".httpkit-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in response.iter_content(_CHUNK):
                fh.write(chunk)
                if progress is not None:
                    progress.update(len(chunk))
        check()
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    finally:
        if progress is not None:
            progress.finish()


# -- running ------------------------------------------------------------------------------


def run_request(
    args: argparse.Namespace, stdout: BinaryIO, stderr: TextIO, stdin: IO[bytes] | None
) -> int:
    """Make the call the options describe; return the exit code."""
    url = args.url
    try:
        call = build_call(args, stdin)
        session = build_session(args, url)
    except (UsageError, CliConfigError, ConfigError, requests.RequestException, ValueError) as exc:
        return _fail(stderr, *classify(exc, url))
    names = sensitive_names(session.sensitive_headers) | auth_header_names(call.auth)
    with session:
        if args.verbose:
            stderr.write(f"* {call.method} {redact_url(url)}\n")
        started = time.monotonic()
        with recording() as timeline:
            try:
                response = session.request(
                    call.method,
                    url,
                    headers=call.headers,
                    data=call.data,
                    auth=call.auth,
                    stream=True,
                    **call.kwargs,
                )
            except (requests.RequestException, ConfigError, OSError, ValueError) as exc:
                if args.verbose:
                    _show_timeline(stderr, timeline)
                return _fail(stderr, *classify(exc, url))
        with response:
            if args.verbose:
                _show_exchange(stderr, response, names, time.monotonic() - started, timeline)
            if args.include:
                lines = [f"{_version(response)} {response.status_code} {response.reason}"]
                lines += [f"{k}: {v}" for k, v in response.headers.items()]
                stdout.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace"))
            if args.fail and response.status_code >= 400:
                code = EXIT_HTTP_5XX if response.status_code >= 500 else EXIT_HTTP_4XX
                message = f"{response.status_code} {response.reason} from {redact_url(url)}"
                return _fail(stderr, code, message)
            deadline = getattr(session.get_adapter(url), "deadline", None)
            left = None if deadline is None else deadline - (time.monotonic() - started)
            try:
                # the deadline covers the whole download, not only the response headers
                with bounded_body(response, left) as check:
                    if call.method == "HEAD":
                        pass
                    elif args.output is not None and args.output != "-":
                        _download(response, args.output, stderr, check)
                    else:
                        for chunk in response.iter_content(_CHUNK):
                            stdout.write(chunk)
                stdout.flush()
            except (requests.RequestException, OSError) as exc:
                return _fail(stderr, *classify(exc, url))
    return EXIT_OK


def _fail(stderr: TextIO, code: int, message: str) -> int:
    stderr.write(f"httpkit: {message}\n")
    stderr.flush()
    return code


def stdio() -> tuple[BinaryIO, TextIO, IO[bytes] | None]:
    """The process's standard streams, stdout as bytes."""
    stdin = getattr(sys.stdin, "buffer", None)
    stdout: BinaryIO = sys.stdout.buffer
    sys.stdout.flush()
    return stdout, sys.stderr, stdin
