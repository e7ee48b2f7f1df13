"""Shared by the search tests (tests/search/, tests/cli/test_customers.py): customers with
chosen ``firstSeen`` values, pages the scripted server can serve, and changes made to a sandbox
with plain urllib (so a test checks the client against the server, not against itself)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

from helpcrunch.sandbox import Sandbox
from tests.support.scripted_server import Reply, ReplyFor, Request

LEAD = {"name": "Lead", "color": "#c57de0"}


def leads(n: int, run: int = 1, start: int = 1_600_000_000) -> list[dict[str, Any]]:
    """Customers 1..n tagged Lead, ``firstSeen`` rising in runs of ``run`` equal values."""
    return [
        {
            "id": i,
            "name": f"Customer {i}",
            "email": f"c{i}@example.com",
            "userId": f"u-{i}",
            "firstSeen": str(start + (i - 1) // run),
            "location": {"countryCode": "UA", "city": "Kyiv", "regionCode": None},
            "tags": [LEAD],
        }
        for i in range(1, n + 1)
    ]


def create(sb: Sandbox, **fields: Any) -> int:
    """Create a customer on the sandbox (``POST /customers``) and return its id."""
    request = urllib.request.Request(
        sb.base_url + "/customers",
        data=json.dumps(fields).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {sb.api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(json.loads(response.read())["id"])


def untag(sb: Sandbox, customer_id: int, tag: str = "Lead") -> None:
    """Untag a customer on the sandbox behind the client's back."""
    request = urllib.request.Request(
        f"{sb.base_url}/customers/{customer_id}/tags",
        data=json.dumps({"tags": [{"name": tag}]}).encode(),
        method="DELETE",
        headers={"Authorization": f"Bearer {sb.api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


def page(customers: list[dict[str, Any]], total: int) -> Reply:
    return Reply(200, {"data": customers, "total": total})


def page_window(request: Request) -> tuple[int, int]:
    """The offset and limit a page request asked for (a search's body or a list's query)."""
    if request.method == "POST":
        body = request.json
        return int(body["offset"]), int(body["limit"])
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
    return int(query["offset"][0]), int(query["limit"][0])


def serving(customers: list[dict[str, Any]]) -> ReplyFor:
    """Answers each page request with its window of ``customers`` (a fixed set)."""

    def make(request: Request) -> Reply:
        offset, limit = page_window(request)
        return page(customers[offset : offset + limit], len(customers))

    return ReplyFor(make)


def search_requests(sb: Sandbox) -> int:
    return sum(1 for r in sb.requests if r.path == "/v1/customers/search")
