"""Applying a customer plan and undoing it.

- Updates: one ``PATCH`` per customer through the bulk engine (``_apply.run_steps``: the same
  concurrency, rate limit, progress, Ctrl-C and log as tag sync), or with ``batch=True`` one
  ``PUT /customers/batch`` per ten customers, each sent whole.
- Creates: one ``POST /customers`` each, one at a time (a refused one fails its row with
  HelpCrunch's words, never the run); a create is logged once HelpCrunch gave its id.
- Undo: the customers the log changed are read again (ids joined by OR, several per search);
  each field is put back only where it still holds what the run wrote, the others are
  reported as conflicts; created customers are listed, or deleted with ``delete_created``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import datetime, timezone
from typing import Any, NamedTuple, cast

from . import _aio, _native
from ._apply import RunOptions, Step, _StepLog, _UndoLog, arun_steps, run_steps
from ._customers_sync import BATCH_SIZE, CustomerPlan
from ._exceptions import BulkError, BulkInterrupted, MassChangeError, RequestCancelledError
from ._journal import Applied, ChangeLog, Record, _change_of, _error_text, _fields
from ._native import BulkItem, Change, NativeClient
from ._report import BulkReport, BulkResult
from ._types import Customer

__all__ = [
    "Apply",
    "Conflict",
    "CustomerLog",
    "Undo",
    "UndoReport",
    "arun_apply",
    "arun_undo",
    "is_customer_log",
    "open_log",
    "prepare",
    "prepare_undo",
    "run_apply",
    "run_undo",
]

_FORMAT = "helpcrunch customer sync"


class CustomerLog(ChangeLog):
    """A customer sync's log: the tag sync's format and rules (``_journal.ChangeLog``), its
    header naming a customer sync; creates logged with the id HelpCrunch gave."""

    FORMAT = _FORMAT
    WHAT = "customer sync log"

    def applied(self) -> list[Applied]:
        """As :meth:`ChangeLog.applied`; a create cut off in flight (no id known) is in
        :attr:`maybe_created` instead."""
        #: The fields of each create sent whose answer never came.
        self.maybe_created: list[Record] = []
        out = []
        for ref, (record, line) in self._latest.items():
            if ref in self._undone:
                continue
            if record.get("pending") == "create":
                self.maybe_created.append(record.get("fields") or {})
            elif "pending" in record:
                out.append(Applied(ref, _change_of(record, "pending"), line))
            elif record.get("ok") is True:
                out.append(Applied(ref, _change_of(record, "change"), line))
        out.sort(key=lambda a: a.line)
        return out

    def done(self, seq: int) -> bool:
        latest = self._latest.get((str(self.run), seq))
        return latest is not None and latest[0].get("ok") is True

    def _append(self, seq: int, record: Record) -> None:
        self._latest[(str(self.run), seq)] = (record, self._file.append(record))

    def pending(self, seq: int, kind: str, fields: Record) -> None:
        self._append(seq, {"run": self.run, "seq": seq, "pending": kind, **fields})

    def outcome(self, seq: int, kind: str, fields: Record, result: BulkResult) -> None:
        if isinstance(result.error, RequestCancelledError) and result.attempts > 0:
            return  # cut off in flight: the pending line stays
        record: Record = {"run": self.run, "seq": seq, "change": kind, **fields, "ok": result.ok}
        if not result.ok:
            record["sent"] = result.attempts > 0
            record["error"] = _error_text(result)
        self._append(seq, record)

    def left(self, applied: Applied, why: str) -> None:
        """Undo's line for a change it leaves (every field changed since, or the customer
        gone): done with, so a second undo does not report it again."""
        self._undone.add(applied.ref)
        self._file.append(
            {
                "undo": list(applied.ref),
                "customer_id": applied.change.customer_id,
                "ok": True,
                "left": why,
            }
        )


def is_customer_log(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts with a customer sync's header (an unreadable or other file is
    left to the tag sync's log to refuse, with its words)."""
    try:
        with open(path, "rb") as f:
            first = f.readline()
        return bool(json.loads(first).get("log") == _FORMAT)
    except (OSError, ValueError, AttributeError):
        return False


def check_plan(plan: CustomerPlan, allow_mass_change: bool) -> None:
    if plan.mass_change is not None and plan._guard is not None and not allow_mass_change:
        updating, read, clearing = plan._guard
        raise MassChangeError(plan.mass_change, updating=updating, read=read, clearing=clearing)


def open_log(log: str | os.PathLike[str] | None, match: str) -> CustomerLog | None:
    return None if log is None else CustomerLog(log, {"match": match})


@dataclasses.dataclass
class Apply:
    """An apply, ready: the updates as a bulk step (or batches), the creates."""

    plan: CustomerPlan
    log: CustomerLog | None
    batch: bool
    options: RunOptions

    def start(self) -> None:
        if self.log is not None:
            started = datetime.now(timezone.utc).isoformat(timespec="seconds")
            self.log.start(self.plan.id, None, started)

    @property
    def updates(self) -> list[Change]:
        return [i.change for i in self.plan.to_update if i.change is not None]

    def update_step(self) -> Step:
        journal = None if self.log is None else _StepLog(self.log, 0)
        return Step(self.updates, journal, 0, "updating")

    def batches(self) -> list[list[tuple[int, Change]]]:
        numbered = list(enumerate(self.updates))
        return [numbered[i : i + BATCH_SIZE] for i in range(0, len(numbered), BATCH_SIZE)]

    def creates(self) -> list[tuple[int, dict[str, Any]]]:
        first = len(self.updates)
        return [(first + n, i.create or {}) for n, i in enumerate(self.plan.to_create)]


def prepare(
    plan: CustomerPlan,
    allow_mass_change: bool,
    log: CustomerLog | None,
    batch: bool,
    options: RunOptions,
) -> Apply:
    """The guard, before anything is written (the log, opened by the caller, closed if it
    refuses)."""
    try:
        check_plan(plan, allow_mass_change)
    except BaseException:
        if log is not None:
            log.close()
        raise
    return Apply(plan, log, batch, options)


def _failed(index: int, customer_id: Any, error: BaseException) -> BulkResult:
    attempts = getattr(error, "attempts", 1)
    return dataclasses.replace(
        BulkResult.not_sent(index, customer_id, None, error),
        attempts=attempts if isinstance(attempts, int) else 1,
    )


def _succeeded(index: int, customer_id: Any, customer: Any) -> BulkResult:
    return BulkResult(
        index=index,
        customer_id=customer_id,
        tags=None,
        ok=True,
        customer=cast(Customer, customer) if isinstance(customer, dict) else None,
        error=None,
        attempts=1,
    )


class _Writes:
    """The creates and batches of an apply, one request at a time, each logged before it is
    sent and as it completes. ``send`` makes one customer call (blocking or awaited)."""

    def __init__(self, apply: Apply) -> None:
        self.apply = apply
        self.log = apply.log
        self.results: list[BulkResult] = []

    def skip(self, seq: int, customer_id: Any) -> bool:
        if self.log is not None and self.log.done(seq):
            self.results.append(BulkResult.done_before(seq, customer_id, None))
            return True
        return False

    def batch_sending(self, group: list[tuple[int, Change]]) -> list[tuple[int, Change]]:
        todo = [(seq, c) for seq, c in group if not self.skip(seq, c.customer_id)]
        if self.log is not None:
            for seq, change in todo:
                self.log.pending(seq, change.kind, _fields(change))
        return todo

    def batch_done(self, todo: list[tuple[int, Change]], error: BaseException | None) -> None:
        for seq, change in todo:
            if error is None:
                result = _succeeded(seq, change.customer_id, None)
            else:
                result = _failed(seq, change.customer_id, error)
            self.finish(seq, change.kind, _fields(change), result)

    def create_sending(self, seq: int, body: dict[str, Any]) -> bool:
        if self.skip(seq, None):
            return False
        if self.log is not None:
            self.log.pending(seq, "create", {"fields": body})
        return True

    def create_done(
        self, seq: int, body: dict[str, Any], answer: Any, error: BaseException | None
    ) -> None:
        if error is not None:
            self.finish(seq, "create", {"fields": body}, _failed(seq, None, error))
            return
        customer_id = answer.get("id") if isinstance(answer, dict) else None
        result = _succeeded(seq, customer_id, answer)
        if not isinstance(customer_id, int) or isinstance(customer_id, bool):
            # Created, but no id to log: its pending line stays, and undo lists it as maybe
            # created rather than failing to read the log.
            self.results.append(result)
            return
        self.finish(seq, "create", {"customer_id": customer_id, "fields": body}, result)

    def finish(self, seq: int, kind: str, fields: Record, result: BulkResult) -> None:
        if self.log is not None:
            self.log.outcome(seq, kind, fields, result)
        self.results.append(result)
        if not result.ok and self.apply.options.on_error == "raise":
            assert result.error is not None
            raise BulkError(
                f"item {seq} failed: {result.error}", BulkReport(self.results)
            ) from result.error


def _batch_error(error: BaseException) -> BaseException | None:
    """A batch's failure as each of its customers' error (Ctrl-C passes through)."""
    return error if isinstance(error, Exception) else None


def run_apply(native: NativeClient, apply: Apply) -> BulkReport:
    """Send everything (blocking)."""
    apply.start()
    done: list[BulkResult] = []
    writes = _Writes(apply)
    try:
        if apply.batch:
            for group in apply.batches():
                todo = writes.batch_sending(group)
                if todo:
                    try:
                        _native.customer_call(native, [c for _, c in todo])
                        writes.batch_done(todo, None)
                    except Exception as e:
                        writes.batch_done(todo, e)
        else:
            done = list(run_steps(native, [apply.update_step()], None, apply.options))
        for seq, body in apply.creates():
            if writes.create_sending(seq, body):
                try:
                    answer = _native.customer_call(
                        native, "create_customer", None, json.dumps(body)
                    )
                    writes.create_done(seq, body, answer, None)
                except Exception as e:
                    writes.create_done(seq, body, None, e)
    except KeyboardInterrupt as e:
        raise BulkInterrupted(BulkReport(done + writes.results)) from e
    finally:
        if apply.log is not None:
            apply.log.close()
    return BulkReport(done + writes.results)


async def arun_apply(native: NativeClient, apply: Apply) -> BulkReport:
    """Send everything (awaited)."""
    apply.start()
    done: list[BulkResult] = []
    writes = _Writes(apply)
    try:
        if apply.batch:
            for group in apply.batches():
                todo = writes.batch_sending(group)
                if todo:
                    try:
                        await _aio.call(
                            _native.customer_call_async, native, [c for _, c in todo], None, None
                        )
                        writes.batch_done(todo, None)
                    except Exception as e:
                        writes.batch_done(todo, e)
        else:
            done = list(await arun_steps(native, [apply.update_step()], None, apply.options))
        for seq, body in apply.creates():
            if writes.create_sending(seq, body):
                try:
                    answer = await _aio.call(
                        _native.customer_call_async,
                        native,
                        "create_customer",
                        None,
                        json.dumps(body),
                    )
                    writes.create_done(seq, body, answer, None)
                except Exception as e:
                    writes.create_done(seq, body, None, e)
    finally:
        if apply.log is not None:
            apply.log.close()
    return BulkReport(done + writes.results)


# --- undo --------------------------------------------------------------------------------------


class Conflict(NamedTuple):
    """A field undo left: changed since the run wrote it."""

    customer_id: int
    field: str
    #: What the run wrote (None: it emptied the field).
    wrote: Any
    #: What it holds now.
    now: Any


class UndoReport(BulkReport):
    """An undo's report: every request it sent (a :class:`BulkReport`), and what it left."""

    def __init__(self, results: Any) -> None:
        super().__init__(results)
        #: Fields changed since the run wrote them, left as they are.
        self.conflicts: list[Conflict] = []
        #: Customers the runs created that are left in place (``delete_created=False``).
        self.created: list[int] = []
        #: Customers the log changed that no longer exist.
        self.missing: list[int] = []
        #: Creates sent whose answer never came (no id known): their fields.
        self.maybe_created: list[dict[str, Any]] = []

    def __repr__(self) -> str:
        return (
            f"UndoReport({super().__repr__()}, {len(self.conflicts)} conflicts, "
            f"{len(self.created)} created customers left)"
        )


class _RestoreLog(_UndoLog):
    """Undo's lines for a customer's field changes, all put back by one request."""

    def __init__(
        self, log: ChangeLog, by_customer: dict[int, list[Applied]], ids: list[int]
    ) -> None:
        super().__init__(log, [])
        self.by_customer = by_customer
        self.ids = ids

    def record(self, index: int, item: BulkItem | None, result: BulkResult) -> None:
        if result.skipped or isinstance(result.error, RequestCancelledError):
            return
        for applied in self.by_customer.get(self.ids[index], []):
            self.log.undone(applied, result)


@dataclasses.dataclass
class Undo:
    log: CustomerLog
    fields: list[Applied]
    creates: list[Applied]
    delete_created: bool
    options: RunOptions


def prepare_undo(path: str | os.PathLike[str], delete_created: bool, options: RunOptions) -> Undo:
    opened = CustomerLog(path, None)
    try:
        applied = opened.applied()
    except BaseException:
        opened.close()
        raise
    return Undo(
        opened,
        [a for a in applied if a.change.kind == "set"],
        [a for a in applied if a.change.kind == "create"],
        bool(delete_created),
        options,
    )


def _undo_steps(undo: Undo, plan: _native.NativeFieldUndo) -> tuple[list[Step], UndoReport]:
    by_customer: dict[int, list[Applied]] = {}
    for a in undo.fields:
        by_customer.setdefault(a.change.customer_id, []).append(a)
    restores = list(plan.changes)
    ids = [c.customer_id for c in restores]
    restored = set(ids)
    report = UndoReport([])
    report.conflicts = [Conflict(*c) for c in plan.conflicts]
    report.missing = list(plan.missing)
    missing = set(plan.missing)
    for customer_id, applied in by_customer.items():
        if customer_id not in restored:
            for a in applied:
                undo.log.left(a, "gone" if customer_id in missing else "conflict")
    steps = [Step(restores, _RestoreLog(undo.log, by_customer, ids), 0, "undoing")]
    if undo.delete_created:
        deletes = [a.change.inverse() for a in undo.creates]
        steps.append(Step(deletes, _UndoLog(undo.log, undo.creates), len(restores), "deleting"))
    else:
        report.created = [a.change.customer_id for a in undo.creates]
    report.maybe_created = list(getattr(undo.log, "maybe_created", []))
    return steps, report


def _finished(report: UndoReport, results: BulkReport) -> UndoReport:
    out = UndoReport(list(results))
    out.conflicts, out.created, out.missing = report.conflicts, report.created, report.missing
    out.maybe_created = report.maybe_created
    return out


def run_undo(native: NativeClient, undo: Undo) -> UndoReport:
    try:
        plan = _native.plan_field_undo(native, [a.change for a in undo.fields])
        steps, report = _undo_steps(undo, plan)
    except BaseException:
        undo.log.close()
        raise
    return _finished(report, run_steps(native, steps, undo.log, undo.options))


async def arun_undo(native: NativeClient, undo: Undo) -> UndoReport:
    try:
        plan = await _aio.call(
            _native.plan_field_undo_async, native, [a.change for a in undo.fields]
        )
        steps, report = _undo_steps(undo, plan)
    except BaseException:
        undo.log.close()
        raise
    return _finished(report, await arun_steps(native, steps, undo.log, undo.options))
