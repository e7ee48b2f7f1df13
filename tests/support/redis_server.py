"""A real ``redis-server`` for the shared rate limit's tests: on a free port of 127.0.0.1, no
persistence, killed and started again on demand, and a few commands spoken over a plain socket
(no Redis client library: the package's own Redis client is in the Rust core, and the tests
look at the server from outside it)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.scripted_server import free_port

INSTALL = (
    "redis-server is not installed, and the shared rate limit's tests need a real one: "
    "apt-get install -y redis-server (Debian/Ubuntu), or run scripts/test, which installs it"
)


def _encode(*args: str) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Reader:
    """RESP replies from a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self._file = sock.makefile("rb")

    def line(self) -> bytes:
        line = self._file.readline()
        if not line:
            raise ConnectionError("redis-server closed the connection")
        return line[:-2]

    def reply(self) -> Any:
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(f"redis-server: {rest.decode()}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self._file.read(size + 2)[:-2]
            return data.decode()
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self.reply() for _ in range(count)]
        raise RuntimeError(f"not a RESP reply: {line!r}")


class RedisServer:
    """``redis-server`` on a free port, empty. ``url`` is ``redis://127.0.0.1:PORT/0``."""

    def __init__(self, directory: Path) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError(INSTALL)
        self.port = free_port()
        self._directory = directory
        self._process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it (again, on the same port, empty) and wait until it answers."""
        assert self._process is None, "already running"
        self._process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self._directory)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited at start")
            try:
                if self.command("PING") == "PONG":
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not answer in 20 s")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: what it held is gone, connections to it break."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def command(self, *args: str) -> Any:
        """One command on a connection of its own; the decoded reply."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(_encode(*args))
            return _Reader(sock).reply()

    def keys(self) -> list[str]:
        return sorted(self.command("KEYS", "*"))

    def hash(self, key: str) -> dict[str, str]:
        flat = self.command("HGETALL", key)
        return dict(zip(flat[::2], flat[1::2], strict=True))

    @contextmanager
    def monitor(self) -> Iterator[list[str]]:
        """Every command the server receives while inside, as MONITOR prints it (one line each);
        the list fills in while the block runs and is complete after it."""
        seen: list[str] = []
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.sendall(_encode("MONITOR"))
        reader = _Reader(sock)
        assert reader.line() == b"+OK"
        sock.settimeout(None)

        def read() -> None:
            try:
                while True:
                    seen.append(reader.line().decode(errors="replace"))
            except (OSError, ValueError, ConnectionError):
                pass

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        try:
            yield seen
        finally:
            # Whatever was sent before this point is read before the socket goes.
            self.command("PING")
            deadline = time.monotonic() + 5
            while not any('"PING"' in line for line in seen[-5:]) and time.monotonic() < deadline:
                time.sleep(0.01)
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()
            thread.join(5)

    def close(self) -> None:
        self.kill()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh ``redis-server`` for one test, killed after it. A missing binary fails the test
    with how to install it."""
    if shutil.which("redis-server") is None:
        pytest.fail(INSTALL, pytrace=False)
    server = RedisServer(tmp_path)
    try:
        yield server
    finally:
        server.close()
