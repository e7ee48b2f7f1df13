"""The ``helpcrunch`` command line: untag, tag and get customers, or serve the sandbox.

Errors print one line on stderr and exit with a code per kind (see ``EXIT_CODES``); the API key
is read from ``HELPCRUNCH_API_KEY`` or ``--api-key-file``, never from a plain argument that would
land in shell history.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

from . import _cli_customers
from ._bulk import BulkReport
from ._client import DEFAULT_BASE_URL, DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT, Client
from ._exceptions import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BulkError,
    BulkInterrupted,
    ConfigurationError,
    HelpCrunchError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from ._types import TagCall, TagSpec

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_RATE_LIMITED = 5
EXIT_API_ERROR = 6
EXIT_CONNECTION = 7
EXIT_SOME_FAILED = 8
EXIT_INTERRUPTED = 130

EXIT_CODES = f"""exit codes:
  {EXIT_OK}    success
  {EXIT_USAGE}    usage: bad arguments, bad input, or no API key
  {EXIT_AUTH}    authentication: the key was refused (401/403)
  {EXIT_NOT_FOUND}    not found: no such customer (404)
  {EXIT_RATE_LIMITED}    rate limited (429) after retries
  {EXIT_API_ERROR}    any other error answer from HelpCrunch
  {EXIT_CONNECTION}    connection: HelpCrunch could not be reached, or timed out
  {EXIT_SOME_FAILED}    --from-csv: some rows failed (each is listed on stderr)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)"""

_COLOR = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})")


def _exit_code(err: BaseException) -> int:
    if isinstance(err, (AuthenticationError, PermissionDeniedError)):
        return EXIT_AUTH
    if isinstance(err, NotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(err, RateLimitError):
        return EXIT_RATE_LIMITED
    if isinstance(err, APIConnectionError):
        return EXIT_CONNECTION
    if isinstance(err, APIError):
        return EXIT_API_ERROR
    if isinstance(err, (ConfigurationError, ValueError, TypeError)):
        return EXIT_USAGE
    return EXIT_ERROR


def _tag_spec(text: str) -> TagSpec:
    """``Lead`` or ``Lead:#c57de0``; a name may itself contain ':' unless what follows the last
    one is a colour."""
    name, sep, color = text.rpartition(":")
    if sep and _COLOR.fullmatch(color):
        return {"name": name, "color": color}
    return {"name": text}


def _read_key_file(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.readline().strip()
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError as e:
        raise ConfigurationError(f"cannot read --api-key-file {path!r}: {e.strerror}") from None


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[Client]:
    if args.sandbox:
        from .sandbox import Sandbox

        with Sandbox() as sandbox, sandbox.client(timeout=args.timeout) as client:
            yield client
        return
    api_key = _read_key_file(args.api_key_file) if args.api_key_file else None
    with Client(api_key=api_key, base_url=args.base_url, timeout=args.timeout) as client:
        yield client


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _csv_rows(
    args: argparse.Namespace, stack: contextlib.ExitStack, parse_tag: Callable[[str], Any]
) -> Iterator[Any]:
    """Rows of the CSV as ``{"customer_id", "tags"}``. The header is checked now, before any
    work starts; the rows are read lazily. A tags cell holds names separated by ``--tags-sep``."""
    path = args.from_csv
    try:
        f = (
            sys.stdin
            if path == "-"
            else stack.enter_context(open(path, newline="", encoding="utf-8"))
        )
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise _UsageError(f"cannot read {path}: {e}") from None
    for column in (args.column_id, args.column_tags):
        if column not in columns:
            raise _UsageError(
                f"{path}: no column {column!r} (columns: {', '.join(columns) or 'none'}); "
                "name yours with --column-id / --column-tags"
            )

    def rows() -> Iterator[Any]:
        for row in reader:
            cell = row[args.column_tags] or ""
            tags = [parse_tag(t.strip()) for t in cell.split(args.tags_sep) if t.strip()]
            yield {"customer_id": row[args.column_id], "tags": tags}

    return rows()


def _run_csv(args: argparse.Namespace, call: TagCall) -> int:
    parse_tag: Callable[[str], Any] = _tag_spec if call == "add_tags" else str
    verb = "tagged" if call == "add_tags" else "untagged"
    with contextlib.ExitStack() as stack:
        rows = _csv_rows(args, stack, parse_tag)
        client = stack.enter_context(_client(args))
        many = client.add_tags_many if call == "add_tags" else client.remove_tags_many
        try:
            report = many(
                rows,
                concurrency=args.concurrency,
                progress=not args.no_progress,
                checkpoint=args.checkpoint,
            )
        except BulkInterrupted as stopped:
            print(f"helpcrunch: interrupted: {stopped.report!r}", file=sys.stderr)
            return EXIT_INTERRUPTED
        except BulkError as failed:
            # The CSV broke partway (a malformed line): bad input, after a summary of what was
            # done before it.
            _summarize(failed.report, verb)
            print(f"helpcrunch: error: {failed}", file=sys.stderr)
            return EXIT_USAGE
    _summarize(report, verb)
    return EXIT_SOME_FAILED if report.failed else EXIT_OK


def _summarize(report: BulkReport, verb: str) -> None:
    for failure in report.failures:
        # Row numbers count the header as line 1, as a spreadsheet does.
        print(
            f"line {failure.index + 2} (customer {failure.customer_id}): {failure.error}",
            file=sys.stderr,
        )
    skipped = f", {report.skipped} skipped as already done" if report.skipped else ""
    print(
        f"{verb} {report.succeeded - report.skipped} of {len(report)} customers; "
        f"{report.failed} failed{skipped}",
        file=sys.stderr,
    )


def _single(args: argparse.Namespace) -> None:
    """Check that a single-customer command got its arguments (they are optional with
    --from-csv only)."""
    if args.from_csv is None and (args.customer_id is None or not args.tags):
        raise _UsageError("give CUSTOMER_ID and at least one TAG, or --from-csv FILE")
    if args.from_csv is not None and args.customer_id is not None:
        raise _UsageError("give either CUSTOMER_ID and TAGs or --from-csv FILE, not both")


def _cmd_untag(args: argparse.Namespace) -> int:
    _single(args)
    if args.from_csv is not None:
        return _run_csv(args, "remove_tags")
    with _client(args) as client:
        _print_json(client.remove_tags(args.customer_id, args.tags))
    return EXIT_OK


def _cmd_tag(args: argparse.Namespace) -> int:
    _single(args)
    if args.from_csv is not None:
        return _run_csv(args, "add_tags")
    with _client(args) as client:
        _print_json(client.add_tags(args.customer_id, [_tag_spec(t) for t in args.tags]))
    return EXIT_OK


def _cmd_get(args: argparse.Namespace) -> int:
    with _client(args) as client:
        _print_json(client.get_customer(args.customer_id))
    return EXIT_OK


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from .sandbox import Sandbox

    if args.seed is not None and args.customers is None:
        raise _UsageError("--seed picks a generated account: give --customers N with it")
    try:
        sandbox = Sandbox(
            args.customers,
            api_key=args.key,
            rate_limit=args.rate_limit,
            seed=args.seed,
            load=args.load,
            max_page_size=args.max_page_size,
            max_filters=args.max_filters,
            unstable_ties=args.unstable_ties,
            port=args.port,
        )
    except (ValueError, FileNotFoundError) as err:
        raise _UsageError(str(err)) from None
    except OSError as err:
        print(f"helpcrunch: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    stop = threading.Event()
    # Before the address is printed: whoever reads it may send SIGTERM at once.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with sandbox:
        print(f"HelpCrunch sandbox serving at {sandbox.base_url}", flush=True)
        print(f"export HELPCRUNCH_BASE_URL={sandbox.base_url}", flush=True)
        print(f"export HELPCRUNCH_API_KEY={sandbox.api_key}", flush=True)
        if args.customers is not None:
            seed = "" if args.seed is None else f", seed {args.seed}"
            source = f"generated{seed}"
        else:
            source = "demo" if args.load is None else f"from {args.load}"
        print(f"{sandbox.customer_count:,} customers ({source})", file=sys.stderr, flush=True)
        print("Press Ctrl-C to stop.", file=sys.stderr, flush=True)
        # Event.wait with a timeout keeps the main thread responsive to Ctrl-C.
        while not stop.wait(0.5):
            pass
    return EXIT_OK


class _UsageError(Exception):
    """Arguments that parse but do not fit together."""


class _RefuseKeyArgument(argparse.Action):
    """``--api-key`` exists only to say no, without echoing the value that was typed."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs="?", **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        parser.error(
            "--api-key is not accepted: a key on the command line lands in shell history. "
            "Set HELPCRUNCH_API_KEY or use --api-key-file FILE."
        )


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # No prefix matching: "--api-key SECRET" must never be taken for "--api-key-file".
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):
            # Show the stray options, not their values: one may be a key typed by mistake.
            shown = [
                word.split("=", 1)[0] if word.startswith("-") else "…"
                for word in message[len(prefix) :].split()
            ]
            message = prefix + " ".join(shown)
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _bulk_options(parser: argparse.ArgumentParser) -> None:
    bulk = parser.add_argument_group("many customers from a CSV file")
    bulk.add_argument(
        "--from-csv", metavar="FILE", help="read customer ids and tags from FILE ('-' for stdin)"
    )
    bulk.add_argument(
        "--column-id", default="customer_id", metavar="C", help="id column (default customer_id)"
    )
    bulk.add_argument(
        "--column-tags", default="tags", metavar="T", help="tags column (default tags)"
    )
    bulk.add_argument(
        "--tags-sep", default=",", metavar="SEP", help="separator of names in a tags cell (,)"
    )
    bulk.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"requests in flight (default {DEFAULT_CONCURRENCY})",
    )
    bulk.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="record each finished row in FILE (JSON lines); a rerun skips rows done",
    )
    bulk.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    conn = common.add_argument_group("connection")
    conn.add_argument(
        "--sandbox",
        action="store_true",
        help="run against a fresh in-process sandbox (a fake HelpCrunch): no key, no network",
    )
    conn.add_argument(
        "--api-key-file",
        metavar="FILE",
        help="read the API key from FILE ('-' for stdin) instead of $HELPCRUNCH_API_KEY",
    )
    conn.add_argument("--api-key", action=_RefuseKeyArgument, help=argparse.SUPPRESS)
    conn.add_argument(
        "--base-url",
        metavar="URL",
        help=f"API base URL (default: $HELPCRUNCH_BASE_URL or {DEFAULT_BASE_URL})",
    )
    conn.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"per attempt (default {DEFAULT_TIMEOUT:g})",
    )

    parser = _Parser(
        prog="helpcrunch",
        description="Manage HelpCrunch customer tags. The API key comes from $HELPCRUNCH_API_KEY "
        "or --api-key-file.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def command(name: str, summary: str, example: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            parents=[common],
            help=summary,
            description=summary,
            epilog=f"example:\n  {example}\n\n{EXIT_CODES}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    untag = command(
        "untag",
        "Remove tags from a customer and print the customer as JSON; or, with --from-csv, "
        "from every customer in a CSV file, with a progress bar and a summary.",
        "helpcrunch untag 542335 Lead --sandbox\n"
        "  helpcrunch untag --from-csv churned.csv --column-id id --column-tags tags",
    )
    untag.add_argument(
        "customer_id", metavar="CUSTOMER_ID", nargs="?", help="HelpCrunch's numeric id"
    )
    untag.add_argument("tags", metavar="TAG", nargs="*", help="tag name(s) to remove")
    _bulk_options(untag)
    untag.set_defaults(run=_cmd_untag)

    tag = command(
        "tag",
        "Add tags to a customer (unknown tags are created) and print the customer as JSON; or, "
        "with --from-csv, to every customer in a CSV file.",
        "helpcrunch tag 542335 Churned 'Trial:#c57de0' --sandbox",
    )
    tag.add_argument(
        "customer_id", metavar="CUSTOMER_ID", nargs="?", help="HelpCrunch's numeric id"
    )
    tag.add_argument(
        "tags", metavar="TAG[:COLOR]", nargs="*", help="tag name(s), each with an optional #colour"
    )
    _bulk_options(tag)
    tag.set_defaults(run=_cmd_tag)

    get = command("get", "Print a customer as JSON.", "helpcrunch get 542335 --sandbox")
    get.add_argument("customer_id", metavar="CUSTOMER_ID", help="HelpCrunch's numeric id")
    get.set_defaults(run=_cmd_get)

    _cli_customers.add_command(command)

    sandbox = sub.add_parser(
        "sandbox",
        help="serve a fake HelpCrunch on this machine until Ctrl-C",
        description="Serve the sandbox (a fake HelpCrunch with demo, generated or loaded "
        "customers) on 127.0.0.1 until Ctrl-C, and print the URL and key to use with it.",
        epilog="example:\n  helpcrunch sandbox --port 8765 --rate-limit 120\n"
        "  # then, in another shell, the two printed export lines, and:\n"
        "  helpcrunch untag 542335 Lead\n\n"
        "  helpcrunch sandbox --customers 200000 --seed 1     # a generated account\n"
        "  helpcrunch sandbox --load customers.jsonl          # your own customers\n"
        "  helpcrunch sandbox --max-page-size 50 --max-filters 20 --unstable-ties",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sandbox.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    sandbox.add_argument(
        "--rate-limit",
        type=int,
        default=None,
        metavar="N",
        help="answer 429 past N requests a minute (default: no limit)",
    )
    sandbox.add_argument(
        "--key", default="sandbox-key", help="the API key it accepts (default: sandbox-key)"
    )
    source = sandbox.add_mutually_exclusive_group()
    source.add_argument(
        "--customers",
        type=int,
        default=None,
        metavar="N",
        help="start with N generated customers, ids 1 to N (default: ten demo customers)",
    )
    source.add_argument(
        "--load",
        default=None,
        metavar="FILE",
        help="start with the customers in FILE: a JSON array, or one JSON object per line",
    )
    sandbox.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="S",
        help="which generated account: the same seed gives the same customers on every machine",
    )
    sandbox.add_argument(
        "--max-page-size",
        type=int,
        default=None,
        metavar="N",
        help="answer 400 to a list or search with a limit past N (default: no cap)",
    )
    sandbox.add_argument(
        "--max-filters",
        type=int,
        default=None,
        metavar="N",
        help="answer 400 to a search with more than N filters (default: no cap)",
    )
    sandbox.add_argument(
        "--unstable-ties",
        action="store_true",
        help="order customers with equal firstSeen/lastSeen differently on every request",
    )
    sandbox.set_defaults(run=_cmd_sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except _UsageError as err:
        parser.exit(EXIT_USAGE, f"{parser.prog} {args.command}: error: {err}\n")
    except KeyboardInterrupt:
        print("helpcrunch: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (HelpCrunchError, ValueError, TypeError) as err:
        print(f"helpcrunch: error: {err}", file=sys.stderr)
        return _exit_code(err)
    except BrokenPipeError:
        # `helpcrunch get 1 | head`: the reader left; that is not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
