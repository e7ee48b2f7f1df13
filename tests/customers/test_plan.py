"""Planning a customer sync over real HTTP against the sandbox, with both clients: every row in
exactly one bucket, each field's change with its current value, the value rules (numbers by
value, strings exactly, no value left or cleared, timestamps as UNIX seconds), the columns
(named after fields, mapped, unknown ones refused before any request), rejects as tag sync
makes them, creates for unknown keys; nothing is written."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd
import polars as pl
import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.customers import Both, writes


def buckets(plan: helpcrunch.CustomerPlan) -> dict[str, list[int]]:
    return {
        "update": [i.row for i in plan.to_update],
        "create": [i.row for i in plan.to_create],
        "none": [i.row for i in plan.unchanged],
        "reject": [i.row for i in plan.rejected],
    }


def test_every_row_is_in_one_bucket_with_its_changes(sb: Sandbox, call: Both) -> None:
    rows: list[dict[str, Any]] = [
        {"email": "c1@example.com", "company": "Initech", "customData.plan": "pro"},
        {"email": "c2@example.com", "company": "Co 2", "customData.plan": "basic"},
        {"email": "new@example.com", "company": "Newco", "customData.plan": "pro"},
        {"email": "not an email", "company": "X", "customData.plan": "pro"},
        {"email": "C1@Example.com", "company": "Y", "customData.plan": "pro"},
        {"email": None, "company": "Z", "customData.plan": "pro"},
    ]
    plan = call("plan_customers", rows, match="email")
    assert buckets(plan) == {"update": [0], "create": [], "none": [1], "reject": [2, 3, 4, 5]}
    assert plan.to_update[0].changes == {
        "company": ("Co 1", "Initech"),
        "customData.plan": ("basic", "pro"),
    }
    assert plan.to_update[0].customer_id == 1
    codes = [i.reason_code for i in plan.rejected]
    assert codes == ["unknown", "malformed", "duplicate", "empty"]
    assert writes(sb) == []
    created = call("plan_customers", rows, match="email", create_missing=True)
    assert buckets(created)["create"] == [2]
    assert created.to_create[0].changes == {
        "email": (None, "new@example.com"),
        "company": (None, "Newco"),
        "customData.plan": (None, "pro"),
    }
    assert created.to_create[0].create == {
        "email": "new@example.com",
        "company": "Newco",
        "customData": {"plan": "pro"},
    }


def test_numbers_compare_by_value_and_strings_exactly(sb: Sandbox, call: Both) -> None:
    rows = [
        {"email": "c1@example.com", "customData.mrr": 10.0},  # 10 == 10.0
        {"email": "c2@example.com", "customData.mrr": "10"},  # "10" != 10
        {"email": "c3@example.com", "customData.plan": "Basic"},  # case counts
        {"email": "c4@example.com", "customData.mrr": 10.5},
        {"email": "c5@example.com", "customData.plan": "basic"},
    ]
    plan = call("plan_customers", rows, ignore_columns=False)
    assert buckets(plan)["none"] == [0, 4]
    assert [i.changes for i in plan.to_update] == [
        {"customData.mrr": (10, "10")},
        {"customData.plan": ("basic", "Basic")},
        {"customData.mrr": (10, 10.5)},
    ]


def test_no_value_leaves_a_field_unless_nulls_clear(sb: Sandbox, call: Both) -> None:
    table = pd.DataFrame(
        {
            "email": ["c1@example.com", "c2@example.com", "c3@example.com"],
            "company": [None, "Co 2", None],
            "customData.mrr": [math.nan, 10, 10],
        }
    )
    assert buckets(call("plan_customers", table))["none"] == [0, 1, 2]
    plan = call("plan_customers", table, nulls="clear")
    assert [i.changes for i in plan.to_update] == [
        {"company": ("Co 1", None), "customData.mrr": (10, None)},
        {"company": ("Co 3", None)},
    ]
    with pytest.raises(ValueError, match="nulls"):
        call("plan_customers", table, nulls="empty")


def test_timestamps_become_unix_seconds(sb: Sandbox, call: Both) -> None:
    when = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
    seconds = int(when.timestamp())
    for table in (
        [{"email": "c1@example.com", "customData.paid": when}],
        pd.DataFrame({"email": ["c1@example.com"], "customData.paid": [pd.Timestamp(when)]}),
        pl.DataFrame({"email": ["c1@example.com"], "customData.paid": [when]}),
    ):
        plan = call("plan_customers", table)
        assert plan.to_update[0].changes == {"customData.paid": (None, seconds)}, type(table)


def test_unknown_columns_are_refused_before_any_request(sb: Sandbox, call: Both) -> None:
    rows = [{"email": "c1@example.com", "compnay": "Initech"}]
    sb.clear_requests()
    with pytest.raises(ValueError, match="compnay") as caught:
        call("plan_customers", rows)
    assert "ignore_columns" in str(caught.value)
    assert sb.request_count == 0
    plan = call("plan_customers", rows, ignore_columns=True)
    assert buckets(plan)["none"] == [0]
    mapped = call("plan_customers", rows, fields={"company": "compnay"})
    assert mapped.to_update[0].changes == {"company": ("Co 1", "Initech")}
    for bad in ({"compani": "compnay"}, {"company": "nothere"}):
        with pytest.raises(ValueError):
            call("plan_customers", rows, fields=bad)
    with pytest.raises(ValueError, match="key column"):
        call("plan_customers", rows, match="user_id")


def test_a_value_of_the_wrong_type_rejects_its_row(sb: Sandbox, call: Both) -> None:
    rows = [
        {"email": "c1@example.com", "phone": 5550100, "blocked": True},
        {"email": "c2@example.com", "phone": "5550100", "blocked": "yes"},
        {"email": "c3@example.com", "phone": "5550100", "blocked": True},
    ]
    plan = call("plan_customers", rows)
    assert [i.reason for i in plan.rejected] == [
        "phone: an int, not a str",
        "blocked: a str, not a bool",
    ]
    assert plan.to_update[0].changes == {"phone": (None, "5550100"), "blocked": (None, True)}
    with pytest.raises(TypeError, match=r"column 'customData\.x', row 0"):
        call("plan_customers", [{"email": "c1@example.com", "customData.x": object()}])


def test_keys_match_by_user_id_and_id_and_shared_keys_are_rejected(call: Both) -> None:
    with Sandbox(
        customers=[
            {"id": 1, "email": "a@example.com", "userId": "u1", "company": "A"},
            {"id": 2, "email": "twin@example.com", "userId": "u2", "company": "B"},
            {"id": 3, "email": "twin@example.com", "userId": "u3", "company": "C"},
        ]
    ) as sb:
        both = Both(sb, call.kind)
        plan = both("plan_customers", [{"user_id": "u2", "company": "X"}], match="user_id")
        assert plan.to_update[0].customer_id == 2
        plan = both("plan_customers", [{"id": 3, "company": "C"}], match="id")
        assert buckets(plan)["none"] == [0]
        plan = both("plan_customers", [{"email": "twin@example.com", "company": "X"}])
        assert plan.rejected[0].reason_code == "shared"
        with pytest.raises(ValueError, match="create_missing"):
            both("plan_customers", [{"id": 9}], match="id", create_missing=True)
