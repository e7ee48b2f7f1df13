"""Processes and the interpreter: Ctrl-C, fork, multiprocessing with fork and spawn, pickling
a client, and a panic-free shutdown."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import pytest

import helpcrunch
from tests.support.processes import child_env, run_python
from tests.support.scripted_server import API_KEY, Hang, Reply, ScriptedServer

# Ctrl-C


@dataclass
class Interrupted:
    returncode: int
    stdout: str
    stderr: str


def interrupt_mid_call(script: str, server: ScriptedServer, settle: float) -> Interrupted:
    """Run ``script`` (which prints "calling" before its call) in a child and send it SIGINT
    ``settle`` seconds after its first request reached ``server``. The scripts' calls would
    block for an hour if Ctrl-C did not stop them: the bounded wait here fails the test then,
    whatever the machine's speed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, API_KEY, server.base_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "calling"
        assert server.wait_for_requests(1, timeout=30), "the request never arrived"
        time.sleep(settle)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Interrupted(proc.returncode, stdout, stderr)


CTRL_C_SCRIPT = """
import sys, helpcrunch
client = helpcrunch.Client(api_key=sys.argv[1], base_url=sys.argv[2], timeout=3600,
                           max_retries=0, rate_limit=None)
print("calling", flush=True)
client.{call}
print("returned", flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(
    "call",
    ["remove_tags(1568834, ['Lead'])", "get_customer(1)"],
    ids=["remove_tags", "get_customer"],
)
def test_ctrl_c_interrupts_a_blocked_call_promptly(server: ScriptedServer, call: str) -> None:
    server.set_default(Hang())
    # 0.2 s: well inside the blocking call.
    done = interrupt_mid_call(CTRL_C_SCRIPT.format(call=call), server, settle=0.2)
    assert done.returncode != 0
    assert "KeyboardInterrupt" in done.stderr
    assert "panic" not in done.stderr.lower()
    assert API_KEY not in done.stderr
    # The interrupted request was dropped, not left running.
    assert server.disconnected.wait(5)


CTRL_C_BACKOFF_SCRIPT = """
import sys, helpcrunch
client = helpcrunch.Client(api_key=sys.argv[1], base_url=sys.argv[2], max_retries=100,
                           rate_limit=None)
print("calling", flush=True)
client.get_customer(1)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_interrupts_a_call_waiting_out_a_retry_after(server: ScriptedServer) -> None:
    # 59 s before each of 100 retries: well over an hour, unless Ctrl-C stops it.
    server.set_default(Reply(429, {}, {"Retry-After": "59"}))
    # 0.3 s: now in the wait before the first retry.
    done = interrupt_mid_call(CTRL_C_BACKOFF_SCRIPT, server, settle=0.3)
    assert "KeyboardInterrupt" in done.stderr
    assert "panic" not in done.stderr.lower()
    assert len(server.requests) == 1


CTRL_C_CATCH_SCRIPT = """
import sys, helpcrunch
client = helpcrunch.Client(api_key=sys.argv[1], base_url=sys.argv[2], timeout=3600,
                           max_retries=0, rate_limit=None)
print("calling", flush=True)
try:
    client.get_customer(1)
except KeyboardInterrupt:
    print("interrupted", flush=True)
print(client.get_customer(2)["id"], flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_after_ctrl_c_the_client_keeps_working(server: ScriptedServer) -> None:
    server.enqueue(Hang())
    done = interrupt_mid_call(CTRL_C_CATCH_SCRIPT, server, settle=0.2)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["interrupted", "2"]


# fork


def _wait_child(pid: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_client_used_before_fork_works_in_the_child(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    assert client.get_customer(1)["id"] == 1  # runtime and pool exist in the parent
    pid = os.fork()
    if pid == 0:  # child: exit 0 only if the call succeeds
        code = 1
        try:
            code = 0 if client.get_customer(2)["id"] == 2 else 1
        finally:
            os._exit(code)
    assert _wait_child(pid) == 0
    assert client.get_customer(3)["id"] == 3  # and the parent's client still works
    assert [r.path for r in server.requests] == ["/customers/1", "/customers/2", "/customers/3"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_async_client_used_before_fork_works_in_the_child(server: ScriptedServer) -> None:
    import asyncio

    c = helpcrunch.AsyncClient(api_key=API_KEY, base_url=server.base_url, rate_limit=None)
    assert asyncio.run(c.get_customer(1))["id"] == 1
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if asyncio.run(c.get_customer(2))["id"] == 2 else 1
        finally:
            os._exit(code)
    assert _wait_child(pid) == 0
    assert len(server.requests) == 2


def fetch_id(client: helpcrunch.Client, customer_id: int) -> int:
    return int(client.get_customer(customer_id)["id"])


def settings_of(client: helpcrunch.Client) -> tuple[Any, ...]:
    return (client.base_url, client.timeout, client.max_retries, client.rate_limit)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_multiprocessing_fork_pool_uses_the_client(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    client.get_customer(99)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        ids = pool.starmap(fetch_id, [(client, i) for i in range(1, 5)], chunksize=1)
    assert ids == [1, 2, 3, 4]
    assert len(server.requests) == 5


def test_multiprocessing_spawn_pool_uses_a_pickled_client(server: ScriptedServer) -> None:
    client = helpcrunch.Client(
        api_key=API_KEY, base_url=server.base_url, timeout=7.5, max_retries=1, rate_limit=600
    )
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        ids = pool.starmap(fetch_id, [(client, i) for i in range(1, 3)])
        remote_settings = pool.apply(settings_of, (client,))
    assert ids == [1, 2]
    assert remote_settings == settings_of(client)
    assert all(r.headers["Authorization"] == f"Bearer {API_KEY}" for r in server.requests)


# pickle


@pytest.mark.parametrize("cls", [helpcrunch.Client, helpcrunch.AsyncClient])
def test_pickle_round_trips_the_settings(server: ScriptedServer, cls: type[Any]) -> None:
    c = cls(api_key=API_KEY, base_url=server.base_url, timeout=7.5, max_retries=5, rate_limit=90)
    back = pickle.loads(pickle.dumps(c))
    assert type(back) is cls
    assert (back.base_url, back.timeout, back.max_retries, back.rate_limit) == (
        server.base_url,
        7.5,
        5,
        90.0,
    )
    assert repr(back) == repr(c)


def test_pickle_round_trips_a_disabled_rate_limit(server: ScriptedServer) -> None:
    c = helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None)
    assert pickle.loads(pickle.dumps(c)).rate_limit is None


def test_unpickled_client_calls_with_the_same_key(server: ScriptedServer) -> None:
    c = helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None)
    back = pickle.loads(pickle.dumps(c))
    assert back.get_customer(5)["id"] == 5
    assert server.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"


def test_unpickled_insecure_client_keeps_allow_insecure_http() -> None:
    c = helpcrunch.Client(
        api_key=API_KEY, base_url="http://example.invalid", allow_insecure_http=True
    )
    back = pickle.loads(pickle.dumps(c))
    assert back.base_url == "http://example.invalid"


def test_unpickled_client_in_a_fresh_interpreter_works(server: ScriptedServer) -> None:
    c = helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None, timeout=9)
    code = (
        "import pickle, sys; c = pickle.loads(sys.stdin.buffer.read()); "
        "print(c.timeout, c.get_customer(11)['id'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=pickle.dumps(c),
        capture_output=True,
        env=child_env(),
        timeout=60,
    )
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().split() == ["9.0", "11"]


# Interpreter shutdown


SHUTDOWN_HEAD = """
import asyncio, sys, helpcrunch
c = helpcrunch.AsyncClient(api_key=sys.argv[1], base_url=sys.argv[2], timeout=60,
                           rate_limit=None)
"""
SHUTDOWN_SCRIPTS = {
    # asyncio.run cancels the task still waiting on the call as the loop ends.
    "left-in-flight": SHUTDOWN_HEAD
    + """
async def main():
    asyncio.ensure_future(c.get_customer(1))
    await asyncio.sleep(0.1)
asyncio.run(main())
print("done", flush=True)
""",
    # The task is cancelled and awaited properly; the interpreter exits right after.
    "cancelled-and-awaited": SHUTDOWN_HEAD
    + """
async def main():
    task = asyncio.ensure_future(c.get_customer(1))
    await asyncio.sleep(0.1)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
asyncio.run(main())
print("done", flush=True)
""",
}


@pytest.mark.parametrize("script", list(SHUTDOWN_SCRIPTS), ids=list(SHUTDOWN_SCRIPTS))
def test_exiting_after_a_cancelled_async_call_prints_no_panic(
    server: ScriptedServer, script: str
) -> None:
    server.set_default(Hang())
    # The panic races interpreter shutdown: give it many chances (the first one fails the test).
    for _ in range(20):
        out = run_python(SHUTDOWN_SCRIPTS[script], API_KEY, server.base_url)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "done"
        assert "panic" not in out.stderr.lower(), out.stderr
        assert "Traceback" not in out.stderr, out.stderr


EXIT_MID_CALL_SCRIPT = """
import sys, threading, time, os, helpcrunch
c = helpcrunch.Client(api_key=sys.argv[1], base_url=sys.argv[2], timeout=60, rate_limit=None)
threading.Thread(target=lambda: c.get_customer(1), daemon=True).start()
time.sleep(0.5)
print("exiting", flush=True)
"""


def test_interpreter_exits_while_a_daemon_thread_is_in_a_call(server: ScriptedServer) -> None:
    server.set_default(Hang())
    out = run_python(EXIT_MID_CALL_SCRIPT, API_KEY, server.base_url)
    assert out.returncode == 0, out.stderr
    assert "panic" not in out.stderr.lower()
