"""``httpkit request`` and its aliases against real servers on 127.0.0.1 and 127.0.0.2.

A representative set runs through the installed console script, as a user runs it; the
rest calls ``httpkit.cli.main`` in-process, which is the same code without a new
interpreter per test.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import certifi
import pytest
import trustme
from hypothesis import given, settings
from hypothesis import strategies as st

import httpkit
from httpkit import RetryPolicy, Timeouts
from httpkit._tls import config_for
from httpkit.cli import _parser, main
from httpkit.cli._request import build_call, build_session
from tests.integration.digest_server import DigestConfig, digest_server
from tests.integration.raw import SHAPES, Answer, raw_server
from tests.integration.servers import Reply, ScriptedServer

READ_TIMEOUT = "the server sent nothing within the read timeout"
SCRIPT = shutil.which("httpkit", path=str(Path(sys.executable).parent))


def run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The console script, as a user runs it, with stdout and stderr piped."""
    assert SCRIPT is not None, "the httpkit console script is not installed beside python"
    return subprocess.run(
        [SCRIPT, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def assert_one_line_error(stderr: str, *secrets: str) -> None:
    assert stderr.startswith("httpkit: "), stderr
    assert stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    for secret in secrets:
        assert secret not in stderr


# -- through the console script -------------------------------------------------------------


def test_script_get_prints_the_body(server: ScriptedServer) -> None:
    server.script("/hello", Reply(200, b"hello\n"))
    result = run("get", server.url("/hello"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "hello\n", "")
    assert server.requests_to("/hello")[0].method == "GET"


def test_script_include_shows_the_status_line_and_headers(server: ScriptedServer) -> None:
    server.script("/h", Reply(200, b"body", headers=[("X-Served-By", "test")]))
    result = run("request", "GET", server.url("/h"), "-i")
    assert result.returncode == 0
    head, _, body = result.stdout.partition("\n\n")
    assert head.splitlines()[0] == "HTTP/1.1 200 OK"
    assert "X-Served-By: test" in head.splitlines()
    assert body == "body"


@pytest.mark.parametrize(("status", "code"), [(404, 4), (503, 5)])
def test_script_fail_exits_4_or_5_without_the_body(
    server: ScriptedServer, status: int, code: int
) -> None:
    server.script("/x", Reply(status, b"error page"))
    result = run("get", server.url("/x?api_key=k3y"), "--fail", "--retries", "0")
    assert (result.returncode, result.stdout) == (code, "")
    assert_one_line_error(result.stderr, "k3y")
    assert f"{status} " in result.stderr


def test_script_without_fail_exits_0_on_an_error_status(server: ScriptedServer) -> None:
    server.script("/x", Reply(404, b"error page"))
    result = run("get", server.url("/x"))
    assert (result.returncode, result.stdout) == (0, "error page")


def test_script_connection_refused_exits_6_with_one_line() -> None:
    # Port 9 (discard) is closed on loopback; httpkit retries connection errors, so no retries.
    result = run("get", "http://127.0.0.1:9/x?token=s3cret", "--retries", "0")
    assert result.returncode == 6
    assert_one_line_error(result.stderr, "s3cret")
    assert "cannot connect to http://127.0.0.1:9/" in result.stderr


def test_script_verbose_shows_the_exchange_redacted(server: ScriptedServer) -> None:
    server.script("/me", Reply(200, b"{}", headers=[("Set-Cookie", "sid=c00kie")]))
    result = run(
        "get",
        server.url("/me?token=qs3cret&page=2"),
        "-v",
        "--auth",
        "alice:pa55word",
        "-H",
        "X-Api-Key: k3y",
    )
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert "> GET /me?token=<redacted>&page=2 HTTP/1.1" in lines
    assert "> Authorization: <redacted>" in lines
    assert "> X-Api-Key: <redacted>" in lines
    assert "< HTTP/1.1 200 OK" in lines
    assert "< Set-Cookie: <redacted>" in lines
    assert lines[-1].startswith("* 1 attempt, ")
    for secret in ("pa55word", "YWxpY2U6cGE1NXdvcmQ=", "qs3cret", "k3y", "c00kie"):
        assert secret not in result.stderr
    assert server.requests_to("/me")[0].headers["X-Api-Key"] == "k3y"


def test_script_output_file_piped_has_no_progress_bar(
    server: ScriptedServer, tmp_path: Path
) -> None:
    payload = os.urandom(300_000)
    server.script("/file.bin", Reply(200, payload))
    target = tmp_path / "file.bin"
    result = run("get", server.url("/file.bin"), "-o", str(target))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert target.read_bytes() == payload
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]  # no temporary left


def test_script_token_env_sends_a_bearer_token(server: ScriptedServer) -> None:
    result = run("get", server.url("/user"), "--token-env", "MY_TOKEN", env={"MY_TOKEN": "t0k"})
    assert result.returncode == 0
    assert server.requests_to("/user")[0].headers["Authorization"] == "Bearer t0k"


def test_script_usage_errors_exit_2() -> None:
    result = run("get", "http://127.0.0.1:9/", "-H", "no colon here")
    assert result.returncode == 2
    assert_one_line_error(result.stderr)
    assert run("request").returncode == 2
    assert run("get", "http://127.0.0.1:9/", "--timeout", "soon").returncode == 2


def test_script_help_documents_the_exit_codes() -> None:
    result = run("request", "--help")
    assert result.returncode == 0
    for line in ("0  success", "2  usage error", "4  with --fail", "5  with --fail", "7  timeout"):
        assert line in result.stdout


# -- in-process -----------------------------------------------------------------------------


def test_header_option_sends_headers(server: ScriptedServer) -> None:
    assert main(["get", server.url("/"), "-H", "X-One: 1", "-H", "Accept:text/plain"]) == 0
    headers = server.requests_to("/")[0].headers
    assert (headers["X-One"], headers["Accept"]) == ("1", "text/plain")


def test_json_option_sends_json_with_content_type(server: ScriptedServer) -> None:
    assert main(["post", server.url("/items"), "--json", '{"name": "x"}']) == 0
    received = server.requests_to("/items")[0]
    assert json.loads(received.body) == {"name": "x"}
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["Accept"] == "application/json"


def test_json_option_refuses_invalid_json(
    server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["post", server.url("/items"), "--json", "{nope"]) == 2
    assert capsys.readouterr().err.startswith("httpkit: --json: not valid JSON")
    assert server.received == []


def test_data_option_sends_text_and_files(server: ScriptedServer, tmp_path: Path) -> None:
    (tmp_path / "body.bin").write_bytes(b"\x00from a file")
    assert main(["put", server.url("/a"), "--data", "plain text"]) == 0
    assert main(["request", "patch", server.url("/b"), "--data", f"@{tmp_path / 'body.bin'}"]) == 0
    assert [(r.method, r.body) for r in server.received] == [
        ("PUT", b"plain text"),
        ("PATCH", b"\x00from a file"),
    ]


def test_data_from_a_missing_file_is_a_usage_error(
    server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["post", server.url("/"), "--data", "@/nonexistent/body"]) == 2
    assert "cannot read the file" in capsys.readouterr().err


def test_timeout_option_times_out_with_exit_7(
    server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script("/slow", Reply(200, b"late", delay=1.0))
    assert main(["get", server.url("/slow"), "--timeout", "2,0.2", "--retries", "0"]) == 7
    err = capsys.readouterr().err
    assert err == f"httpkit: timed out: {server.url('/slow')}: {READ_TIMEOUT}\n"


def test_deadline_option_becomes_the_session_deadline(
    server: ScriptedServer, tmp_path: Path
) -> None:
    url = server.url("/")
    args = _parser().parse_args(["get", url, "--deadline", "7.5"])
    with build_session(args, url) as session:
        assert session.defaults.deadline == 7.5
    config = tmp_path / "httpkit.toml"
    config.write_text(f'[hosts."{server.origin}"]\ndeadline = 60\nheaders = {{ X-A = "1" }}\n')
    args = _parser().parse_args(["get", url, "--deadline", "7.5", "--config", str(config)])
    with build_session(args, url) as session:
        policy = session.policy_for(url)
        assert (policy.deadline, policy.header_dict()) == (7.5, {"X-A": "1"})
    assert main(["get", url, "--deadline", "7.5"]) == 0


def test_deadline_option_ends_a_slow_call_with_exit_7(
    server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script("/slow", Reply(200, b"late", delay=2.0))
    assert main(["get", server.url("/slow"), "--deadline", "0.5", "--timeout", "10"]) == 7
    assert capsys.readouterr().err.endswith(": the deadline ran out\n")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("output", ["stdout", "file"])
def test_deadline_option_bounds_the_download(
    shape: str, output: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--deadline`` covers the body too: a trickled download ends with exit 7."""
    with raw_server() as raw:
        raw.script("/big", Answer(body=b"x" * 100, every=0.1, shape=shape))
        argv = ["get", raw.url("/big"), "--deadline", "0.6", "--timeout", "10"]
        if output == "file":
            argv += ["-o", str(tmp_path / "big")]
        started = time.monotonic()
        assert main(argv) == 7
        assert time.monotonic() - started < 0.6 + 0.5
    assert capsys.readouterr().err.endswith(": the deadline ran out\n")
    assert list(tmp_path.iterdir()) == []  # no half file left


def test_retries_option_sets_the_number_of_retries(server: ScriptedServer) -> None:
    server.script("/flaky", Reply(503), Reply(200, b"ok"))
    assert main(["get", server.url("/flaky"), "--retries", "0", "--fail"]) == 5
    server.script("/again", Reply(503), Reply(200, b"ok"))
    assert main(["get", server.url("/again"), "--retries", "1", "--fail"]) == 0
    assert (len(server.requests_to("/flaky")), len(server.requests_to("/again"))) == (1, 2)


@pytest.mark.parametrize("table", ["[session]", '[hosts."http://127.0.0.1:9"]'])
def test_retries_option_keeps_the_files_other_retry_settings(tmp_path: Path, table: str) -> None:
    config = tmp_path / "httpkit.toml"
    config.write_text(
        f"{table}\nretry = {{ total = 5, backoff_factor = 0.25, statuses = [418] }}\n"
    )
    url = "http://127.0.0.1:9/"
    args = _parser().parse_args(["get", url, "--retries", "2", "--config", str(config)])
    with build_session(args, url) as session:
        retry = session.get_adapter(url).retry
    assert isinstance(retry, RetryPolicy)
    assert (retry.total, retry.backoff_factor, retry.statuses) == (2, 0.25, frozenset({418}))


def test_auth_option_sends_basic_credentials_to_the_origin_only(
    server: ScriptedServer, server2: ScriptedServer
) -> None:
    server.script("/go", Reply(302, b"", headers=[("Location", server2.url("/landed"))]))
    assert main(["get", server.url("/go"), "--auth", "alice:pässword"]) == 0
    assert server.requests_to("/go")[0].headers["Authorization"] == "Basic YWxpY2U6cMOkc3N3b3Jk"
    assert "Authorization" not in server2.requests_to("/landed")[0].headers


def test_digest_option_answers_a_digest_challenge(capsys: pytest.CaptureFixture[str]) -> None:
    config = DigestConfig(users={"Mufasa": "Circle of Life"}, algorithm="SHA-256")
    with digest_server(config) as digest:
        code = main(["get", digest.url + "/secret", "--auth", "Mufasa:Circle of Life", "--digest"])
    assert code == 0
    assert (digest.successes, digest.failures) == (1, [])
    assert main(["get", "http://127.0.0.1:9/", "--digest"]) == 2
    assert "--digest needs --auth" in capsys.readouterr().err


def test_token_env_option_requires_the_variable(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HTTPKIT_TEST_TOKEN", raising=False)
    assert main(["get", server.url("/"), "--token-env", "HTTPKIT_TEST_TOKEN"]) == 3
    assert "HTTPKIT_TEST_TOKEN is not set" in capsys.readouterr().err
    assert server.received == []


def test_config_option_reads_host_policies(
    server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPKIT_TEST_TOKEN", "from-env")
    config = tmp_path / "httpkit.toml"
    config.write_text(
        f'[hosts."{server.origin}"]\n'
        'token_env = "HTTPKIT_TEST_TOKEN"\n'
        'headers = { Accept = "application/vnd.test+json", X-Team = "a" }\n'
    )
    assert main(["get", server.url("/"), "--config", str(config), "-H", "X-Team: b"]) == 0
    headers = server.requests_to("/")[0].headers
    assert headers["Authorization"] == "Bearer from-env"
    assert headers["Accept"] == "application/vnd.test+json"
    assert headers["X-Team"] == "b"  # the command line beats the file


def test_bad_config_exits_3_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "httpkit.toml"
    config.write_text('[hosts."http://127.0.0.1"]\npassword = "hunter2"\n')
    assert main(["get", "http://127.0.0.1:9/", "--config", str(config)]) == 3
    err = capsys.readouterr().err
    assert_one_line_error(err, "hunter2")
    assert str(config) in err
    assert main(["get", "http://127.0.0.1:9/", "--config", str(tmp_path / "none.toml")]) == 3
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b"[session]\ntimeout = 5 # caf\xe9\n")
    capsys.readouterr()
    assert main(["get", "http://127.0.0.1:9/", "--config", str(latin1)]) == 3
    assert f"{latin1}: line 2: not UTF-8" in capsys.readouterr().err


def test_include_option_prints_headers_first(
    server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script("/", Reply(201, b"made", headers=[("Location", "/items/1")]))
    assert main(["post", server.url("/"), "-i", "--data", "x"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("HTTP/1.1 201 Created\r\n")
    assert "\r\nLocation: /items/1\r\n" in out
    assert out.endswith("\r\n\r\nmade")


def test_output_option_draws_a_progress_bar_on_a_terminal(
    server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    server.script("/big", Reply(200, b"x" * 200_000))
    assert main(["get", server.url("/big"), "-o", str(tmp_path / "big")]) == 0
    assert (tmp_path / "big").stat().st_size == 200_000
    assert terminal.getvalue().rstrip("\n").rpartition("\r")[2].startswith("100% [")


def test_output_option_leaves_no_file_on_fail(server: ScriptedServer, tmp_path: Path) -> None:
    server.script("/gone", Reply(410, b"gone"))
    assert main(["get", server.url("/gone"), "-o", str(tmp_path / "f"), "--fail"]) == 4
    assert list(tmp_path.iterdir()) == []


def test_verbose_option_shows_retries(
    server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script("/r", Reply(503), Reply(200, b"ok"))
    assert main(["get", server.url("/r?token=s3cret"), "-v", "--retries", "1"]) == 0
    err = capsys.readouterr().err
    assert "* 2 attempts (retried after: 503), " in err
    timeline = [line for line in err.splitlines() if line.startswith(("* attempt", "* waited"))]
    target = server.url("/r?token=<redacted>")
    assert [line.rsplit(" in ", 1)[0] for line in timeline] == [
        f"* attempt 1 {target}: 503",
        "* waited 0.00 s (backoff)",
        f"* attempt 2 {target}: 200",
    ]
    assert "s3cret" not in err


def test_verbose_option_shows_the_attempts_of_a_failed_call(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["get", "http://127.0.0.1:9/", "-v", "--retries", "1"]) == 6
    err = capsys.readouterr().err
    assert "* attempt 1 http://127.0.0.1:9/: ConnectionError in " in err
    assert "* attempt 2 http://127.0.0.1:9/: ConnectionError in " in err


def test_head_alias_prints_no_body(
    server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script("/", Reply(200, b"", headers=[("Content-Length", "1234")]))
    assert main(["head", server.url("/")]) == 0
    assert capsys.readouterr().out == ""
    assert server.received[0].method == "HEAD"


@pytest.mark.parametrize("alias", ["get", "post", "put", "patch", "delete"])
def test_method_aliases_send_their_method(server: ScriptedServer, alias: str) -> None:
    assert main([alias, server.url("/")]) == 0
    assert server.received[0].method == alias.upper()


@pytest.mark.parametrize(
    ("url", "message"),
    [("example.com/x", "no scheme"), ("ftp://127.0.0.1/x", "http:// and https:// only")],
)
def test_invalid_urls_are_usage_errors(
    url: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["get", url]) == 2
    assert message in capsys.readouterr().err


# -- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@contextmanager
def https_server(ca: trustme.CA) -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 with a certificate from ``ca``; yields its origin."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "6")
            self.end_headers()
            self.wfile.write(b"secure")

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_trust_option_verifies_with_the_given_bundle(
    ca: trustme.CA, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with https_server(ca) as origin:
        assert main(["get", origin + "/", "--trust", str(bundle)]) == 0
    assert capsys.readouterr().out == "secure"
    assert main(["get", "https://127.0.0.1:9/", "--trust", str(tmp_path / "none.pem")]) == 3


def test_script_untrusted_certificate_exits_8(ca: trustme.CA) -> None:
    with https_server(ca) as origin:
        result = run("get", origin + "/", "--retries", "0")
        system = run("get", origin + "/", "--retries", "0", "--trust", "system")
    assert result.returncode == 8
    assert_one_line_error(result.stderr)
    assert "certificate verify failed" in result.stderr
    if importlib.util.find_spec("truststore") is None:
        assert system.returncode == 3
        assert "pip install 'httpkit[system]'" in system.stderr
    else:
        assert system.returncode == 8  # a private CA is not in the operating system's store


# -- one meaning per setting: a CLI flag, a keyword argument and a TOML key agree ----------

_decimal_text = st.one_of(
    st.integers(1, 10**6).map(str),
    st.builds("{}.{}".format, st.integers(0, 9999), st.integers(1, 999)),
)


def _ca_of(session: httpkit.Session, url: str) -> str | None:
    """The CA the session verifies ``url`` against (``None``: verification off)."""
    adapter = session.get_adapter(url)
    assert isinstance(adapter, httpkit.HostAdapter)
    config = config_for(*session._tls_for(url, None, None), adapter.policy, adapter.defaults)
    return config.ca if config.verify else None


@settings(max_examples=40, deadline=None)
@given(
    deadline=_decimal_text,
    retries=st.integers(0, 20),
    trust=st.sampled_from(["certifi", certifi.where()]),
    table=st.booleans(),
)
def test_cli_flags_mean_what_keywords_and_toml_keys_mean(
    deadline: str, retries: int, trust: str, table: bool
) -> None:
    url = "https://127.0.0.1:9/"
    argv = ["get", url, "--deadline", deadline, "--retries", str(retries), "--trust", trust]
    settings_table = {"deadline": float(deadline), "retry": retries, "trust": trust}
    document = {"hosts": {url[:-1]: settings_table}} if table else {"session": settings_table}
    with (
        build_session(_parser().parse_args(argv), url) as from_flags,
        httpkit.Session(**settings_table) as from_python,  # type: ignore[arg-type]
        httpkit.Session.from_config(document) as from_toml,
    ):
        python = from_python.get_adapter(url)
        for session in (from_flags, from_toml):
            adapter = session.get_adapter(url)
            assert adapter.deadline == python.deadline  # type: ignore[attr-defined]
            assert adapter.retry == python.retry  # type: ignore[attr-defined]
            assert _ca_of(session, url) == _ca_of(from_python, url) == trust


@settings(max_examples=40, deadline=None)
@given(connect=_decimal_text, read=_decimal_text)
def test_cli_timeout_means_what_a_timeout_argument_means(connect: str, read: str) -> None:
    url = "http://127.0.0.1:9/"
    for text, value in (
        (connect, float(connect)),
        (f"{connect},{read}", (float(connect), float(read))),
    ):
        call = build_call(_parser().parse_args(["get", url, "--timeout", text]), None)
        assert Timeouts.coerce(call.kwargs["timeout"]) == Timeouts.coerce(value)


@pytest.mark.parametrize("text", ["1e3", "inf", "nan", "-1", "\u0663", "²", "1.5.2", ""])
def test_cli_numbers_are_ascii_decimals(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--deadline", "--timeout", "--retries"):
        with pytest.raises(SystemExit) as exited:
            _parser().parse_args(["get", "http://127.0.0.1:9/", flag, text])
        assert exited.value.code == 2
        assert "expected" in capsys.readouterr().err
