"""The sandbox's accounts and search settings from Python and the CLI: generated customers,
customers loaded from a file, the page-size and filter caps, and unstable ties."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpcrunch.sandbox import DEMO_CUSTOMER_ID, Sandbox
from tests.support.cli import ServedSandbox, serve_sandbox


def call(sb: Sandbox, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A request with urllib, so the sandbox is checked independently of our client."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(sb.base_url + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {sb.api_key}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def search(sb: Sandbox, *filters: tuple[str, str, Any], **extra: Any) -> tuple[int, Any]:
    body = {"filter": [{"field": f, "operator": o, "value": v} for f, o, v in filters], **extra}
    return call(sb, "POST", "/customers/search", body)


def ids(page: Any) -> list[int]:
    return [c["id"] for c in page["data"]]


def generated(customers: int, **kwargs: Any) -> list[dict[str, Any]]:
    with Sandbox(customers=customers, **kwargs) as sb:
        assert sb.customer_count == customers
        return sb.customers()


def test_a_generated_account_is_the_same_for_the_same_seed() -> None:
    seven = generated(300, seed=7)
    assert [c["id"] for c in seven] == list(range(1, 301))
    assert generated(300, seed=7) == seven
    assert generated(300, seed=8) != seven
    assert generated(300) == generated(300), "no seed: one fixed account"
    numpy = pytest.importorskip("numpy")
    assert generated(numpy.int64(300), seed=numpy.uint8(7)) == seven


def test_generated_customers_look_like_a_real_accounts() -> None:
    with Sandbox(customers=2000, seed=1) as sb:
        customers = sb.customers()
    emails = [c["email"] for c in customers if c["email"] is not None]
    user_ids = [c["userId"] for c in customers if c["userId"] is not None]
    assert len(set(emails)) == len(emails) > 1500
    assert len(set(user_ids)) == len(user_ids) > 1000
    colours: dict[str, str] = {}
    for c in customers:
        for tag in c["tags"]:
            assert colours.setdefault(tag["name"], tag["color"]) == tag["color"]
    assert {"Lead", "vip"} <= colours.keys()
    first_seen = [int(c["firstSeen"]) for c in customers]
    assert max(first_seen) - min(first_seen) > 5 * 365 * 86400, "spread over years"
    assert len(set(first_seen)) < len(first_seen), "some customers share a firstSeen"
    assert all(int(c["lastSeen"]) >= int(c["firstSeen"]) for c in customers)


def test_a_client_finds_generated_customers_by_email_and_user_id() -> None:
    with Sandbox(customers=1000, seed=3) as sb, sb.client() as client:
        target = next(c for c in sb.customers() if c["userId"] is not None)
        status, by_email = search(sb, ("customers.email", "=", target["email"]))
        assert status == 200 and ids(by_email) == [target["id"]]
        status, by_user = search(sb, ("customers.userId", "=", target["userId"]))
        assert ids(by_user) == [target["id"]]
        assert client.get_customer(target["id"]) == target


def test_customers_as_dicts_and_the_demo_set_still_work() -> None:
    with Sandbox([{"id": 5, "name": "Five"}, {"name": "Six"}]) as sb:
        assert [c["id"] for c in sb.customers()] == [5, 6]
    with Sandbox() as sb:
        assert sb.customer(DEMO_CUSTOMER_ID)["name"] == "John Doe"
        assert sb.customer_count == 10
    with Sandbox(customers=0) as sb:
        assert sb.customer_count == 0


@pytest.fixture
def customer_file(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    customers = [
        {"id": 10, "name": "Ten", "email": "ten@example.com", "tags": [{"name": "x"}]},
        {"name": "Eleven"},
    ]
    array = tmp_path / "customers.json"
    array.write_text(json.dumps(customers, indent=2))
    lines = tmp_path / "customers.jsonl"
    lines.write_text("".join(json.dumps(c) + "\n" for c in customers))
    yield array, lines


def test_customers_load_from_a_json_array_or_a_jsonl_file(
    customer_file: tuple[Path, Path],
) -> None:
    for path in customer_file:
        for given in (path, str(path)):
            with Sandbox(load=given) as sb:
                assert [c["name"] for c in sb.customers()] == ["Ten", "Eleven"]
                assert sb.customer(11) == {"id": 11, "name": "Eleven"}


def test_bad_arguments_are_refused_before_anything_starts(
    tmp_path: Path, customer_file: tuple[Path, Path]
) -> None:
    bad_file = tmp_path / "bad.jsonl"
    bad_file.write_text('{"id": 1}\n{"id": 1}\n')
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"customers": -1}, ValueError, "customers"),
        ({"customers": True}, TypeError, "customers"),
        ({"customers": "10"}, TypeError, "customers"),
        ({"customers": 10, "seed": -3}, ValueError, "seed"),
        ({"customers": 10, "seed": 1.5}, TypeError, "seed"),
        ({"customers": 10**9}, ValueError, "at most"),
        ({"seed": 1}, ValueError, "customers=N"),
        ({"customers": [{"id": 1}], "seed": 1}, ValueError, "customers=N"),
        ({"customers": 5, "load": customer_file[0]}, ValueError, "not both"),
        ({"load": bad_file}, ValueError, "two customers have id 1"),
        ({"load": tmp_path / "missing.json"}, FileNotFoundError, "missing.json"),
        ({"max_page_size": 0}, ValueError, "max_page_size"),
        ({"max_filters": -1}, ValueError, "max_filters"),
        ({"max_filters": "5"}, TypeError, "max_filters"),
    ]
    for kwargs, error, says in cases:
        with pytest.raises(error, match=says):
            Sandbox(**kwargs)


def test_caps_answer_helpcrunchs_400_naming_limit_and_filter() -> None:
    with Sandbox(customers=120, seed=1, max_page_size=50, max_filters=3) as sb:
        status, body = call(sb, "GET", "/customers?limit=51")
        assert status == 400
        assert body["errors"] == [
            {"code": "invalid_request", "message": "Invalid request"},
            {"code": "limit", "message": "This value should be less than or equal to 50."},
        ]
        status, body = call(sb, "GET", "/customers")
        assert status == 200 and len(body["data"]) == 50 and body["total"] == 120
        over = [("customers.id", "!=", n) for n in range(4)]
        status, body = search(sb, *over)
        assert status == 400
        assert body["errors"][1] == {
            "code": "filter",
            "message": "This collection should contain 3 elements or less.",
        }
        status, body = search(sb, *over[:3], limit=50)
        assert status == 200 and len(body["data"]) == 50


def test_unstable_ties_reorder_equal_first_seen_only() -> None:
    people = [
        {"id": i, "firstSeen": "1600000000" if i <= 6 else str(1600000000 + i)}
        for i in range(1, 10)
    ]
    query = {"sort": "customers.firstSeen", "limit": 100}
    with Sandbox(people) as stable:
        orders = {
            tuple(ids(search(stable, ("customers.id", ">", 0), **query)[1])) for _ in range(10)
        }
        assert orders == {tuple(range(1, 10))}
    with Sandbox(people, unstable_ties=True) as shuffled:
        orders = set()
        for _ in range(20):
            order = ids(search(shuffled, ("customers.id", ">", 0), **query)[1])
            assert sorted(order[:6]) == [1, 2, 3, 4, 5, 6] and order[6:] == [7, 8, 9]
            orders.add(tuple(order))
        # Six tied customers have 720 orders: twenty requests all drawing the same one
        # would happen once in 720**19.
        assert len(orders) > 1


def test_search_and_list_count_against_the_rate_limit() -> None:
    with Sandbox(customers=20, rate_limit=3) as sb:
        statuses = [
            search(sb, ("customers.id", ">", 0))[0],
            call(sb, "GET", "/customers")[0],
            search(sb, ("customers.email", "=", 5))[0],
            call(sb, "GET", "/customers")[0],
        ]
        assert statuses == [200, 200, 400, 429]
        assert [(r.method, r.path, r.status) for r in sb.requests] == [
            ("POST", "/v1/customers/search", 200),
            ("GET", "/v1/customers", 200),
            ("POST", "/v1/customers/search", 400),
            ("GET", "/v1/customers", 429),
        ]


# ---------- the CLI ----------


def start_cli(*args: str) -> ServedSandbox:
    return serve_sandbox(*args)


def served(proc: ServedSandbox) -> tuple[str, str]:
    """The base URL and key the command printed."""
    return proc.exports["HELPCRUNCH_BASE_URL"], proc.exports["HELPCRUNCH_API_KEY"]


def stop(proc: ServedSandbox) -> str:
    proc.process.send_signal(signal.SIGTERM)
    _, err = proc.process.communicate(timeout=30)
    return err


def get(url: str, key: str) -> Any:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def test_cli_serves_a_generated_account_with_caps() -> None:
    proc = start_cli("--customers", "500", "--seed", "4", "--max-page-size", "20")
    try:
        url, key = served(proc)
        page = get(f"{url}/customers", key)
        assert page["total"] == 500 and len(page["data"]) == 20
        with Sandbox(customers=500, seed=4) as same:
            assert page["data"] == same.customers()[:20]
        with pytest.raises(urllib.error.HTTPError) as e:
            get(f"{url}/customers?limit=21", key)
        assert e.value.code == 400
    finally:
        err = stop(proc)
    assert proc.process.returncode == 0
    assert "500 customers (generated, seed 4)" in err


def test_cli_loads_customers_from_a_file(customer_file: tuple[Path, Path]) -> None:
    proc = start_cli("--load", str(customer_file[1]), "--unstable-ties", "--max-filters", "2")
    try:
        url, key = served(proc)
        assert [c["name"] for c in get(f"{url}/customers", key)["data"]] == ["Ten", "Eleven"]
    finally:
        err = stop(proc)
    assert proc.process.returncode == 0
    assert f"2 customers (from {customer_file[1]})" in err


def test_cli_stops_cleanly_on_sigterm_sent_as_soon_as_it_prints_its_address() -> None:
    for _ in range(5):
        proc = start_cli("--customers", "3")
        served(proc)
        err = stop(proc)
        assert proc.process.returncode == 0, err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--customers", "-5"], "customers"),
        (["--customers", "many"], "argument --customers: must be a whole number"),
        (["--seed", "3"], "--customers N"),
        (["--customers", "5", "--load", "x.json"], "not allowed with"),
        (["--load", "/nonexistent/customers.json"], "customers.json"),
        (["--max-page-size", "0"], "argument --max-page-size: must be a whole number, 1 or more"),
    ],
)
def test_cli_refuses_bad_sandbox_options_as_usage_errors(args: list[str], says: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "helpcrunch", "sandbox", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr
