"""Memory stays flat when a large lazy input is streamed and the results are dropped: measured
(the child's resident set size), not timed."""

from __future__ import annotations

import sys

import pytest

from helpcrunch.sandbox import Sandbox
from tests.support.processes import child_env, last_json_line, run_python

ROWS = 100_000
BASELINE_AT = 20_000
ALLOWED_GROWTH_MB = 30

JOB = f"""
import json, helpcrunch

def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

def rows():
    for i in range({ROWS}):
        yield (542335 + i % 10, ["Lead"])

client = helpcrunch.Client(rate_limit=None)
count = failed = 0
baseline = None
for result in client.iter_remove_tags(rows(), concurrency=16):
    count += 1
    failed += not result.ok
    if count == {BASELINE_AT}:
        baseline = rss_mb()
print(json.dumps({{"count": count, "failed": failed, "baseline": baseline, "end": rss_mb()}}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_streaming_a_large_lazy_input_keeps_memory_flat() -> None:
    # A small request log: the sandbox's own memory is not what is measured, but it shares the
    # machine.
    with Sandbox(log_capacity=1000) as sb:
        result = run_python(JOB, env=child_env(sb), timeout=240)
        served = sb.request_count
    assert result.returncode == 0, result.stderr
    state = last_json_line(result.stdout)
    assert state["count"] == ROWS and state["failed"] == 0
    assert served == ROWS
    growth = state["end"] - state["baseline"]
    assert growth < ALLOWED_GROWTH_MB, (
        f"RSS grew {growth:.1f} MB over {ROWS - BASELINE_AT} rows "
        f"({state['baseline']:.1f} MB -> {state['end']:.1f} MB)"
    )
