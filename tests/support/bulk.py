"""Shared by the bulk tests (tests/bulk/, tests/cli/test_from_csv.py): sandbox customers, what
the sandbox saw, checkpoints, and the worker function multiprocessing imports (it must live in a
module, not in a test file, for the "spawn" start method)."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import helpcrunch
from helpcrunch.sandbox import Sandbox

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
