"""Every Python example in README.md and docs/*.md runs, offline.

Each page's ```python blocks run in order in one namespace, as a reader pastes them, with
``responses`` answering 200 to every URL, dummy values for the environment variables the
examples read, and a temporary working directory. Blocks that start with ``>>>`` run as
doctests. The markers the pages may use (documented at the end of docs/testing.md):

* ``<!-- not-run: reason -->`` on the line before a fence: the block is not run;
* ``<!-- file: NAME -->`` on the line before a fence (any language): its content is
  written to NAME in the working directory before the page's examples run.
"""

from __future__ import annotations

import doctest
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^\n`]*)$")
_MARKER = re.compile(r"^<!--\s*(?P<kind>not-run|file):\s*(?P<value>.*?)\s*-->$")
_PYTHON = frozenset({"python", "py", "pycon"})
_ENV_NAME = re.compile(r"""(?:environ\[\s*|getenv\(\s*|_env\s*=\s*)["']([A-Z][A-Z0-9_]*)["']""")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    marker: tuple[str, str] | None  # ("not-run", reason) or ("file", name)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of a Markdown page, with the marker on the line before each."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        words = opening["info"].strip().split()
        language = words[0].lower() if words else ""
        previous = lines[i - 1].strip() if i else ""
        marked = _MARKER.match(previous)
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j][indent:])
            j += 1
        marker = (marked["kind"], marked["value"]) if marked else None
        found.append(Block(page, i + 1, language, "\n".join(body) + "\n", marker))
        i = j + 1
    return found


def _answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, b"{}"


def _run(block: Block, namespace: dict[str, Any]) -> None:
    if block.code.lstrip().startswith(">>>"):
        test = doctest.DocTestParser().get_doctest(
            block.code, namespace, block.where, str(block.page), block.line
        )
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        report: list[str] = []
        runner.run(test, out=report.append, clear_globs=False)
        assert runner.failures == 0, "".join(report)
    else:
        # Padding keeps line numbers in tracebacks equal to the page's.
        exec(compile("\n" * block.line + block.code, block.where, "exec"), namespace)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page_blocks = blocks(page)
    monkeypatch.chdir(tmp_path)
    text = page.read_text(encoding="utf-8")
    for name in set(_ENV_NAME.findall(text)):
        monkeypatch.setenv(name, f"dummy-{name.lower()}")
    for block in page_blocks:
        if block.marker is not None and block.marker[0] == "file":
            (tmp_path / block.marker[1]).write_text(block.code, encoding="utf-8")
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            mock.add_callback(method, re.compile(r".*"), callback=_answer)
        for block in page_blocks:
            if block.language not in _PYTHON:
                continue
            if block.marker is not None and block.marker[0] == "not-run":
                continue
            try:
                _run(block, namespace)
            except Exception as exc:
                pytest.fail(
                    f"the example at {block.where} fails: {type(exc).__name__}: {exc}\n"
                    "Fix it, or mark it with <!-- not-run: reason --> on the line before "
                    "its fence (see docs/testing.md)."
                )


def test_markers_have_reasons_and_precede_fences() -> None:
    """A marker with no reason, or not followed by a fence, is a mistake."""
    problems = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            marked = _MARKER.match(line.strip())
            if marked is None:
                continue
            nxt = lines[number] if number < len(lines) else ""
            if not marked["value"]:
                problems.append(f"{page.name}:{number}: {marked['kind']} marker without a value")
            if _FENCE.match(nxt) is None:
                problems.append(f"{page.name}:{number}: marker not directly before a fence")
    assert problems == []


def test_the_extractor_finds_marked_and_unmarked_blocks(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Text\n\n```python\nx = 1\n```\n\n<!-- not-run: needs a server -->\n"
        "```python\nsession.get(url)\n```\n\n<!-- file: a.toml -->\n```toml\n[session]\n```\n"
    )
    found = blocks(page)
    assert [(b.line, b.language, b.code, b.marker) for b in found] == [
        (3, "python", "x = 1\n", None),
        (8, "python", "session.get(url)\n", ("not-run", "needs a server")),
        (13, "toml", "[session]\n", ("file", "a.toml")),
    ]
