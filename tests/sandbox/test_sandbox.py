"""The sandbox over real HTTP: routes, HelpCrunch's statuses and bodies, state, concurrency,
the rate limit and every fault-injection knob."""

from __future__ import annotations

import json
import math
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest

import helpcrunch
from helpcrunch.sandbox import DEMO_CUSTOMER_ID, Sandbox, SandboxRequest


@pytest.fixture
def sb() -> Any:
    with Sandbox() as sandbox:
        yield sandbox


def raw(
    sb: Sandbox, method: str, path: str, body: Any = None, key: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """A request with urllib, so the sandbox is checked independently of our client."""
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    base = sb.base_url.removesuffix("/v1")
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {sb.api_key if key is None else key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def test_demo_data_starts_with_helpcrunchs_example_customer(sb: Sandbox) -> None:
    john = sb.customer(DEMO_CUSTOMER_ID)
    assert john["name"] == "John Doe"
    assert [t["name"] for t in john["tags"]] == ["vip", "Lead"]
    assert john["customData"]["last_paid_amount"] == 15.99
    assert len(sb.customers()) >= 5


def test_untag_over_http_returns_the_customer_without_the_tag(sb: Sandbox) -> None:
    with sb.client() as client:
        customer = client.remove_tags(DEMO_CUSTOMER_ID, ["Lead"])
    assert customer["tags"] == [{"name": "vip", "color": "#ff0000"}]
    assert sb.customer(DEMO_CUSTOMER_ID)["tags"] == customer["tags"]
    assert sb.requests == [SandboxRequest("DELETE", f"/v1/customers/{DEMO_CUSTOMER_ID}/tags", 200)]


def test_untagging_a_missing_tag_is_a_no_op(sb: Sandbox) -> None:
    before = sb.customer(DEMO_CUSTOMER_ID)
    with sb.client() as client:
        after = client.remove_tags(DEMO_CUSTOMER_ID, "never-had-it")
    assert after == before


def test_tagging_creates_unknown_tags_with_the_default_colour_once(sb: Sandbox) -> None:
    with sb.client() as client:
        client.add_tags(DEMO_CUSTOMER_ID, ["Churned", {"name": "Trial", "color": "#123456"}])
        customer = client.add_tags(DEMO_CUSTOMER_ID, "Churned")
    tags = {t["name"]: t["color"] for t in customer["tags"]}
    assert tags["Churned"] == "#c377e0"
    assert tags["Trial"] == "#123456"
    assert [t["name"] for t in customer["tags"]].count("Churned") == 1


def test_errors_have_helpcrunchs_statuses_and_bodies(sb: Sandbox) -> None:
    status, headers, body = raw(sb, "GET", f"/v1/customers/{DEMO_CUSTOMER_ID}", key="wrong")
    assert status == 401
    assert headers["content-type"].startswith("application/json")
    assert {"code": "unauthorized", "message": "Unauthorized"} in json.loads(body)["errors"]

    status, _, body = raw(sb, "GET", "/v1/customers/abc")
    assert status == 400
    assert {"code": "customer", "message": "This value should be of type numeric."} in json.loads(
        body
    )["errors"]

    status, _, body = raw(sb, "GET", "/v1/customers/999")
    assert status == 404
    assert [e["code"] for e in json.loads(body)["errors"]] == ["entity_not_found"]

    status, _, body = raw(sb, "PUT", f"/v1/customers/{DEMO_CUSTOMER_ID}/tags", {"tags": [{}]})
    assert status == 400
    assert "tags[0].name" in [e["code"] for e in json.loads(body)["errors"]]

    status, _, _ = raw(sb, "DELETE", f"/v1/customers/{DEMO_CUSTOMER_ID}/tags", b"{not json")
    assert status == 400


def test_client_errors_from_the_sandbox_have_the_right_classes(sb: Sandbox) -> None:
    with helpcrunch.Client(api_key="wrong", base_url=sb.base_url, rate_limit=None) as bad:
        with pytest.raises(helpcrunch.AuthenticationError):
            bad.get_customer(DEMO_CUSTOMER_ID)
    with sb.client() as client, pytest.raises(helpcrunch.NotFoundError) as e:
        client.remove_tags(1, "Lead")
    assert e.value.errors == [{"code": "entity_not_found", "message": "Customer not found"}]


def test_create_list_and_search(sb: Sandbox) -> None:
    status, _, body = raw(sb, "POST", "/v1/customers", {"name": "Grace", "email": "g@example.com"})
    assert status == 201
    created = json.loads(body)
    assert created["name"] == "Grace" and isinstance(created["id"], int)

    status, _, body = raw(sb, "GET", "/v1/customers?offset=0&limit=2")
    page = json.loads(body)
    assert status == 200 and len(page["data"]) == 2 and page["total"] == len(sb.customers())

    query = {
        "filter": [{"field": "customers.tagsData", "operator": "=", "value": "vip"}],
        "limit": 100,
        "offset": 0,
    }
    status, _, body = raw(sb, "POST", "/v1/customers/search", query)
    found = json.loads(body)
    assert status == 200
    assert DEMO_CUSTOMER_ID in [c["id"] for c in found["data"]]
    assert all("vip" in [t["name"] for t in c["tags"]] for c in found["data"])


def test_custom_customers_replace_the_demo_set() -> None:
    mine = [{"id": 7, "name": "Seven", "tags": [], "extra": {"kept": [1, None]}}]
    with Sandbox(customers=mine) as sb, sb.client() as client:
        assert client.get_customer(7)["extra"] == {"kept": [1, None]}
        with pytest.raises(helpcrunch.NotFoundError):
            client.get_customer(DEMO_CUSTOMER_ID)
        with pytest.raises(KeyError):
            sb.customer(DEMO_CUSTOMER_ID)


def test_state_is_consistent_under_many_concurrent_clients(sb: Sandbox) -> None:
    ids = [c["id"] for c in sb.customers()]
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with sb.client() as client:
                for i in range(20):
                    cid = ids[(n + i) % len(ids)]
                    client.add_tags(cid, f"t{n}")
                    client.add_tags(cid, "shared")
        except BaseException as e:  # collected for the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sb.request_count == 16 * 20 * 2
    for cid in ids:
        names = [t["name"] for t in sb.customer(cid)["tags"]]
        assert len(names) == len(set(names)), "no tag is ever duplicated"
        assert "shared" in names


def test_rate_limit_answers_429_past_the_window() -> None:
    with Sandbox(rate_limit=5) as sb, sb.client(max_retries=0) as client:
        results = []
        for _ in range(7):
            try:
                client.get_customer(DEMO_CUSTOMER_ID)
                results.append(200)
            except helpcrunch.RateLimitError as e:
                assert "too_many_requests" in e.codes
                results.append(429)
    assert results == [200] * 5 + [429] * 2
    assert sb.status_count(429) == 2


def test_fail_next_with_helpcrunch_body_is_retried_by_the_client(sb: Sandbox) -> None:
    sb.fail_next(503, times=2)
    with sb.client() as client:
        client.remove_tags(DEMO_CUSTOMER_ID, "Lead")
    assert [r.status for r in sb.requests] == [503, 503, 200]


def test_fail_next_with_html_body_and_retry_after(sb: Sandbox) -> None:
    sb.fail_next(502, body="<html><body>Bad gateway</body></html>")
    sb.fail_next(429, retry_after=120)
    with sb.client(max_retries=0) as client:
        with pytest.raises(helpcrunch.InternalServerError) as e502:
            client.get_customer(DEMO_CUSTOMER_ID)
        with pytest.raises(helpcrunch.RateLimitError) as e429:
            client.get_customer(DEMO_CUSTOMER_ID)
    assert "Bad gateway" in e502.value.body and e502.value.errors == []
    assert e502.value.headers["content-type"] == "text/html"
    assert e429.value.retry_after == 120


def test_fail_next_matches_method_and_path(sb: Sandbox) -> None:
    sb.fail_next(500, method="DELETE", path="/v1/customers/542336")
    with sb.client(max_retries=0) as client:
        client.get_customer(542336)
        client.remove_tags(DEMO_CUSTOMER_ID, "Lead")
        with pytest.raises(helpcrunch.InternalServerError):
            client.remove_tags(542336, "Lead")
    assert sb.pending_faults == 0


def test_delay_next_adds_latency(sb: Sandbox) -> None:
    sb.delay_next(1.0)
    with sb.client(timeout=0.3, max_retries=0) as client:
        with pytest.raises(helpcrunch.APITimeoutError):
            client.get_customer(DEMO_CUSTOMER_ID)
        sb.delay_next(0.2)
        assert client.get_customer(DEMO_CUSTOMER_ID)["id"] == DEMO_CUSTOMER_ID


def test_drop_next_closes_the_connection(sb: Sandbox) -> None:
    sb.drop_next()
    with sb.client(max_retries=0) as client, pytest.raises(helpcrunch.APIConnectionError):
        client.get_customer(DEMO_CUSTOMER_ID)
    assert sb.requests[-1].status == 0


def test_drop_after_processing_still_makes_the_change(sb: Sandbox) -> None:
    sb.drop_next(after_processing=True)
    with sb.client(max_retries=0) as client, pytest.raises(helpcrunch.APIConnectionError):
        client.remove_tags(DEMO_CUSTOMER_ID, "Lead")
    assert "Lead" not in [t["name"] for t in sb.customer(DEMO_CUSTOMER_ID)["tags"]]


def test_not_json_next_gives_a_response_validation_error(sb: Sandbox) -> None:
    sb.not_json_next()
    with sb.client() as client, pytest.raises(helpcrunch.APIResponseValidationError) as e:
        client.get_customer(DEMO_CUSTOMER_ID)
    assert e.value.status_code == 200
    assert e.value.attempts == 1, "a 2xx with a bad body is not retried"


def test_truncate_next_is_a_connection_error_then_retried(sb: Sandbox) -> None:
    sb.truncate_next()
    with sb.client() as client:
        assert client.get_customer(DEMO_CUSTOMER_ID)["id"] == DEMO_CUSTOMER_ID
    assert sb.request_count == 2


def test_close_stops_serving() -> None:
    sb = Sandbox()
    client = sb.client(max_retries=0, timeout=2)
    client.get_customer(DEMO_CUSTOMER_ID)
    sb.close()
    with pytest.raises(helpcrunch.APIConnectionError):
        client.get_customer(DEMO_CUSTOMER_ID)
    assert "closed" in repr(sb)


def test_async_client_against_the_sandbox(sb: Sandbox) -> None:
    import asyncio

    async def main() -> list[int]:
        async with sb.async_client() as client:
            customers = await asyncio.gather(
                *(client.get_customer(c["id"]) for c in sb.customers())
            )
        return [c["id"] for c in customers]

    assert asyncio.run(main()) == [c["id"] for c in sb.customers()]


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ({"port": 70000}, "port"),
        ({"port": -1}, "port"),
        ({"rate_limit": -1}, "rate_limit"),
        ({"rate_limit": 2**64}, "rate_limit"),
        ({"log_capacity": 10**400}, "log_capacity"),
        ({"port": 80.0}, "port"),
        ({"rate_limit": True}, "rate_limit"),
    ],
)
def test_sandbox_numbers_out_of_range_name_the_argument(
    arguments: dict[str, Any], name: str
) -> None:
    with pytest.raises((TypeError, ValueError)) as caught:
        Sandbox(**arguments)
    assert name in str(caught.value)
    assert not isinstance(caught.value, OverflowError)


@pytest.mark.parametrize("seconds", [1e300, -1.0, math.inf, math.nan])
def test_a_delay_past_any_duration_is_a_value_error(seconds: float) -> None:
    with Sandbox() as sb, pytest.raises(ValueError, match="seconds"):
        sb.delay_next(seconds)


@pytest.mark.parametrize("times", [-1, 2**40])
def test_fault_counts_out_of_range_name_times(times: int) -> None:
    with Sandbox() as sb, pytest.raises(ValueError, match="times"):
        sb.drop_next(times)
