"""A message about a bad value quotes that value as given: Python's repr of it, whole, never
trimmed or shortened, for ids, tag names, colours and settings alike (" 12" must not read as
"12")."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import helpcrunch
from tests.support.scripted_server import API_KEY, ScriptedServer

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)


def message(server: ScriptedServer, call: Any) -> str:
    with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None) as client:
        sent = len(server.requests)
        with pytest.raises((TypeError, ValueError)) as caught:
            call(client)
        assert len(server.requests) == sent
    return str(caught.value)


@pytest.mark.parametrize(
    "customer_id", [" 12", "12 ", "\t12", "1 2", "1\n2", "١٢", "-5", "+5", "12abc" * 40, "9" * 100]
)
def test_a_bad_string_id_is_quoted_whole(server: ScriptedServer, customer_id: str) -> None:
    text = message(server, lambda c: c.get_customer(customer_id))
    assert repr(customer_id) in text, text


@PROPERTY
@given(customer_id=ANY_TEXT.filter(lambda s: not (s.isascii() and s.isdigit())))
def test_any_bad_string_id_is_quoted_as_repr(server: ScriptedServer, customer_id: str) -> None:
    text = message(server, lambda c: c.remove_tags(customer_id, "Lead"))
    if customer_id:
        assert repr(customer_id) in text, text


@PROPERTY
@given(name=st.tuples(ANY_TEXT, st.sampled_from("\x00\n\x7f\x85\x1b"), ANY_TEXT).map("".join))
def test_a_tag_name_with_control_characters_is_quoted_as_repr(
    server: ScriptedServer, name: str
) -> None:
    text = message(server, lambda c: c.add_tags(1, ["ok", name]))
    assert repr(name) in text and "tags[1]" in text, text


@PROPERTY
@given(
    color=ANY_TEXT.filter(lambda s: not __import__("re").fullmatch(r"#([0-9a-fA-F]{3}){1,2}", s))
)
def test_a_bad_colour_is_quoted_as_repr(server: ScriptedServer, color: str) -> None:
    text = message(server, lambda c: c.add_tags(1, [{"name": "Lead", "color": color}]))
    assert repr(color) in text, text


@pytest.mark.parametrize("name", [" ", "\u3000", "\t\n"])
def test_a_blank_tag_name_is_quoted(server: ScriptedServer, name: str) -> None:
    assert repr(name) in message(server, lambda c: c.remove_tags(1, name))


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("timeout", -0.0),
        ("timeout", 1e-18),
        ("timeout", -(10**400)),
        ("rate_limit", 1e-18),
        ("max_retries", 2**40),
        ("max_retries", 10**400),
        ("max_response_bytes", 0),
    ],
)
def test_a_bad_setting_is_quoted_as_repr(setting: str, value: Any) -> None:
    with pytest.raises(ValueError) as caught:
        helpcrunch.Client(api_key=API_KEY, **{setting: value})
    assert f"got {value!r}" in str(caught.value)


def test_a_bad_base_url_is_quoted_as_repr() -> None:
    url = " ftp://x "
    with pytest.raises(ValueError) as caught:
        helpcrunch.Client(api_key=API_KEY, base_url=url)
    assert repr(url) in str(caught.value)
