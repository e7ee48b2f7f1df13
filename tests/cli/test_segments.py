"""``helpcrunch sync-tags`` end to end: the installed command against a sandbox (in process, and
``helpcrunch sandbox`` served in a process of its own), one long CSV of (key, tag) rows, the
dry run, the per-tag guard, the log and undo."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

from helpcrunch.sandbox import Sandbox
from tests.support.cli import helpcrunch, serve_sandbox
from tests.support.segments import people, tag_writes, tags_by_id

EXIT_USAGE = 2


def table(path: Path, rows: list[tuple[str, str]], header: str = "email,segment") -> str:
    path.write_text(header + "\n" + "".join(f"{k},{t}\n" for k, t in rows), encoding="utf-8")
    return os.fspath(path)


ROWS = [
    ("c3@example.com", "trial"),
    ("c4@example.com", "trial"),
    ("c4@example.com", "paying"),
    ("c9@example.com", "vip"),
    ("not an email", "paying"),
]
ARGS = ("--key-column", "email", "--tag-column", "segment", "--rate-limit", "0")


def test_a_dry_run_prints_each_tag_and_changes_nothing(tmp_path: Path) -> None:
    csv = table(tmp_path / "segments.csv", ROWS)
    with Sandbox(customers=people(20, {"gold": [7]})) as sb:
        result = helpcrunch(
            "sync-tags",
            "--from-csv",
            csv,
            *ARGS,
            "--tags",
            "trial,paying,gold",
            "--dry-run",
            sandbox=sb,
        )
        assert tag_writes(sb) == []
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "mirror, by email, 3 tags: 3 to add, 1 to remove, 0 unchanged, 1 rejected" in out
    assert "  trial: 2 to add, 0 to remove" in out
    assert (
        "  gold: 0 to add, 1 to remove, 0 unchanged, 0 rejected; 1 customer carries 'gold' now "
        "(refused" in out
    )
    assert "rejected line 6 (paying): 'not an email'" in out
    assert "ignored: 1 row of no managed tag (lines 5" in out
    assert "applying it sends 3 writes" in out


def test_sync_tags_refuses_a_mass_removal_then_applies_logs_and_undoes(tmp_path: Path) -> None:
    csv = table(tmp_path / "segments.csv", ROWS)
    log = os.fspath(tmp_path / "segments.jsonl")
    with Sandbox(customers=people(20, {"gold": [7], "vip": [1]})) as sb:
        before = tags_by_id(sb)
        args = ("sync-tags", "--from-csv", csv, *ARGS, "--tags", "trial,paying,gold")
        refused = helpcrunch(*args, "--log", log, sandbox=sb)
        assert refused.returncode == EXIT_USAGE
        assert "--allow-mass-removal=gold" in refused.stderr
        assert tag_writes(sb) == []
        done = helpcrunch(*args, "--log", log, "--allow-mass-removal=gold", sandbox=sb)
        assert done.returncode == 0, done.stderr
        assert "applied 3 of 3 changes; 0 failed" in done.stderr
        after = tags_by_id(sb)
        assert after[4] == {"trial", "paying"} and after[3] == {"trial"}
        assert after[7] == set() and after[1] == {"vip"} and after[9] == set()
        undone = helpcrunch("undo", log, "--rate-limit", "0", sandbox=sb)
        assert undone.returncode == 0, undone.stderr
        assert tags_by_id(sb) == before
    header = json.loads(Path(log).read_text().splitlines()[0])
    assert header["tags"] == ["gold", "paying", "trial"]


def test_a_log_of_another_sync_is_a_usage_error_before_any_request(tmp_path: Path) -> None:
    csv = table(tmp_path / "segments.csv", ROWS)
    with Sandbox(customers=people(20, {})) as sb:
        result = helpcrunch("sync-tags", "--from-csv", csv, *ARGS, "--log", csv, sandbox=sb)
        assert result.returncode == EXIT_USAGE
        assert "--log:" in result.stderr
        assert sb.request_count == 0


def test_sync_tags_against_helpcrunch_sandbox_served_apart(tmp_path: Path) -> None:
    served = serve_sandbox("--customers", "300", "--seed", "21")
    try:
        env = served.env
        request = urllib.request.Request(
            f"{env['HELPCRUNCH_BASE_URL']}/customers?limit=100",
            headers={"Authorization": f"Bearer {env['HELPCRUNCH_API_KEY']}"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            found: list[dict[str, Any]] = json.load(answer)["data"]
        with_email = [c["email"] for c in found if c.get("email")][:6]
        rows = [(e, "nightly-a") for e in with_email[:4]] + [
            (e, "nightly-b") for e in with_email[2:]
        ]
        csv = table(tmp_path / "segments.csv", rows)
        log = os.fspath(tmp_path / "segments.jsonl")
        result = helpcrunch(
            "sync-tags", "--from-csv", csv, *ARGS, "--log", log, "--no-progress", env=env
        )
        assert result.returncode == 0, result.stderr
        assert "applied 6 of 6 changes; 0 failed" in result.stderr
        undone = helpcrunch("undo", log, "--rate-limit", "0", env=env)
        assert undone.returncode == 0, undone.stderr
        assert "undid 6 of 6 changes" in undone.stderr
    finally:
        err = served.stop()
    assert served.process.returncode == 0, err
