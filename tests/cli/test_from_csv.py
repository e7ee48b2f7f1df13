"""``helpcrunch untag/tag --from-csv``, run as a user runs it: a subprocess, its stderr summary
and its exit code."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpcrunch.sandbox import Sandbox
from tests.support.bulk import read_checkpoint, tag_names
from tests.support.cli import helpcrunch
from tests.support.processes import child_env, wait_for

EXIT_SOME_FAILED = 8


def helpcrunch_cli(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "helpcrunch", *args],
        capture_output=True,
        text=True,
        env=env or child_env(),
        timeout=60,
    )


def write_csv(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return os.fspath(path)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def test_untag_from_csv_with_named_columns_exits_0_when_all_succeed(tmp_path: Path) -> None:
    csv = write_csv(
        tmp_path / "churned.csv", 'note,id,labels\na,542335,Lead\nb,542336,"Lead,vip"\n'
    )
    result = helpcrunch_cli(
        "untag", "--from-csv", csv, "--column-id", "id", "--column-tags", "labels", "--sandbox"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "untagged 2 of 2 customers; 0 failed" in result.stderr
    assert "untagging" in result.stderr  # the progress bar


def test_untag_from_csv_exits_8_and_lists_the_failing_lines(tmp_path: Path) -> None:
    csv = write_csv(
        tmp_path / "churned.csv",
        "id,labels\n542335,Lead\n999999,Lead\nabc,Lead\n542336,Lead\n",
    )
    result = helpcrunch_cli(
        "untag", "--from-csv", csv, "--column-id", "id", "--column-tags", "labels", "--sandbox"
    )
    assert result.returncode == EXIT_SOME_FAILED
    lines = result.stderr.splitlines()
    # Line numbers as a spreadsheet shows them: the header is line 1.
    assert any(line.startswith("line 3 (customer 999999): HTTP 404") for line in lines)
    assert any(line.startswith("line 4 (customer abc): ") for line in lines)
    assert not any(line.startswith(("line 2 ", "line 5 ")) for line in lines)
    assert "untagged 2 of 4 customers; 2 failed" in result.stderr


def test_untag_from_csv_changes_the_customers_of_the_server_it_is_pointed_at(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    csv = write_csv(tmp_path / "rows.csv", "customer_id,tags\n542335,Lead\n542339,Lead|churned\n")
    result = helpcrunch_cli(
        "untag", "--from-csv", csv, "--tags-sep", "|", "--no-progress", env=child_env(sandbox)
    )
    assert result.returncode == 0, result.stderr
    assert "untagging" not in result.stderr
    assert tag_names(sandbox, 542335) == ["vip"]
    assert tag_names(sandbox, 542339) == []


def test_tag_from_csv_creates_tags_with_their_colours(sandbox: Sandbox, tmp_path: Path) -> None:
    # Two tag names: a tag's colour is the account's, set by whichever row creates it first, and
    # the rows run concurrently.
    csv = write_csv(
        tmp_path / "rows.csv", "customer_id,tags\n542338,Trial:#c57de0\n542343,Churned\n"
    )
    result = helpcrunch_cli("tag", "--from-csv", csv, env=child_env(sandbox))
    assert result.returncode == 0, result.stderr
    assert "tagged 2 of 2 customers" in result.stderr
    assert sandbox.customer(542338)["tags"] == [{"name": "Trial", "color": "#c57de0"}]
    # No colour given: HelpCrunch's default for a new tag.
    assert sandbox.customer(542343)["tags"] == [{"name": "Churned", "color": "#c377e0"}]


def test_checkpoint_lets_a_rerun_skip_the_rows_done(sandbox: Sandbox, tmp_path: Path) -> None:
    csv = write_csv(
        tmp_path / "rows.csv", "customer_id,tags\n542335,Lead\n404404,Lead\n542336,Lead\n"
    )
    checkpoint = tmp_path / "run.jsonl"
    args = ("untag", "--from-csv", csv, "--checkpoint", os.fspath(checkpoint), "--no-progress")

    first = helpcrunch_cli(*args, env=child_env(sandbox))
    assert first.returncode == EXIT_SOME_FAILED
    assert len(read_checkpoint(checkpoint)) == 3
    sandbox.clear_requests()

    second = helpcrunch_cli(*args, env=child_env(sandbox))
    assert second.returncode == EXIT_SOME_FAILED  # the unknown customer still fails
    assert "untagged 0 of 3 customers; 1 failed, 2 skipped as already done" in second.stderr
    assert [r.path for r in sandbox.requests] == ["/v1/customers/404404/tags"]


def test_a_missing_column_is_a_usage_error(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "rows.csv", "id,tags\n542335,Lead\n")
    result = helpcrunch_cli("untag", "--from-csv", csv, "--sandbox")
    assert result.returncode == 2
    assert "no column 'customer_id'" in result.stderr
    assert "--column-id" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_says_what_was_done_in_words_and_how_to_resume(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    rows = "".join(f"{542335 + i % 10},Lead\n" for i in range(100))
    csv = write_csv(tmp_path / "rows.csv", "customer_id,tags\n" + rows)
    # At HelpCrunch's pace (2 a second) the job would take 50 s.
    child = subprocess.Popen(
        [sys.executable, "-m", "helpcrunch", "untag", "--from-csv", csv, "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(sandbox),
    )
    try:
        wait_for(lambda: sandbox.status_count(200) >= 2 or child.poll() is not None, what="rows")
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=10)
    finally:
        child.kill()
    assert child.returncode == 130, err
    [line] = err.splitlines()
    said = re.match(
        r"helpcrunch: interrupted: (\d+) done, 0 failed, (\d+) not started"
        r"(?:, (\d+) stopped in flight \(they may have been applied\))? \(of 100 rows\); ",
        line,
    )
    assert said, line
    done, not_started, in_flight = (int(n or 0) for n in said.groups())
    assert done + not_started + in_flight == 100
    # The server may have answered a request whose answer the run did not wait for.
    assert done <= sandbox.status_count(200)
    assert "BulkReport" not in line and "succeeded" not in line
    assert "give --checkpoint FILE to make a run resumable" in line


def test_a_malformed_csv_is_a_one_line_error(tmp_path: Path) -> None:
    huge = "x" * 200_000
    csv = write_csv(
        tmp_path / "rows.csv", f'customer_id,tags\n542335,Lead\n542336,"{huge}"\n542337,Lead\n'
    )
    result = helpcrunch_cli("untag", "--from-csv", csv, "--sandbox", "--no-progress")
    assert "Traceback" not in result.stderr
    assert result.returncode == 2


# ---------- files as spreadsheets write them ----------


def test_excel_csv_utf8_with_semicolons_and_crlf(sandbox: Sandbox, tmp_path: Path) -> None:
    # Excel's "CSV UTF-8" in a European locale: a BOM, ';' between cells, CRLF line ends.
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfcustomer_id;tags\r\n542335;Lead,vip\r\n542339;Lead\r\n")
    result = helpcrunch("untag", "--from-csv", str(path), "--no-progress", sandbox=sandbox)
    assert result.returncode == 0, result.stderr
    assert tag_names(sandbox, 542335) == []
    assert tag_names(sandbox, 542339) == ["churned"]


def test_tabs_are_found_and_any_separator_can_be_given(sandbox: Sandbox, tmp_path: Path) -> None:
    tabs = write_csv(tmp_path / "rows.tsv", "customer_id\ttags\n542335\tLead\n")
    assert helpcrunch("untag", "--from-csv", tabs, sandbox=sandbox).returncode == 0
    assert tag_names(sandbox, 542335) == ["vip"]
    pipes = write_csv(tmp_path / "rows.txt", "customer_id|tags\n542340|Lead;lead\n")
    result = helpcrunch(
        "untag", "--from-csv", pipes, "--delimiter", "|", "--tags-sep", ";", sandbox=sandbox
    )
    assert result.returncode == 0, result.stderr
    assert tag_names(sandbox, 542340) == ["vip"]


def test_a_missing_column_lists_the_columns_as_repr(tmp_path: Path) -> None:
    # A trailing space and a non-breaking space: invisible when printed plainly.
    csv = write_csv(tmp_path / "rows.csv", "customer_id ;\u00a0tags\n542335;Lead\n")
    result = helpcrunch("untag", "--from-csv", csv, "--sandbox")
    assert result.returncode == 2
    assert result.stderr == (
        f"helpcrunch untag: error: {csv}: no column 'customer_id' (columns: 'customer_id ', "
        "'\\xa0tags'); name yours with --column-id / --column-tags\n"
    )


def test_failed_rows_are_named_by_the_files_own_line_numbers(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # Blank lines, a row of empty cells, cells spanning lines (LF and CRLF inside quotes) and
    # a quoted separator all move the rows away from "position + 2".
    lines = [
        "customer_id,tags,note",  # 1
        "404001,Lead,plain",  # 2
        "",  # 3
        '542335,Lead,"a note',  # 4
        'over two lines"',  # 5
        "404006,Lead,x",  # 6
        ",,",  # 7: no text in any cell: skipped like a blank line
        '542336,"Lead,vip","three\r\nlines\r\nhere"',  # 8-10
        "",  # 11
        "",  # 12
        "404013,Lead,last",  # 13
    ]
    csv = write_csv(tmp_path / "rows.csv", "\n".join(lines) + "\n")
    result = helpcrunch("untag", "--from-csv", csv, "--no-progress", sandbox=sandbox)
    assert result.returncode == EXIT_SOME_FAILED
    reported = [
        line.split(" (")[0] for line in result.stderr.splitlines() if line.startswith("line ")
    ]
    assert reported == ["line 2", "line 6", "line 13"]
    assert "untagged 2 of 5 customers; 3 failed" in result.stderr
    # The same numbers in a dry run.
    dry = helpcrunch("untag", "--from-csv", csv, "--dry-run")
    assert [json.loads(row)["line"] for row in dry.stdout.splitlines()] == [2, 4, 6, 8, 13]


def test_a_row_without_tags_or_id_says_which_column_is_empty(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "rows.csv", "customer_id,tags\n542335\n,Lead\n542336,  ,\n")
    result = helpcrunch("untag", "--from-csv", csv, "--sandbox", "--no-progress")
    assert result.returncode == EXIT_SOME_FAILED
    assert result.stderr.splitlines()[:3] == [
        "line 2 (customer 542335): no tags in column 'tags'",
        "line 3 (customer ): no customer id in column 'customer_id'",
        "line 4 (customer 542336): no tags in column 'tags'",
    ]


def test_a_file_that_is_not_utf8_is_refused_naming_the_line_before_sending(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # Excel's plain "CSV" in Windows-1252, with an accent on line 40 only: text decoding reads
    # ahead in chunks, yet the message names the line.
    rows = [f"{542335 + i % 10},Lead" for i in range(60)]
    rows[38] = "542335,Café"
    path = tmp_path / "rows.csv"
    path.write_bytes(("customer_id,tags\n" + "\n".join(rows) + "\n").encode("cp1252"))
    result = helpcrunch("untag", "--from-csv", str(path), sandbox=sandbox)
    assert result.returncode == 2
    assert result.stderr == (
        f"helpcrunch untag: error: {path}: line 40 is not UTF-8 text; save the file as UTF-8 "
        "(in Excel: 'CSV UTF-8 (Comma delimited)')\n"
    )
    assert sandbox.request_count == 0


def test_a_broken_line_far_down_is_refused_before_anything_is_sent(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    rows = "".join(f"{542335 + i % 10},Lead\n" for i in range(500))
    huge = "x" * 200_000
    csv = write_csv(tmp_path / "rows.csv", f'customer_id,tags\n{rows}542336,"{huge}"\n')
    result = helpcrunch("untag", "--from-csv", csv, sandbox=sandbox)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(
        f"helpcrunch untag: error: {csv}, line 502: field larger than field limit"
    )
    assert sandbox.request_count == 0


def test_stdin_that_breaks_partway_says_what_was_done_then_why(sandbox: Sandbox) -> None:
    # stdin cannot be read twice, so it is not checked before the run: what was done before the
    # broken line is summed up, then the line is named.
    rows = (
        "customer_id,tags\n542335,Lead\n542336,Lead\n\n542339,Lead\n" + '542340,"' + "x" * 200_000
    )
    result = helpcrunch("untag", "--from-csv", "-", "--no-progress", sandbox=sandbox, stdin=rows)
    assert result.returncode == 2
    summary, error = result.stderr.splitlines()
    # The reader is ahead of the requests: rows in flight when the error came are stopped.
    counts = re.fullmatch(
        r"untagged (\d) of 3 customers; 0 failed(?:, (\d) stopped unfinished)?", summary
    )
    assert counts and int(counts[1]) + int(counts[2] or 0) == 3, summary
    assert error.startswith("helpcrunch untag: error: stdin, line 6: field larger than field limit")
