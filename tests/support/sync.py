"""Shared by the tag sync tests (tests/sync/, tests/cli/test_sync.py): accounts whose customers
carry a tag or not, and what the sandbox holds afterwards."""

from __future__ import annotations

from typing import Any

from helpcrunch.sandbox import Sandbox

TAG = "churn-risk"
TAG_COLOR = "#ff8c00"
VIP = {"name": "vip", "color": "#ff0000"}


def customer(i: int, email: str | None = None, *, tagged: bool = False) -> dict[str, Any]:
    """Customer ``i``: an email (``c{i}@example.com`` unless given), userId ``user-{i}``, the
    vip tag, and ``TAG`` when ``tagged``."""
    tags = [VIP] + ([{"name": TAG, "color": TAG_COLOR}] if tagged else [])
    return {
        "id": i,
        "email": f"c{i}@example.com" if email is None else email,
        "userId": f"user-{i}",
        "firstSeen": str(1_600_000_000 + i),
        "tags": tags,
    }


def account(n: int, tagged: range | set[int]) -> list[dict[str, Any]]:
    """Customers 1..n, those in ``tagged`` carrying ``TAG``."""
    return [customer(i, tagged=i in tagged) for i in range(1, n + 1)]


def holders(sb: Sandbox, tag: str = TAG) -> set[int]:
    """The ids of the customers the sandbox holds with ``tag``."""
    return {c["id"] for c in sb.customers() if any(t["name"] == tag for t in c["tags"])}


def tags_of(sb: Sandbox) -> dict[int, list[dict[str, str]]]:
    """Every customer's tags, by id."""
    return {c["id"]: c["tags"] for c in sb.customers()}


def writes(sb: Sandbox) -> int:
    """Requests that change tags."""
    return sum(1 for r in sb.requests if r.path.endswith("/tags"))


def standard(n: int = 1) -> tuple[list[dict[str, Any]], list[str]]:
    """The issue's standard case, scaled by ``n`` (the issue's is ``n = 10``): an account of
    ``5,000 n``; an audience of ``1,000 n`` emails, ``950 n`` of them already tagged, ``10 n``
    unknown and ``2 n`` shared by two customers who lack the tag; ``60 n`` holders outside."""
    customers: list[dict[str, Any]] = []
    audience: list[str] = []

    def add(email: str, tagged: bool) -> str:
        customers.append(customer(len(customers) + 1, email, tagged=tagged))
        return email

    audience += [add(f"tagged{i}@example.com", True) for i in range(950 * n)]
    audience += [add(f"new{i}@example.com", False) for i in range(38 * n)]
    audience += [f"unknown{i}@example.com" for i in range(10 * n)]
    for i in range(2 * n):
        email = add(f"twin{i}@example.com", False)
        add(email, False)
        audience.append(email)
    for i in range(60 * n):
        add(f"outside{i}@example.com", True)
    while len(customers) < 5_000 * n:
        add(f"other{len(customers)}@example.com", False)
    return customers, audience
