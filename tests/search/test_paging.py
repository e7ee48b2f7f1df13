"""Paging against the sandbox: every customer that matched at the start and still matches is
handed out exactly once while the caller untags what it is given, while customers are created
(at the end and in the middle), while others change the set, with ties in the sort key (in a
stable order and in a fresh order on every request), and against the caps. Requests are
counted by the sandbox."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.search import create, leads, search_requests, untag


def assert_once(ids: list[int]) -> set[int]:
    repeated = [i for i, n in Counter(ids).items() if n > 1]
    assert not repeated, f"handed out twice: {repeated}"
    return set(ids)


def test_a_read_only_scan_costs_one_request_per_page() -> None:
    with Sandbox(leads(1234)) as sb, sb.client() as client:
        found = client.search_customers(tag="Lead")
        assert assert_once([c["id"] for c in found]) == set(range(1, 1235))
        assert sb.request_count == 13
        assert found.total == 1234
        sb.clear_requests()
        assert len(list(client.list_customers(page_size=50))) == 1234
        assert sb.request_count == 25
        sb.clear_requests()
        assert client.count_customers(tag="Lead") == 1234
        assert sb.request_count == 1


def test_total_fetches_the_first_page_once_and_keeps_it() -> None:
    with Sandbox(leads(250)) as sb, sb.client() as client:
        found = client.search_customers(tag="Lead")
        assert sb.request_count == 0, "nothing is sent before it is asked for"
        assert found.total == 250
        assert len(list(found)) == 250
        # The first page was not asked for twice.
        assert sb.request_count == 3


def test_a_limit_caps_what_is_handed_out_and_the_page_asked_for() -> None:
    with Sandbox(leads(500)) as sb, sb.client() as client:
        assert [c["id"] for c in client.search_customers(tag="Lead", limit=7)] == list(range(1, 8))
        assert sb.request_count == 1
        assert list(client.search_customers(tag="Lead", limit=0)) == []
        assert sb.request_count == 1
        assert len(list(client.search_customers(tag="Lead", limit=250, page_size=100))) == 250


@pytest.mark.parametrize("unstable_ties", [False, True])
def test_untagging_every_customer_found_misses_none(unstable_ties: bool) -> None:
    customers = leads(2000, run=1 if not unstable_ties else 6)
    with Sandbox(customers, unstable_ties=unstable_ties) as sb, sb.client() as client:
        found = client.search_customers(tag="Lead")
        ids = []
        for customer in found:
            client.remove_tags(customer["id"], "Lead")
            ids.append(customer["id"])
        assert assert_once(ids) == set(range(1, 2001))
        assert client.count_customers(tag="Lead") == 0
        assert found.stats["unchecked_tie_runs"] == 0
        assert found.stats["requests"] == search_requests(sb) - 1


def test_untagging_every_customer_found_misses_none_async() -> None:
    async def main(sb: Sandbox) -> list[int]:
        async with sb.async_client() as ac:
            ids = []
            async for customer in ac.search_customers(tag="Lead", page_size=40):
                await ac.remove_tags(customer["id"], "Lead")
                ids.append(customer["id"])
            assert await ac.count_customers(tag="Lead") == 0
            return ids

    with Sandbox(leads(1000, run=3), unstable_ties=True) as sb:
        assert assert_once(asyncio.run(main(sb))) == set(range(1, 1001))


def test_untagging_half_of_them_misses_none() -> None:
    with Sandbox(customers=6000, seed=3) as sb, sb.client() as client:
        leads_at_start = {c["id"] for c in client.search_customers(tag="Lead")}
        ids = []
        for customer in client.search_customers(tag="Lead"):
            if customer["id"] % 2:
                client.remove_tags(customer["id"], "Lead")
            ids.append(customer["id"])
        assert assert_once(ids) == leads_at_start


def test_customers_created_during_the_scan_shift_nobody_out() -> None:
    with Sandbox(leads(1500)) as sb, sb.client() as client:
        ids = []
        for i, customer in enumerate(client.search_customers(tag="Lead", page_size=50)):
            ids.append(customer["id"])
            if i % 25 == 0:
                # A new customer (the newest firstSeen: at the end) and an old one that starts to
                # match (in the middle, behind what was read).
                create(sb, firstSeen=str(1_700_000_000 + i), tags=[{"name": "Lead"}])
                create(sb, firstSeen=str(1_600_000_000 + i // 2), tags=[{"name": "Lead"}])
        found = assert_once(ids)
        assert set(range(1, 1501)) <= found
        # The ones created at the end were reached.
        assert sum(1 for i in found if i > 1500) >= 60


def test_a_total_shrinking_and_growing_under_the_scan_skips_nobody() -> None:
    with Sandbox(leads(3000)) as sb, sb.client() as client:
        removed_by_others = set()
        ids = []
        found = client.search_customers(tag="Lead", page_size=100)
        for i, customer in enumerate(found):
            ids.append(customer["id"])
            if i % 100 == 50:
                # Someone else untags customers not handed out yet, beyond the page fetched
                # ahead (the total shrinks), then new ones arrive (it grows).
                for later in (customer["id"] + 300, customer["id"] + 900):
                    if later <= 3000:
                        untag(sb, later)
                        removed_by_others.add(later)
                for _ in range(3):
                    create(sb, firstSeen="1800000000", tags=[{"name": "Lead"}])
        found_ids = assert_once(ids)
        assert set(range(1, 3001)) - removed_by_others <= found_ids
        assert not removed_by_others & found_ids


@pytest.mark.parametrize("unstable_ties", [False, True])
def test_ties_in_the_sort_key_are_read_whole(unstable_ties: bool) -> None:
    with Sandbox(leads(2000, run=9), unstable_ties=unstable_ties) as sb, sb.client() as client:
        found = client.search_customers(tag="Lead")
        assert assert_once([c["id"] for c in found]) == set(range(1, 2001))
        assert found.stats["unchecked_tie_runs"] == 0
        if not unstable_ties:
            assert found.stats["requests"] == 20


def test_a_tie_run_longer_than_a_page_in_a_fresh_order_is_counted_and_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    customers = leads(300)
    for c in customers[100:250]:
        c["firstSeen"] = "1650000000"
    with Sandbox(customers, unstable_ties=True) as sb, sb.client() as client:
        with caplog.at_level(logging.WARNING, logger="helpcrunch"):
            found = client.search_customers(tag="Lead")
            assert_once([c["id"] for c in found])
        assert found.stats["unchecked_tie_runs"] >= 1
        assert found.stats["unstable_ties"]
        assert "longer than a page" in caplog.text


@pytest.mark.parametrize("cap", [1, 30, 99])
def test_a_capped_page_size_becomes_the_size_the_server_states(cap: int) -> None:
    with Sandbox(leads(120), max_page_size=cap) as sb, sb.client() as client:
        found = client.search_customers(tag="Lead")
        assert assert_once([c["id"] for c in found]) == set(range(1, 121))
        assert found.stats["page_size"] == cap
        # One refusal of 100, then every page at the cap.
        assert sb.status_count(400) == 1
        assert sb.request_count == 1 + -(-120 // cap)


def test_more_filters_than_the_server_takes_is_its_400_naming_filter() -> None:
    with Sandbox(leads(10), max_filters=2) as sb, sb.client() as client:
        found = client.search_customers(
            where=[("email", "=", f"c{i}@example.com") for i in range(3)], match="any"
        )
        with pytest.raises(helpcrunch.BadRequestError) as raised:
            list(found)
        assert "filter" in raised.value.codes
        assert sb.request_count == 1
        assert client.count_customers(where=["email = c1@example.com", "id = 1"]) == 1


def test_searches_find_what_the_filters_say() -> None:
    customers: list[dict[str, Any]] = leads(20)
    customers[3]["tags"] = [{"name": "Lead"}, {"name": "Trial"}]
    customers[5]["location"] = {"countryCode": "PL", "city": "Kraków", "regionCode": None}
    with Sandbox(customers) as sb, sb.client() as client:
        assert [c["id"] for c in client.search_customers(tag=["Lead", "Trial"])] == [4]
        assert [c["id"] for c in client.search_customers(email="c7@example.com")] == [7]
        assert [c["id"] for c in client.search_customers(user_id="u-9")] == [9]
        pl = client.search_customers(where=[("countryCode", "=", "PL")])
        assert [c["id"] for c in pl] == [6]
        either = client.search_customers(email="c1@example.com", user_id="u-2", match="any")
        assert [c["id"] for c in either] == [1, 2]
        assert client.count_customers(where=["id > 15"]) == 5
