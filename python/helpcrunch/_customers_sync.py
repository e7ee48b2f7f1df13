"""Customer sync: make HelpCrunch's customers' fields match a table (and create those it lacks).

The plan (which fields change on whom, who is created, which rows are rejected and why, with
the fewest searches) is made in the Rust core; this module takes the table apart (columns to
fields, cells to plain values) and shows the plan (:class:`CustomerPlan`). Applying it
(``_customers_apply.py``) and undoing it go through the same log format as tag sync.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from . import _native
from ._format import counted, duration
from ._native import Change, NativeClient, NativeCustomerItem, NativeCustomersPlan
from ._progress import Pace
from ._sync import MatchKind, _plain
from ._types import Customer

__all__ = ["CustomerAction", "CustomerItem", "CustomerPlan", "Nulls", "customers_request"]

Nulls = Literal["leave", "clear"]
CustomerAction = Literal["update", "create", "none", "reject"]

#: Customers one batch update (``PUT /customers/batch``) takes.
BATCH_SIZE: int = _native.BATCH_SIZE


@dataclass(frozen=True, slots=True)
class CustomerItem:
    """One table row and what the plan does with it."""

    #: Position in the table.
    row: int
    #: The key as the table gave it.
    key: Any
    #: HelpCrunch's id of the customer the key matched; None for a create or a rejected row.
    customer_id: int | None
    #: ``update``, ``create``, ``none`` (already as the table says) or ``reject``.
    action: CustomerAction
    #: Why a row is rejected, in words; None otherwise.
    reason: str | None
    #: ``empty``, ``malformed``, ``duplicate``, ``unknown``, ``shared``, ``refused``.
    reason_code: str | None
    #: For a ``duplicate`` row: the row kept in its place.
    kept_row: int | None
    #: The customer as found, or None.
    customer: Customer | None
    #: Each field that changes, ``{"company": ("Globex", "Initech")}`` (before, after; None:
    #: no value); for a create, each field it sets (before None).
    changes: dict[str, tuple[Any, Any]]
    #: What applying sends for an update; None otherwise.
    change: Change | None
    #: The fields a create sends; None otherwise.
    create: dict[str, Any] | None

    @classmethod
    def _of(cls, native: NativeCustomerItem) -> CustomerItem:
        return cls(
            row=native.row,
            key=native.key,
            customer_id=native.customer_id,
            action=native.action,
            reason=native.reason,
            reason_code=native.reason_code,
            kept_row=native.kept_row,
            customer=native.customer,
            changes=dict(native.changes),
            change=native.change,
            create=native.create,
        )


class CustomerPlan:
    """What a customer sync would do, computed before anything is written (see
    ``Client.plan_customers``). Every row is in exactly one of :attr:`to_update`,
    :attr:`to_create`, :attr:`unchanged`, :attr:`rejected`."""

    def __init__(self, native: NativeCustomersPlan, rate_limit: float | None) -> None:
        #: Names this plan in the logs of its applies (a resumed apply skips what it did).
        self.id: str = uuid.uuid4().hex
        self.match: MatchKind = native.match
        #: The fields the table syncs (``company``, ``customData.plan``).
        self.fields: list[str] = list(native.fields)
        self.nulls: Nulls = native.nulls
        #: Customers the plan's requests read.
        self.read: int = native.read
        self.strategy: str = native.strategy
        self.strategy_reason: str = native.strategy_reason
        #: Requests the plan spent: ``total``, ``probes``, ``lookups``, ``scan_pages``,
        #: ``unused`` (refused and sent again smaller).
        self.requests: dict[str, int] = dict(native.requests)
        self.lookup_batch: int = native.lookup_batch
        self.page_size: int = native.page_size
        self.rate_limit = rate_limit
        guard = native.mass_change
        #: Why :meth:`Client.apply_plan` refuses it without ``allow_mass_change=True``.
        self.mass_change: str | None = None if guard is None else guard[0]
        self._guard: tuple[int, int, int] | None = None if guard is None else guard[1:]
        self.items: list[CustomerItem] = [CustomerItem._of(i) for i in native.items]

    def _with(self, action: str) -> list[CustomerItem]:
        return [i for i in self.items if i.action == action]

    @property
    def to_update(self) -> list[CustomerItem]:
        return self._with("update")

    @property
    def to_create(self) -> list[CustomerItem]:
        return self._with("create")

    @property
    def unchanged(self) -> list[CustomerItem]:
        return self._with("none")

    @property
    def rejected(self) -> list[CustomerItem]:
        return self._with("reject")

    def writes(self, batch: bool = False) -> int:
        """Requests applying sends: one per update (a tenth with ``batch=True``) and one per
        create."""
        updates = len(self.to_update)
        if batch:
            updates = -(-updates // BATCH_SIZE)
        return updates + len(self.to_create)

    @property
    def lookups(self) -> int:
        """Requests the plan spent finding the customers."""
        return self.requests["total"]

    def _counts(self) -> dict[str, int]:
        counts = {"update": 0, "create": 0, "none": 0, "reject": 0}
        for item in self.items:
            counts[item.action] += 1
        return counts

    def summary(self) -> str:
        """The counts, the requests and the time, in one line."""
        c = self._counts()
        text = (
            f"by {self.match}: {c['update']:,} to update, {c['create']:,} to create, "
            f"{c['none']:,} unchanged, {c['reject']:,} rejected; "
            f"{counted(self.writes(), 'write')} after {counted(self.lookups, 'lookup')}"
        )
        seconds = Pace(self.rate_limit).seconds(self.writes())
        if seconds is not None:
            text += f", about {duration(seconds)} at {self.rate_limit:g}/min"
        if self.mass_change is not None:
            text += f"; REFUSED without allow_mass_change=True: {self.mass_change}"
        return text

    def __repr__(self) -> str:
        return f"CustomerPlan({self.summary()})"

    def to_pandas(self) -> Any:
        """A pandas DataFrame, one row per item: row, key, customer_id, action, reason,
        changes."""
        import pandas as pd

        return pd.DataFrame(
            {
                "row": [i.row for i in self.items],
                "key": [i.key for i in self.items],
                "customer_id": pd.array([i.customer_id for i in self.items], dtype="Int64"),
                "action": [i.action for i in self.items],
                "reason": [i.reason for i in self.items],
                "changes": [i.changes for i in self.items],
            }
        )

    def _repr_html_(self) -> str:
        c = self._counts()
        rows = "".join(
            f"<tr><td>{label}</td><td>{n:,}</td></tr>"
            for label, n in (
                ("to update", c["update"]),
                ("to create", c["create"]),
                ("unchanged", c["none"]),
                ("rejected", c["reject"]),
                ("writes", self.writes()),
                ("lookups spent", self.lookups),
            )
        )
        warning = (
            ""
            if self.mass_change is None
            else "<p><strong>Refused without allow_mass_change=True:</strong> "
            f"{html.escape(self.mass_change)}</p>"
        )
        return (
            f"<p>CustomerPlan by {self.match} ({html.escape(self.strategy_reason)})</p>"
            f"{warning}<table>{rows}</table>"
        )


# --- the table ---------------------------------------------------------------------------------

#: The key column's name by default: the match's.
_KEY_COLUMNS = {"email": "email", "user_id": "user_id", "id": "id"}


def _columns(table: Any) -> tuple[list[str], Any]:
    """The table's column names, and a function giving a column's values as a list."""
    module = type(table).__module__.split(".")[0]
    if module in ("pandas", "polars") and hasattr(table, "columns"):
        originals = list(table.columns)
        return [str(c) for c in originals], lambda i: list(table[originals[i]].to_list())
    if isinstance(table, (str, bytes, Mapping)):
        raise TypeError(
            "table must be a pandas/polars DataFrame or a list of dicts, not "
            f"{type(table).__name__}"
        )
    try:
        rows = list(table)
    except TypeError:
        raise TypeError(
            f"table must be a DataFrame or a list of dicts, not {type(table).__name__}"
        ) from None
    names: list[str] = []
    seen: set[str] = set()
    for n, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"row {n} of the table is a {type(row).__name__}, not a dict")
        for name in row:
            if not isinstance(name, str):
                raise TypeError(f"row {n}: a column name must be a str, not {name!r}")
            if name not in seen:
                seen.add(name)
                names.append(name)
    return names, lambda i: [row.get(names[i]) for row in rows]


def _cell(value: Any, column: str, row: int) -> Any:
    """A cell as the plain value the core compares: None for no value (None, NaN, NaT, NA);
    a timestamp as UNIX seconds; numpy/pandas scalars as Python's."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        try:
            return int(value.timestamp())
        except (ValueError, OverflowError):  # pandas NaT is a datetime that has no time
            return None
    if isinstance(value, dt.date):
        return int(
            dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc).timestamp()
        )
    if type(value).__name__ == "datetime64":
        import pandas as pd

        return _cell(pd.Timestamp(value).to_pydatetime(), column, row)
    value = _plain(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise ValueError(
                f"column {column!r}, row {row}: {value} is not a value HelpCrunch keeps"
            )
        return value
    if isinstance(value, dt.datetime):
        return _cell(value, column, row)
    raise TypeError(
        f"column {column!r}, row {row}: a {type(value).__name__}; a field takes a str, a "
        "number, a bool or a timestamp"
    )


def customers_request(
    native: NativeClient,
    table: Any,
    *,
    match: str,
    key_column: str | None,
    fields: Mapping[str, str] | None,
    nulls: str,
    create_missing: bool,
    ignore_columns: bool,
    lookup_batch: int | None,
) -> Any:
    """The checked request (TypeError/ValueError before anything is sent)."""
    if not isinstance(match, str):
        raise TypeError(f"match must be a str, not {type(match).__name__}")
    if fields is not None and not isinstance(fields, Mapping):
        raise TypeError(
            'fields must be a mapping of field to column ({"company": "org_name"}), not '
            f"{type(fields).__name__}"
        )
    mapping = [(str(f), str(c)) for f, c in (fields or {}).items()]
    names, column = _columns(table)
    key = key_column if key_column is not None else _KEY_COLUMNS.get(match, match)
    chosen = _native.customer_columns(names, key, match, mapping, bool(ignore_columns))
    keys = [_plain(v) for v in column(names.index(key))]
    values = [[_cell(v, names[at], n) for n, v in enumerate(column(at))] for at, _ in chosen]
    cells = [list(row) for row in zip(*values, strict=True)] if values else [[] for _ in keys]
    cells_json = json.dumps(cells, allow_nan=False, ensure_ascii=False)
    return _native.customers_request(
        match,
        keys,
        [field for _, field in chosen],
        cells_json,
        nulls,
        bool(create_missing),
        lookup_batch,
    )
