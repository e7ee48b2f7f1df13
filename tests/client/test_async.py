"""The async path on any running loop, one client across loops, cancellation, concurrency;
and the sync path called from a thread that runs an asyncio loop."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import helpcrunch
from tests.support.scripted_server import API_KEY, Hang, Reply, ScriptedServer, Sleep, customer


def make_async_client(server: ScriptedServer, **kwargs: Any) -> helpcrunch.AsyncClient:
    settings: dict[str, Any] = {"rate_limit": None, **kwargs}
    return helpcrunch.AsyncClient(api_key=API_KEY, base_url=server.base_url, **settings)


def test_async_client_inside_asyncio_run(server: ScriptedServer) -> None:
    c = make_async_client(server)

    async def main() -> Any:
        return await c.remove_tags(1568834, ["Lead"])

    assert asyncio.run(main()) == customer(1568834)
    assert server.requests[0].method == "DELETE"


def test_one_async_client_across_successive_event_loops(server: ScriptedServer) -> None:
    c = make_async_client(server)

    async def call(i: int) -> int:
        result = await c.get_customer(i)
        return int(result["id"])

    assert [asyncio.run(call(i)) for i in range(1, 4)] == [1, 2, 3]
    assert len(server.requests) == 3


def test_one_async_client_on_loops_in_two_threads_in_turn(server: ScriptedServer) -> None:
    c = make_async_client(server)
    results: list[int] = []

    def run(i: int) -> None:
        results.append(asyncio.run(c.get_customer(i))["id"])

    for i in (1, 2):
        t = threading.Thread(target=run, args=(i,))
        t.start()
        t.join(10)
    assert results == [1, 2]


def test_async_client_on_uvloop_run(server: ScriptedServer) -> None:
    uvloop = pytest.importorskip("uvloop")
    c = make_async_client(server)

    async def main() -> Any:
        assert "uvloop" in type(asyncio.get_running_loop()).__module__
        return await c.add_tags(7, ["Lead"])

    assert uvloop.run(main())["id"] == 7


def test_async_client_on_a_uvloop_new_event_loop(server: ScriptedServer) -> None:
    uvloop = pytest.importorskip("uvloop")
    c = make_async_client(server)
    loop = uvloop.new_event_loop()
    try:
        result = loop.run_until_complete(c.get_customer(8))
    finally:
        loop.close()
    assert result["id"] == 8


def test_async_client_on_uvloop_then_on_asyncio(server: ScriptedServer) -> None:
    uvloop = pytest.importorskip("uvloop")
    c = make_async_client(server)
    assert uvloop.run(c.get_customer(1))["id"] == 1
    assert asyncio.run(c.get_customer(2))["id"] == 2


def test_gather_of_twenty_calls_returns_each_result(server: ScriptedServer) -> None:
    async def main() -> list[Any]:
        async with make_async_client(server) as c:
            return await asyncio.gather(*(c.get_customer(i) for i in range(1, 21)))

    results = asyncio.run(main())
    assert [r["id"] for r in results] == list(range(1, 21))
    assert len(server.requests) == 20
    assert sorted(r.path for r in server.requests) == sorted(
        f"/customers/{i}" for i in range(1, 21)
    )


def test_gather_reports_each_failure_on_its_own_call(server: ScriptedServer) -> None:
    server.enqueue(Reply(404, {"errors": [{"code": "entity_not_found", "message": "nope"}]}))

    async def main() -> list[Any]:
        async with make_async_client(server, max_retries=0) as c:
            # The first request to arrive gets the 404; send one, then the rest.
            first = await asyncio.gather(c.get_customer(1), return_exceptions=True)
            rest = await asyncio.gather(
                *(c.get_customer(i) for i in range(2, 6)), return_exceptions=True
            )
            return first + rest

    results = asyncio.run(main())
    assert isinstance(results[0], helpcrunch.NotFoundError)
    assert [r["id"] for r in results[1:]] == [2, 3, 4, 5]


def test_errors_are_raised_from_the_await(server: ScriptedServer) -> None:
    server.enqueue(Reply(401, {"errors": [{"code": "invalid_token", "message": "bad"}]}))

    async def main() -> None:
        async with make_async_client(server) as c:
            with pytest.raises(helpcrunch.AuthenticationError) as info:
                await c.get_customer(1)
            assert info.value.errors == [{"code": "invalid_token", "message": "bad"}]

    asyncio.run(main())


def test_cancelling_a_task_cancels_the_request_promptly(server: ScriptedServer) -> None:
    server.set_default(Hang())

    async def main() -> float:
        c = make_async_client(server, timeout=60)
        task = asyncio.ensure_future(c.remove_tags(1, ["Lead"]))
        while not server.requests:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
        return time.monotonic() - started

    assert asyncio.run(main()) < 3
    assert server.disconnected.wait(5), "the server never saw the connection close"
    assert len(server.requests) == 1


def test_wait_for_timeout_cancels_the_request(server: ScriptedServer) -> None:
    server.set_default(Hang())

    async def main() -> None:
        c = make_async_client(server, timeout=60)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(c.get_customer(1), timeout=0.5)

    asyncio.run(main())
    assert server.disconnected.wait(5)


def test_the_client_still_works_after_a_cancelled_call(server: ScriptedServer) -> None:
    server.enqueue(Hang())

    async def main() -> Any:
        c = make_async_client(server, timeout=60)
        task = asyncio.ensure_future(c.get_customer(1))
        while not server.requests:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await c.get_customer(2)

    assert asyncio.run(main())["id"] == 2


def test_awaiting_on_a_closed_async_client_raises(server: ScriptedServer) -> None:
    async def main() -> None:
        c = make_async_client(server)
        await c.aclose()
        with pytest.raises(helpcrunch.ClientClosedError):
            await c.get_customer(1)

    asyncio.run(main())
    assert server.requests == []


def test_the_loop_stays_responsive_while_a_call_waits(server: ScriptedServer) -> None:
    server.enqueue(Sleep(0.6))

    async def main() -> int:
        ticks = 0
        async with make_async_client(server) as c:
            task = asyncio.ensure_future(c.get_customer(1))
            while not task.done():
                ticks += 1
                await asyncio.sleep(0.01)
            await task
        return ticks

    assert asyncio.run(main()) >= 10


# The sync client from a thread running an asyncio loop


def test_sync_call_inside_a_running_event_loop(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    async def main() -> Any:
        asyncio.get_running_loop()
        return client.remove_tags(4, ["Lead"])

    assert asyncio.run(main())["id"] == 4


def test_module_function_inside_a_running_event_loop(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", API_KEY)
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", server.base_url)

    async def main() -> Any:
        return helpcrunch.get_customer(5)

    assert asyncio.run(main())["id"] == 5


def test_sync_call_inside_uvloop(server: ScriptedServer, client: helpcrunch.Client) -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> Any:
        return client.get_customer(6)

    assert uvloop.run(main())["id"] == 6


def test_sync_call_from_a_loops_callback_thread(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    async def main() -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, client.get_customer, 7)

    assert asyncio.run(main())["id"] == 7


def test_sync_client_shared_by_eight_threads_counts_exactly(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    per_thread = 10
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            results[t] = [client.get_customer(t * 100 + i)["id"] for i in range(1, per_thread + 1)]
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(server.requests) == 8 * per_thread
    for n in range(8):
        assert results[n] == [n * 100 + i for i in range(1, per_thread + 1)]


def test_async_client_shared_by_loops_in_four_threads_at_once(server: ScriptedServer) -> None:
    c = make_async_client(server)
    results: dict[int, list[int]] = {}

    def work(t: int) -> None:
        async def main() -> list[int]:
            got = await asyncio.gather(*(c.get_customer(t * 100 + i) for i in range(1, 6)))
            return [g["id"] for g in got]

        results[t] = asyncio.run(main())

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == {t: [t * 100 + i for i in range(1, 6)] for t in range(4)}
    assert len(server.requests) == 20
