"""Stopping a search mid-scan: cancelling the task that iterates (while it waits for a page, or
while it works on one), leaving a loop, closing the search or dropping it. The page being
fetched ahead is dropped with its request (the server sees the client go), and nothing more is
sent."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest

import helpcrunch
from tests.support.scripted_server import API_KEY, Hang, ScriptedServer
from tests.support.search import leads, page

#: How long a test waits for something that must happen (a generous bound, never a measure).
WAIT = 10.0


def first_page_then_hang(server: ScriptedServer) -> None:
    """Page 1 of 10 (of 100), then every later request hangs until the client goes."""
    server.enqueue(page(leads(100)[:10], 100))
    server.set_default(Hang())


def assert_nothing_more_sent(server: ScriptedServer, requests: int) -> None:
    """The fetch ahead was dropped (the server saw the client go), and no request followed."""
    assert server.disconnected.wait(WAIT), "the page fetched ahead was not dropped"
    time.sleep(0.3)  # room for a request that should not come
    assert len(server.requests) == requests


def aclient(server: ScriptedServer) -> helpcrunch.AsyncClient:
    return helpcrunch.AsyncClient(api_key=API_KEY, base_url=server.base_url, rate_limit=None)


def client(server: ScriptedServer) -> helpcrunch.Client:
    return helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None)


def test_cancelling_the_task_while_it_waits_for_a_page(server: ScriptedServer) -> None:
    first_page_then_hang(server)
    seen: list[int] = []

    async def scan() -> None:
        async with aclient(server) as ac:
            async for customer in ac.search_customers(tag="Lead", page_size=10):
                seen.append(customer["id"])

    async def main() -> None:
        task = asyncio.create_task(scan())
        while len(seen) < 10 or len(server.requests) < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert seen == list(range(1, 11))
    assert_nothing_more_sent(server, 2)


def test_cancelling_the_task_while_it_works_on_a_page(server: ScriptedServer) -> None:
    first_page_then_hang(server)
    working = asyncio.Event

    async def main() -> None:
        busy = working()

        async def scan() -> None:
            async with aclient(server) as ac:
                async for _ in ac.search_customers(tag="Lead", page_size=10):
                    busy.set()
                    await asyncio.sleep(3600)

        task = asyncio.create_task(scan())
        await busy.wait()
        while len(server.requests) < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert_nothing_more_sent(server, 2)


def test_leaving_an_async_loop_over_a_search_it_made_drops_it(server: ScriptedServer) -> None:
    first_page_then_hang(server)

    async def main() -> None:
        async with aclient(server) as ac:
            async for _ in ac.search_customers(tag="Lead", page_size=10):
                break
            gc.collect()
            await asyncio.sleep(0.3)

    asyncio.run(main())
    # Dropped with the loop: the page fetched ahead goes, whether or not its request had
    # reached the server yet.
    if len(server.requests) == 2:
        assert_nothing_more_sent(server, 2)
    else:
        assert len(server.requests) == 1


def test_breaking_out_of_a_sync_loop_stops_the_search(server: ScriptedServer) -> None:
    first_page_then_hang(server)
    with client(server) as c:
        for customer in c.search_customers(tag="Lead", page_size=10):
            assert customer["id"] == 1
            break
        # The search is gone with the loop: the page fetched ahead is dropped, whether or not
        # its request had reached the server yet.
        time.sleep(0.3)
        if len(server.requests) == 2:
            assert_nothing_more_sent(server, 2)
        else:
            assert len(server.requests) == 1


def test_a_search_kept_after_a_break_sends_nothing_until_closed(server: ScriptedServer) -> None:
    first_page_then_hang(server)
    with client(server) as c:
        found = c.search_customers(tag="Lead", page_size=10)
        taken = [customer["id"] for _, customer in zip(range(3), found, strict=False)]
        assert taken == [1, 2, 3]
        assert server.wait_for_requests(2)
        time.sleep(0.3)
        assert len(server.requests) == 2
        # It goes on where it stopped.
        assert next(found)["id"] == 4
        found.close()
        assert_nothing_more_sent(server, 2)
        assert list(found) == []


def test_leaving_a_with_block_closes_the_search(server: ScriptedServer) -> None:
    first_page_then_hang(server)

    async def main() -> None:
        async with aclient(server) as ac, ac.search_customers(tag="Lead", page_size=10) as found:
            assert (await anext(found))["id"] == 1
            while len(server.requests) < 2:
                await asyncio.sleep(0.01)

    asyncio.run(main())
    assert_nothing_more_sent(server, 2)
