"""Progress for bulk runs: a tqdm bar (a widget in Jupyter, text in a terminal), a callable of
yours, or nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Union

from ._types import TagCall

if TYPE_CHECKING:
    from ._bulk import BulkResult

#: ``True`` for a tqdm bar, ``False``/``None`` for none, or ``callback(done, total, result)``
#: called after each item (``total`` is None for an input of unknown length).
ProgressArg = Union[bool, None, Callable[[int, int | None, "BulkResult"], Any]]  # noqa: UP007 (a string in it)

_VERB: dict[TagCall, str] = {"remove_tags": "untagging", "add_tags": "tagging"}


class Progress:
    """Counts items as they finish and reports them to whatever the user asked for."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.done = 0
        self.failed = 0

    @staticmethod
    def make(progress: ProgressArg, total: int | None, call: TagCall) -> Progress:
        if progress is True:
            return _TqdmProgress(total, _VERB[call])
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


class _TqdmProgress(Progress):
    def __init__(self, total: int | None, desc: str) -> None:
        super().__init__(total)
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, desc=desc, unit=" customers", dynamic_ncols=True)

    def update(self, result: BulkResult) -> None:
        failed_before = self.failed
        super().update(result)
        self._bar.update(1)
        if self.failed != failed_before:
            self._bar.set_postfix(failed=self.failed, refresh=False)

    def close(self) -> None:
        self._bar.close()


class _CallbackProgress(Progress):
    def __init__(
        self, total: int | None, callback: Callable[[int, int | None, BulkResult], Any]
    ) -> None:
        super().__init__(total)
        self._callback = callback

    def update(self, result: BulkResult) -> None:
        super().update(result)
        self._callback(self.done, self.total, result)
