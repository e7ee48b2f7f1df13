"""Applying a plan over real HTTP against the sandbox: only the changes are written, the guard
refuses mass removals before any write, the log records every change (never the key), a rerun
skips what is done, a run killed mid-apply resumes, undo puts back exactly what was changed
(twice changes nothing), and the AsyncClient does the same."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.processes import child_env, start_child, wait_for
from tests.support.sync import TAG, TAG_COLOR, account, holders, standard, tags_of, writes


def test_apply_writes_only_the_changes_and_the_tag_ends_on_the_audience(tmp_path: Path) -> None:
    customers, audience = standard()
    with Sandbox(customers=customers) as sb, sb.client(rate_limit=None) as client:
        members = {c["id"] for c in customers if c["email"] in set(audience)}
        twins = {c["id"] for c in customers if c["email"].startswith("twin")}
        plan = client.plan_tag(TAG, audience)
        sb.clear_requests()
        report = client.apply_plan(plan, log=tmp_path / "run.jsonl")
        assert writes(sb) == sb.request_count == plan.writes == 98
        assert len(report) == 98 and report.succeeded == 98
        # The shared emails are rejected: their customers are left alone.
        assert holders(sb) == members - twins
        # A second sync finds nothing to do, and writes nothing.
        sb.clear_requests()
        again = client.sync_tag(TAG, audience, log=tmp_path / "run.jsonl")
        assert len(again) == 0 and writes(sb) == 0


def test_the_guard_refuses_mass_removals_before_any_write(tmp_path: Path) -> None:
    with Sandbox(customers=account(20, range(1, 11))) as sb, sb.client(rate_limit=None) as client:
        for audience in ([], ["nobody@example.com"], ["c1@example.com", "c2@example.com"]):
            plan = client.plan_tag(TAG, audience)
            with pytest.raises(helpcrunch.MassRemovalError) as caught:
                client.apply_plan(plan)
            assert isinstance(caught.value, helpcrunch.HelpCrunchError)
            removing = 10 - len(audience) if audience != ["nobody@example.com"] else 10
            assert f"{removing} of its 10 current holders" in str(caught.value)
            assert (caught.value.removing, caught.value.holders) == (removing, 10)
            with pytest.raises(helpcrunch.MassRemovalError):
                client.sync_tag(TAG, audience, log=tmp_path / "refused.jsonl")
        assert writes(sb) == 0
        assert holders(sb) == set(range(1, 11))
        # Half is allowed; more with allow_mass_removal=True.
        half = [f"c{i}@example.com" for i in range(1, 6)]
        assert client.sync_tag(TAG, half).succeeded == 5
        report = client.sync_tag(TAG, [], allow_mass_removal=True)
        assert report.succeeded == 5
        assert holders(sb) == set()


def test_undo_puts_back_exactly_what_the_run_changed_and_twice_changes_nothing(
    tmp_path: Path,
) -> None:
    log = tmp_path / "run.jsonl"
    with Sandbox(customers=account(30, range(1, 11))) as sb, sb.client(rate_limit=None) as client:
        before = tags_of(sb)
        audience = [f"c{i}@example.com" for i in range(5, 16)]
        report = client.sync_tag(TAG, audience, log=log, color="#123456")
        assert report.succeeded == 5 + 4
        assert holders(sb) == set(range(5, 16))
        # Added (and logged) with the tag's known colour, not the one asked for a new tag.
        assert {"name": TAG, "color": TAG_COLOR} in sb.customer(15)["tags"]
        sb.clear_requests()
        undone = client.undo(log)
        assert undone.succeeded == 9 and writes(sb) == 9
        assert tags_of(sb) == before, "every customer's tags, colours included, as before"
        sb.clear_requests()
        assert len(client.undo(log)) == 0
        assert writes(sb) == 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    started = lines[0].pop("started")
    assert lines[0] == {
        "log": "helpcrunch tag sync",
        "tag": TAG,
        "mode": "mirror",
        "match": "email",
        "color": TAG_COLOR,
    }
    assert started.endswith("+00:00")
    assert sum(1 for e in lines if "undo" in e) == 9
    assert sb.api_key not in log.read_text()


def test_a_new_tag_gets_the_colour_asked_for() -> None:
    with Sandbox(customers=account(3, set())) as sb, sb.client(rate_limit=None) as client:
        report = client.sync_tag("brand-new", ["c1@example.com"], color="#123456")
        assert report.succeeded == 1
        assert {"name": "brand-new", "color": "#123456"} in sb.customer(1)["tags"]


def test_a_report_shows_as_a_table_in_jupyter() -> None:
    with Sandbox(customers=account(5, set())) as sb, sb.client(rate_limit=None) as client:
        plan = client.plan_tag(TAG, ["c1@example.com", "c2@example.com"], mode="add")
        sb.fail_next(500, times=10)
        with sb.client(rate_limit=None, max_retries=0) as failing:
            report = failing.apply_plan(plan)
    page = report._repr_html_()
    assert "failed</td><td>2</td>" in page
    assert "InternalServerError" in page


def test_an_interrupted_undo_resumes_and_finishes_the_job(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    with Sandbox(customers=account(40, range(1, 21))) as sb, sb.client(rate_limit=None) as client:
        before = tags_of(sb)
        client.sync_tag(TAG, [f"c{i}@example.com" for i in range(11, 41)], log=log)
        assert holders(sb) == set(range(11, 41))

        def progress(done: int, total: int | None, result: helpcrunch.BulkResult) -> None:
            if done == 5:
                raise KeyboardInterrupt

        with pytest.raises(helpcrunch.BulkInterrupted) as caught:
            client.undo(log, progress=progress, concurrency=2)
        assert len(caught.value.report) == 30
        assert tags_of(sb) != before
        sb.clear_requests()
        resumed = client.undo(log)
        # Only what the first undo did not record is sent (a cancelled one again, harmlessly).
        assert writes(sb) == len(resumed) < 30
        assert tags_of(sb) == before


def test_a_log_of_another_sync_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    with Sandbox(customers=account(5, {1})) as sb, sb.client(rate_limit=None) as client:
        client.sync_tag(TAG, ["c1@example.com", "c2@example.com"], log=log)
        with pytest.raises(ValueError, match="log of another sync"):
            client.sync_tag("other", ["c1@example.com"], log=log)
        with pytest.raises(ValueError, match="not a tag sync log"):
            (tmp_path / "empty.jsonl").write_text("")
            client.undo(tmp_path / "empty.jsonl")
        with pytest.raises(FileNotFoundError):
            client.undo(tmp_path / "missing.jsonl")


# The child syncs 60 customers (40 to add, 10 to remove) at 5 requests a second with a log;
# the test kills it mid-way.
KILLED_RUN = """
import sys, helpcrunch
client = helpcrunch.Client(rate_limit=300)
audience = [f"c{i}@example.com" for i in range(1, 61)]
client.sync_tag("churn-risk", audience, log=sys.argv[1] if len(sys.argv) > 1 else LOG)
print("finished", flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_run_killed_mid_apply_resumes_from_its_log_and_undoes_cleanly(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    with Sandbox(customers=account(80, range(41, 71))) as sb:
        before = tags_of(sb)
        child = start_child(KILLED_RUN.replace("LOG", repr(str(log))), child_env(sb))
        try:
            wait_for(lambda: writes(sb) >= 15 or child.poll() is not None, what="writes")
            child.send_signal(signal.SIGKILL)
            child.communicate(timeout=10)
        finally:
            child.kill()
        killed_after = writes(sb)
        assert 15 <= killed_after < 50, "killed mid-apply"
        with sb.client(rate_limit=None) as client:
            sb.clear_requests()
            report = client.sync_tag(TAG, [f"c{i}@example.com" for i in range(1, 61)], log=log)
            # What the killed run did is not sent again (a write or two may have been in
            # flight, unlogged: they are sent again, harmlessly).
            assert writes(sb) == len(report) <= 50 - killed_after + 2
            assert holders(sb) == set(range(1, 61))
            client.undo(log)
            assert tags_of(sb) == before
            sb.clear_requests()
            assert len(client.undo(log)) == 0 and writes(sb) == 0


def test_ctrl_c_keeps_every_change_in_the_report_and_the_log(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    with Sandbox(customers=account(60, set())) as sb, sb.client(rate_limit=None) as client:
        audience = [f"c{i}@example.com" for i in range(1, 61)]
        plan = client.plan_tag(TAG, audience)

        def progress(done: int, total: int | None, result: helpcrunch.BulkResult) -> None:
            if done == 10:
                raise KeyboardInterrupt

        with pytest.raises(helpcrunch.BulkInterrupted) as caught:
            client.apply_plan(plan, log=log, progress=progress)
        report = caught.value.report
        assert len(report) == 60
        assert [r.index for r in report] == list(range(60))
        added = len(holders(sb))
        cancelled = sum(isinstance(r.error, helpcrunch.RequestCancelledError) for r in report)
        assert report.succeeded + cancelled == 60
        # Writes cut off in flight may have taken effect: the report cannot know.
        assert report.succeeded <= added <= report.succeeded + 8
        logged = [json.loads(line) for line in log.read_text().splitlines()]
        assert sum(1 for e in logged if e.get("change") == "add" and e["ok"]) == report.succeeded
        # Undo reverses those too (removing a tag a customer lacks changes nothing).
        client.undo(log)
        assert holders(sb) == set()


def test_the_async_client_plans_applies_and_undoes_the_same(tmp_path: Path) -> None:
    customers, audience = standard()

    async def main(sb: Sandbox) -> tuple[helpcrunch.TagPlan, int, int]:
        async with sb.async_client(rate_limit=None) as client:
            plan = await client.plan_tag(TAG, audience)
            report = await client.apply_plan(plan, log=tmp_path / "run.jsonl")
            with pytest.raises(helpcrunch.MassRemovalError):
                await client.sync_tag(TAG, [])
            undone = await client.undo(tmp_path / "run.jsonl")
            return plan, report.succeeded, undone.succeeded

    with Sandbox(customers=customers) as sb:
        with sb.client(rate_limit=None) as client:
            blocking = client.plan_tag(TAG, audience)
        before = tags_of(sb)
        sb.clear_requests()
        plan, applied, undone = asyncio.run(main(sb))
        assert tags_of(sb) == before
    assert repr(plan) == repr(blocking)
    assert [(i.customer_id, i.action, i.reason) for i in plan.items] == [
        (i.customer_id, i.action, i.reason) for i in blocking.items
    ]
    assert applied == undone == 98
