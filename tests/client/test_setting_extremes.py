"""Every numeric setting, at every extreme: it works, or a TypeError/ValueError names it and
quotes the value as given (repr). Never a PanicException (a BaseException ``except Exception``
would miss), never a bare OverflowError, never anything sent. Named extremes first, then
hypothesis over every float and integer."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import helpcrunch
from tests.support.scripted_server import API_KEY, ScriptedServer

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

EXTREMES: list[Any] = [
    1e20,
    1e300,
    1.7976931348623157e308,
    -1e300,
    1e-18,
    5e-324,
    -5e-324,
    0.0,
    -0.0,
    math.inf,
    -math.inf,
    math.nan,
    -1,
    0,
    1,
    2**31,
    2**32,
    2**40,
    2**63,
    2**64,
    2**64 + 1,
    10**20,
    10**400,
    -(10**400),
    -(2**64),
    True,
    "5",
    None,
]

CLIENT_SETTINGS = ["timeout", "max_retries", "rate_limit", "max_response_bytes"]


def build(cls: type[Any], setting: str, value: Any) -> Any:
    return cls(api_key=API_KEY, base_url="http://127.0.0.1:9", **{setting: value})


def assert_works_or_names_it(attempt: Callable[[], Any], setting: str, value: Any) -> Any:
    try:
        return attempt()
    except (TypeError, ValueError) as e:
        message = str(e)
        assert setting in message, message
        if isinstance(e, ValueError):
            assert repr(value) in message, f"{value!r} not quoted as given: {message}"
        return None
    except BaseException as e:  # a panic, an OverflowError, anything else
        pytest.fail(f"{setting}={value!r} raised {type(e).__name__}: {e}")


def check_client_setting(setting: str, value: Any) -> None:
    if setting == "rate_limit" and value is None:
        return  # None switches the limiter off
    for cls in (helpcrunch.Client, helpcrunch.AsyncClient):
        client = assert_works_or_names_it(
            lambda cls=cls: build(cls, setting, value),
            setting,
            value,  # type: ignore[misc]
        )
        if client is not None:
            # A client that was built holds the value it was given, or saturates it.
            assert getattr(client, setting, value) is not None
            client.close()


def check_concurrency(server: ScriptedServer, value: Any) -> None:
    items = [(1, "Lead")]
    with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None) as client:
        sent = len(server.requests)
        assert_works_or_names_it(
            lambda: client.remove_tags_many(items, concurrency=value), "concurrency", value
        )
        assert_works_or_names_it(
            lambda: list(client.iter_add_tags(items, concurrency=value)), "concurrency", value
        )

        async def run() -> Any:
            async with helpcrunch.AsyncClient(
                api_key=API_KEY, base_url=server.base_url, rate_limit=None
            ) as aclient:
                return await aclient.remove_tags_many(items, concurrency=value)

        assert_works_or_names_it(lambda: asyncio.run(run()), "concurrency", value)
        valid = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 10_000
        assert len(server.requests) - sent == (3 if valid else 0)


@pytest.mark.parametrize("value", EXTREMES, ids=[repr(v)[:24] for v in EXTREMES])
@pytest.mark.parametrize("setting", CLIENT_SETTINGS)
def test_client_settings_at_named_extremes(setting: str, value: Any) -> None:
    check_client_setting(setting, value)


@pytest.mark.parametrize("value", EXTREMES, ids=[repr(v)[:24] for v in EXTREMES])
def test_concurrency_at_named_extremes(server: ScriptedServer, value: Any) -> None:
    check_concurrency(server, value)


NUMBERS = (
    st.floats()
    | st.integers()
    | st.integers(min_value=-(2**130), max_value=2**130)
    | st.integers(min_value=10**300, max_value=10**500)
    | st.floats(min_value=0, max_value=1e-3)
)


@PROPERTY
@given(setting=st.sampled_from(CLIENT_SETTINGS), value=NUMBERS)
def test_client_settings_at_any_number(setting: str, value: Any) -> None:
    check_client_setting(setting, value)


@PROPERTY
@given(value=NUMBERS)
def test_concurrency_at_any_number(server: ScriptedServer, value: Any) -> None:
    check_concurrency(server, value)


def test_a_timeout_past_any_duration_means_no_timeout() -> None:
    for value in (1e20, 1e300, 10**400):
        client = build(helpcrunch.Client, "timeout", value)
        assert client.timeout > 1e18
