"""The sandbox's webhooks over real HTTP: which changes send which event, the body HelpCrunch
sends, its signature (checked here with the standard library's hmac), order, retries of a
failing receiver, and giving up after a bounded number of attempts."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from helpcrunch.sandbox import DEMO_CUSTOMER_ID, Sandbox
from tests.sandbox._raw import call
from tests.support.cli import serve_sandbox

SECRET = "whsec-test-0123456789"
JOHN = DEMO_CUSTOMER_ID
CINDY = DEMO_CUSTOMER_ID + 1
MAX_ATTEMPTS = 4
EVENT_DATA_KEYS = ["id", "name", "email", "userId", "unsubscribed", "customData"]


class Receiver:
    """A local webhook endpoint: answers each POST with the next status of ``script`` (then
    ``then``), and keeps every request's headers and raw body."""

    def __init__(self, script: list[int] | None = None, then: int = 200) -> None:
        self.script = list(script or [])
        self.then = then
        self.received: list[tuple[dict[str, str], bytes]] = []
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, raw))
                    status = receiver.script.pop(0) if receiver.script else receiver.then
                    receiver._lock.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/helpcrunch"

    def wait_for(self, count: int, timeout: float = 30) -> None:
        """Until ``count`` requests have arrived (for a sandbox in another process)."""
        with self._lock:
            assert self._lock.wait_for(lambda: len(self.received) >= count, timeout)

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(raw) for _, raw in self.received]

    def events(self) -> list[str]:
        return [b["event"] for b in self.bodies()]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def sb(receiver: Receiver) -> Iterator[Sandbox]:
    with Sandbox(webhook_url=receiver.url, webhook_secret=SECRET) as sandbox:
        yield sandbox


def signed(headers: dict[str, str], raw: bytes, secret: str = SECRET) -> bool:
    expected = hmac.new(secret.encode(), raw, hashlib.sha1).hexdigest()
    return hmac.compare_digest(headers.get("x-helpcrunch-signature", ""), expected)


def test_a_created_customer_sends_customer_new_signed_in_helpcrunchs_shape(
    sb: Sandbox, receiver: Receiver
) -> None:
    start = int(time.time())
    status, created = call(
        sb,
        "POST",
        "/customers",
        {"name": "Ann", "email": "ann@example.com", "tags": [{"name": "vip"}]},
    )
    assert status == 201
    stats = sb.wait_webhooks()
    assert (stats.queued, stats.delivered, stats.failed, stats.attempts) == (1, 1, 0, 1)
    [(headers, raw)] = receiver.received
    assert signed(headers, raw)
    assert headers["x-helpcrunch-signature"] == headers["x-helpcrunch-signature"].lower()
    assert headers["content-type"] == "application/json"
    body = json.loads(raw)
    assert list(body) == ["event", "eventData", "attempts", "lastAttemptAt", "createdAt", "id"]
    assert body["event"] == "customer.new"
    assert body["attempts"] == 0
    assert start <= body["createdAt"] <= body["lastAttemptAt"] <= int(time.time())
    assert isinstance(body["id"], str) and body["id"]
    data = body["eventData"]
    assert list(data) == EVENT_DATA_KEYS, "the docs' fields, without tags"
    assert data == {k: created[k] for k in EVENT_DATA_KEYS}


def test_a_wrong_secret_does_not_verify(sb: Sandbox, receiver: Receiver) -> None:
    call(sb, "POST", "/customers", {})
    sb.wait_webhooks()
    [(headers, raw)] = receiver.received
    assert not signed(headers, raw, secret="another")
    assert not signed(headers, raw + b" ")


def test_tag_changes_send_tags_changed_and_no_ops_send_nothing(
    sb: Sandbox, receiver: Receiver
) -> None:
    with sb.client() as client:
        client.add_tags(JOHN, "vip")  # carried already: no change
        client.remove_tags(JOHN, "never-had")  # not carried: no change
        client.add_tags(JOHN, "Fresh")
        client.remove_tags(JOHN, ["vip", "Lead", "Fresh"])  # every tag: a change too
    sb.wait_webhooks()
    assert receiver.events() == ["customer.tags_changed", "customer.tags_changed"]
    assert all(b["eventData"]["id"] == JOHN for b in receiver.bodies())
    assert all("tags" not in b["eventData"] for b in receiver.bodies())


@pytest.mark.parametrize(
    ("change", "events"),
    [
        ({"email": "new@example.com"}, ["customer.email_updated"]),
        ({"email": "john.doe@example.com"}, []),  # the same email
        ({"unsubscribed": True}, ["customer.unsubscribed"]),
        ({"blocked": True}, ["customer.blocked"]),
        ({"name": "Only a name", "customData": {"a": 1}}, []),
        (
            {"email": None, "unsubscribed": True, "blocked": True},
            ["customer.email_updated", "customer.unsubscribed", "customer.blocked"],
        ),
    ],
)
def test_a_patch_sends_an_event_per_change(
    sb: Sandbox, receiver: Receiver, change: dict[str, Any], events: list[str]
) -> None:
    status, after = call(sb, "PATCH", f"/customers/{JOHN}", change)
    assert status == 200
    sb.wait_webhooks()
    assert receiver.events() == events
    for body in receiver.bodies():
        assert body["eventData"] == {k: after[k] for k in EVENT_DATA_KEYS}


def test_turning_flags_back_sends_subscribed_and_unblocked(sb: Sandbox, receiver: Receiver) -> None:
    call(sb, "PATCH", f"/customers/{JOHN}", {"unsubscribed": True, "blocked": True})
    call(sb, "PATCH", f"/customers/{JOHN}", {"unsubscribed": False})
    call(sb, "PUT", f"/customers/{JOHN}", {"email": "john.doe@example.com"})  # nulls `blocked`
    sb.wait_webhooks()
    assert receiver.events() == [
        "customer.unsubscribed",
        "customer.blocked",
        "customer.subscribed",
        "customer.unblocked",
    ]


def test_a_batch_sends_each_customers_events_in_order(sb: Sandbox, receiver: Receiver) -> None:
    items = [
        {"customer": CINDY, "email": "c@example.com", "unsubscribed": False},
        {"customer": JOHN, "email": "john.doe@example.com", "unsubscribed": True},
    ]
    assert call(sb, "PUT", "/customers/batch", items)[0] == 200
    sb.wait_webhooks()
    assert [(b["event"], b["eventData"]["id"]) for b in receiver.bodies()] == [
        ("customer.email_updated", CINDY),
        ("customer.unsubscribed", JOHN),
    ]


def test_a_deleted_customer_sends_customer_deleted_with_what_it_was(
    sb: Sandbox, receiver: Receiver
) -> None:
    john = dict(sb.customer(JOHN))
    assert call(sb, "DELETE", f"/customers/{JOHN}")[0] == 200
    sb.wait_webhooks()
    [body] = receiver.bodies()
    assert body["event"] == "customer.deleted"
    assert body["eventData"] == {k: john[k] for k in EVENT_DATA_KEYS}


def test_refused_requests_send_nothing(sb: Sandbox, receiver: Receiver) -> None:
    call(sb, "PATCH", f"/customers/{JOHN}", {"email": 5})
    call(sb, "PATCH", "/customers/999", {"email": "x@example.com"})
    call(sb, "PATCH", f"/customers/{JOHN}", {"userId": sb.customer(CINDY)["userId"]})
    call(sb, "PUT", "/customers/batch", [{"customer": JOHN, "blocked": True}, {"customer": 999}])
    call(sb, "DELETE", "/customers/999")
    call(sb, "POST", "/customers", {"name": "x"}, key="wrong")
    assert sb.wait_webhooks().queued == 0
    assert receiver.received == []


def test_many_changes_arrive_in_order_with_unique_ids(sb: Sandbox, receiver: Receiver) -> None:
    emails = [f"n{i}@example.com" for i in range(30)]
    for email in emails:
        call(sb, "PATCH", f"/customers/{JOHN}", {"email": email})
    stats = sb.wait_webhooks()
    assert (stats.delivered, stats.failed) == (30, 0)
    bodies = receiver.bodies()
    assert [b["eventData"]["email"] for b in bodies] == emails
    assert len({b["id"] for b in bodies}) == 30


def test_a_failing_receiver_gets_the_event_again_until_it_takes_it() -> None:
    receiver = Receiver(script=[500, 503])
    try:
        with Sandbox(webhook_url=receiver.url, webhook_secret=SECRET) as sb:
            call(sb, "PATCH", f"/customers/{JOHN}", {"blocked": True})
            stats = sb.wait_webhooks()
        assert (stats.queued, stats.delivered, stats.failed, stats.attempts) == (1, 1, 0, 3)
        bodies = receiver.bodies()
        assert [b["attempts"] for b in bodies] == [0, 1, 2]
        assert len({b["id"] for b in bodies}) == 1, "the same event each time"
        assert all(signed(h, raw) for h, raw in receiver.received), "each attempt is signed"
    finally:
        receiver.close()


def test_a_receiver_that_always_fails_gets_a_bounded_number_of_attempts() -> None:
    receiver = Receiver(then=500)
    try:
        with Sandbox(webhook_url=receiver.url, webhook_secret=SECRET) as sb:
            call(sb, "PATCH", f"/customers/{JOHN}", {"blocked": True})
            stats = sb.wait_webhooks()
            assert (stats.delivered, stats.failed, stats.attempts) == (0, 1, MAX_ATTEMPTS)
            assert len(receiver.received) == MAX_ATTEMPTS
            # Given up on, the event is gone; later events still go out.
            receiver.then = 200
            call(sb, "PATCH", f"/customers/{JOHN}", {"blocked": False})
            stats = sb.wait_webhooks()
        assert (stats.delivered, stats.failed, stats.attempts) == (1, 1, MAX_ATTEMPTS + 1)
        assert receiver.events()[-1] == "customer.unblocked"
    finally:
        receiver.close()


def test_an_unreachable_receiver_counts_as_failed() -> None:
    closed = Receiver()
    url = closed.url
    closed.close()  # nothing listens there now: connection refused
    with Sandbox(webhook_url=url, webhook_secret=SECRET) as sb:
        assert call(sb, "POST", "/customers", {})[0] == 201, "the request does not wait"
        stats = sb.wait_webhooks()
    assert (stats.delivered, stats.failed, stats.attempts) == (0, 1, MAX_ATTEMPTS)


def test_without_a_url_nothing_is_sent_or_counted() -> None:
    with Sandbox() as sb:
        call(sb, "POST", "/customers", {})
        assert tuple(sb.wait_webhooks(timeout=0)) == (0, 0, 0, 0)
        assert sb.webhook_stats.settled


def test_the_secret_never_shows(sb: Sandbox, receiver: Receiver) -> None:
    assert SECRET not in repr(sb) and SECRET not in str(sb.webhook_stats)
    with pytest.raises(ValueError) as caught:
        Sandbox(webhook_secret=SECRET)
    assert SECRET not in str(caught.value)
    with pytest.raises(ValueError, match="webhook_url") as caught:
        Sandbox(webhook_url="ftp://example.com/", webhook_secret=SECRET)
    assert SECRET not in str(caught.value)


@dataclass
class Address:
    base_url: str
    api_key: str


def test_the_cli_sends_webhooks_signed_with_the_secret_from_a_file(
    receiver: Receiver, tmp_path: Path
) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET + "\n")
    served = serve_sandbox(
        "--webhook-url", receiver.url, "--webhook-secret-file", str(secret_file),
        "--error-style", "one",
    )  # fmt: skip
    try:
        assert SECRET not in " ".join(served.process.args)  # type: ignore[arg-type]
        sb = Address(served.exports["HELPCRUNCH_BASE_URL"], served.exports["HELPCRUNCH_API_KEY"])
        assert call(sb, "GET", "/customers/999") == (
            404,
            {"errors": [{"code": "entity_not_found", "message": "Customer not found"}]},
        )
        assert call(sb, "DELETE", f"/customers/{JOHN}")[0] == 200
        receiver.wait_for(1)
    finally:
        err = served.stop()
    assert SECRET not in err
    [(headers, raw)] = receiver.received
    assert signed(headers, raw) and json.loads(raw)["event"] == "customer.deleted"


@pytest.mark.parametrize(
    "args",
    [
        ["--webhook-url", "http://127.0.0.1:9/"],
        ["--webhook-secret-file", "secret.txt"],
        ["--webhook-url", "http://127.0.0.1:9/", "--webhook-secret-file", "missing.txt"],
        ["--webhook-url", "http://127.0.0.1:9/", "--webhook-secret-file", "empty.txt"],
        ["--error-style", "three"],
    ],
)
def test_the_cli_refuses_incomplete_webhook_or_style_options(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret.txt").write_text(SECRET)
    (tmp_path / "empty.txt").write_text("\n")
    served = serve_sandbox(*args)
    assert served.exports == {}
    _, err = served.process.communicate(timeout=30)
    assert served.process.returncode == 2, err
    assert SECRET not in err
