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
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import helpcrunch
from tests.support.processes import wait_for
from tests.support.scripted_server import API_KEY, Hang, ScriptedServer

#: The server holds every request without answering, so the run's slots fill up and the rows
#: read after them wait for a slot until the run stops: never sent.
CONCURRENCY = 4
#: Six rows (four sent, two waiting), then an invalid one, whose result reaches the caller at
#: once (nothing sent), then rows not read before the run stops.
ROWS: list[tuple[Any, str]] = [
    *[(i, "Lead") for i in range(1, 7)],
    ("not an id", "Lead"),
    *[(i, "Lead") for i in range(7, 40)],
]


def seen_ids(server: ScriptedServer) -> set[int]:
    return {int(r.path.split("/")[2]) for r in server.requests}


def check_attempts(results: list[tuple[Any, int]], server: ScriptedServer) -> None:
    """Call once the server is closed, so that every request that reached it is in its log.
    (An item may have been on its way when the run stopped: sent, yet never received. So the
    claim checked is that attempts=0 means the server never saw it.)"""
    seen = seen_ids(server)
    assert len(seen) >= CONCURRENCY
    for customer_id, attempts in results:
        if customer_id in seen:
            assert attempts >= 1, f"customer {customer_id} reached the server, claims {attempts}"
    stopped_unsent = [c for c, attempts in results if isinstance(c, int) and attempts == 0]
    assert stopped_unsent, "no item was stopped before sending"


def slots_full(server: ScriptedServer) -> bool:
    return len(server.requests) >= CONCURRENCY


def wait_until_slots_full(server: ScriptedServer) -> None:
    wait_for(lambda: slots_full(server), what=f"{CONCURRENCY} requests held by the server")


def client_for(server: ScriptedServer) -> helpcrunch.Client:
    return helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None)


def test_breaking_out_of_a_stream_reports_what_was_sent(tmp_path: Path) -> None:
    checkpoint = tmp_path / "run.jsonl"
    with ScriptedServer() as server, client_for(server) as client:
        server.set_default(Hang())
        for _ in client.iter_remove_tags(ROWS, concurrency=CONCURRENCY, checkpoint=checkpoint):
            wait_until_slots_full(server)
            break
    entries = [json.loads(line) for line in checkpoint.read_text().splitlines()]
    check_attempts([(e["customer_id"], e["attempts"]) for e in entries], server)


@pytest.mark.parametrize("stop", ["ctrl-c", "on_error"])
def test_a_stopped_run_reports_what_was_sent(stop: str) -> None:
    def progress(done: int, total: Any, result: helpcrunch.BulkResult) -> None:
        wait_until_slots_full(server)
        if stop == "ctrl-c":
            raise KeyboardInterrupt
        # on_error="raise": the invalid row's failure stops the run once this returns.

    with ScriptedServer() as server, client_for(server) as client:
        server.set_default(Hang())
        expected = helpcrunch.BulkInterrupted if stop == "ctrl-c" else helpcrunch.BulkError
        with pytest.raises(expected) as caught:
            client.remove_tags_many(
                ROWS, concurrency=CONCURRENCY, progress=progress, on_error="raise"
            )
    report = caught.value.report
    assert len(report) == 7
    check_attempts([(r.customer_id, r.attempts) for r in report], server)


def test_cancelling_an_async_run_reports_what_was_sent(tmp_path: Path) -> None:
    checkpoint = tmp_path / "run.jsonl"

    async def main(server: ScriptedServer) -> None:
        async with helpcrunch.AsyncClient(
            api_key=API_KEY, base_url=server.base_url, rate_limit=None
        ) as client:
            task = asyncio.create_task(
                client.remove_tags_many(ROWS, concurrency=CONCURRENCY, checkpoint=checkpoint)
            )
            while not slots_full(server):
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    with ScriptedServer() as server:
        server.set_default(Hang())
        asyncio.run(main(server))
    entries = [json.loads(line) for line in checkpoint.read_text().splitlines()]
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
