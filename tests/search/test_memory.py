"""Memory stays flat while a search streams an account of 200,000 customers: measured (the
child's resident set size), not timed. What grows is only the set of ids handed out."""

from __future__ import annotations

import sys

import pytest

from helpcrunch.sandbox import Sandbox
from tests.support.processes import child_env, last_json_line, run_python

CUSTOMERS = 200_000
ALLOWED_GROWTH_MB = 50

JOB = """
import json, helpcrunch

def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

client = helpcrunch.Client(rate_limit=None)
count = id_sum = 0
baseline = peak = None
for customer in client.list_customers():
    count += 1
    id_sum += customer["id"]
    if count == 1:
        baseline = peak = rss_mb()
    elif count % 10_000 == 0:
        peak = max(peak, rss_mb())
peak = max(peak, rss_mb())
print(json.dumps({"count": count, "id_sum": id_sum, "baseline": baseline, "peak": peak}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_streaming_200k_customers_keeps_memory_flat() -> None:
    with Sandbox(customers=CUSTOMERS, log_capacity=1000) as sb:
        result = run_python(JOB, env=child_env(sb), timeout=300)
        pages = sb.request_count
    assert result.returncode == 0, result.stderr
    state = last_json_line(result.stdout)
    assert state["count"] == CUSTOMERS
    assert state["id_sum"] == CUSTOMERS * (CUSTOMERS + 1) // 2, "every customer once"
    assert pages == CUSTOMERS // 100
    growth = state["peak"] - state["baseline"]
    assert growth < ALLOWED_GROWTH_MB, (
        f"RSS grew {growth:.1f} MB streaming {CUSTOMERS} customers "
        f"({state['baseline']:.1f} MB -> {state['peak']:.1f} MB)"
    )
