"""Progress of ``--from-csv`` runs as a person sees it: a bar with total, percentage and an ETA
that counts the rate limit from the start on a terminal; plain lines, every
``--progress-interval`` seconds, anywhere else (a log file, CI, a terminal with no size)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpcrunch.sandbox import Sandbox
from tests.support.cli import helpcrunch, in_terminal

ROWS = 40


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(customers=ROWS) as sb:
        yield sb


def write_rows(tmp_path: Path, n: int = ROWS) -> str:
    path = tmp_path / "rows.csv"
    path.write_text("customer_id,tags\n" + "".join(f"{i},Lead\n" for i in range(1, n + 1)))
    return str(path)


def test_a_terminal_gets_a_bar_with_total_and_an_eta_from_the_start(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # 40 rows at 1,200 a minute: 20 a second, spaced 0.5 % wider, so 2 s at least, shown
    # before the first answer.
    shown = in_terminal(
        "untag", "--from-csv", write_rows(tmp_path), "--rate-limit", "1200",
        rows=24, columns=120, sandbox=sandbox,
    )  # fmt: skip
    assert shown.returncode == 0, shown.output
    first = shown.output.split("\r")[1]
    assert first.startswith("untagging:   0%|")
    assert f"| 0/{ROWS} [00:00<00:02, 19.90 customers/s]" in first
    assert f"| {ROWS}/{ROWS} [" in shown.output
    assert f"untagged {ROWS} of {ROWS} customers; 0 failed" in shown.output


def test_a_terminal_with_no_size_gets_plain_lines(sandbox: Sandbox, tmp_path: Path) -> None:
    shown = in_terminal(
        "untag", "--from-csv", write_rows(tmp_path), "--rate-limit", "1200",
        rows=0, columns=0, sandbox=sandbox,
    )  # fmt: skip
    assert shown.returncode == 0, shown.output
    lines = shown.output.replace("\r\n", "\n").splitlines()
    assert "\r" not in "\n".join(lines)
    assert lines[0] == f"untagging: 0/{ROWS} customers (0 %), 19.90/s, ETA 2 s"
    assert lines[-2].startswith(f"untagging: {ROWS}/{ROWS} customers (100 %) in ")


def test_off_a_terminal_a_plain_line_every_interval(sandbox: Sandbox, tmp_path: Path) -> None:
    # 30 rows at 600 a minute take 3 s at least: several intervals of 0.5 s, whatever the
    # machine's speed.
    result = helpcrunch(
        "untag", "--from-csv", write_rows(tmp_path, 30), "--rate-limit", "600",
        "--progress-interval", "0.5", sandbox=sandbox,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "untagging: 0/30 customers (0 %), 9.95/s, ETA 3 s"
    between = lines[1:-2]
    assert between, result.stderr
    for line in between:
        assert re.fullmatch(r"untagging: \d+/30 customers \(\d+ %\), [\d.]+/s, ETA \d+ s", line)
    assert re.fullmatch(r"untagging: 30/30 customers \(100 %\) in \d+ s, [\d.]+/s", lines[-2])
    assert lines[-1] == "untagged 30 of 30 customers; 0 failed"


def test_failures_are_counted_as_they_happen(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("customer_id,tags\n542335,Lead\n404404,Lead\nabc,Lead\n")
    result = helpcrunch("untag", "--from-csv", str(path), "--sandbox")
    assert result.returncode == 8
    assert re.search(
        r"^untagging: 3/3 customers \(100 %\) in \d+ s, .*, 2 failed$", result.stderr, re.M
    )


def test_stdin_has_no_total_and_says_so(sandbox: Sandbox) -> None:
    rows = "customer_id,tags\n" + "".join(f"{i},Lead\n" for i in range(1, 6))
    result = helpcrunch("untag", "--from-csv", "-", sandbox=sandbox, stdin=rows)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "untagging: 0 customers, 1.99/s"
    assert lines[-2].startswith("untagging: 5 customers in ")


def test_no_progress_means_only_the_summary(sandbox: Sandbox, tmp_path: Path) -> None:
    result = helpcrunch(
        "untag", "--from-csv", write_rows(tmp_path, 3), "--no-progress", "--rate-limit", "0",
        sandbox=sandbox,
    )  # fmt: skip
    assert result.returncode == 0
    assert result.stderr == "untagged 3 of 3 customers; 0 failed\n"
