"""Fuzz the command line (issue 11): arbitrary argument lists and arbitrary CSV files, each run as
the real ``helpcrunch`` command, give only documented exit codes, never a traceback, and a
failure is one line (after the rows a CSV run lists, if any).

Each example is a process of its own, so the counts are modest; ``HELPCRUNCH_FUZZ_EXAMPLES``
raises them (e.g. 2000 for a long run)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpcrunch.sandbox import Sandbox
from tests.support.cli import EXIT_CODES, HELPCRUNCH
from tests.support.processes import child_env

EXAMPLES = int(os.environ.get("HELPCRUNCH_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Lines a CSV run may print before its one error line: the failed rows and the summary.
_ROW_LINE = re.compile(r"line \d+ \(customer .*\): .+|(un)?tagged [\d,]+ of [\d,]+ customers; .+")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture(scope="module")
def files() -> Iterator[dict[str, str]]:
    """Paths an argument may name: good and bad files of every kind the options read."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "rows.csv").write_text("customer_id,tags\n542335,Lead\n")
        (root / "semi.csv").write_text("\ufeffcustomer_id;tags\n542336;vip:#fff\n")
        (root / "key").write_text("some-api-key-1234567890\n")
        (root / "empty").write_text("")
        (root / "binary").write_bytes(b"\xff\xfe\x00garbage\x80\n")
        (root / "customers.json").write_text('[{"id": 7, "tags": []}]')
        (root / "done.jsonl").write_text('{"call": "remove_tags", "key": "x", "ok": true}\n')
        (root / "dir").mkdir()
        paths = {name: str(root / name) for name in os.listdir(root)}
        paths["missing"] = str(root / "missing" / "file")
        yield paths


def check_outcome(returncode: int, stdout: str, stderr: str) -> None:
    assert returncode in EXIT_CODES, (returncode, stderr)
    assert "Traceback" not in stderr, stderr
    assert "internal error" not in stderr, stderr
    if returncode in (0, 8, 130):
        return
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, f"exit {returncode} with nothing on stderr"
    *before, last = lines
    assert re.match(r"helpcrunch( \w+)?: error: ", last), stderr
    assert all(_ROW_LINE.fullmatch(line) for line in before), stderr


def run(args: list[str], env: dict[str, str], stdin: bytes) -> None:
    """Run ``helpcrunch ARGS``; a sandbox that started serving is stopped with Ctrl-C, which
    must end it with exit 0."""
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            [HELPCRUNCH, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
        )
        assert proc.stdin is not None and proc.stdout is not None
        try:
            try:
                proc.stdin.write(stdin)
                proc.stdin.close()
            except BrokenPipeError:
                pass
            # Until the end of stdout: the command's end, or the sandbox's export lines.
            stdout = proc.stdout.read()
            if b"export HELPCRUNCH_SANDBOX_PID=" in stdout:
                proc.send_signal(signal.SIGINT)  # serving: Ctrl-C is how it stops
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        errors.seek(0)
        err = errors.read().decode(errors="replace")
    check_outcome(proc.returncode, stdout.decode(errors="replace"), err)


# --- arguments ---------------------------------------------------------------------------------

_NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-0", "1e-9", "1e300", "inf", "-inf", "nan", "0x10", "1_000", " 5"]),
)
#: Any text an argument can carry (no NUL, no lone surrogate: an OS cannot pass them).
_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)

#: Options that take a value, and the values worth trying besides any number or text.
_VALUE_OPTIONS = {
    "--api-key-file": ["key", "empty", "binary", "missing", "dir", "-"],
    "--base-url": ["http://127.0.0.1:1/v1", "ftp://x", "not a url", ""],
    "--timeout": ["0.5", "30"],
    "--rate-limit": ["0", "120", "6000"],
    "--from-csv": ["rows.csv", "semi.csv", "binary", "empty", "key", "missing", "dir", "-"],
    "--column-id": ["customer_id", "id", ""],
    "--column-tags": ["tags", ""],
    "--delimiter": [",", ";", "tab", "\\t", '"'],
    "--tags-sep": [",", ";", ""],
    "--concurrency": ["1", "8"],
    "--checkpoint": ["done.jsonl", "fresh.jsonl", "missing", "dir", "key"],
    "--progress-interval": ["0.1", "10"],
    "--port": ["0", "65535", "65536"],
    "--key": ["k", ""],
    "--customers": ["0", "3", "10000"],
    "--load": ["customers.json", "rows.csv", "missing", "dir"],
    "--seed": ["1"],
    "--max-page-size": ["0", "50"],
    "--max-filters": ["20"],
}
_FLAGS = ["--sandbox", "--dry-run", "--no-progress", "--unstable-ties", "--version", "--help",
          "--api-key", "--", "-", "--rate-limit=5", "--api-key=secret-value-123"]  # fmt: skip


def _option(files: dict[str, str], root: str) -> st.SearchStrategy[list[str]]:
    def value(option: str) -> st.SearchStrategy[str]:
        named = [files.get(v, os.path.join(root, v) if v.endswith(".jsonl") else v)
                 for v in _VALUE_OPTIONS[option]]  # fmt: skip
        return st.one_of(st.sampled_from(named), _NUMBERS, _TEXT)

    return st.one_of(
        st.sampled_from(sorted(_VALUE_OPTIONS)).flatmap(
            lambda option: value(option).map(lambda v: [option, v])
        ),
        st.sampled_from(_FLAGS).map(lambda flag: [flag]),
        st.one_of(_NUMBERS, _TEXT).map(lambda stray: [stray]),
    )


_POSITIONAL = st.lists(
    st.one_of(
        st.sampled_from(["542335", "542336", "1", "Lead", "vip", "Trial:red", "a\\:b:#abc"]), _TEXT
    ),
    max_size=3,
)


@pytest.mark.long
@FUZZ
@given(data=st.data())
def test_any_argument_list(sandbox: Sandbox, files: dict[str, str], data: st.DataObject) -> None:
    command = data.draw(st.sampled_from(["untag", "tag", "get", "sandbox", "", "other"]))
    with tempfile.TemporaryDirectory() as root:
        words = data.draw(_POSITIONAL) + [
            word for option in data.draw(st.lists(_option(files, root), max_size=5))
            for word in option
        ]  # fmt: skip
        if command == "sandbox":
            # Valid sizes stay small: a generated account of millions takes gigabytes.
            # (ASCII digits only: '²'.isdigit() is true, and int('²') raises.)
            words = [
                "10000" if w.isascii() and w.isdigit() and 10_000 < int(w) < 2**64 else w
                for w in words
            ]
        stdin = data.draw(
            st.sampled_from([b"", b"key-from-stdin-123456\n", b"customer_id,tags\n542335,a\n"])
        )
        run(([command] if command else []) + words, child_env(sandbox), stdin)


# --- CSV files -------------------------------------------------------------------------------------

_ANY_CELL = st.text(max_size=10)  # in a file anything goes: NULs, surrogates (as UTF-8 bytes)
_CELLS = {
    "customer_id": st.one_of(
        st.sampled_from(["542335", "542336", "1", "0", "", " 7", "abc", "9" * 25, "٣"]), _ANY_CELL
    ),
    "tags": st.one_of(
        st.sampled_from(
            ["Lead", "Lead,vip", "Trial:#c57de0", "Trial:red", "a\\:b", ":", "x:#f:#f"]
        ),
        _ANY_CELL,
    ),
}


@st.composite
def _csv_bytes(draw: st.DrawFn) -> bytes:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = draw(
        st.one_of(
            st.permutations(["customer_id", "tags", "note"]),
            st.just(["customer_id", "tags"]),
            st.lists(
                st.sampled_from(["customer_id", "tags", "note", "", "Customer_ID"]), max_size=4
            ),
        )
    )
    rows = [
        [draw(_CELLS.get(column, _ANY_CELL)) for column in header]
        + draw(st.lists(_ANY_CELL, max_size=1))  # now and then a cell too many
        for _ in range(draw(st.integers(0, 6)))
    ]
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))

    def line(cells: list[str]) -> str:
        quote = draw(st.booleans())
        return delimiter.join(f'"{c}"' if quote else c for c in cells)

    text = newline.join([line(header), *(line(r) for r in rows)])
    data = text.encode("utf-8", errors="surrogatepass")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    if draw(st.integers(0, 9)) == 0:
        data += draw(st.binary(max_size=8))  # garbage at the end: not UTF-8, NULs
    return data


@pytest.mark.long
@FUZZ
@given(content=_csv_bytes(), call=st.sampled_from(["untag", "tag"]), extra=st.data())
def test_any_csv_file(sandbox: Sandbox, content: bytes, call: str, extra: st.DataObject) -> None:
    options = extra.draw(
        st.lists(
            st.sampled_from(
                [["--dry-run"], ["--delimiter", ";"], ["--tags-sep", ";"], ["--column-id", "note"]]
            ),
            max_size=2,
        )
    )
    from_stdin = extra.draw(st.booleans())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.csv"
        path.write_bytes(content)
        source = "-" if from_stdin else str(path)
        args = [call, "--from-csv", source, "--rate-limit", "0", "--no-progress"]
        run(args + [o for pair in options for o in pair], child_env(sandbox), content)
