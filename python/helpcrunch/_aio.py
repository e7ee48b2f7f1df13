"""How awaitable calls get their results: each asyncio loop gets a ``LoopBridge`` from the Rust
layer, which resolves the loop's futures in batches (see src/python/bridge.rs)."""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from . import _logs
from ._native import LoopBridge, TaskHandle

if TYPE_CHECKING:
    from typing_extensions import TypeVarTuple, Unpack

    _Args = TypeVarTuple("_Args")

_T = TypeVar("_T")

_bridges: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopBridge] = (
    weakref.WeakKeyDictionary()
)
# Loops that cannot be weakly referenced are kept here for good (one per process in practice).
_pinned: dict[asyncio.AbstractEventLoop, LoopBridge] = {}


def _drain(bridge: LoopBridge) -> None:
    """The loop's callback when its bridge has something: results, or log records to emit."""
    try:
        bridge.drain()
    finally:
        _logs.flush()


def _bridge_for(loop: asyncio.AbstractEventLoop) -> LoopBridge:
    try:
        return _bridges[loop]
    except KeyError:
        pass
    except TypeError:
        if loop in _pinned:
            return _pinned[loop]
    bridge = LoopBridge()
    fd = bridge.fileno()
    drain = functools.partial(_drain, bridge)
    try:
        if fd is None:
            raise NotImplementedError
        loop.add_reader(fd, drain)
    except NotImplementedError:
        # No add_reader (Windows' proactor loop): wake the loop through call_soon_threadsafe.
        bridge.wake_with(functools.partial(loop.call_soon_threadsafe, drain))
    try:
        _bridges[loop] = bridge
    except TypeError:
        _pinned[loop] = bridge
    return bridge


async def call(
    start: Callable[[Unpack[_Args], LoopBridge, asyncio.Future[_T]], TaskHandle],
    *args: Unpack[_Args],
) -> _T:
    """Run ``start(*args, bridge, future)`` and await its future. Cancelling the awaiting task
    cancels the Rust task, and with it the request."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()
    task = start(*args, _bridge_for(loop), future)
    try:
        return await future
    except asyncio.CancelledError:
        task.cancel()
        raise
