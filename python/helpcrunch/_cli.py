"""The ``helpcrunch`` command line: untag, tag, get and find customers, or serve the sandbox.

Every failure prints one line on stderr and exits with its documented code (``EXIT_CODES``),
never a traceback; the API key is read from ``HELPCRUNCH_API_KEY`` or ``--api-key-file``, never
from a plain argument that would land in shell history, and never printed. What the commands
share (options, the client, messages, exit codes) is in ``_cli_common``; runs from a CSV file in
``_cli_csv``; tag syntax in ``_cli_tags``; finding customers in ``_cli_customers``; tag sync in ``_cli_sync``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from . import _cli_customers, _cli_segments, _cli_sync, _cli_sync_customers
from ._cli_common import (
    EXIT_CODES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    OutputError,
    Parser,
    UsageError,
    add_connection_options,
    delimiter_option,
    emit,
    emit_json,
    exit_code,
    flush_stdout,
    in_cli_terms,
    interrupted,
    keep_secret,
    open_client,
    say,
)
from ._cli_csv import DELIMITERS, delimiter_name, run_from_csv
from ._cli_tags import TAG_SYNTAX, colour_problem, tag_spec
from ._client import DEFAULT_CONCURRENCY
from ._exceptions import BulkInterrupted, HelpCrunchError
from ._native import __version__
from ._progress import LINE_INTERVAL
from ._types import TagCall


def _single(args: argparse.Namespace) -> None:
    """Check that a single-customer command got its arguments (they are optional with
    --from-csv only)."""
    if args.from_csv is None:
        if args.customer_id is None or not args.tags:
            raise UsageError("give CUSTOMER_ID and at least one TAG, or --from-csv FILE")
        if args.dry_run:
            raise UsageError("--dry-run checks a --from-csv FILE")
    elif args.customer_id is not None:
        raise UsageError("give either CUSTOMER_ID and TAGs or --from-csv FILE, not both")


def _change_tags(args: argparse.Namespace, call: TagCall) -> int:
    _single(args)
    if args.from_csv is not None:
        return run_from_csv(args, call)
    tags: list[Any] = list(args.tags)
    if call == "add_tags":
        tags = [tag_spec(t) for t in tags]
    with open_client(args) as client:
        try:
            customer = (client.add_tags if call == "add_tags" else client.remove_tags)(
                args.customer_id, tags
            )
        except ValueError as e:
            raise UsageError(colour_problem(tags) or _describe(e, args)) from None
    emit_json(customer)
    return EXIT_OK


def _cmd_untag(args: argparse.Namespace) -> int:
    return _change_tags(args, "remove_tags")


def _cmd_tag(args: argparse.Namespace) -> int:
    return _change_tags(args, "add_tags")


def _cmd_get(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        customer = client.get_customer(args.customer_id)
    emit_json(customer)
    return EXIT_OK


def _webhook_secret(args: argparse.Namespace) -> str | None:
    """The secret from --webhook-secret-file (its first line): a file, so that the secret is
    never on a command line that ``ps`` shows. Checks --webhook-url too."""
    url, path = args.webhook_url, args.webhook_secret_file
    if url is not None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"--webhook-url must be an http:// or https:// URL, got {url!r}")
    secret = None
    if path is not None:
        try:
            with open(path, encoding="utf-8") as f:
                secret = f.readline().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(f"cannot read --webhook-secret-file: {err}") from None
        if not secret:
            raise UsageError("--webhook-secret-file holds no secret on its first line")
    if (url is None) != (secret is None):
        raise UsageError("--webhook-url and --webhook-secret-file go together: give both")
    return secret


def _cmd_sandbox(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM, its normal ways to stop (exit 0). Stdout gets only the
    export lines, then is closed, so ``eval "$(helpcrunch sandbox &)"`` sets the environment
    and returns while it serves on; everything for people goes to stderr."""
    from .sandbox import Sandbox

    if args.seed is not None and args.customers is None:
        raise UsageError("--seed picks a generated account: give --customers N with it")
    webhook_secret = _webhook_secret(args)
    stop = threading.Event()
    try:
        try:
            sandbox = Sandbox(
                args.customers,
                api_key=args.key,
                rate_limit=args.rate_limit or None,
                seed=args.seed,
                load=args.load,
                max_page_size=args.max_page_size,
                max_filters=args.max_filters,
                unstable_ties=args.unstable_ties,
                port=args.port,
                error_style=args.error_style,
                webhook_url=args.webhook_url,
                webhook_secret=webhook_secret,
            )
        except (ValueError, TypeError, FileNotFoundError) as err:
            raise UsageError(_describe(err, args)) from None
        # Before the address is printed: whoever reads it may signal at once.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, lambda *_: stop.set())
        with sandbox:
            for name, value in (
                ("HELPCRUNCH_BASE_URL", sandbox.base_url),
                ("HELPCRUNCH_API_KEY", sandbox.api_key),
            ):
                emit(f"export {name}={shlex.quote(value)}")
            emit(f"export HELPCRUNCH_SANDBOX_PID={os.getpid()}")
            flush_stdout()
            # Closed, so that a reader waiting for the end of the export lines gets it now.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            if args.customers is not None:
                seed = "" if args.seed is None else f", seed {args.seed}"
                source = f"generated{seed}"
            else:
                source = "demo" if args.load is None else f"from {args.load}"
            say(
                f"HelpCrunch sandbox serving at {sandbox.base_url} with "
                f"{sandbox.customer_count:,} customers ({source}). Ctrl-C stops it."
            )
            # Event.wait with a timeout keeps the main thread responsive to signals.
            while not stop.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass  # Ctrl-C before the handler was in place: still the normal way to stop
    say("HelpCrunch sandbox stopped.")
    return EXIT_OK


# --- the parser ----------------------------------------------------------------------------


def _not_empty(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port, 0 to 65535; got {text!r}")
    return value


def _at_least(least: int) -> Callable[[str], int]:
    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = least - 1
        if value < least:
            raise argparse.ArgumentTypeError(
                f"must be a whole number, {least} or more; got {text!r}"
            )
        return value

    return whole


_at_least_zero = _at_least(0)


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
        "--delimiter",
        type=delimiter_option,
        default=None,
        metavar="D",
        help="the cells' separator (default: whichever of "
        f"{', '.join(map(delimiter_name, DELIMITERS))} makes the header hold both columns)",
    )
    bulk.add_argument(
        "--tags-sep",
        type=_not_empty,
        default=",",
        metavar="SEP",
        help="separator of names in a tags cell (,)",
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
    bulk.add_argument(
        "--dry-run",
        action="store_true",
        help="read and check every row, print the rows (stdout), the invalid ones and the time "
        "the run takes at the rate limit; send nothing",
    )
    bulk.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    bulk.add_argument(
        "--progress-interval",
        type=_seconds,
        default=LINE_INTERVAL,
        metavar="SECONDS",
        help="off a terminal, a progress line every SECONDS "
        f"(default {LINE_INTERVAL:g}; on a terminal, a bar)",
    )


def build_parser() -> argparse.ArgumentParser:
    connection = Parser(add_help=False)
    add_connection_options(connection)

    parser = Parser(
        prog="helpcrunch",
        description="Manage HelpCrunch customer tags. The API key comes from $HELPCRUNCH_API_KEY "
        "or --api-key-file.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"helpcrunch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    def command(name: str, summary: str, example: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            parents=[connection],
            help=summary,
            description=summary,
            epilog=f"example:\n  {example}\n\n{EXIT_CODES}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    untag = command(
        "untag",
        "Remove tags from a customer and print the customer as JSON; or, with --from-csv, "
        "from every customer in a CSV file, with progress (total, rate, ETA) and a summary.",
        "helpcrunch untag 542335 Lead --sandbox\n"
        "  helpcrunch untag --from-csv churned.csv --dry-run\n"
        "  helpcrunch untag --from-csv churned.csv --column-id id --checkpoint run.jsonl",
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
        "helpcrunch tag 542335 Churned 'Trial:#c57de0' 'Ratio 1\\:2' --sandbox",
    )
    tag.add_argument(
        "customer_id", metavar="CUSTOMER_ID", nargs="?", help="HelpCrunch's numeric id"
    )
    tag.add_argument(
        "tags", metavar="TAG[:COLOR]", nargs="*", help=f"tag(s) to add, each {TAG_SYNTAX}"
    )
    _bulk_options(tag)
    tag.set_defaults(run=_cmd_tag)

    get = command("get", "Print a customer as JSON.", "helpcrunch get 542335 --sandbox")
    get.add_argument("customer_id", metavar="CUSTOMER_ID", help="HelpCrunch's numeric id")
    get.set_defaults(run=_cmd_get)

    _cli_customers.add_command(command)
    _cli_sync.add_commands(command)
    _cli_segments.add_commands(command)
    _cli_sync_customers.add_commands(command)

    sandbox = sub.add_parser(
        "sandbox",
        help="serve a fake HelpCrunch on this machine until Ctrl-C",
        description="Serve the sandbox (a fake HelpCrunch with demo, generated or loaded "
        "customers) on 127.0.0.1 until Ctrl-C or SIGTERM (exit 0). Stdout gets only the "
        "export lines that point the other commands at it (then closes); the rest goes to "
        "stderr.",
        epilog="example:\n"
        '  eval "$(helpcrunch sandbox --customers 2000 &)"   # serves in the background\n'
        "  helpcrunch untag --from-csv rows.csv --rate-limit 0 --checkpoint run.jsonl\n"
        "  kill $HELPCRUNCH_SANDBOX_PID\n\n"
        "  helpcrunch sandbox --port 8765 --rate-limit 120   # in a terminal of its own\n"
        "  helpcrunch sandbox --customers 200000 --seed 1     # a generated account\n"
        "  helpcrunch sandbox --load customers.jsonl          # your own customers\n"
        "  helpcrunch sandbox --max-page-size 50 --max-filters 20 --unstable-ties\n"
        "  helpcrunch sandbox --error-style one               # 401/404/429 in one element\n"
        "  helpcrunch sandbox --webhook-url http://127.0.0.1:9000/hook "
        "--webhook-secret-file secret.txt",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sandbox.add_argument("--port", type=_port, default=0, help="port (default: a free one)")
    sandbox.add_argument(
        "--rate-limit",
        type=_at_least_zero,
        default=None,
        metavar="N",
        help="answer 429 past N requests in any 60 s, as HelpCrunch does past 120 (default, "
        "or 0: no limit)",
    )
    sandbox.add_argument(
        "--key", default="sandbox-key", help="the API key it accepts (default: sandbox-key)"
    )
    source = sandbox.add_mutually_exclusive_group()
    source.add_argument(
        "--customers",
        type=_at_least_zero,
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
        type=_at_least(1),
        default=None,
        metavar="N",
        help="answer 400 to a list or search with a limit past N (default: no cap)",
    )
    sandbox.add_argument(
        "--max-filters",
        type=_at_least_zero,
        default=None,
        metavar="N",
        help="answer 400 to a search with more than N filters (default: no cap)",
    )
    sandbox.add_argument(
        "--unstable-ties",
        action="store_true",
        help="order customers with equal firstSeen/lastSeen differently on every request",
    )
    sandbox.add_argument(
        "--error-style",
        choices=["mixed", "two", "one"],
        default="mixed",
        help="the shape of 401/404/429 bodies: mixed (default: two elements, a generic "
        "invalid_request first, but 404 entity_not_found alone), two (always two), one "
        "(the detail alone: invalid_token, entity_not_found, too_many_requests)",
    )
    sandbox.add_argument(
        "--webhook-url",
        default=None,
        metavar="URL",
        help="POST HelpCrunch's signed webhook events (customer.new, customer.deleted, "
        "customer.tags_changed, ...) to URL when customers change through the API",
    )
    sandbox.add_argument(
        "--webhook-secret-file",
        default=None,
        metavar="FILE",
        help="the webhook secret: the first line of FILE (a file, never the command line, "
        "so that ps does not show it); required with --webhook-url",
    )
    sandbox.set_defaults(run=_cmd_sandbox)
    return parser


# --- running a command ---------------------------------------------------------------------


def _describe(err: BaseException, args: argparse.Namespace | None = None) -> str:
    """An error as one line: about an argument, in the command line's terms (its option);
    else its message, with the argument Python's notes name (pyo3 says which argument did not
    fit a Rust number only in a note)."""
    cli = in_cli_terms(err, args)
    if cli is not None:
        return " ".join(cli.split())
    text = " ".join(str(err).split()) or type(err).__name__
    notes = getattr(err, "__notes__", None)
    if isinstance(err, OverflowError) and notes:
        text = f"{text} ({' '.join(map(str, notes))})"
    return text


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a usage error already printed
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    prefix = f"helpcrunch {args.command}"
    # As typed, for the command that resumes an interrupted run.
    args.argv = list(sys.argv[1:] if argv is None else argv)
    resume: Callable[[argparse.Namespace], str] | None = getattr(args, "resume", None)
    try:
        return int(args.run(args))
    except UsageError as err:
        say(f"{prefix}: error: {_describe(err)}")
        return EXIT_USAGE
    except BulkInterrupted as stopped:
        # A run of changes (sync-tag, clear-tag, undo): what it did, and how to go on.
        advice = resume(args) if resume is not None else "nothing recorded how to resume"
        say(interrupted(stopped.report, "change", len(stopped.report), advice))
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        if resume is not None:
            say(f"helpcrunch: interrupted before any change was sent; {resume(args)}")
        else:
            say("helpcrunch: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        flush_stdout()
        return EXIT_OK
    except (HelpCrunchError, ValueError, TypeError, OverflowError) as err:
        say(f"{prefix}: error: {_describe(err, args)}")
        return exit_code(err)
    except OutputError as err:
        say(f"{prefix}: error: {err}")
        return EXIT_ERROR
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        say(f"{prefix}: error: {where}{err.strerror or err}")
        return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    # The key is never printed, whatever message might quote it (a key typed in the wrong
    # place, a key file given as the CSV).
    keep_secret(os.environ.get("HELPCRUNCH_API_KEY", "").strip())
    try:
        code = _run(argv)
        flush_stdout()
    except OutputError as err:
        say(f"helpcrunch: error: {err}")
        return EXIT_ERROR
    except BaseException as err:  # the last line of defence: never a traceback
        if isinstance(err, (SystemExit, KeyboardInterrupt)):
            raise
        say(
            f"helpcrunch: internal error: {type(err).__name__}: {_describe(err)} (please report it)"
        )
        return EXIT_ERROR
    return code


if __name__ == "__main__":
    sys.exit(main())
