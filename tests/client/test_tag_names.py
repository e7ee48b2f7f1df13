"""A tag name with whitespace at either end ("churn-risk ", a tab, a line end, a no-break space:
every character ``str.isspace`` names, as ``str.strip`` would remove) is refused before anything
is sent, saying so, wherever a tag name enters: a call, a bulk row, a search, a plan, a sync, the
command line. Whitespace inside a name is part of it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest

from helpcrunch.sandbox import Sandbox
from tests.support.cli import EXIT_CODES
from tests.support.cli import helpcrunch as run_cli

#: Every character Python calls whitespace: the class, not a few examples.
WHITESPACE = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
#: Some of them are control characters too (\t, \n, \x1c..\x1f, \x85): refused all the same,
#: the message may name either problem.
CONTROL = {c for c in WHITESPACE if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F}


def names() -> list[str]:
    out = []
    for c in WHITESPACE:
        out += [f"{c}churn-risk", f"churn-risk{c}", f"{c}churn-risk{c}"]
    return [*out, "", " ", "\u00a0\u3000"]


def check_refused(error: BaseException, name: str) -> None:
    assert isinstance(error, ValueError), repr(error)
    text = str(error)
    if name.strip() == "":
        assert "empty or whitespace-only" in text, text
    elif name[0] not in CONTROL and name[-1] not in CONTROL:
        assert "whitespace" in text and repr(name.strip()) in text, text


def refused(call: Callable[[], Any], name: str) -> None:
    with pytest.raises(ValueError) as caught:
        call()
    check_refused(caught.value, name)


def test_the_whole_class_is_refused_by_every_call_that_takes_a_tag_and_nothing_is_sent() -> None:
    with Sandbox() as sb, sb.client(rate_limit=None) as client:
        for name in names():
            refused(lambda n=name: client.add_tags(542335, [n]), name)
            refused(lambda n=name: client.remove_tags(542335, n), name)
            refused(lambda n=name: client.plan_tag(n, ["a@example.com"]), name)
            refused(lambda n=name: client.sync_tag(n, ["a@example.com"], mode="add"), name)
            refused(lambda n=name: client.plan_tag(n, [], mode="mirror"), name)
            refused(lambda n=name: client.search_customers(tag=n), name)
        assert sb.request_count == 0


def test_a_bulk_row_with_such_a_tag_fails_alone_unsent() -> None:
    rows = [(542335, ["Lead "]), (542335, ["\u00a0vip"]), (542335, ["Lead"])]
    with Sandbox() as sb, sb.client(rate_limit=None) as client:
        report = client.add_tags_many(rows)
        assert sb.request_count == 1
    assert [r.ok for r in report] == [False, False, True]
    for result, name in zip(report.failures, ["Lead ", "\u00a0vip"], strict=True):
        assert result.attempts == 0
        assert result.error is not None
        check_refused(result.error, name)
        assert "trailing" in str(result.error) or "leading" in str(result.error)


def test_the_async_client_refuses_the_same() -> None:
    import asyncio

    async def main() -> None:
        async with sb.async_client(rate_limit=None) as client:
            with pytest.raises(ValueError, match="trailing whitespace"):
                await client.plan_tag("churn-risk\t", ["a@example.com"])
            with pytest.raises(ValueError, match="leading whitespace"):
                await client.add_tags(542335, ["\u2028churn"])

    with Sandbox() as sb:
        asyncio.run(main())
        assert sb.request_count == 0


def test_whitespace_inside_a_name_is_part_of_it() -> None:
    with Sandbox() as sb, sb.client(rate_limit=None) as client:
        customer = client.add_tags(542335, ["churn risk"])
    assert {"churn risk"} <= {t["name"] for t in customer["tags"]}


@pytest.mark.parametrize(
    "args",
    [
        ["tag", "542335", "churn-risk "],
        ["untag", "542335", "\u00a0Lead"],
        ["sync-tag", "churn-risk\t", "--from-csv", "-", "--mode", "add"],
        ["clear-tag", " churn-risk", "--dry-run"],
        ["customers", "--tag", "churn-risk\u3000"],
    ],
)
def test_the_command_line_refuses_them_before_sending(args: list[str]) -> None:
    with Sandbox() as sb:
        result = run_cli(*args, sandbox=sb, stdin="email\na@example.com\n")
        assert sb.request_count == 0
    assert result.returncode == 2 and result.returncode in EXIT_CODES, result.stderr
    assert "whitespace" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
