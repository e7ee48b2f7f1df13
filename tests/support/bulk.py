"""Shared by the bulk tests (tests/bulk/, tests/cli/test_from_csv.py): sandbox customers, child processes, waiting for a
condition, and the worker function multiprocessing imports (it must live in a module, not in a
test file, for the "spawn" start method)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import helpcrunch
from helpcrunch.sandbox import Sandbox

PACKAGE_ROOT = str(Path(helpcrunch.__file__).resolve().parent.parent)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: The ten demo customers every fresh sandbox holds.
DEMO_IDS = list(range(542335, 542345))


def tagged_customers(n: int, tags: Iterable[str] = ("Lead", "keep")) -> list[dict[str, Any]]:
    """Customers 1..n, each carrying ``tags``: one distinct customer per row of a bulk job, so
    the sandbox's request log tells which rows were sent."""
    tag_list = [{"name": t, "color": "#c57de0"} for t in tags]
    return [{"id": i, "name": f"Customer {i}", "tags": tag_list} for i in range(1, n + 1)]


def tag_names(sandbox: Sandbox, customer_id: int) -> list[str]:
    return [t["name"] for t in sandbox.customer(customer_id)["tags"] or []]


def requests_per_customer(sandbox: Sandbox) -> Counter[int]:
    """How many requests the sandbox got for each customer id (``/v1/customers/{id}/tags``)."""
    counts: Counter[int] = Counter()
    for request in sandbox.requests:
        parts = request.path.split("/")
        if len(parts) >= 4 and parts[3].isdigit():
            counts[int(parts[3])] += 1
    return counts


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def child_env(sandbox: Sandbox | None = None, **extra: str) -> dict[str, str]:
    """The environment for a child Python: this package importable, no HELPCRUNCH_* from the
    outside, and the sandbox's key and URL when one is given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPCRUNCH_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, env.get("PYTHONPATH")]))
    if sandbox is not None:
        env["HELPCRUNCH_API_KEY"] = sandbox.api_key
        env["HELPCRUNCH_BASE_URL"] = sandbox.base_url
    env.update(extra)
    return env


def start_child(script: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def last_json_line(text: str) -> Any:
    lines = [line for line in text.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line in the child's output: {text!r}"
    return json.loads(lines[-1])


def read_checkpoint(path: Path) -> list[dict[str, Any]]:
    """The checkpoint's complete lines (a line cut short by a kill is left out, as the package
    itself does)."""
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            pass
    return entries


def untag_chunk(client: helpcrunch.Client, chunk: list[tuple[int, str]]) -> list[tuple[Any, ...]]:
    """A multiprocessing worker: untag one chunk with the (pickled) client it was sent, and
    return what became of each row with the worker's pid."""
    report = client.remove_tags_many(chunk, concurrency=4)
    return [(r.customer_id, r.ok, type(r.error).__name__, os.getpid()) for r in report]
