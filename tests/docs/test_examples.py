"""Every ```python block of README.md and docs/**/*.md runs, as a reader would run it.

The convention the pages are written to (one test per file, so a new page is picked up with no
change here):

- the blocks of one file run in order, in one namespace, as one session would;
- the working directory is a fresh temporary directory (a block may write files there);
- ``HELPCRUNCH_API_KEY`` and ``HELPCRUNCH_BASE_URL`` point at a fresh default ``Sandbox()``
  (the ten demo customers, ids 542335-542344), so ``helpcrunch.Client()`` and the module
  functions reach it;
- a block that uses ``await`` at the top level runs on a fresh event loop, as in a notebook;
- a block preceded by the line ``<!-- example: skip (reason) -->`` is not run; the reason is
  required.

A failing block's traceback names the file and the line in it.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helpcrunch.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
SKIP = re.compile(r"<!--\s*example:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->")
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>\S*)")


@dataclass
class Block:
    path: Path
    line: int  # of the block's first line of code, 1-based
    code: str
    skip: str | None  # the reason, or None


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a markdown file whose info string is ``python``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info, indent = m["fence"], m["info"], len(m["indent"])
        start = i + 1
        end = start
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        if info == "python":
            before = next((t for t in reversed(lines[:i]) if t.strip()), "")
            skip = SKIP.search(before)
            code = "\n".join(line[indent:] for line in lines[start:end])
            found.append(Block(path, start + 1, code, skip["reason"] if skip else None))
        i = end + 1
    return found


def run(block: Block, namespace: dict[str, Any]) -> None:
    # Blank lines in front, so a traceback's line number is the line in the markdown file.
    source = "\n" * (block.line - 1) + block.code + "\n"
    code = compile(
        source, str(block.path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, namespace))
    else:
        exec(code, namespace)


@pytest.mark.parametrize(
    "path", pages(), ids=lambda p: str(p.relative_to(ROOT)) if isinstance(p, Path) else p
)
def test_every_python_example_runs(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = blocks(path)
    runnable = [b for b in found if b.skip is None]
    if not runnable:
        pytest.skip("no python block to run" if not found else "every block is skipped")
    monkeypatch.chdir(tmp_path)
    with Sandbox() as sandbox:
        monkeypatch.setenv("HELPCRUNCH_API_KEY", sandbox.api_key)
        monkeypatch.setenv("HELPCRUNCH_BASE_URL", sandbox.base_url)
        monkeypatch.delenv("HELPCRUNCH_RATE_LIMIT_BACKEND", raising=False)
        namespace: dict[str, Any] = {"__name__": "__main__"}
        for block in runnable:
            run(block, namespace)


def test_a_skipped_example_says_why() -> None:
    """A skip marker without a reason is not recognised, so the block would run: a marker that
    looks like one but does not match is a mistake worth failing on."""
    loose = re.compile(r"<!--\s*example:")
    for path in pages():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if loose.search(line):
                assert SKIP.search(line), f"{path}:{number}: {line.strip()}"
