"""Every failure of the command line is one line on stderr and a documented exit code, never a
traceback, and never the key: the cases an outside suite broke (issue 11, items 9 and 11) and
their kin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpcrunch.sandbox import DEMO_CUSTOMER_ID, Sandbox
from tests.support.cli import HELPCRUNCH, helpcrunch
from tests.support.processes import child_env

KEY = "hc-secret-key-0123456789abcdef"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(api_key=KEY) as sb:
        yield sb


@pytest.fixture
def rows(tmp_path: Path) -> str:
    path = tmp_path / "rows.csv"
    path.write_text("customer_id,tags\n542335,Lead\n542336,Lead\n")
    return os.fspath(path)


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["--checkpoint", "/nonexistent-dir/run.jsonl"],
            "there is no directory '/nonexistent-dir'",
        ),
        (["--checkpoint", "/"], "--checkpoint '/' is a directory"),
        (["--concurrency", str(10**30)], "--concurrency: must be an integer from 1 to "),
        (["--concurrency", "0"], "--concurrency: must be an integer from 1 to "),
        (["--concurrency", "many"], "argument --concurrency: invalid int value: 'many'"),
        (["--rate-limit", "-1"], "argument --rate-limit: must be a number of requests a minute"),
        (["--rate-limit", "nan"], "argument --rate-limit: must be a number of requests a minute"),
        (["--rate-limit", "1e-9"], "--rate-limit: must be a number of requests per minute"),
        (["--timeout", "0"], "--timeout: must be"),
        (["--timeout", "-1"], "--timeout: must be"),
        (["--tags-sep", ""], "argument --tags-sep: must not be empty"),
        (["--delimiter", ";;"], "argument --delimiter: must be one character"),
        (["--column-id", "tags"], "--column-id and --column-tags both name 'tags'"),
        (["--progress-interval", "0"], "argument --progress-interval: must be a number"),
        (["542335", "Lead"], "give either CUSTOMER_ID and TAGs or --from-csv FILE, not both"),
    ],
)
def test_bad_options_of_a_csv_run_are_one_line_usage_errors(
    sandbox: Sandbox, rows: str, args: list[str], says: str
) -> None:
    result = helpcrunch("untag", "--from-csv", rows, *args, sandbox=sandbox)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith("helpcrunch untag: error: ")
    assert says in line
    assert sandbox.request_count == 0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--port", "70000"], "argument --port: must be a TCP port, 0 to 65535; got '70000'"),
        (["--port", "-1"], "argument --port: must be a TCP port"),
        (["--rate-limit", "-1"], "argument --rate-limit: must be a whole number, 0 or more"),
        (["--rate-limit", str(2**40)], "rate"),
        (["--customers", str(2**70)], "customers"),
        (["--seed", str(2**70), "--customers", "3"], "seed"),
    ],
)
def test_bad_sandbox_numbers_are_one_line_usage_errors(args: list[str], says: str) -> None:
    result = helpcrunch("sandbox", *args)
    assert result.returncode == 2
    assert says in one_line(result.stderr)


def test_a_garbage_checkpoint_is_refused_naming_its_line(sandbox: Sandbox, rows: str) -> None:
    checkpoint = Path(rows).with_name("run.jsonl")
    checkpoint.write_text('{"call": "remove_tags"}\nthis is not a record\n{"call": "x"}\n')
    result = helpcrunch(
        "untag", "--from-csv", rows, "--checkpoint", str(checkpoint), sandbox=sandbox
    )
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "line 2" in line and "run.jsonl" in line
    assert sandbox.request_count == 0


# --- the output cannot be written --------------------------------------------------------------

needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")


@needs_dev_full
@pytest.mark.parametrize("unbuffered", ["", "1"])
@pytest.mark.parametrize(
    "args",
    [
        ["get", str(DEMO_CUSTOMER_ID), "--sandbox"],
        ["untag", str(DEMO_CUSTOMER_ID), "Lead", "--sandbox"],
        ["customers", "--sandbox"],
        ["customers", "--sandbox", "--format", "csv"],
        ["--help"],
        ["untag", "--help"],
        ["--version"],
        ["sandbox"],
    ],
)
def test_a_full_disk_is_one_line_and_exit_1(args: list[str], unbuffered: str) -> None:
    # Buffered, the write fails when stdout is flushed; unbuffered, at once.
    with open("/dev/full", "w") as full:
        result = helpcrunch(*args, stdout=full.fileno(), env={"PYTHONUNBUFFERED": unbuffered})
    assert result.returncode == 1
    assert one_line(result.stderr).endswith(
        "error: cannot write the output: No space left on device"
    )


@needs_dev_full
def test_a_dry_run_into_a_full_disk_is_one_line(rows: str) -> None:
    with open("/dev/full", "w") as full:
        result = helpcrunch("untag", "--from-csv", rows, "--dry-run", stdout=full.fileno())
    assert result.returncode == 1
    assert "cannot write the output" in one_line(result.stderr)


@pytest.mark.parametrize(
    "args", [["get", str(DEMO_CUSTOMER_ID)], ["customers"], ["customers", "--format", "csv"]]
)
def test_a_reader_that_leaves_early_is_not_an_error(sandbox: Sandbox, args: list[str]) -> None:
    # `helpcrunch get 1 | head -c 10`: the pipe closes under the writer.
    read, write = os.pipe()
    os.close(read)
    try:
        result = helpcrunch(*args, sandbox=sandbox, stdout=write)
    finally:
        os.close(write)
    assert result.returncode == 0
    assert result.stderr == ""


# --- the key (issue 11, item 9) -------------------------------------------------------------------


def test_two_options_reading_stdin_are_a_usage_error_that_never_shows_the_key(
    sandbox: Sandbox,
) -> None:
    result = helpcrunch(
        "untag",
        "--from-csv",
        "-",
        "--api-key-file",
        "-",
        "--base-url",
        sandbox.base_url,
        stdin=KEY + "\n",
    )
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "--api-key-file and --from-csv both read stdin" in line
    assert KEY not in result.stdout + result.stderr
    assert sandbox.request_count == 0


@pytest.mark.parametrize(
    "content",
    [KEY, KEY + "\n", f"HELPCRUNCH_API_KEY={KEY}\n", f"export HELPCRUNCH_API_KEY={KEY}\n# notes\n"],
)
@pytest.mark.parametrize("from_env", [True, False])
def test_a_key_file_given_as_the_csv_is_never_quoted(
    sandbox: Sandbox, tmp_path: Path, content: str, from_env: bool
) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text(content)
    env = {"HELPCRUNCH_API_KEY": KEY} if from_env else {}
    result = helpcrunch(
        "untag", "--from-csv", str(key_file), "--base-url", sandbox.base_url, env=env
    )
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "not shown: it could be a secret" in line or "no column" in line
    assert KEY not in result.stdout + result.stderr
    assert sandbox.request_count == 0


def test_a_key_in_a_cell_is_blanked_from_row_messages(sandbox: Sandbox, tmp_path: Path) -> None:
    # A spreadsheet with the key pasted into the wrong cell: the row fails, and its message
    # (which quotes the cell) shows *** instead.
    path = tmp_path / "rows.csv"
    path.write_text(f"customer_id,tags\n{KEY},Lead\n542335,{KEY}\n")
    result = helpcrunch("tag", "--from-csv", str(path), "--no-progress", sandbox=sandbox)
    assert result.returncode == 8
    assert KEY not in result.stderr + result.stdout
    assert (
        "line 2 (customer ***): column 'customer_id': must contain only the digits 0-9"
        in result.stderr
    )


def test_a_key_typed_as_an_option_value_is_never_echoed(sandbox: Sandbox) -> None:
    for args in (["--timeout", KEY], ["--rate-limit", KEY], ["--concurrency", KEY]):
        result = helpcrunch("untag", "--from-csv", "x.csv", *args, sandbox=sandbox)
        assert result.returncode == 2
        assert KEY not in result.stderr
        assert "***" in one_line(result.stderr)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_an_unreadable_key_file_is_one_line(tmp_path: Path) -> None:
    result = helpcrunch("get", "1", "--api-key-file", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert "cannot read --api-key-file" in one_line(result.stderr)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["untag", "--from-csv", "-", "--sandbox"], "stdin is closed: give --from-csv a file"),
        (["get", "1", "--api-key-file", "-"], "--api-key-file -: stdin is closed"),
    ],
)
def test_reading_a_closed_stdin_is_one_line(args: list[str], says: str) -> None:
    result = subprocess.run(
        [HELPCRUNCH, *args],
        capture_output=True,
        text=True,
        env=child_env(),
        preexec_fn=lambda: os.close(0),
        timeout=60,
    )
    assert result.returncode == 2
    assert says in one_line(result.stderr)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://example.com/v1", "uses plain http://"),
        ("ftp://x", "must start with https://"),
        ("not a url", "is not a URL"),
    ],
)
def test_a_bad_base_url_gets_cli_advice(url: str, says: str) -> None:
    result = helpcrunch("get", "1", "--base-url", url, env={"HELPCRUNCH_API_KEY": KEY})
    assert result.returncode == 2
    line = one_line(result.stderr)
    # The value quoted as the core quotes it.
    assert re.match(rf"helpcrunch get: error: --base-url: (['\"]){re.escape(url)}\1 {says}", line)
    assert "allow_insecure_http" not in line and "=True" not in line


def test_a_bad_base_url_from_the_environment_is_named_as_such() -> None:
    env = {"HELPCRUNCH_API_KEY": KEY, "HELPCRUNCH_BASE_URL": "http://example.com/v1"}
    result = helpcrunch("get", "1", env=env)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert re.match(
        r"helpcrunch get: error: HELPCRUNCH_BASE_URL: .http://example.com/v1. uses", line
    )
