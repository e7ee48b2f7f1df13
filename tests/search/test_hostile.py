"""Every scan ends, whatever a server answers about its pages: a total that overstates or
understates what it serves (counted while customers come and go), a deep-paging cap, pages
shorter than asked, empty pages in the middle, a total that changes between pages, pages that
repeat customers, the same page for ever, a total of 10^12, and totals that are not counts.
For ``search_customers``, ``list_customers`` and ``plan_tag`` (whose holder searches, lookups
and scans page the same way), over HTTP to the scripted server, which counts the requests:
each query costs at most ``ceil(served / page_size)`` + ``EXTRA_REQUESTS`` per surprise."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import helpcrunch
from helpcrunch._native import NativeSearch
from tests.support.scripted_server import API_KEY, Reply, ReplyFor, Request, ScriptedServer
from tests.support.search import leads, page, page_window

#: The pager's own bound on what one surprise costs (src/core/paging/mod.rs).
EXTRA = NativeSearch.EXTRA_REQUESTS

SETTINGS: dict[str, Any] = {"rate_limit": None, "max_retries": 0, "timeout": 10.0}


@dataclass
class Hostile:
    """Customers ``1..n`` (tagged Lead, ``firstSeen`` rising), answered to every page request
    (any search, or the list) with one lie. ``at``: the page requests (counted from 0) the lie
    is told on, for the lies told now and then."""

    n: int
    lie: str
    amount: int = 0
    at: tuple[int, ...] = ()
    customers: list[dict[str, Any]] = field(default_factory=list)
    #: Per query (its filters, or "list"): the distinct ids sent, and the requests.
    served: dict[str, set[int]] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.customers = leads(self.n)

    def surprises(self) -> int:
        return max(1, len(self.at))

    def answer(self, request: Request) -> Reply:
        offset, limit = page_window(request)
        query = json.dumps(request.json["filter"]) if request.method == "POST" else "list"
        count = sum(self.requests.values())
        self.requests[query] = self.requests.get(query, 0) + 1
        start, end, total = offset, offset + limit, self.n
        now = count in self.at
        match self.lie:
            case "overstated":
                total = self.n + self.amount
            case "understated":
                total = max(0, self.n - self.amount)
            case "total":
                total = self.amount
            case "deep cap":
                end = min(end, self.amount)
            case "short" if now:
                end = start + limit * self.amount // 100
            case "empty" if now:
                end = start
            case "total changes" if count >= self.at[0]:
                total = max(0, self.n + self.amount)
            case "repeats" if now:
                start = max(0, start - self.amount)
                end = start + limit
            case "pages of":
                end = min(end, start + self.amount)
            case "same page":
                start, end = 0, limit
        customers = self.customers[start : max(start, end)]
        self.served.setdefault(query, set()).update(c["id"] for c in customers)
        return page(customers, total)

    def assert_bounded(self, page_size: int, ties: bool = False) -> None:
        """Each query within the bound; ``ties``: the search took a repeated page for equal
        ``firstSeen`` values in a fresh order, so every later page re-reads the customers at
        its join (the last one read, the one before, and up to three more)."""
        if self.lie == "pages of":
            page_size = min(page_size, self.amount)
        if ties:
            page_size = max(1, page_size - 5)
        for query, requests in self.requests.items():
            pages = max(1, math.ceil(len(self.served.get(query, ())) / page_size))
            bound = pages + EXTRA * self.surprises()
            assert requests <= bound, f"{self}: {query}: {requests} requests, bound {bound}"


def scan(hostile: Hostile, way: str, page_size: int) -> tuple[list[int], dict[str, Any]]:
    """Run a search (``way``: search, list or async) to its end against ``hostile``: the ids
    handed out and the stats."""
    with ScriptedServer() as server:
        server.set_default(ReplyFor(hostile.answer))
        if way == "async":

            async def main() -> tuple[list[int], dict[str, Any]]:
                async with helpcrunch.AsyncClient(
                    api_key=API_KEY, base_url=server.base_url, **SETTINGS
                ) as ac:
                    found = ac.search_customers(tag="Lead", page_size=page_size)
                    return [c["id"] async for c in found], dict(found.stats)

            return asyncio.run(main())
        with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, **SETTINGS) as c:
            if way == "list":
                found = c.list_customers(page_size=page_size)
            else:
                found = c.search_customers(tag="Lead", page_size=page_size)
            return [customer["id"] for customer in found], dict(found.stats)


def assert_ends_bounded(hostile: Hostile, way: str, page_size: int) -> list[int]:
    ids, stats = scan(hostile, way, page_size)
    assert len(set(ids)) == len(ids), "handed out twice"
    hostile.assert_bounded(page_size, stats["unstable_ties"])
    assert stats["requests"] == sum(hostile.requests.values())
    return ids


WAYS = ["search", "list", "async"]

#: (lie, amount, at, complete): every lie of the issue for 23 customers in pages of 5, and
#: whether every customer is still handed out.
LIES = [
    ("overstated", 5, (), True),
    ("overstated", 1, (), True),
    ("total", 10**12, (), True),
    ("understated", 2, (), True),
    ("deep cap", 20, (), False),
    ("deep cap", 7, (), False),
    ("deep cap", 0, (), False),
    ("short", 40, (2,), True),
    ("short", 0, (1, 3), True),
    ("empty", 0, (2,), True),
    ("empty", 0, (0,), True),
    ("total changes", -4, (2,), True),
    ("total changes", 6, (1,), True),
    ("repeats", 3, (2,), True),
    ("pages of", 3, (), True),
    ("same page", 0, (), False),
]


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(("lie", "amount", "at", "complete"), LIES)
def test_every_scan_ends_within_the_bound(
    way: str, lie: str, amount: int, at: tuple[int, ...], complete: bool
) -> None:
    hostile = Hostile(23, lie, amount, at)
    ids = assert_ends_bounded(hostile, way, 5)
    if complete:
        assert sorted(ids) == list(range(1, 24))
    elif lie == "deep cap":
        assert ids == list(range(1, amount + 1))
    else:
        assert ids == list(range(1, 6))


def test_the_issues_case_costs_two_requests_more_and_is_said(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 23 customers, a total of 28: the loop the issue saw (offsets 0, 5, 10, 15, 20, 23, 21,
    # 23, 22, 23, 22 ...) ends after the empty page and the re-read before it.
    hostile = Hostile(23, "overstated", 5)
    with caplog.at_level(logging.WARNING, logger="helpcrunch"):
        ids, stats = scan(hostile, "search", 5)
    assert ids == list(range(1, 24))
    assert stats["requests"] == 7
    assert stats["total_disagrees"] is True
    assert stats["page_size"] == 5
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "total (28 on the first page)" in warnings[0].getMessage()
    assert "served (23)" in warnings[0].getMessage()


def test_an_honest_server_is_not_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="helpcrunch"):
        ids, stats = scan(Hostile(23, "overstated", 0), "search", 5)
    assert ids == list(range(1, 24))
    assert stats["requests"] == 5
    assert stats["total_disagrees"] is False
    assert not caplog.records


def test_one_short_page_does_not_shrink_the_rest_of_the_scan() -> None:
    hostile = Hostile(100, "short", 20, (1,))
    ids, stats = scan(hostile, "search", 10)
    assert sorted(ids) == list(range(1, 101))
    assert stats["page_size"] == 10
    # 10 pages, and one more for the 8 the short answer left out.
    assert stats["requests"] == 11


@pytest.mark.parametrize(
    "total",
    [-3, 2.5, "28", None, 10**30],
    ids=["negative", "fraction", "text", "null", "beyond u64"],
)
def test_a_total_that_is_not_a_count_ends_the_scan_with_an_error(total: object) -> None:
    with ScriptedServer() as server:
        server.set_default(Reply(200, {"data": leads(5), "total": total}))
        with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, **SETTINGS) as c:
            with pytest.raises(helpcrunch.APIResponseValidationError, match="total"):
                list(c.search_customers(tag="Lead", page_size=5))
        assert len(server.requests) == 1


lies = st.one_of(
    st.tuples(st.sampled_from(["overstated", "understated"]), st.integers(0, 60), st.just(())),
    st.tuples(st.just("total"), st.sampled_from([0, 1, 10**12]), st.just(())),
    st.tuples(st.just("deep cap"), st.integers(0, 80), st.just(())),
    st.tuples(
        st.sampled_from(["short", "empty"]),
        st.integers(0, 99),
        st.lists(st.integers(0, 12), min_size=1, max_size=2, unique=True).map(tuple),
    ),
    st.tuples(st.just("total changes"), st.integers(-8, 30), st.integers(0, 8).map(lambda i: (i,))),
    st.tuples(st.just("repeats"), st.integers(2, 5), st.integers(1, 8).map(lambda i: (i,))),
    st.tuples(st.just("pages of"), st.integers(1, 9), st.just(())),
    st.tuples(st.just("same page"), st.just(0), st.just(())),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    n=st.integers(0, 60),
    page_size=st.integers(3, 12),
    lie=lies,
    way=st.sampled_from(["search", "list"]),
)
def test_any_hostile_server_is_scanned_to_an_end_within_the_bound(
    n: int, page_size: int, lie: tuple[str, int, tuple[int, ...]], way: str
) -> None:
    hostile = Hostile(n, *lie)
    ids = assert_ends_bounded(hostile, way, page_size)
    if lie[0] in ("overstated", "pages of") or (lie[0] == "total" and lie[1] >= n):
        assert sorted(ids) == list(range(1, n + 1))


PLAN_LIES = [
    ("overstated", 50, ()),
    ("total", 10**12, ()),
    ("deep cap", 150, ()),
    ("short", 30, (1,)),
    ("empty", 0, (1,)),
    ("total changes", -20, (1,)),
    ("repeats", 3, (1,)),
    ("pages of", 40, ()),
    ("same page", 0, ()),
]


@pytest.mark.parametrize(("lie", "amount", "at"), PLAN_LIES)
def test_planning_a_tag_sync_ends_within_the_bound(
    lie: str, amount: int, at: tuple[int, ...]
) -> None:
    # Every search of the plan (the holders, the lookups, a scan of the account) is answered
    # from the same 250 customers with the lie: each pages to an end within the bound.
    hostile = Hostile(250, lie, amount, at)
    audience = [f"c{i}@example.com" for i in (3, 140, 240)] + ["nobody@example.com"]
    with ScriptedServer() as server:
        server.set_default(ReplyFor(hostile.answer))
        with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, **SETTINGS) as c:
            plan = c.plan_tag("Lead", audience)
    assert plan.requests["total"] == len(server.requests)
    hostile.assert_bounded(100)
