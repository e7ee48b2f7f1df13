"""Hostile answers a server may give, the typed exception each must end in, and one call made
each of the three ways (``Client``, ``AsyncClient``, a bulk run of one row), within a bounded time.
Used by the reliability tests (each case ends in its exception) and the security tests (no
exception of any case holds the key)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
