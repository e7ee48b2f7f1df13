"""Progress: a callable gets ``(done, total, result)`` for every item; ``progress=True`` shows
progress on stderr: plain lines here, where stderr is not a terminal (the bar on a terminal is
tested through the CLI, in a pty: tests/cli/test_progress.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.bulk import DEMO_IDS


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def items(n: int) -> list[tuple[Any, str]]:
    rows: list[tuple[Any, str]] = [(DEMO_IDS[i % 10], "Lead") for i in range(n)]
    rows[3] = (1, "Lead")  # a failure is progress too
    rows[4] = ("abc", "Lead")  # and so is a row refused before sending
    return rows


def test_a_callable_gets_done_total_and_result_for_every_item_of_a_list(sandbox: Sandbox) -> None:
    calls: list[tuple[int, int | None, helpcrunch.BulkResult]] = []
    with sandbox.client() as client:
        report = client.remove_tags_many(items(25), progress=lambda *a: calls.append(a))

    assert [done for done, _, _ in calls] == list(range(1, 26))
    assert {total for _, total, _ in calls} == {25}
    assert sorted(result.index for _, _, result in calls) == list(range(25))
    assert {result.index for _, _, result in calls if not result.ok} == {3, 4}
    assert all(result is report[result.index] for _, _, result in calls)


def test_a_callable_gets_no_total_for_a_generator(sandbox: Sandbox) -> None:
    calls: list[tuple[int, int | None]] = []
    with sandbox.client() as client:
        client.remove_tags_many(
            (row for row in items(25)), progress=lambda done, total, _: calls.append((done, total))
        )
    assert calls == [(done, None) for done in range(1, 26)]


def test_the_streaming_form_reports_progress_too(sandbox: Sandbox) -> None:
    calls: list[int] = []
    with sandbox.client() as client:
        for _ in client.iter_remove_tags(items(12), progress=lambda done, *_: calls.append(done)):
            pass
    assert calls == list(range(1, 13))


def test_the_async_form_reports_progress_with_no_total_for_an_async_generator(
    sandbox: Sandbox,
) -> None:
    async def rows() -> AsyncIterator[tuple[Any, str]]:
        for row in items(12):
            yield row

    calls: list[tuple[int, int | None]] = []

    async def main() -> None:
        async with sandbox.async_client() as client:
            await client.remove_tags_many(
                rows(), progress=lambda done, total, _: calls.append((done, total))
            )

    asyncio.run(main())
    assert calls == [(done, None) for done in range(1, 13)]


def test_progress_true_off_a_terminal_prints_plain_lines_with_the_total(
    sandbox: Sandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    # stderr is captured here, as in a log file or CI: no bar, whose \r updates would garble it.
    with sandbox.client() as client:
        report = client.remove_tags_many(items(25), progress=True)
    assert report.succeeded == 23
    out, err = capfd.readouterr()
    assert out == ""
    assert "\r" not in err
    lines = err.splitlines()
    assert lines[0].startswith("untagging: 0/25 customers (0 %)")
    assert lines[-1].startswith("untagging: 25/25 customers (100 %) in ")
    assert lines[-1].endswith(", 2 failed")


def test_the_eta_counts_the_rate_limit_from_the_first_line(
    sandbox: Sandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    # 100 items at 3,000 a minute (50 a second, spaced 0.5 % wider): 2 s at least, known before
    # the first answer.
    with sandbox.client(rate_limit=3000) as client:
        client.remove_tags_many(items(100), progress=True)
    first = capfd.readouterr().err.splitlines()[0]
    assert first == "untagging: 0/100 customers (0 %), 49.75/s, ETA 2 s"


def test_progress_true_on_a_generator_counts_without_a_total(
    sandbox: Sandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    with sandbox.client() as client:
        client.add_tags_many((row for row in items(25)), progress=True)
    err = capfd.readouterr().err
    assert err.splitlines()[0] == "tagging: 0 customers"
    assert "tagging: 25 customers in " in err


def test_progress_refuses_anything_else(sandbox: Sandbox) -> None:
    with sandbox.client() as client, pytest.raises(TypeError, match="progress"):
        client.remove_tags_many(items(5), progress="yes")  # type: ignore[arg-type]
    assert sandbox.request_count == 0
