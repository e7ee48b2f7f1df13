"""Every message a command prints names options that command has, each once: no
``--column-id / --column-id`` from sync-tag, no ``allow_mass_removal=True`` (a Python argument)
or ``--mode`` talk from clear-tag. Each subcommand's error paths (and its plan output) run as the
installed command; the options a line names are checked against that subcommand's own parser,
read from the parser itself."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpcrunch._cli import build_parser
from helpcrunch.sandbox import Sandbox
from tests.support.cli import helpcrunch
from tests.support.sync import TAG, account

#: An option as a message names it (not a word inside a path or a URL).
OPTION = re.compile(r"(?<![\w/.-])--[a-z][a-z0-9-]*")
#: Python's words for an argument, which a command line user cannot type.
PYTHON_TERMS = re.compile(r"\b[a-z_]+=(True|False|None|\d)|\ballow_mass_removal\b|\bkey_column\b")


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def options_of(parser: argparse.ArgumentParser) -> set[str]:
    return {o for action in parser._actions for o in action.option_strings}


def bad_values(name: str, parser: argparse.ArgumentParser) -> Iterator[list[str]]:
    """Each option that takes a checked value, given one it refuses."""
    for action in parser._actions:
        if action.option_strings and (action.type is not None or action.choices is not None):
            yield [name, action.option_strings[0], "-1x"]


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def error_paths(tmp: Path, sb: Sandbox) -> dict[str, list[list[str]]]:
    emails = write(tmp / "emails.csv", "name,email\nx,c1@example.com\n")
    headerless = write(tmp / "one.csv", "c1@example.com\nc2@example.com\n")
    no_column = write(tmp / "cols.csv", "a,b\n1,2\n")
    rows = write(tmp / "rows.csv", "customer_id,tags\n1,Lead\n")
    not_a_log = write(tmp / "log.jsonl", "hello\n")
    sync = ["sync-tag", TAG]
    return {
        "sync-tag": [
            [*sync],
            [*sync, "--from-csv", no_column],
            [*sync, "--from-csv", no_column, "--column", "mail"],
            [*sync, "--from-csv", headerless],
            [*sync, "--from-csv", headerless, "--match", "user_id"],
            [*sync, "--from-csv", emails, "--color", "red"],
            [*sync, "--from-csv", emails, "--log", str(tmp)],
            [*sync, "--from-csv", emails, "--log", not_a_log],
            [*sync, "--from-csv", emails, "--sandbox", "--base-url", sb.base_url],
            [*sync, "--from-csv", "-", "--api-key-file", "-"],
            [*sync, "--from-csv", emails, "--api-key-file", str(tmp / "nope")],
            # The guard: one email against ten holders.
            [*sync, "--from-csv", emails],
            [*sync, "--from-csv", emails, "--dry-run"],
            [*sync, " spaced", "--from-csv", emails],
        ],
        "clear-tag": [
            ["clear-tag"],
            ["clear-tag", TAG, "--dry-run"],
            ["clear-tag", TAG, "--log", not_a_log],
            ["clear-tag", TAG, "--log", str(tmp)],
            ["clear-tag", "", "--dry-run"],
        ],
        "undo": [
            ["undo"],
            ["undo", str(tmp / "missing.jsonl")],
            ["undo", not_a_log],
        ],
        "tag": [
            ["tag"],
            ["tag", "1"],
            ["tag", "1", "Lead", "--dry-run"],
            ["tag", "--from-csv", rows, "1", "Lead"],
            ["tag", "--from-csv", no_column],
            ["tag", "--from-csv", rows, "--column-id", "x", "--column-tags", "x"],
            ["tag", "--from-csv", headerless],
            ["tag", "--from-csv", rows, "--checkpoint", str(tmp)],
            ["tag", "1", "Lead:red"],
            ["tag", "x", "Lead"],
        ],
        "untag": [
            ["untag"],
            ["untag", "--from-csv", no_column],
            ["untag", "--from-csv", headerless],
            ["untag", "--from-csv", rows, "--dry-run"],
            ["untag", "0", "Lead"],
        ],
        "get": [["get"], ["get", "abc"], ["get", "1", "--timeout", "-5"]],
        "customers": [
            ["customers", "--where", "nonsense"],
            ["customers", "--page-size", "0"],
            ["customers", "--limit", "-1"],
            ["customers", "--tag", ""],
        ],
        "sandbox": [
            ["sandbox", "--seed", "3"],
            ["sandbox", "--load", str(tmp / "nope.jsonl")],
        ],
    }


@pytest.mark.long
def test_every_message_names_options_its_command_has_each_once(tmp_path: Path) -> None:
    commands = subcommands()
    checked = 0
    with Sandbox(customers=account(10, range(1, 11))) as sb:
        paths = error_paths(tmp_path, sb)
        assert set(paths) <= set(commands), set(paths) - set(commands)
        for name, parser in commands.items():
            runs = paths.get(name, []) + list(bad_values(name, parser))
            assert runs, f"no error path for {name}"
            known = options_of(parser)
            for args in runs:
                env_sb = None if "--sandbox" in args or name == "sandbox" else sb
                result = helpcrunch(*args, sandbox=env_sb, stdin="", timeout=60)
                assert "Traceback" not in result.stderr, (args, result.stderr)
                for line in (result.stdout + result.stderr).splitlines():
                    if "unrecognized arguments" in line:
                        continue  # quotes what was typed
                    named = OPTION.findall(line)
                    unknown = [o for o in named if o not in known]
                    assert not unknown, f"{args}: {line!r} names {unknown}, not options of {name}"
                    repeated = {o for o in named if named.count(o) > 1}
                    assert not repeated, f"{args}: {line!r} names {repeated} twice"
                    assert not PYTHON_TERMS.search(line), f"{args}: {line!r} speaks Python"
                checked += 1
    assert checked > 60


def test_a_headerless_one_column_file_names_its_column_once(tmp_path: Path) -> None:
    csv = write(tmp_path / "one.csv", "someone@example.com\n")
    result = helpcrunch("sync-tag", TAG, "--from-csv", csv, "--column", "user_email", "--sandbox")
    assert result.returncode == 2
    assert result.stderr.count("'user_email'") == 1, result.stderr
    assert result.stderr.count("--column") == 1, result.stderr


def test_clear_tag_speaks_of_its_own_options_only() -> None:
    with Sandbox(customers=account(10, range(1, 5))) as sb:
        dry = helpcrunch("clear-tag", TAG, "--dry-run", sandbox=sb)
    assert dry.returncode == 0, dry.stderr
    out = dry.stdout
    assert f"4 customers carry {TAG!r} now" in out
    assert "applying it sends 4 writes" in out
    for word in ("mirror", "by email", "allow_mass_removal", "rejected"):
        assert word not in out, out


@pytest.mark.parametrize("dry_run", [True, False])
def test_the_guard_refusal_comes_instead_of_what_applying_sends(
    tmp_path: Path, dry_run: bool
) -> None:
    csv = write(tmp_path / "emails.csv", "email\nc1@example.com\n")
    with Sandbox(customers=account(10, range(1, 11))) as sb:
        result = helpcrunch(
            "sync-tag", TAG, "--from-csv", csv, *(["--dry-run"] if dry_run else []), sandbox=sb
        )
    assert "applying it sends" not in result.stdout, result.stdout
    assert (
        "applying it is refused: it removes the tag from 9 of its 10 current holders, more "
        "than half of them; give --allow-mass-removal if that is what you mean" in result.stdout
    )
    assert result.returncode == (0 if dry_run else 2), result.stderr
