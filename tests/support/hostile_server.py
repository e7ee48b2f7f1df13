"""A hostile HTTP server for the reliability tests: raw sockets, no ``http.server``, so it can
break HTTP itself (trickle headers, cut bodies, send garbage, never answer).

Each request a client sends is answered by the next queued *behaviour* (a function that gets the
connected socket and the parsed request and writes whatever it likes); once the queue is empty,
the default behaviour answers (200 and a customer). The connection is closed after every
answer, so each attempt of a client arrives on a connection of its own.

Everything it received is kept in ``requests`` (request line, headers, body), so a test can check
what reached it (and that an API key went nowhere it should not).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

#: How long a behaviour that "never answers" waits at most, so that no thread outlives a test
#: by much even if a client never hangs up.
MAX_HANG = 30.0


@dataclass
class RawRequest:
    request_line: str
    headers: dict[str, str]
    body: bytes
    raw: bytes = field(repr=False, default=b"")

    @property
    def method(self) -> str:
        return self.request_line.split(" ")[0]

    @property
    def target(self) -> str:
        parts = self.request_line.split(" ")
        return parts[1] if len(parts) > 1 else ""


Behaviour = Callable[["Connection"], None]


class Connection:
    """What a behaviour gets: the socket, the request, and a few ways to answer."""

    def __init__(self, sock: socket.socket, request: RawRequest, closing: threading.Event):
        self.sock = sock
        self.request = request
        self._closing = closing

    def send(self, data: bytes) -> bool:
        """Write bytes; False once the client has gone."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def answer(
        self,
        status: int = 200,
        body: bytes | str | object = b"",
        headers: dict[str, str] | None = None,
        *,
        reason: str = "OK",
        content_length: int | None = None,
    ) -> None:
        """A whole HTTP/1.1 answer. A non-bytes, non-str body is sent as JSON."""
        if isinstance(body, str):
            payload = body.encode()
        elif isinstance(body, bytes):
            payload = body
        else:
            payload = json.dumps(body).encode()
        head = [f"HTTP/1.1 {status} {reason}"]
        all_headers = {"Connection": "close"}
        if not isinstance(body, (bytes, str)):
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        if "Content-Length" not in all_headers:
            length = len(payload) if content_length is None else content_length
            all_headers["Content-Length"] = str(length)
        head += [f"{name}: {value}" for name, value in all_headers.items()]
        self.send(("\r\n".join(head) + "\r\n\r\n").encode() + payload)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; False if the server is closing or the client went away."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._closing.wait(0.02) or self.client_gone():
                return False
        return True

    def client_gone(self) -> bool:
        try:
            self.sock.setblocking(False)
            try:
                return self.sock.recv(1, socket.MSG_PEEK) == b""
            except BlockingIOError:
                return False
            finally:
                self.sock.setblocking(True)
        except OSError:
            return True


def customer(customer_id: int = 1) -> dict[str, object]:
    return {"id": customer_id, "name": "Ada", "tags": [{"name": "vip", "color": "#ff0000"}]}


def answer_customer(conn: Connection) -> None:
    conn.answer(200, customer())


class HostileServer:
    """``with HostileServer() as s: s.serve(behaviour, ...)``; ``s.base_url`` for a client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Behaviour] = deque()
        self.default: Behaviour = answer_customer
        self.requests: list[RawRequest] = []
        self.connections = 0
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._listener.settimeout(0.05)
        self.port = int(self._listener.getsockname()[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    def serve(self, *behaviours: Behaviour) -> None:
        """Queue behaviours: one per request, in order."""
        with self._lock:
            self._queue.extend(behaviours)

    def _next(self, request: RawRequest) -> Behaviour:
        with self._lock:
            self.requests.append(request)
            return self._queue.popleft() if self._queue else self.default

    def _accept_loop(self) -> None:
        while not self._closing.is_set():
            try:
                sock, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self.connections += 1
            thread = threading.Thread(target=self._handle, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _handle(self, sock: socket.socket) -> None:
        with sock:
            sock.settimeout(MAX_HANG)
            try:
                request = _read_request(sock)
            except OSError:
                return
            if request is None:
                return
            conn = Connection(sock, request, self._closing)
            with contextlib.suppress(OSError):
                self._next(request)(conn)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closing.set()
        self._acceptor.join(timeout=5)
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_request(sock: socket.socket) -> RawRequest | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return RawRequest(lines[0], headers, rest[:length], data)


# --- behaviours ---------------------------------------------------------------------------------


def reply(
    status: int = 200,
    body: bytes | str | object = b"",
    headers: dict[str, str] | None = None,
    reason: str = "OK",
) -> Behaviour:
    """A complete answer with a correct Content-Length."""

    def behave(conn: Connection) -> None:
        conn.answer(status, body, headers, reason=reason)

    return behave


def cut_off(declared: int, sent: bytes) -> Behaviour:
    """Headers promising ``declared`` bytes, then ``sent`` (fewer), then the connection closes."""

    def behave(conn: Connection) -> None:
        conn.send(
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {declared}"
            "\r\n\r\n".encode()
            + sent
        )

    return behave


def close_at_once(conn: Connection) -> None:
    """Read the request, answer nothing, close."""


def hang(conn: Connection) -> None:
    """Accept, read the request, never answer (until the client goes or the server closes)."""
    conn.wait(MAX_HANG)


def trickle_headers(interval: float = 0.1) -> Behaviour:
    """Slowloris from the server side: a status line and then header bytes one at a time,
    ``interval`` apart, never finishing the headers."""

    def behave(conn: Connection) -> None:
        if not conn.send(b"HTTP/1.1 200 OK\r\n"):
            return
        deadline = time.monotonic() + MAX_HANG
        filler = b"X-Slow: " + b"a" * 10_000
        i = 0
        while time.monotonic() < deadline:
            if not conn.send(filler[i % len(filler) : i % len(filler) + 1]):
                return
            i += 1
            if not conn.wait(interval):
                return

    return behave


def stream_body(total: int, *, declare_length: bool, chunk: int = 64 * 1024) -> Behaviour:
    """A 200 whose body is ``total`` bytes of one JSON string, generated as it is sent (the
    server holds one chunk, never the whole body). Without a declared length the body ends when
    the connection closes."""

    def behave(conn: Connection) -> None:
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        if declare_length:
            head += f"Content-Length: {total}\r\n"
        if not conn.send((head + "\r\n").encode() + b'"'):
            return
        block = b"a" * chunk
        sent = 1
        while sent < total - 1:
            n = min(chunk, total - 1 - sent)
            if not conn.send(block[:n]):
                return
            sent += n
        conn.send(b'"')

    return behave


def raw(data: bytes) -> Behaviour:
    """Exactly these bytes, whatever they are, then close."""

    def behave(conn: Connection) -> None:
        conn.send(data)

    return behave
