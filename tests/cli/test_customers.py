"""``helpcrunch customers``, run as a user runs it: a subprocess streaming to stdout, a progress
line on stderr, and the exit codes ``helpcrunch --help`` lists."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpcrunch._cli_tags import split_names
from helpcrunch.sandbox import Sandbox
from tests.support.cli import helpcrunch
from tests.support.search import leads

KEY = "cli-customers-key-0123456789"


def run(*args: str, sb: Sandbox | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPCRUNCH_")}
    if sb is not None:
        env.update(HELPCRUNCH_API_KEY=sb.api_key, HELPCRUNCH_BASE_URL=sb.base_url)
    return subprocess.run(
        [sys.executable, "-m", "helpcrunch", "customers", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    customers = leads(450)
    for c in customers[:5]:
        c["tags"] = [*c["tags"], {"name": "vip", "color": "#f00"}]
    customers[7]["location"] = {"countryCode": "PL", "city": "Gdańsk", "regionCode": None}
    with Sandbox(customers, api_key=KEY) as sandbox:
        yield sandbox


def test_every_customer_streams_as_json_lines_with_a_summary_on_stderr(sb: Sandbox) -> None:
    result = run(sb=sb)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [c["id"] for c in lines] == list(range(1, 451))
    assert lines[0] == sb.customer(1)
    assert "helpcrunch: 450 customers (5 requests)" in result.stderr
    one = run("--limit", "1", sb=sb)
    assert one.stderr == "helpcrunch: 1 customer (1 request)\n"


def test_filters_combine_as_the_options_say(sb: Sandbox) -> None:
    result = run("--tag", "Lead", "--tag", "vip", "--where", "id >= 3", sb=sb)
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [3, 4, 5]
    result = run("--email", "c9@example.com", "--user-id", "u-10", "--any", sb=sb)
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [9, 10]
    result = run("--where", "countryCode = PL", "--where", "city ~ gdań", sb=sb)
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [8]
    result = run("--tag", "Lead", "--limit", "7", "--no-progress", sb=sb)
    assert len(result.stdout.splitlines()) == 7
    assert result.stderr == ""


def test_csv_has_a_row_per_customer_and_dotted_columns(sb: Sandbox) -> None:
    result = run("--format", "csv", "--tag", "vip", sb=sb)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["id"] for row in rows] == ["1", "2", "3", "4", "5"]
    assert rows[0]["tags"] == "Lead,vip"
    assert rows[0]["location.city"] == "Kyiv"
    assert rows[0]["email"] == "c1@example.com"


@pytest.mark.long
def test_a_long_scan_shows_progress_on_stderr_and_nothing_else_on_stdout() -> None:
    with Sandbox(customers=30_000, api_key=KEY) as big:
        result = run("--page-size", "100", "--tag", "Lead", sb=big)
        assert result.returncode == 0, result.stderr
        counted = big.customer_count
    lines = result.stdout.splitlines()
    assert all(line.startswith("{") for line in lines)
    assert 0 < len(lines) < counted
    assert f"helpcrunch: {len(lines):,} customers" in result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a pseudo-terminal for stderr")
@pytest.mark.parametrize("size", [(24, 80), (0, 0)], ids=["sized", "zero-size"])
def test_on_a_terminal_the_progress_line_is_redrawn_as_pages_come(
    sb: Sandbox, size: tuple[int, int]
) -> None:
    master, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPCRUNCH_")}
    env.update(HELPCRUNCH_API_KEY=sb.api_key, HELPCRUNCH_BASE_URL=sb.base_url)
    with subprocess.Popen(
        [sys.executable, "-m", "helpcrunch", "customers", "--page-size", "100"],
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=env,
    ) as process:
        os.close(terminal)
        out, _ = process.communicate(timeout=60)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal is gone once everything was read
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert process.returncode == 0
    assert len(out.splitlines()) == 450
    text = shown.decode()
    if size == (0, 0):
        # A terminal with no size (some CI runners) cannot be redrawn: plain lines instead.
        assert "\rhelpcrunch" not in text
        assert text.startswith("helpcrunch: 100 of 450 customers")
    else:
        for done in (100, 200, 300, 400):
            assert f"\rhelpcrunch: {done} of 450 customers" in text
    assert text.rstrip().endswith("helpcrunch: 450 customers (5 requests)")


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--where", "lastSeen >= yesterday"], 2, "lastSeen takes a number"),
        (["--where", "e-mail = x"], 2, "is not a field name"),
        (["--page-size", "500"], 2, "--page-size: must be an integer from 1 to 100"),
        (["--limit", "-1"], 2, "--limit: must be an integer from 0 up"),
        (["--format", "xml"], 2, "invalid choice"),
    ],
)
def test_bad_options_exit_2_before_anything_is_sent(
    sb: Sandbox, args: list[str], code: int, says: str
) -> None:
    result = run(*args, sb=sb)
    assert result.returncode == code
    assert says in result.stderr
    assert result.stdout == ""
    assert sb.request_count == 0


def test_a_refused_key_exits_3_without_showing_it(sb: Sandbox) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPCRUNCH_")}
    env.update(HELPCRUNCH_API_KEY="wrong-key-0123456789", HELPCRUNCH_BASE_URL=sb.base_url)
    result = subprocess.run(
        [sys.executable, "-m", "helpcrunch", "customers", "--tag", "Lead"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 3
    assert "wrong-key" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_a_reader_that_leaves_early_is_not_an_error() -> None:
    with Sandbox(customers=5000, api_key=KEY) as big:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELPCRUNCH_")}
        env.update(HELPCRUNCH_API_KEY=big.api_key, HELPCRUNCH_BASE_URL=big.base_url)
        pipeline = subprocess.run(
            f"{sys.executable} -m helpcrunch customers | head -n 3",
            shell=True,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert len(pipeline.stdout.splitlines()) == 3
    assert "Traceback" not in pipeline.stderr


def test_the_sandbox_option_lists_the_demo_customers() -> None:
    result = run("--sandbox", "--tag", "Lead")
    assert result.returncode == 0, result.stderr
    ids = {json.loads(line)["id"] for line in result.stdout.splitlines()}
    assert 542335 in ids


#: Tag names a plain join by ',' would garble, one of each kind of trouble.
AWKWARD_TAGS = [
    "a,b",
    'say "hi"',
    "back\\slash",
    "trail\\",
    "semi;colon",
    "two\nlines",
    "Ratio 1:2",
    "x\\:y",
    "ünïcødé 🚀",
    "plain",
]


@pytest.mark.parametrize("names", [AWKWARD_TAGS, ["a,b"], ["\\", ","], ["only"]])
def test_csv_tags_read_back_exactly_by_split_names_and_by_from_csv(
    names: list[str], tmp_path: Path
) -> None:
    customers = [{"id": 1, "email": "a@example.com", "tags": [{"name": n} for n in names]}]
    with Sandbox(customers=customers, api_key=KEY) as one:
        result = run("--format", "csv", sb=one)
    assert result.returncode == 0, result.stderr
    (row,) = csv.DictReader(io.StringIO(result.stdout))
    assert split_names(row["tags"]) == names
    # The file itself is a --from-csv input: untag reads every name back as it was (names
    # with control characters aside, which no call accepts).
    path = tmp_path / "out.csv"
    path.write_text(result.stdout, encoding="utf-8")
    dry = helpcrunch("untag", "--from-csv", os.fspath(path), "--column-id", "id", "--dry-run")
    sendable = [n for n in names if n.isprintable()]
    if sendable == names:
        assert dry.returncode == 0, dry.stderr
        (item,) = [json.loads(line) for line in dry.stdout.splitlines()]
        assert item["tags"] == names
    else:
        assert dry.returncode == 8 and "control characters" in dry.stderr
    # And tag reads the same names (':' in a name is escaped, so it is no colour).
    tagged = helpcrunch("tag", "--from-csv", os.fspath(path), "--column-id", "id", "--dry-run")
    if sendable == names:
        (item,) = [json.loads(line) for line in tagged.stdout.splitlines()]
        assert [t["name"] for t in item["tags"]] == names
        assert all("color" not in t for t in item["tags"])
