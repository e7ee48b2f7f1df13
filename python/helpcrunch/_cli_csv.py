"""The CLI's CSV input: customer ids and tags in a file (or stdin) as spreadsheets export it.

Excel's "CSV UTF-8" starts with a byte-order mark, and in many European locales separates cells
with ``;``; other tools use tabs. The BOM is dropped, and the separator is the one of ``,``,
``;`` and tab under which the header holds both columns needed (or ``--delimiter``). Every row
keeps the file's own line number (blank lines and cells spanning lines counted) for messages.
A file is read lazily, and can be counted beforehand in a pass of its own, so a run of millions
of rows never holds them in memory.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import io
import json
import sys
from collections.abc import Callable, Iterator
from typing import IO, Any, NamedTuple, TypeVar

from ._cli_common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    Label,
    UsageError,
    check_connection,
    check_output_path,
    command_line,
    emit,
    in_cli_terms,
    interrupted,
    open_client,
    rate_limit,
    say,
)
from ._cli_tags import colour_problem, split_names, tag_spec
from ._exceptions import BulkError, BulkInterrupted, RequestCancelledError
from ._format import count, duration
from ._native import check_call
from ._progress import VERBS, Pace, Progress
from ._progress import display as progress_display
from ._report import BulkReport, BulkResult
from ._types import TagCall

T = TypeVar("T")

#: The separators found on their own, in order of preference.
DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab"}

#: Columns quoted in a message at most.
_SHOWN_COLUMNS = 20


class CsvError(Exception):
    """The file cannot be used: one line saying why, naming the file (and line)."""


class Row(NamedTuple):
    """One row: its first line in the file, and its id and tags cells as written."""

    line: int
    customer_id: str
    tags: str


def delimiter_name(delimiter: str) -> str:
    return _DELIMITER_NAMES.get(delimiter, repr(delimiter))


class CsvFile:
    """The rows of ``path`` (``-``: stdin) with columns ``id_column`` and ``tags_column``. The
    header is read and checked when it is made; :meth:`rows` reads the rest lazily."""

    def __init__(
        self,
        path: str,
        id_column: str,
        tags_column: str,
        delimiter: str | None = None,
        *,
        options: tuple[str, str] = ("--column-id", "--column-tags"),
    ) -> None:
        self.path = path
        self.name = "stdin" if path == "-" else path
        self._id_column = id_column
        self._tags_column = tags_column
        #: The options that name the two columns, for a message saying how to name yours.
        self._options = options
        self._file = self._open()
        try:
            header = self._guarded(self._file.readline, 1)
            self.delimiter, columns = self._header(header, delimiter)
        except BaseException:
            self.close()
            raise
        self._id_at = columns.index(id_column)
        self._tags_at = columns.index(tags_column)

    def _open(self) -> IO[str]:
        # utf-8-sig drops a BOM; newline="" leaves line ends inside quoted cells to csv.
        if self.path == "-":
            if sys.stdin is None:
                raise CsvError("stdin is closed: give --from-csv a file")
            return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
        try:
            return open(self.path, encoding="utf-8-sig", newline="")
        except OSError as e:
            raise CsvError(f"cannot read {self.name}: {e.strerror}") from None

    def _header(self, line: str, given: str | None) -> tuple[str, list[str]]:
        wanted = (self._id_column, self._tags_column)
        if not line.strip():
            raise CsvError(f"{self.name}: the first line is empty; it must name the columns")
        candidates = (given,) if given is not None else DELIMITERS
        parsed = {d: next(csv.reader([line], delimiter=d), []) for d in candidates}
        for delimiter, columns in parsed.items():
            if all(column in columns for column in wanted):
                return delimiter, columns
        # The most columns: the likeliest separator, whose columns the message then lists.
        delimiter = max(parsed, key=lambda d: len(parsed[d]))
        columns = parsed[delimiter]
        missing = list(dict.fromkeys(column for column in wanted if column not in columns))
        options = " / ".join(
            dict.fromkeys(
                self._options[0] if c == self._id_column else self._options[1] for c in missing
            )
        )
        if len(columns) < 2 and len(set(wanted)) == 1:
            # One column wanted, and a one-column header: never quoted, as below.
            raise CsvError(
                f"{self.name}: the first line does not name the column {missing[0]!r} (not "
                f"shown: it could be a secret); name yours with {options}"
            )
        if len(columns) < 2:
            # Never quoted: a line with no separator may be a secret (a key file given by
            # mistake), not a header.
            separators = delimiter_name(delimiter) if given is not None else "',', ';' or a tab"
            raise CsvError(
                f"{self.name}: the first line has no {separators} separating columns, so it "
                f"is not a CSV header naming {' and '.join(map(repr, dict.fromkeys(wanted)))} (not "
                "shown: it "
                "could be a secret)"
            )
        shown = ", ".join(repr(c) for c in columns[:_SHOWN_COLUMNS])
        if len(columns) > _SHOWN_COLUMNS:
            shown += f", … ({len(columns):,} in all)"
        raise CsvError(
            f"{self.name}: no column {missing[0]!r} (columns: {shown}); name yours with {options}"
        )

    def _guarded(self, read: Callable[[], T], line: int) -> T:
        try:
            return read()
        except UnicodeDecodeError:
            raise CsvError(self._not_utf8(line)) from None
        except OSError as e:
            raise CsvError(f"cannot read {self.name}: {e.strerror}") from None

    def _not_utf8(self, after_line: int) -> str:
        where = self._first_bad_line() if self.path != "-" else None
        at = f"line {where}" if where is not None else f"after line {after_line}"
        return (
            f"{self.name}: {at} is not UTF-8 text; save the file as UTF-8 (in Excel: "
            "'CSV UTF-8 (Comma delimited)')"
        )

    def _first_bad_line(self) -> int | None:
        """The first line of the file that does not decode (text decoding reads ahead in chunks,
        so the error alone cannot tell)."""
        try:
            with open(self.path, "rb") as f:
                for number, raw in enumerate(f, 1):
                    try:
                        raw.decode("utf-8")
                    except UnicodeDecodeError:
                        return number
        except OSError:
            pass
        return None

    def rows(self) -> Iterator[Row]:
        """Each row after the header, with the line it starts on; blank rows (no text in any
        cell) are skipped. :class:`CsvError` for a file that stops being readable CSV."""
        reader = csv.reader(self._file, delimiter=self.delimiter)
        end = 1  # the header's line
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise CsvError(f"{self.name}, line {end + 1}: {e}") from None
            except UnicodeDecodeError:
                raise CsvError(self._not_utf8(end)) from None
            except OSError as e:
                raise CsvError(f"cannot read {self.name}: {e.strerror}") from None
            start, end = end + 1, 1 + reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            yield Row(start, self._cell(cells, self._id_at), self._cell(cells, self._tags_at))

    @staticmethod
    def _cell(cells: list[str], at: int) -> str:
        # A short row: its missing cells are empty, as a spreadsheet shows them.
        return cells[at] if at < len(cells) else ""

    def count(self) -> int | None:
        """How many rows :meth:`rows` will give, read in a pass of its own (None for stdin,
        which can be read only once). Finds a broken file before anything is sent."""
        if self.path == "-":
            return None
        counting = CsvFile(
            self.path, self._id_column, self._tags_column, self.delimiter, options=self._options
        )
        try:
            return sum(1 for _ in counting.rows())
        finally:
            counting.close()

    def close(self) -> None:
        if self.path != "-":
            self._file.close()
        elif isinstance(self._file, io.TextIOWrapper):
            # Leave sys.stdin usable (and open) for whoever comes after.
            self._file.detach()


class LineNumbers:
    """Line numbers of the rows handed to a run, by their position: only the places where the
    gap between position and line changes are stored (blank lines, cells spanning lines), so a
    clean file of millions of rows costs nothing."""

    def __init__(self) -> None:
        self._positions: list[int] = []
        self._offsets: list[int] = []

    def add(self, position: int, line: int) -> None:
        offset = line - position
        if not self._offsets or self._offsets[-1] != offset:
            self._positions.append(position)
            self._offsets.append(offset)

    def line(self, position: int) -> int:
        at = bisect.bisect_right(self._positions, position) - 1
        return position + self._offsets[at]


# --- runs from a CSV file ----------------------------------------------------------------------

#: Invalid rows a dry run lists before it only counts them.
_SHOWN_INVALID = 20


class _CsvRun:
    """``untag``/``tag --from-csv``: what the arguments say and how each row becomes an item."""

    def __init__(self, args: argparse.Namespace, call: TagCall) -> None:
        self.args = args
        self.call = call
        self.verb = VERBS[call]
        self.done_verb = "tagged" if call == "add_tags" else "untagged"
        check_connection(args)
        if args.column_id == args.column_tags:
            raise UsageError(f"--column-id and --column-tags both name {args.column_id!r}")
        if args.checkpoint is not None and not args.dry_run:
            check_output_path("--checkpoint", args.checkpoint)
        try:
            self.file = CsvFile(args.from_csv, args.column_id, args.column_tags, args.delimiter)
        except CsvError as e:
            raise UsageError(str(e)) from None

    def item(self, row: Row) -> dict[str, Any]:
        tagging = self.call == "add_tags"
        # A ':' escaped in a TAG is left escaped for tag_spec, which reads colours.
        cell = split_names(row.tags, self.args.tags_sep, keep=":" if tagging else "")
        names = (t.strip() for t in cell)
        tags = [tag_spec(t) if tagging else t for t in names if t]
        return {"customer_id": row.customer_id, "tags": tags}

    def problem(self, customer_id: Any, tags: Any, error: BaseException) -> str:
        """Why a row failed, in the file's terms."""
        if customer_id == "":
            return f"no customer id in column {self.args.column_id!r}"
        if tags == []:
            return f"no tags in column {self.args.column_tags!r}"
        names = [t["name"] if isinstance(t, dict) else t for t in tags or ()]
        cells: dict[str, Label] = {
            "customer_id": f"column {self.args.column_id!r}",
            "tags": (f"column {self.args.column_tags!r}", names),
        }
        return colour_problem(tags) or in_cli_terms(error, self.args, cells) or str(error)

    def failure_line(self, line: int, customer_id: Any, message: str) -> str:
        return f"line {line} (customer {customer_id}): {message}"


def run_from_csv(args: argparse.Namespace, call: TagCall) -> int:
    run = _CsvRun(args, call)
    try:
        if args.dry_run:
            return _dry_run(run)
        return _real_run(run)
    except CsvError as e:
        raise UsageError(str(e)) from None
    finally:
        run.file.close()


def _time_needed(pace: Pace, requests: int) -> str:
    seconds = pace.seconds(requests)
    if seconds is None:
        return "with no rate limit, as fast as the server answers"
    return f"at {pace.per_minute:,g} requests a minute: at least {duration(seconds)}"


def _dry_run(run: _CsvRun) -> int:
    """Read and check every row as the run would, print the rows it would send (stdout, JSON
    lines) and the invalid ones (stderr), and how long the run takes at the rate limit. Sends
    nothing, opens no connection, needs no key."""
    rows = invalid = 0
    for row in run.file.rows():
        rows += 1
        item = run.item(row)
        try:
            check_call(run.call, item["customer_id"], item["tags"])
        except (TypeError, ValueError) as e:
            invalid += 1
            if invalid <= _SHOWN_INVALID:
                message = run.problem(item["customer_id"], item["tags"], e)
                say(run.failure_line(row.line, row.customer_id, message))
            continue
        emit(json.dumps({"line": row.line, **item}, ensure_ascii=False))
    if invalid > _SHOWN_INVALID:
        say(f"… and {invalid - _SHOWN_INVALID:,} more invalid rows")
    valid = rows - invalid
    action = "tag" if run.call == "add_tags" else "untag"
    separator = delimiter_name(run.file.delimiter)
    say(
        f"dry run: {rows:,} rows in {run.file.name} ({separator} separated): {valid:,} to "
        f"{action}, {invalid:,} invalid; {_time_needed(Pace(rate_limit(run.args)), valid)}. "
        "Nothing was sent."
    )
    return EXIT_SOME_FAILED if invalid else EXIT_OK


class _LazyDisplay:
    """The progress display, shown once the run really starts (its first row read): a run
    refused at the start (a bad checkpoint) prints only its error."""

    def __init__(self, make: Callable[[], Progress] | None) -> None:
        self._make = make
        self._shown: Progress | None = None

    def start(self) -> None:
        if self._make is not None and self._shown is None:
            self._shown = self._make()

    def update(self, _done: int, _total: int | None, result: BulkResult) -> None:
        if self._shown is not None:
            self._shown.update(result)

    def close(self) -> None:
        if self._shown is not None:
            self._shown.close()


def _real_run(run: _CsvRun) -> int:
    args = run.args
    # Counted first (a pass of its own, nothing held): the total and ETA hold from the start,
    # and a broken file is refused before anything is sent.
    total = run.file.count()
    lines = LineNumbers()
    with open_client(args) as client:
        pace = Pace(client.rate_limit)
        display = _LazyDisplay(
            None
            if args.no_progress
            else lambda: progress_display(total, run.verb, pace, args.progress_interval)
        )

        def items() -> Iterator[dict[str, Any]]:
            display.start()
            for position, row in enumerate(run.file.rows()):
                lines.add(position, row.line)
                yield run.item(row)

        many = client.add_tags_many if run.call == "add_tags" else client.remove_tags_many
        try:
            report = many(
                items(),
                concurrency=args.concurrency,
                progress=display.update,
                checkpoint=args.checkpoint,
            )
        except BulkInterrupted as stopped:
            display.close()
            _list_failures(run, stopped.report, lines)
            say(_interrupted(run, stopped.report, total))
            return EXIT_INTERRUPTED
        except BulkError as failed:
            # The file broke partway (stdin, or a file changed since it was counted): bad
            # input, after what was done before it.
            display.close()
            _summarize(run, failed.report, lines)
            cause = failed.__cause__
            raise UsageError(str(cause) if isinstance(cause, CsvError) else str(failed)) from None
        except OSError as e:
            if args.checkpoint is not None and e.filename == args.checkpoint:
                raise UsageError(f"--checkpoint {args.checkpoint!r}: {e.strerror}") from None
            raise
        display.close()
    _summarize(run, report, lines)
    return EXIT_SOME_FAILED if report.failed or report.not_started else EXIT_OK


def _list_failures(run: _CsvRun, report: BulkReport, lines: LineNumbers) -> None:
    for result in report.failures:
        if isinstance(result.error, RequestCancelledError):
            continue  # stopped, not failed: counted in the summary
        message = run.problem(result.customer_id, result.tags, result.error or Exception())
        say(run.failure_line(lines.line(result.index), result.customer_id, message))


def _summarize(run: _CsvRun, report: BulkReport, lines: LineNumbers) -> None:
    _list_failures(run, report, lines)
    stopped = sum(1 for r in report if isinstance(r.error, RequestCancelledError))
    counts = [f"{count(report.failed + report.not_started - stopped)} failed"]
    if stopped:
        counts.append(f"{count(stopped)} stopped unfinished")
    if report.skipped:
        counts.append(f"{count(report.skipped)} skipped as already done")
    say(
        f"{run.done_verb} {count(report.succeeded - report.skipped)} of {count(len(report))} "
        "customers; " + ", ".join(counts)
    )


def _interrupted(run: _CsvRun, report: BulkReport, total: int | None) -> str:
    """What an interrupted run did, in words, and how to go on from there."""
    checkpoint = run.args.checkpoint
    if checkpoint is not None:
        advice = (
            f"to resume, run the same command again: {command_line(run.args.argv)} "
            f"(--checkpoint {checkpoint} skips the rows done)"
        )
    else:
        advice = (
            "nothing recorded which rows are done: a rerun sends every row again (harmless, "
            "but slower); give --checkpoint FILE to make a run resumable"
        )
    return interrupted(report, "row", total, advice)
