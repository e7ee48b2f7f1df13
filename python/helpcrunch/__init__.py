"""helpcrunch: manage HelpCrunch customer tags from Python, on a Rust core.

>>> import helpcrunch
>>> customer = helpcrunch.remove_tags(1568834, ["Lead"])   # HELPCRUNCH_API_KEY from the environment

Module-level functions use a shared default client built from ``HELPCRUNCH_API_KEY``,
``HELPCRUNCH_BASE_URL`` and ``HELPCRUNCH_RATE_LIMIT_BACKEND`` (read at the first call, and
again whenever they change). Make a :class:`Client` or :class:`AsyncClient` to choose
settings yourself.
"""

from __future__ import annotations

# Imported under private names: ``dir(helpcrunch)`` lists the public API only (see __dir__).
import atexit as _atexit
import os as _os
import threading as _threading
from collections.abc import Iterable

from . import _exceptions, _logs, _native, webhooks
from ._client import DEFAULT_BASE_URL, DEFAULT_PAGE_SIZE, ENV_SETTINGS, AsyncClient, Client
from ._customers_apply import Conflict, UndoReport
from ._customers_sync import CustomerItem, CustomerPlan
from ._exceptions import *  # noqa: F403 (the exception classes, listed in their __all__)
from ._native import Change, __version__
from ._report import BulkReport, BulkResult
from ._search import AsyncCustomerSearch, CustomerSearch, flatten
from ._segments import TagsPlan
from ._sync import DEFAULT_LOOKUP_BATCH, PlanItem, TagPlan
from ._types import Condition, Customer, CustomerId, Match, SearchStats, Tag, Tags, TagSpec
from .webhooks import WebhookCustomer, WebhookEvent

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_LOOKUP_BATCH",
    "AsyncClient",
    "AsyncCustomerSearch",
    "BulkReport",
    "BulkResult",
    "Change",
    "Client",
    "Condition",
    "Conflict",
    "Customer",
    "CustomerId",
    "CustomerItem",
    "CustomerPlan",
    "CustomerSearch",
    "Match",
    "PlanItem",
    "SearchStats",
    "Tag",
    "TagPlan",
    "TagSpec",
    "Tags",
    "TagsPlan",
    "UndoReport",
    "WebhookCustomer",
    "WebhookEvent",
    "__version__",
    "add_tags",
    "add_tags_async",
    "count_customers",
    "count_customers_async",
    "flatten",
    "get_customer",
    "get_customer_async",
    "list_customers",
    "remove_tags",
    "remove_tags_async",
    "search_customers",
    "webhooks",
]
__all__ += _exceptions.__all__


def __dir__() -> list[str]:
    # The public API, not the names this module's code imports (Iterable, ENV_SETTINGS) nor
    # its private modules.
    return sorted(__all__)


_logs.setup_from_env()
# Threads still in a blocking call when the interpreter exits must not re-enter it, and the
# core's last log records must be emitted (src/python/bridge.rs).
_atexit.register(_native._prepare_exit)

_default_lock = _threading.Lock()
#: The shared clients (one native client behind both) and the environment they came from.
_defaults: tuple[Client, AsyncClient] | None = None
_default_env: tuple[str | None, ...] = ()


def _after_fork_in_child() -> None:
    # A thread building the shared clients when another one forked left the lock held in the
    # child, where that thread does not exist: the child's first module-level call would wait
    # for it forever.
    global _default_lock
    _default_lock = _threading.Lock()


if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_after_fork_in_child)


def _default_clients() -> tuple[Client, AsyncClient]:
    """The shared clients, rebuilt when the environment they came from changes."""
    global _defaults, _default_env
    env = tuple(_os.environ.get(name) for name in ENV_SETTINGS)
    clients = _defaults
    if clients is not None and env == _default_env:
        return clients
    with _default_lock:
        if _defaults is None or env != _default_env:
            client = Client()
            _defaults = (client, AsyncClient._from_native(client._native))
            _default_env = env
        return _defaults


def _default() -> Client:
    return _default_clients()[0]


def _default_async() -> AsyncClient:
    return _default_clients()[1]


def remove_tags(customer_id: CustomerId, tags: Tags) -> Customer:
    """Remove tags from a customer and return the customer as it now is.

    ```python
    >>> helpcrunch.remove_tags(542335, ["Lead"])["tags"]
    [{'name': 'vip', 'color': '#ff0000'}]
    ```
    """
    return _default().remove_tags(customer_id, tags)


def add_tags(customer_id: CustomerId, tags: Tags) -> Customer:
    """Add tags to a customer (unknown tags are created) and return the customer."""
    return _default().add_tags(customer_id, tags)


def get_customer(customer_id: CustomerId) -> Customer:
    """Fetch a customer."""
    return _default().get_customer(customer_id)


async def remove_tags_async(customer_id: CustomerId, tags: Tags) -> Customer:
    """Awaitable :func:`remove_tags`."""
    return await _default_async().remove_tags(customer_id, tags)


async def add_tags_async(customer_id: CustomerId, tags: Tags) -> Customer:
    """Awaitable :func:`add_tags`."""
    return await _default_async().add_tags(customer_id, tags)


async def get_customer_async(customer_id: CustomerId) -> Customer:
    """Awaitable :func:`get_customer`."""
    return await _default_async().get_customer(customer_id)


def search_customers(
    *,
    tag: str | Iterable[str] | None = None,
    email: str | None = None,
    user_id: str | None = None,
    where: Iterable[Condition] | None = None,
    match: Match = "all",
    page_size: int = DEFAULT_PAGE_SIZE,
    limit: int | None = None,
) -> CustomerSearch:
    """The customers matching a search, page by page (see :meth:`Client.search_customers`).

    ```python
    >>> for customer in helpcrunch.search_customers(tag="Lead"):
    ...     print(customer["email"])
    ```
    """
    return _default().search_customers(
        tag=tag,
        email=email,
        user_id=user_id,
        where=where,
        match=match,
        page_size=page_size,
        limit=limit,
    )


def list_customers(
    *, page_size: int = DEFAULT_PAGE_SIZE, limit: int | None = None
) -> CustomerSearch:
    """Every customer of the account, page by page (see :meth:`Client.list_customers`)."""
    return _default().list_customers(page_size=page_size, limit=limit)


def count_customers(
    *,
    tag: str | Iterable[str] | None = None,
    email: str | None = None,
    user_id: str | None = None,
    where: Iterable[Condition] | None = None,
    match: Match = "all",
) -> int:
    """How many customers match a search (the whole account without filters): one request."""
    return _default().count_customers(
        tag=tag, email=email, user_id=user_id, where=where, match=match
    )


async def count_customers_async(
    *,
    tag: str | Iterable[str] | None = None,
    email: str | None = None,
    user_id: str | None = None,
    where: Iterable[Condition] | None = None,
    match: Match = "all",
) -> int:
    """Awaitable :func:`count_customers`."""
    return await _default_async().count_customers(
        tag=tag, email=email, user_id=user_id, where=where, match=match
    )
