"""Ctrl-C during a bulk run: it stops promptly with ``BulkInterrupted``, whose report holds every
item taken from the input so far (finished ones kept, the rest cancelled). Mostly run in child
processes, as a user's script would be, so a real SIGINT reaches a real main thread."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.processes import child_env, last_json_line, run_python, start_child

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# The child reads its input from a generator that counts the rows it hands out, and on Ctrl-C
# prints what the report holds next to that count.
PRELUDE = """
import json, os, signal, sys, threading, time, helpcrunch

taken = 0

def rows(n):
    global taken
    for i in range(n):
        taken += 1
        yield (542335 + i % 10, "Lead")

def describe(report):
    return {
        "taken": taken,
        "len": len(report),
        "indexes": [r.index for r in report] == list(range(len(report))),
        "succeeded": report.succeeded,
        "failed": report.failed,
        "not_started": report.not_started,
        "cancelled": sum(isinstance(r.error, helpcrunch.RequestCancelledError) for r in report),
    }
"""

# 10 requests a second for 3,000 rows: five minutes, far past the harness's wait, unless
# Ctrl-C stops it. The child says when ten results have reached it.
SLOW_JOB = (
    PRELUDE
    + """
def progress(done, total, result):
    if done == 10:
        print("ten", flush=True)

client = helpcrunch.Client(rate_limit=600, max_retries=0)
try:
    client.remove_tags_many(rows(3000), progress=progress)
    print("finished", flush=True)
except helpcrunch.BulkInterrupted as stopped:
    print(json.dumps(describe(stopped.report)), flush=True)
"""
)


def test_ctrl_c_stops_promptly_and_keeps_every_item_taken() -> None:
    with Sandbox() as sb:
        child = start_child(SLOW_JOB, child_env(sb))
        try:
            assert child.stdout is not None
            # Ten results have been handed to the caller (not merely answered by the server,
            # which races the answers still on their way back): the report must keep them.
            assert child.stdout.readline().strip() == "ten", child.stderr
            child.send_signal(signal.SIGINT)
            # Were Ctrl-C ignored, the job would run for minutes: this wait fails instead.
            out, err = child.communicate(timeout=60)
        finally:
            child.kill()
        answered = sb.status_count(200)

    assert child.returncode == 0, err
    assert "finished" not in out
    state = last_json_line(out)
    assert state["len"] == state["taken"] < 3000, "every row taken from the input is reported"
    assert state["indexes"]
    assert state["succeeded"] >= 10
    assert state["succeeded"] + state["failed"] + state["not_started"] == state["len"]
    # Only the stop failed them: those in flight are failed (maybe applied), those waiting for
    # the rate limit were never started.
    assert state["cancelled"] == state["failed"] + state["not_started"]
    assert state["not_started"] > 0
    # What the sandbox did is what the report says, give or take the one paced request that
    # may have been answered while the run stopped.
    assert state["succeeded"] <= answered <= state["succeeded"] + 1


CTRL_C_IN_PROGRESS = (
    PRELUDE
    + """
def progress(done, total, result):
    if done == 5:
        os.kill(os.getpid(), signal.SIGINT)   # Ctrl-C while the progress display is updated

client = helpcrunch.Client(rate_limit=None)
try:
    client.remove_tags_many(rows(300), progress=progress)
    print("finished", flush=True)
except helpcrunch.BulkInterrupted as stopped:
    print(json.dumps(describe(stopped.report)), flush=True)
"""
)


def test_ctrl_c_during_a_progress_update_keeps_that_item() -> None:
    with Sandbox() as sb:
        result = run_python(CTRL_C_IN_PROGRESS, env=child_env(sb), timeout=30)
    assert result.returncode == 0, result.stderr
    state = last_json_line(result.stdout)
    assert state["len"] == state["taken"], "the item being shown when Ctrl-C came is lost"
    assert state["indexes"]
    assert state["succeeded"] >= 5


# Ctrl-C at a random moment of a run going as fast as it can, ten times over, in one child; a
# watchdog ends the child if a run does not return.
CTRL_C_FAST = (
    PRELUDE
    + """
import faulthandler, random
client = helpcrunch.Client(rate_limit=None)
outcomes = []
for trial in range(10):
    taken = 0
    threading.Timer(random.uniform(0.05, 0.3), os.kill, (os.getpid(), signal.SIGINT)).start()
    faulthandler.dump_traceback_later(5, exit=True)
    try:
        client.remove_tags_many(rows(10**6))
        outcomes.append("finished")
    except helpcrunch.BulkInterrupted as stopped:
        state = describe(stopped.report)
        complete = state["len"] == state["taken"] and state["indexes"]
        outcomes.append("complete" if complete else "incomplete")
    faulthandler.cancel_dump_traceback_later()
print(json.dumps({"outcomes": outcomes}), flush=True)
"""
)


def test_ctrl_c_at_any_moment_of_a_fast_run_stops_with_a_complete_report() -> None:
    with Sandbox(log_capacity=1000) as sb:
        result = run_python(CTRL_C_FAST, env=child_env(sb))
    assert result.returncode == 0, result.stderr[-2000:]
    assert last_json_line(result.stdout)["outcomes"] == ["complete"] * 10


def test_ctrl_c_while_a_rows_tags_are_read_interrupts_the_run() -> None:
    def tags_read_when_ctrl_c_comes() -> Iterator[str]:
        yield "Lead"
        raise KeyboardInterrupt

    items = [(542335, "Lead"), (542336, tags_read_when_ctrl_c_comes()), (542337, "vip")]
    with Sandbox() as sb, sb.client() as client, pytest.raises(KeyboardInterrupt) as caught:
        client.remove_tags_many(items)
    assert isinstance(caught.value, helpcrunch.BulkInterrupted)
