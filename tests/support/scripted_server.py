"""The one local HTTP server of the Python tests: raw sockets in daemon threads of the test
process, so it can answer as a well-behaved server does and also break HTTP on purpose.

It records every request (``requests``: method, path, headers, body, arrival time, the client's
address and the raw bytes) and answers each from a scripted queue of actions (``enqueue``),
falling back to the default action once the queue is empty (``set_default``; unset, a 200 with a
customer whose ``id`` is the one in the path). A connection is kept alive between answers, as
the client's pool expects, until an action ends it.

Actions, polite first:

- ``Reply(status, body, headers, reason, close)``: an answer; a dict or list body is sent as
  JSON. ``close`` shuts the connection after it (with a Content-Length header larger than the
  body, a cut-off answer: see ``cut_off``).
- ``ReplyFor(make)``: the ``Reply`` that ``make(request)`` returns (a server echoing the request).
- ``Sleep(seconds, then)``: wait, then answer ``then`` (default: the customer). While waiting it
  watches the socket, so a client that gives up (a timeout, a cancelled task, Ctrl-C) is counted
  in ``disconnects``; a closing server ends the wait at once.
- ``Hang()``: read the request and never answer, until the client goes or the server closes.
- ``Close()``: read the request, then close the connection without answering.
- ``Raw(data)``: exactly these bytes, whatever they are, then close.
- ``StreamBody(total, declare_length)``: a 200 whose body of ``total`` bytes is generated as it is
  sent (never held whole), then close.
- ``TrickleHeaders(interval)``: a status line, then header bytes one at a time, never finishing.

``ScriptedServer(idle_timeout=seconds)`` closes a kept-alive connection that has carried no
request for that long, as Apache, Node, gunicorn and load balancers do (2-60 s in their
defaults); the client's pool learns of it only from the closed socket.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import re
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from typing import Any

API_KEY = "test-key-0123456789abcdef"


def customer(customer_id: int = 1568834, **extra: Any) -> dict[str, Any]:
    """A customer shaped as HelpCrunch documents it."""
    doc: dict[str, Any] = {
        "id": customer_id,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "userId": None,
        "company": "Analytical Engines",
        "phone": None,
        "firstSeen": "1700000000",
        "lastSeen": 1700000500,
        "location": {"regionCode": None, "countryCode": "GB", "city": "London"},
        "device": None,
        "unsubscribed": False,
        "blocked": False,
        "tags": [{"name": "vip", "color": "#ff0000"}],
        "customData": {"plan": "pro"},
    }
    doc.update(extra)
    return doc


def free_port() -> int:
    """A port nothing listens on (bound and released at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Request:
    method: str
    path: str
    headers: Message  # case-insensitive: headers["authorization"] is headers["Authorization"]
    body: bytes
    at: float  # time.monotonic() when the request arrived
    peer: tuple[str, int] = ("", 0)  # the client's address: one per TCP connection
    raw: bytes = field(default=b"", repr=False)  # the request as received, every byte of it

    @property
    def request_line(self) -> str:
        return self.raw.partition(b"\r\n")[0].decode("latin-1")

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


_ID_IN_PATH = re.compile(r"/customers/(\d+)")


def customer_reply(request: Request) -> Reply:
    """The default answer: 200 and the customer the path names."""
    match = _ID_IN_PATH.search(request.path)
    return Reply(200, customer(int(match.group(1)) if match else 1))


# --- actions ------------------------------------------------------------------------------------


class Action:
    def perform(self, conn: Connection, request: Request) -> bool:
        """Answer ``request``; True if the connection may carry another one."""
        raise NotImplementedError


@dataclass
class Reply(Action):
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: The reason phrase; None for the standard one.
    reason: str | None = None
    #: Close the connection right after writing (with a short body and a larger
    #: Content-Length header this makes a cut-off response).
    close: bool = False

    def perform(self, conn: Connection, request: Request) -> bool:
        body = self.body
        if body is None:
            payload = b""
        elif isinstance(body, bytes):
            payload = body
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload = json.dumps(body).encode()
        given = {name.lower() for name in self.headers}
        headers: dict[str, str] = {}
        if "content-type" not in given and not isinstance(body, (bytes, str)):
            headers["Content-Type"] = "application/json"
        headers.update(self.headers)
        if "content-length" not in given:
            headers["Content-Length"] = str(len(payload))
        reason = self.reason if self.reason is not None else _standard_reason(self.status)
        head = [f"HTTP/1.1 {self.status} {reason}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        sent = conn.send(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
        return sent and not self.close


def _standard_reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def cut_off(declared: int, sent: bytes | str) -> Reply:
    """Headers promising ``declared`` bytes of JSON, then ``sent`` (fewer), then the connection
    closes."""
    headers = {"Content-Type": "application/json", "Content-Length": str(declared)}
    return Reply(200, sent, headers, close=True)


@dataclass
class ReplyFor(Action):
    """The answer ``make`` builds from the request."""

    make: Callable[[Request], Reply]

    def perform(self, conn: Connection, request: Request) -> bool:
        return self.make(request).perform(conn, request)


@dataclass
class Sleep(Action):
    seconds: float
    then: Reply | None = None

    def perform(self, conn: Connection, request: Request) -> bool:
        if not conn.wait(self.seconds):
            return False
        return (self.then or customer_reply(request)).perform(conn, request)


@dataclass
class Hang(Action):
    """Never answer; end when the client disconnects or the server closes."""

    def perform(self, conn: Connection, request: Request) -> bool:
        conn.wait(None)
        return False


@dataclass
class Close(Action):
    """Close the connection without answering."""

    def perform(self, conn: Connection, request: Request) -> bool:
        return False


@dataclass
class Raw(Action):
    """Exactly these bytes, whatever they are, then close."""

    data: bytes

    def perform(self, conn: Connection, request: Request) -> bool:
        conn.send(self.data)
        return False


@dataclass
class StreamBody(Action):
    """A 200 whose body is ``total`` bytes of one JSON string, generated as it is sent (the
    server holds one chunk, never the whole body). Without a declared length the body ends when
    the connection closes."""

    total: int
    declare_length: bool
    chunk: int = 64 * 1024

    def perform(self, conn: Connection, request: Request) -> bool:
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        if self.declare_length:
            head += f"Content-Length: {self.total}\r\n"
        if not conn.send((head + "\r\n").encode() + b'"'):
            return False
        block = b"a" * self.chunk
        sent = 1
        while sent < self.total - 1:
            n = min(self.chunk, self.total - 1 - sent)
            if not conn.send(block[:n]):
                return False
            sent += n
        conn.send(b'"')
        return False


@dataclass
class TrickleHeaders(Action):
    """Slowloris from the server side: a status line and then header bytes one at a time,
    ``interval`` apart, never finishing the headers."""

    interval: float = 0.1

    def perform(self, conn: Connection, request: Request) -> bool:
        if not conn.send(b"HTTP/1.1 200 OK\r\n"):
            return False
        filler = b"X-Slow: " + b"a" * 10_000
        i = 0
        while conn.send(filler[i % len(filler) : i % len(filler) + 1]):
            i += 1
            if not conn.wait(self.interval):
                break
        return False


# --- the server ---------------------------------------------------------------------------------


class ScriptedServer:
    """``with ScriptedServer() as s: s.enqueue(action, ...)``; ``s.base_url`` for a client."""

    def __init__(self, idle_timeout: float | None = None) -> None:
        #: Close a kept-alive connection idle for this many seconds (None: never).
        self.idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._script: deque[Action] = deque()
        self._default: Action | None = None
        self._closing = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self.requests: list[Request] = []
        #: TCP connections accepted.
        self.connections = 0
        #: Kept-alive connections the server closed for being idle (``idle_timeout``).
        self.idle_closes = 0
        #: Of those, the ones the client then closed too: its pool had seen the close.
        self.idle_closes_seen = 0
        #: Connections the client closed while the server waited for their next request.
        self.client_closes = 0
        #: Clients that went away while an action was waiting (Sleep, Hang, TrickleHeaders).
        self.disconnects = 0
        self.disconnected = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._listener.settimeout(0.05)
        host, port = self._listener.getsockname()[:2]
        self.base_url = f"http://{host}:{port}"
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    # Scripting

    def enqueue(self, *actions: Action) -> None:
        """Queue actions: one per request, in order."""
        with self._lock:
            self._script.extend(actions)

    def set_default(self, action: Action | None) -> None:
        """The answer once the script is used up (None: 200 and a customer)."""
        with self._lock:
            self._default = action

    def _next_action(self, request: Request) -> Action:
        with self._lock:
            self.requests.append(request)
            self._arrived.notify_all()
            if self._script:
                return self._script.popleft()
            if self._default is not None:
                return self._default
        return customer_reply(request)

    # Observing

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._arrived.wait(left)
            return True

    def _note_disconnect(self) -> None:
        with self._lock:
            self.disconnects += 1
        self.disconnected.set()

    # Serving

    def _accept_loop(self) -> None:
        while not self._closing.is_set():
            try:
                sock, peer = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            # Every answer goes out in one write, but a slow action writes in pieces: no delay.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            thread = threading.Thread(target=self._serve, args=(sock, peer), daemon=True)
            with self._lock:
                self.connections += 1
                self._sockets.add(sock)
                self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        conn = Connection(sock, (str(peer[0]), int(peer[1])), self)
        try:
            while (request := conn.read_request()) is not None:
                with contextlib.suppress(OSError):
                    if not self._next_action(request).perform(conn, request):
                        break
        finally:
            with self._lock:
                self._sockets.discard(sock)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    # Lifetime

    def close(self) -> None:
        self._closing.set()
        self._acceptor.join(timeout=5)
        self._listener.close()
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:  # wakes a thread blocked writing to a client that reads nothing
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout=5)

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Connection:
    """One client connection: reads requests from it, and what an action needs to answer."""

    def __init__(self, sock: socket.socket, peer: tuple[str, int], server: ScriptedServer):
        self.sock = sock
        self.peer = peer
        self._server = server
        self._buffer = b""

    def read_request(self) -> Request | None:
        """The next request; None once the client has closed or the server is closing."""
        while b"\r\n\r\n" not in self._buffer:
            if not self._receive():
                return None
        at = time.monotonic()
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        request_line, _, header_lines = head.partition(b"\r\n")
        headers = http.client.parse_headers(io.BytesIO(header_lines + b"\r\n\r\n"))
        length = int(headers.get("Content-Length") or 0)
        while len(self._buffer) < length:
            if not self._receive():
                return None
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        method, _, rest = request_line.decode("latin-1").partition(" ")
        path = rest.rpartition(" ")[0] or rest
        raw = head + b"\r\n\r\n" + body
        return Request(method, path, headers, body, at, self.peer, raw)

    def _receive(self) -> bool:
        idle_since = time.monotonic()
        idle_timeout = self._server.idle_timeout
        while not self._server._closing.is_set():
            if (
                idle_timeout is not None
                and not self._buffer
                and time.monotonic() - idle_since > idle_timeout
            ):
                # Closed before it is counted: a test that waits for the count then finds the
                # close already sent, not a socket about to be closed under its next request.
                # Only the sending half, so the client's own close can be seen next.
                with contextlib.suppress(OSError):
                    self.sock.shutdown(socket.SHUT_WR)
                with self._server._lock:
                    self._server.idle_closes += 1
                self._await_client_close()
                return False
            try:
                readable, _, _ = select.select([self.sock], [], [], 0.05)
                if not readable:
                    continue
                chunk = self.sock.recv(65536)
            except OSError:
                return False
            if not chunk:
                if not self._buffer:
                    with self._server._lock:
                        self._server.client_closes += 1
                return False
            self._buffer += chunk
            return True
        return False

    def _await_client_close(self) -> None:
        """After an idle close: count the client's close of its end, the sign that its pool
        has dropped the connection. A request written into the closed connection instead
        (the client had not read the close) is never answered, as by a server that has gone."""
        while not self._server._closing.is_set():
            try:
                readable, _, _ = select.select([self.sock], [], [], 0.05)
                if not readable:
                    continue
                closed = self.sock.recv(65536) == b""
            except ConnectionResetError:
                closed = True
            except (OSError, ValueError):  # the server closed the socket: it is stopping
                return
            if closed:
                with self._server._lock:
                    self._server.idle_closes_seen += 1
            return

    def send(self, data: bytes) -> bool:
        """Write bytes; False once the client has gone."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def wait(self, seconds: float | None) -> bool:
        """Wait ``seconds`` (None: for ever); False if the client went away or the server is
        closing."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while deadline is None or time.monotonic() < deadline:
            if self._server._closing.wait(0.02):
                return False
            if self._client_gone():
                self._server._note_disconnect()
                return False
        return True

    def _client_gone(self) -> bool:
        """True when the peer has closed (or reset) the connection."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            if not readable:
                return False
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True
