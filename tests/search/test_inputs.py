"""Bad search arguments are refused with TypeError/ValueError naming the problem, at the call,
before anything is sent; arbitrary values for each argument (hypothesis) raise nothing else,
and the valid ones reach the server as exactly the filter they stand for."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import helpcrunch
from tests.support.scripted_server import API_KEY, ScriptedServer
from tests.support.search import serving

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class RaisingIter:
    def __iter__(self) -> Iterator[Any]:
        raise RuntimeError("__iter__ failed")

    def __repr__(self) -> str:
        # The same test id in every process that collects it (pytest-xdist's workers).
        return "RaisingIter()"


class InterruptingIter:
    def __iter__(self) -> Iterator[Any]:
        yield "Lead"
        raise KeyboardInterrupt


class Opaque:
    def __repr__(self) -> str:
        return "Opaque()"


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**130), max_value=2**130),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.binary(max_size=6),
    st.just(Opaque()),
    st.just(RaisingIter()),
)
anything = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner, inner),
        st.dictionaries(st.text(max_size=5), inner, max_size=3),
        st.builds(lambda xs: {"name": xs}, inner),
        st.builds(set, st.lists(st.text(max_size=4), max_size=3)),
    ),
    max_leaves=8,
)


def client(server: ScriptedServer) -> helpcrunch.Client:
    server.set_default(serving([]))
    return helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None)


def attempt(server: ScriptedServer, **arguments: Any) -> BaseException | None:
    """Search with ``arguments`` and read it to the end: what it raised, if anything. Whatever
    it raised, it raised before a request was sent."""
    before = len(server.requests)
    with client(server) as c:
        try:
            found = c.search_customers(**arguments)
        except (TypeError, ValueError) as e:
            assert len(server.requests) == before, "a request was sent for refused input"
            assert str(e), "the error says nothing"
            return e
        assert list(found) == []
        # limit=0 asks for nothing, so nothing is sent; any other search sends its first page.
        nothing_wanted = type(arguments.get("limit")) is int and arguments["limit"] == 0
        assert len(server.requests) == before + (0 if nothing_wanted else 1)
        return None


def sent_filter(server: ScriptedServer) -> list[Any]:
    return list(server.requests[-1].json["filter"])


@PROPERTY
@given(value=anything)
def test_any_email_or_user_id_is_a_str_or_a_type_error(server: ScriptedServer, value: Any) -> None:
    for argument, field in (("email", "customers.email"), ("user_id", "customers.userId")):
        error = attempt(server, **{argument: value})
        if value is None:
            assert error is None
            assert server.requests[-1].path.startswith("/customers?")
        elif isinstance(value, str) and not any(0xD800 <= ord(ch) < 0xE000 for ch in value):
            assert error is None
            assert sent_filter(server) == [{"field": field, "operator": "=", "value": value}]
        elif isinstance(value, str):
            assert type(error) is ValueError
        else:
            assert type(error) is TypeError, (value, error)
            assert argument in str(error)


def valid_count(value: Any, low: int, high: float) -> bool:
    return type(value) is int and low <= value <= high


@PROPERTY
@given(value=anything)
@example(value=2**64)  # past u64: "no limit", as any larger int
@example(value=2**200)  # past i128
@example(value=-(2**200))
def test_any_page_size_or_limit_is_in_range_or_refused(server: ScriptedServer, value: Any) -> None:
    error = attempt(server, tag="Lead", page_size=value)
    if valid_count(value, 1, 100):
        assert error is None
        assert server.requests[-1].json["limit"] == value
    else:
        expected = ValueError if type(value) is int else TypeError
        assert type(error) is expected, (value, error)
        assert "page_size" in str(error)
    error = attempt(server, tag="Lead", limit=value)
    if value is None or valid_count(value, 0, math.inf):
        assert error is None
    else:
        expected = ValueError if type(value) is int else TypeError
        assert type(error) is expected, (value, error)
        assert "limit" in str(error)


@PROPERTY
@given(value=anything)
def test_any_match_is_all_any_or_refused(server: ScriptedServer, value: Any) -> None:
    error = attempt(server, email="a@b.c", match=value)
    if value in ("all", "any", None) and not isinstance(value, bool):
        assert error is None
    else:
        assert isinstance(error, (TypeError, ValueError)), (value, error)
        assert "match" in str(error)


@PROPERTY
@given(value=anything)
def test_any_tag_is_names_or_a_typed_refusal(server: ScriptedServer, value: Any) -> None:
    error = attempt(server, tag=value)
    if error is None and value is not None:
        (tag_filter,) = sent_filter(server)
        assert tag_filter["field"] == "customers.tagsData"
        assert all(t["name"].strip() for t in tag_filter["value"])
    if isinstance(value, str) and value.strip() and value.isprintable():
        assert error is None
        assert sent_filter(server)[0]["value"] == [{"name": value}]


@PROPERTY
@given(value=anything, field=st.text(max_size=12), operator=st.text(max_size=3))
def test_any_where_condition_is_a_filter_or_a_typed_refusal(
    server: ScriptedServer, value: Any, field: str, operator: str
) -> None:
    for where in ([(field, operator, value)], value, [value], [f"{field} {operator} {value}"]):
        error = attempt(server, where=where)
        if error is None and where:
            for f in sent_filter(server):
                assert f["field"].startswith("customers.")
                assert f["operator"] in ("=", "!=", "~", "!~", ">", ">=", "<", "<=")


REFUSED: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"tag": 5}, TypeError, "tag: tagsData takes a tag name or a list of tag names, not int"),
    ({"tag": []}, ValueError, "the list is empty"),
    ({"tag": ["Lead", " "]}, ValueError, "tags[1] has an empty or whitespace-only name"),
    ({"tag": [{"color": "#fff"}]}, ValueError, "without 'name'"),
    ({"tag": b"Lead"}, TypeError, "not bytes"),
    ({"email": 5}, TypeError, "email: email takes a str, not int"),
    ({"email": ["a@b.c"]}, TypeError, "not list"),
    ({"user_id": 123}, TypeError, "user_id: userId takes a str, not int"),
    ({"where": "lastSeen > 5"}, TypeError, "where must be a list"),
    (
        {"where": ("lastSeen", ">", 5)},
        TypeError,
        "for one condition write where=[('lastSeen', '>', 5)]",
    ),
    ({"where": [("lastSeen", ">")]}, ValueError, "where[0] has 2 items"),
    ({"where": [5]}, TypeError, "where[0] must be a (field, operator, value) triple"),
    ({"where": [("e-mail", "=", "x")]}, ValueError, 'where[0]: "e-mail" is not a field name'),
    ({"where": [("email", "==", "x")]}, ValueError, 'where[0]: "==" is not an operator'),
    ({"where": [("email", "=", 5)]}, TypeError, "where[0]: email takes a str, not int"),
    ({"where": [("lastSeen", ">=", "2024-01-01")]}, TypeError, "lastSeen takes a number"),
    ({"where": [("lastSeen", ">=", True)]}, TypeError, "not bool"),
    ({"where": [("lastSeen", ">=", float("nan"))]}, ValueError, "finite number"),
    ({"where": [("id", "=", 1.5)]}, TypeError, "id takes an int, not float"),
    (
        {"where": [("tagsData", "!=", "Lead")]},
        ValueError,
        "where[0]: tagsData is a list field: it takes = (the customers carrying every tag",
    ),
    ({"where": [("tagsData", ">", "Lead")]}, ValueError, "not >"),
    ({"where": [("email", ">", "a")]}, ValueError, "email is a text field: it takes = != ~ !~"),
    ({"where": ["lastSeen ~ 17"]}, ValueError, "lastSeen is a number or date field"),
    (
        {"where": ["city = Kyiv", "lastSeen >= yesterday"]},
        ValueError,
        "where[1]: lastSeen takes a number",
    ),
    ({"where": ["no operator here"]}, ValueError, "is not 'FIELD OPERATOR VALUE'"),
    ({"where": [(5, "=", "x")]}, TypeError, "where[0] field must be a str"),
    ({"where": [("email", None, "x")]}, TypeError, "where[0] operator must be a str"),
    ({"where": RaisingIter()}, TypeError, "where must be"),
    ({"match": "some"}, ValueError, "match must be 'all' or 'any'"),
    ({"match": 1}, TypeError, "match must be a str"),
    ({"page_size": 0}, ValueError, "page_size must be an integer from 1 to 100, got 0"),
    ({"page_size": 101}, ValueError, "page_size must be an integer from 1 to 100, got 101"),
    ({"page_size": 10.0}, TypeError, "page_size must be an int, not float"),
    ({"limit": -1}, ValueError, "limit must be an integer from 0 up, got -1"),
    ({"limit": "5"}, TypeError, "limit must be an int, not str"),
]


@pytest.mark.parametrize(("arguments", "cls", "says"), REFUSED, ids=[str(a) for a, _, _ in REFUSED])
def test_bad_arguments_are_refused_by_name_before_anything_is_sent(
    server: ScriptedServer, arguments: dict[str, Any], cls: type[Exception], says: str
) -> None:
    with client(server) as c:
        with pytest.raises(cls) as raised:
            c.search_customers(**arguments)
        assert says in str(raised.value)
        counted = {k: v for k, v in arguments.items() if k not in ("page_size", "limit")}
        if counted:
            with pytest.raises(cls):
                c.count_customers(**counted)

    async def main() -> None:
        async with helpcrunch.AsyncClient(api_key=API_KEY, base_url=server.base_url) as ac:
            with pytest.raises(cls):
                ac.search_customers(**arguments)

    asyncio.run(main())
    assert server.requests == []


def test_an_interrupt_while_reading_an_argument_goes_through(server: ScriptedServer) -> None:
    with client(server) as c, pytest.raises(KeyboardInterrupt):
        c.search_customers(tag=InterruptingIter())
    assert server.requests == []


def test_numpy_numbers_are_numbers(server: ScriptedServer) -> None:
    numpy = pytest.importorskip("numpy")
    with client(server) as c:
        assert list(c.search_customers(where=[("lastSeen", ">", numpy.int64(5))])) == []
        assert sent_filter(server) == [{"field": "customers.lastSeen", "operator": ">", "value": 5}]
        list(c.search_customers(where=[("lastSeen", ">", numpy.float32(1.5))]))
        assert sent_filter(server)[0]["value"] == 1.5


# --- what a caller's object raises while it is read is never swallowed --------------------------


class Halt(BaseException):
    """A BaseException of the caller's own, as a framework might raise to stop a job."""


def objects_raising(exc: BaseException, called: list[str]) -> dict[str, Any]:
    """Objects that raise ``exc`` from each place the search's argument reading may look,
    noting in ``called`` that they did."""

    def fail(where: str) -> Any:
        called.append(where)
        raise exc

    class Index:
        def __index__(self) -> int:
            return fail("__index__")  # type: ignore[no-any-return]

    class Float:
        def __float__(self) -> float:
            return fail("__float__")  # type: ignore[no-any-return]

    class Iterable:
        def __iter__(self) -> Iterator[Any]:
            return fail("__iter__")  # type: ignore[no-any-return]

    class Attributes:
        def __getattr__(self, name: str) -> Any:
            return fail("__getattr__")

    class NameMapping(dict[str, Any]):
        def __getitem__(self, key: str) -> Any:
            return fail("__getitem__")

    class Triple(list[Any]):
        def __iter__(self) -> Iterator[Any]:
            return fail("list __iter__")  # type: ignore[no-any-return]

    class ClassLookup:
        @property  # type: ignore[misc]
        def __class__(self) -> type:  # reached by isinstance(obj, Mapping)
            return fail("__class__")  # type: ignore[no-any-return]

    return {
        "__index__": Index(),
        "__float__": Float(),
        "__iter__": Iterable(),
        "__getattr__": Attributes(),
        "mapping item": NameMapping(name="x"),
        "__class__": ClassLookup(),
        "list subclass": Triple(["lastSeen", ">", 1]),
    }


POSITIONS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "where value": lambda obj: {"where": [("lastSeen", ">=", obj)]},
    "where condition": lambda obj: {"where": [obj]},
    "where": lambda obj: {"where": obj},
    "tag": lambda obj: {"tag": obj},
}


@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("kind", ["KeyboardInterrupt", "BaseException", "Exception"])
def test_what_an_argument_raises_while_read_is_never_swallowed(
    server: ScriptedServer, position: str, kind: str
) -> None:
    exc: BaseException = {
        "KeyboardInterrupt": KeyboardInterrupt(),
        "BaseException": Halt(),
        "Exception": RuntimeError("the caller's object failed"),
    }[kind]
    looked_at = 0
    with client(server) as c:
        called: list[str] = []
        for name, obj in objects_raising(exc, called).items():
            called.clear()
            try:
                c.search_customers(**POSITIONS[position](obj))
            except BaseException as e:  # each kind is checked below
                raised: BaseException | None = e
            else:
                raised = None
            if not called:
                # Refused by its type alone, without running the code that raises.
                assert raised is None or isinstance(raised, (TypeError, ValueError)), raised
                continue
            looked_at += 1
            if kind == "Exception":
                # Bad input: a typed refusal, the object's exception kept as the cause.
                assert isinstance(raised, (TypeError, ValueError)), (name, raised)
                assert raised.__cause__ is exc, (name, raised)
            else:
                assert raised is exc, (name, raised)
    assert looked_at, "no object's raising code was reached in this position"
    assert server.requests == [], "a request was sent for input that raised"
