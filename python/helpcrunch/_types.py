"""Types of what goes in and comes out, for type checkers and readers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, SupportsIndex, TypedDict

__all__ = [
    "CallName",
    "ChangeKind",
    "ClientSettings",
    "Condition",
    "Customer",
    "CustomerChangeKind",
    "CustomerId",
    "Device",
    "Location",
    "Match",
    "SearchStats",
    "Tag",
    "TagCall",
    "TagSpec",
    "Tags",
]


class Tag(TypedDict):
    """A tag as HelpCrunch returns it."""

    name: str
    color: str


class _TagSpecRequired(TypedDict):
    name: str


class TagSpec(_TagSpecRequired, total=False):
    """A tag as you pass it: a name, and for ``add_tags`` an optional colour (any CSS colour)."""

    color: str


class Location(TypedDict, total=False):
    regionCode: str | None
    countryCode: str | None
    city: str | None


class Device(TypedDict, total=False):
    id: int
    ip: str | None
    timezone: str | None
    platform: str | None
    userAgent: str | None


class _CustomerRequired(TypedDict):
    id: int


class Customer(_CustomerRequired, total=False):
    """A HelpCrunch customer, as the API sends it: every field kept, extra ones included.

    ``firstSeen``/``lastSeen`` are UNIX timestamps (strings in newer responses, ints in older
    ones); ``customData`` is an object in newer responses and a list of
    ``{"property", "value"}`` in older ones.
    """

    name: str | None
    email: str | None
    userId: str | None
    company: str | None
    phone: str | None
    firstSeen: str | int | None
    lastSeen: str | int | None
    location: Location | None
    device: Device | None
    unsubscribed: bool
    blocked: bool
    source: str | None
    referer: str | None
    lastPage: str | None
    locale: str | None
    createdFrom: str | None
    integrationId: str | None
    notes: str | None
    tags: list[Tag]
    customData: dict[str, Any] | list[dict[str, Any]] | None


#: A customer id: an int (or numpy integer) or a string of digits, e.g. ``1568834``.
CustomerId = int | str | SupportsIndex

#: One tag name, one ``{"name": …}`` mapping, or an iterable of either.
Tags = str | TagSpec | Mapping[str, Any] | Iterable[str | TagSpec | Mapping[str, Any]]

#: The calls on one customer, by the names the core knows them by (``helpcrunch._native.CALLS``
#: also has the page calls of a search, made through ``NativeSearch``).
CallName = Literal["remove_tags", "add_tags", "get_customer"]

#: The calls that change a customer's tags: what a bulk run or a CSV file does to each row.
TagCall = Literal["remove_tags", "add_tags"]
#: What a :class:`~helpcrunch.Change` does to its customer (a plan item's action when it writes).
ChangeKind = Literal["add", "remove"]
#: The kinds of change to a customer's fields or the customer itself (a customer sync's).
CustomerChangeKind = Literal["set", "create", "delete"]


class ClientSettings(TypedDict):
    """A client's settings as the core holds them (the key aside)."""

    base_url: str
    timeout: float
    max_retries: int
    rate_limit: float | None
    #: As shown: a Redis password masked. None: the client's own budget.
    rate_limit_backend: str | None
    allow_insecure_http: bool
    max_response_bytes: int


#: One search condition: ``(field, operator, value)``, e.g. ``("lastSeen", ">=", 1700000000)``,
#: or the same as text, ``"lastSeen >= 1700000000"``. The field may carry the ``customers.``
#: prefix; operators are ``= != ~ !~ > >= < <=``.
Condition = tuple[str, str, Any] | str

#: How conditions combine: every one (``"all"``, HelpCrunch's AND) or any (``"any"``, OR).
Match = Literal["all", "any"]


class SearchStats(TypedDict):
    """What a search did so far (``CustomerSearch.stats``)."""

    requests: int
    found: int
    page_size: int
    pages: int
    rejected_pages: int
    duplicates: int
    unchecked_tie_runs: int
    unstable_ties: bool
    #: The server's ``total`` and the customers it served disagree: the scan ended before the
    #: total (nothing was served past some offset: a deep-paging cap, or customers gone since
    #: they were counted; or the same customers came back page after page), or pages went
    #: past it. What was served is all handed out; a WARNING is logged at the end.
    total_disagrees: bool
