"""``helpcrunch sync-tag``, ``clear-tag`` and ``undo`` end to end: the installed command against
a sandbox, its output and exit codes, the guard, the log and undo."""

from __future__ import annotations

import json
import os
from pathlib import Path

from helpcrunch.sandbox import Sandbox
from tests.support.cli import helpcrunch
from tests.support.sync import TAG, account, holders, tags_of, writes

EXIT_USAGE = 2


def segment(path: Path, emails: list[str], column: str = "email") -> str:
    path.write_text(f"name,{column}\n" + "".join(f"x,{e}\n" for e in emails), encoding="utf-8")
    return os.fspath(path)


def test_a_dry_run_prints_the_plan_and_the_rejected_rows_and_changes_nothing(
    tmp_path: Path,
) -> None:
    emails = [f"c{i}@example.com" for i in range(5, 16)] + [f"bad{i}" for i in range(25)]
    csv = segment(tmp_path / "segment.csv", emails)
    with Sandbox(customers=account(30, range(1, 11))) as sb:
        result = helpcrunch(
            "sync-tag", TAG, "--from-csv", csv, "--column", "email", "--dry-run", sandbox=sb
        )
        assert writes(sb) == 0
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "mirror, by email: 5 to add, 4 to remove, 6 unchanged, 25 rejected" in out
    # The first 20 rejected rows, with their lines in the file, then a count.
    assert "rejected line 13: 'bad0': \"bad0\" is not an email address (no '@')" in out
    assert out.count("  rejected line") == 20
    assert "… and 5 more rejected" in out
    # 9 writes at 120 a minute, spaced a little wider by the limiter: 4.5 s and a bit.
    assert "applying it sends 9 writes, about 5 s at the rate limit" in out


def test_sync_tag_applies_with_a_log_and_undo_puts_it_back(tmp_path: Path) -> None:
    csv = segment(tmp_path / "ids.csv", [str(i) for i in range(5, 16)], column="id")
    log = os.fspath(tmp_path / "run.jsonl")
    with Sandbox(customers=account(30, range(1, 11))) as sb:
        before = tags_of(sb)
        args = ("--from-csv", csv, "--column", "id", "--match", "id", "--rate-limit", "0")
        result = helpcrunch("sync-tag", TAG, *args, "--log", log, sandbox=sb)
        assert result.returncode == 0, result.stderr
        assert "applied 9 of 9 changes; 0 failed" in result.stderr
        assert holders(sb) == set(range(5, 16))
        undone = helpcrunch("undo", log, "--rate-limit", "0", sandbox=sb)
        assert undone.returncode == 0, undone.stderr
        assert "undid 9 of 9 changes; 0 failed" in undone.stderr
        assert tags_of(sb) == before
        again = helpcrunch("undo", log, "--rate-limit", "0", sandbox=sb)
        assert "undid 0 of 0 changes" in again.stderr
    text = Path(log).read_text()
    assert sb.api_key not in text
    assert json.loads(text.splitlines()[0])["tag"] == TAG


def test_the_guard_is_a_usage_error_until_allowed(tmp_path: Path) -> None:
    csv = segment(tmp_path / "segment.csv", ["c1@example.com"])
    with Sandbox(customers=account(10, range(1, 11))) as sb:
        result = helpcrunch("sync-tag", TAG, "--from-csv", csv, "--rate-limit", "0", sandbox=sb)
        assert result.returncode == EXIT_USAGE
        assert "removes the tag from 9 of its 10 current holders" in result.stderr
        assert "--allow-mass-removal" in result.stderr
        assert writes(sb) == 0
        allowed = helpcrunch(
            "sync-tag",
            TAG,
            "--from-csv",
            csv,
            "--rate-limit",
            "0",
            "--allow-mass-removal",
            sandbox=sb,
        )
        assert allowed.returncode == 0, allowed.stderr
        assert holders(sb) == {1}


def test_clear_tag_removes_it_from_every_holder(tmp_path: Path) -> None:
    with Sandbox(customers=account(10, range(1, 8))) as sb:
        dry = helpcrunch("clear-tag", TAG, "--dry-run", sandbox=sb)
        assert dry.returncode == 0, dry.stderr
        assert "7 customers carry 'churn-risk' now" in dry.stdout
        assert "applying it sends 7 writes" in dry.stdout
        assert holders(sb) == set(range(1, 8))
        log = os.fspath(tmp_path / "clear.jsonl")
        result = helpcrunch("clear-tag", TAG, "--rate-limit", "0", "--log", log, sandbox=sb)
        assert result.returncode == 0, result.stderr
        assert holders(sb) == set()
        helpcrunch("undo", log, "--rate-limit", "0", sandbox=sb)
        assert holders(sb) == set(range(1, 8))


def test_bad_input_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    csv = segment(tmp_path / "segment.csv", ["c1@example.com"])
    with Sandbox(customers=account(3, {1})) as sb:
        missing = helpcrunch("sync-tag", TAG, "--from-csv", csv, "--column", "mail", sandbox=sb)
        assert missing.returncode == EXIT_USAGE
        assert "no column 'mail'" in missing.stderr and "--column" in missing.stderr
        bad_mode = helpcrunch("sync-tag", TAG, "--from-csv", csv, "--mode", "sync", sandbox=sb)
        assert bad_mode.returncode == EXIT_USAGE
        no_log = helpcrunch("undo", os.fspath(tmp_path / "none.jsonl"), sandbox=sb)
        assert no_log.returncode == EXIT_USAGE and "no such log" in no_log.stderr
        assert sb.request_count == 0


def test_applying_shows_progress_off_a_terminal_unless_asked_not_to(tmp_path: Path) -> None:
    csv = segment(tmp_path / "ids.csv", [str(i) for i in range(5, 16)], column="id")
    args = ("--from-csv", csv, "--column", "id", "--match", "id", "--rate-limit", "0")
    with Sandbox(customers=account(30, range(1, 11))) as sb:
        shown = helpcrunch("sync-tag", TAG, *args, sandbox=sb)
        assert shown.returncode == 0, shown.stderr
        # Plain lines (no \r in a log): each phase starts with its total and ends with it done.
        assert "\r" not in shown.stderr
        assert "tagging: 0/5 customers (0 %)" in shown.stderr
        assert "tagging: 5/5 customers (100 %) in" in shown.stderr
        assert "untagging: 4/4 customers (100 %) in" in shown.stderr
        quiet = helpcrunch("undo", "--no-progress", os.fspath(tmp_path / "none.jsonl"), sandbox=sb)
        assert quiet.returncode == EXIT_USAGE
        again = helpcrunch("sync-tag", TAG, *args, "--no-progress", "--mode", "add", sandbox=sb)
        assert again.returncode == 0, again.stderr
        assert "customers (" not in again.stderr


def test_a_duplicate_row_names_the_line_it_repeats_as_the_other_rows_are_named(
    tmp_path: Path,
) -> None:
    # Lines 2 and 5 hold the same key (the case aside), with a blank line and a cell spanning
    # two lines in between: the duplicate names line 2, the file's own numbering.
    path = tmp_path / "segment.csv"
    path.write_text(
        'name,email\nx,c1@example.com\n\n"two\nlines",c2@example.com\ny,C1@Example.com\n',
        encoding="utf-8",
    )
    with Sandbox(customers=account(5, {1})) as sb:
        result = helpcrunch(
            "sync-tag",
            TAG,
            "--from-csv",
            os.fspath(path),
            "--mode",
            "add",
            "--dry-run",
            sandbox=sb,
        )
    assert result.returncode == 0, result.stderr
    assert (
        "rejected line 6: 'C1@Example.com': the same key as line 2, which is kept" in result.stdout
    ), result.stdout
    assert "row 0" not in result.stdout


def test_a_log_that_is_not_this_syncs_is_refused_before_any_request(tmp_path: Path) -> None:
    csv = segment(tmp_path / "segment.csv", ["c1@example.com", "c2@example.com"])
    other = tmp_path / "other.jsonl"
    with Sandbox(customers=account(5, {1})) as sb:
        first = helpcrunch(
            "sync-tag", "other-tag", "--from-csv", csv, "--log", str(other), sandbox=sb
        )
        assert first.returncode == 0, first.stderr
        # The audience file itself (an easy slip), and the log of another tag's sync.
        for log in (csv, str(other)):
            before = Path(log).read_bytes()
            sb.clear_requests()
            for command in (["sync-tag", TAG, "--from-csv", csv], ["clear-tag", TAG]):
                result = helpcrunch(*command, "--log", log, sandbox=sb)
                assert result.returncode == EXIT_USAGE, result.stderr
                assert "--log" in result.stderr and log in result.stderr
            assert sb.request_count == 0
            assert Path(log).read_bytes() == before
        audience = Path(csv).read_bytes()
        undo = helpcrunch("undo", csv, sandbox=sb)
        assert undo.returncode == EXIT_USAGE and "not a tag sync log" in undo.stderr
        assert sb.request_count == 0 and Path(csv).read_bytes() == audience
