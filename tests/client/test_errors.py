"""Each error class from a real response, with the documented bodies; their attributes,
messages, place in the hierarchy, and pickling."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

import helpcrunch
from helpcrunch import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    HelpCrunchError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from tests.support.scripted_server import (
    API_KEY,
    Close,
    Reply,
    ScriptedServer,
    Sleep,
    cut_off,
    free_port,
)

TWO_ELEMENTS = {
    "errors": [
        {"code": "invalid_request", "message": "Invalid request"},
        {"code": "not_found", "message": "Chat not found"},
    ]
}
ONE_ELEMENT = {"errors": [{"code": "entity_not_found", "message": "Customer not found"}]}
VALIDATION = {
    "errors": [
        {"code": "filter[0].field", "message": "This value should not be blank."},
        {"code": "filter[0].value", "message": "This value should be of type string."},
    ]
}
NON_NUMERIC = {"errors": [{"code": "customer", "message": "This value should be of type numeric."}]}
UNAUTHORIZED = {"errors": [{"code": "invalid_token", "message": "Invalid token"}]}
TOO_MANY = {"errors": [{"code": "too_many_requests", "message": "Too many requests"}]}
HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
    "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body>\r\n"
    "</html>\r\n"
)


def no_retry_client(server: ScriptedServer, **kwargs: Any) -> helpcrunch.Client:
    settings: dict[str, Any] = {"rate_limit": None, "max_retries": 0, **kwargs}
    return helpcrunch.Client(api_key=API_KEY, base_url=server.base_url, **settings)


def raised(server: ScriptedServer, reply: Any, **kwargs: Any) -> Any:
    """Make one call against `reply` and return the exception it raised."""
    server.enqueue(reply)
    with no_retry_client(server, **kwargs) as c, pytest.raises(HelpCrunchError) as info:
        c.remove_tags(1568834, ["Lead"])
    return info.value


STATUS_CLASSES = [
    (400, BadRequestError, NON_NUMERIC),
    (401, AuthenticationError, UNAUTHORIZED),
    (403, PermissionDeniedError, {"errors": [{"code": "forbidden", "message": "Forbidden"}]}),
    (404, NotFoundError, ONE_ELEMENT),
    (409, ConflictError, {"errors": [{"code": "conflict", "message": "Conflict"}]}),
    (422, UnprocessableEntityError, VALIDATION),
    (429, RateLimitError, TOO_MANY),
    (500, InternalServerError, {"errors": [{"code": "internal", "message": "Oops"}]}),
    (502, InternalServerError, HTML_502),
    (503, InternalServerError, ""),
    (504, InternalServerError, {"errors": []}),
    (418, APIStatusError, {"errors": [{"code": "teapot", "message": "I'm a teapot"}]}),
    (413, APIStatusError, "too large"),
    (302, APIStatusError, ""),
]


@pytest.mark.parametrize(
    ("status", "cls", "body"), STATUS_CLASSES, ids=[str(s[0]) for s in STATUS_CLASSES]
)
def test_status_maps_to_its_error_class(
    server: ScriptedServer, status: int, cls: type[APIStatusError], body: Any
) -> None:
    err = raised(server, Reply(status, body))
    assert type(err) is cls
    assert isinstance(err, APIStatusError)
    assert err.status_code == status
    assert len(server.requests) == 1


def test_class_is_decided_by_status_not_by_message(server: ScriptedServer) -> None:
    # A 400 whose text talks about "not found" is still a 400.
    err = raised(server, Reply(400, TWO_ELEMENTS))
    assert type(err) is BadRequestError


def test_errors_keeps_both_pairs_of_the_two_element_shape(server: ScriptedServer) -> None:
    err = raised(server, Reply(404, TWO_ELEMENTS))
    assert err.errors == TWO_ELEMENTS["errors"]
    assert err.codes == ["invalid_request", "not_found"]


def test_errors_keeps_the_one_element_shape(server: ScriptedServer) -> None:
    err = raised(server, Reply(404, ONE_ELEMENT))
    assert err.errors == ONE_ELEMENT["errors"]


def test_errors_keeps_validation_field_paths_as_codes(server: ScriptedServer) -> None:
    err = raised(server, Reply(422, VALIDATION))
    assert err.errors == VALIDATION["errors"]


def test_errors_are_plain_dicts_with_code_and_message(server: ScriptedServer) -> None:
    err = raised(server, Reply(400, NON_NUMERIC))
    assert all(type(e) is dict and set(e) == {"code", "message"} for e in err.errors)


def test_html_502_gives_internal_server_error_with_raw_text_in_body(
    server: ScriptedServer,
) -> None:
    err = raised(server, Reply(502, HTML_502, {"Content-Type": "text/html"}))
    assert type(err) is InternalServerError
    assert err.body == HTML_502
    assert err.errors == []


def test_json_error_body_is_kept_raw_in_body(server: ScriptedServer) -> None:
    raw = '{"errors":[{"code":"entity_not_found","message":"Customer not found"}]}'
    err = raised(server, Reply(404, raw, {"Content-Type": "application/json"}))
    assert err.body == raw


def test_empty_error_body_gives_empty_errors(server: ScriptedServer) -> None:
    err = raised(server, Reply(401, b""))
    assert type(err) is AuthenticationError
    assert err.errors == []
    assert err.body == ""


def test_str_is_one_line_with_status_details_and_attempts(server: ScriptedServer) -> None:
    err = raised(server, Reply(404, TWO_ELEMENTS))
    text = str(err)
    assert "\n" not in text
    assert "404" in text
    assert "Chat not found" in text
    assert "1 attempt" in text


def test_str_of_html_error_is_one_line(server: ScriptedServer) -> None:
    err = raised(server, Reply(502, HTML_502))
    text = str(err)
    assert "\n" not in text and "\r" not in text
    assert "502" in text


def test_str_counts_every_attempt_after_retries(server: ScriptedServer) -> None:
    server.set_default(Reply(503, ONE_ELEMENT, {"retry-after-ms": "10"}))
    with no_retry_client(server, max_retries=2) as c, pytest.raises(InternalServerError) as info:
        c.get_customer(1)
    assert info.value.attempts == 3
    assert "3 attempts" in str(info.value)
    assert "Customer not found" in str(info.value)


def test_message_attribute_equals_str(server: ScriptedServer) -> None:
    err = raised(server, Reply(404, ONE_ELEMENT))
    assert err.message == str(err)


def test_headers_of_the_response_are_kept(server: ScriptedServer) -> None:
    err = raised(server, Reply(404, ONE_ELEMENT, {"X-Request-Id": "req-42"}))
    headers = {k.lower(): v for k, v in err.headers.items()}
    assert headers["x-request-id"] == "req-42"
    assert headers["content-type"] == "application/json"


def test_attempts_is_one_without_retries(server: ScriptedServer) -> None:
    assert raised(server, Reply(404, ONE_ELEMENT)).attempts == 1


def test_rate_limit_error_has_retry_after_from_the_header(server: ScriptedServer) -> None:
    err = raised(server, Reply(429, TOO_MANY, {"Retry-After": "7"}))
    assert type(err) is RateLimitError
    assert err.retry_after == pytest.approx(7.0)


def test_rate_limit_error_without_a_hint_has_retry_after_none(server: ScriptedServer) -> None:
    err = raised(server, Reply(429, TOO_MANY))
    assert err.retry_after is None


def test_nothing_listening_raises_api_connection_error() -> None:
    c = helpcrunch.Client(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{free_port()}", rate_limit=None, max_retries=0
    )
    with pytest.raises(APIConnectionError) as info:
        c.get_customer(1)
    assert type(info.value) is APIConnectionError
    assert info.value.attempts == 1
    assert "\n" not in str(info.value)


def test_connection_closed_without_answer_raises_api_connection_error(
    server: ScriptedServer,
) -> None:
    err = raised(server, Close())
    assert type(err) is APIConnectionError
    assert err.attempts == 1


def test_body_cut_off_mid_way_raises_api_connection_error(server: ScriptedServer) -> None:
    err = raised(server, cut_off(500, '{"id": 1, "name": "Ad'))
    assert type(err) is APIConnectionError
    assert err.attempts == 1


def test_server_slower_than_timeout_raises_api_timeout_error(server: ScriptedServer) -> None:
    err = raised(server, Sleep(5), timeout=0.3)
    assert type(err) is APITimeoutError
    assert isinstance(err, APIConnectionError)
    assert err.attempts == 1
    assert "timeout" in str(err)


@pytest.mark.parametrize(
    "body",
    ["hello, not json", "[1, 2, 3]", "", '"a string"', "null", '{"id": 1'],
    ids=["text", "array", "empty", "string", "null", "cut-off"],
)
def test_2xx_without_a_json_object_raises_response_validation_error(
    server: ScriptedServer, body: str
) -> None:
    err = raised(server, Reply(200, body, {"Content-Type": "application/json"}), max_retries=2)
    assert type(err) is APIResponseValidationError
    assert err.status_code == 200
    assert err.body == body
    assert len(server.requests) == 1


def test_response_larger_than_the_cap_raises_response_validation_error(
    server: ScriptedServer,
) -> None:
    err = raised(server, Reply(200, {"id": 1, "pad": "x" * 5000}), max_response_bytes=1000)
    assert type(err) is APIResponseValidationError


HIERARCHY = [
    (APIError, HelpCrunchError),
    (APIStatusError, APIError),
    (BadRequestError, APIStatusError),
    (AuthenticationError, APIStatusError),
    (PermissionDeniedError, APIStatusError),
    (NotFoundError, APIStatusError),
    (ConflictError, APIStatusError),
    (UnprocessableEntityError, APIStatusError),
    (RateLimitError, APIStatusError),
    (InternalServerError, APIStatusError),
    (APIConnectionError, APIError),
    (APITimeoutError, APIConnectionError),
    (APIResponseValidationError, APIError),
    (HelpCrunchError, Exception),
    (helpcrunch.ConfigurationError, HelpCrunchError),
]


@pytest.mark.parametrize(("cls", "base"), HIERARCHY, ids=[c.__name__ for c, _ in HIERARCHY])
def test_error_hierarchy_matches_the_issue(cls: type, base: type) -> None:
    assert issubclass(cls, base)


def test_every_error_class_is_exported_from_the_package() -> None:
    for cls, _ in HIERARCHY:
        assert getattr(helpcrunch, cls.__name__) is cls
        assert cls.__name__ in helpcrunch.__all__


# Pickling


def roundtrip(err: Any) -> Any:
    return pickle.loads(pickle.dumps(err))


@pytest.mark.parametrize(
    ("status", "cls", "body"), STATUS_CLASSES, ids=[str(s[0]) for s in STATUS_CLASSES]
)
def test_status_errors_pickle_with_their_attributes(
    server: ScriptedServer, status: int, cls: type[APIStatusError], body: Any
) -> None:
    err = raised(server, Reply(status, body, {"Retry-After": "5", "X-Request-Id": "r1"}))
    back = roundtrip(err)
    assert type(back) is type(err)
    for attr in ("status_code", "errors", "body", "headers", "attempts", "retry_after", "message"):
        assert getattr(back, attr) == getattr(err, attr), attr
    assert str(back) == str(err)
    assert back.args == err.args


def test_connection_error_pickles_with_attempts() -> None:
    c = helpcrunch.Client(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{free_port()}", rate_limit=None, max_retries=0
    )
    with pytest.raises(APIConnectionError) as info:
        c.get_customer(1)
    back = roundtrip(info.value)
    assert type(back) is APIConnectionError
    assert (back.attempts, str(back)) == (info.value.attempts, str(info.value))


def test_timeout_error_pickles(server: ScriptedServer) -> None:
    err = raised(server, Sleep(5), timeout=0.3)
    back = roundtrip(err)
    assert type(back) is APITimeoutError
    assert (back.attempts, str(back)) == (err.attempts, str(err))


def test_response_validation_error_pickles(server: ScriptedServer) -> None:
    err = raised(server, Reply(200, "[1]"))
    back = roundtrip(err)
    assert type(back) is APIResponseValidationError
    assert (back.status_code, back.body, back.attempts, str(back)) == (
        err.status_code,
        err.body,
        err.attempts,
        str(err),
    )


def test_configuration_error_pickles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HELPCRUNCH_API_KEY", raising=False)
    with pytest.raises(helpcrunch.ConfigurationError) as info:
        helpcrunch.Client()
    back = roundtrip(info.value)
    assert type(back) is helpcrunch.ConfigurationError
    assert str(back) == str(info.value)


def test_closed_client_raises_client_closed_error_and_sends_nothing(
    server: ScriptedServer,
) -> None:
    c = no_retry_client(server)
    c.close()
    with pytest.raises(helpcrunch.ClientClosedError):
        c.get_customer(1)
    assert server.requests == []


# Every exception of the package round-trips through pickle unchanged: class, message, str,
# repr, args and every attribute (multiprocessing, Dask and concurrent.futures pickle them).


def _report() -> helpcrunch.BulkReport:
    results = [
        helpcrunch.BulkResult(0, 1, "Lead", True, {"id": 1, "tags": []}, None, 1),
        helpcrunch.BulkResult(
            1, "2", ["x"], False, None, helpcrunch.RequestCancelledError("stopped"), 1
        ),
    ]
    return helpcrunch.BulkReport(results)


def _every_exception() -> list[BaseException]:
    status = {
        "status_code": 404,
        "errors": [{"code": "not_found", "message": "no"}],
        "body": '{"errors": []}',
        "headers": {"X-Request-Id": "r1"},
        "attempts": 3,
        "retry_after": 2.5,
    }
    made: list[BaseException] = [
        helpcrunch.BulkInterrupted(_report()),
        helpcrunch.BulkError("item 1 failed", _report()),
        helpcrunch.APIConnectionError("connection error: reset", attempts=2),
        helpcrunch.APITimeoutError("no answer", attempts=3),
        helpcrunch.APIResponseValidationError("bad body", status_code=200, body="[1]"),
    ]
    for name in helpcrunch._exceptions.__all__:
        cls = getattr(helpcrunch, name)
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            continue
        if issubclass(cls, helpcrunch.APIStatusError):
            made.append(cls(f"HTTP error ({name})", **status))
        elif cls in (helpcrunch.BulkInterrupted, helpcrunch.BulkError):
            continue
        elif issubclass(cls, (helpcrunch.APIResponseValidationError,)):
            continue
        else:
            made.append(cls(f"{name}: something 'quoted' \u041b\u0438\u0434"))
    return made


@pytest.mark.parametrize("err", _every_exception(), ids=lambda e: type(e).__name__)
def test_every_exception_round_trips_through_pickle_unchanged(err: BaseException) -> None:
    err.add_note("a note")
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(err, protocol=protocol))
        assert type(back) is type(err)
        assert str(back) == str(err)
        assert repr(back) == repr(err)
        assert back.args == err.args
        assert getattr(back, "message", None) == getattr(err, "message", None)
        for name, value in vars(err).items():
            if name == "report":
                assert repr(back.report) == repr(value)
                assert [r.as_row() for r in back.report] == [r.as_row() for r in value]
            else:
                assert getattr(back, name) == value, name


def test_every_exception_class_is_covered_by_the_pickle_test() -> None:
    covered = {type(e) for e in _every_exception()}
    exported = {
        getattr(helpcrunch, n)
        for n in helpcrunch._exceptions.__all__
        if isinstance(getattr(helpcrunch, n), type)
        and issubclass(getattr(helpcrunch, n), BaseException)
    }
    assert exported <= covered
