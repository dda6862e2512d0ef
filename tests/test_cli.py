"""The command line, run as a user runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


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


@pytest.mark.parametrize("scene", ["timeout", "post"])
def test_demo_scenes_exit_zero(scene: str) -> None:
    from httpkit.cli import main

    assert main(["demo", "--only", scene]) == 0
