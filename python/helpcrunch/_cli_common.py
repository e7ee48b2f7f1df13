"""What every ``helpcrunch`` command shares: exit codes, one-line messages, the output, the
connection options (``add_connection_options``) and the client they describe.

A command that sends requests adds the connection options to its parser and opens its client
with :func:`open_client`; anything that goes wrong is raised (:class:`UsageError` for arguments
that do not fit together) and turned into one line and an exit code by ``_cli.main``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from ._client import DEFAULT_BASE_URL, DEFAULT_RATE_LIMIT, DEFAULT_TIMEOUT, Client
from ._exceptions import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestCancelledError,
)
from ._format import count, counted
from ._report import BulkReport

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

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
  {EXIT_ERROR}    a file or the output could not be written (a full disk), or an internal error
  {EXIT_USAGE}    usage: bad arguments, bad input, or no API key
  {EXIT_AUTH}    authentication: the key was refused (401/403)
  {EXIT_NOT_FOUND}    not found: no such customer (404)
  {EXIT_RATE_LIMITED}    rate limited (429) after retries
  {EXIT_API_ERROR}    any other error answer from HelpCrunch
  {EXIT_CONNECTION}    connection: HelpCrunch could not be reached, or timed out
  {EXIT_SOME_FAILED}    --from-csv: some rows failed, or with --dry-run are invalid (each listed)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)"""

#: The key's sources, as a person fixes a missing one.
KEY_ADVICE = "set HELPCRUNCH_API_KEY or use --api-key-file FILE (HelpCrunch: Settings → Developers → REST API)"


class UsageError(Exception):
    """Arguments or input that the command cannot use: exit code 2, one line."""


class OutputError(Exception):
    """Standard output could not be written (a full disk, a closed file)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(f"cannot write the output: {error.strerror or error}")


# --- messages ----------------------------------------------------------------------------------

#: Values never to print (the API key, once read), blanked from every message.
_secrets: set[str] = set()


#: Shorter values are not blanked: they could not be a key, and blanking them would garble
#: messages (every "1" in them, for a test's key "1").
_SHORTEST_SECRET = 8


def keep_secret(value: str) -> None:
    if len(value) >= _SHORTEST_SECRET:
        _secrets.add(value)


def say(message: str) -> None:
    """One line on stderr, with any secret blanked out."""
    for secret in _secrets:
        message = message.replace(secret, "***")
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def exit_code(err: BaseException) -> int:
    """The documented exit code of an error a command raised."""
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
    if isinstance(err, (UsageError, ConfigurationError, ValueError, TypeError, OverflowError)):
        return EXIT_USAGE
    return EXIT_ERROR


#: How the command line names each argument the core may refuse (an error's ``parameter``):
#: its option or positional, and the ``args`` attribute holding a list argument's items, so an
#: error about one item (its ``index``) quotes it. The core names them as Python arguments.
_OPTIONS: dict[str, tuple[str, str | None]] = {
    "timeout": ("--timeout", None),
    "rate_limit": ("--rate-limit", None),
    "rate_limit_backend": ("--rate-limit-backend", None),
    "base_url": ("--base-url", None),
    "concurrency": ("--concurrency", None),
    "page_size": ("--page-size", None),
    "limit": ("--limit", None),
    "where": ("--where", "where"),
    "tag": ("--tag", "tag"),
    "email": ("--email", None),
    "user_id": ("--user-id", None),
    "match": ("--match", None),
    "mode": ("--mode", None),
    "customer_id": ("CUSTOMER_ID", None),
    "tags": ("TAG", "tags"),
    # The sandbox's own (helpcrunch.sandbox.Sandbox), for `helpcrunch sandbox`.
    "customers": ("--customers", None),
    "seed": ("--seed", None),
    "port": ("--port", None),
    "max_page_size": ("--max-page-size", None),
    "max_filters": ("--max-filters", None),
}
#: What the command line offers where the core's advice (left out of ``detail``) is in Python
#: terms. Deliberately none for ``allow_insecure_http``: the key would cross the network
#: unencrypted.
_CLI_ADVICE = {"rate_limit": " (0 for no limit)"}


#: How a command names an argument instead of its option: a label (the environment variable a
#: value came from, a CSV column), or a label and the argument's items (to quote the one meant).
Label = str | tuple[str, Sequence[Any]]


def in_cli_terms(
    err: BaseException,
    args: argparse.Namespace | None = None,
    names: Mapping[str, Label] | None = None,
) -> str | None:
    """An error about one argument as a CLI user reads it, naming the option (or ``names``'s
    label) from the error's ``parameter``, never by reading its message; None for an error
    about no argument the command line has."""
    # Set by the core on the TypeError/ValueError/ConfigurationError of a refused argument.
    parameter = getattr(err, "parameter", None)
    detail = getattr(err, "detail", None)
    index = getattr(err, "index", None)
    if not (isinstance(parameter, str) and isinstance(detail, str)):
        return None
    items: Any = None
    if names is not None and parameter in names:
        named = names[parameter]
        label, items = (named, None) if isinstance(named, str) else named
    elif parameter in _OPTIONS:
        label, dest = _OPTIONS[parameter]
        items = getattr(args, dest, None) if dest is not None else None
    else:
        return None
    if isinstance(index, int):
        if isinstance(items, Sequence) and 0 <= index < len(items):
            label = f"{label} {items[index]!r}"
        else:
            label = f"{label} (number {index + 1})"
    return f"{label}: {detail}{_CLI_ADVICE.get(parameter, '')}"


# --- interrupted runs ---------------------------------------------------------------------------


def command_line(argv: Sequence[str]) -> str:
    """The command as typed (shell-quoted), to run it again."""
    return shlex.join(["helpcrunch", *argv])


def interrupted(report: BulkReport, noun: str, total: int | None, advice: str) -> str:
    """What an interrupted run did, in words (done, failed, not started, stopped in flight,
    of how many), then ``advice``: how to go on from there. Every command that runs many
    changes says it this way."""
    in_flight = sum(
        1 for r in report if isinstance(r.error, RequestCancelledError) and not r.not_started
    )
    earlier = f" ({count(report.skipped)} of them by an earlier run)" if report.skipped else ""
    parts = [
        f"{count(report.succeeded)} done{earlier}",
        f"{count(report.failed - in_flight)} failed",
    ]
    if total is not None:
        parts.append(f"{count(report.not_started + total - len(report))} not started")
        of = f"of {counted(total, noun)}"
    else:
        parts.append(f"{count(report.not_started)} not started and the rest of stdin unread")
        of = f"of {counted(len(report), noun)} read"
    if in_flight:
        parts.append(f"{count(in_flight)} stopped in flight (they may have been applied)")
    return f"helpcrunch: interrupted: {', '.join(parts)} ({of}); {advice}"


# --- output ------------------------------------------------------------------------------------


def emit(text: str) -> None:
    """Write ``text`` and a newline to stdout (:class:`OutputError` if that fails)."""
    try:
        sys.stdout.write(text + "\n")
    except BrokenPipeError:
        raise
    except OSError as e:
        raise OutputError(e) from None


def emit_json(value: Any) -> None:
    emit(json.dumps(value, indent=2, ensure_ascii=False))


def flush_stdout() -> None:
    """Flush stdout now, while an error can still be reported; afterwards stdout points at
    /dev/null, so the interpreter's own flush at exit cannot fail again."""
    try:
        sys.stdout.flush()
    except OSError as e:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        if isinstance(e, BrokenPipeError):
            # `helpcrunch get 1 | head`: the reader left; that is not an error of ours.
            return
        raise OutputError(e) from None


# --- the connection options ----------------------------------------------------------------


def _per_minute(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(
            f"must be a number of requests a minute, 0 for no limit; got {text!r}"
        )
    return value


class _RefuseKeyArgument(argparse.Action):
    """``--api-key`` exists only to say no, without echoing the value that was typed."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs="?", **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        parser.error(
            "--api-key is not accepted: a key on the command line lands in shell history. "
            "Set HELPCRUNCH_API_KEY or use --api-key-file FILE."
        )


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that sends requests: where to, with which key, how fast."""
    conn = parser.add_argument_group("connection")
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
        "--rate-limit-backend",
        metavar="URL",
        help="share the account's rate limit with other processes: redis://host:port/db or "
        "file:///path (default: $HELPCRUNCH_RATE_LIMIT_BACKEND, else this process's own)",
    )
    conn.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"per attempt (default {DEFAULT_TIMEOUT:g})",
    )
    conn.add_argument(
        "--rate-limit",
        type=_per_minute,
        default=None,
        metavar="N",
        help=f"requests a minute, evenly spaced; 0 for no limit (default {DEFAULT_RATE_LIMIT:g}, "
        "HelpCrunch's limit; with --sandbox, no limit)",
    )


def delimiter_option(text: str) -> str:
    """``--delimiter``: one character, or 'tab'."""
    text = {"tab": "\t", "\\t": "\t"}.get(text, text)
    if len(text) != 1 or text in '"\r\n':
        raise argparse.ArgumentTypeError(
            "must be one character other than a quote or a line end (or 'tab')"
        )
    return text


def check_output_path(option: str, path: str) -> None:
    """Refuse, before anything is sent, an output file that cannot be: a directory, or in a
    directory that does not exist."""
    if os.path.isdir(path):
        raise UsageError(f"{option} {path!r} is a directory; give a file in it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{option} {path!r}: there is no directory {folder!r}")


def rate_limit(args: argparse.Namespace) -> float | None:
    """Requests a minute for this run, or None for no limit."""
    if args.rate_limit is None:
        return None if args.sandbox else DEFAULT_RATE_LIMIT
    return args.rate_limit or None


def reads_stdin(args: argparse.Namespace) -> list[str]:
    """The options of ``args`` that read stdin (only one of them can)."""
    return [
        option
        for option, dest in (("--api-key-file", "api_key_file"), ("--from-csv", "from_csv"))
        if getattr(args, dest, None) == "-"
    ]


def check_connection(args: argparse.Namespace) -> None:
    """Refuse connection options that do not fit together, before anything is read."""
    if args.sandbox:
        given = [
            o
            for o, v in (("--base-url", args.base_url), ("--api-key-file", args.api_key_file))
            if v
        ]
        if given:
            raise UsageError(
                f"--sandbox serves its own URL and key: drop {' and '.join(given)} (to try a "
                "run you can resume, start `helpcrunch sandbox` and use its export lines)"
            )
    stdin = reads_stdin(args)
    if len(stdin) > 1:
        raise UsageError(f"{' and '.join(stdin)} both read stdin: give one of them a file")


def read_api_key(args: argparse.Namespace) -> str:
    """The key from ``--api-key-file`` or ``$HELPCRUNCH_API_KEY``; a usage error without one."""
    path = args.api_key_file
    if path is None:
        key = os.environ.get("HELPCRUNCH_API_KEY", "").strip()
        if not key:
            raise UsageError(f"no API key: {KEY_ADVICE}")
        keep_secret(key)
        return key
    try:
        if path == "-":
            if sys.stdin is None:
                raise UsageError("--api-key-file -: stdin is closed")
            key = sys.stdin.readline().strip()
        else:
            with open(path, encoding="utf-8") as f:
                key = f.read().strip()
    except OSError as e:
        raise UsageError(f"cannot read --api-key-file {path!r}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--api-key-file {path!r} is not UTF-8 text") from None
    if not key:
        source = "stdin" if path == "-" else repr(path)
        raise UsageError(f"--api-key-file {source} is empty; it must hold the API key")
    keep_secret(key)
    return key


@contextlib.contextmanager
def open_client(args: argparse.Namespace) -> Iterator[Client]:
    """The client the connection options describe: a fresh in-process sandbox's with
    ``--sandbox``, else HelpCrunch's (or ``--base-url``'s) with the key."""
    check_connection(args)
    # A setting not given as an option came from the environment: named as such.
    source = {
        parameter: variable
        for parameter, variable, given in (
            ("base_url", "HELPCRUNCH_BASE_URL", args.base_url),
            ("rate_limit_backend", "HELPCRUNCH_RATE_LIMIT_BACKEND", args.rate_limit_backend),
        )
        if given is None
    }
    if args.sandbox:
        from .sandbox import Sandbox

        with (
            Sandbox() as sandbox,
            _settings_checked(
                lambda: sandbox.client(
                    timeout=args.timeout,
                    rate_limit=rate_limit(args),
                    rate_limit_backend=args.rate_limit_backend,
                ),
                args,
                source,
            ) as client,
        ):
            yield client
        return
    api_key = read_api_key(args)
    with _settings_checked(
        lambda: Client(
            api_key=api_key,
            base_url=args.base_url,
            timeout=args.timeout,
            rate_limit=rate_limit(args),
            rate_limit_backend=args.rate_limit_backend,
        ),
        args,
        source,
    ) as client:
        yield client


def _settings_checked(
    make: Callable[[], Client], args: argparse.Namespace, names: Mapping[str, Label] | None = None
) -> Client:
    try:
        client: Client = make()
    except (ConfigurationError, ValueError, TypeError) as e:
        raise UsageError(in_cli_terms(e, args, names) or str(e)) from None
    return client


# --- the parser ----------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors, no prefix matching, and stray values never echoed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # No prefix matching: "--api-key SECRET" must never be taken for "--api-key-file".
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        # argparse ignores a failed write (--help > /dev/full would exit 0): report it.
        if message:
            try:
                (file or sys.stderr).write(message)
            except BrokenPipeError:
                pass
            except OSError as e:
                raise OutputError(e) from None

    def error(self, message: str) -> NoReturn:
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):
            # Show the stray options, not their values: one may be a key typed by mistake.
            shown = [
                word.split("=", 1)[0] if word.startswith("-") else "…"
                for word in message[len(prefix) :].split()
            ]
            message = prefix + (" ".join(shown) or "…")
        message = " ".join(message.split())
        say(f"{self.prog}: error: {message} (see {self.prog} --help)")
        raise SystemExit(EXIT_USAGE)
