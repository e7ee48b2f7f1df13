"""Several tags in one plan: issue 21's standard case against the sandbox, requests counted by
the server. For each night: ``plan_tags`` + ``apply_plan``, six ``sync_tag`` runs (one per
tag), and the API's minimum. Prints a Markdown table; a few minutes on 2 cores at scale 1.

    python bench/segments.py [--scale 1] [--rate 120]

Standard case (scale 1): an account of 50,000; six tags with audiences of 4,000, 3,000, 2,000,
1,000, 600 and 400 emails, 11,000 memberships over 5,000 distinct customers. First night: no
one carries the tags yet. Later night: each tag on last night's audience, 5 % of each audience
replaced by customers outside it. Minutes are requests / rate (the client's limiter keeps to
the rate, so requests are the run time).
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
from tests.support.segments import email, later_night, people, standard_segments


def night(
    account: int, holders: dict[str, list[int]], audiences: dict[str, list[int]]
) -> dict[str, float]:
    customers = people(account, holders)
    segments = {t: [email(i) for i in ids] for t, ids in audiences.items()}
    with Sandbox(customers=customers) as sb, sb.client(rate_limit=None) as client:
        started = time.perf_counter()
        plan = client.plan_tags(segments)
        planned = sb.request_count
        report = client.apply_plan(plan, allow_mass_removal=True)
        took = time.perf_counter() - started
        assert report.failed == 0, report
        ours = sb.request_count
    # The fewest requests for this night: each tag's holders pages (one at least, to know it
    # has none), the keys no holder settled in lookups of the batch, one write per customer
    # and direction.
    settled = {i for ids in holders.values() for i in ids}
    unsettled = {i for ids in audiences.values() for i in ids} - settled
    minimum = (
        sum(max(1, math.ceil(len(ids) / plan.page_size)) for ids in holders.values())
        + math.ceil(len(unsettled) / plan.lookup_batch)
        + plan.writes
    )
    with Sandbox(customers=customers) as sb, sb.client(rate_limit=None) as client:
        for tag, keys in segments.items():
            client.sync_tag(tag, keys, allow_mass_removal=True)
        apart = sb.request_count
    return {
        "plan": planned,
        "writes": ours - planned,
        "total": ours,
        "minimum": minimum,
        "apart": apart,
        "seconds": took,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1 is the issue's standard case")
    parser.add_argument("--rate", type=float, default=120, help="requests a minute")
    args = parser.parse_args()
    account, first = standard_segments(args.scale)
    later = later_night(first, account)
    nights = {
        "first": night(account, {t: [] for t in first}, first),
        "later": night(account, first, later),
    }

    def minutes(n: float) -> float:
        return n / float(args.rate)

    members = sum(len(ids) for ids in first.values())
    distinct = len({i for ids in first.values() for i in ids})
    print(
        f"helpcrunch {helpcrunch.__version__}, scale {args.scale:g}: {account:,} customers, "
        f"{len(first)} tags, {members:,} memberships over {distinct:,} customers"
    )
    print()
    print(
        f"| night | plan_tags (searches) | apply (writes) | total | API minimum | "
        f"six sync_tag runs | minutes at {args.rate:g}/min (ours / six runs) |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, r in nights.items():
        print(
            f"| {name} | {r['plan']:,} | {r['writes']:,} | {r['total']:,} | {r['minimum']:,} | "
            f"{r['apart']:,} | {minutes(r['total']):.0f} / {minutes(r['apart']):.0f} |"
        )
    print()
    for name, r in nights.items():
        over = r["total"] / r["minimum"] - 1
        ratio = r["apart"] / r["total"]
        print(
            f"{name} night: {over:.1%} over the minimum (goal ≤ 5 %) "
            f"{'✓' if over <= 0.05 else '✗'}; {ratio:.2f}x fewer than six sync_tag runs "
            f"(goal {'≥ 2x' if name == 'first' else '≥ 1x'}) "
            f"{'✓' if ratio >= (2 if name == 'first' else 1) else '✗'}; "
            f"{r['seconds']:.1f} s without a rate limit"
        )


if __name__ == "__main__":
    main()
