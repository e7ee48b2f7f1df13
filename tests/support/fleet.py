"""A fleet of worker processes sharing one account's rate limit, for tests/ratelimit/: the worker
each process runs, starting and collecting them, and the rate a sandbox counted.

A worker is a fresh interpreter running :func:`work`: one ``Client`` with the given rate and
backend untags its own range of customer ids in one bulk run (so the sandbox's request log says
which worker sent what), then prints one JSON line accounting for every item.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.processes import child_env, last_json_line, start_child, wait_for

#: The sandbox's limit and every worker's rate: 600 a minute keeps the tests short.
RATE = 600
#: The floor: a fleet must reach this share of the limit.
FLOOR = 0.97


def account_hash(api_key: str) -> str:
    """The account's name in a shared budget, as README documents it."""
    return hashlib.sha256(b"helpcrunch rate limit account v1\0" + api_key.encode()).hexdigest()


def work(config_json: str) -> None:
    """A worker's whole life (see the module's doc). ``ids`` is ``[first, last]``; with a
    ``stop_file`` the range is cycled until the file exists. ``backend`` None: the client
    reads ``HELPCRUNCH_RATE_LIMIT_BACKEND``."""
    config = json.loads(config_json)
    client = helpcrunch.Client(
        api_key=config["api_key"],
        base_url=config["base_url"],
        rate_limit=config["rate"],
        rate_limit_backend=config["backend"],
    )
    first, last = config["ids"]
    stop_file = config.get("stop_file")
    given: list[int] = []

    def items() -> Iterator[tuple[int, str]]:
        i = 0
        while True:
            if stop_file is None and i > last - first:
                return
            if stop_file is not None and os.path.exists(stop_file):
                return
            customer_id = first + i % (last - first + 1)
            given.append(customer_id)
            yield customer_id, "Lead"
            i += 1

    report = client.remove_tags_many(items(), concurrency=config["concurrency"])
    print(
        json.dumps(
            {
                "pid": os.getpid(),
                "given": len(given),
                "reported": len(report),
                # Every item once, in input order, each with the id it was given.
                "accounted": [r.customer_id for r in report] == given,
                "succeeded": report.succeeded,
                "errors": dict(Counter(type(r.error).__name__ for r in report.failures)),
                "current_rate": client.current_rate_limit,
            }
        ),
        flush=True,
    )


@dataclass
class Worker:
    process: subprocess.Popen[str]
    ids: tuple[int, int]
    outcome: dict[str, Any] = field(default_factory=dict)
    stderr: str = ""

    def owns(self, customer_id: int) -> bool:
        return self.ids[0] <= customer_id <= self.ids[1]


def start_worker(
    sandbox: Sandbox,
    ids: tuple[int, int],
    backend: str | None,
    *,
    stop_file: Path | None = None,
    concurrency: int = 4,
    **env: str,
) -> Worker:
    config = {
        "api_key": sandbox.api_key,
        "base_url": sandbox.base_url,
        "rate": RATE,
        "backend": backend,
        "ids": list(ids),
        "stop_file": None if stop_file is None else str(stop_file),
        "concurrency": concurrency,
    }
    script = f"from tests.support.fleet import work; work({json.dumps(config)!r})"
    return Worker(start_child(script, child_env(**env)), ids)


def finish(workers: list[Worker], timeout: float = 180) -> None:
    """Wait for every worker to end (failing the test past ``timeout``: a hang), and read what
    each printed."""
    deadline = time.monotonic() + timeout
    for worker in workers:
        try:
            out, worker.stderr = worker.process.communicate(
                timeout=max(1.0, deadline - time.monotonic())
            )
        except subprocess.TimeoutExpired:
            for w in workers:
                w.process.kill()
            raise AssertionError(f"a worker hung for more than {timeout} s") from None
        assert worker.process.returncode == 0, worker.stderr
        worker.outcome = last_json_line(out)


def customer_id_of(path: str) -> int | None:
    """The id in ``/v1/customers/{id}/tags``."""
    parts = path.split("/")
    return int(parts[3]) if len(parts) >= 4 and parts[3].isdigit() else None


@dataclass
class Measured:
    """What a sandbox counted between two moments: from its ``first``-th request to its
    ``last``-th, ``seconds`` apart as this process saw them."""

    first: int
    last: int
    seconds: float

    @property
    def per_minute(self) -> float:
        return (self.last - self.first) / self.seconds * 60

    @property
    def share(self) -> float:
        return self.per_minute / RATE


def measure(sandbox: Sandbox, after: int, count: int, timeout: float = 180) -> Measured:
    """The rate the sandbox counted over ``count`` requests, from the moment it has counted
    ``after`` (past the workers' start). Both ends are moments the count is seen to reach a
    number, never a time picked in advance: a slow machine makes the window longer, not the
    figure wrong."""
    started = wait_for(
        lambda: (n := sandbox.request_count) >= after and (time.monotonic(), n),
        timeout,
        f"{after} requests",
    )
    t0, n0 = started
    ended = wait_for(
        lambda: (n := sandbox.request_count) >= n0 + count and (time.monotonic(), n),
        timeout,
        f"{count} more requests",
    )
    t1, n1 = ended
    return Measured(n0, n1, t1 - t0)
