"""Items a stop kept from being sent are "not started", not "failed": ``report.not_started``
counts them, ``.failed`` and ``.failures`` leave them out, the repr, the HTML and the frames say
so. Report frames give tags as names, as search frames do."""

from __future__ import annotations

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox


def stopped_report() -> helpcrunch.BulkReport:
    """Ctrl-C once two items are done, while the next ones wait for the rate limit (two a
    second): those were never sent."""

    def interrupt(done: int, total: int | None, result: helpcrunch.BulkResult) -> None:
        if done >= 2:
            raise KeyboardInterrupt

    with Sandbox() as sb, sb.client(rate_limit=120) as client:
        rows = [(542335 + i % 10, "Lead") for i in range(200)]
        with pytest.raises(helpcrunch.BulkInterrupted) as stopped:
            client.remove_tags_many(rows, progress=interrupt)
    report: helpcrunch.BulkReport = stopped.value.report
    return report


def test_a_stopped_run_counts_what_it_never_sent_apart() -> None:
    report = stopped_report()
    never_sent = [r for r in report if r.not_started]
    assert never_sent, "the run stopped at its first item: the rest were never sent"
    assert all(r.attempts == 0 and not r.ok for r in never_sent)
    assert report.not_started == len(never_sent)
    assert report.failed == len(report.failures) == len(report) - report.succeeded - len(never_sent)
    assert not any(r.not_started for r in report.failures)
    text = repr(report)
    assert f", {report.not_started:,} not started" in text, text
    assert f"{report.failed:,} failed" in text
    assert "not started</td>" in report._repr_html_()


def test_frames_mark_them_and_give_tags_as_names() -> None:
    report = stopped_report()
    pdf = report.to_pandas()
    plf = report.to_polars()
    assert int(pdf["not_started"].sum()) == report.not_started
    assert plf["not_started"].sum() == report.not_started
    with Sandbox() as sb, sb.client(rate_limit=None) as client:
        done = client.add_tags_many([(542335, ["churn-risk"])])
    [tags] = done.to_pandas()["tags"]
    assert "churn-risk" in list(tags) and all(isinstance(t, str) for t in tags)
    assert list(done.to_polars()["tags"][0]) == list(tags)


def test_a_full_run_has_none() -> None:
    with Sandbox() as sb, sb.client(rate_limit=None) as client:
        report = client.remove_tags_many([(542335, "Lead"), (542336, "Lead")])
    assert report.not_started == 0
    assert repr(report) == "BulkReport(2 items: 2 succeeded, 0 failed)"
