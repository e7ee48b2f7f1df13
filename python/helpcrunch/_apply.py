"""Applying a plan and undoing it: a plan's changes sent through the bulk engine (``_bulk.py``:
concurrency, rate limit, progress, Ctrl-C accounting), each recorded in the sync's log
(``_journal.ChangeLog``) as it is sent and as it completes; undo sends the inverse of every
change the log shows applied (or maybe applied), latest first per customer, so the customers end
as they were before the first run the log holds.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from ._bulk import AsyncRun, BulkOptions, OnError, SyncRun, acollect, collect
from ._exceptions import BulkError, BulkInterrupted, MassRemovalError, RequestCancelledError
from ._journal import Applied, ChangeLog
from ._native import BulkItem, Change, NativeClient
from ._progress import VERBS, ProgressArg
from ._report import BulkReport, BulkResult
from ._segments import Allow, TagsPlan
from ._sync import TagPlan

__all__ = [
    "RunOptions",
    "Step",
    "apply_steps",
    "arun_steps",
    "open_log",
    "open_tags_log",
    "run_steps",
    "sync_steps",
    "undo_steps",
]


class _StepLog:
    """One step's view of the sync's log: the step's items are the plan's changes from
    ``offset`` on. The log outlives each step; the apply closes it."""

    def __init__(self, log: ChangeLog, offset: int) -> None:
        self.log = log
        self.offset = offset

    def is_done(self, index: int, item: BulkItem) -> bool:
        return self.log.is_done(self.offset + index, item)

    def sending(self, index: int, item: BulkItem) -> None:
        self.log.sending(self.offset + index, item)

    def record(self, index: int, item: BulkItem | None, result: BulkResult) -> None:
        self.log.record(self.offset + index, item, result)

    def close(self) -> None:
        pass


class _UndoLog:
    """Undo's view of the log: a line for each change it reversed (or failed to)."""

    def __init__(self, log: ChangeLog, undoing: list[Applied]) -> None:
        self.log = log
        self.undoing = undoing

    def is_done(self, index: int, item: BulkItem) -> bool:
        return False

    def sending(self, index: int, item: BulkItem) -> None:
        pass

    def record(self, index: int, item: BulkItem | None, result: BulkResult) -> None:
        if result.skipped or isinstance(result.error, RequestCancelledError):
            return  # not known to be undone: a rerun of undo sends it again
        self.log.undone(self.undoing[index], result)

    def close(self) -> None:
        pass


@dataclass
class Step:
    """One bulk run of an apply (or undo): the adds, the removals, or one round of undo."""

    changes: list[Change]
    journal: _StepLog | _UndoLog | None
    #: Index of its first item in the combined report.
    offset: int
    #: What it does, for progress.
    verb: str


def _check_plan(plan: TagPlan | TagsPlan, allow_mass_removal: Allow) -> None:
    if isinstance(plan, TagsPlan):
        _check_tags_plan(plan, allow_mass_removal)
        return
    if not isinstance(plan, TagPlan):
        raise TypeError(
            f"plan must be a TagPlan (from plan_tag) or a TagsPlan (from plan_tags), not "
            f"{type(plan).__name__}"
        )
    allowed = (
        plan.tag in allow_mass_removal
        if isinstance(allow_mass_removal, (set, frozenset))
        else bool(allow_mass_removal)
    )
    if plan.mass_removal is not None and plan._guard is not None and not allowed:
        removing, holders = plan._guard
        raise MassRemovalError(plan.mass_removal, removing=removing, holders=holders)


def _check_tags_plan(plan: TagsPlan, allow: Allow) -> None:
    """The guard, per tag: ``allow`` is every tag (True), none (False) or the tags named."""
    if not isinstance(allow, (bool, set, frozenset)):
        raise TypeError(
            "allow_mass_removal must be True, False or a set of tag names, not "
            f"{type(allow).__name__}"
        )
    allowed = set(plan.tags) if allow is True else set() if allow is False else allow
    refused = [t for t in plan.mass_removal if t not in allowed]
    if not refused:
        return
    reasons = "; ".join(f"tag {t!r}: {plan.mass_removal[t]}" for t in refused)
    removing, holders = plan.by_tag[refused[0]]._guard or (0, 0)
    raise MassRemovalError(
        f"{reasons} (or allow_mass_removal={set(refused)!r} for these tags only)",
        removing=removing,
        holders=holders,
        tags=refused,
    )


def open_tags_log(
    log: str | os.PathLike[str] | None, tags: list[str], mode: str, match: str
) -> ChangeLog | None:
    """:func:`open_log` for a sync of several tags: its header names every managed tag."""
    if log is None:
        return None
    return ChangeLog(log, {"tags": sorted(tags), "mode": mode, "match": match})


def open_log(
    log: str | os.PathLike[str] | None, tag: str, mode: str, match: str
) -> ChangeLog | None:
    """The sync's log opened and checked (a file that is not this sync's log is refused, and
    left as it was), before anything is sent."""
    if log is None:
        return None
    return ChangeLog(log, {"tag": tag, "mode": mode, "match": match})


def apply_steps(
    plan: TagPlan | TagsPlan, allow_mass_removal: Allow, log: str | os.PathLike[str] | None
) -> tuple[list[Step], ChangeLog | None]:
    """The guard, then the log opened: both before anything is sent."""
    _check_plan(plan, allow_mass_removal)
    if isinstance(plan, TagsPlan):
        opened = open_tags_log(log, plan.tags, plan.mode, plan.match)
    else:
        opened = open_log(log, plan.tag, plan.mode, plan.match)
    return _steps(plan, opened), opened


def sync_steps(
    plan: TagPlan | TagsPlan, allow_mass_removal: Allow, opened: ChangeLog | None
) -> list[Step]:
    """:func:`apply_steps` for a log opened before the plan was made (``sync_tag``)."""
    try:
        _check_plan(plan, allow_mass_removal)
    except BaseException:
        if opened is not None:
            opened.close()
        raise
    return _steps(plan, opened)


def _steps(plan: TagPlan | TagsPlan, opened: ChangeLog | None) -> list[Step]:
    """The log's run started, and the steps: adds, then removals (an interrupted mirror leaves
    a tag too many rather than too few)."""
    color: str | dict[str, str | None] | None
    if isinstance(plan, TagsPlan):
        # Merged per customer: one change may carry several tags.
        planned, color = plan.changes, plan.color
    else:
        planned = [i.change for i in plan.items if i.change is not None]
        color = plan.known_color or plan.color
    if opened is not None:
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        opened.start(plan.id, color, started)
    steps = []
    offset = 0
    for kind, verb in (("add", VERBS["add_tags"]), ("remove", VERBS["remove_tags"])):
        changes = [c for c in planned if c.kind == kind]
        journal = None if opened is None else _StepLog(opened, offset)
        steps.append(Step(changes, journal, offset, verb))
        offset += len(changes)
    return steps


def undo_steps(log: str | os.PathLike[str]) -> tuple[list[Step], ChangeLog]:
    """The inverse of every change the log shows applied and not undone, in rounds: each
    customer's latest change is reversed in the first round, the one before it in the second,
    and so on, so each customer's changes are reversed in exactly the reverse order."""
    opened = ChangeLog(log, None)
    try:
        applied = opened.applied()
    except BaseException:
        opened.close()
        raise
    rounds: list[list[Applied]] = []
    reversed_so_far: dict[int, int] = {}
    for change in reversed(applied):
        depth = reversed_so_far.get(change.change.customer_id, 0)
        reversed_so_far[change.change.customer_id] = depth + 1
        if depth == len(rounds):
            rounds.append([])
        rounds[depth].append(change)
    steps = []
    offset = 0
    for undoing in rounds:
        inverses = [a.change.inverse() for a in undoing]
        steps.append(Step(inverses, _UndoLog(opened, undoing), offset, "undoing"))
        offset += len(inverses)
    return steps, opened


def _shifted(results: Iterable[BulkResult], offset: int) -> list[BulkResult]:
    return [dataclasses.replace(r, index=r.index + offset) for r in results]


def _not_started(steps: list[Step]) -> list[BulkResult]:
    """The items of steps a stop kept from starting: cancelled, nothing sent."""
    return [
        BulkResult.not_sent(
            step.offset + i,
            change.customer_id,
            change.tags,
            RequestCancelledError("not sent: the run stopped before it"),
        )
        for step in steps
        for i, change in enumerate(step.changes)
    ]


def _stopped(
    error: BulkError | BulkInterrupted, done: list[BulkResult], step: Step, later: list[Step]
) -> BaseException:
    """The same stop, with a report of the whole apply."""
    taken = list(error.report or [])
    # The bulk engine reads its input lazily: the rest of this step was never taken.
    rest = Step(step.changes[len(taken) :], None, step.offset + len(taken), step.verb)
    report = BulkReport(done + _shifted(taken, step.offset) + _not_started([rest, *later]))
    if isinstance(error, BulkInterrupted):
        return BulkInterrupted(report)
    return BulkError(error.message, report)


@dataclass(frozen=True)
class RunOptions:
    concurrency: int
    progress: ProgressArg
    on_error: OnError


def _options(step: Step, options: RunOptions) -> BulkOptions:
    return BulkOptions(
        options.concurrency,
        options.progress,
        None,
        "customer_id",
        "tags",
        step.journal,
        step.verb,
    )


def run_steps(
    native: NativeClient, steps: list[Step], log: ChangeLog | None, options: RunOptions
) -> BulkReport:
    done: list[BulkResult] = []
    try:
        for n, step in enumerate(steps):
            if not step.changes:
                continue
            run = SyncRun(native, None, step.changes, _options(step, options))
            try:
                report = collect(run, options.on_error)
            except (BulkError, BulkInterrupted) as e:
                cause = e.__cause__ if isinstance(e, BulkError) else None
                raise _stopped(e, done, step, steps[n + 1 :]) from cause
            done += _shifted(report, step.offset)
    finally:
        if log is not None:
            log.close()
    return BulkReport(done)


async def arun_steps(
    native: NativeClient, steps: list[Step], log: ChangeLog | None, options: RunOptions
) -> BulkReport:
    done: list[BulkResult] = []
    try:
        for n, step in enumerate(steps):
            if not step.changes:
                continue
            run = AsyncRun(native, None, step.changes, _options(step, options))
            try:
                report = await acollect(run, options.on_error)
            except (BulkError, BulkInterrupted) as e:
                cause = e.__cause__ if isinstance(e, BulkError) else None
                raise _stopped(e, done, step, steps[n + 1 :]) from cause
            done += _shifted(report, step.offset)
    finally:
        if log is not None:
            log.close()
    return BulkReport(done)
