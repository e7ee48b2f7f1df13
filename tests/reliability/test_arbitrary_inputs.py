"""Property-based: arbitrary Python objects as ``customer_id`` and ``tags`` to every public
function (Client, AsyncClient, the module functions, a bulk row) raise only ``TypeError`` or
``ValueError`` (never a ``helpcrunch`` error, never anything else), and the server receives
nothing for them; values that are valid succeed, and reach the server as exactly the path and
body they stand for.

The documented rules the oracle below encodes: a customer id is an int (or has ``__index__``),
not a bool, in 1..2**64-1, or a str of ASCII digits naming such a number.
"""

from __future__ import annotations

import asyncio
import json
import operator
import os
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import helpcrunch
from helpcrunch._client import ENV_SETTINGS
from tests.support.scripted_server import ScriptedServer

API_KEY = "inputs-test-key-0123456789"
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

WAYS = ["client", "async_client", "module", "module_async", "bulk"]
CALLS = ["remove_tags", "add_tags", "get_customer"]
WAY_CALLS = [(w, c) for w in WAYS for c in CALLS if not (w == "bulk" and c == "get_customer")]
TAG_CALLS = [(w, c) for (w, c) in WAY_CALLS if c != "get_customer"]


# --- objects that misbehave ------------------------------------------------------------------


class RaisingIndex:
    def __index__(self) -> int:
        raise RuntimeError("__index__ failed")


class IndexReturnsText:
    def __index__(self) -> Any:
        return "12"


class IndexOf:
    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"IndexOf({self.value})"


class RaisingIter:
    def __iter__(self) -> Iterator[Any]:
        raise RuntimeError("__iter__ failed")


class FailsMidway:
    def __iter__(self) -> Iterator[Any]:
        yield "Lead"
        raise ZeroDivisionError("midway")


class RaisingMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("__getitem__ failed")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("__iter__ failed")

    def __len__(self) -> int:
        return 1


class RaisingStr:
    def __str__(self) -> str:
        raise RuntimeError("__str__ failed")

    def __repr__(self) -> str:
        return "RaisingStr()"


WEIRD = st.sampled_from(
    [
        RaisingIndex(),
        IndexReturnsText(),
        IndexOf(7),
        IndexOf(-7),
        IndexOf(0),
        IndexOf(2**64),
        RaisingIter(),
        FailsMidway(),
        RaisingMapping(),
        RaisingStr(),
        object(),
        type,
        Ellipsis,
        NotImplemented,
    ]
)

TEXT = st.text(max_size=8) | st.text(st.characters(exclude_categories=()), max_size=8)
SURROGATES = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
DIGITS = st.from_regex(r"\A[0-9]{1,25}\Z")
UNICODE_DIGITS = st.text(st.characters(categories=["Nd"]), min_size=1, max_size=4)
INTS = st.integers() | st.integers(min_value=2**63 - 2, max_value=2**64 + 2) | st.integers(-2, 2)
SCALARS = (
    st.none()
    | st.booleans()
    | INTS
    | st.floats()
    | st.decimals(allow_nan=False)
    | st.fractions()
    | st.complex_numbers()
    | TEXT
    | SURROGATES
    | DIGITS
    | UNICODE_DIGITS
    | st.binary(max_size=6)
    | st.binary(max_size=6).map(bytearray)
    | WEIRD
)
HASHABLE = st.none() | st.booleans() | INTS | st.floats() | TEXT | DIGITS | st.binary(max_size=4)
ANYTHING = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.sampled_from(["name", "color", "x"]) | TEXT, children, max_size=3)
        | st.frozensets(HASHABLE, max_size=3)
        | st.sets(HASHABLE, max_size=3)
    ),
    max_leaves=8,
)
#: Things that look like ids, valid or nearly so, and everything else.
IDS = DIGITS | UNICODE_DIGITS | INTS | st.sampled_from(["0", "00", "", " 1", "1 ", "+1"]) | ANYTHING


def expected_id(value: Any) -> int | None:
    """The id a valid ``customer_id`` stands for; None for an invalid one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        ok = value.isascii() and value.isdigit()
        number = int(value) if ok else 0
    elif isinstance(value, float):
        return None
    else:
        try:
            number = operator.index(value)
        except Exception:
            return None
    return number if 0 < number < 2**64 else None


# --- calling every public function the same way ---------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    """One server for the module; the module functions' environment points at it."""
    saved = {k: os.environ.get(k) for k in ("HELPCRUNCH_API_KEY", "HELPCRUNCH_BASE_URL")}
    with ScriptedServer() as s:
        os.environ["HELPCRUNCH_API_KEY"] = API_KEY
        os.environ["HELPCRUNCH_BASE_URL"] = s.base_url
        # The module functions' shared client, built from that environment, with the rate limit
        # off so the many valid examples are not paced at 120 a minute.
        client = helpcrunch.Client(rate_limit=None)
        helpcrunch._defaults = (client, helpcrunch.AsyncClient._from_native(client._native))
        # The environment it came from, read as the package reads it: a tuple that does not
        # match would rebuild the client (paced) on every call.
        helpcrunch._default_env = tuple(os.environ.get(name) for name in ENV_SETTINGS)
        yield s
        helpcrunch._defaults = None
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


class Caller:
    def __init__(self, server: ScriptedServer) -> None:
        self.server = server
        self.client = helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None)
        self.aclient = helpcrunch.AsyncClient(
            api_key=API_KEY, base_url=server.base_url, rate_limit=None
        )
        self.loop = asyncio.new_event_loop()

    def close(self) -> None:
        self.client.close()
        self.aclient.close()
        self.loop.close()

    def call(self, way: str, name: str, customer_id: Any, tags: Any = "Lead") -> Any:
        """What the call returned, or the exception it raised (any BaseException, as a value)."""
        args = (customer_id,) if name == "get_customer" else (customer_id, tags)
        try:
            if way == "client":
                return getattr(self.client, name)(*args)
            if way == "async_client":
                return self.loop.run_until_complete(getattr(self.aclient, name)(*args))
            if way == "module":
                return getattr(helpcrunch, name)(*args)
            if way == "module_async":
                return self.loop.run_until_complete(getattr(helpcrunch, name + "_async")(*args))
            assert way == "bulk"
            report = getattr(self.client, name + "_many")([args], concurrency=2)
            assert len(report) == 1
            (result,) = report
            if result.ok:
                return result.customer
            assert result.attempts == 0 or not isinstance(result.error, (TypeError, ValueError))
            return result.error
        except BaseException as e:
            return e


@pytest.fixture(scope="module")
def caller(server: ScriptedServer) -> Iterator[Caller]:
    c = Caller(server)
    yield c
    c.close()


def assert_refused_before_sending(outcome: Any, sent: int, server: ScriptedServer) -> None:
    event("refused")
    assert isinstance(outcome, (TypeError, ValueError)), f"{type(outcome).__name__}: {outcome}"
    assert not isinstance(outcome, helpcrunch.HelpCrunchError), outcome
    assert len(server.requests) == sent, "the server received a request for a refused input"


def last_request_path(server: ScriptedServer) -> str:
    return server.requests[-1].path


# --- properties ------------------------------------------------------------------------------


@pytest.mark.parametrize(("way", "name"), WAY_CALLS)
@PROPERTY
@given(customer_id=IDS)
def test_any_customer_id_is_refused_with_type_or_value_error_or_names_exactly_its_path(
    caller: Caller, server: ScriptedServer, way: str, name: str, customer_id: Any
) -> None:
    sent = len(server.requests)
    outcome = caller.call(way, name, customer_id)
    expected = expected_id(customer_id)
    if expected is None:
        assert_refused_before_sending(outcome, sent, server)
        return
    event("accepted")
    assert isinstance(outcome, dict), f"valid id {customer_id!r}: {outcome!r}"
    assert len(server.requests) == sent + 1
    suffix = "" if name == "get_customer" else "/tags"
    assert last_request_path(server) == f"/customers/{expected}{suffix}"


@pytest.mark.parametrize(("way", "name"), TAG_CALLS)
@PROPERTY
@given(tags=ANYTHING)
def test_any_tags_are_refused_with_type_or_value_error_or_sent_as_names_from_the_input(
    caller: Caller, server: ScriptedServer, way: str, name: str, tags: Any
) -> None:
    sent = len(server.requests)
    outcome = caller.call(way, name, 1568834, tags)
    if not isinstance(outcome, dict):
        assert_refused_before_sending(outcome, sent, server)
        return
    event("accepted")
    assert len(server.requests) == sent + 1
    body = json.loads(server.requests[-1].body)
    names = [t["name"] for t in body["tags"]]
    assert names, "an accepted tag list is never empty"
    assert len(set(names)) == len(names), "a name is sent once"
    given_names = _names_in(tags)
    assert set(names) <= given_names


def _names_in(tags: Any) -> set[str]:
    """Every str the input holds as a name (a str, a mapping's 'name', an iterable's items)."""
    if isinstance(tags, str):
        return {tags}
    if isinstance(tags, Mapping):
        return {tags["name"]} if isinstance(tags.get("name"), str) else set()
    found: set[str] = set()
    for item in tags:
        found |= _names_in(item) if isinstance(item, (str, Mapping)) else set()
    return found


# Tags built to be valid must succeed; tags built to be invalid must be refused.

NAME = st.text(min_size=1, max_size=12).filter(
    lambda s: s.strip() == s != "" and not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in s)
)
VALID_TAGS = (
    NAME
    | st.lists(NAME, min_size=1, max_size=5)
    | st.lists(NAME, min_size=1, max_size=5).map(tuple)
    | st.sets(NAME, min_size=1, max_size=5)
    | st.lists(NAME.map(lambda n: {"name": n}), min_size=1, max_size=5)
    | st.lists(NAME, min_size=1, max_size=4, unique=True).map(
        lambda names: [{"name": n, "color": "#c57de0"} for n in names]
    )
)
BAD_NAME = (
    st.sampled_from(["", " ", "\t", "\n\n", "\u3000"])
    | st.tuples(NAME, st.sampled_from(["\x00", "\n", "\x7f", "\x85"]), NAME).map("".join)
    # Whitespace at either end would name another tag than the one meant.
    | st.tuples(st.sampled_from([" ", "\t", "\u00a0", "\u3000", "\u2003"]), NAME).map("".join)
    | st.tuples(NAME, st.sampled_from([" ", "\t", "\u00a0", "\u3000", "\u2003"])).map("".join)
    | SURROGATES
)
INVALID_TAGS = (
    st.just([])
    | st.just(())
    | st.just(set())
    | st.none()
    | INTS
    | st.floats()
    | st.binary()
    | st.binary().map(bytearray)
    | BAD_NAME
    | st.lists(BAD_NAME, min_size=1, max_size=3)
    | st.tuples(NAME, INTS | st.none() | st.binary() | st.floats()).map(list)
    | st.just({"color": "#ffffff"})
    | st.builds(lambda n: [{"name": n, "color": 5}], NAME)
    | st.sampled_from([RaisingIter(), FailsMidway(), RaisingMapping(), RaisingIndex(), object()])
)


@pytest.mark.parametrize(("way", "name"), TAG_CALLS)
@PROPERTY
@given(tags=VALID_TAGS)
def test_valid_tags_are_sent_once_each_in_order(
    caller: Caller, server: ScriptedServer, way: str, name: str, tags: Any
) -> None:
    outcome = caller.call(way, name, 1568834, tags)
    assert isinstance(outcome, dict), f"{tags!r}: {outcome!r}"
    sent = [t["name"] for t in json.loads(server.requests[-1].body)["tags"]]
    if isinstance(tags, str):
        assert sent == [tags]
    elif isinstance(tags, set):
        assert sorted(sent) == sorted(tags)
    else:
        given_names = [t["name"] if isinstance(t, dict) else t for t in tags]
        assert sent == list(dict.fromkeys(given_names))


@pytest.mark.parametrize(("way", "name"), TAG_CALLS)
@PROPERTY
@given(tags=INVALID_TAGS)
def test_invalid_tags_are_refused_before_sending(
    caller: Caller, server: ScriptedServer, way: str, name: str, tags: Any
) -> None:
    sent = len(server.requests)
    assert_refused_before_sending(caller.call(way, name, 1568834, tags), sent, server)


@PROPERTY
@given(rows=st.lists(st.tuples(IDS, ANYTHING) | ANYTHING, max_size=6))
def test_a_bulk_run_of_arbitrary_rows_accounts_for_every_row(
    caller: Caller, server: ScriptedServer, rows: list[Any]
) -> None:
    # A row that is itself a broken mapping is another matter: see the test below.
    rows = [row for row in rows if not isinstance(row, RaisingMapping)]
    sent = len(server.requests)
    report = caller.client.remove_tags_many(rows, concurrency=3)
    assert [r.index for r in report] == list(range(len(rows)))
    for result in report:
        if result.ok:
            assert result.attempts == 1
        else:
            assert isinstance(result.error, (TypeError, ValueError)), result
            assert not isinstance(result.error, helpcrunch.HelpCrunchError)
            assert result.attempts == 0
    assert len(server.requests) == sent + report.succeeded


def test_a_row_that_cannot_be_read_is_a_failure_of_its_own(caller: Caller) -> None:
    report = caller.client.remove_tags_many([(1, "Lead"), RaisingMapping(), (2, "Lead")])
    assert [r.ok for r in report] == [True, False, True]
    assert isinstance(report[1].error, (TypeError, ValueError))


class InterruptedIter:
    def __iter__(self) -> Iterator[Any]:
        raise KeyboardInterrupt


class InterruptedIndex:
    def __index__(self) -> int:
        raise KeyboardInterrupt


def test_ctrl_c_while_reading_tags_stays_a_keyboard_interrupt(caller: Caller) -> None:
    with pytest.raises(KeyboardInterrupt):
        caller.client.remove_tags(1, InterruptedIter())


def test_ctrl_c_while_reading_the_customer_id_stays_a_keyboard_interrupt(caller: Caller) -> None:
    with pytest.raises(KeyboardInterrupt):
        caller.client.get_customer(InterruptedIndex())
