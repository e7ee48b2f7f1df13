"""The sandbox's customer writes over real HTTP: PATCH, PUT, the batch, DELETE and create, with
their rules (customData replaced whole, tags refused, types, unique userIds), the indexes that
search reads, request counting and the rate limit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from helpcrunch.sandbox import DEMO_CUSTOMER_ID, Sandbox, SandboxRequest
from tests.sandbox._raw import call, codes

JOHN = DEMO_CUSTOMER_ID
CINDY = DEMO_CUSTOMER_ID + 1
OLENA = DEMO_CUSTOMER_ID + 2


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        yield sandbox


def customer(sb: Sandbox, customer_id: int) -> dict[str, Any]:
    """The customer as a plain dict (its fields are read by name from variables here)."""
    return dict(sb.customer(customer_id))


def search(sb: Sandbox, field: str, value: Any) -> list[int]:
    status, body = call(
        sb,
        "POST",
        "/customers/search",
        {"filter": [{"field": f"customers.{field}", "operator": "=", "value": value}]},
    )
    assert status == 200, body
    return [c["id"] for c in body["data"]]


def test_patch_changes_only_the_fields_sent(sb: Sandbox) -> None:
    before = sb.customer(JOHN)
    status, body = call(sb, "PATCH", f"/customers/{JOHN}", {"name": "Johnny", "notes": None})
    assert status == 200
    assert body == sb.customer(JOHN)
    expected = {**before, "name": "Johnny", "notes": None}
    assert body == expected
    assert list(body) == list(before), "fields keep their order"


def test_put_sets_the_profile_fields_left_out_to_null(sb: Sandbox) -> None:
    before = customer(sb, JOHN)
    status, body = call(sb, "PUT", f"/customers/{JOHN}", {"email": "j@example.com"})
    assert status == 200
    for field in ("name", "userId", "company", "phone", "notes", "customData"):
        assert body[field] is None, field
    assert body["unsubscribed"] is None and body["blocked"] is None
    assert body["email"] == "j@example.com"
    # Not part of the profile an update replaces: kept.
    for field in ("id", "tags", "firstSeen", "lastSeen", "location", "device", "source"):
        assert body[field] == before[field], field
    assert sb.customer(JOHN) == body


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_custom_data_sent_replaces_the_stored_object_whole(sb: Sandbox, method: str) -> None:
    assert len(customer(sb, JOHN)["customData"]) > 1
    status, body = call(sb, method, f"/customers/{JOHN}", {"customData": {"plan": "pro"}})
    assert status == 200
    assert body["customData"] == {"plan": "pro"}
    assert sb.customer(JOHN)["customData"] == {"plan": "pro"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", f"/customers/{JOHN}", {"name": "x", "tags": [{"name": "New"}]}),
        ("PUT", f"/customers/{JOHN}", {"tags": []}),
        ("PUT", "/customers/batch", [{"customer": JOHN, "tags": None}]),
    ],
)
def test_tags_in_an_update_are_refused_and_nothing_changes(
    sb: Sandbox, method: str, path: str, body: Any
) -> None:
    before = sb.customer(JOHN)
    status, answer = call(sb, method, path, body)
    assert status == 400
    assert any(c.endswith("tags") for c in codes(answer)), answer
    assert sb.customer(JOHN) == before


STRING_FIELDS = ["name", "email", "userId", "company", "phone", "notes"]
WRONG_TYPES = [
    *[(f, 5) for f in STRING_FIELDS],
    *[(f, {"a": 1}) for f in STRING_FIELDS[:2]],
    ("unsubscribed", "yes"),
    ("blocked", 1),
    ("customData", "text"),
    ("customData", 5),
    ("location", "Kyiv"),
]


@pytest.mark.parametrize(("field", "value"), WRONG_TYPES)
@pytest.mark.parametrize("how", ["POST", "PATCH", "PUT", "batch"])
def test_a_value_of_the_wrong_type_is_a_400_naming_the_field(
    sb: Sandbox, field: str, value: Any, how: str
) -> None:
    count = sb.customer_count
    before = sb.customer(JOHN)
    if how == "POST":
        status, body = call(sb, "POST", "/customers", {field: value})
        path = field
    elif how == "batch":
        items = [{"customer": CINDY}, {"customer": JOHN, field: value}]
        status, body = call(sb, "PUT", "/customers/batch", items)
        path = f"[1].{field}"
    else:
        status, body = call(sb, how, f"/customers/{JOHN}", {field: value})
        path = field
    assert status == 400
    assert path in codes(body)
    assert sb.customer(JOHN) == before and sb.customer_count == count


def test_custom_data_may_be_the_older_list_of_properties(sb: Sandbox) -> None:
    old_shape = [{"property": "Plan", "value": "pro"}]
    status, body = call(sb, "PATCH", f"/customers/{JOHN}", {"customData": old_shape})
    assert (status, body["customData"]) == (200, old_shape)
    status, body = call(sb, "PATCH", f"/customers/{JOHN}", {"customData": [{"a": 1}, "x"]})
    assert status == 400 and "customData[1]" in codes(body)


def test_nulls_and_right_types_are_accepted(sb: Sandbox) -> None:
    fields = {f: None for f in STRING_FIELDS} | {"unsubscribed": True, "blocked": None}
    status, body = call(sb, "PATCH", f"/customers/{JOHN}", {**fields, "customData": None})
    assert status == 200
    assert body["unsubscribed"] is True and body["customData"] is None
    status, _ = call(sb, "POST", "/customers", {"name": "n", "customData": {"a": [1]}})
    assert status == 201


def assert_user_id_refused(status: int, body: Any, path: str) -> None:
    assert status == 400
    assert body["errors"][0]["code"] == "invalid_userId_value", body
    assert path in codes(body)


def test_a_repeated_user_id_is_refused_by_every_write(sb: Sandbox) -> None:
    taken = sb.customer(CINDY)["userId"]
    before = sb.customer(JOHN)
    assert_user_id_refused(*call(sb, "POST", "/customers", {"userId": taken}), "userId")
    assert_user_id_refused(*call(sb, "PATCH", f"/customers/{JOHN}", {"userId": taken}), "userId")
    assert_user_id_refused(*call(sb, "PUT", f"/customers/{JOHN}", {"userId": taken}), "userId")
    items = [{"customer": OLENA, "name": "ok"}, {"customer": JOHN, "userId": taken}]
    assert_user_id_refused(*call(sb, "PUT", "/customers/batch", items), "[1].userId")
    assert sb.customer(JOHN) == before
    assert sb.customer(OLENA)["name"] != "ok", "the batch applied nothing"


def test_two_items_of_one_batch_cannot_take_the_same_user_id(sb: Sandbox) -> None:
    items = [{"customer": JOHN, "userId": "fresh"}, {"customer": OLENA, "userId": "fresh"}]
    assert_user_id_refused(*call(sb, "PUT", "/customers/batch", items), "[0].userId")
    assert search(sb, "userId", "fresh") == []


def test_user_ids_are_free_again_once_changed_or_deleted(sb: Sandbox) -> None:
    johns = sb.customer(JOHN)["userId"]
    cindys = sb.customer(CINDY)["userId"]
    # Keeping one's own userId is no repeat; swapping within a batch is none either.
    assert call(sb, "PATCH", f"/customers/{JOHN}", {"userId": johns})[0] == 200
    swap = [{"customer": JOHN, "userId": cindys}, {"customer": CINDY, "userId": johns}]
    status, body = call(sb, "PUT", "/customers/batch", swap)
    assert status == 200, body
    assert call(sb, "PATCH", f"/customers/{JOHN}", {"userId": "elsewhere"})[0] == 200
    assert call(sb, "POST", "/customers", {"userId": cindys})[0] == 201
    assert call(sb, "DELETE", f"/customers/{CINDY}")[0] == 200
    assert call(sb, "POST", "/customers", {"userId": johns})[0] == 201


def test_empty_and_null_user_ids_never_clash(sb: Sandbox) -> None:
    for _ in range(2):
        assert call(sb, "POST", "/customers", {"userId": ""})[0] == 201
        assert call(sb, "POST", "/customers", {"userId": None})[0] == 201


def test_generated_accounts_never_repeat_a_user_id() -> None:
    with Sandbox(customers=3000, seed=11) as sb:
        user_ids = [c["userId"] for c in sb.customers() if c["userId"]]
    assert len(user_ids) > 1000
    assert len(set(user_ids)) == len(user_ids)


def test_a_batch_updates_each_customer_like_put_and_answers_them_in_order(sb: Sandbox) -> None:
    items = [
        {"customer": OLENA, "name": "Olena K.", "customData": {"x": 1}},
        {"customer": str(JOHN), "email": "john@new.example", "unsubscribed": True},
    ]
    status, body = call(sb, "PUT", "/customers/batch", items)
    assert status == 200
    assert [c["id"] for c in body] == [OLENA, JOHN]
    assert body == [sb.customer(OLENA), sb.customer(JOHN)]
    assert body[0]["name"] == "Olena K." and body[0]["email"] is None, "PUT semantics"
    assert body[1]["email"] == "john@new.example" and body[1]["unsubscribed"] is True
    assert "customer" not in body[0], "the id key is not stored"


def test_a_batch_takes_one_to_ten_customers(sb: Sandbox) -> None:
    ids = [c["id"] for c in sb.customers()][:10]
    assert len(ids) == 10
    status, body = call(sb, "PUT", "/customers/batch", [{"customer": i} for i in ids])
    assert status == 200 and len(body) == 10
    for items in ([], [{"customer": i} for i in [*ids, 1]]):
        status, body = call(sb, "PUT", "/customers/batch", items)
        assert status == 400
        assert codes(body) == ["invalid_request", "body"]
        assert "element" in body["errors"][1]["message"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"customer": JOHN}, "body"),
        ("not a list", "body"),
        ([{"name": "no id"}], "[0].customer"),
        ([{"customer": "abc"}], "[0].customer"),
        ([{"customer": -1}], "[0].customer"),
        ([{"customer": 1.5}], "[0].customer"),
        ([{"customer": JOHN}, 7], "[1]"),
        ([{"customer": JOHN}, {"customer": JOHN}], "[1].customer"),
    ],
)
def test_a_malformed_batch_is_a_400_naming_the_item(sb: Sandbox, body: Any, code: str) -> None:
    status, answer = call(sb, "PUT", "/customers/batch", body)
    assert status == 400
    assert code in codes(answer), answer


@pytest.mark.parametrize("unknown", [999, 10**30])
def test_an_unknown_id_refuses_the_whole_batch(sb: Sandbox, unknown: int) -> None:
    before = sb.customers()
    items = [{"customer": JOHN, "name": "changed"}, {"customer": unknown, "name": "x"}]
    status, body = call(sb, "PUT", "/customers/batch", items)
    assert status == 400
    assert "[1].customer" in codes(body)
    assert sb.customers() == before


def test_a_batch_counts_once_against_the_rate_limit() -> None:
    with Sandbox(rate_limit=2) as sb:
        items = [{"customer": c["id"]} for c in sb.customers()[:10]]
        assert call(sb, "PUT", "/customers/batch", items)[0] == 200
        assert call(sb, "GET", f"/customers/{JOHN}")[0] == 200
        assert call(sb, "GET", f"/customers/{JOHN}")[0] == 429
        assert sb.request_count == 3


def test_delete_answers_the_customer_then_it_is_gone_everywhere(sb: Sandbox) -> None:
    john = sb.customer(JOHN)
    count = sb.customer_count
    status, body = call(sb, "DELETE", f"/customers/{JOHN}")
    assert (status, body) == (200, john)
    assert sb.customer_count == count - 1
    with pytest.raises(KeyError):
        sb.customer(JOHN)
    for method, body in [("GET", None), ("PATCH", {}), ("PUT", {}), ("DELETE", None)]:
        status, answer = call(sb, method, f"/customers/{JOHN}", body)
        assert status == 404 and codes(answer) == ["entity_not_found"], method
    status, answer = call(sb, "PUT", f"/customers/{JOHN}/tags", {"tags": [{"name": "x"}]})
    assert status == 404
    assert search(sb, "email", john["email"]) == []
    assert search(sb, "userId", john["userId"]) == []
    assert JOHN not in search(sb, "tagsData", [{"name": "vip"}])
    status, page = call(sb, "GET", "/customers?limit=100&sort=customers.lastSeen")
    assert JOHN not in [c["id"] for c in page["data"]] and page["total"] == count - 1
    status, created = call(sb, "POST", "/customers", {})
    assert created["id"] > max(c["id"] for c in sb.customers() if c["id"] != created["id"])


def test_delete_of_a_bad_id_is_a_400(sb: Sandbox) -> None:
    status, body = call(sb, "DELETE", "/customers/abc")
    assert status == 400 and codes(body) == ["invalid_request", "customer"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Renamed Person"),
        ("email", "renamed@example.com"),
        ("userId", "renamed-user"),
        ("company", "Renamed Ltd"),
        ("phone", "+100000"),
    ],
)
@pytest.mark.parametrize("how", ["PATCH", "PUT", "batch"])
def test_search_finds_customers_by_their_new_values_at_once(
    sb: Sandbox, field: str, value: str, how: str
) -> None:
    old = customer(sb, JOHN)[field]
    assert search(sb, field, old) == [JOHN]  # the index holds the old value first
    if how == "batch":
        status, _ = call(sb, "PUT", "/customers/batch", [{"customer": JOHN, field: value}])
    else:
        status, _ = call(sb, how, f"/customers/{JOHN}", {field: value})
    assert status == 200
    assert search(sb, field, value) == [JOHN]
    assert search(sb, field, old) == []


def test_updates_move_customers_in_sorted_lists(sb: Sandbox) -> None:
    status, _ = call(sb, "PATCH", f"/customers/{JOHN}", {"lastSeen": 4102444800})
    assert status == 200
    status, page = call(sb, "GET", "/customers?sort=customers.lastSeen&order=desc&limit=1")
    assert page["data"][0]["id"] == JOHN


def test_every_write_is_logged_and_counted(sb: Sandbox) -> None:
    call(sb, "PATCH", f"/customers/{JOHN}", {"name": "a"})
    call(sb, "PUT", f"/customers/{JOHN}", {"name": "b"})
    call(sb, "PUT", "/customers/batch", [{"customer": JOHN}])
    call(sb, "DELETE", f"/customers/{CINDY}")
    call(sb, "DELETE", f"/customers/{CINDY}")
    assert sb.requests == [
        SandboxRequest("PATCH", f"/v1/customers/{JOHN}", 200),
        SandboxRequest("PUT", f"/v1/customers/{JOHN}", 200),
        SandboxRequest("PUT", "/v1/customers/batch", 200),
        SandboxRequest("DELETE", f"/v1/customers/{CINDY}", 200),
        SandboxRequest("DELETE", f"/v1/customers/{CINDY}", 404),
    ]
    assert (sb.request_count, sb.status_count(200), sb.status_count(404)) == (5, 4, 1)


def test_the_batch_path_takes_only_put(sb: Sandbox) -> None:
    status, body = call(sb, "GET", "/customers/batch")
    assert status == 405 and "method_not_allowed" in codes(body)
    status, body = call(sb, "POST", f"/customers/{JOHN}", {})
    assert status == 405
