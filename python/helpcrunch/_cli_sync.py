"""``helpcrunch sync-tag``, ``clear-tag`` and ``undo``: the tag sync (``_sync.py``) on the
command line. ``add_commands`` registers them with ``_cli``'s parser.

    helpcrunch sync-tag churn-risk --from-csv segment.csv --column email --dry-run
    helpcrunch sync-tag churn-risk --from-csv segment.csv --column email --log churn.jsonl
    helpcrunch clear-tag churn-risk --dry-run
    helpcrunch undo churn.jsonl
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ._apply import open_log
from ._cli_common import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    UsageError,
    check_connection,
    check_output_path,
    command_line,
    delimiter_option,
    emit,
    open_client,
    say,
)
from ._cli_csv import CsvError, CsvFile
from ._cli_tags import colour_reason
from ._client import DEFAULT_CONCURRENCY, Client
from ._exceptions import MassRemovalError
from ._format import count, counted, duration
from ._native import MATCH_KINDS, MODES
from ._report import BulkReport
from ._sync import TagPlan

#: Rejected rows a dry run lists before it only counts them.
SHOWN_REJECTED = 20

#: The option naming the audience's one column (both of CsvFile's).
COLUMN = ("--column", "--column")

Command = Callable[[str, str, str], argparse.ArgumentParser]


def _read_audience(args: argparse.Namespace) -> tuple[list[str], list[int]]:
    """The ``--column`` cells of ``--from-csv``, and each one's line in the file."""
    try:
        # The one column is both of CsvFile's: the header must name it, and each row gives it.
        csv = CsvFile(args.from_csv, args.column, args.column, args.delimiter, options=COLUMN)
    except CsvError as e:
        raise UsageError(str(e)) from None
    try:
        rows = list(csv.rows())
    except CsvError as e:
        raise UsageError(str(e)) from None
    finally:
        csv.close()
    return [row.customer_id for row in rows], [row.line for row in rows]


def _show_plan(plan: TagPlan, lines: list[int] | None, allow: bool) -> None:
    """The tag and the counts, its holders now, the rejected rows (the first
    ``SHOWN_REJECTED``, then a count), then what applying sends and how long it takes, or why it
    is refused. In the command line's terms: ``lines`` None is ``clear-tag``, which has no
    audience, mode or match."""
    if lines is None:
        emit(plan.holders_now())
    else:
        emit(f"tag {plan.tag!r}, {plan.mode}, by {plan.match}: {plan.counts()}")
        emit(plan.holders_now())
        emit(f"found by {plan.strategy}: {plan.strategy_reason}")
    for item in plan.rejected[:SHOWN_REJECTED]:
        where = f"line {lines[item.row]}" if lines is not None and item.row is not None else ""
        reason = item.reason
        if lines is not None and item.kept_row is not None:
            # The reason counts rows from 0, as Python positions do; here rows are lines.
            reason = f"the same key as line {lines[item.kept_row]}, which is kept"
        emit(f"  rejected {where}: {item.key!r}: {reason}")
    more = len(plan.rejected) - SHOWN_REJECTED
    if more > 0:
        emit(f"  … and {more:,} more rejected")
    seconds = plan.seconds
    if plan._guard is not None and not allow:
        emit(f"applying it is refused: {_guard_words(plan)}")
        return
    emit(
        f"applying it sends {counted(plan.writes, 'write')}"
        + ("" if seconds is None else f", about {duration(seconds)} at the rate limit")
        + f" (planning took {counted(plan.lookups, 'lookup')})"
    )


def _guard_words(plan: TagPlan) -> str:
    """Why the guard refuses the plan, in the command line's terms."""
    removing, holders = plan._guard or (0, 0)
    why = "and no row of the file is usable" if plan._empty_audience else "more than half of them"
    return (
        f"it removes the tag from {count(removing)} of its {count(holders)} current holders, "
        f"{why}; give --allow-mass-removal if that is what you mean"
    )


def _summarize(report: BulkReport, verb: str) -> int:
    say(
        f"{verb} {count(report.succeeded)} of {counted(len(report), 'change')}; "
        f"{count(report.failed)} failed"
        + (f", {count(report.not_started)} not started" if report.not_started else "")
        + (f", {count(report.skipped)} skipped as done" if report.skipped else "")
    )
    for failure in report.failures[:SHOWN_REJECTED]:
        say(f"  customer {failure.customer_id}: {failure.error}")
    return EXIT_SOME_FAILED if report.failed or report.not_started else EXIT_OK


def _apply(client: Client, plan: TagPlan, args: argparse.Namespace, allow: bool) -> int:
    try:
        report = client.apply_plan(
            plan,
            allow_mass_removal=allow,
            log=args.log,
            concurrency=args.concurrency,
            progress=not args.no_progress,
        )
    except MassRemovalError:
        # In the command line's words: the message's advice is a Python argument.
        raise UsageError(f"not applied: {_guard_words(plan)}") from None
    return _summarize(report, "applied")


def _check_apply_options(args: argparse.Namespace) -> None:
    """Refuse what would stop the run only once planned: an unusable --log or --color."""
    if getattr(args, "log", None) is not None and not getattr(args, "dry_run", False):
        check_output_path("--log", args.log)
        # A file that is not this sync's log (the audience CSV itself, say) is refused before
        # the plan's first request, and left as it is.
        mode, match = getattr(args, "mode", "mirror"), getattr(args, "match", "email")
        try:
            log = open_log(args.log, args.tag, mode, match)
        except ValueError as e:
            raise UsageError(f"--log: {e}") from None
        if log is not None:
            log.close()
    color = getattr(args, "color", None)
    why = None if color is None else colour_reason(color)
    if why is not None:
        raise UsageError(f"--color: {color!r} is not a CSS colour: {why}")


def _cmd_sync_tag(args: argparse.Namespace) -> int:
    check_connection(args)
    _check_apply_options(args)
    keys, lines = _read_audience(args)
    with open_client(args) as client:
        plan = client.plan_tag(
            args.tag,
            keys,
            match=args.match,
            mode=args.mode,
            color=args.color,
            progress=not args.no_progress,
        )
        _show_plan(plan, lines, args.allow_mass_removal)
        if args.dry_run:
            return EXIT_OK
        return _apply(client, plan, args, args.allow_mass_removal)


def _cmd_clear_tag(args: argparse.Namespace) -> int:
    _check_apply_options(args)
    with open_client(args) as client:
        # Mirroring an empty audience: every holder loses the tag. Asking for that is the
        # permission the guard wants.
        plan = client.plan_tag(args.tag, [], mode="mirror", progress=not args.no_progress)
        _show_plan(plan, None, True)
        if args.dry_run:
            return EXIT_OK
        return _apply(client, plan, args, True)


def _cmd_undo(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        try:
            report = client.undo(
                args.log_file,
                delete_created=args.delete_created,
                concurrency=args.concurrency,
                progress=not args.no_progress,
            )
        except FileNotFoundError:
            raise UsageError(f"no such log: {args.log_file}") from None
    for conflict in getattr(report, "conflicts", [])[:SHOWN_REJECTED]:
        say(
            f"  left customer {conflict.customer_id} {conflict.field}: it holds "
            f"{conflict.now!r}, not {conflict.wrote!r} as the run wrote"
        )
    created = getattr(report, "created", [])
    if created:
        say(f"  left {counted(len(created), 'created customer')} (--delete-created deletes them)")
    return _summarize(report, "undid")


def _resume(args: argparse.Namespace) -> str:
    """How to go on after Ctrl-C: the same command again, which plans afresh (what is done
    shows as unchanged) or, for undo, reads the log it wrote."""
    again = f"to resume, run the same command again: {command_line(args.argv)}"
    if getattr(args, "from_csv", None) == "-":
        again += " with the same input on stdin"
    if args.command == "undo":
        return again + " (the log shows what is undone already)"
    log = getattr(args, "log", None)
    recorded = (
        f"; --log {log} keeps recording, so `helpcrunch undo {log}` reverses both runs"
        if log is not None
        else ""
    )
    return again + f" (it plans afresh: what is done shows as unchanged{recorded})"


def _apply_options(parser: argparse.ArgumentParser, *, log: bool = True) -> None:
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"writes in flight (default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress on stderr (by default: a bar on a terminal, a line every few "
        "seconds elsewhere, with the time left at the rate limit)",
    )
    if log:
        parser.add_argument(
            "--log",
            metavar="FILE",
            help="record each change in FILE (JSON lines): a rerun skips what is done, and "
            "`helpcrunch undo FILE` puts it back",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="print the plan (counts, rejected rows, the time) and change nothing",
        )


def add_commands(command: Command) -> None:
    """Register the commands; ``command(name, summary, example)`` makes a subparser with the
    connection options."""
    sync = command(
        "sync-tag",
        "Make TAG match the customers a CSV column names (emails, user ids or ids): plan with "
        "the fewest searches, print the plan, then apply it.",
        "helpcrunch sync-tag churn-risk --from-csv segment.csv --column email --dry-run",
    )
    sync.add_argument("tag", metavar="TAG", help="the tag's name")
    sync.add_argument(
        "--from-csv", required=True, metavar="FILE", help="the audience ('-' for stdin)"
    )
    sync.add_argument(
        "--column", default=None, metavar="C", help="the column of keys (default: --match's)"
    )
    sync.add_argument(
        "--delimiter",
        type=delimiter_option,
        default=None,
        metavar="D",
        help="the cells' separator (default: ',', ';' or tab, whichever the header has)",
    )
    sync.add_argument("--match", choices=MATCH_KINDS, default="email", help="(default email)")
    sync.add_argument(
        "--mode",
        choices=MODES,
        default="mirror",
        help="mirror: add to members, remove from every other holder; add; remove (default mirror)",
    )
    sync.add_argument(
        "--color",
        metavar="COLOR",
        help="the colour of a tag not yet made: any CSS colour (red, '#c57de0', 'rgb(0 0 0)')",
    )
    sync.add_argument(
        "--allow-mass-removal",
        action="store_true",
        help="apply a plan removing the tag from more than half of its holders",
    )
    _apply_options(sync)
    sync.set_defaults(run=_sync_defaults, resume=_resume)

    clear = command(
        "clear-tag",
        "Remove TAG from every customer who carries it.",
        "helpcrunch clear-tag churn-risk --dry-run",
    )
    clear.add_argument("tag", metavar="TAG", help="the tag's name")
    _apply_options(clear)
    clear.set_defaults(run=_cmd_clear_tag, resume=_resume)

    undo = command(
        "undo",
        "Put back exactly what a sync-tag, clear-tag or sync-customers run logged with --log "
        "changed.",
        "helpcrunch undo churn.jsonl",
    )
    undo.add_argument("log_file", metavar="FILE", help="the run's --log file")
    undo.add_argument(
        "--delete-created",
        action="store_true",
        help="a sync-customers log: delete the customers it created (left by default)",
    )
    _apply_options(undo, log=False)
    undo.set_defaults(run=_cmd_undo, resume=_resume)


def _sync_defaults(args: argparse.Namespace) -> Any:
    if args.column is None:
        args.column = args.match
    return _cmd_sync_tag(args)
