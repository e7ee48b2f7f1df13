"""Every error class on a search page, for the blocking and the async client: the page requests
go through the same retries, timeouts, error classes and key hygiene as the tag calls. The
customers of the pages before the failing one are handed out first."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import helpcrunch
from tests.support.scripted_server import (
    API_KEY,
    Action,
    Close,
    Hang,
    Reply,
    ScriptedServer,
)
from tests.support.search import leads, page

WAYS = ["sync", "async"]


def scan(way: str, server: ScriptedServer, **settings: Any) -> tuple[list[int], BaseException]:
    """Iterate a search of pages of 10 until it fails: the ids handed out, and the error."""
    settings = {"rate_limit": None, "max_retries": 0, "timeout": 5.0, **settings}
    ids: list[int] = []
    if way == "sync":
        with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, **settings) as c:
            with pytest.raises(helpcrunch.HelpCrunchError) as raised:
                for customer in c.search_customers(tag="Lead", page_size=10):
                    ids.append(customer["id"])
        return ids, raised.value

    async def main() -> BaseException:
        async with helpcrunch.AsyncClient(
            api_key=API_KEY, base_url=server.base_url, **settings
        ) as ac:
            try:
                async for customer in ac.search_customers(tag="Lead", page_size=10):
                    ids.append(customer["id"])
            except helpcrunch.HelpCrunchError as e:
                return e
        raise AssertionError("the search did not fail")

    return ids, asyncio.run(main())


def pages_then(server: ScriptedServer, pages: int, *then: Action) -> None:
    """``pages`` good pages of 10 (of 100 leads), then ``then``."""
    customers = leads(100)
    server.enqueue(
        *[page(customers[i * 10 : i * 10 + 10], 100) for i in range(pages)],
        *then,
    )


def assert_clean(error: BaseException) -> None:
    for text in (str(error), repr(error)):
        assert API_KEY not in text


@pytest.mark.parametrize("way", WAYS)
def test_a_400_on_page_seven_raises_bad_request_with_the_servers_field_path(
    server: ScriptedServer, way: str
) -> None:
    body = {
        "errors": [
            {"code": "invalid_request", "message": "Invalid request"},
            {"code": "filter[0].value", "message": "This value should be of type string."},
        ]
    }
    pages_then(server, 6, Reply(400, body))
    ids, error = scan(way, server)
    assert ids == list(range(1, 61))
    assert type(error) is helpcrunch.BadRequestError
    assert error.status_code == 400
    assert error.codes == ["invalid_request", "filter[0].value"]
    assert "should be of type string" in str(error)
    assert "/customers/search" in str(error)
    assert len(server.requests) == 7
    assert_clean(error)


STATUSES = [
    (401, helpcrunch.AuthenticationError),
    (403, helpcrunch.PermissionDeniedError),
    (404, helpcrunch.NotFoundError),
    (409, helpcrunch.ConflictError),
    (422, helpcrunch.UnprocessableEntityError),
    (429, helpcrunch.RateLimitError),
    (500, helpcrunch.InternalServerError),
    (503, helpcrunch.InternalServerError),
]


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(("status", "cls"), STATUSES)
def test_each_status_on_a_later_page_raises_its_class(
    server: ScriptedServer, way: str, status: int, cls: type[Exception]
) -> None:
    body = {"errors": [{"code": "x", "message": f"status {status} says no"}]}
    pages_then(server, 2, Reply(status, body, {"Retry-After": "0"}))
    ids, error = scan(way, server)
    assert ids == list(range(1, 21))
    assert type(error) is cls, error
    assert f"status {status} says no" in str(error)
    assert_clean(error)


@pytest.mark.parametrize("way", WAYS)
def test_429_and_5xx_on_a_page_are_retried_and_the_scan_goes_on(
    server: ScriptedServer, way: str
) -> None:
    customers = leads(30)
    server.enqueue(
        page(customers[:10], 30),
        Reply(
            429,
            {"errors": [{"code": "too_many_requests", "message": "slow"}]},
            {"Retry-After": "0"},
        ),
        Reply(502, "<html>Bad gateway</html>", {"Content-Type": "text/html"}),
        page(customers[10:20], 30),
        Close(),
        page(customers[20:], 30),
    )
    settings: dict[str, Any] = {"rate_limit": None, "max_retries": 3}
    if way == "sync":
        with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, **settings) as c:
            ids = [x["id"] for x in c.search_customers(tag="Lead", page_size=10)]
    else:

        async def main() -> list[int]:
            async with helpcrunch.AsyncClient(
                api_key=API_KEY, base_url=server.base_url, **settings
            ) as ac:
                return [x["id"] async for x in ac.search_customers(tag="Lead", page_size=10)]

        ids = asyncio.run(main())
    assert ids == list(range(1, 31))
    assert len(server.requests) == 6


@pytest.mark.parametrize("way", WAYS)
def test_a_page_that_never_comes_times_out(server: ScriptedServer, way: str) -> None:
    pages_then(server, 2, Hang())
    ids, error = scan(way, server, timeout=0.5)
    assert ids == list(range(1, 21))
    assert type(error) is helpcrunch.APITimeoutError
    assert_clean(error)


@pytest.mark.parametrize("way", WAYS)
def test_a_connection_closed_without_an_answer_is_a_connection_error(
    server: ScriptedServer, way: str
) -> None:
    pages_then(server, 1, Close())
    ids, error = scan(way, server)
    assert ids == list(range(1, 11))
    assert type(error) is helpcrunch.APIConnectionError


NOT_PAGES = {
    "a customer": (Reply(200, {"id": 5, "name": "x"}), "no 'data'"),
    "a list": (Reply(200, [1, 2]), "got an array"),
    "data not a list": (Reply(200, {"data": {"id": 1}, "total": 1}), "not a list"),
    "a customer without id": (Reply(200, {"data": [{"name": "x"}], "total": 9}), "'id'"),
    "a negative total": (Reply(200, {"data": [], "total": -3}), "not a count"),
    "no total": (Reply(200, {"data": []}), "no 'total'"),
    "cut short": (Reply(200, '{"data": [{"id": 1}'), "not valid JSON"),
    "empty": (Reply(200, b""), "empty"),
    "not JSON": (Reply(200, "<html>hello</html>"), "not valid JSON"),
}


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("case", list(NOT_PAGES))
def test_a_page_body_that_is_not_a_page_is_a_validation_error(
    server: ScriptedServer, way: str, case: str
) -> None:
    reply, says = NOT_PAGES[case]
    pages_then(server, 1, reply)
    ids, error = scan(way, server)
    assert ids == list(range(1, 11))
    assert type(error) is helpcrunch.APIResponseValidationError
    assert says in str(error), str(error)
    assert error.status_code == 200


@pytest.mark.parametrize("way", WAYS)
def test_a_count_raises_the_same_classes(server: ScriptedServer, way: str) -> None:
    server.enqueue(Reply(401, {"errors": [{"code": "unauthorized", "message": "bad key"}]}))
    with pytest.raises(helpcrunch.AuthenticationError) as raised:
        if way == "sync":
            with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url) as c:
                c.count_customers(tag="Lead")
        else:

            async def main() -> int:
                async with helpcrunch.AsyncClient(api_key=API_KEY, base_url=server.base_url) as ac:
                    return await ac.count_customers(tag="Lead")

            asyncio.run(main())
    assert_clean(raised.value)


def test_after_an_error_the_search_is_over(server: ScriptedServer) -> None:
    pages_then(server, 1, Reply(400, {"errors": [{"code": "filter", "message": "no"}]}))
    with helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, rate_limit=None) as c:
        found = c.search_customers(tag="Lead", page_size=10)
        assert len([next(found) for _ in range(10)]) == 10
        with pytest.raises(helpcrunch.BadRequestError):
            next(found)
        assert list(found) == []
    assert len(server.requests) == 2
