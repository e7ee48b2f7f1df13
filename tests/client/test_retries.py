"""Retries and their counts, the server's wait hints, and the client-side rate limiter's pace.

Timing asserts are lower bounds (backoff and pace happened), with generous upper bounds only
where "at once" is the behaviour."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import threading
import time
from email.utils import formatdate
from typing import Any

import pytest

import helpcrunch
from tests.support.scripted_server import API_KEY, Close, Reply, ScriptedServer, Sleep

FAST = {"retry-after-ms": "10"}  # a server hint that keeps retry tests quick
ONE_ERROR = {"errors": [{"code": "x", "message": "x"}]}


def make_client(server: ScriptedServer, **kwargs: Any) -> helpcrunch.Client:
    settings: dict[str, Any] = {"rate_limit": None, **kwargs}
    return helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, **settings)


def gaps(server: ScriptedServer) -> list[float]:
    times = [r.at for r in server.requests]
    return [b - a for a, b in itertools.pairwise(times)]


def test_two_503s_then_200_succeeds_after_three_attempts(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    server.enqueue(Reply(503, ONE_ERROR, FAST), Reply(503, ONE_ERROR, FAST))
    assert client.remove_tags(5, ["Lead"])["id"] == 5
    assert len(server.requests) == 3
    assert all(r.json == {"tags": [{"name": "Lead"}]} for r in server.requests)


def test_backoff_without_hints_waits_and_grows(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    server.enqueue(Reply(503), Reply(503))
    client.get_customer(1)
    first, second = gaps(server)
    # About 0.5 s then 1 s, each shortened by up to a quarter of jitter.
    assert first >= 0.3
    assert second >= 0.65


def test_retries_stop_after_max_retries(server: ScriptedServer) -> None:
    server.set_default(Reply(503, ONE_ERROR, FAST))
    with (
        make_client(server, max_retries=2) as c,
        pytest.raises(helpcrunch.InternalServerError) as info,
    ):
        c.get_customer(1)
    assert info.value.attempts == 3
    assert len(server.requests) == 3


def test_max_retries_zero_makes_one_attempt(server: ScriptedServer) -> None:
    server.set_default(Reply(503, ONE_ERROR, FAST))
    with (
        make_client(server, max_retries=0) as c,
        pytest.raises(helpcrunch.InternalServerError) as info,
    ):
        c.get_customer(1)
    assert info.value.attempts == 1
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 418])
def test_client_errors_are_never_retried(server: ScriptedServer, status: int) -> None:
    server.set_default(Reply(status, ONE_ERROR, FAST))
    with make_client(server, max_retries=2) as c, pytest.raises(helpcrunch.APIStatusError) as info:
        c.remove_tags(1, ["Lead"])
    assert info.value.attempts == 1
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried(server: ScriptedServer, status: int) -> None:
    server.enqueue(Reply(status, ONE_ERROR, FAST))
    with make_client(server, max_retries=2) as c:
        assert c.remove_tags(1, ["Lead"])["id"] == 1
    assert len(server.requests) == 2


def test_a_dropped_connection_is_retried(server: ScriptedServer) -> None:
    server.enqueue(Close())
    with make_client(server, max_retries=1) as c:
        assert c.get_customer(9)["id"] == 9
    assert len(server.requests) == 2


def test_a_timeout_is_retried(server: ScriptedServer) -> None:
    server.enqueue(Sleep(5))
    with make_client(server, max_retries=1, timeout=0.3) as c:
        assert c.get_customer(9)["id"] == 9
    assert len(server.requests) == 2


def test_timeouts_on_every_attempt_raise_api_timeout_error_with_the_count(
    server: ScriptedServer,
) -> None:
    server.set_default(Sleep(5))
    with (
        make_client(server, max_retries=1, timeout=0.3) as c,
        pytest.raises(helpcrunch.APITimeoutError) as info,
    ):
        c.get_customer(9)
    assert info.value.attempts == 2
    assert len(server.requests) == 2


def test_retry_after_seconds_is_honoured(server: ScriptedServer, client: helpcrunch.Client) -> None:
    server.enqueue(Reply(429, ONE_ERROR, {"Retry-After": "1"}))
    client.get_customer(1)
    (gap,) = gaps(server)
    assert gap >= 0.9


def test_retry_after_http_date_is_honoured(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    when = formatdate(time.time() + 2, usegmt=True)  # whole seconds: a wait of 1 to 2 s
    server.enqueue(Reply(503, ONE_ERROR, {"Retry-After": when}))
    client.get_customer(1)
    (gap,) = gaps(server)
    assert gap >= 0.8


def test_retry_after_ms_is_honoured_and_wins_over_retry_after(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    server.enqueue(Reply(429, ONE_ERROR, {"retry-after-ms": "600", "Retry-After": "30"}))
    client.get_customer(1)
    (gap,) = gaps(server)
    assert 0.55 <= gap < 20


def test_x_ratelimit_reset_is_honoured(server: ScriptedServer, client: helpcrunch.Client) -> None:
    server.enqueue(Reply(429, ONE_ERROR, {"X-RateLimit-Reset": "1"}))
    client.get_customer(1)
    (gap,) = gaps(server)
    assert gap >= 0.9


def test_retry_after_zero_still_backs_off(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    server.enqueue(Reply(429, ONE_ERROR, {"Retry-After": "0"}))
    client.get_customer(1)
    (gap,) = gaps(server)
    assert gap >= 0.3


def test_retry_after_over_the_cap_raises_rate_limit_error_at_once(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    server.set_default(Reply(429, ONE_ERROR, {"Retry-After": "120"}))
    started = time.monotonic()
    with pytest.raises(helpcrunch.RateLimitError) as info:
        client.remove_tags(1, ["Lead"])
    assert time.monotonic() - started < 5
    assert info.value.retry_after == pytest.approx(120.0)
    assert info.value.attempts == 1
    assert len(server.requests) == 1


def test_retry_after_date_over_the_cap_raises_at_once_with_retry_after(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    when = formatdate(time.time() + 3600, usegmt=True)
    server.set_default(Reply(429, ONE_ERROR, {"Retry-After": when}))
    with pytest.raises(helpcrunch.RateLimitError) as info:
        client.get_customer(1)
    assert info.value.retry_after is not None
    assert 3500 <= info.value.retry_after <= 3601
    assert len(server.requests) == 1


def test_async_retries_count_like_sync(server: ScriptedServer) -> None:
    server.enqueue(Reply(503, ONE_ERROR, FAST), Reply(429, ONE_ERROR, FAST))

    async def main() -> Any:
        async with helpcrunch.AsyncClient(
            api_key=API_KEY, base_url=server.base_url, rate_limit=None
        ) as c:
            return await c.add_tags(3, ["Lead"])

    assert asyncio.run(main())["id"] == 3
    assert len(server.requests) == 3


def test_backoff_does_not_hold_the_gil(server: ScriptedServer, client: helpcrunch.Client) -> None:
    server.enqueue(Reply(503, ONE_ERROR, {"Retry-After": "1"}))
    call_done = threading.Event()
    worker = threading.Thread(target=lambda: (client.get_customer(1), call_done.set()))
    worker.start()
    assert server.wait_for_requests(1)
    spin_until = time.monotonic() + 0.3
    spins = 0
    while time.monotonic() < spin_until:  # pure Python: needs the GIL
        spins += 1
    spun_while_waiting = not call_done.is_set()
    worker.join(10)
    assert spins > 0 and spun_while_waiting
    assert len(server.requests) == 2


# The client-side limiter


def test_rate_limit_paces_calls_from_several_threads(server: ScriptedServer) -> None:
    c = make_client(server, rate_limit=600)  # one request per 0.1 s
    threads = [
        threading.Thread(target=lambda: [c.get_customer(1) for _ in range(2)]) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(server.requests) == 8
    times = sorted(r.at for r in server.requests)
    assert times[-1] - times[0] >= 0.65


def test_rate_limit_is_smooth_not_bursty(server: ScriptedServer) -> None:
    c = make_client(server, rate_limit=600)
    threads = [threading.Thread(target=lambda: c.get_customer(1)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    times = sorted(r.at for r in server.requests)
    spacing = [b - a for a, b in itertools.pairwise(times)]
    assert statistics.median(spacing) >= 0.06


def test_rate_limit_paces_async_gather(server: ScriptedServer) -> None:
    async def main() -> None:
        async with helpcrunch.AsyncClient(
            api_key=API_KEY, base_url=server.base_url, rate_limit=600
        ) as c:
            await asyncio.gather(*(c.get_customer(i) for i in range(1, 7)))

    asyncio.run(main())
    times = sorted(r.at for r in server.requests)
    assert len(times) == 6
    assert times[-1] - times[0] >= 0.45


def test_rate_limit_wait_does_not_hold_the_gil(server: ScriptedServer) -> None:
    c = make_client(server, rate_limit=60)  # one request a second
    c.get_customer(1)
    call_done = threading.Event()
    worker = threading.Thread(target=lambda: (c.get_customer(2), call_done.set()))
    worker.start()
    spin_until = time.monotonic() + 0.3
    while time.monotonic() < spin_until:
        pass
    spun_while_waiting = not call_done.is_set()
    worker.join(10)
    assert spun_while_waiting
    assert len(server.requests) == 2
    (gap,) = gaps(server)
    assert gap >= 0.9
