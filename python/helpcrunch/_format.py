"""Counts and durations in words, one way everywhere (plans, progress, reports, the CLI)."""

from __future__ import annotations

__all__ = ["count", "counted", "duration"]


def count(n: int) -> str:
    """``1,801``: every number a person reads, grouped by thousands the same way."""
    return f"{n:,}"


def counted(n: int, noun: str) -> str:
    """``1 write``, ``2,000 writes``: a count and its noun, in the right number."""
    return f"{count(n)} {noun}" if n == 1 else f"{count(n)} {noun}s"


def duration(seconds: float) -> str:
    """``45 s``, ``13 min 50 s``, ``1 h 23 min``: rounded to what a person plans with."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, secs = divmod(whole, 60)
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, rest = divmod(round(seconds / 60), 60)
    if hours >= 48:
        return f"{hours / 24:,.1f} days"
    return f"{hours} h {rest} min" if rest else f"{hours} h"
