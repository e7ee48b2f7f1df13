"""Inputs are checked before anything is sent: each refused value raises TypeError or
ValueError naming the problem, and the server receives nothing. Accepted shapes of tags."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

import helpcrunch
from tests.support.scripted_server import API_KEY, ScriptedServer

BAD_CUSTOMER_IDS: list[tuple[Any, type[Exception], str]] = [
    (True, TypeError, "bool"),
    (False, TypeError, "bool"),
    (5.0, TypeError, "float"),
    (0, ValueError, "positive"),
    (-5, ValueError, "positive"),
    ("12abc", ValueError, "digits"),
    ("1/../2", ValueError, "digits"),
    ("", ValueError, "empty"),
    ("0", ValueError, "positive"),
    (" 12", ValueError, "digits"),
    ("-5", ValueError, "digits"),
    ("١٢", ValueError, "digits"),
    (None, TypeError, "NoneType"),
    (10**30, ValueError, "too large"),
    ("9" * 30, ValueError, "too large"),
    ([1], TypeError, "list"),
    (b"12", TypeError, "bytes"),
]


@pytest.mark.parametrize(
    ("customer_id", "error", "problem"),
    BAD_CUSTOMER_IDS,
    ids=[repr(c[0])[:20] for c in BAD_CUSTOMER_IDS],
)
@pytest.mark.parametrize("call", ["remove_tags", "add_tags", "get_customer"])
def test_bad_customer_id_is_refused_before_sending(
    server: ScriptedServer,
    client: helpcrunch.Client,
    call: str,
    customer_id: Any,
    error: type[Exception],
    problem: str,
) -> None:
    args: tuple[Any, ...] = (customer_id,) if call == "get_customer" else (customer_id, ["Lead"])
    with pytest.raises(error) as info:
        getattr(client, call)(*args)
    message = str(info.value)
    assert "customer_id" in message
    assert problem in message
    assert not isinstance(info.value, helpcrunch.HelpCrunchError)
    assert server.requests == []


BAD_TAGS: list[tuple[Any, type[Exception], str]] = [
    ("", ValueError, "empty"),
    ("   ", ValueError, "empty"),
    ([], ValueError, "empty"),
    ((), ValueError, "empty"),
    (iter([]), ValueError, "empty"),
    ([1], TypeError, "tags[0]"),
    (["ok", 2.5], TypeError, "tags[1]"),
    (["ok", ""], ValueError, "tags[1]"),
    (["ok", " \t"], ValueError, "tags[1]"),
    (b"x", TypeError, "bytes"),
    (bytearray(b"x"), TypeError, "bytearray"),
    (None, TypeError, "None"),
    (5, TypeError, "int"),
    ([{"nam": "x"}], ValueError, "name"),
    ([{"name": 5}], TypeError, "name"),
    ([{"name": ""}], ValueError, "empty"),
    ([None], TypeError, "tags[0]"),
    ([b"Lead"], TypeError, "tags[0]"),
    (["a\x00b"], ValueError, "control"),
]


@pytest.mark.parametrize(
    ("tags", "error", "problem"), BAD_TAGS, ids=[repr(t[0])[:20] for t in BAD_TAGS]
)
@pytest.mark.parametrize("call", ["remove_tags", "add_tags"])
def test_bad_tags_are_refused_before_sending(
    server: ScriptedServer,
    client: helpcrunch.Client,
    call: str,
    tags: Any,
    error: type[Exception],
    problem: str,
) -> None:
    with pytest.raises(error) as info:
        getattr(client, call)(1, tags)
    message = str(info.value)
    assert "tag" in message
    assert problem in message
    assert server.requests == []


@pytest.mark.parametrize("color", ["redd", "c57de0", "#c57de", "#zzzzzz", "", "#c57de0 "])
def test_add_tags_refuses_a_bad_color_naming_it(
    server: ScriptedServer, client: helpcrunch.Client, color: str
) -> None:
    with pytest.raises(ValueError, match="color"):
        client.add_tags(1, [{"name": "Lead", "color": color}])
    assert server.requests == []


def test_add_tags_refuses_a_non_string_color(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    with pytest.raises(TypeError, match="color"):
        client.add_tags(1, [{"name": "Lead", "color": 0xC57DE0}])
    assert server.requests == []


def test_add_tags_refuses_a_misspelt_key_rather_than_dropping_it(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    with pytest.raises(ValueError, match="colour"):
        client.add_tags(1, [{"name": "Lead", "colour": "#c57de0"}])
    assert server.requests == []


def test_add_tags_refuses_one_name_with_two_colors(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    with pytest.raises(ValueError, match="Lead"):
        client.add_tags(
            1, [{"name": "Lead", "color": "#111111"}, {"name": "Lead", "color": "#222222"}]
        )
    assert server.requests == []


def test_async_client_refuses_bad_input_before_sending(server: ScriptedServer) -> None:
    async def main() -> None:
        async with helpcrunch.AsyncClient(
            api_key=API_KEY, base_url=server.base_url, rate_limit=None
        ) as c:
            with pytest.raises(ValueError, match="customer_id"):
                await c.remove_tags("1/../2", ["Lead"])
            with pytest.raises(ValueError, match="empty"):
                await c.add_tags(1, [])
            with pytest.raises(TypeError, match="customer_id"):
                await c.get_customer(None)  # type: ignore[arg-type]

    asyncio.run(main())
    assert server.requests == []


def test_module_functions_refuse_bad_input_before_sending(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", API_KEY)
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", server.base_url)
    with pytest.raises(ValueError, match="customer_id"):
        helpcrunch.remove_tags(0, ["Lead"])
    with pytest.raises(TypeError):
        helpcrunch.add_tags(1, [1])
    with pytest.raises(ValueError, match="customer_id"):
        asyncio.run(helpcrunch.get_customer_async("12abc"))
    assert server.requests == []


# Accepted shapes


def sent_tags(server: ScriptedServer) -> list[dict[str, str]]:
    (req,) = server.requests
    tags: list[dict[str, str]] = req.json["tags"]
    return tags


def test_a_str_is_one_tag_never_split_into_characters(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    client.remove_tags(1, "Lead")
    assert sent_tags(server) == [{"name": "Lead"}]


def test_a_single_mapping_is_one_tag(server: ScriptedServer, client: helpcrunch.Client) -> None:
    client.add_tags(1, {"name": "Lead", "color": "#c57de0"})
    assert sent_tags(server) == [{"name": "Lead", "color": "#c57de0"}]


def test_duplicates_are_sent_once_in_first_seen_order(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    client.remove_tags(1, ["Lead", "vip", "Lead", {"name": "vip"}, "lead"])
    assert sent_tags(server) == [{"name": "Lead"}, {"name": "vip"}, {"name": "lead"}]


def test_a_generator_of_tags_works(server: ScriptedServer, client: helpcrunch.Client) -> None:
    client.remove_tags(1, (name for name in ["Lead", "vip"]))
    assert sent_tags(server) == [{"name": "Lead"}, {"name": "vip"}]


def test_a_tuple_of_tags_works(server: ScriptedServer, client: helpcrunch.Client) -> None:
    client.add_tags(1, ("Lead", "vip"))
    assert sent_tags(server) == [{"name": "Lead"}, {"name": "vip"}]


def test_tag_names_are_sent_as_given(server: ScriptedServer, client: helpcrunch.Client) -> None:
    # (Whitespace at either end is refused: tests/client/test_tag_names.py.)
    names = ["two  spaces inside", "Ünïcödé 🎉", 'quote"and\\slash', "a/b?c#d"]
    client.remove_tags(1, names)
    assert sent_tags(server) == [{"name": n} for n in names]


def test_remove_tags_accepts_a_customers_own_tags_and_drops_the_colors(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    own_tags = [{"name": "vip", "color": "#ff0000"}, {"name": "Lead", "color": "#c57de0"}]
    client.remove_tags(1, own_tags)
    assert sent_tags(server) == [{"name": "vip"}, {"name": "Lead"}]


def test_a_custom_mapping_type_is_accepted(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    class TagMapping(Mapping[str, str]):
        def __init__(self, **items: str) -> None:
            self._items = items

        def __getitem__(self, key: str) -> str:
            return self._items[key]

        def __iter__(self) -> Iterator[str]:
            return iter(self._items)

        def __len__(self) -> int:
            return len(self._items)

    client.add_tags(1, [TagMapping(name="Lead", color="#abc")])
    assert sent_tags(server) == [{"name": "Lead", "color": "#abc"}]


def test_an_iterable_that_fails_midway_is_refused_before_sending(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    def broken() -> Iterator[str]:
        yield "Lead"
        raise RuntimeError("boom")

    with pytest.raises((TypeError, RuntimeError)):
        client.remove_tags(1, broken())
    assert server.requests == []


def test_int_subclass_with_index_is_a_customer_id(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    class Id:
        def __index__(self) -> int:
            return 77

    client.get_customer(Id())  # type: ignore[arg-type]
    assert server.requests[0].path == "/customers/77"


def test_leading_zeros_in_a_string_id_are_normalised(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    client.get_customer("007")
    assert server.requests[0].path == "/customers/7"


def test_numpy_integer_is_a_customer_id_and_numpy_strings_are_tags(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    np = pytest.importorskip("numpy")
    client.remove_tags(np.int64(1568834), np.array(["Lead", "vip"]))
    (req,) = server.requests
    assert req.path == "/customers/1568834/tags"
    assert req.json == {"tags": [{"name": "Lead"}, {"name": "vip"}]}


def test_numpy_float_is_refused_as_a_customer_id(
    server: ScriptedServer, client: helpcrunch.Client
) -> None:
    np = pytest.importorskip("numpy")
    with pytest.raises(TypeError, match="customer_id"):
        client.get_customer(np.float64(5.0))
    assert server.requests == []


# Client settings

BAD_SETTINGS: list[tuple[dict[str, Any], type[Exception]]] = [
    ({"timeout": 0}, helpcrunch.ConfigurationError),
    ({"timeout": -1}, helpcrunch.ConfigurationError),
    ({"timeout": float("nan")}, helpcrunch.ConfigurationError),
    ({"timeout": "10"}, TypeError),
    ({"max_retries": -1}, helpcrunch.ConfigurationError),
    ({"max_retries": 1.5}, TypeError),
    ({"max_retries": True}, TypeError),
    ({"rate_limit": 0}, helpcrunch.ConfigurationError),
    ({"rate_limit": -120}, helpcrunch.ConfigurationError),
    ({"rate_limit": float("inf")}, helpcrunch.ConfigurationError),
    ({"rate_limit": "120"}, TypeError),
    ({"api_key": 12345}, TypeError),
    ({"base_url": 5}, TypeError),
]


@pytest.mark.parametrize(
    ("settings", "error"), BAD_SETTINGS, ids=[repr(s[0]) for s in BAD_SETTINGS]
)
@pytest.mark.parametrize("cls", [helpcrunch.Client, helpcrunch.AsyncClient])
def test_bad_client_settings_are_refused(
    server: ScriptedServer, cls: type[Any], settings: dict[str, Any], error: type[Exception]
) -> None:
    kwargs: dict[str, Any] = {"api_key": API_KEY, "base_url": server.base_url, **settings}
    with pytest.raises(error):
        cls(**kwargs)
    assert server.requests == []
