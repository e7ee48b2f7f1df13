"""The ``helpcrunch`` command as a user runs it: the installed console script in a process of
its own, with pipes, in a pseudo-terminal of a chosen size, or serving the sandbox."""

from __future__ import annotations

import fcntl
import os
import pty
import shlex
import struct
import subprocess
import sys
import termios
from dataclasses import dataclass
from pathlib import Path

from helpcrunch.sandbox import Sandbox
from tests.support.processes import child_env

#: The console script pip installed next to this interpreter.
HELPCRUNCH = str(Path(sys.executable).with_name("helpcrunch"))

#: Every exit code the CLI documents (``helpcrunch --help``).
EXIT_CODES = {0, 1, 2, 3, 4, 5, 6, 7, 8, 130}


def helpcrunch(
    *args: str,
    sandbox: Sandbox | None = None,
    env: dict[str, str] | None = None,
    stdin: str | bytes | None = None,
    stdout: int | None = subprocess.PIPE,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``helpcrunch ARGS`` to its end (no HELPCRUNCH_* from outside; the sandbox's URL and
    key when one is given, then ``env``) and return what it printed, as text."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    result = subprocess.run(
        [HELPCRUNCH, *args],
        input=data,
        stdin=None if data is not None else subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        env={**child_env(sandbox), **(env or {})},
        timeout=timeout,
    )
    return subprocess.CompletedProcess(
        result.args,
        result.returncode,
        (result.stdout or b"").decode(errors="replace"),
        result.stderr.decode(errors="replace"),
    )


def start(*args: str, sandbox: Sandbox | None = None, **env: str) -> subprocess.Popen[str]:
    """Start ``helpcrunch ARGS`` and return at once, stdout and stderr piped."""
    return subprocess.Popen(
        [HELPCRUNCH, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**child_env(sandbox), **env},
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


@dataclass
class Terminal:
    """What a command printed to a pseudo-terminal (stdout and stderr together), and its exit
    code."""

    output: str
    returncode: int


def in_terminal(
    *args: str, rows: int, columns: int, sandbox: Sandbox | None = None, timeout: float = 120
) -> Terminal:
    """Run ``helpcrunch ARGS`` in a pseudo-terminal of ``rows`` x ``columns`` (0 x 0: a
    terminal with no size, as some CI runners give)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen(
        [HELPCRUNCH, *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=child_env(sandbox),
        close_fds=True,
    )
    os.close(follower)
    output = bytearray()
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: every holder of the follower end has closed it
                break
            if not chunk:
                break
            output += chunk
        returncode = proc.wait(timeout=timeout)
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Terminal(output.decode(errors="replace"), returncode)


@dataclass
class ServedSandbox:
    """``helpcrunch sandbox`` running in a process of its own, found through its export lines."""

    process: subprocess.Popen[str]
    exports: dict[str, str]

    @property
    def env(self) -> dict[str, str]:
        return {k: v for k, v in self.exports.items() if k != "HELPCRUNCH_SANDBOX_PID"}

    def stop(self) -> str:
        """SIGINT, as Ctrl-C sends; what it printed on stderr."""
        self.process.send_signal(2)
        _, err = self.process.communicate(timeout=30)
        return err


def serve_sandbox(*args: str) -> ServedSandbox:
    """Start ``helpcrunch sandbox ARGS`` and read its stdout to the end: the export lines, as a
    shell's ``eval "$(helpcrunch sandbox &)"`` would (stdout closes once they are printed)."""
    proc = subprocess.Popen(
        [HELPCRUNCH, "sandbox", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert proc.stdout is not None
    exports: dict[str, str] = {}
    for line in proc.stdout:
        words = shlex.split(line)
        assert words[0] == "export" and len(words) == 2, f"not an export line: {line!r}"
        name, _, value = words[1].partition("=")
        exports[name] = value
    return ServedSandbox(proc, exports)
