"""``to_pandas()`` and ``to_polars()``: one row per customer, nested objects flattened into
dotted columns, tags as a list of names; they consume the search."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from helpcrunch import flatten
from helpcrunch.sandbox import Sandbox
from tests.support.search import leads


def customers() -> list[dict[str, Any]]:
    rows = leads(5)
    rows[0]["tags"] = [{"name": "Lead", "color": "#c57de0"}, {"name": "vip", "color": "#f00"}]
    rows[1]["location"] = None
    rows[1]["device"] = {"platform": "iOS", "ip": "10.0.0.1"}
    rows[2]["customData"] = {"plan": "pro", "seats": 5}
    rows[3]["firstSeen"] = int(rows[3]["firstSeen"])  # older responses send a number
    rows[4]["customData"] = [{"property": "plan", "value": "free"}]  # and a list here
    return rows


def test_a_customer_flattens_into_dotted_columns() -> None:
    row = flatten(
        {
            "id": 1,
            "location": {"city": "Kyiv", "countryCode": "UA"},
            "device": None,
            "customData": {"plan": {"name": "pro"}},
            "tags": [{"name": "Lead", "color": "#fff"}, {"name": "vip"}],
            "notes": None,
            "extra": [1, 2],
        }
    )
    assert row == {
        "id": 1,
        "location.city": "Kyiv",
        "location.countryCode": "UA",
        "customData.plan.name": "pro",
        "tags": ["Lead", "vip"],
        "notes": None,
        "extra": [1, 2],
    }


def test_to_pandas_has_one_row_per_customer_and_consumes_the_search() -> None:
    pytest.importorskip("pandas")
    with Sandbox(customers()) as sb, sb.client() as client:
        found = client.search_customers(tag="Lead", page_size=2)
        df = found.to_pandas()
        assert list(df["id"]) == [1, 2, 3, 4, 5]
        assert df.loc[0, "tags"] == ["Lead", "vip"]
        assert df.loc[0, "location.city"] == "Kyiv"
        assert df.loc[1, "device.platform"] == "iOS"
        assert df.loc[2, "customData.seats"] == 5
        assert df.loc[4, "customData"] == [{"property": "plan", "value": "free"}]
        assert "location" not in df.columns
        assert list(found) == []
        empty = client.search_customers(email="nobody@example.com").to_pandas()
        assert len(empty) == 0 and list(empty.columns) == ["id"]


def test_to_polars_takes_fields_sent_in_more_than_one_type() -> None:
    pl = pytest.importorskip("polars")
    with Sandbox(customers()) as sb, sb.client() as client:
        df = client.search_customers(tag="Lead").to_polars()
        assert df["id"].to_list() == [1, 2, 3, 4, 5]
        assert df["tags"].to_list()[0] == ["Lead", "vip"]
        assert df["location.city"].to_list()[:2] == ["Kyiv", None]
        assert df.schema["firstSeen"] == pl.String
        empty = client.search_customers(email="nobody@example.com").to_polars()
        assert empty.shape == (0, 1)


def test_async_searches_give_the_same_frames() -> None:
    pytest.importorskip("pandas")
    pytest.importorskip("polars")

    async def main(sb: Sandbox) -> tuple[Any, Any]:
        async with sb.async_client() as ac:
            return (
                await ac.search_customers(tag="Lead").to_pandas(),
                await ac.list_customers(limit=3).to_polars(),
            )

    with Sandbox(customers()) as sb, sb.client() as client:
        frame, polars_frame = asyncio.run(main(sb))
        assert frame.equals(client.search_customers(tag="Lead").to_pandas())
        assert polars_frame["id"].to_list() == [1, 2, 3]
