"""Bulk runs: untag (or tag) many customers from a table, at the client's rate limit, with
progress, a checkpoint file, and every item accounted for.

The requests run in the Rust core (tokio tasks under a concurrency bound and the client's rate
limiter). This module reads the input lazily, feeds it in, and turns what finishes into
:class:`BulkResult` objects: at most a few times ``concurrency`` items are held at once, so a
million-row generator runs in flat memory.
"""

from __future__ import annotations

import json
import operator
import os
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from typing import IO, Any, Literal, overload

from . import _aio
from ._exceptions import APIStatusError, BulkError, BulkInterrupted
from ._native import NativeBulkRun, NativeClient
from ._progress import Progress, ProgressArg
from ._types import Customer

__all__ = ["BulkReport", "BulkResult", "OnError"]

OnError = Literal["collect", "raise"]

#: Items held in flight per unit of concurrency: enough to keep every slot busy while Python
#: hands results over, few enough that memory stays flat.
_WINDOW_PER_SLOT = 4


@dataclass(frozen=True)
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
            "attempts": self.attempts,
            "status_code": self.status_code,
            "error_type": None if self.error is None else type(self.error).__name__,
            "error": None if self.error is None else str(self.error),
            "tags": None if self.customer is None else self.customer.get("tags"),
        }


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
        return sum(1 for r in self._results if not r.ok)

    @property
    def skipped(self) -> int:
        return sum(1 for r in self._results if r.skipped)

    @property
    def failures(self) -> list[BulkResult]:
        return [r for r in self._results if not r.ok]

    def to_pandas(self) -> Any:
        """A pandas DataFrame, one row per item (see :meth:`BulkResult.as_row`)."""
        import pandas as pd

        return pd.DataFrame([r.as_row() for r in self._results])

    def to_polars(self) -> Any:
        """A polars DataFrame, one row per item (see :meth:`BulkResult.as_row`)."""
        import polars as pl

        rows = [r.as_row() for r in self._results]
        for row in rows:
            # Ids as given may mix ints and strings; polars wants one type per column.
            row["customer_id"] = str(row["customer_id"])
        return pl.DataFrame(rows, infer_schema_length=None)

    def __repr__(self) -> str:
        text = f"BulkReport({len(self)} items: {self.succeeded} succeeded, {self.failed} failed"
        if self.skipped:
            text += f", {self.skipped} skipped as done"
        return text + ")"


# --- input -------------------------------------------------------------------------------------


def _dataframe_rows(items: Any, id_column: str, tags_column: str) -> Iterator[Any] | None:
    """Rows of a pandas or polars DataFrame as ``(customer_id, tags)``, or None for other input."""
    module = type(items).__module__.split(".")[0]
    if module not in ("pandas", "polars") or not hasattr(items, "columns"):
        return None
    columns = list(items.columns)
    missing = [c for c in (id_column, tags_column) if c not in columns]
    if missing:
        raise ValueError(
            f"the DataFrame has no column {missing[0]!r} (columns: {columns}); "
            "pass id_column= / tags_column= to name yours"
        )
    if module == "pandas":
        return zip(items[id_column], items[tags_column], strict=True)
    rows: Iterator[Any] = items.select([id_column, tags_column]).iter_rows()
    return rows


def _rows(items: Any, id_column: str, tags_column: str) -> Iterator[Any]:
    frame = _dataframe_rows(items, id_column, tags_column)
    if frame is not None:
        return frame
    if isinstance(items, (str, bytes, Mapping)):
        raise TypeError(
            "items must be an iterable of (customer_id, tags) pairs, of mappings with "
            f"'{id_column}' and '{tags_column}', or a DataFrame; not {type(items).__name__}"
        )
    return iter(items)


def _split_row(row: Any, id_column: str, tags_column: str) -> tuple[Any, Any]:
    """``(customer_id, tags)`` from a pair or a mapping; TypeError/ValueError for anything else."""
    if isinstance(row, Mapping):
        try:
            return row[id_column], row[tags_column]
        except KeyError as e:
            raise ValueError(f"the row has no {e.args[0]!r} key") from None
    if isinstance(row, (str, bytes)) or not isinstance(row, (tuple, list)) or len(row) != 2:
        raise TypeError(
            f"a row must be a (customer_id, tags) pair or a mapping, not {type(row).__name__}"
        )
    return row[0], row[1]


def _total(items: Any) -> int | None:
    try:
        return len(items)
    except TypeError:
        return None


# --- checkpoint --------------------------------------------------------------------------------


def _item_key(customer_id: Any, tags: Any) -> str | None:
    """Identity of an item for the checkpoint: the id as digits and the set of tag names. Items
    whose id or tags cannot be read have none (they are never skipped)."""
    try:
        if isinstance(customer_id, str):
            cid = str(int(customer_id)) if customer_id.isascii() and customer_id.isdigit() else None
        elif isinstance(customer_id, bool):
            cid = None
        else:
            cid = str(operator.index(customer_id))
        if cid is None:
            return None
        if isinstance(tags, (str, Mapping)):
            tags = [tags]
        names = sorted({t if isinstance(t, str) else str(t["name"]) for t in tags})
    except (TypeError, ValueError, KeyError):
        return None
    return json.dumps([cid, names], ensure_ascii=False)


class _Checkpoint:
    """A JSON-lines file: one line per finished item, appended and flushed as it finishes. Items
    that succeeded in an earlier run (same id, same tag names) are skipped on a rerun."""

    def __init__(self, path: str | os.PathLike[str], kind: str) -> None:
        self.path = os.fspath(path)
        self.kind = kind
        self.done: set[str] = set()
        try:
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue  # a line cut short by a kill: that item just runs again
                    if entry.get("ok") and entry.get("kind") == kind and "key" in entry:
                        self.done.add(entry["key"])
        except FileNotFoundError:
            pass
        self._file: IO[str] = open(self.path, "a", encoding="utf-8")

    def is_done(self, key: str | None) -> bool:
        return key is not None and key in self.done

    def record(self, result: BulkResult, key: str | None) -> None:
        if result.skipped:
            return
        entry = {
            "kind": self.kind,
            "key": key,
            "index": result.index,
            "customer_id": result.customer_id
            if isinstance(result.customer_id, (int, str))
            else repr(result.customer_id),
            "ok": result.ok,
            "attempts": result.attempts,
            "error": None
            if result.error is None
            else f"{type(result.error).__name__}: {result.error}",
        }
        self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


# --- the run -----------------------------------------------------------------------------------


class _Feeder:
    """Reads the input and keeps the run fed; shared by the sync and async drivers."""

    def __init__(
        self,
        native: NativeClient,
        kind: str,
        concurrency: int,
        checkpoint: str | os.PathLike[str] | None,
        id_column: str,
        tags_column: str,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
        self.run: NativeBulkRun = native.bulk(kind, concurrency)
        self.window = concurrency * _WINDOW_PER_SLOT
        self.id_column = id_column
        self.tags_column = tags_column
        self.checkpoint = None if checkpoint is None else _Checkpoint(checkpoint, kind)
        # index -> (customer_id, tags, checkpoint key) of items sent and not yet finished
        self.pending: dict[int, tuple[Any, Any, str | None]] = {}
        self.next_index = 0

    def offer(self, row: Any) -> BulkResult | None:
        """Take one input row: start it, or return its result at once (an invalid row, or one
        a checkpoint shows done)."""
        index = self.next_index
        self.next_index += 1
        try:
            customer_id, tags = _split_row(row, self.id_column, self.tags_column)
        except (TypeError, ValueError) as e:
            return self._finish_now(index, row, None, e, None)
        key = _item_key(customer_id, tags) if self.checkpoint else None
        if self.checkpoint is not None and self.checkpoint.is_done(key):
            result = BulkResult(index, customer_id, tags, True, None, None, 0, skipped=True)
            return result
        try:
            self.run.submit(index, customer_id, tags)
        except (TypeError, ValueError) as e:
            return self._finish_now(index, customer_id, tags, e, key)
        self.pending[index] = (customer_id, tags, key)
        return None

    def _finish_now(
        self, index: int, customer_id: Any, tags: Any, error: BaseException, key: str | None
    ) -> BulkResult:
        result = BulkResult(index, customer_id, tags, False, None, error, 0)
        if self.checkpoint is not None:
            self.checkpoint.record(result, key)
        return result

    def finished(self, batch: list[tuple[int, Any, Any, int]]) -> list[BulkResult]:
        results = []
        for index, customer, error, attempts in batch:
            customer_id, tags, key = self.pending.pop(index)
            result = BulkResult(index, customer_id, tags, error is None, customer, error, attempts)
            if self.checkpoint is not None:
                self.checkpoint.record(result, key)
            results.append(result)
        return results

    @property
    def has_room(self) -> bool:
        return len(self.pending) < self.window

    def close(self) -> None:
        if self.checkpoint is not None:
            self.checkpoint.close()


class _Run:
    """What a sync and an async run share: the feeder, the progress bar, and :meth:`stop`."""

    def __init__(
        self,
        native: NativeClient,
        kind: str,
        items: Any,
        *,
        concurrency: int,
        progress: ProgressArg,
        checkpoint: str | os.PathLike[str] | None,
        id_column: str,
        tags_column: str,
    ) -> None:
        self._feeder = _Feeder(native, kind, concurrency, checkpoint, id_column, tags_column)
        self._bar = Progress.make(progress, _total(items), kind)
        #: Items stopped by :meth:`stop`: cancelled, or finished but not yet streamed.
        self.drained: list[BulkResult] = []

    def stop(self) -> None:
        """Cancel what is in flight; its results go to ``drained``. Cancelled items come back
        at once, so this waits without awaiting (a task being cancelled may not await)."""
        feeder = self._feeder
        if not feeder.pending:
            return
        feeder.run.cancel()
        while feeder.pending:
            for result in feeder.finished(feeder.run.next_batch(feeder.window)):
                self._bar.update(result)
                self.drained.append(result)


class SyncRun(_Run):
    """A run for blocking code: :meth:`results` streams in completion order."""

    def __init__(self, native: NativeClient, kind: str, items: Any, **options: Any) -> None:
        super().__init__(native, kind, items, **options)
        self._source = _rows(items, options["id_column"], options["tags_column"])

    def results(self) -> Generator[BulkResult, None, None]:
        """Results in completion order; invalid rows as soon as they are read."""
        feeder, bar = self._feeder, self._bar
        exhausted = False
        try:
            while True:
                while not exhausted and feeder.has_room:
                    try:
                        row = next(self._source)
                    except StopIteration:
                        exhausted = True
                        break
                    ready = feeder.offer(row)
                    if ready is not None:
                        bar.update(ready)
                        yield ready
                if not feeder.pending:
                    if exhausted:
                        return
                    continue
                for result in feeder.finished(feeder.run.next_batch(feeder.window)):
                    bar.update(result)
                    yield result
        finally:
            # Stopped early (Ctrl-C, break, an exception): what still runs is cancelled, and
            # what finished meanwhile still reaches the checkpoint.
            self.stop()
            bar.close()
            feeder.close()


class AsyncRun(_Run):
    """A run for asyncio; ``items`` may also be an async iterable."""

    def __init__(self, native: NativeClient, kind: str, items: Any, **options: Any) -> None:
        super().__init__(native, kind, items, **options)
        self._is_async = isinstance(items, AsyncIterable)
        self._source: Any = (
            aiter(items)
            if self._is_async
            else _rows(items, options["id_column"], options["tags_column"])
        )

    async def results(self) -> AsyncGenerator[BulkResult, None]:
        feeder, bar = self._feeder, self._bar
        exhausted = False
        try:
            while True:
                while not exhausted and feeder.has_room:
                    try:
                        row = await anext(self._source) if self._is_async else next(self._source)
                    except (StopIteration, StopAsyncIteration):
                        exhausted = True
                        break
                    ready = feeder.offer(row)
                    if ready is not None:
                        bar.update(ready)
                        yield ready
                if not feeder.pending:
                    if exhausted:
                        return
                    continue
                batch = await _aio.call(feeder.run.next_batch_async, feeder.window)
                for result in feeder.finished(batch):
                    bar.update(result)
                    yield result
        finally:
            self.stop()
            bar.close()
            feeder.close()


def _check_on_error(on_error: str) -> None:
    if on_error not in ("collect", "raise"):
        raise ValueError(f"on_error must be 'collect' or 'raise', got {on_error!r}")


def _stopped_at(first: BulkResult, done: list[BulkResult]) -> BulkError:
    report = BulkReport(done)
    return BulkError(
        f"item {first.index} (customer {first.customer_id!r}) failed: {first.error}; "
        f"stopped with {report.succeeded} succeeded and {report.failed} failed or cancelled "
        "(see .report)",
        report,
    )


def collect(run: SyncRun, on_error: OnError) -> BulkReport:
    """Run to the end and return every result in input order. With ``on_error="raise"`` the
    first failure stops the run: :class:`BulkError` carries the report. Ctrl-C raises
    :class:`BulkInterrupted`, also with the report."""
    _check_on_error(on_error)
    done: list[BulkResult] = []
    first_failure: BulkResult | None = None
    results = run.results()
    try:
        for result in results:
            done.append(result)
            if on_error == "raise" and not result.ok:
                first_failure = result
                break
    except KeyboardInterrupt:
        results.close()
        raise BulkInterrupted(BulkReport(done + run.drained)) from None
    results.close()  # after a break: cancels the rest into run.drained
    if first_failure is not None:
        raise _stopped_at(first_failure, done + run.drained) from first_failure.error
    return BulkReport(done)


async def acollect(run: AsyncRun, on_error: OnError) -> BulkReport:
    """:func:`collect` for asyncio. Cancelling the task cancels the run."""
    _check_on_error(on_error)
    done: list[BulkResult] = []
    first_failure: BulkResult | None = None
    results = run.results()
    try:
        async for result in results:
            done.append(result)
            if on_error == "raise" and not result.ok:
                first_failure = result
                break
    finally:
        await results.aclose()
    if first_failure is not None:
        raise _stopped_at(first_failure, done + run.drained) from first_failure.error
    return BulkReport(done)
