"""Applying a customer plan over real HTTP against the sandbox, with both clients: a PATCH per
changed customer with only its changed top-level fields and its whole customData, creates (a
refused one fails its row with HelpCrunch's words), the guard before any write, batches of ten
each sent whole, the log with the values replaced (never the key), and undo: fields put back
only where they still hold what the run wrote, conflicts reported, current values read in
batches, created customers listed or deleted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.customers import Both, writes


def test_only_changed_customers_are_written_and_customdata_keeps_its_other_keys(
    sb: Sandbox, call: Both, tmp_path: Path
) -> None:
    rows = [
        {"email": "c1@example.com", "company": "Initech", "customData.plan": "basic"},
        {"email": "c2@example.com", "company": "Co 2", "customData.plan": "pro"},
        {"email": "c3@example.com", "company": "Co 3", "customData.plan": "basic"},
        {"email": "c4@example.com", "company": "Co 4", "customData.plan": "basic"},
    ]
    sb.clear_requests()
    report = call("sync_customers", rows, log=tmp_path / "c.jsonl")
    assert report.succeeded == 2 and report.failed == 0
    assert sorted((r.method, r.path) for r in writes(sb)) == [
        ("PATCH", "/v1/customers/1"),
        ("PATCH", "/v1/customers/2"),
    ]
    assert sb.customer(1)["company"] == "Initech"
    # The sandbox replaces customData whole: the key not in the table is kept all the same.
    assert sb.customer(2)["customData"] == {"plan": "pro", "mrr": 10}
    # Synced again, nothing is written.
    sb.clear_requests()
    assert len(call("sync_customers", rows)) == 0 and writes(sb) == []


def test_the_log_holds_each_change_with_the_value_it_replaced_and_never_the_key(
    sb: Sandbox, call: Both, tmp_path: Path
) -> None:
    log = tmp_path / "c.jsonl"
    rows = [{"email": "c1@example.com", "company": "Initech"}]
    call("sync_customers", rows, log=log, allow_mass_change=True)
    text = log.read_text()
    assert sb.api_key not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert records[0]["log"] == "helpcrunch customer sync"
    done = [r for r in records if r.get("ok") is True]
    assert done[0]["change"] == "set"
    assert done[0]["fields"] == [{"field": "company", "before": "Co 1", "after": "Initech"}]


def test_creates_make_new_customers_and_a_refused_one_fails_its_row(
    sb: Sandbox, call: Both
) -> None:
    rows = [
        {"user_id": "new-1", "company": "Newco"},
        {"user_id": "new-2", "email": "c1@example.com"},
    ]
    plan = call("plan_customers", rows, match="user_id", create_missing=True)
    assert len(plan.to_create) == 2
    # A customer takes the userId between plan and apply: HelpCrunch refuses that create.
    with sb.client(rate_limit=None) as other:
        other.create_customer({"userId": "new-2"})
    report = call("apply_plan", plan)
    assert report.succeeded == 1 and report.failed == 1
    failure = report.failures[0]
    assert isinstance(failure.error, helpcrunch.BadRequestError)
    assert failure.error.errors[0]["code"] == "invalid_userId_value"
    made = [c for c in sb.customers() if c.get("userId") == "new-1"]
    assert len(made) == 1 and made[0]["company"] == "Newco"
    assert report[0].customer_id == made[0]["id"]


def test_the_guard_refuses_mass_changes_before_any_write(sb: Sandbox, call: Both) -> None:
    everyone = [{"email": f"c{i}@example.com", "company": "Same"} for i in range(1, 21)]
    sb.clear_requests()
    with pytest.raises(helpcrunch.MassChangeError) as caught:
        call("sync_customers", everyone)
    assert isinstance(caught.value, helpcrunch.HelpCrunchError)
    assert (caught.value.updating, caught.value.read) == (20, 20)
    assert "allow_mass_change=True" in str(caught.value)
    assert writes(sb) == []
    assert call("sync_customers", everyone, allow_mass_change=True).succeeded == 20
    cleared = [{"email": f"c{i}@example.com", "company": None} for i in range(1, 21)]
    plan = call("plan_customers", cleared, nulls="clear")
    assert plan.mass_change is not None


def test_clearing_empties_a_field_and_removes_a_custom_key(sb: Sandbox, call: Both) -> None:
    rows = [{"email": "c1@example.com", "company": None, "customData.mrr": None}]
    call("sync_customers", rows, nulls="clear", allow_mass_change=True)
    assert sb.customer(1)["company"] is None
    assert sb.customer(1)["customData"] == {"plan": "basic"}


def test_a_batch_sends_ten_customers_a_request_each_whole(sb: Sandbox, call: Both) -> None:
    rows = [{"email": f"c{i}@example.com", "customData.plan": "pro"} for i in range(1, 13)]
    sb.clear_requests()
    report = call("sync_customers", rows, batch=True, allow_mass_change=True)
    assert report.succeeded == 12
    sent = writes(sb)
    assert [(r.method, r.path) for r in sent] == [("PUT", "/v1/customers/batch")] * 2
    plans = {c["id"]: c["customData"] for c in sb.customers()}
    assert all(plans[i] == {"plan": "pro", "mrr": 10} for i in range(1, 13))
    assert plans[13] == {"plan": "basic", "mrr": 10}
    # Sent whole: nothing the table left out was emptied.
    assert all(sb.customer(i)["company"] == f"Co {i}" for i in range(1, 13))


def test_undo_puts_back_what_still_holds_the_runs_values_and_reports_the_rest(
    sb: Sandbox, call: Both, tmp_path: Path
) -> None:
    log = tmp_path / "c.jsonl"
    rows = [
        {"email": f"c{i}@example.com", "company": f"New {i}", "customData.plan": "pro"}
        for i in range(1, 6)
    ]
    call("sync_customers", rows, log=log, allow_mass_change=True, create_missing=True)
    # An agent changes one field after the run.
    with sb.client(rate_limit=None) as other:
        other.update_customer(3, {"company": "Agent's"})
    sb.clear_requests()
    report = call("undo", log)
    assert isinstance(report, helpcrunch.UndoReport)
    assert report.conflicts == [helpcrunch.Conflict(3, "company", "New 3", "Agent's")]
    assert sb.customer(3)["company"] == "Agent's"
    assert sb.customer(3)["customData"]["plan"] == "basic"
    for i in (1, 2, 4, 5):
        assert sb.customer(i)["company"] == f"Co {i}"
        assert sb.customer(i)["customData"] == {"plan": "basic", "mrr": 10}
    reads = [r for r in sb.requests if r.method == "POST" and r.path.endswith("/search")]
    assert len(reads) == 1, "the current values are read in one OR batch"
    # A second undo changes nothing.
    sb.clear_requests()
    again = call("undo", log)
    assert len(again) == 0 and writes(sb) == []


def test_undo_lists_created_customers_or_deletes_them(
    sb: Sandbox, call: Both, tmp_path: Path
) -> None:
    log = tmp_path / "c.jsonl"
    rows = [{"email": "new@example.com", "company": "Newco"}]
    report = call("sync_customers", rows, log=log, create_missing=True)
    new_id = report[0].customer_id
    undone = call("undo", log)
    assert undone.created == [new_id]
    assert any(c["id"] == new_id for c in sb.customers())
    log2 = tmp_path / "d.jsonl"
    report = call("sync_customers", [{"email": "new2@example.com"}], log=log2, create_missing=True)
    gone = report[0].customer_id
    undone = call("undo", log2, delete_created=True)
    assert undone.succeeded == 1 and undone.created == []
    assert all(c["id"] != gone for c in sb.customers())


def test_a_plan_applied_again_with_its_log_skips_what_it_did(
    sb: Sandbox, call: Both, tmp_path: Path
) -> None:
    log = tmp_path / "c.jsonl"
    rows = [
        {"email": "c1@example.com", "company": "Initech"},
        {"email": "new@example.com", "company": "Newco"},
    ]
    plan = call("plan_customers", rows, create_missing=True)
    first = call("apply_plan", plan, log=log, allow_mass_change=True)
    assert first.succeeded == 2
    sb.clear_requests()
    again = call("apply_plan", plan, log=log, allow_mass_change=True)
    assert again.skipped == 2 and writes(sb) == []
    assert sum(1 for c in sb.customers() if c.get("email") == "new@example.com") == 1
