"""Streamed bulk runs (``iter_remove_tags``, sync and async) and ``AsyncClient`` bulk calls:
every item exactly once, lazy input, and stopping early cancels the rest."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.bulk import DEMO_IDS, read_checkpoint, tag_names, tagged_customers


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def demo_items(n: int) -> list[tuple[int, str]]:
    return [(DEMO_IDS[i % len(DEMO_IDS)], "Lead") for i in range(n)]


async def async_items(n: int) -> AsyncIterator[tuple[int, str]]:
    for item in demo_items(n):
        await asyncio.sleep(0)
        yield item


def test_iter_remove_tags_yields_each_item_exactly_once(sandbox: Sandbox) -> None:
    items = demo_items(120)
    items[7] = (1, "Lead")  # unknown: streamed as a failure like any other result
    sandbox.delay_next(0.2, times=3)  # the first requests finish late: completion order differs
    with sandbox.client() as client:
        results = list(client.iter_remove_tags(items))

    indexes = [r.index for r in results]
    assert sorted(indexes) == list(range(120))
    assert indexes != sorted(indexes), "streamed in completion order, not input order"
    assert [r.index for r in results if not r.ok] == [7]
    assert all(r.customer_id == items[r.index][0] for r in results)


def test_iter_remove_tags_reads_a_generator_lazily(sandbox: Sandbox) -> None:
    pulled = 0

    def rows() -> Iterator[tuple[int, str]]:
        nonlocal pulled
        for item in demo_items(10_000):
            pulled += 1
            yield item

    with sandbox.client() as client:
        stream = client.iter_remove_tags(rows(), concurrency=2)
        first = next(stream)
        assert first.ok
        assert pulled < 100, f"took {pulled} rows to produce the first result"
        stream.close()


def test_breaking_out_of_the_stream_cancels_the_rest_promptly(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "run.jsonl"
    # 10 requests a second: the 30-odd items in flight would take seconds to run out.
    with sandbox.client(rate_limit=600) as client:
        seen = 0
        for _ in client.iter_remove_tags(demo_items(100), checkpoint=checkpoint):
            seen += 1
            if seen == 3:
                break
        sent_at_close = sandbox.request_count

        # Stopped, not drained: a drained run would have sent all 100.
        assert sent_at_close < 100
        # Every item taken was written down as it ended: 3 done, the rest cancelled.
        entries = read_checkpoint(checkpoint)
        assert sum(e["ok"] for e in entries) >= 3
        cancelled = [e for e in entries if not e["ok"]]
        assert cancelled and all(e["error"].startswith("RequestCancelledError") for e in cancelled)
        assert sorted(e["index"] for e in entries) == list(range(len(entries)))
        time.sleep(0.5)  # long enough for 5 more paced requests, had any survived
        # (One may have been on its way to the sandbox when the run stopped.)
        assert sandbox.request_count <= sent_at_close + 1


def test_iter_add_tags_tags_every_customer_sync_and_async(sandbox: Sandbox) -> None:
    with sandbox.client() as client:
        results = list(client.iter_add_tags([(cid, "Synced") for cid in DEMO_IDS[:5]]))
    assert sorted(r.index for r in results) == list(range(5))

    async def main() -> list[helpcrunch.BulkResult]:
        async with sandbox.async_client() as client:
            return [r async for r in client.iter_add_tags([(cid, "Async") for cid in DEMO_IDS])]

    assert sorted(r.index for r in asyncio.run(main())) == list(range(10))
    assert all("Async" in tag_names(sandbox, cid) for cid in DEMO_IDS)
    assert all("Synced" in tag_names(sandbox, cid) for cid in DEMO_IDS[:5])


def test_async_iter_remove_tags_over_a_list(sandbox: Sandbox) -> None:
    async def main() -> list[helpcrunch.BulkResult]:
        async with sandbox.async_client() as client:
            return [r async for r in client.iter_remove_tags(demo_items(80))]

    results = asyncio.run(main())
    assert sorted(r.index for r in results) == list(range(80))
    assert all(r.ok for r in results)
    assert all("Lead" not in tag_names(sandbox, cid) for cid in DEMO_IDS)


def test_async_iter_remove_tags_over_an_async_generator(sandbox: Sandbox) -> None:
    async def main() -> list[helpcrunch.BulkResult]:
        async with sandbox.async_client() as client:
            return [r async for r in client.iter_remove_tags(async_items(80))]

    results = asyncio.run(main())
    assert sorted(r.index for r in results) == list(range(80))
    assert all(r.ok for r in results)


def test_async_remove_tags_many_returns_the_report_in_input_order() -> None:
    with Sandbox(customers=tagged_customers(60)) as sb:

        async def main() -> helpcrunch.BulkReport:
            async with sb.async_client() as client:
                return await client.remove_tags_many([(i, "Lead") for i in range(1, 61)])

        report = asyncio.run(main())
        assert [r.index for r in report] == list(range(60))
        assert [r.customer_id for r in report] == list(range(1, 61))
        assert report.succeeded == 60
        assert all(tag_names(sb, i) == ["keep"] for i in range(1, 61))


def test_async_remove_tags_many_with_an_async_generator_and_on_error_raise(
    sandbox: Sandbox,
) -> None:
    async def rows() -> AsyncIterator[tuple[int, str]]:
        async for item in async_items(50):
            yield item
        yield (1, "Lead")

    async def main() -> None:
        async with sandbox.async_client() as client:
            await client.remove_tags_many(rows(), on_error="raise", concurrency=1)

    with pytest.raises(helpcrunch.BulkError) as caught:
        asyncio.run(main())
    assert isinstance(caught.value.__cause__, helpcrunch.NotFoundError)
    # The failing row is the last one: the report holds all of them.
    assert [r.index for r in caught.value.report] == list(range(51))
    assert caught.value.report.succeeded == 50


def test_cancelling_an_async_run_stops_it_promptly(sandbox: Sandbox) -> None:
    async def main() -> None:
        async with sandbox.async_client(rate_limit=600) as client:
            task = asyncio.create_task(client.remove_tags_many(demo_items(100)))
            while sandbox.request_count < 3:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())
    sent = sandbox.request_count
    # Stopped, not drained: a drained run would have sent all 100.
    assert sent < 100
    time.sleep(0.5)  # 5 more paced requests, had any survived the cancellation
    assert sandbox.request_count <= sent + 1
