"""A plan says how many customers carry the tag now (``plan.holders``), in its repr, its HTML and
the command's output, and plainly when none does (a new tag, or a typo): "no customer carries
'churn_risk' yet: it will be created". Its frames (pandas and polars) carry ``row`` and
``reason_code``."""

from __future__ import annotations

import html
import os
from pathlib import Path

import pandas as pd
import pytest

from helpcrunch.sandbox import Sandbox
from tests.support.cli import helpcrunch
from tests.support.sync import TAG, account

AUDIENCE = ["c1@example.com", "c2@example.com", "c3@example.com", "nobody@example.com", "bad"]


@pytest.mark.parametrize("mode", ["mirror", "add", "remove"])
@pytest.mark.parametrize("size", [2, 400])
def test_holders_are_counted_whatever_the_mode_and_the_audience_size(mode: str, size: int) -> None:
    # Small audiences are looked up in one request; large ones weigh a scan: both know the
    # holders (7 here, of whom the audience has 2 at most).
    audience = [f"c{i}@example.com" for i in range(1, size + 1)]
    with (
        Sandbox(customers=account(500, range(1, 8)), max_filters=50) as sb,
        sb.client(rate_limit=None) as client,
    ):
        plan = client.plan_tag(TAG, audience, mode=mode)
    assert plan.holders == 7
    assert "7 customers carry 'churn-risk' now" in repr(plan)
    assert "7 customers carry" in plan._repr_html_()


def test_a_tag_nobody_carries_is_said_plainly_where_the_plan_adds_it() -> None:
    with Sandbox(customers=account(10, range(1, 4))) as sb, sb.client(rate_limit=None) as client:
        typo = client.plan_tag("churn_risk", AUDIENCE, mode="add")
        removing = client.plan_tag("churn_risk", AUDIENCE, mode="remove")
    assert typo.holders == 0
    said = "no customer carries 'churn_risk' yet: it will be created"
    assert said in repr(typo) and said in html.unescape(typo._repr_html_())
    # Only a plan that adds creates it.
    assert removing.holders == 0 and "it will be created" not in repr(removing)
    assert "no customer carries 'churn_risk'" in repr(removing)


def test_the_command_prints_the_tag_and_its_holders(tmp_path: Path) -> None:
    csv = tmp_path / "segment.csv"
    csv.write_text("email\nc1@example.com\nc2@example.com\n", encoding="utf-8")
    with Sandbox(customers=account(10, range(1, 4))) as sb:
        typo = helpcrunch(
            "sync-tag",
            "churn_risk",
            "--from-csv",
            os.fspath(csv),
            "--mode",
            "add",
            "--dry-run",
            sandbox=sb,
        )
        known = helpcrunch("sync-tag", TAG, "--from-csv", os.fspath(csv), "--dry-run", sandbox=sb)
    assert typo.returncode == 0, typo.stderr
    assert "tag 'churn_risk', add, by email: 2 to add" in typo.stdout
    assert "no customer carries 'churn_risk' yet: it will be created" in typo.stdout
    assert known.returncode == 0, known.stderr
    assert f"tag {TAG!r}, mirror, by email:" in known.stdout
    assert f"3 customers carry {TAG!r} now" in known.stdout


def test_plan_frames_carry_row_and_reason_code_in_pandas_and_polars() -> None:
    with Sandbox(customers=account(10, range(1, 4))) as sb, sb.client(rate_limit=None) as client:
        plan = client.plan_tag(TAG, AUDIENCE)
    columns = ["row", "customer_id", "key", "action", "reason_code", "reason"]
    pdf = plan.to_pandas()
    plf = plan.to_polars()
    assert list(pdf.columns) == columns == plf.columns
    assert len(pdf) == len(plf) == len(plan.items)
    expected = [(i.row, i.customer_id, i.action, i.reason_code) for i in plan.items]
    rows = pdf[["row", "customer_id", "action", "reason_code"]].astype(object)
    got = [tuple(None if pd.isna(v) else v for v in r) for r in rows.itertuples(False)]
    assert got == expected
    assert list(plf.select("row", "customer_id", "action", "reason_code").iter_rows()) == expected
    assert str(plf.schema["row"]) == "Int64" and str(plf.schema["customer_id"]) == "Int64"
    assert set(pdf["reason_code"].dropna()) == {"unknown", "malformed"}
