"""Finding customers: what ``search_customers`` and ``list_customers`` return, and the rows of
their DataFrames.

The pages are fetched by the Rust core (``helpcrunch._native.NativeSearch``), each one while you
work on the one before, and checked so that every customer that matched when the search started
(and still matches) is handed out once, even while you untag the customers you are given: see
README's "Finding customers" and ``src/core/paging.rs`` for what is guaranteed and what cannot be.

Nothing is sent until you start iterating (or ask for ``total``); closing the search, leaving a
``with`` block, or dropping it stops it, and the page being fetched ahead is dropped with its
request. Leaving a loop early sends nothing more: iterate again to go on where you stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from types import TracebackType
from typing import Any

from . import _aio, _extras, _logs
from ._native import NativeSearch
from ._types import Customer, SearchStats

__all__ = ["AsyncCustomerSearch", "CustomerSearch", "flatten"]

_logger = logging.getLogger("helpcrunch")

#: Documented nested objects that may be null: a null one adds no column (its fields, present in
#: other rows, are simply empty there).
_NULLABLE_OBJECTS = frozenset({"location", "device", "customData"})


def flatten(customer: Mapping[str, Any]) -> dict[str, Any]:
    """A customer as one flat row: nested objects become dotted columns (``location.city``,
    ``device.platform``, ``customData.plan``), ``tags`` becomes the list of tag names, every
    other value is kept as it is (a list stays a list)."""
    row: dict[str, Any] = {}
    _flatten_into(row, customer, "")
    return row


def _flatten_into(row: dict[str, Any], value: Mapping[str, Any], prefix: str) -> None:
    for key, item in value.items():
        name = f"{prefix}{key}"
        if not prefix and key == "tags" and isinstance(item, list):
            row[name] = [t.get("name") if isinstance(t, Mapping) else t for t in item]
        elif isinstance(item, Mapping):
            _flatten_into(row, item, name + ".")
        elif item is None and not prefix and key in _NULLABLE_OBJECTS:
            continue
        else:
            row[name] = item


def _pandas(rows: list[dict[str, Any]]) -> Any:
    pd = _extras.pandas()

    if not rows:
        return pd.DataFrame({"id": pd.Series([], dtype="int64")})
    return pd.DataFrame(rows)


def _polars(rows: list[dict[str, Any]]) -> Any:
    pl = _extras.polars()

    if not rows:
        return pl.DataFrame({"id": pl.Series([], dtype=pl.Int64)})
    # HelpCrunch sends some fields in more than one type (firstSeen as text or a number):
    # such a column takes a type that holds both.
    return pl.DataFrame(rows, infer_schema_length=None, strict=False)


class _Search:
    """What both searches share: the native search, the page being handed out, and closing."""

    def __init__(self, native: NativeSearch) -> None:
        self._native = native
        self._page: list[Customer] = []
        self._position = 0
        self._done = False
        self._found = 0

    @property
    def stats(self) -> SearchStats:
        """What the search did so far: ``requests`` (pages asked for), ``pages`` used,
        ``rejected_pages`` (asked for again from earlier because the matches changed under
        them), ``duplicates`` (customers read again and not handed out twice), ``page_size``
        in force, ``found``, ``unchecked_tie_runs``, and ``total_disagrees`` (the server's
        total and what it served differ; see README)."""
        return self._native.stats()

    def close(self) -> None:
        """Stop: nothing more is sent, and the page being fetched ahead is dropped."""
        self._done = True
        self._page = []
        self._native.close()

    def _take(self) -> Customer | None:
        """The next customer of the page in hand, if any."""
        if self._position < len(self._page):
            customer = self._page[self._position]
            self._position += 1
            self._found += 1
            return customer
        return None

    def _receive(self, page: list[Customer] | None) -> None:
        if page is None:
            self._done = True
            self._page = []
            self._warn_at_end()
        else:
            self._page = page
            self._position = 0

    def _warn_at_end(self) -> None:
        stats = self._native.stats()
        if stats["unchecked_tie_runs"] and stats["unstable_ties"]:
            _logger.warning(
                "%d runs of customers with the same firstSeen were longer than a page, and the "
                "server orders equal values differently on each request: customers in those "
                "runs may have been missed (see README, 'Finding customers')",
                stats["unchecked_tie_runs"],
            )
        if stats["total_disagrees"]:
            _logger.warning(
                "the server's total (%s on the first page) and the customers it served (%s) "
                "disagree: the scan ended on what it served (a deep-paging cap, customers gone "
                "since they were counted, or pages repeating; see README, 'Finding customers')",
                f"{self._native.total or 0:,}",
                f"{stats['found']:,}",
            )

    def __repr__(self) -> str:
        total = self._native.total
        shown = "?" if total is None else f"{total:,}"
        state = "done" if self._done else "open"
        return f"{type(self).__name__}(total={shown}, handed out={self._found:,}, {state})"


class CustomerSearch(_Search, Iterator[Customer]):
    """The customers a search matches, oldest first (by ``firstSeen``), each a plain dict as
    HelpCrunch sent it. Iterate over it (once: it is its own iterator); each customer that
    matched when it started and still matches comes exactly once, even while you untag the ones
    you are given. ``total`` is HelpCrunch's count from the first page.

    ```python
    >>> for customer in client.search_customers(tag="Lead"):
    ...     client.remove_tags(customer["id"], "Lead")
    ```
    """

    def __iter__(self) -> CustomerSearch:
        return self

    def __next__(self) -> Customer:
        while True:
            customer = self._take()
            if customer is not None:
                return customer
            if self._done:
                raise StopIteration
            self._receive(self._next_page())

    def _next_page(self) -> list[Customer] | None:
        try:
            return self._native.next_page()
        except KeyboardInterrupt:
            self.close()
            raise
        finally:
            _logs.flush()

    @property
    def total(self) -> int:
        """How many customers matched, as HelpCrunch counted on the first page (fetched now if
        it has not been yet; it is kept for the iteration)."""
        if self._native.total is None and not self._done and not self._page:
            self._receive(self._next_page())
        return self._native.total or 0

    def to_pandas(self) -> Any:
        """The customers not yet handed out, as a pandas DataFrame, one row each (see
        :func:`flatten`); this consumes the search."""
        return _pandas([flatten(c) for c in self])

    def to_polars(self) -> Any:
        """The customers not yet handed out, as a polars DataFrame (see :meth:`to_pandas`)."""
        return _polars([flatten(c) for c in self])

    def __enter__(self) -> CustomerSearch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncCustomerSearch(_Search, AsyncIterator[Customer]):
    """:class:`CustomerSearch` for asyncio: ``async for customer in search``. Cancelling the
    task that iterates stops the search; nothing more is sent."""

    def __aiter__(self) -> AsyncCustomerSearch:
        return self

    async def __anext__(self) -> Customer:
        while True:
            customer = self._take()
            if customer is not None:
                return customer
            if self._done:
                raise StopAsyncIteration
            self._receive(await self._next_page())

    async def _next_page(self) -> list[Customer] | None:
        try:
            return await _aio.call(self._native.next_page_async)
        except asyncio.CancelledError:
            self.close()
            raise

    @property
    def total(self) -> int | None:
        """HelpCrunch's count from the first page; None before it came (see
        :meth:`get_total`)."""
        return self._native.total

    async def get_total(self) -> int:
        """HelpCrunch's count from the first page, fetching it now if it has not been yet (it
        is kept for the iteration)."""
        if self._native.total is None and not self._done and not self._page:
            self._receive(await self._next_page())
        return self._native.total or 0

    async def to_pandas(self) -> Any:
        """The customers not yet handed out, as a pandas DataFrame (see
        :meth:`CustomerSearch.to_pandas`); this consumes the search."""
        return _pandas([flatten(c) async for c in self])

    async def to_polars(self) -> Any:
        """The customers not yet handed out, as a polars DataFrame."""
        return _polars([flatten(c) async for c in self])

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> AsyncCustomerSearch:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
