"""``helpcrunch sync-customers``: the customer sync (``_customers_sync.py``) on the command line.
``add_commands`` registers it with ``_cli``'s parser; ``helpcrunch undo FILE`` (``_cli_sync``)
undoes its logs too.

    helpcrunch sync-customers --from-csv users.csv --match email --dry-run
    helpcrunch sync-customers --from-csv users.csv --field company=org_name --log users.jsonl
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from typing import Any

from ._cli_common import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    UsageError,
    check_connection,
    check_output_path,
    delimiter_option,
    emit,
    open_client,
    say,
)
from ._cli_sync import SHOWN_REJECTED, Command, _apply_options
from ._customers_apply import open_log
from ._customers_sync import CustomerPlan
from ._exceptions import MassChangeError
from ._format import counted, duration
from ._native import CUSTOMER_FIELDS, MATCH_KINDS, NULLS
from ._progress import Pace

_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_BOOLS = {"true": True, "false": False}


def _cell(field: str | None, text: str) -> Any:
    """A CSV cell as a value: empty is no value; ``unsubscribed``/``blocked`` take
    true/false; a ``customData`` cell that reads as a number or true/false is one (a CSV has
    only text); every other field stays text, as written."""
    if text == "":
        return None
    if field in ("unsubscribed", "blocked"):
        return _BOOLS.get(text.strip().lower(), text)
    if field is not None and field.startswith("customData."):
        if text.strip().lower() in _BOOLS:
            return _BOOLS[text.strip().lower()]
        if _NUMBER.fullmatch(text.strip()):
            number = float(text) if any(c in text for c in ".eE") else int(text)
            return number
    return text


def _read(args: argparse.Namespace, mapping: dict[str, str]) -> list[dict[str, Any]]:
    """The CSV's rows, each cell read as :func:`_cell` says for the field it is."""
    try:
        if args.from_csv == "-":
            data = sys.stdin.read()
        else:
            with open(args.from_csv, encoding="utf-8-sig", newline="") as f:
                data = f.read()
    except OSError as e:
        raise UsageError(f"--from-csv: {e.strerror or e}: {args.from_csv}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--from-csv: {args.from_csv} is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(data, newline=""), delimiter=args.delimiter or ",")
    try:
        header = next(reader)
    except StopIteration:
        raise UsageError(f"--from-csv: {args.from_csv} is empty") from None
    field_of = {column: field for field, column in mapping.items()}
    fields = [field_of.get(c, c) for c in header]
    rows = []
    for line, cells in enumerate(reader, 2):
        if not any(cells):
            continue
        if len(cells) != len(header):
            raise UsageError(
                f"--from-csv: line {line} has {len(cells)} cells, the header {len(header)}"
            )
        rows.append(
            {
                c: _cell(f, v) if c != args.key_column else v
                for c, f, v in zip(header, fields, cells, strict=True)
            }
        )
    return rows


def _mapping(args: argparse.Namespace) -> dict[str, str]:
    mapping = {}
    for text in args.field or []:
        field, sep, column = text.partition("=")
        if not sep or not field or not column:
            raise UsageError(f"--field: {text!r} is not FIELD=COLUMN (e.g. company=org_name)")
        mapping[field] = column
    return mapping


def _show(plan: CustomerPlan, batch: bool) -> None:
    emit(plan.summary())
    emit(f"found by {plan.strategy}: {plan.strategy_reason}")
    for item in plan.to_update[:SHOWN_REJECTED]:
        changes = ", ".join(f"{f}: {b!r} -> {a!r}" for f, (b, a) in item.changes.items())
        emit(f"  update line {item.row + 2} (customer {item.customer_id}): {changes}")
    for item in plan.rejected[:SHOWN_REJECTED]:
        emit(f"  rejected line {item.row + 2}: {item.key!r}: {item.reason}")
    more = len(plan.rejected) - SHOWN_REJECTED
    if more > 0:
        emit(f"  … and {more:,} more rejected")
    writes = plan.writes(batch)
    seconds = Pace(plan.rate_limit).seconds(writes)
    emit(
        f"applying it sends {counted(writes, 'write')}"
        + ("" if seconds is None else f", about {duration(seconds)} at the rate limit")
    )


def _cmd_sync_customers(args: argparse.Namespace) -> int:
    check_connection(args)
    mapping = _mapping(args)
    if args.key_column is None:
        args.key_column = args.match
    if args.log is not None and not args.dry_run:
        check_output_path("--log", args.log)
        try:
            log = open_log(args.log, args.match)
        except ValueError as e:
            raise UsageError(f"--log: {e}") from None
        if log is not None:
            log.close()
    rows = _read(args, mapping)
    with open_client(args) as client:
        try:
            plan = client.plan_customers(
                rows,
                match=args.match,
                key_column=args.key_column,
                fields=mapping,
                create_missing=args.create_missing,
                nulls=args.nulls,
                ignore_columns=args.ignore_columns,
            )
        except (TypeError, ValueError) as e:
            raise UsageError(
                str(e)
                .replace('fields={"company": "org_name"}', "--field company=org_name")
                .replace("pass ignore_columns=True", "give --ignore-columns")
                .replace("key_column=", "--key-column")
            ) from None
        _show(plan, args.batch)
        if args.dry_run:
            return EXIT_OK
        try:
            report = client.apply_plan(
                plan,
                allow_mass_change=args.allow_mass_change,
                batch=args.batch,
                log=args.log,
                concurrency=args.concurrency,
                progress=not args.no_progress,
            )
        except MassChangeError as e:
            raise UsageError(
                str(e).replace("pass allow_mass_change=True", "give --allow-mass-change")
                + " (--dry-run shows the plan)"
            ) from None
    say(
        f"applied {report.succeeded:,} of {len(report):,} writes; {report.failed:,} failed"
        + (f", {report.skipped:,} skipped as done" if report.skipped else "")
    )
    for failure in report.failures[:SHOWN_REJECTED]:
        who = "a new customer" if failure.customer_id is None else f"customer {failure.customer_id}"
        say(f"  {who}: {failure.error}")
    return EXIT_SOME_FAILED if report.failed else EXIT_OK


def add_commands(command: Command) -> None:
    sync = command(
        "sync-customers",
        "Make the customers' fields match a CSV (a column per field: "
        + ", ".join(CUSTOMER_FIELDS)
        + ", customData.<key>): plan with the fewest searches, print the plan, then apply it.",
        "helpcrunch sync-customers --from-csv users.csv --match email --dry-run",
    )
    sync.add_argument("--from-csv", required=True, metavar="FILE", help="the table ('-' for stdin)")
    sync.add_argument("--match", choices=MATCH_KINDS, default="email", help="(default email)")
    sync.add_argument(
        "--key-column", default=None, metavar="C", help="the column of keys (default: --match's)"
    )
    sync.add_argument(
        "--field",
        action="append",
        metavar="FIELD=COLUMN",
        help="sync COLUMN into FIELD (repeatable), e.g. company=org_name",
    )
    sync.add_argument(
        "--delimiter", type=delimiter_option, default=None, metavar="D", help="(default ',')"
    )
    sync.add_argument(
        "--create-missing", action="store_true", help="create a customer for a key none has"
    )
    sync.add_argument(
        "--nulls",
        choices=NULLS,
        default="leave",
        help="an empty cell: leave the field as it is, or clear it (default leave)",
    )
    sync.add_argument(
        "--ignore-columns", action="store_true", help="leave out columns that are not fields"
    )
    sync.add_argument(
        "--batch",
        action="store_true",
        help="update ten customers a request, each sent whole (a change made to them between "
        "plan and apply is overwritten)",
    )
    sync.add_argument(
        "--allow-mass-change",
        action="store_true",
        help="apply a plan changing more than half of the customers it read, or emptying a "
        "field on more than 100",
    )
    _apply_options(sync)
    sync.set_defaults(run=_cmd_sync_customers)
