"""Journals: the files a run writes as it goes, so that a rerun knows what is done and an undo
knows what to reverse. Two kinds share one file format and one set of rules:

- a bulk run's checkpoint (:class:`Checkpoint`): one line per finished item;
- a sync's change log (:class:`ChangeLog`): a header naming the sync, then for each apply a
  ``run`` line, a ``pending`` line per change just before it is sent, and its outcome as it
  completes; undo adds a line per change it reverses.

Both are JSON lines, appended and flushed one record at a time (:class:`JsonLines`). A file
that is not a journal of the expected kind is refused with a clear error before anything is
sent, and never written to. A run killed mid-write leaves its last line cut short: that line
is dropped (the item runs again). The bulk engine (``_bulk.py``) drives either through the
:class:`Journal` interface.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, Protocol

from ._exceptions import RequestCancelledError
from ._native import BulkItem, Change

if TYPE_CHECKING:
    from ._report import BulkResult

__all__ = ["ChangeLog", "Checkpoint", "Journal", "JsonLines"]

Record = dict[str, Any]


class Journal(Protocol):
    """What the bulk engine tells a journal about each item of a run (``index``: its position
    in the run's input)."""

    def is_done(self, index: int, item: BulkItem) -> bool:
        """Whether this run already did it (a resumed run): then it is not sent again."""
        ...

    def sending(self, index: int, item: BulkItem) -> None:
        """It is about to be sent (the intent, written before the request can go out)."""
        ...

    def record(self, index: int, item: BulkItem | None, result: BulkResult) -> None:
        """What became of it (``item`` is None for a row refused before it was checked);
        written before the result reaches the caller, so a Ctrl-C loses none."""
        ...

    def close(self) -> None: ...


class JsonLines:
    """A JSON-lines file of ours: read whole when opened, then appended one record at a time.

    ``is_ours(first_record)`` tells whether an existing file is a journal of this kind; ``what``
    names the kind in messages. A file that is not (its first line is not such a record, or not
    JSON at all) raises ValueError and is left byte for byte; so does a damaged line before the
    last. A last line cut short (a kill mid-write) is dropped."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        what: str,
        is_ours: Callable[[Record], bool],
        must_exist: bool = False,
    ) -> None:
        self.path = os.fspath(path)
        self.what = what
        #: (line number from 1, record) for every whole record, in file order.
        self.records: list[tuple[int, Record]] = []
        keep = self._read(is_ours)
        if keep is None and must_exist:
            raise FileNotFoundError(2, f"no {what} at {self.path!r}", self.path)
        #: Where the first append writes: after the whole records (a cut last line dropped).
        self._keep = keep
        self._file: IO[str] | None = None

    def _open(self) -> IO[str]:
        """Opened on the first append, so that a run that sends nothing creates no file."""
        f = open(self.path, "a", encoding="utf-8")
        if self._keep is not None and self._keep < self._size:
            # The cut last line: dropped, so that nothing is ever appended to it.
            f.truncate(self._keep)
        elif self._size and not self._ends_cleanly:
            # The last record is whole but its newline was not written: the next must not join it.
            f.write("\n")
        return f

    def _read(self, is_ours: Callable[[Record], bool]) -> int | None:
        """Take in the file's records; the size to keep (less than the file's when its last
        line is cut short)."""
        #: Lines of the file, a cut last one left out: appended records number on from here.
        self.lines = 0
        self._size = 0
        self._ends_cleanly = True
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        self._size = len(data)
        lines = data.splitlines(keepends=True)
        offset = 0
        for number, line in enumerate(lines, 1):
            last = number == len(lines)
            complete = line.endswith(b"\n")
            record = self._parse(line, number, cut=last and not complete)
            if record is None and last and not complete and line.strip():
                # Cut short: ours only if the file is, or if it is where a record began.
                if not self.records and not line.startswith(b'{"'):
                    self._refuse(number, "not a JSON record")
                return offset
            if record is not None:
                if not self.records and not is_ours(record):
                    self._refuse(number, "its first record is not one")
                self.records.append((number, record))
            self.lines = number
            offset += len(line)
        if data and not self.records:
            self._refuse(1, "it holds no record")
        self._ends_cleanly = not lines or lines[-1].endswith(b"\n")
        return offset

    def _refuse(self, number: int, why: str) -> None:
        raise ValueError(
            f"{self.path!r} is not a {self.what} ({why}, line {number}); it was not changed: "
            "pass the path of a new file, or of a file an earlier run of the same kind wrote"
        )

    def _parse(self, line: bytes, number: int, *, cut: bool) -> Record | None:
        """The record on ``line``; None for a blank line or a cut last one."""
        if not line.strip():
            return None
        try:
            record = json.loads(line.decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            if cut:
                return None
            if not self.records:
                self._refuse(number, "not a JSON record")
            reason = "not UTF-8 text" if isinstance(e, UnicodeDecodeError) else str(e)
            raise ValueError(
                f"{self.what} {self.path!r}, line {number}: not a record of a helpcrunch run "
                f"({reason}); fix or delete that line (or the file) and run again"
            ) from None
        return record

    def append(self, record: Record) -> int:
        """Write ``record`` and flush it; its line number."""
        if self._file is None:
            self._file = self._open()
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        self.lines += 1
        return self.lines

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _error_text(result: BulkResult) -> str | None:
    return None if result.error is None else f"{type(result.error).__name__}: {result.error}"


# --- a bulk run's checkpoint --------------------------------------------------------------------


def _item_key(item: BulkItem) -> str:
    """Identity of an item for the checkpoint: the id as digits and the set of tag names, read
    from the checked row (so an iterator of tags is read once, by the check)."""
    return json.dumps([str(item.customer_id), sorted(set(item.tag_names))], ensure_ascii=False)


class Checkpoint:
    """One line per finished item. Items that succeeded in an earlier run of the same call (same
    id, same tag names) are skipped on a rerun."""

    def __init__(self, path: str | os.PathLike[str], call: str) -> None:
        self.call = call
        self._file = JsonLines(path, what="checkpoint", is_ours=lambda r: "call" in r)
        self.done = {
            r["key"]
            for _, r in self._file.records
            if r.get("ok") is True and r.get("call") == call and isinstance(r.get("key"), str)
        }

    def is_done(self, index: int, item: BulkItem) -> bool:
        return _item_key(item) in self.done

    def sending(self, index: int, item: BulkItem) -> None:
        pass  # a checkpoint records outcomes only: an item not recorded runs again

    def record(self, index: int, item: BulkItem | None, result: BulkResult) -> None:
        if result.skipped:
            return
        customer_id = result.customer_id
        self._file.append(
            {
                "call": self.call,
                "key": None if item is None else _item_key(item),
                "index": result.index,
                "customer_id": customer_id
                if isinstance(customer_id, (int, str))
                else repr(customer_id),
                "ok": result.ok,
                "attempts": result.attempts,
                "error": _error_text(result),
            }
        )

    def close(self) -> None:
        self._file.close()


# --- a sync's change log -------------------------------------------------------------------------

_LOG_FORMAT = "helpcrunch tag sync"
#: The header's fields that name the sync: a log serves one sync only. A sync of one tag names
#: it in ``tag``; a sync of several tags (``plan_tags``) names them all in ``tags``.
_SYNC_FIELDS = ("tag", "tags", "mode", "match")


class Applied:
    """A change the log shows applied, or maybe applied (sent, and cut off before its outcome
    was written), and not undone."""

    __slots__ = ("change", "line", "ref")

    def __init__(self, ref: tuple[str, int], change: Change, line: int) -> None:
        #: (run id, sequence number in that run): what undo's line names.
        self.ref = ref
        self.change = change
        #: The line that shows it took effect (its outcome, or its pending line).
        self.line = line


#: A log line's own fields, around the change's record.
_LINE_FIELDS = ("run", "seq", "pending", "change", "ok", "sent", "error")


def _change_of(record: Record, kind_field: str) -> Change:
    fields = {k: v for k, v in record.items() if k not in _LINE_FIELDS}
    fields["change"] = record.get(kind_field)
    return Change.from_record(json.dumps(fields))


class ChangeLog:
    """A sync's log (module docs). Opened with the header of the sync about to apply (or None to
    undo what it holds); one apply is one run, named by its plan's id.

    - "Already done" means done by this plan: a plan applied again skips what the log shows it
      applied; another plan sends what its own reading of the accounts needs.
    - A change is pending from just before it is sent; a change the run stopped before sending
      gets an outcome saying it was not sent, so undo never reverses it; one cut off in flight
      stays pending, and undo reverses it (it may have taken effect).
    """

    #: The header's ``log``: which kind of sync's log a file is (a subclass, another kind).
    FORMAT = _LOG_FORMAT
    WHAT = "tag sync log"

    def __init__(self, path: str | os.PathLike[str], sync: Record | None) -> None:
        """Open and check ``path``; nothing is written until :meth:`start`. ``sync``: the tag,
        mode and match of the sync about to apply (a log of another is refused); None to undo
        what the file holds."""
        self._file = JsonLines(
            path,
            what=self.WHAT,
            is_ours=lambda r: r.get("log") == self.FORMAT,
            must_exist=sync is None,
        )
        self.path = self._file.path
        records = self._file.records
        self.header: Record | None = records[0][1] if records else None
        if sync is None and self.header is None:
            self._file.close()
            raise ValueError(f"{self.path} is not a {self.WHAT} (it has no header line)")
        if sync is not None and self.header is not None:
            for field in _SYNC_FIELDS:
                if self.header.get(field) != sync.get(field):
                    self._file.close()
                    raise ValueError(
                        f"{self.path} is the log of another sync ({field} "
                        f"{self.header.get(field)!r}, not {sync.get(field)!r}): use a new file"
                    )
        self._sync = sync
        #: (run, seq) -> (record, line) of its latest pending or outcome line.
        self._latest: dict[tuple[str, int], tuple[Record, int]] = {}
        self._undone: set[tuple[str, int]] = set()
        try:
            self._take_in(records[1:])
        except ValueError:
            self._file.close()
            raise
        self.run: str | None = None

    def _take_in(self, records: list[tuple[int, Record]]) -> None:
        for line, record in records:
            undo = record.get("undo")
            if isinstance(undo, list) and len(undo) == 2:
                if record.get("ok"):
                    self._undone.add((str(undo[0]), int(undo[1])))
                continue
            run, seq = record.get("run"), record.get("seq")
            if "pending" in record or "change" in record:
                if not isinstance(run, str) or not isinstance(seq, int):
                    raise ValueError(
                        f"{self.path}, line {line}: a change without its run (a log written by "
                        "an older helpcrunch): undo it with that version, or start a new log"
                    )
                self._latest[(run, seq)] = (record, line)

    def start(self, run: str, color: str | dict[str, str | None] | None, started: str) -> None:
        """An apply of the plan ``run`` begins (the log's header first, for a new log)."""
        if self.header is None:
            assert self._sync is not None, "undo starts no run"
            self.header = {"log": self.FORMAT, **self._sync, "color": color, "started": started}
            self._file.append(self.header)
        self.run = run
        self._file.append({"run": run, "started": started})

    def applied(self) -> list[Applied]:
        """Every change applied (or maybe applied) and not undone, in the order they took
        effect."""
        out = []
        for ref, (record, line) in self._latest.items():
            if ref in self._undone:
                continue
            if "pending" in record:
                out.append(Applied(ref, _change_of(record, "pending"), line))
            elif record.get("ok") is True:
                out.append(Applied(ref, _change_of(record, "change"), line))
        out.sort(key=lambda a: a.line)
        return out

    # the bulk engine's side, while applying (index: the change's sequence number in the plan)

    def is_done(self, index: int, item: BulkItem) -> bool:
        latest = self._latest.get((str(self.run), index))
        return latest is not None and latest[0].get("ok") is True

    def sending(self, index: int, item: BulkItem) -> None:
        change = item.change
        assert change is not None and self.run is not None, "a log records changes of a run"
        record = {"run": self.run, "seq": index, "pending": change.kind}
        record.update(_fields(change))
        self._latest[(self.run, index)] = (record, self._file.append(record))

    def record(self, index: int, item: BulkItem | None, result: BulkResult) -> None:
        if result.skipped or item is None or item.change is None or self.run is None:
            return
        if isinstance(result.error, RequestCancelledError) and result.attempts > 0:
            # Cut off in flight: it may have taken effect. Its pending line stays, so a rerun
            # of this plan sends it again and undo reverses it (harmless if it did not).
            return
        record: Record = {"run": self.run, "seq": index, "change": item.change.kind}
        record.update(_fields(item.change))
        record["ok"] = result.ok
        if not result.ok:
            record["sent"] = result.attempts > 0
            record["error"] = _error_text(result)
        self._latest[(self.run, index)] = (record, self._file.append(record))

    def undone(self, applied: Applied, result: BulkResult) -> None:
        """Undo's line for one change it reversed (or tried to)."""
        record: Record = {
            "undo": list(applied.ref),
            "customer_id": applied.change.customer_id,
            "ok": result.ok,
        }
        if not result.ok:
            record["error"] = _error_text(result)
        else:
            self._undone.add(applied.ref)
        self._file.append(record)

    def close(self) -> None:
        self._file.close()


def _fields(change: Change) -> Record:
    record: Record = json.loads(change.record())
    del record["change"]
    return record
