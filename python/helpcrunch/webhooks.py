"""HelpCrunch webhooks: check that a request came from HelpCrunch, and read its event.

HelpCrunch signs each webhook request: its ``X-HelpCrunch-Signature`` header is the hex
HMAC-SHA1 of the raw request body under the webhook's secret. :func:`parse` checks that
signature (in constant time) and returns the event, typed; :func:`verify` only checks it.

>>> event = helpcrunch.webhooks.parse(body, request.headers.get(SIGNATURE_HEADER), secret)
>>> if event.name == "customer.tags_changed":
...     tags = helpcrunch.get_customer(event.customer.id)["tags"]

Pass the body exactly as it came off the wire (``bytes``), never a decoded or re-encoded
copy: the signature is over those bytes, and decoding JSON and encoding it again changes
them (spacing, key order, ``\\u00e9`` against ``é``), so a genuine request would be refused.

A customer event carries the customer's id, name, email, userId, unsubscribed and custom data,
not its tags: fetch the customer for those. An event name this module does not know still
parses (the API grows), with its ``data`` and ``raw`` as sent.

The secret never appears in a message, a repr or a log record of this module.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any, Final

from ._exceptions import WebhookPayloadError, WebhookSignatureError

__all__ = [
    "CUSTOMER_EVENTS",
    "SIGNATURE_HEADER",
    "WebhookCustomer",
    "WebhookEvent",
    "WebhookPayloadError",
    "WebhookSignatureError",
    "parse",
    "verify",
]

#: The request header that carries the signature.
SIGNATURE_HEADER: Final = "X-HelpCrunch-Signature"

#: The events HelpCrunch documents; each carries a customer in its ``eventData``.
CUSTOMER_EVENTS: Final = frozenset(
    {
        "customer.new",
        "customer.deleted",
        "customer.tags_changed",
        "customer.email_updated",
        "customer.unsubscribed",
        "customer.subscribed",
        "customer.blocked",
        "customer.unblocked",
    }
)

#: A hex SHA-1 digest has 40 digits.
_SIGNATURE_LENGTH: Final = 40
_HEX_DIGITS: Final = frozenset("0123456789abcdef")

#: Keys of a customer object that are not custom data (the documented Customer fields): what is
#: left of ``eventData`` when it carries its custom data as keys of its own.
_CUSTOMER_FIELDS: Final = frozenset(
    {
        "id", "name", "email", "userId", "company", "phone", "firstSeen", "lastSeen",
        "location", "device", "unsubscribed", "blocked", "source", "referer", "lastPage",
        "locale", "createdFrom", "integrationId", "notes", "tags", "customData",
    }
)  # fmt: skip


@dataclass(frozen=True)
class WebhookCustomer:
    """The customer an event is about, as the event carries it (not its tags)."""

    #: HelpCrunch's numeric customer id: pass it to ``get_customer`` for the rest.
    id: int
    name: str | None = None
    email: str | None = None
    #: ``userId``: your own id for the customer.
    user_id: str | None = None
    unsubscribed: bool | None = None
    #: The custom data, as ``{key: value}``; empty when the event carries none.
    custom_data: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class WebhookEvent:
    """One webhook request's event."""

    #: ``customer.tags_changed`` and the like; one not in :data:`CUSTOMER_EVENTS` is kept too.
    name: str
    #: The event's unique id (the same on a retried delivery: use it to skip repeats); None
    #: when the body has none.
    id: str | None
    #: When the event happened, as a UNIX time; None when the body does not say.
    created_at: int | None
    #: How many deliveries were tried before this one.
    attempts: int
    #: When the last delivery was tried, as a UNIX time, or None.
    last_attempt_at: int | None
    #: The customer, for a customer event (and any event whose data has a customer ``id``).
    customer: WebhookCustomer | None
    #: ``eventData`` as sent.
    data: Any = field(default=None, repr=False, compare=False, hash=False)
    #: The whole body, decoded, as sent.
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, hash=False)

    @property
    def known(self) -> bool:
        """Whether HelpCrunch documents this event (see :data:`CUSTOMER_EVENTS`)."""
        return self.name in CUSTOMER_EVENTS


def _key(secret: str | bytes | bytearray) -> bytes:
    if isinstance(secret, str):
        try:
            key = secret.encode("utf-8")
        except UnicodeEncodeError:
            # Its message (and .object) would hold the secret: say it in our words only.
            raise ValueError("secret is not valid text (it has lone surrogates)") from None
    elif isinstance(secret, (bytes, bytearray)):
        key = bytes(secret)
    else:
        raise TypeError(f"secret must be a str or bytes, not {type(secret).__name__}")
    if not key:
        raise ValueError("secret is empty: pass the secret of the webhook in HelpCrunch")
    return key


def _raw_body(body: bytes | bytearray | memoryview) -> bytes:
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    raise TypeError(
        f"body must be the request's raw bytes, not {type(body).__name__}: the signature is "
        "over the bytes as sent, which a decoded copy may not reproduce"
    )


def _signature_problem(body: bytes, signature: str | bytes | None, key: bytes) -> str | None:
    """None when ``signature`` is the body's; else what is wrong with it."""
    if isinstance(signature, (bytes, bytearray)):
        signature = bytes(signature).decode("ascii", "replace")
    if signature is None or not signature.strip():
        return f"the request has no signature (the {SIGNATURE_HEADER} header)"
    if not isinstance(signature, str):
        return f"the signature must be a str, not {type(signature).__name__}"
    given = signature.strip().lower()
    if len(given) != _SIGNATURE_LENGTH or not _HEX_DIGITS.issuperset(given):
        return (
            f"the signature is malformed: a hex HMAC-SHA1 has {_SIGNATURE_LENGTH} hex digits, "
            f"got {len(given)} characters"
            + ("" if _HEX_DIGITS.issuperset(given) else " that are not all hex digits")
        )
    expected = hmac.new(key, body, hashlib.sha1).hexdigest()
    if not hmac.compare_digest(expected, given):
        return (
            "the signature does not match the body: the body was changed, or signed under "
            "another secret"
        )
    return None


def verify(
    body: bytes | bytearray | memoryview,
    signature: str | bytes | None,
    secret: str | bytes | bytearray,
) -> bool:
    """Whether ``signature`` (the ``X-HelpCrunch-Signature`` header, or None when absent) is
    the hex HMAC-SHA1 of ``body`` (the raw request bytes) under ``secret``; compared in
    constant time. A missing or malformed signature is False."""
    return _signature_problem(_raw_body(body), signature, _key(secret)) is None


def parse(
    body: bytes | bytearray | memoryview,
    signature: str | bytes | None,
    secret: str | bytes | bytearray,
) -> WebhookEvent:
    """The event of a webhook request, once its signature is checked.

    ``body`` must be the raw request bytes (see the module's notes); ``signature`` the
    ``X-HelpCrunch-Signature`` header (None when absent); ``secret`` the webhook's secret.

    Raises :class:`~helpcrunch.WebhookSignatureError` when the signature is missing, malformed
    or not the body's (checked first: nothing of an unsigned body is read), and
    :class:`~helpcrunch.WebhookPayloadError` when a signed body is not JSON or not an event.
    """
    raw_body = _raw_body(body)
    problem = _signature_problem(raw_body, signature, _key(secret))
    if problem is not None:
        raise WebhookSignatureError(problem)
    return _event(raw_body)


def _event(body: bytes) -> WebhookEvent:
    try:
        raw = json.loads(body)
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise WebhookPayloadError(f"the body is not JSON ({e})") from None
    except RecursionError:
        raise WebhookPayloadError("the body is not an event: JSON nested too deep") from None
    if not isinstance(raw, dict):
        raise WebhookPayloadError(
            f"the body is not an event: a JSON object was expected, got {_json_type(raw)}"
        )
    name = raw.get("event")
    if not isinstance(name, str) or not name.strip():
        raise WebhookPayloadError(
            "the body is not an event: it has no 'event' name"
            if name is None
            else f"the body is not an event: 'event' must be a non-empty string, got {name!r}"
        )
    data = raw.get("eventData")
    customer = _customer(name, data)
    event_id = raw.get("id")
    if event_id is not None and (
        isinstance(event_id, bool) or not isinstance(event_id, (str, int))
    ):
        raise WebhookPayloadError(f"{name}: 'id' must be a string, got {_json_type(event_id)}")
    attempts = _integer(name, raw, "attempts")
    return WebhookEvent(
        name=name,
        id=None if event_id is None else str(event_id),
        created_at=_integer(name, raw, "createdAt"),
        attempts=0 if attempts is None else attempts,
        last_attempt_at=_integer(name, raw, "lastAttemptAt"),
        customer=customer,
        data=data,
        raw=raw,
    )


def _customer(name: str, data: Any) -> WebhookCustomer | None:
    """The customer of ``eventData``: required for a documented customer event; for another
    event, read when its data has a customer ``id``."""
    required = name in CUSTOMER_EVENTS
    if not isinstance(data, dict):
        if required:
            raise WebhookPayloadError(
                f"{name}: 'eventData' must be an object with the customer, got {_json_type(data)}"
            )
        return None
    if data.get("id") is None and not required:
        return None
    customer_id = _integer(name, data, "id", where="eventData")
    if customer_id is None:
        raise WebhookPayloadError(f"{name}: 'eventData' has no customer 'id'")
    texts = {key: _text(name, data, key) for key in ("name", "email", "userId")}
    unsubscribed = data.get("unsubscribed")
    if unsubscribed is not None and not isinstance(unsubscribed, bool):
        if unsubscribed not in (0, 1):
            raise WebhookPayloadError(
                f"{name}: eventData.unsubscribed must be true or false, "
                f"got {_json_type(unsubscribed)}"
            )
        unsubscribed = bool(unsubscribed)
    return WebhookCustomer(
        id=customer_id,
        name=texts["name"],
        email=texts["email"],
        user_id=texts["userId"],
        unsubscribed=unsubscribed,
        custom_data=_custom_data(data),
    )


def _custom_data(data: dict[str, Any]) -> dict[str, Any]:
    """``customData`` as an object, or as the older ``[{"property", "value"}]`` list; when the
    event has no ``customData`` key, its keys besides the customer's fields (the docs say the
    event carries "its customData keys", which reads both ways)."""
    custom = data.get("customData")
    if isinstance(custom, dict):
        return dict(custom)
    if isinstance(custom, list):
        return {
            item["property"]: item.get("value")
            for item in custom
            if isinstance(item, dict) and isinstance(item.get("property"), str)
        }
    if "customData" in data:
        return {}
    return {k: v for k, v in data.items() if k not in _CUSTOMER_FIELDS}


def _text(name: str, data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    if key == "userId" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # your own id, which a site may have sent as a number
    raise WebhookPayloadError(f"{name}: eventData.{key} must be a string, got {_json_type(value)}")


def _integer(name: str, obj: dict[str, Any], key: str, *, where: str = "") -> int | None:
    """An integer, or a string of digits (HelpCrunch documents its times as strings)."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    path = f"{where}.{key}" if where else key
    raise WebhookPayloadError(f"{name}: {path} must be an integer, got {_json_type(value)}")


def _json_type(value: Any) -> str:
    """How a message names a decoded JSON value: its JSON type, never its (maybe private) text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
