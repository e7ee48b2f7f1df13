"""Tag sync: make a tag match an audience (a segment of emails, user ids or customer ids).

The plan (who gets the tag, who loses it, which rows are rejected and why, with the fewest
searches) is made in the Rust core; this module takes the audience out of iterables and
DataFrames and shows the plan (:class:`TagPlan`). Each item that changes a customer carries its
:class:`Change`; applying and undoing them is ``_apply.py``'s.
"""

from __future__ import annotations

import html
import operator
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from . import _extras, _native
from ._format import count, counted, duration
from ._native import Change, NativeClient, NativePlan, NativePlanItem, NativePlanRequest
from ._progress import Pace
from ._types import Customer

__all__ = ["DEFAULT_LOOKUP_BATCH", "Action", "MatchKind", "Mode", "PlanItem", "TagPlan"]

Mode = Literal["mirror", "add", "remove"]
MatchKind = Literal["email", "user_id", "id"]
Action = Literal["add", "remove", "none", "reject"]

#: Keys looked up in one search (``=`` filters joined by OR); halved when HelpCrunch refuses.
DEFAULT_LOOKUP_BATCH: int = _native.DEFAULT_LOOKUP_BATCH


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
    #: What applying sends for it; None when nothing is to be sent.
    change: Change | None = None

    @classmethod
    def _of(cls, native: NativePlanItem) -> PlanItem:
        return cls(
            customer_id=native.customer_id,
            key=native.key,
            action=native.action,
            reason=native.reason,
            customer=native.customer,
            row=native.row,
            reason_code=native.reason_code,
            color=native.color,
            kept_row=native.kept_row,
            change=native.change,
        )


class TagPlan:
    """What a sync would do, computed before anything is written (see ``Client.plan_tag``).

    Every audience row is in exactly one of :attr:`to_add`, :attr:`to_remove`,
    :attr:`unchanged`, :attr:`rejected`; in mirror mode the holders outside the audience are in
    :attr:`to_remove` too."""

    def __init__(self, native: NativePlan, rate_limit: float | None) -> None:
        #: Names this plan in the logs of its applies: applied again (resumed), it skips what
        #: the log shows it applied already.
        self.id: str = uuid.uuid4().hex
        self.tag: str = native.tag
        self.mode: Mode = native.mode
        self.match: MatchKind = native.match
        #: The colour asked for a tag that does not exist yet.
        self.color: str | None = native.color
        #: The tag's colour on its current holders, when it has any.
        self.known_color: str | None = native.known_color
        #: The tag's holders when the plan was made.
        self.holders: int = native.holders
        #: ``lookups`` (searches for the keys) or ``scan`` (the whole account listed).
        self.strategy: str = native.strategy
        self.strategy_reason: str = native.strategy_reason
        #: Requests the plan spent, by purpose (``total``, ``probes``, ``holder_pages``,
        #: ``lookups``, ``scan_pages``; ``unused``: refused and sent again smaller).
        r = native.requests
        self.requests: dict[str, int] = {
            "total": r.total,
            "probes": r.probes,
            "holder_pages": r.holder_pages,
            "lookups": r.lookups,
            "scan_pages": r.scan_pages,
            "unused": r.unused,
        }
        #: Keys a lookup and customers a page in force at the end.
        self.lookup_batch: int = native.lookup_batch
        self.page_size: int = native.page_size
        #: The client's rate limit (requests a minute) when planned; None: no limit.
        self.rate_limit = rate_limit
        guard = native.mass_removal
        #: Why :meth:`Client.apply_plan` refuses this plan without ``allow_mass_removal=True``.
        self.mass_removal: str | None = None if guard is None else guard.message
        self._guard: tuple[int, int] | None = (
            None if guard is None else (guard.removing, guard.holders)
        )
        #: Whether the guard refuses because no audience row is usable.
        self._empty_audience = guard is not None and guard.empty_audience
        self.items: list[PlanItem] = [PlanItem._of(item) for item in native.items]

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

    def counts(self) -> str:
        """``3,000 to add, 0 to remove, 12 unchanged, 2 rejected``."""
        c = self._counts()
        return (
            f"{count(c['add'])} to add, {count(c['remove'])} to remove, "
            f"{count(c['none'])} unchanged, {count(c['reject'])} rejected"
        )

    def holders_now(self) -> str:
        """How many customers carry the tag now, in words; plainly when none does (a new tag,
        or a typo in its name)."""
        if self.holders == 0:
            if self._counts()["add"]:
                return f"no customer carries {self.tag!r} yet: it will be created"
            return f"no customer carries {self.tag!r}"
        verb = "carries" if self.holders == 1 else "carry"
        return f"{counted(self.holders, 'customer')} {verb} {self.tag!r} now"

    def summary(self) -> str:
        """The counts, the tag's holders now, the requests and the time, in one line."""
        text = (
            f"{self.mode}, by {self.match}: {self.counts()}; {self.holders_now()}; "
            f"{counted(self.writes, 'write')} after {counted(self.lookups, 'lookup')}"
        )
        seconds = self.seconds
        if seconds is not None:
            text += f", about {duration(seconds)} at {self.rate_limit:g}/min"
        if self.mass_removal is not None:
            text += f"; REFUSED without allow_mass_removal=True: {self.mass_removal}"
        return text

    def __repr__(self) -> str:
        return f"TagPlan({self.tag!r}, {self.summary()})"

    def _columns(self) -> dict[str, list[Any]]:
        items = self.items
        return {
            "row": [i.row for i in items],
            "customer_id": [i.customer_id for i in items],
            # As the audience gave them; mixed types (a bad row) are shown as text.
            "key": [i.key for i in items],
            "action": [i.action for i in items],
            "reason_code": [i.reason_code for i in items],
            "reason": [i.reason for i in items],
        }

    def to_pandas(self) -> Any:
        """A pandas DataFrame, one row per item: ``row`` (the audience position; empty for a
        holder outside it), ``customer_id``, ``key``, ``action``, ``reason_code``, ``reason``."""
        pd = _extras.pandas()
        columns = self._columns()
        for name in ("row", "customer_id"):
            columns[name] = pd.array(columns[name], dtype="Int64")
        return pd.DataFrame(columns)

    def to_polars(self) -> Any:
        """A polars DataFrame, with the columns of :meth:`to_pandas`."""
        pl = _extras.polars()
        columns = self._columns()
        keys = columns["key"]
        if len({type(k) for k in keys if k is not None}) > 1:
            # One type per column: keys of several types (a rejected row) as text.
            columns["key"] = [None if k is None else str(k) for k in keys]
        schema = {"row": pl.Int64, "customer_id": pl.Int64}
        return pl.DataFrame(
            {
                name: pl.Series(name, values, dtype=schema.get(name))
                for name, values in columns.items()
            },
            strict=False,
        )

    def _repr_html_(self) -> str:
        c = self._counts()
        rows = "".join(
            f"<tr><td>{label}</td><td>{count(n)}</td></tr>"
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
        holders = html.escape(self.holders_now())
        if self.holders == 0:
            holders = f"<strong>{holders}</strong>"
        return (
            f"<p>TagPlan <code>{html.escape(self.tag)}</code>: {self.mode}, by "
            f"{self.match} ({html.escape(self.strategy_reason)})</p><p>{holders}</p>{warning}"
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
) -> NativePlanRequest:
    """The checked request (TypeError/ValueError before anything is sent); it holds the keys."""
    for name, value in (("tag", tag), ("match", match), ("mode", mode)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if color is not None and not isinstance(color, str):
        raise TypeError(f"color must be a str like '#c57de0', not {type(color).__name__}")
    keys = audience_keys(audience, key_column)
    return native.plan_request(tag, color, mode, match, keys, lookup_batch)
