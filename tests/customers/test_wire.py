"""What a customer sync sends, byte for byte, recorded by the scripted server (the sandbox does
not keep bodies): a PATCH with only the changed top-level fields and the whole customData, a
batch with each customer whole and never its tags, a create with the fields that have a value,
and no retry of a create whose request may have arrived."""

from __future__ import annotations

from typing import Any

import pytest

import helpcrunch
from tests.support.scripted_server import (
    API_KEY,
    Reply,
    ReplyFor,
    Request,
    ScriptedServer,
    customer,
)

ACCOUNT = [
    customer(
        i,
        email=f"c{i}@example.com",
        company=f"Co {i}",
        phone="+1",
        tags=[{"name": "vip", "color": "#f00"}],
        customData={"plan": "basic", "mrr": 10},
    )
    for i in range(1, 13)
]


def serve(request: Request) -> Reply:
    if request.path.endswith("/customers/search"):
        wanted = {f["value"] for f in request.json["filter"]}
        found = [c for c in ACCOUNT if c["email"] in wanted]
        return Reply(200, {"data": found, "total": len(found)})
    if request.method == "POST":
        return Reply(201, customer(99, **(request.json or {})))
    if request.path.endswith("/batch"):
        return Reply(200, {"data": request.json})
    return Reply(200, ACCOUNT[0])


@pytest.fixture
def scripted() -> Any:
    with ScriptedServer() as server:
        server.set_default(ReplyFor(serve))
        yield server


def written(server: ScriptedServer) -> list[tuple[str, str, Any]]:
    return [(r.method, r.path, r.json) for r in server.requests if "search" not in r.path]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_patch_carries_the_changed_fields_and_custom_data_whole(
    scripted: ScriptedServer, kind: str
) -> None:
    rows = [
        {"email": "c1@example.com", "company": "Initech", "customData.plan": "basic"},
        {"email": "c2@example.com", "company": "Co 2", "customData.plan": "pro"},
        {"email": "c3@example.com", "company": "Co 3", "customData.plan": "basic"},
        {"email": "new@example.com", "company": "Newco", "customData.plan": None},
    ]
    run(kind, scripted, "sync_customers", rows, create_missing=True, allow_mass_change=True)
    sent = written(scripted)
    # Updates go concurrently; creates after them.
    assert sorted(sent[:2], key=lambda w: w[1]) == [
        ("PATCH", "/customers/1", {"company": "Initech"}),
        ("PATCH", "/customers/2", {"customData": {"plan": "pro", "mrr": 10}}),
    ]
    assert sent[2:] == [("POST", "/customers", {"email": "new@example.com", "company": "Newco"})]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_batch_sends_each_customer_whole_and_never_its_tags(
    scripted: ScriptedServer, kind: str
) -> None:
    rows = [{"email": f"c{i}@example.com", "customData.mrr": 20} for i in range(1, 13)]
    run(kind, scripted, "sync_customers", rows, batch=True, allow_mass_change=True)
    sent = written(scripted)
    assert [(m, p, len(b)) for m, p, b in sent] == [
        ("PUT", "/customers/batch", 10),
        ("PUT", "/customers/batch", 2),
    ]
    first = sent[0][2][0]
    assert first == {
        "customer": 1,
        "name": "Ada Lovelace",
        "email": "c1@example.com",
        "userId": None,
        "company": "Co 1",
        "phone": "+1",
        "notes": None,
        "unsubscribed": False,
        "blocked": False,
        "customData": {"plan": "basic", "mrr": 20},
    }


def test_a_create_is_not_sent_again_after_it_may_have_arrived(scripted: ScriptedServer) -> None:
    scripted.set_default(None)
    scripted.enqueue(
        ReplyFor(serve),  # the lookup
        Reply(503, {"errors": [{"code": "unavailable", "message": "try later"}]}),
    )
    with helpcrunch.Client(api_key=API_KEY, base_url=scripted.base_url, rate_limit=None) as c:
        report = c.sync_customers([{"email": "new@example.com"}], create_missing=True)
    assert report.failed == 1 and isinstance(report[0].error, helpcrunch.InternalServerError)
    assert [r.method for r in scripted.requests] == ["POST", "POST"]  # the search, one create


def run(kind: str, server: ScriptedServer, method: str, *args: Any, **kwargs: Any) -> Any:
    import asyncio

    if kind == "sync":
        with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None) as c:
            return getattr(c, method)(*args, **kwargs)

    async def go() -> Any:
        async with helpcrunch.AsyncClient(
            api_key=API_KEY, base_url=server.base_url, rate_limit=None
        ) as c:
            return await getattr(c, method)(*args, **kwargs)

    return asyncio.run(go())
