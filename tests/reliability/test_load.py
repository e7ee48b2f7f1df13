"""Load: one client shared by many threads, one async client by many tasks, and a server that
restarts in the middle of a bulk run. No deadlock (every wait is bounded), counts exact at the
sandbox, nothing lost."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from typing import Any

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.scripted_server import free_port

THREADS = 16
CALLS_PER_THREAD = 150
TASKS = 500
#: Generous: each of these finishes in a few seconds on a laptop.
BOUND = 120.0
#: For the async gathers, which take under 3 s: a stall fails the test without a long wait.
ASYNC_BOUND = 30.0


def customers(first_id: int, count: int) -> list[dict[str, Any]]:
    tags = [{"name": "Lead", "color": "#c377e0"}, {"name": "vip", "color": "#ff0000"}]
    return [{"id": first_id + i, "name": f"Customer {i}", "tags": tags} for i in range(count)]


def tag_names(customer: dict[str, Any]) -> set[str]:
    return {t["name"] for t in customer["tags"]}


LOST_WAKEUP = (
    "bug: LoopBridge::drain (src/python/bridge.rs) clears wake_pending before it empties the "
    "wake-up socket; a completion landing in between writes its byte, which the same drain "
    "then swallows, leaving wake_pending set with no byte pending, so no later completion "
    "wakes the loop and every pending (and every later) call on that loop hangs forever"
)


def test_one_client_shared_by_16_threads_no_deadlock_and_exact_counts() -> None:
    with Sandbox(customers=customers(1, THREADS)) as sb, sb.client(timeout=30) as client:
        errors: list[BaseException] = []
        start = threading.Barrier(THREADS)

        def work(t: int) -> None:
            try:
                start.wait()
                for k in range(CALLS_PER_THREAD):
                    # Each thread tags its own customer with its own names, and reads it back.
                    added = client.add_tags(1 + t, f"t{t}-{k}")
                    assert f"t{t}-{k}" in tag_names(added)
                    if k % 3 == 0:
                        client.get_customer(1 + (t + k) % THREADS)
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + BOUND
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in threads), "deadlock: threads still running"
        assert errors == []

        gets = THREADS * len(range(0, CALLS_PER_THREAD, 3))
        assert sb.request_count == THREADS * CALLS_PER_THREAD + gets
        assert sb.status_count(200) == sb.request_count
        counts = Counter((r.method, r.path.count("/tags")) for r in sb.requests)
        assert counts == {("PUT", 1): THREADS * CALLS_PER_THREAD, ("GET", 0): gets}
        for t in range(THREADS):
            expected = {"Lead", "vip"} | {f"t{t}-{k}" for k in range(CALLS_PER_THREAD)}
            assert tag_names(sb.customer(1 + t)) == expected


def test_one_async_client_shared_by_500_tasks_no_deadlock_and_exact_counts() -> None:
    with Sandbox(customers=customers(1, 10)) as sb:

        async def main() -> list[Any]:
            async with sb.async_client(timeout=30) as client:
                calls = [client.add_tags(1 + i % 10, f"task-{i}") for i in range(TASKS)]
                return await asyncio.wait_for(
                    asyncio.gather(*calls, return_exceptions=True), ASYNC_BOUND
                )

        results = asyncio.run(main())
        failures = [r for r in results if isinstance(r, BaseException)]
        assert failures == []
        assert sb.request_count == TASKS
        assert sb.status_count(200) == TASKS
        for c in range(10):
            expected = {"Lead", "vip"} | {f"task-{i}" for i in range(c, TASKS, 10)}
            assert tag_names(sb.customer(1 + c)) == expected


def test_threads_and_tasks_on_two_clients_at_once_count_exactly() -> None:
    """16 threads on a Client while 200 tasks run on an AsyncClient, all in one process."""
    with Sandbox(customers=customers(1, 2)) as sb, sb.client(timeout=30) as client:
        errors: list[BaseException] = []

        def work(t: int) -> None:
            try:
                for k in range(50):
                    client.add_tags(1, f"thread-{t}-{k}")
            except BaseException as e:
                errors.append(e)

        async def tasks() -> list[Any]:
            async with sb.async_client(timeout=30) as aclient:
                calls = [aclient.add_tags(2, f"task-{i}") for i in range(200)]
                return await asyncio.wait_for(asyncio.gather(*calls), ASYNC_BOUND)

        threads = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        asyncio.run(tasks())
        for thread in threads:
            thread.join(BOUND)
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        assert sb.request_count == THREADS * 50 + 200
        assert len(tag_names(sb.customer(1))) == 2 + THREADS * 50
        assert len(tag_names(sb.customer(2))) == 2 + 200


# A race, so it cannot be a strict xfail: it shows in most runs (stalls came after 1,000 to
# 17,000 calls in six runs of 20,000) and in none once fixed.
def test_a_stream_of_concurrent_async_calls_never_stalls() -> None:
    """20,000 calls on one loop, 200 at a time: progress must never stop for 3 s while calls
    are outstanding (the sandbox answers each in about a millisecond)."""
    total = 20_000
    with Sandbox() as sb:
        client = sb.async_client(timeout=30)

        async def main() -> None:
            slots = asyncio.Semaphore(200)
            done = 0

            async def one() -> None:
                nonlocal done
                async with slots:
                    await client.get_customer(542335)
                done += 1

            calls = [asyncio.ensure_future(one()) for _ in range(total)]
            try:
                last = -1
                while done < total:
                    await asyncio.sleep(3)
                    assert done != last, (
                        f"stalled after {done} calls: the sandbox answered {sb.request_count}"
                    )
                    last = done
            finally:
                for call in calls:
                    call.cancel()

        asyncio.run(main())


@pytest.mark.parametrize("pause", [0.0, 0.5])
def test_a_server_restart_mid_run_loses_nothing(pause: float) -> None:
    """The sandbox is stopped a third of the way through a bulk run and a new one started on the
    same port (at once, or after ``pause`` seconds with nothing listening). The client
    reconnects; every item comes back once, succeeded, and did its work on one server or the
    other."""
    items = 3_000
    port = free_port()
    people = customers(10_000, items)
    first = Sandbox(customers=people, port=port)
    second: Sandbox | None = None
    seen: Counter[int] = Counter()
    failures: list[helpcrunch.BulkResult] = []
    # Backoff 0.5, 1, 2, 4 … s: eight retries outlast any restart here by far.
    client = helpcrunch.Client(
        api_key=first.api_key, base_url=first.base_url, max_retries=8, rate_limit=None
    )
    try:
        started = time.monotonic()
        rows = ((10_000 + i, "Lead") for i in range(items))
        for result in client.iter_remove_tags(rows, concurrency=16):
            seen[result.index] += 1
            if not result.ok:
                failures.append(result)
            if second is None and len(seen) == items // 3:
                first.close()
                time.sleep(pause)
                second = Sandbox(customers=people, port=port)
        elapsed = time.monotonic() - started
    finally:
        client.close()
        first.close()
        if second is not None:
            second.close()

    assert second is not None
    assert elapsed < BOUND
    assert sorted(seen) == list(range(items)) and set(seen.values()) == {1}
    assert failures == []
    assert first.request_count > 0 and second.request_count > 0
    for i in range(items):
        customer_id = 10_000 + i
        done_on = [
            sb for sb in (first, second) if "Lead" not in tag_names(sb.customer(customer_id))
        ]
        assert done_on, f"customer {customer_id} was never untagged"


def test_a_server_that_stays_down_ends_every_item_in_a_typed_failure() -> None:
    """With too few retries to outlast the outage, nothing is lost either: each item is a
    result, the ones that could not reach the server with APIConnectionError."""
    port = free_port()
    sb = Sandbox(customers=customers(10_000, 150), port=port)
    client = helpcrunch.Client(
        api_key=sb.api_key, base_url=sb.base_url, max_retries=1, rate_limit=None
    )
    seen: Counter[int] = Counter()
    outcomes: Counter[str] = Counter()
    failed: set[int] = set()
    try:
        rows = ((10_000 + i, "Lead") for i in range(150))
        for result in client.iter_remove_tags(rows, concurrency=16):
            seen[result.index] += 1
            outcomes[type(result.error).__name__ if result.error else "ok"] += 1
            if result.error:
                failed.add(result.index)
            if len(seen) == 50:
                sb.close()
    finally:
        client.close()
        sb.close()
    assert sorted(seen) == list(range(150)) and set(seen.values()) == {1}
    assert set(outcomes) <= {"ok", "APIConnectionError"}, outcomes
    # A run reads at most 4 x concurrency items ahead, so every item past the first 50 plus
    # that window was read, and sent, only after the server went down.
    sent_after_close = set(range(50 + 16 * 4, 150))
    assert sent_after_close <= failed
