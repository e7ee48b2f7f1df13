"""Pace and concurrency: a bulk run keeps to the client's rate limit against a sandbox that enforces one.

The sandbox answers 429 past ``rate_limit`` requests in any 60 s. A run shorter than a minute
can only exceed that by sending more than ``N`` requests, so the pace test also checks the
achieved rate from the other side: close to ``N`` (no idling) and not above it (a longer run
at that rate would stay within the server's window)."""

from __future__ import annotations

import time

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.bulk import tagged_customers

LIMIT = 300  # a minute: one request every 0.2 s, so 60 items take about 12 s
ITEMS = 60


@pytest.mark.long
def test_a_run_at_the_servers_limit_gets_no_429_and_keeps_the_pace() -> None:
    finished_at: list[float] = []

    def progress(done: int, total: int | None, result: helpcrunch.BulkResult) -> None:
        finished_at.append(time.monotonic())

    with (
        Sandbox(customers=tagged_customers(ITEMS), rate_limit=LIMIT) as sb,
        sb.client(rate_limit=LIMIT, max_retries=0) as client,
    ):
        report = client.remove_tags_many(
            [(i, "Lead") for i in range(1, ITEMS + 1)], concurrency=8, progress=progress
        )
        assert sb.status_count(429) == 0
        assert report.succeeded == ITEMS
        assert sb.request_count == ITEMS

    # ITEMS requests leave ITEMS - 1 intervals apart.
    per_minute = (ITEMS - 1) / (finished_at[-1] - finished_at[0]) * 60
    assert per_minute >= 0.9 * LIMIT, f"{per_minute:.0f}/min: the run idled"
    assert per_minute <= 1.03 * LIMIT, f"{per_minute:.0f}/min: faster than the limit"


def test_without_the_client_limiter_the_sandbox_answers_429() -> None:
    # The sandbox's limit is real: the same kind of run with the client's limiter off and
    # more items than the server allows a minute gets 429s.
    server_limit = 20
    with (
        Sandbox(customers=tagged_customers(30), rate_limit=server_limit) as sb,
        sb.client(rate_limit=None, max_retries=0) as client,
    ):
        report = client.remove_tags_many([(i, "Lead") for i in range(1, 31)])
        assert sb.status_count(429) == 30 - server_limit
    limited = [r for r in report if isinstance(r.error, helpcrunch.RateLimitError)]
    assert len(limited) == 30 - server_limit
    assert report.succeeded == server_limit


def test_concurrency_bounds_the_requests_in_flight() -> None:
    # Each request is held 50 ms at the server; the client opens a connection per request in
    # flight, so the connections the sandbox accepted are the largest number in flight at once.
    with Sandbox() as sb, sb.client() as client:
        sb.delay_next(0.05, times=1000)
        report = client.remove_tags_many(
            [(542335 + i % 10, "Lead") for i in range(24)], concurrency=3
        )
        assert report.succeeded == 24
        assert sb.connection_count == 3
