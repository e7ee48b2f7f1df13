"""What a search sends, filter kind by filter kind, recorded by the scripted server: the
documented body of ``POST /customers/search`` (and the query of ``GET /customers``), for the
blocking and the async client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import helpcrunch
from tests.support.scripted_server import API_KEY, ScriptedServer
from tests.support.search import leads, serving

SORT = {"sort": "customers.firstSeen", "order": "asc"}


def sent_filters(server: ScriptedServer, way: str, **search: Any) -> dict[str, Any]:
    """The body of the first page request a search with these arguments sends."""
    server.set_default(serving(leads(3)))
    if way == "sync":
        with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url) as client:
            assert [c["id"] for c in client.search_customers(**search)] == [1, 2, 3]
    else:

        async def main() -> list[int]:
            async with helpcrunch.AsyncClient(api_key=API_KEY, base_url=server.base_url) as ac:
                return [c["id"] async for c in ac.search_customers(**search)]

        assert asyncio.run(main()) == [1, 2, 3]
    request = server.requests[0]
    assert (request.method, request.path) == ("POST", "/customers/search")
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    body: dict[str, Any] = request.json
    assert list(body) == ["filter", "comparison", "limit", "offset", "sort", "order"]
    return body


def f(field: str, operator: str, value: Any) -> dict[str, Any]:
    return {"field": f"customers.{field}", "operator": operator, "value": value}


CASES: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
    ({"tag": "Lead"}, [f("tagsData", "=", [{"name": "Lead"}])]),
    ({"tag": ["Lead", "Trial"]}, [f("tagsData", "=", [{"name": "Lead"}, {"name": "Trial"}])]),
    ({"tag": ("Lead", "Lead")}, [f("tagsData", "=", [{"name": "Lead"}])]),
    ({"tag": {"name": "Lead", "color": "#fff"}}, [f("tagsData", "=", [{"name": "Lead"}])]),
    ({"email": "ann@example.com"}, [f("email", "=", "ann@example.com")]),
    ({"user_id": "u-123"}, [f("userId", "=", "u-123")]),
    (
        {"tag": "Lead", "email": "a@b.c", "user_id": "u", "where": ["city = Kyiv"]},
        [
            f("tagsData", "=", [{"name": "Lead"}]),
            f("email", "=", "a@b.c"),
            f("userId", "=", "u"),
            f("city", "=", "Kyiv"),
        ],
    ),
    (
        {"where": [("lastSeen", ">=", 1700000000), ("customers.countryCode", "=", "UA")]},
        [f("lastSeen", ">=", 1700000000), f("countryCode", "=", "UA")],
    ),
    ({"where": [("lastSeen", "<", 1.5e9)]}, [f("lastSeen", "<", 1.5e9)]),
    ({"where": [("id", "!=", 7)]}, [f("id", "!=", 7)]),
    ({"where": [("name", "~", "ann")]}, [f("name", "~", "ann")]),
    ({"where": [("name", "!~", "bot")]}, [f("name", "!~", "bot")]),
    ({"where": [("company", "!=", "M")]}, [f("company", "!=", "M")]),
    ({"where": [("phone", "!~", "")]}, [f("phone", "!~", "")]),
    # Not documented, but a field name: sent as given, for the server to judge.
    ({"where": [("customData", "=", "x")]}, [f("customData", "=", "x")]),
    # As typed on a command line: the value takes its field's type.
    ({"where": ["lastSeen >= 1700000000"]}, [f("lastSeen", ">=", 1700000000)]),
    ({"where": ['name ~ "Ann Lee"']}, [f("name", "~", "Ann Lee")]),
    ({"where": ["tagsData=VIP client"]}, [f("tagsData", "=", [{"name": "VIP client"}])]),
    # Messenger ids are text.
    ({"where": [("telegramId", "=", "12345")]}, [f("telegramId", "=", "12345")]),
]


@pytest.mark.parametrize("way", ["sync", "async"])
@pytest.mark.parametrize(("search", "filters"), CASES)
def test_each_filter_kind_is_sent_as_documented(
    server: ScriptedServer, way: str, search: dict[str, Any], filters: list[dict[str, Any]]
) -> None:
    body = sent_filters(server, way, **search)
    assert body == {"filter": filters, "comparison": "AND", "limit": 100, "offset": 0, **SORT}


def test_match_any_is_comparison_or(server: ScriptedServer) -> None:
    body = sent_filters(server, "sync", email="a@b.c", user_id="u-1", match="any")
    assert body["comparison"] == "OR"


def test_page_size_and_a_small_limit_set_the_page_asked_for(server: ScriptedServer) -> None:
    assert sent_filters(server, "sync", tag="Lead", page_size=3)["limit"] == 3
    server.requests.clear()
    server.set_default(serving(leads(50)))
    with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url) as client:
        found = client.search_customers(tag="Lead", limit=2)
        assert [c["id"] for c in found] == [1, 2]
    assert [r.json["limit"] for r in server.requests] == [2]


def test_list_and_count_send_what_the_docs_show(server: ScriptedServer) -> None:
    server.set_default(serving(leads(3)))
    with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url) as client:
        assert [c["id"] for c in client.list_customers(page_size=50)] == [1, 2, 3]
        assert client.count_customers(tag="Lead") == 3
        assert client.count_customers() == 3
    listed, counted, counted_all = server.requests
    assert (listed.method, listed.body) == ("GET", b"")
    assert listed.path == "/customers?offset=0&limit=50&sort=customers.firstSeen&order=asc"
    assert counted.json == {
        "filter": [f("tagsData", "=", [{"name": "Lead"}])],
        "comparison": "AND",
        "limit": 1,
        "offset": 0,
        **SORT,
    }
    assert counted_all.path == "/customers?offset=0&limit=1&sort=customers.firstSeen&order=asc"


def test_later_pages_move_the_offset(server: ScriptedServer) -> None:
    server.set_default(serving(leads(25)))
    with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url) as client:
        assert len(list(client.search_customers(tag="Lead", page_size=10))) == 25
    assert [(r.json["offset"], r.json["limit"]) for r in server.requests] == [
        (0, 10),
        (10, 10),
        (20, 10),
    ]


def test_unicode_and_quotes_in_values_stay_inside_the_json_string(server: ScriptedServer) -> None:
    tricky = 'Кліент "VIP" 🎉 \\ }]'
    body = sent_filters(server, "sync", tag=tricky, email=tricky)
    assert body["filter"] == [
        f("tagsData", "=", [{"name": tricky}]),
        f("email", "=", tricky),
    ]
