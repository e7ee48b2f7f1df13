"""Shared by the tests of several tags in one plan (tests/sync/test_segments*.py, the CLI's) and
bench/segments.py: accounts whose customers carry any of several tags, and the issue's standard
case."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from typing import Any

from helpcrunch.sandbox import Sandbox

#: A tag no plan manages: it must never be touched.
OTHER = {"name": "other", "color": "#123456"}

#: The standard case's six tags and their audiences' sizes (issue 21), at scale 1.
STANDARD_TAGS = {
    "trial": 4_000,
    "active": 3_000,
    "paying": 2_000,
    "churn-risk": 1_000,
    "vip": 600,
    "enterprise": 400,
}


def email(i: int) -> str:
    return f"c{i}@example.com"


def person(i: int, tags: Iterable[str] = (), *, other: bool = False) -> dict[str, Any]:
    """Customer ``i`` (``c{i}@example.com``), carrying ``tags`` (colour ``#aaaaaa``), and the
    unmanaged ``other`` tag when asked."""
    carried = [{"name": t, "color": "#aaaaaa"} for t in tags]
    return {
        "id": i,
        "email": email(i),
        "userId": f"user-{i}",
        "firstSeen": str(1_600_000_000 + i),
        "tags": carried + ([OTHER] if other else []),
    }


def people(n: int, holders: Mapping[str, Iterable[int]], other: Iterable[int] = ()) -> list[Any]:
    """Customers 1..n, those in ``holders[tag]`` carrying the tag."""
    sets = {t: set(ids) for t, ids in holders.items()}
    others = set(other)
    return [
        person(i, [t for t, ids in sets.items() if i in ids], other=i in others)
        for i in range(1, n + 1)
    ]


def tags_by_id(sb: Sandbox) -> dict[int, set[str]]:
    """Every customer's tag names, by id."""
    return {c["id"]: {t["name"] for t in c["tags"]} for c in sb.customers()}


def carriers(sb: Sandbox, tag: str) -> set[int]:
    return {i for i, tags in tags_by_id(sb).items() if tag in tags}


def tag_writes(sb: Sandbox) -> list[tuple[str, int]]:
    """Each tag write the sandbox took: (method, customer id)."""
    out = []
    for r in sb.requests:
        parts = r.path.rstrip("/").split("/")
        if parts[-1] == "tags":
            out.append((r.method, int(parts[-2])))
    return out


def standard_segments(scale: float = 1.0, *, seed: int = 21) -> tuple[int, dict[str, list[int]]]:
    """The issue's standard case at ``scale`` (1 is the issue's): an account of 50,000; six
    audiences of 4,000 … 400 customers, 11,000 memberships over 5,000 distinct customers (each
    audience drawn from the same 5,000). Returns the account's size and each tag's ids."""
    rng = random.Random(seed)
    account = round(50_000 * scale)
    pool = rng.sample(range(1, account + 1), round(5_000 * scale))
    audiences: dict[str, list[int]] = {}
    # Every customer of the pool in at least one audience: the first audience's customers are
    # spread so that together they cover it.
    for n, (tag, size) in enumerate(STANDARD_TAGS.items()):
        size = round(size * scale)
        audiences[tag] = pool[:size] if n == 0 else rng.sample(pool, size)
    covered = set().union(*map(set, audiences.values()))
    missing = [i for i in pool if i not in covered]
    # The uncovered ones join the second audience in place of members the first one has.
    first_tag, second = list(STANDARD_TAGS)[:2]
    first = set(audiences[first_tag])
    replaceable = [i for i in audiences[second] if i in first]
    for out, into in zip(replaceable, missing, strict=False):
        audiences[second][audiences[second].index(out)] = into
    return account, audiences


def later_night(
    audiences: Mapping[str, list[int]], account: int, *, share: float = 0.05, seed: int = 22
) -> dict[str, list[int]]:
    """Each audience with ``share`` of its members replaced by customers outside it."""
    rng = random.Random(seed)
    out = {}
    for tag, ids in audiences.items():
        members = set(ids)
        n = round(len(ids) * share)
        leaving = set(rng.sample(ids, n))
        joining: set[int] = set()
        while len(joining) < n:
            i = rng.randint(1, account)
            if i not in members:
                joining.add(i)
        out[tag] = [i for i in ids if i not in leaving] + sorted(joining)
    return out
