"""Tags on the command line: a TAG (``NAME`` or ``NAME:COLOR``, ``\\:`` for a colon in a name),
and a CSV tags cell (names joined by a separator, a backslash making the next character part of
a name), written by ``customers --format csv`` and read by ``--from-csv``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ._native import check_call
from ._types import TagSpec

#: A ':' that starts a tag's colour (one written as '\\:' belongs to the name).
_COLOUR_SEPARATOR = re.compile(r"(?<!\\):")

#: The rule, for help texts and messages.
TAG_SYNTAX = (
    "NAME or NAME:COLOR, COLOR being any CSS colour (red, #c57de0, 'rgb(197 125 224)'); "
    "write \\: for a ':' in a NAME"
)


def tag_spec(text: str) -> TagSpec:
    """``Lead``, ``Lead:#c57de0``, ``Trial:red``, or ``Ratio 1\\:2`` for a name with a colon.
    The colour is judged by the call (one check, the core's), so ``Ratio:2`` is refused (2 is
    no colour), never taken for a tag named "Ratio:2"."""
    name, *colour = _COLOUR_SEPARATOR.split(text, maxsplit=1)
    name = name.replace("\\:", ":")
    if not colour:
        return {"name": name}
    return {"name": name, "color": colour[0]}


#: In a CSV tags cell, what a backslash makes part of a name (besides the separator).
_CELL_ESCAPED = "\\:"


def join_names(names: Iterable[str], sep: str = ",") -> str:
    """Tag names as one CSV cell that :func:`split_names` reads back exactly: joined by ``sep``,
    with a backslash before each ``\\``, ``:`` and ``sep`` inside a name."""
    return sep.join(_escaped(name, sep) for name in names)


def _escaped(name: str, sep: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(name):
        if name.startswith(sep, i):
            out.append("\\" + sep)
            i += len(sep)
        else:
            out.append("\\" + name[i] if name[i] in _CELL_ESCAPED else name[i])
            i += 1
    return "".join(out)


def split_names(cell: str, sep: str = ",", *, keep: str = "") -> list[str]:
    """The names of a tags cell (:func:`join_names`): split at each ``sep`` not escaped by a
    backslash, escapes resolved, except those of the characters in ``keep``, left for a later
    reader (``:`` for :func:`tag_spec`). A backslash before any other character is itself."""
    names: list[str] = []
    name: list[str] = []
    i = 0
    while i < len(cell):
        if cell.startswith(sep, i):
            names.append("".join(name))
            name = []
            i += len(sep)
            continue
        c = cell[i]
        if c == "\\" and i + 1 < len(cell):
            after = sep if cell.startswith(sep, i + 1) else cell[i + 1]
            if after == sep or after in _CELL_ESCAPED:
                name.append(("\\" + after) if after in keep else after)
                i += 1 + len(after)
                continue
        name.append(c)
        i += 1
    names.append("".join(name))
    return names


def colour_reason(colour: str) -> str | None:
    """Why ``colour`` is not a CSS colour, in the core's words (the one check); None if it is."""
    try:
        check_call("add_tags", 1, [{"name": "x", "color": colour}])
    except (TypeError, ValueError) as e:
        # The detail reads "has color '…': <why>; <what a colour may be>".
        detail = getattr(e, "detail", None) or str(e)
        return detail.partition(": ")[2] or detail
    return None


def colour_problem(tags: Any) -> str | None:
    """For a tag list that was refused: the message when a colour is to blame, in TAG terms
    (with how to write the tag if the ':' was meant to be part of its name); None otherwise."""
    for spec in tags if isinstance(tags, list) else ():
        if not isinstance(spec, dict) or "color" not in spec:
            continue
        why = colour_reason(spec["color"])
        if why is not None:
            named = f"{spec['name']}:{spec['color']}"
            escaped = named.replace(":", "\\:")
            return (
                f"TAG '{named}': {spec['color']!r} is not a CSS colour: {why}; for a tag "
                f"named '{named}', write '{escaped}'"
            )
    return None
