"""Processes sharing one account's budget, through Redis and through a file, against sandboxes
that enforce a strict sliding window of 600 requests a minute (as HelpCrunch enforces 120).

For each backend: four worker processes of account A, each untagging its own ids, and one
worker of account B, all five sharing the one Redis server (or the one file), each account
against a sandbox of its own (a sandbox accepts one key). Both backends run at the same time
(ten processes, four sandboxes), which keeps the suite short; nothing is shared between them.
The rates are what each sandbox counted over a window of 300 requests; every worker runs past
600 requests' worth, so the sliding window would refuse anything faster than the limit.

- Together A's four reach >= 97 % of the limit with zero 429s, all four sending during the
  window (no process idles while another has work).
- B alone reaches the same, at the same time: one process can use the whole budget (no fixed
  split), and two accounts never share one (sharing, each would get about half).
- The key is nowhere in Redis (``KEYS *``, every command ``MONITOR`` saw) or in the file: the
  budgets are named by the documented hash.
"""

from __future__ import annotations

import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpcrunch.sandbox import Sandbox
from tests.support.bulk import tagged_customers
from tests.support.fleet import (
    FLOOR,
    RATE,
    Measured,
    Worker,
    account_hash,
    customer_id_of,
    finish,
    measure,
    start_worker,
)
from tests.support.redis_server import RedisServer

KEY_A = "fleet-account-a-key-7d1e0c55b2"
KEY_B = "fleet-account-b-key-90af3c6e41"
#: Each of A's four workers: 180 ids (720 requests together, 72 s at the limit).
PER_WORKER = 180
#: B's one worker: 660 requests (66 s).
ALONE = 660
#: The window the rate is measured over, after the first WARM_UP requests.
WARM_UP, WINDOW = 100, 300


@dataclass
class Run:
    """One backend's run: A's four workers and B's one, each account on its sandbox."""

    name: str
    backend: str
    a: Sandbox
    b: Sandbox
    fleet: list[Worker] = field(default_factory=list)
    alone: list[Worker] = field(default_factory=list)
    measured: dict[str, Measured] = field(default_factory=dict)

    def start(self) -> None:
        self.fleet = [
            start_worker(self.a, (1 + i * PER_WORKER, (i + 1) * PER_WORKER), self.backend)
            for i in range(4)
        ]
        self.alone = [start_worker(self.b, (1, ALONE), self.backend)]

    def check(self) -> None:
        fleet, alone = self.measured["a"].share, self.measured["b"].share
        print(
            f"\n{self.name}: four processes {self.measured['a'].per_minute:.1f}/min "
            f"({fleet:.1%}), one alone {self.measured['b'].per_minute:.1f}/min ({alone:.1%}), "
            f"limit {RATE}, 429s: {self.a.status_count(429)} and {self.b.status_count(429)}"
        )
        # Every item of every worker accounted for, sent once and accepted.
        for worker in self.fleet + self.alone:
            outcome = worker.outcome
            assert outcome["accounted"] and outcome["reported"] == outcome["given"], outcome
            assert outcome["succeeded"] == outcome["given"], outcome
        for sandbox, total in ((self.a, 4 * PER_WORKER), (self.b, ALONE)):
            assert sandbox.request_count == total
            assert sandbox.status_count(429) == 0, f"{self.name}: the window refused a request"

        # All four of A's workers were sending during the window A was measured over.
        window = self.a.requests[self.measured["a"].first : self.measured["a"].last]
        senders = Counter(
            next(i for i, w in enumerate(self.fleet) if w.owns(cid))
            for r in window
            if (cid := customer_id_of(r.path)) is not None
        )
        assert sorted(senders) == [0, 1, 2, 3], senders

        assert fleet >= FLOOR, f"{self.name}: four processes reached {fleet:.1%} of the limit"
        assert alone >= FLOOR, f"{self.name}: one process alone reached {alone:.1%} of the limit"


def run_all(runs: list[Run]) -> None:
    """Start every run's workers, measure every sandbox at once, wait for all to end."""
    for run in runs:
        run.start()
    try:
        jobs = [
            (run, name, sandbox) for run in runs for name, sandbox in (("a", run.a), ("b", run.b))
        ]
        with ThreadPoolExecutor(len(jobs)) as pool:
            results = pool.map(lambda job: measure(job[2], WARM_UP, WINDOW), jobs)
            for (run, name, _), measured in zip(jobs, results, strict=True):
                run.measured[name] = measured
    finally:
        finish([w for run in runs for w in run.fleet + run.alone])
    for run in runs:
        run.check()


def sandboxes(stack: ExitStack) -> tuple[Sandbox, Sandbox]:
    a = stack.enter_context(
        Sandbox(tagged_customers(4 * PER_WORKER), api_key=KEY_A, rate_limit=RATE)
    )
    b = stack.enter_context(Sandbox(tagged_customers(ALONE), api_key=KEY_B, rate_limit=RATE))
    return a, b


@pytest.mark.long
def test_processes_share_one_budget_through_redis_and_through_a_file(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    budget = tmp_path / "budget"
    with ExitStack() as stack:
        redis = Run("redis", redis_server.url, *sandboxes(stack))
        file = Run("file", budget.as_uri(), *sandboxes(stack))
        commands = stack.enter_context(redis_server.monitor())
        run_all([redis, file])

    # Redis: one hash per account, named by the documented hash, nothing else.
    expected = sorted(f"helpcrunch:rate-limit:{account_hash(key)}" for key in (KEY_A, KEY_B))
    assert redis_server.keys() == expected
    for key in expected:
        assert set(redis_server.hash(key)) == {"tat", "seen", "rate", "at", "epoch", "low", "rel"}
    # Every command the server got (the script's text included) is free of both keys.
    sent = "\n".join(commands)
    assert len(commands) >= 4 * PER_WORKER + ALONE, "MONITOR saw every grant"
    for key in (KEY_A, KEY_B):
        assert key not in sent
    assert set(re.findall(r"helpcrunch:rate-limit:([0-9a-f]+)", sent)) == {
        account_hash(KEY_A),
        account_hash(KEY_B),
    }

    # The file: its header, and one line per account, by the same hash.
    text = budget.read_text()
    header, *lines = text.splitlines()
    assert header.startswith("helpcrunch-rate-limit v2")
    assert sorted(line.split()[0] for line in lines) == sorted(
        account_hash(key) for key in (KEY_A, KEY_B)
    )
    for key in (KEY_A, KEY_B):
        assert key not in text
