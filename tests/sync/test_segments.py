"""Several tags in one plan (``plan_tags``), over real HTTP against the sandbox, with both
clients: per-tag views of a mapping or a long table, keys looked up once for every tag, a
managed tag with no rows, unmanaged tags never touched, the per-tag guard, merged writes (at
most one PUT and one DELETE per customer), and bad arguments refused before any request."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pandas as pd
import polars as pl
import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.segments import OTHER, carriers, email, people, tag_writes, tags_by_id

#: 60 customers: trial on 1..10, paying on 5..15, gold on 50..52; "other" on 1..60 by thirds.
HOLDERS = {"trial": range(1, 11), "paying": range(5, 16), "gold": range(50, 53)}
OTHERS = range(1, 61, 3)


def account() -> list[dict[str, Any]]:
    return people(60, HOLDERS, OTHERS)


def emails(ids: range | list[int]) -> list[str]:
    return [email(i) for i in ids]


#: Tonight: trial on 3..12, paying on 10..20, gold on nobody (managed with no rows).
SEGMENTS = {"trial": emails(range(3, 13)), "paying": emails(range(10, 21)), "gold": []}


def counts(plan: helpcrunch.TagPlan) -> tuple[int, int, int, int]:
    return len(plan.to_add), len(plan.to_remove), len(plan.unchanged), len(plan.rejected)


def plan_both(sb: Sandbox, segments: Any, use_async: bool, **kw: Any) -> helpcrunch.TagsPlan:
    if use_async:

        async def main() -> helpcrunch.TagsPlan:
            async with sb.async_client(rate_limit=None) as client:
                return await client.plan_tags(segments, **kw)

        return asyncio.run(main())
    with sb.client(rate_limit=None) as client:
        return client.plan_tags(segments, **kw)


@pytest.mark.parametrize("use_async", [False, True])
def test_each_tag_has_its_view_and_the_keys_are_looked_up_once(use_async: bool) -> None:
    with Sandbox(customers=account()) as sb:
        plan = plan_both(sb, SEGMENTS, use_async)
        requests = sb.request_count
        assert tag_writes(sb) == []
    assert plan.tags == ["trial", "paying", "gold"]
    assert counts(plan.by_tag["trial"]) == (2, 2, 8, 0)
    assert counts(plan.by_tag["paying"]) == (5, 5, 6, 0)
    assert counts(plan.by_tag["gold"]) == (0, 3, 0, 0)
    assert {i.customer_id for i in plan.by_tag["gold"].to_remove} == {50, 51, 52}
    # One holders page per tag; the keys no holder settled (13..20) in one lookup for all.
    assert requests == plan.lookups == 3 + 1
    assert plan.requests["holder_pages"] == 3 and plan.requests["lookups"] == 1
    # Merged: customers 1, 2 lose trial; 5..9 lose paying; 50..52 lose gold; 11, 12 keep trial
    # and 10..12 keep paying; 13..20 gain paying: one change each, several tags in some.
    adds = {
        c.customer_id: sorted(t["name"] for t in c.tags) for c in plan.changes if c.kind == "add"
    }
    removes = {
        c.customer_id: sorted(t["name"] for t in c.tags) for c in plan.changes if c.kind == "remove"
    }
    assert adds == {11: ["trial"], 12: ["trial"], **{i: ["paying"] for i in range(16, 21)}}
    assert removes == {
        1: ["trial"],
        2: ["trial"],
        **{i: ["paying"] for i in range(5, 10)},
        **{i: ["gold"] for i in range(50, 53)},
    }
    assert plan.writes == len(plan.changes) == 7 + 10
    assert plan.mass_removal.keys() == {"gold"}
    text = repr(plan)
    assert text.startswith("TagsPlan(mirror, by email, 3 tags: 7 to add, 10 to remove")
    assert (
        "  gold: 0 to add, 3 to remove, 0 unchanged, 0 rejected; 3 customers carry 'gold' now "
        "(REFUSED" in text
    )
    assert "17 writes after 4 lookups" in text


def test_one_plan_costs_fewer_requests_than_a_plan_per_tag() -> None:
    with Sandbox(customers=account()) as sb, sb.client(rate_limit=None) as client:
        client.plan_tags(SEGMENTS)
        together = sb.request_count
        sb.clear_requests()
        for tag, audience in SEGMENTS.items():
            client.plan_tag(tag, audience)
        apart = sb.request_count
    assert together < apart


def test_writes_are_merged_per_customer_and_unmanaged_tags_are_never_touched() -> None:
    # Customer 30 gains trial and paying and loses gold: one PUT with both, one DELETE.
    customers = people(40, {"gold": [30, 31]}, other=range(1, 41))
    segments = {"trial": emails([30, 32]), "paying": emails([30]), "gold": emails([31])}
    with Sandbox(customers=customers) as sb, sb.client(rate_limit=None) as client:
        plan = client.plan_tags(segments)
        sb.clear_requests()
        report = client.apply_plan(plan)
        sent = tag_writes(sb)
        after = tags_by_id(sb)
    assert Counter(sent) == Counter([("PUT", 30), ("DELETE", 30), ("PUT", 32)])
    assert report.succeeded == 3 and report.failed == 0
    assert after[30] == {"trial", "paying", "other"}
    assert after[31] == {"gold", "other"} and after[32] == {"trial", "other"}
    assert all(OTHER["name"] in tags for tags in after.values())
    put = next(r for r in plan.changes if r.customer_id == 30 and r.kind == "add")
    assert [t["name"] for t in put.tags] == ["trial", "paying"]
    assert report.by_tag()["trial"] == {"succeeded": 2, "failed": 0, "skipped": 0}


@pytest.mark.parametrize("frame", ["pandas", "polars", "rows"])
def test_a_long_table_plans_the_tags_it_names_or_those_given(frame: str) -> None:
    rows = [
        ("c3@example.com", "trial"),
        ("c13@example.com", "paying"),
        ("c4@example.com", "trial"),
        ("c13@example.com", "vip"),  # not managed below: ignored, vip never touched
        ("C3@example.com", "trial"),  # the same key again for trial: a duplicate of row 0
        ("c14@example.com", None),  # no tag: ignored
        ("nobody@example.com", "paying"),
    ]
    table: Any = {
        "pandas": pd.DataFrame(rows, columns=["email", "segment"]),
        "polars": pl.DataFrame(rows, schema=["email", "segment"], orient="row"),
        "rows": [{"email": e, "segment": t} for e, t in rows],
    }[frame]
    customers = people(20, {"vip": [1], "gold": [2]})
    with Sandbox(customers=customers) as sb, sb.client(rate_limit=None) as client:
        plan = client.plan_tags(table, tag_column="segment", tags=["trial", "paying", "gold"])
        assert tag_writes(sb) == []
        everything = client.plan_tags(table, tag_column="segment")
    assert plan.tags == ["trial", "paying", "gold"]
    assert plan.ignored == [3, 5]
    trial = plan.by_tag["trial"]
    assert [(i.row, i.action) for i in trial.items] == [(0, "add"), (2, "add"), (4, "reject")]
    assert trial.rejected[0].reason == "the same key as row 0, which is kept"
    assert trial.rejected[0].kept_row == 0
    assert [(i.row, i.action) for i in plan.by_tag["paying"].items] == [(1, "add"), (6, "reject")]
    # gold has no rows: nobody should carry it, and its one holder is refused by the guard.
    assert [(i.customer_id, i.action) for i in plan.by_tag["gold"].items] == [(2, "remove")]
    assert "gold" in plan.mass_removal
    assert everything.tags == ["trial", "paying", "vip"] and everything.ignored == [5]


def test_the_guard_is_per_tag_and_names_the_tags_it_refuses() -> None:
    segments = {"trial": emails(range(1, 11)), "paying": emails([5]), "gold": []}
    with Sandbox(customers=account()) as sb, sb.client(rate_limit=None) as client:
        plan = client.plan_tags(segments)
        assert sorted(plan.mass_removal) == ["gold", "paying"]
        for allow in (False, {"gold"}, frozenset({"trial"})):
            with pytest.raises(helpcrunch.MassRemovalError) as caught:
                client.apply_plan(plan, allow_mass_removal=allow)
            assert tag_writes(sb) == []
            assert "paying" in caught.value.tags
            assert "tag 'paying': this plan removes the tag from 10 of its 11" in str(caught.value)
        assert caught.value.tags == ["paying", "gold"] and caught.value.removing == 10
        with pytest.raises(TypeError, match="allow_mass_removal"):
            client.apply_plan(plan, allow_mass_removal=["gold"])  # type: ignore[arg-type]
        client.apply_plan(plan, allow_mass_removal={"gold", "paying"})
        assert carriers(sb, "gold") == set() and carriers(sb, "paying") == {5}
        assert carriers(sb, "trial") == set(range(1, 11))


def test_a_failed_write_fails_each_of_its_tags_in_the_report_and_the_log(tmp_path: Any) -> None:
    import json

    customers = people(10, {})
    segments = {"trial": emails([3, 4]), "paying": emails([3])}
    log = tmp_path / "segments.jsonl"
    with Sandbox(customers=customers) as sb, sb.client(rate_limit=None, max_retries=0) as client:
        sb.fail_next(400, method="PUT", path="/v1/customers/3/tags")
        report = client.sync_tags(segments, log=log)
    assert report.failed == 1 and report.succeeded == 1
    assert report.failures[0].customer_id == 3
    assert report.by_tag() == {
        "trial": {"succeeded": 1, "failed": 1, "skipped": 0},
        "paying": {"succeeded": 0, "failed": 1, "skipped": 0},
    }
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records[0]["tags"] == ["paying", "trial"] and "tag" not in records[0]
    failed = [r for r in records if r.get("ok") is False]
    assert [[t["name"] for t in r["tags"]] for r in failed] == [["trial", "paying"]]


def test_bad_arguments_are_refused_before_any_request() -> None:
    with Sandbox(customers=account()) as sb, sb.client(rate_limit=None) as client:
        with pytest.raises(TypeError, match="mapping of tag name to audience"):
            client.plan_tags(emails(range(3)))
        with pytest.raises(ValueError, match="which tags= does not list"):
            client.plan_tags(SEGMENTS, tags=["trial"])
        with pytest.raises(ValueError, match="not managed"):
            client.plan_tags(SEGMENTS, color={"vip": "#ff0000"})
        with pytest.raises(ValueError, match="color"):
            client.plan_tags(SEGMENTS, color={"gold": "gold-ish"})
        with pytest.raises(ValueError, match="empty or whitespace-only"):
            client.plan_tags({"  ": emails([1])})
        with pytest.raises(ValueError, match="no tag to manage"):
            client.plan_tags({})
        with pytest.raises(ValueError, match="mode"):
            client.plan_tags(SEGMENTS, mode="sideways")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="tags must be"):
            client.plan_tags(SEGMENTS, tags="trial")
        assert sb.request_count == 0


def test_a_new_tag_gets_its_colour_and_add_mode_removes_nothing() -> None:
    customers = people(10, {"trial": [1]})
    with Sandbox(customers=customers) as sb, sb.client(rate_limit=None) as client:
        client.sync_tags(
            {"trial": emails([2]), "fresh": emails([2, 3])},
            mode="add",
            color={"fresh": "#00ff00"},
        )
        tags = {c["id"]: c["tags"] for c in sb.customers()}
    assert {"name": "fresh", "color": "#00ff00"} in tags[3]
    assert [t["name"] for t in tags[1]] == ["trial"], "add mode removes nothing"
    assert sorted(t["name"] for t in tags[2]) == ["fresh", "trial"]


def test_a_small_account_is_scanned_once_for_every_tag() -> None:
    customers = people(150, {"trial": range(1, 50), "paying": range(40, 100)})
    segments = {"trial": emails(range(1, 120)), "paying": emails(range(30, 140))}
    with Sandbox(customers=customers) as sb, sb.client(rate_limit=None) as client:
        plan = client.plan_tags(segments, lookup_batch=10)
        requests = sb.request_count
    assert plan.strategy == "scan"
    # The count, each tag's first holders page, then the 2 pages of the account.
    assert requests == plan.lookups == 1 + 2 + 2
    assert counts(plan.by_tag["trial"]) == (70, 0, 49, 0)
    assert counts(plan.by_tag["paying"]) == (50, 0, 60, 0)


def test_a_set_of_names_allows_a_one_tag_plan_only_when_it_names_its_tag() -> None:
    with Sandbox(customers=account()) as sb, sb.client(rate_limit=None) as client:
        plan = client.plan_tag("gold", [])
        with pytest.raises(helpcrunch.MassRemovalError):
            client.apply_plan(plan, allow_mass_removal={"trial"})
        assert tag_writes(sb) == []
        client.apply_plan(plan, allow_mass_removal={"gold"})
        assert carriers(sb, "gold") == set()
