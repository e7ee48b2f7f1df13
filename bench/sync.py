"""The tag sync's standard case (issue 14) against the sandbox, requests counted by the server:
plan + apply, side by side with the per-row script a user would write, and the API's minimum
for the batch size in force. Prints a Markdown table; about a minute on 2 cores.

    python bench/sync.py [--scale 10] [--rate 120]

Standard case (scale 10): an account of 50,000; an audience of 10,000 emails (9,500 already
tagged, 100 unknown, 20 shared by two customers); 600 holders outside the audience. Minutes
are requests / rate (the client's limiter keeps to the rate, so requests are the run time).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.sync import TAG, standard


def ours(customers: list[dict], audience: list[str]) -> dict[str, float]:
    with Sandbox(customers=customers) as sb, sb.client(rate_limit=None) as client:
        started = time.perf_counter()
        plan = client.plan_tag(TAG, audience)
        planned = sb.request_count
        report = client.apply_plan(plan)
        took = time.perf_counter() - started
        assert report.failed == 0, report
        # The fewest searches for this plan: every holder's page, and the keys no holder
        # settled (to add, unknown, shared), a batch at a time.
        looked_up = len(plan.to_add) + sum(
            1 for i in plan.rejected if i.reason_code in ("unknown", "shared", "refused")
        )
        minimum = math.ceil(plan.holders / plan.page_size) + math.ceil(
            looked_up / plan.lookup_batch
        )
        return {
            "plan": planned,
            "writes": sb.request_count - planned,
            "total": sb.request_count,
            "minimum": minimum + plan.writes,
            "batch": plan.lookup_batch,
            "seconds": took,
        }


def per_row(customers: list[dict], audience: list[str]) -> dict[str, float]:
    """What a user writes without a sync: per row, one search and one write; then the holders,
    each outside the audience untagged."""
    with Sandbox(customers=customers) as sb, sb.client(rate_limit=None) as client:
        started = time.perf_counter()
        members: set[int] = set()
        for email in audience:
            for found in client.search_customers(email=email):
                members.add(found["id"])
                client.add_tags(found["id"], [TAG])
        for holder in list(client.search_customers(tag=TAG)):
            if holder["id"] not in members:
                client.remove_tags(holder["id"], [TAG])
        return {"total": sb.request_count, "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10, help="10 is the issue's standard case")
    parser.add_argument("--rate", type=float, default=120, help="requests a minute")
    args = parser.parse_args()
    customers, audience = standard(args.scale)
    a = ours(customers, audience)
    b = per_row(customers, audience)
    minutes = lambda n: n / args.rate  # noqa: E731
    print(
        f"helpcrunch {helpcrunch.__version__}, scale {args.scale}: {len(customers):,} customers, "
        f"{len(audience):,} audience rows, lookup batch {a['batch']}"
    )
    print()
    print(f"| run | requests | minutes at {args.rate:g}/min |")
    print("|---|---|---|")
    print(f"| plan_tag (searches) | {a['plan']:,} | {minutes(a['plan']):.1f} |")
    print(f"| apply_plan (writes) | {a['writes']:,} | {minutes(a['writes']):.1f} |")
    print(f"| plan + apply | {a['total']:,} | {minutes(a['total']):.1f} |")
    print(
        f"| API minimum for the batch in force | {a['minimum']:,} | {minutes(a['minimum']):.1f} |"
    )
    print(f"| per-row script | {b['total']:,} | {minutes(b['total']):.1f} |")
    print()
    over = a["total"] / a["minimum"] - 1
    ratio = b["total"] / a["total"]
    print(f"over the minimum: {over:.1%} (goal ≤ 5 %) {'✓' if over <= 0.05 else '✗'}")
    print(f"fewer than per-row: {ratio:.1f}x (goal ≥ 10x) {'✓' if ratio >= 10 else '✗'}")
    print(f"wall time without a rate limit: {a['seconds']:.1f} s against {b['seconds']:.1f} s")


if __name__ == "__main__":
    main()
