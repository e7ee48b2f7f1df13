"""Nothing a caller's object raises while the package reads it is ever swallowed. Objects whose
``__iter__``, ``__getitem__``, ``keys``, ``__index__``, ``__repr__``, ``__class__`` (reached by
``isinstance`` against ``collections.abc.Mapping``) or type name raise, in every argument
position of every entry point (sync, async, module functions, bulk rows, streamed and async bulk
runs, with and without a checkpoint):

- a ``KeyboardInterrupt`` (or any other ``BaseException``) comes out unchanged, the very object
  raised (a blocking bulk run wraps Ctrl-C in ``BulkInterrupted`` with its report);
- an ``Exception`` makes the input bad: ``TypeError``/``ValueError`` with it as the cause (a bulk
  row fails on its own);
- nothing is sent, and nothing is printed as "Exception ignored".
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import helpcrunch
from tests.support.scripted_server import ScriptedServer

API_KEY = "interrupts-test-key-0123456789"


class Halt(BaseException):
    """A BaseException of the caller's own, as a framework might raise to stop a job."""


RAISED: dict[str, Callable[[], BaseException]] = {
    "KeyboardInterrupt": KeyboardInterrupt,
    "BaseException": Halt,
    "Exception": lambda: RuntimeError("the caller's object failed"),
}


# --- objects that raise where they are read --------------------------------------------------


def raising_index(exc: BaseException) -> Any:
    class Index:
        def __index__(self) -> int:
            raise exc

    return Index()


def int_with_raising_repr(exc: BaseException, value: int) -> Any:
    class Int(int):
        def __repr__(self) -> str:
            raise exc

    return Int(value)


def raising_type_name(exc: BaseException) -> Any:
    """An object whose type's name, asked for a message, raises (a metaclass property)."""

    class Meta(type):
        @property
        def __name__(cls) -> str:  # type: ignore[override]
            raise exc

    class Odd(metaclass=Meta):
        pass

    return Odd()


def raising_iter(exc: BaseException) -> Any:
    class Tags:
        def __iter__(self) -> Iterator[str]:
            raise exc

    return Tags()


def raising_midway(exc: BaseException) -> Iterator[str]:
    yield "Lead"
    raise exc


def raising_class(exc: BaseException) -> Any:
    """``isinstance(obj, Mapping)`` reads ``obj.__class__``: here that raises."""

    class Sneaky:
        @property  # type: ignore[misc]
        def __class__(self) -> type:  # type: ignore[override]
            raise exc

    return Sneaky()


def raising_getitem(exc: BaseException) -> Any:
    class Tag(Mapping[str, Any]):
        def __getitem__(self, key: str) -> Any:
            raise exc

        def __iter__(self) -> Iterator[str]:
            return iter(["name"])

        def __len__(self) -> int:
            return 1

    return Tag()


def raising_keys(exc: BaseException) -> Any:
    class Tag(Mapping[str, Any]):
        def __getitem__(self, key: str) -> Any:
            if key == "name":
                return "Lead"
            raise KeyError(key)

        def __iter__(self) -> Iterator[str]:
            return iter(["name"])

        def __len__(self) -> int:
            return 1

        def keys(self) -> Any:
            raise exc

    return Tag()


def raising_key_repr(exc: BaseException) -> Any:
    class Key:
        def __hash__(self) -> int:
            return 1

        def __repr__(self) -> str:
            raise exc

    return {"name": "Lead", Key(): "?"}


def str_subclass_color(exc: BaseException) -> Any:
    class Color(str):
        def __str__(self) -> str:
            raise exc

    # Read as the str it is: its __str__ is never called, so this one is valid.
    return {"name": "Lead", "color": Color("#c57de0")}


#: position -> (calls it applies to, make (customer_id, tags) from the exception).
POSITIONS: dict[str, tuple[tuple[str, ...], Callable[[BaseException], tuple[Any, Any]]]] = {
    "id.__index__": (
        ("remove_tags", "add_tags", "get_customer"),
        lambda e: (raising_index(e), "Lead"),
    ),
    "id.__repr__": (
        ("remove_tags", "add_tags", "get_customer"),
        lambda e: (int_with_raising_repr(e, -5), "Lead"),
    ),
    "id type name": (
        ("remove_tags", "add_tags", "get_customer"),
        lambda e: (raising_type_name(e), "Lead"),
    ),
    "tags.__iter__": (("remove_tags", "add_tags"), lambda e: (1, raising_iter(e))),
    "tags midway": (("remove_tags", "add_tags"), lambda e: (1, raising_midway(e))),
    "tags.__class__": (("remove_tags", "add_tags"), lambda e: (1, raising_class(e))),
    "tags type name": (("remove_tags", "add_tags"), lambda e: (1, raising_type_name(e))),
    "tags[0].__class__": (("remove_tags", "add_tags"), lambda e: (1, [raising_class(e)])),
    "tags[0] type name": (("remove_tags", "add_tags"), lambda e: (1, ["a", raising_type_name(e)])),
    "tags[0].__getitem__": (("remove_tags", "add_tags"), lambda e: (1, [raising_getitem(e)])),
    "tags[0].keys": (("add_tags",), lambda e: (1, [raising_keys(e)])),
    "tags[0] key repr": (("add_tags",), lambda e: (1, [raising_key_repr(e)])),
    "tags[0] name type": (
        ("remove_tags", "add_tags"),
        lambda e: (1, [{"name": raising_type_name(e)}]),
    ),
    "tags[0] color type": (
        ("add_tags",),
        lambda e: (1, [{"name": "Lead", "color": raising_type_name(e)}]),
    ),
}

WAYS = ["client", "async_client", "module", "module_async", "many", "iter", "async_many"]
BULK_WAYS = {"many", "iter", "async_many"}
CASES = [
    pytest.param(way, call, position, id=f"{way}-{call}-{position}")
    for position, (calls, _) in POSITIONS.items()
    for call in calls
    for way in WAYS
    if not (way in BULK_WAYS and call == "get_customer")
]


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    saved = {k: os.environ.get(k) for k in ("HELPCRUNCH_API_KEY", "HELPCRUNCH_BASE_URL")}
    with ScriptedServer() as s:
        os.environ["HELPCRUNCH_API_KEY"] = API_KEY
        os.environ["HELPCRUNCH_BASE_URL"] = s.base_url
        yield s
        helpcrunch._defaults = None
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What Python would print as "Exception ignored in ..." during the test."""
    seen: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen


def call(
    server: ScriptedServer, way: str, name: str, customer_id: Any, tags: Any, checkpoint: Path
) -> Any:
    """What the entry point returned, or the exception it raised, as a value."""
    args = (customer_id,) if name == "get_customer" else (customer_id, tags)
    client = helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None)
    aclient = helpcrunch.AsyncClient(api_key=API_KEY, base_url=server.base_url, rate_limit=None)
    loop = asyncio.new_event_loop()
    try:
        if way == "client":
            return getattr(client, name)(*args)
        if way == "async_client":
            return loop.run_until_complete(getattr(aclient, name)(*args))
        if way == "module":
            return getattr(helpcrunch, name)(*args)
        if way == "module_async":
            return loop.run_until_complete(getattr(helpcrunch, name + "_async")(*args))
        if way == "many":
            return getattr(client, name + "_many")([args], checkpoint=checkpoint)
        if way == "iter":
            return list(getattr(client, "iter_" + name)([args], checkpoint=checkpoint))
        assert way == "async_many"
        return loop.run_until_complete(getattr(aclient, name + "_many")([args]))
    except BaseException as e:
        return e
    finally:
        loop.close()
        client.close()
        aclient.close()


def chain(error: BaseException | None) -> Iterator[BaseException]:
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


@pytest.mark.parametrize("raised", list(RAISED))
@pytest.mark.parametrize(("way", "name", "position"), CASES)
def test_what_a_callers_object_raises_is_never_swallowed(
    server: ScriptedServer,
    unraisable: list[Any],
    tmp_path: Path,
    way: str,
    name: str,
    position: str,
    raised: str,
) -> None:
    exc = RAISED[raised]()
    customer_id, tags = POSITIONS[position][1](exc)
    sent = len(server.requests)
    outcome = call(server, way, name, customer_id, tags, tmp_path / "run.jsonl")

    assert len(server.requests) == sent, "a request was sent for an input that raised"
    assert unraisable == [], f"swallowed: {unraisable}"
    if raised == "Exception":
        if way in ("many", "async_many"):
            (result,) = outcome
            assert not result.ok and result.attempts == 0
            outcome = result.error
        elif way == "iter":
            (result,) = outcome
            outcome = result.error
        assert isinstance(outcome, (TypeError, ValueError)), repr(outcome)
        assert exc in chain(outcome), f"{outcome!r} does not carry {exc!r}"
    elif way == "many" and raised == "KeyboardInterrupt":
        assert isinstance(outcome, helpcrunch.BulkInterrupted), repr(outcome)
        assert len(outcome.report) == 1 and not outcome.report[0].ok
    else:
        assert outcome is exc, f"{exc!r} came out as {outcome!r}"


@pytest.mark.parametrize("raised", ["KeyboardInterrupt", "BaseException"])
def test_a_bulk_run_stops_at_the_row_that_raised(
    server: ScriptedServer, unraisable: list[Any], raised: str
) -> None:
    exc = RAISED[raised]()
    rows = [(1, "Lead"), (2, raising_midway(exc)), *[(i, "Lead") for i in range(3, 100)]]
    with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None) as client:
        sent = len(server.requests)
        with pytest.raises(BaseException) as caught:
            client.remove_tags_many(iter(rows), concurrency=1)
    if raised == "KeyboardInterrupt":
        assert isinstance(caught.value, helpcrunch.BulkInterrupted)
        report = caught.value.report
        # Rows 0 and 1 were taken: the first kept (done or cancelled), the second not sent.
        assert [r.index for r in report] == [0, 1]
        assert report[1].attempts == 0
    else:
        assert caught.value is exc
    assert len(server.requests) - sent <= 1, "the run went on after the row that raised"
    assert unraisable == []
