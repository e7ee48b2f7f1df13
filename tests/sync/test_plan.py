"""Planning a tag sync over real HTTP against the sandbox: every mode and match kind, every
reject reason, the fewest requests (counted by the server) for the standard case, the batch
halved under ``max_filters``, scan against lookups, audiences from DataFrames, and bad
arguments refused before anything is sent. Planning writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

import helpcrunch
from helpcrunch.sandbox import Sandbox
from tests.support.sync import TAG, account, customer, standard, writes


def actions(plan: helpcrunch.TagPlan) -> list[tuple[Any, int | None, str]]:
    return [(i.key, i.customer_id, i.action) for i in plan.items]


def counts(plan: helpcrunch.TagPlan) -> tuple[int, int, int, int]:
    return len(plan.to_add), len(plan.to_remove), len(plan.unchanged), len(plan.rejected)


def test_the_standard_case_costs_the_holders_pages_one_lookup_and_one_count() -> None:
    customers, audience = standard()
    with Sandbox(customers=customers) as sb, sb.client(rate_limit=1200) as client:
        plan = client.plan_tag(TAG, audience, match="email", mode="mirror")
        requests = sb.request_count
        assert writes(sb) == 0
    assert counts(plan) == (38, 60, 950, 12)
    assert plan.holders == 1_010
    assert plan.writes == 98
    # 1,010 holders: 11 pages; 50 keys left: 1 lookup of 80; 1 count to weigh a scan.
    assert requests == plan.lookups == 13
    assert plan.requests["holder_pages"] == 11
    assert plan.requests["lookups"] == 1
    assert plan.strategy == "lookups"
    assert repr(plan) == (
        "TagPlan('churn-risk', mirror, by email: 38 to add, 60 to remove, 950 unchanged, "
        "12 rejected; 1,010 customers carry 'churn-risk' now; 98 writes after 13 lookups, "
        "about 5 s at 1200/min)"
    )
    assert plan.mass_removal is None


def test_the_issues_standard_case_plans_in_109_requests() -> None:
    # 50,000 customers; 10,000 emails (9,500 tagged, 100 unknown, 20 shared); 600 outside.
    customers, audience = standard(10)
    with Sandbox(customers=customers) as sb, sb.client(rate_limit=None) as client:
        plan = client.plan_tag(TAG, audience)
        requests = sb.request_count
    assert counts(plan) == (380, 600, 9_500, 120)
    # The minimum for the batch in force: 101 pages of the 10,100 holders and 500 keys in
    # lookups of 80 (7); one count of the account on top.
    assert requests == plan.lookups == 101 + 7 + 1
    assert plan.writes == 980
    assert repr(plan).endswith("; 980 writes after 109 lookups)"), "no rate limit, no time"


def test_every_row_lands_in_exactly_one_list_with_its_reason() -> None:
    customers = [
        customer(1, "tagged@example.com", tagged=True),
        customer(2, "plain@example.com"),
        customer(3, "outside@example.com", tagged=True),
        customer(4, "twin@example.com"),
        customer(5, "twin@example.com"),
    ]
    audience = [
        "tagged@example.com",
        " PLAIN@example.com ",
        "twin@example.com",
        "nobody@example.com",
        "not an email",
        "",
        None,
        "TAGGED@example.com",
        42,
    ]
    with Sandbox(customers=customers) as sb, sb.client(rate_limit=None) as client:
        plan = client.plan_tag(TAG, audience)
        assert writes(sb) == 0
    assert actions(plan) == [
        ("tagged@example.com", 1, "none"),
        (" PLAIN@example.com ", 2, "add"),
        ("twin@example.com", None, "reject"),
        ("nobody@example.com", None, "reject"),
        ("not an email", None, "reject"),
        ("", None, "reject"),
        (None, None, "reject"),
        ("TAGGED@example.com", None, "reject"),
        (42, None, "reject"),
        (None, 3, "remove"),
    ]
    assert [(i.reason_code, i.reason) for i in plan.rejected] == [
        ("shared", "2 customers share this email (4, 5); none is guessed"),
        ("unknown", "no customer has this email"),
        (
            "malformed",
            '"not an email" is not an email address (it holds a space or a control character)',
        ),
        ("empty", "the key is empty"),
        ("empty", "the key is empty"),
        ("duplicate", "the same key as row 0, which is kept"),
        ("malformed", "an int, not an email (a str)"),
    ]
    assert plan.to_add[0].customer == customers[1]
    assert plan.to_remove[0].row is None and plan.to_remove[0].key is None
    frame = plan.to_pandas()
    assert list(frame.columns) == ["row", "customer_id", "key", "action", "reason_code", "reason"]
    assert len(frame) == len(audience) + 1


def test_a_mixed_case_stored_email_is_found_by_a_scan_or_as_a_holder_not_by_lookups() -> None:
    # HelpCrunch's "=" may compare case-sensitively (the sandbox's does): a lookup sends the key
    # as given and case-folded, so only a stored email in one of those spellings is found.
    customers = [customer(1, "Ann@Example.com"), customer(2, "Bo@Example.com", tagged=True)]
    customers += [customer(i) for i in range(3, 2_000)]
    audience = ["ann@example.com", "bo@example.com"]
    with Sandbox(customers=customers) as sb, sb.client(rate_limit=None) as client:
        looked_up = client.plan_tag(TAG, audience)
        scanned = client.plan_tag(TAG, [*audience, *(f"c{i}@example.com" for i in range(3, 1_900))])
    assert looked_up.strategy == "lookups"
    assert [(i.action, i.customer_id) for i in looked_up.items] == [("reject", None), ("none", 2)]
    assert scanned.strategy == "scan"
    assert [(i.action, i.customer_id) for i in scanned.items[:2]] == [("add", 1), ("none", 2)]


def test_add_and_remove_touch_only_members_by_user_id() -> None:
    with Sandbox(customers=account(20, range(1, 11))) as sb, sb.client(rate_limit=None) as client:
        users = [f"user-{i}" for i in range(5, 15)] + ["user-99", "USER-5"]
        add = client.plan_tag(TAG, users, match="user_id", mode="add")
        remove = client.plan_tag(TAG, users, match="user_id", mode="remove")
        assert writes(sb) == 0
    # User ids match exactly: "USER-5" is nobody's.
    assert counts(add) == (4, 0, 6, 2)
    assert [i.customer_id for i in add.to_add] == [11, 12, 13, 14]
    assert counts(remove) == (0, 6, 4, 2)
    assert [i.customer_id for i in remove.to_remove] == [5, 6, 7, 8, 9, 10]
    # 6 of 10 holders: more than half.
    assert remove.mass_removal is not None
    assert "6 of its 10 current holders" in remove.mass_removal


def test_mirror_by_id_takes_ints_and_digit_strings() -> None:
    with Sandbox(customers=account(20, range(1, 4))) as sb, sb.client(rate_limit=None) as client:
        plan = client.plan_tag(TAG, [1, 2, "3", 15, 999, "x", 0, True, 2.0], match="id")
    assert counts(plan) == (1, 0, 3, 5)
    assert [i.customer_id for i in plan.to_add] == [15]
    reasons = [i.reason for i in plan.rejected]
    assert reasons[0] == "no customer has this id"
    assert "not a customer id" in reasons[1] and "not a customer id" in reasons[2]
    assert reasons[3] == "a bool, not a customer id (an int or a string of digits)"
    assert "float" in reasons[4]


def test_a_refused_batch_is_halved_and_the_size_kept() -> None:
    customers, audience = standard()
    with Sandbox(customers=customers, max_filters=15) as sb, sb.client(rate_limit=None) as c:
        plan = c.plan_tag(TAG, audience)
        refused = sb.status_count(400)
        total = sb.request_count
    assert counts(plan) == (38, 60, 950, 12)
    # 50 keys in one batch, then 25, refused; batches of 12 pass: 5 of them.
    assert refused == 2
    assert plan.lookup_batch == 12
    assert plan.requests["lookups"] == 2 + 5
    assert plan.requests["unused"] == 2
    assert total == plan.lookups


def test_a_capped_page_size_is_learned() -> None:
    customers, audience = standard()
    with Sandbox(customers=customers, max_page_size=50) as sb, sb.client(rate_limit=None) as c:
        plan = c.plan_tag(TAG, audience)
        total = sb.request_count
    assert counts(plan) == (38, 60, 950, 12)
    assert plan.page_size == 50
    assert total == plan.lookups


def test_a_small_account_with_many_keys_is_scanned_and_a_large_one_looked_up() -> None:
    keys = [f"C{i}@example.com" for i in range(1, 201)]
    with Sandbox(customers=account(300, range(291, 301))) as sb, sb.client(rate_limit=None) as c:
        plan = c.plan_tag(TAG, keys, lookup_batch=10)
        assert sb.request_count == plan.lookups
    assert plan.strategy == "scan"
    assert "scanned the whole account" in plan.strategy_reason
    # Mixed-case keys match the stored emails; the 10 holders outside lose the tag.
    assert counts(plan) == (200, 10, 0, 0)
    assert plan.requests["scan_pages"] == 3

    with Sandbox(customers=account(3_000, range(291, 301))) as sb, sb.client(rate_limit=None) as c:
        plan = c.plan_tag(TAG, keys[:30], lookup_batch=10)
        assert sb.request_count == plan.lookups
    assert plan.strategy == "lookups"
    assert counts(plan) == (30, 10, 0, 0)


def test_audiences_from_pandas_and_polars_with_key_column() -> None:
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    emails = ["c1@example.com", "c2@example.com", None]
    with Sandbox(customers=account(5, {1})) as sb, sb.client(rate_limit=None) as client:
        for audience, key_column in [
            (pd.DataFrame({"email": emails, "n": [1, 2, 3]}), "email"),
            (pd.Series(emails), None),
            (pl.DataFrame({"email": emails, "n": [1, 2, 3]}), "email"),
            (pl.Series("email", emails), None),
            ([{"email": e} for e in emails], "email"),
        ]:
            plan = client.plan_tag(TAG, audience, key_column=key_column, mode="add")
            assert counts(plan) == (1, 0, 1, 1), type(audience)
            assert plan.rejected[0].reason == "the key is empty"
        ids = pd.DataFrame({"id": pd.array([1, 2, None], dtype="Int64")})
        plan = client.plan_tag(TAG, ids, match="id", key_column="id", mode="add")
        assert counts(plan) == (1, 0, 1, 1)
        with pytest.raises(ValueError, match="key_column"):
            client.plan_tag(TAG, pd.DataFrame({"a": emails, "b": emails}))
        with pytest.raises(ValueError, match="no column 'mail'"):
            client.plan_tag(TAG, pd.DataFrame({"a": emails}), key_column="mail")
        assert sb.request_count > 0


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"mode": "sync"}, ValueError, "mode must be 'mirror', 'add' or 'remove'"),
        ({"match": "phone"}, ValueError, "match must be 'email', 'user_id' or 'id'"),
        ({"lookup_batch": 0}, ValueError, "lookup_batch"),
        ({"lookup_batch": 101}, ValueError, "lookup_batch"),
        ({"color": "orang"}, ValueError, "colo"),
        ({"color": 5}, TypeError, "color"),
        ({"mode": None}, TypeError, "mode"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(
    kwargs: dict[str, Any], error: type[Exception], words: str
) -> None:
    with Sandbox() as sb, sb.client() as client:
        with pytest.raises(error, match=words):
            client.plan_tag(TAG, ["a@example.com"], **kwargs)
        for audience in ("a@example.com", {"a": 1}, 5):
            with pytest.raises(TypeError, match="audience"):
                client.plan_tag(TAG, audience)
        with pytest.raises(ValueError):
            client.plan_tag("", ["a@example.com"])
        assert sb.request_count == 0


def test_the_plan_shows_as_a_table_in_jupyter() -> None:
    with Sandbox(customers=account(5, {1, 2, 3})) as sb, sb.client() as client:
        plan = client.plan_tag(TAG, [])
    assert plan.mass_removal is not None and "no usable row" in plan.mass_removal
    assert "REFUSED without allow_mass_removal=True" in repr(plan)
    page = plan._repr_html_()
    assert "<table>" in page and "to remove</td><td>3</td>" in page
    assert "allow_mass_removal" in page


@pytest.mark.parametrize(("members", "says"), [(0, "1 write after"), (1, "2 writes after")])
def test_the_plan_counts_in_words_that_agree_with_the_number(members: int, says: str) -> None:
    with Sandbox(customers=account(5, range(5, 6))) as sb, sb.client(rate_limit=None) as client:
        plan = client.plan_tag(TAG, [f"user-{i}" for i in range(1, members + 1)], match="user_id")
    assert plan.writes == members + 1  # the members added, the one holder outside removed
    assert says in repr(plan)
