"""Runs every ```python block of README.md and docs/*.md.

The blocks of one file run in order in one namespace, so a later block can
use what an earlier one defined. A block is skipped only when the line right
before its opening fence is the marker `<!-- no-test -->`.

docs/http.md is left to tests/python/test_http_docs.py: its examples talk to a
running zepto_server, which that test starts (it also runs the page's curl
examples and compares their outputs).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, NamedTuple

import pytest

import zeptodb

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
SKIP_MARKER = "<!-- no-test -->"
# Pages whose examples need a server; each is run by the named test instead.
SERVER_DOCS = {"docs/http.md": "tests/python/test_http_docs.py"}
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^\n`]*)$")


class Block(NamedTuple):
    line: int       # 1-based line of the first code line
    code: str
    skipped: bool


class Fenced(NamedTuple):
    start: int      # 0-based index of the opening fence line
    lang: str       # first word of the info string, lower case
    code: str
    end: int        # 0-based index of the line after the closing fence


def fenced_blocks(text: str) -> List[Fenced]:
    """Every fenced code block of a Markdown text (also tests/python/test_http_docs.py)."""
    blocks: List[Fenced] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, indent = i, len(m.group("indent"))
        lang = m.group("info").strip().split(" ")[0].lower()
        i += 1
        body = []
        while i < len(lines) and not re.match(r"^ *```\s*$", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1  # the closing fence
        blocks.append(Fenced(start, lang, "\n".join(body) + "\n", i))
    return blocks


def python_blocks(text: str) -> List[Block]:
    """The ```python blocks of a Markdown text (other languages are ignored)."""
    lines = text.splitlines()
    return [Block(b.start + 2, b.code, b.start > 0 and lines[b.start - 1].strip() == SKIP_MARKER)
            for b in fenced_blocks(text) if b.lang in ("python", "py")]


def test_block_extraction():
    text = "\n".join(["# t", "```python", "a = 1", "```", "```sh", "make", "```",
                      SKIP_MARKER, "```python", "boom()", "```", "- item", "  ```py", "  b = a", "  ```"])
    blocks = python_blocks(text)
    assert [(b.line, b.code, b.skipped) for b in blocks] == [
        (3, "a = 1\n", False), (10, "boom()\n", True), (14, "b = a\n", False)]


def test_python_docs_have_examples():
    assert len(python_blocks((ROOT / "docs" / "python.md").read_text())) >= 10


@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_examples_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = str(path.relative_to(ROOT))
    if name in SERVER_DOCS:
        pytest.skip(f"{name} needs a running server: its examples run in {SERVER_DOCS[name]}")
    blocks = python_blocks(path.read_text())
    if not blocks:
        pytest.skip(f"{path.name} has no python examples")
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    namespace: dict = {"__name__": "__doc_example__"}
    try:
        for block in blocks:
            if block.skipped:
                continue
            # Pad so that tracebacks show the line number in the Markdown file.
            code = compile("\n" * (block.line - 1) + block.code, name, "exec")
            exec(code, namespace)  # noqa: S102 - running our own documentation
    finally:
        for value in list(namespace.values()):
            if isinstance(value, zeptodb.Pipeline):
                value.stop()
