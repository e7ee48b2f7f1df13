"""Issue 12's end-to-end case, as a user lives it offline: ``helpcrunch sandbox --customers``
serving in a process of its own, found through its export lines; a 2,000-row CSV checked
with a dry run, run until Ctrl-C, then resumed from its checkpoint to the end."""

from __future__ import annotations

import json
import re
import shlex
import signal
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.bulk import read_checkpoint
from tests.support.cli import ServedSandbox, helpcrunch, serve_sandbox, start
from tests.support.processes import wait_for

ROWS = 2_000
#: Requests a minute for the interrupted run: 2,000 rows take 40 s at least, so Ctrl-C after
#: the first hundred lands mid-run on any machine, and the test does not wait for the rest.
PACE = 3_000


@pytest.fixture
def served() -> Iterator[ServedSandbox]:
    sandbox = serve_sandbox("--customers", str(ROWS), "--seed", "12")
    try:
        yield sandbox
    finally:
        err = sandbox.stop()
        assert sandbox.process.returncode == 0, err


def customers(served: ServedSandbox) -> list[dict[str, Any]]:
    env = served.env
    request = urllib.request.Request(
        f"{env['HELPCRUNCH_BASE_URL']}/customers?limit={ROWS}",
        headers={"Authorization": f"Bearer {env['HELPCRUNCH_API_KEY']}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        data: list[dict[str, Any]] = json.load(response)["data"]
    return data


def names(customer: dict[str, Any]) -> set[str]:
    return {t["name"] for t in customer.get("tags") or []}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_dry_run_interrupted_run_and_resume_of_2000_rows(
    served: ServedSandbox, tmp_path: Path
) -> None:
    before = customers(served)
    assert [c["id"] for c in before] == list(range(1, ROWS + 1))
    csv = tmp_path / "rows.csv"
    # Every customer untagged of "Lead" and of one tag of its own (whichever it has first).
    csv.write_text(
        "customer_id,tags\n"
        + "".join(
            f'{c["id"]},"Lead,{sorted(names(c))[0] if names(c) else "Lead"}"\n' for c in before
        )
    )
    checkpoint = tmp_path / "run.jsonl"
    run = ["untag", "--from-csv", str(csv), "--checkpoint", str(checkpoint)]

    # 1. The dry run: every row valid, the time at the pace, nothing sent.
    dry = helpcrunch(*run, "--dry-run", "--rate-limit", str(PACE), env=served.env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stderr.endswith(
        f"2,000 to untag, 0 invalid; at {PACE:,} requests a minute: at least 40 s. Nothing was "
        "sent.\n"
    )
    assert customers(served) == before
    assert not checkpoint.exists()

    # 2. The real run, stopped by Ctrl-C once a hundred rows are recorded.
    child = start(*run, "--rate-limit", str(PACE), "--progress-interval", "0.5", **served.env)
    try:
        wait_for(
            lambda: (
                child.poll() is not None
                or (checkpoint.exists() and len(read_checkpoint(checkpoint)) >= 100)
            ),
            what="the first hundred rows",
        )
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 130, err
    lines = err.splitlines()
    assert lines[0] == "untagging: 0/2,000 customers (0 %), 49.75/s, ETA 40 s"
    done = sum(1 for entry in read_checkpoint(checkpoint) if entry["ok"])
    assert done >= 100
    stopped = re.fullmatch(
        r"helpcrunch: interrupted: ([\d,]+) done, 0 failed, ([\d,]+) not started(?:, ([\d,]+) "
        r"stopped in "
        r"flight \(they may have been applied\))? \(of 2,000 rows\); to resume, run the same "
        rf"command again: {re.escape(shlex.join(['helpcrunch', *run]))} .*"
        rf"\(--checkpoint {re.escape(str(checkpoint))} skips the rows done\)",
        lines[-1],
    )
    assert stopped, lines[-1]
    done_said, not_started, in_flight = (int((n or "0").replace(",", "")) for n in stopped.groups())
    assert done_said == done
    assert done + not_started + in_flight == ROWS

    # 3. The resume (unpaced, to keep the test short): only the rest is sent, and all is done.
    resumed = helpcrunch(*run, "--rate-limit", "0", env=served.env)
    assert resumed.returncode == 0, resumed.stderr
    summary = resumed.stderr.splitlines()
    assert summary[0] == "untagging: 0/2,000 customers (0 %)"
    assert summary[-1] == (
        f"untagged {ROWS - done:,} of 2,000 customers; 0 failed, {done:,} skipped as already done"
    )
    assert sum(1 for entry in read_checkpoint(checkpoint) if entry["ok"]) == ROWS
    after = customers(served)
    assert all("Lead" not in names(c) for c in after)
    assert sum(len(names(c)) for c in after) < sum(len(names(c)) for c in before)
