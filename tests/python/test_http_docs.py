"""Runs the examples of docs/http.md against a running zepto_server.

The ```sh blocks run in bash and the ```python blocks in one shared namespace,
all in the order of the page, against one server started for the module.
`8123` (the documented port) is replaced by the test server's port, and
`zepto_server` by the installed binary with the server's key file. When a
```text block follows an example block, it is the exact expected output.
(tests/python/test_docs.py, which runs the docs' python blocks without a
server, leaves this page to this file.)
"""
from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import List, NamedTuple, Optional

import pytest

from server_fixture import Server, server_path
from test_docs import fenced_blocks

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "http.md"


class Example(NamedTuple):
    line: int              # 1-based line of the first code line
    lang: str              # "sh" or "python"
    code: str
    expected: Optional[str]  # the following ```text block, if any


def examples(text: str) -> List[Example]:
    blocks = fenced_blocks(text)
    out: List[Example] = []
    for k, b in enumerate(blocks):
        if b.lang not in ("sh", "python"):
            continue
        following = blocks[k + 1] if k + 1 < len(blocks) else None
        expected = following.code if following and following.lang == "text" and following.start == b.end else None
        out.append(Example(b.start + 2, b.lang, b.code, expected))
    return out


def test_extraction():
    text = "\n".join(["```sh", "echo hi", "```", "```text", "hi", "```", "", "```python", "x = 1", "```",
                      "```", "plain", "```"])
    assert examples(text) == [Example(2, "sh", "echo hi\n", "hi\n"), Example(9, "python", "x = 1\n", None)]


def test_doc_has_examples():
    ex = examples(DOC.read_text())
    assert sum(e.lang == "sh" for e in ex) >= 8 and sum(e.lang == "python" for e in ex) >= 2
    assert sum(e.expected is not None for e in ex) >= 6


def test_http_doc_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    server = Server(tmp_path)
    monkeypatch.chdir(tmp_path)
    binary = f"{shlex.quote(str(server_path()))}"
    namespace: dict = {"__name__": "__doc_example__"}
    try:
        for ex in examples(DOC.read_text()):
            code = ex.code.replace("8123", str(server.port))
            where = f"docs/http.md:{ex.line}"
            if ex.lang == "sh":
                # `zepto_server keys …` works on the test server's key file.
                script = f"zepto_server() {{ {binary} \"$@\" --keys-file {shlex.quote(server.keys_file)}; }}\n" \
                         f"set -o pipefail\n{code}"
                run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
                assert run.returncode == 0, f"{where}: exit {run.returncode}\n{run.stderr}"
                output = run.stdout
            else:
                compiled = compile("\n" * (ex.line - 1) + code, "docs/http.md", "exec")
                exec(compiled, namespace)  # noqa: S102 - running our own documentation
                output = None
            if ex.expected is not None:
                assert output == ex.expected, f"{where}: output differs"
    finally:
        assert server.stop() == 0
