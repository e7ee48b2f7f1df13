"""One log reused by many runs, as a nightly job reuses it: each new plan sends what the current
state needs whatever the log holds; undo reverses every change the runs applied, latest first
per customer, so the account ends as it was before the first run; a change never sent is never
reversed; and a file that is not a log of this sync is refused, untouched, before any request.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import random
from pathlib import Path
from typing import Any

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.sync import TAG, account, holders, tags_of, writes


def emails(ids: set[int] | range) -> list[str]:
    return [f"c{i}@example.com" for i in sorted(ids)]


def test_a_later_run_undoing_an_earlier_one_is_not_taken_for_done(tmp_path: Path) -> None:
    # The case: run 1 untags 10, run 2 tags it again, run 3 must untag it again.
    log = tmp_path / "nightly.jsonl"
    with Sandbox(customers=account(12, range(1, 13))) as sb, sb.client(rate_limit=None) as client:
        client.sync_tag(TAG, emails(range(1, 10)), log=log, allow_mass_removal=True)
        assert 10 not in holders(sb)
        client.sync_tag(TAG, emails(range(1, 11)), log=log)
        assert 10 in holders(sb)
        sb.clear_requests()
        third = client.sync_tag(TAG, emails(range(1, 10)), log=log, allow_mass_removal=True)
        assert third.skipped == 0 and writes(sb) == 1
        assert 10 not in holders(sb)


def test_a_tag_removed_by_hand_is_added_again_by_the_next_run(tmp_path: Path) -> None:
    log = tmp_path / "nightly.jsonl"
    with Sandbox(customers=account(6, set())) as sb, sb.client(rate_limit=None) as client:
        client.sync_tag(TAG, emails(range(1, 4)), log=log)
        client.remove_tags(2, [TAG])  # an agent, by hand
        sb.clear_requests()
        again = client.sync_tag(TAG, emails(range(1, 4)), log=log)
        assert (len(again), again.skipped, writes(sb)) == (1, 0, 1)
        assert holders(sb) == {1, 2, 3}


def test_the_same_plan_applied_again_skips_only_what_it_applied(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    with Sandbox(customers=account(20, set())) as sb, sb.client(rate_limit=None) as client:
        plan = client.plan_tag(TAG, emails(range(1, 21)))

        def progress(done: int, total: int | None, result: helpcrunch.BulkResult) -> None:
            if done == 5:
                raise KeyboardInterrupt

        with pytest.raises(helpcrunch.BulkInterrupted) as caught:
            client.apply_plan(plan, log=log, progress=progress, concurrency=1)
        applied = caught.value.report.succeeded
        # Another plan of the same sync, made now, sees those customers tagged already.
        other = client.plan_tag(TAG, emails(range(1, 21)))
        assert len(other.to_add) == 20 - len(holders(sb))
        sb.clear_requests()
        resumed = client.apply_plan(plan, log=log)
        assert resumed.skipped == applied
        assert writes(sb) == 20 - applied
        assert holders(sb) == set(range(1, 21))


@pytest.mark.parametrize("seed", range(6))
def test_nights_of_flips_undo_to_the_state_before_the_first(tmp_path: Path, seed: int) -> None:
    """Several runs over one log, each with a random audience (customers flipping in and out,
    some more than once), then undo: every customer's tags, colours included,
    are exactly as before the first run."""
    rng = random.Random(seed)
    log = tmp_path / "nightly.jsonl"
    # A log serves one sync (tag, mode, match): the mode is the seed's.
    mode = ["mirror", "mirror", "mirror", "mirror", "add", "remove"][seed]
    n = 16
    with Sandbox(customers=account(n, set(rng.sample(range(1, n + 1), 8)))) as sb:
        before = tags_of(sb)
        with sb.client(rate_limit=None) as client:
            for _night in range(rng.randint(3, 6)):
                audience = set(rng.sample(range(1, n + 1), rng.randint(4, 12)))
                was = holders(sb)
                report = client.sync_tag(
                    TAG, emails(audience), log=log, mode=mode, allow_mass_removal=True
                )
                assert report.failed == 0 and report.skipped == 0
                expected = {
                    "mirror": audience,
                    "add": was | audience,
                    "remove": was - audience,
                }[mode]
                assert holders(sb) == expected, mode
            undone = client.undo(log)
            assert undone.failed == 0
            assert tags_of(sb) == before
            sb.clear_requests()
            assert len(client.undo(log)) == 0 and writes(sb) == 0


def test_undo_never_reverses_a_change_that_was_not_sent(tmp_path: Path) -> None:
    # 60 holders lose the tag; Ctrl-C after 10; then an agent removes the tag by hand from
    # customers the run never reached. Undo re-tags only what the run (may have) untagged.
    log = tmp_path / "run.jsonl"
    with Sandbox(customers=account(60, range(1, 61))) as sb, sb.client(rate_limit=None) as client:
        plan = client.plan_tag(TAG, emails(range(1, 61)), mode="remove")

        def progress(done: int, total: int | None, result: helpcrunch.BulkResult) -> None:
            if done == 10:
                raise KeyboardInterrupt

        with pytest.raises(helpcrunch.BulkInterrupted) as caught:
            client.apply_plan(
                plan, log=log, progress=progress, concurrency=2, allow_mass_removal=True
            )
        report = caught.value.report
        untagged = set(range(1, 61)) - holders(sb)
        assert report.succeeded <= len(untagged) <= report.succeeded + 2
        never_reached = sorted(holders(sb))[-10:]
        for customer_id in never_reached:
            client.remove_tags(customer_id, [TAG])
        sb.clear_requests()
        undone = client.undo(log)
        assert writes(sb) == len(undone) <= report.succeeded + 2
        assert holders(sb) == set(range(1, 61)) - set(never_reached)


def test_the_async_client_follows_the_same_log_rules(tmp_path: Path) -> None:
    log = tmp_path / "nightly.jsonl"

    async def nights(sb: Sandbox) -> None:
        async with sb.async_client(rate_limit=None) as client:
            await client.sync_tag(TAG, emails({1, 2}), log=log, allow_mass_removal=True)
            await client.sync_tag(TAG, emails({1, 2, 3}), log=log)
            third = await client.sync_tag(TAG, emails({1, 2}), log=log, allow_mass_removal=True)
            assert third.skipped == 0 and third.succeeded == 1
            await client.undo(log)

    with Sandbox(customers=account(4, {3, 4})) as sb:
        before = tags_of(sb)
        asyncio.run(nights(sb))
        assert tags_of(sb) == before


# --- a file that is not a log of this kind ---------------------------------------------------

FOREIGN: dict[str, bytes] = {
    "csv": b"email\nc1@example.com\nc2@example.com\n",
    "csv without a newline": b"email\nc1@example.com",
    "one word": b"hello",
    "json array": b'[{"change": "add", "customer_id": 1}]\n',
    "json lines of another shape": b'{"id": 1, "email": "c1@example.com"}\n{"id": 2}\n',
    "blank lines": b"\n\n  \n",
    "binary": bytes(range(256)),
    "not utf-8": b"\xff\xfe{\x00\n",
}


def checkpoint_of_a_bulk_run(tmp_path: Path) -> bytes:
    path = tmp_path / "checkpoint.jsonl"
    with Sandbox() as sb, sb.client(rate_limit=None) as client:
        client.remove_tags_many([(542336, "Lead")], checkpoint=path)
    return path.read_bytes()


def sync_log(tmp_path: Path) -> bytes:
    path = tmp_path / "other.jsonl"
    with Sandbox(customers=account(3, set())) as sb, sb.client(rate_limit=None) as client:
        client.sync_tag(TAG, emails({1}), log=path, mode="add")
    return path.read_bytes()


def writers(sb: Sandbox, path: Path) -> dict[str, Any]:
    """Every call that writes a journal, given ``path``."""

    def client() -> helpcrunch.Client:
        return sb.client(rate_limit=None)

    def sync_tag() -> Any:
        with client() as c:
            return c.sync_tag(TAG, emails({1, 2}), log=path)

    def apply_plan() -> Any:
        with client() as c:
            plan = c.plan_tag(TAG, emails({1, 2}))
            sb.clear_requests()
            return c.apply_plan(plan, log=path)

    def undo() -> Any:
        with client() as c:
            return c.undo(path)

    def remove_many() -> Any:
        with client() as c:
            return c.remove_tags_many([(1, "vip")], checkpoint=path)

    def add_many() -> Any:
        with client() as c:
            return c.add_tags_many([(1, "vip")], checkpoint=path)

    def async_sync_tag() -> Any:
        async def run() -> Any:
            async with sb.async_client(rate_limit=None) as c:
                return await c.sync_tag(TAG, emails({1, 2}), log=path)

        return asyncio.run(run())

    return {
        "sync_tag": sync_tag,
        "apply_plan": apply_plan,
        "undo": undo,
        "remove_tags_many": remove_many,
        "add_tags_many": add_many,
        "async sync_tag": async_sync_tag,
    }


WRITERS = ["sync_tag", "apply_plan", "undo", "remove_tags_many", "add_tags_many", "async sync_tag"]


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("content", sorted(FOREIGN))
def test_every_writer_refuses_a_foreign_file_and_leaves_it_byte_for_byte(
    tmp_path: Path, writer: str, content: str
) -> None:
    path = tmp_path / "segment.csv"
    path.write_bytes(FOREIGN[content])
    with Sandbox(customers=account(3, set())) as sb:
        with pytest.raises(ValueError) as caught:
            writers(sb, path)[writer]()
        assert sb.request_count == 0, "refused before any request"
        assert str(path) in str(caught.value)
    assert path.read_bytes() == FOREIGN[content]


@pytest.mark.parametrize("writer", ["sync_tag", "apply_plan", "undo"])
def test_a_checkpoint_is_not_a_sync_log(tmp_path: Path, writer: str) -> None:
    data = checkpoint_of_a_bulk_run(tmp_path)
    path = tmp_path / "given.jsonl"
    path.write_bytes(data)
    with Sandbox(customers=account(3, set())) as sb:
        with pytest.raises(ValueError):
            writers(sb, path)[writer]()
        assert sb.request_count == 0
    assert path.read_bytes() == data


@pytest.mark.parametrize("writer", ["remove_tags_many", "add_tags_many"])
def test_a_sync_log_is_not_a_checkpoint(tmp_path: Path, writer: str) -> None:
    data = sync_log(tmp_path)
    path = tmp_path / "given.jsonl"
    path.write_bytes(data)
    with Sandbox(customers=account(3, set())) as sb:
        with pytest.raises(ValueError):
            writers(sb, path)[writer]()
        assert sb.request_count == 0
    assert path.read_bytes() == data


def test_a_log_records_intent_before_outcome_and_never_the_key(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    with Sandbox(customers=account(4, {4})) as sb, sb.client(rate_limit=None) as client:
        client.sync_tag(TAG, emails({1, 2}), log=log, allow_mass_removal=True)
        text = log.read_text()
        assert sb.api_key not in text
    lines = [json.loads(line) for line in text.splitlines()]
    run = lines[1]["run"]
    for change in lines[2:]:
        assert change["run"] == run
    pending = {(e["seq"], e["customer_id"]) for e in lines if "pending" in e}
    done = {(e["seq"], e["customer_id"]) for e in lines if e.get("ok") is True}
    assert pending == done == {(0, 1), (1, 2), (2, 4)}
    first = {e["seq"]: n for n, e in reversed(list(enumerate(lines))) if "seq" in e}
    last = {e["seq"]: n for n, e in enumerate(lines) if "seq" in e}
    assert all(lines[first[s]].get("pending") for s in first), "intent first"
    assert all("ok" in lines[last[s]] for s in last), "then its outcome"
    # A removal keeps the colour the tag had, which undo puts back.
    assert next(e for e in lines if e.get("change") == "remove")["tags"][0]["color"]


def test_a_change_pickles_compares_and_reads_back_from_its_record() -> None:
    with Sandbox(customers=account(3, {3})) as sb, sb.client(rate_limit=None) as client:
        plan = client.plan_tag(TAG, emails({1}))
    add, remove = plan.to_add[0].change, plan.to_remove[0].change
    assert add is not None and remove is not None
    assert (add.kind, add.customer_id, remove.kind, remove.customer_id) == ("add", 1, "remove", 3)
    # A removal keeps the colour the tag had: its inverse puts it back.
    assert remove.inverse().kind == "add" and remove.inverse().tags == remove.tags
    assert remove.tags[0]["color"]
    for change in (add, remove):
        assert pickle.loads(pickle.dumps(change)) == change
        assert helpcrunch.Change.from_record(change.record()) == change
        assert change.inverse().inverse() == change and change.inverse() != change
    for bad in ("", "[]", '{"change": "rename", "customer_id": 1, "tags": [{"name": "x"}]}'):
        with pytest.raises(ValueError):
            helpcrunch.Change.from_record(bad)


def test_a_change_given_to_a_bulk_call_is_a_bad_row_not_a_write() -> None:
    with Sandbox(customers=account(3, set())) as sb, sb.client(rate_limit=None) as client:
        change = client.plan_tag(TAG, emails({1}), mode="add").to_add[0].change
        assert change is not None and change.kind == "add"
        sb.clear_requests()
        report = client.remove_tags_many([change])
        assert report.failed == 1 and isinstance(report[0].error, TypeError)
        assert sb.request_count == 0 and holders(sb) == set()
