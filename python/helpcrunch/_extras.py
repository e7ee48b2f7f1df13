"""The optional libraries (pandas, polars), imported when a DataFrame is asked for: a missing
one is a :class:`MissingExtraError` naming the extra that installs it."""

from __future__ import annotations

import importlib
from typing import Any, Literal

from ._exceptions import MissingExtraError

__all__ = ["pandas", "polars"]


def _extra(name: Literal["pandas", "polars"], method: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise MissingExtraError(
            f"{method}() needs {name}, which is not installed: pip install 'helpcrunch[{name}]'",
            extra=name,
        ) from e


def pandas() -> Any:
    """The pandas module, for ``to_pandas()``."""
    return _extra("pandas", "to_pandas")


def polars() -> Any:
    """The polars module, for ``to_polars()``."""
    return _extra("polars", "to_polars")
