"""``Client`` and ``AsyncClient``: settings, connection pool and rate limiter, shared by every
call made through them. The work happens in the Rust core (``helpcrunch._native``), which also
judges every setting's value and holds every default.

Each call is written once, in ``_Calls``, generic over what it returns: a ``Client`` returns the
result, an ``AsyncClient`` an awaitable of it (or an async iterator where a ``Client`` gives an
iterator). Each client only says how a call runs, in its ``_run_*`` methods."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Generic, TypeVar

from . import _aio, _logs, _native
from ._apply import (
    RunOptions,
    Step,
    apply_steps,
    arun_steps,
    open_log,
    run_steps,
    sync_steps,
    undo_steps,
)
from ._bulk import AsyncRun, BulkOptions, OnError, SyncRun, acollect, collect
from ._customers_apply import (
    Apply,
    CustomerLog,
    Undo,
    arun_apply,
    arun_undo,
    is_customer_log,
    prepare,
    prepare_undo,
    run_apply,
    run_undo,
)
from ._customers_apply import open_log as open_customer_log
from ._customers_sync import CustomerPlan, Nulls, customers_request
from ._journal import ChangeLog
from ._native import (
    NativeClient,
    NativeCustomersRequest,
    NativePlanRequest,
    NativeQuery,
    NativeSearch,
)
from ._progress import PlanProgressArg, ProgressArg, arun_plan, run_plan
from ._report import BulkReport, BulkResult
from ._search import AsyncCustomerSearch, CustomerSearch
from ._segments import Allow, TagsPlan, _AsyncSegments, _BlockingSegments
from ._sync import MatchKind, Mode, TagPlan, plan_request
from ._types import CallName, Condition, Customer, CustomerId, Match, TagCall, Tags

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_PAGE_SIZE", "AsyncClient", "Client"]

DEFAULT_BASE_URL = _native.DEFAULT_BASE_URL
DEFAULT_TIMEOUT = _native.DEFAULT_TIMEOUT
DEFAULT_MAX_RETRIES = _native.DEFAULT_MAX_RETRIES
DEFAULT_RATE_LIMIT = _native.DEFAULT_RATE_LIMIT
DEFAULT_MAX_RESPONSE_BYTES = _native.DEFAULT_MAX_RESPONSE_BYTES
DEFAULT_CONCURRENCY = _native.DEFAULT_CONCURRENCY
DEFAULT_PAGE_SIZE = _native.DEFAULT_PAGE_SIZE

#: The environment variables settings fall back to, read when a client is made.
ENV_API_KEY = "HELPCRUNCH_API_KEY"
ENV_BASE_URL = "HELPCRUNCH_BASE_URL"
ENV_RATE_LIMIT_BACKEND = "HELPCRUNCH_RATE_LIMIT_BACKEND"
ENV_SETTINGS = (ENV_API_KEY, ENV_BASE_URL, ENV_RATE_LIMIT_BACKEND)

_C = TypeVar("_C", bound="_BaseClient")
#: What a call gives: the customer, or an awaitable of it.
_CustomerT = TypeVar("_CustomerT", Customer, Awaitable[Customer])
#: What a bulk run gives: the report, or an awaitable of it.
_ReportT = TypeVar("_ReportT", BulkReport, Awaitable[BulkReport])
#: What a streamed bulk run gives: an iterator of results, or an async one.
_ResultsT = TypeVar("_ResultsT", Iterator[BulkResult], AsyncIterator[BulkResult])
#: What a search gives: customers to iterate over, or to iterate over with ``async for``.
_SearchT = TypeVar("_SearchT", CustomerSearch, AsyncCustomerSearch)
#: What a count gives: the number, or an awaitable of it.
_CountT = TypeVar("_CountT", int, Awaitable[int])
#: What planning a tag sync gives: the plan, or an awaitable of it.
_PlanT = TypeVar("_PlanT", TagPlan, Awaitable[TagPlan])
#: What planning a customer sync gives: the plan, or an awaitable of it.
_CustomerPlanT = TypeVar("_CustomerPlanT", CustomerPlan, Awaitable[CustomerPlan])
#: What a customer call gives: HelpCrunch's answer (the customer, or None), or an awaitable.
_AnswerT = TypeVar("_AnswerT", Any, Awaitable[Any])


def _body(fields: Any) -> str:
    """A customer call's fields as JSON (the core checks each field and value)."""
    if not isinstance(fields, (Mapping, list)):
        raise TypeError(f"fields must be a mapping of field to value, not {type(fields).__name__}")
    try:
        return json.dumps(fields, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise TypeError(f"fields must be plain values (str, number, bool, None): {e}") from None


class _BaseClient:
    _native: NativeClient

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        rate_limit: float | None = DEFAULT_RATE_LIMIT,
        *,
        rate_limit_backend: str | None = None,
        allow_insecure_http: bool = False,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        """Settings fall back to ``HELPCRUNCH_API_KEY``, ``HELPCRUNCH_BASE_URL`` and
        ``HELPCRUNCH_RATE_LIMIT_BACKEND``, read now.

        - ``timeout``: seconds for each attempt, from connecting to the last byte.
        - ``max_retries``: further attempts after a connection error, a timeout, 408, 409,
          429 or 5xx (0 turns retries off).
        - ``rate_limit``: requests a minute, spaced evenly (HelpCrunch allows 120): for this
          client, all its threads and tasks together, or with ``rate_limit_backend`` for every
          client of the account sharing it; ``None`` turns the limiter off.
        - ``rate_limit_backend``: ``"redis://host:port/db"`` (any machine) or
          ``"file:///path"`` (one machine) to share one budget per account between processes;
          ``None``: this client's own. The environment variable applies only with a
          ``rate_limit``.
        - ``allow_insecure_http``: allow plain ``http://`` to a host other than this machine.
        """
        if api_key is None:
            api_key = os.environ.get(ENV_API_KEY, "")
        if base_url is None:
            base_url = os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL
        if rate_limit_backend is None and rate_limit is not None:
            # Without a rate there is no budget to share: a client made with rate_limit=None
            # (a test's, say) works in a job that sets the variable for its real clients.
            rate_limit_backend = os.environ.get(ENV_RATE_LIMIT_BACKEND) or None
        self._native = NativeClient(
            api_key,
            base_url,
            timeout,
            max_retries,
            rate_limit,
            bool(allow_insecure_http),
            max_response_bytes,
            rate_limit_backend,
        )

    @classmethod
    def _from_native(cls: type[_C], native: NativeClient) -> _C:
        client = cls.__new__(cls)
        client._native = native
        return client

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        # Pickled with its settings and key, rebuilt fresh in the receiving process (spawn,
        # Dask, Spark): connections and limiter state do not travel, the rate limit backend
        # does, so every worker shares the one budget.
        return (type(self)._from_native, (self._native,))

    @property
    def base_url(self) -> str:
        return self._native.settings()["base_url"]

    @property
    def timeout(self) -> float:
        return self._native.settings()["timeout"]

    @property
    def max_retries(self) -> int:
        return self._native.settings()["max_retries"]

    @property
    def rate_limit(self) -> float | None:
        return self._native.settings()["rate_limit"]

    @property
    def rate_limit_backend(self) -> str | None:
        """Where the budget is shared (a Redis password shown as ``***``), or None when the
        client has its own."""
        return self._native.settings()["rate_limit_backend"]

    @property
    def current_rate_limit(self) -> float | None:
        """The rate in force in this process, requests a minute: ``rate_limit``, unless
        HelpCrunch throttled requests lately (it then climbs back), or a shared backend is
        unreachable (this process then paces itself at a quarter). On a shared backend, as of
        this process's last request. None without a rate limit."""
        return self._native.current_rate_limit

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __repr__(self) -> str:
        s = self._native.settings()
        rate = s["rate_limit"]
        rate_text = "None" if rate is None else f"{rate:g}"
        backend = s["rate_limit_backend"]
        backend_text = "" if backend is None else f", rate_limit_backend={backend!r}"
        return (
            f"{type(self).__name__}(base_url={s['base_url']!r}, "
            f"api_key={self._native.masked_api_key}, timeout={s['timeout']:g}, "
            f"max_retries={s['max_retries']}, rate_limit={rate_text}{backend_text})"
        )


class _Calls(
    _BaseClient,
    Generic[_CustomerT, _ReportT, _ResultsT, _SearchT, _CountT, _PlanT, _CustomerPlanT, _AnswerT],
):
    """The calls both clients offer (see the module's docstring)."""

    def remove_tags(self, customer_id: CustomerId, tags: Tags) -> _CustomerT:
        """Untag a customer (``DELETE /customers/{id}/tags``) and return it as it now is.

        ``tags`` is one tag name or a list of names (or of ``{"name": …}`` mappings). Removing a
        tag the customer does not have is not an error.
        """
        return self._run_call("remove_tags", customer_id, tags)

    def add_tags(self, customer_id: CustomerId, tags: Tags) -> _CustomerT:
        """Tag a customer (``PUT /customers/{id}/tags``), creating unknown tags; returns it.

        Tags may carry a colour: ``[{"name": "Lead", "color": "#c57de0"}]``.
        """
        return self._run_call("add_tags", customer_id, tags)

    def get_customer(self, customer_id: CustomerId) -> _CustomerT:
        """Fetch a customer (``GET /customers/{id}``)."""
        return self._run_call("get_customer", customer_id, None)

    # Bulk: see the README's "Pipelines" section. ``items`` is an iterable of
    # ``(customer_id, tags)`` pairs or of mappings with ``customer_id`` and ``tags`` (names set by
    # ``id_column``/``tags_column``), or a pandas or polars DataFrame with those columns; for an
    # ``AsyncClient`` it may also be an async iterable.

    def remove_tags_many(
        self,
        items: Any,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: ProgressArg = False,
        on_error: OnError = "collect",
        checkpoint: str | os.PathLike[str] | None = None,
        id_column: str = "customer_id",
        tags_column: str = "tags",
    ) -> _ReportT:
        """Untag many customers, ``concurrency`` at a time at the client's rate limit, and return
        a report of every item in input order.

        - ``on_error="collect"`` keeps going and records failures; ``"raise"`` stops at the first
          and raises :class:`~helpcrunch.BulkError` with the report attached.
        - ``progress=True`` shows a tqdm bar; a callable gets ``(done, total, result)``.
        - ``checkpoint="run.jsonl"`` appends each finished item; a rerun skips those done.
        - Ctrl-C raises :class:`~helpcrunch.BulkInterrupted` with the report so far; cancelling
          an ``AsyncClient``'s task cancels the run.
        """
        options = BulkOptions(concurrency, progress, checkpoint, id_column, tags_column)
        return self._run_many("remove_tags", items, options, on_error)

    def add_tags_many(
        self,
        items: Any,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: ProgressArg = False,
        on_error: OnError = "collect",
        checkpoint: str | os.PathLike[str] | None = None,
        id_column: str = "customer_id",
        tags_column: str = "tags",
    ) -> _ReportT:
        """Tag many customers; see :meth:`remove_tags_many`."""
        options = BulkOptions(concurrency, progress, checkpoint, id_column, tags_column)
        return self._run_many("add_tags", items, options, on_error)

    def iter_remove_tags(
        self,
        items: Any,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: ProgressArg = False,
        checkpoint: str | os.PathLike[str] | None = None,
        id_column: str = "customer_id",
        tags_column: str = "tags",
    ) -> _ResultsT:
        """Untag many customers, yielding each result as it completes (completion order;
        ``async for`` on an ``AsyncClient``). The input is read lazily; stopping early cancels
        what is in flight."""
        options = BulkOptions(concurrency, progress, checkpoint, id_column, tags_column)
        return self._run_stream("remove_tags", items, options)

    def iter_add_tags(
        self,
        items: Any,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: ProgressArg = False,
        checkpoint: str | os.PathLike[str] | None = None,
        id_column: str = "customer_id",
        tags_column: str = "tags",
    ) -> _ResultsT:
        """Tag many customers, yielding each result as it completes."""
        options = BulkOptions(concurrency, progress, checkpoint, id_column, tags_column)
        return self._run_stream("add_tags", items, options)

    # Finding customers: see the README's "Finding customers" section.

    def search_customers(
        self,
        *,
        tag: str | Iterable[str] | None = None,
        email: str | None = None,
        user_id: str | None = None,
        where: Iterable[Condition] | None = None,
        match: Match = "all",
        page_size: int = DEFAULT_PAGE_SIZE,
        limit: int | None = None,
    ) -> _SearchT:
        """The customers matching every filter (``match="any"``: any of them), oldest first.

        - ``tag``: a tag name, or several that must all be carried; ``email``, ``user_id``
          (the customer's ``userId``): exact matches.
        - ``where``: more conditions, each ``(field, operator, value)`` or the same as text
          (``"lastSeen >= 1700000000"``); the field with or without ``customers.``; operators
          ``= != ~ !~ > >= < <=``; the value of the field's type.
        - ``page_size``: customers per request (1 to 100); ``limit``: the most handed out.

        Bad arguments raise ``TypeError``/``ValueError`` here, before anything is sent; pages
        are fetched as you iterate, each while you work on the one before.
        """
        query = self._native.query(tag, email, user_id, where, match)
        return self._run_search(self._native.search(query, page_size, limit))

    def list_customers(
        self, *, page_size: int = DEFAULT_PAGE_SIZE, limit: int | None = None
    ) -> _SearchT:
        """Every customer of the account (``GET /customers``), oldest first, paged as
        :meth:`search_customers` pages."""
        return self._run_search(self._native.search(self._native.query(), page_size, limit))

    def count_customers(
        self,
        *,
        tag: str | Iterable[str] | None = None,
        email: str | None = None,
        user_id: str | None = None,
        where: Iterable[Condition] | None = None,
        match: Match = "all",
    ) -> _CountT:
        """How many customers match (the whole account without filters): one request."""
        return self._run_count(self._native.query(tag, email, user_id, where, match))

    # Tag sync: see the README's "Syncing a segment to a tag" section.

    def plan_tag(
        self,
        tag: str,
        audience: Any,
        *,
        match: MatchKind = "email",
        mode: Mode = "mirror",
        color: str | None = None,
        key_column: str | None = None,
        lookup_batch: int | None = None,
        progress: PlanProgressArg = False,
    ) -> _PlanT:
        """Plan making ``tag`` match ``audience``: who gets it, who loses it, which rows are
        rejected and why. Sends searches only (as few as the API allows); writes nothing.

        - ``audience``: keys (ints for ``match="id"``, strings for ``"email"``/``"user_id"``),
          or a pandas/polars DataFrame or Series (``key_column=`` names the column).
        - ``mode``: ``"mirror"`` (add to members who lack it, remove from every other holder),
          ``"add"`` or ``"remove"`` (from the members who carry it).
        - ``color``: for a tag that does not exist yet.
        - ``lookup_batch``: keys per search (default ``DEFAULT_LOOKUP_BATCH``; halved when
          HelpCrunch refuses a batch).
        - ``progress=True`` shows the searches done of about how many, with the ETA at the
          rate limit, on stderr (a bar on a terminal or in Jupyter) for a plan taking over a
          second; a callable gets ``(done, expected)`` as they move.
        """
        request = plan_request(
            self._native,
            tag,
            audience,
            match=match,
            mode=mode,
            color=color,
            key_column=key_column,
            lookup_batch=lookup_batch,
        )
        return self._run_plan(request, progress)

    def apply_plan(
        self,
        plan: TagPlan | TagsPlan | CustomerPlan,
        *,
        allow_mass_removal: Allow = False,
        allow_mass_change: bool = False,
        batch: bool = False,
        log: str | os.PathLike[str] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: ProgressArg = False,
        on_error: OnError = "collect",
    ) -> _ReportT:
        """Apply a plan: one write per customer whose tags change, through the bulk engine
        (``concurrency``, ``progress``, ``on_error`` as for :meth:`remove_tags_many`). Returns
        a :class:`BulkReport` of the writes (adds first, then removals).

        Refuses, before any write, a plan removing the tag from more than half of its holders
        (or from anyone when no audience row is usable): :class:`MassRemovalError`, unless
        ``allow_mass_removal=True``. ``log="run.jsonl"`` records each change as it is sent and
        as it completes: applying the same plan again with the same log skips what it did
        (a resumed run), and :meth:`undo` reverses it. A log may be reused by every run of the
        same sync (each new plan sends what its own reading needs); a file that is not such a
        log is refused, untouched, before anything is sent.

        A :class:`TagsPlan` (from :meth:`plan_tags`) sends at most one add and one removal per
        customer, each with every tag it gains or loses; its guard is per tag
        (``allow_mass_removal`` may name the tags allowed: ``{"trial"}``).

        A :class:`CustomerPlan` (from :meth:`plan_customers`) is applied the same way: its
        guard is ``allow_mass_change``, and ``batch=True`` sends its updates ten customers a
        request (``PUT /customers/batch``, each customer whole).
        """
        if isinstance(plan, CustomerPlan):
            options = RunOptions(concurrency, progress, on_error)
            opened_log = open_customer_log(log, plan.match)
            return self._run_apply(prepare(plan, allow_mass_change, opened_log, batch, options))
        steps, opened = apply_steps(plan, allow_mass_removal, log)
        return self._run_steps(steps, opened, RunOptions(concurrency, progress, on_error))

    def sync_tag(
        self,
        tag: str,
        audience: Any,
        *,
        match: MatchKind = "email",
        mode: Mode = "mirror",
        color: str | None = None,
        key_column: str | None = None,
        lookup_batch: int | None = None,
        allow_mass_removal: bool = False,
        log: str | os.PathLike[str] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: ProgressArg = False,
        on_error: OnError = "collect",
    ) -> _ReportT:
        """:meth:`plan_tag`, then :meth:`apply_plan`: the same arguments, the report. The log
        is checked before the plan's first request. ``progress=True`` shows the planning's
        progress, then the writes'; a callable gets the writes' only."""
        request = plan_request(
            self._native,
            tag,
            audience,
            match=match,
            mode=mode,
            color=color,
            key_column=key_column,
            lookup_batch=lookup_batch,
        )
        options = RunOptions(concurrency, progress, on_error)
        opened = open_log(log, tag, mode, match)
        return self._run_sync(request, allow_mass_removal, opened, options)

    def undo(
        self,
        log: str | os.PathLike[str],
        *,
        delete_created: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: ProgressArg = False,
        on_error: OnError = "collect",
    ) -> _ReportT:
        """Put back exactly what the runs logged in ``log`` changed: every change applied (or
        cut off in flight, so maybe applied), never one that was not sent, reversed in exactly
        the reverse order per customer, so each customer ends as it was before the first run
        the log holds. Logs itself in the same file: resumable, and a second undo changes
        nothing. Returns a :class:`BulkReport`.

        A customer sync's log is undone field by field: a field is put back only where it still
        holds what the run wrote, the others are left and listed in the report's ``conflicts``
        (an :class:`UndoReport`); the customers it created are listed in ``created``, or
        deleted with ``delete_created=True``."""
        if is_customer_log(log):
            options = RunOptions(concurrency, progress, on_error)
            return self._run_undo(prepare_undo(log, delete_created, options))
        steps, opened = undo_steps(log)
        return self._run_steps(steps, opened, RunOptions(concurrency, progress, on_error))

    # Customer sync: see docs/guide/customers.md.

    def plan_customers(
        self,
        table: Any,
        *,
        match: MatchKind = "email",
        key_column: str | None = None,
        fields: Mapping[str, str] | None = None,
        create_missing: bool = False,
        nulls: Nulls = "leave",
        ignore_columns: bool = False,
        lookup_batch: int | None = None,
    ) -> _CustomerPlanT:
        """Plan making the customers' fields match ``table`` (a pandas/polars DataFrame or a
        list of dicts): who is updated (with each field's current and new value), who is
        created, which rows are rejected and why. Sends searches only; writes nothing.

        - Columns named after fields (``name``, ``email``, ``userId``, ``company``, ``phone``,
          ``notes``, ``unsubscribed``, ``blocked``, ``customData.<key>``) are synced;
          ``fields={"company": "org_name"}`` maps others. Any other column is a ValueError
          before any request, unless ``ignore_columns=True``.
        - The key column is named by ``match`` (``email``, ``user_id``, ``id``) or
          ``key_column``; rows are matched and rejected as for :meth:`plan_tag`.
        - Numbers compare by value, strings exactly; a timestamp becomes UNIX seconds;
          None/NaN leaves the field as it is, unless ``nulls="clear"``.
        - ``create_missing=True``: a row whose key matches no customer is created.
        """
        request = customers_request(
            self._native,
            table,
            match=match,
            key_column=key_column,
            fields=fields,
            nulls=nulls,
            create_missing=create_missing,
            ignore_columns=ignore_columns,
            lookup_batch=lookup_batch,
        )
        return self._run_customers_plan(request)

    def sync_customers(
        self,
        table: Any,
        *,
        match: MatchKind = "email",
        key_column: str | None = None,
        fields: Mapping[str, str] | None = None,
        create_missing: bool = False,
        nulls: Nulls = "leave",
        ignore_columns: bool = False,
        lookup_batch: int | None = None,
        allow_mass_change: bool = False,
        batch: bool = False,
        log: str | os.PathLike[str] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: ProgressArg = False,
        on_error: OnError = "collect",
    ) -> _ReportT:
        """:meth:`plan_customers`, then :meth:`apply_plan`: the same arguments, the report.
        The log is checked before the plan's first request."""
        request = customers_request(
            self._native,
            table,
            match=match,
            key_column=key_column,
            fields=fields,
            nulls=nulls,
            create_missing=create_missing,
            ignore_columns=ignore_columns,
            lookup_batch=lookup_batch,
        )
        opened = open_customer_log(log, match)
        options = RunOptions(concurrency, progress, on_error)
        return self._run_customers_sync(request, allow_mass_change, opened, batch, options)

    def update_customer(self, customer_id: CustomerId, fields: Mapping[str, Any]) -> _AnswerT:
        """Change only the fields given (``PATCH /customers/{id}``); returns the customer.
        ``customData`` sent is what HelpCrunch keeps: send it whole."""
        return self._run_customer_call("update_customer", customer_id, _body(fields))

    def create_customer(self, fields: Mapping[str, Any]) -> _AnswerT:
        """Create a customer (``POST /customers``); returns it, with its id."""
        return self._run_customer_call("create_customer", None, _body(fields))

    def delete_customer(self, customer_id: CustomerId) -> _AnswerT:
        """Delete a customer (``DELETE /customers/{id}``); returns HelpCrunch's answer."""
        return self._run_customer_call("delete_customer", customer_id, None)

    def update_customers(self, customers: Iterable[Mapping[str, Any]]) -> _AnswerT:
        """Update 1 to 10 customers in one request (``PUT /customers/batch``), each a mapping
        with ``"customer": <id>`` and its fields. Fields left out may be emptied: send each
        customer whole."""
        return self._run_customer_call("update_customers", None, _body(list(customers)))

    # How each kind of call runs: blocking or awaitable.

    def _run_customer_call(self, call: str, customer_id: Any, body: str | None) -> _AnswerT:
        raise NotImplementedError

    def _run_customers_plan(self, request: NativeCustomersRequest) -> _CustomerPlanT:
        raise NotImplementedError

    def _run_apply(self, apply: Apply) -> _ReportT:
        raise NotImplementedError

    def _run_undo(self, undo: Undo) -> _ReportT:
        raise NotImplementedError

    def _run_customers_sync(
        self,
        request: NativeCustomersRequest,
        allow_mass_change: bool,
        log: CustomerLog | None,
        batch: bool,
        options: RunOptions,
    ) -> _ReportT:
        raise NotImplementedError

    def _run_call(self, call: CallName, customer_id: CustomerId, tags: Tags | None) -> _CustomerT:
        raise NotImplementedError

    def _run_many(
        self, call: TagCall, items: Any, options: BulkOptions, on_error: OnError
    ) -> _ReportT:
        raise NotImplementedError

    def _run_stream(self, call: TagCall, items: Any, options: BulkOptions) -> _ResultsT:
        raise NotImplementedError

    def _run_search(self, search: NativeSearch) -> _SearchT:
        raise NotImplementedError

    def _run_count(self, query: NativeQuery) -> _CountT:
        raise NotImplementedError

    def _run_plan(self, request: NativePlanRequest, progress: PlanProgressArg = False) -> _PlanT:
        raise NotImplementedError

    def _run_steps(self, steps: list[Step], log: ChangeLog | None, options: RunOptions) -> _ReportT:
        raise NotImplementedError

    def _run_sync(
        self,
        request: NativePlanRequest,
        allow_mass_removal: bool,
        log: ChangeLog | None,
        options: RunOptions,
    ) -> _ReportT:
        raise NotImplementedError


class Client(
    _Calls[
        Customer, BulkReport, Iterator[BulkResult], CustomerSearch, int, TagPlan, CustomerPlan, Any
    ],
    _BlockingSegments,
):
    """A HelpCrunch client for blocking code. Safe to share between threads.

    ```python
    >>> with helpcrunch.Client() as client:
    ...     customer = client.remove_tags(542335, ["Lead"])
    ```
    """

    def _run_call(self, call: CallName, customer_id: CustomerId, tags: Tags | None) -> Customer:
        try:
            return self._native.call(call, customer_id, tags)
        finally:
            _logs.flush()

    def _run_many(
        self, call: TagCall, items: Any, options: BulkOptions, on_error: OnError
    ) -> BulkReport:
        return collect(SyncRun(self._native, call, items, options), on_error)

    def _run_stream(self, call: TagCall, items: Any, options: BulkOptions) -> Iterator[BulkResult]:
        return SyncRun(self._native, call, items, options).results()

    def _run_search(self, search: NativeSearch) -> CustomerSearch:
        return CustomerSearch(search)

    def _run_count(self, query: NativeQuery) -> int:
        try:
            return self._native.count(query)
        finally:
            _logs.flush()

    def _run_plan(self, request: NativePlanRequest, progress: PlanProgressArg = False) -> TagPlan:
        try:
            native = run_plan(
                lambda state, tick: self._native.plan(request, state, tick),
                progress,
                self.rate_limit,
            )
            return TagPlan(native, self.rate_limit)
        finally:
            _logs.flush()

    def _run_steps(
        self, steps: list[Step], log: ChangeLog | None, options: RunOptions
    ) -> BulkReport:
        return run_steps(self._native, steps, log, options)

    def _run_sync(
        self,
        request: NativePlanRequest,
        allow_mass_removal: bool,
        log: ChangeLog | None,
        options: RunOptions,
    ) -> BulkReport:
        try:
            plan = self._run_plan(request, options.progress is True)
        except BaseException:
            if log is not None:
                log.close()
            raise
        return run_steps(self._native, sync_steps(plan, allow_mass_removal, log), log, options)

    def _run_customer_call(self, call: str, customer_id: Any, body: str | None) -> Any:
        try:
            return _native.customer_call(self._native, call, customer_id, body)
        finally:
            _logs.flush()

    def _run_customers_plan(self, request: NativeCustomersRequest) -> CustomerPlan:
        try:
            return CustomerPlan(_native.plan_customers(self._native, request), self.rate_limit)
        finally:
            _logs.flush()

    def _run_apply(self, apply: Apply) -> BulkReport:
        return run_apply(self._native, apply)

    def _run_undo(self, undo: Undo) -> BulkReport:
        return run_undo(self._native, undo)

    def _run_customers_sync(
        self,
        request: NativeCustomersRequest,
        allow_mass_change: bool,
        log: CustomerLog | None,
        batch: bool,
        options: RunOptions,
    ) -> BulkReport:
        try:
            plan = self._run_customers_plan(request)
        except BaseException:
            if log is not None:
                log.close()
            raise
        return run_apply(self._native, prepare(plan, allow_mass_change, log, batch, options))

    def close(self) -> None:
        """Stop taking calls and release the connection pool. Calls in flight finish."""
        self._native.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(
    _Calls[
        Awaitable[Customer],
        Awaitable[BulkReport],
        AsyncIterator[BulkResult],
        AsyncCustomerSearch,
        Awaitable[int],
        Awaitable[TagPlan],
        Awaitable[CustomerPlan],
        Awaitable[Any],
    ],
    _AsyncSegments,
):
    """A HelpCrunch client for asyncio: the same calls as :class:`Client`, awaitable. Works on
    any running loop (Jupyter's, uvloop's), and one client may serve several loops in turn.

    ```python
    >>> async with helpcrunch.AsyncClient() as client:
    ...     customer = await client.remove_tags(542335, ["Lead"])
    ```
    """

    async def _run_call(
        self, call: CallName, customer_id: CustomerId, tags: Tags | None
    ) -> Customer:
        return await _aio.call(self._native.call_async, call, customer_id, tags)

    async def _run_many(
        self, call: TagCall, items: Any, options: BulkOptions, on_error: OnError
    ) -> BulkReport:
        return await acollect(AsyncRun(self._native, call, items, options), on_error)

    def _run_stream(
        self, call: TagCall, items: Any, options: BulkOptions
    ) -> AsyncIterator[BulkResult]:
        return AsyncRun(self._native, call, items, options).results()

    def _run_search(self, search: NativeSearch) -> AsyncCustomerSearch:
        return AsyncCustomerSearch(search)

    async def _run_count(self, query: NativeQuery) -> int:
        return await _aio.call(self._native.count_async, query)

    async def _run_plan(
        self, request: NativePlanRequest, progress: PlanProgressArg = False
    ) -> TagPlan:
        native = await arun_plan(
            lambda state: _aio.call(self._native.plan_async, request, state),
            progress,
            self.rate_limit,
        )
        return TagPlan(native, self.rate_limit)

    async def _run_steps(
        self, steps: list[Step], log: ChangeLog | None, options: RunOptions
    ) -> BulkReport:
        return await arun_steps(self._native, steps, log, options)

    async def _run_sync(
        self,
        request: NativePlanRequest,
        allow_mass_removal: bool,
        log: ChangeLog | None,
        options: RunOptions,
    ) -> BulkReport:
        try:
            plan = await self._run_plan(request, options.progress is True)
        except BaseException:
            if log is not None:
                log.close()
            raise
        steps = sync_steps(plan, allow_mass_removal, log)
        return await arun_steps(self._native, steps, log, options)

    async def _run_customer_call(self, call: str, customer_id: Any, body: str | None) -> Any:
        return await _aio.call(_native.customer_call_async, self._native, call, customer_id, body)

    async def _run_customers_plan(self, request: NativeCustomersRequest) -> CustomerPlan:
        plan = await _aio.call(_native.plan_customers_async, self._native, request)
        return CustomerPlan(plan, self.rate_limit)

    async def _run_apply(self, apply: Apply) -> BulkReport:
        return await arun_apply(self._native, apply)

    async def _run_undo(self, undo: Undo) -> BulkReport:
        return await arun_undo(self._native, undo)

    async def _run_customers_sync(
        self,
        request: NativeCustomersRequest,
        allow_mass_change: bool,
        log: CustomerLog | None,
        batch: bool,
        options: RunOptions,
    ) -> BulkReport:
        try:
            plan = await self._run_customers_plan(request)
        except BaseException:
            if log is not None:
                log.close()
            raise
        return await arun_apply(self._native, prepare(plan, allow_mass_change, log, batch, options))

    def close(self) -> None:
        self._native.close()

    async def aclose(self) -> None:
        """Stop taking calls and release the connection pool. Calls in flight finish."""
        self._native.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
