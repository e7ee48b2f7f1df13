"""A hostile or broken server, through the Python API: every case ends in the right typed
exception from the package's hierarchy (a result marked failed in bulk), within a bounded time;
never a panic, a hang or a bare ``Exception``.

Each case runs three ways: ``Client.remove_tags``, ``AsyncClient.remove_tags`` and
``Client.remove_tags_many`` with one row. The server is ``tests.support.scripted_server``'s,
scripted with actions that break HTTP.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import helpcrunch
from tests.support.scripted_server import (
    Action,
    Close,
    Hang,
    Raw,
    Reply,
    ScriptedServer,
    StreamBody,
    TrickleHeaders,
    cut_off,
)

KEY = "hostile-test-key-5f0c1e9b7a"
TIMEOUT = 1.0
#: No case may take longer than this, whatever the server does (attempts x timeout + slack).
BOUND = 15.0
WAYS = ["sync", "async", "bulk"]
#: Where ``import tests.support...`` works from, for a child interpreter.
REPOSITORY = str(Path(__file__).resolve().parents[2])


def make_client(
    cls: type[Any], server: ScriptedServer, max_retries: int = 0, **settings: Any
) -> Any:
    return cls(
        api_key=settings.pop("api_key", KEY),
        base_url=server.base_url,
        timeout=settings.pop("timeout", TIMEOUT),
        max_retries=max_retries,
        rate_limit=None,
        **settings,
    )


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """Run ``call`` in a thread and return what it returned or raised (as a value, whatever the
    exception class, PanicException included). Fails the test if it takes longer."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as e:
            outcome.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the call hung for more than {seconds} s"
    return outcome[0]


def call_one_way(way: str, server: ScriptedServer, max_retries: int = 0, **settings: Any) -> Any:
    """One ``remove_tags(1, "Lead")`` the given way: the customer it returned or the exception it
    raised (for bulk: the item's error, after checking the item is marked failed)."""
    if way == "sync":
        client = make_client(helpcrunch.Client, server, max_retries, **settings)
        with client:
            return within(BOUND, lambda: client.remove_tags(1, "Lead"))
    if way == "async":
        aclient = make_client(helpcrunch.AsyncClient, server, max_retries, **settings)

        async def main() -> Any:
            async with aclient:
                return await aclient.remove_tags(1, "Lead")

        return within(BOUND, lambda: asyncio.run(main()))
    assert way == "bulk"
    client = make_client(helpcrunch.Client, server, max_retries, **settings)
    with client:
        report = within(BOUND, lambda: client.remove_tags_many([(1, "Lead")], concurrency=2))
    assert isinstance(report, helpcrunch.BulkReport), report
    assert len(report) == 1
    (result,) = report
    if result.ok:
        assert result.error is None
        return result.customer
    assert result.customer is None
    assert result.error is not None
    assert result.attempts >= 1
    return result.error


@dataclass(frozen=True)
class Case:
    action: Action
    error: type[BaseException]
    #: Text the message must contain.
    says: str = ""


NOT_A_CUSTOMER = helpcrunch.APIResponseValidationError
CASES: dict[str, Case] = {
    "body not JSON": Case(Reply(200, "hello, I am not JSON"), NOT_A_CUSTOMER, "not valid JSON"),
    "truncated JSON": Case(Reply(200, '{"id": 1, "name": "Ad'), NOT_A_CUSTOMER, "not valid JSON"),
    "JSON array": Case(Reply(200, [1, 2, 3]), NOT_A_CUSTOMER, "array"),
    "JSON string": Case(Reply(200, '"a customer"'), NOT_A_CUSTOMER, "string"),
    "JSON null": Case(Reply(200, "null"), NOT_A_CUSTOMER, "null"),
    "arrays nested 100,000 deep": Case(
        Reply(200, "[" * 100_000 + "]" * 100_000), NOT_A_CUSTOMER, "not valid JSON"
    ),
    "objects nested 100,000 deep": Case(
        Reply(200, '{"a":' * 100_000 + "1" + "}" * 100_000), NOT_A_CUSTOMER, "not valid JSON"
    ),
    "invalid UTF-8": Case(Reply(200, b'{"id": 1, "name": "\xff\xfe\xc3"}'), NOT_A_CUSTOMER),
    "a lone surrogate escape": Case(Reply(200, '{"id": 1, "name": "\\ud800"}'), NOT_A_CUSTOMER),
    # Valid JSON, but past the 4,300 digits Python's int takes from text (json.loads refuses it).
    "an integer of 5,000 digits": Case(
        Reply(200, '{"id": 1, "n": ' + "7" * 5000 + "}"), NOT_A_CUSTOMER, "Python values"
    ),
    "50 MB body with Content-Length": Case(
        StreamBody(50 * 2**20, declare_length=True), NOT_A_CUSTOMER, "max_response_bytes"
    ),
    "50 MB body without Content-Length": Case(
        StreamBody(50 * 2**20, declare_length=False), NOT_A_CUSTOMER, "max_response_bytes"
    ),
    "empty 200": Case(Reply(200, b""), NOT_A_CUSTOMER, "empty"),
    "HTML 502": Case(
        Reply(502, "<html><body><h1>502 Bad Gateway</h1></body></html>", reason="Bad Gateway"),
        helpcrunch.InternalServerError,
        "502",
    ),
    "status 999": Case(Reply(999, "", reason="Odd"), helpcrunch.InternalServerError, "999"),
    "302 redirect": Case(
        Reply(302, "", {"Location": "http://127.0.0.1:9/elsewhere"}, reason="Found"),
        helpcrunch.APIStatusError,
        "302",
    ),
    "closed mid-body": Case(
        cut_off(500, b'{"id": 1, "name": "Ad'), helpcrunch.APIConnectionError, "connection"
    ),
    "closed without an answer": Case(Close(), helpcrunch.APIConnectionError, "connection"),
    "an answer that is not HTTP": Case(
        Raw(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"), helpcrunch.APIConnectionError
    ),
    "a broken chunked body": Case(
        Raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
        helpcrunch.APIConnectionError,
    ),
    "a 2 MB header": Case(
        Raw(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 2**21 + b"\r\nContent-Length: 2\r\n\r\n{}"),
        helpcrunch.APIConnectionError,
    ),
    "accepts and never answers": Case(Hang(), helpcrunch.APITimeoutError, "timeout"),
    "slowloris headers": Case(TrickleHeaders(0.05), helpcrunch.APITimeoutError, "timeout"),
}


def assert_typed(outcome: Any, expected: type[BaseException]) -> BaseException:
    assert isinstance(outcome, BaseException), f"expected {expected.__name__}, got {outcome!r}"
    # Exactly the documented class: not a subclass elsewhere in the tree, not a bare Exception,
    # not pyo3's PanicException (a BaseException).
    assert type(outcome) is expected, f"{type(outcome).__name__}: {outcome}"
    assert isinstance(outcome, helpcrunch.HelpCrunchError)
    return outcome


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_hostile_answer_ends_in_its_typed_exception(
    server: ScriptedServer, case: str, way: str
) -> None:
    server.enqueue(CASES[case].action)
    started = time.monotonic()
    error = assert_typed(call_one_way(way, server), CASES[case].error)
    assert time.monotonic() - started < BOUND
    assert CASES[case].says in str(error)
    assert "\n" not in str(error)
    assert isinstance(error, helpcrunch.APIError) and error.attempts == 1


@pytest.mark.parametrize("way", WAYS)
def test_a_server_that_never_answers_costs_one_timeout_per_attempt(
    server: ScriptedServer, way: str
) -> None:
    server.set_default(Hang())
    started = time.monotonic()
    error = assert_typed(call_one_way(way, server, max_retries=1), helpcrunch.APITimeoutError)
    elapsed = time.monotonic() - started
    assert isinstance(error, helpcrunch.APITimeoutError)
    assert error.attempts == 2
    # Two 1 s timeouts and one backoff of at most 0.5 s; generous slack for a busy machine.
    assert 2 * TIMEOUT <= elapsed < 2 * TIMEOUT + 0.5 + 8


def test_a_50_mb_body_never_costs_50_mb_of_memory() -> None:
    """In a fresh interpreter, so the peak RSS (ru_maxrss) is this call's."""
    code = """
import resource, helpcrunch
from tests.support.scripted_server import ScriptedServer, StreamBody
with ScriptedServer() as s:
    c = helpcrunch.Client(api_key="k", base_url=s.base_url, max_retries=0, rate_limit=None)
    s.enqueue(StreamBody(1000, declare_length=False))
    try:
        c.get_customer(1)  # warm up: connections, runtime, imports
    except helpcrunch.APIResponseValidationError:
        pass
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    s.enqueue(StreamBody(50 * 2**20, declare_length=False))
    try:
        c.get_customer(1)
    except helpcrunch.APIResponseValidationError as e:
        print("error:", e)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("growth_kib:", after - before)
"""
    env = dict(os.environ, PYTHONPATH=REPOSITORY)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(": ", 1) for line in out.stdout.splitlines())
    assert "max_response_bytes" in lines["error"]
    growth_mib = int(lines["growth_kib"]) / 1024
    # The default cap is 10 MiB: the peak may hold that much, never the 50 MB sent.
    assert growth_mib < 25, f"peak RSS grew by {growth_mib:.1f} MiB"


# Retry-After values a server should not send


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("value", ["-1", "abc", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_a_useless_retry_after_falls_back_to_the_backoff_and_then_succeeds(
    server: ScriptedServer, value: str, way: str
) -> None:
    server.enqueue(Reply(429, {}, {"Retry-After": value}, reason="Too Many Requests"))
    started = time.monotonic()
    customer = call_one_way(way, server, max_retries=1)
    elapsed = time.monotonic() - started
    assert isinstance(customer, dict) and customer["id"] == 1, customer
    assert len(server.requests) == 2
    # The first backoff is 0.375-0.5 s: neither an immediate hammering retry nor a long wait.
    assert 0.3 <= elapsed < 8


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("value", ["-1", "abc", "", "1,5", "NaN"])
def test_an_unparsable_retry_after_is_reported_as_none(
    server: ScriptedServer, value: str, way: str
) -> None:
    server.enqueue(Reply(429, {}, {"Retry-After": value}, reason="Too Many Requests"))
    error = assert_typed(call_one_way(way, server), helpcrunch.RateLimitError)
    assert isinstance(error, helpcrunch.RateLimitError)
    assert error.retry_after is None


@pytest.mark.parametrize("way", WAYS)
def test_a_retry_after_date_in_the_past_is_reported_as_zero(
    server: ScriptedServer, way: str
) -> None:
    server.enqueue(Reply(429, {}, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    error = assert_typed(call_one_way(way, server), helpcrunch.RateLimitError)
    assert isinstance(error, helpcrunch.RateLimitError)
    assert error.retry_after == 0


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("value", ["1e9", "99999999999999999999", "1e308"])
def test_an_absurd_retry_after_fails_at_once_with_retry_after_set(
    server: ScriptedServer, value: str, way: str
) -> None:
    server.set_default(Reply(429, {}, {"Retry-After": value}, reason="Too Many Requests"))
    started = time.monotonic()
    error = assert_typed(call_one_way(way, server, max_retries=3), helpcrunch.RateLimitError)
    assert time.monotonic() - started < 5
    assert isinstance(error, helpcrunch.RateLimitError)
    assert error.attempts == 1
    assert len(server.requests) == 1
    assert error.retry_after is not None and error.retry_after > 60


# Redirects


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_port_is_not_followed_and_the_key_goes_nowhere(
    server: ScriptedServer, status: int, way: str
) -> None:
    with ScriptedServer() as elsewhere:
        target = f"{elsewhere.base_url}/customers/1/tags"
        server.enqueue(Reply(status, "", {"Location": target}, reason="Moved"))
        error = assert_typed(call_one_way(way, server, max_retries=2), helpcrunch.APIStatusError)
        assert isinstance(error, helpcrunch.APIStatusError)
        assert error.status_code == status
        assert error.headers.get("location") == target
        assert len(server.requests) == 1
    assert elsewhere.connections == 0
    assert elsewhere.requests == []


# Valid but odd JSON still comes back as sent


@pytest.mark.parametrize("way", WAYS)
def test_a_customer_with_odd_but_valid_json_comes_back_whole(
    server: ScriptedServer, way: str
) -> None:
    odd = (
        '{"id": 1, "big": 123456789012345678901234567890, "neg": -98765432109876543210,'
        ' "deep": ' + "[" * 100 + "]" * 100 + ', "nul": "a\\u0000b", "emoji": "\\ud83d\\ude00",'
        ' "tiny": 5e-324, "dup": 1, "dup": 2, "": "empty key"}'
    )
    server.enqueue(Reply(200, odd))
    customer = call_one_way(way, server)
    assert isinstance(customer, dict), customer
    assert customer["big"] == 123456789012345678901234567890
    assert customer["neg"] == -98765432109876543210
    deep = customer["deep"]
    for _ in range(99):
        deep = deep[0]
    assert deep == []
    assert customer["nul"] == "a\x00b"
    assert customer["emoji"] == "\U0001f600"
    assert customer["tiny"] == 5e-324
    assert customer["dup"] == 2
    assert customer[""] == "empty key"


def test_an_integer_of_4300_digits_comes_back_exact(server: ScriptedServer) -> None:
    digits = "7" * 4300
    server.enqueue(Reply(200, '{"id": 1, "n": ' + digits + "}"))
    customer = call_one_way("sync", server)
    assert customer["n"] == int(digits)


def test_a_number_beyond_float_range_comes_back_as_infinity(server: ScriptedServer) -> None:
    server.enqueue(Reply(200, '{"id": 1, "up": 1e999, "down": -1e999}'))
    customer = call_one_way("sync", server)
    assert customer["up"] == float("inf")
    assert customer["down"] == float("-inf")
