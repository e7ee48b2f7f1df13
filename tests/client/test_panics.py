"""A Rust panic becomes a HelpCrunchError: never an abort, a hang, or a PanicException (a
BaseException that `except Exception` would miss). The native module has two test-only hooks
that panic inside a blocking and inside an awaitable call."""

from __future__ import annotations

import asyncio

import pytest

import helpcrunch
from helpcrunch import _aio, _native
from tests.support.processes import run_python


def test_a_panic_in_a_blocking_call_is_a_helpcrunch_error() -> None:
    with pytest.raises(helpcrunch.HelpCrunchError, match="internal error") as caught:
        _native._panic_in_blocking_call()
    assert "a panic the test suite asked for" in str(caught.value)
    assert isinstance(caught.value, Exception)


def test_a_panic_in_an_awaitable_call_is_a_helpcrunch_error() -> None:
    async def main() -> None:
        await _aio.call(_native._panic_in_async_call)

    with pytest.raises(helpcrunch.HelpCrunchError, match="internal error"):
        asyncio.run(main())


def test_the_interpreter_lives_on_after_panics() -> None:
    script = """
import asyncio, helpcrunch
from helpcrunch import _aio, _native
for _ in range(3):
    try:
        _native._panic_in_blocking_call()
    except helpcrunch.HelpCrunchError:
        pass
    try:
        asyncio.run(_aio.call(_native._panic_in_async_call))
    except helpcrunch.HelpCrunchError:
        pass
print("alive", flush=True)
"""
    result = run_python(script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "alive"
