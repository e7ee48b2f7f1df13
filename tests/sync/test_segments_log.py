"""Logs of several tags in one plan: the header names the managed tags, undo puts back exactly
what merged writes changed (both clients), an interrupted apply resumes from its log, a log
of another sync (one tag, or other tags) is refused before any request, and the issue's
standard case (scaled down) stays within the API's minimum and under six sync_tag runs."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.segments import email, later_night, people, standard_segments, tags_by_id

HOLDERS = {"trial": range(1, 11), "paying": range(5, 16), "gold": range(50, 53)}


def emails(ids: range | list[int]) -> list[str]:
    return [email(i) for i in ids]


SEGMENTS = {"trial": emails(range(3, 13)), "paying": emails(range(10, 21)), "gold": []}


@pytest.mark.parametrize("use_async", [False, True])
def test_undo_puts_back_what_merged_writes_changed(tmp_path: Path, use_async: bool) -> None:
    log = tmp_path / "segments.jsonl"
    with Sandbox(customers=people(60, HOLDERS, range(1, 61, 3))) as sb:
        before = tags_by_id(sb)
        if use_async:

            async def main() -> tuple[helpcrunch.BulkReport, helpcrunch.BulkReport]:
                async with sb.async_client(rate_limit=None) as client:
                    done = await client.sync_tags(SEGMENTS, log=log, allow_mass_removal={"gold"})
                    return done, await client.undo(log)

            report, undone = asyncio.run(main())
        else:
            with sb.client(rate_limit=None) as client:
                report = client.sync_tags(SEGMENTS, log=log, allow_mass_removal={"gold"})
                undone = client.undo(log)
        assert report.succeeded == 17 and undone.succeeded == 17
        assert tags_by_id(sb) == before
    header = json.loads(log.read_text().splitlines()[0])
    assert header["log"] == "helpcrunch tag sync"
    assert header["tags"] == ["gold", "paying", "trial"] and header["mode"] == "mirror"
    assert sb.api_key not in log.read_text()


def test_an_interrupted_apply_resumes_from_its_log(tmp_path: Path) -> None:
    log = tmp_path / "segments.jsonl"
    segments = {"trial": emails(range(1, 31)), "paying": emails(range(20, 41))}
    with Sandbox(customers=people(50, {})) as sb, sb.client(rate_limit=None) as client:
        before = tags_by_id(sb)
        plan = client.plan_tags(segments)
        assert plan.writes == 40

        def progress(done: int, total: int | None, result: helpcrunch.BulkResult) -> None:
            if done == 12:
                raise KeyboardInterrupt

        with pytest.raises(helpcrunch.BulkInterrupted) as caught:
            client.apply_plan(plan, log=log, progress=progress, concurrency=1)
        applied = caught.value.report.succeeded
        assert 0 < applied < 40
        resumed = client.apply_plan(plan, log=log)
        assert resumed.skipped == applied and resumed.succeeded == 40
        after = tags_by_id(sb)
        assert {i for i, t in after.items() if "trial" in t} == set(range(1, 31))
        assert {i for i, t in after.items() if "paying" in t} == set(range(20, 41))
        client.undo(log)
        assert tags_by_id(sb) == before


def test_a_log_of_another_sync_is_refused_before_any_request(tmp_path: Path) -> None:
    one = tmp_path / "one.jsonl"
    many = tmp_path / "many.jsonl"
    with Sandbox(customers=people(20, {})) as sb, sb.client(rate_limit=None) as client:
        client.sync_tag("trial", emails([1]), log=one)
        client.sync_tags({"trial": emails([1]), "paying": emails([2])}, log=many)
        sb.clear_requests()
        for log, segments in (
            (one, {"trial": emails([1]), "paying": emails([2])}),
            (many, {"trial": emails([1]), "gold": emails([2])}),
        ):
            text = log.read_text()
            with pytest.raises(ValueError, match="the log of another sync"):
                client.sync_tags(segments, log=log)
            assert log.read_text() == text
        with pytest.raises(ValueError, match="the log of another sync"):
            client.sync_tag("trial", emails([1]), log=many)
        assert sb.request_count == 0
        # The same tags in another order are the same sync.
        client.sync_tags({"paying": emails([2]), "trial": emails([1])}, log=many)


def six_runs(client: helpcrunch.Client, audiences: dict[str, list[str]]) -> None:
    for tag, keys in audiences.items():
        client.sync_tag(tag, keys, allow_mass_removal=True)


@pytest.mark.parametrize("night", ["first", "later"])
def test_the_standard_case_scaled_down_is_near_the_minimum(night: str) -> None:
    account, audiences = standard_segments(0.1)
    if night == "later":
        holders = audiences
        audiences = later_night(audiences, account)
    else:
        holders = {t: [] for t in audiences}
    customers = people(account, holders)
    segments = {t: emails(ids) for t, ids in audiences.items()}
    with Sandbox(customers=customers) as sb, sb.client(rate_limit=None) as client:
        plan = client.plan_tags(segments)
        planned = sb.request_count
        report = client.apply_plan(plan, allow_mass_removal=True)
        ours = sb.request_count
        assert report.failed == 0
    # The API's minimum: each tag's holders pages, the keys no holder settled in lookups of the
    # batch, and one write per customer per direction.
    settled = {i for ids in holders.values() for i in ids}
    unsettled = {i for ids in audiences.values() for i in ids} - settled
    minimum = (
        sum(max(1, math.ceil(len(ids) / plan.page_size)) for ids in holders.values())
        + math.ceil(len(unsettled) / plan.lookup_batch)
        + plan.writes
    )
    assert planned == plan.lookups
    assert ours <= 1.05 * minimum, (ours, minimum)
    with Sandbox(customers=customers) as sb, sb.client(rate_limit=None) as client:
        six_runs(client, segments)
        apart = sb.request_count
    assert ours <= apart
    if night == "first":
        assert 2 * ours <= apart, (ours, apart)
