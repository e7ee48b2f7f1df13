"""``helpcrunch sync-customers`` and ``undo`` of its log end to end: the installed command
against ``helpcrunch sandbox`` served in a process of its own (and against an in-process sandbox
where the test reads what it holds): the plan printed, the CSV's cells read as fields, the guard
as a usage error, creates, the log, undo with its conflicts and --delete-created."""

from __future__ import annotations

import json
import os
from pathlib import Path

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.cli import helpcrunch as run
from tests.support.cli import serve_sandbox
from tests.support.customers import account, writes

EXIT_USAGE = 2


def table(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return os.fspath(path)


def test_against_helpcrunch_sandbox_a_dry_run_then_an_apply_and_its_undo(tmp_path: Path) -> None:
    served = serve_sandbox("--rate-limit", "0")
    try:
        csv = table(
            tmp_path / "users.csv",
            "email,org_name,customData.plan\n"
            "john.doe@example.com,Example Corp,pro\n"
            "grace@example.org,Example Navy,\n"
            "new.person@example.com,Newco,trial\n"
            "not an email,X,pro\n",
        )
        args = ("--from-csv", csv, "--field", "company=org_name", "--create-missing")
        dry = run("sync-customers", *args, "--dry-run", env=served.env)
        assert dry.returncode == 0, dry.stderr
        assert "1 to update, 1 to create, 1 unchanged, 1 rejected" in dry.stdout
        assert (
            "update line 2 (customer 542335): company: 'Example Inc.' -> 'Example Corp', "
            "customData.plan: None -> 'pro'"
        ) in dry.stdout
        assert "rejected line 5: 'not an email'" in dry.stdout
        log = os.fspath(tmp_path / "users.jsonl")
        done = run("sync-customers", *args, "--log", log, "--no-progress", env=served.env)
        assert done.returncode == 0, done.stderr
        assert "applied 2 of 2 writes; 0 failed" in done.stderr
        with helpcrunch.Client(rate_limit=None, **_settings(served.env)) as client:
            assert client.get_customer(542335)["company"] == "Example Corp"
            created = list(client.search_customers(email="new.person@example.com"))
            assert created[0]["customData"] == {"plan": "trial"}
        undone = run("undo", log, "--no-progress", env=served.env)
        assert undone.returncode == 0, undone.stderr
        assert "left 1 created customer (--delete-created deletes them)" in undone.stderr
        gone = run("undo", log, "--delete-created", "--no-progress", env=served.env)
        assert gone.returncode == 0, gone.stderr
        with helpcrunch.Client(rate_limit=None, **_settings(served.env)) as client:
            assert client.get_customer(542335)["company"] == "Example Inc."
            assert list(client.search_customers(email="new.person@example.com")) == []
    finally:
        served.stop()


def _settings(env: dict[str, str]) -> dict[str, str]:
    return {"api_key": env["HELPCRUNCH_API_KEY"], "base_url": env["HELPCRUNCH_BASE_URL"]}


def test_csv_cells_are_read_as_the_fields_values_and_the_guard_is_a_usage_error(
    tmp_path: Path,
) -> None:
    csv = table(
        tmp_path / "users.csv",
        "email,phone,customData.mrr,customData.plan,blocked\n"
        "c1@example.com,0123,10,basic,false\n"  # mrr 10 equals the stored 10; phone text
        "c2@example.com,,10.0,pro,\n",
    )
    with Sandbox(customers=account(4)) as sb:
        refused = run("sync-customers", "--from-csv", csv, sandbox=sb)
        assert refused.returncode == EXIT_USAGE
        assert "give --allow-mass-change" in refused.stderr
        assert "allow_mass_change=True" not in refused.stderr
        assert writes(sb) == []
        ok = run("sync-customers", "--from-csv", csv, "--allow-mass-change", sandbox=sb)
        assert ok.returncode == 0, ok.stderr
        assert sb.customer(1)["phone"] == "0123" and sb.customer(1)["blocked"] is False
        assert sb.customer(2)["customData"] == {"plan": "pro", "mrr": 10}
        assert sb.customer(2)["phone"] is None


def test_a_column_that_is_no_field_is_a_usage_error_in_the_command_lines_words(
    tmp_path: Path,
) -> None:
    csv = table(tmp_path / "users.csv", "email,org\nc1@example.com,X\n")
    with Sandbox(customers=account(2)) as sb:
        result = run("sync-customers", "--from-csv", csv, sandbox=sb)
        assert sb.request_count == 0
    assert result.returncode == EXIT_USAGE
    assert '"org"' in result.stderr and "--ignore-columns" in result.stderr
    assert "ignore_columns=True" not in result.stderr


def test_undo_prints_the_conflicts_it_leaves(tmp_path: Path) -> None:
    csv = table(tmp_path / "users.csv", "email,company\nc1@example.com,New 1\n")
    log = os.fspath(tmp_path / "users.jsonl")
    with Sandbox(customers=account(3)) as sb:
        args = ("--from-csv", csv, "--log", log, "--allow-mass-change")
        done = run("sync-customers", *args, sandbox=sb)
        assert done.returncode == 0, done.stderr
        with sb.client(rate_limit=None) as client:
            client.update_customer(1, {"company": "Agent's"})
        undone = run("undo", log, sandbox=sb)
        assert undone.returncode == 0, undone.stderr
        assert "left customer 1 company: it holds \"Agent's\", not 'New 1'" in undone.stderr
        assert sb.customer(1)["company"] == "Agent's"
    records = [json.loads(line) for line in Path(log).read_text().splitlines()]
    assert records[-1]["left"] == "conflict"
