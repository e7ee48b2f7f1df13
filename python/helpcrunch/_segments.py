"""Several tags in one plan: a team's segments (``trial``, ``paying``, ``vip``…) synced together.

The planning is the core's (src/core/sync/segments.rs): each distinct key is looked up once for
all the tags, each tag's holders are read once (or the account is scanned once), and the writes
are merged per customer (one ``PUT`` with every tag it gains, one ``DELETE`` with every tag it
loses). This module takes the segments out of a mapping or a long table, shows the plan
(:class:`TagsPlan`, one :class:`TagPlan` view per tag) and gives both clients ``plan_tags`` and
``sync_tags`` (:class:`_SegmentCalls`); applying and undoing are ``_apply.py``'s, as for one tag.
"""

from __future__ import annotations

import html
import os
import uuid
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from . import _aio, _logs
from ._bulk import OnError
from ._format import counted, duration
from ._journal import ChangeLog
from ._native import (
    DEFAULT_CONCURRENCY,
    Change,
    NativeClient,
    NativeTagsPlan,
    NativeTagsRequest,
)
from ._progress import Pace, PlanProgressArg, ProgressArg, arun_plan, run_plan
from ._report import BulkReport
from ._sync import MatchKind, Mode, TagPlan, _plain, audience_keys

if TYPE_CHECKING:
    # _apply takes TagsPlan from here: imported where used, not when this module loads.
    from ._apply import RunOptions

__all__ = ["Allow", "Colors", "TagsPlan"]

#: ``color=``: one colour for every new tag, or a colour per tag name.
Colors = str | Mapping[str, str] | None

#: ``allow_mass_removal=``: every tag, none, or the tags named.
Allow = bool | set[str] | frozenset[str]

#: One segment as the core takes it: tag, colour, keys, each key's row in a long table.
_Segment = tuple[str, str | None, list[Any], list[int] | None]


class TagsPlan:
    """What a sync of several tags would do, computed before anything is written (see
    ``Client.plan_tags``).

    ``by_tag[tag]`` is that tag's view, a :class:`TagPlan` (``to_add``, ``to_remove``,
    ``unchanged``, ``rejected``, ``holders``); :attr:`changes` is what applying sends, merged per
    customer."""

    def __init__(
        self,
        native: NativeTagsPlan,
        rate_limit: float | None,
        positions: Mapping[str, list[int] | None] | None = None,
        ignored: list[int] | None = None,
    ) -> None:
        #: Names this plan in the logs of its applies (a resumed apply skips what it did).
        self.id: str = uuid.uuid4().hex
        self.mode: Mode = native.mode
        self.match: MatchKind = native.match
        #: Each managed tag's view, in the order the tags were given.
        self.by_tag: dict[str, TagPlan] = {}
        for plan in native.plans:
            view = TagPlan(plan, rate_limit)
            rows = (positions or {}).get(view.tag)
            if rows is not None:
                # A long table's rows: each item names its row of the table, not of the tag.
                view.items = [
                    i if i.row is None else replace(i, row=rows[i.row]) for i in view.items
                ]
            self.by_tag[view.tag] = view
        #: The managed tags.
        self.tags: list[str] = list(self.by_tag)
        #: What applying sends: per customer, one change adding every tag it gains, one removing
        #: every tag it loses; the adds first.
        self.changes: list[Change] = list(native.changes)
        self.strategy: str = native.strategy
        self.strategy_reason: str = native.strategy_reason
        r = native.requests
        #: Requests the plan spent, by purpose (as :attr:`TagPlan.requests`).
        self.requests: dict[str, int] = {
            "total": r.total,
            "probes": r.probes,
            "holder_pages": r.holder_pages,
            "lookups": r.lookups,
            "scan_pages": r.scan_pages,
            "unused": r.unused,
        }
        self.lookup_batch: int = native.lookup_batch
        self.page_size: int = native.page_size
        self.rate_limit = rate_limit
        #: Rows of a long table that name no managed tag (an empty cell, or a tag ``tags=``
        #: leaves out): never planned.
        self.ignored: list[int] = list(ignored or [])
        #: Each tag whose plan :meth:`Client.apply_plan` refuses without
        #: ``allow_mass_removal``, with why.
        self.mass_removal: dict[str, str] = {
            tag: view.mass_removal
            for tag, view in self.by_tag.items()
            if view.mass_removal is not None
        }

    @property
    def color(self) -> dict[str, str | None]:
        """Each tag's colour: the one its holders show, else the one asked for a new tag."""
        return {t: v.known_color or v.color for t, v in self.by_tag.items()}

    @property
    def writes(self) -> int:
        """Requests applying the plan sends: at most one add and one removal per customer."""
        return len(self.changes)

    @property
    def lookups(self) -> int:
        """Requests the plan spent finding the customers, for every tag together."""
        return self.requests["total"]

    @property
    def seconds(self) -> float | None:
        """How long the writes take at the client's rate limit (None without one)."""
        return Pace(self.rate_limit).seconds(self.writes)

    def _counts(self, tag: str) -> dict[str, int]:
        counts = {"add": 0, "remove": 0, "none": 0, "reject": 0}
        for item in self.by_tag[tag].items:
            counts[item.action] += 1
        return counts

    def _tag_line(self, tag: str) -> str:
        view = self.by_tag[tag]
        # Each tag's view says who carries it now (plainly when nobody does: a typo?).
        text = f"{tag}: {view.counts()}; {view.holders_now()}"
        if tag in self.mass_removal:
            text += " (REFUSED without allow_mass_removal)"
        return text

    def summary(self) -> str:
        """The totals, the requests and the time, in one line."""
        totals = {"add": 0, "remove": 0, "none": 0, "reject": 0}
        for tag in self.tags:
            for action, n in self._counts(tag).items():
                totals[action] += n
        text = (
            f"{self.mode}, by {self.match}, {counted(len(self.tags), 'tag')}: "
            f"{totals['add']:,} to add, {totals['remove']:,} to remove, "
            f"{totals['none']:,} unchanged, {totals['reject']:,} rejected"
        )
        if self.ignored:
            text += f", {counted(len(self.ignored), 'row')} of no managed tag ignored"
        text += f"; {counted(self.writes, 'write')} after {counted(self.lookups, 'lookup')}"
        seconds = self.seconds
        if seconds is not None:
            text += f", about {duration(seconds)} at {self.rate_limit:g}/min"
        if self.mass_removal:
            text += f"; REFUSED without allow_mass_removal for {sorted(self.mass_removal)}"
        return text

    def __repr__(self) -> str:
        lines = [f"TagsPlan({self.summary()}"]
        lines += [f"  {self._tag_line(tag)}" for tag in self.tags]
        return "\n".join(lines) + ")"

    def to_pandas(self) -> Any:
        """A pandas DataFrame, one row per item of every tag: tag, customer_id, key, action,
        reason."""
        import pandas as pd

        items = [(tag, i) for tag, view in self.by_tag.items() for i in view.items]
        return pd.DataFrame(
            {
                "tag": [tag for tag, _ in items],
                "customer_id": pd.array([i.customer_id for _, i in items], dtype="Int64"),
                "key": [i.key for _, i in items],
                "action": [i.action for _, i in items],
                "reason": [i.reason for _, i in items],
            }
        )

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(tag)}</td>"
            + "".join(f"<td>{n:,}</td>" for n in self._counts(tag).values())
            + f"<td>{'refused' if tag in self.mass_removal else ''}</td></tr>"
            for tag in self.tags
        )
        head = "".join(
            f"<th>{h}</th>"
            for h in ("tag", "to add", "to remove", "unchanged", "rejected", "guard")
        )
        return (
            f"<p>TagsPlan: {self.mode}, by {self.match}; {counted(self.writes, 'write')} after "
            f"{counted(self.lookups, 'lookup')} ({html.escape(self.strategy_reason)})</p>"
            f"<table><tr>{head}</tr>{rows}</table>"
        )


# --- the segments ------------------------------------------------------------------------------


def _tag_names(tags: Any) -> list[str] | None:
    if tags is None:
        return None
    if isinstance(tags, str) or not hasattr(tags, "__iter__"):
        raise TypeError(f"tags must be a list of tag names, not {type(tags).__name__}")
    names = list(tags)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"tags must be tag names (str), not {type(name).__name__}")
    return list(dict.fromkeys(names))


def _colors(color: Colors, tags: list[str]) -> dict[str, str | None]:
    if color is None or isinstance(color, str):
        return dict.fromkeys(tags, color)
    if not isinstance(color, Mapping):
        raise TypeError(
            f"color must be a colour or a mapping of tag to colour, not {type(color).__name__}"
        )
    unknown = [t for t in color if t not in tags]
    if unknown:
        raise ValueError(f"color names tags that are not managed: {unknown} (managed: {tags})")
    return {t: color.get(t) for t in tags}


def _long_table_key_column(table: Any, tag_column: str, match: str) -> str:
    """The key column of a long table when ``key_column`` is not given: the one other column,
    else the column named as the match (``email``)."""
    columns = list(getattr(table, "columns", []))
    others = [c for c in columns if c != tag_column]
    return others[0] if len(others) == 1 else match


def segments_of(
    segments: Any,
    *,
    tags: Any,
    tag_column: str | None,
    key_column: str | None,
    match: str,
) -> tuple[list[tuple[str, list[Any], list[int] | None]], list[int]]:
    """Each managed tag with its keys (and, from a long table, each key's row), and the rows
    of a long table that name no managed tag."""
    managed = _tag_names(tags)
    if tag_column is None:
        if not isinstance(segments, Mapping):
            raise TypeError(
                "segments must be a mapping of tag name to audience, or a table with "
                f"tag_column= naming its tag column; not {type(segments).__name__}"
            )
        for tag in segments:
            if not isinstance(tag, str):
                raise TypeError(f"segments' tag names must be str, not {type(tag).__name__}")
            if managed is not None and tag not in managed:
                raise ValueError(f"segments has tag {tag!r}, which tags= does not list")
        names = managed if managed is not None else list(segments)
        return [
            (t, audience_keys(segments[t], key_column) if t in segments else [], None)
            for t in names
        ], []
    if not isinstance(tag_column, str):
        raise TypeError(f"tag_column must be a str, not {type(tag_column).__name__}")
    if key_column is None:
        key_column = _long_table_key_column(segments, tag_column, match)
    keys = audience_keys(segments, key_column)
    cells = [_plain(c) for c in audience_keys(segments, tag_column)]
    groups: dict[str, tuple[list[Any], list[int]]] = {t: ([], []) for t in managed or []}
    ignored = []
    for row, (key, cell) in enumerate(zip(keys, cells, strict=True)):
        usable = isinstance(cell, str) and cell.strip() != ""
        if usable and managed is None:
            groups.setdefault(cell, ([], []))
        if not usable or cell not in groups:
            ignored.append(row)
            continue
        groups[cell][0].append(key)
        groups[cell][1].append(row)
    return [(t, k, rows) for t, (k, rows) in groups.items()], ignored


def tags_request(
    native: NativeClient,
    segments: Any,
    *,
    match: str,
    mode: str,
    color: Colors,
    tags: Any,
    tag_column: str | None,
    key_column: str | None,
    lookup_batch: int | None,
) -> tuple[NativeTagsRequest, dict[str, list[int] | None], list[int]]:
    """The checked request (TypeError/ValueError before anything is sent), each tag's rows in
    a long table, and the rows of no managed tag."""
    for name, value in (("match", match), ("mode", mode)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    found, ignored = segments_of(
        segments, tags=tags, tag_column=tag_column, key_column=key_column, match=match
    )
    if not found:
        raise ValueError("no tag to manage: the segments are empty and tags= names none")
    colors = _colors(color, [t for t, _, _ in found])
    native_segments: list[_Segment] = [(t, colors[t], k, rows) for t, k, rows in found]
    request = native.plan_tags_request(native_segments, mode, match, lookup_batch)
    return request, {t: rows for t, _, rows in found}, ignored


# --- the calls ---------------------------------------------------------------------------------

_TagsPlanT = TypeVar("_TagsPlanT", TagsPlan, Awaitable[TagsPlan])
_ReportT = TypeVar("_ReportT", BulkReport, Awaitable[BulkReport])

#: What a request leaves for the plan: the native request, each tag's rows, the ignored rows.
_Request = tuple[NativeTagsRequest, dict[str, list[int] | None], list[int]]


class _SegmentCalls(Generic[_TagsPlanT, _ReportT]):
    """``plan_tags`` and ``sync_tags``, for both clients (as ``_client._Calls``)."""

    _native: NativeClient

    def plan_tags(
        self,
        segments: Any,
        *,
        match: MatchKind = "email",
        mode: Mode = "mirror",
        color: Colors = None,
        tags: Any = None,
        tag_column: str | None = None,
        key_column: str | None = None,
        lookup_batch: int | None = None,
        progress: PlanProgressArg = False,
    ) -> _TagsPlanT:
        """Plan several tags together: for each, who gets it, who loses it, which rows are
        rejected and why. Sends searches only (each key looked up once for every tag, each
        tag's holders read once, or the account scanned once); writes nothing.

        - ``segments``: a mapping of tag name to audience (anything :meth:`plan_tag` takes), or
          one long table (DataFrame, or iterable of mappings) with a key column and a tag column
          named by ``tag_column=`` (the key column: ``key_column=``, else the one other column,
          else the one named as ``match``).
        - ``tags``: the managed tags (default: every tag the segments name). A managed tag with
          no rows means nobody should carry it; a tag not managed is never touched.
        - ``color``: a colour for every new tag, or a mapping of tag to colour.
        - ``match``, ``mode``, ``lookup_batch``, ``progress`` as for :meth:`plan_tag`.
        """
        request = tags_request(
            self._native,
            segments,
            match=match,
            mode=mode,
            color=color,
            tags=tags,
            tag_column=tag_column,
            key_column=key_column,
            lookup_batch=lookup_batch,
        )
        return self._run_plan_tags(request, progress)

    def sync_tags(
        self,
        segments: Any,
        *,
        match: MatchKind = "email",
        mode: Mode = "mirror",
        color: Colors = None,
        tags: Any = None,
        tag_column: str | None = None,
        key_column: str | None = None,
        lookup_batch: int | None = None,
        allow_mass_removal: Allow = False,
        log: str | os.PathLike[str] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: ProgressArg = False,
        on_error: OnError = "collect",
    ) -> _ReportT:
        """:meth:`plan_tags`, then :meth:`apply_plan`: the same arguments, the report. The log
        is checked before the plan's first request."""
        from ._apply import RunOptions, open_tags_log

        request = tags_request(
            self._native,
            segments,
            match=match,
            mode=mode,
            color=color,
            tags=tags,
            tag_column=tag_column,
            key_column=key_column,
            lookup_batch=lookup_batch,
        )
        opened = open_tags_log(log, request[0].tags, mode, match)
        options = RunOptions(concurrency, progress, on_error)
        return self._run_sync_tags(request, allow_mass_removal, opened, options)

    def _run_plan_tags(self, request: _Request, progress: PlanProgressArg = False) -> _TagsPlanT:
        raise NotImplementedError

    def _run_sync_tags(
        self,
        request: _Request,
        allow_mass_removal: Allow,
        log: ChangeLog | None,
        options: RunOptions,
    ) -> _ReportT:
        raise NotImplementedError

    def _rate(self) -> float | None:
        rate: float | None = self._native.settings()["rate_limit"]
        return rate


class _BlockingSegments(_SegmentCalls[TagsPlan, BulkReport]):
    def _run_plan_tags(self, request: _Request, progress: PlanProgressArg = False) -> TagsPlan:
        native, positions, ignored = request
        try:
            plan = run_plan(
                lambda state, tick: self._native.plan_tags(native, state, tick),
                progress,
                self._rate(),
            )
            return TagsPlan(plan, self._rate(), positions, ignored)
        finally:
            _logs.flush()

    def _run_sync_tags(
        self,
        request: _Request,
        allow_mass_removal: Allow,
        log: ChangeLog | None,
        options: RunOptions,
    ) -> BulkReport:
        from ._apply import run_steps, sync_steps

        try:
            plan = self._run_plan_tags(request, options.progress is True)
        except BaseException:
            if log is not None:
                log.close()
            raise
        steps = sync_steps(plan, allow_mass_removal, log)
        return run_steps(self._native, steps, log, options)


class _AsyncSegments(_SegmentCalls[Awaitable[TagsPlan], Awaitable[BulkReport]]):
    async def _run_plan_tags(
        self, request: _Request, progress: PlanProgressArg = False
    ) -> TagsPlan:
        native, positions, ignored = request
        plan = await arun_plan(
            lambda state: _aio.call(self._native.plan_tags_async, native, state),
            progress,
            self._rate(),
        )
        return TagsPlan(plan, self._rate(), positions, ignored)

    async def _run_sync_tags(
        self,
        request: _Request,
        allow_mass_removal: Allow,
        log: ChangeLog | None,
        options: RunOptions,
    ) -> BulkReport:
        from ._apply import arun_steps, sync_steps

        try:
            plan = await self._run_plan_tags(request, options.progress is True)
        except BaseException:
            if log is not None:
                log.close()
            raise
        steps = sync_steps(plan, allow_mass_removal, log)
        return await arun_steps(self._native, steps, log, options)
