"""Redis killed and started again while two processes share a budget through it: no hang (the
requests go on while it is down, each process pacing itself at a quarter), no lost item (each
bulk run's report accounts for every item), one WARNING per process for the outage and one INFO
when it rejoins the budget. Every step waits for something the sandbox or Redis shows, never
for a time picked in advance."""

from __future__ import annotations

import re

import pytest

from helpcrunch.sandbox import Sandbox
from tests.support.bulk import requests_per_customer, tagged_customers
from tests.support.fleet import RATE, account_hash, finish, start_worker
from tests.support.processes import wait_for
from tests.support.redis_server import RedisServer

KEY = "outage-account-key-5be21f0c9a"
PER_WORKER = 150


@pytest.mark.long
def test_redis_killed_and_restarted_mid_run(redis_server: RedisServer) -> None:
    budget_key = f"helpcrunch:rate-limit:{account_hash(KEY)}"
    with Sandbox(tagged_customers(2 * PER_WORKER), api_key=KEY, rate_limit=RATE) as sandbox:
        # The backend from the environment, as a deployment would set it.
        workers = [
            start_worker(
                sandbox,
                (1 + i * PER_WORKER, (i + 1) * PER_WORKER),
                None,
                HELPCRUNCH_RATE_LIMIT_BACKEND=redis_server.url,
                HELPCRUNCH_LOG="info",
            )
            for i in range(2)
        ]
        try:
            wait_for(lambda: sandbox.request_count >= 40, 60, "the run to start")
            assert budget_key in redis_server.keys()
            redis_server.kill()
            down_at = sandbox.request_count
            # No hang: requests go on while Redis is down.
            wait_for(lambda: sandbox.request_count >= down_at + 20, 60, "requests without Redis")
            redis_server.start()
            # Rejoined: a grant wrote the budget again (the new server started empty).
            wait_for(lambda: budget_key in redis_server.keys(), 60, "a process to rejoin")
        finally:
            finish(workers)

        assert sandbox.status_count(429) == 0
        assert set(requests_per_customer(sandbox)) == set(range(1, 2 * PER_WORKER + 1))

    for worker in workers:
        outcome = worker.outcome
        assert outcome["accounted"] and outcome["reported"] == outcome["given"] == PER_WORKER
        assert outcome["succeeded"] == PER_WORKER, outcome
        lines = worker.stderr.splitlines()
        warnings = [line for line in lines if " WARNING]" in line]
        assert len(warnings) == 1, worker.stderr
        assert re.search(
            rf"rate limit backend {re.escape(redis_server.url)} is unavailable \(.+\); this "
            r"process paces itself alone at 150\.0 requests a minute until it answers again",
            warnings[0],
        ), warnings[0]
        back = [line for line in lines if "answers again; sharing its budget" in line]
        assert len(back) == 1 and " INFO]" in back[0], worker.stderr
        assert lines.index(warnings[0]) < lines.index(back[0])
        assert KEY not in worker.stderr
