"""``helpcrunch customers``: stream the customers a search matches to stdout, as JSON lines or
CSV, with a progress line on stderr for long scans. Registered by ``_cli.build_parser``, which
adds the connection options and handles errors (exit codes as in ``_cli_common``)."""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ._cli_common import EXIT_OK, emit, flush_stdout, open_client
from ._cli_tags import join_names
from ._client import DEFAULT_PAGE_SIZE
from ._format import counted
from ._native import MAX_PAGE_SIZE, OPERATORS
from ._progress import LINE_INTERVAL, is_terminal
from ._search import CustomerSearch, flatten
from ._types import Customer


def add_command(command: Callable[[str, str, str], argparse.ArgumentParser]) -> None:
    """Add ``customers`` with ``command(name, summary, example)``, the maker of ``_cli``'s
    subcommands (which adds the connection options)."""
    parser = command(
        "customers",
        "Print the customers a search matches (every customer without filters), oldest first, "
        "one JSON object a line or as CSV with nested fields as dotted columns; a progress "
        "line goes to stderr for long scans.",
        "helpcrunch customers --tag Lead --sandbox\n"
        "  helpcrunch customers --where 'lastSeen >= 1700000000' --where 'countryCode = UA' "
        "--format csv > recent.csv\n"
        "  helpcrunch customers --email ann@example.com --user-id u-1 --any --limit 10",
    )
    found = parser.add_argument_group("which customers")
    found.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="T",
        help="carrying tag T (repeat: carrying every one)",
    )
    found.add_argument("--email", metavar="E", help="whose email is E")
    found.add_argument("--user-id", metavar="U", help="whose userId (your own id) is U")
    found.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="'FIELD OP VALUE'",
        help="a condition, e.g. 'lastSeen >= 1700000000' or 'name ~ Ann' (operators: "
        f"{' '.join(OPERATORS)}; repeat for more)",
    )
    found.add_argument(
        "--any",
        action="store_true",
        help="match any of the filters instead of all of them (HelpCrunch's OR)",
    )
    found.add_argument("--limit", type=int, metavar="N", help="print at most N customers")
    output = parser.add_argument_group("output")
    output.add_argument(
        "--format",
        choices=["jsonl", "csv"],
        default="jsonl",
        help="jsonl: each customer as sent (default); csv: one row each, nested fields as "
        "dotted columns, tag names joined by ',' (a '\\' before a ',', ':' or '\\' in a "
        "name), as --from-csv reads them",
    )
    output.add_argument(
        "--page-size",
        type=int,
        default=DEFAULT_PAGE_SIZE,
        metavar="N",
        help=f"customers per request, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})",
    )
    output.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    parser.set_defaults(run=_cmd_customers)


def _cmd_customers(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        found = client.search_customers(
            tag=args.tag or None,
            email=args.email,
            user_id=args.user_id,
            where=args.where,
            match="any" if args.any else "all",
            page_size=args.page_size,
            limit=args.limit,
        )
        with found:
            progress = _Progress(found, args.page_size, enabled=not args.no_progress)
            customers = progress.counting(found)
            if args.format == "csv":
                _write_csv(customers, first=args.page_size)
            else:
                _write_jsonl(customers)
            flush_stdout()
            progress.finish()
    return EXIT_OK


def _write_jsonl(customers: Iterable[Customer]) -> None:
    for i, customer in enumerate(customers, 1):
        emit(json.dumps(customer, ensure_ascii=False))
        if i % 100 == 0:
            flush_stdout()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _csv_row(customer: Customer) -> dict[str, str]:
    row = flatten(customer)
    tags = row.get("tags")
    if isinstance(tags, list):
        row["tags"] = join_names(str(t) for t in tags)
    return {name: _cell(value) for name, value in row.items()}


def _write_csv(customers: Iterable[Customer], first: int) -> None:
    """The columns are those of the first page's customers, in the order met; a field that
    only later customers have is left out (JSON lines keep everything)."""
    rows = (_csv_row(c) for c in customers)
    head = list(itertools.islice(rows, first))
    columns: dict[str, None] = {}
    for row in head:
        columns.update(dict.fromkeys(row))
    line = _Line()
    writer = csv.DictWriter(
        line, fieldnames=list(columns) or ["id"], extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for i, row in enumerate(itertools.chain(head, rows), 1):
        writer.writerow(row)
        if i % 100 == 0:
            flush_stdout()


class _Line:
    """What ``csv`` writes, sent on through :func:`emit` (so a full disk is one clear error)."""

    def write(self, text: str) -> None:
        emit(text.removesuffix("\n"))


class _Progress:
    """``helpcrunch: 1,200 of 5,000 customers`` on stderr: redrawn in place on a terminal, a
    line every few seconds elsewhere; only for scans of more than one page."""

    def __init__(self, found: CustomerSearch, page_size: int, *, enabled: bool) -> None:
        self._found = found
        self._enabled = enabled
        self._page_size = page_size
        self._count = 0
        self._tty = is_terminal(sys.stderr)
        self._last = 0.0
        self._shown = False

    def counting(self, customers: Iterator[Customer]) -> Iterator[Customer]:
        for customer in customers:
            self._count += 1
            if self._enabled and self._count % self._page_size == 0:
                self._show()
            yield customer

    def _line(self) -> str:
        total = self._found.total
        return f"helpcrunch: {self._count:,} of {total:,} customers"

    def _show(self) -> None:
        if self._found.total <= self._page_size:
            return
        now = time.monotonic()
        if self._tty:
            sys.stderr.write("\r" + self._line())
        elif now - self._last >= LINE_INTERVAL:
            sys.stderr.write(self._line() + "\n")
        else:
            return
        self._last = now
        self._shown = True
        sys.stderr.flush()

    def finish(self) -> None:
        if not self._enabled:
            return
        if self._shown and self._tty:
            sys.stderr.write("\r\033[K")
        requests = counted(self._found.stats["requests"], "request")
        sys.stderr.write(f"helpcrunch: {counted(self._count, 'customer')} ({requests})\n")
        sys.stderr.flush()
