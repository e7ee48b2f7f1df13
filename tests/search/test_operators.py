"""Operators by type, as HelpCrunch's docs table them: ``=`` every type; ``!=`` every type but
arrays (tags); ``~`` and ``!~`` strings; ``>``, ``>=``, ``<``, ``<=`` numbers and dates. Every
(field, operator) cell through the public search API: a cell of the table is sent as it is
written, any other is refused before anything is sent with a ValueError naming the field, the
operator and what the field takes. The sandbox reads the same table: over raw HTTP (the client
refuses first) an operator outside it is a 400 in HelpCrunch's shape naming
``filter[i].operator``, and a search with no filter answers like a list."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.scripted_server import API_KEY, Reply, ScriptedServer

OPERATORS = ["=", "!=", "~", "!~", ">", ">=", "<", "<="]

#: The docs' table, written out on its own.
TAKES = {
    "text": ["=", "!=", "~", "!~"],
    "number or date": ["=", "!=", ">", ">=", "<", "<="],
    "list": ["="],
}

TEXT_FIELDS = (
    "name email company phone countryCode city regionCode userId telegramId facebookId "
    "instagramId viberId whatsappId"
).split()

#: Every documented field, its type in the table, and a value of that type.
FIELDS: list[tuple[str, str, Any]] = [
    *[(name, "text", "x") for name in TEXT_FIELDS],
    ("id", "number or date", 542335),
    ("lastSeen", "number or date", 1603885746),
    ("tagsData", "list", "vip"),
]

CELLS = [(field, kind, value, op) for field, kind, value in FIELDS for op in OPERATORS]


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        s.set_default(Reply(200, {"data": [], "total": 0}))
        yield s


@pytest.mark.parametrize(
    ("field", "kind", "value", "op"), CELLS, ids=[f"{c[0]} {c[3]}" for c in CELLS]
)
def test_every_field_takes_the_operators_of_its_type_and_refuses_the_rest(
    server: ScriptedServer, field: str, kind: str, value: Any, op: str
) -> None:
    before = len(server.requests)
    with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None) as c:
        if op in TAKES[kind]:
            assert list(c.search_customers(where=[(field, op, value)])) == []
            sent = server.requests[-1].json["filter"]
            assert [(f["field"], f["operator"]) for f in sent] == [(f"customers.{field}", op)]
            # As typed on a command line, too.
            assert list(c.search_customers(where=[f"{field} {op} {value}"])) == []
            return
        for where in ([(field, op, value)], [f"customers.{field} {op} {value}"]):
            with pytest.raises(ValueError) as raised:
                c.search_customers(where=where)
            message = str(raised.value)
            assert message.startswith(f"where[0]: {field} is a {kind} field: it takes ")
            assert f"it takes {' '.join(TAKES[kind])}" in message
            assert message.endswith(f", not {op}"), message
            assert raised.value.parameter == "where"  # type: ignore[attr-defined]
            assert raised.value.index == 0  # type: ignore[attr-defined]
            with pytest.raises(ValueError):
                c.count_customers(where=where)
    assert len(server.requests) == before + (0 if op not in TAKES[kind] else 2)


def test_the_tag_argument_is_an_equality_filter(server: ScriptedServer) -> None:
    with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None) as c:
        list(c.search_customers(tag=["vip", "Lead"]))
    (sent,) = server.requests[-1].json["filter"]
    assert sent == {
        "field": "customers.tagsData",
        "operator": "=",
        "value": [{"name": "vip"}, {"name": "Lead"}],
    }


@pytest.mark.parametrize("op", OPERATORS)
def test_a_field_the_docs_do_not_list_takes_the_operators_of_its_values_type(
    server: ScriptedServer, op: str
) -> None:
    with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None) as c:
        for value, kind in (("pro", "text"), (3, "number or date"), (2.5, "number or date")):
            if op in TAKES[kind]:
                list(c.search_customers(where=[("plan", op, value)]))
                assert server.requests[-1].json["filter"][0]["value"] == value
            else:
                with pytest.raises(ValueError, match=f"plan is a {kind} field"):
                    c.search_customers(where=[("plan", op, value)])


# --- the sandbox, over raw HTTP -------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def post_search(sb: Sandbox, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        sb.base_url + "/customers/search",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {sb.api_key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def get_list(sb: Sandbox, query: str) -> Any:
    request = urllib.request.Request(
        f"{sb.base_url}/customers?{query}", headers={"Authorization": f"Bearer {sb.api_key}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.parametrize("op", OPERATORS)
@pytest.mark.parametrize(("field", "kind", "value"), FIELDS, ids=[f[0] for f in FIELDS])
def test_the_sandbox_refuses_what_the_table_refuses_naming_filter_i_operator(
    sandbox: Sandbox, field: str, kind: str, value: Any, op: str
) -> None:
    wire_value = [{"name": value}] if kind == "list" else value
    body = {
        "filter": [
            {"field": "customers.id", "operator": ">", "value": 0},
            {"field": f"customers.{field}", "operator": op, "value": wire_value},
        ]
    }
    status, answer = post_search(sandbox, body)
    if op in TAKES[kind]:
        assert status == 200, answer
        assert set(answer) == {"data", "total"}
    else:
        assert status == 400
        codes = [e["code"] for e in answer["errors"]]
        assert "filter[1].operator" in codes, answer
        assert all({"code", "message"} == set(e) for e in answer["errors"])


@pytest.mark.parametrize(
    "paging",
    [
        {"limit": 3, "offset": 2},
        {"limit": 4, "offset": 0, "sort": "customers.lastSeen", "order": "desc"},
        {"limit": 100, "sort": "customers.firstSeen", "order": "asc"},
        {"offset": 8},
    ],
)
@pytest.mark.parametrize("no_filter", ["absent", None, []], ids=["absent", "null", "empty"])
def test_a_sandbox_search_with_no_filter_answers_like_a_list(
    sandbox: Sandbox, paging: dict[str, Any], no_filter: Any
) -> None:
    body = dict(paging) if no_filter == "absent" else {**paging, "filter": no_filter}
    status, answer = post_search(sandbox, body)
    assert status == 200, answer
    query = "&".join(f"{k}={v}" for k, v in paging.items())
    assert answer == get_list(sandbox, query)
