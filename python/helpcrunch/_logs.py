"""The ``helpcrunch`` logger. ``HELPCRUNCH_LOG=debug`` (every request) or ``info`` (retries)
turns on a handler on stderr; otherwise records go wherever the application's logging sends them.

The Rust core queues its records without the GIL; the package emits them from Python code with
:func:`flush` after each call into the core that may have queued some (see
``src/python/logging.rs`` for why never from inside the core's frames).
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from typing import Any

from . import _native

logger = logging.getLogger("helpcrunch")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}

#: Held while records go to the handlers, and taken by a fork before it forks. A handler writing
#: to a file or stream holds that stream's own lock, which Python does not reset in a forked
#: child: a fork in the middle of such a write would leave the child's first record waiting
#: forever for a thread the child does not have. Reentrant: a handler may log again.
_emitting = threading.RLock()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_emitting.acquire,
        after_in_parent=_emitting.release,
        # The forking thread is the child's only one, and the owner of the lock.
        after_in_child=_emitting.release,
    )


def setup_from_env() -> None:
    level = _LEVELS.get(os.environ.get("HELPCRUNCH_LOG", "").strip().lower())
    if level is None:
        return
    if not any(getattr(h, "_helpcrunch", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[%(asctime)s %(name)s %(levelname)s] %(message)s"))
        handler._helpcrunch = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level)


def flush() -> None:
    """Emit the records the core has queued, if any."""
    queued = _native._take_queued_logs()
    if queued is not None:
        emit(*queued)


def emit(records: list[tuple[int, str, float, dict[str, Any]]], dropped: int) -> None:
    """Log records the core queued: ``(level, message, created, extra)``, each with the time its
    event happened. ``dropped``: records lost because nothing emitted them for too long."""
    with _emitting:
        _emit(records, dropped)


def _emit(records: list[tuple[int, str, float, dict[str, Any]]], dropped: int) -> None:
    if dropped:
        logger.warning("%d log records were dropped: no thread emitted them in time", dropped)
    for level, message, created, extra in records:
        if not logger.isEnabledFor(level):
            continue
        record = logger.makeRecord(
            logger.name, level, "(helpcrunch core)", 0, message, (), None, extra=extra
        )
        # When it happened, not when a Python thread got to it.
        record.relativeCreated -= (record.created - created) * 1000
        record.created = created
        record.msecs = (created - int(created)) * 1000
        try:
            logger.handle(record)
        except Exception:
            # A broken handler must not break the call the record is about: shown, not raised
            # (Ctrl-C and other BaseExceptions go through).
            traceback.print_exc()
