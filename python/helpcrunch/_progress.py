"""Progress for bulk runs (and for making a plan, :class:`PlanWatch`): a tqdm bar where one can be drawn (a terminal, Jupyter), a plain line
every few seconds anywhere else (a log file, CI, Airflow), a callable of yours, or nothing.

With a known total and a rate limit the ETA holds from the first item: N items at R requests a
minute take at least N / R minutes, however fast the first ones (skipped, or refused before
sending) went."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import IO, Any, TypeVar, Union

from ._format import counted, duration
from ._native import RATE_LIMIT_MARGIN, NativePlanProgress
from ._report import BulkResult
from ._types import TagCall

#: ``True`` for a tqdm bar (plain lines off a terminal), ``False``/``None`` for none, or
#: ``callback(done, total, result)`` called after each item (``total`` is None for an input of
#: unknown length).
ProgressArg = Union[bool, None, Callable[[int, int | None, BulkResult], Any]]  # noqa: UP007

#: For making a plan: ``True`` for a bar or lines on stderr, ``False``/``None`` for none, or
#: ``callback(done, expected)`` (requests answered, about how many in all) as it moves.
PlanProgressArg = Union[bool, None, Callable[[int, int], Any]]  # noqa: UP007

VERBS: dict[TagCall, str] = {"remove_tags": "untagging", "add_tags": "tagging"}

#: Seconds between two plain progress lines (off a terminal).
LINE_INTERVAL = 10.0


class Pace:
    """How fast a run can go: at most the client's rate limit (``per_minute`` requests a minute,
    spaced a little wider by the limiter), or no known bound."""

    def __init__(self, per_minute: float | None) -> None:
        self.per_minute = per_minute
        #: Items a second at most, or None without a rate limit.
        self.per_second = None if not per_minute else per_minute / 60 / RATE_LIMIT_MARGIN

    def rate(self, observed: float | None) -> float | None:
        """The rate to expect from now on: what was observed, never above the limit (a burst of
        skipped rows must not promise an early end), or the limit itself before anything was."""
        if observed is None:
            return self.per_second
        if self.per_second is None:
            return observed
        return min(observed, self.per_second)

    def seconds(self, items: int) -> float | None:
        """The shortest time ``items`` requests can take, or None without a rate limit."""
        return None if self.per_second is None else items / self.per_second


class Progress:
    """Counts items as they finish and reports them to whatever the user asked for."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.done = 0
        self.failed = 0

    def advance_to(self, done: int, total: int | None) -> None:
        """Counts from elsewhere (a plan's requests): ``done`` of about ``total``."""
        self.done, self.total = done, total

    @staticmethod
    def make(
        progress: ProgressArg, total: int | None, verb: str, rate_limit: float | None = None
    ) -> Progress:
        """``verb`` says what the run does (``untagging``), for a bar or a line."""
        if progress is True:
            return display(total, verb, Pace(rate_limit))
        if callable(progress):
            return _CallbackProgress(total, progress)
        if progress in (False, None):
            return Progress(total)
        raise TypeError(
            f"progress must be True, False or a callable, not {type(progress).__name__}"
        )

    def update(self, result: BulkResult) -> None:
        self.done += 1
        if not result.ok:
            self.failed += 1

    def close(self) -> None:
        pass


def display(
    total: int | None,
    verb: str,
    pace: Pace,
    interval: float = LINE_INTERVAL,
    stream: IO[str] | None = None,
    unit: str = "customer",
) -> Progress:
    """Progress shown on ``stream`` (stderr by default): a bar where one can be drawn, plain
    lines every ``interval`` seconds elsewhere; ``unit`` names what is counted."""
    out = sys.stderr if stream is None else stream
    if _in_notebook() or is_terminal(out):
        return _TqdmProgress(total, verb, pace, out, unit)
    return _LineProgress(total, verb, pace, interval, out, unit)


def _in_notebook() -> bool:
    """Whether tqdm draws a Jupyter widget here (it decides by the running kernel; tqdm.auto
    makes that choice without its notebook-mode warning)."""
    from tqdm.asyncio import tqdm as text
    from tqdm.auto import tqdm as auto

    return auto is not text


def is_terminal(stream: IO[str]) -> bool:
    """A terminal with a size: a bar on a zero-size pty (some CI runners) draws nothing."""
    try:
        return stream.isatty() and os.get_terminal_size(stream.fileno()).columns > 0
    except (AttributeError, OSError, ValueError):
        return False


class _TqdmProgress(Progress):
    def __init__(
        self, total: int | None, desc: str, pace: Pace, stream: IO[str], unit: str
    ) -> None:
        super().__init__(total)
        from tqdm.auto import tqdm

        class PacedBar(tqdm):  # type: ignore[misc]
            """tqdm's bar, with its rate (and so its ETA) never above the limiter's."""

            @property
            def format_dict(self) -> dict[str, Any]:
                d: dict[str, Any] = super().format_dict
                d["rate"] = pace.rate(d.get("rate"))
                return d

        self._bar = PacedBar(
            total=total, desc=desc, unit=f" {unit}s", dynamic_ncols=True, file=stream
        )

    def update(self, result: BulkResult) -> None:
        failed_before = self.failed
        super().update(result)
        self._bar.update(1)
        if self.failed != failed_before:
            self._bar.set_postfix(failed=self.failed, refresh=False)

    def advance_to(self, done: int, total: int | None) -> None:
        if total != self._bar.total:
            self._bar.total = total
            self._bar.refresh()
        self._bar.update(done - self.done)
        super().advance_to(done, total)

    def close(self) -> None:
        self._bar.close()


class _LineProgress(Progress):
    """One line at the start, one every ``interval`` seconds while items finish, one at the end:
    done/total, percentage, rate and ETA, with no ``\\r`` to garble a log."""

    def __init__(
        self,
        total: int | None,
        verb: str,
        pace: Pace,
        interval: float,
        stream: IO[str],
        unit: str = "customer",
    ) -> None:
        super().__init__(total)
        self._unit = unit
        self._verb = verb
        self._pace = pace
        self._interval = interval
        self._stream = stream
        self._start = self._last_time = time.monotonic()
        self._last_done = 0
        self._closed = False
        self._write(self._line(None))

    def update(self, result: BulkResult) -> None:
        super().update(result)
        self._moved()

    def advance_to(self, done: int, total: int | None) -> None:
        super().advance_to(done, total)
        self._moved()

    def _moved(self) -> None:
        now = time.monotonic()
        if now - self._last_time >= self._interval:
            # The rate since the previous line: it follows a server that slows down.
            rate = (self.done - self._last_done) / (now - self._last_time)
            self._last_time, self._last_done = now, self.done
            self._write(self._line(rate))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        elapsed = time.monotonic() - self._start
        rate = f", {self.done / elapsed:,.2f}/s" if elapsed > 0 and self.done else ""
        failed = f", {self.failed:,} failed" if self.failed else ""
        self._write(f"{self._verb}: {self._count()} in {duration(elapsed)}{rate}{failed}")

    def _count(self) -> str:
        if self.total is None:
            return counted(self.done, self._unit)
        percent = self.done * 100 // self.total if self.total else 100
        return f"{self.done:,}/{counted(self.total, self._unit)} ({percent} %)"

    def _line(self, observed: float | None) -> str:
        parts = [f"{self._verb}: {self._count()}"]
        rate = self._pace.rate(observed)
        if rate is not None:
            parts.append(f"{rate:,.2f}/s")
        if self.failed:
            parts.append(f"{self.failed:,} failed")
        if self.total is not None and rate:
            parts.append(f"ETA {duration((self.total - self.done) / rate)}")
        return ", ".join(parts)

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()


class _CallbackProgress(Progress):
    def __init__(
        self, total: int | None, callback: Callable[[int, int | None, BulkResult], Any]
    ) -> None:
        super().__init__(total)
        self._callback = callback

    def update(self, result: BulkResult) -> None:
        super().update(result)
        self._callback(self.done, self.total, result)


#: A plan quicker than this shows no display (a callback is called all the same).
PLAN_DISPLAY_AFTER = 1.0


class PlanWatch:
    """A plan's progress as it is made: :meth:`tick` (called while the plan waits, on the main
    thread, or by a task beside an awaited plan) reads the core's counters and moves the
    display: a bar or lines on stderr as a bulk run's (requests done of about how many, the
    rate, the ETA at the rate limit), once the plan has taken ``PLAN_DISPLAY_AFTER``; or the
    caller's ``callback(done, expected)``. An exception the callback raises stops the plan."""

    def __init__(
        self,
        progress: PlanProgressArg,
        state: NativePlanProgress,
        rate_limit: float | None,
        stream: IO[str] | None = None,
    ) -> None:
        if not (progress in (True, False, None) or callable(progress)):
            raise TypeError(
                f"progress must be True, False or a callable, not {type(progress).__name__}"
            )
        self.state = state
        self._callback = progress if callable(progress) else None
        self._show = progress is True
        self._pace = Pace(rate_limit)
        self._stream = stream
        self._display: Progress | None = None
        self._start = time.monotonic()
        self._last = (-1, -1)

    @property
    def wanted(self) -> bool:
        return self._show or self._callback is not None

    def tick(self) -> None:
        done, expected = self.state.done, self.state.expected
        if (done, expected) == self._last:
            return
        self._last = (done, expected)
        if self._callback is not None:
            self._callback(done, expected)
        if not self._show:
            return
        if self._display is None:
            if time.monotonic() - self._start < PLAN_DISPLAY_AFTER:
                return
            self._display = display(
                expected, "planning", self._pace, stream=self._stream, unit="lookup"
            )
        self._display.advance_to(done, expected)

    def finish(self) -> None:
        """The plan is made: its last counts, then the display closed."""
        try:
            self.tick()
        finally:
            self.close()

    def close(self) -> None:
        if self._display is not None:
            self._display.close()
            self._display = None


_T = TypeVar("_T")

#: Seconds between two looks at an awaited plan's progress.
_PLAN_TICK = 0.1


def run_plan(
    plan: Callable[[NativePlanProgress, Callable[[], None] | None], _T],
    progress: PlanProgressArg,
    rate_limit: float | None,
) -> _T:
    """``plan(state, tick)`` (a blocking native plan: ``tick`` is called while it waits),
    with its progress shown as ``progress`` asks; every kind of plan is made through here."""
    watch = PlanWatch(progress, NativePlanProgress(), rate_limit)
    try:
        made = plan(watch.state, watch.tick if watch.wanted else None)
        watch.finish()
        return made
    finally:
        watch.close()


async def arun_plan(
    plan: Callable[[NativePlanProgress], Awaitable[_T]],
    progress: PlanProgressArg,
    rate_limit: float | None,
) -> _T:
    """:func:`run_plan` for an awaited plan: the display is moved by this task, beside the
    plan, so nothing calls Python from the core's threads."""
    watch = PlanWatch(progress, NativePlanProgress(), rate_limit)
    planning = asyncio.ensure_future(plan(watch.state))
    try:
        while watch.wanted:
            done, _ = await asyncio.wait({planning}, timeout=_PLAN_TICK)
            if done:
                break
            watch.tick()
        made = await planning
        watch.finish()
        return made
    finally:
        # A callback that raised (or a cancelled task) stops the plan.
        planning.cancel()
        watch.close()
