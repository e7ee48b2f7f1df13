"""helpcrunch.webhooks: a request is read only when its X-HelpCrunch-Signature is the hex
HMAC-SHA1 of its raw body under the secret; the event comes back typed; nothing it raises
or shows holds the secret. Bodies are signed here, as HelpCrunch signs them."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import http.client
import http.server
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import helpcrunch
from helpcrunch import webhooks
from helpcrunch.webhooks import SIGNATURE_HEADER, WebhookEvent

SECRET = "whsec-0123456789-very-private"


def sign(body: bytes, secret: str | bytes = SECRET) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha1).hexdigest()


def event_body(name: str = "customer.tags_changed", **data: Any) -> bytes:
    """A body in HelpCrunch's documented shape."""
    event_data = {
        "id": 542335,
        "name": "John Doe",
        "email": "john@example.com",
        "userId": "u-17",
        "unsubscribed": False,
        "customData": {"plan": "pro"},
        **data,
    }
    return json.dumps(
        {
            "event": name,
            "eventData": event_data,
            "attempts": 0,
            "lastAttemptAt": 1700000100,
            "createdAt": 1700000000,
            "id": "evt-5f1c",
        }
    ).encode()


def test_a_signed_event_is_parsed_typed() -> None:
    body = event_body()
    event = webhooks.parse(body, sign(body), SECRET)
    assert isinstance(event, WebhookEvent)
    assert (event.name, event.id, event.created_at, event.attempts, event.last_attempt_at) == (
        "customer.tags_changed",
        "evt-5f1c",
        1700000000,
        0,
        1700000100,
    )
    assert event.known
    assert event.customer == helpcrunch.WebhookCustomer(
        id=542335,
        name="John Doe",
        email="john@example.com",
        user_id="u-17",
        unsubscribed=False,
        custom_data={"plan": "pro"},
    )
    assert event.raw == json.loads(body)
    assert event.data == json.loads(body)["eventData"]
    assert webhooks.verify(body, sign(body), SECRET)


def test_events_are_frozen() -> None:
    body = event_body()
    event = webhooks.parse(body, sign(body), SECRET)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.name = "customer.new"  # type: ignore[misc]
    assert event.customer is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.customer.id = 1  # type: ignore[misc]


@pytest.mark.parametrize("name", sorted(webhooks.CUSTOMER_EVENTS))
def test_every_documented_event_parses(name: str) -> None:
    body = event_body(name)
    event = webhooks.parse(body, sign(body), SECRET)
    assert event.name == name and event.known
    assert event.customer is not None and event.customer.id == 542335


def test_an_unknown_event_parses_with_its_data() -> None:
    body = json.dumps(
        {"event": "chat.closed", "eventData": {"chat": 9, "agent": "Ann"}, "id": "e2"}
    ).encode()
    event = webhooks.parse(body, sign(body), SECRET)
    assert (event.name, event.known, event.customer) == ("chat.closed", False, None)
    assert event.data == {"chat": 9, "agent": "Ann"}
    assert event.raw["eventData"]["agent"] == "Ann"
    assert event.attempts == 0 and event.created_at is None


@pytest.mark.parametrize(
    ("data", "custom"),
    [
        ({"customData": {"plan": "pro"}}, {"plan": "pro"}),
        ({"customData": [{"property": "plan", "value": "pro"}]}, {"plan": "pro"}),
        ({"customData": None}, {}),
        # "its customData keys" read as keys of eventData itself
        ({"customData": ..., "plan": "pro", "seats": 3}, {"plan": "pro", "seats": 3}),
    ],
)
def test_custom_data_is_read_in_every_documented_shape(
    data: dict[str, Any], custom: dict[str, Any]
) -> None:
    raw = json.loads(event_body())
    raw["eventData"].pop("customData")
    raw["eventData"].update({k: v for k, v in data.items() if v is not ...})
    body = json.dumps(raw).encode()
    event = webhooks.parse(body, sign(body), SECRET)
    assert event.customer is not None and event.customer.custom_data == custom


def test_times_and_ids_given_as_strings_are_read() -> None:
    raw = json.loads(event_body(id="542335", userId=17))
    raw.update({"createdAt": "1700000000", "attempts": "2"})
    body = json.dumps(raw).encode()
    event = webhooks.parse(body, sign(body), SECRET)
    assert (event.created_at, event.attempts) == (1700000000, 2)
    assert event.customer is not None and event.customer.id == 542335
    assert event.customer.user_id == "17"


# --- signatures -----------------------------------------------------------------------------


def refused(body: bytes, signature: Any, secret: Any = SECRET) -> str:
    assert not webhooks.verify(body, signature, secret)
    with pytest.raises(helpcrunch.WebhookSignatureError) as raised:
        webhooks.parse(body, signature, secret)
    assert isinstance(raised.value, helpcrunch.HelpCrunchError)
    return str(raised.value)


@pytest.mark.parametrize("signature", [None, "", "   ", b""])
def test_a_missing_signature_is_refused(signature: Any) -> None:
    assert "no signature" in refused(event_body(), signature)


@pytest.mark.parametrize(
    "signature",
    [
        "abc",
        "0" * 39,
        "0" * 41,
        "z" * 40,
        "sha1=" + "0" * 40,
        sign(event_body()) + "00",
        hashlib.sha256(event_body()).hexdigest(),
        "é" * 40,
    ],
)
def test_a_malformed_signature_is_refused(signature: str) -> None:
    assert "malformed" in refused(event_body(), signature)


def test_a_wrong_signature_is_refused() -> None:
    body = event_body()
    assert "does not match" in refused(body, sign(body, "another secret"))
    assert "does not match" in refused(body, sign(b"{}"))
    assert "does not match" in refused(body, "0" * 40)


@settings(max_examples=200, deadline=None, database=None)
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_a_body_changed_by_one_byte_is_refused(position: int, flip: int) -> None:
    body = event_body()
    signature = sign(body)
    changed = bytearray(body)
    changed[position % len(body)] ^= flip
    assert "does not match" in refused(bytes(changed), signature)
    # And one byte more or less.
    assert "does not match" in refused(body + b" ", signature)
    assert "does not match" in refused(body[:-1], signature)


def test_a_signature_is_read_in_any_case_with_spaces_around_and_as_bytes() -> None:
    body = event_body()
    for signature in (sign(body).upper(), f"  {sign(body)}\r\n", sign(body).encode()):
        assert webhooks.parse(body, signature, SECRET).name == "customer.tags_changed"


def test_the_secret_may_be_bytes_and_the_body_a_bytearray_or_memoryview() -> None:
    body = event_body()
    assert webhooks.verify(bytearray(body), sign(body), SECRET.encode())
    assert webhooks.verify(memoryview(body), sign(body), bytearray(SECRET.encode()))
    key = bytes(range(256))
    assert webhooks.verify(body, sign(body, key), key)


def test_the_body_must_be_raw_bytes() -> None:
    body = event_body()
    with pytest.raises(TypeError, match="raw bytes"):
        webhooks.parse(body.decode(), sign(body), SECRET)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="raw bytes"):
        webhooks.verify(json.loads(body), sign(body), SECRET)


def test_an_unusable_secret_is_a_bad_argument_that_does_not_show_it() -> None:
    body = event_body()
    with pytest.raises(ValueError, match="secret is empty"):
        webhooks.parse(body, sign(body), "")
    with pytest.raises(TypeError, match="secret must be a str or bytes"):
        webhooks.parse(body, sign(body), 12345)  # type: ignore[arg-type]
    surrogate = "private\ud800secret"
    with pytest.raises(ValueError) as raised:
        webhooks.verify(body, sign(body), surrogate)
    assert "private" not in repr(raised.value) and raised.value.__cause__ is None
    assert raised.value.__suppress_context__


# --- bodies that are not events -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "not JSON"),
        (b"event=customer.new", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        (b"[1, 2]", "JSON object was expected, got an array"),
        (b'"customer.new"', "got a string"),
        (b"{}", "no 'event' name"),
        (b'{"event": ""}', "'event' must be a non-empty string"),
        (b'{"event": 5}', "'event' must be a non-empty string"),
        (b'{"event": "customer.new"}', "'eventData' must be an object"),
        (b'{"event": "customer.new", "eventData": []}', "got an array"),
        (b'{"event": "customer.new", "eventData": {"name": "x"}}', "no customer 'id'"),
        (b'{"event": "customer.new", "eventData": {"id": "x1"}}', "eventData.id must be an int"),
        (b'{"event": "customer.new", "eventData": {"id": 1, "email": 5}}', "eventData.email"),
        (b'{"event": "x.y", "attempts": "many"}', "attempts must be an integer"),
        (b'{"event": "x.y", "createdAt": true}', "createdAt must be an integer"),
        (b'{"event": "x.y", "id": {"a": 1}}', "'id' must be a string"),
        (b"[" * 100_000, "not"),
    ],
)
def test_a_signed_body_that_is_not_an_event_raises_a_payload_error(body: bytes, says: str) -> None:
    assert webhooks.verify(body, sign(body), SECRET)
    with pytest.raises(helpcrunch.WebhookPayloadError) as raised:
        webhooks.parse(body, sign(body), SECRET)
    assert isinstance(raised.value, helpcrunch.HelpCrunchError)
    assert isinstance(raised.value, ValueError)
    assert says in str(raised.value), str(raised.value)


def test_an_unsigned_body_is_never_read() -> None:
    # Not JSON and not signed: the signature is what is reported.
    with pytest.raises(helpcrunch.WebhookSignatureError):
        webhooks.parse(b"not json", "0" * 40, SECRET)


# --- the secret stays secret ----------------------------------------------------------------


def test_the_secret_is_in_no_message_repr_or_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = event_body(name=SECRET)  # even a body that carries the secret's text
    shown: list[str] = []
    for signature in (None, "abc", "0" * 40, sign(body, "other"), sign(body, SECRET + "x")):
        with pytest.raises(helpcrunch.WebhookSignatureError) as raised:
            webhooks.parse(body, signature, SECRET)
        shown += [str(raised.value), repr(raised.value), repr(raised.value.args)]
    for bad in (b"nope", b"{}", b'{"event": "customer.new", "eventData": {"id": 1, "name": 5}}'):
        with pytest.raises(helpcrunch.WebhookPayloadError) as payload:
            webhooks.parse(bad, sign(bad), SECRET)
        shown += [str(payload.value), repr(payload.value)]
    event = webhooks.parse(event_body(), sign(event_body()), SECRET)
    shown += [repr(event), str(event), repr(event.customer)]
    shown += [r.getMessage() for r in caplog.records]
    for text in shown:
        assert SECRET not in text
        assert "very-private" not in text


# --- end to end: a receiver built on the standard library -----------------------------------


class Receiver(http.server.BaseHTTPRequestHandler):
    events: list[WebhookEvent]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            event = webhooks.parse(body, self.headers.get(SIGNATURE_HEADER), SECRET)
        except helpcrunch.WebhookSignatureError:
            self.send_response(401)
        except helpcrunch.WebhookPayloadError:
            self.send_response(400)
        else:
            self.events.append(event)
            self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[http.server.HTTPServer, list[WebhookEvent]]]:
    events: list[WebhookEvent] = []
    handler = type("Handler", (Receiver,), {"events": events})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, events
    server.shutdown()
    server.server_close()
    thread.join()


def post(server: http.server.HTTPServer, body: bytes, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    try:
        conn.request("POST", "/hook", body=body, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def test_a_receiver_takes_signed_requests_and_refuses_the_rest(
    receiver: tuple[http.server.HTTPServer, list[WebhookEvent]],
) -> None:
    server, events = receiver
    body = event_body()
    assert post(server, body, {SIGNATURE_HEADER: sign(body)}) == 204
    assert post(server, body, {}) == 401
    assert post(server, body + b" ", {SIGNATURE_HEADER: sign(body)}) == 401
    assert post(server, b"nope", {SIGNATURE_HEADER: sign(b"nope")}) == 400
    # Header names are case-insensitive on the wire.
    assert post(server, body, {SIGNATURE_HEADER.lower(): sign(body)}) == 204
    assert [e.name for e in events] == ["customer.tags_changed"] * 2
    assert events[0].customer is not None and events[0].customer.id == 542335
