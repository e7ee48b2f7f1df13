"""Tag sync: make a tag match an audience (a segment of emails, user ids or customer ids).

The plan (who gets the tag, who loses it, which rows are rejected and why, with the fewest
searches) is made in the Rust core; this module takes the audience out of iterables and
DataFrames, shows the plan (:class:`TagPlan`), applies it through the bulk engine (``_bulk.py``:
concurrency, rate limit, progress, Ctrl-C accounting) and keeps the run's log, which ``undo``
reads to put back exactly what the run changed.

The log is JSON lines: a header (what the run is, and when it started); one ``pending`` line per change about to be
sent; one line per change as it completes (``change``: ``add``/``remove``, ``ok``, with the
tag's colour for a removal so undo can restore it); then undo's own lines (``undo``: the change
undone, ``of``: the line number of its record). A change still pending when the log ends (the
run was killed with it in flight) may have taken effect: undo reverses it too, which is safe
because a plan only adds the tag to customers who lack it and removes it from those who carry
it. The log holds no key and no customer data beyond ids.
"""

from __future__ import annotations

import dataclasses
import html
import json
import operator
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any, Literal

from . import _native
from ._bulk import (
    AsyncRun,
    BulkOptions,
    BulkReport,
    BulkResult,
    OnError,
    SyncRun,
    acollect,
    collect,
)
from ._exceptions import BulkError, BulkInterrupted, MassRemovalError, RequestCancelledError
from ._native import NativeClient, NativePlanRequest
from ._progress import Pace, ProgressArg, counted, duration
from ._types import Customer, TagCall

__all__ = ["DEFAULT_LOOKUP_BATCH", "Action", "MatchKind", "Mode", "PlanItem", "TagPlan"]

Mode = Literal["mirror", "add", "remove"]
MatchKind = Literal["email", "user_id", "id"]
Action = Literal["add", "remove", "none", "reject"]

#: Keys looked up in one search (``=`` filters joined by OR); halved when HelpCrunch refuses.
DEFAULT_LOOKUP_BATCH: int = _native.DEFAULT_LOOKUP_BATCH

_LOG_FORMAT = "helpcrunch tag sync"
_CALL: dict[str, TagCall] = {"add": "add_tags", "remove": "remove_tags"}
_UNDO: dict[str, str] = {"add": "remove", "remove": "add"}


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One audience row (or, in mirror mode, a holder outside the audience) and what the plan
    does with it."""

    #: HelpCrunch's id of the customer the key matched; None for a rejected row.
    customer_id: int | None
    #: The key as the audience gave it; None for a holder outside the audience.
    key: Any
    #: ``add``, ``remove``, ``none`` (already as the mode wants) or ``reject``.
    action: Action
    #: Why a row is rejected, in words; None otherwise.
    reason: str | None
    #: The customer as found, or None.
    customer: Customer | None
    #: Position in the audience; None for a holder outside it.
    row: int | None = None
    #: A short stable name for the reason: ``empty``, ``malformed``, ``duplicate``,
    #: ``unknown``, ``shared``, ``refused``.
    reason_code: str | None = None
    #: The tag's colour on this customer (what undo puts back after a removal).
    color: str | None = None
    #: For a ``duplicate`` row: the row kept in its place (a position, as ``row`` is).
    kept_row: int | None = None


class TagPlan:
    """What a sync would do, computed before anything is written (see ``Client.plan_tag``).

    Every audience row is in exactly one of :attr:`to_add`, :attr:`to_remove`,
    :attr:`unchanged`, :attr:`rejected`; in mirror mode the holders outside the audience are in
    :attr:`to_remove` too."""

    def __init__(self, native: dict[str, Any], keys: list[Any], rate_limit: float | None) -> None:
        self.tag: str = native["tag"]
        self.mode: Mode = native["mode"]
        self.match: MatchKind = native["match"]
        #: The colour asked for a tag that does not exist yet.
        self.color: str | None = native["color"]
        #: The tag's colour on its current holders, when it has any.
        self.known_color: str | None = native["known_color"]
        #: The tag's holders when the plan was made.
        self.holders: int = native["holders"]
        #: ``lookups`` (searches for the keys) or ``scan`` (the whole account listed).
        self.strategy: str = native["strategy"]
        self.strategy_reason: str = native["strategy_reason"]
        #: Requests the plan spent, by purpose (``total``, ``probes``, ``holder_pages``,
        #: ``lookups``, ``scan_pages``; ``unused``: refused and sent again smaller).
        self.requests: dict[str, int] = dict(native["requests"])
        #: Keys a lookup and customers a page in force at the end.
        self.lookup_batch: int = native["lookup_batch"]
        self.page_size: int = native["page_size"]
        #: The client's rate limit (requests a minute) when planned; None: no limit.
        self.rate_limit = rate_limit
        guard = native["mass_removal"]
        #: Why :meth:`Client.apply_plan` refuses this plan without ``allow_mass_removal=True``.
        self.mass_removal: str | None = None if guard is None else guard[3]
        self._guard: tuple[int, int] | None = None if guard is None else (guard[0], guard[1])
        items = []
        kept = native["duplicates"]
        for row, customer_id, action, code, reason, customer, color in native["items"]:
            key = None if row is None else keys[row]
            items.append(
                PlanItem(
                    customer_id, key, action, reason, customer, row, code, color, kept.get(row)
                )
            )
        self.items: list[PlanItem] = items

    def _with(self, action: str) -> list[PlanItem]:
        return [i for i in self.items if i.action == action]

    @property
    def to_add(self) -> list[PlanItem]:
        return self._with("add")

    @property
    def to_remove(self) -> list[PlanItem]:
        return self._with("remove")

    @property
    def unchanged(self) -> list[PlanItem]:
        return self._with("none")

    @property
    def rejected(self) -> list[PlanItem]:
        return self._with("reject")

    @property
    def writes(self) -> int:
        """Requests applying the plan sends: one per customer whose tags change."""
        counts = self._counts()
        return counts["add"] + counts["remove"]

    @property
    def lookups(self) -> int:
        """Requests the plan spent finding the customers."""
        return self.requests["total"]

    @property
    def seconds(self) -> float | None:
        """How long the writes take at the client's rate limit (None without one)."""
        return Pace(self.rate_limit).seconds(self.writes)

    def _counts(self) -> dict[str, int]:
        counts = {"add": 0, "remove": 0, "none": 0, "reject": 0}
        for item in self.items:
            counts[item.action] += 1
        return counts

    def summary(self) -> str:
        """The counts, the requests and the time, in one line."""
        c = self._counts()
        text = (
            f"{self.mode}, by {self.match}: {c['add']:,} to add, {c['remove']:,} to remove, "
            f"{c['none']:,} unchanged, {c['reject']:,} rejected; {counted(self.writes, 'write')} after "
            f"{counted(self.lookups, 'lookup')}"
        )
        seconds = self.seconds
        if seconds is not None:
            text += f", about {duration(seconds)} at {self.rate_limit:g}/min"
        if self.mass_removal is not None:
            text += f"; REFUSED without allow_mass_removal=True: {self.mass_removal}"
        return text

    def __repr__(self) -> str:
        return f"TagPlan({self.tag!r}, {self.summary()})"

    def to_pandas(self) -> Any:
        """A pandas DataFrame, one row per item: customer_id, key, action, reason."""
        import pandas as pd

        return pd.DataFrame(
            {
                "customer_id": pd.array([i.customer_id for i in self.items], dtype="Int64"),
                "key": [i.key for i in self.items],
                "action": [i.action for i in self.items],
                "reason": [i.reason for i in self.items],
            }
        )

    def _repr_html_(self) -> str:
        c = self._counts()
        rows = "".join(
            f"<tr><td>{label}</td><td>{n:,}</td></tr>"
            for label, n in (
                ("to add", c["add"]),
                ("to remove", c["remove"]),
                ("unchanged", c["none"]),
                ("rejected", c["reject"]),
                ("writes", self.writes),
                ("lookups spent", self.lookups),
            )
        )
        seconds = self.seconds
        if seconds is not None:
            rows += f"<tr><td>time at {self.rate_limit:g}/min</td><td>{duration(seconds)}</td></tr>"
        warning = (
            ""
            if self.mass_removal is None
            else f"<p><strong>Refused without allow_mass_removal=True:</strong> "
            f"{html.escape(self.mass_removal)}</p>"
        )
        return (
            f"<p>TagPlan <code>{html.escape(self.tag)}</code>: {self.mode}, by "
            f"{self.match} ({html.escape(self.strategy_reason)})</p>{warning}"
            f"<table>{rows}</table>"
        )


# --- the audience ------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A numpy/pandas scalar as the Python value the core reads; missing values as None."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    if type(value).__module__.split(".")[0] in ("numpy", "pandas"):
        try:
            import pandas as pd

            if pd.isna(value):
                return None
        except (ImportError, TypeError, ValueError):
            pass
        if hasattr(value, "item"):
            return value.item()
    if not isinstance(value, bool) and hasattr(value, "__index__"):
        return operator.index(value)
    return value


def audience_keys(audience: Any, key_column: str | None) -> list[Any]:
    """The audience's keys as a list, one per row: from an iterable of keys (or of mappings,
    with ``key_column``), or a pandas/polars Series or DataFrame (``key_column`` names the
    column; a one-column DataFrame needs none)."""
    module = type(audience).__module__.split(".")[0]
    if module in ("pandas", "polars"):
        column = audience
        if hasattr(audience, "columns"):
            columns = list(audience.columns)
            if key_column is None:
                if len(columns) != 1:
                    raise ValueError(
                        f"the DataFrame has {len(columns)} columns ({columns}): pass "
                        "key_column= to name the one holding the keys"
                    )
                key_column = columns[0]
            if key_column not in columns:
                raise ValueError(f"the DataFrame has no column {key_column!r} (columns: {columns})")
            column = audience[key_column]
        return [_plain(v) for v in column.to_list()]
    if isinstance(audience, (str, bytes, Mapping)):
        raise TypeError(
            "audience must be an iterable of keys, or a pandas/polars DataFrame or Series; "
            f"not {type(audience).__name__}"
        )
    try:
        rows = iter(audience)
    except TypeError:
        raise TypeError(
            f"audience must be an iterable of keys, not {type(audience).__name__}"
        ) from None
    if key_column is None:
        return [_plain(v) for v in rows]
    keys = []
    for row in rows:
        if not isinstance(row, Mapping):
            raise TypeError(
                f"with key_column={key_column!r} each row must be a mapping, not "
                f"{type(row).__name__}"
            )
        keys.append(_plain(row.get(key_column)))
    return keys


def plan_request(
    native: NativeClient,
    tag: str,
    audience: Any,
    *,
    match: str,
    mode: str,
    color: str | None,
    key_column: str | None,
    lookup_batch: int | None,
) -> tuple[NativePlanRequest, list[Any]]:
    """The checked request (TypeError/ValueError before anything is sent) and the keys."""
    for name, value in (("tag", tag), ("match", match), ("mode", mode)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if color is not None and not isinstance(color, str):
        raise TypeError(f"color must be a str like '#c57de0', not {type(color).__name__}")
    keys = audience_keys(audience, key_column)
    return native.plan_request(tag, color, mode, match, keys, lookup_batch), keys


# --- the log ---------------------------------------------------------------------------------


class Log:
    """A sync's log file: its header, the changes applied, and undo's lines (module docs)."""

    def __init__(self, path: str | os.PathLike[str], header: dict[str, Any] | None) -> None:
        """Open ``path``, reading what it holds. ``header``: the run about to apply (checked
        against the file's); None to undo what the file holds."""
        self.path = os.fspath(path)
        self.header: dict[str, Any] | None = None
        #: Line number -> the change, for every change applied (or maybe applied: see
        #: ``unresolved``).
        self.changes: dict[int, dict[str, Any]] = {}
        #: Line numbers of the changes undo has reversed.
        self.undone: set[int] = set()
        #: (change, customer id) -> line, for changes about to be sent whose outcome no line
        #: gives: the run was killed with them in flight, so they may have taken effect.
        self.unresolved: dict[tuple[str, int], int] = {}
        self.lines = 0
        last = ""
        try:
            with open(self.path, encoding="utf-8") as f:
                for last in f:
                    self._read(last)
                    self.lines += 1
        except FileNotFoundError:
            if header is None:
                raise
        if header is None and self.header is None:
            raise ValueError(f"{self.path} is not a tag sync log (it has no header line)")
        if header is not None and self.header is not None:
            for field in ("tag", "mode", "match"):
                if self.header.get(field) != header[field]:
                    raise ValueError(
                        f"{self.path} is the log of another sync ({field} "
                        f"{self.header.get(field)!r}, not {header[field]!r}): use a new file"
                    )
        self._file: IO[str] = open(self.path, "a", encoding="utf-8")
        if last and not last.endswith("\n"):
            # A run killed mid-write left a cut line: it counts as a line, and the next record
            # must not join it.
            self._file.write("\n")
        if header is not None and self.header is None:
            self.header = header
            self._write({"log": _LOG_FORMAT, **header})

    def _read(self, text: str) -> None:
        try:
            entry = json.loads(text)
        except ValueError:
            return  # a line cut short by a kill: that change runs again
        if not isinstance(entry, dict):
            return
        if entry.get("log") == _LOG_FORMAT and self.header is None:
            self.header = entry
            return
        if entry.get("ok") and entry.get("undo") in _CALL and isinstance(entry.get("of"), int):
            self.undone.add(entry["of"])
            return
        change = entry.get("pending", entry.get("change"))
        customer_id = entry.get("customer_id")
        if change not in _CALL or not isinstance(customer_id, int):
            return
        key: tuple[str, int] = (change, customer_id)
        if "pending" in entry:
            # A rerun sends again what a killed run left pending: the new line stands for both.
            older = self.unresolved.pop(key, None)
            if older is not None:
                del self.changes[older]
            self.unresolved[key] = self.lines
            self.changes[self.lines] = {**entry, "change": change}
        elif "ok" in entry:
            pending = self.unresolved.pop(key, None)
            if pending is not None:
                del self.changes[pending]
            if entry["ok"]:
                self.changes[self.lines] = entry

    def _write(self, entry: dict[str, Any]) -> int:
        self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._file.flush()
        self.lines += 1
        return self.lines - 1

    def in_force(self) -> dict[tuple[str, int], int]:
        """(change, customer id) -> line, for the changes known applied and not undone."""
        return {
            (e["change"], e["customer_id"]): line
            for line, e in self.changes.items()
            if line not in self.undone and "pending" not in e
        }

    def close(self) -> None:
        self._file.close()


def _error_text(result: BulkResult) -> str | None:
    return None if result.error is None else f"{type(result.error).__name__}: {result.error}"


class _Journal:
    """What the bulk engine calls as each item finishes (its checkpoint's place): the log's line
    for it, written before the result is handed over, so a Ctrl-C loses none."""

    def __init__(
        self,
        log: Log | None,
        change: str,
        colors: dict[int, str | None],
        undoing: dict[int, int] | None = None,
    ) -> None:
        self.log = log
        self.change = change
        self.colors = colors
        #: For undo: customer id -> the line of the change it reverses.
        self.undoing = undoing
        self.done = set() if log is None or undoing is not None else log.in_force()

    def is_done(self, key: str | None) -> bool:
        if key is None or not self.done:
            return False
        customer_id = int(json.loads(key)[0])
        return (self.change, customer_id) in self.done

    def record(self, result: BulkResult, key: str | None) -> None:
        if self.log is None or result.skipped:
            return
        if isinstance(result.error, RequestCancelledError) and self.undoing is None:
            # Stopped in flight: it may have taken effect. Its pending line stays unresolved,
            # so a rerun sends it again and undo reverses it (both harmless if it did not).
            return
        customer_id = result.customer_id
        entry: dict[str, Any]
        if self.undoing is None:
            entry = {"change": self.change, "customer_id": customer_id}
            if self.change == "remove":
                entry["color"] = self.colors.get(customer_id)
        else:
            entry = {
                "undo": self.change,
                "customer_id": customer_id,
                "of": self.undoing[customer_id],
            }
        entry["ok"] = result.ok
        if not result.ok:
            entry["error"] = _error_text(result)
        self.log._write(entry)

    def close(self) -> None:
        pass  # the log outlives each step; the run closes it


# --- applying --------------------------------------------------------------------------------


@dataclass
class Step:
    """One bulk run of an apply (or undo): the adds, or the removals."""

    call: TagCall
    items: list[tuple[int, list[dict[str, str]]]]
    journal: _Journal
    #: Index of its first item in the combined report.
    offset: int


def _tag_spec(tag: str, color: str | None) -> list[dict[str, str]]:
    return [{"name": tag} if color is None else {"name": tag, "color": color}]


def apply_steps(
    plan: TagPlan, allow_mass_removal: bool, log: str | os.PathLike[str] | None
) -> tuple[list[Step], Log | None]:
    """The guard, the log opened (its header written), and the steps: adds, then removals (an
    interrupted mirror leaves a tag too many rather than too few)."""
    if not isinstance(plan, TagPlan):
        raise TypeError(f"plan must be a TagPlan (from plan_tag), not {type(plan).__name__}")
    if plan.mass_removal is not None and plan._guard is not None and not allow_mass_removal:
        removing, holders = plan._guard
        raise MassRemovalError(plan.mass_removal, removing=removing, holders=holders)
    # An existing tag keeps its colour; `color=` is for a tag not made yet.
    color = plan.known_color or plan.color
    header = {
        "tag": plan.tag,
        "mode": plan.mode,
        "match": plan.match,
        "color": color,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    opened = None if log is None else Log(log, header)
    done = {} if opened is None else opened.in_force()
    steps = []
    offset = 0
    for change in ("add", "remove"):
        items = [i for i in plan.items if i.action == change and i.customer_id is not None]
        colors = {i.customer_id: i.color for i in items if i.customer_id is not None}
        if opened is not None:
            for customer_id, item_color in colors.items():
                if (change, customer_id) not in done:
                    entry: dict[str, Any] = {"pending": change, "customer_id": customer_id}
                    if change == "remove":
                        entry["color"] = item_color
                    opened._write(entry)
        spec = _tag_spec(plan.tag, color if change == "add" else None)
        steps.append(
            Step(
                _CALL[change],
                [(i.customer_id, spec) for i in items if i.customer_id is not None],
                _Journal(opened, change, colors),
                offset,
            )
        )
        offset += len(items)
    return steps, opened


def undo_steps(log: str | os.PathLike[str]) -> tuple[list[Step], Log]:
    """Every change the log shows applied and not yet undone, reversed, latest first."""
    opened = Log(log, None)
    header = opened.header or {}
    tag = header.get("tag")
    if not isinstance(tag, str):
        opened.close()
        raise ValueError(f"{opened.path}: the header names no tag")
    pending = [
        (line, entry) for line, entry in sorted(opened.changes.items()) if line not in opened.undone
    ]
    pending.reverse()
    steps = []
    offset = 0
    for change in ("remove", "add"):
        # Undoing a removal puts the tag back, with the colour it had.
        mine = [(line, e) for line, e in pending if e["change"] == change]
        undoing = {e["customer_id"]: line for line, e in mine}
        items = [
            (
                e["customer_id"],
                _tag_spec(tag, e.get("color") or header.get("color"))
                if change == "remove"
                else _tag_spec(tag, None),
            )
            for _, e in mine
        ]
        steps.append(
            Step(
                _CALL[_UNDO[change]],
                items,
                _Journal(opened, change, {}, undoing),
                offset,
            )
        )
        offset += len(items)
    return steps, opened


def _shifted(results: Iterable[BulkResult], offset: int) -> list[BulkResult]:
    return [dataclasses.replace(r, index=r.index + offset) for r in results]


def _not_started(steps: list[Step]) -> list[BulkResult]:
    """The items of steps a stop kept from starting: cancelled, nothing sent."""
    return [
        BulkResult(
            step.offset + i,
            customer_id,
            tags,
            False,
            None,
            RequestCancelledError("not sent: the run stopped before it"),
            0,
        )
        for step in steps
        for i, (customer_id, tags) in enumerate(step.items)
    ]


def _stopped(
    error: BulkError | BulkInterrupted, done: list[BulkResult], step: Step, later: list[Step]
) -> BaseException:
    """The same stop, with a report of the whole apply."""
    taken = list(error.report or [])
    # The bulk engine reads its input lazily: the rest of this step was never taken.
    rest = Step(step.call, step.items[len(taken) :], step.journal, step.offset + len(taken))
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
        options.concurrency, options.progress, None, "customer_id", "tags", step.journal
    )


def run_steps(
    native: NativeClient, steps: list[Step], log: Log | None, options: RunOptions
) -> BulkReport:
    done: list[BulkResult] = []
    try:
        for n, step in enumerate(steps):
            if not step.items:
                continue
            run = SyncRun(native, step.call, step.items, _options(step, options))
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
    native: NativeClient, steps: list[Step], log: Log | None, options: RunOptions
) -> BulkReport:
    done: list[BulkResult] = []
    try:
        for n, step in enumerate(steps):
            if not step.items:
                continue
            run = AsyncRun(native, step.call, step.items, _options(step, options))
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
