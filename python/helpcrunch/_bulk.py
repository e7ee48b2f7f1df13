"""Bulk runs: untag (or tag) many customers from a table, at the client's rate limit, with
progress, a checkpoint file, and every item accounted for.

The requests run in the Rust core (tokio tasks under a concurrency bound and the client's rate
limiter). This module reads the input lazily, feeds it in, and turns what finishes into
:class:`BulkResult` objects: at most a few times ``concurrency`` items are held at once, so a
million-row generator runs in flat memory.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, Generator
from typing import Any, Literal, NamedTuple

from . import _aio, _logs
from ._exceptions import BulkError, BulkInterrupted, RequestCancelledError
from ._format import count, counted
from ._input import rows, split_row, total
from ._journal import Checkpoint, Journal
from ._native import BulkItem, Change, FinishedItem, NativeBulkRun, NativeClient
from ._progress import VERBS, Progress, ProgressArg
from ._report import BulkReport, BulkResult
from ._types import TagCall

__all__ = ["BulkOptions", "OnError"]

OnError = Literal["collect", "raise"]


class BulkOptions(NamedTuple):
    """How a bulk run reads its input and reports (see ``Client.remove_tags_many``)."""

    concurrency: int
    progress: ProgressArg
    checkpoint: str | os.PathLike[str] | None
    id_column: str
    tags_column: str
    #: Instead of a checkpoint file: another journal (a sync's log, see ``_apply.py``).
    journal: Journal | None = None
    #: What the run does, for progress (``untagging``); by default the call's verb.
    verb: str | None = None


#: Items held in flight per unit of concurrency: enough to keep every slot busy while Python
#: hands results over, few enough that memory stays flat.
_WINDOW_PER_SLOT = 4


# --- the run ---------------------------------------------------------------------------------
#
# Bookkeeping that keeps every item accounted for, even when Ctrl-C lands between any two
# bytecodes: an item stays in ``pending`` from just before it is sent until its result has been
# handed over (appended to the caller's list, or yielded). Rust appends finished items to
# ``taken`` one by one; each stays there until its result is in ``ready``, where it waits to be
# handed over. When a run stops, it waits until Rust has nothing outstanding, so whatever is
# still pending is in ``taken`` or ``ready``, or was never sent (an interrupt between noting it
# and sending it), and is then reported as cancelled with no attempt.
#
# Finished results are handed over (and checkpointed) before the next row is read: a slow
# input (a queue, a database cursor) never holds back what is done. An async input is raced
# against the results, so they are handed over even while it is waiting.


def _interrupted_reading(index: int, customer_id: Any, tags: Any) -> BulkResult:
    stopped = RequestCancelledError("the run was interrupted while this row was read")
    return BulkResult.not_sent(index, customer_id, tags, stopped)


class _InputFailed(Exception):
    """The input itself raised (a broken CSV, a database cursor gone)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class _Run:
    """What a sync and an async run share: the input, the bookkeeping, progress, :meth:`stop`.

    ``call`` is the call every row makes, rows being ``(customer_id, tags)`` pairs or mappings;
    with ``call=None`` the rows are :class:`Change` objects, each saying what it does."""

    def __init__(
        self, native: NativeClient, call: TagCall | None, items: Any, options: BulkOptions
    ) -> None:
        self._run: NativeBulkRun = native.bulk(call, options.concurrency)
        #: Rows are Change objects, each saying what it does (``call=None``).
        self._changes = call is None
        self._window = options.concurrency * _WINDOW_PER_SLOT
        self._id_column = options.id_column
        self._tags_column = options.tags_column
        self._journal: Journal | None = options.journal
        if options.checkpoint is not None and call is not None:
            self._journal = Checkpoint(options.checkpoint, call)
        verb = options.verb or (VERBS[call] if call is not None else "changing")
        self._bar = Progress.make(
            options.progress, total(items), verb, native.settings()["rate_limit"]
        )
        #: index -> (customer_id, tags, item): sent, result not yet handed over.
        self._pending: dict[int, tuple[Any, Any, BulkItem]] = {}
        #: Finished items as Rust hands them over, until their results are in ``ready``.
        self._taken: deque[FinishedItem] = deque()
        self._ready: deque[BulkResult] = deque()
        self._next_index = 0
        self._exhausted = False
        #: What :meth:`stop` found: cancelled, or finished but not yet handed over.
        self.drained: list[BulkResult] = []

    # reading the input

    def _check(self, row: Any, index: int) -> tuple[Any, Any, BulkItem] | None:
        """The row read and checked; None when it is refused (its result queued)."""
        if self._changes:
            if not isinstance(row, Change):
                error = TypeError(f"a run of changes takes Change rows, not {type(row).__name__}")
                self._ready.append(self._refused(index, row, None, error))
                return None
            return row.customer_id, row.tags, self._run.check_change(row)
        try:
            customer_id, tags = split_row(row, self._id_column, self._tags_column)
        except (TypeError, ValueError) as e:
            self._ready.append(self._refused(index, row, None, e))
            return None
        except Exception as e:
            # A row that raises when read (its own __getitem__) is that row's failure, not the
            # run's, reported like any other bad row.
            error = TypeError(f"the row could not be read: {type(e).__name__}: {e}")
            error.__cause__ = e
            self._ready.append(self._refused(index, row, None, error))
            return None
        except BaseException:
            self._ready.append(_interrupted_reading(index, row, None))
            raise
        try:
            return customer_id, tags, self._run.check(customer_id, tags)
        except (TypeError, ValueError) as e:
            self._ready.append(self._refused(index, customer_id, tags, e))
            return None
        except BaseException:
            # Ctrl-C (or the like) while the row was read: it was taken, so it is reported,
            # as not sent; the interrupt goes on.
            self._ready.append(_interrupted_reading(index, customer_id, tags))
            raise

    def _offer(self, row: Any) -> None:
        """Take one input row: send it, or queue its result at once (an invalid row, or one the
        journal shows done)."""
        index = self._next_index
        self._next_index += 1
        checked = self._check(row, index)
        if checked is None:
            return
        customer_id, tags, item = checked
        if self._journal is not None and self._journal.is_done(index, item):
            self._ready.append(BulkResult.done_before(index, customer_id, tags))
            return
        self._pending[index] = checked
        if self._journal is not None:
            self._journal.sending(index, item)
        self._run.submit(index, item)

    def _refused(self, index: int, customer_id: Any, tags: Any, error: BaseException) -> BulkResult:
        result = BulkResult.not_sent(index, customer_id, tags, error)
        if self._journal is not None:
            self._journal.record(index, None, result)
        return result

    @property
    def _has_room(self) -> bool:
        return len(self._pending) < self._window

    # taking results

    def _take(self) -> None:
        """Take what has finished, without waiting: into ``ready``, journaled."""
        self._run.take_ready(self._taken, self._window)
        taken = self._taken
        while taken:
            finished = taken[0]
            index = finished.index
            if self._ready and self._ready[-1].index == index:
                # Its result got into ``ready`` just before an interrupt: already counted.
                taken.popleft()
                continue
            customer_id, tags, item = self._pending[index]
            result = BulkResult(
                index=index,
                customer_id=customer_id,
                tags=tags,
                ok=finished.error is None,
                customer=finished.customer,
                error=finished.error,
                attempts=finished.attempts,
            )
            if self._journal is not None:
                self._journal.record(index, item, result)
            self._ready.append(result)
            taken.popleft()

    def _handed_over(self, result: BulkResult, *, count: bool = True) -> None:
        """``result`` has reached the caller: forget it (and count it, unless the run stops)."""
        self._ready.popleft()
        self._pending.pop(result.index, None)
        if count:
            self._bar.update(result)

    def _take_ready(self) -> BulkResult:
        """The next ready result, forgotten as it is handed to the caller."""
        result = self._ready[0]
        self._handed_over(result)
        return result

    def _collect_ready(self, done: list[BulkResult], stop_at_failure: bool) -> BulkResult | None:
        """Append each ready result to ``done`` (before forgetting it, so none can be lost);
        return the first failure when ``stop_at_failure``."""
        while self._ready:
            result = self._ready[0]
            done.append(result)
            self._handed_over(result)
            if stop_at_failure and not result.ok:
                return result
        return None

    def _work_left(self) -> bool:
        return bool(self._ready or self._pending or not self._exhausted)

    def stop(self) -> None:
        """Cancel what is in flight; every item not handed over goes to ``drained``. Cancelled
        items come back at once, so this waits without awaiting (a task being cancelled may not
        await again)."""
        if self._run.outstanding:
            self._run.cancel()
            while self._run.outstanding:
                self._run.wait_ready()
                self._take()
        self._take()
        seen = {r.index for r in self._ready}
        for index, (customer_id, tags, item) in self._pending.items():
            if index not in seen:
                # Noted as pending, then interrupted before it was handed to Rust: not sent.
                error = RequestCancelledError("the run was interrupted before this item was sent")
                result = BulkResult.not_sent(index, customer_id, tags, error)
                if self._journal is not None:
                    self._journal.record(index, item, result)
                self._ready.append(result)
        while self._ready:
            result = self._ready[0]
            self.drained.append(result)
            # Not counted as progress: the run is stopping, and the progress callback may be
            # what stopped it.
            self._handed_over(result, count=False)

    def _close(self) -> None:
        try:
            self.stop()
        finally:
            try:
                self._bar.close()
            finally:
                try:
                    if self._journal is not None:
                        self._journal.close()
                finally:
                    # The records of the items the stop waited for.
                    _logs.flush()


class SyncRun(_Run):
    """A run for blocking code."""

    def __init__(
        self, native: NativeClient, call: TagCall | None, items: Any, options: BulkOptions
    ) -> None:
        self._source = rows(items, options.id_column, options.tags_column)
        super().__init__(native, call, items, options)

    def _fill(self) -> None:
        """Read input while there is room and nothing is ready to hand over; then, if nothing
        is ready, wait for results."""
        while not self._exhausted and self._has_room:
            self._take()
            if self._ready:
                return
            try:
                row = next(self._source)
            except StopIteration:
                self._exhausted = True
                break
            except Exception as e:
                raise _InputFailed(e) from e
            self._offer(row)
        if not self._ready and self._pending:
            try:
                self._run.wait_ready()
            finally:
                _logs.flush()
            self._take()

    def results(self) -> Generator[BulkResult, None, None]:
        """Results in completion order; invalid rows as soon as they are read. Stopping early
        (Ctrl-C, break, an exception) cancels what runs; the checkpoint still gets what
        finished."""
        try:
            while self._work_left():
                self._fill()
                while self._ready:
                    yield self._take_ready()
        except _InputFailed as e:
            # A stream has no report to attach: the input's own error goes through.
            raise e.error from None
        finally:
            self._close()

    def collect(self, done: list[BulkResult], stop_at_failure: bool) -> BulkResult | None:
        """Every result into ``done``; the first failure when ``stop_at_failure``."""
        try:
            failure = None
            while failure is None and self._work_left():
                self._fill()
                failure = self._collect_ready(done, stop_at_failure)
            return failure
        finally:
            self._close()


class AsyncRun(_Run):
    """A run for asyncio; ``items`` may also be an async iterable."""

    def __init__(
        self, native: NativeClient, call: TagCall | None, items: Any, options: BulkOptions
    ) -> None:
        self._is_async = isinstance(items, AsyncIterable)
        #: The async input's next row, when results finished while it was being read.
        self._row_task: asyncio.Future[Any] | None = None
        self._source: Any = (
            aiter(items) if self._is_async else rows(items, options.id_column, options.tags_column)
        )
        super().__init__(native, call, items, options)

    async def _fill(self) -> None:
        while not self._exhausted and self._has_room:
            self._take()
            if self._ready:
                return
            try:
                row = await self._next_async_row() if self._is_async else next(self._source)
            except (StopIteration, StopAsyncIteration):
                self._exhausted = True
                break
            except Exception as e:
                raise _InputFailed(e) from e
            if row is _RESULTS_READY:
                return
            self._offer(row)
        if not self._ready and self._pending:
            await _aio.call(self._run.wait_ready_async)
            self._take()

    async def _next_async_row(self) -> Any:
        """The next row of the async input; ``_RESULTS_READY`` if results finished first (the
        row is still being read, and is taken on the next call)."""
        if self._row_task is None:
            if not self._pending:
                return await anext(self._source)
            self._row_task = asyncio.ensure_future(_anext(self._source))
        ready = asyncio.ensure_future(_aio.call(self._run.wait_ready_async))
        try:
            await asyncio.wait((self._row_task, ready), return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Waiting takes nothing: cancelling the wait loses no result.
            ready.cancel()
        if not self._row_task.done():
            return _RESULTS_READY
        task, self._row_task = self._row_task, None
        return task.result()

    def _close(self) -> None:
        if self._row_task is not None:
            self._row_task.cancel()
        super()._close()

    async def results(self) -> AsyncGenerator[BulkResult, None]:
        try:
            while self._work_left():
                await self._fill()
                while self._ready:
                    yield self._take_ready()
        except _InputFailed as e:
            raise e.error from None
        finally:
            self._close()

    async def collect(self, done: list[BulkResult], stop_at_failure: bool) -> BulkResult | None:
        try:
            failure = None
            while failure is None and self._work_left():
                await self._fill()
                failure = self._collect_ready(done, stop_at_failure)
            return failure
        finally:
            self._close()


#: What reading an async input gives when results finished first.
_RESULTS_READY = object()


async def _anext(source: Any) -> Any:
    return await anext(source)


def _check_on_error(on_error: str) -> None:
    if on_error not in ("collect", "raise"):
        raise ValueError(f"on_error must be 'collect' or 'raise', got {on_error!r}")


def _report(done: list[BulkResult], run: _Run) -> BulkReport:
    """Everything taken from the input: what the caller got, then what the run drained (an
    item can be in both if an interrupt landed just between; it counts once)."""
    have = {r.index for r in done}
    return BulkReport(done + [r for r in run.drained if r.index not in have])


def _finished(done: list[BulkResult], run: _Run, first_failure: BulkResult | None) -> BulkReport:
    """The report of a run that ended, or the error of one stopped at its first failure."""
    report = _report(done, run)
    if first_failure is not None:
        raise _stopped_at(first_failure, report) from first_failure.error
    return report


def _tally(report: BulkReport) -> str:
    return (
        f"{count(report.succeeded)} succeeded, {count(report.failed)} failed and "
        f"{count(report.not_started)} not started"
    )


def _stopped_at(first: BulkResult, report: BulkReport) -> BulkError:
    return BulkError(
        f"item {first.index} (customer {first.customer_id!r}) failed: {first.error}; "
        f"stopped with {_tally(report)} (see .report)",
        report,
    )


def _input_failed(failure: _InputFailed, report: BulkReport) -> BulkError:
    error = failure.error
    return BulkError(
        f"reading the input failed after {counted(len(report), 'item')}: "
        f"{type(error).__name__}: {error} ({_tally(report)}; see .report)",
        report,
    )


def collect(run: SyncRun, on_error: OnError) -> BulkReport:
    """Run to the end and return every result in input order. With ``on_error="raise"`` the
    first failure stops the run: :class:`BulkError` carries the report. Ctrl-C raises
    :class:`BulkInterrupted`, also with the report."""
    _check_on_error(on_error)
    done: list[BulkResult] = []
    try:
        first_failure = run.collect(done, stop_at_failure=on_error == "raise")
    except KeyboardInterrupt:
        raise BulkInterrupted(_report(done, run)) from None
    except _InputFailed as e:
        # Say so, with the report of what was done before.
        raise _input_failed(e, _report(done, run)) from e.error
    return _finished(done, run, first_failure)


async def acollect(run: AsyncRun, on_error: OnError) -> BulkReport:
    """:func:`collect` for asyncio. Cancelling the task cancels the run."""
    _check_on_error(on_error)
    done: list[BulkResult] = []
    try:
        first_failure = await run.collect(done, stop_at_failure=on_error == "raise")
    except _InputFailed as e:
        raise _input_failed(e, _report(done, run)) from e.error
    return _finished(done, run, first_failure)
