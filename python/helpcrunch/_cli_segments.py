"""``helpcrunch sync-tags``: several tags synced from one long CSV (one row per key and tag), in
one plan (``_segments.py``): each key looked up once, the writes merged per customer.
``add_commands`` registers it with ``_cli``'s parser.

    helpcrunch sync-tags --from-csv segments.csv --key-column email --tag-column segment --dry-run
    helpcrunch sync-tags --from-csv segments.csv --tags trial,paying,vip --log segments.jsonl
    helpcrunch undo segments.jsonl
"""

from __future__ import annotations

import argparse

from ._apply import open_tags_log
from ._cli_common import (
    EXIT_OK,
    UsageError,
    check_connection,
    check_output_path,
    delimiter_option,
    emit,
    open_client,
)
from ._cli_csv import CsvError, CsvFile
from ._cli_sync import SHOWN_REJECTED, Command, _apply_options, _resume, _summarize
from ._exceptions import MassRemovalError
from ._format import counted, duration
from ._native import MATCH_KINDS, MODES
from ._segments import Allow, TagsPlan

#: The options naming the CSV's two columns, for CsvFile's messages.
COLUMNS = ("--key-column", "--tag-column")


def _names(text: str) -> list[str]:
    """``trial,paying,vip``: tag names, each once; blank ones dropped."""
    return list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))


def _read_rows(args: argparse.Namespace) -> tuple[list[dict[str, str]], list[int]]:
    """The rows of ``--from-csv`` as ``{key, tag}`` mappings, and each one's line."""
    try:
        csv = CsvFile(
            args.from_csv, args.key_column, args.tag_column, args.delimiter, options=COLUMNS
        )
    except CsvError as e:
        raise UsageError(str(e)) from None
    try:
        rows = list(csv.rows())
    except CsvError as e:
        raise UsageError(str(e)) from None
    finally:
        csv.close()
    table = [{"key": row.customer_id, "tag": row.tags} for row in rows]
    return table, [row.line for row in rows]


def _show(plan: TagsPlan, lines: list[int]) -> None:
    """The totals, each tag's counts, the rejected rows (the first ``SHOWN_REJECTED``), the
    ignored rows, the time."""
    emit(plan.summary())
    emit(f"found by {plan.strategy}: {plan.strategy_reason}")
    rejected = [(tag, i) for tag, view in plan.by_tag.items() for i in view.rejected]
    rejected.sort(key=lambda pair: -1 if pair[1].row is None else pair[1].row)
    for tag, view in plan.by_tag.items():
        refused = " (refused: removes it from more than half of its holders)"
        emit(
            f"  {tag}: {view.counts()}; {view.holders_now()}"
            + (refused if tag in plan.mass_removal else "")
        )
    for tag, item in rejected[:SHOWN_REJECTED]:
        where = f"line {lines[item.row]}" if item.row is not None else ""
        reason = item.reason
        if item.kept_row is not None:
            reason = f"the same key as line {lines[item.kept_row]}, which is kept"
        emit(f"  rejected {where} ({tag}): {item.key!r}: {reason}")
    more = len(rejected) - SHOWN_REJECTED
    if more > 0:
        emit(f"  … and {more:,} more rejected")
    if plan.ignored:
        shown = ", ".join(str(lines[r]) for r in plan.ignored[:10])
        emit(f"  ignored: {counted(len(plan.ignored), 'row')} of no managed tag (lines {shown}…)")
    seconds = plan.seconds
    emit(
        f"applying it sends {counted(plan.writes, 'write')}"
        + ("" if seconds is None else f", about {duration(seconds)} at the rate limit")
    )


def _allowed(value: str | bool) -> Allow:
    return value if isinstance(value, bool) else set(_names(value))


def _cmd_sync_tags(args: argparse.Namespace) -> int:
    check_connection(args)
    if args.log is not None and not args.dry_run:
        check_output_path("--log", args.log)
    table, lines = _read_rows(args)
    tags = None if args.tags is None else _names(args.tags)
    if tags is not None and not tags:
        raise UsageError("--tags: name at least one tag (e.g. --tags trial,paying)")
    with open_client(args) as client:
        if args.log is not None and not args.dry_run:
            # A file that is not this sync's log is refused before the plan's first request.
            managed = tags if tags is not None else list(dict.fromkeys(r["tag"] for r in table))
            try:
                log = open_tags_log(
                    args.log, [t for t in managed if t.strip()], args.mode, args.match
                )
            except ValueError as e:
                raise UsageError(f"--log: {e}") from None
            if log is not None:
                log.close()
        plan = client.plan_tags(
            table,
            match=args.match,
            mode=args.mode,
            tags=tags,
            tag_column="tag",
            key_column="key",
            progress=not args.no_progress,
        )
        _show(plan, lines)
        if args.dry_run:
            return EXIT_OK
        try:
            report = client.apply_plan(
                plan,
                allow_mass_removal=_allowed(args.allow_mass_removal),
                log=args.log,
                concurrency=args.concurrency,
                progress=not args.no_progress,
            )
        except MassRemovalError as e:
            raise UsageError(
                f"this plan removes tags {e.tags} from more than half of their holders; give "
                f"--allow-mass-removal (every tag) or --allow-mass-removal={','.join(e.tags)} "
                "if that is what you mean (--dry-run shows the plan)"
            ) from None
    for tag, counts in report.by_tag().items():
        if counts["failed"]:
            emit(f"  {tag}: {counts['failed']:,} failed")
    return _summarize(report, "applied")


def add_commands(command: Command) -> None:
    """Register ``sync-tags``; ``command(name, summary, example)`` makes a subparser with the
    connection options."""
    sync = command(
        "sync-tags",
        "Make several tags match one CSV of (key, tag) rows together: each key looked up "
        "once, at most one add and one removal per customer. A tag --tags names that no row "
        "has is removed from every holder (mirror).",
        "helpcrunch sync-tags --from-csv segments.csv --key-column email --tag-column segment "
        "--dry-run",
    )
    sync.add_argument("--from-csv", required=True, metavar="FILE", help="the rows ('-' for stdin)")
    sync.add_argument(
        "--key-column", default=None, metavar="C", help="the column of keys (default: --match's)"
    )
    sync.add_argument(
        "--tag-column", default="tag", metavar="C", help="the column of tag names (default tag)"
    )
    sync.add_argument(
        "--tags",
        default=None,
        metavar="A,B",
        help="the managed tags (default: every tag the file names); rows of other tags are "
        "ignored, and other tags never touched",
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
        "--allow-mass-removal",
        nargs="?",
        const=True,
        default=False,
        metavar="A,B",
        help="apply a plan removing a tag from more than half of its holders: every tag, or "
        "the tags named",
    )
    _apply_options(sync)
    sync.set_defaults(run=_defaults, resume=_resume)


def _defaults(args: argparse.Namespace) -> int:
    if args.key_column is None:
        args.key_column = args.match
    return _cmd_sync_tags(args)
