"""Collected bulk runs (``remove_tags_many``): one result per input item, in input order, with
the right outcome and a typed error, through injected faults; and ``on_error="raise"``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.bulk import DEMO_IDS, tag_names

N_ITEMS = 500
UNKNOWN_IDS = {990_000 + i for i in range(0, N_ITEMS, 37)}
INVALID_ROWS: dict[int, tuple[Any, type[Exception]]] = {
    11: (("abc", "x"), ValueError),
    123: ((1.5, "x"), TypeError),
    250: ("not a row", TypeError),
    377: ({"customer_id": 1}, ValueError),
    499: (("abc", "x"), ValueError),
}


def mixed_items() -> list[Any]:
    """Demo ids cycled, unknown ids (404) every 37th row, and a few rows that cannot be sent."""
    items: list[Any] = []
    for i in range(N_ITEMS):
        if i in INVALID_ROWS:
            items.append(INVALID_ROWS[i][0])
        elif 990_000 + i in UNKNOWN_IDS:
            items.append((990_000 + i, ["Lead"]))
        else:
            items.append((DEMO_IDS[i % len(DEMO_IDS)], ["Lead"]))
    return items


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def inject_faults(sb: Sandbox) -> int:
    """Faults for the next requests, whichever items they belong to; returns how many."""
    sb.fail_next(429, times=3, retry_after=0.2)
    sb.fail_next(429, times=2)  # no Retry-After: the client's own backoff
    sb.fail_next(503, times=4)
    sb.drop_next(times=3)
    return 12


def test_report_has_one_result_per_item_in_input_order_through_faults(sandbox: Sandbox) -> None:
    items = mixed_items()
    faults = inject_faults(sandbox)
    # Retries enough that no item can run out of them, whichever faults it happens to meet.
    with sandbox.client(max_retries=6) as client:
        report = client.remove_tags_many(items)

    assert len(report) == N_ITEMS
    assert [r.index for r in report] == list(range(N_ITEMS))
    assert report[0].index == 0 and report[N_ITEMS - 1].index == N_ITEMS - 1
    assert report.succeeded + report.failed == N_ITEMS
    assert report.failed == len(UNKNOWN_IDS) + len(INVALID_ROWS)
    assert sandbox.pending_faults == 0, "every injected fault met a request"
    # Every HTTP attempt the report counts reached the sandbox, faults included, and no others.
    assert sum(r.attempts for r in report) == sandbox.request_count
    assert sandbox.request_count == N_ITEMS - len(INVALID_ROWS) + faults


def test_each_item_has_its_own_outcome_and_typed_error(sandbox: Sandbox) -> None:
    items = mixed_items()
    inject_faults(sandbox)
    with sandbox.client(max_retries=6) as client:
        report = client.remove_tags_many(items)

    for i, result in enumerate(report):
        if i in INVALID_ROWS:
            assert not result.ok
            assert type(result.error) is INVALID_ROWS[i][1], (i, result.error)
            assert result.attempts == 0
            assert result.customer is None
        elif result.customer_id in UNKNOWN_IDS:
            assert not result.ok
            assert isinstance(result.error, helpcrunch.NotFoundError), (i, result.error)
            assert result.status_code == 404
            assert result.attempts >= 1
        else:
            assert result.ok, (i, result.error)
            assert result.error is None
            assert result.customer is not None
            assert result.customer["id"] == result.customer_id
            assert "Lead" not in [t["name"] for t in result.customer["tags"] or []]
    assert all("Lead" not in tag_names(sandbox, cid) for cid in DEMO_IDS)


def test_invalid_rows_are_never_sent(sandbox: Sandbox) -> None:
    with sandbox.client() as client:
        report = client.remove_tags_many(mixed_items())

    assert {r.index for r in report if r.attempts == 0} == set(INVALID_ROWS)
    sent = {request.path for request in sandbox.requests}
    allowed = {f"/v1/customers/{cid}/tags" for cid in [*DEMO_IDS, *UNKNOWN_IDS]}
    assert sent <= allowed
    assert sandbox.status_count(400) == 0


def test_an_item_that_times_out_fails_alone_with_a_timeout_error(sandbox: Sandbox) -> None:
    sandbox.delay_next(2.0, path="/v1/customers/542336")
    items = [(cid, "Lead") for cid in DEMO_IDS]
    with sandbox.client(timeout=0.3, max_retries=0) as client:
        report = client.remove_tags_many(items)

    assert [r.customer_id for r in report if not r.ok] == [542336]
    assert isinstance(report[1].error, helpcrunch.APITimeoutError)
    assert report[1].attempts == 1
    assert report.succeeded == len(DEMO_IDS) - 1


def test_an_empty_input_gives_an_empty_report(sandbox: Sandbox) -> None:
    with sandbox.client() as client:
        report = client.remove_tags_many([])
    assert len(report) == 0
    assert (report.succeeded, report.failed) == (0, 0)
    assert sandbox.request_count == 0


def test_report_counts_and_failures_list(sandbox: Sandbox) -> None:
    with sandbox.client() as client:
        report = client.remove_tags_many([(542335, "Lead"), (1, "Lead"), ("x", "Lead")])

    assert (report.succeeded, report.failed, report.skipped) == (1, 2, 0)
    assert [f.index for f in report.failures] == [1, 2]
    assert list(report)[1] is report[1]
    assert [r.index for r in report[1:]] == [1, 2]
    assert "3 items: 1 succeeded, 2 failed" in repr(report)


def test_the_report_of_one_item_says_item(sandbox: Sandbox) -> None:
    with sandbox.client() as client:
        report = client.remove_tags_many([(542335, "Lead")])
    assert repr(report) == "BulkReport(1 item: 1 succeeded, 0 failed)"


def test_add_tags_many_tags_every_customer(sandbox: Sandbox) -> None:
    items = [
        {"customer_id": cid, "tags": [{"name": "Churned", "color": "#123456"}]} for cid in DEMO_IDS
    ]
    with sandbox.client() as client:
        report = client.add_tags_many(items)

    assert report.succeeded == len(DEMO_IDS)
    for cid in DEMO_IDS:
        assert {"name": "Churned", "color": "#123456"} in sandbox.customer(cid)["tags"]


# on_error="raise"


def test_on_error_raise_stops_at_the_first_failure_with_the_report(sandbox: Sandbox) -> None:
    items = [(DEMO_IDS[i % 10], "Lead") for i in range(200)]
    items[10] = (424242, "Lead")
    # One request at a time, each held 20 ms: every result comes back on its own.
    sandbox.delay_next(0.02, times=1000)
    with sandbox.client() as client, pytest.raises(helpcrunch.BulkError) as caught:
        client.remove_tags_many(items, concurrency=1, on_error="raise")

    error = caught.value
    assert isinstance(error.__cause__, helpcrunch.NotFoundError)
    assert "424242" in str(error)
    report = error.report
    # Every item taken from the input so far, and nothing past it.
    assert 11 <= len(report) < len(items)
    assert [r.index for r in report] == list(range(len(report)))
    assert report[10].error is error.__cause__
    assert all(r.ok for r in report[:10])
    # What had been taken after it and not finished comes back cancelled.
    assert report[11:] and all(
        isinstance(r.error, helpcrunch.RequestCancelledError) for r in report[11:]
    )
    assert report.succeeded == 10
    # (The one request in flight when the run stopped may still have reached the sandbox.)
    assert 11 <= sandbox.request_count <= 12  # 10 untagged, the 404, maybe one more


def rows_failing_at_50(taken: list[int]) -> Iterator[tuple[int, str]]:
    """100 rows whose row 50 fails (an unknown customer); ``taken`` records the rows read."""
    for i in range(100):
        taken.append(i)
        yield (424242 if i == 50 else DEMO_IDS[i % 10], "Lead")


async def remove_tags_many_async(sandbox: Sandbox, items: Any, **options: Any) -> Any:
    async with sandbox.async_client() as client:
        return await client.remove_tags_many(items, **options)


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_on_error_raise_reports_every_item_taken_when_results_come_in_batches(
    sandbox: Sandbox, flavour: str
) -> None:
    # A run with no rate limit hands results over many at a time; ten runs, so that in some
    # of them the failure is not the last of its batch.
    for _ in range(10):
        taken: list[int] = []
        with pytest.raises(helpcrunch.BulkError) as caught:
            if flavour == "sync":
                with sandbox.client() as client:
                    client.remove_tags_many(rows_failing_at_50(taken), on_error="raise")
            else:
                asyncio.run(
                    remove_tags_many_async(sandbox, rows_failing_at_50(taken), on_error="raise")
                )
        assert [r.index for r in caught.value.report] == taken


def test_on_error_raise_on_an_invalid_row_names_it(sandbox: Sandbox) -> None:
    items = [(542335, "Lead"), (542336, "Lead"), ("abc", "Lead"), (542337, "Lead")]
    with sandbox.client() as client, pytest.raises(helpcrunch.BulkError) as caught:
        client.remove_tags_many(items, on_error="raise")

    assert isinstance(caught.value.__cause__, ValueError)
    assert "item 2" in str(caught.value)
    report = caught.value.report
    assert [r.index for r in report] == list(range(len(report)))
    assert report[2].attempts == 0


def test_on_error_collect_is_the_default_and_keeps_going(sandbox: Sandbox) -> None:
    with sandbox.client() as client:
        report = client.remove_tags_many([(1, "Lead"), (542335, "Lead")])
    assert [r.ok for r in report] == [False, True]


def test_bad_arguments_are_refused_before_anything_runs(sandbox: Sandbox) -> None:
    with sandbox.client() as client:
        with pytest.raises(ValueError, match="on_error"):
            client.remove_tags_many([(542335, "Lead")], on_error="ignore")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="concurrency"):
            client.remove_tags_many([(542335, "Lead")], concurrency=0)
        with pytest.raises(TypeError, match="items"):
            client.remove_tags_many("542335,Lead")
    assert sandbox.request_count == 0
