"""Forking while the package is busy. A lock that one of the parent's threads holds at the fork
stays locked in the child, where that thread does not exist: anything the child's first call
takes that such a thread could have held (a runtime's task queue, a connection pool, the log
queue, pyo3's pool of deferred releases, the lock around the shared default client) hangs it.
Such a hang needs the fork to land in a window of microseconds, so the test forks hundreds of
times at arbitrary points of a busy parent: a bulk run at concurrency 8, async calls on a loop
in another thread, DEBUG logging (records queued by the runtime's threads all along), and a
thread making module-level calls while the default client is rebuilt. Each child makes one
call, in one of several ways, and exits with a status; the parent waits for each with a bound
and names the fork that hung."""

from __future__ import annotations

import asyncio
import faulthandler
import itertools
import logging
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.bulk import tagged_customers

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
    # Python 3.12+ warns about forking a process with threads: that is the point here.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

FORKS = 300
#: Children alive at once: enough to keep forking while earlier children run their call.
IN_FLIGHT = 4
#: A child's call takes milliseconds; this is only where a hang is called a hang.
CHILD_DEADLINE = 30.0
CUSTOMERS = 50


class Records(logging.Handler):
    """Counts the package's records; in a child, also keeps their paths."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0
        self.paths: list[str] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if self.paths is not None:
            self.paths.append(str(getattr(record, "path", "")))


@dataclass
class Busy:
    """What the parent's threads have done so far, for naming a fork point."""

    bulk_items: int = 0
    async_calls: int = 0
    module_calls: int = 0
    errors: list[str] = field(default_factory=list)
    progressed: threading.Condition = field(default_factory=threading.Condition)

    def bump(self, what: str) -> None:
        with self.progressed:
            setattr(self, what, getattr(self, what) + 1)
            self.progressed.notify_all()

    def counts(self) -> tuple[int, int, int]:
        return (self.bulk_items, self.async_calls, self.module_calls)

    def where(self) -> str:
        return (
            f"after {self.bulk_items} bulk items, {self.async_calls} async calls and "
            f"{self.module_calls} module-level calls"
        )


def run_child(call: Callable[[], bool], records: Records) -> None:
    """In the child: make the call, check the records it emitted, and exit without running
    anything of the parent's (pytest's teardown, atexit)."""
    code = 3
    try:
        # A hung child shows where it hangs (in the test's captured stderr) before it is killed.
        faulthandler.dump_traceback_later(CHILD_DEADLINE / 2)
        records.paths = []
        ok = call()
        helpcrunch._logs.flush()
        # Its own record was emitted, and none the parent had queued (the bulk run's tag
        # removals): the log queue is this process's own.
        mine = [p for p in records.paths if p]
        own_records_only = bool(mine) and not any(p.endswith("/tags") for p in mine)
        code = 0 if ok and own_records_only else 1
    except BaseException:
        traceback.print_exc()
        code = 2
    finally:
        os._exit(code)


def test_children_forked_at_any_point_of_a_busy_run_make_their_call(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    records = Records()
    logger = logging.getLogger("helpcrunch")
    caplog.set_level(logging.DEBUG, logger="helpcrunch")
    logger.addHandler(records)
    stop = threading.Event()
    busy = Busy()
    try:
        with Sandbox(customers=tagged_customers(CUSTOMERS)) as sandbox:
            base_url, api_key = sandbox.base_url, sandbox.api_key
            monkeypatch.setenv("HELPCRUNCH_API_KEY", api_key)
            monkeypatch.setenv("HELPCRUNCH_BASE_URL", base_url)
            bulk_client = sandbox.client()
            idle_client = sandbox.client()
            aclient = sandbox.async_client()
            # Connections in both of the idle client's pools (blocking and async), which a child
            # replacing that pool must let go of without touching the parent's runtimes.
            assert idle_client.get_customer(1)["id"] == 1
            assert asyncio.run(aclient.get_customer(1))["id"] == 1

            threads = [
                threading.Thread(target=bulk_run, args=(bulk_client, busy, stop), daemon=True),
                threading.Thread(target=async_calls, args=(aclient, busy, stop), daemon=True),
                threading.Thread(target=module_calls, args=(base_url, busy, stop), daemon=True),
            ]
            for thread in threads:
                thread.start()

            children: dict[int, tuple[float, str]] = {}
            kinds = child_calls(bulk_client, idle_client, aclient, api_key, base_url)
            for n, (kind, call) in zip(range(FORKS), itertools.cycle(kinds)):
                wait_for_progress(busy)
                while len(children) >= IN_FLIGHT:
                    reap(children, block_until=time.monotonic() + 0.01)
                where = f"fork {n} ({kind}) {busy.where()}"
                pid = os.fork()
                if pid == 0:
                    run_child(call, records)
                children[pid] = (time.monotonic() + CHILD_DEADLINE, where)
            while children:
                reap(children, block_until=time.monotonic() + 0.01)

            stop.set()
            for thread in threads:
                thread.join(60)
                assert not thread.is_alive(), "a busy thread did not stop"
            assert not busy.errors, busy.errors
            # The parent's client still works after all that.
            assert bulk_client.get_customer(2)["id"] == 2
    finally:
        stop.set()
        logger.removeHandler(records)
    assert records.count > 0


def child_calls(
    bulk_client: helpcrunch.Client,
    idle_client: helpcrunch.Client,
    aclient: helpcrunch.AsyncClient,
    api_key: str,
    base_url: str,
) -> list[tuple[str, Callable[[], bool]]]:
    def fresh() -> bool:
        with helpcrunch.Client(api_key=api_key, base_url=base_url, rate_limit=None) as c:
            return c.get_customer(3)["id"] == 3

    def fresh_async() -> bool:
        async def call() -> bool:
            async with helpcrunch.AsyncClient(
                api_key=api_key, base_url=base_url, rate_limit=None
            ) as c:
                return (await c.get_customer(4))["id"] == 4

        return asyncio.run(call())

    return [
        # The client of the bulk run going on in the parent.
        ("inherited busy client", lambda: bulk_client.get_customer(5)["id"] == 5),
        # A client whose pools hold idle connections on the parent's runtimes.
        ("inherited idle client", lambda: idle_client.get_customer(6)["id"] == 6),
        # The async client that another thread of the parent is using on its loop.
        ("inherited async client", lambda: asyncio.run(aclient.get_customer(7))["id"] == 7),
        ("fresh client", fresh),
        ("fresh async client", fresh_async),
        # The shared default client, which a thread of the parent keeps rebuilding.
        ("module-level call", lambda: helpcrunch.get_customer(8)["id"] == 8),
    ]


def wait_for_progress(busy: Busy) -> None:
    """Fork only once every thread of the parent has moved on since the last fork, so the forks
    land at many different points of their work."""
    seen = busy.counts()
    deadline = time.monotonic() + 30
    with busy.progressed:
        while not all(now > then for now, then in zip(busy.counts(), seen, strict=True)):
            assert not busy.errors, busy.errors
            left = deadline - time.monotonic()
            assert left > 0, f"the parent's threads stopped making progress: {busy.where()}"
            busy.progressed.wait(left)


def reap(children: dict[int, tuple[float, str]], block_until: float) -> None:
    """Collect the children that ended (failing on a bad status); kill and fail for one past
    its deadline. Waits for one to end until ``block_until`` at most."""
    while True:
        for pid, (deadline, where) in list(children.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                del children[pid]
                code = os.waitstatus_to_exitcode(status)
                assert code == 0, f"the child of {where} failed with status {code}"
                return
            if time.monotonic() > deadline:
                for other in children:
                    os.kill(other, signal.SIGKILL)
                    os.waitpid(other, 0)
                pytest.fail(f"the child of {where} hung in its call")
        if time.monotonic() >= block_until:
            return
        # Polled: a child's exit is not an event this thread can wait on with a bound
        # (os.waitpid has no timeout, and SIGCHLD goes to whichever thread).
        time.sleep(0.001)


def bulk_run(client: helpcrunch.Client, busy: Busy, stop: threading.Event) -> None:
    def rows() -> Iterator[tuple[int, str]]:
        for n in itertools.count():
            if stop.is_set():
                return
            yield (n % CUSTOMERS + 1, "Lead")

    try:
        while not stop.is_set():
            report = client.remove_tags_many(
                rows(), concurrency=8, progress=lambda *_: busy.bump("bulk_items")
            )
            failed = [r for r in report if not r.ok]
            if failed:
                busy.errors.append(f"bulk run: {failed[0].error!r}")
                return
    except BaseException as e:
        busy.errors.append(f"bulk run: {e!r}")


def async_calls(client: helpcrunch.AsyncClient, busy: Busy, stop: threading.Event) -> None:
    async def main() -> None:
        while not stop.is_set():
            got = await asyncio.gather(*(client.get_customer(i) for i in range(1, 9)))
            assert [c["id"] for c in got] == list(range(1, 9))
            busy.bump("async_calls")

    try:
        asyncio.run(main())
    except BaseException as e:
        busy.errors.append(f"async calls: {e!r}")


def module_calls(base_url: str, busy: Busy, stop: threading.Event) -> None:
    # Two spellings of one server: each switch rebuilds the default client, under its lock.
    # (The test's monkeypatch restores the variable.)
    spellings = itertools.cycle([base_url, base_url.rstrip("/") + "/"])
    try:
        while not stop.is_set():
            os.environ["HELPCRUNCH_BASE_URL"] = next(spellings)
            assert helpcrunch.get_customer(9)["id"] == 9
            busy.bump("module_calls")
    except BaseException as e:
        busy.errors.append(f"module-level calls: {e!r}")
