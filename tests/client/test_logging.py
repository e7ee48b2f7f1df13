"""The `helpcrunch` logger: every attempt at DEBUG (method, path, status, attempt, elapsed),
retries at INFO, nothing when the logger is quiet; HELPCRUNCH_LOG sends it to stderr."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator

import pytest

import helpcrunch
from tests.support.processes import child_env, run_python
from tests.support.scripted_server import API_KEY, Reply, ScriptedServer


def helpcrunch_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "helpcrunch"]


def test_debug_logs_method_path_status_attempt_and_elapsed(
    server: ScriptedServer, client: helpcrunch.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="helpcrunch")
    client.remove_tags(1568834, ["Lead"])
    (record,) = helpcrunch_records(caplog)
    assert record.levelno == logging.DEBUG
    message = record.getMessage()
    assert "DELETE" in message and "/customers/1568834/tags" in message and "200" in message
    assert "attempt 1" in message and "ms" in message
    assert record.method == "DELETE"  # type: ignore[attr-defined]
    assert record.path == "/customers/1568834/tags"  # type: ignore[attr-defined]
    assert record.status == 200  # type: ignore[attr-defined]
    assert record.attempt == 1  # type: ignore[attr-defined]
    assert record.elapsed_ms >= 0  # type: ignore[attr-defined]


def test_a_retry_logs_at_info(
    server: ScriptedServer, client: helpcrunch.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="helpcrunch")
    server.enqueue(Reply(503, {}, {"retry-after-ms": "10"}))
    client.get_customer(1)
    (record,) = helpcrunch_records(caplog)  # the successful attempt is DEBUG: not shown
    assert record.levelno == logging.INFO
    assert "503" in record.getMessage() and "retrying" in record.getMessage()
    assert record.attempt == 1  # type: ignore[attr-defined]
    assert record.status == 503  # type: ignore[attr-defined]


def test_debug_logs_every_attempt_of_a_retried_call(
    server: ScriptedServer, client: helpcrunch.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="helpcrunch")
    server.enqueue(
        Reply(429, {}, {"retry-after-ms": "10"}), Reply(502, "", {"retry-after-ms": "10"})
    )
    client.get_customer(1)
    records = helpcrunch_records(caplog)
    assert [r.attempt for r in records] == [1, 2, 3]  # type: ignore[attr-defined]
    assert [r.status for r in records] == [429, 502, 200]  # type: ignore[attr-defined]
    assert [r.levelno for r in records] == [logging.INFO, logging.INFO, logging.DEBUG]


def test_a_final_failure_is_logged_with_its_status(
    server: ScriptedServer, client: helpcrunch.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="helpcrunch")
    server.enqueue(Reply(404, {}))
    with pytest.raises(helpcrunch.NotFoundError):
        client.get_customer(1)
    (record,) = helpcrunch_records(caplog)
    assert record.status == 404  # type: ignore[attr-defined]


def test_async_calls_log_too(server: ScriptedServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="helpcrunch")

    async def main() -> None:
        async with helpcrunch.AsyncClient(
            api_key=API_KEY, base_url=server.base_url, rate_limit=None
        ) as c:
            await c.add_tags(2, ["Lead"])

    asyncio.run(main())
    (record,) = helpcrunch_records(caplog)
    assert record.method == "PUT"  # type: ignore[attr-defined]


def test_a_quiet_logger_gets_no_records(
    server: ScriptedServer, client: helpcrunch.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="helpcrunch")
    server.enqueue(Reply(503, {}, {"retry-after-ms": "10"}))
    client.get_customer(1)
    assert helpcrunch_records(caplog) == []


def test_a_broken_log_handler_does_not_break_the_call(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    class Broken(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise RuntimeError("handler exploded")

        def handleError(self, record: logging.LogRecord) -> None:
            raise RuntimeError("handler exploded again")

    logger = logging.getLogger("helpcrunch")
    handler = Broken()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        assert client.get_customer(3)["id"] == 3
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


# HELPCRUNCH_LOG: the logger's output on stderr, for scripts that configure no logging


GET_ONE_CUSTOMER = """
import sys, helpcrunch
c = helpcrunch.Client(api_key=sys.argv[1], base_url=sys.argv[2], rate_limit=None)
c.get_customer(1)
"""


@pytest.mark.parametrize("level", ["debug", "info", "DEBUG"])
def test_helpcrunch_log_env_var_logs_to_stderr_without_the_key(
    server: ScriptedServer, level: str
) -> None:
    server.enqueue(Reply(503, {}, {"retry-after-ms": "10"}))
    env = child_env(HELPCRUNCH_LOG=level)
    out = run_python(GET_ONE_CUSTOMER, API_KEY, server.base_url, env=env)
    assert out.returncode == 0, out.stderr
    assert API_KEY not in out.stderr
    assert "GET /customers/1" in out.stderr
    assert "503" in out.stderr  # the retry, logged at INFO
    if level.lower() == "debug":
        assert "200" in out.stderr  # every request, logged at DEBUG
    else:
        assert "-> 200" not in out.stderr


def test_without_helpcrunch_log_nothing_goes_to_stderr(server: ScriptedServer) -> None:
    out = run_python(GET_ONE_CUSTOMER, API_KEY, server.base_url)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""


# The core queues its records and Python threads emit them (never a tokio thread: see
# tests/reliability/test_exit_logging.py). Records still come out while a call waits, and carry
# the time their event happened.


class Stamping(logging.Handler):
    """Keeps each record with the monotonic time it was handled."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.handled: list[tuple[logging.LogRecord, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.handled.append((record, time.monotonic()))


@pytest.fixture
def stamping() -> Iterator[Stamping]:
    logger = logging.getLogger("helpcrunch")
    handler = Stamping()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def test_a_blocking_call_logs_its_retry_while_it_waits(
    server: ScriptedServer, client: helpcrunch.Client, stamping: Stamping
) -> None:
    server.enqueue(Reply(503, {}, {"retry-after-ms": "1500"}))
    client.get_customer(1)
    returned = time.monotonic()
    retry = next(r for r in stamping.handled if r[0].levelno == logging.INFO)
    # Handled before the second attempt even reached the server, not when the call ended.
    assert retry[1] < server.requests[1].at < returned


def test_an_async_call_logs_its_retry_while_it_waits(
    server: ScriptedServer, stamping: Stamping
) -> None:
    server.enqueue(Reply(503, {}, {"retry-after-ms": "1500"}))

    async def main() -> None:
        async with helpcrunch.AsyncClient(
            api_key=API_KEY, base_url=server.base_url, rate_limit=None
        ) as client:
            call = asyncio.ensure_future(client.get_customer(1))
            while not any(r.levelno == logging.INFO for r, _ in stamping.handled):
                assert not call.done(), "the retry's record only came with the result"
                await asyncio.sleep(0.01)
            assert len(server.requests) == 1, "the record waited for the second attempt"
            await call

    asyncio.run(main())


def test_records_carry_the_time_of_their_event(
    server: ScriptedServer, client: helpcrunch.Client, stamping: Stamping
) -> None:
    # On a thread other than the main one, records come out when the call returns; each still
    # has the time its attempt ended.
    server.enqueue(Reply(503, {}, {"retry-after-ms": "300"}))
    wall_start = time.time()
    thread = threading.Thread(target=client.get_customer, args=(1,))
    thread.start()
    thread.join()
    (first, _), (second, _) = stamping.handled
    assert wall_start <= first.created < second.created
    assert second.created - first.created >= 0.3, "the retry's wait lies between the two"
