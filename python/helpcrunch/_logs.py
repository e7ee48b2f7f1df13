"""The ``helpcrunch`` logger. ``HELPCRUNCH_LOG=debug`` (every request) or ``info`` (retries)
turns on a handler on stderr; otherwise records go wherever the application's logging sends them.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger("helpcrunch")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}


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
