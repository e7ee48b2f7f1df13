"""Every option (and positional) of every command, given a bad value, is refused in the command
line's own terms: the message names what the user typed (``--page-size``, ``TAG``), never the
Python argument behind it (``page_size``, ``tags[0]``), never Python's advice (``None``,
``=True``). The options come from the parser itself: one added without a case here fails."""

from __future__ import annotations

import argparse
import os
import pickle
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpcrunch import Client, ConfigurationError, _cli
from helpcrunch.sandbox import Sandbox
from tests.support.cli import helpcrunch

#: A bad value for each (command, option), or None for an option no value of which is refused
#: (any text is an email or a user id to look up; any name a sandbox key).
BAD: dict[tuple[str, str], str | None] = {}
_CONNECTION = {
    "--api-key-file": "{tmp}/no-such-key",
    "--base-url": "ftp://example.com/v1",
    "--rate-limit-backend": "memcached://localhost",
    "--timeout": "0",
    "--rate-limit": "1e-9",
}
_CSV_RUN = {
    "--from-csv": "{tmp}/no-such.csv",
    "--column-id": "nope",
    "--column-tags": "nope",
    "--delimiter": ";;",
    "--tags-sep": "",
    "--concurrency": "0",
    "--checkpoint": "/",
    "--progress-interval": "0",
    "CUSTOMER_ID": "12a",
}
for _command in (
    "untag",
    "tag",
    "get",
    "customers",
    "sync-tag",
    "sync-tags",
    "clear-tag",
    "undo",
    "sync-customers",
):
    BAD.update({(_command, o): v for o, v in _CONNECTION.items()})
for _command in ("untag", "tag"):
    BAD.update({(_command, o): v for o, v in _CSV_RUN.items()})
BAD[("untag", "TAG")] = " "
BAD[("tag", "TAG[:COLOR]")] = "Trial:redd"
BAD[("get", "CUSTOMER_ID")] = "12a"
BAD.update(
    {
        ("customers", "--tag"): " ",
        ("customers", "--email"): None,
        ("customers", "--user-id"): None,
        ("customers", "--where"): "lastSeen >= soon",
        ("customers", "--limit"): "-1",
        ("customers", "--format"): "xml",
        ("customers", "--page-size"): "0",
        ("sync-tag", "TAG"): " ",
        ("sync-tag", "--from-csv"): "{tmp}/no-such.csv",
        ("sync-tag", "--column"): "nope",
        ("sync-tag", "--delimiter"): ";;",
        ("sync-tag", "--match"): "phone",
        ("sync-tag", "--mode"): "toggle",
        ("sync-tag", "--color"): "redd",
        ("sync-tag", "--concurrency"): "0",
        ("sync-tag", "--log"): "/",
        ("sync-tags", "--from-csv"): "{tmp}/no-such.csv",
        ("sync-tags", "--key-column"): "nope",
        ("sync-tags", "--tag-column"): "nope",
        ("sync-tags", "--tags"): ",",
        ("sync-tags", "--delimiter"): ";;",
        ("sync-tags", "--match"): "phone",
        ("sync-tags", "--mode"): "toggle",
        ("sync-tags", "--allow-mass-removal"): None,
        ("sync-tags", "--concurrency"): "0",
        ("sync-tags", "--log"): "/",
        ("clear-tag", "TAG"): " ",
        ("clear-tag", "--concurrency"): "0",
        ("clear-tag", "--log"): "/",
        ("sync-customers", "--from-csv"): "{tmp}/no-such.csv",
        ("sync-customers", "--match"): "phone",
        ("sync-customers", "--key-column"): "nope",
        ("sync-customers", "--field"): "company",
        ("sync-customers", "--delimiter"): ";;",
        ("sync-customers", "--nulls"): "empty",
        ("sync-customers", "--concurrency"): "0",
        ("sync-customers", "--log"): "/",
        ("undo", "FILE"): "{tmp}/no-such-log.jsonl",
        ("undo", "--concurrency"): "0",
        ("sandbox", "--port"): "70000",
        ("sandbox", "--rate-limit"): "-1",
        ("sandbox", "--key"): None,
        ("sandbox", "--customers"): "-1",
        ("sandbox", "--load"): "{tmp}/no-such.jsonl",
        ("sandbox", "--seed"): "1",
        ("sandbox", "--max-page-size"): "0",
        ("sandbox", "--max-filters"): "-1",
        ("sandbox", "--error-style"): "three",
        ("sandbox", "--webhook-url"): "ftp://example.com/hook",
        ("sandbox", "--webhook-secret-file"): "{tmp}/no-such-secret",
    }
)

#: What a message may name instead of an option: how Python names the same thing.
PYTHON_NAMES = re.compile(
    r"(?<![\w'\"-])(?:page_size|rate_limit_backend|rate_limit|base_url|customer_id|user_id|"
    r"max_page_size|max_filters|lookup_batch|api_key|where\[|tags\[|tag\[|allow_\w+|None\b|"
    r"=True)"
)

#: How a message names each option or positional: as typed, or as its help shows it.
SHOWN = {"TAG[:COLOR]": "TAG"}


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = _cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _options() -> Iterator[tuple[str, str]]:
    for command, parser in _commands().items():
        for action in parser._actions:
            if action.nargs == 0 or action.help == argparse.SUPPRESS:
                continue  # flags take no value; --api-key is refused whatever follows it
            if action.option_strings:
                yield command, action.option_strings[0]
            else:
                yield command, str(action.metavar or action.dest)


OPTIONS = sorted(set(_options()))


def test_every_option_has_a_case() -> None:
    assert set(OPTIONS) == set(BAD)


#: Options whose value is a file: a message may name the file instead.
PATHS = {"--from-csv", "--load", "FILE", "--log", "--checkpoint", "--api-key-file"}

#: What a message may say for a positional that stands for one thing.
SAYS = {("sync-tag", "TAG"): "the tag", ("clear-tag", "TAG"): "the tag"}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def _argv(command: str, option: str, value: str, tmp: Path, sb: Sandbox) -> list[str]:
    """The command with ``option`` set to ``value`` and whatever else gets it that far: a run
    that would send writes, so that a setting of the writes is used."""
    rows = tmp / "rows.csv"
    rows.write_text("customer_id,tags\n542335,Lead\n")
    audience = tmp / "audience.csv"
    audience.write_text("email\njohn.doe@example.com\n")
    given = [f"{option}={value}"] if option.startswith("-") else []
    if command in ("untag", "tag"):
        if option == "CUSTOMER_ID":
            return [command, value, "Lead"]
        if option.startswith("TAG"):
            return [command, "542335", value]
        from_csv = [] if option == "--from-csv" else ["--from-csv", os.fspath(rows)]
        return [command, *from_csv, *given]
    if command == "get":
        return [command, value] if option == "CUSTOMER_ID" else [command, "542335", *given]
    if command == "sync-tag":
        tag = value if option == "TAG" else "churn"
        from_csv = [] if option == "--from-csv" else ["--from-csv", os.fspath(audience)]
        return [command, tag, *from_csv, "--mode=add", *given]
    if command == "sync-tags":
        segments = tmp / "segments.csv"
        segments.write_text("email,tag\njohn.doe@example.com,churn\n")
        from_csv = [] if option == "--from-csv" else ["--from-csv", os.fspath(segments)]
        return [command, *from_csv, "--mode=add", *given]
    if command == "clear-tag":
        return [command, value if option == "TAG" else "vip", *given]
    if command == "sync-customers":
        table = tmp / "users.csv"
        table.write_text("email,company\njohn.doe@example.com,Changed Inc.\n")
        from_csv = [] if option == "--from-csv" else ["--from-csv", os.fspath(table)]
        return [command, *from_csv, "--allow-mass-change", *given]
    if command == "undo":
        if option == "FILE":
            return [command, value]
        log = tmp / "run.jsonl"
        made = helpcrunch(
            "sync-tag",
            "undo-me",
            "--from-csv",
            os.fspath(audience),
            "--mode=add",
            f"--log={log}",
            env=_env(sb),
        )
        assert made.returncode == 0, made.stderr
        return [command, os.fspath(log), *given]
    if command == "sandbox":
        return [command, *given]
    return [command, *given]


def _env(sb: Sandbox) -> dict[str, str]:
    return {"HELPCRUNCH_API_KEY": sb.api_key, "HELPCRUNCH_BASE_URL": sb.base_url}


@pytest.mark.parametrize(("command", "option"), [o for o in OPTIONS if BAD.get(o) is not None])
def test_a_bad_value_is_refused_naming_the_option(
    command: str, option: str, tmp_path: Path, sandbox: Sandbox
) -> None:
    value = str(BAD[(command, option)]).format(tmp=tmp_path)
    argv = _argv(command, option, value, tmp_path, sandbox)
    if option == "--rate-limit-backend":
        argv.append("--rate-limit=1000")
    result = helpcrunch(*argv, env={} if command == "sandbox" else _env(sandbox), timeout=60)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, (argv, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    line = lines[0]
    says = SAYS.get((command, option), SHOWN.get(option, option))
    assert says in line or (option in PATHS and value in line), (argv, line)
    assert not PYTHON_NAMES.search(line), (argv, line)


def test_a_refused_argument_says_which_in_attributes_the_cli_reads(sandbox: Sandbox) -> None:
    """What the CLI renders from: the core's argument, on the documented built-in classes
    (exactly ValueError/TypeError), kept through pickling."""
    with sandbox.client() as client:
        with pytest.raises(ValueError) as bad_size:
            client.search_customers(tag="Lead", page_size=0)
        with pytest.raises(ValueError) as bad_where:
            client.search_customers(where=["email = a@b.c", "lastSeen >= soon"])
        with pytest.raises(TypeError) as bad_type:
            client.search_customers(email=5)  # type: ignore[arg-type]
    assert type(bad_size.value) is ValueError and type(bad_type.value) is TypeError
    size = bad_size.value
    assert (size.parameter, size.index) == ("page_size", None)  # type: ignore[attr-defined]
    assert size.detail == "must be an integer from 1 to 100, got 0"  # type: ignore[attr-defined]
    assert str(size) == "page_size must be an integer from 1 to 100, got 0"
    where = bad_where.value
    assert (where.parameter, where.index) == ("where", 1)  # type: ignore[attr-defined]
    assert "page_size" not in where.detail and "where" not in where.detail  # type: ignore[attr-defined]
    restored = pickle.loads(pickle.dumps(where))
    assert (restored.parameter, restored.index, restored.detail) == (
        "where",
        1,
        where.detail,  # type: ignore[attr-defined]
    )
    with pytest.raises(ConfigurationError) as bad_url:
        Client(api_key="k" * 20, base_url="ftp://x")
    assert bad_url.value.parameter == "base_url"
    assert bad_url.value.detail == "'ftp://x' must start with https://"
    assert pickle.loads(pickle.dumps(bad_url.value)).parameter == "base_url"


@pytest.mark.parametrize(
    "option", ["--customers", "--seed", "--rate-limit", "--max-page-size", "--max-filters"]
)
def test_a_sandbox_number_too_large_names_the_option(option: str) -> None:
    extra = ["--customers=3"] if option == "--seed" else []
    result = helpcrunch("sandbox", f"{option}={2**70}", *extra, env={}, timeout=60)
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith(f"helpcrunch sandbox: error: {option}: must be an integer"), line
    assert not PYTHON_NAMES.search(line), line
