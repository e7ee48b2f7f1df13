"""What a stopped run says about items in flight, and when finished items reach the caller.

- Attempts count what went on the wire: an item cancelled after its request reached the server
  reports ``attempts >= 1``; ``attempts == 0`` means the server never saw it. Checked against
  the server's own log, for every way a run stops (break, Ctrl-C, on_error="raise", a
  cancelled task), in the report and in the checkpoint.
- A slow input does not hold finished items back: they are handed over (and checkpointed)
  before more rows are read, and while an async input is waiting.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import helpcrunch
from tests.support.processes import wait_for
from tests.support.scripted_server import API_KEY, Hang, Reply, ScriptedServer

#: Customers whose requests the server holds without answering; the others are answered.
HELD = {1, 2, 3}
ROWS = [(i, "Lead") for i in range(1, 41)]


def serving(server: ScriptedServer) -> None:
    """Hold the requests for HELD customers, answer the rest (a 404 for customer 40)."""

    class Held(Hang):
        pass

    def perform(conn: Any, request: Any) -> bool:
        cid = int(re.search(r"/customers/(\d+)", request.path).group(1))  # type: ignore[union-attr]
        if cid in HELD:
            return Hang().perform(conn, request)
        if cid == 40:
            return Reply(404, {"errors": [{"code": "not_found", "message": "no"}]}).perform(
                conn, request
            )
        return Reply(200, {"id": cid, "tags": []}).perform(conn, request)

    action = Held()
    action.perform = perform  # type: ignore[method-assign]
    server.set_default(action)


def seen_ids(server: ScriptedServer) -> set[int]:
    return {int(r.path.split("/")[2]) for r in server.requests}


def check_attempts(results: list[tuple[Any, int]], server: ScriptedServer) -> None:
    """Call once the server is closed, so that every request that reached it is in its log.
    (An item may have been on its way when the run stopped: sent, yet never received. So the
    claim checked is that attempts=0 means the server never saw it.)"""
    seen = seen_ids(server)
    assert HELD <= seen
    for customer_id, attempts in results:
        if customer_id in seen:
            assert attempts >= 1, f"customer {customer_id} reached the server, claims {attempts}"
    assert any(attempts == 0 for _, attempts in results), "no item was stopped before sending"


def held_arrived(server: ScriptedServer) -> bool:
    return HELD <= seen_ids(server)


def client_for(server: ScriptedServer) -> helpcrunch.Client:
    return helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None)


def test_breaking_out_of_a_stream_reports_what_was_sent(tmp_path: Path) -> None:
    checkpoint = tmp_path / "run.jsonl"
    with ScriptedServer() as server, client_for(server) as client:
        serving(server)
        for result in client.iter_remove_tags(ROWS, concurrency=4, checkpoint=checkpoint):
            if result.ok:
                wait_for(lambda: held_arrived(server), what="the held requests")
                break
    entries = [json.loads(line) for line in checkpoint.read_text().splitlines()]
    assert {e["customer_id"] for e in entries} >= HELD
    check_attempts([(e["customer_id"], e["attempts"]) for e in entries], server)


def test_ctrl_c_reports_what_was_sent() -> None:
    def progress(done: int, total: Any, result: helpcrunch.BulkResult) -> None:
        wait_for(lambda: held_arrived(server), what="the held requests")
        raise KeyboardInterrupt

    with ScriptedServer() as server, client_for(server) as client:
        serving(server)
        with pytest.raises(helpcrunch.BulkInterrupted) as caught:
            client.remove_tags_many(ROWS, concurrency=4, progress=progress)
    report = caught.value.report
    assert {r.customer_id for r in report} >= HELD
    check_attempts([(r.customer_id, r.attempts) for r in report], server)


def test_stopping_at_a_failure_reports_what_was_sent() -> None:
    rows = [(1, "Lead"), (2, "Lead"), (3, "Lead"), (40, "Lead"), *ROWS[3:39]]
    with ScriptedServer() as server, client_for(server) as client:
        serving(server)
        with pytest.raises(helpcrunch.BulkError) as caught:
            client.remove_tags_many(rows, concurrency=4, on_error="raise")
    report = caught.value.report
    check_attempts([(r.customer_id, r.attempts) for r in report], server)
    assert {r.attempts for r in report if r.customer_id in HELD} == {1}


def test_cancelling_an_async_run_reports_what_was_sent(tmp_path: Path) -> None:
    checkpoint = tmp_path / "run.jsonl"

    async def main(server: ScriptedServer) -> None:
        async with helpcrunch.AsyncClient(
            api_key=API_KEY, base_url=server.base_url, rate_limit=None
        ) as client:
            task = asyncio.create_task(
                client.remove_tags_many(ROWS, concurrency=4, checkpoint=checkpoint)
            )
            while not held_arrived(server):
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    with ScriptedServer() as server:
        serving(server)
        asyncio.run(main(server))
    entries = [json.loads(line) for line in checkpoint.read_text().splitlines()]
    assert {e["customer_id"] for e in entries} >= HELD
    check_attempts([(e["customer_id"], e["attempts"]) for e in entries], server)


# A slow input


def test_an_async_input_waiting_for_more_does_not_hold_back_finished_items(
    tmp_path: Path,
) -> None:
    checkpoint = tmp_path / "run.jsonl"
    handed_over: list[int] = []
    waited_for_first: list[bool] = []

    async def rows() -> AsyncIterator[tuple[int, str]]:
        yield (5, "Lead")
        # A queue that only gets its next row once the first result is out (as a pipeline
        # whose next stage feeds the queue would): bounded, so a run that holds results back
        # fails here rather than hanging.
        for _ in range(1500):
            if handed_over:
                break
            await asyncio.sleep(0.02)
        waited_for_first.append(bool(handed_over))
        lines = checkpoint.read_text().splitlines()
        waited_for_first.append(any(json.loads(line)["customer_id"] == 5 for line in lines))
        yield (6, "Lead")

    async def main(server: ScriptedServer) -> None:
        async with helpcrunch.AsyncClient(
            api_key=API_KEY, base_url=server.base_url, rate_limit=None
        ) as client:
            async for result in client.iter_remove_tags(rows(), checkpoint=checkpoint):
                handed_over.append(result.index)

    with ScriptedServer() as server:
        asyncio.run(main(server))
    assert waited_for_first == [True, True], "the first result waited for the second row"
    assert sorted(handed_over) == [0, 1]


@pytest.mark.parametrize("way", ["many", "iter"])
def test_a_slow_input_gets_each_result_handed_over_before_the_next_rows(
    tmp_path: Path, way: str
) -> None:
    # Each row comes only after the server has answered the one before (a slow cursor). A
    # result is handed over (and checkpointed) before more than one further row is read: never
    # after 4 x concurrency more rows, as when results waited for the window to fill.
    checkpoint = tmp_path / "run.jsonl"
    read = 0
    checkpointed_when_read: list[int] = []

    def rows() -> Iterator[tuple[int, str]]:
        nonlocal read
        for i in range(1, 13):
            if i > 1:
                wait_for(lambda i=i: len(server.requests) >= i - 1, what=f"request {i - 1}")
            lines = checkpoint.read_text().splitlines() if checkpoint.exists() else []
            checkpointed_when_read.append(len(lines))
            read += 1
            yield (i, "Lead")

    with ScriptedServer() as server, client_for(server) as client:
        if way == "many":
            report = client.remove_tags_many(rows(), concurrency=4, checkpoint=checkpoint)
            assert report.succeeded == 12
        else:
            assert all(r.ok for r in client.iter_remove_tags(rows(), checkpoint=checkpoint))
    # Row k is read once request k-1 has reached the server, whose answer to k-3 went out before
    # row k-1 was even read: that answer is recorded by now, with room for a slow machine (a
    # run that waits for its window to fill reads all 12 rows before recording any).
    lag = [(k + 1) - done for k, done in enumerate(checkpointed_when_read)]
    assert max(lag) <= 6, f"rows read before earlier results were recorded: {lag}"
