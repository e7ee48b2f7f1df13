"""pandas and polars DataFrames as bulk input, and reports as DataFrames."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpcrunch.sandbox import Sandbox
from tests.support.bulk import tag_names

pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")

IDS = [542335, 542336, 404404, 542339]
TAG_LISTS = [["Lead"], ["Lead", "vip"], ["Lead"], ["Lead", "churned"]]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def check_untagged(sandbox: Sandbox) -> None:
    assert tag_names(sandbox, 542335) == ["vip"]
    assert tag_names(sandbox, 542336) == []
    assert tag_names(sandbox, 542339) == []


def test_a_pandas_frame_with_the_default_columns(sandbox: Sandbox) -> None:
    frame = pd.DataFrame({"customer_id": IDS, "tags": TAG_LISTS, "note": ["a", "b", "c", "d"]})
    with sandbox.client() as client:
        report = client.remove_tags_many(frame)

    assert [r.customer_id for r in report] == IDS
    assert [r.ok for r in report] == [True, True, False, True]
    assert report[2].status_code == 404
    check_untagged(sandbox)


def test_a_pandas_frame_with_its_own_column_names(sandbox: Sandbox) -> None:
    frame = pd.DataFrame({"id": IDS, "labels": TAG_LISTS})
    with sandbox.client() as client:
        report = client.remove_tags_many(frame, id_column="id", tags_column="labels")
    assert [r.ok for r in report] == [True, True, False, True]
    check_untagged(sandbox)


def test_a_polars_frame_with_a_list_column(sandbox: Sandbox) -> None:
    frame = pl.DataFrame({"customer_id": IDS, "tags": TAG_LISTS})
    assert frame.schema["tags"] == pl.List(pl.String)
    with sandbox.client() as client:
        report = client.remove_tags_many(frame)
    assert [r.customer_id for r in report] == IDS
    assert [r.ok for r in report] == [True, True, False, True]
    check_untagged(sandbox)


def test_a_polars_frame_with_its_own_column_names_and_one_tag_per_row(sandbox: Sandbox) -> None:
    frame = pl.DataFrame({"user": [542335, 542336], "tag": ["Lead", "Lead"]})
    with sandbox.client() as client:
        report = client.remove_tags_many(frame, id_column="user", tags_column="tag")
    assert report.succeeded == 2
    assert tag_names(sandbox, 542335) == ["vip"]


def test_a_frame_can_be_streamed_too(sandbox: Sandbox) -> None:
    frame = pd.DataFrame({"customer_id": IDS, "tags": TAG_LISTS})
    with sandbox.client() as client:
        results = list(client.iter_remove_tags(frame))
    assert sorted(r.index for r in results) == [0, 1, 2, 3]


@pytest.mark.parametrize("library", ["pandas", "polars"])
@pytest.mark.parametrize(
    ("columns", "missing"),
    [
        ({"id": IDS, "tags": TAG_LISTS}, "customer_id"),
        ({"customer_id": IDS, "t": TAG_LISTS}, "tags"),
    ],
    ids=["no-id-column", "no-tags-column"],
)
def test_a_missing_column_is_a_value_error_naming_it(
    sandbox: Sandbox, library: str, columns: dict[str, list[object]], missing: str
) -> None:
    frame = pd.DataFrame(columns) if library == "pandas" else pl.DataFrame(columns)
    with sandbox.client() as client, pytest.raises(ValueError, match=repr(missing)):
        client.remove_tags_many(frame)
    assert sandbox.request_count == 0


def test_report_to_pandas_has_one_row_per_item_in_order(sandbox: Sandbox) -> None:
    with sandbox.client() as client:
        report = client.remove_tags_many(pd.DataFrame({"customer_id": IDS, "tags": TAG_LISTS}))
    out = report.to_pandas()

    assert len(out) == 4
    assert out["index"].tolist() == [0, 1, 2, 3]
    assert out["customer_id"].tolist() == IDS
    assert out["ok"].tolist() == [True, True, False, True]
    assert out["error_type"].isna().tolist() == [True, True, False, True]
    assert out.loc[2, "error_type"] == "NotFoundError"
    assert out.loc[2, "status_code"] == 404
    # Names, as in search frames.
    assert out.loc[0, "tags"] == ["vip"]
    assert not out["skipped"].any()


def test_report_to_polars_has_one_row_per_item_in_order(sandbox: Sandbox) -> None:
    items = [(542335, "Lead"), ("542336", "Lead"), ("abc", "Lead"), (404404, "Lead")]
    with sandbox.client() as client:
        out = client.remove_tags_many(items).to_polars()

    assert out.height == 4
    assert out["index"].to_list() == [0, 1, 2, 3]
    # Ids as given, whatever their type, as text.
    assert out["customer_id"].to_list() == ["542335", "542336", "abc", "404404"]
    assert out["ok"].to_list() == [True, True, False, False]
    assert out["error_type"].to_list() == [None, None, "ValueError", "NotFoundError"]
    assert out["status_code"].to_list() == [None, None, None, 404]
    assert out["attempts"].to_list() == [1, 1, 0, 1]


@pytest.mark.parametrize("method", ["to_pandas", "to_polars"])
def test_an_empty_report_converts_to_a_frame_with_the_usual_columns(
    sandbox: Sandbox, method: str
) -> None:
    with sandbox.client() as client:
        full = getattr(client.remove_tags_many([(542335, "Lead")]), method)()
        empty = getattr(
            client.remove_tags_many(pd.DataFrame({"customer_id": [], "tags": []})), method
        )()
    assert list(empty.columns) == list(full.columns)
    assert len(empty) == 0
