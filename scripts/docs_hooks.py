"""mkdocs hooks (mkdocs.yml): what a plain strict build cannot check by itself.

- ``<!-- cli-help -->`` in a page becomes every command's ``--help``, taken from the parser
  the ``helpcrunch`` command runs, so the CLI reference cannot go stale.
- README.md is not part of the site, so its relative links are checked here: each must name a
  file of the repository (and a ``#heading`` of README must exist).
- Every `path/in/the/repo` written in code style in README.md or a page (``src/…``,
  ``tests/…``, ``bench/…``, ``examples/…``, ``scripts/…``, ``python/…``, ``docs/…``) must
  exist: a file moved or renamed fails the build instead of leaving a stale reference.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[1]
CLI_MARKER = "<!-- cli-help -->"
REPO_PATH = re.compile(
    r"`((?:src|tests|bench|examples|scripts|python|docs|\.ci)/[A-Za-z0-9_./-]*[A-Za-z0-9_/])`"
)
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCED = re.compile(r"^(`{3,}|~{3,}).*?^\1", re.MULTILINE | re.DOTALL)


@contextlib.contextmanager
def _columns(n: int) -> Iterator[None]:
    """argparse wraps help to the terminal's width: a fixed one, so every build is the same."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(n)
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def cli_reference() -> str:
    from helpcrunch._cli import build_parser

    with _columns(100):
        parser = build_parser()
        parts = ["### helpcrunch\n", "```text", parser.format_help().rstrip(), "```\n"]
        [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for name, command in commands.choices.items():
            parts += [
                f"### helpcrunch {name}\n",
                "```text",
                command.format_help().rstrip(),
                "```\n",
            ]
    return "\n".join(parts)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _missing_repo_paths(text: str) -> list[str]:
    return [p for p in REPO_PATH.findall(text) if not (ROOT / p.rstrip("/")).exists()]


def check_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    prose = FENCED.sub("", readme)
    anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", prose, re.MULTILINE)}
    problems = [f"README.md names `{p}`, which does not exist" for p in _missing_repo_paths(prose)]
    for target in LINK.findall(prose):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        if not path:
            if anchor not in anchors:
                problems.append(f"README.md links to #{anchor}, which is no heading of it")
        elif not (ROOT / path).exists():
            problems.append(f"README.md links to {path}, which does not exist")
    if problems:
        raise PluginError("\n".join(problems))


def on_pre_build(config: Any) -> None:
    check_readme()


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    missing = _missing_repo_paths(FENCED.sub("", markdown))
    if missing:
        raise PluginError(
            f"{page.file.src_uri} names {', '.join(missing)}: no such file in the repository"
        )
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    return markdown
