"""The command line, run as a user runs it."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from httpkit.cli import _demo


def test_demo_retry_scene_shows_requests_failing_and_httpkit_retrying() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "httpkit", "demo", "--only", "retry"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    plain = next(line for line in lines if line.strip().startswith("requests.Session"))
    ours = next(line for line in lines if line.strip().startswith("httpkit.Session"))
    assert "503 Service Unavailable" in plain
    assert "200 OK" in ours
    assert "3 attempts (retried after: 503, 503)" in ours


def test_demo_console_script_rejects_an_unknown_scene() -> None:
    script = shutil.which("httpkit", path=str(Path(sys.executable).parent))
    assert script is not None, "the httpkit console script is not installed beside python"
    result = subprocess.run(
        [script, "demo", "--only", "nope"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "invalid choice: 'nope'" in result.stderr


@pytest.mark.parametrize("scene", ["timeout", "post", "retry-after"])
def test_demo_scenes_exit_zero(scene: str) -> None:
    from httpkit.cli import main

    assert main(["demo", "--only", scene]) == 0


# -- the guided tour's scenes --------------------------------------------------------------

SECRETS = (_demo._API_KEY, _demo._DIGEST_PASSWORD, _demo._TOKEN_PREFIX)


def _scene_output(scene: str, capsys: pytest.CaptureFixture[str]) -> str:
    from httpkit.cli import main

    assert main(["demo", "--only", scene]) == 0
    out = capsys.readouterr().out
    assert f"== {scene}: " in out
    for secret in SECRETS:
        assert secret not in out
    return out


def _line_of(out: str, *needles: str) -> str:
    return next(line for line in out.splitlines() if all(n in line for n in needles))


def _elapsed_ms(line: str) -> int:
    match = re.search(r"\(\s*(\d+) ms", line)
    assert match, line
    return int(match.group(1))


def test_demo_retry_after_too_long_scene(capsys: pytest.CaptureFixture[str]) -> None:
    out = _scene_output("retry-after-too-long", capsys)
    assert "503 Service Unavailable" in _line_of(out, "requests.Session", "GET /maintenance")
    ours = _line_of(out, "httpkit.Session", "GET /maintenance")
    assert "raised RetryAfterTooLong" in ours
    assert _elapsed_ms(ours) < 1000  # at once: no sleeping
    assert ".retry_after = 86400 s" in out
    assert "the demo does not try that" in out


def test_demo_deadline_scene(capsys: pytest.CaptureFixture[str]) -> None:
    out = _scene_output("deadline", capsys)
    plain = _line_of(out, "requests.Session", "GET /trickle")
    assert "timeout=3, still receiving after 3." in plain
    ours = _line_of(out, "httpkit.Session", "GET /trickle")
    assert "raised DeadlineExceeded" in ours
    assert 1900 <= _elapsed_ms(ours) < 2600  # the deadline, plus at most 0.5 s
    assert ".deadline = 2 s" in out


def test_demo_digest_scene(capsys: pytest.CaptureFixture[str]) -> None:
    out = _scene_output("digest", capsys)
    sha256, _, sha512_256 = out.partition("offers only SHA-512-256")
    assert "200 OK" in _line_of(sha256, "requests.Session", "GET /sha-256")
    assert sha256.count("-> 401") == 2  # one challenge each: requests, then httpkit
    assert "algorithm=SHA-256, qop=auth, nc=00000002, response=<redacted>] -> 200" in sha256
    if hashlib.algorithms_available >= {"sha512_256"}:
        assert "401 Unauthorized" in _line_of(sha512_256, "requests.Session", "GET /sha-512-256")
        assert "200 OK" in _line_of(sha512_256, "httpkit.Session", "GET /sha-512-256")
        assert "algorithm=SHA-512-256, qop=auth, nc=00000001" in sha512_256


def test_demo_token_refresh_scene(capsys: pytest.CaptureFixture[str]) -> None:
    out = _scene_output("token-refresh", capsys)
    assert "fetches so far: 1, the server answered 200" in _line_of(out, "GET /me #1")
    assert "fetches so far: 1, the server answered 200" in _line_of(out, "GET /me #2")
    assert "fetches so far: 2, the server answered 200" in _line_of(out, "GET /me #3")
    assert "fetches so far: 3, the server answered 401 then 200" in _line_of(out, "GET /me #4")
    plain = [line for line in out.splitlines() if line.strip().startswith("requests.Session")]
    assert ["200 OK" in plain[0], "401 Unauthorized" in plain[1]] == [True, True]
    assert "Bearer <redacted>" in out


def test_demo_redirect_scene(capsys: pytest.CaptureFixture[str]) -> None:
    out = _scene_output("redirect", capsys)
    plain, _, ours = out.partition("httpkit.Session")
    landing = "/landing received"
    assert "X-Api-Key: <redacted>" in _line_of(plain, landing)
    assert "no X-Api-Key" in _line_of(ours, landing)
    assert "X-Api-Key: <redacted>" in _line_of(ours, "/hop received")  # the first host gets it
    if sys.platform == "linux":  # all of 127.0.0.0/8 is loopback there
        assert "127.0.0.2" in _line_of(plain, landing)


def test_demo_list_prints_every_scene(capsys: pytest.CaptureFixture[str]) -> None:
    from httpkit.cli import main

    assert main(["demo", "--list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == [scene.name for scene in _demo.SCENES]


def test_demo_whole_tour_through_the_console_script() -> None:
    script = shutil.which("httpkit", path=str(Path(sys.executable).parent))
    assert script is not None, "the httpkit console script is not installed beside python"
    result = subprocess.run(
        [script, "demo"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    for scene in _demo.SCENES:
        assert f"== {scene.name}: " in result.stdout
    assert f"{len(_demo.SCENES)} scene(s) in " in result.stdout
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr


def test_demo_conditional_scene_revalidates_with_a_304(capsys: pytest.CaptureFixture[str]) -> None:
    out = _scene_output("conditional", capsys)
    httpkit_lines = [line for line in out.splitlines() if "httpkit.Session" in line]
    plain_lines = [line for line in out.splitlines() if "requests.Session" in line]
    assert "server sent 200" in httpkit_lines[0]
    assert "server sent 304, 72 KiB body from the cache" in httpkit_lines[1]
    assert all("server sent 200, 72 KiB body" in line for line in plain_lines)
