"""What became of each item of a bulk run (:class:`BulkResult`) and of the whole run
(:class:`BulkReport`): counts, failures, DataFrames, a table in Jupyter."""

from __future__ import annotations

import html
import operator
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from . import _extras
from ._exceptions import APIStatusError, RequestCancelledError
from ._format import count, counted
from ._types import Customer

__all__ = ["BulkReport", "BulkResult"]


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What became of one input item."""

    #: Position in the input (0-based).
    index: int
    #: The customer id as given (for an invalid row, whatever the row held).
    customer_id: Any
    #: The tags as given.
    tags: Any
    ok: bool
    #: The customer as HelpCrunch returned it, or None (failed, or skipped from a checkpoint).
    customer: Customer | None
    #: The exception for a failed item: a ``helpcrunch`` error, or ``TypeError``/``ValueError``
    #: for a row refused before sending.
    error: BaseException | None
    #: HTTP attempts made for this item (0 when nothing was sent).
    attempts: int
    #: True when a checkpoint showed it done in an earlier run, so it was not sent again.
    skipped: bool = False

    @classmethod
    def not_sent(cls, index: int, customer_id: Any, tags: Any, error: BaseException) -> BulkResult:
        """An item that failed before any request: refused, or stopped before it was sent."""
        return cls(
            index=index,
            customer_id=customer_id,
            tags=tags,
            ok=False,
            customer=None,
            error=error,
            attempts=0,
        )

    @classmethod
    def done_before(cls, index: int, customer_id: Any, tags: Any) -> BulkResult:
        """An item a journal shows done by an earlier run: skipped, nothing sent."""
        return cls(
            index=index,
            customer_id=customer_id,
            tags=tags,
            ok=True,
            customer=None,
            error=None,
            attempts=0,
            skipped=True,
        )

    @property
    def not_started(self) -> bool:
        """Never sent: the run stopped (Ctrl-C, ``on_error="raise"``) before this item's first
        attempt. Not a failure: running it again is all it needs."""
        return self.attempts == 0 and isinstance(self.error, RequestCancelledError)

    @property
    def status_code(self) -> int | None:
        """The HTTP status of a failed item's last answer, when there was one."""
        return self.error.status_code if isinstance(self.error, APIStatusError) else None

    def as_row(self) -> dict[str, Any]:
        """A flat dict for a DataFrame row or a log line."""
        return {
            "index": self.index,
            "customer_id": self.customer_id,
            "ok": self.ok,
            "skipped": self.skipped,
            "not_started": self.not_started,
            "attempts": self.attempts,
            "status_code": self.status_code,
            "error_type": None if self.error is None else type(self.error).__name__,
            "error": None if self.error is None else str(self.error),
            # Names, as in search frames (flatten): the customer's tags after the call.
            "tags": None if self.customer is None else _tag_names(self.customer.get("tags")),
        }


def _tag_names(tags: Any) -> Any:
    if not isinstance(tags, list):
        return tags
    return [t.get("name") if isinstance(t, dict) else t for t in tags]


_ROW_COLUMNS = (
    "index",
    "customer_id",
    "ok",
    "skipped",
    "not_started",
    "attempts",
    "status_code",
    "error_type",
    "error",
    "tags",
)


#: Failures a report lists in Jupyter before it only counts them.
_FAILURES_SHOWN = 10


class BulkReport(Sequence[BulkResult]):
    """Every item's result, in input order: ``len``, iteration and indexing work as on a list."""

    def __init__(self, results: Iterable[BulkResult]) -> None:
        self._results = sorted(results, key=operator.attrgetter("index"))

    def __len__(self) -> int:
        return len(self._results)

    @overload
    def __getitem__(self, i: int) -> BulkResult: ...
    @overload
    def __getitem__(self, i: slice) -> list[BulkResult]: ...
    def __getitem__(self, i: int | slice) -> BulkResult | list[BulkResult]:
        return self._results[i]

    def __iter__(self) -> Iterator[BulkResult]:
        return iter(self._results)

    @property
    def succeeded(self) -> int:
        """Items that are done: sent successfully now, or skipped as done in an earlier run."""
        return sum(1 for r in self._results if r.ok)

    @property
    def failed(self) -> int:
        """Items that were tried, or refused, and did not succeed (never the ones not started)."""
        return sum(1 for r in self._results if not r.ok and not r.not_started)

    @property
    def not_started(self) -> int:
        """Items a stop kept from being sent (see :attr:`BulkResult.not_started`)."""
        return sum(1 for r in self._results if r.not_started)

    @property
    def skipped(self) -> int:
        return sum(1 for r in self._results if r.skipped)

    @property
    def failures(self) -> list[BulkResult]:
        """The failed items (:attr:`failed`), in input order."""
        return [r for r in self._results if not r.ok and not r.not_started]

    def by_tag(self) -> dict[str, dict[str, int]]:
        """Per tag name, how many of the items carrying it ``succeeded``, ``failed`` and were
        ``skipped``: a write of several tags (``apply_plan`` of a ``plan_tags`` plan) counts
        for each of them, so a failed one fails each of its tags."""
        out: dict[str, dict[str, int]] = {}
        for r in self._results:
            tags = r.tags if isinstance(r.tags, (list, tuple)) else [r.tags]
            for tag in tags:
                name = tag.get("name") if isinstance(tag, dict) else tag
                if not isinstance(name, str):
                    continue
                counts = out.setdefault(name, {"succeeded": 0, "failed": 0, "skipped": 0})
                counts["succeeded" if r.ok else "failed"] += 1
                counts["skipped"] += r.skipped
        return out

    def to_pandas(self) -> Any:
        """A pandas DataFrame, one row per item (see :meth:`BulkResult.as_row`)."""
        pd = _extras.pandas()

        return pd.DataFrame([r.as_row() for r in self._results], columns=list(_ROW_COLUMNS))

    def to_polars(self) -> Any:
        """A polars DataFrame, one row per item (see :meth:`BulkResult.as_row`)."""
        pl = _extras.polars()

        rows = [r.as_row() for r in self._results]
        for row in rows:
            # Ids as given may mix ints and strings; polars wants one type per column.
            row["customer_id"] = str(row["customer_id"])
        if not rows:
            return pl.DataFrame({name: [] for name in _ROW_COLUMNS})
        return pl.DataFrame(rows, infer_schema_length=None)

    def __repr__(self) -> str:
        text = f"BulkReport({counted(len(self), 'item')}: {count(self.succeeded)} succeeded, "
        text += f"{count(self.failed)} failed"
        if self.not_started:
            text += f", {count(self.not_started)} not started"
        if self.skipped:
            text += f", {count(self.skipped)} skipped as done"
        return text + ")"

    def _repr_html_(self) -> str:
        """In Jupyter: the counts, and the first failures with their errors."""
        rows = "".join(
            f"<tr><td>{label}</td><td>{count(n)}</td></tr>"
            for label, n in (
                ("items", len(self)),
                ("succeeded", self.succeeded),
                ("failed", self.failed),
                ("not started", self.not_started),
                ("skipped as done", self.skipped),
            )
        )
        failures = "".join(
            f"<tr><td>{r.index}</td><td>{html.escape(repr(r.customer_id))}</td>"
            f"<td>{html.escape(type(r.error).__name__)}: {html.escape(str(r.error))}</td></tr>"
            for r in self.failures[:_FAILURES_SHOWN]
        )
        if failures:
            more = len(self.failures) - _FAILURES_SHOWN
            failures = (
                "<table><tr><th>index</th><th>customer_id</th><th>error</th></tr>"
                f"{failures}</table>"
                + (f"<p>… and {count(more)} more failures</p>" if more > 0 else "")
            )
        return f"<p>BulkReport</p><table>{rows}</table>{failures}"
