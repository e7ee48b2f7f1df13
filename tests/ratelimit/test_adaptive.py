"""Another client of the same account that ignores the limiter: the shared rate adapts down,
and once that client stops, climbs back to the configured rate; every process of the fleet
learns both from the budget.

The fleet (a worker process and a client in this process, sharing one Redis budget) runs at the
sandbox's limit until the sandbox has counted a full window of its requests with no 429. Then
a greedy client with no rate limit sends until the sandbox refuses it, and stops: the window is
full, so the fleet's next requests are refused too. Every step waits for what the fleet logs or
the sandbox counts, never for a time picked in advance.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.bulk import tagged_customers
from tests.support.fleet import RATE, account_hash, finish, start_worker
from tests.support.processes import wait_for
from tests.support.redis_server import RedisServer

KEY = "adaptive-account-key-3c8d0e71f4"
RATE_LINE = re.compile(r"rate limit (?:lowered to|now) ([0-9.]+) requests a minute")


def rates_logged(lines: list[str]) -> list[float]:
    """The rates the helpcrunch logger announced, in order."""
    return [float(m.group(1)) for line in lines if (m := RATE_LINE.search(line))]


@pytest.mark.long
def test_a_client_ignoring_the_limiter_makes_the_shared_rate_adapt_and_recover(
    redis_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="helpcrunch")
    stop_file = tmp_path / "stop"
    stop = threading.Event()

    def here() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "helpcrunch"]

    with Sandbox(tagged_customers(200), api_key=KEY, rate_limit=RATE) as sandbox:
        worker = start_worker(
            sandbox, (1, 100), redis_server.url, stop_file=stop_file, HELPCRUNCH_LOG="info"
        )
        member = helpcrunch.Client(
            api_key=KEY,
            base_url=sandbox.base_url,
            rate_limit=RATE,
            rate_limit_backend=redis_server.url,
        )
        given: list[int] = []

        def items() -> Iterator[tuple[int, str]]:
            while not stop.is_set():
                given.append(101 + len(given) % 100)
                yield given[-1], "Lead"

        reports: list[helpcrunch.BulkReport] = []
        thread = threading.Thread(
            target=lambda: reports.append(member.remove_tags_many(items(), concurrency=4))
        )
        thread.start()
        try:
            # A full window at the limit, and not one request refused.
            wait_for(lambda: sandbox.request_count >= RATE, 180, "a full window of requests")
            assert sandbox.status_count(429) == 0
            assert rates_logged(here()) == []

            greedy = helpcrunch.Client(
                api_key=KEY, base_url=sandbox.base_url, rate_limit=None, max_retries=0
            )
            sent = 0
            with pytest.raises(helpcrunch.RateLimitError):
                while sent < 2 * RATE:
                    sent += 1
                    greedy.get_customer(1)
            refused_before = sandbox.status_count(429)

            # Down, here as in the worker: by a 429 of its own, or from the shared budget.
            wait_for(lambda: any(r < RATE for r in rates_logged(here())), 60, "the rate to drop")
            # Then back to the configured rate, the greedy client being gone.
            wait_for(lambda: rates_logged(here())[-1:] == [RATE], 180, "the rate to recover")
            # A few more requests, so that the worker too has paced some at the recovered rate.
            recovered_at = sandbox.request_count
            wait_for(lambda: sandbox.request_count >= recovered_at + 20, 60, "more requests")
        finally:
            stop.set()
            stop_file.touch()
            thread.join(60)
            finish([worker])

        fleet_refused = sandbox.status_count(429) - refused_before
        epoch = int(redis_server.hash(f"helpcrunch:rate-limit:{account_hash(KEY)}")["epoch"])

    here_rates = rates_logged(here())
    worker_rates = rates_logged(worker.stderr.splitlines())
    print(
        f"\ngreedy client: {sent} requests; fleet refused {fleet_refused} times; "
        f"decreases stored {epoch}; rates logged here {here_rates}, in the worker {worker_rates}"
    )
    assert epoch >= 1, "the decrease is stored in the shared budget"
    # Each member of the fleet went below the configured rate, never above it, and ended at it.
    for rates in (here_rates, worker_rates):
        assert min(rates) < RATE * 0.8, rates
        assert max(rates) == rates[-1] == RATE, rates
    assert member.current_rate_limit == RATE
    assert worker.outcome["current_rate"] == RATE

    # Nothing lost: every item accounted for; a failure can only be a refusal that outlasted
    # its retries.
    (report,) = reports
    assert [r.customer_id for r in report] == given
    assert {type(f.error) for f in report.failures} <= {helpcrunch.RateLimitError}
    outcome = worker.outcome
    assert outcome["accounted"] and outcome["reported"] == outcome["given"], outcome
    assert set(outcome["errors"]) <= {"RateLimitError"}, outcome
