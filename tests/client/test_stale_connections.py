"""Kept-alive connections that the server closed while they sat idle in the pool (Apache, Node
and gunicorn close them after 2-5 s, load balancers after 60 s): the next call must not be
written into the dead socket. With ``max_retries=0`` it still succeeds, it costs no attempt and
no backoff, and the server sees each call once. Sync (whose runtime is idle between calls, so
nothing reads the server's close until the next call), async and bulk runs alike."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

import helpcrunch
from tests.support.processes import wait_for
from tests.support.scripted_server import API_KEY, ScriptedServer

#: The server closes a connection idle this long; each test waits until it has, however long
#: that takes on a slow machine (no timing is asserted). Longer than a test's own steps between
#: two calls on one connection take, even on a loaded machine.
SERVER_IDLE = 0.3
CALLS = 5


def idle_closed(server: ScriptedServer, n: int) -> None:
    wait_for(lambda: server.idle_closes >= n, what=f"the server to close {n} idle connections")


def idle_closes_seen(server: ScriptedServer, n: int) -> None:
    """Async calls and bulk runs use the multi-thread runtime, which reads a close as it comes,
    but on a loaded machine it may come to it after the next call has picked the connection:
    wait for the client's own close, the sign its pool has dropped the connection."""
    wait_for(
        lambda: server.idle_closes_seen >= n,
        what=f"the client to close {n} connections the server closed",
    )


@pytest.fixture
def server() -> ScriptedServer:
    with ScriptedServer(idle_timeout=SERVER_IDLE) as s:
        yield s  # type: ignore[misc]


def test_a_blocking_call_after_the_server_closed_an_idle_connection_succeeds(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="helpcrunch")
    with helpcrunch.Client(
        api_key=API_KEY, base_url=server.base_url, rate_limit=None, max_retries=0
    ) as client:
        for i in range(1, CALLS + 1):
            assert client.get_customer(i)["id"] == i
            idle_closed(server, i)
    assert [r.path for r in server.requests] == [f"/customers/{i}" for i in range(1, CALLS + 1)]
    assert server.connections == CALLS
    attempts = [getattr(r, "attempt", None) for r in caplog.records]
    assert set(attempts) <= {1}, "a call after an idle gap took a second attempt"
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]


def test_a_stale_connection_costs_no_attempt_when_retries_are_on(server: ScriptedServer) -> None:
    # Had the dead connection been used, the call would succeed on a second attempt, after
    # a backoff; a bulk item says how many attempts it took.
    with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None) as client:
        for i in range(1, CALLS + 1):
            (result,) = client.remove_tags_many([(i, "Lead")], concurrency=1)
            assert result.ok and result.attempts == 1, result
            client.get_customer(i)
            (result,) = client.remove_tags_many([(i, "Lead")], concurrency=1)
            assert result.ok and result.attempts == 1, result
            # Every connection closed, and each close read by the client but the blocking
            # call's: that runtime reads it at its next call, which is what it is tested for.
            wait_for(
                lambda: (
                    server.idle_closes >= server.connections
                    and server.idle_closes_seen >= server.idle_closes - 1
                ),
                what="the server to close every connection, and the bulk run's pool to see it",
            )


def test_an_async_call_after_the_server_closed_an_idle_connection_succeeds(
    server: ScriptedServer,
) -> None:
    async def main() -> None:
        async with helpcrunch.AsyncClient(
            api_key=API_KEY, base_url=server.base_url, rate_limit=None, max_retries=0
        ) as client:
            for i in range(1, CALLS + 1):
                assert (await client.get_customer(i))["id"] == i
                await asyncio.to_thread(idle_closes_seen, server, i)
            report = await client.remove_tags_many([(7, "Lead")])
            assert report[0].ok and report[0].attempts == 1

    asyncio.run(main())
    assert len(server.requests) == CALLS + 1


def test_a_bulk_run_after_the_server_closed_its_idle_connections_succeeds(
    server: ScriptedServer,
) -> None:
    with helpcrunch.Client(
        api_key=API_KEY, base_url=server.base_url, rate_limit=None, max_retries=0
    ) as client:
        for _ in range(3):
            report = client.remove_tags_many([(i, "Lead") for i in range(1, 9)], concurrency=4)
            assert report.succeeded == 8
            assert {r.attempts for r in report} == {1}
            idle_closes_seen(server, server.connections)
    assert len(server.requests) == 3 * 8


def test_idle_connections_are_let_go_before_common_servers_drop_them() -> None:
    # A server that keeps connections for 60 s (a load balancer): the pool still lets one go
    # once it has been idle for a couple of seconds (under gunicorn's 2 s, the shortest common
    # server keep-alive), so it never races a server closing at that very moment.
    with (
        ScriptedServer(idle_timeout=60) as server,
        helpcrunch.Client(
            api_key=API_KEY, base_url=server.base_url, rate_limit=None, max_retries=0
        ) as client,
    ):
        client.get_customer(1)
        client.get_customer(2)
        assert server.connections == 1, "back-to-back calls share a connection"
        time.sleep(2.5)  # idle past the pool's limit
        client.get_customer(3)
        assert server.connections == 2, "a connection idle for 2.5 s was reused"
        wait_for(lambda: server.client_closes >= 1, what="the client to close the idle one")
