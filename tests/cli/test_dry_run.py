"""``--from-csv FILE --dry-run``: every row read and checked as the run would, the rows it would
send on stdout, the invalid ones and the time the run takes on stderr, and nothing sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpcrunch.sandbox import Sandbox
from tests.support.cli import helpcrunch


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "rows.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_ten_thousand_rows_at_120_a_minute_take_an_hour_and_24_minutes(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    csv = write(tmp_path, "customer_id,tags\n" + "".join(f"{i},Lead\n" for i in range(1, 10_001)))
    result = helpcrunch("untag", "--from-csv", csv, "--dry-run", sandbox=sandbox)
    assert result.returncode == 0, result.stderr
    # 10,000 requests spaced 60 / 120 s, 0.5 % wider: 5,025 s.
    assert result.stderr == (
        f"dry run: 10,000 rows in {csv} (',' separated): 10,000 to untag, 0 invalid; at 120 "
        "requests a minute: at least 1 h 24 min. Nothing was sent.\n"
    )
    assert len(result.stdout.splitlines()) == 10_000
    assert (sandbox.request_count, sandbox.connection_count) == (0, 0)


def test_the_rows_it_would_send_are_printed_as_json_lines(sandbox: Sandbox, tmp_path: Path) -> None:
    csv = write(
        tmp_path,
        "customer_id;tags\n542335;Trial:#c57de0, Ratio 1\\:2\n\n542336;vip\n",
    )
    result = helpcrunch(
        "tag", "--from-csv", csv, "--dry-run", "--rate-limit", "60", sandbox=sandbox
    )
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {
            "line": 2,
            "customer_id": "542335",
            "tags": [{"name": "Trial", "color": "#c57de0"}, {"name": "Ratio 1:2"}],
        },
        {"line": 4, "customer_id": "542336", "tags": [{"name": "vip"}]},
    ]
    assert "2 to tag, 0 invalid; at 60 requests a minute: at least 2 s." in result.stderr
    assert sandbox.request_count == 0


def test_invalid_rows_first_twenty_then_a_count(sandbox: Sandbox, tmp_path: Path) -> None:
    rows = [f"{542335 + i % 10},Lead" for i in range(30)]
    for i in range(3, 30, 3):  # 9 bad ids
        rows[i] = f"id{i},Lead"
    rows += [f"5423{i:02},Trial:redd" for i in range(20)]  # 20 bad colours
    csv = write(tmp_path, "customer_id,tags\n" + "\n".join(rows) + "\n")
    result = helpcrunch("tag", "--from-csv", csv, "--dry-run", sandbox=sandbox)
    assert result.returncode == 8
    lines = result.stderr.splitlines()
    # The core's own message after the row's place (its quoting is the core's business).
    assert lines[0].startswith(
        "line 5 (customer id3): column 'customer_id': must contain only the digits"
    )
    assert lines[9].startswith(
        "line 32 (customer 542300): TAG 'Trial:redd': 'redd' is not a CSS colour: it is not a "
        "CSS color name; a color is any CSS color: "
    )
    assert lines[9].endswith("; for a tag named 'Trial:redd', write 'Trial\\:redd'")
    assert len(lines) == 22
    assert lines[20] == "… and 9 more invalid rows"
    assert "50 rows in" in lines[21] and "21 to tag, 29 invalid" in lines[21]
    assert len(result.stdout.splitlines()) == 21
    assert sandbox.request_count == 0


def test_needs_no_key_and_reads_stdin(tmp_path: Path) -> None:
    result = helpcrunch(
        "untag", "--from-csv", "-", "--dry-run", "--rate-limit", "0",
        stdin="customer_id\ttags\n1\tLead\n2\tLead\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.endswith(
        "2 to untag, 0 invalid; with no rate limit, as fast as the server answers. Nothing was "
        "sent.\n"
    )
    assert "(tab separated)" in result.stderr


def test_a_dry_run_against_the_sandbox_assumes_no_rate_limit(tmp_path: Path) -> None:
    result = helpcrunch("untag", "--from-csv", write(tmp_path, "customer_id,tags\n1,a\n"),
                        "--dry-run", "--sandbox")  # fmt: skip
    assert "with no rate limit" in result.stderr
