"""The sandbox: a fake HelpCrunch on this machine, for trying the package and testing pipelines
without a network or an account (as moto is for AWS and stripe-mock for Stripe).

>>> from helpcrunch.sandbox import Sandbox
>>> with Sandbox() as sb, sb.client() as client:
...     client.remove_tags(542335, "Lead")["tags"]
[{'name': 'vip', 'color': '#ff0000'}]

It is a real HTTP server on 127.0.0.1 (written in Rust, running on the package's runtime) that
answers the v1 calls this package makes, with HelpCrunch's status codes and error bodies.
Customers live in memory. Started without ``customers`` it holds a demo set whose first
customer is the one from HelpCrunch's docs: 542335, "John Doe", tagged "vip" and "Lead";
``Sandbox(customers=200_000, seed=1)`` holds a generated account of that size instead.
"""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Literal, NamedTuple, SupportsIndex

from ._client import AsyncClient, Client
from ._exceptions import _refused
from ._native import SandboxServer
from ._types import Customer

__all__ = ["DEMO_CUSTOMER_ID", "ErrorStyle", "Sandbox", "SandboxRequest", "WebhookStats"]

#: How the sandbox shapes errors that are not about a field (401, 404, 429): "mixed" (the
#: default: two elements, a generic ``invalid_request`` first, except the one-element ``404
#: entity_not_found``), "two" (always the generic element first, then the detail) or "one"
#: (the detail alone: ``invalid_token``, ``entity_not_found``, ``too_many_requests``).
ErrorStyle = Literal["mixed", "two", "one"]

#: The first demo customer: HelpCrunch's own example, tagged "vip" and "Lead".
DEMO_CUSTOMER_ID = 542335


class WebhookStats(NamedTuple):
    """Webhook events the sandbox made (``queued``), delivered (answered 2xx), gave up on
    (``failed``: every attempt failed, the queue was full, or the sandbox stopped), and the
    POSTs it sent (``attempts``, retries included)."""

    queued: int
    delivered: int
    failed: int
    attempts: int

    @property
    def settled(self) -> bool:
        """Every event made so far is delivered or given up on."""
        return self.queued == self.delivered + self.failed


class SandboxRequest(NamedTuple):
    """A request the sandbox received. ``status`` is 0 for a connection it dropped."""

    method: str
    path: str
    status: int


_U32_MAX = 2**32 - 1


def _whole_number(name: str, value: object, low: int = 0, high: int = 2**64 - 1) -> int:
    """``value`` as an int from ``low`` to ``high`` (an int or a NumPy integer), or a TypeError or
    ValueError naming ``name`` (rather than a bare OverflowError from the native layer)."""
    if isinstance(value, bool) or not isinstance(value, SupportsIndex):
        detail = f"must be an int, not {type(value).__name__}"
        raise _refused(TypeError)(f"{name} {detail}", parameter=name, detail=detail)
    number = operator.index(value)
    if not low <= number <= high:
        detail = f"must be an integer from {low} to {high}, got {number!r}"
        raise _refused(ValueError)(f"{name} {detail}", parameter=name, detail=detail)
    return number


class Sandbox:
    """A fake HelpCrunch serving on ``base_url`` until :meth:`close` (or the end of ``with``).

    - ``customers``: the starting customers (dicts as the API returns them; those without an
      ``id`` get one); or a number N for a generated account of N realistic customers, ids 1
      to N, the same for the same ``seed`` on every machine; or None for the demo set.
    - ``seed``: which generated account (by default the same one every time); only with
      ``customers=N``.
    - ``load``: a file to load the customers from instead: a JSON array of customer objects,
      or JSON Lines (one object per line).
    - ``api_key``: the key it accepts (``Authorization: Bearer <key>``); others get 401.
    - ``rate_limit``: answer 429 past this many requests in any 60 s, as HelpCrunch does at 120.
    - ``max_page_size``, ``max_filters``: answer 400 (naming ``limit`` or ``filter``) to a list
      or search asking for a larger page or sending more filters. HelpCrunch documents no such
      caps; set them to test a client against caps the real API may have. None: no cap.
    - ``unstable_ties``: give customers with equal ``firstSeen`` (or ``lastSeen``) a fresh
      random order in every sorted list or search, as a database paging with ``ORDER BY ...
      LIMIT ... OFFSET`` may, to test a client's paging against the worst case. Off: in id
      order.
    - ``error_style``: the shape of 401, 404 and 429 bodies (see :data:`ErrorStyle`): HelpCrunch's
      docs show several, and a client must cope with each.
    - ``webhook_url``, ``webhook_secret``: POST HelpCrunch's signed webhook events there when
      customers change through the API (``customer.new``, ``customer.deleted``,
      ``customer.tags_changed``, ``customer.email_updated``, ``customer.(un)subscribed``,
      ``customer.(un)blocked``); see :attr:`webhook_stats` and :meth:`wait_webhooks`. The
      secret is never shown.
    - ``port``: 0 picks a free one.
    """

    def __init__(
        self,
        customers: Iterable[Mapping[str, Any]] | int | None = None,
        api_key: str = "sandbox-key",
        rate_limit: int | None = None,
        *,
        seed: int | None = None,
        load: str | os.PathLike[str] | None = None,
        max_page_size: int | None = None,
        max_filters: int | None = None,
        unstable_ties: bool = False,
        port: int = 0,
        host: str = "127.0.0.1",
        log_capacity: int = SandboxServer.DEFAULT_LOG_CAPACITY,
        error_style: ErrorStyle = "mixed",
        webhook_url: str | None = None,
        webhook_secret: str | bytes | None = None,
    ) -> None:
        if rate_limit is not None:
            rate_limit = _whole_number("rate_limit", rate_limit, 0, _U32_MAX)
        port = _whole_number("port", port, 0, 65535)
        log_capacity = _whole_number("log_capacity", log_capacity, 0, _U32_MAX)
        if load is not None and customers is not None:
            raise ValueError("pass customers or load, not both")
        generate = None
        customers_json = None
        if isinstance(customers, SupportsIndex) and not isinstance(customers, bool):
            generate = _whole_number("customers", customers)
            seed = None if seed is None else _whole_number("seed", seed)
        elif seed is not None:
            raise ValueError("seed is for a generated account: pass customers=N with it")
        elif customers is not None:
            if isinstance(customers, (str, bytes, Mapping)) or not isinstance(customers, Iterable):
                raise TypeError(
                    "customers must be a number or an iterable of dicts, "
                    f"not {type(customers).__name__}"
                )
            customers_json = json.dumps([dict(c) for c in customers])
        self._server = SandboxServer(
            api_key,
            rate_limit,
            customers_json,
            host,
            port,
            log_capacity,
            generate=generate,
            seed=seed,
            load=None if load is None else os.fspath(load),
            max_page_size=None
            if max_page_size is None
            else _whole_number("max_page_size", max_page_size),
            max_filters=None if max_filters is None else _whole_number("max_filters", max_filters),
            unstable_ties=bool(unstable_ties),
            error_style=error_style,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret.decode()
            if isinstance(webhook_secret, bytes)
            else webhook_secret,
        )
        self._closed = False

    def _fail_next(self, kind: str, times: int, **details: Any) -> None:
        _whole_number("times", times, 0, _U32_MAX)
        self._server.fail_next(kind, times, **details)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: pass it as a client's ``base_url``."""
        return self._server.base_url

    @property
    def api_key(self) -> str:
        return self._server.api_key

    @property
    def port(self) -> int:
        return self._server.port

    def client(self, **settings: Any) -> Client:
        """A :class:`~helpcrunch.Client` for this sandbox (rate limit off unless given)."""
        settings.setdefault("rate_limit", None)
        return Client(api_key=self.api_key, base_url=self.base_url, **settings)

    def async_client(self, **settings: Any) -> AsyncClient:
        """An :class:`~helpcrunch.AsyncClient` for this sandbox (rate limit off unless given)."""
        settings.setdefault("rate_limit", None)
        return AsyncClient(api_key=self.api_key, base_url=self.base_url, **settings)

    def customer(self, customer_id: int) -> Customer:
        """The customer's current state. Raises ``KeyError`` for an unknown id."""
        found = self._server.customer(customer_id)
        if found is None:
            raise KeyError(f"the sandbox has no customer {customer_id}")
        return found

    def customers(self) -> list[Customer]:
        """Every customer, ordered by id."""
        return self._server.customers()

    @property
    def customer_count(self) -> int:
        """How many customers it holds now (cheap, unlike ``len(customers())``)."""
        return self._server.customer_count()

    @property
    def requests(self) -> list[SandboxRequest]:
        """What it received (the most recent ``log_capacity``), oldest first."""
        return [SandboxRequest(*r) for r in self._server.requests()]

    @property
    def request_count(self) -> int:
        """All requests since start or :meth:`clear_requests`, beyond the log's capacity too."""
        return self._server.request_count()

    def status_count(self, status: int) -> int:
        """How many requests were answered with ``status`` (0: dropped)."""
        return self._server.status_count(status)

    @property
    def connection_count(self) -> int:
        """TCP connections accepted since start."""
        return self._server.connection_count()

    def clear_requests(self) -> None:
        self._server.clear_requests()

    # Fault injection. Each queues a fault for the next ``times`` requests (optionally only those
    # with ``method`` and a path starting with ``path``, e.g. "/v1/customers/542335"); faults are
    # served in the order they were queued.

    def fail_next(
        self,
        status: int,
        times: int = 1,
        retry_after: float | str | None = None,
        body: str | bytes | None = None,
        *,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer ``status``. Without ``body``, HelpCrunch's JSON error body for that status;
        with one (e.g. a proxy's HTML page), those bytes. ``retry_after`` sets ``Retry-After``
        (seconds, or any text such as an HTTP date)."""
        raw = body.encode() if isinstance(body, str) else body
        if raw is not None and content_type is None:
            content_type = "text/html" if raw.lstrip().startswith(b"<") else "text/plain"
        self._fail_next(
            "status",
            times,
            status=status,
            retry_after=None if retry_after is None else _retry_after_text(retry_after),
            body=raw,
            content_type=content_type,
            headers=list((headers or {}).items()),
            method=method,
            path_prefix=path,
        )

    def delay_next(
        self, seconds: float, times: int = 1, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Answer normally, ``seconds`` late (other requests are not held up)."""
        self._fail_next("latency", times, seconds=seconds, method=method, path_prefix=path)

    def drop_next(
        self,
        times: int = 1,
        *,
        after_processing: bool = False,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Close the connection without answering; with ``after_processing`` the change is made
        first (the client cannot tell whether it took effect)."""
        kind = "drop_after" if after_processing else "drop"
        self._fail_next(kind, times, method=method, path_prefix=path)

    def not_json_next(
        self, times: int = 1, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Answer 200 with a body that is not JSON."""
        self._fail_next("not_json", times, method=method, path_prefix=path)

    def truncate_next(
        self, times: int = 1, *, method: str | None = None, path: str | None = None
    ) -> None:
        """Send the headers and half the body, then close the connection."""
        self._fail_next("truncated", times, method=method, path_prefix=path)

    @property
    def webhook_stats(self) -> WebhookStats:
        """Counts of the webhook events so far (all zero without ``webhook_url``)."""
        return WebhookStats(*self._server.webhook_stats())

    def wait_webhooks(self, timeout: float = 10.0) -> WebhookStats:
        """Wait until every webhook event made so far is delivered or given up on (each is
        tried up to four times, with a short backoff), and return the counts. Raises
        ``TimeoutError`` if that takes longer than ``timeout`` seconds."""
        stats = WebhookStats(*self._server.wait_webhooks(float(timeout)))
        if not stats.settled:
            raise TimeoutError(f"webhook events still on their way after {timeout} s: {stats}")
        return stats

    @property
    def pending_faults(self) -> int:
        return self._server.pending_faults()

    def clear_faults(self) -> None:
        self._server.clear_faults()

    def close(self) -> None:
        """Stop serving. Open connections are closed."""
        if not self._closed:
            self._closed = True
            self._server.shutdown()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "serving"
        return f"Sandbox(base_url={self.base_url!r}, {state})"


def _retry_after_text(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return f"{value:g}"
