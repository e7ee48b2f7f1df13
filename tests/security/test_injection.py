"""No input can change the request: a customer id never changes the path, a tag never adds a
header. Both are refused before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest

import helpcrunch
from tests.support.scripted_server import API_KEY, ScriptedServer

PATH_TRICKS = [
    "1/../2",
    "../1",
    "1/..",
    "1?x=1",
    "1#frag",
    "1#",
    "%2e%2e",
    "1%2F2",
    "1%00",
    "1\r\nHost: evil.example",
    "1\n",
    "1 ",
    "1\t",
    "1;x",
    "1,2",
    "\uff11\uff12",  # fullwidth digits
    "\u0663",  # an Arabic-Indic digit
    "1.0",
    "1e3",
    "0x1f",
    "+1",
    "-1",
    "",
    "/",
    "1/tags",
    "@evil.example",
    "1@evil.example",
]


@pytest.mark.parametrize("customer_id", PATH_TRICKS, ids=[repr(t) for t in PATH_TRICKS])
@pytest.mark.parametrize("call", ["remove_tags", "add_tags", "get_customer"])
def test_a_customer_id_that_would_change_the_path_is_refused(customer_id: str, call: str) -> None:
    with ScriptedServer() as server:
        client = helpcrunch.Client(
            api_key=API_KEY, base_url=server.base_url + "/v1", rate_limit=None
        )
        args = (customer_id,) if call == "get_customer" else (customer_id, "Lead")
        with pytest.raises(ValueError):
            getattr(client, call)(*args)
        assert server.requests == []


@pytest.mark.parametrize(
    ("customer_id", "digits"),
    [(1, "1"), ("1", "1"), ("0001568834", "1568834"), (2**64 - 1, str(2**64 - 1)), (True + 1, "2")],
)
def test_a_valid_customer_id_gives_exactly_its_digits_in_the_path(
    customer_id: Any, digits: str
) -> None:
    with ScriptedServer() as server:
        client = helpcrunch.Client(
            api_key=API_KEY, base_url=server.base_url + "/v1", rate_limit=None
        )
        client.remove_tags(customer_id, ["Lead", "../x", "?a=b#c"])
        client.get_customer(customer_id)
        client.remove_tags_many([(customer_id, "Lead")])
    assert [r.request_line for r in server.requests] == [
        f"DELETE /v1/customers/{digits}/tags HTTP/1.1",
        f"GET /v1/customers/{digits} HTTP/1.1",
        f"DELETE /v1/customers/{digits}/tags HTTP/1.1",
    ]


@pytest.mark.parametrize("tag", ["Lead\r\nX-Evil: 1", "Lead\nHost: evil.example", "Lead\x00"])
def test_a_tag_cannot_inject_a_header(tag: str) -> None:
    with ScriptedServer() as server:
        client = helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None)
        with pytest.raises(ValueError, match="control"):
            client.add_tags(1, tag)
        assert server.requests == []
