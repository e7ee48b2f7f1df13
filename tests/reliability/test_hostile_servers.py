"""A hostile or broken server, through the Python API: every case ends in the right typed
exception from the package's hierarchy (a result marked failed in bulk), within a bounded time;
never a panic, a hang or a bare ``Exception``.

Each case runs three ways: ``Client.remove_tags``, ``AsyncClient.remove_tags`` and
``Client.remove_tags_many`` with one row. The cases and the three ways are in
``tests/support/hostile.py``; the server is the scripted one, with actions that break HTTP.
"""

from __future__ import annotations

import time

import pytest

import helpcrunch
from tests.support.hostile import BOUND, CASES, TIMEOUT, WAYS, assert_typed, call_one_way
from tests.support.processes import run_python
from tests.support.scripted_server import Hang, Reply, ScriptedServer


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
    out = run_python(code, timeout=120)
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
