"""The sandbox's error styles (the shapes HelpCrunch's docs show for 401, 404 and 429), over real
HTTP, and the client's typed exceptions against each: the class by the status, every
``{code, message}`` pair kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import helpcrunch
from helpcrunch.sandbox import DEMO_CUSTOMER_ID, Sandbox
from tests.sandbox._raw import call

GENERIC = {"code": "invalid_request", "message": "Invalid request"}

#: The errors each style gives, by status: (401, 404 of a customer, 429).
EXPECTED: dict[str, dict[int, list[dict[str, str]]]] = {
    "mixed": {
        401: [GENERIC, {"code": "unauthorized", "message": "Unauthorized"}],
        404: [{"code": "entity_not_found", "message": "Customer not found"}],
        429: [GENERIC, {"code": "too_many_requests", "message": "Too many requests"}],
    },
    "two": {
        401: [GENERIC, {"code": "unauthorized", "message": "Unauthorized"}],
        404: [GENERIC, {"code": "not_found", "message": "Customer not found"}],
        429: [GENERIC, {"code": "too_many_requests", "message": "Too many requests"}],
    },
    "one": {
        401: [{"code": "invalid_token", "message": "Invalid token"}],
        404: [{"code": "entity_not_found", "message": "Customer not found"}],
        429: [{"code": "too_many_requests", "message": "You have exceeded your requests limit"}],
    },
}
STYLES = list(EXPECTED)
UNKNOWN = 999

Call = Callable[[helpcrunch.Client], Any]
CALLS: dict[str, Call] = {
    "get": lambda c: c.get_customer(UNKNOWN),
    "tag": lambda c: c.add_tags(UNKNOWN, "x"),
    "untag": lambda c: c.remove_tags(UNKNOWN, "x"),
}
ANY_CALLS: dict[str, Call] = {
    "get": lambda c: c.get_customer(DEMO_CUSTOMER_ID),
    "tag": lambda c: c.add_tags(DEMO_CUSTOMER_ID, "x"),
    "untag": lambda c: c.remove_tags(DEMO_CUSTOMER_ID, "x"),
    "search": lambda c: list(c.search_customers(tag="vip")),
}


def test_the_default_style_is_mixed() -> None:
    with Sandbox() as sb:
        assert call(sb, "GET", f"/customers/{UNKNOWN}")[1]["errors"] == EXPECTED["mixed"][404]
        assert call(sb, "GET", "/customers/1", key="bad")[1]["errors"] == EXPECTED["mixed"][401]


@pytest.mark.parametrize("style", STYLES)
def test_each_style_shapes_401_404_and_429_over_http(style: str) -> None:
    with Sandbox(error_style=style, rate_limit=3) as sb:  # type: ignore[arg-type]
        assert call(sb, "GET", f"/customers/{UNKNOWN}") == (404, {"errors": EXPECTED[style][404]})
        assert call(sb, "DELETE", f"/customers/{UNKNOWN}")[1]["errors"] == EXPECTED[style][404]
        assert call(sb, "GET", "/customers/1", key="bad") == (401, {"errors": EXPECTED[style][401]})
        assert call(sb, "GET", "/customers") == (429, {"errors": EXPECTED[style][429]})


@pytest.mark.parametrize("style", STYLES)
def test_validation_errors_keep_their_field_paths_in_every_style(style: str) -> None:
    with Sandbox(error_style=style) as sb:  # type: ignore[arg-type]
        status, body = call(sb, "GET", "/customers/abc")
        assert (status, body["errors"][-1]["code"]) == (400, "customer")
        status, body = call(sb, "POST", "/customers/search", {"filter": [{"field": "nope"}]})
        assert status == 400 and "filter[0].field" in [e["code"] for e in body["errors"]]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("name", list(CALLS))
def test_not_found_reaches_the_client_typed_with_every_pair(style: str, name: str) -> None:
    with Sandbox(error_style=style) as sb, sb.client() as client:  # type: ignore[arg-type]
        with pytest.raises(helpcrunch.NotFoundError) as caught:
            CALLS[name](client)
    err = caught.value
    assert err.status_code == 404
    assert err.errors == EXPECTED[style][404]
    assert err.codes == [e["code"] for e in EXPECTED[style][404]]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("name", list(ANY_CALLS))
def test_a_bad_key_reaches_the_client_as_authentication_error(style: str, name: str) -> None:
    with Sandbox(error_style=style) as sb:  # type: ignore[arg-type]
        client = helpcrunch.Client(api_key="wrong", base_url=sb.base_url, rate_limit=None)
        with client, pytest.raises(helpcrunch.AuthenticationError) as caught:
            ANY_CALLS[name](client)
    assert caught.value.status_code == 401
    assert caught.value.errors == EXPECTED[style][401]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("name", list(ANY_CALLS))
def test_the_rate_limit_reaches_the_client_as_rate_limit_error(style: str, name: str) -> None:
    with Sandbox(error_style=style, rate_limit=1) as sb:  # type: ignore[arg-type]
        assert call(sb, "GET", f"/customers/{DEMO_CUSTOMER_ID}")[0] == 200
        with sb.client(max_retries=0) as client, pytest.raises(helpcrunch.RateLimitError) as caught:
            ANY_CALLS[name](client)
    assert caught.value.status_code == 429
    assert caught.value.errors == EXPECTED[style][429]


@pytest.mark.parametrize("style", STYLES)
def test_injected_faults_follow_the_style(style: str) -> None:
    with Sandbox(error_style=style) as sb:  # type: ignore[arg-type]
        sb.fail_next(503)
        status, body = call(sb, "GET", f"/customers/{DEMO_CUSTOMER_ID}")
    assert status == 503
    generic_first = body["errors"][0] == GENERIC
    assert generic_first == (style != "one")
    assert body["errors"][-1]["code"] == "service_unavailable"


def test_an_unknown_style_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="error_style"):
        Sandbox(error_style="three")  # type: ignore[arg-type]
