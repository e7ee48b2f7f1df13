"""Child interpreters for the tests that need a process of their own (Ctrl-C, exit, memory, the
CLI, log output on stderr), and waiting for a condition while one runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import helpcrunch
from helpcrunch.sandbox import Sandbox

#: Where ``import helpcrunch`` works from: the package's source folder.
PACKAGE_ROOT = str(Path(helpcrunch.__file__).resolve().parent.parent)
#: Where ``import tests.support...`` works from.
REPOSITORY = str(Path(__file__).resolve().parents[2])


def child_env(sandbox: Sandbox | None = None, **extra: str) -> dict[str, str]:
    """The environment for a child Python: this package and ``tests.support`` importable, no
    HELPCRUNCH_* from the outside, and the sandbox's key and URL when one is given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPCRUNCH_")}
    path = [PACKAGE_ROOT, REPOSITORY, env.get("PYTHONPATH")]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, path))
    if sandbox is not None:
        env["HELPCRUNCH_API_KEY"] = sandbox.api_key
        env["HELPCRUNCH_BASE_URL"] = sandbox.base_url
    env.update(extra)
    return env


def run_python(
    script: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` to its end in a fresh interpreter, ``args`` as its ``sys.argv[1:]``, in
    ``env`` (by default ``child_env()``); what it printed, as text."""
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=child_env() if env is None else env,
        timeout=timeout,
    )


def start_child(script: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start ``script`` in a fresh interpreter and return at once, its output piped."""
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def last_json_line(text: str) -> Any:
    lines = [line for line in text.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line in the child's output: {text!r}"
    return json.loads(lines[-1])


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
