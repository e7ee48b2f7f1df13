"""Ctrl-C during ``sync-tag``, ``clear-tag`` and ``undo`` (the installed command, a real SIGINT,
sent once the sandbox shows writes done): one line says what was done, what failed, what was not
started, of how many, and the exact command that resumes; running it finishes the job. Ctrl-C
while planning says nothing was sent."""

from __future__ import annotations

import re
import shlex
import signal
import sys
from pathlib import Path

import pytest

from helpcrunch.sandbox import Sandbox
from tests.cli.test_sync import segment
from tests.support.cli import helpcrunch, start
from tests.support.processes import wait_for
from tests.support.sync import TAG, account, holders

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

#: Two writes a second: 40 changes take 20 s, long after the interrupt.
SLOW = ["--rate-limit", "120", "--no-progress"]

LINE = re.compile(
    r"helpcrunch: interrupted: (\d+) done, (\d+) failed, (\d+) not started"
    r"(?:, (\d+) stopped in flight \(they may have been applied\))? \(of (\d+) changes\); "
    r"to resume, run the same command again: (.*)$"
)


def interrupt_when(args: list[str], sb: Sandbox, ready: object) -> tuple[str, list[int]]:
    """Run the command, Ctrl-C it once ``ready()`` holds; its last stderr line and counts."""
    child = start(*args, sandbox=sb)
    try:
        wait_for(lambda: ready() or child.poll() is not None, what="writes")  # type: ignore[operator]
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    said = LINE.match(line)
    assert said, line
    done, failed, not_started, in_flight, total = (int(n or 0) for n in said.groups()[:5])
    assert failed == 0, line
    assert done + not_started + in_flight == total, line
    # The exact command, as typed.
    assert said.group(6).startswith(shlex.join(["helpcrunch", *args])), line
    return line, [done, not_started, in_flight, total]


def test_sync_tag_says_what_it_did_and_the_command_that_resumes(tmp_path: Path) -> None:
    csv = segment(tmp_path / "segment.csv", [f"c{i}@example.com" for i in range(1, 41)])
    log = str(tmp_path / "run.jsonl")
    args = ["sync-tag", TAG, "--from-csv", csv, "--mode", "add", "--log", log, *SLOW]
    with Sandbox(customers=account(60, set())) as sb:
        line, (done, not_started, _, total) = interrupt_when(
            args, sb, lambda: len(holders(sb)) >= 2
        )
        assert total == 40 and done >= 2 and not_started > 0
        assert done <= len(holders(sb))
        assert f"`helpcrunch undo {log}` reverses both runs" in line
        # The command it names finishes the job.
        resumed = helpcrunch(*args[:-3], "--rate-limit", "0", sandbox=sb)
        assert resumed.returncode == 0, resumed.stderr
        assert holders(sb) == set(range(1, 41))


def test_clear_tag_and_undo_say_the_same(tmp_path: Path) -> None:
    log = str(tmp_path / "clear.jsonl")
    clear = ["clear-tag", TAG, "--log", log, *SLOW]
    with Sandbox(customers=account(60, range(1, 41))) as sb:
        _, (done, not_started, _, total) = interrupt_when(clear, sb, lambda: len(holders(sb)) <= 34)
        assert total == 40 and done >= 6 and not_started > 0
        left = holders(sb)
        # One a second: six changes or more to undo outlast the interrupt.
        undo = ["undo", log, "--rate-limit", "60", "--no-progress"]
        line, (_, not_started, _, total) = interrupt_when(
            undo, sb, lambda: len(holders(sb)) >= len(left) + 2
        )
        assert total == 40 - len(left) and not_started > 0
        assert "(the log shows what is undone already)" in line
        finished = helpcrunch("undo", log, "--rate-limit", "0", sandbox=sb)
        assert finished.returncode == 0, finished.stderr
        assert holders(sb) == set(range(1, 41))


def test_ctrl_c_while_planning_says_nothing_was_sent(tmp_path: Path) -> None:
    csv = segment(tmp_path / "segment.csv", [f"c{i}@example.com" for i in range(1, 300)])
    # A request every 6 s: planning shows its progress (after a second), then is interrupted.
    args = ["sync-tag", TAG, "--from-csv", csv, "--rate-limit", "10"]
    with Sandbox(customers=account(300, set())) as sb:
        child = start(*args, sandbox=sb)
        try:
            assert child.stderr is not None
            first = child.stderr.readline()
            child.send_signal(signal.SIGINT)
            _, err = child.communicate(timeout=30)
        finally:
            child.kill()
        assert holders(sb) == set()
    # The planning display: lookups done of about how many, with the time left.
    assert re.match(r"planning: \d+/\d+ lookups \(\d+ %\), [\d.]+/s, ETA \d+", first), first
    assert child.returncode == 130, err
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(
            "helpcrunch: interrupted before any change was sent; to resume, run the same command "
            f"again: {shlex.join(['helpcrunch', *args])}"
        )
    ), err
