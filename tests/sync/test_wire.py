"""What planning sends, recorded by the scripted server: lookups as ``=`` filters joined by
``OR`` (an email as given and case-folded), and a 400 naming one filter rejecting that key with
HelpCrunch's words while the others are sent again; for both clients."""

from __future__ import annotations

import asyncio

import pytest

import helpcrunch
from tests.support.scripted_server import API_KEY, Reply, ScriptedServer, customer


def f(field: str, value: object) -> dict[str, object]:
    return {"field": f"customers.{field}", "operator": "=", "value": value}


@pytest.mark.parametrize("way", ["sync", "async"])
def test_lookups_are_or_of_equals_and_a_refused_key_is_rejected_in_words(
    server: ScriptedServer, way: str
) -> None:
    refusal = {
        "errors": [
            {"code": "invalid_request", "message": "Invalid request"},
            {"code": "filter[2].value", "message": "This value is not a valid email."},
        ]
    }
    ann = customer(7, email="ann@example.com", tags=[])
    # The holders counted (a plan says how many carry the tag), then the lookups.
    holders = Reply(200, {"data": [], "total": 0})
    server.enqueue(holders, Reply(400, refusal), Reply(200, {"data": [ann], "total": 1}))
    keys = ["Ann@Example.com ", "bo@example.com", "cy@example.com"]
    if way == "sync":
        with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, max_retries=0) as c:
            plan = c.plan_tag("churn-risk", keys, mode="add")
    else:

        async def main() -> helpcrunch.TagPlan:
            async with helpcrunch.AsyncClient(
                api_key=API_KEY, base_url=server.base_url, max_retries=0
            ) as c:
                return await c.plan_tag("churn-risk", keys, mode="add")

        plan = asyncio.run(main())
    bodies = [r.json for r in server.requests][1:]
    assert [(r.method, r.path) for r in server.requests] == [("POST", "/customers/search")] * 3
    assert plan.holders == 0 and plan.requests["probes"] == 1
    assert bodies[0]["comparison"] == "OR"
    assert bodies[0]["filter"] == [
        f("email", "Ann@Example.com"),
        f("email", "ann@example.com"),
        f("email", "bo@example.com"),
        f("email", "cy@example.com"),
    ]
    assert bodies[1]["filter"] == [
        f("email", "Ann@Example.com"),
        f("email", "ann@example.com"),
        f("email", "cy@example.com"),
    ]
    assert [(i.action, i.customer_id, i.reason_code) for i in plan.items] == [
        ("add", 7, None),
        ("reject", None, "refused"),
        ("reject", None, "unknown"),
    ]
    assert plan.rejected[0].reason == (
        "HelpCrunch refused to look it up: This value is not a valid email."
    )
    # The refused request is counted as spent, and as unused.
    assert plan.requests["lookups"] == 2 and plan.requests["unused"] == 1
