"""A bulk run's input: ``(customer_id, tags)`` pairs, mappings, or the rows of a pandas/polars
DataFrame, read lazily one row at a time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["rows", "split_row", "total"]


def dataframe_rows(items: Any, id_column: str, tags_column: str) -> Iterator[Any] | None:
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


def rows(items: Any, id_column: str, tags_column: str) -> Iterator[Any]:
    frame = dataframe_rows(items, id_column, tags_column)
    if frame is not None:
        return frame
    if isinstance(items, (str, bytes, Mapping)):
        raise TypeError(
            "items must be an iterable of (customer_id, tags) pairs, of mappings with "
            f"'{id_column}' and '{tags_column}', or a DataFrame; not {type(items).__name__}"
        )
    return iter(items)


def split_row(row: Any, id_column: str, tags_column: str) -> tuple[Any, Any]:
    """``(customer_id, tags)`` from a pair or a mapping; TypeError/ValueError for anything else."""
    if type(row) is tuple and len(row) == 2:
        # The common case, ahead of the (slower) Mapping check.
        return row[0], row[1]
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


def total(items: Any) -> int | None:
    try:
        return len(items)
    except TypeError:
        return None
