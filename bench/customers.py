"""The customer sync's standard case (issue 20) against the sandbox, requests counted by the
server: plan + apply (and with ``batch=True``), side by side with the per-row script a user
would write, and the API's minimum. Prints a Markdown table.

    python bench/customers.py [--scale 10] [--rate 120]

Standard case (scale 10): an account of 50,000; a table of 10,000 rows by email with
``company``, ``phone``, ``customData.plan``, ``customData.mrr``: 9,300 unchanged, 500 changed,
150 new (``create_missing=True``), 50 rejected (malformed). Minutes are requests / rate.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import helpcrunch
from helpcrunch.sandbox import Sandbox


def standard(n: int = 1) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The account (5,000 n) and the table (1,000 n rows)."""
    customers = [
        {
            "id": i,
            "email": f"c{i}@example.com",
            "userId": f"user-{i}",
            "company": f"Co {i}",
            "phone": f"+1555{i:07d}",
            "firstSeen": str(1_600_000_000 + i),
            "tags": [],
            "customData": {"plan": "basic", "mrr": 10},
        }
        for i in range(1, 5_000 * n + 1)
    ]
    table: list[dict[str, Any]] = []
    for i in range(1, 930 * n + 1):  # unchanged (mrr as a float: equal by value)
        c = customers[i - 1]
        table.append(
            {
                "email": c["email"],
                "company": c["company"],
                "phone": c["phone"],
                "customData.plan": "basic",
                "customData.mrr": 10.0,
            }
        )
    for i in range(930 * n + 1, 980 * n + 1):  # changed
        c = customers[i - 1]
        table.append(
            {
                "email": c["email"],
                "company": c["company"],
                "phone": c["phone"],
                "customData.plan": "pro",
                "customData.mrr": 49,
            }
        )
    for i in range(15 * n):  # new
        row = {"email": f"new{i}@example.com", "company": "Newco", "phone": None}
        table.append({**row, "customData.plan": "trial", "customData.mrr": 0})
    for i in range(5 * n):  # rejected
        row = {"email": f"broken{i}.example.com", "company": "X", "phone": None}
        table.append({**row, "customData.plan": "x", "customData.mrr": 0})
    return customers, table


def ours(
    customers: list[dict[str, Any]], table: list[dict[str, Any]], batch: bool
) -> dict[str, Any]:
    with Sandbox(customers=customers) as sb, sb.client(rate_limit=None) as client:
        started = time.perf_counter()
        plan = client.plan_customers(table, create_missing=True)
        planned = sb.request_count
        report = client.apply_plan(plan, batch=batch)
        took = time.perf_counter() - started
        assert report.failed == 0, report
        usable = len(table) - len(plan.rejected)
        lookups = math.ceil(usable / plan.lookup_batch)
        scan = math.ceil(len(customers) / plan.page_size) + 1
        minimum = min(lookups, scan) + plan.writes(batch)
        return {
            "plan": planned,
            "writes": sb.request_count - planned,
            "total": sb.request_count,
            "minimum": minimum,
            "counts": (
                len(plan.to_update),
                len(plan.to_create),
                len(plan.unchanged),
                len(plan.rejected),
            ),
            "seconds": took,
        }


def per_row(customers: list[dict[str, Any]], table: list[dict[str, Any]]) -> dict[str, Any]:
    """What a user writes without a sync: per row, one search and one update (or a create)."""
    with Sandbox(customers=customers) as sb, sb.client(rate_limit=None) as client:
        started = time.perf_counter()
        for row in table:
            fields = {
                "company": row["company"],
                "phone": row["phone"],
                "customData": {"plan": row["customData.plan"], "mrr": row["customData.mrr"]},
            }
            try:
                found = list(client.search_customers(email=row["email"]))
            except helpcrunch.BadRequestError:
                continue
            if found:
                client.update_customer(found[0]["id"], fields)
            else:
                client.create_customer({"email": row["email"], **fields})
        return {"total": sb.request_count, "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=int, default=10, help="10 is the issue's standard case")
    parser.add_argument("--rate", type=float, default=120, help="requests a minute")
    args = parser.parse_args()
    customers, table = standard(args.scale)
    a = ours(customers, table, batch=False)
    b = ours(customers, table, batch=True)
    c = per_row(customers, table)
    minutes = lambda n: n / args.rate  # noqa: E731
    update, create, none, reject = a["counts"]
    print(
        f"helpcrunch {helpcrunch.__version__}, scale {args.scale}: {len(customers):,} customers, "
        f"{len(table):,} rows ({none:,} unchanged, {update:,} changed, {create:,} new, "
        f"{reject:,} rejected)"
    )
    print()
    print(f"| run | requests | minutes at {args.rate:g}/min |")
    print("|---|---|---|")
    for label, n in (
        ("plan_customers (searches)", a["plan"]),
        ("apply_plan (writes)", a["writes"]),
        ("plan + apply", a["total"]),
        ("API minimum", a["minimum"]),
        ("plan + apply, batch=True", b["total"]),
        ("API minimum, batch=True", b["minimum"]),
        ("per-row script", c["total"]),
    ):
        print(f"| {label} | {n:,} | {minutes(n):.1f} |")
    print()
    over = a["total"] / a["minimum"] - 1
    print(f"over the minimum: {over:.1%} (goal ≤ 5 %) {'✓' if over <= 0.05 else '✗'}")
    ratio = c["total"] / a["total"]
    print(f"fewer than per-row: {ratio:.1f}x (goal ≥ 20x) {'✓' if ratio >= 20 else '✗'}")
    ratio_b = c["total"] / b["total"]
    print(
        f"batch=True, fewer than per-row: {ratio_b:.1f}x (goal ≥ 50x) {'✓' if ratio_b >= 50 else '✗'}"
    )
    print(f"wall time without a rate limit: {a['seconds']:.1f} s against {c['seconds']:.1f} s")


if __name__ == "__main__":
    main()
